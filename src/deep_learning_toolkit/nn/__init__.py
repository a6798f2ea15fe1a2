"""Networks: the Layer protocol, layers, activations, losses, and a network of layers.

The trainable model, :class:`~deep_learning_toolkit.Sequential`, is built on top of this
package (``deep_learning_toolkit.model``).
"""

from .activations import ACTIVATIONS, Activation, get_activation
from .conv import Conv1D, Conv2D
from .dense import Dense
from .initializers import INITIALIZERS, get_initializer
from .layer import LAYER_TYPES, Layer, layer_from_config, register_layer
from .losses import (
    LOSSES,
    BinaryCrossEntropy,
    CrossEntropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    get_loss,
)
from .network import Network

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LAYER_TYPES",
    "LOSSES",
    "Activation",
    "BinaryCrossEntropy",
    "Conv1D",
    "Conv2D",
    "CrossEntropy",
    "Dense",
    "Layer",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Network",
    "get_activation",
    "get_initializer",
    "get_loss",
    "layer_from_config",
    "register_layer",
]
