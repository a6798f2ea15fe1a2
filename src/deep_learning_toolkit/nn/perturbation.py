"""How a perturbation travels through a network: structured changes of a layer's output.

The gradient engine perturbs one parameter per entry of a stack of ``M`` perturbations and
follows the change of each layer's output. A layer with an *engine hook* says how:

``layer.perturbation_cache(x, out) -> cache``
    Once per gradient step, from the layer's unperturbed input ``x`` and output ``out``.
``layer.perturb(cache, index, deltas, scratch) -> Change``
    The change of its output when its flat parameter ``index[m]`` moves by ``deltas[m]``.
``layer.propagate(cache, change, scratch) -> Change | None``
    The change of its output when its input changes by ``change`` (``None``: not handled,
    the engine materialises the input and calls ``forward_stack``).

A change is one of the classes below; :func:`materialize` turns any of them into the full
stack of perturbed values. ``scratch(name, shape, dtype)`` hands out work arrays reused from
chunk to chunk (names must be unique per layer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Scratch = Callable[..., np.ndarray]


@dataclass(frozen=True)
class ColumnChange:
    """Output ``(N, K)`` whose column ``columns[m]`` changes by ``u[m]`` (M, N)."""

    columns: np.ndarray
    u: np.ndarray


@dataclass(frozen=True)
class Rank1Change:
    """Output ``(N, K)`` that changes by ``outer(u[m], v[m])``; ``u`` (M, N), ``v`` (M, K)."""

    u: np.ndarray
    v: np.ndarray


@dataclass(frozen=True)
class FullChange:
    """The perturbed outputs themselves, ``values`` of shape ``(M, N, ...)``."""

    values: np.ndarray


@dataclass(frozen=True)
class ChannelChange(FullChange):
    """Perturbed outputs ``values`` ``(M, N, C, *spatial)`` that differ from the unperturbed
    ones only in channel ``channels[m]``, by ``u[m]`` ``(M, N, *spatial)``: what a perturbed
    convolution kernel or bias does. A :class:`FullChange` to every layer that does not know
    the structure; a convolution after it convolves ``u`` alone."""

    channels: np.ndarray
    u: np.ndarray


@dataclass(frozen=True)
class BlockChange(FullChange):
    """Perturbed outputs ``values`` ``(M, N, K)`` that differ from the unperturbed ones only in
    the columns ``starts[m] : starts[m] + S``, by ``u[m]`` ``(M, N, S)``: a channel change
    after ``Flatten``. A :class:`FullChange` to every layer that does not know the structure;
    a ``Dense`` after it multiplies ``u`` by the ``S`` rows of its weights alone."""

    starts: np.ndarray
    u: np.ndarray


Change = ColumnChange | Rank1Change | FullChange


def materialize(change: Change, base: np.ndarray) -> np.ndarray:
    """The perturbed values ``(M, N, ...)`` described by ``change`` of the outputs ``base``."""
    if isinstance(change, FullChange):
        return change.values
    M = len(change.u)
    dtype = np.result_type(base, change.u)
    if isinstance(change, ColumnChange):
        values = np.repeat(base[None].astype(dtype, copy=False), M, axis=0)
        values[np.arange(M), :, change.columns] += change.u
        return values
    values = change.u[:, :, None] * change.v[:, None, :]
    values += base
    return values


def as_difference(change: Change, base: np.ndarray) -> np.ndarray:
    """The change ``perturbed - base`` as a full ``(M, N, ...)`` array."""
    if isinstance(change, FullChange):
        return change.values - base
    M = len(change.u)
    if isinstance(change, ColumnChange):
        difference = np.zeros((M, *base.shape), dtype=np.result_type(base, change.u))
        difference[np.arange(M), :, change.columns] = change.u
        return difference
    return change.u[:, :, None] * change.v[:, None, :]
