"""Time per gradient of small CNNs: the engine vs the plain per-parameter loop vs torch autograd.

Run ``python benchmarks/conv.py`` (``--quick`` for fewer repeats, ``--profile`` to print
where the engine's time goes: each layer's share). Every figure is measured in this run, on
the same data and parameters; nothing is hard-coded. Networks:

* ``1-D CNN``: generated signals (sine, square, sawtooth; random frequency, phase and noise),
  1 channel of length 32, batch 64: Conv1D(1, 8, 5, tanh) - Conv1D(8, 16, 5, stride 2, tanh) -
  Flatten - Dense(192, 3), 1,283 parameters;
* ``2-D CNN``: scikit-learn's 8x8 digits, batch 64 and 256: Conv2D(1, 6, 3, padding 1, tanh) -
  Conv2D(6, 8, 3, stride 2, padding 1, tanh) - Flatten - Dense(128, 10), 1,790 parameters.

Prints a markdown table: ms per gradient for the engine (``gradient_engine="batched"``), the
plain loop (``gradient_engine="reference"``: one whole forward pass per perturbed loss) and
torch autograd (float64, the model's PyTorch twin, forward + backward), with the ratios
``loop / engine`` (aim: >= 10) and ``engine / autograd`` (aim: <= 30).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import deep_learning_toolkit as dlt
from deep_learning_toolkit.data import load_dataset
from deep_learning_toolkit.nn import Conv1D, Conv2D, Dense


class _Flatten(dlt.Layer):
    """``(N, ...) -> (N, prod(...))``, for branches without ``dlt.nn.Flatten``."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return x.reshape(len(x), -1)


Flatten = getattr(dlt.nn, "Flatten", _Flatten)


def best_time(
    fn: Callable[[], object], repeats: int, budget: float = 3.0, warm_up: bool = True
) -> float:
    """Smallest wall time of ``fn`` over up to ``repeats`` runs (stops after ``budget`` s)."""
    if warm_up:
        fn()
    best, spent = np.inf, 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget:
            break
    return best


