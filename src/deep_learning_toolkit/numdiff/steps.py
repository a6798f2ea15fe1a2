"""Step sizes for finite differences: defaults, user-given steps, ladders, and their checks.

The rule lives here once: the default step of parameter ``i`` is
``method.default_step * max(1, |x_i|)``, rounded to the nearest power of two. The relative
``default_step`` of each method comes from its error theory
(:meth:`~deep_learning_toolkit.numdiff.fornberg.Formula.optimal_step`); the factor
``max(1, |x_i|)`` scales it per parameter, since the rounding error of ``x_i + h`` grows with
``|x_i|``. A power of two is exactly representable and far above the spacing of float64
numbers near ``x_i``, which makes ``(x_i + o*h) - x_i == o*h`` exact for the small integer
offsets of the stencils whenever ``x_i`` has no bits below the spacing at ``x_i + o*h``: always
for ``x_i = 0``, and for every other ``x_i`` except those just below a power of two (within
``o*h``) or much smaller than ``h`` with finer bits. Where it is not exact, the step is off by
one unit in the last place of ``x_i``, an error of the same size as the rounding the error
model already counts.

``step="adaptive"`` (:mod:`~deep_learning_toolkit.numdiff.adaptive`) starts from the larger
steps of :func:`adaptive_base_steps` and halves them, at most :data:`ADAPTIVE_RUNGS` times.

Every step is checked against the point before ``f`` is called
(:func:`check_perturbations`): a step that vanishes against ``x_i`` (``x + h == x``), or is
mostly rounding, or a point ``x + o*h`` that overflows, is refused with a ``ValueError`` rather
than giving a silent 0 or NaN. :func:`optimal_step` is the step rule for any formula once the
size of the higher derivative it neglects is known (a pilot estimate).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from .._validation import check_float, describe
from .fornberg import EPS, Formula
from .stencils import ComplexStep, Stencil

if TYPE_CHECKING:
    from .rules import Rule

#: Most steps ``step="adaptive"`` tries (numdifftools' default sequence has 15 as well).
ADAPTIVE_RUNGS = 15

#: Largest relative error of a perturbation ``(x + o*h) - x`` against ``o*h`` accepted.
STEP_ROUNDING_TOLERANCE = 0.01

#: The string values ``step`` accepts besides numbers and arrays.
STEP_RULES = ("adaptive",)


def nearest_power_of_two(values: np.ndarray) -> np.ndarray:
    """Round positive ``values`` to the nearest power of two (in log scale)."""
    return np.exp2(np.round(np.log2(values)))


def default_steps(x: np.ndarray, stencil: Stencil | ComplexStep | Rule) -> np.ndarray:
    """The method's near-optimal float64 step for every entry of ``x``."""
    _check_default(stencil)
    scale = np.maximum(1.0, np.abs(x))
    return nearest_power_of_two(stencil.default_step * scale)


def _check_default(method: object) -> None:
    step = getattr(method, "default_step", None)
    if (
        not isinstance(step, numbers.Real)
        or isinstance(step, bool)
        or not math.isfinite(step)
        or step <= 0
    ):
        name = getattr(method, "name", method)
        raise ValueError(
            f"method {name!r} has default_step={step!r}; a default step must be positive and "
            "finite (pass step= explicitly)."
        )


def adaptive_base_steps(x: np.ndarray, reach: float = 1.0) -> np.ndarray:
    """Largest step of the adaptive sequence for every entry of ``x`` (a power of two).

    numdifftools' nominal step ``max(1, log(e - 1 + |x|))``, but never below ``2**-16 |x|``
    (which takes over beyond ``|x| ~ 1e6``), so that the smallest of the
    :data:`ADAPTIVE_RUNGS` halvings, ``2**-30 |x|``, still resolves ``x`` to about ``1e-6``
    and keeps the rounding error of ``f ~ x`` functions small; divided by the ``reach`` of the
    formula (its largest offset).
    """
    nominal = np.maximum(np.log(np.e - 1.0 + np.abs(x)), 1.0)
    nominal = np.maximum(nominal, np.abs(x) * 2.0**-16)
    return nearest_power_of_two(nominal / reach)


