"""Local vs Ray: time per sharded gradient, and wall time of a comparison as a Ray sweep.

Run ``python benchmarks/ray_scaling.py`` (``--quick`` for fewer sizes and epochs). Every
figure is measured in this run on this machine; nothing is hard-coded. Prints:

1. the setup: CPUs, Ray workers, BLAS threads of this process, Ray start-up time and the
   measured round trip of an empty actor call;
2. for widening digits networks 64-H-H-10 (batch 64, five-point midpoint): ms per gradient
   for the local engine (with this process's BLAS threads, and with one: on small matrices
   more threads can be slower) and for :class:`RayGradient` (warm: actors started, costs
   learned), the speed-up over the better local time, the tasks per step and the largest
   relative difference of the two gradients; then the first size at which Ray is faster
   (the break-even);
3. the six-method comparison of the train command (Iris 4-16-3 for 100 epochs; with the full
   run also digits 64-32-10 for 3 epochs) run sequentially and as a Ray sweep (first and
   second time): wall times, the speed-up, and whether the final parameters are equal.

Needs the ``ray`` and ``datasets`` extras (threadpoolctl comes with scikit-learn).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import deep_learning_toolkit as dlt
from deep_learning_toolkit.data import StandardScaler, load_dataset
from deep_learning_toolkit.distributed import RayGradient, ray_session
from deep_learning_toolkit.experiments import sweep
from deep_learning_toolkit.gradients import engine
from deep_learning_toolkit.numdiff import METHODS
from deep_learning_toolkit.numdiff.stencils import get_stencil
from deep_learning_toolkit.numdiff.steps import resolve_steps

WIDTHS = (2, 4, 8, 16, 32, 64, 128)
QUICK_WIDTHS = (4, 16, 64)
BATCH = 64
METHOD = "five_point_midpoint"
#: Comparisons timed as sweeps: (label, settings shared by the six methods).
COMPARISONS = [
    ("iris 4-16-3, SGD, 100 epochs", {"dataset": "iris", "epochs": 100}),
    ("digits 64-32-10, SGD, 3 epochs", {"dataset": "digits", "hidden": 32, "epochs": 3}),
]


def median_time(fn: Callable[[], object], repeats: int, budget: float = 3.0) -> float:
    """Median wall time of ``fn`` over up to ``repeats`` runs after one warm-up."""
    fn()
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if sum(times) > budget:
            break
    return float(np.median(times))


def network(width: int):
    data = load_dataset("digits")
    X = StandardScaler().fit_transform(data.X)[:BATCH]
    layers = [
        dlt.Dense(64, width, activation="tanh"),
        dlt.Dense(width, width, activation="tanh"),
        dlt.Dense(width, 10),
    ]
    model = dlt.Sequential(layers, seed=0)
    model.compile(loss="cross_entropy", method=METHOD)
    X, targets = model._prepare(X, data.y[:BATCH])
    return model, X, targets


def blas_threads() -> str:
    counts = {info["internal_api"]: info["num_threads"] for info in threadpool_info()}
    return ", ".join(f"{api} {n}" for api, n in counts.items()) or "none found"


def gradient_table(widths: tuple[int, ...], repeats: int, sharded: RayGradient) -> None:
    print(
        f"\nms per gradient, digits 64-H-H-10, batch {BATCH}, {METHOD} (median of repeats);"
        "\nlocal: this process with its default BLAS threads / with 1 BLAS thread;"
        "\nspeed-up: the better local time / the Ray time"
    )
    header = (
        f"{'H':>5}{'parameters':>12}{'local':>10}{'local 1T':>10}{'ray':>10}{'speed-up':>10}"
        f"{'tasks':>7}{'max rel diff':>14}"
    )
    print(header)
    print("-" * len(header))
    break_even = None
    stencil = get_stencil(METHOD)
    for width in widths:
        model, X, targets = network(width)
        steps = resolve_steps(model.params, stencil, None)
        args = (model, X, targets, model.loss, stencil, steps)
        local = median_time(lambda: engine.batched_gradient(*args), repeats)
        with threadpool_limits(1):
            single = median_time(lambda: engine.batched_gradient(*args), repeats)
        ray = median_time(lambda: sharded(*args), repeats)
        reference = engine.batched_gradient(*args).gradient
        difference = np.max(np.abs(sharded(*args).gradient - reference))
        difference /= np.max(np.abs(reference))
        speedup = min(local, single) / ray
        if break_even is None and speedup > 1:
            break_even = (width, model.num_parameters)
        print(
            f"{width:>5}{model.num_parameters:>12}{local * 1e3:>10.2f}{single * 1e3:>10.2f}"
            f"{ray * 1e3:>10.2f}{speedup:>9.2f}x{len(sharded.last_tasks):>7}{difference:>14.1e}"
        )
    if break_even is None:
        print("break-even: Ray was slower than the better local time at every size measured")
    else:
        print(
            f"break-even: Ray beats the better local time from H = {break_even[0]} "
            f"({break_even[1]} parameters) on"
        )


def timed_sweep(base: dict, **options) -> tuple[float, list]:
    start = time.perf_counter()
    results = sweep({"method": list(METHODS)}, base=base, **options)
    return time.perf_counter() - start, results


def sweep_table(comparisons: list[tuple[str, dict]]) -> None:
    sweep([{"method": "forward"}], base={"epochs": 1})  # imports and loaders warm, as for Ray
    print("\nwall s of the train command's comparison (six methods) run as a sweep")
    header = (
        f"{'comparison':<32}{'local':>8}{'local 1T':>10}{'ray 1st':>9}{'ray 2nd':>9}"
        f"{'speed-up':>10}{'equal':>7}"
    )
    print(header)
    print("-" * len(header))
    for label, base in comparisons:
        local, sequential = timed_sweep(base)
        with threadpool_limits(1):
            single, _ = timed_sweep(base)
        first, remote = timed_sweep(base, backend="ray")
        second, _ = timed_sweep(base, backend="ray")
        equal = all(np.array_equal(a.params, b.params) for a, b in zip(sequential, remote))
        speedup = min(local, single) / second
        print(
            f"{label:<32}{local:>8.2f}{single:>10.2f}{first:>9.2f}{second:>9.2f}"
            f"{speedup:>9.2f}x{str(equal):>7}"
        )
    print(
        "ray 1st: the first sweep, whose fresh worker processes import the toolkit and load "
        "the data;\nspeed-up: the better local time / ray 2nd; equal: final parameters "
        "np.array_equal for all six"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, repeats and epochs")
    parser.add_argument("--address", default=None, help="Ray cluster (default: start locally)")
    parser.add_argument("--workers", type=int, default=None, help="Ray gradient workers")
    args = parser.parse_args()
    widths = QUICK_WIDTHS if args.quick else WIDTHS
    repeats = 3 if args.quick else 5
    comparisons = COMPARISONS[:1] if args.quick else COMPARISONS
    start = time.perf_counter()
    with ray_session(args.address) as ray:
        started = time.perf_counter() - start
        cpus = int(ray.cluster_resources().get("CPU", 0))
        with RayGradient(args.workers) as sharded:
            model, X, targets = network(8)  # start the actors to measure the latency
            stencil = get_stencil(METHOD)
            steps = resolve_steps(model.params, stencil, None)
            sharded(model, X, targets, model.loss, stencil, steps)
            print(
                f"machine: {os.cpu_count()} CPUs; Ray: {cpus} CPUs, "
                f"{len(sharded.worker_pids())} gradient workers (1 CPU each); "
                f"BLAS threads here: {blas_threads()}"
            )
            print(f"Ray start-up {started:.2f} s; empty actor call {sharded.latency * 1e3:.2f} ms")
            gradient_table(widths, repeats, sharded)
        sweep_table(comparisons)


if __name__ == "__main__":
    main()
