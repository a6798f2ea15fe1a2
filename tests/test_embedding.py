"""Embedding against PyTorch (float64): lookups of float-held integer indices, gradients by
every formula, the engine, saving and resuming, the twin, and refused indices."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from layer_checks import (
    check_deterministic,
    check_engine_equals_reference,
    check_formulas_against_autograd,
    check_refused_fit_changes_nothing,
    check_resume,
    check_twin,
)

torch = pytest.importorskip("torch")


def data(length=None, n=12, seed=0, num=6):
    rng = np.random.default_rng(seed)
    shape = (n,) if length is None else (n, length)
    return rng.integers(0, num, shape).astype(float), rng.integers(0, 3, n)


def sequence_model(seed=0, optimizer=None):
    """Sequences (N, 4) of indices < 6 -> Embedding(6, 3) -> Flatten -> Dense(12, 3)."""
    model = dlt.Sequential(
        [dlt.Embedding(6, 3), dlt.Flatten(), dlt.Dense(12, 3, activation="tanh"), dlt.Dense(3, 3)],
        seed=seed,
        input_shape=(4,),
    )
    model.compile(loss="cross_entropy", optimizer=optimizer or dlt.optim.SGD(lr=0.1))
    return model


def index_model(seed=0, optimizer=None):
    """One index per sample (N,): input_shape=() -> Embedding(6, 3) -> tanh -> Dense(3, 3)."""
    model = dlt.Sequential(
        [dlt.Embedding(6, 3), dlt.Activation("tanh"), dlt.Dense(3, 3)], seed=seed, input_shape=()
    )
    model.compile(loss="cross_entropy", optimizer=optimizer or dlt.optim.SGD(lr=0.1))
    return model


MODELS = {"sequences": (sequence_model, 4), "indices": (index_model, None)}


@pytest.mark.parametrize("shape", [(7,), (7, 5)])
def test_lookup_equals_torch_for_float_and_integer_indices(shape):
    layer = dlt.Embedding(6, 3)
    layer.W = np.random.default_rng(0).normal(size=(6, 3))
    indices = np.random.default_rng(1).integers(0, 6, shape)
    expected = torch.nn.functional.embedding(torch.from_numpy(indices), torch.from_numpy(layer.W))
    for x in (indices, indices.astype(float)):
        for training in (True, False):
            np.testing.assert_array_equal(layer.forward(x, training), expected.numpy())


def test_shapes_and_initialisation():
    model = sequence_model()
    assert model.shapes == [(4,), (4, 3), (12,), (3,), (3,)]
    assert index_model().shapes[:2] == [(), (3,)]
    inferred = dlt.Sequential([dlt.Embedding(6, 3), dlt.Flatten()], seed=0)
    inferred.predict(data(length=5)[0])
    assert inferred.shapes == [(5,), (5, 3), (15,)]
    W = dlt.Sequential([dlt.Embedding(400, 50)], seed=0, input_shape=()).layers[0].W
    assert abs(W.mean()) < 0.01 and abs(W.std() - 1.0) < 0.01  # N(0, 1), as torch


@pytest.mark.parametrize("name", MODELS)
def test_gradients_of_every_formula_equal_autograd(name):
    make, length = MODELS[name]
    X, y = data(length)
    check_formulas_against_autograd(make(), X, y)
    check_formulas_against_autograd(make(), X, y, training=False)


@pytest.mark.parametrize("name", MODELS)
def test_engine_equals_reference_and_is_deterministic(name):
    make, length = MODELS[name]
    X, y = data(length, n=6)
    check_engine_equals_reference(make(), X, y)
    check_deterministic(make(), X, y)


@pytest.mark.parametrize("name", MODELS)
def test_save_load_resume_bit_for_bit(name, tmp_path):
    make, length = MODELS[name]
    X, y = data(length, n=20)
    check_resume(lambda: make(optimizer=dlt.optim.Adam(lr=0.01)), X, y, tmp_path, batch_size=8)


@pytest.mark.parametrize("name", MODELS)
def test_twin_ends_at_our_parameters(name):
    make, length = MODELS[name]
    X, y = data(length, n=24)
    check_twin(make, X, y)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            6.0,
            r"Embedding\(6, 3\): X holds the index 6 at position \(2, 1\), out of range \[0, 6\)",
        ),
        (-1.0, r"X holds the index -1 at position \(2, 1\), out of range \[0, 6\)"),
        (2.5, r"X holds the non-integer index 2.5 at position \(2, 1\); indices must be integers"),
    ],
)
def test_bad_indices_are_refused_before_any_work(bad, message):
    model = sequence_model()
    X, y = data(4, n=12)
    model.fit(X, y, epochs=1, batch_size=4)
    X[2, 1] = bad
    check_refused_fit_changes_nothing(model, X, y, message)
    with pytest.raises(ValueError, match=message):
        model.predict(X)
    with pytest.raises(ValueError, match=message.replace("X holds", "X_val holds")):
        model.fit(X[:8] * 0, y[:8], validation_data=(X, y))
    layer = model.layers[0]
    with pytest.raises(ValueError, match=message.replace("X holds", "the input holds")):
        layer.forward(X)


def test_bad_data_refused_before_the_shapes_are_inferred_and_bad_ranks():
    model = dlt.Sequential([dlt.Embedding(6, 3), dlt.Flatten()], seed=0)
    with pytest.raises(ValueError, match=r"non-integer index 0.5 at position \(0, 0\)"):
        model.predict(np.full((2, 3), 0.5))
    assert not model.built
    with pytest.raises(
        ValueError,
        match=r"Embedding\(6, 3\) expects samples of shape \(\) "
        r"\(batches \(N,\)\) or \(L,\) .*; got samples of shape \(3, 2\)",
    ):
        model.predict(np.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match=r"got samples of shape \(2, 2\)"):
        model.layers[0].forward(np.zeros((1, 2, 2)))
    with pytest.raises(
        ValueError, match=r"X has 2 features, but the model's first layer expects 4"
    ):
        sequence_model().predict(np.zeros((5, 2)))


def test_bad_arguments_are_refused_naming_the_layer():
    with pytest.raises(ValueError, match="Embedding: num_embeddings must be >= 1; got 0"):
        dlt.Embedding(0, 3)
    with pytest.raises(TypeError, match="Embedding: embedding_dim must be an integer; got 2.0"):
        dlt.Embedding(4, 2.0)
