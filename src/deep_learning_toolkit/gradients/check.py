"""Check a claimed gradient of a compiled model's loss (see :mod:`numdiff.check`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_int, describe
from ..numdiff.check import GradientCheck, _claimed, _tolerances, compare_gradients
from ..numdiff.fornberg import EPS
from ..numdiff.richardson import error_estimate, richardson_stencil
from ..numdiff.stencils import ComplexStep, Stencil, get_method
from ..numdiff.steps import resolve_steps


def check_model_gradient(
    model: Any,
    X: object,
    y: object,
    grad: object,
    method: str | Stencil | ComplexStep = "three_point_midpoint",
    rtol: float | None = None,
    *,
    atol: float | None = None,
    step: object = None,
    richardson: int = 0,
    n_worst: int = 5,
) -> GradientCheck:
    """Check a claimed gradient of a compiled model's loss on ``(X, y)`` at its parameters.

    The numerical gradient comes from the model's own gradient methods, at steps ``h`` and
    ``2h`` for the error estimate; the worst entries are named by
    :meth:`~deep_learning_toolkit.Sequential.parameter_name`.

    Parameters
    ----------
    model : Sequential
        A compiled model.
    X, y : array-like
        The batch.
    grad : array-like
        Claimed gradient, laid out like ``model.get_params()``.
    method, rtol, atol, step, richardson, n_worst
        As in :func:`~deep_learning_toolkit.check_gradient` (``step="adaptive"`` is not
        available for models).

    Returns
    -------
    GradientCheck
    """
    for attribute in ("parameter_name", "gradient_details", "layers", "params"):
        if not hasattr(model, attribute):
            raise TypeError(f"model must be a Sequential model; got {describe(model)}.")
    claimed = _claimed(grad, model.params.shape, "the model's parameters")
    n_worst = check_int("n_worst", n_worst, minimum=1)
    resolved = get_method(method)
    richardson = check_int("richardson", richardson, minimum=0)
    if isinstance(resolved, ComplexStep):
        if richardson:
            raise ValueError("richardson applies to finite-difference stencils, not complex_step.")
    else:
        resolved = richardson_stencil(resolved, richardson)
    steps = resolve_steps(model.params, resolved, step)
    fine = model.gradient_details(X, y, method=resolved, step=steps)
    coarse = model.gradient_details(X, y, method=resolved, step=2.0 * steps)
    if isinstance(resolved, ComplexStep):
        error = np.abs(fine.gradient - coarse.gradient) / 3.0 + EPS * np.abs(fine.gradient)
    else:
        error = error_estimate(
            fine.gradient, coarse.gradient, resolved.order, fine.loss, steps, resolved.noise_gain
        )
    rtol, atol = _tolerances(resolved, rtol, atol)
    return compare_gradients(
        fine.gradient,
        claimed,
        error,
        method=resolved.name,
        rtol=rtol,
        atol=atol,
        evaluations=fine.evaluations + coarse.evaluations,
        name=lambda flat: (flat, model.parameter_name(flat)),
        n_worst=n_worst,
    )
