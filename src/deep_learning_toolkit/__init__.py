"""deep_learning_toolkit: neural networks trained with numerically differentiated gradients.

>>> import deep_learning_toolkit as dlt
>>> model = dlt.Sequential([dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)], seed=0)
>>> model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.01),
...               method="five_point_midpoint", metrics=["accuracy"])
"""

import importlib
from types import ModuleType

from . import data, distributed, numdiff, optim, training, viz
from .distributed import sweep
from .io import load_model, save_model
from .nn import Dense, Sequential
from .numdiff.check import check_gradient, check_model_gradient
from .training import Callback, EarlyStopping, History, ModelCheckpoint, TensorBoardLogger

__version__ = "0.1.0"


def __getattr__(name: str) -> ModuleType:
    """Import ``dlt.torch`` on first use, so that the toolkit itself never imports PyTorch."""
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
    "Callback",
    "Dense",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "Sequential",
    "TensorBoardLogger",
    "check_gradient",
    "check_model_gradient",
    "load_model",
    "save_model",
    "sweep",
    "data",
    "distributed",
    "numdiff",
    "optim",
    "training",
    "viz",
]
