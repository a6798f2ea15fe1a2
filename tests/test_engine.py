"""The batched engine against the plain per-parameter definition (the reference)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients import engine
from deep_learning_toolkit.gradients.steps import model_steps
from deep_learning_toolkit.numdiff import METHODS, get_stencil, resolve_steps

EPS = np.finfo(np.float64).eps

# (hidden widths, hidden activation, loss, outputs)
ARCHITECTURES = [
    ((7,), "tanh", "cross_entropy", 3),
    ((6, 5), "relu", "cross_entropy", 4),
    ((5, 4, 3), "sigmoid", "cross_entropy", 3),
    ((6,), "leaky_relu", "mse", 2),
    ((5, 4), "linear", "mae", 1),
    ((4,), "softmax", "cross_entropy", 3),
    ((5, 3), "tanh", "binary_cross_entropy", 2),
    ((6,), "sigmoid", "mse", 1),
    ((), "linear", "cross_entropy", 3),
]


def make_problem(hidden, activation, loss, outputs, n=23, d=4, seed=0):
    rng = np.random.default_rng(seed)
    sizes = (d, *hidden, outputs)
    layers = [
        dlt.Dense(a, b, activation=activation if i < len(hidden) else "linear")
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
    ]
    model = dlt.Sequential(layers, seed=seed)
    model.set_params(model.get_params() + rng.normal(0, 0.3, model.num_parameters))
    X = rng.normal(size=(n, d))
    if loss == "cross_entropy":
        y = rng.integers(0, outputs, n)
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (n, outputs)).astype(float)
    else:
        y = rng.normal(size=(n, outputs))
    model.compile(loss=loss, optimizer="sgd")
    targets = model.loss.prepare_targets(y, outputs)
    return model, X, y, targets


def reference(model, X, y, method, step):
    model.gradient_engine = "reference"
    try:
        return model.gradient_details(X, y, method=method, step=step)
    finally:
        model.gradient_engine = "batched"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: f"{a[0]}-{a[1]}-{a[2]}")
@pytest.mark.parametrize("chunk_size", [None, 1, 7])
def test_engine_equals_reference(method, arch, chunk_size):
    """Same finite differences of the same loss values: agree to <= 1e-12 relative.

    Both implementations evaluate the same true losses ``L(theta + o h e_q)``, which agree to
    a few ulps; a step of 1/8 keeps ``ulp(L) * sum|w| / h`` far below 1e-12 of the gradient, so
    the comparison measures the engine's arithmetic, not rounding noise amplified by ``1/h``
    (the next test covers the default steps).
    """
    model, X, y, targets = make_problem(*arch)
    stencil = get_stencil(method)
    steps = np.full(model.num_parameters, 0.125)
    fast = engine.batched_gradient(
        model, X, targets, model.loss, stencil, steps, chunk_size=chunk_size
    )
    slow = reference(model, X, y, method, 0.125)
    scale = np.abs(slow.gradient).max()
    assert np.abs(fast.gradient - slow.gradient).max() <= 1e-12 * scale
    assert fast.loss == pytest.approx(slow.loss, rel=1e-14)
    np.testing.assert_allclose(fast.outputs, slow.outputs, rtol=1e-14, atol=1e-14)
    k = stencil.evaluations_per_parameter
    assert fast.evaluations == k * model.num_parameters + 1
    assert slow.evaluations == k * model.num_parameters + 1


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("arch", ARCHITECTURES[:5], ids=lambda a: f"{a[0]}-{a[1]}-{a[2]}")
def test_engine_at_default_steps_within_rounding_noise(method, arch):
    """At the default steps (the pilot's, found with the engine) the two differ only by loss
    rounding amplified by ``1/h``."""
    model, X, y, targets = make_problem(*arch)
    stencil = get_stencil(method)
    evaluate = partial(model.compute_gradient, X, targets, stencil)
    steps = model_steps(model, stencil, None, evaluate)
    fast = model.gradient_details(X, y, method=method, step=steps)
    slow = reference(model, X, y, method, steps)
    weight_sum = np.abs(stencil.weights_array()).sum()
    bound = 64 * EPS * (abs(slow.loss) + 1.0) * weight_sum / steps
    assert np.all(np.abs(fast.gradient - slow.gradient) <= bound)


def test_engine_is_used_and_leaves_parameters_untouched():
    model, X, y, _ = make_problem((5,), "tanh", "cross_entropy", 3)
    before = model.get_params()
    model.loss_and_gradient(X, y, method="five_point_endpoint")
    assert np.array_equal(before, model.params)
    assert all(hasattr(layer, "perturb") for layer in model.layers)  # the structured path


def test_memory_budget_splits_into_chunks_with_same_result():
    model, X, y, targets = make_problem((9, 8), "tanh", "cross_entropy", 3, n=40)
    stencil = get_stencil("three_point_midpoint")
    steps = resolve_steps(model.params, stencil)
    whole = engine.batched_gradient(model, X, targets, model.loss, stencil, steps)
    tiny = engine.batched_gradient(model, X, targets, model.loss, stencil, steps, memory_budget=1)
    np.testing.assert_allclose(tiny.gradient, whole.gradient, rtol=0, atol=1e-13)


def test_engine_gradient_matches_exact_gradient_of_linear_regression():
    """For a linear model with mse the exact gradient is known in closed form."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(50, 3)), rng.normal(size=50)
    model = dlt.Sequential([dlt.Dense(3, 1)], seed=1)
    model.compile(loss="mse", optimizer="sgd", method="five_point_midpoint")
    _, grad = model.loss_and_gradient(X, y)
    residual = X @ model.layers[0].W[:, 0] + model.layers[0].b[0] - y
    exact = np.concatenate([2 * X.T @ residual / 50, [2 * residual.mean()]])
    np.testing.assert_allclose(grad, exact, rtol=1e-10, atol=1e-12)
