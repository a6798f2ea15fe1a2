"""Weight initialisers as a table: name -> function of (rng, shape, fan_in, fan_out).

Fans follow the layouts of the toolkit: a 2-D ``(in, out)`` matrix (``Dense``'s ``W``, as in
Keras), and PyTorch's ``(out, in, *kernel)`` for convolution kernels (3-D and more), where
each fan is multiplied by the kernel's size. A 1-D parameter has ``fan_in = fan_out = size``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .._validation import check_choice

Initializer = Callable[[np.random.Generator, tuple[int, ...], int, int], np.ndarray]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a parameter of ``shape`` (see the module notes)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _glorot_uniform(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def _glorot_normal(rng, shape, fan_in, fan_out):
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def _he_normal(rng, shape, fan_in, fan_out):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def _he_uniform(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


def _lecun_normal(rng, shape, fan_in, fan_out):
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=shape)


def _normal(rng, shape, fan_in, fan_out):
    return rng.normal(0.0, 1.0, size=shape)


def _zeros(rng, shape, fan_in, fan_out):
    return np.zeros(shape)


def _ones(rng, shape, fan_in, fan_out):
    return np.ones(shape)


#: Initialisers by name. ``zeros`` and ``ones`` draw nothing from the generator.
INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": _glorot_normal,
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "lecun_normal": _lecun_normal,
    "normal": _normal,
    "zeros": _zeros,
    "ones": _ones,
}


def get_initializer(name: str | Initializer) -> Initializer:
    """The initialiser called ``name``, or ``name`` itself if it is a callable."""
    if callable(name):
        return name
    return INITIALIZERS[check_choice("initializer", name, INITIALIZERS)]
