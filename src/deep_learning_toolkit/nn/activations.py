"""Activation functions, as a table of data.

Each activation is a name, a function of a float64 array (applied along any leading batch
axes), whether it acts on each entry alone (``elementwise``; softmax does not), and the
initialisation that suits it (Glorot for saturating functions, He for rectifiers).

Every function also accepts complex arrays, for the complex-step derivative
(:mod:`deep_learning_toolkit.numdiff.complex_step`): linear, sigmoid (written with ``tanh``),
tanh and softmax (shifted by the max of the real part) are analytic; relu and leaky_relu pick
their branch from the real part, which is analytic everywhere except at ``z = 0`` (there the
complex step gives the left derivative, as PyTorch's convention does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validation import check_choice

#: Negative slope of ``leaky_relu`` (PyTorch's default).
LEAKY_RELU_SLOPE = 0.01


def _linear(z: np.ndarray) -> np.ndarray:
    return z


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 0.5 * (1 + tanh(z / 2)) equals 1 / (1 + exp(-z)) and never overflows.
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def _relu(z: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(z):
        # Branch on the real part; multiplying (not np.where) keeps NaN visible.
        return z * (z.real > 0)
    return np.maximum(z, 0.0)


def _leaky_relu(z: np.ndarray) -> np.ndarray:
    return np.where(z.real > 0, z, LEAKY_RELU_SLOPE * z)


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = np.exp(z - z.real.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


# In-place versions for real float64 work arrays (the engine's reused buffers); each gives
# bit for bit the values of the function above.
def _linear_(z: np.ndarray) -> None:
    pass


def _sigmoid_(z: np.ndarray) -> None:
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5


def _tanh_(z: np.ndarray) -> None:
    np.tanh(z, out=z)


def _relu_(z: np.ndarray) -> None:
    np.maximum(z, 0.0, out=z)


def _leaky_relu_(z: np.ndarray) -> None:
    np.multiply(z, np.where(z > 0, 1.0, LEAKY_RELU_SLOPE), out=z)


def _softmax_(z: np.ndarray) -> None:
    z[...] = _softmax(z)


@dataclass(frozen=True)
class Activation:
    """An activation function.

    Attributes
    ----------
    name : str
    function : callable
        ``function(z) -> a``, same shape as ``z``.
    elementwise : bool
        ``True`` when each output entry depends only on the same input entry.
    init : str
        ``"glorot"`` or ``"he"``: the weight initialisation that keeps activations in scale.
    in_place : callable
        ``in_place(z)`` overwrites a real float64 array ``z`` with ``function(z)``.
    """

    name: str
    function: Callable[[np.ndarray], np.ndarray]
    elementwise: bool
    init: str
    in_place: Callable[[np.ndarray], None]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.function(z)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("linear", _linear, True, "glorot", _linear_),
        Activation("sigmoid", _sigmoid, True, "glorot", _sigmoid_),
        Activation("tanh", np.tanh, True, "glorot", _tanh_),
        Activation("relu", _relu, True, "he", _relu_),
        Activation("leaky_relu", _leaky_relu, True, "he", _leaky_relu_),
        Activation("softmax", _softmax, False, "glorot", _softmax_),
    )
}


def get_activation(name: str | None) -> Activation:
    """Return the activation called ``name`` (``None`` means ``"linear"``)."""
    if name is None:
        name = "linear"
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]
