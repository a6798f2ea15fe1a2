"""numdiff.rules: the formulas for derivatives of any order, the mixed and complex rules,
their orders (computed exactly and measured) and their default steps."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from deep_learning_toolkit import numdiff
from deep_learning_toolkit.numdiff import (
    STENCILS,
    axis_rule,
    derivative,
    finite_difference,
    hessian,
    make_stencil,
    mixed_rule,
    richardson_formula,
)
from deep_learning_toolkit.numdiff.rules import FAMILIES, family_offsets


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("method", numdiff.METHODS)
def test_each_method_keeps_its_side_and_order_for_every_n(method: str, n: int) -> None:
    side, order = FAMILIES[method]
    rule = axis_rule(method, n)
    assert rule.order == order
    offsets = [o[0] for o, _ in rule.terms]
    if side > 0:
        assert min(offsets) == 0
    elif side < 0:
        assert max(offsets) == 0
    else:
        assert sorted(offsets) == sorted(-o for o in offsets)  # symmetric
    # The weights are Fornberg's exact ones: sum w o^k / k! = [k == n] for k <= n.
    exact = rule.formula
    for k in range(n + 1):
        moment = sum(w * o**k for o, w in zip(exact.offsets, exact.weights))
        assert moment == (Fraction(math.factorial(n)) if k == n else 0)
    if n == 1:  # the first derivative is the stencil itself, default step included
        assert [w for _, w in rule.terms] == list(STENCILS[method].weights)
        assert rule.default_step == STENCILS[method].default_step


def test_family_offsets_are_the_smallest_sets() -> None:
    assert family_offsets(0, 2, 2) == (-1, 0, 1)
    assert family_offsets(0, 2, 3) == (-2, -1, 1, 2)
    assert family_offsets(0, 4, 4) == (-3, -2, -1, 0, 1, 2, 3)
    assert family_offsets(1, 1, 3) == (0, 1, 2, 3)
    assert family_offsets(-1, 2, 2) == (0, -1, -2, -3)


def test_custom_stencils_and_formulas_give_higher_derivatives() -> None:
    wide = make_stencil([-3, -1, 1, 3])
    rule = axis_rule(wide, 2)
    assert sorted(o[0] for o, _ in rule.terms) == [-3, -1, 1, 3]
    assert rule.order == 2
    assert derivative(np.sin, 0.5, wide, n=2) == pytest.approx(-np.sin(0.5), rel=1e-6)
    formula = finite_difference([-2, -1, 0, 1, 2], derivative=2)
    assert derivative(np.sin, 0.5, formula, n=2) == pytest.approx(-np.sin(0.5), rel=1e-9)
    with pytest.raises(ValueError, match="approximates derivative 2, not n=3"):
        axis_rule(formula, 3)
    with pytest.raises(ValueError, match="mixed derivative takes a first-derivative formula"):
        mixed_rule(formula)


def test_richardson_of_higher_derivative_formulas() -> None:
    second = finite_difference([-1, 0, 1], derivative=2)
    assert richardson_formula(second, 1).order == 4
    assert richardson_formula(second, 2).order == 6
    assert richardson_formula(second, 0) is second
    rule = axis_rule("central", 2, richardson=1)
    assert rule.name == "three_point_midpoint(n=2)+richardson1"
    assert rule.order == 4 and rule.powers[:3] == (4, 6, 8)
    exact = -np.sin(0.5)
    plain = abs(derivative(np.sin, 0.5, n=2) - exact)
    extrapolated = abs(derivative(np.sin, 0.5, n=2, richardson=2) - exact)
    assert extrapolated < plain / 100


def test_complex_rules() -> None:
    first = axis_rule("complex_step", 1)
    assert first.imag and first.order == 2 and first.powers[:3] == (2, 4, 6)
    second = axis_rule("cs", 2)
    assert second.order == 4 and second.powers[:3] == (4, 8, 12)
    assert [o for o, _ in second.terms] == [(1 + 1j,), (-1 + 1j,)]
    mixed = mixed_rule("complex_step")
    assert mixed.axes == 2 and mixed.order == 2


#: exp(x0 / 4 + x1 / 3): every mixed derivative is a product of powers of 1/4 and 1/3.
def smooth(v: np.ndarray) -> object:
    return np.exp(v[0] / 4 + v[1] / 3)


@pytest.mark.parametrize(
    ("method", "order", "first"),
    [
        ("forward", 1, 2.0**-6),
        ("three_point_endpoint", 2, 2.0**-3),
        ("central", 2, 2.0**-3),
        ("five_point_midpoint", 4, 2.0**-1),
        ("complex_step", 2, 2.0**-3),
    ],
)
def test_measured_order_of_the_mixed_rules(method: str, order: int, first: float) -> None:
    assert mixed_rule(method).order == order
    x = np.array([0.2, -0.4])
    exact = smooth(x) / 12
    steps = first / 2.0 ** np.arange(3)
    errors = np.array([abs(hessian(smooth, x, method, step=h)[0, 1] - exact) for h in steps])
    np.testing.assert_allclose(np.log2(errors[:-1] / errors[1:]), order, atol=0.35)


def test_mixed_powers_combine_the_first_derivative_powers() -> None:
    assert mixed_rule("central").powers[:4] == (2, 4, 6, 8)
    assert mixed_rule("forward").powers[:4] == (1, 2, 3, 4)
    assert len(mixed_rule("five_point_endpoint").terms) == 25  # 5 x 5 points
    assert len(mixed_rule("five_point_midpoint").terms) == 16


def test_default_steps_balance_the_error_model() -> None:
    # The central mixed rule: rounding eps / h^2 against truncation h^2, like the diagonal.
    assert 1e-5 < mixed_rule("central").default_step < axis_rule("central", 2).default_step
    # Higher orders take larger steps; higher derivatives too.
    steps = [axis_rule("central", n).default_step for n in (1, 2, 3, 4)]
    assert steps == sorted(steps)
    assert axis_rule("five_point_midpoint", 2).default_step > axis_rule("central", 2).default_step
