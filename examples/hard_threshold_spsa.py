"""Train a network of hard-threshold units, which backpropagation cannot, with SPSA.

The hidden layer outputs ``1`` where ``x @ W1 + b1 > 0`` and ``0`` elsewhere (the perceptron
unit). Its derivative is zero wherever it exists, so autograd gives ``W1`` and ``b1`` a zero
gradient and only the linear read-out ever learns: the hidden layer stays a fixed random
projection. A zeroth-order estimate needs nothing but loss values: SPSA compares the loss at
``theta + h z`` and ``theta - h z`` and, with a perturbation ``h`` large enough to flip some
units, follows the gradient of the loss smoothed over that scale (Nesterov & Spokoiny, 2017).

The model is a plain function of one flat parameter vector, not a ``Sequential``: the
estimators work on any ``f(theta) -> float``.

Run: ``python examples/hard_threshold_spsa.py`` (about 15 s on 2 cores). Needs scikit-learn
(the digits data); torch, when installed, shows the zero autograd gradient.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import deep_learning_toolkit as dlt
from deep_learning_toolkit.data import StandardScaler, load_dataset, train_test_split
from deep_learning_toolkit.data.batching import minibatch_indices
from deep_learning_toolkit.nn.losses import CrossEntropy
from deep_learning_toolkit.numdiff import zeroth_order as zo

SEED = 0


class HardThresholdNet:
    """``logits = step(X @ W1 + b1) @ W2 + b2`` with all parameters in one flat vector."""

    def __init__(self, n_inputs: int, n_hidden: int, n_classes: int, seed: int = SEED) -> None:
        self.shapes = {
            "W1": (n_inputs, n_hidden),
            "b1": (n_hidden,),
            "W2": (n_hidden, n_classes),
            "b2": (n_classes,),
        }
        sizes = [int(np.prod(shape)) for shape in self.shapes.values()]
        self.bounds = dict(zip(self.shapes, zip(np.cumsum([0, *sizes[:-1]]), np.cumsum(sizes))))
        rng = np.random.default_rng(seed)
        self.params = np.concatenate(
            [
                rng.normal(0.0, 1.0 / np.sqrt(n_inputs), sizes[0]),
                rng.normal(0.0, 0.5, sizes[1]),
                rng.normal(0.0, 1.0 / np.sqrt(n_hidden), sizes[2]),
                np.zeros(sizes[3]),
            ]
        )

    def part(self, theta: np.ndarray, name: str) -> np.ndarray:
        start, stop = self.bounds[name]
        return theta[start:stop].reshape(self.shapes[name])

    def hidden(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        return (X @ self.part(theta, "W1") + self.part(theta, "b1") > 0).astype(np.float64)

    def logits(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self.hidden(theta, X) @ self.part(theta, "W2") + self.part(theta, "b2")

    def accuracy(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.logits(theta, X).argmax(axis=1) == y))

    def readout_gradient(self, theta: np.ndarray, X: np.ndarray, targets: np.ndarray):
        """The exact (backpropagation) gradient: zero for W1 and b1, as autograd finds."""
        hidden = self.hidden(theta, X)
        residual = CrossEntropy().transform(
            hidden @ self.part(theta, "W2") + self.part(theta, "b2")
        )
        residual[np.arange(len(X)), targets] -= 1.0
        residual /= len(X)
        gradient = np.zeros_like(theta)
        start, stop = self.bounds["W2"]
        gradient[start:stop] = (hidden.T @ residual).ravel()
        start, stop = self.bounds["b2"]
        gradient[start:stop] = residual.sum(axis=0)
        return gradient


def autograd_gradient_norms(net: HardThresholdNet, X: np.ndarray, targets: np.ndarray):
    """Norm of torch autograd's gradient per parameter block (float64), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    theta = torch.tensor(net.params, requires_grad=True)
    blocks = {name: net.part(theta, name) for name in net.shapes}
    hidden = (torch.from_numpy(X) @ blocks["W1"] + blocks["b1"] > 0).to(torch.float64)
    logits = hidden @ blocks["W2"] + blocks["b2"]
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets)).backward()
    gradient = theta.grad.numpy()
    return {name: float(np.linalg.norm(net.part(gradient, name))) for name in net.shapes}


def train(net, data, steps: int, gradient_of, lr: float, batch_size: int = 128):
    """Adam on ``gradient_of(theta, X_batch, t_batch, epoch, batch)``; returns theta, seconds."""
    X, _, targets, _ = data
    theta = net.params.copy()
    optimizer = dlt.optim.Adam(lr=lr)
    started, step, epoch = time.perf_counter(), 0, 0
    while step < steps:
        for number, index in enumerate(
            minibatch_indices(len(X), batch_size, seed=SEED, epoch=epoch)
        ):
            optimizer.step(theta, gradient_of(theta, X[index], targets[index], epoch, number))
            step += 1
        epoch += 1
    return theta, time.perf_counter() - started, step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=32, help="hard-threshold units")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--scale", type=float, default=0.05, help="SPSA perturbation h")
    args = parser.parse_args(argv)

    digits = load_dataset("digits")
    X, X_test, y, y_test = train_test_split(digits.X, digits.y, test_size=0.2, seed=SEED)
    scaler = StandardScaler().fit(X)
    X, X_test = scaler.transform(X), scaler.transform(X_test)
    loss = CrossEntropy()
    targets = loss.prepare_targets(y, 10)
    data = (X, X_test, targets, y_test)
    net = HardThresholdNet(64, args.hidden, 10)
    print(f"network 64-{args.hidden}(hard threshold)-10, {net.params.size:,} parameters")

    norms = autograd_gradient_norms(net, X[:128], targets[:128])
    if norms is not None:
        print("torch autograd gradient norm per block:", {k: round(v, 6) for k, v in norms.items()})

    spec = zo.get_zeroth_order("spsa", scale=args.scale)

    def spsa_gradient(theta, X_batch, t_batch, epoch, batch):
        def batch_loss(v: np.ndarray) -> float:  # a black box to the estimator
            return float(loss.batched(net.logits(v, X_batch), t_batch))

        seed = zo.step_seed(SEED, epoch, batch)
        return zo.estimate_gradient(zo.directional_slopes(batch_loss, theta, spec, seed))

    def exact_gradient(theta, X_batch, t_batch, epoch, batch):
        return net.readout_gradient(theta, X_batch, t_batch)

    rows = []
    for name, gradient_of, lr in [
        ("backprop (read-out only learns)", exact_gradient, 3e-3),
        (f"spsa, h={args.scale:g} (all layers)", spsa_gradient, 3e-3),
    ]:
        theta, seconds, steps = train(net, data, args.steps, gradient_of, lr)
        rows.append(
            (name, steps, seconds, net.accuracy(theta, X, y), net.accuracy(theta, X_test, y_test))
        )
    start = (net.accuracy(net.params, X, y), net.accuracy(net.params, X_test, y_test))
    header = f"{'training (Adam, batch 128)':<36}{'steps':>7}{'seconds':>9}"
    print(f"{header}{'train acc':>11}{'test acc':>10}")
    print(f"{'initial parameters':<36}{0:>7}{0:>9.1f}{start[0]:>11.4f}{start[1]:>10.4f}")
    for name, steps, seconds, train_acc, test_acc in rows:
        print(f"{name:<36}{steps:>7}{seconds:>9.1f}{train_acc:>11.4f}{test_acc:>10.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
