"""Conv1D and Conv2D: forward against torch, gradients against autograd, the engine hook
against the plain loop, the twin, saving and resuming, and bad input.

Flatten belongs to another module; the tests use a small local ``_Flatten`` (and an
``_Unflatten`` in front, so that the PyTorch twin, which takes 2-D inputs, sees the model).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients import engine, reference_gradient
from deep_learning_toolkit.gradients.complex_step import complex_step_gradient
from deep_learning_toolkit.io import load_model
from deep_learning_toolkit.nn import Conv1D, Conv2D, layer_from_config
from deep_learning_toolkit.nn.perturbation import ChannelChange
from deep_learning_toolkit.numdiff import METHODS, get_stencil

torch = pytest.importorskip("torch")

from deep_learning_toolkit.baselines import build_network, train_torch_twin  # noqa: E402
from deep_learning_toolkit.baselines.twin_registry import TwinLayer, register_twin  # noqa: E402


@dlt.register_layer
class _Flatten(dlt.Layer):
    """``(N, ...) -> (N, prod(...))``."""

    def forward(self, x, training=False):
        return x.reshape(len(x), -1)


@dlt.register_layer
class _Unflatten(dlt.Layer):
    """``(N, prod(shape)) -> (N, *shape)``: lets 2-D data feed a convolution."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def input_shape(self):
        return (math.prod(self.shape),)

    def forward(self, x, training=False):
        return x.reshape(len(x), *self.shape)


@register_twin("_Flatten")
def _flatten_twin(layer):
    return TwinLayer([torch.nn.Flatten()])


@register_twin("_Unflatten")
def _unflatten_twin(layer):
    return TwinLayer([torch.nn.Unflatten(1, layer.shape)])


def relative(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def cnn(kind: str, activation: str = "tanh", seed: int = 0, noise: float = 0.3):
    """A small compiled CNN on random data, and its (X, y)."""
    if kind == "1d":
        shape = (2, 11)
        layers = [
            Conv1D(2, 3, 3, stride=2, padding=1, activation=activation),
            Conv1D(3, 4, 2, stride=2, padding=1, activation=activation),
            _Flatten(),
            dlt.Dense(16, 3),
        ]
    else:
        shape = (2, 6, 6)
        layers = [
            Conv2D(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), activation=activation),
            Conv2D(3, 2, 2, stride=(1, 2), padding=(1, 0), activation=activation),
            _Flatten(),
            dlt.Dense(16, 3),
        ]
    model = dlt.Sequential(layers, seed=seed, input_shape=shape)
    rng = np.random.default_rng(seed)
    model.set_params(model.get_params() + rng.normal(0, noise, model.num_parameters))
    model.compile(loss="cross_entropy", optimizer="sgd")
    X = rng.normal(size=(9, *shape))
    y = rng.integers(0, 3, len(X))
    return model, X, y


def autograd_gradient(model, X, y):
    network = build_network(model)
    loss = torch.nn.functional.cross_entropy(network(torch.from_numpy(X)), torch.from_numpy(y))
    loss.backward()
    parts = [p.from_torch(p.tensor.grad.numpy()).ravel() for p in network.dltk_parameters]
    return float(loss.detach()), np.concatenate(parts)


# ---------------------------------------------------------------------- forward
FORWARD_CASES = [
    # (spatial, in, out, kernel, stride, padding, sample shape)
    (1, 1, 1, 1, 1, 0, (1, 5)),
    (1, 3, 4, 3, 1, 0, (3, 10)),
    (1, 2, 5, 4, 2, 1, (2, 11)),
    (1, 4, 2, 5, 3, 2, (4, 9)),
    (1, 2, 3, 7, 1, 3, (2, 1)),  # kernel larger than the input, not than the padded input
    (1, 3, 3, 9, 4, 0, (3, 9)),  # kernel as long as the input
    (2, 1, 4, 3, 1, 0, (1, 8, 8)),
    (2, 3, 2, (2, 3), (1, 2), (0, 1), (3, 7, 6)),
    (2, 2, 3, 3, 2, 1, (2, 9, 5)),
    (2, 2, 2, (1, 4), (3, 1), (2, 0), (2, 4, 4)),
    (2, 1, 6, 5, (2, 3), 2, (1, 3, 8)),
]


