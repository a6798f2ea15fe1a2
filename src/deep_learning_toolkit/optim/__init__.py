"""Optimizers: update rules that match :mod:`torch.optim` exactly, on NumPy vectors.

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
from .sgd import SGD

__all__ = ["OPTIMIZERS", "SGD", "Adam", "Optimizer", "RMSprop", "get_optimizer"]
