"""Numerical derivatives and gradients of any Python function.

One evaluator serves every stencil: for each entry ``x_i`` and each perturbed offset ``o_k``
of the formula it evaluates ``f(x + o_k h_i e_i)``, and combines the values with the weights.
``f(x)`` itself is evaluated once per gradient, and only when the formula uses it. This is the
plain per-parameter definition, and the reference against which the batched engine
(:mod:`deep_learning_toolkit.numdiff.engine`) is tested.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validation import check_array, describe
from .stencils import Stencil, get_stencil
from .steps import resolve_steps


@dataclass(frozen=True)
class GradientResult:
    """A gradient with the bookkeeping of how it was obtained.

    Attributes
    ----------
    gradient : ndarray
        The estimate, shaped like ``x``.
    value : float or None
        ``f(x)`` when the formula evaluated it, else ``None``.
    evaluations : int
        Number of calls of ``f``: ``k * x.size`` plus one when the formula uses ``f(x)``.
    steps : ndarray
        The step used for each entry, shaped like ``x``.
    method : str
        Name of the formula.
    """

    gradient: np.ndarray
    value: float | None
    evaluations: int
    steps: np.ndarray
    method: str


def _call(f: Callable[[np.ndarray], float], x: np.ndarray, where: str) -> float:
    value = f(x)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"f must return a real scalar; got {describe(value)} {where}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"f returned {value} {where}; a finite difference needs finite values.")
    return value


def gradient_details(
    f: Callable[[np.ndarray], float],
    x: object,
    method: str | Stencil = "three_point_midpoint",
    step: object = None,
) -> GradientResult:
    """Gradient of ``f`` at ``x`` with its step sizes and evaluation count.

    See :func:`gradient` for the parameters.
    """
    stencil = get_stencil(method)
    if not callable(f):
        raise TypeError(f"f must be callable; got {describe(f)}.")
    x = check_array("x", x, allow_empty=False)
    steps = resolve_steps(x, stencil, step)
    point = x.copy()
    flat_point = point.reshape(-1)
    flat_x = x.reshape(-1)
    flat_steps = steps.reshape(-1)
    center = None
    evaluations = 0
    if stencil.uses_center:
        center = _call(f, point, "at x")
        evaluations += 1
    grad = np.zeros(x.size)
    for i in range(x.size):
        total = stencil.center_weight * center if center is not None else 0.0
        for offset, weight in stencil.perturbed:
            flat_point[i] = flat_x[i] + offset * flat_steps[i]
            total += weight * _call(f, point, f"at x + {offset:g}*h*e_{i}")
            evaluations += 1
        flat_point[i] = flat_x[i]
        grad[i] = total / flat_steps[i]
    return GradientResult(grad.reshape(x.shape), center, evaluations, steps, stencil.name)


def gradient(
    f: Callable[[np.ndarray], float],
    x: object,
    method: str | Stencil = "three_point_midpoint",
    step: object = None,
) -> np.ndarray:
    """Numerical gradient of a scalar function of an array.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``. It receives one work array that is perturbed in place between
        calls, so it must not keep a reference to it.
    x : array-like
        Point of differentiation (any shape).
    method : str
        One of :data:`~deep_learning_toolkit.numdiff.METHODS` (or ``"central"``).
    step : None, float or array-like
        ``None`` (default): the method's near-optimal float64 step scaled by
        ``max(1, |x_i|)``, rounded to a power of two; a positive scalar; or per-entry steps.

    Returns
    -------
    ndarray
        The gradient, shaped like ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from deep_learning_toolkit import numdiff
    >>> g = numdiff.gradient(lambda v: float(np.sum(v**2)), [1.0, -2.0], "five_point_midpoint")
    >>> np.allclose(g, [2.0, -4.0], atol=1e-10)
    True
    """
    return gradient_details(f, x, method, step).gradient


def derivative(
    f: Callable[[float], float],
    x: float,
    method: str | Stencil = "three_point_midpoint",
    step: float | None = None,
) -> float:
    """Numerical derivative of a scalar function of one variable.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` for a float ``x``.
    x : float
        Point of differentiation.
    method : str
        One of :data:`~deep_learning_toolkit.numdiff.METHODS` (or ``"central"``).
    step : float, optional
        Step size; ``None`` for the method's default.

    Returns
    -------
    float
    """
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"x must be a real number; got {describe(x)}.")
    if not callable(f):
        raise TypeError(f"f must be callable; got {describe(f)}.")
    result = gradient_details(lambda v: f(float(v[0])), np.array([float(x)]), method, step)
    return float(result.gradient[0])
