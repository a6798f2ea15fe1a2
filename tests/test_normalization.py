"""BatchNorm and LayerNorm against PyTorch (float64): forward in both modes, running
statistics (once per step, saved, resumed), gradients by every formula, the engine, the
twin, and refused input."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.data import minibatch_indices
from layer_checks import (
    check_deterministic,
    check_engine_equals_reference,
    check_formulas_against_autograd,
    check_refused_fit_changes_nothing,
    check_resume,
    check_twin,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

SHAPES = [(3,), (3, 5), (3, 4, 2)]  # per-sample shapes of 2-D, 3-D and 4-D batches
MODEL_SHAPES = [(2,), (2, 4), (2, 3, 2)]  # the same, smaller, for the models


def data(shape, n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 2.0, size=(n, *shape)), rng.integers(0, 3, n)


def with_state(layer, seed=1):
    """A BatchNorm with non-trivial gamma, beta and running statistics (not in a model)."""
    rng = np.random.default_rng(seed)
    layer.gamma = rng.normal(1.0, 0.3, layer.num_features)
    layer.beta = rng.normal(0.0, 0.3, layer.num_features)
    layer.running_mean = rng.normal(size=layer.num_features)
    layer.running_var = rng.uniform(0.5, 2.0, layer.num_features)
    return layer


def batch_norm_model(shape, seed=0, optimizer=None, momentum=0.1):
    """Samples of ``shape`` -> BatchNorm -> tanh -> Flatten -> Dense -> BatchNorm -> Dense."""
    width = int(np.prod(shape))
    model = dlt.Sequential(
        [
            dlt.BatchNorm(shape[0], momentum=momentum),
            dlt.Activation("tanh"),
            dlt.Flatten(),
            dlt.Dense(width, 4, activation="tanh"),
            dlt.BatchNorm(4),
            dlt.Dense(4, 3),
        ],
        seed=seed,
        input_shape=shape,
    )
    rng = np.random.default_rng(seed + 1)
    model.set_params(model.get_params() + rng.normal(0, 0.3, model.num_parameters))
    for layer in (model.layers[0], model.layers[4]):
        layer.running_mean = rng.normal(size=layer.num_features)
        layer.running_var = rng.uniform(0.5, 2.0, layer.num_features)
    model.compile(loss="cross_entropy", optimizer=optimizer or dlt.optim.SGD(lr=0.1))
    return model


def layer_norm_model(shape, normalized, seed=0, optimizer=None):
    """Samples of ``shape`` -> LayerNorm(normalized) -> tanh -> Flatten -> Dense."""
    model = dlt.Sequential(
        [
            dlt.LayerNorm(normalized),
            dlt.Activation("tanh"),
            dlt.Flatten(),
            dlt.Dense(int(np.prod(shape)), 3),
        ],
        seed=seed,
        input_shape=shape,
    )
    rng = np.random.default_rng(seed + 1)
    model.set_params(model.get_params() + rng.normal(0, 0.3, model.num_parameters))
    model.compile(loss="cross_entropy", optimizer=optimizer or dlt.optim.SGD(lr=0.1))
    return model


# ---------------------------------------------------------------------- BatchNorm forward
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_forward_equals_torch_in_both_modes(shape):
    X, _ = data(shape)
    layer = with_state(dlt.BatchNorm(3))
    args = [torch.from_numpy(np.array(v)) for v in (layer.running_mean, layer.running_var)]
    weight, bias = torch.from_numpy(layer.gamma), torch.from_numpy(layer.beta)
    for training in (True, False):
        expected = F.batch_norm(
            torch.from_numpy(X), *[a.clone() for a in args], weight, bias, training, 0.1, 1e-5
        ).numpy()
        np.testing.assert_allclose(layer.forward(X, training), expected, rtol=1e-13, atol=1e-14)
    stack = np.stack([X, 2 * X + 1, X[::-1]])
    for training in (True, False):
        each = np.stack([layer.forward(batch, training) for batch in stack])
        np.testing.assert_allclose(layer.forward_stack(stack, training), each, rtol=0, atol=1e-14)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum", [0.1, 0.35])
def test_running_statistics_follow_torch(shape, momentum):
    """PyTorch's convention: momentum weighs the batch; the running variance is unbiased."""
    layer = with_state(dlt.BatchNorm(3, momentum=momentum))
    reference = torch.nn.BatchNorm1d(3, momentum=momentum, dtype=torch.float64)
    if len(shape) == 3:
        reference = torch.nn.BatchNorm2d(3, momentum=momentum, dtype=torch.float64)
    reference.running_mean.copy_(torch.from_numpy(layer.running_mean))
    reference.running_var.copy_(torch.from_numpy(layer.running_var))
    for seed in range(3):
        X, _ = data(shape, seed=seed)
        layer.update_state(X)
        reference(torch.from_numpy(X))
    np.testing.assert_allclose(layer.running_mean, reference.running_mean.numpy(), rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, reference.running_var.numpy(), rtol=1e-14)


