"""The Activation layer: named activations against torch, NumPy callables, gradients by
every formula, the engine, saving (names only), the twin (names only), refused input."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.numdiff import METHODS, get_stencil
from layer_checks import (
    TOLERANCE,
    check_deterministic,
    check_engine_equals_reference,
    check_formulas_against_autograd,
    check_resume,
    check_twin,
    our_gradient,
    relative,
)

torch = pytest.importorskip("torch")

TORCH_FUNCTIONS = {
    "linear": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
    "softmax": lambda z: torch.softmax(z, dim=-1),
}


def data(shape=(4,), n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *shape)), rng.integers(0, 3, n)


def activation_model(function="tanh", seed=0, optimizer=None):
    """Dense(4, 5) -> Activation(function) -> Dense(5, 3)."""
    model = dlt.Sequential([dlt.Dense(4, 5), dlt.Activation(function), dlt.Dense(5, 3)], seed=seed)
    model.compile(loss="cross_entropy", optimizer=optimizer or dlt.optim.SGD(lr=0.1))
    return model


@pytest.mark.parametrize("name", list(TORCH_FUNCTIONS))
def test_named_activations_equal_torch(name):
    X, _ = data((3, 5), n=4)
    expected = TORCH_FUNCTIONS[name](torch.from_numpy(X)).numpy()
    layer = dlt.Activation(name)
    for training in (True, False):
        np.testing.assert_allclose(layer.forward(X, training), expected, rtol=1e-14, atol=1e-16)
    assert dlt.Activation(dlt.nn.ACTIVATIONS[name]).name == name


def test_numpy_callables_act_entry_by_entry():
    X, _ = data((3, 5), n=4)
    np.testing.assert_array_equal(dlt.Activation(np.sin).forward(X), np.sin(X))
    softsign = dlt.Activation(lambda z: z / (1 + np.abs(z)))
    expected = torch.nn.functional.softsign(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(softsign.forward(X), expected, rtol=1e-15)
    assert repr(dlt.Activation(np.sin)) == "Activation(sin)"


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softmax"])
def test_named_gradients_of_every_formula_equal_autograd(name):
    X, y = data()
    check_formulas_against_autograd(activation_model(name), X, y)
    check_formulas_against_autograd(activation_model(name), X, y, training=False)


def test_callable_gradients_of_every_formula_equal_autograd():
    """np.sin through the generic path; autograd of the same network written in torch."""
    X, y = data()
    model = activation_model(np.sin)
    theta = torch.tensor(model.get_params(), requires_grad=True)
    W1, b1 = theta[:20].reshape(4, 5), theta[20:25]
    W2, b2 = theta[25:40].reshape(5, 3), theta[40:]
    logits = torch.sin(torch.from_numpy(X) @ W1 + b1) @ W2 + b2
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
    loss.backward()
    for method in METHODS:
        value, gradient = our_gradient(model, X, y, method)
        assert value == pytest.approx(float(loss.detach()), rel=1e-13)
        assert relative(gradient, theta.grad.numpy()) <= TOLERANCE[get_stencil(method).order]


@pytest.mark.parametrize("function", ["tanh", "softmax", np.sin], ids=["tanh", "softmax", "sin"])
def test_engine_equals_reference_and_is_deterministic(function):
    X, y = data(n=6)
    check_engine_equals_reference(activation_model(function), X, y)
    check_deterministic(activation_model(function), X, y)


def test_save_load_resume_bit_for_bit(tmp_path):
    X, y = data(n=20)
    _, resumed = check_resume(
        lambda: activation_model("sigmoid", optimizer=dlt.optim.Adam(lr=0.01)),
        X,
        y,
        tmp_path,
        batch_size=8,
    )
    assert resumed.layers[1].config() == {"type": "Activation", "name_or_callable": "sigmoid"}


@pytest.mark.parametrize("name", ["tanh", "softmax"])
def test_twin_ends_at_our_parameters(name):
    X, y = data(n=24)
    check_twin(lambda: activation_model(name), X, y)


def test_a_callable_cannot_be_saved_or_twinned_and_says_why(tmp_path):
    from deep_learning_toolkit.baselines import build_network

    model = activation_model(np.sin)
    with pytest.raises(
        ValueError,
        match=r"Activation\(sin\) cannot be saved: its function is a "
        r"Python callable.*only named activations",
    ):
        model.save(tmp_path / "sin.dltk")
    assert not (tmp_path / "sin.dltk").exists()
    with pytest.raises(
        ValueError,
        match=r"Activation\(sin\) has no PyTorch twin: its function "
        r"is a Python callable",
    ):
        build_network(model)


def test_bad_arguments_and_non_elementwise_callables_are_refused():
    with pytest.raises(ValueError, match=r"Activation: Unknown activation 'swish'; valid values"):
        dlt.Activation("swish")
    with pytest.raises(
        TypeError,
        match=r"Activation: name_or_callable must be one of .* or a "
        r"callable; got 3",
    ):
        dlt.Activation(3)
    with pytest.raises(
        ValueError,
        match=r"layers\[1\] \(Activation\(<lambda>\)\).*must act "
        r"entry by entry: it returned shape \(1,\) for an input of shape \(1, 5\)",
    ):
        dlt.Sequential([dlt.Dense(4, 5), dlt.Activation(lambda z: z.sum(axis=-1))])
