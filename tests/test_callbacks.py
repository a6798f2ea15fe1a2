"""Tests of EarlyStopping (Keras 3 rules), ReduceLROnPlateau and LearningRateScheduler.

Training is deterministic, so a run without the callback gives the monitored sequence the
callback will see; Keras 3's rules, written out below from its source, then say when it
must stop, which epoch is best and which rate each epoch uses.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.io import load_model

RNG = np.random.default_rng(7)
X = RNG.normal(size=(48, 3))
Y = np.argmax(X @ RNG.normal(size=(3, 3)), axis=1)
XV, YV = X[:16] + 0.3 * RNG.normal(size=(16, 3)), Y[:16]
BATCH = 16  # 3 steps per epoch


def new_model(lr=2.0) -> dlt.Sequential:
    model = dlt.Sequential([dlt.Dense(3, 6, activation="tanh"), dlt.Dense(6, 3)], seed=3)
    # A large rate makes the validation loss go up and down: plateaus and new bests.
    model.compile(optimizer=dlt.optim.SGD(lr=lr), method="central", metrics=["accuracy"])
    return model


class Snapshots(dlt.Callback):
    """Parameters at the end of every epoch."""

    def __init__(self) -> None:
        self.params: dict[int, np.ndarray] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.params[epoch] = self.model.get_params()


def train(callbacks=(), epochs=30, lr=2.0):
    model = new_model(lr)
    snapshots = Snapshots()
    history = model.fit(X, Y, epochs=epochs, batch_size=BATCH, validation_data=(XV, YV),
                        callbacks=[snapshots, *callbacks])  # fmt: skip
    return model, history, snapshots.params


@pytest.fixture(scope="module")
def free_run():
    """The run without any stopping: the sequence every callback below sees."""
    _, history, params = train()
    return history, params


def keras_early_stopping(values, patience, min_delta, baseline, start_from_epoch, maximize):
    """Keras 3 ``EarlyStopping.on_epoch_end`` over a sequence: (stopped epoch, best epoch)."""
    op = (lambda a, b: a > b) if maximize else (lambda a, b: a < b)
    delta = min_delta if maximize else -min_delta
    best, best_epoch, wait = None, None, 0

    def improves(value, reference):
        return reference is None or op(value - delta, reference)

    for epoch, value in enumerate(values):
        if epoch < start_from_epoch:
            continue
        wait += 1
        if improves(value, best):
            best, best_epoch = value, epoch
            if baseline is None or improves(value, baseline):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch, best_epoch
    return None, best_epoch


CONFIGS = {
    "patience-2": {"patience": 2},
    "patience-4-min-delta": {"patience": 4, "min_delta": 0.01},
    "start-from-epoch-6": {"patience": 2, "start_from_epoch": 6},
    "baseline-unbeaten": {"patience": 5, "baseline": 0.01},
    "baseline-beaten": {"patience": 3, "baseline": 5.0},
    "accuracy-max": {"monitor": "val_accuracy", "patience": 3},
    "never-stops": {"patience": 100},
}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_early_stopping_follows_keras_3(free_run, config) -> None:
    history, params = free_run
    monitor = config.get("monitor", "val_loss")
    stopped, best = keras_early_stopping(
        history.history[monitor],
        config["patience"],
        config.get("min_delta", 0.0),
        config.get("baseline"),
        config.get("start_from_epoch", 0),
        maximize=monitor == "val_accuracy",
    )
    stopper = dlt.EarlyStopping(restore_best_weights=True, **config)
    model, run, _ = train([stopper])
    assert len(run) == (30 if stopped is None else stopped + 1)
    assert stopper.stopped_epoch == stopped and stopper.best_epoch == best
    # Restored at the end of training, whether it stopped early or ran every epoch.
    np.testing.assert_array_equal(model.get_params(), params[best])


def test_the_sequence_has_plateaus_and_new_bests(free_run) -> None:
    """The runs above exercise both branches: stopping early and running to the end."""
    stops = [
        keras_early_stopping(free_run[0].history["val_loss"], p, 0.0, None, 0, False)[0]
        for p in (2, 100)
    ]
    assert stops[0] is not None and stops[1] is None
    assert np.argmin(free_run[0].history["val_loss"]) not in (0, 29)


def test_without_restore_the_last_parameters_stay(free_run) -> None:
    model, run, params = train([dlt.EarlyStopping(patience=2)])
    np.testing.assert_array_equal(model.get_params(), params[len(run) - 1])


def test_an_interrupted_run_keeps_its_last_parameters() -> None:
    class Crash(dlt.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 5:
                raise RuntimeError("disk full")

    stopper = dlt.EarlyStopping(patience=100, restore_best_weights=True)
    snapshots = Snapshots()
    model = new_model()
    with pytest.raises(RuntimeError, match="disk full"):
        model.fit(X, Y, epochs=30, batch_size=BATCH, validation_data=(XV, YV),
                  callbacks=[snapshots, stopper, Crash()])  # fmt: skip
    np.testing.assert_array_equal(model.get_params(), snapshots.params[5])


@pytest.mark.parametrize(
    "callback",
    [dlt.EarlyStopping(monitor="val_acc"), dlt.ReduceLROnPlateau(monitor="val_acc")],
    ids=["EarlyStopping", "ReduceLROnPlateau"],
)
def test_an_unknown_monitor_is_refused_before_the_first_batch(callback) -> None:
    model = new_model()
    before = model.get_params()
    expected = r"monitor 'val_acc' is never logged by fit; it logs \['accuracy', .*'val_loss'\]"
    with pytest.raises(ValueError, match=expected):
        model.fit(X, Y, epochs=5, batch_size=BATCH, validation_data=(XV, YV), callbacks=[callback])
    assert model.epochs_completed == 0 and model.optimizer.step_count == 0
    np.testing.assert_array_equal(model.get_params(), before)


def test_val_keys_without_validation_data_fail_at_the_end_of_the_first_epoch() -> None:
    model = new_model()
    with pytest.raises(ValueError, match="Pass validation_data to fit for 'val_' keys"):
        model.fit(X, Y, epochs=5, batch_size=BATCH, callbacks=[dlt.EarlyStopping()])
    assert model.epochs_completed == 1


def test_a_key_logged_by_a_callback_of_the_user_can_be_monitored() -> None:
    """No early refusal when a user's callback may add keys to the epoch logs."""

    class Score(dlt.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["my_score"] = float(-epoch)

    model = new_model()
    stopper = dlt.EarlyStopping(monitor="my_score", mode="max", patience=1)
    model.fit(X, Y, epochs=5, batch_size=BATCH, callbacks=[Score(), stopper])
    assert stopper.best_epoch == 0 and stopper.stopped_epoch == 1


@pytest.mark.parametrize("callbacks", [dlt.EarlyStopping(), "early_stopping", 3])
def test_callbacks_must_be_a_list(callbacks) -> None:
    model = new_model()
    with pytest.raises(TypeError, match=r"callbacks must be a list of callbacks \(e.g. \["):
        model.fit(X, Y, epochs=1, callbacks=callbacks)
    assert model.optimizer.step_count == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"restore_best_weights": "no"}, TypeError, "restore_best_weights must be True or False"),
        ({"restore_best_weights": 1}, TypeError, "restore_best_weights"),
        ({"baseline": "low"}, TypeError, "baseline must be a real number"),
        ({"start_from_epoch": -1}, ValueError, "start_from_epoch must be >= 0; got -1"),
        ({"monitor": 3}, TypeError, "monitor must be the name"),
        ({"mode": "up"}, ValueError, "Unknown mode 'up'"),
    ],
)
def test_early_stopping_rejects_bad_arguments(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        dlt.EarlyStopping(**kwargs)


# ---------------------------------------------------------------------- ReduceLROnPlateau
def keras_reduce_lr(values, lr, factor, patience, min_delta, cooldown, min_lr):
    """Keras 3 ``ReduceLROnPlateau`` ('min' mode): the rate used in each epoch."""
    best, wait, cooldown_counter, used = math.inf, 0, 0, []
    for value in values:
        used.append(lr)
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if value < best - min_delta:
            best, wait = value, 0
        elif not cooldown_counter > 0:
            wait += 1
            if wait >= patience and lr > min_lr:
                lr = max(lr * factor, min_lr)
                cooldown_counter, wait = cooldown, 0
    return used


@pytest.mark.parametrize(
    "config",
    [
        {"factor": 0.5, "patience": 1},
        {"factor": 0.2, "patience": 2, "cooldown": 3, "min_delta": 0.01},
        {"factor": 0.1, "patience": 1, "min_lr": 0.05},
    ],
)
def test_reduce_lr_on_plateau_follows_keras(config) -> None:
    reducer = dlt.ReduceLROnPlateau(**config)
    model, history, params = train([reducer], epochs=25)
    expected = keras_reduce_lr(
        history.history["val_loss"], 2.0, config["factor"], config["patience"],
        config.get("min_delta", 1e-4), config.get("cooldown", 0), config.get("min_lr", 0.0),
    )  # fmt: skip
    np.testing.assert_allclose(history.history["lr"], expected, rtol=1e-15)
    assert len(set(expected)) >= 3  # it did reduce, more than once

    # The rates really were used: replaying them epoch by epoch gives the same parameters.
    replay = dlt.LearningRateScheduler(lambda epoch, lr: history.history["lr"][epoch])
    replayed, _, _ = train([replay], epochs=25)
    np.testing.assert_array_equal(replayed.get_params(), model.get_params())


def test_a_reduced_rate_is_saved_with_the_model(tmp_path: Path) -> None:
    model, history, _ = train([dlt.ReduceLROnPlateau(factor=0.5, patience=1)], epochs=10)
    model.save(tmp_path / "model.dltk")
    loaded = load_model(tmp_path / "model.dltk")
    assert loaded.optimizer.lr == model.optimizer.lr < 2.0


def test_plateau_and_scheduler_refuse_a_scheduled_optimizer() -> None:
    for callback in (dlt.ReduceLROnPlateau(), dlt.LearningRateScheduler(lambda e, lr: lr)):
        model = new_model(lr=dlt.optim.StepDecay(0.5, 10))
        with pytest.raises(TypeError, match="follows the schedule StepDecay"):
            model.fit(X, Y, epochs=2, validation_data=(XV, YV), callbacks=[callback])
        assert model.epochs_completed == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"factor": 1.0}, ValueError, "factor must be < 1.0; got 1.0"),
        ({"factor": 0.0}, ValueError, "factor must be > 0"),
        ({"patience": -1}, ValueError, "patience must be >= 0"),
        ({"cooldown": 1.5}, TypeError, "cooldown must be an integer"),
        ({"min_lr": -1e-3}, ValueError, "min_lr must be >= 0"),
    ],
)
def test_reduce_lr_rejects_bad_arguments(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        dlt.ReduceLROnPlateau(**kwargs)


# ---------------------------------------------------------------------- LearningRateScheduler
def test_scheduler_equals_the_same_rates_as_a_step_schedule() -> None:
    """Per-epoch halving = a piecewise-constant schedule with boundaries at epoch ends."""
    per_epoch, _, _ = train([dlt.LearningRateScheduler(lambda epoch, lr: lr * 0.5)], epochs=6)
    steps_per_epoch = len(X) // BATCH
    boundaries = [steps_per_epoch * (epoch + 1) - 1 for epoch in range(5)]
    values = [2.0 * 0.5 ** (epoch + 1) for epoch in range(6)]
    piecewise, history, _ = train(lr=dlt.optim.PiecewiseConstantDecay(boundaries, values),
                                  epochs=6)  # fmt: skip
    np.testing.assert_array_equal(per_epoch.get_params(), piecewise.get_params())
    assert per_epoch.history.history["lr"] == values
    one_argument, _, _ = train([dlt.LearningRateScheduler(lambda epoch: values[epoch])], epochs=6)
    np.testing.assert_array_equal(one_argument.get_params(), per_epoch.get_params())


@pytest.mark.parametrize("value", [-0.1, 0.0, float("nan"), "0.1", None])
def test_scheduler_stops_on_a_bad_rate_naming_the_epoch(value) -> None:
    model = new_model()
    scheduler = dlt.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else value)
    with pytest.raises(ValueError, match=r"returned .* for epoch 2 \(current lr 2\.0\)"):
        model.fit(X, Y, epochs=4, batch_size=BATCH, callbacks=[scheduler])
    assert model.optimizer.lr == 2.0 and model.epochs_completed == 2
    with pytest.raises(TypeError, match="schedule must be a callable"):
        dlt.LearningRateScheduler(0.1)
