"""``sweep``: the independent trainings of a comparison, one after another or on Ray.

A sweep is a list of trial configurations (or a grid of settings, expanded to every
combination). Each trial is trained by a *trial function*, by default :func:`train_trial`,
the experiment of ``python -m deep_learning_toolkit.train`` for one method: the same data
split, network, optimizer, mini-batches and TensorBoard run as the sequential comparison. With
``backend="ray"`` the trials run as parallel Ray tasks (one CPU each); since every trial is
deterministic given its configuration, the Histories and final parameters are exactly those
of the sequential run.

A trial that raises is reported in its :class:`TrialResult` (configuration, error and
traceback) and the others go on; a task whose process dies is re-run by Ray (its default
retries) and reported the same way if it keeps failing.
"""

from __future__ import annotations

import itertools
import math
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_choice, describe
from ..distributed import check_backend, ray_session
from ..optim import OPTIMIZERS
from ..training.history import History
from ..training.tensorboard import TensorBoardLogger
from . import setup

#: Settings a configuration of :func:`train_trial` may hold (``name`` names the trial).
TRIAL_KEYS = (
    "dataset",
    "method",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "hidden",
    "model",
    "activation",
    "seed",
    "step",
    "verbose",
)

#: A trial function: ``(config, log_dir or None) -> (History, final flat parameters)``.
Trial = Callable[[dict[str, Any], "Path | None"], tuple[History, np.ndarray]]


@dataclass
class TrialResult:
    """The outcome of one trial.

    Attributes
    ----------
    name : str
        The trial's name (its run directory under ``logdir``).
    config : dict
        The full configuration it was trained with (``base`` merged with its own settings).
    history : History or None
        Per-epoch logs; ``None`` if the trial failed.
    params : ndarray or None
        Final flat parameters; ``None`` if the trial failed.
    error : str or None
        ``"ExceptionType: message"`` if the trial failed, else ``None``.
    traceback : str or None
        The failure's traceback (from the worker, for Ray tasks).
    exception : Exception or None
        The exception itself, to re-raise (``raise result.exception``).
    seconds : float
        Wall time of the trial where it ran (``nan`` if its process died).
    """

    name: str
    config: dict[str, Any]
    history: History | None = None
    params: np.ndarray | None = None
    error: str | None = None
    traceback: str | None = field(default=None, repr=False)
    exception: Exception | None = field(default=None, repr=False)
    seconds: float = math.nan

    @property
    def ok(self) -> bool:
        """Whether the trial finished without error."""
        return self.error is None


