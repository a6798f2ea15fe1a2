"""The comparison of ``python -m deep_learning_toolkit.train``: every method against PyTorch.

One network is trained on one dataset once per finite-difference method and once as its
PyTorch twin (same initial weights, optimizer, hyperparameters and mini-batches; exact
autograd gradients). The runs are logged to TensorBoard, plotted with seaborn, and summed up
in a table. :func:`run_comparison` returns the histories; the command line only prints.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_choice, check_int, describe
from ..baselines.torch_twin import TWIN_NAME, require_torch, train_torch_twin
from ..distributed import check_backend
from ..model import Sequential
from ..numdiff import METHODS
from ..numdiff.stencils import get_stencil
from ..numdiff.zeroth_order import get_zeroth_order, is_zeroth_order
from ..optim import OPTIMIZERS
from ..training.history import History
from ..training.tensorboard import TensorBoardLogger
from .setup import (
    DEFAULT_LR,
    DEFAULTS,
    HIDDEN_ACTIVATIONS,
    MODELS,
    TASKS,
    Split,
    Task,
    build_network,
    make_optimizer,
    prepare_data,
)
from .sweep import sweep


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
    model: str = DEFAULTS.model,
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
    model : {"mlp", "cnn"}
        The network: a multilayer perceptron of ``hidden`` widths, or a small CNN on the
        images of ``dataset`` (digits) with ``hidden`` widths after the convolution.
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
    lr = make_optimizer(optimizer, DEFAULT_LR[optimizer] if lr is None else lr).lr  # validates lr
    hidden = _check_hidden(hidden)
    activation = check_choice("activation", activation, HIDDEN_ACTIVATIONS)
    model = check_choice("model", model, MODELS)
    seed = check_int("seed", seed, minimum=0)
    backend = check_backend(backend)
    check_output_directory("logdir", logdir)
    check_output_directory("plots_dir", plots_dir)
    if plots_dir is not None:
        from ..viz.plots import require_plotting

        require_plotting()  # fail before training, not after
    split = prepare_data(dataset, seed, images=model == "cnn")
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
        "model": model,
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
        return build_network(model, split, hidden, activation, seed)

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
        model.compile(
            loss=task.loss, optimizer=make_optimizer(optimizer, lr), metrics=[task.metric]
        )
        twin = train_torch_twin(
            model, split.X_train, split.y_train, callbacks=callbacks(TWIN_NAME), **fit_arguments
        )
        comparison.histories[TWIN_NAME] = twin.history
        comparison.params[TWIN_NAME] = twin.params
    if plots_dir is not None:
        comparison.plots = make_plots(comparison.histories, Path(plots_dir), split.name, task)
    return comparison


def check_output_directory(name: str, path: str | os.PathLike | None) -> None:
    """Refuse, before any training, an output directory that cannot be created or written.

    The directory is created if it does not exist (with its parents), and a probe file is
    created in it and deleted. ``name`` is how the caller calls the setting (``plots_dir``,
    ``--plots-dir``); errors name it and ``path`` on one line.
    """
    if path is None:
        return
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"{name} must be a directory path or None; got {describe(path)}.")
    directory = Path(path)
    for parent in (directory, *directory.parents):
        if parent.exists() and not parent.is_dir():
            raise ValueError(
                f"{name} {str(path)!r} cannot be a directory: {str(parent)!r} is a file."
            )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        where = f" ({error.filename})" if error.filename not in (None, str(path)) else ""
        raise type(error)(f"{name} {str(path)!r} cannot be written: {reason}{where}.") from None


def make_plots(
    histories: dict[str, History], plots_dir: Path, dataset: str, task: Task
) -> dict[str, Path]:
    """Save the figures of a comparison: one per run, all methods, methods vs PyTorch.

    Returns ``{figure name: path}`` with the names of the runs, ``"all_methods"`` and, when
    the PyTorch run exists, ``"methods_vs_pytorch"`` (all curves, PyTorch dashed on top) and
    ``"difference_from_pytorch"`` (``|loss - loss_pytorch|`` per epoch, log scale); files
    are ``<dataset>_<name>.png``.
    """
    from ..viz.plots import plot_differences, plot_histories

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
