"""Callbacks: code that runs at fixed points of ``fit``.

The protocol is Keras's: ``on_train_begin``, ``on_epoch_begin``, ``on_batch_end``,
``on_epoch_end``, ``on_train_end``, each receiving a ``logs`` dict. A callback may set
``model.stop_training = True`` to end training after the current epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, describe

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
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be Callback instances; got {describe(callback)}.")
            callback.set_model(model)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_train_begin(logs)

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


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    Parameters
    ----------
    monitor : str, default "val_loss"
        Key of the epoch logs to watch.
    patience : int, default 0
        Epochs without improvement after which training stops.
    min_delta : float, default 0.0
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``auto`` takes ``max`` for accuracy-like keys.
    restore_best_weights : bool, default False
        Put back the parameters of the best epoch when training stops.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        self.monitor = monitor
        self.patience = check_int("patience", patience, minimum=0)
        self.min_delta = abs(check_float("min_delta", min_delta))
        self.mode = check_choice("mode", mode, ("auto", "min", "max"))
        self.restore_best_weights = bool(restore_best_weights)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_params: np.ndarray | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.best, self.best_epoch, self.best_params = None, None, None
        self.wait, self.stopped_epoch = 0, None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping monitor {self.monitor!r} is not logged; available keys are "
                f"{sorted(logs)}."
            )
        value = float(logs[self.monitor])
        sign = -1.0 if monitor_maximizes(self.monitor, self.mode) else 1.0
        if self.best is None or sign * (value - self.best) < -self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights and self.model is not None:
                self.best_params = self.model.get_params()
            return
        self.wait += 1
        if self.wait >= self.patience and self.model is not None:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if (
            self.restore_best_weights
            and self.best_params is not None
            and self.model is not None
            and self.stopped_epoch is not None
        ):
            self.model.set_params(self.best_params)


