"""Numerical gradients of any Python function of an array.

For each entry ``x_i`` and each offset ``o_k`` of the formula the evaluator computes
``f(x + o_k h_i e_i)`` and combines the values with the weights; ``f(x)`` itself is evaluated
once, and only when the formula uses it. This is the plain per-parameter definition, and the
reference against which the batched engine is tested. It is one case of the general driver
(:mod:`~deep_learning_toolkit.numdiff.estimate`) that also gives derivatives of any order,
Jacobians and Hessians, so everything below holds for them too:

* ``richardson=n`` replaces the formula by its ``n``-times Richardson-extrapolated stencil
  (:mod:`~deep_learning_toolkit.numdiff.richardson`);
* ``full_output=True`` also evaluates the formula at twice the step and returns an error
  estimate per entry, ``|D(h) - D(2h)| / (2**p - 1) + eps |f| S / h``;
* ``step="adaptive"`` evaluates the formula on the halving steps ``H, H/2, ...`` and
  extrapolates them in a Richardson table, keeping per entry the estimate with the smallest
  estimated error (:mod:`~deep_learning_toolkit.numdiff.adaptive`);
* ``method="complex_step"`` evaluates a complex-safe ``f`` once per entry at ``x + i h e_i``;
* ``vectorized=True`` passes all the points in one call ``f(batch)``, ``batch`` of shape
  ``(k, *x.shape)``, which must return the ``k`` values.

Every step is checked against ``x`` before ``f`` is called: a step that vanishes against
``x_i`` (``x + h == x``) or a point that overflows is a ``ValueError``, as is a non-finite
value of ``f`` (reported with its point), never a silent 0 or NaN.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .derivative import derivative
from .estimate import Task, check_flag, check_function, check_point, run_tasks
from .result import DerivativeResult, GradientResult
from .rules import axis_rule
from .stencils import ComplexStep, Stencil

__all__ = ["GradientResult", "derivative", "gradient", "gradient_details"]


def gradient_details(
    f: Callable[[np.ndarray], float],
    x: object,
    method: str | Stencil | ComplexStep = "three_point_midpoint",
    step: object = None,
    *,
    richardson: int = 0,
    estimate_error: bool = False,
    vectorized: bool = False,
) -> DerivativeResult:
    """Gradient of ``f`` at ``x`` with its step sizes, evaluation count and error estimate.

    See :func:`gradient` for the parameters; ``estimate_error=True`` fills
    :attr:`DerivativeResult.error` (what ``gradient(..., full_output=True)`` returns).
    """
    rule = axis_rule(method, 1, richardson)
    check_function(f)
    x = check_point(x)
    vectorized = check_flag("vectorized", vectorized)
    entries = np.arange(x.size)[:, None]
    out = run_tasks(
        f, x, [Task(rule, entries)], step, full_output=estimate_error, vectorized=vectorized
    )
    error = out.errors[0]
    return DerivativeResult(
        out.estimates[0].reshape(x.shape),
        out.value,
        out.evaluations,
        out.steps(0, entries).reshape(x.shape),
        rule.name,
        None if error is None else error.reshape(x.shape),
    )


def gradient(
    f: Callable[[np.ndarray], float],
    x: object,
    method: str | Stencil | ComplexStep = "three_point_midpoint",
    step: object = None,
    *,
    richardson: int = 0,
    full_output: bool = False,
    vectorized: bool = False,
) -> np.ndarray | DerivativeResult:
    """Numerical gradient of a scalar function of an array.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``. It receives one work array that is perturbed in place between
        calls, so it must not keep a reference to it. With ``method="complex_step"`` the array
        is complex and ``f`` must return a complex number computed in complex-safe arithmetic.
    x : array-like
        Point of differentiation (any shape).
    method : str or Stencil
        One of :data:`~deep_learning_toolkit.numdiff.METHODS`, an alias (``"central"``,
        scipy's ``"2-point"``, ``"3-point"``, ``"cs"``), ``"complex_step"``, or any
        :class:`~deep_learning_toolkit.numdiff.Stencil`
        (e.g. from :func:`~deep_learning_toolkit.numdiff.make_stencil`).
    step : None, float, array-like or "adaptive"
        ``None`` (default): the method's near-optimal float64 step scaled by
        ``max(1, |x_i|)``, rounded to a power of two; a positive scalar; per-entry steps; or
        ``"adaptive"``: per entry, the best Richardson-extrapolated estimate over the steps
        ``H, H/2, ..., H/2**14`` (fewer when the error reaches rounding level; about 20
        evaluations per entry for the central formula). For the complex step it is the
        default step.
    richardson : int, default 0
        Levels of Richardson extrapolation over the steps ``h, 2h, ..., 2**n h`` (``h``, the
        step above, is the smallest). Not for the complex step.
    full_output : bool, default False
        Return a :class:`DerivativeResult` with the gradient, its estimated error per entry,
        the evaluation count and the steps, instead of the gradient alone. The estimate
        compares the formula at ``h`` and ``2h``, which costs the evaluations at ``2h`` not
        shared.
    vectorized : bool, default False
        ``f`` takes a batch of points, shape ``(k, *x.shape)``, and returns their ``k`` values;
        all the points then go in one call.

    Returns
    -------
    ndarray or DerivativeResult
        The gradient, shaped like ``x`` (or the result object with ``full_output=True``).

    Raises
    ------
    ValueError
        For a step that vanishes against ``x`` or a point that overflows, a non-finite value
        of ``f`` (the message gives the point), or a bad option; ``TypeError`` for arguments
        of the wrong type or ``f`` returning something other than a real scalar.

    Examples
    --------
    >>> import numpy as np
    >>> from deep_learning_toolkit import numdiff
    >>> g = numdiff.gradient(lambda v: float(np.sum(v**2)), [1.0, -2.0], "five_point_midpoint")
    >>> np.allclose(g, [2.0, -4.0], atol=1e-10)
    True
    >>> r = numdiff.gradient(lambda v: np.sum(np.sin(v)), [0.5], full_output=True)
    >>> bool(abs(r.gradient[0] - np.cos(0.5)) <= r.error[0]), r.evaluations
    (True, 4)
    """
    full_output = check_flag("full_output", full_output)
    result = gradient_details(
        f,
        x,
        method,
        step,
        richardson=richardson,
        estimate_error=full_output,
        vectorized=vectorized,
    )
    return result if full_output else result.gradient
