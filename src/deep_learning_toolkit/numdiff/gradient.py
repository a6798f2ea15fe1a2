"""Numerical derivatives and gradients of any Python function.

One evaluator serves every stencil: for each entry ``x_i`` and each perturbed offset ``o_k``
of the formula it evaluates ``f(x + o_k h_i e_i)``, and combines the values with the weights.
``f(x)`` itself is evaluated once per gradient, and only when the formula uses it. This is the
plain per-parameter definition, and the reference against which the batched engine
(:mod:`deep_learning_toolkit.numdiff.engine`) is tested.

On top of it:

* ``richardson=n`` replaces the formula by its ``n``-times Richardson-extrapolated stencil
  (:mod:`~deep_learning_toolkit.numdiff.richardson`);
* ``full_output=True`` also evaluates the formula at twice the step and returns an error
  estimate per entry, ``|D(h) - D(2h)| / (2**p - 1) + eps |f| S / h``;
* ``step="adaptive"`` evaluates the formula on a ladder of steps ``default * 2**k``
  (:func:`~deep_learning_toolkit.numdiff.steps.step_ladder`) and keeps, per entry, the step
  whose estimated error is smallest;
* ``method="complex_step"`` evaluates a complex-safe ``f`` once per entry at ``x + i h e_i``
  (:mod:`~deep_learning_toolkit.numdiff.complex_step`).

Evaluations at offsets shared by several of these formulas (``2h`` of one is ``h`` of
another) are made once.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .._validation import check_array, check_choice, check_int, describe
from . import complex_step
from .fornberg import EPS
from .richardson import MAX_LEVELS, error_estimate, richardson_stencil
from .stencils import ComplexStep, Stencil, get_method
from .steps import STEP_RULES, default_steps, resolve_steps, step_ladder


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
        Number of calls of ``f``: ``k * x.size`` plus one when the formula uses ``f(x)``, plus
        those spent on the error estimate or the adaptive search.
    steps : ndarray
        The step used for each entry, shaped like ``x`` (the smallest step of a Richardson
        stencil).
    method : str
        Name of the formula (``"<name>+richardson<n>"`` when extrapolated).
    error : ndarray or None
        Estimated absolute error per entry, shaped like ``x``, when it was asked for
        (``full_output=True``) or came for free (``step="adaptive"``).
    """

    gradient: np.ndarray
    value: float | None
    evaluations: int
    steps: np.ndarray
    method: str
    error: np.ndarray | None = None


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


@dataclass
class _Samples:
    """``f(x)`` (if needed) and ``f(x + o h_i e_i)`` for a set of offsets ``o``."""

    center: float | None
    values: dict[float, np.ndarray]  # offset -> one value per entry
    evaluations: int

    def apply(self, stencil: Stencil, steps: np.ndarray) -> np.ndarray:
        """The formula ``sum w f(x + o h e_i) / h`` for every entry (flat)."""
        total = np.zeros(steps.size)
        if stencil.uses_center:
            total += stencil.center_weight * self.center
        for offset, weight in stencil.perturbed:
            total += weight * self.values[offset]
        return total / steps

    def scale(self) -> np.ndarray:
        """``max |f|`` over the samples of each entry: the size of the rounding errors."""
        scale = np.max(np.abs(np.stack(list(self.values.values()))), axis=0)
        return scale if self.center is None else np.maximum(scale, abs(self.center))


def _sample(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    steps: np.ndarray,
    stencils: Iterable[Stencil],
) -> _Samples:
    """Evaluate ``f`` at every point the ``stencils`` need (each point once)."""
    stencils = list(stencils)
    offsets = sorted({o for s in stencils for o, _ in s.perturbed})
    point = x.copy()
    flat_point = point.reshape(-1)
    flat_x = x.reshape(-1)
    flat_steps = steps.reshape(-1)
    center = None
    evaluations = 0
    if any(s.uses_center for s in stencils):
        center = _call(f, point, "at x")
        evaluations += 1
    values = {o: np.empty(x.size) for o in offsets}
    for i in range(x.size):
        for offset in offsets:
            flat_point[i] = flat_x[i] + offset * flat_steps[i]
            values[offset][i] = _call(f, point, f"at x + {offset:g}*h*e_{i}")
            evaluations += 1
        flat_point[i] = flat_x[i]
    return _Samples(center, values, evaluations)


def _adaptive(f, x: np.ndarray, stencil: Stencil) -> GradientResult:
    """Per-entry step with the smallest estimated error on the ladder ``default * 2**k``."""
    base = default_steps(x, stencil).reshape(-1)
    ladder = step_ladder()
    rungs = [stencil.scaled(float(m)) for m in ladder]
    samples = _sample(f, x, base.reshape(x.shape), rungs)
    estimates = np.stack([samples.apply(rung, base) for rung in rungs])  # (rungs, size)
    gaps = np.abs(np.diff(estimates, axis=0))  # gaps[k] = |D_k - D_{k+1}|
    # Error of candidate k: the larger of its two neighbouring gaps (a single gap can vanish
    # by accident), scaled as in Richardson's estimate, plus the rounding floor.
    truncation = np.maximum(gaps[:-1], gaps[1:]) / (2.0**stencil.order - 1.0)
    steps = base[None, :] * ladder[1:-1, None]
    rounding = EPS * samples.scale() * stencil.noise_gain / steps
    error = truncation + rounding
    best = np.argmin(error, axis=0)
    entries = np.arange(x.size)
    return GradientResult(
        estimates[1:-1][best, entries].reshape(x.shape),
        samples.center,
        samples.evaluations,
        steps[best, entries].reshape(x.shape),
        stencil.name,
        error[best, entries].reshape(x.shape),
    )


