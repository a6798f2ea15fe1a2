"""Flatten against torch.nn.Flatten: forward, gradients through it by every formula, the
engine, saving and resuming, the twin, and shapes."""

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


def data(shape=(2, 3), n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *shape)), rng.integers(0, 3, n)


def flatten_model(seed=0, optimizer=None):
    """(N, 2, 3) -> LayerNorm((2, 3)) (parameters before) -> Flatten -> Dense(6, 3)."""
    model = dlt.Sequential(
        [dlt.LayerNorm((2, 3)), dlt.Flatten(), dlt.Dense(6, 3)], seed=seed, input_shape=(2, 3)
    )
    rng = np.random.default_rng(seed + 1)
    model.set_params(model.get_params() + rng.normal(0, 0.3, model.num_parameters))
    model.compile(loss="cross_entropy", optimizer=optimizer or dlt.optim.SGD(lr=0.1))
    return model


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 4)])
def test_forward_equals_torch_flatten(shape):
    X, _ = data(shape, n=4)
    expected = torch.nn.Flatten()(torch.from_numpy(X)).numpy()
    layer = dlt.Flatten()
    for training in (True, False):
        np.testing.assert_array_equal(layer.forward(X, training), expected)
    assert layer.output_shape(shape) == expected.shape[1:]
    stack = np.stack([X, -X])
    np.testing.assert_array_equal(layer.forward_stack(stack), np.stack([expected, -expected]))


def test_gradients_of_every_formula_equal_autograd():
    X, y = data()
    check_formulas_against_autograd(flatten_model(), X, y)
    check_formulas_against_autograd(flatten_model(), X, y, training=False)


def test_engine_equals_reference_and_is_deterministic():
    X, y = data(n=6)
    check_engine_equals_reference(flatten_model(), X, y)
    check_deterministic(flatten_model(), X, y)


def test_save_load_resume_bit_for_bit(tmp_path):
    X, y = data(n=20)
    check_resume(
        lambda: flatten_model(optimizer=dlt.optim.Adam(lr=0.01)), X, y, tmp_path, batch_size=8
    )


def test_twin_ends_at_our_parameters():
    X, y = data(n=24)
    check_twin(flatten_model, X, y)


def test_misfit_after_flatten_names_the_layers_and_shapes():
    with pytest.raises(
        ValueError,
        match=r"layers\[1\] \(Dense\(5, 3.*layers\[0\] \(Flatten\(\)\) "
        r"outputs shape \(24,\)",
    ):
        dlt.Sequential([dlt.Flatten(), dlt.Dense(5, 3)], input_shape=(2, 3, 4))
    model = dlt.Sequential([dlt.Flatten(), dlt.Dense(24, 3)], seed=0)
    with pytest.raises(ValueError, match=r"layers\[1\] \(Dense\(24, 3.*outputs shape \(6,\)"):
        model.predict(np.zeros((2, 2, 3)))
    assert not model.built
    assert model.predict(np.zeros((2, 2, 3, 4))).shape == (2, 3)


@pytest.mark.parametrize("activation", ["tanh", "relu", "linear"])
def test_the_block_path_after_flatten_equals_the_reference_loop(activation):
    """Conv -> Conv -> Flatten -> Dense: a kernel perturbation changes one channel, which
    Flatten turns into one block of columns and Dense multiplies by those rows of W alone."""
    from deep_learning_toolkit.gradients import engine, reference_gradient
    from deep_learning_toolkit.numdiff import METHODS, get_stencil

    rng = np.random.default_rng(0)
    model = dlt.Sequential(
        [
            dlt.Conv2D(1, 4, 3, padding=1, activation=activation),
            dlt.Conv2D(4, 3, 3, activation="tanh"),
            dlt.Flatten(),
            dlt.Dense(3 * 6 * 6, 5, activation="sigmoid"),
            dlt.Dense(5, 3),
        ],
        seed=0,
        input_shape=(1, 8, 8),
    )
    model.compile(optimizer="sgd")
    X, targets = model._prepare(rng.normal(size=(10, 1, 8, 8)), rng.integers(0, 3, 10))
    steps = np.full(model.num_parameters, 0.125)
    for name in METHODS:
        stencil = get_stencil(name)
        fast = engine.batched_gradient(
            model, X, targets, model.loss, stencil, steps, chunk_size=7
        ).gradient
        slow = reference_gradient(model, X, targets, model.loss, stencil, steps).gradient
        assert np.abs(fast - slow).max() <= 1e-12 * np.abs(slow).max(), name
