"""deep_learning_toolkit: neural networks trained with numerically differentiated gradients.

>>> import deep_learning_toolkit as dlt
>>> model = dlt.Sequential([dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)], seed=0)
>>> model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.01),
...               method="five_point_midpoint", metrics=["accuracy"])
"""

from importlib import metadata as _metadata
from typing import Any

from . import data, distributed, gradients, nn, numdiff, optim, training, viz
from .gradients import check_model_gradient
from .io import load_model, save_model
from .model import Sequential
from .nn import Dense, Layer, register_layer
from .nn.layers import (
    Activation,
    AvgPool1D,
    AvgPool2D,
    BatchNorm,
    Dropout,
    Embedding,
    Flatten,
    GlobalAvgPool,
    LayerNorm,
    MaxPool1D,
    MaxPool2D,
)
from .numdiff.check import check_gradient
from .training import (
    Callback,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoardLogger,
)

try:  # one version number: pyproject.toml's, as installed
    __version__ = _metadata.version("deep_learning_toolkit")
except _metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> Any:
    """``dlt.sweep``: the experiments' sweep, imported on first use (the library itself
    never imports the experiments)."""
    if name == "sweep":
        from .experiments.sweep import sweep

        return sweep
    raise AttributeError(f"module 'deep_learning_toolkit' has no attribute {name!r}")


__all__ = [
    "Activation",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "Callback",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool",
    "LayerNorm",
    "MaxPool1D",
    "MaxPool2D",
    "EarlyStopping",
    "History",
    "Layer",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "Sequential",
    "TensorBoardLogger",
    "check_gradient",
    "check_model_gradient",
    "load_model",
    "register_layer",
    "save_model",
    "sweep",
    "data",
    "distributed",
    "gradients",
    "nn",
    "numdiff",
    "optim",
    "training",
    "viz",
]