def train_trial(config: Mapping[str, Any], log_dir: Path | None = None):
    """Train one network as ``python -m deep_learning_toolkit.train`` trains one method.

    Parameters
    ----------
    config : dict
        Keys from :data:`TRIAL_KEYS`; missing ones take the command's defaults
        (``deep_learning_toolkit.experiments.DEFAULTS``; ``method`` defaults to
        ``"three_point_midpoint"``, ``lr`` to the optimizer's default, ``step`` to the
        method's own).
    log_dir : Path, optional
        TensorBoard run directory (needs tensorboardX); with the same hyperparameters as the
        comparison's runs.

    Returns
    -------
    (History, ndarray)
        The history of ``fit`` (validated on the test split) and the final parameters.
    """
    defaults = setup.DEFAULTS
    settings = {
        "dataset": defaults.dataset,
        "method": "three_point_midpoint",
        "epochs": defaults.epochs,
        "batch_size": defaults.batch_size,
        "lr": None,
        "optimizer": defaults.optimizer,
        "hidden": defaults.hidden,
        "model": defaults.model,
        "activation": defaults.activation,
        "seed": defaults.seed,
        "step": None,
        "verbose": 0,
        **config,
    }
    optimizer = check_choice("optimizer", settings["optimizer"], OPTIMIZERS)
    lr = setup.DEFAULT_LR[optimizer] if settings["lr"] is None else settings["lr"]
    hidden = settings["hidden"]
    hidden = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
    activation = check_choice("activation", settings["activation"], setup.HIDDEN_ACTIVATIONS)
    model_kind = check_choice("model", settings["model"], setup.MODELS)
    split = setup.prepare_data(settings["dataset"], settings["seed"], model_kind == "cnn")
    task = setup.TASKS[split.task]
    model = setup.build_network(model_kind, split, hidden, activation, settings["seed"])
    model.compile(
        loss=task.loss,
        optimizer=setup.make_optimizer(optimizer, lr),
        method=settings["method"],
        step=settings["step"],
        metrics=[task.metric],
    )
    callbacks = []
    if log_dir is not None:
        hparams = {
            "dataset": split.name,
            "hidden": ",".join(map(str, hidden)),
            "model": model_kind,
            "activation": activation,
        }
        callbacks.append(TensorBoardLogger(log_dir, hparams=hparams))
    history = model.fit(
        split.X_train,
        split.y_train,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        validation_data=(split.X_test, split.y_test),
        verbose=settings["verbose"],
        callbacks=callbacks,
    )
    return history, model.get_params()


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of a grid ``{setting: [values]}``, the last setting varying fastest.

    >>> expand_grid({"method": ["forward", "backward"], "seed": [0, 1]})[:2]
    [{'method': 'forward', 'seed': 0}, {'method': 'forward', 'seed': 1}]
    """
    if not isinstance(grid, Mapping) or not grid:
        raise TypeError(f"grid must be a non-empty dict of value lists; got {describe(grid)}.")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise TypeError(
                f"grid[{key!r}] must be a non-empty list of values; got {describe(values)}."
            )
    keys = list(grid)
    return [dict(zip(keys, combination)) for combination in itertools.product(*grid.values())]


def _text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "-".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def trial_name(settings: Mapping[str, Any]) -> str:
    """A run name from a trial's own settings: ``name`` if given, else e.g.
    ``"forward,seed=1"`` (the method bare, other settings as ``key=value``)."""
    if "name" in settings:
        return str(settings["name"])
    parts = [
        _text(value) if key == "method" else f"{key}={_text(value)}"
        for key, value in settings.items()
    ]
    return ",".join(parts) or "trial"


def run_trial(trial: Trial, name: str, config: dict[str, Any], log_dir: Path | None) -> TrialResult:
    """Run one trial, catching its error into the result (also the body of a Ray task)."""
    started = time.perf_counter()
    try:
        history, params = trial(dict(config), log_dir)
    except Exception as error:
        return TrialResult(
            name,
            config,
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
            exception=error,
            seconds=time.perf_counter() - started,
        )
    return TrialResult(
        name, config, history, np.asarray(params), seconds=time.perf_counter() - started
    )


def _configs(trials: object) -> list[dict[str, Any]]:
    if isinstance(trials, Mapping):
        return expand_grid(trials)
    if isinstance(trials, (str, bytes)) or not isinstance(trials, Sequence) or not trials:
        raise TypeError(
            "trials must be a non-empty list of configuration dicts or a grid dict "
            f"{{setting: [values]}}; got {describe(trials)}."
        )
    for index, config in enumerate(trials):
        if not isinstance(config, Mapping):
            raise TypeError(f"trials[{index}] must be a dict of settings; got {describe(config)}.")
    return [dict(config) for config in trials]


def _run_on_ray(
    jobs: list[tuple[str, dict[str, Any], Path | None]], trial: Trial, address: str | None
) -> list[TrialResult]:
    with ray_session(address) as ray:
        task = ray.remote(num_cpus=1)(run_trial)
        refs = [task.remote(trial, name, config, log_dir) for name, config, log_dir in jobs]
        results = []
        for (name, config, _), ref in zip(jobs, refs):
            try:
                results.append(ray.get(ref))
            except Exception as error:  # the task's process died, even after Ray's retries
                results.append(
                    TrialResult(
                        name,
                        config,
                        error=f"{type(error).__name__}: {error}",
                        traceback=traceback.format_exc(),
                        exception=error,
                    )
                )
    return results


def sweep(
    trials: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
    *,
    base: Mapping[str, Any] | None = None,
    trial: Trial = train_trial,
    backend: str = "local",
    address: str | None = None,
    logdir: str | os.PathLike | None = None,
    plots_dir: str | os.PathLike | None = None,
) -> list[TrialResult]:
    """Run independent trainings one after another (``"local"``) or as Ray tasks (``"ray"``).

    Parameters
    ----------
    trials : list of dict, or dict of lists
        One configuration per trial, e.g. ``[{"method": "forward"}, {"method": "backward"}]``,
        or a grid ``{"method": [...], "seed": [0, 1]}`` expanded by :func:`expand_grid`.
    base : dict, optional
        Settings shared by every trial (a trial's own settings win); they do not enter the
        trial names.
    trial : callable
        ``trial(config, log_dir) -> (History, params)``; default :func:`train_trial` (whose
        keys, :data:`TRIAL_KEYS`, are checked before anything runs). For Ray it must be
        picklable (a module-level function, or a closure cloudpickle can ship).
    backend : {"local", "ray"}
        ``"ray"`` uses the running Ray, or starts one (local with all CPUs, or at
        ``address``) for the sweep and shuts it down afterwards.
    address : str, optional
        A Ray cluster to connect to (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``).
    logdir : path, optional
        TensorBoard root: trial ``name`` logs to ``logdir/name`` (on a cluster, a directory
        every node can write to).
    plots_dir : path, optional
        Saves the learning curves of the finished trials to ``plots_dir/sweep.png``.

    Returns
    -------
    list of TrialResult
        In the order of the configurations (failed trials included, with their error).

    Examples
    --------
    >>> import deep_learning_toolkit as dlt
    >>> results = dlt.sweep({"method": list(dlt.numdiff.METHODS)},        # doctest: +SKIP
    ...                     base={"dataset": "iris", "epochs": 50}, backend="ray")
    >>> {r.name: r.history.last("val_accuracy") for r in results if r.ok}  # doctest: +SKIP
    """
    backend = check_backend(backend)
    if address is not None and backend != "ray":
        raise ValueError(f"address is for backend='ray'; got address={address!r} with 'local'.")
    if base is not None and not isinstance(base, Mapping):
        raise TypeError(f"base must be a dict of settings; got {describe(base)}.")
    if not callable(trial):
        raise TypeError(f"trial must be a function (config, log_dir); got {describe(trial)}.")
    own = _configs(trials)
    merged = [{**(base or {}), **config} for config in own]
    if trial is train_trial:
        allowed = {*TRIAL_KEYS, "name"}
        for index, config in enumerate(merged):
            unknown = sorted(set(config) - allowed)
            if unknown:
                raise ValueError(
                    f"trial {index} has unknown setting(s) {unknown}; valid keys are "
                    f"{sorted(allowed)}."
                )
    names = [trial_name(config) for config in own]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"trials must have distinct names (their run directories); {repeated} repeat. "
            "Give each a 'name'."
        )
    if plots_dir is not None:
        from ..viz.plots import require_plotting

        require_plotting()  # fail before training, not after
    root = None if logdir is None else Path(logdir)
    jobs = [
        (
            name,
            {k: v for k, v in config.items() if k != "name"},
            None if root is None else root / name,
        )
        for name, config in zip(names, merged)
    ]
    if backend == "ray":
        results = _run_on_ray(jobs, trial, address)
    else:
        results = [run_trial(trial, name, config, log_dir) for name, config, log_dir in jobs]
    finished = {result.name: result.history for result in results if result.ok}
    if plots_dir is not None and finished:
        from ..viz.plots import plot_histories

        plot_histories(
            finished,
            path=Path(plots_dir) / "sweep.png",
            title=f"Sweep: {len(finished)} of {len(results)} trials finished",
        )
    return results
