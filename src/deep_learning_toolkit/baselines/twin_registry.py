"""The table of PyTorch twins of layers: layer type -> builder of torch modules.

A builder takes one of our layers and returns a :class:`TwinLayer`: the torch modules that
compute the same function (float64, applied in order) and, for each of the layer's
parameters in flat order, the torch tensor that holds it with the conversions between our
layout and torch's (the identity for layers whose layout already is PyTorch's). A layer
type registers its builder with :func:`register_twin`; the twin of a model is then built
layer by layer (:func:`~deep_learning_toolkit.baselines.torch_twin.build_network`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def same_layout(array: np.ndarray) -> np.ndarray:
    """The conversion for parameters already in PyTorch's layout."""
    return array


@dataclass
class TwinParameter:
    """One of our parameters and the torch tensor holding it.

    ``to_torch(ours) -> torch-shaped array`` and ``from_torch(torch array) -> ours`` convert
    between the layouts; ``shape`` is our shape.
    """

    tensor: Any
    shape: tuple[int, ...]
    to_torch: Callable[[np.ndarray], np.ndarray] = same_layout
    from_torch: Callable[[np.ndarray], np.ndarray] = same_layout


@dataclass
class TwinLayer:
    """The torch modules computing one of our layers, and where its parameters live."""

    modules: list[Any]
    parameters: list[TwinParameter] = field(default_factory=list)


#: Builders by layer type name (``layer.type_name``).
TWIN_BUILDERS: dict[str, Callable[[Any], TwinLayer]] = {}


def register_twin(type_name: str) -> Callable[[Callable[[Any], TwinLayer]], Callable]:
    """Decorator: register the builder of the torch twin of layer type ``type_name``."""

    def register(builder: Callable[[Any], TwinLayer]) -> Callable[[Any], TwinLayer]:
        TWIN_BUILDERS[type_name] = builder
        return builder

    return register
