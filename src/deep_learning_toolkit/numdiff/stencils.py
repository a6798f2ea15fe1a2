"""The finite-difference formulas, as data.

A first-derivative formula is a *stencil*: offsets ``o_k`` (in units of the step ``h``) and
weights ``w_k`` such that

.. math::  f'(x) \\approx \\frac{1}{h} \\sum_k w_k \\, f(x + o_k h),

with a truncation error of order ``h**order``. Every method of the toolkit is one row of the
table below; a single evaluator (:func:`deep_learning_toolkit.numdiff.gradient.gradient` and the
batched engine) handles them all. :func:`make_stencil` builds a row for any offsets with the
exact generator of :mod:`~deep_learning_toolkit.numdiff.fornberg`, and
:func:`~deep_learning_toolkit.numdiff.richardson.richardson_stencil` builds extrapolated rows;
both work wherever a row of the table does.

The default step of each formula comes from its error theory
(:meth:`~deep_learning_toolkit.numdiff.fornberg.Formula.optimal_step`): it balances the
truncation error ``K h**p`` against the rounding error ``eps S / h`` of the differences
(``S = sum |w_k|``), relative to ``max(1, |x|)``. That gives ``2**-25.5`` (forward/backward),
``~5e-6`` / ``~6e-6`` (three-point midpoint/endpoint) and ``~5e-4`` (five-point), which
:mod:`~deep_learning_toolkit.numdiff.steps` rounds to powers of two.

The complex step (:data:`COMPLEX_STEP`) is not a stencil: it evaluates ``f`` once per entry
at ``x + i h e_k`` and takes ``Im f / h``
(:mod:`~deep_learning_toolkit.numdiff.complex_step`). :func:`get_method` accepts it besides
the stencils.

References: Fornberg, "Generation of finite difference formulas on arbitrarily spaced grids",
Math. Comp. 51 (1988); Burden & Faires, *Numerical Analysis*, sec. 4.1; Squire & Trapp,
"Using complex variables to estimate derivatives of real functions", SIAM Review 40 (1998).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import TypeGuard

import numpy as np

from .._validation import check_choice, describe
from .fornberg import EPS, Formula, analyse, finite_difference


@dataclass(frozen=True)
class Stencil:
    """A first-derivative finite-difference formula.

    Parameters
    ----------
    name : str
        Method name, e.g. ``"three_point_midpoint"``.
    offsets : tuple of float
        Evaluation points in units of the step ``h``.
    weights : tuple of float
        Weights of ``f(x + o_k h)``; the derivative is ``sum(w_k f(x + o_k h)) / h``.
    order : int
        Order of accuracy: the truncation error shrinks like ``h**order``.
    default_step : float
        Near-optimal relative step in float64, scaled by ``max(1, |x|)``.
    exact : Formula, optional
        The exact rational formula the float rows were rounded from (generated stencils carry
        it); without it :attr:`formula` reads the float weights back as rationals.
    """

    name: str
    offsets: tuple[float, ...]
    weights: tuple[float, ...]
    order: int
    default_step: float
    exact: Formula | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_row(self)

    @property
    def uses_center(self) -> bool:
        """Whether the formula needs ``f(x)`` itself (offset 0 with a non-zero weight)."""
        return any(o == 0 and w != 0 for o, w in zip(self.offsets, self.weights))

    @property
    def perturbed(self) -> tuple[tuple[float, float], ...]:
        """``(offset, weight)`` pairs that need a perturbed evaluation (offset != 0)."""
        return tuple((o, w) for o, w in zip(self.offsets, self.weights) if o != 0)

    @property
    def center_weight(self) -> float:
        """Weight of ``f(x)`` (0 for midpoint formulas)."""
        return float(sum(w for o, w in zip(self.offsets, self.weights) if o == 0))

    @property
    def evaluations_per_parameter(self) -> int:
        """Perturbed function evaluations per parameter (``f(x)`` is shared by all)."""
        return len(self.perturbed)

    def offsets_array(self) -> np.ndarray:
        """Offsets of the perturbed points as a float64 array."""
        return np.array([o for o, _ in self.perturbed], dtype=np.float64)

    def weights_array(self) -> np.ndarray:
        """Weights of the perturbed points as a float64 array."""
        return np.array([w for _, w in self.perturbed], dtype=np.float64)

    @cached_property
    def formula(self) -> Formula:
        """Exact analysis of this row: computed order, truncation terms, noise gain."""
        if self.exact is not None:
            return self.exact
        return analyse(self.offsets, self.weights, derivative=1)

    @property
    def noise_gain(self) -> float:
        """``S = sum |w_k|``: how much the formula amplifies the rounding errors of ``f``."""
        return float(sum(abs(w) for w in self.weights))

    @property
    def expected_error(self) -> float:
        """Modelled relative error at the default step, for unit-sized ``f`` and ``x``.

        ``eps S / h + K h**p`` at ``h = default_step`` rounded to a power of two: the
        accuracy the error theory promises, from which the gradient checker sets its
        tolerance.
        """
        h = float(np.exp2(np.round(np.log2(self.default_step))))
        return float(self.formula.error_model(h))

    def scaled(self, factor: float) -> Stencil:
        """The same formula at a ``factor`` times larger step, in units of the original step.

        Offsets become ``factor * o_k`` and weights ``w_k / factor``, so that
        ``sum w f(x + o h) / h`` with the returned row is the original formula at step
        ``factor * h``. Error estimates and step ladders use it; pass powers of two to keep
        the perturbations exact.
        """
        exact = Fraction(factor)
        formula = self.formula
        return Stencil(
            f"{self.name}@{factor:g}h",
            tuple(o * factor for o in self.offsets),
            tuple(w / factor for w in self.weights),
            self.order,
            self.default_step / factor,
            Formula(
                tuple(o * exact for o in formula.offsets),
                tuple(w / exact for w in formula.weights),
                formula.derivative,
                formula.order,
                tuple((p, c * exact**p) for p, c in formula.error_terms),
            ),
        )


def _check_row(row: Stencil) -> None:
    """Refuse a row that would give silent zeros or NaNs (a zero step, NaN weights, ...)."""
    if not isinstance(row.name, str):
        raise TypeError(f"Stencil name must be a string; got {describe(row.name)}.")
    for label in ("offsets", "weights"):
        values = getattr(row, label)
        if not isinstance(values, tuple) or not values:
            raise ValueError(
                f"Stencil {row.name!r}: {label} must be a non-empty tuple; got {describe(values)}."
            )
        if not all(_is_finite_number(v) for v in values):
            raise ValueError(f"Stencil {row.name!r}: {label} must be finite numbers; got {values}.")
    if len(row.offsets) != len(row.weights):
        raise ValueError(
            f"Stencil {row.name!r}: {len(row.offsets)} offsets but {len(row.weights)} weights."
        )
    if isinstance(row.order, bool) or not isinstance(row.order, int) or row.order < 1:
        raise ValueError(f"Stencil {row.name!r}: order must be an integer >= 1; got {row.order!r}.")
    _check_default_step(row.name, row.default_step)


def _is_finite_number(value: object) -> TypeGuard[numbers.Real]:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_default_step(name: str, step: object) -> None:
    if not _is_finite_number(step) or step <= 0:
        raise ValueError(
            f"method {name!r}: default_step must be positive and finite; got {step!r} (a zero "
            "step would give a silent 0 or NaN derivative)."
        )


def stencil_from_formula(formula: Formula, name: str) -> Stencil:
    """A :class:`Stencil` row (float64) from an exact first-derivative :class:`Formula`."""
    if formula.derivative != 1:
        raise ValueError(
            f"a Stencil approximates the first derivative; got a formula for derivative "
            f"{formula.derivative}."
        )
    return Stencil(
        name,
        formula.float_offsets(),
        formula.float_weights(),
        formula.order,
        formula.optimal_step(),
        formula,
    )


def _classic(name: str, offsets: tuple[float, ...], weights: tuple[float, ...], order: int):
    """A textbook row; its default step comes from the error theory of its offsets."""
    return Stencil(name, offsets, weights, order, finite_difference(offsets).optimal_step())


#: The six classic formulas (Burden & Faires, sec. 4.1), written out as in the textbook;
#: ``tests/test_fornberg.py`` checks that the generator reproduces the weights and orders.
STENCILS: dict[str, Stencil] = {
    s.name: s
    for s in (
        _classic("forward", (0.0, 1.0), (-1.0, 1.0), 1),
        _classic("backward", (-1.0, 0.0), (-1.0, 1.0), 1),
        _classic("three_point_endpoint", (0.0, 1.0, 2.0), (-1.5, 2.0, -0.5), 2),
        _classic("three_point_midpoint", (-1.0, 1.0), (-0.5, 0.5), 2),
        _classic(
            "five_point_endpoint",
            (0.0, 1.0, 2.0, 3.0, 4.0),
            (-25 / 12, 4.0, -3.0, 4 / 3, -0.25),
            4,
        ),
        _classic(
            "five_point_midpoint", (-2.0, -1.0, 1.0, 2.0), (1 / 12, -2 / 3, 2 / 3, -1 / 12), 4
        ),
    )
}

#: Method names in the order the product presents them.
METHODS: tuple[str, ...] = tuple(STENCILS)

#: Other accepted spellings, scipy's method names among them (``approx_derivative``:
#: '2-point' is the forward difference, '3-point' the central one, 'cs' the complex step).
ALIASES: dict[str, str] = {
    "central": "three_point_midpoint",
    "2-point": "forward",
    "3-point": "three_point_midpoint",
    "cs": "complex_step",
}


def _stencil_aliases() -> tuple[str, ...]:
    return tuple(a for a, target in ALIASES.items() if target in STENCILS)


def get_stencil(method: str | Stencil) -> Stencil:
    """Return the :class:`Stencil` for a method name, an alias, or a stencil itself.

    Raises
    ------
    ValueError
        If ``method`` is not a known name; the message lists the valid names.
    """
    if isinstance(method, Stencil):
        return method
    name = check_choice("method", method, METHODS + _stencil_aliases())
    return STENCILS[ALIASES.get(name, name)]


def make_stencil(offsets: Sequence[object], name: str | None = None) -> Stencil:
    """A first-derivative stencil for any distinct ``offsets``, from the exact generator.

    The weights come from Fornberg's algorithm, the order is computed from the moments and
    the default step from the error theory; the row works in every evaluator, the batched
    engine included.

    Examples
    --------
    >>> s = make_stencil([-3, -1, 1, 3])
    >>> s.order, s.weights[1]
    (4, -0.5625)
    """
    formula = finite_difference(offsets, derivative=1)
    if name is None:
        name = "stencil(" + ", ".join(f"{float(o):g}" for o in formula.offsets) + ")"
    return stencil_from_formula(formula, name)


@dataclass(frozen=True)
class ComplexStep:
    """The complex-step method: ``f'(x) = Im f(x + i h) / h + O(h**2)``, one call per entry.

    No difference of nearly equal numbers is taken, so the step can be tiny and the error is
    that of evaluating ``f`` itself (about ``eps``). ``f`` must be real-analytic and written in
    complex-safe arithmetic (see :mod:`~deep_learning_toolkit.numdiff.complex_step`).

    Attributes
    ----------
    name : str
    order : int
        Truncation order: the error is ``-h**2 f'''(x) / 6``.
    default_step : float
        Relative step, far below where the truncation error reaches ``eps``.
    """

    name: str = "complex_step"
    order: int = 2
    default_step: float = 1e-20

    def __post_init__(self) -> None:
        if isinstance(self.order, bool) or not isinstance(self.order, int) or self.order < 1:
            raise ValueError(f"ComplexStep order must be an integer >= 1; got {self.order!r}.")
        _check_default_step(self.name, self.default_step)

    @property
    def uses_center(self) -> bool:
        """The complex step never needs ``f(x)`` itself."""
        return False

    @property
    def evaluations_per_parameter(self) -> int:
        """One complex evaluation per parameter."""
        return 1

    @property
    def expected_error(self) -> float:
        """Modelled relative error at the default step: ``eps + h**2 / 6``."""
        return EPS + self.default_step**2 / 6


#: The complex-step method, accepted wherever a method name is (see :func:`get_method`).
COMPLEX_STEP = ComplexStep()

#: Every method name: the six stencils and the complex step.
ALL_METHODS: tuple[str, ...] = (*METHODS, COMPLEX_STEP.name)


def get_method(method: object) -> Stencil | ComplexStep:
    """Like :func:`get_stencil`, also accepting ``"complex_step"`` (gives :data:`COMPLEX_STEP`).

    Raises
    ------
    TypeError
        If ``method`` is neither a string nor a method.
    ValueError
        If ``method`` is not a known name; the message lists the valid names.
    """
    if isinstance(method, (Stencil, ComplexStep)):
        return method
    name = check_choice("method", method, ALL_METHODS + tuple(ALIASES))
    name = ALIASES.get(name, name)
    return COMPLEX_STEP if name == COMPLEX_STEP.name else get_stencil(name)
