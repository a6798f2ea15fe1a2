"""``Flatten``: each sample's entries in one row, in C order (channels-first inputs flatten
as in ``torch.nn.Flatten``: ``(N, C, H, W)`` to ``(N, C * H * W)``)."""

from __future__ import annotations

import math

import numpy as np

from .layer import Layer, register_layer
from .perturbation import BlockChange, Change, ChannelChange, Scratch


class Flatten(Layer):
    """``(N, d1, d2, ...)`` to ``(N, d1 * d2 * ...)``; ``(N, d)`` stays as it is.

    Examples
    --------
    >>> import numpy as np
    >>> import deep_learning_toolkit as dlt
    >>> dlt.Flatten().forward(np.zeros((5, 2, 3, 4))).shape
    (5, 24)
    """

    def __init__(self) -> None:
        super().__init__()

    def input_shape(self) -> None:
        return None

    def output_shape(self, input_shape: tuple) -> tuple:
        if any(size is None for size in input_shape):
            return (None,)
        return (math.prod(input_shape),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The batch with each sample flattened."""
        return x.reshape(len(x), -1)

    def forward_stack(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """A stack ``(M, N, ...)`` to ``(M, N, prod(...))`` (a view when possible)."""
        return x.reshape(x.shape[0], x.shape[1], -1)

    # ------------------------------------------------------------------ engine hook
    def perturbation_cache(self, x: np.ndarray, out: np.ndarray) -> bool:
        return True  # nothing to keep: flattening is a view

    def perturb(self, cache: object, index: np.ndarray, deltas: np.ndarray, scratch: Scratch):
        raise AssertionError("Flatten has no parameters to perturb.")

    def propagate(self, cache: object, change: Change, scratch: Scratch) -> Change | None:
        """A channel change becomes a block of changed columns; anything else is generic."""
        if not isinstance(change, ChannelChange):
            return None
        M, N = change.u.shape[:2]
        size = math.prod(change.u.shape[2:])
        return BlockChange(
            change.values.reshape(M, N, -1), change.channels * size, change.u.reshape(M, N, size)
        )


register_layer(Flatten)
