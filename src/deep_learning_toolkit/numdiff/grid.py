r"""The fixed-point grid on which in-place perturbations are exact, in float64 and float32.

In floating point ``(x + d) - d`` is not ``x`` in general, and no rule can undo an absolute
shift of every float exactly: there are far more floats in ``(-d, d)`` than in ``(0, 2d)``.
The zeroth-order passes therefore keep the parameters on a grid during a step: multiples of
a power of two ``q`` chosen from a bound ``M`` on every magnitude the step reaches
(``max|theta| + 2 * scale * Z``, ``Z`` bounding ``|z|``) so that ``M < 2**p * q``, ``p`` being
the precision of the dtype (53 bits for float64, 24 for float32). Every multiple of ``q`` up
to ``M`` in magnitude is then a float of that dtype, every shift is rounded to a multiple of
``q``, and every sum along the way is exact: the shifts give back the same bits.

Snapping to the grid moves an entry by at most ``q / 2 ~ 2**-p M``, less than one rounding
of an addition at the largest parameter; entries already on the grid are left untouched.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

#: Smallest ``scale / q`` accepted per dtype: below it the grid would round the shifts to
#: nothing useful (float64: 2**-33 of the largest parameter; float32: 2**-18 of it, so a
#: scale of 1e-3 serves parameters up to ~260).
MIN_RESOLUTION: dict[np.dtype, float] = {
    np.dtype(np.float64): 2.0**20,
    np.dtype(np.float32): 2.0**6,
}


class ScaleTooSmallError(ValueError):
    """The perturbation scale is below the resolution of parameters this large (in training,
    a sign that the parameters diverged).

    Attributes
    ----------
    largest : float
        The magnitude the parameters reached (or an update would have made them reach).
    """

    def __init__(self, message: str, largest: float = math.nan) -> None:
        super().__init__(message)
        self.largest = largest


def precision(dtype: np.dtype) -> int:
    """Bits of the significand of ``dtype``: 53 for float64, 24 for float32."""
    return int(np.finfo(dtype).nmant) + 1


def quantum_for(bound: float, dtype: np.dtype) -> float:
    """The power of two ``q`` with ``bound < 2**precision * q`` (the finest such)."""
    return math.ldexp(1.0, math.frexp(bound)[1] - precision(dtype))


def largest_magnitude(flat: np.ndarray, block: int = 1 << 16) -> float:
    """``max|flat|``; raises ``ValueError`` naming the first NaN or infinity.

    Block by block, so that the minimum reads what the maximum brought into the cache: one
    sweep over memory.
    """
    largest = 0.0
    for start in range(0, flat.size, block):
        part = flat[start : start + block]
        top, bottom = float(part.max()), float(part.min())
        if not (math.isfinite(top) and math.isfinite(bottom)):
            bad = start + int(np.flatnonzero(~np.isfinite(part))[0])
            raise ValueError(
                f"theta contains {flat[bad]} at index {bad}; parameters must be finite."
            )
        largest = max(largest, top, -bottom)
    return largest


def grid_quantum(largest: float, reach: float, scale: float, dtype: np.dtype) -> float:
    """The grid for parameters up to ``largest`` shifted by up to ``reach``.

    Raises
    ------
    ScaleTooSmallError
        If ``scale`` is below :data:`MIN_RESOLUTION` grid steps, the bound is not finite, or
        the grid would fall among the subnormal numbers of ``dtype``.
    """
    dtype = np.dtype(dtype)
    bound = largest + reach
    if not math.isfinite(bound) or bound >= float(np.finfo(dtype).max) / 2:
        raise ScaleTooSmallError(
            f"parameters as large as {largest:g} are beyond the range of {dtype.name} "
            "perturbations.",
            largest,
        )
    quantum = quantum_for(bound, dtype)
    resolution = MIN_RESOLUTION[dtype]
    if scale < resolution * quantum:
        relative = precision(dtype) - int(math.log2(resolution))
        raise ScaleTooSmallError(
            f"scale={scale:g} is too small for parameters as large as {largest:g}: "
            f"it must be at least {resolution * quantum:g} (2**-{relative} of max|theta| "
            f"in {dtype.name}).",
            largest,
        )
    if quantum < float(np.finfo(dtype).tiny):
        raise ScaleTooSmallError(
            f"scale={scale:g} is too small for {dtype.name}: the perturbation grid would be "
            f"{quantum:g}, below its smallest normal number.",
            largest,
        )
    return quantum


def snap_block(part: np.ndarray, quantum: float) -> None:
    """Round ``part`` in place to multiples of the power of two ``quantum`` (no checks)."""
    kind = part.dtype.type
    part *= kind(1.0 / quantum)
    np.rint(part, out=part)
    part *= kind(quantum)
    part += kind(0.0)  # -0.0 (from rounding small negatives) becomes +0.0, as x + d - d gives


def snap_to_grid(theta: np.ndarray, quantum: float, block: int = 1 << 16) -> None:
    """Round ``theta`` in place to the nearest multiples of the power of two ``quantum``.

    Each entry moves by at most ``quantum / 2``; entries already on the grid keep their bits
    (``-0.0`` becomes ``+0.0``, the zero that the shifts give back). Scaling by a power of
    two and ``rint`` are exact, so nothing else changes. ``theta`` is a C-contiguous float32
    or float64 array.
    """
    if (
        isinstance(quantum, bool)
        or not isinstance(quantum, numbers.Real)
        or not (0 < quantum < math.inf and math.frexp(quantum)[0] == 0.5)
    ):
        raise ValueError(f"quantum must be a positive power of two; got {quantum!r}.")
    flat = theta.reshape(-1)
    for start in range(0, flat.size, block):
        snap_block(flat[start : start + block], quantum)
