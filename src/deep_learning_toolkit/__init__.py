"""deep_learning_toolkit: neural networks trained with numerically differentiated gradients.

>>> import deep_learning_toolkit as dlt
>>> model = dlt.Sequential([dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)], seed=0)
>>> model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.01),
...               method="five_point_midpoint", metrics=["accuracy"])
"""

import importlib
from importlib import metadata as _metadata
from typing import Any as _Any

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
    Conv1D,
    Conv2D,
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


def __getattr__(name: str) -> _Any:
    """Lazy names: ``dlt.torch`` (imports PyTorch on first use, so that the toolkit itself
    never does) and ``dlt.sweep`` (the experiments' sweep: the library never imports them)."""
    if name == "sweep":
        from .experiments.sweep import sweep

        return sweep
    if name != "torch":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return importlib.import_module(f"{__name__}.torch")
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        raise ImportError(
            "deep_learning_toolkit.torch needs PyTorch, which is not installed: "
            "pip install torch (see the README's Set up for the version)."
        ) from error


__all__ = [
    "Activation",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "Conv1D",
    "Conv2D",
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