def test_running_statistics_move_once_per_step_from_the_unperturbed_batch():
    """After an epoch of 3 steps (learning rate ~0: the layers before stay where they are)
    the running statistics are 3 updates from the 3 batches, not one per loss evaluation;
    loss_and_gradient and predict do not move them."""
    X, y = data((2, 4), n=20)
    model = batch_norm_model((2, 4), optimizer=dlt.optim.SGD(lr=1e-300))
    expected = dlt.nn.layer_from_config(model.layers[0].config())
    expected.load_state_dict(model.layers[0].state_dict())
    model.loss_and_gradient(X, y)
    model.predict(X)
    np.testing.assert_array_equal(expected.running_mean, model.layers[0].running_mean)
    model.fit(X, y, epochs=1, batch_size=7)
    for rows in minibatch_indices(len(X), 7, seed=model.seed, epoch=0):
        expected.update_state(X[rows])
    np.testing.assert_array_equal(model.layers[0].running_mean, expected.running_mean)
    np.testing.assert_array_equal(model.layers[0].running_var, expected.running_var)


def test_inference_mode_uses_the_running_statistics():
    X, y = data((2,))
    model = batch_norm_model((2,))
    layer = model.layers[0]
    z = (X - layer.running_mean) / np.sqrt(layer.running_var + 1e-5) * layer.gamma + layer.beta
    np.testing.assert_allclose(model.activations(X)[1], z, rtol=1e-14)
    train = model.activations(X, training=True)[1]
    np.testing.assert_allclose(train.mean(axis=0), layer.beta, atol=1e-14)  # batch statistics
    assert model.evaluate(X, y)["loss"] == pytest.approx(
        float(model.loss.batched(model.forward(X), model._prepare(X, y)[1])), rel=1e-15
    )


# ---------------------------------------------------------------------- gradients, engine
@pytest.mark.parametrize("shape", MODEL_SHAPES)
def test_batch_norm_gradients_of_every_formula_equal_autograd(shape):
    X, y = data(shape)
    model = batch_norm_model(shape)
    check_formulas_against_autograd(model, X, y, training=True)
    check_formulas_against_autograd(model, X, y, training=False)


@pytest.mark.parametrize(("shape", "normalized"), [((4,), 4), ((2, 4), 4), ((2, 3, 2), (3, 2))])
def test_layer_norm_gradients_of_every_formula_equal_autograd(shape, normalized):
    X, y = data(shape)
    model = layer_norm_model(shape, normalized)
    check_formulas_against_autograd(model, X, y)
    check_formulas_against_autograd(model, X, y, training=False)


@pytest.mark.parametrize("shape", MODEL_SHAPES[1:])
def test_engine_equals_the_reference_loop(shape):
    X, y = data(shape, n=5)
    for model in (batch_norm_model(shape), layer_norm_model(shape, shape[1:])):
        check_engine_equals_reference(model, X, y)
        check_deterministic(model, X, y)


@pytest.mark.parametrize(("shape", "normalized"), [((4,), 4), ((3, 4), (3, 4))])
def test_layer_norm_forward_equals_torch(shape, normalized):
    X, _ = data(shape)
    layer = dlt.LayerNorm(normalized, eps=1e-3)
    rng = np.random.default_rng(2)
    layer.gamma = rng.normal(size=layer.gamma.shape)
    layer.beta = rng.normal(size=layer.beta.shape)
    size = (normalized,) if isinstance(normalized, int) else normalized
    expected = F.layer_norm(
        torch.from_numpy(X), size, torch.from_numpy(layer.gamma), torch.from_numpy(layer.beta), 1e-3
    ).numpy()
    for training in (True, False):
        np.testing.assert_allclose(layer.forward(X, training), expected, rtol=1e-13, atol=1e-14)


# ---------------------------------------------------------------------- saving, twin
def test_batch_norm_save_load_resume_bit_for_bit(tmp_path):
    X, y = data((2, 3, 2), n=20)
    straight, resumed = check_resume(
        lambda: batch_norm_model((2, 3, 2), optimizer=dlt.optim.Adam(lr=0.01)),
        X,
        y,
        tmp_path,
        batch_size=8,
    )
    assert not np.array_equal(straight.layers[0].running_var, np.ones(2))  # they moved
    loaded = dlt.load_model(straight.save(tmp_path / "end.dltk"))
    np.testing.assert_array_equal(loaded.predict(X), straight.predict(X))  # inference mode


