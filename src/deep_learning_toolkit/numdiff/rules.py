"""Derivative rules: which points to sample and how to combine them, for any derivative.

A :class:`Rule` generalises a first-derivative :class:`~.stencils.Stencil` three ways: any
derivative order ``n``, mixed second derivatives (offsets along two axes) and complex offsets
(the complex step, which combines imaginary parts). For an element differentiating along the
axes ``a_1`` (and ``a_2``) with steps ``h_a``,

.. math::  D(h) = \\frac{1}{\\prod_j h_{a_j}^{n_j}} \\sum_k w_k \\,
           P\\, f\\Big(x + \\sum_j o_{kj} h_{a_j} e_{a_j}\\Big),

with ``P`` the real part, or the imaginary part for complex-step rules. Its truncation error is
a series in the step with the exponents :attr:`Rule.powers`, which Richardson tables and the
adaptive step eliminate one by one.

* :func:`axis_rule` -- ``d^n f / dx_i^n``. For the classic method names the rule keeps the
  method's side and order: ``"three_point_midpoint"`` gives central formulas of order 2 for
  every ``n`` (``(-1, 0, 1)`` for ``n=2``, ``(-2, -1, 1, 2)`` for ``n=3``), ``"forward"``
  one-sided ones of order 1, and so on; the weights come from Fornberg's algorithm. Any other
  :class:`~.stencils.Stencil` gives the ``n``-th derivative on its own offsets, and a
  :class:`~.fornberg.Formula` is used as it is. The complex step gives ``n=1``
  (``Im f(x + ih) / h``) and ``n=2`` (``Im[f(x + (1+i)h) - f(x + (-1+i)h)] / (2h^2)``, order 4).
* :func:`mixed_rule` -- ``d^2 f / dx_i dx_j``: the method's first-derivative formula along
  each axis (tensor product); for the complex step, the complex step along ``x_i`` and the
  central difference along ``x_j``.

Default steps balance ``eps S / h**q`` (``q = n`` for real rules, ``n - 1`` for complex ones,
whose imaginary parts carry a factor ``h``) against ``K h**p``, with ``K`` from the factorial
model of :mod:`~deep_learning_toolkit.numdiff.fornberg`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .._validation import check_int
from .fornberg import EPS, Formula, analyse, finite_difference
from .richardson import MAX_LEVELS, richardson_formula, richardson_stencil
from .stencils import STENCILS, ComplexStep, Stencil, get_method

#: Truncation powers kept per rule (a Richardson table over ``k`` steps uses ``k - 1``).
MAX_POWERS = 16

#: Side (+1 forward, -1 backward, 0 central) and order of the classic rows, for ``n > 1``.
FAMILIES: dict[str, tuple[int, int]] = {
    "forward": (1, 1),
    "backward": (-1, 1),
    "three_point_endpoint": (1, 2),
    "three_point_midpoint": (0, 2),
    "five_point_endpoint": (1, 4),
    "five_point_midpoint": (0, 4),
}

#: Complex-step rules exist for these derivative orders.
COMPLEX_ORDERS = (1, 2)

Term = tuple[tuple[complex, ...], float]


@dataclass(frozen=True)
class Rule:
    """A derivative formula along one axis or two.

    Attributes
    ----------
    name : str
    derivative : int
        Total derivative order (2 for a mixed second derivative).
    terms : tuple of (offsets, weight)
        ``offsets`` has one entry per axis, in units of that axis' step.
    order : int
        Order of accuracy: the leading truncation error is ``O(h**order)``.
    powers : tuple of int
        Exponents of the truncation series (``powers[0] == order``).
    default_step : float
        Near-optimal relative step, scaled by ``max(1, |x_i|)``.
    imag : bool
        Combine the imaginary parts of ``f`` at complex points (complex step).
    formula : Formula or None
        The exact one-axis formula of a real rule.
    """

    name: str
    derivative: int
    terms: tuple[Term, ...]
    order: int
    powers: tuple[int, ...]
    default_step: float
    imag: bool = False
    formula: Formula | None = field(default=None, compare=False, repr=False)

    @property
    def axes(self) -> int:
        """1 for ``d^n/dx_i^n``, 2 for ``d^2/dx_i dx_j``."""
        return len(self.terms[0][0])

    @property
    def noise_gain(self) -> float:
        """``S = sum |w_k|``: the factor on the rounding errors of ``f``."""
        return float(sum(abs(w) for _, w in self.terms))

    @property
    def uses_center(self) -> bool:
        """Whether the rule evaluates ``f(x)`` itself."""
        return any(w != 0 and all(o == 0 for o in offsets) for offsets, w in self.terms)

    @property
    def reach(self) -> float:
        """Largest ``|offset|``: the farthest point is ``reach`` steps away."""
        return float(max(abs(o) for offsets, _ in self.terms for o in offsets))


def _model_step(rounding: int, order: int, noise: float, truncation: float) -> float:
    """Minimiser of ``eps S / h**q + K h**p``: ``(q eps S / (p K))**(1 / (q + p))``."""
    return (rounding * EPS * noise / (order * truncation)) ** (1 / (rounding + order))


def _even_powers(first: int, step: int) -> tuple[int, ...]:
    return tuple(first + step * k for k in range(MAX_POWERS))


def from_formula(formula: Formula, name: str, default_step: float | None = None) -> Rule:
    """A one-axis :class:`Rule` from an exact formula (its powers computed exactly)."""
    analysed = analyse(formula.offsets, formula.weights, formula.derivative, n_terms=MAX_POWERS)
    return Rule(
        name,
        formula.derivative,
        tuple(((float(o),), float(w)) for o, w in zip(formula.offsets, formula.weights)),
        formula.order,
        tuple(power for power, _ in analysed.error_terms),
        formula.optimal_step() if default_step is None else default_step,
        formula=formula,
    )


def family_offsets(side: int, order: int, n: int) -> tuple[int, ...]:
    """Offsets of the ``n``-th derivative formula of a side and an order of accuracy.

    One-sided: ``0, 1, ..., n + order - 1`` (times ``side``). Central: the smallest symmetric
    set, with 0 only for even ``n`` (its weight vanishes for odd ``n``).
    """
    if side != 0:
        return tuple(side * k for k in range(n + order))
    if n % 2 == 0:
        half = (n + order - 2) // 2
        return tuple(range(-half, half + 1))
    half = (n + order - 1) // 2
    return tuple(k for k in range(-half, half + 1) if k != 0)


def _stencil_formula(stencil: Stencil, n: int) -> Formula:
    family = FAMILIES.get(stencil.name)
    if family is not None and STENCILS[stencil.name] == stencil:
        return finite_difference(family_offsets(*family, n), derivative=n)
    if len(stencil.offsets) <= n:
        raise ValueError(
            f"method {stencil.name!r} has {len(stencil.offsets)} offsets; a derivative of order "
            f"n={n} needs at least {n + 1}. Use a method name or a longer stencil."
        )
    return finite_difference(stencil.formula.offsets, derivative=n)


def _complex_rule(method: ComplexStep, n: int) -> Rule:
    if n == 1:
        return Rule(
            method.name, 1, (((1j,), 1.0),), 2, _even_powers(2, 2), method.default_step, True
        )
    # Im f(x + (a + i) h) = sum_k f^(k) h^k Im((a + i)^k) / k!; a = +-1 cancels every k but
    # 2, 6, 10, ...: error -h^4 f^(6) / 90 (K = 6! / 90 = 8), rounding eps |f'| / h.
    terms = (((1 + 1j,), 0.5), ((-1 + 1j,), -0.5))
    step = _model_step(1, 4, 1.0, 8.0)
    return Rule(f"{method.name}(n=2)", 2, terms, 4, _even_powers(4, 4), step, True)


def _check_richardson_complex(richardson: int) -> None:
    if richardson:
        raise ValueError(
            f"richardson={richardson} applies to finite-difference stencils; the complex "
            "step has no cancellation and its default step is already exact to rounding."
        )


def _resolve(method: object) -> Stencil | ComplexStep | Formula:
    if isinstance(method, Formula):
        return method
    return get_method(method)


def axis_rule(method: object, n: int = 1, richardson: int = 0) -> Rule:
    """The rule for ``d^n f / dx_i^n`` by ``method`` (see the module notes).

    Parameters
    ----------
    method : str, Stencil, ComplexStep or Formula
        A method name or alias, a first-derivative stencil, the complex step, or an exact
        formula for derivative ``n``.
    n : int, default 1
        Derivative order, ``>= 1``.
    richardson : int, default 0
        Levels of Richardson extrapolation applied to the formula.
    """
    n = check_int("n", n, minimum=1)
    richardson = check_int("richardson", richardson, minimum=0, maximum=MAX_LEVELS)
    method = _resolve(method)
    if isinstance(method, ComplexStep):
        _check_richardson_complex(richardson)
        if n not in COMPLEX_ORDERS:
            raise ValueError(
                f"method 'complex_step' gives derivatives of order n=1 and n=2; got n={n}. "
                "Use a finite-difference method for higher orders."
            )
        return _complex_rule(method, n)
    if isinstance(method, Formula):
        if method.derivative != n:
            raise ValueError(f"the formula approximates derivative {method.derivative}, not n={n}.")
        name = "formula(" + ", ".join(str(o) for o in method.offsets) + ")"
        return _finish(method, name, richardson)
    if n == 1:
        stencil = richardson_stencil(method, richardson)
        return from_formula(stencil.formula, stencil.name, stencil.default_step)
    return _finish(_stencil_formula(method, n), f"{method.name}(n={n})", richardson)


def _finish(formula: Formula, name: str, richardson: int) -> Rule:
    if richardson:
        formula = richardson_formula(formula, richardson)
        name = f"{name}+richardson{richardson}"
    return from_formula(formula, name)


def _combined_powers(first: tuple[int, ...], second: tuple[int, ...]) -> tuple[int, ...]:
    powers = set(first) | set(second) | {a + b for a in first for b in second}
    return tuple(sorted(powers))[:MAX_POWERS]


def mixed_rule(method: object, richardson: int = 0) -> Rule:
    """The rule for ``d^2 f / dx_i dx_j`` (``i != j``) by ``method``.

    The tensor product of the method's first-derivative formula with itself (a
    :class:`~.fornberg.Formula` must then be for the first derivative); for the complex step,
    ``Im[f(x + i h_i e_i + h_j e_j) - f(x + i h_i e_i - h_j e_j)] / (2 h_i h_j)``.
    """
    richardson = check_int("richardson", richardson, minimum=0, maximum=MAX_LEVELS)
    method = _resolve(method)
    if isinstance(method, ComplexStep):
        _check_richardson_complex(richardson)
        central = axis_rule("three_point_midpoint")
        terms = tuple(((1j, offsets[0]), w) for offsets, w in central.terms)
        step = _model_step(1, 2, central.noise_gain, 8.0)
        powers = _combined_powers(_even_powers(2, 2), central.powers)
        return Rule(f"{method.name}(mixed)", 2, terms, 2, powers, step, True)
    if isinstance(method, Formula) and method.derivative != 1:
        raise ValueError(
            f"a mixed derivative takes a first-derivative formula; got derivative "
            f"{method.derivative}."
        )
    first = axis_rule(method, 1, richardson)
    terms = tuple(
        ((a[0], b[0]), wa * wb) for a, wa in first.terms for b, wb in first.terms if wa * wb != 0
    )
    p = first.order
    assert first.formula is not None  # every real rule keeps its formula
    truncation = 2.0 * float(abs(first.formula.error_constant)) * math.factorial(p + 2)
    step = _model_step(2, p, first.noise_gain**2, truncation)
    powers = _combined_powers(first.powers, first.powers)
    return Rule(f"{first.name}(mixed)", 2, terms, p, powers, step)
