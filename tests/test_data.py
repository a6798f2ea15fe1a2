"""Tests for deep_learning_toolkit.data: loaders, splitting, scaling, batching."""

from __future__ import annotations

import numpy as np
import pytest

from deep_learning_toolkit.data import (
    DATASETS,
    Dataset,
    StandardScaler,
    epoch_permutation,
    iterate_minibatches,
    load_dataset,
    minibatch_indices,
    one_hot,
    train_test_split,
)

# ---------------------------------------------------------------- datasets


@pytest.mark.parametrize(
    ("name", "shape", "task", "n_classes"),
    [
        ("iris", (150, 4), "classification", 3),
        ("wine", (178, 13), "classification", 3),
        ("breast_cancer", (569, 30), "classification", 2),
        ("digits", (1797, 64), "classification", 10),
        ("diabetes", (442, 10), "regression", None),
        ("friedman", (1000, 10), "regression", None),
    ],
)
def test_load_dataset_shapes_and_task(name, shape, task, n_classes):
    pytest.importorskip("sklearn")
    data = load_dataset(name)
    assert isinstance(data, Dataset)
    assert data.name == name
    assert data.X.shape == shape
    assert data.X.dtype == np.float64
    assert data.y.shape == (shape[0],)
    assert data.task == task
    assert data.n_classes == n_classes
    assert data.n_features == shape[1]
    assert len(data.feature_names) == shape[1]
    if task == "classification":
        assert data.y.dtype == np.int64
        assert set(np.unique(data.y)) == set(range(n_classes))
        assert len(data.target_names) == n_classes
    else:
        assert data.y.dtype == np.float64


def test_datasets_constant_lists_all_loaders():
    assert DATASETS == ("iris", "wine", "breast_cancer", "digits", "diabetes", "friedman")


def test_friedman_depends_on_seed():
    pytest.importorskip("sklearn")
    a, b, c = (load_dataset("friedman", seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnist'.*iris.*friedman"):
        load_dataset("mnist")


# ---------------------------------------------------------------- train_test_split


def _iris():
    pytest.importorskip("sklearn")
    return load_dataset("iris")


def test_stratified_split_preserves_class_proportions():
    data = _iris()
    X_tr, X_te, y_tr, y_te = train_test_split(data.X, data.y, test_size=0.2, seed=0)
    assert X_tr.shape == (120, 4) and X_te.shape == (30, 4)
    np.testing.assert_array_equal(np.bincount(y_tr), [40, 40, 40])
    np.testing.assert_array_equal(np.bincount(y_te), [10, 10, 10])
    assert y_tr.dtype == np.int64


def test_split_disjoint_and_covering():
    rng = np.random.default_rng(0)
    X = np.arange(100, dtype=float).reshape(50, 2)  # row i identified by X[i, 0] / 2
    y = rng.integers(0, 3, size=50)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, seed=3)
    rows_tr = (X_tr[:, 0] / 2).astype(int)
    rows_te = (X_te[:, 0] / 2).astype(int)
    assert set(rows_tr).isdisjoint(rows_te)
    assert sorted(np.concatenate([rows_tr, rows_te])) == list(range(50))
    np.testing.assert_array_equal(y_tr, y[rows_tr])
    np.testing.assert_array_equal(y_te, y[rows_te])


def test_split_deterministic_for_seed_and_differs_between_seeds():
    data = _iris()
    first = train_test_split(data.X, data.y, seed=7)
    again = train_test_split(data.X, data.y, seed=7)
    other = train_test_split(data.X, data.y, seed=8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])


def test_regression_split_not_stratified():
    pytest.importorskip("sklearn")
    data = load_dataset("diabetes")  # integer-valued targets, but many distinct values
    X_tr, X_te, y_tr, y_te = train_test_split(data.X, data.y, test_size=0.2, seed=0)
    assert len(X_te) == round(0.2 * 442) and len(X_tr) == 442 - len(X_te)
    assert y_tr.dtype == np.float64
    plain = train_test_split(data.X, data.y, test_size=0.2, stratify=False, seed=0)
    for auto, explicit in zip((X_tr, X_te, y_tr, y_te), plain, strict=True):
        np.testing.assert_array_equal(auto, explicit)


