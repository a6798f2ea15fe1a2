"""Training utilities: History, callbacks and metrics."""

from .callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    LearningRateScheduler,
    ProgressBar,
    ReduceLROnPlateau,
)
from .checkpoint import ModelCheckpoint
from .history import History
from .metrics import METRICS, get_metric
from .tensorboard import TensorBoardLogger

__all__ = [
    "METRICS",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TensorBoardLogger",
    "get_metric",
]
