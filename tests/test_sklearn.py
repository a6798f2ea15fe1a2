"""Tests of the scikit-learn estimators: scikit-learn's own checks, and equality with the
same network trained through the toolkit's own API."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, load_wine  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import deep_learning_toolkit as dlt  # noqa: E402
from deep_learning_toolkit.sklearn import (  # noqa: E402
    EXPECTED_FAILED_CHECKS,
    InvalidParameterError,
    NumDiffClassifier,
    NumDiffRegressor,
)
from deep_learning_toolkit.sklearn.base import MAX_SEED  # noqa: E402


def fast(cls, **kwargs):
    """A small, quick estimator for the checks (defaults train 200 epochs)."""
    return cls(**{"hidden_layer_sizes": (8,), "epochs": 5, "random_state": 0, **kwargs})


@parametrize_with_checks(
    [fast(NumDiffClassifier), fast(NumDiffRegressor)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS[type(estimator).__name__],
)
def test_scikit_learn_estimator_checks(estimator, check, monkeypatch) -> None:
    # check_array_api_input (NumPy namespace, as for every estimator without array API
    # support) skips itself unless SCIPY_ARRAY_API=1, which it reads when it runs.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def reference_network(X, targets, n_outputs, loss, *, seed, hidden=(8,), lr=0.05, epochs=5):
    """The network the estimators should build and train, through the toolkit's API."""
    widths = [X.shape[1], *hidden]
    layers = [dlt.Dense(a, b, activation="tanh") for a, b in zip(widths[:-1], widths[1:])]
    model = dlt.Sequential([*layers, dlt.Dense(widths[-1], n_outputs)], seed=seed)
    model.compile(loss=loss, optimizer=dlt.optim.Adam(lr=lr), method="five_point_midpoint")
    model.fit(X, targets, epochs=epochs, batch_size=32)
    return model


def test_classifier_is_the_toolkit_network(iris) -> None:
    X, y = iris
    clf = fast(NumDiffClassifier, learning_rate=0.05, method="five_point_midpoint").fit(X, y)
    seed = int(check_random_state(0).randint(MAX_SEED))
    model = reference_network(X, y, 3, "cross_entropy", seed=seed)
    np.testing.assert_array_equal(clf.model_.get_params(), model.get_params())
    np.testing.assert_array_equal(clf.predict_proba(X), model.predict(X))
    np.testing.assert_array_equal(clf.predict(X), np.argmax(model.predict(X), axis=1))
    assert clf.score(X, y) == np.mean(clf.predict(X) == y)
    assert clf.n_iter_ == 5 and clf.loss_curve_ == clf.history_.history["loss"]
    assert clf.loss_ == clf.history_.history["loss"][-1] and clf.n_features_in_ == 4


def test_regressor_is_the_toolkit_network(iris) -> None:
    X, _ = iris
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5])
    for loss in ("mse", "mae"):
        reg = fast(NumDiffRegressor, learning_rate=0.05, method="five_point_midpoint", loss=loss)
        seed = int(check_random_state(0).randint(MAX_SEED))
        model = reference_network(X[:, 2:], Y, 2, loss, seed=seed)
        reg.fit(X[:, 2:], Y)
        np.testing.assert_array_equal(reg.predict(X[:, 2:]), model.predict(X[:, 2:]))
        assert reg.n_outputs_ == 2 and reg.model_.loss.name == loss
    one = fast(NumDiffRegressor).fit(X[:, 2:], Y[:, 0])
    assert one.predict(X[:5, 2:]).shape == (5,) and one.n_outputs_ == 1


def test_labels_of_any_kind_are_encoded_in_sorted_order(iris) -> None:
    X, y = iris
    reference = fast(NumDiffClassifier).fit(X, y)
    for labels in (np.array(["setosa", "versicolor", "virginica"]), np.array([-7, 5, 10])):
        clf = fast(NumDiffClassifier).fit(X, labels[y])
        np.testing.assert_array_equal(clf.classes_, labels)
        np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
        np.testing.assert_array_equal(clf.predict(X), labels[reference.predict(X)])
    with pytest.raises(ValueError, match="at least 2 classes in y; got 1 class"):
        fast(NumDiffClassifier).fit(X[:10], np.zeros(10))


