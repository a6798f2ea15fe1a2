"""Step sizes for finite differences: defaults, user-given steps, and their checks.

The rule lives here once: the default step of parameter ``i`` is
``stencil.default_step * max(1, |x_i|)``, rounded to the nearest power of two. A power of two
is exactly representable and, being far above the spacing of float64 numbers near ``x_i``,
makes ``(x_i + o*h) - x_i == o*h`` exact for the small integer offsets of the stencils.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import describe
from .stencils import Stencil


def nearest_power_of_two(values: np.ndarray) -> np.ndarray:
    """Round positive ``values`` to the nearest power of two (in log scale)."""
    return np.exp2(np.round(np.log2(values)))


def default_steps(x: np.ndarray, stencil: Stencil) -> np.ndarray:
    """The stencil's near-optimal float64 step for every entry of ``x``."""
    scale = np.maximum(1.0, np.abs(x))
    return nearest_power_of_two(stencil.default_step * scale)


def resolve_steps(x: np.ndarray, stencil: Stencil, step: object = None) -> np.ndarray:
    """Return one positive, finite step per entry of ``x`` (same shape as ``x``).

    Parameters
    ----------
    x : ndarray
        The point of differentiation.
    stencil : Stencil
        The formula, which supplies the default step.
    step : None, float or array-like
        ``None`` for the default; a positive scalar used for every entry; or an array of
        per-entry steps with the shape of ``x`` (or broadcastable to it).

    Raises
    ------
    ValueError, TypeError
        If a step is not positive and finite, or the array does not fit ``x``.
    """
    if step is None:
        return default_steps(x, stencil)
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
