"""``ModelCheckpoint``: save the model at the end of every epoch, or only when it improves.

Each file is written atomically by :func:`deep_learning_toolkit.io.save_model`, so a crash,
a ``SIGKILL`` or a Ctrl-C never costs the checkpoint already on disk, and
``load_model(path)`` followed by ``fit(..., initial_epoch=model.epochs_completed)``
continues the run bit for bit.
"""

from __future__ import annotations

import math
import os
import string
from pathlib import Path

from .._validation import check_choice, describe
from ..archive import read_header
from .callbacks import Callback, Logs, monitor_maximizes


class ModelCheckpoint(Callback):
    """Save the model at the end of each epoch (all of them, or the best so far).

    Parameters
    ----------
    filepath : str or path-like
        Where to save; may contain ``{epoch}`` (the number of epochs completed, so
        ``model-{epoch:03d}.dltk`` after the fifth epoch is ``model-005.dltk``, the
        ``initial_epoch`` to resume at) and names of the epoch logs, e.g. ``{val_loss:.4f}``.
        Missing directories are created when training begins.
    monitor : str, default "val_loss"
        Key of the epoch logs that decides what is best (used with ``save_best_only``).
    save_best_only : bool, default False
        Save only when ``monitor`` improves on the best value so far; with a fixed
        ``filepath`` the file then always holds the best model. The best value starts as the
        one recorded in an existing file at that path, so a resumed run does not replace a
        better model saved before the interruption.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` takes ``"max"`` for accuracy- and
        R^2-like keys.

    Attributes
    ----------
    best : float or None
        Best monitored value so far (with ``save_best_only``).
    last_saved : Path or None
        The file written most recently.

    Examples
    --------
    >>> from deep_learning_toolkit.training.checkpoint import ModelCheckpoint
    >>> checkpoint = ModelCheckpoint("checkpoints/model-{epoch:03d}.dltk")
    >>> checkpoint.path_for(4, {}).name  # after epoch index 4, the fifth
    'model-005.dltk'
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
    ) -> None:
        if not isinstance(filepath, (str, os.PathLike)) or not str(filepath):
            raise TypeError(f"filepath must be a non-empty path; got {describe(filepath)}.")
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be the name of a logged value; got {describe(monitor)}.")
        if not isinstance(save_best_only, bool):
            raise TypeError(
                f"save_best_only must be True or False; got {describe(save_best_only)}."
            )
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = check_choice("mode", mode, ("auto", "min", "max"))
        self._check_template()  # a malformed template fails now, not after an epoch
        self.best: float | None = None
        self.last_saved: Path | None = None

    def _check_template(self) -> None:
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(self.filepath)]
        except ValueError as error:
            raise ValueError(
                f"filepath {self.filepath!r} is not a valid template ({error}); use names in "
                "braces such as {epoch} or {val_loss:.4f}."
            ) from None
        for field in fields:
            if field is not None and not field.split(".")[0].split("[")[0].isidentifier():
                raise ValueError(
                    f"filepath {self.filepath!r} has the field {{{field}}}; use names such as "
                    "{epoch} or {val_loss:.4f}."
                )

    def path_for(self, epoch: int, logs: Logs) -> Path:
        """The file of epoch index ``epoch`` (0-based) whose epoch logs are ``logs``."""
        try:
            return Path(self.filepath.format(epoch=epoch + 1, **logs))
        except KeyError as error:
            raise ValueError(
                f"filepath {self.filepath!r} names {error}, which is not logged; available "
                f"keys are {sorted(['epoch', *logs])}."
            ) from None
        except (AttributeError, IndexError, TypeError, ValueError) as error:
            raise ValueError(f"filepath {self.filepath!r} cannot be filled in ({error}).") from None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.best = self._saved_best() if self.save_best_only else None
        directory = Path(self.filepath).parent
        if "{" not in str(directory):
            directory.mkdir(parents=True, exist_ok=True)

    def _saved_best(self) -> float | None:
        """The monitored value of the model already saved at a fixed ``filepath``, if any."""
        path = Path(self.filepath)
        if "{" in self.filepath or not path.is_file():
            return None
        try:
            history = read_header(path).get("history") or {}
            return float(history["history"][self.monitor][-1])
        except (ValueError, KeyError, IndexError, TypeError):
            return None  # unreadable or without that value: it will be replaced

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = dict(logs or {})
        if self.save_best_only:
            if self.monitor not in logs:
                raise ValueError(
                    f"ModelCheckpoint monitor {self.monitor!r} is not logged; available keys "
                    f"are {sorted(logs)}."
                )
            value = float(logs[self.monitor])
            if math.isnan(value):
                return
            maximize = monitor_maximizes(self.monitor, self.mode)
            if self.best is not None and not (value > self.best if maximize else value < self.best):
                return
            self.best = value
        if self.model is None:
            raise RuntimeError("ModelCheckpoint has no model; fit attaches it (set_model).")
        path = self.path_for(epoch, logs)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(path)
        self.last_saved = path

    def __repr__(self) -> str:
        return (
            f"ModelCheckpoint({self.filepath!r}, monitor={self.monitor!r}, "
            f"save_best_only={self.save_best_only}, mode={self.mode!r})"
        )
