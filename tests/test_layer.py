"""The Layer protocol: user-defined layers next to built-in ones.

A hand-written ``tanh(x @ W + b)`` layer goes through the generic batched path (it has no
engine hook) and must give the gradient of the built-in ``Dense`` (which goes through the
structured path) to the formula's rounding, and autograd's to its truncation; it trains with
every method, saves and loads through the registry, and bad layers are reported by index
and name.
"""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients import engine, reference_gradient
from deep_learning_toolkit.nn import Network, layer_from_config
from deep_learning_toolkit.numdiff import METHODS, get_stencil


class HandTanh(dlt.Layer):
    """``tanh(x @ W + b)``, written as a user would."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.add_parameter("W", (n_in, n_out), initializer="glorot_uniform")
        self.add_parameter("b", (n_out,), initializer="zeros")

    def forward(self, x, training=False):
        return np.tanh(x @ self.W + self.b)


class HardThreshold(dlt.Layer):
    """Step-function units: autograd sees a zero gradient for W and b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.add_parameter("W", (n_in, n_out), initializer="glorot_uniform")
        self.add_parameter("b", (n_out,), initializer="zeros")

    def forward(self, x, training=False):
        return (x @ self.W + self.b > 0).astype(float)


class Centre(dlt.Layer):
    """Subtracts the batch mean: samples interact (``per_sample = False``)."""

    per_sample = False

    def __init__(self, n):
        super().__init__()
        self.add_parameter("shift", (n,), initializer="zeros")

    def forward(self, x, training=False):
        return x - x.mean(axis=0) + self.shift


def data(n=30, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, classes, size=n)


def twins():
    """The same network twice: with the hand-written layer, and with the built-in Dense."""
    custom = dlt.Sequential([HandTanh(4, 6), dlt.Dense(6, 3)], seed=2)
    builtin = dlt.Sequential([dlt.Dense(4, 6, activation="tanh"), dlt.Dense(6, 3)], seed=2)
    for model in (custom, builtin):
        model.compile(loss="cross_entropy", optimizer="sgd")
    builtin.set_params(custom.get_params())
    return custom, builtin


def relative(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_layout_and_initialisation_equal_the_builtin_dense():
    custom = dlt.Sequential([HandTanh(4, 6), dlt.Dense(6, 3)], seed=2)
    builtin = dlt.Sequential([dlt.Dense(4, 6, activation="tanh"), dlt.Dense(6, 3)], seed=2)
    np.testing.assert_array_equal(custom.get_params(), builtin.get_params())
    assert np.shares_memory(custom.layers[0].W, custom.params)  # a view, not a copy
    custom.params[0] = 123.0
    assert custom.layers[0].W[0, 0] == 123.0
    assert custom.parameter_name(5) == "layers[0].W[0, 5]"
    assert custom.parameter_name(24) == "layers[0].b[0]"


@pytest.mark.parametrize("method", METHODS)
def test_custom_layer_gradient_equals_the_builtin_dense(method):
    custom, builtin = twins()
    X, y = data()
    _, g_custom = custom.loss_and_gradient(X, y, method=method)
    _, g_builtin = builtin.loss_and_gradient(X, y, method=method)
    # The same loss values, computed by different arithmetic: rounding amplified by 1/h.
    tolerance = {1: 1e-6, 2: 1e-9, 4: 1e-9}[get_stencil(method).order]
    assert relative(g_custom, g_builtin) <= tolerance


def test_custom_layer_gradient_equals_torch_autograd():
    torch = pytest.importorskip("torch")
    custom, _ = twins()
    X, y = data()
    theta = torch.tensor(custom.get_params(), requires_grad=True)
    W1, b1 = theta[:24].reshape(4, 6), theta[24:30]
    W2, b2 = theta[30:48].reshape(6, 3), theta[48:]
    logits = torch.tanh(torch.tensor(X) @ W1 + b1) @ W2 + b2
    torch.nn.functional.cross_entropy(logits, torch.tensor(y)).backward()
    exact = theta.grad.numpy()
    for method in ("three_point_midpoint", "five_point_midpoint", "complex_step"):
        _, grad = custom.loss_and_gradient(X, y, method=method)
        assert relative(grad, exact) <= 1e-8, method


@pytest.mark.parametrize("chunk_size", [None, 1, 5])
def test_generic_path_equals_the_reference_loop(chunk_size):
    """Custom layers before, between and after Dense layers, one with interacting samples."""
    model = dlt.Sequential(
        [HandTanh(4, 5), Centre(5), dlt.Dense(5, 6, activation="relu"), HandTanh(6, 3)], seed=1
    )
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(1)
    X, targets = model._prepare(rng.normal(size=(12, 4)), rng.normal(size=(12, 3)))
    steps = np.full(model.num_parameters, 0.125)
    for name in METHODS:
        stencil = get_stencil(name)
        fast = engine.batched_gradient(
            model, X, targets, model.loss, stencil, steps, chunk_size=chunk_size
        )
        slow = reference_gradient(model, X, targets, model.loss, stencil, steps)
        assert relative(fast.gradient, slow.gradient) <= 1e-12, name
        assert fast.evaluations == slow.evaluations
    np.testing.assert_array_equal(model.params, model.get_params())


@pytest.mark.parametrize(
    "method", [*METHODS, "complex_step", "spsa:n_directions=4", "gaussian:n_directions=4"]
)
def test_custom_layer_trains_through_fit_with_every_method(method):
    X, y = data(n=60, seed=3)
    model = dlt.Sequential([HandTanh(4, 8), dlt.Dense(8, 3)], seed=0)
    zeroth = method.startswith(("spsa", "gaussian"))
    model.compile(
        loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.02 if zeroth else 0.05), method=method
    )
    before = model.evaluate(X, y)["loss"]
    model.fit(X, y, epochs=60 if zeroth else 20, batch_size=30)
    assert model.evaluate(X, y)["loss"] < 0.8 * before


