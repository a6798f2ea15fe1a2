"""PyTorch twins of the layers other than ``Dense``: pooling, ``Flatten``, ``Dropout``,
``BatchNorm``, ``LayerNorm``, ``Embedding`` and named ``Activation`` layers.

Each builder returns the ``torch.nn`` module computing the layer in float64, with the
layer's parameters in PyTorch's layout (ours already is PyTorch's, so no conversion):

* ``MaxPool1D/2D``, ``AvgPool1D/2D``, ``Flatten``, ``LayerNorm``: the ``torch.nn`` modules
  of the same names and arguments (``MaxPool1d`` etc.).
* ``GlobalAvgPool``: the mean over the axes after the channels.
* ``BatchNorm``: ``torch.nn``'s batch normalisation (the ``_BatchNorm`` of ``BatchNorm1d``
  and ``BatchNorm2d``, accepting 2-D to 4-D input as ours does) with the layer's momentum,
  eps and current running statistics; ``weight`` is ``gamma``, ``bias`` is ``beta``.
* ``Embedding``: ``torch.nn.Embedding`` fed the indices as ``long`` (the twin passes float64
  inputs, as our models receive them).
* ``Dropout``: **not** ``torch.nn.Dropout``, which draws its masks from torch's generator,
  but a module that applies *our* mask: it holds a ``Dropout`` of the same rate, gives it
  the step key ``(seed, epoch, batch, layer index)`` that ``fit`` uses and multiplies by its
  :meth:`~deep_learning_toolkit.nn.dropout.Dropout.noise` (``step_rng().random(shape) >=
  rate``, scaled by ``1 / (1 - rate)``). The twin sets the keys before each step
  (:func:`set_step`), so both runs drop the same entries and end at the same parameters;
  in ``eval()`` mode it is the identity, as ``torch.nn.Dropout``.
* ``Activation``: the module of a named activation; a layer built from a Python callable
  has no twin (autograd cannot differentiate a NumPy function) and is refused.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import numpy as np

from .._optional import require
from ..nn.dropout import Dropout
from .twin_dense import activation_module
from .twin_registry import TwinLayer, TwinParameter, register_twin


def _torch() -> Any:
    return require("torch", "the PyTorch baseline")


@functools.cache
def modules() -> SimpleNamespace:
    """The torch module classes of the twins that ``torch.nn`` lacks (defined on first use,
    torch being optional)."""
    torch = _torch()

    class StepDropout(torch.nn.Module):
        """Our ``Dropout``: the mask of :attr:`step_key` (see the module notes)."""

        def __init__(self, rate: float) -> None:
            super().__init__()
            self.ours = Dropout(rate)  # draws the masks, from the key given to step_key
            self.layer_index = 0  # set by build_network

        @property
        def step_key(self) -> tuple[int, ...]:
            return self.ours.step_key

        @step_key.setter
        def step_key(self, key: tuple[int, ...]) -> None:
            self.ours.step_key = key

        def forward(self, x: Any) -> Any:
            if not self.training or self.ours.rate == 0.0:
                return x
            return x * torch.from_numpy(self.ours.noise(tuple(x.shape)))

        def extra_repr(self) -> str:
            return f"rate={self.ours.rate}"

    class AnyRankBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
        """``torch.nn`` batch normalisation over axis 1 of 2-D, 3-D or 4-D input."""

        def _check_input_dim(self, input: Any) -> None:
            if input.dim() not in (2, 3, 4):
                raise ValueError(f"expected 2-D, 3-D or 4-D input; got {input.dim()}-D.")

    class IndexEmbedding(torch.nn.Embedding):
        """``torch.nn.Embedding`` taking float indices (cast to ``long``)."""

        def forward(self, x: Any) -> Any:
            return super().forward(x.long())

    class GlobalAvgPool(torch.nn.Module):
        """Mean over every axis after the channels."""

        def forward(self, x: Any) -> Any:
            return x.mean(dim=tuple(range(2, x.dim())))

    return SimpleNamespace(
        StepDropout=StepDropout,
        AnyRankBatchNorm=AnyRankBatchNorm,
        IndexEmbedding=IndexEmbedding,
        GlobalAvgPool=GlobalAvgPool,
    )


def set_step(network: Any, *key: int) -> None:
    """Key the twin's dropout masks to a step, as ``Network.set_step`` keys ours."""
    for module in network.modules():
        if isinstance(module, modules().StepDropout):
            module.step_key = (*key, module.layer_index)


