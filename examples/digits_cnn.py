"""A CNN on 8x8 digits trained by finite differences, by SPSA and by PyTorch autograd.

The network is the train command's ``--model cnn``: ``Conv2D(1, 8, 3x3, padding 1, tanh) ->
AvgPool2D(2) -> Flatten -> Dense(128, 32, tanh) -> Dense(32, 10)`` (4,538 parameters),
the same initial weights, Adam (lr 0.01), batch 32 and the same mini-batches for every run.
It prints test accuracy against training time, writes the figure
``docs/images/digits_cnn_accuracy_vs_time.png``, and measures how far each finite-difference
run ends from its PyTorch twin, with smooth units (tanh, average pooling) and with ``relu``
and max pooling.

Run: ``python examples/digits_cnn.py`` (about four minutes on 2 cores; ``--quick`` for one).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import deep_learning_toolkit as dlt
from deep_learning_toolkit.baselines import train_torch_twin
from deep_learning_toolkit.experiments.setup import build_cnn, prepare_data

SEED = 3
FIGURE = Path("docs/images/digits_cnn_accuracy_vs_time.png")


class Clock(dlt.Callback):
    """Test accuracy and the training seconds so far, after every epoch."""

    def __init__(self, X_test: np.ndarray, y_test: np.ndarray) -> None:
        self.X_test, self.y_test = X_test, y_test
        self.seconds: list[float] = []
        self.accuracy: list[float] = []

    def on_train_begin(self, logs=None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.seconds.append(time.perf_counter() - self.started)
        self.accuracy.append(float(logs["val_accuracy"]))


def network(activation: str = "tanh") -> dlt.Sequential:
    return build_cnn((1, 8, 8), (32,), 10, activation, SEED)


def run(method: str, split, epochs: int, lr: float = 0.01) -> tuple[dlt.Sequential, Clock]:
    model = network()
    model.compile(optimizer=dlt.optim.Adam(lr=lr), method=method, metrics=["accuracy"])
    clock = Clock(split.X_test, split.y_test)
    model.fit(
        split.X_train,
        split.y_train,
        epochs=epochs,
        batch_size=32,
        validation_data=(split.X_test, split.y_test),
        callbacks=[clock],
    )
    return model, clock


def twin_distance(split, activation: str, epochs: int) -> tuple[float, float, float]:
    """Largest parameter difference between central differences and the PyTorch twin."""
    model = network(activation)
    model.compile(optimizer=dlt.optim.SGD(lr=0.05), method="central", metrics=["accuracy"])
    twin = train_torch_twin(model, split.X_train, split.y_train, epochs=epochs, batch_size=32)
    model.fit(split.X_train, split.y_train, epochs=epochs, batch_size=32)
    accuracy = model.evaluate(split.X_test, split.y_test)["accuracy"]
    twin_model = network(activation)
    twin_model.compile(optimizer="sgd", metrics=["accuracy"])
    twin_model.set_params(twin.params)
    twin_accuracy = twin_model.evaluate(split.X_test, split.y_test)["accuracy"]
    return float(np.max(np.abs(model.get_params() - twin.params))), accuracy, twin_accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--spsa-epochs", type=int, default=150)
    parser.add_argument("--quick", action="store_true", help="a few epochs of each run")
    parser.add_argument("--figure", type=Path, default=FIGURE)
    args = parser.parse_args(argv)
    epochs, spsa_epochs = (2, 10) if args.quick else (args.epochs, args.spsa_epochs)
    split = prepare_data("digits", SEED, images=True)
    print(
        f"digits 8x8: {network().num_parameters:,} parameters, {len(split.y_train)} training "
        f"/ {len(split.y_test)} test images, Adam lr 0.01, batch 32"
    )

    curves: dict[str, Clock] = {}
    for method in ("forward", "central", "five_point_midpoint"):
        _, curves[method] = run(method, split, epochs)
    _, curves["spsa"] = run("spsa:n_directions=4,scale=1e-3", split, spsa_epochs, lr=3e-3)
    model = network()
    model.compile(optimizer=dlt.optim.Adam(lr=0.01), metrics=["accuracy"])
    clock = Clock(split.X_test, split.y_test)
    train_torch_twin(
        model,
        split.X_train,
        split.y_train,
        epochs=epochs,
        batch_size=32,
        validation_data=(split.X_test, split.y_test),
        callbacks=[clock],
    )
    curves["pytorch autograd"] = clock

    print("\n| run | epochs | seconds | final test accuracy | seconds to 97% |")
    print("|---|---|---|---|---|")
    for name, c in curves.items():
        reached = next((s for s, a in zip(c.seconds, c.accuracy) if a >= 0.97), None)
        to_97 = "never" if reached is None else f"{reached:.1f}"
        print(
            f"| {name} | {len(c.seconds)} | {c.seconds[-1]:.1f} | {c.accuracy[-1]:.1%} | {to_97} |"
        )

    print(
        "\n| units | max abs parameter difference, central vs PyTorch (SGD, same batches) | "
        "test accuracy (ours / twin) |"
    )
    print("|---|---|---|")
    for label, activation in (("tanh + average pooling", "tanh"), ("relu + max pooling", "relu")):
        distance, ours, theirs = twin_distance(split, activation, epochs)
        print(f"| {label} | {distance:.1e} | {ours:.1%} / {theirs:.1%} |")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2))
    for name, c in curves.items():
        style = "--" if name.startswith("pytorch") else "-"
        axes.plot(c.seconds, c.accuracy, style, marker=".", label=name)
    axes.axhline(0.97, color="grey", linewidth=0.8, linestyle=":")
    axes.set_xscale("log")
    axes.set_ylim(0.8, 1.0)
    axes.set_xlabel("training seconds (2 cores)")
    axes.set_ylabel("test accuracy")
    axes.set_title("Digits CNN (4,538 parameters): accuracy against time")
    axes.legend()
    figure.tight_layout()
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.figure, dpi=120)
    print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