def test_hard_threshold_layer_trains_with_spsa():
    """Autograd gives its weights a zero gradient; SPSA's smoothed estimate moves them."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR of signs: the hidden layer must learn
    model = dlt.Sequential([HardThreshold(2, 16), dlt.Dense(16, 2)], seed=0)
    model.compile(
        loss="cross_entropy",
        optimizer=dlt.optim.Adam(lr=0.05),
        method="spsa:n_directions=8,scale=0.05",
        metrics=["accuracy"],
    )
    first = model.layers[0].W.copy()
    model.fit(X, y, epochs=150, batch_size=100)
    assert not np.array_equal(first, model.layers[0].W)
    assert model.evaluate(X, y)["accuracy"] >= 0.8


def test_custom_layers_save_and_load_through_the_registry(tmp_path):
    class Scaled(dlt.Layer):
        def __init__(self, n, factor=2.0):
            super().__init__()
            self.factor = factor
            self.add_parameter("s", (n,), initializer="ones")

        def forward(self, x, training=False):
            return self.factor * x * self.s

    X, y = data()
    model = dlt.Sequential([dlt.Dense(4, 3), Scaled(3, factor=0.5)], seed=4)
    model.compile(loss="cross_entropy", optimizer="adam", method="central")
    model.fit(X, y, epochs=2, batch_size=10)
    path = model.save(tmp_path / "custom.dltk")
    with pytest.raises(ValueError, match=r"Unknown layer type 'Scaled'.*register_layer"):
        dlt.load_model(path)
    loaded = dlt.load_model(path, custom_layers={"Scaled": Scaled})
    np.testing.assert_array_equal(loaded.get_params(), model.get_params())
    assert loaded.layers[1].factor == 0.5
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    dlt.register_layer(Scaled)
    assert dlt.load_model(path).layers[1].config() == {"type": "Scaled", "n": 3, "factor": 0.5}


def test_register_layer_refuses_what_is_not_a_layer_and_builtin_names():
    with pytest.raises(TypeError, match="register_layer takes a Layer subclass"):
        dlt.register_layer(int)

    class Dense(dlt.Layer):  # noqa: F811 - deliberately the name of a built-in layer
        pass

    with pytest.raises(ValueError, match="'Dense' is a built-in layer"):
        dlt.register_layer(Dense)
    assert type(layer_from_config({"type": "Dense", "in_features": 2, "out_features": 1}))


def test_misfitting_layers_are_refused_naming_both_layers_and_shapes():
    with pytest.raises(ValueError, match=r"layers\[1\] \(HandTanh.*layers\[0\].*\(6,\)"):
        dlt.Sequential([dlt.Dense(4, 6), HandTanh(5, 2)])


def test_a_custom_layer_returning_the_wrong_shape_is_named():
    class Broken(dlt.Layer):
        def forward(self, x, training=False):
            return x[:, :1] if len(x) > 1 else x

    model = dlt.Sequential([dlt.Dense(4, 3), Broken(), dlt.Dense(3, 2)], seed=0)
    model.compile(loss="cross_entropy", optimizer="sgd")
    X, y = data(classes=2)
    with pytest.raises(ValueError, match=r"layers\[1\] \(Broken\) returned shape \(30, 1\)"):
        model.predict(X)
    with pytest.raises(ValueError, match=r"layers\[1\] \(Broken\)"):
        model.fit(X, y, epochs=1)


def test_a_custom_layer_returning_nan_is_named():
    class Poisoned(dlt.Layer):
        def forward(self, x, training=False):
            return np.where(x > 0.5, np.nan, x)

    model = dlt.Sequential([dlt.Dense(4, 3), Poisoned(), dlt.Dense(3, 2)], seed=0)
    model.compile(loss="cross_entropy", optimizer="sgd")
    X, y = data(classes=2)
    before = model.get_params()
    with pytest.raises(FloatingPointError, match=r"layers\[1\] \(Poisoned\) returned non-finite"):
        model.fit(X, y, epochs=1)
    with pytest.raises(FloatingPointError, match=r"layers\[1\] \(Poisoned\) returned non-finite"):
        model.loss_and_gradient(X, y)
    np.testing.assert_array_equal(model.get_params(), before)


def test_layers_of_another_model_are_refused_and_unchanged():
    """Two models sharing layer objects would read each other's parameters."""
    layers = [dlt.Dense(4, 3), dlt.Dense(3, 2)]
    first = dlt.Sequential(layers, seed=0)
    before = first.get_params()
    with pytest.raises(ValueError, match=r"layers\[0\] .* already belongs to another model"):
        dlt.Sequential(layers, seed=1)
    np.testing.assert_array_equal(first.get_params(), before)
    assert np.shares_memory(layers[0].W, first.params)
    copies = [layer_from_config(layer.config()) for layer in layers]
    dlt.Sequential(copies, seed=1)  # fresh layers are fine