@pytest.mark.parametrize("case", FORWARD_CASES, ids=str)
@pytest.mark.parametrize("activation", ["linear", "tanh", "relu", "softmax"])
def test_forward_equals_torch(case, activation):
    spatial, c_in, c_out, kernel, stride, padding, shape = case
    cls = Conv1D if spatial == 1 else Conv2D
    layer = cls(c_in, c_out, kernel, stride=stride, padding=padding, activation=activation)
    model = dlt.Sequential([layer], seed=1, input_shape=shape)
    X = np.random.default_rng(2).normal(size=(5, *shape))
    W, b = torch.from_numpy(layer.W.copy()), torch.from_numpy(layer.b.copy())
    conv = torch.nn.functional.conv1d if spatial == 1 else torch.nn.functional.conv2d
    expected = conv(torch.from_numpy(X), W, b, stride=stride, padding=padding)
    expected = build_network(model)[1](expected).numpy()  # the twin's activation module
    out = model.forward(X)
    assert out.shape == (5, *model.output_shape) == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-14)
    stack = layer.forward_stack(np.stack([X, 2 * X, -X]))
    np.testing.assert_allclose(stack[1], layer.forward(2 * X), rtol=1e-15, atol=0)


def test_parameters_in_pytorch_layout_and_initialisation_fans():
    layer = Conv2D(3, 64, (5, 4), activation="relu")  # auto: He, fan_in = 3 * 5 * 4
    model = dlt.Sequential([layer], seed=0, input_shape=(3, 9, 9))
    assert layer.W.shape == (64, 3, 5, 4) and layer.b.shape == (64,)
    assert model.num_parameters == 64 * 3 * 20 + 64
    assert np.shares_memory(layer.W, model.params) and np.all(layer.b == 0)
    assert model.parameter_name(61) == "layers[0].W[1, 0, 0, 1]"
    assert layer.W.std() == pytest.approx(math.sqrt(2 / 60), rel=0.05)
    glorot = Conv1D(4, 6, 5, activation="tanh")  # auto: Glorot, fans 4 * 5 and 6 * 5
    dlt.Sequential([glorot], seed=0, input_shape=(4, 9))
    limit = math.sqrt(6 / (20 + 30))
    assert np.abs(glorot.W).max() <= limit and np.abs(glorot.W).max() > 0.9 * limit


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_every_formula_and_the_complex_step_equal_autograd(kind):
    model, X, y = cnn(kind)
    value, exact = autograd_gradient(model, X, y)
    tolerance = {1: 1e-6, 2: 1e-9, 4: 1e-10}
    for method in METHODS:
        loss, grad = model.loss_and_gradient(X, y, method=method)
        assert loss == pytest.approx(value, rel=1e-13)
        assert relative(grad, exact) <= tolerance[get_stencil(method).order], method
    _, grad = model.loss_and_gradient(X, y, method="complex_step")
    assert relative(grad, exact) <= 1e-13


CASES = [("1d", "tanh"), ("1d", "relu"), ("2d", "sigmoid"), ("2d", "softmax"), ("2d", "linear")]


@pytest.mark.parametrize(("kind", "activation"), CASES)
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_engine_equals_the_reference_loop(kind, activation, chunk_size):
    """The hook's outputs are the perturbed forward passes: <= 1e-12 at h = 1/8."""
    model, X, y = cnn(kind, activation)
    X, targets = model._prepare(X, y)
    steps = np.full(model.num_parameters, 0.125)
    for method in METHODS:
        stencil = get_stencil(method)
        fast = engine.batched_gradient(
            model, X, targets, model.loss, stencil, steps, chunk_size=chunk_size
        )
        slow = reference_gradient(model, X, targets, model.loss, stencil, steps)
        assert relative(fast.gradient, slow.gradient) <= 1e-12, method
        assert fast.evaluations == slow.evaluations
    np.testing.assert_array_equal(model.params, model.get_params())


@pytest.mark.parametrize(("kind", "activation"), CASES)
def test_complex_step_engine_equals_the_complex_loop(kind, activation):
    """The hook with imaginary deltas against whole complex forward passes, one per parameter."""
    model, X, y = cnn(kind, activation)
    X, targets = model._prepare(X, y)
    h = 1e-20
    fast = complex_step_gradient(model, X, targets, model.loss, np.full(model.num_parameters, h))
    slow = np.empty(model.num_parameters)
    theta = model.params.astype(complex)
    for q in range(model.num_parameters):
        theta[q] += 1j * h
        model._bind(theta)
        slow[q] = model.loss.batched(model.forward(X, True), targets).imag / h
        theta[q] -= 1j * h
    model._bind(model.params)
    assert relative(fast.gradient, slow) <= 1e-13


