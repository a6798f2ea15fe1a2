"""Train a network of hard-threshold units, which backpropagation cannot, with SPSA.

The hidden layer is a user-defined layer (``dlt.Layer``) that outputs ``1`` where
``x @ W + b > 0`` and ``0`` elsewhere (the perceptron unit). Its derivative is zero wherever
it exists, so autograd gives ``W`` and ``b`` a zero gradient and only the linear read-out
ever learns: the hidden layer stays a fixed random projection. A finite difference with a
tiny step sees the same zero (no unit flips). Estimators that compare losses at points far
enough apart to flip units do train it: SPSA with a perturbation ``h`` of a few hundredths
follows the gradient of the loss smoothed over that scale (Nesterov & Spokoiny, 2017), and so
does a central difference with a step that large.

Everything goes through ``Sequential``, ``compile`` and ``fit``, like any other network, and
each run is logged to TensorBoard (``tensorboard --logdir runs/hard_threshold``).

Run: ``python examples/hard_threshold_spsa.py`` (about two minutes on 2 cores). Needs
scikit-learn (the digits data) and tensorboardX; torch, when installed, shows the zero
autograd gradient.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import deep_learning_toolkit as dlt
from deep_learning_toolkit.data import StandardScaler, load_dataset, train_test_split

SEED = 0


@dlt.register_layer
class HardThreshold(dlt.Layer):
    """``step(x @ W + b)``: 1 where the pre-activation is positive, else 0."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.add_parameter("W", (n_in, n_out), initializer="lecun_normal")
        self.add_parameter("b", (n_out,), initializer="normal")

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return (x @ self.W + self.b > 0).astype(float)


def build(hidden: int) -> dlt.Sequential:
    return dlt.Sequential([HardThreshold(64, hidden), dlt.Dense(hidden, 10)], seed=SEED)


def autograd_gradient_norms(model: dlt.Sequential, X: np.ndarray, y: np.ndarray):
    """Norm of torch autograd's gradient per parameter (float64), or None without torch.

    The comparison cuts the graph: autograd has no gradient at all for W1 and b1 (0 here).
    """
    try:
        import torch
    except ImportError:
        return None
    hidden, readout = model.layers
    W1, b1, W2, b2 = (
        torch.tensor(v, requires_grad=True) for v in (hidden.W, hidden.b, readout.W, readout.b)
    )
    units = (torch.from_numpy(X) @ W1 + b1 > 0).to(torch.float64)
    torch.nn.functional.cross_entropy(units @ W2 + b2, torch.from_numpy(y)).backward()
    return {
        name: 0.0 if v.grad is None else float(v.grad.norm())
        for name, v in zip(("W1", "b1", "W2", "b2"), (W1, b1, W2, b2))
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=32, help="hard-threshold units")
    parser.add_argument("--spsa-epochs", type=int, default=1500)
    parser.add_argument("--fd-epochs", type=int, default=15)
    parser.add_argument("--scale", type=float, default=0.05, help="perturbation / step h")
    parser.add_argument("--logdir", default="runs/hard_threshold")
    args = parser.parse_args(argv)

    digits = load_dataset("digits")
    X, X_test, y, y_test = train_test_split(digits.X, digits.y, test_size=0.2, seed=SEED)
    scaler = StandardScaler().fit(X)
    X, X_test = scaler.transform(X), scaler.transform(X_test)
    start = build(args.hidden)
    print(f"network 64-{args.hidden}(hard threshold)-10, {start.num_parameters:,} parameters")
    norms = autograd_gradient_norms(start, X[:128], y[:128].astype(np.int64))
    if norms is not None:
        print("torch autograd gradient norm per block:", {k: round(v, 6) for k, v in norms.items()})

    runs = [
        # name, method, step, epochs
        ("central, default step (as backprop)", "central", None, args.fd_epochs),
        (f"central, step {args.scale:g}", "central", args.scale, args.fd_epochs),
        (f"spsa, h={args.scale:g}", f"spsa:scale={args.scale}", None, args.spsa_epochs),
    ]
    header = f"{'training (Adam, batch 128)':<38}{'steps':>7}{'seconds':>9}"
    print(f"{header}{'train acc':>11}{'test acc':>10}")
    for name, method, step, epochs in runs:
        model = build(args.hidden)
        model.compile(
            loss="cross_entropy",
            optimizer=dlt.optim.Adam(lr=3e-3),
            method=method,
            step=step,
            metrics=["accuracy"],
        )
        logger = dlt.TensorBoardLogger(f"{args.logdir}/{name.split(',')[0]}-{method}-{step}")
        started = time.perf_counter()
        model.fit(X, y, epochs=epochs, batch_size=128, callbacks=[logger])
        seconds = time.perf_counter() - started
        train_acc = model.evaluate(X, y)["accuracy"]
        test_acc = model.evaluate(X_test, y_test)["accuracy"]
        steps = model.optimizer.step_count
        print(f"{name:<38}{steps:>7}{seconds:>9.1f}{train_acc:>11.4f}{test_acc:>10.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
