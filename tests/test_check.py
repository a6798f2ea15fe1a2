"""The gradient checker: right gradients pass, a flipped sign fails, for every method."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients import check_model_gradient
from deep_learning_toolkit.numdiff.check import (
    SAFETY,
    GradientCheck,
    check_gradient,
    default_rtol,
)
from deep_learning_toolkit.numdiff.stencils import ALL_METHODS, get_method


def network(seed: int = 0):
    rng = np.random.default_rng(seed)
    model = dlt.Sequential(
        [dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)],
        seed=seed,
    )
    model.set_params(model.get_params() + 0.1 * rng.standard_normal(model.num_parameters))
    model.compile(loss="cross_entropy", optimizer="sgd")
    return model, rng.standard_normal((32, 4)), rng.integers(0, 3, 32)


def network_loss(model, X, y):
    """The loss as a complex-safe function of the flat parameters (for every method)."""
    targets = model.loss.prepare_targets(y, model.n_outputs)

    def f(theta):
        a, start = X, 0
        for layer in model.layers:
            n = layer.in_features * layer.out_features
            W = theta[start : start + n].reshape(layer.in_features, layer.out_features)
            b = theta[start + n : start + layer.num_parameters]
            a, start = layer.activation(a @ W + b), start + layer.num_parameters
        value = model.loss.batched(a, targets)
        return value if np.iscomplexobj(value) else float(value)

    return f


@pytest.fixture(scope="module")
def problem():
    torch = pytest.importorskip("torch")  # noqa: F841
    from deep_learning_toolkit.study import autograd_gradient

    model, X, y = network()
    _, truth = autograd_gradient(model, X, y)
    flipped = truth.copy()
    index = int(np.argsort(np.abs(truth))[len(truth) // 2])  # an entry of median size
    flipped[index] = -flipped[index]
    return model, X, y, truth, flipped, index


@pytest.mark.parametrize("method", ALL_METHODS)
def test_model_check_passes_the_right_gradient_and_flags_a_flipped_sign(problem, method) -> None:
    model, X, y, truth, flipped, index = problem
    right = check_model_gradient(model, X, y, truth, method)
    assert right.passed, right.summary()
    assert right.worst[0].ratio < 0.5  # with room to spare
    wrong = check_model_gradient(model, X, y, flipped, method)
    assert not wrong.passed
    assert wrong.failures == 1
    assert wrong.worst[0].index == index
    assert wrong.worst[0].name == model.parameter_name(index)
    assert wrong.worst[0].relative_error == pytest.approx(2.0, rel=1e-6)
    assert wrong.max_relative_error == pytest.approx(2.0, rel=1e-6)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_function_check_passes_the_right_gradient_and_flags_a_flipped_sign(problem, method) -> None:
    model, X, y, truth, flipped, index = problem
    f = network_loss(model, X, y)
    theta = model.get_params()
    right = check_gradient(f, theta, truth, method=method)
    assert right.passed, right.summary()
    assert bool(right) is True
    wrong = check_gradient(f, theta, flipped, method=method)
    assert not wrong
    assert wrong.worst[0].index == index
    assert wrong.worst[0].name == f"x[{index}]"


def test_tolerance_comes_from_the_error_theory() -> None:
    rtols = {name: default_rtol(get_method(name)) for name in ALL_METHODS}
    assert rtols["forward"] == rtols["backward"] > rtols["three_point_endpoint"]
    assert rtols["three_point_endpoint"] > rtols["three_point_midpoint"]
    assert rtols["three_point_midpoint"] > rtols["five_point_endpoint"]
    assert rtols["five_point_endpoint"] > rtols["five_point_midpoint"] > rtols["complex_step"]
    assert rtols["complex_step"] == pytest.approx(SAFETY * np.finfo(float).eps)
    # sqrt(eps)-ish for one-sided differences, eps**(2/3) for central, eps**(4/5) for five-point.
    eps = np.finfo(float).eps
    assert 1e-1 < rtols["forward"] / (SAFETY * eps**0.5) < 10
    assert 1e-1 < rtols["three_point_midpoint"] / (SAFETY * eps ** (2 / 3)) < 10
    assert 1e-1 < rtols["five_point_midpoint"] / (SAFETY * eps**0.8) < 10


def test_report_contents_and_summary() -> None:
    x = np.array([[0.1, 0.7], [-1.2, 2.0]])
    f = lambda v: float(np.sum(np.sin(v) * v))  # noqa: E731
    grad = np.sin(x) + x * np.cos(x)
    grad[1, 0] *= -1
    report = check_gradient(f, x, grad, "five_point_midpoint", n_worst=2)
    assert isinstance(report, GradientCheck)
    assert report.method == "five_point_midpoint"
    assert len(report.worst) == 2
    assert report.worst[0].index == (1, 0)
    assert report.worst[0].name == "x[1, 0]"
    assert report.claimed.shape == report.numerical.shape == report.allowed.shape == x.shape
    assert report.evaluations == 6 * x.size  # +-1, +-2 and, for the estimate, +-4
    text = str(report)
    assert "FAILED (1 entry out of tolerance)" in text
    assert "x[1, 0]" in text
    assert report.median_relative_error < 1e-10
    # A looser rtol cannot rescue a flipped sign; a right gradient given as a callable passes.
    assert not check_gradient(f, x, grad, "five_point_midpoint", rtol=0.5)
    assert check_gradient(f, x, lambda v: np.sin(v) + v * np.cos(v), "forward")


def test_richardson_and_explicit_tolerances() -> None:
    x = np.array([0.3, -0.8, 1.5])
    f = lambda v: float(np.sum(np.exp(v) * np.cos(v)))  # noqa: E731
    exact = np.exp(x) * (np.cos(x) - np.sin(x))
    report = check_gradient(f, x, exact, "central", richardson=2)
    assert report.passed
    assert report.method == "three_point_midpoint+richardson2"
    assert report.max_relative_error < 1e-12
    # rtol=0, atol=0 demands bit-for-bit agreement, which a numerical gradient never gives.
    assert not check_gradient(f, x, exact, "central", rtol=0.0, atol=0.0)


def test_float32_gradients_need_a_looser_rtol() -> None:
    x = np.linspace(-1, 1, 7)
    f = lambda v: float(np.sum(np.tanh(v) ** 2))  # noqa: E731
    grad32 = (2 * np.tanh(x) / np.cosh(x) ** 2).astype(np.float32)
    assert not check_gradient(f, x, grad32, "five_point_midpoint")
    assert check_gradient(f, x, grad32, "five_point_midpoint", rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: check_gradient(np.sum, np.ones(3), np.ones(2)), ValueError, "shape of x"),
        (lambda: check_gradient(np.sum, np.ones(3), np.ones(3), "sideways"), ValueError, "method"),
        (lambda: check_gradient(np.sum, np.ones(3), np.ones(3), rtol=-1.0), ValueError, "rtol"),
        (lambda: check_gradient(np.sum, np.ones(3), np.ones(3), atol="a"), TypeError, "atol"),
        (lambda: check_gradient(np.sum, np.ones(3), [np.nan] * 3), ValueError, "grad"),
        (lambda: check_gradient(np.sum, np.ones(3), np.ones(3), n_worst=0), ValueError, "n_worst"),
        (lambda: check_model_gradient("model", 1, 2, 3), TypeError, "Sequential"),
    ],
)
def test_bad_input_is_named(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()


def test_model_check_needs_a_compiled_model_and_matching_grad() -> None:
    model = dlt.Sequential([dlt.Dense(2, 2)], seed=0)
    X, y = np.ones((3, 2)), np.array([0, 1, 0])
    with pytest.raises(RuntimeError, match="not compiled"):
        check_model_gradient(model, X, y, np.zeros(model.num_parameters))
    model.compile(loss="cross_entropy", optimizer="sgd")
    with pytest.raises(ValueError, match="shape of the model's parameters"):
        check_model_gradient(model, X, y, np.zeros(5))