def test_continuous_targets_not_stratified():
    pytest.importorskip("sklearn")
    data = load_dataset("friedman")
    auto = train_test_split(data.X, data.y, seed=2)
    plain = train_test_split(data.X, data.y, stratify=False, seed=2)
    for a, b in zip(auto, plain, strict=True):
        np.testing.assert_array_equal(a, b)


def test_stratify_false_gives_plain_random_split():
    X = np.zeros((10, 1))
    y = np.array([0] * 9 + [1])
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=False)
    assert len(y_te) == 2 and len(y_tr) == 8


def test_stratify_true_rejects_continuous_targets():
    X = np.zeros((10, 1))
    with pytest.raises(ValueError, match="stratify"):
        train_test_split(X, np.linspace(0, 1, 10), stratify=True)


def test_stratified_class_would_be_empty_in_train():
    X = np.zeros((12, 1))
    y = np.array([0] * 10 + [1] * 2)  # class 1: round(0.8 * 2) = 2 test samples, 0 left
    with pytest.raises(ValueError, match="test_size.*class 1.*empty"):
        train_test_split(X, y, test_size=0.8, stratify=True)


@pytest.mark.parametrize("test_size", [0, 0.0, 1, 1.5, -0.1])
def test_split_rejects_bad_test_size(test_size):
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.zeros((10, 2)), np.zeros(10), test_size=test_size)


def test_split_rejects_nan_in_X():
    X = np.ones((10, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN"):
        train_test_split(X, np.zeros(10))


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"X and y.*10 and 9"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))


def test_split_rejects_3d_X():
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        train_test_split(np.zeros((10, 2, 2)), np.zeros(10))


def test_split_accepts_2d_y():
    X = np.arange(20, dtype=float).reshape(10, 2)
    Y = np.arange(30, dtype=float).reshape(10, 3)
    X_tr, X_te, Y_tr, Y_te = train_test_split(X, Y, test_size=0.3)
    assert Y_tr.shape == (7, 3) and Y_te.shape == (3, 3)


# ---------------------------------------------------------------- StandardScaler


def test_standard_scaler_matches_sklearn():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    data = load_dataset("wine")
    X_tr, X_te, _, _ = train_test_split(data.X, data.y, seed=1)
    ours = StandardScaler().fit(X_tr)
    theirs = preprocessing.StandardScaler().fit(X_tr)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.scale_, theirs.scale_, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours.transform(X_te), theirs.transform(X_te), atol=1e-12)
    np.testing.assert_allclose(ours.fit_transform(X_tr), theirs.transform(X_tr), atol=1e-12)


def test_standard_scaler_fitted_on_train_only():
    data = _iris()
    X_tr, X_te, _, _ = train_test_split(data.X, data.y, seed=0)
    scaler = StandardScaler().fit(X_tr)
    Z_tr = scaler.transform(X_tr)
    Z_te = scaler.transform(X_te)
    np.testing.assert_allclose(Z_tr.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z_tr.std(axis=0), 1.0, atol=1e-12)
    assert np.all(np.abs(Z_te.mean(axis=0)) > 1e-6)
    np.testing.assert_allclose(scaler.inverse_transform(Z_te), X_te, atol=1e-12)


def test_standard_scaler_zero_variance_column():
    X = np.column_stack([np.arange(5.0), np.full(5, 0.1), np.zeros(5)])
    scaler = StandardScaler().fit(X)
    np.testing.assert_array_equal(scaler.scale_[1:], [1.0, 1.0])
    Z = scaler.transform(X)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z[:, 1:], 0.0, atol=1e-15)


def test_standard_scaler_not_fitted():
    with pytest.raises(ValueError, match=r"not fitted yet; call fit\(X\) first"):
        StandardScaler().transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        StandardScaler().inverse_transform(np.zeros((2, 2)))


