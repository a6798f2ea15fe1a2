"""Callbacks: code that runs at fixed points of ``fit``.

The protocol is Keras's: ``on_train_begin``, ``on_epoch_begin``, ``on_batch_end``,
``on_epoch_end``, ``on_train_end``, each receiving a ``logs`` dict. A callback may set
``model.stop_training = True`` to end training after the current epoch.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, describe
from ..optim.base import check_bool
from .metrics import metric_name

#: What callbacks are given: the model being trained (a Sequential, or the PyTorch twin).
Sequential = Any

Logs = dict[str, Any]


def monitor_maximizes(monitor: str, mode: str) -> bool:
    """Whether larger values of ``monitor`` are better.

    ``mode`` is ``"min"``, ``"max"`` or ``"auto"``; ``auto`` takes larger as better for
    accuracy- and R^2-like keys and smaller for everything else (losses, errors).
    """
    if mode != "auto":
        return mode == "max"
    return any(word in monitor for word in ("acc", "r2"))


class Callback:
    """Base class; every hook does nothing by default."""

    model: Sequential | None = None

    def set_model(self, model: Sequential) -> None:
        """Attach the model being trained."""
        self.model = model

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Called once after the last epoch (also when training is interrupted)."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the start of each epoch."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Called with the epoch's logs (loss, metrics, validation, bookkeeping)."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each optimizer step with the batch's loss and size."""


