"""Derivatives of any order of a function of one variable, and along a direction.

``derivative(f, x, n=3)`` uses the ``n``-th derivative formula of the method's family (the
central formulas of order 2 by default; see :mod:`~deep_learning_toolkit.numdiff.rules`), at
its near-optimal step, a given step, or ``step="adaptive"``. ``directional_derivative``
differentiates ``t -> f(x + t v)`` at ``t = 0`` with the same machinery, stepping along
``v / max|v|`` with steps scaled like those of ``x``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from .._validation import check_array, check_int, describe
from .estimate import (
    Task,
    check_flag,
    check_function,
    check_point,
    check_scalar,
    is_adaptive,
    run_tasks,
)
from .result import DerivativeResult
from .rules import Rule, axis_rule
from .steps import STEP_ROUNDING_TOLERANCE, resolve_steps

_ONE_ENTRY = np.zeros((1, 1), dtype=int)


def _split_n(method: object, n: object) -> tuple[object, int]:
    """``derivative(f, x, 2)`` means ``n=2``: an integer in the method's place is the order."""
    if isinstance(method, numbers.Integral) and not isinstance(method, bool):
        if n is not None:
            raise TypeError(f"derivative got n twice: {method!r} (third argument) and n={n!r}.")
        return "three_point_midpoint", check_int("n", method, minimum=1)
    return method, 1 if n is None else check_int("n", n, minimum=1)


def _scalar_function(f: Callable, vectorized: bool) -> Callable:
    if vectorized:
        return lambda batch: f(batch[:, 0])
    return lambda v: f(v[0].item())


def derivative(
    f: Callable[[float], float],
    x: float,
    method: object = "three_point_midpoint",
    step: float | str | None = None,
    *,
    n: int | None = None,
    richardson: int = 0,
    full_output: bool = False,
    vectorized: bool = False,
) -> float | DerivativeResult:
    """Numerical ``n``-th derivative of a scalar function of one variable.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` for a float ``x`` (a complex ``x`` with ``method="complex_step"``);
        with ``vectorized=True``, ``f(xs) -> values`` for a 1-D array of points.
    x : float
        Point of differentiation.
    method : str, Stencil, Formula or int
        As in :func:`~deep_learning_toolkit.numdiff.gradient`. For ``n > 1`` a method name
        keeps its side and order (``"five_point_midpoint"``: central, order 4); an integer here
        is taken as ``n`` (``derivative(f, x, 2)``).
    step : float, "adaptive" or None
        Step size; ``None`` for the formula's default; ``"adaptive"`` for the best
        Richardson-extrapolated estimate over halving steps.
    n : int, default 1
        Derivative order (``"complex_step"``: 1 or 2).
    richardson : int, default 0
        Levels of Richardson extrapolation.
    full_output : bool, default False
        Return a :class:`~deep_learning_toolkit.numdiff.DerivativeResult` (arrays of shape
        ``(1,)``) with the error estimate, evaluation count and step, instead of a float.
    vectorized : bool, default False
        ``f`` accepts a 1-D array of points and returns their values (one call in all).

    Returns
    -------
    float or DerivativeResult

    Examples
    --------
    >>> import numpy as np
    >>> round(derivative(np.sin, 0.0, n=3, step="adaptive"), 10)
    -1.0
    """
    method, n = _split_n(method, n)
    rule = axis_rule(method, n, richardson)
    check_function(f)
    x = check_scalar(x)
    full_output = check_flag("full_output", full_output)
    vectorized = check_flag("vectorized", vectorized)
    point = np.array([x])
    out = run_tasks(
        _scalar_function(f, vectorized),
        point,
        [Task(rule, _ONE_ENTRY)],
        step,
        full_output=full_output,
        vectorized=vectorized,
    )
    result = _result(out, rule, scale=1.0)
    return result if full_output else float(result.estimate[0])


def _result(out, rule: Rule, scale: float) -> DerivativeResult:
    error = out.errors[0]
    return DerivativeResult(
        out.estimates[0].reshape(1) * scale,
        out.value,
        out.evaluations,
        out.steps(0, _ONE_ENTRY).reshape(1),
        rule.name,
        None if error is None else error.reshape(1) * scale,
    )


