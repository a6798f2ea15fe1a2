"""Training utilities: History, callbacks and metrics."""

from .callbacks import Callback, CallbackList, EarlyStopping, ProgressBar
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
    "ModelCheckpoint",
    "ProgressBar",
    "TensorBoardLogger",
    "get_metric",
]
