"""``Dropout``: inverted dropout whose masks are the same for every evaluation of one step.

In training mode each input entry is kept with probability ``1 - rate`` and scaled by
``1 / (1 - rate)`` (so the expected output is the input, as in ``torch.nn.Dropout``); in
inference mode the layer is the identity.

Finite differences need the *same* mask for every perturbed evaluation of one gradient
step, or the difference would measure the noise, not the parameter. The mask is therefore
drawn from :meth:`~deep_learning_toolkit.nn.Layer.step_rng`, a generator seeded with the
layer's step key: ``(seed, epoch, batch, layer index)`` inside ``fit`` (so a resumed run
replays the masks of the uninterrupted one), ``(seed, layer index)`` in
``loss_and_gradient`` (the same call twice gives the same result). One mask covers one
batch ``(N, ...)`` and :meth:`Dropout.forward_stack` applies it to every entry of a stack
of perturbed batches ``(M, N, ...)``.

The mask of a batch of shape ``s`` is ``step_rng().random(s) >= rate``; the PyTorch twin
(:mod:`deep_learning_toolkit.baselines.twin_layers`) asks a ``Dropout`` for it
(:meth:`Dropout.noise`) with the same step key.
"""

from __future__ import annotations

import numpy as np

from ._checks import real_in
from .layer import Layer, register_layer


class Dropout(Layer):
    """Zero each entry with probability ``rate`` in training mode (see the module notes).

    Parameters
    ----------
    rate : float
        Probability of dropping an entry, in ``[0, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> import deep_learning_toolkit as dlt
    >>> layer = dlt.Dropout(0.5)
    >>> out = layer.forward(np.ones((2, 3)), training=True)
    >>> sorted(set(out.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    >>> layer.forward(np.ones((2, 3))).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = real_in("Dropout", "rate", rate, nonnegative=True, below=1.0)

    def input_shape(self) -> None:
        return None

    def output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def noise(self, shape: tuple[int, ...]) -> np.ndarray:
        """This step's multiplier for a batch of ``shape``: ``1 / (1 - rate)`` where kept,
        else 0, drawn from :meth:`step_rng` (the same draws all through one step)."""
        keep = self.step_rng().random(shape) >= self.rate
        return keep / (1.0 - self.rate)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``x`` times this step's mask over ``1 - rate`` (training), else ``x``."""
        if not training or self.rate == 0.0:
            return x
        return x * self.noise(x.shape)

    def forward_stack(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Each batch of the stack ``(M, N, ...)`` times the same mask ``(N, ...)``."""
        if not training or self.rate == 0.0:
            return x
        return x * self.noise(x.shape[1:])

    def config(self) -> dict[str, object]:
        return {"type": "Dropout", "rate": self.rate}


register_layer(Dropout)
