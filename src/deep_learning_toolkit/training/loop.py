"""The one epoch loop, shared by ``Sequential.fit`` and the PyTorch twin.

:func:`train` runs epochs of mini-batch steps: the batches of epoch ``e`` depend only on
``(seed, e)``, each step is a callable of the trainee (a finite-difference step, a
zeroth-order step, an autograd step), and the loop owns everything around it: callbacks,
the history (extended on resume), the policy for non-finite batches, validation, progress
and Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_bool, check_choice, check_float, check_int, describe
from ..data.batching import minibatch_indices
from .callbacks import Callback, CallbackList
from .history import History
from .progress import ProgressBar

#: What ``fit`` does with a batch whose loss or gradient is NaN or infinite.
NON_FINITE_ACTIONS = ("raise", "skip")


@dataclass(frozen=True)
class BatchOutcome:
    """What one training step reports to the loop.

    Attributes
    ----------
    loss : float
        Loss of the batch before the update.
    outputs : ndarray or None
        Outputs of the batch before the update (for the epoch's metrics).
    evaluations : int
        Loss evaluations (or forward + backward passes) the step cost.
    grad_norm : float
        Norm of the gradient (or its estimate).
    fd_step : float
        Mean finite-difference step or perturbation scale (0 for autograd).
    """

    loss: float
    outputs: np.ndarray | None
    evaluations: int
    grad_norm: float
    fd_step: float


#: ``step(rows, epoch, batch) -> BatchOutcome``, or ``None`` when the batch was skipped.
Step = Callable[[np.ndarray, int, int], "BatchOutcome | None"]


class InterruptFlag:
    """Turns the first Ctrl-C (SIGINT) during training into a request to stop after the batch.

    Installed only in the main thread (where Python delivers signals) and only over a
    callable handler (an ignored SIGINT stays ignored); a second Ctrl-C calls the previous
    handler, which by default raises ``KeyboardInterrupt`` at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self.where: tuple[int, int] | None = None  # (epoch, batches done in it)
        self._previous: Any = None

    def __enter__(self) -> InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):
                self._previous = previous
                signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            self._previous(signum, frame)
        self.requested = True

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


@dataclass(frozen=True)
class FitArguments:
    """The checked arguments of a ``fit`` call that the loop itself uses."""

    epochs: int
    initial_epoch: int
    batch_size: int
    shuffle: bool
    seed: int
    verbose: int
    on_non_finite: str


def check_fit_arguments(
    n_samples: int,
    epochs: object,
    batch_size: object,
    validation_data: object,
    shuffle: object,
    verbose: object,
    initial_epoch: object,
    seed: object,
    on_non_finite: object,
) -> FitArguments:
    """Check ``fit``'s arguments (``seed`` already defaulted) before anything changes."""
    epochs = check_int("epochs", epochs, minimum=1)
    initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0, maximum=epochs - 1)
    batch_size = n_samples if batch_size is None else check_int("batch_size", batch_size, minimum=1)
    if validation_data is not None and (
        not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2
    ):
        raise ValueError(
            f"validation_data must be a tuple (X_val, y_val); got {describe(validation_data)}."
        )
    return FitArguments(
        epochs=epochs,
        initial_epoch=initial_epoch,
        batch_size=batch_size,
        shuffle=check_bool("shuffle", shuffle),
        seed=check_int("seed", seed, minimum=0),
        verbose=check_int("verbose", verbose, minimum=0, maximum=2),
        on_non_finite=check_choice("on_non_finite", on_non_finite, NON_FINITE_ACTIONS),
    )