def _pool(name: str) -> Any:
    def build(layer: Any) -> TwinLayer:
        torch = _torch()
        dims = layer.dims
        kernel = layer.kernel_size if dims == 2 else layer.kernel_size[0]
        stride = layer.stride if dims == 2 else layer.stride[0]
        return TwinLayer([getattr(torch.nn, f"{name}{dims}d")(kernel, stride)])

    return build


register_twin("MaxPool1D")(_pool("MaxPool"))
register_twin("MaxPool2D")(_pool("MaxPool"))
register_twin("AvgPool1D")(_pool("AvgPool"))
register_twin("AvgPool2D")(_pool("AvgPool"))


@register_twin("GlobalAvgPool")
def global_avg_pool_twin(layer: Any) -> TwinLayer:
    """The mean over the spatial axes."""
    return TwinLayer([modules().GlobalAvgPool()])


@register_twin("Flatten")
def flatten_twin(layer: Any) -> TwinLayer:
    """``torch.nn.Flatten()`` (from axis 1)."""
    return TwinLayer([_torch().nn.Flatten()])


@register_twin("Dropout")
def dropout_twin(layer: Any) -> TwinLayer:
    """A dropout drawing our masks from the step key (see the module notes)."""
    return TwinLayer([modules().StepDropout(layer.rate)])


@register_twin("BatchNorm")
def batch_norm_twin(layer: Any) -> TwinLayer:
    """``torch.nn`` batch normalisation with our running statistics."""
    torch = _torch()
    module = modules().AnyRankBatchNorm(
        layer.num_features, eps=layer.eps, momentum=layer.momentum, dtype=torch.float64
    )
    with torch.no_grad():
        module.running_mean.copy_(torch.from_numpy(np.array(layer.running_mean)))
        module.running_var.copy_(torch.from_numpy(np.array(layer.running_var)))
    parameters = [
        TwinParameter(module.weight, layer.gamma.shape),
        TwinParameter(module.bias, layer.beta.shape),
    ]
    return TwinLayer([module], parameters)


@register_twin("LayerNorm")
def layer_norm_twin(layer: Any) -> TwinLayer:
    """``torch.nn.LayerNorm`` (``weight`` is ``gamma``, ``bias`` is ``beta``)."""
    torch = _torch()
    module = torch.nn.LayerNorm(layer.normalized_shape, eps=layer.eps, dtype=torch.float64)
    parameters = [
        TwinParameter(module.weight, layer.gamma.shape),
        TwinParameter(module.bias, layer.beta.shape),
    ]
    return TwinLayer([module], parameters)


@register_twin("Embedding")
def embedding_twin(layer: Any) -> TwinLayer:
    """``torch.nn.Embedding`` (``weight`` is ``W``), fed ``long`` indices."""
    torch = _torch()
    # skip_init: no draw from torch's global generator; the weights are copied in afterwards.
    module = torch.nn.utils.skip_init(
        modules().IndexEmbedding, layer.num_embeddings, layer.embedding_dim, dtype=torch.float64
    )
    return TwinLayer([module], [TwinParameter(module.weight, layer.W.shape)])


@register_twin("Activation")
def activation_twin(layer: Any) -> TwinLayer:
    """The module of a named activation; a callable is refused."""
    if layer.name is None:
        raise ValueError(
            f"{layer!r} has no PyTorch twin: its function is a Python callable, which autograd "
            "cannot differentiate. Use a named activation for a model with a twin."
        )
    return TwinLayer([activation_module(layer.name)])
