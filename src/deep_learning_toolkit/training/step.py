"""One training step of a compiled model: its gradient method, then its optimizer.

:class:`OptimizerStep` is the ``step`` the epoch loop (:mod:`.loop`) calls for
``Sequential.fit``: the gradient of the batch by the compiled method (finite differences,
complex step or a zeroth-order estimate), the non-finite policy, and the update, which for a
zeroth-order method with plain SGD is applied in place without forming a gradient vector
(MeZO-style).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from ..gradients.steps import StepSchedule, model_steps
from ..numdiff.interrupts import deferred_interrupts
from ..numdiff.zeroth_order import (
    ScaleTooSmallError,
    ZerothOrder,
    perturbation_grid,
    sgd_update,
    snap_to_grid,
    step_seed,
)
from ..optim import SGD
from ..optim.schedules import LearningRateError
from .loop import BatchOutcome


def lean_update(optimizer: Any) -> bool:
    """Whether a zeroth-order step can update in place: plain SGD, no state."""
    settings = optimizer.hyperparameters()
    return (
        isinstance(optimizer, SGD)
        and settings.get("momentum", 0) == 0
        and settings.get("weight_decay", 0) == 0
    )


class OptimizerStep:
    """``step(rows, epoch, batch)`` for the epoch loop of a compiled ``model``.

    Parameters
    ----------
    model : Sequential
    X, targets : ndarray
        The whole training set (checked).
    seed : int
        Seed of the run (zeroth-order directions derive from it, the epoch and the batch).
    on_non_finite : {"raise", "skip"}
    """

    def __init__(
        self, model: Any, X: np.ndarray, targets: np.ndarray, seed: int, on_non_finite: str
    ) -> None:
        self.model = model
        self.X, self.targets, self.seed = X, targets, seed
        self.on_non_finite = on_non_finite
        self.zeroth = isinstance(model.stencil, ZerothOrder)
        self.lean = self.zeroth and lean_update(model.optimizer)
        #: The lean update is fused with the pass that restores the parameters, unless a
        #: layer's state (running statistics) must first see the restored parameters.
        self.fused = self.lean and not any(layer.has_state for layer in model.layers)
        #: Evaluate the unperturbed outputs only for metrics (a zeroth-order step logs the
        #: mean of its perturbed losses otherwise).
        self.options: dict[str, Any] = {"outputs": bool(model.metrics)} if self.zeroth else {}
        self.direction_base = (
            model.stencil.seed if self.zeroth and model.stencil.seed is not None else seed
        )
        self.schedule: StepSchedule | None = None
        if not self.zeroth:
            pilot = getattr(model, "step_pilot", None)
            self.schedule = StepSchedule(model, model.stencil, model.step, pilot)
        self.steps: np.ndarray | None = None

    def __call__(self, rows: np.ndarray, epoch: int, batch: int) -> BatchOutcome | None:
        model = self.model
        seed = step_seed(self.direction_base, epoch, batch) if self.zeroth else 0
        model.set_step(self.seed, epoch, batch)
        pilot = 0  # loss evaluations of a pilot of the steps (a refresh, see gradients.steps)
        if self.schedule is not None:
            evaluate = partial(
                model.compute_gradient, self.X[rows], self.targets[rows], model.stencil
            )
            self.steps = self.schedule.steps(model, evaluate)
            pilot, model.step_pilot = self.schedule.spent, self.schedule.state
        options = dict(self.options)
        if self.fused:
            options["update"] = lambda estimate: self._fused_rate(estimate, epoch, batch)
        try:
            result = model.compute_gradient(
                self.X[rows],
                self.targets[rows],
                model.stencil,
                self.steps,
                seed,
                not self.lean,
                **options,
            )
        except ScaleTooSmallError as error:  # the parameters ran away from the scale
            raise self._diverged(error, epoch, batch) from None
        if not self._finite(result, rows, epoch, batch):
            return None
        if self.fused:  # updated (and snapped to the next grid) in the restoring pass
            grad_norm = 0.0 if result.grad_norm is None else result.grad_norm
        else:
            model.update_state(self.X[rows])  # running statistics: once, before the update
            if self.lean:
                grad_norm = self._lean_update(epoch, batch, result)
            else:
                grad_norm = self._optimizer_update(epoch, batch, result)
            if self.zeroth:
                self._snap(epoch, batch)
        model.last_gradient = result.gradient
        # self.steps is None exactly for zeroth-order methods (no schedule)
        fd_step = model.stencil.scale if self.steps is None else float(np.mean(self.steps))
        evaluations = result.evaluations + pilot
        return BatchOutcome(result.loss, result.outputs, evaluations, grad_norm, fd_step)

    def _fused_rate(self, estimate: Any, epoch: int, batch: int) -> float | None:
        """The learning rate of a fused in-place update, or ``None`` for a non-finite batch
        (the parameters are then only restored, and ``_finite`` decides)."""
        finite = np.all(np.isfinite(estimate.slopes)) and (
            estimate.value is None or np.isfinite(estimate.value)
        )
        return self._rate(epoch, batch) if finite else None

    def _lean_update(self, epoch: int, batch: int, result: Any) -> float:
        """MeZO-style SGD after the restoring pass: no gradient vector, no parameter copy."""
        model = self.model
        lr = self._rate(epoch, batch)
        grad_norm = sgd_update(model.params, result.estimate, lr) if lr > 0 else 0.0
        if not np.all(np.isfinite(model.params)):
            raise FloatingPointError(
                f"The update of epoch {epoch}, batch {batch} made parameters non-finite "
                "(the memory-lean SGD path keeps no copy to restore). Lower the learning "
                f"rate (lr={model.optimizer.lr:g})."
            )
        return grad_norm

    def _optimizer_update(self, epoch: int, batch: int, result: Any) -> float:
        """The compiled optimizer's step; parameters restored if it made them non-finite."""
        model = self.model
        previous = model.params.copy()
        try:
            with deferred_interrupts():  # parameters and moments change together
                model.optimizer.step(model.params, result.gradient)
        except LearningRateError as error:
            raise LearningRateError(
                f"epoch {epoch}, batch {batch}: {error}", error.step, error.value
            ) from None
        if not np.all(np.isfinite(model.params)):
            model.params[...] = previous
            raise FloatingPointError(
                f"The optimizer step of epoch {epoch}, batch {batch} made parameters "
                "non-finite; the model keeps its parameters from before that step. Lower "
                f"the learning rate (lr={model.optimizer.lr:g})."
            )
        return float(np.linalg.norm(result.gradient))

    def _snap(self, epoch: int, batch: int) -> None:
        """Snap to the next step's grid now, so that a step abandoned by a second Ctrl-C
        leaves the parameters bit for bit as they are (the fused path snaps in its pass)."""
        model = self.model
        try:
            snap_to_grid(model.params, perturbation_grid(model.params, model.stencil))
        except ScaleTooSmallError as error:
            raise self._diverged(error, epoch, batch) from None

    def _diverged(self, error: Exception, epoch: int, batch: int) -> FloatingPointError:
        """The error of a zeroth-order run whose parameters outgrew the perturbation scale."""
        largest = getattr(error, "largest", math.nan)
        if not math.isfinite(largest):
            largest = float(np.max(np.abs(self.model.params)))
        return FloatingPointError(
            f"Training diverged at epoch {epoch}, batch {batch}: the parameters grew to "
            f"{largest:.3g} ({error}). Lower the learning rate (lr={self.model.optimizer.lr:g})."
        )

    def _rate(self, epoch: int, batch: int) -> float:
        """The learning rate of an in-place step (a schedule moves on one step)."""
        try:
            return self.model.optimizer.advance()
        except LearningRateError as error:
            raise LearningRateError(
                f"epoch {epoch}, batch {batch}: {error}", error.step, error.value
            ) from None

    def _finite(self, result: Any, rows: np.ndarray, epoch: int, batch: int) -> bool:
        """True if the batch's loss and gradient are finite; else raise, or False to skip."""
        values = result.estimate.slopes if result.gradient is None else result.gradient
        finite = bool(np.isfinite(result.loss) and np.all(np.isfinite(values)))
        if finite or self.on_non_finite == "skip":
            return finite
        if not np.isfinite(result.loss):
            layer = self.model.non_finite_layer(self.X[rows], training=True)
            where = f" ({layer} returned non-finite values)" if layer else ""
            raise FloatingPointError(
                f"The loss became {result.loss} in epoch {epoch}, batch {batch}{where}; the "
                "model keeps its last finite parameters. Lower the learning rate or check the "
                "data."
            )
        if result.gradient is None:
            raise FloatingPointError(
                f"A directional slope is non-finite in epoch {epoch}, batch {batch} (slopes "
                f"{values}); the model keeps its last finite parameters."
            )
        bad = np.flatnonzero(~np.isfinite(values))
        names = ", ".join(self.model.parameter_name(int(i)) for i in bad[:5])
        raise FloatingPointError(
            f"The gradient is non-finite in epoch {epoch}, batch {batch} for {bad.size} "
            f"parameter(s) ({names}{', ...' if bad.size > 5 else ''}); the model keeps its "
            "last finite parameters."
        )


def batch_steps(model: Any, X: np.ndarray, targets: np.ndarray, method: Any, step: object):
    """The steps of one gradient of ``model`` on ``(X, targets)`` by ``method`` (see
    :func:`~deep_learning_toolkit.gradients.steps.model_steps`: a pilot on this batch for
    ``step=None`` with a stencil)."""
    evaluate = partial(model.compute_gradient, X, targets, method)
    return model_steps(model, method, step, evaluate)
