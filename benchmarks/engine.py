"""Time per gradient: the batched engine vs the plain per-parameter loop vs torch autograd.

Run ``python benchmarks/engine.py`` (``--quick`` for fewer repeats). Every figure is measured
in this run, side by side, on the same data; nothing is hard-coded. Prints:

1. ms per gradient for each method on Iris 4-16-3 (batch 120), 4-64-64-3 (batch 120),
   digits 64-32-10 and 64-128-10 (batch 256), for the engine and the reference loop;
2. torch autograd (float64) on the same networks and batches, when torch is installed;
3. the ratios: reference / engine, and engine / torch;
4. the scaling of time per gradient with the number of parameters P at fixed depth
   (a log-log fit of time against P for widening 64-H-10 networks).

``--tune`` instead prints the engine's time against its chunk size (``engine.CHUNK_BYTES``)
and number of worker threads, the measurement behind their defaults.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import deep_learning_toolkit as dlt
from deep_learning_toolkit.data import StandardScaler, load_dataset

NETWORKS = [
    ("iris 4-16-3", "iris", (16,), 120),
    ("iris 4-64-64-3", "iris", (64, 64), 120),
    ("digits 64-32-10", "digits", (32,), 256),
    ("digits 64-128-10", "digits", (128,), 256),
]


def best_time(fn: Callable[[], object], repeats: int, budget: float = 2.0) -> float:
    """Smallest wall time of ``fn`` over up to ``repeats`` runs (stops after ``budget`` s)."""
    fn()  # warm up
    best, spent = np.inf, 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget:
            break
    return best


def build(dataset: str, hidden: tuple[int, ...], batch: int, activation: str = "tanh"):
    data = load_dataset(dataset)
    X = StandardScaler().fit_transform(data.X)[:batch]
    y = data.y[:batch]
    sizes = (X.shape[1], *hidden, data.n_classes)
    layers = [
        dlt.Dense(a, b, activation=activation if i < len(hidden) else "linear")
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
    ]
    return dlt.Sequential(layers, seed=0), X, y


def torch_gradient_time(model: dlt.Sequential, X: np.ndarray, y: np.ndarray, repeats: int):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    params = []
    for layer in model.layers:
        params.append(torch.tensor(layer.W, dtype=torch.float64, requires_grad=True))
        params.append(torch.tensor(layer.b, dtype=torch.float64, requires_grad=True))
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.long)

    def step() -> None:
        a = Xt
        for i, layer in enumerate(model.layers):
            a = a @ params[2 * i] + params[2 * i + 1]
            if layer.activation.name == "tanh":
                a = torch.tanh(a)
        loss = torch.nn.functional.cross_entropy(a, yt)
        grads = torch.autograd.grad(loss, params)
        torch.cat([g.reshape(-1) for g in grads]).numpy()

    return best_time(step, repeats)


def tune(repeats: int) -> None:
    """Time per gradient against chunk bytes and worker threads (three_point_midpoint)."""
    from deep_learning_toolkit.gradients import engine
    from deep_learning_toolkit.numdiff import get_stencil, resolve_steps

    stencil = get_stencil("three_point_midpoint")
    default = engine.CHUNK_BYTES
    sizes = (2**20, 4 * 2**20, 16 * 2**20, 64 * 2**20, 256 * 2**20)
    print("ms per gradient, three_point_midpoint; columns: MiB per chunk x worker threads")
    print(f"{'network':<18}" + "".join(f"{b >> 20:>5}M x{w}" for b in sizes for w in (1, 2)))
    for label, dataset, hidden, batch in NETWORKS:
        model, X, y = build(dataset, hidden, batch)
        model.compile(loss="cross_entropy", optimizer="sgd")
        targets = model.loss.prepare_targets(y, model.n_outputs)
        steps = resolve_steps(model.params, stencil)
        row = f"{label:<18}"
        for size in sizes:
            engine.CHUNK_BYTES = size
            for workers in (1, 2):
                elapsed = best_time(
                    lambda: engine.batched_gradient(
                        model,
                        X,
                        targets,
                        model.loss,
                        stencil,
                        steps,
                        workers=workers,
                    ),
                    repeats,
                )
                row += f"{elapsed * 1e3:>9.2f}"
        print(row)
    engine.CHUNK_BYTES = default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--methods", default=",".join(dlt.numdiff.METHODS))
    parser.add_argument("--tune", action="store_true", help="chunk size and threads sweep")
    args = parser.parse_args()
    repeats = 5 if args.quick else 20
    if args.tune:
        tune(repeats)
        return
    methods = args.methods.split(",")

    print("ms per gradient (best of repeats); ratio = reference / engine")
    header = f"{'network':<18}{'P':>7}  {'method':<22}{'engine':>9}{'reference':>11}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    torch_rows = []
    for label, dataset, hidden, batch in NETWORKS:
        model, X, y = build(dataset, hidden, batch)
        # step="classic": one gradient at fixed steps, what training does between the pilot
        # refreshes of the default steps (benchmarks/pilot.py times a pilot)
        model.compile(loss="cross_entropy", optimizer="sgd", step="classic")
        for method in methods:
            fast = best_time(lambda: model.loss_and_gradient(X, y, method=method), repeats)
            model.gradient_engine = "reference"
            slow = best_time(lambda: model.loss_and_gradient(X, y, method=method), 2, 5.0)
            model.gradient_engine = "batched"
            print(
                f"{label:<18}{model.num_parameters:>7}  {method:<22}{fast * 1e3:>9.3f}"
                f"{slow * 1e3:>11.2f}{slow / fast:>8.1f}"
            )
        central = best_time(lambda: model.loss_and_gradient(X, y, method="central"), repeats)
        torch_time = torch_gradient_time(model, X, y, repeats * 5)
        torch_rows.append((label, central, torch_time))

    print("\nengine (three_point_midpoint) vs torch autograd, float64, ms per gradient")
    print(f"{'network':<18}{'engine':>9}{'torch':>9}{'engine/torch':>14}")
    for label, central, torch_time in torch_rows:
        if torch_time is None:
            print(f"{label:<18}{central * 1e3:>9.3f}{'n/a':>9}{'(no torch)':>14}")
        else:
            print(
                f"{label:<18}{central * 1e3:>9.3f}{torch_time * 1e3:>9.3f}"
                f"{central / torch_time:>14.1f}"
            )

    print("\nscaling at fixed depth: digits 64-H-10, batch 256, three_point_midpoint")
    sizes, times = [], []
    for width in (8, 16, 32, 64, 128, 256):
        model, X, y = build("digits", (width,), 256)
        model.compile(loss="cross_entropy", optimizer="sgd", step="classic")
        elapsed = best_time(lambda: model.loss_and_gradient(X, y, method="central"), repeats)
        sizes.append(model.num_parameters)
        times.append(elapsed)
        print(f"  H={width:<4} P={model.num_parameters:<7} {elapsed * 1e3:9.3f} ms")
    slope = np.polyfit(np.log(sizes), np.log(times), 1)[0]
    print(f"fitted exponent: time ~ P^{slope:.2f}  (1.0 = linear in P)")


if __name__ == "__main__":
    main()