def split_validation(
    X: np.ndarray, targets: np.ndarray, fraction: object, validation_data: object
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Hold out the last ``fraction`` of the samples (before shuffling, as Keras does)."""
    fraction = check_float("validation_split", fraction, nonnegative=True, below=1.0)
    if validation_data is not None:
        raise ValueError("give validation_split or validation_data, not both.")
    held_out = int(len(X) * fraction)
    if held_out < 1 or held_out == len(X):
        raise ValueError(
            f"validation_split={fraction} of {len(X)} samples leaves {held_out} for validation "
            f"and {len(X) - held_out} for training; each needs at least one."
        )
    cut = len(X) - held_out
    return X[:cut], targets[:cut], (X[cut:], targets[cut:])


@dataclass
class Loop:
    """One ``fit`` call: its step, its targets and arguments, and how to score.

    ``scores(outputs, targets)`` returns the metrics of outputs; ``validate()`` the
    validation logs after an epoch (or ``None``); ``lr()`` the learning rate to log.
    """

    step: Step
    targets: np.ndarray
    args: FitArguments
    scores: Callable[[np.ndarray, np.ndarray], dict[str, float]]
    validate: Callable[[], dict[str, float]] | None
    lr: Callable[[], float]


def run_params(
    method: str, loss: str, args: FitArguments, samples: int, parameters: int, optimizer: dict
) -> dict[str, Any]:
    """``History.params`` of a run: its method, loss, settings and optimizer hyperparameters."""
    return {
        "method": method,
        "loss": loss,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "samples": samples,
        "num_parameters": parameters,
        "seed": args.seed,
        **optimizer,
    }


def start_history(trainee: Any, name: str, params: dict[str, Any], initial_epoch: int) -> History:
    """This call's History; ``trainee.history`` continues a run resumed where it stopped."""
    history = History(name=name, params=params)
    previous = getattr(trainee, "history", None)
    if previous is not None and previous.epoch and previous.epoch[-1] == initial_epoch - 1:
        trainee.history = History.from_dict(previous.to_dict())
        trainee.history.params = dict(params)
    else:
        trainee.history = history
    return history


def train(
    trainee: Any,
    loop: Loop,
    name: str,
    params: dict[str, Any],
    callbacks: Sequence[Callback] | None,
) -> History:
    """Run ``loop`` on ``trainee`` (which has ``history``, ``stop_training``,
    ``epochs_completed``, ``batches_completed``); returns this call's History (see
    ``Sequential.fit``). Nothing of the trainee changes if the callbacks are refused."""
    extra: list[Callback] = CallbackList.checked(callbacks)
    args = loop.args
    if args.verbose:
        extra.append(ProgressBar(args.epochs, args.initial_epoch, name, args.verbose))
    callback_list = CallbackList(extra, trainee)
    previous = trainee.history
    history = start_history(trainee, name, params, args.initial_epoch)
    resuming = args.initial_epoch == trainee.epochs_completed and trainee.batches_completed > 0
    skip = trainee.batches_completed if resuming else 0
    trainee.stop_training = False
    interrupt = InterruptFlag()
    with interrupt:
        try:
            callback_list.on_train_begin({})
        except BaseException:
            trainee.history = previous  # a refused start (e.g. a log directory) erases nothing
            raise
        try:
            for epoch in range(args.initial_epoch, args.epochs):
                callback_list.on_epoch_begin(epoch, {})
                logs = _run_epoch(trainee, loop, epoch, callback_list, interrupt, skip)
                if logs is None:  # interrupted within the epoch
                    break
                skip = 0
                if loop.validate is not None:
                    logs.update(loop.validate())
                history.append(epoch, logs)
                if trainee.history is not history:
                    trainee.history.append(epoch, logs)
                trainee.epochs_completed, trainee.batches_completed = epoch + 1, 0
                callback_list.on_epoch_end(epoch, logs)
                if trainee.stop_training or interrupt.requested:
                    break
        finally:
            callback_list.on_train_end({})
    if interrupt.requested:
        _raise_interrupted(interrupt, trainee.epochs_completed)
    return history


def _raise_interrupted(interrupt: InterruptFlag, completed: int) -> None:
    where = (
        f"after {interrupt.where[1]} batch(es) of epoch {interrupt.where[0]}"
        if interrupt.where
        else f"at the end of epoch {completed - 1}"
    )
    raise KeyboardInterrupt(
        f"Training interrupted (Ctrl-C) {where}; {completed} epoch(s) completed. The model "
        "keeps the parameters after the last finished batch (save it now to keep them); "
        "fit(..., initial_epoch=model.epochs_completed) resumes at the next batch."
    )


def _run_epoch(
    trainee: Any,
    loop: Loop,
    epoch: int,
    callbacks: CallbackList,
    interrupt: InterruptFlag,
    skip: int = 0,
) -> dict[str, float] | None:
    """One epoch of steps; its logs, or ``None`` if a Ctrl-C stopped it between batches.

    The first ``skip`` batches were done before an interruption (``batches_completed``):
    a resumed run continues with the next one, so it replays the uninterrupted run exactly
    (the epoch's logs then cover the batches run in this call).
    """
    started = time.perf_counter()
    total_loss, evaluations, grad_norms, fd_steps = 0.0, 0, [], []
    outputs, used, skipped = [], [], 0
    args = loop.args
    batches = minibatch_indices(
        len(loop.targets), args.batch_size, seed=args.seed, epoch=epoch, shuffle=args.shuffle
    )
    for number, rows in enumerate(batches):
        if number < skip:
            continue
        if interrupt.requested:
            interrupt.where = (epoch, number)
            return None
        outcome = loop.step(rows, epoch, number)
        trainee.batches_completed = number + 1
        if outcome is None:
            skipped += 1
            continue
        total_loss += outcome.loss * len(rows)
        evaluations += outcome.evaluations
        grad_norms.append(outcome.grad_norm)
        fd_steps.append(outcome.fd_step)
        if outcome.outputs is not None:
            outputs.append(outcome.outputs)
        used.append(rows)
        callbacks.on_batch_end(number, {"loss": outcome.loss, "size": len(rows)})
    if not used:
        raise FloatingPointError(
            f"Every batch of epoch {epoch} had a non-finite loss or gradient and was "
            "skipped; the model keeps its last finite parameters."
        )
    order = np.concatenate(used)
    logs = {"loss": total_loss / len(order)}
    if len(outputs) == len(used):
        logs.update(loop.scores(np.concatenate(outputs), loop.targets[order]))
    logs.update(
        evaluations=float(evaluations),
        grad_norm=float(np.mean(grad_norms)),
        lr=float(loop.lr()),
        fd_step=float(np.mean(fd_steps)),
        seconds=time.perf_counter() - started,
    )
    if args.on_non_finite == "skip":
        logs["skipped_batches"] = float(skipped)
    return logs