def test_the_same_layer_twice_is_refused():
    layer = dlt.Dense(3, 3)
    with pytest.raises(ValueError, match=r"layers\[1\] is the same object as layers\[0\]"):
        dlt.Sequential([layer, layer])
    dlt.Sequential([layer])  # the refused call left it free


def test_layer_without_super_init_or_with_a_bad_parameter_is_refused():
    class NoInit(dlt.Layer):
        def __init__(self):
            pass

    with pytest.raises(TypeError, match=r"layers\[0\] \(NoInit\) did not call super"):
        dlt.Sequential([NoInit()], input_shape=(2,))

    class BadShape(dlt.Layer):
        def __init__(self):
            super().__init__()
            self.add_parameter("W", (0, 3))

    with pytest.raises(ValueError, match="shape of parameter 'W' must be positive integers"):
        BadShape()
    assert dlt.Sequential([Centre(3)], input_shape=(3,)).num_parameters == 3


def test_shapes_are_inferred_from_the_first_data_when_no_layer_declares_them():
    model = dlt.Sequential([Centre(3), dlt.Dense(3, 2)], seed=0)
    assert not model.built and model.input_shape is None
    with pytest.raises(RuntimeError, match="input shape of Sequential is not known yet"):
        _ = model.n_outputs
    with pytest.raises(ValueError, match=r"layers\[0\] \(Centre\(n=3\)\) does not fit"):
        model.predict(np.zeros((5, 4)))  # refused, and nothing inferred
    assert not model.built
    model.predict(np.zeros((5, 3)))
    assert model.built and model.shapes == [(3,), (3,), (2,)]
    with pytest.raises(ValueError, match="X has 4 features, but the model's first layer expects 3"):
        model.predict(np.zeros((5, 4)))


def test_network_is_the_model_without_training():
    network = Network([HandTanh(4, 2)], seed=2)
    X, _ = data()
    np.testing.assert_allclose(
        network.forward(X), np.tanh(X @ network.layers[0].W + network.layers[0].b)
    )
    assert "HandTanh" in network.summary()


@pytest.mark.parametrize("index", [-1, 43, 1.0, True])
def test_parameter_name_refuses_indices_outside_the_vector(index):
    model = dlt.Sequential([dlt.Dense(4, 5), dlt.Dense(5, 3)], seed=0)
    assert model.parameter_name(42) == "layers[1].b[2]"
    with pytest.raises((TypeError, ValueError), match="index"):
        model.parameter_name(index)
