"""Datasets, preprocessing and reproducible minibatching."""

from deep_learning_toolkit.data.batching import (
    epoch_permutation,
    iterate_minibatches,
    minibatch_indices,
)
from deep_learning_toolkit.data.datasets import DATASETS, Dataset, load_dataset
from deep_learning_toolkit.data.preprocessing import StandardScaler, one_hot, train_test_split

__all__ = [
    "DATASETS",
    "Dataset",
    "StandardScaler",
    "epoch_permutation",
    "iterate_minibatches",
    "load_dataset",
    "minibatch_indices",
    "one_hot",
    "train_test_split",
]
