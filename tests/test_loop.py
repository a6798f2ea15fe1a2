"""The epoch loop under interruption and refusal (training/loop.py).

A second Ctrl-C during a step interrupts at once: whatever the gradient method, the model
must then hold the parameters of the last finished batch (bit for bit: a zeroth-order step
is perturbing them in place), and a file saved at that moment must resume to exactly the
uninterrupted run. A ``Tripwire`` layer sends the two SIGINTs from inside the step.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.numdiff import METHODS


@dlt.register_layer
class Tripwire(dlt.Layer):
    """Passes its input through; sends SIGINT to this process on chosen forward calls."""

    calls = 0
    fire_at: tuple[int, ...] = ()

    def forward(self, x, training=False):
        Tripwire.calls += 1
        if Tripwire.calls in Tripwire.fire_at:
            os.kill(os.getpid(), signal.SIGINT)
        return x


class Recorder(dlt.Callback):
    """Parameters and the Tripwire's call count after every batch."""

    def __init__(self):
        self.params, self.calls = [], []

    def on_batch_end(self, batch, logs=None):
        self.params.append(self.model.get_params())
        self.calls.append(Tripwire.calls)


def data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(40, 4)), rng.integers(0, 3, 40)


def build(method, engine="batched", optimizer=None, dtype="float64"):
    model = dlt.Sequential(
        [dlt.Dense(4, 6, activation="tanh"), Tripwire(), dlt.Dense(6, 3)], seed=1, dtype=dtype
    )
    optimizer = dlt.optim.Adam(lr=0.05) if optimizer is None else optimizer()
    model.compile(optimizer=optimizer, method=method, gradient_engine=engine)
    return model


CASES = [(m, "batched") for m in METHODS] + [
    ("forward", "reference"),
    ("complex_step", "batched"),
    ("spsa:n_directions=2", "batched"),
    ("gaussian", "batched"),
]


#: Plain SGD: the memory-lean path, whose update is fused with the restoring pass.
LEAN_SGD = [
    (method, "batched", lambda: dlt.optim.SGD(lr=0.05), dtype)
    for method in ("spsa", "gaussian:n_directions=2")
    for dtype in ("float64", "float32")
]


@pytest.mark.parametrize(
    "method, engine, optimizer, dtype", [(*case, None, "float64") for case in CASES] + LEAN_SGD
)
def test_a_second_ctrl_c_leaves_the_last_batch_and_a_file_that_resumes_exactly(
    tmp_path, method, engine, optimizer, dtype
):
    X, y = data()
    Tripwire.fire_at = ()
    reference, recorder = build(method, engine, optimizer, dtype), Recorder()
    Tripwire.calls = 0  # counted from the start of fit (building the model probes it too)
    reference.fit(X, y, epochs=3, batch_size=10, callbacks=[recorder])

    model = build(method, engine, optimizer, dtype)
    Tripwire.calls = 0
    batch = 5  # batch 6 (epoch 1, batch 2) is interrupted twice: its first two forward calls
    first = recorder.calls[batch] + 1
    Tripwire.fire_at = (first, first + 1)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=3, batch_size=10)
    Tripwire.fire_at = ()
    np.testing.assert_array_equal(model.get_params(), recorder.params[batch])
    assert (model.epochs_completed, model.batches_completed) == (1, 2)

    path = model.save(tmp_path / "interrupted.dltk")
    resumed = dlt.load_model(path)
    assert (resumed.epochs_completed, resumed.batches_completed) == (1, 2)
    resumed.fit(X, y, epochs=3, batch_size=10, initial_epoch=resumed.epochs_completed)
    np.testing.assert_array_equal(resumed.get_params(), reference.get_params())


def test_one_ctrl_c_finishes_the_batch_and_resumes_at_the_next():
    X, y = data()
    Tripwire.fire_at = ()
    reference, recorder = build("central"), Recorder()
    Tripwire.calls = 0
    reference.fit(X, y, epochs=2, batch_size=10, callbacks=[recorder])
    model = build("central")
    Tripwire.calls, Tripwire.fire_at = 0, (recorder.calls[1] + 1,)  # during batch 2
    with pytest.raises(KeyboardInterrupt, match="after 3 batch"):
        model.fit(X, y, epochs=2, batch_size=10)
    Tripwire.fire_at = ()
    np.testing.assert_array_equal(model.get_params(), recorder.params[2])
    model.fit(X, y, epochs=2, batch_size=10, initial_epoch=0)  # a fresh start: no skipping
    assert model.batches_completed == 0 and model.epochs_completed == 2


def test_a_refused_start_keeps_the_history(tmp_path):
    X, y = data()
    model = build("central")
    model.fit(X, y, epochs=2, batch_size=20)
    before = model.history.to_dict()
    blocked = tmp_path / "a file"
    blocked.write_text("not a directory")
    with pytest.raises((OSError, ValueError)):
        model.fit(
            X,
            y,
            epochs=4,
            batch_size=20,
            initial_epoch=2,
            callbacks=[dlt.TensorBoardLogger(blocked / "logs")],
        )
    assert model.history.to_dict() == before and model.epochs_completed == 2
    with pytest.raises(TypeError, match="callbacks must be a list of callbacks"):
        model.fit(X, y, epochs=4, callbacks=dlt.EarlyStopping())
    assert model.history.to_dict() == before


def test_a_diverging_zeroth_order_run_is_a_floating_point_error_naming_lr():
    X, y = data()
    model = build("spsa")
    model.compile(optimizer=dlt.optim.SGD(lr=1e200), method="spsa")
    with pytest.raises(FloatingPointError, match=r"lr=1e\+200"):
        model.fit(X, y, epochs=5, batch_size=10)


def test_an_optimizer_serves_one_model():
    first, second = build("central"), build("central")
    optimizer = dlt.optim.Adam()
    first.compile(optimizer=optimizer)
    first.compile(optimizer=optimizer, method="forward")  # its own model may recompile
    with pytest.raises(ValueError, match="already used by another model"):
        second.compile(optimizer=optimizer)
    assert second.optimizer is not optimizer
    del first
    second.compile(optimizer=optimizer)  # free once that model is gone


@pytest.mark.parametrize("shuffle", ["no", "False", 0, 1, None])
def test_shuffle_must_be_a_bool(shuffle) -> None:
    model = dlt.Sequential([dlt.Dense(2, 2)], seed=0)
    model.compile(optimizer="sgd")
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(TypeError, match="shuffle must be True or False; got"):
        model.fit(X, y, epochs=1, shuffle=shuffle)
    assert model.optimizer.step_count == 0
    model.fit(X, y, epochs=1, shuffle=np.bool_(False))  # NumPy booleans are booleans
