"""Optimizers: update rules that match :mod:`torch.optim` exactly, on NumPy vectors.

Every optimizer takes a constant ``lr`` or a learning-rate schedule
(:mod:`~deep_learning_toolkit.optim.schedules`).

>>> import numpy as np
>>> from deep_learning_toolkit.optim import get_optimizer
>>> opt = get_optimizer("adam")
>>> params = np.zeros(3)
>>> opt.step(params, np.ones(3))
>>> params
array([-0.001, -0.001, -0.001])
"""

from .adam import Adam
from .base import OPTIMIZERS, Optimizer, get_optimizer
from .rmsprop import RMSprop
from .schedules import (
    SCHEDULES,
    CosineDecay,
    ExponentialDecay,
    FunctionSchedule,
    LearningRateError,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    StepDecay,
)
from .sgd import SGD

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adam",
    "CosineDecay",
    "ExponentialDecay",
    "FunctionSchedule",
    "LearningRateError",
    "LearningRateSchedule",
    "Optimizer",
    "PiecewiseConstantDecay",
    "RMSprop",
    "StepDecay",
    "get_optimizer",
]
