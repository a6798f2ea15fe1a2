"""Splitting, feature scaling and label encoding."""

from __future__ import annotations

from typing import Any

import numpy as np

from deep_learning_toolkit._validation import (
    check_array,
    check_float,
    check_int,
    check_same_length,
    describe,
)

__all__ = ["StandardScaler", "one_hot", "train_test_split"]

_MAX_AUTO_CLASSES = 100


def _integer_labels(y: np.ndarray) -> bool:
    """True if the finite float array ``y`` holds only integer values."""
    return bool(np.all(y == np.round(y)))


def _looks_like_labels(y: np.ndarray) -> bool:
    """Heuristic used when ``stratify=None``: 1-D, integer-valued, few distinct values.

    "Few" means at most ``min(100, max(2, n_samples // 5))`` distinct values, so that
    every class has five samples on average; integer-valued regression targets with
    many distinct values (such as the diabetes dataset) are not stratified.
    """
    if y.ndim != 1 or not _integer_labels(y):
        return False
    limit = min(_MAX_AUTO_CLASSES, max(2, len(y) // 5))
    return len(np.unique(y)) <= limit


def _stratified_indices(
    labels: np.ndarray, test_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    train_parts: list[np.ndarray] = []
    test_parts: list[np.ndarray] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = len(members)
        n_test = int(round(test_size * count))
        if count >= 2:
            n_test = max(n_test, 1)
        if n_test >= count:
            raise ValueError(
                f"test_size={test_size} would leave class {label:g} (with {count} "
                f"sample{'s' if count != 1 else ''}) empty in the training set; use a "
                "smaller test_size or stratify=False."
            )
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train = np.concatenate(train_parts)
    test = np.concatenate(test_parts)
    if len(test) == 0:
        raise ValueError(
            f"test_size={test_size} puts no sample in the test set; use a larger test_size."
        )
    return rng.permutation(train), rng.permutation(test)


def _random_indices(
    n: int, test_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n_test = int(round(test_size * n))
    if n_test < 1 or n_test > n - 1:
        raise ValueError(
            f"test_size={test_size} with {n} samples gives {n_test} test samples; "
            "both the training and the test set need at least one sample."
        )
    order = rng.permutation(n)
    return order[n_test:], order[:n_test]


def train_test_split(
    X: Any,
    y: Any,
    *,
    test_size: float = 0.2,
    stratify: bool | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split samples into a random training and test set.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Finite features.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Finite targets; their dtype is kept.
    test_size : float, default 0.2
        Fraction of the samples put in the test set, strictly between 0 and 1.
    stratify : bool or None, default None
        If True, split each class separately so that class proportions are kept:
        per class, ``round(test_size * class_count)`` samples (at least 1 when the
        class has two or more) go to the test set. If None, stratify when ``y``
        looks like class labels: 1-D, integer-valued, with at most
        ``min(100, max(2, n_samples // 5))`` distinct values.
    seed : int, default 0
        Seed of the ``np.random.default_rng`` that shuffles; the same seed gives the
        same split.

    Returns
    -------
    X_train, X_test, y_train, y_test : np.ndarray
        ``X`` parts are float64; ``y`` parts keep the dtype of ``y``.

    Raises
    ------
    ValueError
        If an input is malformed, ``test_size`` is outside (0, 1), ``stratify=True``
        is used with targets that are not 1-D integer labels, or a set (or a class
        in the training set) would be empty.
    """
    X_checked = check_array("X", X, ndim=2)
    y_checked = check_array("y", y, ndim=(1, 2))
    check_same_length("X", X_checked, "y", y_checked)
    test_size = check_float("test_size", test_size, positive=True, below=1.0)
    seed = check_int("seed", seed, minimum=0)
    if stratify is not None and not isinstance(stratify, (bool, np.bool_)):
        raise TypeError(f"stratify must be True, False or None; got {describe(stratify)}.")
    y_out = np.asarray(y)
    if stratify is None:
        stratify = _looks_like_labels(y_checked)
    elif stratify and (y_checked.ndim != 1 or not _integer_labels(y_checked)):
        raise ValueError(
            "stratify=True needs y to be 1-D integer class labels; got "
            f"{describe(y_out)}. Pass stratify=False for regression targets."
        )
    rng = np.random.default_rng(seed)
    if stratify:
        train, test = _stratified_indices(y_checked, test_size, rng)
    else:
        train, test = _random_indices(len(X_checked), test_size, rng)
    return X_checked[train], X_checked[test], y_out[train], y_out[test]


class StandardScaler:
    """Scale each feature to zero mean and unit variance, like scikit-learn's.

    Attributes
    ----------
    mean_ : np.ndarray of shape (n_features,)
        Per-feature mean of the data passed to :meth:`fit`.
    scale_ : np.ndarray of shape (n_features,)
        Per-feature standard deviation (``ddof=0``); constant features get 1.0 so
        they are centred but not divided by zero.
    n_features_in_ : int
        Number of features seen by :meth:`fit`.
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.n_features_in_: int | None = None

    def fit(self, X: Any) -> StandardScaler:
        """Compute the per-feature mean and standard deviation of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite training features.

        Returns
        -------
        StandardScaler
            ``self``, fitted.
        """
        X = check_array("X", X, ndim=2)
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        constant = (np.ptp(X, axis=0) == 0) | (scale == 0)
        scale[constant] = 1.0
        self.mean_ = mean
        self.scale_ = scale
        self.n_features_in_ = X.shape[1]
        return self

    def _checked(self, X: Any) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise ValueError("StandardScaler is not fitted yet; call fit(X) first.")
        X = check_array("X", X, ndim=2)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but StandardScaler was fitted with "
                f"{self.n_features_in_} features."
            )
        return X

    def transform(self, X: Any) -> np.ndarray:
        """Return ``(X - mean_) / scale_`` as a new float64 array.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite features with as many columns as the fitted data.

        Returns
        -------
        np.ndarray
            The standardized features.
        """
        X = self._checked(X)
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X: Any) -> np.ndarray:
        """Fit to ``X`` and return ``X`` standardized."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undo :meth:`transform`: return ``X * scale_ + mean_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Standardized features.

        Returns
        -------
        np.ndarray
            The features on their original scale.
        """
        X = self._checked(X)
        return X * self.scale_ + self.mean_

    def __repr__(self) -> str:
        state = f"n_features_in_={self.n_features_in_}" if self.mean_ is not None else "unfitted"
        return f"StandardScaler({state})"


def one_hot(y: Any, n_classes: int | None = None) -> np.ndarray:
    """Encode integer class labels as one-hot rows.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class ids, integer-valued and in ``0 .. n_classes - 1``.
    n_classes : int or None, default None
        Number of classes (columns); defaults to ``max(y) + 1``.

    Returns
    -------
    np.ndarray
        float64 array of shape ``(n_samples, n_classes)`` with a single 1.0 per row.
    """
    labels = check_array("y", y, ndim=1)
    if not _integer_labels(labels) or labels.min() < 0:
        raise ValueError(
            f"y must hold non-negative integer class ids; got {describe(np.asarray(y))} "
            f"with values in [{labels.min():g}, {labels.max():g}]."
        )
    labels = labels.astype(np.int64)
    largest = int(labels.max())
    if n_classes is None:
        n_classes = largest + 1
    n_classes = check_int("n_classes", n_classes, minimum=1)
    if largest >= n_classes:
        raise ValueError(
            f"y contains class id {largest}, which needs n_classes > {largest}; "
            f"got n_classes={n_classes}."
        )
    encoded = np.zeros((len(labels), n_classes), dtype=np.float64)
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded
