"""Richardson extrapolation, error estimates (full_output) and the adaptive step."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.numdiff import METHODS, STENCILS, get_stencil
from deep_learning_toolkit.numdiff.gradient import GradientResult, gradient, gradient_details
from deep_learning_toolkit.numdiff.richardson import richardson_stencil
from deep_learning_toolkit.numdiff.steps import ADAPTIVE_RUNGS, adaptive_base_steps


def smooth(v: np.ndarray) -> float:
    return float(np.sum(np.exp(np.sin(v)) + 0.5 * v**3))


def smooth_gradient(v: np.ndarray) -> np.ndarray:
    return np.cos(v) * np.exp(np.sin(v)) + 1.5 * v**2


X0 = np.array([0.3, -1.2, 2.5, 0.0])


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def network(seed: int = 0, n: int = 32):
    rng = np.random.default_rng(seed)
    model = dlt.Sequential([dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)], seed=seed)
    model.set_params(model.get_params() + 0.1 * rng.standard_normal(model.num_parameters))
    model.compile(loss="cross_entropy", optimizer="sgd")
    X, y = rng.standard_normal((n, 4)), rng.integers(0, 3, n)
    return model, X, y


def loss_of(model, X, y):
    targets = model.loss.prepare_targets(y, model.n_outputs)

    def f(theta: np.ndarray) -> float:
        saved = model.get_params()
        model.set_params(theta)
        try:
            return float(model.loss.batched(model.forward(X), targets))
        finally:
            model.set_params(saved)

    return f


# --------------------------------------------------------------------- the extrapolated rows
def test_richardson_of_central_is_the_five_point_formula() -> None:
    once = richardson_stencil(get_stencil("central"), 1)
    assert once.offsets == STENCILS["five_point_midpoint"].offsets
    assert once.weights == STENCILS["five_point_midpoint"].weights
    assert richardson_stencil(get_stencil("forward"), 1).weights == (-1.5, 2.0, -0.5)


@pytest.mark.parametrize(
    ("name", "orders"),
    [
        ("forward", (2, 3, 4)),
        ("backward", (2, 3, 4)),
        ("three_point_endpoint", (3, 4, 5)),
        ("three_point_midpoint", (4, 6, 8)),
        ("five_point_endpoint", (5, 6, 7)),
        ("five_point_midpoint", (6, 8, 10)),
    ],
)
def test_each_level_removes_the_next_error_power(name: str, orders: tuple[int, ...]) -> None:
    for levels, order in enumerate(orders, start=1):
        row = richardson_stencil(STENCILS[name], levels)
        assert row.order == order
        assert row.name == f"{name}+richardson{levels}"
        assert sum(row.formula.weights) == 0  # what the batched engine relies on
        # Integer offsets: with power-of-two steps every perturbation is exact.
        assert all(o.denominator == 1 for o in row.formula.offsets)
    assert richardson_stencil(STENCILS[name], 0) is STENCILS[name]


def test_richardson_improves_a_smooth_gradient_to_1e_12() -> None:
    plain = gradient(smooth, X0, "three_point_midpoint")
    for levels in (1, 2):
        extrapolated = gradient(smooth, X0, "three_point_midpoint", richardson=levels)
        assert relative(extrapolated, smooth_gradient(X0)) <= 1e-12
    assert relative(plain, smooth_gradient(X0)) > 1e-12  # extrapolation is what helped


def test_richardson_on_three_point_midpoint_against_autograd() -> None:
    pytest.importorskip("torch")
    from deep_learning_toolkit.study import autograd_gradient

    model, X, y = network()
    _, truth = autograd_gradient(model, X, y)
    plain = model.loss_and_gradient(X, y, method="three_point_midpoint")[1]
    for levels in (1, 2):
        row = richardson_stencil(get_stencil("three_point_midpoint"), levels)
        _, extrapolated = model.loss_and_gradient(X, y, method=row)  # batched engine
        assert relative(extrapolated, truth) <= 1e-12
    assert relative(plain, truth) > 1e-12


# --------------------------------------------------------------------- full_output
@pytest.mark.parametrize("name", METHODS)
def test_full_output_reports_error_evaluations_and_steps(name: str) -> None:
    result = gradient(smooth, X0, name, full_output=True)
    assert isinstance(result, GradientResult)
    np.testing.assert_array_equal(result.gradient, gradient(smooth, X0, name))
    actual = np.abs(result.gradient - smooth_gradient(X0))
    # The estimate is an honest bound: never far below the actual error, never absurdly above.
    assert np.all(actual <= 3 * result.error)
    assert np.max(result.error) <= 100 * np.max(actual)
    stencil = STENCILS[name]
    # Offsets at h and 2h, each point evaluated once (for midpoint formulas +-2 are shared).
    points = {o for o, _ in stencil.perturbed} | {2 * o for o, _ in stencil.perturbed}
    assert result.evaluations == len(points) * X0.size + stencil.uses_center
    np.testing.assert_array_equal(result.steps, gradient_details(smooth, X0, name).steps)


def test_full_output_with_richardson() -> None:
    result = gradient(smooth, X0, "central", richardson=2, full_output=True)
    assert result.method == "three_point_midpoint+richardson2"
    assert np.all(np.abs(result.gradient - smooth_gradient(X0)) <= 3 * result.error)
    assert np.all(result.error < 1e-10)
    # Offsets +-1, +-2, +-4 and, for the estimate, +-8.
    assert result.evaluations == 8 * X0.size


def test_derivative_full_output() -> None:
    result = dlt.numdiff.derivative(np.sin, 0.7, "five_point_midpoint", full_output=True)
    assert abs(result.gradient[0] - np.cos(0.7)) <= 3 * result.error[0]
    assert dlt.numdiff.derivative(np.sin, 0.7, richardson=1) == pytest.approx(np.cos(0.7), 1e-12)


# --------------------------------------------------------------------- adaptive steps
@pytest.mark.parametrize("name", METHODS)
def test_adaptive_step_is_within_10x_of_the_best_swept_step(name: str) -> None:
    pytest.importorskip("torch")
    from deep_learning_toolkit.study import autograd_gradient

    model, X, y = network(seed=1)
    _, truth = autograd_gradient(model, X, y)
    f = loss_of(model, X, y)
    theta = model.get_params()
    scale = np.maximum(1.0, np.abs(theta))
    sweep = min(
        relative(gradient(f, theta, name, step=2.0**k * scale), truth) for k in range(-32, -2)
    )
    result = gradient(f, theta, name, step="adaptive", full_output=True)
    assert relative(result.gradient, truth) <= 10 * sweep
    # Steps chosen per parameter from the halving sequence H, H/2, ..., H/2**(RUNGS - 1).
    base = adaptive_base_steps(theta, max(abs(o) for o in STENCILS[name].offsets))
    halvings = -np.log2(result.steps / base)
    np.testing.assert_array_equal(halvings, np.round(halvings))
    assert np.all((halvings >= 0) & (halvings < ADAPTIVE_RUNGS))
    assert result.error.shape == theta.shape


def test_adaptive_on_a_smooth_function_and_its_bookkeeping() -> None:
    result = gradient(smooth, X0, "three_point_midpoint", step="adaptive", full_output=True)
    assert relative(result.gradient, smooth_gradient(X0)) < 1e-13
    # Offsets +-1 at each of at most ADAPTIVE_RUNGS steps; the search stops at rounding level.
    assert result.evaluations <= 2 * (ADAPTIVE_RUNGS - 2) * X0.size
    assert np.all(np.abs(result.gradient - smooth_gradient(X0)) <= result.error)


def test_adaptive_complex_step_uses_the_default_step() -> None:
    f = lambda v: np.sum(np.sin(v))  # noqa: E731
    a = gradient(f, X0, "complex_step", step="adaptive", full_output=True)
    b = gradient(f, X0, "complex_step", full_output=True)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.gradient, b.gradient)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"richardson": -1}, ValueError, "richardson must be >= 0"),
        ({"richardson": 1.5}, TypeError, "richardson must be an integer"),
        ({"richardson": 99}, ValueError, "richardson must be <= 6"),
        ({"step": "smallest"}, ValueError, "Unknown step 'smallest'"),
        ({"full_output": "yes"}, TypeError, "full_output"),
        ({"method": "complex_step", "richardson": 1}, ValueError, "richardson=1"),
    ],
)
def test_bad_options_are_named(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        gradient(lambda v: np.sum(np.sin(v)), X0, **kwargs)


def test_models_refuse_the_adaptive_step_clearly() -> None:
    model, _, _ = network()
    with pytest.raises(ValueError, match="only available in numdiff.gradient"):
        model.compile(loss="cross_entropy", optimizer="sgd", step="adaptive")
