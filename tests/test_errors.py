"""Bad input is refused with a ValueError/TypeError that names the argument and the value."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 4))
Y = RNG.integers(0, 3, 12)


def model(**compile_args) -> dlt.Sequential:
    net = dlt.Sequential([dlt.Dense(4, 5, activation="tanh"), dlt.Dense(5, 3)], seed=0)
    net.compile(**compile_args)
    return net


def with_nan(a: np.ndarray, value: float = np.nan) -> np.ndarray:
    a = a.astype(float).copy()
    a.flat[3] = value
    return a


CASES = [
    # (description, call, error type, message fragment)
    (
        "unknown method in numdiff",
        lambda: dlt.numdiff.gradient(np.sum, [1.0], method="fwd"),
        ValueError,
        r"Unknown method 'fwd'.*three_point_midpoint",
    ),
    (
        "unknown method in compile",
        lambda: model(method="six_point"),
        ValueError,
        "Unknown method 'six_point'",
    ),
    ("method not a string", lambda: model(method=3), TypeError, "method must be a string"),
    (
        "zero step",
        lambda: dlt.numdiff.gradient(np.sum, [1.0], step=0.0),
        ValueError,
        "step must be positive and finite; got 0.0",
    ),
    ("negative step", lambda: model(step=-1e-3), ValueError, "step must be positive.*-0.001"),
    (
        "nan step",
        lambda: dlt.numdiff.derivative(np.sin, 1.0, step=float("nan")),
        ValueError,
        "step must be positive and finite; got nan",
    ),
    (
        "inf step array",
        lambda: dlt.numdiff.gradient(np.sum, [1.0, 2.0], step=[1e-3, np.inf]),
        ValueError,
        "step must be positive and finite everywhere; got inf at index",
    ),
    (
        "step array of wrong shape",
        lambda: dlt.numdiff.gradient(np.sum, [1.0, 2.0], step=[1, 2, 3]),
        ValueError,
        r"step array of shape \(3,\) does not match x of shape \(2,\)",
    ),
    (
        "X and y of different lengths",
        lambda: model().fit(X, Y[:-1]),
        ValueError,
        "X and y must have the same number of samples; got 12 and 11",
    ),
    ("NaN in X", lambda: model().fit(with_nan(X), Y), ValueError, "X contains NaN or infinity"),
    (
        "inf in X",
        lambda: model().evaluate(with_nan(X, np.inf), Y),
        ValueError,
        "X contains NaN or infinity",
    ),
    (
        "label out of range",
        lambda: model().fit(X, np.where(Y == 0, 3, Y)),
        ValueError,
        r"y contains label 3 outside \[0, 3\)",
    ),
    (
        "negative label",
        lambda: model().fit(X, np.where(Y == 0, -1, Y)),
        ValueError,
        r"y contains label -1 outside \[0, 3\)",
    ),
    ("fractional label", lambda: model().fit(X, Y + 0.5), ValueError, "integer class labels"),
    (
        "labels of wrong shape",
        lambda: model().fit(X, np.zeros((12, 2, 1))),
        ValueError,
        r"y must be 1-D or 2-D; got an array of shape \(12, 2, 1\)",
    ),
    (
        "one-hot with wrong width",
        lambda: model().fit(X, np.eye(4)[Y]),
        ValueError,
        r"one-hot labels must have 3 columns",
    ),
    (
        "X with wrong feature count",
        lambda: model().predict(X[:, :3]),
        ValueError,
        "X has 3 features, but the model's first layer expects 4",
    ),
    ("X 1-D", lambda: model().predict(X[0]), ValueError, "X must be 2-D"),
    ("learning rate zero", lambda: dlt.optim.SGD(lr=0.0), ValueError, "lr must be > 0; got 0.0"),
    ("learning rate negative", lambda: dlt.optim.Adam(lr=-0.1), ValueError, "lr must be > 0"),
    (
        "layer sizes do not chain",
        lambda: dlt.Sequential([dlt.Dense(4, 5), dlt.Dense(6, 3)]),
        ValueError,
        r"layers\[1\] expects 6 inputs but layers\[0\] outputs 5",
    ),
    (
        "unknown activation",
        lambda: dlt.Dense(4, 5, activation="swish"),
        ValueError,
        r"Unknown activation 'swish'; valid values are \['linear'",
    ),
    ("unknown loss", lambda: model(loss="hinge"), ValueError, "Unknown loss 'hinge'"),
    ("unknown optimizer", lambda: model(optimizer="adagrad"), ValueError, "adagrad"),
    ("unknown metric", lambda: model(metrics=["f1"]), ValueError, "Unknown metric 'f1'"),
    (
        "softmax before cross-entropy",
        lambda: dlt.Sequential([dlt.Dense(4, 3, activation="softmax")]).compile(),
        ValueError,
        "takes logits, but the last layer has activation 'softmax'",
    ),
    (
        "batch size zero",
        lambda: model().fit(X, Y, batch_size=0),
        ValueError,
        "batch_size must be >= 1; got 0",
    ),
    (
        "epochs not an int",
        lambda: model().fit(X, Y, epochs=2.5),
        TypeError,
        "epochs must be an integer; got 2.5",
    ),
    (
        "validation data not a pair",
        lambda: model().fit(X, Y, validation_data=X),
        ValueError,
        "validation_data must be a tuple",
    ),
    (
        "validation labels out of range",
        lambda: model().fit(X, Y, validation_data=(X, Y + 3)),
        ValueError,
        "y_val contains label",
    ),
    (
        "set_params of wrong length",
        lambda: model().set_params(np.zeros(3)),
        ValueError,
        r"params must have \d+ entries \(num_parameters\); got 3",
    ),
    (
        "fit before compile",
        lambda: dlt.Sequential([dlt.Dense(4, 3)]).fit(X, Y),
        RuntimeError,
        "not compiled",
    ),
    ("f not callable", lambda: dlt.numdiff.gradient(3.0, [1.0]), TypeError, "f must be callable"),
    (
        "f returns NaN",
        lambda: dlt.numdiff.gradient(lambda v: np.nan, [1.0], "forward"),
        ValueError,
        "f returned nan at x",
    ),
    (
        "f returns a vector",
        lambda: dlt.numdiff.gradient(lambda v: v, [1.0, 2.0]),
        TypeError,
        "f must return a real scalar",
    ),
    ("empty X", lambda: model().predict(np.zeros((0, 4))), ValueError, "X is empty"),
    ("strings as X", lambda: model().predict("data"), TypeError, "X must be array-like"),
]


@pytest.mark.parametrize(
    "call, error, fragment",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_refused_with_a_clear_message(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_nan_in_regression_targets_is_refused():
    net = dlt.Sequential([dlt.Dense(4, 1)], seed=0)
    net.compile(loss="mse")
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        net.fit(X, with_nan(RNG.normal(size=12)))
