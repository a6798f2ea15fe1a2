"""Gradient checking: compare a claimed gradient with a numerical one, with an honest tolerance.

:func:`check_gradient` takes any function and a claimed gradient (say, hand-derived or from an
autodiff framework); :func:`~deep_learning_toolkit.check_model_gradient` (in ``gradients``) a
model and a claimed gradient of its loss. Both compute the numerical gradient *with its error
estimate* (the formula at ``h`` and ``2h``, see :mod:`~deep_learning_toolkit.numdiff.richardson`)
and accept entry ``i`` when

.. math::  |g^{num}_i - g^{claim}_i| \\le \\mathrm{rtol} \\max(|g^{num}_i|, |g^{claim}_i|)
           + \\mathrm{atol}_i,

with

* ``rtol = SAFETY * E``: ``E`` is the relative error the method's error theory promises at its
  default step (``eps S / h + K h**p`` for a stencil, ``eps`` for the complex step; see
  :attr:`~deep_learning_toolkit.numdiff.Stencil.expected_error`);
* ``atol_i = SAFETY * (e_i + eps * max_j |g^{num}_j|)``: ``e_i`` is the estimated error of the
  numerical entry and the second term the rounding of the claimed gradient itself, whose
  entries are sums of terms as large as the largest entry.

The report gives the plain relative errors ``|g^num - g^claim| / max(|g^num|, |g^claim|)``
(max and median), the entries that are furthest out of tolerance with their names (layer and
index for models), and the verdict. A sign flipped in an entry that is not negligible (larger
than its ``atol``) is caught by every method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validation import check_array, check_float, check_int
from .fornberg import EPS
from .gradient import gradient_details
from .richardson import richardson_stencil
from .stencils import ComplexStep, Stencil, get_method

#: Factor between the error theory (or estimate) and the tolerance of a check.
SAFETY = 10.0


@dataclass(frozen=True)
class CheckedEntry:
    """One entry of a gradient check.

    Attributes
    ----------
    index : int or tuple of int
        Position in ``x`` (flat index for models).
    name : str
        ``"x[i, j]"`` or, for models, e.g. ``"layers[0].W[2, 5]"``.
    claimed, numerical : float
        The two values.
    relative_error : float
        ``|numerical - claimed| / max(|numerical|, |claimed|)``.
    allowed : float
        The largest ``|numerical - claimed|`` accepted for this entry.
    """

    index: int | tuple[int, ...]
    name: str
    claimed: float
    numerical: float
    relative_error: float
    allowed: float

    @property
    def ratio(self) -> float:
        """``|numerical - claimed| / allowed``: above 1 means the entry fails."""
        return abs(self.numerical - self.claimed) / self.allowed if self.allowed else np.inf

    def __str__(self) -> str:
        return (
            f"{self.name:<22} claimed {self.claimed: .6e}  numerical {self.numerical: .6e}  "
            f"rel. error {self.relative_error:.1e}  ({self.ratio:.2g} x allowed)"
        )


@dataclass(frozen=True)
class GradientCheck:
    """The report of a gradient check.

    Attributes
    ----------
    passed : bool
        Whether every entry is within tolerance.
    method : str
        The numerical method.
    rtol : float
        Relative tolerance used.
    max_relative_error, median_relative_error : float
        Over all entries.
    worst : tuple of CheckedEntry
        The entries furthest out of tolerance (largest ``ratio`` first).
    failures : int
        Number of entries out of tolerance.
    claimed, numerical, error_estimate, allowed : ndarray
        Per entry, shaped like ``x``.
    evaluations : int
        Function (loss) evaluations spent.
    """

    passed: bool
    method: str
    rtol: float
    max_relative_error: float
    median_relative_error: float
    worst: tuple[CheckedEntry, ...]
    failures: int
    claimed: np.ndarray
    numerical: np.ndarray
    error_estimate: np.ndarray
    allowed: np.ndarray
    evaluations: int

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        """A few lines for people: verdict, errors, tolerance and the worst entries."""
        entries = "entry" if self.failures == 1 else "entries"
        verdict = (
            "PASSED" if self.passed else f"FAILED ({self.failures} {entries} out of tolerance)"
        )
        lines = [
            f"Gradient check with {self.method} ({self.claimed.size} entries, "
            f"{self.evaluations} evaluations): {verdict}",
            f"relative error: max {self.max_relative_error:.2e}, median "
            f"{self.median_relative_error:.2e}; rtol {self.rtol:.1e} plus the estimated "
            "error of each numerical entry",
            "worst entries:",
        ]
        lines += [f"  {entry}" for entry in self.worst]
        return "\n".join(lines)

    __str__ = summary


def default_rtol(method: Stencil | ComplexStep) -> float:
    """``SAFETY`` times the relative error the method's error theory promises."""
    return SAFETY * method.expected_error


def _index_name(shape: tuple[int, ...]) -> Callable[[int], tuple[int | tuple[int, ...], str]]:
    def name(flat: int):
        if len(shape) <= 1:
            return flat, f"x[{flat}]"
        index = tuple(int(i) for i in np.unravel_index(flat, shape))
        return index, "x[" + ", ".join(map(str, index)) + "]"

    return name


