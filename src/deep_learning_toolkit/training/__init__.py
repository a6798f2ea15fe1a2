"""Training: the epoch loop, its steps, History, callbacks, checkpoints, metrics, TensorBoard."""

from .callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    LearningRateScheduler,
    ReduceLROnPlateau,
)
from .checkpoint import ModelCheckpoint
from .history import History
from .loop import BatchOutcome, Loop, train
from .metrics import METRICS, get_metric
from .progress import ProgressBar
from .tensorboard import TensorBoardLogger

__all__ = [
    "METRICS",
    "Callback",
    "BatchOutcome",
    "CallbackList",
    "EarlyStopping",
    "History",
    "Loop",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TensorBoardLogger",
    "get_metric",
    "train",
]
