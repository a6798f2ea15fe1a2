"""Digits with zeroth-order training: SPSA and Gaussian directions against exact gradients.

One network, 64-768-10 with tanh (57,610 parameters), the same initial weights and the same
train/test split for every run:

* ``spsa`` and ``gaussian``: MeZO steps (:func:`~deep_learning_toolkit.numdiff.zeroth_order.
  zeroth_order_step`): two loss evaluations a step whatever the size of the network, the
  parameters perturbed in place, the update applied without forming the gradient (plain SGD
  with a cosine learning-rate decay);
* the six finite-difference formulas through the batched engine (``model.fit``, Adam): one
  exact-up-to-truncation gradient a step, at ``P`` to ``4P`` loss evaluations;
* PyTorch autograd in float64 (the toolkit's twin of the network, Adam, the same batches);
* ``spsa`` on a 64-1024-1024-10 network (1,126,410 parameters), to show the step stays cheap.

Every run gets a wall-clock budget; test accuracy is measured after every epoch (outside the
timed training). It prints a table and saves the figure of test accuracy against training
seconds (``docs/images/digits_accuracy_vs_time.png``).

Run: ``python examples/digits_zeroth_order.py`` (about 10 minutes on 2 cores),
``--quick`` for a smoke run of a few seconds. Needs scikit-learn (the data), torch
(the baseline; skipped without it) and seaborn/matplotlib/pandas (the figure).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import deep_learning_toolkit as dlt
from deep_learning_toolkit.data import StandardScaler, load_dataset, train_test_split
from deep_learning_toolkit.data.batching import minibatch_indices
from deep_learning_toolkit.numdiff import METHODS
from deep_learning_toolkit.numdiff import zeroth_order as zo

FIGURE = Path(__file__).resolve().parents[1] / "docs" / "images" / "digits_accuracy_vs_time.png"
TARGET = 0.94
SEED = 0


@dataclass
class Run:
    """Test accuracy against cumulative training seconds for one method."""

    name: str
    parameters: int
    evaluations_per_step: str
    seconds: list[float] = field(default_factory=lambda: [0.0])
    accuracy: list[float] = field(default_factory=list)
    steps: int = 0

    def seconds_to(self, target: float) -> float:
        hits = [s for s, a in zip(self.seconds, self.accuracy) if a >= target]
        return hits[0] if hits else float("nan")


def digits(seed: int = SEED):
    """Standardised digits, 80/20 stratified split."""
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, test_size=0.2, seed=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def network(hidden: tuple[int, ...], seed: int = SEED) -> dlt.Sequential:
    sizes = (64, *hidden, 10)
    layers = [dlt.Dense(a, b, activation="tanh") for a, b in zip(sizes[:-2], sizes[1:-1])]
    return dlt.Sequential([*layers, dlt.Dense(sizes[-2], 10)], seed=seed)


def train_zeroth_order(
    name: str,
    model: dlt.Sequential,
    data: tuple,
    spec: zo.ZerothOrder,
    lr: float,
    steps: int,
    budget: float,
    batch_size: int = 128,
) -> Run:
    """MeZO-SGD with ``lr * (1 + cos(pi t / steps)) / 2``, until ``steps`` or ``budget`` s."""
    X, X_test, y, y_test = data
    model.compile(loss="cross_entropy", optimizer="sgd", metrics=["accuracy"])
    loss = model.loss
    targets = loss.prepare_targets(y, model.n_outputs)
    run = Run(name, model.num_parameters, str(spec.perturbed_evaluations))
    run.accuracy.append(model.evaluate(X_test, y_test)["accuracy"])
    epoch = 0
    while run.steps < steps and run.seconds[-1] < budget:
        started = time.perf_counter()
        for number, index in enumerate(
            minibatch_indices(len(X), batch_size, seed=SEED, epoch=epoch)
        ):
            X_batch, t_batch = X[index], targets[index]

            def batch_loss(_: np.ndarray, X_batch=X_batch, t_batch=t_batch) -> float:
                return float(loss.batched(model.forward(X_batch), t_batch))

            rate = lr * 0.5 * (1.0 + math.cos(math.pi * min(run.steps / steps, 0.99)))
            seed = zo.step_seed(SEED, epoch, number)
            zo.zeroth_order_step(batch_loss, model.params, rate, spec, seed)
            run.steps += 1
        run.seconds.append(run.seconds[-1] + time.perf_counter() - started)
        run.accuracy.append(model.evaluate(X_test, y_test)["accuracy"])
        epoch += 1
    return run


class Budget(dlt.Callback):
    """Stop ``fit`` once the epochs' training seconds exceed ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.spent += logs["seconds"]
        if self.spent >= self.seconds:
            self.model.stop_training = True


def _run_from_history(name: str, history, parameters: int, per_step: str, start: float) -> Run:
    run = Run(name, parameters, per_step)
    run.accuracy.append(start)
    run.seconds += list(np.cumsum(history.history["seconds"]))
    run.accuracy += list(history.history["val_accuracy"])
    batches = math.ceil(history.params["samples"] / history.params["batch_size"])
    run.steps = batches * len(history.history["seconds"])
    return run


def train_exact(method: str, data: tuple, budget: float, lr: float, batch_size: int = 128) -> Run:
    """The batched finite-difference engine with Adam, for ``budget`` seconds of epochs."""
    X, X_test, y, y_test = data
    model = network((768,))
    model.compile(
        loss="cross_entropy", optimizer=dlt.optim.Adam(lr=lr), method=method, metrics=["accuracy"]
    )
    start = model.evaluate(X_test, y_test)["accuracy"]
    history = model.fit(
        X, y, epochs=10_000, batch_size=batch_size, validation_data=(X_test, y_test),
        callbacks=[Budget(budget)], seed=SEED,
    )  # fmt: skip
    per_step = history.history["evaluations"][0] / math.ceil(len(X) / batch_size)
    return _run_from_history(method, history, model.num_parameters, f"{per_step:,.0f}", start)


