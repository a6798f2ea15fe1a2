"""numdiff on plain functions: convergence orders, accuracy at the default steps against exact
and autograd gradients, evaluation counts, the step rule, and input checks."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.numdiff import (
    METHODS,
    STENCILS,
    default_steps,
    derivative,
    gradient,
    gradient_details,
)

#: Orders of the six formulas, and a step range where truncation dominates for f below.
ORDERS = {
    "forward": 1,
    "backward": 1,
    "three_point_endpoint": 2,
    "three_point_midpoint": 2,
    "five_point_endpoint": 4,
    "five_point_midpoint": 4,
}
FIRST_STEP = {1: 2.0**-10, 2: 2.0**-7, 4: 2.0**-4}

#: Smooth test functions of one variable with their exact derivatives.
FUNCTIONS = {
    "exp(sin x)": (lambda x: np.exp(np.sin(x)), lambda x: np.cos(x) * np.exp(np.sin(x))),
    "1 / (2 + x)": (lambda x: 1 / (2 + x), lambda x: -1 / (2 + x) ** 2),
    "x^5 - 2x": (lambda x: x**5 - 2 * x, lambda x: 5 * x**4 - 2),
}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("method", METHODS)
def test_convergence_order_by_halving_the_step(method: str, function: str) -> None:
    f, df = FUNCTIONS[function]
    x = 0.7
    steps = FIRST_STEP[ORDERS[method]] / 2.0 ** np.arange(5)
    errors = np.array([abs(derivative(f, x, method, step=h) - df(x)) for h in steps])
    orders = np.log2(errors[:-1] / errors[1:])
    np.testing.assert_allclose(orders, ORDERS[method], atol=0.3)


def quadratic_plus_trig(v: np.ndarray) -> float:
    A = np.arange(1.0, 1.0 + v.size**2).reshape(v.size, v.size) / v.size**2
    return float(v @ A @ v + np.sum(np.exp(np.sin(v))))


def quadratic_plus_trig_gradient(v: np.ndarray) -> np.ndarray:
    A = np.arange(1.0, 1.0 + v.size**2).reshape(v.size, v.size) / v.size**2
    return (A + A.T) @ v + np.cos(v) * np.exp(np.sin(v))


#: Relative error of the whole gradient at the default steps.
TOLERANCE = {1: 1e-6, 2: 1e-8, 4: 1e-10}


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("method", METHODS)
def test_default_steps_against_an_exact_gradient(method: str) -> None:
    x = np.random.default_rng(0).uniform(-3, 3, 12)
    g = gradient(quadratic_plus_trig, x, method)
    assert relative(g, quadratic_plus_trig_gradient(x)) <= TOLERANCE[ORDERS[method]]


@pytest.fixture(scope="module")
def network_problem():
    pytest.importorskip("torch")
    from deep_learning_toolkit.study import autograd_gradient

    rng = np.random.default_rng(7)
    model = dlt.Sequential([dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)], seed=7)
    model.set_params(model.get_params() + 0.2 * rng.standard_normal(model.num_parameters))
    model.compile(loss="cross_entropy", optimizer="sgd")
    X, y = rng.standard_normal((50, 4)), rng.integers(0, 3, 50)
    targets = model.loss.prepare_targets(y, model.n_outputs)
    theta = model.get_params()

    def loss_at(params: np.ndarray) -> float:
        model.set_params(params)
        try:
            return float(model.loss.batched(model.forward(X), targets))
        finally:
            model.set_params(theta)

    _, truth = autograd_gradient(model, X, y)
    return loss_at, theta, truth


@pytest.mark.parametrize("method", METHODS)
def test_default_steps_against_torch_autograd_on_a_network(network_problem, method) -> None:
    loss_at, theta, truth = network_problem
    result = gradient_details(loss_at, theta, method)
    assert relative(result.gradient, truth) <= TOLERANCE[ORDERS[method]]
    # Evaluation count: k perturbed calls per parameter, plus f(x) when the formula uses it.
    stencil = STENCILS[method]
    assert result.evaluations == len(stencil.perturbed) * theta.size + stencil.uses_center
    assert (result.value is not None) == stencil.uses_center


@pytest.mark.parametrize("method", METHODS)
def test_evaluation_counts(method: str) -> None:
    calls = []

    def f(v: np.ndarray) -> float:
        calls.append(1)
        return float(np.sum(v**2))

    x = np.ones((3, 2))
    result = gradient_details(f, x, method)
    k = {"forward": 1, "backward": 1, "three_point_endpoint": 2, "three_point_midpoint": 2}
    k |= {"five_point_endpoint": 4, "five_point_midpoint": 4}
    center = method in ("forward", "backward", "three_point_endpoint", "five_point_endpoint")
    assert result.evaluations == len(calls) == k[method] * x.size + center
    assert result.gradient.shape == x.shape


@pytest.mark.parametrize("method", METHODS)
def test_default_steps_are_exact_powers_of_two(method: str) -> None:
    stencil = STENCILS[method]
    # Exact unless x has bits below the spacing of floats at x + o*h (|x| << h, or x just
    # below a power of two): see numdiff.steps.
    x = np.array([0.0, 2.0**-40, -0.3, 0.7, 1.0, -7.5, 123.456, -4.2e6, 3.3e12])
    steps = default_steps(x, stencil)
    np.testing.assert_array_equal(steps, np.exp2(np.round(np.log2(steps))))
    for offset, _ in stencil.perturbed:
        np.testing.assert_array_equal((x + offset * steps) - x, offset * steps)
    # Near the theory's relative step, scaled by max(1, |x|).
    ratio = steps / (stencil.default_step * np.maximum(1.0, np.abs(x)))
    assert np.all(np.abs(np.log2(ratio)) <= 0.5 + 1e-12)


def test_alias_and_derivative() -> None:
    np.testing.assert_array_equal(
        gradient(quadratic_plus_trig, [0.1, 0.2], "central"),
        gradient(quadratic_plus_trig, [0.1, 0.2], "three_point_midpoint"),
    )
    assert derivative(np.cos, 1.0, "five_point_midpoint") == pytest.approx(-np.sin(1.0), 1e-11)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "centre"}, ValueError, r"Unknown method 'centre'.*'forward'.*'complex_step'"),
        ({"method": 3}, TypeError, "method must be a string"),
        ({"step": 0.0}, ValueError, "step must be positive and finite; got 0.0"),
        ({"step": -1e-3}, ValueError, "step must be positive"),
        ({"step": float("nan")}, ValueError, "step must be positive and finite; got nan"),
        ({"step": float("inf")}, ValueError, "step must be positive and finite; got inf"),
        ({"step": np.ones(4)}, ValueError, r"step array of shape \(4,\) does not match x"),
        ({"step": [1e-3, -1e-3, 1e-3]}, ValueError, r"at index \(1,\)"),
        ({"step": True}, TypeError, "step must be"),
        ({"step": {"h": 1}}, TypeError, "step must be"),
        ({"f": 42}, TypeError, "f must be callable; got 42"),
        ({"f": lambda v: float("nan")}, ValueError, "f returned nan at x"),
        ({"f": lambda v: np.inf}, ValueError, "f returned inf"),
        ({"f": lambda v: v}, TypeError, "f must return a real scalar; got array of shape"),
        ({"f": lambda v: "1"}, TypeError, "f must return a real scalar"),
        ({"f": lambda v: 1j}, TypeError, "f must return a real scalar"),
        ({"x": [0.0, np.nan, 1.0]}, ValueError, "x contains NaN"),
        ({"x": []}, ValueError, "x is empty"),
        ({"x": "abc"}, TypeError, "x must be array-like"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, match) -> None:
    arguments = {"f": lambda v: float(np.sum(v**2)), "x": [0.5, -1.0, 2.0]} | kwargs
    with pytest.raises(error, match=match):
        gradient(**arguments)


def test_bad_input_of_derivative() -> None:
    with pytest.raises(TypeError, match="x must be a real number"):
        derivative(np.sin, [1.0])
    with pytest.raises(TypeError, match="f must be callable"):
        derivative(None, 1.0)


def test_f_values_at_a_perturbed_point_are_checked() -> None:
    def f(v: np.ndarray) -> float:
        return float(np.sum(v)) if v[1] == 1.0 else float("nan")

    with pytest.raises(ValueError, match=r"f returned nan at x \+ 1\*h\*e_1"):
        gradient(f, [0.0, 1.0], "forward")


# --------------------------------------------------------------------- scipy names, batches
def test_scipy_method_names_are_aliases() -> None:
    x = np.array([0.3, -0.8])
    for alias, name in (("2-point", "forward"), ("3-point", "three_point_midpoint")):
        np.testing.assert_array_equal(
            gradient(quadratic_plus_trig, x, alias), gradient(quadratic_plus_trig, x, name)
        )
        assert dlt.numdiff.get_stencil(alias) is STENCILS[name]
    f = lambda v: np.sum(np.exp(np.sin(v)))  # noqa: E731
    np.testing.assert_array_equal(gradient(f, x, "cs"), gradient(f, x, "complex_step"))
    assert dlt.numdiff.get_method("cs") is dlt.numdiff.COMPLEX_STEP
    with pytest.raises(ValueError, match="Unknown method 'cs'"):
        dlt.numdiff.get_stencil("cs")  # the complex step is not a stencil


def test_vectorized_gradient_is_one_call_with_the_same_result() -> None:
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3))
    calls = []

    def batch(points: np.ndarray) -> np.ndarray:
        calls.append(points.shape)
        return np.array([quadratic_plus_trig(p.reshape(-1)) for p in points])

    for method in METHODS:
        calls.clear()
        result = gradient(batch, x, method, vectorized=True, full_output=True)
        assert len(calls) == 1 and calls[0][1:] == x.shape
        assert result.evaluations == calls[0][0]
        expected = gradient(
            lambda v: quadratic_plus_trig(v.reshape(-1)), x, method, full_output=True
        )
        np.testing.assert_array_equal(result.gradient, expected.gradient)
        np.testing.assert_array_equal(result.error, expected.error)


def test_adaptive_gradient_against_numdifftools() -> None:
    import numdifftools as nd  # the test extra installs it

    x = np.random.default_rng(2).uniform(-2, 2, 6)
    exact = quadratic_plus_trig_gradient(x)
    calls = []
    theirs = nd.Gradient(lambda v: calls.append(1) or quadratic_plus_trig(v))(x)
    ours = gradient(quadratic_plus_trig, x, step="adaptive", full_output=True)
    assert ours.evaluations <= len(calls)
    assert relative(ours.gradient, exact) <= max(relative(theirs, exact), 1e-14)
    assert np.all(np.abs(ours.gradient - exact) <= ours.error)