def _complex(
    f, x: np.ndarray, method: ComplexStep, step: object, estimate_error: bool
) -> GradientResult:
    if isinstance(step, str):
        check_choice("step", step, STEP_RULES)
        step = None  # no cancellation: the default step is already optimal
    steps = resolve_steps(x, method, step)
    grad, evaluations = complex_step.function_gradient(f, x, steps)
    error = None
    if estimate_error:
        coarse, more = complex_step.function_gradient(f, x, 2.0 * steps)
        evaluations += more
        error = np.abs(grad - coarse) / (2.0**method.order - 1.0) + EPS * np.abs(grad)
    return GradientResult(grad, None, evaluations, steps, method.name, error)


def gradient_details(
    f: Callable[[np.ndarray], float],
    x: object,
    method: str | Stencil | ComplexStep = "three_point_midpoint",
    step: object = None,
    *,
    richardson: int = 0,
    estimate_error: bool = False,
) -> GradientResult:
    """Gradient of ``f`` at ``x`` with its step sizes, evaluation count and error estimate.

    See :func:`gradient` for the parameters; ``estimate_error=True`` fills
    :attr:`GradientResult.error` (what ``gradient(..., full_output=True)`` returns).
    """
    method = get_method(method)
    if not callable(f):
        raise TypeError(f"f must be callable; got {describe(f)}.")
    x = check_array("x", x, allow_empty=False)
    richardson = check_int("richardson", richardson, minimum=0, maximum=MAX_LEVELS)
    if isinstance(method, ComplexStep):
        if richardson:
            raise ValueError(
                f"richardson={richardson} applies to finite-difference stencils; the complex "
                "step has no cancellation and its default step is already exact to rounding."
            )
        return _complex(f, x, method, step, estimate_error)
    stencil = richardson_stencil(method, richardson)
    if isinstance(step, str):
        check_choice("step", step, STEP_RULES)
        return _adaptive(f, x, stencil)
    steps = resolve_steps(x, stencil, step)
    stencils = [stencil, stencil.scaled(2.0)] if estimate_error else [stencil]
    samples = _sample(f, x, steps, stencils)
    flat_steps = steps.reshape(-1)
    grad = samples.apply(stencil, flat_steps)
    error = None
    if estimate_error:
        coarse = samples.apply(stencils[1], flat_steps)
        error = error_estimate(
            grad, coarse, stencil.order, samples.scale(), flat_steps, stencil.noise_gain
        ).reshape(x.shape)
    return GradientResult(
        grad.reshape(x.shape), samples.center, samples.evaluations, steps, stencil.name, error
    )


def gradient(
    f: Callable[[np.ndarray], float],
    x: object,
    method: str | Stencil | ComplexStep = "three_point_midpoint",
    step: object = None,
    *,
    richardson: int = 0,
    full_output: bool = False,
) -> np.ndarray | GradientResult:
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
        One of :data:`~deep_learning_toolkit.numdiff.METHODS` (or ``"central"``),
        ``"complex_step"``, or any :class:`~deep_learning_toolkit.numdiff.Stencil`
        (e.g. from :func:`~deep_learning_toolkit.numdiff.make_stencil`).
    step : None, float, array-like or "adaptive"
        ``None`` (default): the method's near-optimal float64 step scaled by
        ``max(1, |x_i|)``, rounded to a power of two; a positive scalar; per-entry steps; or
        ``"adaptive"``: per entry, the step of the ladder ``default * 2**k`` (``|k| <= 8``)
        with the smallest estimated error (about ``2 * 19 * k`` evaluations per entry for a
        ``k``-point formula; for the complex step it is the default step).
    richardson : int, default 0
        Levels of Richardson extrapolation over the steps ``h, 2h, ..., 2**n h`` (``h``, the
        step above, is the smallest). Not for the complex step.
    full_output : bool, default False
        Return a :class:`GradientResult` with the gradient, its estimated error per entry, the
        evaluation count and the steps, instead of the gradient alone. The estimate compares
        the formula at ``h`` and ``2h``, which costs the evaluations at ``2h`` not shared.

    Returns
    -------
    ndarray or GradientResult
        The gradient, shaped like ``x`` (or the result object with ``full_output=True``).

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
    if not isinstance(full_output, (bool, np.bool_)):
        raise TypeError(f"full_output must be True or False; got {describe(full_output)}.")
    result = gradient_details(
        f, x, method, step, richardson=richardson, estimate_error=bool(full_output)
    )
    return result if full_output else result.gradient


def derivative(
    f: Callable[[float], float],
    x: float,
    method: str | Stencil | ComplexStep = "three_point_midpoint",
    step: float | str | None = None,
    *,
    richardson: int = 0,
    full_output: bool = False,
) -> float | GradientResult:
    """Numerical derivative of a scalar function of one variable.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` for a float ``x`` (a complex ``x`` with ``method="complex_step"``).
    x : float
        Point of differentiation.
    method : str or Stencil
        As in :func:`gradient`.
    step : float, "adaptive" or None
        Step size; ``None`` for the method's default.
    richardson : int, default 0
        Levels of Richardson extrapolation.
    full_output : bool, default False
        Return a :class:`GradientResult` (arrays of shape ``(1,)``) instead of a float.

    Returns
    -------
    float or GradientResult
    """
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"x must be a real number; got {describe(x)}.")
    if not callable(f):
        raise TypeError(f"f must be callable; got {describe(f)}.")
    result = gradient(
        lambda v: f(v[0].item()),
        np.array([float(x)]),
        method,
        step,
        richardson=richardson,
        full_output=full_output,
    )
    return result if full_output else float(result[0])
