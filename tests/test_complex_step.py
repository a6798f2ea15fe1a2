"""The complex step: complex-safe activations and losses, function and model gradients."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients.complex_step import check_loss, complex_step_gradient
from deep_learning_toolkit.nn.activations import ACTIVATIONS, LEAKY_RELU_SLOPE
from deep_learning_toolkit.nn.losses import LOSSES, get_loss
from deep_learning_toolkit.numdiff.gradient import gradient, gradient_details

H = 1e-20
Z = np.array([[-3.0, -0.4, 0.2, 1.7], [0.9, -1.3, 2.2, -0.05]])

#: Exact derivatives of the elementwise activations.
DERIVATIVES = {
    "linear": lambda z: np.ones_like(z),
    "sigmoid": lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2,
    "tanh": lambda z: 1 / np.cosh(z) ** 2,
    "relu": lambda z: (z > 0).astype(float),
    "leaky_relu": lambda z: np.where(z > 0, 1.0, LEAKY_RELU_SLOPE),
}


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_elementwise_activations_are_complex_safe(name: str) -> None:
    activation = ACTIVATIONS[name]
    value = activation(Z + 1j * H)
    # Complex tanh is a different algorithm: real parts agree to an ulp.
    np.testing.assert_allclose(value.real, activation(Z), rtol=4e-16, atol=1e-300)
    np.testing.assert_allclose(value.imag / H, DERIVATIVES[name](Z), rtol=1e-15)


def test_rectifiers_take_the_left_derivative_at_zero_and_keep_nan() -> None:
    zero = np.zeros(1) + 1j * H
    assert ACTIVATIONS["relu"](zero).imag[0] == 0.0
    assert ACTIVATIONS["leaky_relu"](zero).imag[0] / H == LEAKY_RELU_SLOPE
    assert np.isnan(ACTIVATIONS["relu"](np.array([np.nan + 0j]))[0])
    assert np.isnan(ACTIVATIONS["relu"](np.array([np.nan]))[0])


def test_softmax_is_complex_safe_without_overflow() -> None:
    softmax = ACTIVATIONS["softmax"]
    z = np.array([[1000.0, 999.0, 990.0]])
    p = softmax(z)
    direction = np.array([[0.0, 1.0, 0.0]])
    complex_value = softmax(z + 1j * H * direction)
    np.testing.assert_array_equal(complex_value.real, p)
    jacobian_column = p * (direction - (p * direction).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(complex_value.imag / H, jacobian_column, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy", "mse"])
def test_losses_are_complex_safe(name: str) -> None:
    rng = np.random.default_rng(0)
    outputs = 30 * rng.standard_normal((7, 3))  # large logits: the shifts matter
    loss = get_loss(name)
    y = rng.integers(0, 3, 7) if loss.task == "classification" else rng.integers(0, 2, (7, 3))
    targets = loss.prepare_targets(y, 3)
    direction = rng.standard_normal((7, 3))
    value = loss.batched(outputs + 1j * H * direction, targets)
    assert value.real == pytest.approx(loss(outputs, targets), rel=1e-15)
    # Against a five-point difference along the same direction.
    step = 1e-3
    line = [loss(outputs + k * step * direction, targets) for k in (-2, -1, 1, 2)]
    slope = (line[0] - 8 * line[1] + 8 * line[2] - line[3]) / (12 * step)
    assert value.imag / H == pytest.approx(slope, rel=1e-8)
    # transform() too: analytic, and the real part unchanged.
    probabilities = loss.transform(outputs + 1j * H * direction)
    np.testing.assert_allclose(probabilities.real, loss.transform(outputs), rtol=4e-16, atol=1e-16)


def test_mae_is_refused_with_a_clear_error() -> None:
    mae = LOSSES["mae"]()
    with pytest.raises(ValueError, match="'mae' is not analytic"):
        mae.batched(np.zeros((2, 1)) + 1j * H, np.zeros((2, 1)))
    with pytest.raises(ValueError, match="not analytic"):
        check_loss(mae, 1)
    model = dlt.Sequential([dlt.Dense(2, 1)], seed=0)
    model.compile(loss="mae", optimizer="sgd")
    X = np.ones((3, 2))
    targets = model.loss.prepare_targets(np.zeros(3), 1)
    with pytest.raises(ValueError, match="use a finite-difference method"):
        complex_step_gradient(model, X, targets, model.loss)


def test_a_loss_that_drops_the_imaginary_part_is_caught() -> None:
    class Absolute(dlt.nn.MeanSquaredError):
        name = "abs_mse"

        def batched(self, outputs, targets):
            return np.abs(outputs - targets).mean(axis=(-2, -1)) ** 2

    with pytest.raises(ValueError, match="drops the imaginary part"):
        check_loss(Absolute(), 2)


# --------------------------------------------------------------------- plain functions
def test_function_gradient_is_exact_to_rounding() -> None:
    x = np.array([[0.3, -1.7], [2.2, 0.01]])
    f = lambda v: np.sum(np.sin(v) * np.exp(v) + v**4)  # noqa: E731
    exact = np.exp(x) * (np.sin(x) + np.cos(x)) + 4 * x**3
    result = gradient_details(f, x, "complex_step")
    assert relative(result.gradient, exact) <= 1e-15
    assert result.evaluations == x.size
    assert result.value is None
    assert result.method == "complex_step"
    # The default step: 1e-20 * max(1, |x|), rounded to a power of two.
    np.testing.assert_array_equal(
        np.log2(result.steps), np.round(np.log2(1e-20 * np.maximum(1, np.abs(x))))
    )
    assert dlt.numdiff.derivative(np.sin, 0.5, "complex_step") == pytest.approx(
        np.cos(0.5), rel=1e-16, abs=0
    )


def test_function_gradient_full_output() -> None:
    x = np.array([0.5, -2.0])
    result = gradient(lambda v: np.sum(np.cosh(v)), x, "complex_step", full_output=True)
    assert result.evaluations == 2 * x.size
    assert np.all(np.abs(result.gradient - np.sinh(x)) <= 3 * result.error)
    assert np.all(result.error < 1e-14)


def test_a_function_returning_a_real_value_is_refused() -> None:
    with pytest.raises(TypeError, match="complex-safe arithmetic"):
        gradient(lambda v: float(np.sum(np.abs(v))), np.ones(2), "complex_step")
    with pytest.raises(TypeError, match="complex-safe arithmetic"):
        gradient(lambda v: np.sum(np.abs(v)), np.ones(2), "complex_step")
    with pytest.raises(ValueError, match="finite values"):
        gradient(lambda v: np.sum(v) * complex(np.inf, 0), np.ones(2), "complex_step")
    with pytest.raises(TypeError, match="must return a scalar"):
        gradient(lambda v: "x", np.ones(2), "complex_step")


# --------------------------------------------------------------------- models
def model_and_batch(activation: str, loss: str, seed: int = 0, hidden: int = 16):
    rng = np.random.default_rng(seed)
    outputs = 3
    model = dlt.Sequential(
        [
            dlt.Dense(4, hidden, activation=activation),
            dlt.Dense(hidden, 8, activation=activation),
            dlt.Dense(8, outputs),
        ],
        seed=seed,
    )
    model.set_params(model.get_params() + 0.1 * rng.standard_normal(model.num_parameters))
    model.compile(loss=loss, optimizer="sgd")
    X = rng.standard_normal((40, 4))
    if loss == "cross_entropy":
        y = rng.integers(0, outputs, 40)
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (40, outputs)).astype(float)
    else:
        y = rng.standard_normal((40, outputs))
    return model, X, y


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_complex_step_matches_autograd_to_1e_14(activation: str) -> None:
    pytest.importorskip("torch")
    from deep_learning_toolkit.study import autograd_gradient

    model, X, y = model_and_batch(activation, "cross_entropy")
    value, truth = autograd_gradient(model, X, y)
    targets = model.loss.prepare_targets(y, model.n_outputs)
    result = complex_step_gradient(model, X, targets, model.loss)
    loss, grad, evaluations = result.loss, result.gradient, result.evaluations
    assert relative(grad, truth) <= 1e-14
    assert loss == pytest.approx(value, rel=1e-14)
    assert evaluations == model.num_parameters + 1


@pytest.mark.parametrize(
    ("activation", "loss"),
    [
        ("tanh", "binary_cross_entropy"),
        ("sigmoid", "mse"),
        ("relu", "cross_entropy"),
        ("leaky_relu", "mse"),
        ("softmax", "cross_entropy"),
        ("linear", "binary_cross_entropy"),
    ],
)
def test_every_layer_kind_and_loss_against_autograd(activation: str, loss: str) -> None:
    pytest.importorskip("torch")
    from deep_learning_toolkit.study import autograd_gradient

    model, X, y = model_and_batch(activation, loss, seed=2)
    _, truth = autograd_gradient(model, X, y)
    targets = model.loss.prepare_targets(y, model.n_outputs)
    grad = complex_step_gradient(model, X, targets, model.loss).gradient
    assert relative(grad, truth) <= 1e-13


def test_model_path_equals_the_function_path_and_is_chunk_independent() -> None:
    model, X, y = model_and_batch("tanh", "cross_entropy", seed=4, hidden=6)
    targets = model.loss.prepare_targets(y, model.n_outputs)
    grad = complex_step_gradient(model, X, targets, model.loss).gradient
    small = complex_step_gradient(model, X, targets, model.loss, memory_budget=1).gradient
    np.testing.assert_array_equal(grad, small)

    def f(theta: np.ndarray) -> complex:
        a, start = X, 0
        for layer in model.layers:
            n = layer.in_features * layer.out_features
            W = theta[start : start + n].reshape(layer.in_features, layer.out_features)
            b = theta[start + n : start + layer.num_parameters]
            a, start = layer.activation(a @ W + b), start + layer.num_parameters
        return model.loss.batched(a, targets)

    plain = gradient(f, model.get_params(), "complex_step")
    np.testing.assert_allclose(grad, plain, rtol=1e-13, atol=1e-17)
    # The model's parameters are untouched.
    model_params = model.get_params()
    complex_step_gradient(model, X, targets, model.loss)
    np.testing.assert_array_equal(model.get_params(), model_params)