def perturbation_problem(
    value: float, offset: complex, step: float, index: int, name: str = "step"
) -> str | None:
    """Why ``x_i + offset*h`` is not a usable point, or ``None`` if it is.

    The point is refused when it overflows float64, or when the perturbation actually made,
    ``(x_i + o*h) - x_i``, is off ``o*h`` by more than :data:`STEP_ROUNDING_TOLERANCE`
    (``x + h == x`` included); a complex offset needs a non-zero imaginary part ``Im(o) h``.
    """
    delta = complex(offset) * step
    with np.errstate(over="ignore", invalid="ignore"):
        point = np.float64(value) + np.float64(delta.real)
        moved = float(point - np.float64(value))
    if not np.isfinite(point):
        return (
            f"x + {format_offset(offset)}*h overflows float64 at entry {index}: x[{index}] = "
            f"{value:g}, h = {step:g}; differentiate a rescaled function or pass a smaller {name}."
        )
    if abs(moved - delta.real) > STEP_ROUNDING_TOLERANCE * abs(delta.real):
        spacing = float(np.spacing(max(abs(value), abs(float(point)))))
        what = "== x" if moved == 0 else f"moves x by {moved:.3g}, not {delta.real:.3g}"
        least = spacing / STEP_ROUNDING_TOLERANCE / abs(offset.real)
        return (
            f"{name} h = {step:.3g} vanishes against x[{index}] = {value:.17g}: "
            f"x + {format_offset(offset)}*h {what} in float64 (floats there are {spacing:.3g} "
            f"apart); use a step of at least {least:.3g}."
        )
    if complex(offset).imag != 0 and delta.imag == 0:
        return f"{name} h = {step:.3g} underflows in the complex step i*h at entry {index}."
    return None


def format_offset(offset: complex) -> str:
    """``1``, ``-2``, ``0.5`` for real offsets; ``(1+1i)`` for complex ones."""
    offset = complex(offset)
    if offset.imag == 0:
        return f"{offset.real:g}"
    if offset.real == 0:
        return f"{offset.imag:g}i"
    return f"({offset.real:g}{offset.imag:+g}i)"


def check_perturbations(
    x: np.ndarray, steps: np.ndarray, offsets: Iterable[complex], name: str = "step"
) -> None:
    """Raise ``ValueError`` unless every point ``x_i + o*h_i`` is usable.

    Parameters
    ----------
    x, steps : ndarray
        Point and per-entry steps (same shape).
    offsets : iterable of numbers
        The offsets the formula evaluates, in units of the step.
    name : str
        Name of the argument the steps came from, for the message.

    Raises
    ------
    ValueError
        If a point overflows float64, or the step vanishes against ``x_i``: the difference
        quotient would be 0, NaN or mostly rounding (see :func:`perturbation_problem`).
    """
    flat_x, flat_h = x.reshape(-1), steps.reshape(-1)
    for offset in sorted({complex(o) for o in offsets if o != 0}, key=abs, reverse=True):
        with np.errstate(over="ignore", invalid="ignore"):
            delta = offset.real * flat_h
            point = flat_x + delta
            moved = point - flat_x
            bad = ~np.isfinite(point) | (
                np.abs(moved - delta) > STEP_ROUNDING_TOLERANCE * np.abs(delta)
            )
        if offset.imag != 0:
            bad |= offset.imag * flat_h == 0
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(perturbation_problem(float(flat_x[i]), offset, flat_h[i], i, name))


