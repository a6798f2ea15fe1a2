"""PyTorch twins of ``Dense`` (and its activations).

Our ``Dense`` computes ``a @ W + b`` with ``W`` of shape ``(in, out)``; ``torch.nn.Linear``
stores ``weight`` of shape ``(out, in)`` and computes ``a @ weight.T + bias``, so
``weight = W.T``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._optional import require
from ..nn.activations import LEAKY_RELU_SLOPE
from .twin_registry import TwinLayer, TwinParameter, register_twin


def activation_module(name: str) -> Any:
    """The ``torch.nn`` module computing our activation ``name``."""
    torch = require("torch", "the PyTorch baseline")
    modules = {
        "linear": torch.nn.Identity,
        "sigmoid": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "leaky_relu": lambda: torch.nn.LeakyReLU(LEAKY_RELU_SLOPE),
        "softmax": lambda: torch.nn.Softmax(dim=-1),
    }
    if name not in modules:
        raise ValueError(f"activation {name!r} has no PyTorch twin; known: {sorted(modules)}.")
    return modules[name]()


def _transposed(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array.T)


@register_twin("Dense")
def dense_twin(layer: Any) -> TwinLayer:
    """``Linear`` (``weight = W.T``) followed by the activation module."""
    torch = require("torch", "the PyTorch baseline")
    # skip_init: no draw from torch's global generator; the weights are copied in afterwards.
    linear = torch.nn.utils.skip_init(
        torch.nn.Linear, layer.in_features, layer.out_features, dtype=torch.float64
    )
    parameters = [
        TwinParameter(linear.weight, layer.W.shape, _transposed, _transposed),
        TwinParameter(linear.bias, layer.b.shape),
    ]
    return TwinLayer([linear, activation_module(layer.activation.name)], parameters)
