"""One training step (training/step.py): schedules on every update path, the twin's schedule,
and errors that name the epoch and batch."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 3)), rng.integers(0, 2, 40)


def network(seed=0):
    return dlt.Sequential([dlt.Dense(3, 5, activation="tanh"), dlt.Dense(5, 2)], seed=seed)


def test_the_in_place_zeroth_order_path_follows_the_schedule():
    """Plain SGD + SPSA updates in place; the schedule must still move one step per batch,
    and a rate of 0 (the end of a cosine decay) is a step that changes nothing."""
    X, y = data()
    model = network()
    schedule = dlt.optim.CosineDecay(0.1, 8)
    model.compile(optimizer=dlt.optim.SGD(lr=schedule), method="spsa")
    model.fit(X, y, epochs=2, batch_size=10)
    assert model.optimizer.step_count == 8
    assert model.history.history["lr"] == pytest.approx([schedule(4), schedule(8)])
    before = model.get_params()
    model.fit(X, y, epochs=3, batch_size=10, initial_epoch=2)  # lr is 0 from step 8 on
    # only the snapping of the parameters to the perturbation grid (half an ulp) remains
    np.testing.assert_allclose(model.get_params(), before, rtol=0, atol=1e-15)


def test_the_twin_follows_the_schedule_of_the_model():
    pytest.importorskip("torch")
    from deep_learning_toolkit.baselines import train_torch_twin

    X, y = data()
    model = network()
    lr = dlt.optim.ExponentialDecay(0.5, 3, 0.5)
    model.compile(optimizer=dlt.optim.SGD(lr=lr), method="five_point_midpoint")
    twin = train_torch_twin(model, X, y, epochs=4, batch_size=10)
    model.fit(X, y, epochs=4, batch_size=10)
    assert np.abs(twin.params - model.get_params()).max() < 1e-9
    assert twin.history.history["lr"] == pytest.approx(model.history.history["lr"])


@pytest.mark.parametrize("method", ["central", "spsa"])
def test_a_bad_rate_names_the_epoch_and_batch_and_keeps_the_parameters(method):
    X, y = data()
    model = network()
    model.compile(optimizer=dlt.optim.SGD(lr=lambda step: 0.1 if step < 5 else -1.0), method=method)
    with pytest.raises(dlt.optim.LearningRateError, match="epoch 1, batch 1: .* returned -1.0"):
        model.fit(X, y, epochs=3, batch_size=10)
    assert model.optimizer.step_count == 5
    assert model.epochs_completed == 1


def test_last_gradient_is_the_gradient_of_the_last_step():
    X, y = data()
    model = network()
    model.compile(optimizer=dlt.optim.SGD(lr=1e-300), method="central")
    model.fit(X, y, epochs=1, batch_size=None, shuffle=False)
    np.testing.assert_allclose(
        model.last_gradient, model.loss_and_gradient(X, y)[1], rtol=0, atol=0
    )