def optimal_step(
    formula: Formula | Stencil,
    higher_derivative: float,
    f_scale: float = 1.0,
    eps: float = EPS,
) -> float:
    """The step that minimises the error of ``formula`` given its neglected derivative.

    A formula for ``f^(m)`` of order ``p`` with error constant ``C`` and noise gain ``S`` has the
    error ``eps S |f| / h**m + |C f^(m+p)| h**p``, smallest at

    .. math::  h^* = \\left(\\frac{m\\, \\varepsilon S |f|}{p\\, |C f^{(m+p)}|}\\right)^{1/(m+p)}.

    The default steps assume ``|f^(m+p)| ~ (m+p)! |f|``; with a pilot estimate of
    ``f^(m+p)`` (e.g. ``derivative(f, x, n=m+p, step="adaptive")``) this gives the step for the
    function at hand.

    Parameters
    ----------
    formula : Formula or Stencil
        The finite-difference formula (a stencil stands for its exact formula).
    higher_derivative : float
        Estimate of ``f^(m+p)`` near ``x`` (its sign is ignored; must be non-zero).
    f_scale : float, default 1.0
        Size of the function values ``|f|``, which sets the rounding error.
    eps : float, default machine epsilon
        Relative rounding error of one value of ``f``.

    Examples
    --------
    >>> from deep_learning_toolkit.numdiff import get_stencil
    >>> h = optimal_step(get_stencil("central"), higher_derivative=1.0)
    >>> round(h / EPS ** (1 / 3), 6)  # (3 eps)**(1/3) for C = 1/6, S = 1
    1.44225
    """
    if isinstance(formula, Stencil):
        formula = formula.formula
    if not isinstance(formula, Formula):
        raise TypeError(f"formula must be a Formula or a Stencil; got {describe(formula)}.")
    derivative = abs(check_float("higher_derivative", higher_derivative))
    if derivative == 0:
        raise ValueError(
            "higher_derivative must be non-zero; got 0 (the truncation error vanishes, so no "
            "step balances it: any step is exact up to rounding)."
        )
    scale = check_float("f_scale", f_scale, positive=True)
    eps = check_float("eps", eps, positive=True)
    m, p = formula.derivative, formula.order
    constant = float(abs(formula.error_constant))
    return (m * eps * formula.noise_gain * scale / (p * constant * derivative)) ** (1 / (m + p))


def resolve_steps(
    x: np.ndarray, stencil: Stencil | ComplexStep | Rule, step: object = None
) -> np.ndarray:
    """Return one positive, finite step per entry of ``x`` (same shape as ``x``).

    Parameters
    ----------
    x : ndarray
        The point of differentiation.
    stencil : Stencil, ComplexStep or Rule
        The method, which supplies the default step.
    step : None, float or array-like
        ``None`` for the default; a positive scalar used for every entry; or an array of
        per-entry steps with the shape of ``x`` (or broadcastable to it).

    Raises
    ------
    ValueError, TypeError
        If a step is not positive and finite, or the array does not fit ``x``; ``"adaptive"``
        is refused here because it needs evaluations of ``f`` (only
        :func:`~deep_learning_toolkit.numdiff.gradient.gradient` offers it).
    """
    if step is None:
        return default_steps(x, stencil)
    if isinstance(step, str):
        if step in STEP_RULES:
            raise ValueError(
                f"step={step!r} needs evaluations of f and is only available in "
                "numdiff.gradient / derivative / jacobian / hessian; here pass None, a positive "
                "number or an array of steps."
            )
        raise ValueError(
            f"step must be None, 'adaptive', a positive number or an array of them; got {step!r}."
        )
    if isinstance(step, bool):
        raise TypeError(f"step must be a positive number or an array of them; got {step!r}.")
    if isinstance(step, numbers.Real):
        value = float(step)
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"step must be positive and finite; got {value}.")
        return np.full(x.shape, value)
    try:
        steps = np.asarray(step, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"step must be None, a positive number or an array of them; got {describe(step)}."
        ) from None
    try:
        steps = np.broadcast_to(steps, x.shape).astype(np.float64, copy=True)
    except ValueError:
        raise ValueError(
            f"step array of shape {steps.shape} does not match x of shape {x.shape}."
        ) from None
    bad = ~(np.isfinite(steps) & (steps > 0))
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"step must be positive and finite everywhere; got {steps[index]} at index {index}."
        )
    return steps
