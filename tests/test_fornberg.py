"""The exact stencil generator: weights, computed orders, error theory and generated rows."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.numdiff import METHODS, STENCILS, get_stencil
from deep_learning_toolkit.numdiff.fornberg import (
    EPS,
    analyse,
    finite_difference,
    fornberg_weights,
    to_fraction,
)
from deep_learning_toolkit.numdiff.gradient import gradient_details
from deep_learning_toolkit.numdiff.stencils import Stencil, make_stencil

F = Fraction


@pytest.mark.parametrize("name", METHODS)
def test_generator_reproduces_the_six_classic_formulas(name: str) -> None:
    row = STENCILS[name]
    generated = finite_difference(row.offsets)
    assert generated.weights == tuple(to_fraction(w) for w in row.weights)
    assert generated.float_weights() == row.weights  # the textbook floats, bit for bit
    # The order is computed from the moments, and agrees with the declared one.
    assert generated.order == row.order
    assert row.formula.order == row.order


def test_exact_textbook_values() -> None:
    assert fornberg_weights([-2, -1, 1, 2]) == (F(1, 12), F(-2, 3), F(2, 3), F(-1, 12))
    assert fornberg_weights([0, 1, 2, 3, 4]) == (F(-25, 12), 4, -3, F(4, 3), F(-1, 4))
    assert fornberg_weights([-1, 0, 1], derivative=2) == (1, -2, 1)
    assert fornberg_weights([-2, -1, 0, 1, 2], derivative=4) == (1, -4, 6, -4, 1)
    assert fornberg_weights([-2, -1, 0, 1, 2], derivative=2) == (
        F(-1, 12),
        F(4, 3),
        F(-5, 2),
        F(4, 3),
        F(-1, 12),
    )
    # Derivative 0 at a point between the samples: interpolation weights.
    assert fornberg_weights([0, 1], derivative=0, at=F(1, 2)) == (F(1, 2), F(1, 2))
    # Half-integer offsets are read exactly.
    assert fornberg_weights([-0.5, 0.5]) == (-1, 1)


@pytest.mark.parametrize(
    ("offsets", "derivative"),
    [([0, 1, 3], 1), ([-3, -1, 0, 2, 5], 1), ([-1, 0, 2, 3], 2), ([0, 1, 2, 4, 7, 8], 3)],
)
def test_weights_are_exact_on_polynomials_and_match_a_linear_solve(offsets, derivative) -> None:
    formula = finite_difference(offsets, derivative)
    n = len(offsets)
    # sum_k w_k o_k**j = m! delta_jm for every j < n: exact on polynomials of degree < n.
    for j in range(n):
        total = sum(w * F(o) ** j for o, w in zip(offsets, formula.weights))
        assert total == (math.factorial(derivative) if j == derivative else 0)
    # Independent float reference: the transposed Vandermonde system.
    vandermonde = np.vander(np.array(offsets, dtype=float), increasing=True).T
    rhs = np.zeros(n)
    rhs[derivative] = math.factorial(derivative)
    np.testing.assert_allclose(
        formula.float_weights(), np.linalg.solve(vandermonde, rhs), rtol=1e-9, atol=1e-12
    )
    # A generic set of n points gives order n - m (one more for symmetric sets).
    assert formula.order >= n - derivative


def test_computed_order_and_error_terms() -> None:
    central = finite_difference([-1, 1])
    assert central.order == 2
    assert [p for p, _ in central.error_terms] == [2, 4, 6, 8]  # only even powers
    assert central.error_constant == F(1, 6)
    assert central.truncation_factor == 1.0  # 3! / 6
    forward = finite_difference([0, 1])
    assert [p for p, _ in forward.error_terms] == [1, 2, 3, 4]
    assert forward.error_constant == F(1, 2)
    assert finite_difference([-3, -1, 1, 3]).order == 4
    assert finite_difference([-1, 0, 1], derivative=2).order == 2


@pytest.mark.parametrize("name", METHODS)
def test_default_step_minimises_the_error_model(name: str) -> None:
    formula = STENCILS[name].formula
    best = formula.optimal_step()
    assert STENCILS[name].default_step == best
    grid = best * np.exp2(np.linspace(-3, 3, 601))
    errors = formula.error_model(grid)
    assert abs(np.log2(grid[np.argmin(errors)] / best)) < 0.02
    # The model balances rounding eps S / h against truncation K h**p at the optimum (ratio p).
    rounding = EPS * formula.noise_gain / best
    assert rounding / (formula.truncation_factor * best**formula.order) == pytest.approx(
        formula.order
    )


def test_make_stencil_builds_a_usable_row() -> None:
    row = make_stencil([-3, -1, 1, 3])
    assert isinstance(row, Stencil)
    assert row.order == 4
    assert row.weights == (1 / 48, -9 / 16, 9 / 16, -1 / 48)
    assert row.name == "stencil(-3, -1, 1, 3)"
    assert sum(row.formula.weights) == 0
    x = np.array([0.3, -1.1, 2.0])
    result = gradient_details(lambda v: float(np.sum(np.exp(v) * np.cos(v))), x, row)
    exact = np.exp(x) * (np.cos(x) - np.sin(x))
    np.testing.assert_allclose(result.gradient, exact, rtol=1e-11)
    assert result.evaluations == 4 * x.size


def test_generated_stencil_runs_in_the_batched_engine() -> None:
    rng = np.random.default_rng(3)
    model = dlt.Sequential([dlt.Dense(3, 5, activation="tanh"), dlt.Dense(5, 2)], seed=1)
    model.compile(loss="cross_entropy", optimizer="sgd")
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    for row in (make_stencil([-3, -1, 1, 3]), make_stencil([0, 1, 2, 5])):
        batched = model.gradient_details(X, y, method=row).gradient
        model.compile(loss="cross_entropy", optimizer="sgd", gradient_engine="reference")
        reference = model.gradient_details(X, y, method=row).gradient
        model.compile(loss="cross_entropy", optimizer="sgd")
        np.testing.assert_allclose(batched, reference, rtol=1e-7, atol=1e-10)
    # The reference gradient here is the five-point midpoint of the table.
    five = model.gradient_details(X, y, method=get_stencil("five_point_midpoint")).gradient
    np.testing.assert_allclose(model.gradient_details(X, y, method=row).gradient, five, atol=1e-9)


def test_scaled_row_is_the_formula_at_a_larger_step() -> None:
    row = STENCILS["three_point_endpoint"]
    twice = row.scaled(2.0)
    f = lambda v: float(np.sum(np.sin(v)))  # noqa: E731
    x = np.array([0.4])
    h = 2.0**-10
    a = gradient_details(f, x, twice, h).gradient
    b = gradient_details(f, x, row, 2 * h).gradient
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert twice.formula.error_terms[0] == (2, F(-1, 3) * 4)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: fornberg_weights([0, 1, 1]), ValueError, "distinct"),
        (lambda: fornberg_weights([0, 1], derivative=2), ValueError, "at least 3 offsets"),
        (lambda: fornberg_weights([0, 1], derivative=-1), ValueError, "derivative"),
        (lambda: fornberg_weights([0, 1], derivative=1.5), TypeError, "derivative"),
        (lambda: fornberg_weights("01"), TypeError, "offsets"),
        (lambda: fornberg_weights([0, float("nan")]), ValueError, "finite"),
        (lambda: analyse([0, 1], [1, 1]), ValueError, "do not approximate derivative 1"),
        (lambda: analyse([0, 1], [-2, 2]), ValueError, "f\\^\\(1\\) is 2"),
        (lambda: analyse([0, 1], [-1]), ValueError, "one entry per offset"),
        (lambda: make_stencil([0, 0]), ValueError, "distinct"),
    ],
)
def test_bad_input_is_named(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()