def compare_gradients(
    numerical: np.ndarray,
    claimed: np.ndarray,
    error: np.ndarray,
    *,
    method: str,
    rtol: float,
    atol: float | None,
    evaluations: int,
    name: Callable[[int], tuple[int | tuple[int, ...], str]],
    n_worst: int = 5,
) -> GradientCheck:
    """Build the report from a numerical gradient, its error estimate and a claimed gradient.

    ``atol=None`` uses ``SAFETY * (error + eps * max |numerical|)`` per entry (see the module
    notes); a number replaces it.
    """
    difference = np.abs(numerical - claimed)
    size = np.maximum(np.abs(numerical), np.abs(claimed))
    relative = np.divide(difference, size, out=np.zeros_like(size), where=size > 0)
    relative[(size == 0) & (difference > 0)] = np.inf
    if atol is None:
        absolute = SAFETY * (error + EPS * np.max(np.abs(numerical)))
    else:
        absolute = np.full(numerical.shape, atol)
    allowed = rtol * size + absolute
    out = difference > allowed
    ratio = np.divide(difference, allowed, out=np.zeros_like(size), where=allowed > 0)
    ratio[(allowed == 0) & (difference > 0)] = np.inf
    order = np.argsort(-ratio.reshape(-1), kind="stable")[:n_worst]
    worst = []
    for flat in order:
        index, label = name(int(flat))
        worst.append(
            CheckedEntry(
                index,
                label,
                float(claimed.reshape(-1)[flat]),
                float(numerical.reshape(-1)[flat]),
                float(relative.reshape(-1)[flat]),
                float(allowed.reshape(-1)[flat]),
            )
        )
    return GradientCheck(
        passed=not bool(out.any()),
        method=method,
        rtol=rtol,
        max_relative_error=float(np.max(relative)),
        median_relative_error=float(np.median(relative)),
        worst=tuple(worst),
        failures=int(out.sum()),
        claimed=claimed,
        numerical=numerical,
        error_estimate=error,
        allowed=allowed,
        evaluations=evaluations,
    )


def _tolerances(
    method: Stencil | ComplexStep, rtol: object, atol: object
) -> tuple[float, float | None]:
    rtol = default_rtol(method) if rtol is None else check_float("rtol", rtol, nonnegative=True)
    atol = None if atol is None else check_float("atol", atol, nonnegative=True)
    return rtol, atol


def _claimed(grad: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    claimed = check_array("grad", grad)
    if claimed.shape != shape:
        if claimed.size == int(np.prod(shape)):
            return claimed.reshape(shape)
        raise ValueError(f"grad must have the shape of {what} {shape}; got {claimed.shape}.")
    return claimed


def check_gradient(
    f: Callable[[np.ndarray], float],
    x: object,
    grad: object,
    method: str | Stencil | ComplexStep = "three_point_midpoint",
    rtol: float | None = None,
    *,
    atol: float | None = None,
    step: object = None,
    richardson: int = 0,
    n_worst: int = 5,
) -> GradientCheck:
    """Check a claimed gradient of ``f`` at ``x`` against a numerical one.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` (complex-safe for ``method="complex_step"``).
    x : array-like
        The point.
    grad : array-like or callable
        The claimed gradient, shaped like ``x``, or a function ``grad(x)`` returning it.
    method : str or Stencil
        Numerical method (``"complex_step"`` included).
    rtol : float, optional
        Relative tolerance; default ``SAFETY`` times the method's theoretical error.
    atol : float, optional
        Absolute tolerance per entry; default from the estimated error of each numerical entry.
    step, richardson
        As in :func:`~deep_learning_toolkit.numdiff.gradient`.
    n_worst : int, default 5
        Entries listed in the report.

    Returns
    -------
    GradientCheck
        Truthy when the check passes; ``print(report)`` shows the details.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda v: float(np.sum(np.sin(v)))
    >>> x = np.array([0.1, 0.7, -1.2])
    >>> bool(check_gradient(f, x, np.cos(x))), bool(check_gradient(f, x, -np.cos(x)))
    (True, False)
    """
    x = check_array("x", x, allow_empty=False)
    if callable(grad):
        grad = grad(x.copy())
    claimed = _claimed(grad, x.shape, "x")
    n_worst = check_int("n_worst", n_worst, minimum=1)
    resolved = get_method(method)
    if isinstance(resolved, Stencil):
        resolved = richardson_stencil(resolved, richardson)
    rtol, atol = _tolerances(resolved, rtol, atol)
    result = gradient_details(f, x, method, step, richardson=richardson, estimate_error=True)
    assert result.error is not None  # estimate_error=True fills it
    return compare_gradients(
        result.gradient,
        claimed,
        result.error,
        method=result.method,
        rtol=rtol,
        atol=atol,
        evaluations=result.evaluations,
        name=_index_name(x.shape),
        n_worst=n_worst,
    )
