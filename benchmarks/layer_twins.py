"""The layers of issue 12 against PyTorch: gradient errors, twin agreement, gradient time.

Run ``python benchmarks/layer_twins.py`` (``--quick``: fewer epochs and repeats). For one
small model per layer (generated data, batch 32, cross-entropy) it prints, measured in this
run:

1. the error of each formula's gradient (default steps, training mode) relative to the
   largest entry of torch autograd's (float64, the model's PyTorch twin; dropout with the
   same masks);
2. the largest parameter difference between ``fit`` and ``train_torch_twin`` after the
   same epochs of SGD from the same start (central and five-point differences);
3. ms per gradient: the batched engine (these layers take its generic path), the plain
   per-parameter loop, and torch autograd.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import deep_learning_toolkit as dlt
from deep_learning_toolkit.baselines import build_network, train_torch_twin, twin_layers
from deep_learning_toolkit.baselines.torch_twin import _loss_function
from deep_learning_toolkit.numdiff import METHODS

# name -> (layers, per-sample input shape, integer inputs below)
MODELS = {
    "MaxPool2D": (
        lambda: [dlt.BatchNorm(2), dlt.Activation("tanh"), dlt.MaxPool2D(2), dlt.Flatten(),
                 dlt.Dense(32, 3)],
        (2, 8, 8), None,
    ),
    "AvgPool1D": (
        lambda: [dlt.LayerNorm(16), dlt.Activation("tanh"), dlt.AvgPool1D(2), dlt.Flatten(),
                 dlt.Dense(32, 3)],
        (4, 16), None,
    ),
    "GlobalAvgPool": (
        lambda: [dlt.BatchNorm(4), dlt.Activation("sigmoid"), dlt.GlobalAvgPool(),
                 dlt.Dense(4, 3)],
        (4, 16), None,
    ),
    "BatchNorm": (
        lambda: [dlt.Dense(16, 32), dlt.BatchNorm(32), dlt.Activation("tanh"), dlt.Dense(32, 3)],
        (16,), None,
    ),
    "LayerNorm": (
        lambda: [dlt.Dense(16, 32), dlt.LayerNorm(32), dlt.Activation("tanh"), dlt.Dense(32, 3)],
        (16,), None,
    ),
    "Dropout": (
        lambda: [dlt.Dense(16, 32, activation="tanh"), dlt.Dropout(0.3), dlt.Dense(32, 3)],
        (16,), None,
    ),
    "Embedding": (
        lambda: [dlt.Embedding(20, 4), dlt.Flatten(), dlt.Dense(32, 3)],
        (8,), 20,
    ),
}  # fmt: skip


def problem(name: str, n: int = 96, seed: int = 0):
    """A compiled model and its data (labels: the argmax of a random projection)."""
    make, shape, indices = MODELS[name]
    rng = np.random.default_rng(seed)
    if indices is None:
        X = rng.normal(size=(n, *shape))
    else:
        X = rng.integers(0, indices, (n, *shape)).astype(float)
    y = np.argmax(X.reshape(n, -1) @ rng.normal(size=(X[0].size, 3)), axis=1)
    model = dlt.Sequential(make(), seed=seed, input_shape=shape)
    model.compile(loss="cross_entropy", optimizer=dlt.optim.SGD(lr=0.1))
    return model, X, y


def autograd(model, X, y):
    """``gradient()``: torch autograd's gradient of the twin (the masks of
    ``loss_and_gradient``), flat in our layout; the network is built once."""
    import torch

    network = build_network(model)
    twin_layers.set_step(network, model.seed)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    loss_function = _loss_function("cross_entropy")

    def gradient() -> np.ndarray:
        network.zero_grad()
        loss_function(network(X_t), y_t).backward()
        parts = [p.from_torch(p.tensor.grad.numpy()).ravel() for p in network.dltk_parameters]
        return np.concatenate(parts)

    return gradient


def best_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1e3 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and repeats")
    args = parser.parse_args()
    epochs, repeats = (2, 2) if args.quick else (5, 5)
    import torch

    torch.set_num_threads(1)  # networks this small run fastest on one thread (as the twin)
    methods = [*METHODS, "complex_step"]
    print("1. gradient error relative to max |autograd| (batch 32, default steps)")
    print(f"{'layer':<14}{'P':>5}" + "".join(f"{m[:12]:>13}" for m in methods))
    for name in MODELS:
        model, X, y = problem(name, n=32)
        exact = autograd(model, X, y)()
        errors = [
            np.abs(model.loss_and_gradient(X, y, method=m)[1] - exact).max() / np.abs(exact).max()
            for m in methods
        ]
        print(f"{name:<14}{model.num_parameters:>5}" + "".join(f"{e:>13.1e}" for e in errors))
    print(f"\n2. max |fit - twin| of the parameters after {epochs} epochs (SGD lr 0.1, batch 32)")
    print(f"{'layer':<14}{'central':>12}{'five-point':>12}")
    for name in MODELS:
        row = []
        for method in ("central", "five_point_midpoint"):
            model, X, y = problem(name)
            model.compile(loss="cross_entropy", optimizer=dlt.optim.SGD(lr=0.1), method=method)
            twin = train_torch_twin(model, X, y, epochs=epochs, batch_size=32)
            model.fit(X, y, epochs=epochs, batch_size=32)
            row.append(np.abs(model.get_params() - twin.params).max())
        print(f"{name:<14}" + "".join(f"{d:>12.1e}" for d in row))
    print("\n3. ms per central-difference gradient (batch 32; autograd: forward + backward)")
    print(f"{'layer':<14}{'engine':>10}{'loop':>10}{'autograd':>10}{'loop/engine':>13}")
    for name in MODELS:
        model, X, y = problem(name, n=32)
        engine = best_ms(lambda: model.loss_and_gradient(X, y, method="central"), repeats)
        model.compile(loss="cross_entropy", optimizer="sgd", gradient_engine="reference")
        loop = best_ms(lambda: model.loss_and_gradient(X, y, method="central"), repeats)
        torch_ms = best_ms(autograd(model, X, y), repeats)
        print(f"{name:<14}{engine:>10.2f}{loop:>10.2f}{torch_ms:>10.2f}{loop / engine:>13.1f}")


if __name__ == "__main__":
    main()
