"""Cost of a zeroth-order (SPSA) step against a forward pass, from 10^3 to over 10^6 parameters.

For dense tanh networks 64-...-10 on a batch of 128 random inputs (cross-entropy), this prints
per network:

* time of one forward pass (loss evaluation) and of one step of: ``spsa`` (MeZO: two forward
  passes, lean SGD update), ``spsa`` with the unperturbed pass ``fit`` makes for its metrics,
  ``spsa`` returning the full gradient vector (for Adam), ``gaussian`` (lean), and
  ``three_point_midpoint`` through the batched engine where a step takes under a few seconds;
* peak memory above what is allocated before the step (parameters, data): traced by
  ``tracemalloc`` (NumPy reports its buffers to it) and the process's peak resident set
  (``VmHWM`` of ``/proc/self/status``, reset before each measurement; Linux, with glibc told
  to return freed blocks to the system at once so the resident set follows the live arrays).

Each network runs in a fresh process. The machine's other load is not controlled: times are
the best of several repeats, and the ratios compare costs measured side by side in one process.

Run: ``python benchmarks/zeroth_order.py`` (about 1-2 minutes on 2 cores);
``--quick`` stops at 10^5 parameters.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

NETWORKS = [(16,), (128,), (512, 128), (1024, 1024), (2048, 2048)]
BATCH = 128
#: glibc: serve every block over 64 KiB by mmap and give it back on free (no adaptive
#: threshold), so that the resident set follows the live arrays and its peak is theirs.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}
ENGINE_LIMIT = 110_000  # parameters; beyond it a three_point_midpoint step takes many seconds


def _rss_peak_reset() -> bool:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _time(runs: dict, repeats: dict[str, int]) -> dict[str, float]:
    """Best milliseconds of each run, the runs interleaved (after a warm-up call each).

    The best of several repeats (as :mod:`timeit` advises) is the cost of the work itself;
    the other repeats include what other processes on the machine took from it. Interleaving
    exposes every run to the same moments of the machine's load.
    """
    best = {}
    for name, run in runs.items():
        run()  # warm up (BLAS buffers, caches)
        best[name] = math.inf
    for round_ in range(max(repeats.values())):
        for name, run in runs.items():
            if round_ < repeats[name]:
                started = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - started)
    return {name: 1e3 * seconds for name, seconds in best.items()}


def _memory(run) -> dict[str, float]:
    """Peaks (MiB) of ``run()`` above its start: traced by tracemalloc, and resident."""
    run()  # warm up: BLAS, imports, caches
    resettable = _rss_peak_reset()
    rss_before = _status_kib("VmRSS")
    run()
    rss_peak = _status_kib("VmHWM") - rss_before if resettable else float("nan")
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"traced_mib": (peak - base) / 2**20, "rss_mib": rss_peak / 1024}


def worker(hidden: tuple[int, ...], mode: str, repeats: int) -> dict[str, object]:
    """Time (``mode="time"``) or weigh (``"memory"``) every step of one network."""
    import deep_learning_toolkit as dlt
    from deep_learning_toolkit.gradients import engine, network_zeroth_order
    from deep_learning_toolkit.numdiff import zeroth_order as zo
    from deep_learning_toolkit.numdiff.stencils import get_stencil
    from deep_learning_toolkit.numdiff.steps import resolve_steps

    sizes = (64, *hidden, 10)
    layers = [dlt.Dense(a, b, activation="tanh") for a, b in zip(sizes[:-2], sizes[1:-1])]
    model = dlt.Sequential([*layers, dlt.Dense(sizes[-2], 10)], seed=0)
    model.compile(loss="cross_entropy")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(BATCH, 64))
    targets = model.loss.prepare_targets(rng.integers(0, 10, BATCH), 10)
    params, loss = model.params, model.loss
    zo.snap_to_grid(params, zo.perturbation_grid(params, "spsa"))

    def f(_: np.ndarray) -> float:
        return float(loss.batched(model.forward(X), targets))

    counter = iter(range(10**9))
    lr = 1e-6  # tiny: the parameters stay where they are for every repeat

    def spsa() -> None:
        zo.zeroth_order_step(f, params, lr, "spsa", next(counter))

    def spsa_with_outputs() -> None:
        result = network_zeroth_order(
            model, X, targets, loss, "spsa", next(counter), gradient=False
        )
        zo.sgd_update(params, result.estimate, lr)

    def spsa_full_gradient() -> None:
        network_zeroth_order(model, X, targets, loss, "spsa", next(counter))

    def gaussian() -> None:
        zo.zeroth_order_step(f, params, lr, "gaussian", next(counter))

    runs = {
        "forward": lambda: f(params),
        "spsa": spsa,
        "spsa_with_outputs": spsa_with_outputs,
        "spsa_full_gradient": spsa_full_gradient,
        "gaussian": gaussian,
    }
    if model.num_parameters <= ENGINE_LIMIT:
        stencil = get_stencil("three_point_midpoint")

        def three_point() -> None:
            steps = resolve_steps(params, stencil)
            engine.batched_gradient(model, X, targets, loss, stencil, steps)

        runs["three_point_midpoint"] = three_point
    if mode == "memory":
        results = {name: _memory(run) for name, run in runs.items()}
    else:
        # The forward pass alone, back to back: its best case (BLAS threads awake, caches
        # warm), so that the ratios to it are upper bounds. The engine (own thread pool) runs
        # apart too; the zeroth-order steps are interleaved with each other.
        alone = {
            name: runs.pop(name) for name in ("forward", "three_point_midpoint") if name in runs
        }
        slow = model.num_parameters > 20_000
        results = {}
        for name, run in alone.items():
            count = 1 if name == "three_point_midpoint" and slow else repeats
            results[name] = {"ms": _time({name: run}, {name: count})[name]}
        counts = dict.fromkeys(runs, repeats)
        results.update({name: {"ms": ms} for name, ms in _time(runs, counts).items()})
    return {
        "network": "-".join(map(str, sizes)),
        "parameters": model.num_parameters,
        "params_mib": params.nbytes / 2**20,
        "results": results,
    }


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only networks up to 1e5 params")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        mode, hidden = json.loads(args.worker)
        print(json.dumps(worker(tuple(hidden), mode, args.repeats)))
        return 0
    networks = NETWORKS[:3] if args.quick else NETWORKS
    rows = []
    for hidden in networks:
        parts = {}
        for mode in ("time", "memory"):
            # a fresh process each; only the memory one changes glibc's policy (it slows
            # every allocation down)
            env = {**os.environ, **(MALLOC_ENV if mode == "memory" else {})}
            command = [sys.executable, __file__, "--worker", json.dumps([mode, hidden])]
            command += ["--repeats", str(args.repeats)]
            output = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            parts[mode] = json.loads(output.stdout)
        row = parts["time"]
        for name, values in parts["memory"]["results"].items():
            row["results"][name].update(values)
        rows.append(row)

    print(f"Time per step, batch {BATCH}, best of {args.repeats} (ms)")
    header = (
        f"{'network':<18}{'params':>10}{'forward':>9}{'spsa':>9}{'spsa/2fwd':>10}"
        f"{'+outputs':>10}{'+grad vec':>10}{'gaussian':>10}{'3pt mid':>10}"
    )
    print(header)
    for row in rows:
        r = row["results"]
        forward, spsa = r["forward"]["ms"], r["spsa"]["ms"]
        engine = _fmt(r.get("three_point_midpoint", {"ms": float("nan")})["ms"], 0)
        with_outputs, full, gaussian = (
            r[name]["ms"] for name in ("spsa_with_outputs", "spsa_full_gradient", "gaussian")
        )
        print(
            f"{row['network']:<18}{row['parameters']:>10,}{forward:>9.2f}{spsa:>9.2f}"
            f"{spsa / (2 * forward):>10.2f}{with_outputs:>10.2f}{full:>10.2f}{gaussian:>10.2f}"
            f"{engine:>10}"
        )
    print()
    print("Peak memory above the step's start (MiB): tracemalloc / process peak RSS")
    print(
        f"{'network':<18}{'params':>9}{'forward':>15}{'spsa':>15}{'spsa - fwd':>12}"
        f"{'+grad vec':>15}{'3pt mid':>15}"
    )
    for row in rows:
        r = row["results"]

        def pair(name: str) -> str:
            if name not in r:
                return "-"
            return f"{_fmt(r[name]['traced_mib'])} / {_fmt(r[name]['rss_mib'])}"

        extra = r["spsa"]["traced_mib"] - r["forward"]["traced_mib"]
        print(
            f"{row['network']:<18}{row['params_mib']:>9.2f}{pair('forward'):>15}{pair('spsa'):>15}"
            f"{extra:>12.2f}{pair('spsa_full_gradient'):>15}{pair('three_point_midpoint'):>15}"
        )
    print()
    print(
        "spsa: MeZO step (theta +- h z in place, directions regenerated from the seed, lean SGD "
        "update);\n+outputs: plus the unperturbed forward pass fit uses for its metrics; "
        "+grad vec: returns the\nestimate as a vector for Adam & co. (one parameter-sized array)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
