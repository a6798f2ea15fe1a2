"""Networks: activations, dense layers, losses and the Sequential model."""

from .activations import ACTIVATIONS, Activation, get_activation
from .layers import Dense
from .losses import (
    LOSSES,
    BinaryCrossEntropy,
    CrossEntropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    get_loss,
)
from .model import Sequential

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Activation",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Dense",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Sequential",
    "get_activation",
    "get_loss",
]
