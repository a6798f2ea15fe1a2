"""The built-in layers, by name (each lives in its own module; this is the index)."""

from .activation_layer import Activation
from .conv import Conv1D, Conv2D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .layer import LAYER_TYPES, Layer, layer_from_config, register_layer
from .normalization import BatchNorm, LayerNorm
from .pooling import AvgPool1D, AvgPool2D, GlobalAvgPool, MaxPool1D, MaxPool2D
from .reshape import Flatten

__all__ = [
    "LAYER_TYPES",
    "Activation",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool",
    "Layer",
    "LayerNorm",
    "MaxPool1D",
    "MaxPool2D",
    "layer_from_config",
    "register_layer",
]
