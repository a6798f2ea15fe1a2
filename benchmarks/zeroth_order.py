"""Cost of a zeroth-order training step against two forward passes, float64 and float32.

A two-sided SPSA or Gaussian step evaluates the loss twice; everything else it does (shift
the parameters along a random direction and back, update them) is overhead. This script
measures a step *as users pay it*: the time per step of ``Sequential.fit`` (plain SGD, so
the memory-lean MeZO update; batch 128; no metrics, so no unperturbed pass), divided by the
time of two forward passes (loss evaluations) of the same batch, for dense tanh networks
64-...-10 of about 10^5, 10^6 and 4x10^6 parameters, in float64 and in float32.

It also prints the peak memory of a ``fit`` step above what is allocated before it
(parameters, data): traced by ``tracemalloc`` (NumPy reports its buffers to it) and the
process's peak resident set (``VmHWM`` of ``/proc/self/status``, reset before each
measurement; Linux, with glibc told to return freed blocks to the system at once so that
the resident set follows the live arrays).

Each network runs in a fresh process. The machine's other load is not controlled: a step's
time is the best single step of several ``fit`` calls (the time between two batch ends: the
step and the loop's per-batch work), the forward time half the best of as many back-to-back
pairs, the runs interleaved; the ratios compare costs measured side by side in one process.
The passes over the parameters use one thread per CPU, as BLAS does for the forward passes.
On a machine shared with other work, ``--single-thread`` runs BLAS and the passes on one
thread and measures the CPU time of that thread (``time.thread_time``), which other
processes do not inflate: the ratio of the work itself.

Run: ``python benchmarks/zeroth_order.py`` (a few minutes on 2 cores); ``--quick`` stops at
10^5 parameters; ``--repeats N`` (default 7); ``--single-thread``.
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

from deep_learning_toolkit.numdiff import passes

NETWORKS = [(512, 128), (1024, 1024), (2048, 2048)]
BATCH = 128
BATCHES = 8  # steps per fit call timed
DTYPES = ("float64", "float32")
METHODS = ("spsa", "gaussian")
#: Thread-count variables of the BLAS libraries NumPy may use (``--single-thread``).
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: The clock of the timings: wall time, or the thread's CPU time (``--single-thread``).
CLOCK = {"clock": time.perf_counter}
#: glibc: serve every block over 64 KiB by mmap and give it back on free (no adaptive
#: threshold), so that the resident set follows the live arrays and its peak is theirs.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}


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


def _time(runs: dict, repeats: int) -> dict[str, float]:
    """Best milliseconds of a unit of each run, the runs interleaved (after a warm-up each).

    ``runs[name]()`` returns the seconds of its units (one, or one per ``fit`` step). The
    best unit over several repeats (as :mod:`timeit` advises) is the cost of the work
    itself; the others include what other processes on the machine took from it.
    Interleaving exposes every run to the same moments of the machine's load.
    """
    best = {}
    for name, run in runs.items():
        run()  # warm up (BLAS buffers, caches, thread pools)
        best[name] = math.inf
    for _ in range(repeats):
        for name, run in runs.items():
            best[name] = min(best[name], *run())
    return {name: 1e3 * seconds for name, seconds in best.items()}


class _StepTimer:
    """A ``fit`` callback recording the time between consecutive batch ends: one whole
    iteration of the epoch loop (the step, and the loop's own per-batch work)."""

    def __new__(cls):
        import deep_learning_toolkit as dlt

        class StepTimer(dlt.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.last, self.seconds = CLOCK["clock"](), []

            def on_batch_end(self, batch, logs=None):
                now = CLOCK["clock"]()
                self.seconds.append(now - self.last)
                self.last = now

        return StepTimer()


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


def worker(hidden: tuple[int, ...], dtype: str, mode: str, repeats: int) -> dict[str, object]:
    """Time (``mode="time"``) or weigh (``"memory"``) the steps of one network."""
    import deep_learning_toolkit as dlt

    sizes = (64, *hidden, 10)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(BATCH * BATCHES, 64))
    y = rng.integers(0, 10, len(X))
    models = {}
    for method in METHODS:
        layers = [dlt.Dense(a, b, activation="tanh") for a, b in zip(sizes[:-2], sizes[1:-1])]
        model = dlt.Sequential([*layers, dlt.Dense(sizes[-2], 10)], seed=0, dtype=dtype)
        # lr tiny: the parameters stay where they are for every repeat
        model.compile(loss="cross_entropy", optimizer=dlt.optim.SGD(lr=1e-9), method=method)
        models[method] = model
    model = models["spsa"]
    batch = model.check_input(X[:BATCH])
    targets = model.loss.prepare_targets(y[:BATCH], 10)

    def forward() -> float:
        return float(model.loss.batched(model.forward(batch), targets))

    def two_forward() -> list[float]:
        started = CLOCK["clock"]()
        forward()
        forward()
        return [CLOCK["clock"]() - started]

    def fit(method: str, steps: int):
        timer = _StepTimer()

        def run() -> list[float]:
            chosen = slice(0, BATCH * steps)
            models[method].fit(X[chosen], y[chosen], batch_size=BATCH, callbacks=[timer])
            return timer.seconds

        return run

    if mode == "memory":
        results = {"forward": _memory(forward)}
        results.update({method: _memory(fit(method, 1)) for method in METHODS})
    else:
        runs = {"forward": two_forward, **{method: fit(method, BATCHES) for method in METHODS}}
        times = _time(runs, repeats)
        results = {"forward": {"ms": times["forward"] / 2}}
        results.update({method: {"ms": times[method]} for method in METHODS})
    return {
        "network": "-".join(map(str, sizes)),
        "dtype": dtype,
        "parameters": model.num_parameters,
        "params_mib": model.params.nbytes / 2**20,
        "results": results,
    }


def _measure(hidden: tuple[int, ...], dtype: str, repeats: int, single: bool) -> dict[str, object]:
    """Both modes of :func:`worker`, each in a fresh process, merged."""
    parts = {}
    for mode in ("time", "memory"):
        # only the memory process changes glibc's policy (it slows every allocation down)
        env = {**os.environ, **(MALLOC_ENV if mode == "memory" else {})}
        if single:
            env.update(dict.fromkeys(BLAS_THREADS, "1"))
        command = [sys.executable, __file__, "--worker", json.dumps([mode, hidden, dtype])]
        command += ["--repeats", str(repeats)] + (["--single-thread"] if single else [])
        output = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
        parts[mode] = json.loads(output.stdout)
    row = parts["time"]
    for name, values in parts["memory"]["results"].items():
        row["results"][name].update(values)
    return row


def _print_tables(rows: list[dict], repeats: int, single: bool) -> None:
    clock = "CPU time of one thread" if single else f"wall time, {passes.pass_threads()} threads"
    print(
        f"Time per fit step (SGD, batch {BATCH}, no metrics) / two forward passes of the batch; "
        f"best of {repeats}, {clock}"
    )
    print(
        f"{'network':<16}{'params':>10}{'dtype':>9}{'forward ms':>12}"
        f"{'spsa ms':>10}{'spsa/2fwd':>11}{'gauss ms':>10}{'gauss/2fwd':>12}"
    )
    for row in rows:
        r = row["results"]
        forward = r["forward"]["ms"]
        cells = "".join(
            f"{r[m]['ms']:>10.2f}{r[m]['ms'] / (2 * forward):>{11 if m == 'spsa' else 12}.2f}"
            for m in METHODS
        )
        print(
            f"{row['network']:<16}{row['parameters']:>10,}{row['dtype']:>9}{forward:>12.2f}{cells}"
        )
    print()
    print("Peak memory above the step's start (MiB): tracemalloc / process peak RSS")
    print(
        f"{'network':<16}{'dtype':>9}{'params':>9}"
        f"{'forward':>16}{'spsa step':>16}{'gauss step':>16}"
    )
    for row in rows:
        r = row["results"]
        pairs = "".join(
            f"{r[name]['traced_mib']:>8.1f} /{r[name]['rss_mib']:>6.1f}"
            for name in ("forward", *METHODS)
        )
        print(f"{row['network']:<16}{row['dtype']:>9}{row['params_mib']:>9.2f}{pairs}")
    print()
    print(
        "A step: 2 forward passes, one read of max|theta| (the grid), 3 passes over the "
        "parameters\n(+d with the snap to the grid, -2d, +d fused with the SGD update rounded to "
        "the grid),\nthe directions regenerated from the seed in every pass; fit's own "
        "bookkeeping included."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 10^5 network")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--single-thread", action="store_true", help="one thread, timed in CPU time"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.single_thread:
            passes.pass_threads = lambda: 1
            CLOCK["clock"] = time.thread_time
        mode, hidden, dtype = json.loads(args.worker)
        print(json.dumps(worker(tuple(hidden), dtype, mode, args.repeats)))
        return 0
    networks = NETWORKS[:1] if args.quick else NETWORKS
    single = args.single_thread
    rows = [
        _measure(hidden, dtype, args.repeats, single) for hidden in networks for dtype in DTYPES
    ]
    _print_tables(rows, args.repeats, single)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
