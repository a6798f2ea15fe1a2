"""``python -m deep_learning_toolkit.train``: the six finite-difference methods against PyTorch.

One network is trained on one dataset once per finite-difference method and once as its
PyTorch twin (same initial weights, optimizer, hyperparameters and mini-batches; exact
autograd gradients). The runs are logged to TensorBoard, plotted with seaborn, and summed up
in a table.

The experiment is :func:`run_comparison` (importable, returns the histories); :func:`main`
only parses the command line, calls it and prints. Data pipeline: ``load_dataset`` ->
stratified ``train_test_split`` (20 % test, by ``seed``) -> ``StandardScaler`` fitted on
the training features -> ``Sequential([Dense(d, h, activation), ..., Dense(h, outputs)],
seed=seed)``. Classification uses the softmax cross-entropy and reports accuracy; the
regression dataset (diabetes) standardises its target too (fitted on the training set), uses
the mean squared error, and reports R^2, which the scaling does not change. Run
``python -m deep_learning_toolkit.train --help`` for the options.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ._validation import check_choice, check_int, describe
from .baselines.torch_twin import TWIN_NAME, require_torch, train_torch_twin
from .data import StandardScaler, load_dataset, train_test_split
from .distributed import BACKENDS, check_backend, ray_session, sweep
from .nn import Dense, Sequential
from .numdiff import METHODS
from .numdiff.stencils import get_stencil
from .numdiff.zeroth_order import get_zeroth_order, is_zeroth_order
from .optim import OPTIMIZERS, Optimizer, get_optimizer
from .training.history import History
from .training.tensorboard import TensorBoardLogger

#: Datasets the experiment accepts (``friedman`` is left to the benchmarks).
DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")
#: Fraction of the samples held out as the test (validation) set.
TEST_SIZE = 0.2
#: Learning rate per optimizer when ``lr`` is not given.
DEFAULT_LR = {"sgd": 0.1, "adam": 0.01, "rmsprop": 0.01}
#: Activations a hidden layer may use (the output layer is always linear: logits/values).
HIDDEN_ACTIVATIONS = ("tanh", "sigmoid", "relu", "leaky_relu")
#: Start of every command-line error line (the console script's name).
ERROR_PREFIX = "dltk-train: error: "
#: Exit statuses: bad input (as argparse), a run that failed (training diverged), Ctrl-C.
EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


@dataclass(frozen=True)
class Defaults:
    """The default experiment: a 4-16-3 tanh network on Iris with plain SGD.

    The seed is 3: its split gives 96.7 % test accuracy, the median over seeds 0-9 (seed 0
    puts three overlapping versicolor/virginica flowers in the test set and gives 90 %;
    docs/iris_comparison.md lists all ten).
    """

    dataset: str = "iris"
    epochs: int = 100
    batch_size: int = 16
    optimizer: str = "sgd"
    hidden: tuple[int, ...] = (16,)
    activation: str = "tanh"
    seed: int = 3
    logdir: str = "runs"
    plots_dir: str = "plots"


DEFAULTS = Defaults()


@dataclass(frozen=True)
class Task:
    """How a kind of dataset is trained and judged."""

    loss: str
    metric: str
    target: float  # the test-set score counted in "epochs to reach ..."


TASKS = {
    "classification": Task(loss="cross_entropy", metric="accuracy", target=0.95),
    # Diabetes: a linear model reaches R^2 of about 0.35-0.5 depending on the split.
    "regression": Task(loss="mse", metric="r2", target=0.35),
}


@dataclass(frozen=True)
class Split:
    """A dataset prepared for training: standardised, split into train and test."""

    name: str
    task: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    n_outputs: int


def prepare_data(dataset: str, seed: int) -> Split:
    """Load ``dataset``, split it (stratified for classes) and standardise it.

    The scalers are fitted on the training part only. Regression targets are standardised
    too, so that the loss is in units of the target's variance.
    """
    data = load_dataset(check_choice("dataset", dataset, DATASETS))
    classification = data.task == "classification"
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=TEST_SIZE, stratify=classification, seed=seed
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if not classification:
        target_scaler = StandardScaler().fit(y_train[:, None])
        y_train = target_scaler.transform(y_train[:, None])[:, 0]
        y_test = target_scaler.transform(y_test[:, None])[:, 0]
    n_outputs = data.n_classes if classification else 1
    return Split(dataset, data.task, X_train, X_test, y_train, y_test, n_outputs)


def build_model(
    n_inputs: int, hidden: Sequence[int], n_outputs: int, activation: str, seed: int
) -> Sequential:
    """``Dense(n_inputs, h1, activation) -> ... -> Dense(h_last, n_outputs)`` (linear output)."""
    widths = [n_inputs, *hidden]
    layers = [Dense(a, b, activation=activation) for a, b in zip(widths[:-1], widths[1:])]
    return Sequential([*layers, Dense(widths[-1], n_outputs)], seed=seed)


@dataclass(frozen=True)
class RunResult:
    """One row of the results table."""

    name: str
    train_score: float
    test_score: float
    train_loss: float
    test_loss: float
    epochs_to_target: int | None  # epochs trained when the test score first reached target
    seconds_per_epoch: float  # median over epochs
    evaluations_per_epoch: float  # loss evaluations (pytorch: forward+backward passes)
    max_param_difference: float | None  # max |theta - theta_pytorch| at the end


@dataclass
class Comparison:
    """Everything :func:`run_comparison` produced.

    Attributes
    ----------
    split : Split
        The data the runs were trained and tested on.
    task : Task
    settings : dict
        The experiment's settings (dataset, methods, epochs, optimizer, ...).
    histories : dict[str, History]
        One per run: the methods in order, then ``"pytorch"`` unless skipped.
    params : dict[str, ndarray]
        Final flat parameters of each run.
    torch_skipped : str or None
        Why the PyTorch baseline did not run (``None`` when it ran).
    logdir : Path or None
        TensorBoard root (runs are ``logdir/<dataset>/<run>``), if logging was on.
    plots : dict[str, Path]
        Saved figures (see :func:`make_plots`).
    """

    split: Split
    task: Task
    settings: dict[str, Any]
    histories: dict[str, History] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    torch_skipped: str | None = None
    logdir: Path | None = None
    plots: dict[str, Path] = field(default_factory=dict)

    def results(self) -> list[RunResult]:
        """One :class:`RunResult` per run, in run order."""
        metric, target = self.task.metric, self.task.target
        reference = self.params.get(TWIN_NAME)
        rows = []
        for name, history in self.histories.items():
            scores = history.history[f"val_{metric}"]
            reached = next((i + 1 for i, score in enumerate(scores) if score >= target), None)
            difference = None
            if reference is not None and name != TWIN_NAME:
                difference = float(np.max(np.abs(self.params[name] - reference)))
            rows.append(
                RunResult(
                    name=name,
                    train_score=history.last(metric),
                    test_score=history.last(f"val_{metric}"),
                    train_loss=history.last("loss"),
                    test_loss=history.last("val_loss"),
                    epochs_to_target=reached,
                    seconds_per_epoch=float(np.median(history.history["seconds"])),
                    evaluations_per_epoch=float(np.mean(history.history["evaluations"])),
                    max_param_difference=difference,
                )
            )
        return rows

    def table(self) -> str:
        """The results as a Markdown table."""
        metric, target = self.task.metric, self.task.target
        header = [
            "run",
            f"train {metric}",
            f"test {metric}",
            "train loss",
            "test loss",
            f"epochs to test {metric} >= {target:g}",
            "ms / epoch",
            "loss evaluations / epoch",
        ]
        with_twin = TWIN_NAME in self.params
        if with_twin:
            header.append("max abs param diff vs pytorch")
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.results():
            cells = [
                row.name,
                f"{row.train_score:.3f}",
                f"{row.test_score:.3f}",
                f"{row.train_loss:.4f}",
                f"{row.test_loss:.4f}",
                "not reached" if row.epochs_to_target is None else str(row.epochs_to_target),
                f"{1000 * row.seconds_per_epoch:.2f}",
                f"{row.evaluations_per_epoch:g}" + (" *" if row.name == TWIN_NAME else ""),
            ]
            if with_twin:
                diff = row.max_param_difference
                cells.append("-" if diff is None else f"{diff:.1e}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _check_methods(methods: Sequence[str] | None) -> list[str]:
    if methods is None:
        return list(METHODS)
    if isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
        raise TypeError(f"methods must be a non-empty list of names; got {describe(methods)}.")
    names: list[str] = []
    for method in methods:
        if is_zeroth_order(method):  # "spsa", "gaussian", "spsa:n_directions=4", ...
            name = get_zeroth_order(method).label
        else:
            name = get_stencil(method).name  # validates, and resolves "central"
        if name not in names:
            names.append(name)
    return names


def _check_hidden(hidden: int | Sequence[int]) -> tuple[int, ...]:
    widths = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
    return tuple(check_int("hidden", width, minimum=1) for width in widths)


def run_comparison(
    dataset: str = DEFAULTS.dataset,
    methods: Sequence[str] | None = None,
    epochs: int = DEFAULTS.epochs,
    batch_size: int = DEFAULTS.batch_size,
    lr: float | None = None,
    optimizer: str = DEFAULTS.optimizer,
    hidden: int | Sequence[int] = DEFAULTS.hidden,
    activation: str = DEFAULTS.activation,
    seed: int = DEFAULTS.seed,
    logdir: str | os.PathLike | None = None,
    plots_dir: str | os.PathLike | None = None,
    torch_baseline: bool = True,
    verbose: int = 0,
    backend: str = "local",
) -> Comparison:
    """Train one network with each finite-difference method and as its PyTorch twin.

    Parameters
    ----------
    dataset : str
        One of :data:`DATASETS`; ``diabetes`` is regression (standardised target, R^2).
    methods : list of str, optional
        Finite-difference methods (default: all six of ``numdiff.METHODS``).
    epochs, batch_size : int
        As in ``fit``.
    lr : float, optional
        Learning rate; default :data:`DEFAULT_LR` of the optimizer.
    optimizer : {"sgd", "adam", "rmsprop"}
        Other hyperparameters keep their defaults (plain SGD: no momentum).
    hidden : int or list of int
        Widths of the hidden layers, e.g. ``16`` or ``(32, 16)``.
    activation : str
        Activation of the hidden layers (one of :data:`HIDDEN_ACTIVATIONS`).
    seed : int
        Seeds the split, the initial weights and the mini-batch order.
    logdir : path, optional
        TensorBoard root; each run logs to ``logdir/<dataset>/<run>`` (needs tensorboardX).
    plots_dir : path, optional
        Where to save the PNG figures (needs the ``plot`` extra).
    torch_baseline : bool
        Train the PyTorch twin too; skipped, with the reason in ``torch_skipped``, when
        torch is not installed.
    verbose : int
        ``1`` shows a progress bar per run (local backend only).
    backend : {"local", "ray"}
        Train the methods one after another here, or as parallel Ray tasks
        (:func:`~deep_learning_toolkit.distributed.sweep`; the same histories and final
        parameters). Ray is used as running, else started locally for the comparison.

    Returns
    -------
    Comparison
    """
    methods = _check_methods(methods)
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    lr = _optimizer(optimizer, DEFAULT_LR[optimizer] if lr is None else lr).lr  # validates lr
    hidden = _check_hidden(hidden)
    activation = check_choice("activation", activation, HIDDEN_ACTIVATIONS)
    seed = check_int("seed", seed, minimum=0)
    backend = check_backend(backend)
    _check_output_directory("logdir", logdir)
    _check_output_directory("plots_dir", plots_dir)
    if plots_dir is not None:
        from .viz.plots import require_plotting

        require_plotting()  # fail before training, not after
    split = prepare_data(dataset, seed)
    task = TASKS[split.task]
    settings = {
        "dataset": split.name,
        "methods": methods,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "lr": float(lr),
        "hidden": hidden,
        "activation": activation,
        "seed": seed,
        "backend": backend,
    }
    comparison = Comparison(split=split, task=task, settings=settings)
    comparison.logdir = None if logdir is None else Path(logdir)
    extra_hparams = {
        "dataset": split.name,
        "hidden": ",".join(map(str, hidden)),
        "activation": activation,
    }

    def new_model() -> Sequential:
        return build_model(split.X_train.shape[1], hidden, split.n_outputs, activation, seed)

    def callbacks(name: str) -> list[TensorBoardLogger]:
        if comparison.logdir is None:
            return []
        return [TensorBoardLogger(comparison.logdir / split.name / name, hparams=extra_hparams)]

    fit_arguments = {
        "epochs": epochs,
        "batch_size": batch_size,
        "validation_data": (split.X_test, split.y_test),
        "verbose": verbose,
    }
    # One trial per method: exactly the training of the loop this replaces (see
    # distributed.train_trial), one after another or as parallel Ray tasks.
    base = {**settings, "verbose": verbose if backend == "local" else 0}
    del base["methods"], base["backend"]
    results = sweep(
        [{"method": method} for method in methods],
        base=base,
        backend=backend,
        logdir=None if comparison.logdir is None else comparison.logdir / split.name,
    )
    for result in results:
        if not result.ok:
            raise result.exception
        comparison.histories[result.name] = result.history
        comparison.params[result.name] = result.params
    if torch_baseline:
        try:
            require_torch()
        except ImportError as error:
            comparison.torch_skipped = str(error)
    else:
        comparison.torch_skipped = "not requested (--no-torch)"
    if comparison.torch_skipped is None:
        model = new_model()
        model.compile(loss=task.loss, optimizer=_optimizer(optimizer, lr), metrics=[task.metric])
        twin = train_torch_twin(
            model, split.X_train, split.y_train, callbacks=callbacks(TWIN_NAME), **fit_arguments
        )
        comparison.histories[TWIN_NAME] = twin.history
        comparison.params[TWIN_NAME] = twin.params
    if plots_dir is not None:
        comparison.plots = make_plots(comparison.histories, Path(plots_dir), split.name, task)
    return comparison


def _check_output_directory(name: str, path: str | os.PathLike | None) -> None:
    """Refuse, before any training, an output directory that is an existing file."""
    if path is None:
        return
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"{name} must be a directory path or None; got {describe(path)}.")
    for parent in (Path(path), *Path(path).parents):
        if parent.exists() and not parent.is_dir():
            raise ValueError(
                f"{name} {str(path)!r} cannot be a directory: {str(parent)!r} is a file."
            )


def _optimizer(name: str, lr: float) -> Optimizer:
    """A fresh optimizer ``name`` with learning rate ``lr`` (other settings: defaults)."""
    optimizer = get_optimizer(name)
    optimizer.lr = lr
    return optimizer


def make_plots(
    histories: dict[str, History], plots_dir: Path, dataset: str, task: Task
) -> dict[str, Path]:
    """Save the figures of a comparison: one per run, all methods, methods vs PyTorch.

    Returns ``{figure name: path}`` with the names of the runs, ``"all_methods"`` and, when
    the PyTorch run exists, ``"methods_vs_pytorch"`` (all curves, PyTorch dashed on top) and
    ``"difference_from_pytorch"`` (``|loss - loss_pytorch|`` per epoch, log scale); files
    are ``<dataset>_<name>.png``.
    """
    from .viz.plots import plot_differences, plot_histories

    metrics = ["loss", task.metric]
    label = dataset.replace("_", " ").capitalize()
    paths: dict[str, Path] = {}

    def save(name: str, runs: dict[str, History], title: str, reference: str | None = None):
        path = plots_dir / f"{dataset}_{name}.png"
        plot_histories(runs, path=path, title=title, metrics=metrics, reference=reference)
        paths[name] = path

    methods = {name: h for name, h in histories.items() if name != TWIN_NAME}
    for name, history in histories.items():
        kind = "PyTorch twin (autograd)" if name == TWIN_NAME else f"finite differences: {name}"
        save(name, {name: history}, f"{label}: {kind}")
    save("all_methods", methods, f"{label}: the finite-difference methods")
    if TWIN_NAME in histories:
        save(
            "methods_vs_pytorch",
            histories,
            f"{label}: finite-difference methods vs the PyTorch twin (dashed)",
            reference=TWIN_NAME,
        )
        path = plots_dir / f"{dataset}_difference_from_pytorch.png"
        title = f"{label}: distance of each method's loss from the PyTorch twin's"
        plot_differences(histories, TWIN_NAME, path=path, title=title)
        paths["difference_from_pytorch"] = path
    return paths


# ---------------------------------------------------------------------- command line
def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _hidden_widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in _comma_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected widths like 16 or 32,16; got {text!r}"
        ) from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected positive widths like 16 or 32,16; got {text!r}")
    return widths


def _optional_path(text: str) -> str | None:
    return None if text.lower() in ("", "none") else text


def _fail(message: object, status: int = EXIT_BAD_INPUT) -> NoReturn:
    """Write ``dltk-train: error: <message>`` as one line on stderr and exit with ``status``."""
    text = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    print(ERROR_PREFIX + text, file=sys.stderr)
    raise SystemExit(status)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    """The command-line options of ``python -m deep_learning_toolkit.train``."""
    d = DEFAULTS
    parser = _Parser(
        prog="python -m deep_learning_toolkit.train",
        description=(
            "Train one network with each finite-difference method and as its PyTorch twin "
            "(same initial weights, optimizer and mini-batches); log to TensorBoard, plot "
            "the learning curves and print a results table."
        ),
    )
    add = parser.add_argument
    add("--dataset", choices=DATASETS, default=d.dataset, help=f"default: {d.dataset}")
    add(
        "--methods",
        nargs="+",
        default=list(METHODS),
        help="finite-difference methods, space- or comma-separated; 'central' is accepted, "
        "and so are the zeroth-order estimators 'spsa' and 'gaussian' (default: all six)",
    )
    add("--epochs", type=int, default=d.epochs, help=f"default: {d.epochs}")
    add("--batch-size", type=int, default=d.batch_size, help=f"default: {d.batch_size}")
    lr_defaults = ", ".join(f"{name} {lr:g}" for name, lr in DEFAULT_LR.items())
    add("--lr", type=float, default=None, help=f"learning rate (default: {lr_defaults})")
    add(
        "--optimizer",
        choices=sorted(OPTIMIZERS),
        default=d.optimizer,
        help=f"other settings keep their defaults (default: {d.optimizer}, no momentum)",
    )
    add(
        "--hidden",
        type=_hidden_widths,
        default=d.hidden,
        help="hidden layer widths, e.g. 16 or 32,16 (default: "
        + ",".join(map(str, d.hidden))
        + ")",
    )
    add(
        "--activation",
        choices=HIDDEN_ACTIVATIONS,
        default=d.activation,
        help=f"of the hidden layers (default: {d.activation})",
    )
    add(
        "--seed",
        type=int,
        default=d.seed,
        help=f"seeds the split, the initial weights and the batches (default: {d.seed})",
    )
    add(
        "--logdir",
        type=_optional_path,
        default=d.logdir,
        help=f"TensorBoard root: runs go to LOGDIR/<dataset>/<run>; 'none' to skip "
        f"(default: {d.logdir})",
    )
    add(
        "--plots-dir",
        type=_optional_path,
        default=d.plots_dir,
        help=f"where to save the PNG figures; 'none' to skip (default: {d.plots_dir})",
    )
    add("--no-torch", action="store_true", help="skip the PyTorch baseline")
    add(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="train the methods one after another here, or as parallel Ray tasks (default: local)",
    )
    add(
        "--ray-address",
        default=None,
        help="Ray cluster for --backend ray: auto, HOST:6379 or ray://HOST:10001 "
        "(default: start a local Ray with this machine's CPUs, shut down at the end)",
    )
    add("--quiet", action="store_true", help="no progress bars")
    return parser


def describe_setup(comparison: Comparison) -> str:
    """One line saying what was trained."""
    s, split = comparison.settings, comparison.split
    widths = "-".join(map(str, (split.X_train.shape[1], *s["hidden"], split.n_outputs)))
    return (
        f"{s['dataset']}: {widths} {s['activation']} network, {s['optimizer']} (lr={s['lr']:g}), "
        f"{s['epochs']} epochs, batch size {s['batch_size']}, seed {s['seed']}; "
        f"{len(split.y_train)} training / {len(split.y_test)} test samples."
    )


def _existing_runs(logdir: str | None, dataset: str, names: list[str]) -> list[Path]:
    if logdir is None:
        return []
    runs = [Path(logdir) / dataset / name for name in names]
    return [run for run in runs if run.is_dir() and any(run.rglob("events.out.tfevents.*"))]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison from the command line; returns the exit status (0).

    Bad input (an invalid option, or a ``ValueError``, ``TypeError``, ``OSError`` such as
    ``FileNotFoundError``, or ``ImportError`` from the library) is written as one line
    ``dltk-train: error: ...`` on stderr and exits with status 2 (``SystemExit``, as argparse
    does), never with a traceback; a diverged run (``FloatingPointError``) exits with status
    1 and a Ctrl-C, after the current batch and the log flush, with status 130. Any other
    exception is a bug and keeps its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ray_address is not None and args.backend != "ray":
        parser.error("--ray-address needs --backend ray")
    methods = [name for item in args.methods for name in _comma_list(item)]
    old = _existing_runs(args.logdir, args.dataset, [*methods, TWIN_NAME])
    if old:
        print(
            f"note: {len(old)} run director{'ies' if len(old) > 1 else 'y'} under "
            f"{Path(args.logdir) / args.dataset} already hold event files; TensorBoard will "
            "show the old points too (use a new --logdir for a clean view).",
            file=sys.stderr,
        )
    try:
        session = (
            ray_session(args.ray_address) if args.backend == "ray" else contextlib.nullcontext()
        )
        with session:
            comparison = run_comparison(
                dataset=args.dataset,
                methods=methods,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                optimizer=args.optimizer,
                hidden=args.hidden,
                activation=args.activation,
                seed=args.seed,
                logdir=args.logdir,
                plots_dir=args.plots_dir,
                torch_baseline=not args.no_torch,
                verbose=0 if args.quiet else 1,
                backend=args.backend,
            )
    except (ImportError, OSError, TypeError, ValueError) as error:
        _fail(error)
    except FloatingPointError as error:
        _fail(f"training diverged: {error}", EXIT_FAILED)
    except KeyboardInterrupt as error:
        _fail(f"interrupted: {error}" if str(error) else "interrupted", EXIT_INTERRUPTED)
    print(describe_setup(comparison))
    print()
    print(comparison.table())
    print()
    if comparison.torch_skipped is None:
        print(
            "* pytorch: forward + backward passes per epoch (one per batch), not loss evaluations."
        )
    else:
        print(f"PyTorch baseline skipped: {comparison.torch_skipped}")
    if comparison.logdir is not None:
        where = comparison.logdir / comparison.split.name
        print(
            f"TensorBoard logs: {where}/<run>/{{train,validation}} "
            f"(view with: tensorboard --logdir {comparison.logdir})"
        )
    if comparison.plots:
        print(f"Plots ({len(comparison.plots)} PNG files):")
        for path in comparison.plots.values():
            print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
