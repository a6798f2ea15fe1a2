"""PyTorch twins of ``Conv1D`` and ``Conv2D`` (and their activations).

Our kernels and biases are laid out as ``torch.nn.Conv1d``/``Conv2d``'s ``weight`` and
``bias``, so the parameters are copied as they are; the padding is zeros on each side, as
torch's default ``padding_mode="zeros"``.
"""

from __future__ import annotations

from typing import Any

from .._optional import require
from .twin_dense import activation_module
from .twin_registry import TwinLayer, TwinParameter, register_twin


def _conv_twin(layer: Any, module: str) -> TwinLayer:
    torch = require("torch", "the PyTorch baseline")
    # skip_init: no draw from torch's global generator; the weights are copied in afterwards.
    conv = torch.nn.utils.skip_init(
        getattr(torch.nn, module),
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        stride=layer.stride,
        padding=layer.padding,
        dtype=torch.float64,
    )
    parameters = [
        TwinParameter(conv.weight, layer.W.shape),
        TwinParameter(conv.bias, layer.b.shape),
    ]
    return TwinLayer([conv, activation_module(layer.activation.name)], parameters)


@register_twin("Conv1D")
def conv1d_twin(layer: Any) -> TwinLayer:
    """``Conv1d`` (same ``weight`` and ``bias`` layout) followed by the activation module."""
    return _conv_twin(layer, "Conv1d")


@register_twin("Conv2D")
def conv2d_twin(layer: Any) -> TwinLayer:
    """``Conv2d`` (same ``weight`` and ``bias`` layout) followed by the activation module."""
    return _conv_twin(layer, "Conv2d")