def test_the_hook_changes_one_channel_and_leaves_the_model_alone():
    layer = Conv1D(2, 3, 3, padding=1, activation="tanh")
    model = dlt.Sequential([layer], seed=0, input_shape=(2, 6))
    X = np.random.default_rng(0).normal(size=(4, 2, 6))
    out = model.forward(X)
    cache = layer.perturbation_cache(X, out)
    before = model.get_params()
    index = np.array([0, 7, 18, 20])  # W[0, 0, 0], W[1, 0, 1], b[0], b[2]
    change = layer.perturb(cache, index, np.full(4, 0.5), engine._Scratch())
    for m, q in enumerate(index):
        params = before.copy()
        params[q] += 0.5
        model.set_params(params)
        np.testing.assert_allclose(change.values[m], model.forward(X), rtol=1e-14, atol=1e-15)
        channel = q // 6 if q < 18 else q - 18
        others = np.arange(3) != channel
        np.testing.assert_array_equal(change.values[m][:, others], out[:, others])
    model.set_params(before)


@pytest.mark.parametrize("kind", ["1d", "2d"])
@pytest.mark.parametrize("imaginary", [False, True])
def test_a_convolution_after_a_channel_change_convolves_the_change_alone(kind, imaginary):
    model, X, _ = cnn(kind)
    first, second = model.layers[:2]
    acts = model.activations(X)
    deltas = np.array([0.3, -0.2, 0.1, 0.25]) * (1j if imaginary else 1)
    index = np.array([0, 5, first.num_parameters - 1, 9])
    scratch = engine._Scratch()
    change = first.perturb(first.perturbation_cache(X, acts[1]), index, deltas, scratch)
    assert isinstance(change, ChannelChange)
    changed = change.values[np.arange(4), :, change.channels]  # (M, N, *spatial)
    np.testing.assert_allclose(change.u, changed - acts[1][:, change.channels].swapaxes(0, 1))
    result = second.propagate(second.perturbation_cache(acts[1], acts[2]), change, scratch)
    expected = second.forward_stack(change.values)
    np.testing.assert_allclose(result.values, expected, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------- twin, saving
def twin_model(kind: str, seed: int = 0):
    if kind == "1d":
        layers = [_Unflatten([2, 10]), Conv1D(2, 3, 3, stride=2, activation="tanh")]
        layers += [_Flatten(), dlt.Dense(12, 3)]
        features = 20
    else:
        layers = [_Unflatten([1, 5, 5]), Conv2D(1, 3, 3, padding=1, activation="tanh")]
        layers += [Conv2D(3, 2, 2, stride=2, activation="sigmoid"), _Flatten(), dlt.Dense(8, 3)]
        features = 25
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(48, features))
    y = np.argmax(X[:, :3] + 0.5 * X[:, 3:6], axis=1)
    return dlt.Sequential(layers, seed=seed), X, y


@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_twin_trains_like_the_model(kind):
    model, X, y = twin_model(kind)
    model.compile(loss="cross_entropy", optimizer=dlt.optim.SGD(lr=0.2), method="central")
    twin = train_torch_twin(model, X, y, epochs=4, batch_size=16)
    history = model.fit(X, y, epochs=4, batch_size=16)
    assert np.max(np.abs(model.get_params() - twin.params)) <= 1e-6
    assert history.last("loss") == pytest.approx(twin.history.last("loss"), rel=1e-6)
    assert history.last("loss") < history.history["loss"][0]  # it did train


def test_save_load_and_resume_bit_for_bit(tmp_path):
    def compiled():
        model, X, y = twin_model("2d", seed=3)
        model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.01), method="central")
        return model, X, y

    straight, X, y = compiled()
    straight.fit(X, y, epochs=4, batch_size=16)
    first, _, _ = compiled()
    first.fit(X, y, epochs=2, batch_size=16)
    first.save(tmp_path / "cnn.dltk")
    resumed = load_model(tmp_path / "cnn.dltk")
    assert resumed.config() == first.config()
    np.testing.assert_array_equal(resumed.predict(X), first.predict(X))
    resumed.fit(X, y, epochs=4, batch_size=16, initial_epoch=resumed.epochs_completed)
    assert np.array_equal(resumed.params, straight.params)


def test_config_round_trip_keeps_the_arguments():
    layer = Conv2D(3, 4, (3, 1), stride=2, padding=(0, 1), activation="relu", init="he_uniform")
    config = layer.config()
    assert config == {
        "type": "Conv2D",
        "in_channels": 3,
        "out_channels": 4,
        "kernel_size": [3, 1],
        "stride": 2,
        "padding": [0, 1],
        "activation": "relu",
        "init": "he_uniform",
    }
    rebuilt = layer_from_config(config)
    assert isinstance(rebuilt, Conv2D) and rebuilt.config() == config
    assert rebuilt.kernel_size == (3, 1) and rebuilt.stride == (2, 2)


