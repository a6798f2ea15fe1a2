"""Reproducible minibatch orders.

The order of one epoch is a pure function of ``(seed, epoch)``: a run resumed at epoch
``k`` sees exactly the batches an uninterrupted run would have seen, and a PyTorch
twin of a model can replay the same batches by calling the same functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from deep_learning_toolkit._validation import check_int, check_same_length, describe

__all__ = ["epoch_permutation", "iterate_minibatches", "minibatch_indices"]


def epoch_permutation(n: int, *, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """Order of the sample indices for one epoch.

    Parameters
    ----------
    n : int
        Number of samples (>= 1).
    seed : int
        Run seed (>= 0).
    epoch : int
        Epoch number (>= 0).
    shuffle : bool, default True
        If False, return ``np.arange(n)``.

    Returns
    -------
    np.ndarray
        int64 array, a permutation of ``range(n)``; with ``shuffle`` it equals
        ``np.random.default_rng([seed, epoch]).permutation(n)``.
    """
    n = check_int("n", n, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    epoch = check_int("epoch", epoch, minimum=0)
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int64)


def minibatch_indices(
    n: int, batch_size: int, *, seed: int, epoch: int, shuffle: bool = True
) -> list[np.ndarray]:
    """Split one epoch's sample order into consecutive minibatches.

    Parameters
    ----------
    n : int
        Number of samples (>= 1).
    batch_size : int
        Samples per batch (>= 1); the last batch may be smaller, and a ``batch_size``
        of ``n`` or more gives a single batch.
    seed, epoch, shuffle
        As in :func:`epoch_permutation`.

    Returns
    -------
    list of np.ndarray
        Index arrays that together partition ``range(n)``.
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    order = epoch_permutation(n, seed=seed, epoch=epoch, shuffle=shuffle)
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def iterate_minibatches(
    X: Any, y: Any, batch_size: int, *, seed: int, epoch: int, shuffle: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` pairs for one epoch.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Inputs; rows are samples.
    y : array-like of shape (n_samples, ...)
        Targets; rows are samples.
    batch_size, seed, epoch, shuffle
        As in :func:`minibatch_indices`.

    Returns
    -------
    Iterator of tuple of np.ndarray
        The rows of ``X`` and ``y`` for each batch, in the order of
        :func:`minibatch_indices`. Inputs are checked when this is called, not when
        iteration starts.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0:
        raise ValueError(f"X must have at least one dimension (samples); got {describe(X)}.")
    if y.ndim == 0:
        raise ValueError(f"y must have at least one dimension (samples); got {describe(y)}.")
    check_same_length("X", X, "y", y)
    batches = minibatch_indices(len(X), batch_size, seed=seed, epoch=epoch, shuffle=shuffle)
    return ((X[index], y[index]) for index in batches)