def test_clone_pickle_and_a_fitted_copy(iris) -> None:
    X, y = iris
    schedule = dlt.optim.CosineDecay(0.05, decay_steps=40)
    clf = fast(NumDiffClassifier, learning_rate=schedule, optimizer="sgd",
               optimizer_params={"momentum": 0.9})  # fmt: skip
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and copy is not clf
    assert not hasattr(clone(clf.fit(X, y)), "model_")
    assert clf.model_.optimizer.schedule == schedule
    assert clf.model_.optimizer.hyperparameters()["momentum"] == 0.9
    np.testing.assert_array_equal(copy.fit(X, y).predict_proba(X), clf.predict_proba(X))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_pipeline_grid_search_and_cross_validation() -> None:
    X, y = load_wine(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), fast(NumDiffClassifier, learning_rate=0.05))
    pipeline.fit(X, y)
    scaler = StandardScaler().fit(X)
    direct = fast(NumDiffClassifier, learning_rate=0.05).fit(scaler.transform(X), y)
    np.testing.assert_array_equal(
        pipeline.predict_proba(X), direct.predict_proba(scaler.transform(X))
    )

    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_val_score(pipeline, X, y, cv=folds)
    manual = [clone(pipeline).fit(X[a], y[a]).score(X[b], y[b]) for a, b in folds.split(X, y)]
    np.testing.assert_array_equal(scores, manual)

    methods = ["forward", "five_point_midpoint"]
    search = GridSearchCV(pipeline, {"numdiffclassifier__method": methods}, cv=folds)
    search.fit(X, y)
    assert list(search.cv_results_["param_numdiffclassifier__method"]) == methods
    for index, method in enumerate(methods):
        candidate = clone(pipeline).set_params(numdiffclassifier__method=method)
        expected = cross_val_score(candidate, X, y, cv=folds)
        assert search.cv_results_["mean_test_score"][index] == pytest.approx(expected.mean())
    best = clone(pipeline).set_params(**search.best_params_).fit(X, y)
    np.testing.assert_array_equal(search.predict_proba(X), best.predict_proba(X))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"epochs": 0}, r"The 'epochs' parameter of NumDiffClassifier must be an int in the "
                        r"range \[1, inf\)\. Got 0 instead\."),
        ({"hidden_layer_sizes": (4, 0)}, "'hidden_layer_sizes' parameter"),
        ({"hidden_layer_sizes": "16"}, "'hidden_layer_sizes' parameter"),
        ({"activation": "swish"}, r"'activation' parameter .* Got 'swish' instead"),
        ({"optimizer": "adamw"}, r"'optimizer' parameter .*\{'adam', 'rmsprop', 'sgd'\}"),
        ({"optimizer_params": {"momentum": 0.9}}, "'optimizer_params' .* optimizer='adam'"),
        ({"optimizer": "sgd", "optimizer_params": {"momentum": -1}}, "momentum must be >= 0"),
        ({"learning_rate": 0.0}, r"'learning_rate' parameter .* Got 0\.0 instead"),
        ({"method": "nope"}, "'method' and 'step' .* Unknown method 'nope'"),
        ({"step": -1.0}, "'method' and 'step' .* step=-1.0"),
        ({"batch_size": 0}, r"'batch_size' parameter .* or None\. Got 0"),
        ({"shuffle": "yes"}, "'shuffle' parameter"),
        ({"random_state": "seed"}, "'random_state' parameter"),
        ({"verbose": -1}, "'verbose' parameter"),
    ],
)  # fmt: skip
def test_bad_hyperparameters_fail_in_fit_and_change_nothing(iris, params, match) -> None:
    X, y = iris
    clf = fast(NumDiffClassifier).fit(X, y)
    before = dict(clf.__dict__)
    clf.set_params(**params)  # storing is never refused
    with pytest.raises(InvalidParameterError, match=match) as error:
        clf.fit(X[:, :3], y)
    assert isinstance(error.value, ValueError) and isinstance(error.value, TypeError)
    after = dict(clf.__dict__)
    for key in params:
        after[key] = before[key]
    assert after == before  # the previous fit (model_, n_features_in_ 4) is intact


def test_regressor_loss_is_checked_in_fit(iris) -> None:
    X, y = iris
    reg = NumDiffRegressor(loss="huber")
    with pytest.raises(InvalidParameterError, match=r"'loss' parameter .* Got 'huber' instead"):
        reg.fit(X, y.astype(float))
    assert not hasattr(reg, "n_features_in_")