class CallbackList(Callback):
    """Several callbacks called in order."""

    def __init__(self, callbacks: Iterable[Callback] | None, model: Sequential) -> None:
        self.callbacks = self.checked(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)
        self.model = model

    @staticmethod
    def checked(callbacks: object) -> list[Callback]:
        """``callbacks`` (``None`` or an iterable of :class:`Callback`) as a list; else a
        ``TypeError`` saying what was expected (``callbacks=EarlyStopping()`` is a common
        slip for ``callbacks=[EarlyStopping()]``)."""
        if callbacks is None:
            return []
        if isinstance(callbacks, (Callback, str, bytes)) or not isinstance(callbacks, Iterable):
            raise TypeError(
                f"callbacks must be a list of callbacks (e.g. [{describe(callbacks)}] for one); "
                f"got {describe(callbacks)}."
            )
        checked = list(callbacks)
        for callback in checked:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be Callback instances; got {describe(callback)}.")
        return checked

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._check_monitors()
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def _check_monitors(self) -> None:
        """Refuse, before the first batch, a monitored key that ``fit`` never logs.

        Skipped when a callback of the user's own is in the list (it may add keys to the
        epoch logs); a ``val_`` key without validation data is found at the end of the
        first epoch (whether ``fit`` validates is not known here).
        """
        own = __name__.split(".")[0]
        if any(type(c).__module__.split(".")[0] != own for c in self.callbacks):
            return
        keys = fit_log_keys(self.model)
        if keys is None:
            return
        for callback in self.callbacks:
            monitor = getattr(callback, "monitor", None)
            if isinstance(callback, (EarlyStopping, ReduceLROnPlateau)) and monitor not in keys:
                raise ValueError(
                    f"{type(callback).__name__} monitor {monitor!r} is never logged by fit; it "
                    f"logs {sorted(keys)} (the 'val_' keys with validation data)."
                )

    def on_train_end(self, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_batch_end(batch, logs)


def training_finished(model: Any, last_epoch: int | None) -> bool:
    """Whether a run ended normally: its last epoch ran, or a callback stopped it.

    ``False`` for a run cut short by an exception or a Ctrl-C (``on_train_end`` runs then
    too). ``last_epoch`` is the index of the last epoch that ended, or ``None``.
    """
    if getattr(model, "stop_training", False):
        return True
    history = getattr(model, "history", None)
    epochs = (getattr(history, "params", None) or {}).get("epochs")
    return last_epoch is not None and (epochs is None or last_epoch + 1 >= epochs)


#: Keys of the epoch logs that ``fit`` itself writes, besides the metrics.
FIT_LOG_KEYS = ("loss", "evaluations", "grad_norm", "lr", "fd_step", "seconds", "skipped_batches")


def fit_log_keys(model: Sequential) -> set[str] | None:
    """Every key ``fit`` may log for ``model`` (the loss and metrics also with ``val_``), or
    ``None`` when ``model`` does not say which metrics it has."""
    metrics = getattr(model, "metrics", None)
    if not isinstance(metrics, (list, tuple)):
        return None
    scores = {"loss", *(metric_name(metric) for metric in metrics)}
    return {*FIT_LOG_KEYS, *scores, *("val_" + name for name in scores)}


def check_monitor(owner: str, monitor: str, logs: Logs) -> float:
    """``logs[monitor]`` as a float; a missing key raises, listing the logged ones."""
    if monitor not in logs:
        raise ValueError(
            f"{owner} monitor {monitor!r} is not logged; available keys are {sorted(logs)}. "
            "Pass validation_data to fit for 'val_' keys, or monitor one of these."
        )
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving (as Keras 3).

    Parameters
    ----------
    monitor : str, default "val_loss"
        Key of the epoch logs to watch. A key that ``fit`` never logs raises a
        ``ValueError`` listing the logged keys before the first batch (at the end of the
        first epoch for a ``val_`` key without validation data, or a key that a callback
        of your own may add).
    patience : int, default 0
        Epochs without improvement after which training stops.
    min_delta : float, default 0.0
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``auto`` takes ``max`` for accuracy-like keys.
    restore_best_weights : bool, default False
        At the end of training, put back the parameters of the best epoch, whether training
        stopped early or ran all its epochs (as Keras 3). A run ended by an error or a
        Ctrl-C keeps its last parameters.
    baseline : float, optional
        Value the monitored quantity must improve on: while no epoch beats it, the
        patience counter is not reset, so training stops after ``patience`` epochs.
    start_from_epoch : int, default 0
        Epochs to run before monitoring starts (a warm-up in which no improvement is
        expected); they neither count towards patience nor can be the best epoch.

    Attributes
    ----------
    best : float or None
        Best monitored value so far.
    best_epoch : int or None
        Its epoch.
    stopped_epoch : int or None
        The epoch at which training was stopped, if it was.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        baseline: float | None = None,
        start_from_epoch: int = 0,
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be the name of a logged value; got {describe(monitor)}.")
        self.monitor = monitor
        self.patience = check_int("patience", patience, minimum=0)
        self.min_delta = abs(check_float("min_delta", min_delta))
        self.mode = check_choice("mode", mode, ("auto", "min", "max"))
        self.restore_best_weights = check_bool("restore_best_weights", restore_best_weights)
        self.baseline = None if baseline is None else check_float("baseline", baseline)
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch, minimum=0)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_params: np.ndarray | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._last_epoch: int | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.best, self.best_epoch, self.best_params = None, None, None
        self.wait, self.stopped_epoch, self._last_epoch = 0, None, None

    def _improves(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        sign = -1.0 if monitor_maximizes(self.monitor, self.mode) else 1.0
        return sign * (value - reference) < -self.min_delta

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = check_monitor("EarlyStopping", self.monitor, logs or {})
        self._last_epoch = epoch
        if epoch < self.start_from_epoch or self.model is None:
            return
        self.wait += 1
        if self._improves(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_params = self.model.get_params()
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if (
            self.restore_best_weights
            and self.best_params is not None
            and self.model is not None
            and training_finished(self.model, self._last_epoch)
        ):
            self.model.set_params(self.best_params)


class ReduceLROnPlateau(Callback):
    """Reduce the learning rate when a monitored quantity has stopped improving (Keras).

    After ``patience`` epochs without an improvement larger than ``min_delta``, the rate
    becomes ``max(lr * factor, min_lr)`` (through the optimizer's
    ``set_learning_rate``, so it is saved with the optimizer); then ``cooldown`` epochs
    pass before the count starts again. The rate is logged as ``lr`` by ``fit``.

    Parameters
    ----------
    monitor : str, default "val_loss"
        Key of the epoch logs to watch (a key that is never logged raises before the first
        batch, listing the logged keys; see :class:`EarlyStopping`).
    factor : float, default 0.1
        Multiplier of the rate, in (0, 1).
    patience : int, default 10
        Epochs without improvement before the rate is reduced.
    min_delta : float, default 1e-4
        Smallest change that counts as an improvement.
    cooldown : int, default 0
        Epochs after a reduction during which no reduction happens.
    min_lr : float, default 0.0
        Lower bound of the rate.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``auto`` takes ``max`` for accuracy-like keys.

    Notes
    -----
    An optimizer that follows a schedule has no rate to reduce: training then stops at
    once with a ``TypeError`` (Keras refuses it too). The counters (``wait``,
    ``cooldown_counter``, ``best``) start afresh with each ``fit`` call.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        mode: str = "auto",
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be the name of a logged value; got {describe(monitor)}.")
        self.monitor = monitor
        self.factor = check_float("factor", factor, positive=True, below=1.0)
        self.patience = check_int("patience", patience, minimum=0)
        self.min_delta = abs(check_float("min_delta", min_delta))
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_lr = check_float("min_lr", min_lr, nonnegative=True)
        self.mode = check_choice("mode", mode, ("auto", "min", "max"))
        self.best: float | None = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        optimizer = _optimizer_of(self.model, "ReduceLROnPlateau")
        if getattr(optimizer, "schedule", None) is not None:
            raise TypeError(
                f"ReduceLROnPlateau cannot change the learning rate of an optimizer that "
                f"follows the schedule {optimizer.schedule!r}; use a constant lr."
            )
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs if logs is not None else {}
        value = check_monitor("ReduceLROnPlateau", self.monitor, logs)
        optimizer = _optimizer_of(self.model, "ReduceLROnPlateau")
        logs.setdefault("lr", float(optimizer.lr))
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        sign = -1.0 if monitor_maximizes(self.monitor, self.mode) else 1.0
        if self.best is None or sign * (value - self.best) < -self.min_delta:
            self.best, self.wait = value, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.lr)
                if old > self.min_lr:
                    optimizer.set_learning_rate(max(old * self.factor, self.min_lr))
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule(epoch, lr)`` (Keras).

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr) -> new_lr`` with the 0-based epoch index and the current
        rate (a one-argument ``schedule(epoch)`` works too). The new rate must be a finite
        number > 0; it is set through the optimizer's ``set_learning_rate`` (so it is saved
        with the optimizer) and logged as ``lr`` by ``fit``.

    Examples
    --------
    >>> import math
    >>> from deep_learning_toolkit.training.callbacks import LearningRateScheduler
    >>> def decay_after_ten(epoch, lr):
    ...     return lr if epoch < 10 else lr * math.exp(-0.1)
    >>> scheduler = LearningRateScheduler(decay_after_ten)
    """

    def __init__(self, schedule: Callable[..., float]) -> None:
        if not callable(schedule):
            raise TypeError(
                f"schedule must be a callable schedule(epoch, lr) -> lr; got {describe(schedule)}."
            )
        self.schedule = schedule
        self._takes_lr = _positional_arity(schedule) != 1

    def on_train_begin(self, logs: Logs | None = None) -> None:
        optimizer = _optimizer_of(self.model, "LearningRateScheduler")
        if getattr(optimizer, "schedule", None) is not None:
            raise TypeError(
                f"LearningRateScheduler cannot set the learning rate of an optimizer that "
                f"follows the schedule {optimizer.schedule!r}; use a constant lr."
            )

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = _optimizer_of(self.model, "LearningRateScheduler")
        current = float(optimizer.lr)
        value = self.schedule(epoch, current) if self._takes_lr else self.schedule(epoch)
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not np.isfinite(value)
            or value <= 0
        ):
            raise ValueError(
                f"LearningRateScheduler: schedule returned {describe(value)} for epoch {epoch} "
                f"(current lr {current}); a learning rate must be a finite number > 0."
            )
        optimizer.set_learning_rate(float(value))

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs.setdefault("lr", float(_optimizer_of(self.model, "LearningRateScheduler").lr))


def _optimizer_of(model: Any, owner: str) -> Any:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "set_learning_rate"):
        raise TypeError(
            f"{owner} needs a compiled model whose optimizer has set_learning_rate(); "
            f"got optimizer {describe(optimizer)}."
        )
    return optimizer


def _positional_arity(function: Callable[..., Any]) -> int | None:
    """How many positional arguments ``function`` takes (``None`` if unknown or variadic)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return None
    return sum(1 for p in parameters if p.kind in kinds)