def test_standard_scaler_feature_count_mismatch():
    scaler = StandardScaler().fit(np.random.default_rng(0).normal(size=(5, 3)))
    with pytest.raises(ValueError, match=r"4 features.*3 features"):
        scaler.transform(np.zeros((2, 4)))


# ---------------------------------------------------------------- one_hot


def test_one_hot():
    encoded = one_hot([0, 2, 1, 2])
    assert encoded.dtype == np.float64
    np.testing.assert_array_equal(encoded, np.eye(3)[[0, 2, 1, 2]])
    assert one_hot(np.array([1, 0]), n_classes=4).shape == (2, 4)


def test_one_hot_rejects_bad_labels():
    with pytest.raises(ValueError, match="n_classes"):
        one_hot([0, 3], n_classes=3)
    with pytest.raises(ValueError, match="y must hold non-negative integer"):
        one_hot([0.5, 1.0])
    with pytest.raises(ValueError, match="y must hold non-negative integer"):
        one_hot([-1, 0])


# ---------------------------------------------------------------- batching


def test_batches_partition_range():
    batches = minibatch_indices(23, 5, seed=0, epoch=0)
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(23))


def test_batches_reproducible_and_epoch_dependent():
    a = minibatch_indices(50, 8, seed=3, epoch=2)
    b = minibatch_indices(50, 8, seed=3, epoch=2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    order0 = epoch_permutation(50, seed=3, epoch=0)
    order1 = epoch_permutation(50, seed=3, epoch=1)
    assert not np.array_equal(order0, order1)
    assert not np.array_equal(order0, epoch_permutation(50, seed=4, epoch=0))


def test_epoch_permutation_is_replayable_from_seed_and_epoch():
    expected = np.random.default_rng([5, 11]).permutation(30)
    np.testing.assert_array_equal(epoch_permutation(30, seed=5, epoch=11), expected)


def test_no_shuffle_gives_arange_order():
    np.testing.assert_array_equal(
        epoch_permutation(7, seed=1, epoch=3, shuffle=False), np.arange(7)
    )
    batches = minibatch_indices(7, 3, seed=1, epoch=3, shuffle=False)
    np.testing.assert_array_equal(batches[0], [0, 1, 2])
    np.testing.assert_array_equal(batches[-1], [6])


def test_batch_size_larger_than_n_gives_one_batch():
    batches = minibatch_indices(4, 100, seed=0, epoch=0)
    assert len(batches) == 1 and len(batches[0]) == 4


def test_iterate_minibatches_pairs_rows():
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.arange(10)
    seen = []
    for X_batch, y_batch in iterate_minibatches(X, y, 4, seed=0, epoch=1):
        np.testing.assert_array_equal(X_batch[:, 0], 2 * y_batch)
        seen.extend(y_batch.tolist())
    assert sorted(seen) == list(range(10))
    assert len(list(iterate_minibatches(X, y, 4, seed=0, epoch=1))) == 3


def test_batching_rejects_bad_inputs():
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_indices(10, 0, seed=0, epoch=0)
    with pytest.raises(TypeError, match="batch_size"):
        minibatch_indices(10, 2.5, seed=0, epoch=0)
    with pytest.raises(ValueError, match="seed"):
        epoch_permutation(10, seed=-1, epoch=0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        epoch_permutation(0, seed=0, epoch=0)
    with pytest.raises(ValueError, match=r"X and y.*5 and 4"):
        iterate_minibatches(np.zeros((5, 2)), np.zeros(4), 2, seed=0, epoch=0)
    with pytest.raises(ValueError, match="batch_size"):
        iterate_minibatches(np.zeros((5, 2)), np.zeros(5), 0, seed=0, epoch=0)


def test_loader_without_sklearn_raises_helpful_import_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install scikit-learn .*'\.\[datasets\]'"):
        load_dataset("iris")


def test_importing_data_package_does_not_import_sklearn():
    import subprocess
    import sys

    code = "import sys, deep_learning_toolkit.data; print('sklearn' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
