"""numdiff.steps: the optimal-step rule, the checks that refuse steps giving silent 0 or NaN
(issue 15, item 9), and the adaptive search's first step."""

from __future__ import annotations

import hashlib
import types

import numpy as np
import pytest

from deep_learning_toolkit import numdiff
from deep_learning_toolkit.numdiff import (
    Stencil,
    axis_rule,
    check_perturbations,
    default_steps,
    derivative,
    gradient,
    hessian,
    jacobian,
    optimal_step,
)
from deep_learning_toolkit.numdiff.fornberg import EPS
from deep_learning_toolkit.numdiff.steps import (
    ADAPTIVE_RUNGS,
    adaptive_base_steps,
    resolve_steps,
)

# --------------------------------------------------------------------- optimal_step
NOISE = 1e-10


def noise(x: float) -> float:
    """A deterministic pseudo-random number in [-1, 1) per float64 value of ``x``."""
    digest = hashlib.blake2b(np.float64(x).tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**63 - 1.0


@pytest.mark.parametrize(
    ("method", "n"), [("central", 1), ("five_point_midpoint", 1), ("forward", 1), ("central", 2)]
)
@pytest.mark.parametrize("a", [0.125, 8.0])
def test_optimal_step_is_the_measured_best_step(method: str, n: int, a: float) -> None:
    # exp(a x) with a relative noise of 1e-10: f^(k) = a^k f, so the rule gets exact inputs.
    formula = axis_rule(method, n).formula
    xs = np.linspace(0.1, 0.9, 25)

    def f(x: float) -> float:
        return np.exp(a * x) * (1 + NOISE * noise(x))

    def mean_error(h: float) -> float:
        errors = [abs(derivative(f, x, method, h, n=n) / (a**n * np.exp(a * x)) - 1) for x in xs]
        return float(np.mean(errors))

    rule = [
        optimal_step(formula, a ** (n + formula.order) * np.exp(a * x), np.exp(a * x), NOISE)
        for x in xs
    ]
    h_star = float(np.median(rule))
    sweep = h_star * 2.0 ** (np.arange(-12, 13) / 4)
    errors = np.array([mean_error(h) for h in sweep])
    assert 0.4 <= h_star / sweep[np.argmin(errors)] <= 2.5
    assert mean_error(h_star) <= 2.5 * errors.min()
    # The default step assumes eps-sized noise and unit-sized derivatives: when that puts it
    # 8x or more away from the rule's step, its error is at least twice as large.
    default = axis_rule(method, n).default_step
    if abs(np.log2(default / h_star)) >= 3:
        assert mean_error(default) >= 2 * mean_error(h_star)


def test_optimal_step_formula_and_bad_input() -> None:
    central = numdiff.get_stencil("central")
    assert optimal_step(central, 1.0) == pytest.approx((3 * EPS) ** (1 / 3))
    assert optimal_step(central, -8.0, f_scale=1.0) == pytest.approx((3 * EPS / 8) ** (1 / 3))
    # The default steps are this rule with the factorial model |f^(m+p)| = (m+p)! |f|.
    formula = axis_rule("five_point_midpoint", 2).formula  # m = 2, p = 4
    assert optimal_step(formula, 720.0) == pytest.approx(formula.optimal_step(), rel=1e-12)
    with pytest.raises(ValueError, match="higher_derivative must be non-zero"):
        optimal_step(central, 0.0)
    with pytest.raises(ValueError, match="f_scale must be > 0"):
        optimal_step(central, 1.0, f_scale=0.0)
    with pytest.raises(TypeError, match="formula must be a Formula or a Stencil"):
        optimal_step("central", 1.0)
    with pytest.raises(ValueError, match="higher_derivative must be finite"):
        optimal_step(central, np.inf)


# --------------------------------------------------------------------- issue 15, item 9
def linear(v: np.ndarray) -> float:
    return float(np.sum(v))


def test_a_step_that_vanishes_against_x_is_refused() -> None:
    # Before: gradient(linear, [1.0], step=1e-17) returned 0.
    for call in (
        lambda: gradient(linear, [1.0], step=1e-17),
        lambda: gradient(linear, [1.0], "five_point_endpoint", step=1e-17),
        lambda: derivative(np.sin, 1.0, step=1e-17),
        lambda: jacobian(lambda v: v, [1.0], step=1e-17),
        lambda: hessian(linear, [1.0, 2.0], step=1e-17),
    ):
        with pytest.raises(ValueError, match=r"step h = 1e-17 vanishes against x\[0\] = 1: x "):
            call()
    # Mostly rounding (the perturbation made is 1.11e-15, not 1e-15): refused too.
    with pytest.raises(ValueError, match=r"moves x by 1.11e-15, not 1e-15.*at least 2.22e-14"):
        gradient(linear, [1.0], step=1e-15)
    # Per-entry steps name the entry.
    with pytest.raises(ValueError, match=r"vanishes against x\[1\] = 1000000"):
        gradient(linear, [1.0, 1e6], step=[1e-6, 1e-12])
    assert gradient(linear, [1.0], step=1e-13) == pytest.approx(1.0, rel=0.02)


def test_huge_x_gives_the_derivative_or_a_clear_error() -> None:
    # Before: five_point_endpoint at 1e308 returned NaN (the weighted sum overflowed).
    for method in numdiff.METHODS:
        assert gradient(linear, [1e308], method)[0] == pytest.approx(1.0, rel=1e-6)
        assert gradient(lambda v: float(v[0] / 1e300), [1e308], method)[0] == pytest.approx(1e-300)
    with pytest.raises(ValueError, match=r"x \+ 4\*h overflows float64 at entry 0"):
        gradient(linear, [1e308], "five_point_endpoint", step=2e307)
    with pytest.raises(ValueError, match="the derivative estimate at x overflows float64"):
        gradient(lambda v: float(1e306 * np.sin(1e6 * v[0])), [0.5])


def test_a_stencil_whose_default_step_is_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="default_step must be positive and finite; got 0.0"):
        Stencil("zero", (-1.0, 1.0), (-0.5, 0.5), 2, 0.0)
    with pytest.raises(ValueError, match="default_step must be positive and finite; got nan"):
        Stencil("nan", (-1.0, 1.0), (-0.5, 0.5), 2, float("nan"))
    with pytest.raises(ValueError, match="default_step must be positive"):
        numdiff.ComplexStep(default_step=-1e-20)
    duck = types.SimpleNamespace(name="duck", default_step=0.0)
    with pytest.raises(ValueError, match="method 'duck' has default_step=0.0"):
        default_steps(np.ones(2), duck)
    with pytest.raises(ValueError, match="method 'duck' has default_step=0.0"):
        resolve_steps(np.ones(2), duck, None)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (((-1.0, 1.0), (-0.5,), 2, 1e-5), "2 offsets but 1 weights"),
        (((-1.0, np.nan), (-0.5, 0.5), 2, 1e-5), "offsets must be finite numbers"),
        (((), (), 2, 1e-5), "offsets must be a non-empty tuple"),
        (((-1.0, 1.0), (-0.5, 0.5), 0, 1e-5), "order must be an integer >= 1"),
        (([-1.0, 1.0], (-0.5, 0.5), 2, 1e-5), "offsets must be a non-empty tuple"),
    ],
)
def test_malformed_stencils_are_refused(args, match) -> None:
    with pytest.raises(ValueError, match=match):
        Stencil("bad", *args)


