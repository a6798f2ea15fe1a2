"""deep_learning_toolkit: neural networks trained with numerically differentiated gradients.

>>> import deep_learning_toolkit as dlt
>>> model = dlt.Sequential([dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)], seed=0)
>>> model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.01),
...               method="five_point_midpoint", metrics=["accuracy"])
"""

from . import data, distributed, numdiff, optim, training, viz
from .distributed import sweep
from .io import load_model, save_model
from .nn import Dense, Sequential
from .numdiff.check import check_gradient, check_model_gradient
from .training import (
    Callback,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoardLogger,
)

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "Dense",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
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
