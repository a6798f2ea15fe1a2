"""Progress output of ``fit``: a live bar on a terminal, plain lines anywhere else.

A live bar (tqdm) redraws itself many times per second; written to a file or a CI log, each
redraw becomes text, so a long run floods the log. :class:`ProgressBar` therefore draws a bar
only when its stream (``sys.stderr`` by default) is a terminal and tqdm is installed. Keras's
``verbose`` levels:

* ``verbose=0``: nothing;
* ``verbose=1``: the bar on a terminal; elsewhere about ten plain lines per run (every tenth
  of the epochs, and the last epoch run), so a log shows progress without flooding;
* ``verbose=2``: one plain line per epoch, always, as Keras's ``verbose=2``.

A line reads like Keras's::

    five_point_midpoint: epoch 10/100 - loss: 0.3127 - accuracy: 0.9167 - val_loss: 0.2974 - 4 ms

>>> from deep_learning_toolkit.training.progress import format_epoch
>>> format_epoch(9, 100, {"loss": 0.31274, "accuracy": 0.91667, "lr": 0.1, "seconds": 0.0042},
...              "central")
'central: epoch 10/100 - loss: 0.3127 - accuracy: 0.9167 - 4 ms'
"""

from __future__ import annotations

import math
import sys
from typing import IO, Any

from .._validation import check_int, describe
from .callbacks import Callback, Logs

__all__ = ["BOOKKEEPING", "LINES_PER_RUN", "ProgressBar", "format_epoch", "is_terminal"]

#: Keys of the epoch logs that are ``fit``'s bookkeeping, not results: left out of the line
#: (``seconds`` is shown last, as the epoch's time).
BOOKKEEPING = frozenset({"evaluations", "grad_norm", "lr", "fd_step", "seconds", "skipped_batches"})
#: Plain lines a ``verbose=1`` run writes when its stream is not a terminal (and the last).
LINES_PER_RUN = 10


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` is an open interactive terminal (``stream.isatty()``)."""
    isatty = getattr(stream, "isatty", None)
    if not callable(isatty):
        return False
    try:
        return bool(isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


def _number(value: Any) -> str:
    """Four decimals as Keras writes them; scientific below 1e-3 so small losses stay visible."""
    value = float(value)
    if value == 0 or not math.isfinite(value) or abs(value) >= 1e-3:
        return f"{value:.4f}"
    return f"{value:.4e}"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def format_epoch(epoch: int, epochs: int, logs: Logs | None, description: str = "") -> str:
    """One line for epoch index ``epoch`` (0-based) of ``epochs``: results, then the time.

    Every key of ``logs`` except :data:`BOOKKEEPING` is shown, in the logs' order (loss,
    metrics, then the validation ones); ``logs["seconds"]`` closes the line when present.
    """
    logs = logs or {}
    head = f"epoch {epoch + 1}/{epochs}"
    parts = [f"{description}: {head}" if description else head]
    parts += [f"{key}: {_number(value)}" for key, value in logs.items() if key not in BOOKKEEPING]
    if "seconds" in logs:
        parts.append(_duration(float(logs["seconds"])))
    return " - ".join(parts)


class ProgressBar(Callback):
    """Progress of a run over epochs: a tqdm bar on a terminal, plain lines elsewhere.

    Parameters
    ----------
    epochs : int
        The epoch index training stops before (``fit``'s ``epochs``).
    initial_epoch : int, default 0
        The epoch training starts at (a resumed run).
    description : str, default ""
        Name of the run, shown before each line and as the bar's label.
    verbose : {1, 2}, default 1
        ``1``: a bar on a terminal, else about :data:`LINES_PER_RUN` lines;
        ``2``: one line per epoch. (``0`` writes nothing.)
    stream : file-like, optional
        Where to write; ``sys.stderr`` at the start of training by default.
    """

    def __init__(
        self,
        epochs: int,
        initial_epoch: int = 0,
        description: str = "",
        verbose: int = 1,
        stream: IO[str] | None = None,
    ) -> None:
        epochs = check_int("epochs", epochs, minimum=0)
        initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0, maximum=epochs)
        if not isinstance(description, str):
            raise TypeError(f"description must be a string; got {describe(description)}.")
        verbose = check_int("verbose", verbose, minimum=0, maximum=2)
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise TypeError(f"stream must be a writable text stream; got {describe(stream)}.")
        self.epochs, self.initial_epoch = epochs, initial_epoch
        self.description, self.verbose, self.stream = description, verbose, stream
        self._bar: Any = None
        self._out: Any = None
        self._pending: str | None = None  # the latest line not written yet (verbose=1)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._out = self.stream if self.stream is not None else sys.stderr
        self._bar, self._pending = None, None
        if self.verbose == 1 and is_terminal(self._out):
            self._bar = self._new_bar()

    def _new_bar(self) -> Any:
        """A tqdm bar on the output stream, or ``None`` when tqdm is not installed."""
        try:
            from tqdm import tqdm
        except ImportError:
            return None
        return tqdm(
            total=self.epochs,
            initial=self.initial_epoch,
            desc=self.description or None,
            unit="epoch",
            leave=False,
            file=self._out,
        )

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.verbose == 0:
            return
        if self._bar is not None:
            shown = {k: _number(v) for k, v in (logs or {}).items() if k not in BOOKKEEPING}
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(1)
            return
        line = format_epoch(epoch, self.epochs, logs, self.description)
        done = epoch + 1 - self.initial_epoch
        every = max(1, math.ceil((self.epochs - self.initial_epoch) / LINES_PER_RUN))
        if self.verbose == 2 or done % every == 0 or epoch + 1 == self.epochs:
            self._write(line)
            self._pending = None
        else:
            self._pending = line

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._pending is not None:  # stopped early: show where it stopped
            self._write(self._pending)
            self._pending = None

    def _write(self, line: str) -> None:
        out = self._out if self._out is not None else sys.stderr
        print(line, file=out, flush=True)