# ---------------------------------------------------------------------- bad input
BAD_SHAPES = [
    # (layer, sample shape, words the message must contain)
    (lambda: Conv1D(2, 3, 3), (2, 10, 10), ["Conv1D", "(in_channels=2, length)", "(2, 10, 10)"]),
    (lambda: Conv1D(2, 3, 3), (10,), ["Conv1D", "(in_channels=2, length)", "(10,)"]),
    (lambda: Conv2D(1, 3, 3), (1, 8), ["Conv2D", "(in_channels=1, height, width)", "(1, 8)"]),
    (lambda: Conv1D(2, 3, 3), (3, 10), ["Conv1D", "expects 2 input channel(s)", "got 3"]),
    (lambda: Conv2D(1, 3, 3), (3, 8, 8), ["Conv2D", "expects 1 input channel(s)", "got 3"]),
    (lambda: Conv1D(2, 3, 7, padding=1), (2, 4), ["Conv1D", "kernel length 7", "input length 6"]),
    (
        lambda: Conv2D(1, 3, (2, 5), padding=(0, 1)),
        (1, 8, 2),
        ["Conv2D", "kernel width 5", "padded input width 4", "(1, 8, 2)"],
    ),
]


@pytest.mark.parametrize(("make", "shape", "words"), BAD_SHAPES)
def test_misfitting_inputs_are_refused_before_any_work(make, shape, words):
    # at build time, from the given input shape
    with pytest.raises(ValueError) as error:
        dlt.Sequential([make()], input_shape=shape)
    for word in ["layers[0]", *words]:
        assert word in str(error.value)
    # at the first data, for a model whose shapes come from the data: nothing changes
    model = dlt.Sequential([make(), _Flatten(), dlt.Dense(1, 2)], seed=0)
    model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.1))
    before = model.get_params()
    X = np.ones((4, *shape))
    for call in (lambda: model.fit(X, np.zeros(4), epochs=1), lambda: model.predict(X)):
        with pytest.raises(ValueError) as error:
            call()
        assert all(word in str(error.value) for word in words)
    assert not model.built and model.history is None and model.optimizer.step_count == 0
    np.testing.assert_array_equal(model.params, before)
    # a layer called directly
    with pytest.raises(ValueError, match=words[0]):
        make().forward(X)


BAD_ARGUMENTS = [
    (lambda: Conv1D(2, 3, 3, stride=0), ValueError, "Conv1D: stride must be >= 1; got 0"),
    (lambda: Conv2D(2, 3, 3, stride=(1, -2)), ValueError, "Conv2D: stride must be >= 1"),
    (lambda: Conv1D(2, 3, 3, padding=-1), ValueError, "Conv1D: padding must be >= 0; got -1"),
    (lambda: Conv2D(2, 3, 3, padding=(0, -1)), ValueError, r"padding must be >= 0; got \(0, -1\)"),
    (lambda: Conv1D(2, 3, 0), ValueError, "Conv1D: kernel_size must be >= 1; got 0"),
    (lambda: Conv2D(2, 3, (3, 3, 3)), TypeError, "kernel_size must be an integer or a tuple of 2"),
    (lambda: Conv1D(2, 3, 2.5), TypeError, "Conv1D: kernel_size must be an integer; got 2.5"),
    (lambda: Conv1D(2, 3, 3, stride=True), TypeError, "stride must be an integer"),
    (lambda: Conv1D(0, 3, 3), ValueError, "Conv1D: in_channels must be >= 1; got 0"),
    (lambda: Conv2D(1, -4, 3), ValueError, "Conv2D: out_channels must be >= 1; got -4"),
    (lambda: Conv1D(1, 2, 3, activation="swish"), ValueError, "Unknown activation 'swish'"),
    (lambda: Conv1D(1, 2, 3, init="uniform"), ValueError, "Unknown init 'uniform'"),
]


@pytest.mark.parametrize(("make", "kind", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_refused_at_construction(make, kind, message):
    with pytest.raises(kind, match=message):
        make()


@pytest.mark.slow
def test_a_small_cnn_on_digits_reaches_97_percent_with_central_differences():
    """The issue's bar: the train command's CNN (4,538 parameters), Adam, central
    differences, 15 epochs of batch 32, split seed 3."""
    pytest.importorskip("sklearn")
    from deep_learning_toolkit.experiments.setup import build_cnn, prepare_data

    split = prepare_data("digits", 3, images=True)
    model = build_cnn((1, 8, 8), (32,), 10, "tanh", 3)
    model.compile(optimizer=dlt.optim.Adam(lr=0.01), method="central", metrics=["accuracy"])
    model.fit(split.X_train, split.y_train, epochs=15, batch_size=32)
    assert model.evaluate(split.X_test, split.y_test)["accuracy"] >= 0.97
