"""Sequential: parameter layout, forward pass, compile/fit/evaluate/predict, callbacks."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients.steps import PILOT_GRADIENTS
from deep_learning_toolkit.numdiff import METHODS


def small_model(seed: int = 0) -> dlt.Sequential:
    return dlt.Sequential([dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)], seed=seed)


def test_flat_parameter_layout_is_w_c_order_then_b_layer_by_layer():
    model = small_model()
    assert model.num_parameters == 4 * 16 + 16 + 16 * 3 + 3 == 131
    values = np.arange(model.num_parameters, dtype=float)
    model.set_params(values)
    first, second = model.layers
    np.testing.assert_array_equal(first.W, values[:64].reshape(4, 16))
    np.testing.assert_array_equal(first.b, values[64:80])
    np.testing.assert_array_equal(second.W, values[80:128].reshape(16, 3))
    np.testing.assert_array_equal(second.b, values[128:])
    assert model.parameter_name(65) == "layers[0].b[1]"
    assert model.parameter_name(81) == "layers[1].W[0, 1]"
    copy = model.get_params()
    copy[0] = -1.0
    assert model.params[0] == 0.0  # get_params returns a copy


def test_forward_is_a_at_w_plus_b_with_activations():
    model = small_model()
    X = np.random.default_rng(0).normal(size=(5, 4))
    first, second = model.layers
    expected = np.tanh(X @ first.W + first.b) @ second.W + second.b
    np.testing.assert_allclose(model.forward(X), expected, rtol=1e-15)


def test_initialisation_is_seeded_glorot_for_tanh_and_he_for_relu():
    a, b = small_model(seed=3), small_model(seed=3)
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    assert not np.array_equal(a.get_params(), small_model(seed=4).get_params())
    limit = np.sqrt(6 / (4 + 16))
    assert np.abs(a.layers[0].W).max() <= limit
    assert np.all(a.layers[0].b == 0)
    wide = dlt.Sequential([dlt.Dense(200, 300, activation="relu")], seed=0)
    assert wide.layers[0].W.std() == pytest.approx(np.sqrt(2 / 200), rel=0.02)


def test_predict_returns_probabilities_for_classification():
    model = small_model()
    model.compile(loss="cross_entropy")
    probabilities = model.predict(np.random.default_rng(1).normal(size=(6, 4)))
    assert probabilities.shape == (6, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-14)


def test_one_hot_labels_give_the_same_loss_and_gradient_as_ids():
    model = small_model()
    model.compile(loss="cross_entropy")
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(10, 4)), rng.integers(0, 3, 10)
    loss_ids, grad_ids = model.loss_and_gradient(X, y)
    loss_hot, grad_hot = model.loss_and_gradient(X, np.eye(3)[y])
    assert loss_ids == loss_hot
    np.testing.assert_array_equal(grad_ids, grad_hot)


def test_fit_history_keys_and_evaluation_counts(iris_split):
    X_train, X_test, y_train, y_test = iris_split
    model = small_model()
    model.compile(optimizer="sgd", method="five_point_endpoint", metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=3, batch_size=50, validation_data=(X_test, y_test))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "evaluations", "grad_norm"):
        assert len(history.history[key]) == 3
    assert history.epoch == [0, 1, 2]
    batches = int(np.ceil(len(X_train) / 50))
    per_gradient = 4 * model.num_parameters + 1  # k * P + the unperturbed loss
    # The default steps come from a pilot of three gradients on the first batch (the next
    # one is due after PILOT_INTERVAL batches).
    pilot = PILOT_GRADIENTS * per_gradient
    epoch = batches * per_gradient
    assert history.history["evaluations"] == [epoch + pilot, epoch, epoch]
    scores = model.evaluate(X_test, y_test)
    assert scores["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-15)


@pytest.mark.parametrize("method", METHODS)
def test_each_method_trains_iris_to_93_percent_within_100_epochs(method, iris_split):
    X_train, X_test, y_train, y_test = iris_split
    model = small_model(seed=0)
    model.compile(
        loss="cross_entropy",
        optimizer=dlt.optim.Adam(lr=0.01),
        method=method,
        metrics=["accuracy"],
    )
    history = model.fit(X_train, y_train, epochs=100, batch_size=16)
    assert history.history["loss"][-1] < 0.1
    assert model.evaluate(X_test, y_test)["accuracy"] >= 0.93


def test_regression_on_diabetes_reaches_r2_of_0_4():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    data = sklearn_datasets.load_diabetes()
    X_train, X_test, y_train, y_test = dlt.data.train_test_split(
        data.data, data.target, test_size=0.2, seed=0
    )
    x_scaler = dlt.data.StandardScaler().fit(X_train)
    mean, std = y_train.mean(), y_train.std()
    model = dlt.Sequential([dlt.Dense(10, 16, activation="tanh"), dlt.Dense(16, 1)], seed=0)
    model.compile(loss="mse", optimizer=dlt.optim.Adam(lr=0.01), metrics=["r2"])
    model.fit(x_scaler.transform(X_train), (y_train - mean) / std, epochs=60, batch_size=32)
    scores = model.evaluate(x_scaler.transform(X_test), (y_test - mean) / std)
    assert scores["r2"] >= 0.4


def test_binary_classification_end_to_end():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)  # XOR-like quadrants
    model = dlt.Sequential([dlt.Dense(2, 8, activation="tanh"), dlt.Dense(8, 1)], seed=0)
    model.compile(
        loss="binary_cross_entropy", optimizer=dlt.optim.Adam(lr=0.05), metrics=["accuracy"]
    )
    model.fit(X, y, epochs=150, batch_size=50)
    assert model.evaluate(X, y)["accuracy"] >= 0.9
    assert model.predict(X).shape == (200, 1)


def test_resumed_fit_continues_exactly(iris_split):
    X_train, _, y_train, _ = iris_split
    straight = small_model()
    straight.compile(optimizer="adam")
    straight.fit(X_train, y_train, epochs=6, batch_size=32)
    resumed = small_model()
    resumed.compile(optimizer="adam")
    resumed.fit(X_train, y_train, epochs=3, batch_size=32)
    history = resumed.fit(X_train, y_train, epochs=6, batch_size=32, initial_epoch=3)
    assert history.epoch == [3, 4, 5]
    np.testing.assert_array_equal(resumed.params, straight.params)


class Recorder(dlt.Callback):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs=None):
        self.events.append(f"batch {batch}")

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(f"epoch_end {epoch}")

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def test_callbacks_are_called_in_order(iris_split):
    X_train, _, y_train, _ = iris_split
    model = small_model()
    model.compile()
    recorder = Recorder()
    model.fit(X_train[:20], y_train[:20], epochs=2, batch_size=10, callbacks=[recorder])
    assert recorder.events == [
        "train_begin",
        "epoch_begin 0", "batch 0", "batch 1", "epoch_end 0",
        "epoch_begin 1", "batch 0", "batch 1", "epoch_end 1",
        "train_end",
    ]  # fmt: skip


def test_early_stopping_stops_and_restores_best_weights(iris_split):
    X_train, X_test, y_train, y_test = iris_split
    model = small_model()
    # A learning rate this large makes the validation loss bounce, so patience runs out.
    model.compile(optimizer=dlt.optim.SGD(lr=3.0))
    snapshots = {}

    class Snapshot(dlt.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = (self.model.get_params(), logs["val_loss"])

    stopper = dlt.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(
        X_train, y_train, epochs=200, batch_size=120,
        validation_data=(X_test, y_test), callbacks=[Snapshot(), stopper],
    )  # fmt: skip
    assert len(history.epoch) < 200
    best_epoch = min(snapshots, key=lambda e: snapshots[e][1])
    assert stopper.best_epoch == best_epoch
    assert len(history.epoch) == best_epoch + 1 + 2
    np.testing.assert_array_equal(model.params, snapshots[best_epoch][0])


def test_non_finite_loss_stops_training_and_keeps_last_finite_parameters(iris_split):
    X_train, _, y_train, _ = iris_split
    model = small_model()
    # lr=1e300 keeps the parameters finite (near 1e300, with finite exact gradients);
    # 1e308 overflows them, and the loss becomes infinite.
    model.compile(optimizer=dlt.optim.SGD(lr=1e308))
    with pytest.raises(FloatingPointError, match=r"epoch \d, batch 0.*last finite parameters"):
        model.fit(X_train, y_train, epochs=3, batch_size=120)
    assert np.all(np.isfinite(model.params))


# ---------------------------------------------------------------------- Keras habits
def _keras_problem():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=50)
    model = dlt.Sequential([dlt.Dense(3, 4, activation="tanh"), dlt.Dense(4, 1)], seed=1)
    return model, X, y


def test_fit_arguments_after_y_are_keyword_only():
    """Keras reads fit(X, y, 3, 10) as batch_size=3, epochs=10: refuse the ambiguity."""
    model, X, y = _keras_problem()
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError):
        model.fit(X, y, 3, 10)
    assert model.history is None


def test_validation_split_holds_out_the_last_samples_before_shuffling():
    model, X, y = _keras_problem()
    twin, _, _ = _keras_problem()
    for m in (model, twin):
        m.compile(loss="mse", optimizer=dlt.optim.SGD(lr=0.05), metrics=["mae"])
    history = model.fit(X, y, epochs=3, batch_size=8, validation_split=0.2)
    reference = twin.fit(X[:40], y[:40], epochs=3, batch_size=8, validation_data=(X[40:], y[40:]))
    assert set(history.history) == set(reference.history)
    for key in set(history.history) - {"seconds"}:
        assert history.history[key] == reference.history[key], key
    np.testing.assert_array_equal(model.get_params(), twin.get_params())
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(X[40:], y[40:])["loss"])


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"validation_split": 1.0}, ValueError, "validation_split must be < 1.0"),
        ({"validation_split": -0.1}, ValueError, "validation_split must be >= 0"),
        ({"validation_split": "a"}, TypeError, "validation_split must be a real number"),
        ({"validation_split": 0.001}, ValueError, "leaves 0 for validation"),
        (
            {"validation_split": 0.2, "validation_data": (np.zeros((2, 3)), np.zeros(2))},
            ValueError,
            "validation_split or validation_data, not both",
        ),
    ],
)
def test_bad_validation_split_is_refused_before_training(kwargs, error, fragment):
    model, X, y = _keras_problem()
    model.compile(loss="mse", optimizer="sgd")
    before = model.get_params()
    with pytest.raises(error, match=fragment):
        model.fit(X, y, epochs=1, **kwargs)
    np.testing.assert_array_equal(model.get_params(), before)
    assert model.history is None and model.optimizer.step_count == 0


def test_a_loss_function_gives_the_builtin_losses_values_and_gradient():
    def squared_error(y_true, y_pred):
        return np.mean((y_pred - y_true) ** 2)

    custom, X, y = _keras_problem()
    builtin, _, _ = _keras_problem()
    custom.compile(loss=squared_error, optimizer="sgd", method="five_point_midpoint")
    builtin.compile(loss="mse", optimizer="sgd", method="five_point_midpoint")
    loss_c, grad_c = custom.loss_and_gradient(X, y)
    loss_b, grad_b = builtin.loss_and_gradient(X, y)
    assert loss_c == pytest.approx(loss_b, rel=1e-14)
    np.testing.assert_allclose(grad_c, grad_b, rtol=1e-8, atol=1e-12)
    history = custom.fit(X, y, epochs=5, batch_size=10)
    assert history.params["loss"] == "squared_error"
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_a_metric_function_is_logged_under_its_name():
    def max_error(y_true, y_pred):
        return np.max(np.abs(y_true - y_pred))

    model, X, y = _keras_problem()
    model.compile(loss="mse", optimizer="sgd", metrics=["mae", max_error])
    history = model.fit(X, y, epochs=2, batch_size=None, shuffle=False, validation_data=(X, y))
    scores = model.evaluate(X, y)
    assert scores["max_error"] == pytest.approx(np.max(np.abs(y - model.predict(X)[:, 0])))
    assert history.history["val_max_error"][-1] == pytest.approx(scores["max_error"])
    with pytest.raises(TypeError, match="metric function .*max_error.* only named metrics"):
        model.save("never-written.dltk")


@pytest.mark.parametrize(
    "metrics, error, fragment",
    [
        ("accuracy", TypeError, r"metrics must be a list, e.g. \['accuracy'\]"),
        ([3], TypeError, "a metric must be a name in"),
        (["mae", "mae"], ValueError, "metrics must have distinct names"),
    ],
)
def test_bad_metrics_are_refused_and_compile_changes_nothing(metrics, error, fragment):
    model, _, _ = _keras_problem()
    model.compile(loss="mse", optimizer="adam", metrics=["mse"])
    optimizer = model.optimizer
    with pytest.raises(error, match=fragment):
        model.compile(loss="mae", optimizer="sgd", metrics=metrics)
    assert model.loss.name == "mse" and model.optimizer is optimizer and model.metrics == ["mse"]