def test_non_finite_values_are_reported_with_their_point() -> None:
    def f(v: np.ndarray) -> float:
        return float(np.sum(v)) if v[1] <= 2.0 else float("inf")

    with pytest.raises(
        ValueError, match=r"f returned inf at x \+ 1\*h\*e_1 \(h = 7.63e-06, x\[1\]"
    ):
        gradient(f, [0.0, 2.0])


# --------------------------------------------------------------------- check_perturbations
def test_check_perturbations_directly() -> None:
    x = np.array([0.0, 1.0, -3.0])
    check_perturbations(x, np.full(3, 1e-8), [-2, -1, 1, 2])  # fine
    check_perturbations(x, np.full(3, 1e-20), [1j])  # the complex step never loses i*h
    with pytest.raises(ValueError, match=r"vanishes against x\[1\]"):
        check_perturbations(x, np.full(3, 1e-17), [1])
    with pytest.raises(ValueError, match="underflows in the complex step"):
        check_perturbations(x, np.full(3, 1e-320), [1e-10j])
    with pytest.raises(ValueError, match=r"x \+ 2\*h overflows"):
        check_perturbations(np.array([1e308]), np.array([1e308]), [2])


# --------------------------------------------------------------------- adaptive search
def test_adaptive_base_steps() -> None:
    x = np.array([0.0, 2.0, -50.0, 1e9, 1e12])
    base = adaptive_base_steps(x)
    np.testing.assert_array_equal(base, 2.0 ** np.round(np.log2(base)))  # powers of two
    nominal = np.maximum(1.0, np.log(np.e - 1 + np.abs(x)))  # numdifftools' nominal step
    assert np.all(np.abs(np.log2(base[:3] / nominal[:3])) <= 0.5)
    # Large |x|: never so small that the last halving is lost to the rounding of x.
    smallest = base / 2.0 ** (ADAPTIVE_RUNGS - 1)
    assert np.all(smallest >= 2.0**-31 * np.abs(x))
    np.testing.assert_array_equal(adaptive_base_steps(x, reach=2.0), base / 2)


def test_adaptive_derivative_at_large_x() -> None:
    for x in (1e9, -3e12):
        result = derivative(lambda t: t**2, x, step="adaptive", full_output=True)
        assert result.estimate[0] == pytest.approx(2 * x, rel=1e-11)
        assert abs(result.estimate[0] - 2 * x) <= result.error[0]
