"""Dropout: inverted dropout as in PyTorch, one mask per step shared by every perturbed
evaluation, masks keyed by (seed, epoch, batch) so that resumed runs and the PyTorch twin
replay them."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from layer_checks import (
    check_deterministic,
    check_engine_equals_reference,
    check_formulas_against_autograd,
    check_resume,
    check_twin,
)

torch = pytest.importorskip("torch")


def data(shape=(4,), n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *shape)), rng.integers(0, 3, n)


def dense_model(rate=0.3, seed=0, optimizer=None):
    model = dlt.Sequential(
        [dlt.Dense(4, 6, activation="tanh"), dlt.Dropout(rate), dlt.Dense(6, 3)], seed=seed
    )
    model.compile(loss="cross_entropy", optimizer=optimizer or dlt.optim.SGD(lr=0.1))
    return model


def channels_model(seed=0, optimizer=None):
    """(N, 2, 5) -> LayerNorm -> Dropout(0.5) -> Flatten -> Dense -> Dropout(0.2) -> Dense."""
    model = dlt.Sequential(
        [
            dlt.LayerNorm(5),
            dlt.Dropout(0.5),
            dlt.Flatten(),
            dlt.Dense(10, 4, activation="sigmoid"),
            dlt.Dropout(0.2),
            dlt.Dense(4, 3),
        ],
        seed=seed,
        input_shape=(2, 5),
    )
    rng = np.random.default_rng(seed + 1)
    model.set_params(model.get_params() + rng.normal(0, 0.3, model.num_parameters))
    model.compile(loss="cross_entropy", optimizer=optimizer or dlt.optim.SGD(lr=0.1))
    return model


def test_training_mode_drops_and_scales_like_torch():
    X, _ = data((50, 40), n=3)
    layer = dlt.Dropout(0.25)
    layer.step_key = (7, 0, 3, 1)
    ours = layer.forward(X, training=True)
    keep = np.random.default_rng((7, 0, 3, 1)).random(X.shape) >= 0.25
    np.testing.assert_array_equal(ours, X * (keep / 0.75))
    theirs = torch.nn.functional.dropout(torch.from_numpy(X), 0.25, training=True).numpy()
    both = (ours != 0) & (theirs != 0)
    assert both.sum() > 0.4 * X.size
    np.testing.assert_array_equal(ours[both], theirs[both])  # the same scaling, bit for bit
    assert abs(keep.mean() - 0.75) < 0.01 and abs((theirs != 0).mean() - 0.75) < 0.01
    assert layer.forward(X) is X  # inference mode: the identity, as torch's eval()
    assert dlt.Dropout(0.0).forward(X, training=True) is X


def test_one_mask_per_step_for_every_batch_of_a_stack():
    X, _ = data((3, 5), n=4)
    layer = dlt.Dropout(0.5)
    layer.step_key = (0, 2, 1, 4)
    stack = np.stack([X, X + 1.0, 2 * X])
    out = layer.forward_stack(stack, training=True)
    np.testing.assert_array_equal(out, np.stack([layer.forward(b, True) for b in stack]))
    assert np.array_equal(out[0] == 0, out[1] == 0) and np.array_equal(out[1] == 0, out[2] == 0)
    np.testing.assert_array_equal(layer.forward_stack(stack), stack)


def test_masks_depend_on_seed_epoch_batch_and_layer_only():
    X = np.ones((6, 8))
    model = dlt.Sequential([dlt.Dropout(0.5), dlt.Dropout(0.5)], input_shape=(8,))
    masks = {}
    for key in [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)]:
        model.set_step(*key)
        first = model.layers[0].forward(X, True)
        np.testing.assert_array_equal(model.layers[0].forward(X, True), first)  # same step
        masks[key] = first
        assert not np.array_equal(first, model.layers[1].forward(X, True))  # another layer
    keys = list(masks)
    for a in range(len(keys)):
        for b in range(a):
            assert not np.array_equal(masks[keys[a]], masks[keys[b]])


@pytest.mark.parametrize("make", [dense_model, channels_model])
def test_gradients_of_every_formula_equal_autograd_with_the_same_masks(make):
    model = make()
    X, y = data(model.input_shape)
    check_formulas_against_autograd(model, X, y, training=True)
    check_formulas_against_autograd(model, X, y, training=False)


@pytest.mark.parametrize("make", [dense_model, channels_model])
def test_engine_equals_reference_and_is_deterministic(make):
    model = make()
    X, y = data(model.input_shape, n=6)
    check_engine_equals_reference(model, X, y)
    check_deterministic(model, X, y)


def test_dropout_changes_the_loss_in_training_mode_only():
    model = dense_model(rate=0.5)
    X, y = data()
    train, _ = model.loss_and_gradient(X, y)
    assert train != pytest.approx(model.evaluate(X, y)["loss"], rel=1e-3)
    without = dense_model(rate=0.0)
    assert without.loss_and_gradient(X, y)[0] == pytest.approx(without.evaluate(X, y)["loss"])


def test_resumed_run_replays_the_masks(tmp_path):
    X, y = data(n=20)
    straight, _ = check_resume(
        lambda: dense_model(optimizer=dlt.optim.Adam(lr=0.01)), X, y, tmp_path, batch_size=8
    )
    other = dense_model(optimizer=dlt.optim.Adam(lr=0.01))
    other.fit(X, y, epochs=4, batch_size=8, seed=1)  # other batches and masks
    assert np.max(np.abs(other.get_params() - straight.get_params())) > 1e-4


@pytest.mark.parametrize("make", [dense_model, channels_model])
def test_twin_draws_our_masks_and_ends_at_our_parameters(make):
    X, y = data(make().input_shape, n=24)
    check_twin(make, X, y)


@pytest.mark.parametrize(
    ("rate", "error", "message"),
    [
        (1.0, ValueError, r"Dropout: rate must be < 1.0; got 1.0"),
        (-0.1, ValueError, r"Dropout: rate must be >= 0; got -0.1"),
        (float("nan"), ValueError, r"Dropout: rate must be finite; got nan"),
        ("0.5", TypeError, r"Dropout: rate must be a real number; got '0.5'"),
    ],
)
def test_bad_rates_are_refused_naming_the_layer(rate, error, message):
    with pytest.raises(error, match=message):
        dlt.Dropout(rate)
