"""The built-in layers, by name (each lives in its own module; this is the index)."""

from .conv import Conv1D, Conv2D
from .dense import Dense
from .layer import LAYER_TYPES, Layer, layer_from_config, register_layer

__all__ = [
    "LAYER_TYPES",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Layer",
    "layer_from_config",
    "register_layer",
]