def signals(n: int, length: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy waves of 3 shapes (sine, square, sawtooth): (n, 1, length) and labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    t = np.arange(length) / length
    phase = rng.uniform(0, 1, (n, 1)) + rng.uniform(1, 4, (n, 1)) * t
    waves = [np.sin(2 * np.pi * phase), np.sign(np.sin(2 * np.pi * phase)), 2 * (phase % 1) - 1]
    X = np.choose(y[:, None], waves) + rng.normal(0, 0.2, (n, length))
    return X[:, None, :], y


def cnn_1d(batch: int) -> tuple[dlt.Sequential, np.ndarray, np.ndarray]:
    layers = [
        Conv1D(1, 8, 5, activation="tanh"),
        Conv1D(8, 16, 5, stride=2, activation="tanh"),
        Flatten(),
        Dense(192, 3),
    ]
    X, y = signals(batch)
    return dlt.Sequential(layers, seed=0, input_shape=X.shape[1:]), X, y


def cnn_2d(batch: int) -> tuple[dlt.Sequential, np.ndarray, np.ndarray]:
    layers = [
        Conv2D(1, 6, 3, padding=1, activation="tanh"),
        Conv2D(6, 8, 3, stride=2, padding=1, activation="tanh"),
        Flatten(),
        Dense(128, 10),
    ]
    data = load_dataset("digits")
    X = (data.X[:batch] / 16.0).reshape(-1, 1, 8, 8)
    return dlt.Sequential(layers, seed=0, input_shape=(1, 8, 8)), X, data.y[:batch]


NETWORKS = [
    ("1-D CNN", cnn_1d, 64),
    ("2-D CNN digits", cnn_2d, 64),
    ("2-D CNN digits", cnn_2d, 256),
]


def torch_time(model: dlt.Sequential, X: np.ndarray, y: np.ndarray, repeats: int) -> float | None:
    """Best time of one autograd gradient (float64 twin), on the faster of 1 or 2 threads."""
    try:
        import torch
    except ImportError:
        return None
    from deep_learning_toolkit.baselines import build_network
    from deep_learning_toolkit.baselines.twin_registry import TwinLayer, register_twin

    register_twin("_Flatten")(lambda layer: TwinLayer([torch.nn.Flatten()]))
    network = build_network(model)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    params = list(network.parameters())

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(network(Xt), yt)
        grads = torch.autograd.grad(loss, params)
        torch.cat([g.reshape(-1) for g in grads]).numpy()

    saved = torch.get_num_threads()
    times = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        times.append(best_time(step, repeats))
    torch.set_num_threads(saved)
    return min(times)


def profile(methods: list[str], repeats: int) -> None:
    """Where the engine's time goes: each layer's share, one thread (BLAS too, as the engine's
    workers run it), best of ``repeats``; the perturbations of a layer's parameters are
    followed through all the layers after it."""
    from deep_learning_toolkit.gradients import engine
    from deep_learning_toolkit.numdiff import get_stencil, resolve_steps

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # BLAS keeps its threads: slower, the same shares roughly
        threadpool_limits = None
    limit = threadpool_limits(1) if threadpool_limits is not None else None
    print("| network | batch | method | layer | parameters | ms (one thread) | share |")
    print("|---|---:|---|---|---:|---:|---:|")
    for label, build, batch in NETWORKS:
        model, X, y = build(batch)
        model.compile(loss="cross_entropy", optimizer="sgd")
        X, targets = model._prepare(X, y)
        for method in methods:
            stencil = get_stencil(method)
            steps = resolve_steps(model.params, stencil)
            step = engine.GradientStep(model, X, targets, model.loss, stencil, steps)
            chunks = step.chunks(engine.DEFAULT_MEMORY_BUDGET, None, 1)
            times = {}
            for index, layer in enumerate(model.layers):
                mine = [chunk for chunk in chunks if chunk.layer == index]
                if mine:
                    run = lambda: [step.chunk_gradient(chunk) for chunk in mine]  # noqa: E731
                    times[index] = (layer, best_time(run, repeats))
            total = sum(seconds for _, seconds in times.values())
            for index, (layer, seconds) in times.items():
                print(
                    f"| {label} | {batch} | {method} | {index}: {layer!r} | "
                    f"{layer.num_parameters} | {seconds * 1e3:.2f} | {seconds / total:.0%} |"
                )
    if limit is not None:
        limit.unregister()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--methods", default="three_point_midpoint,forward,five_point_midpoint")
    parser.add_argument("--profile", action="store_true", help="where the engine's time goes")
    args = parser.parse_args()
    methods = args.methods.split(",")
    repeats = 5 if args.quick else 20
    if args.profile:
        profile(methods, repeats)
        return
    print("ms per gradient (best of repeats); loop = one forward pass per perturbed loss\n")
    columns = ["network", "batch", "P", "method", "engine", "loop", "autograd"]
    print("| " + " | ".join([*columns, "loop/engine", "engine/autograd"]) + " |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for label, build, batch in NETWORKS:
        model, X, y = build(batch)
        model.compile(loss="cross_entropy", optimizer="sgd")
        autograd = torch_time(model, X, y, 10 * repeats)
        for method in methods:
            fast = best_time(lambda: model.loss_and_gradient(X, y, method=method), repeats)
            model.gradient_engine = "reference"
            # the loop takes seconds: one run (after the engine's, which warmed everything up)
            slow = best_time(lambda: model.loss_and_gradient(X, y, method=method), 1, 0, False)
            model.gradient_engine = "batched"
            versus = "n/a" if autograd is None else f"{fast / autograd:.1f}"
            shown = "n/a" if autograd is None else f"{autograd * 1e3:.2f}"
            print(
                f"| {label} | {batch} | {model.num_parameters} | {method} | {fast * 1e3:.2f} | "
                f"{slow * 1e3:.1f} | {shown} | {slow / fast:.1f} | {versus} |"
            )


if __name__ == "__main__":
    main()
