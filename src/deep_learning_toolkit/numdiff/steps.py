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

``step="adaptive"`` (in :func:`~deep_learning_toolkit.numdiff.gradient.gradient`) tries the
ladder ``default * 2**k`` for ``|k| <= ADAPTIVE_SPAN`` and keeps, per parameter, the step with
the smallest estimated error; :func:`step_ladder` gives its rungs.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import describe
from .stencils import ComplexStep, Stencil

#: Powers of two tried on each side of the default step by ``step="adaptive"``.
ADAPTIVE_SPAN = 8

#: The string values ``step`` accepts besides numbers and arrays.
STEP_RULES = ("adaptive",)


def nearest_power_of_two(values: np.ndarray) -> np.ndarray:
    """Round positive ``values`` to the nearest power of two (in log scale)."""
    return np.exp2(np.round(np.log2(values)))


def default_steps(x: np.ndarray, stencil: Stencil | ComplexStep) -> np.ndarray:
    """The method's near-optimal float64 step for every entry of ``x``."""
    scale = np.maximum(1.0, np.abs(x))
    return nearest_power_of_two(stencil.default_step * scale)


def step_ladder(span: int = ADAPTIVE_SPAN) -> np.ndarray:
    """Multipliers ``2**k`` for ``k = -span - 1, ..., span + 1`` of the adaptive search.

    The candidates are the inner ``2 * span + 1`` rungs; the outer two only serve the error
    estimates of their neighbours.
    """
    return np.exp2(np.arange(-span - 1, span + 2, dtype=np.float64))


def resolve_steps(x: np.ndarray, stencil: Stencil | ComplexStep, step: object = None) -> np.ndarray:
    """Return one positive, finite step per entry of ``x`` (same shape as ``x``).

    Parameters
    ----------
    x : ndarray
        The point of differentiation.
    stencil : Stencil or ComplexStep
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
                "numdiff.gradient / numdiff.gradient_details; here pass None, a positive "
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
