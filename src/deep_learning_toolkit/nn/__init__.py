"""Networks: the Layer protocol, layers, activations, losses, and a network of layers.

The trainable model, :class:`~deep_learning_toolkit.Sequential`, is built on top of this
package (``deep_learning_toolkit.model``).
"""

from .activation_layer import Activation
from .activations import ACTIVATIONS, get_activation
from .activations import Activation as ActivationFunction
from .conv import Conv1D, Conv2D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
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
from .normalization import BatchNorm, LayerNorm
from .pooling import AvgPool1D, AvgPool2D, GlobalAvgPool, MaxPool1D, MaxPool2D
from .reshape import Flatten

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LAYER_TYPES",
    "LOSSES",
    "Activation",
    "ActivationFunction",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "BinaryCrossEntropy",
    "Conv1D",
    "Conv2D",
    "CrossEntropy",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool",
    "Layer",
    "LayerNorm",
    "Loss",
    "MaxPool1D",
    "MaxPool2D",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Network",
    "get_activation",
    "get_initializer",
    "get_loss",
    "layer_from_config",
    "register_layer",
]