def train_pytorch(data: tuple, budget: float, lr: float, batch_size: int = 128) -> Run | None:
    """The float64 PyTorch twin (autograd) with Adam on the same batches."""
    try:
        from deep_learning_toolkit.baselines.torch_twin import train_torch_twin
    except ImportError:
        return None
    X, X_test, y, y_test = data
    model = network((768,))
    model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=lr), metrics=["accuracy"])
    start = model.evaluate(X_test, y_test)["accuracy"]
    try:
        twin = train_torch_twin(
            model, X, y, epochs=10_000, batch_size=batch_size, validation_data=(X_test, y_test),
            callbacks=[Budget(budget)], seed=SEED,
        )  # fmt: skip
    except ImportError:
        return None
    return _run_from_history("pytorch", twin.history, model.num_parameters, "1 fwd+bwd", start)


def plot(runs: list[Run], path: Path, title: str) -> None:
    """Test accuracy against training seconds, one line per run, in the Iris figures' style."""
    import pandas as pd
    import seaborn as sns
    from matplotlib.figure import Figure

    frame = pd.DataFrame(
        [
            {"run": f"{run.name} ({run.parameters:,} params)", "seconds": s, "accuracy": a}
            for run in runs
            for s, a in zip(run.seconds[1:], run.accuracy[1:])  # after each epoch
        ]
    )
    names = list(dict.fromkeys(frame["run"]))
    reference = next((n for n in names if n.startswith("pytorch")), None)
    others = [n for n in names if n != reference]
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        figure = Figure(figsize=(9.6, 4.6), layout="constrained")
        ax = figure.subplots()
        palette = sns.color_palette("tab10", len(others))
        for color, name in zip(palette, others):
            style = {"linewidth": 2.2} if name.startswith(("spsa", "gaussian")) else {}
            if "1,126,410" in name:
                style = {"linewidth": 2.2, "linestyle": ":"}
            part = frame[frame["run"] == name]
            sns.lineplot(data=part, x="seconds", y="accuracy", ax=ax, color=color, label=name,
                         estimator=None, errorbar=None, **style)  # fmt: skip
        if reference is not None:
            part = frame[frame["run"] == reference]
            sns.lineplot(data=part, x="seconds", y="accuracy", ax=ax, color="black",
                         linestyle="--", linewidth=2, label=reference, estimator=None,
                         errorbar=None)  # fmt: skip
        ax.axhline(TARGET, color="grey", linewidth=1, linestyle="-.", label=f"{TARGET:.0%}")
        ax.set_xscale("log")
        ax.set_ylim(0.0, 1.0)
        ax.set_xlabel("training seconds (2 cores, log scale)")
        ax.set_ylabel("test accuracy after each epoch")
        handles, labels = ax.get_legend_handles_labels()
        ax.get_legend().remove()
        figure.legend(handles, labels, loc="outside right upper", title="run")
        ax.set_title(title)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per zeroth-order run")
    parser.add_argument("--exact-budget", type=float, default=30.0, help="seconds per exact run")
    parser.add_argument("--steps", type=int, default=30_000, help="planned zeroth-order steps")
    parser.add_argument("--methods", default=",".join(METHODS), help="exact methods to run")
    parser.add_argument("--no-large", action="store_true", help="skip the 1.1M-parameter run")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--figure", type=Path, default=FIGURE)
    args = parser.parse_args(argv)
    if args.quick:
        args.budget, args.exact_budget, args.steps = 2.0, 1.0, 300
    data = digits()
    runs = [
        train_zeroth_order("spsa", network((768,)), data, zo.get_zeroth_order("spsa"), 1.5e-3,
                           args.steps, args.budget),
        train_zeroth_order("gaussian", network((768,)), data, zo.get_zeroth_order("gaussian"),
                           1.5e-3, args.steps, args.budget),
    ]  # fmt: skip
    for method in filter(None, args.methods.split(",")):
        runs.append(train_exact(method, data, args.exact_budget, lr=1e-3))
    twin = train_pytorch(data, args.exact_budget, lr=1e-3)
    if twin is not None:
        runs.append(twin)
    if not args.no_large:
        big = network((1024, 1024))
        budget = 1.5 * args.budget
        runs.append(
            train_zeroth_order("spsa", big, data, zo.get_zeroth_order("spsa"), 1e-3,
                               args.steps // 5, budget)
        )  # fmt: skip

    print(f"digits 80/20 split, batch 128; test accuracy (target {TARGET:.0%})")
    print(
        f"{'run':<22}{'params':>11}{'evals/step':>12}{'steps':>8}{'seconds':>9}"
        f"{'s/step':>9}{'final acc':>11}{'best acc':>10}{f's to {TARGET:.0%}':>10}"
    )
    for run in runs:
        seconds = run.seconds[-1]
        print(
            f"{run.name:<22}{run.parameters:>11,}{run.evaluations_per_step:>12}{run.steps:>8}"
            f"{seconds:>9.1f}{seconds / max(run.steps, 1):>9.4f}{run.accuracy[-1]:>11.4f}"
            f"{max(run.accuracy):>10.4f}{run.seconds_to(TARGET):>10.1f}"
        )
    try:
        plot(runs, args.figure, "Digits: test accuracy against training time")
    except ImportError as error:
        print(f"no figure ({error}); pip install 'deep_learning_toolkit[plot]'")
    else:
        print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