def test_layer_norm_save_load_resume_bit_for_bit(tmp_path):
    X, y = data((2, 4), n=20)
    check_resume(
        lambda: layer_norm_model((2, 4), (2, 4), optimizer=dlt.optim.Adam(lr=0.01)),
        X,
        y,
        tmp_path,
        batch_size=8,
    )


@pytest.mark.parametrize("shape", MODEL_SHAPES)
def test_batch_norm_twin_ends_at_our_parameters_and_statistics(shape):
    from deep_learning_toolkit.baselines import train_torch_twin

    X, y = data(shape, n=24)
    Xv, yv = data(shape, n=9, seed=5)
    check_twin(lambda: batch_norm_model(shape), X, y)
    model = batch_norm_model(shape)
    twin = train_torch_twin(model, X, y, epochs=2, batch_size=8, validation_data=(Xv, yv))
    ours = model.fit(X, y, epochs=2, batch_size=8, validation_data=(Xv, yv))
    for index in (0, 4):
        module = twin.network[[0, 5][index // 4]]
        layer = model.layers[index]
        np.testing.assert_allclose(module.running_mean.numpy(), layer.running_mean, atol=1e-9)
        np.testing.assert_allclose(module.running_var.numpy(), layer.running_var, atol=1e-9)
    # validation in inference mode on both sides
    assert twin.history.history["val_loss"] == pytest.approx(ours.history["val_loss"], rel=1e-7)


@pytest.mark.parametrize(("shape", "normalized"), [((4,), 4), ((2, 4), (2, 4))])
def test_layer_norm_twin_ends_at_our_parameters(shape, normalized):
    X, y = data(shape, n=24)
    check_twin(lambda: layer_norm_model(shape, normalized), X, y)


# ---------------------------------------------------------------------- refused input
def test_bad_arguments_are_refused_naming_the_layer():
    with pytest.raises(ValueError, match="BatchNorm: num_features must be >= 1; got 0"):
        dlt.BatchNorm(0)
    with pytest.raises(ValueError, match="BatchNorm: momentum must be <= 1.0; got 1.5"):
        dlt.BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="BatchNorm: eps must be > 0; got 0.0"):
        dlt.BatchNorm(3, eps=0.0)
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must be >= 1; got 0"):
        dlt.LayerNorm((3, 0))
    with pytest.raises(ValueError, match=r"LayerNorm: normalized_shape must not be empty"):
        dlt.LayerNorm(())


def test_wrong_channel_count_and_rank_are_refused_naming_the_layer():
    with pytest.raises(
        ValueError,
        match=r"layers\[1\] \(BatchNorm\(num_features=3.*\(4,\); BatchNorm.* expects samples of "
        r"shape \(3,\), \(3, L\) or \(3, H, W\); got samples of shape \(4,\)",
    ):
        dlt.Sequential([dlt.Dense(2, 4), dlt.BatchNorm(3)])
    with pytest.raises(ValueError, match=r"got samples of shape \(3, 2, 2, 2\)"):
        dlt.BatchNorm(3).forward(np.zeros((5, 3, 2, 2, 2)))
    with pytest.raises(
        ValueError,
        match=r"LayerNorm.*expects samples of shape \(\.\.\., 4\).*"
        r"got samples of shape \(3, 5\)",
    ):
        dlt.Sequential([dlt.LayerNorm(4)], input_shape=(3, 5))
    with pytest.raises(
        ValueError,
        match=r"needs more than one value per channel in training "
        r"mode.*got a batch of shape \(1, 3\)",
    ):
        dlt.BatchNorm(3).forward(np.zeros((1, 3)), training=True)
    dlt.BatchNorm(3).forward(np.zeros((1, 3)))  # inference mode: running statistics


def test_bad_state_is_refused_and_leaves_the_layer_as_it_was():
    layer = with_state(dlt.BatchNorm(3))
    before = layer.state_dict()
    with pytest.raises(ValueError, match=r"state must have keys \['running_mean', 'running_var'\]"):
        layer.load_state_dict({"running_mean": np.zeros(3)})
    with pytest.raises(ValueError, match=r"running_var must have shape \(3,\); got \(4,\)"):
        layer.load_state_dict({"running_mean": np.zeros(3), "running_var": np.ones(4)})
    for key, value in before.items():
        np.testing.assert_array_equal(layer.state_dict()[key], value)


def test_a_refused_fit_leaves_parameters_statistics_and_history_unchanged():
    X, y = data((2, 4), n=12)
    model = batch_norm_model((2, 4))
    model.fit(X, y, epochs=1, batch_size=4)
    check_refused_fit_changes_nothing(model, X[:, :1], y, r"samples of shape \(1, 4\)")
    check_refused_fit_changes_nothing(model, X[:, :, :, None], y, r"X must be 3-D")