def _direction(x: np.ndarray, v: object) -> tuple[np.ndarray, float]:
    direction = check_array("v", v, allow_empty=False)
    if direction.size != x.size:
        raise ValueError(
            f"v must have one entry per entry of x ({x.size}, shape {x.shape}); got "
            f"{direction.size} (shape {direction.shape})."
        )
    length = float(np.max(np.abs(direction)))
    if length == 0:
        raise ValueError("v is zero; a direction needs at least one non-zero entry.")
    return direction.reshape(x.shape) / length, length


def _check_line(x: np.ndarray, unit: np.ndarray, rule: Rule, h: float, full: bool) -> None:
    """Refuse a step along ``unit`` that overflows ``x`` or is lost to its rounding."""
    factors = (1.0, 2.0) if full else (1.0,)
    for offset in {complex(o).real * k for offs, _ in rule.terms for o in offs for k in factors}:
        with np.errstate(over="ignore", invalid="ignore"):
            delta = offset * h * unit
            point = x + delta
            moved = point - x
        bad = ~np.isfinite(point) | (
            np.abs(moved - delta) > STEP_ROUNDING_TOLERANCE * abs(offset * h)
        )
        if offset != 0 and bad.any():
            i = tuple(int(k) for k in np.argwhere(bad)[0])
            raise ValueError(
                f"step h = {h:.3g} along v does not fit x at index {i} (x = {x[i]:.17g}): "
                f"x + {offset:g}*h*v/max|v| overflows or loses the step to rounding; pass a "
                "larger (or, on overflow, smaller) step."
            )


def directional_derivative(
    f: Callable[[np.ndarray], float],
    x: object,
    v: object,
    method: object = "three_point_midpoint",
    step: float | str | None = None,
    *,
    n: int = 1,
    richardson: int = 0,
    full_output: bool = False,
    vectorized: bool = False,
) -> float | DerivativeResult:
    """``n``-th derivative of ``f`` at ``x`` along ``v``: ``d^n/dt^n f(x + t v)`` at ``t = 0``.

    For ``n = 1`` this is ``grad f(x) . v``, at the cost of one derivative rather than a
    gradient. The steps go along ``u = v / max|v|``: a float ``step`` is the step in units
    of ``u``, the default is the formula's relative step times ``max(1, max|x_i|)`` over the
    entries ``v`` moves, and ``"adaptive"`` searches as in :func:`derivative`.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` for arrays shaped like ``x`` (batches ``(k, *x.shape)`` with
        ``vectorized=True``).
    x : array-like
        Point of differentiation.
    v : array-like
        Direction, with one entry per entry of ``x``; not zero.
    method, step, n, richardson, full_output, vectorized
        As in :func:`derivative`.

    Returns
    -------
    float or DerivativeResult
    """
    rule = axis_rule(method, n, richardson)
    check_function(f)
    x = check_point(x)
    unit, length = _direction(x, v)
    full_output = check_flag("full_output", full_output)
    vectorized = check_flag("vectorized", vectorized)
    if not (step is None or isinstance(step, (str, numbers.Real))) or isinstance(step, bool):
        raise TypeError(
            f"step must be None, 'adaptive' or a positive number for a directional derivative; "
            f"got {describe(step)}."
        )
    scale = np.array([np.max(np.abs(x[unit != 0]))])
    if not is_adaptive(step):
        _check_line(x, unit, rule, float(resolve_steps(scale, rule, step)[0]), full_output)
    dtype = np.complex128 if rule.imag else np.float64

    def along(t: np.ndarray) -> object:
        if vectorized:
            return f(x[None] + t.reshape(-1, *[1] * x.ndim) * unit[None].astype(dtype))
        return f(x + t[0] * unit)

    out = run_tasks(
        along,
        np.zeros(1),
        [Task(rule, _ONE_ENTRY)],
        step,
        full_output=full_output,
        vectorized=vectorized,
        relative_to=scale,
    )
    result = _result(out, rule, scale=length**rule.derivative)
    return result if full_output else float(result.estimate[0])
