"""The batched finite-difference engine for networks of any layers.

Every value this engine returns is a finite difference of true loss values
``L(theta + o * h * e_q)``; it only computes those losses cheaply, by reusing what a
perturbation of one parameter cannot change:

* the forward pass up to the perturbed layer is computed once per step;
* the perturbed layer's output change comes from its engine hook when it has one (a
  :class:`~deep_learning_toolkit.nn.dense.Dense` changes one output column), else from its
  ``forward`` with the parameter moved (one layer, on the cached input);
* each later layer turns the change of its input into the change of its output, with its
  hook (a column change of a ``Dense`` input is a rank-1 change), else by ``forward_stack``
  on the whole stack of perturbed inputs at once (the generic batched path);
* the loss change comes from the change of the outputs with exact identities of the loss
  (:mod:`deep_learning_toolkit.nn.losses`), never from a derivative formula.

All offsets of a stencil for a block of parameters go in one stack (a leading axis of size
``offsets x parameters``); blocks are sized from a memory budget and evaluated by one
thread per core.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn.layer import layer_hooks
from ..nn.network import Network
from ..nn.perturbation import Change, ColumnChange, FullChange, Rank1Change, materialize
from .result import GradientResult

#: Default cap on the bytes of the engine's work arrays (all worker threads together).
DEFAULT_MEMORY_BUDGET = 256 * 2**20

#: Bytes of work arrays a chunk aims at. Chunks this size run faster than larger ones (their
#: arrays stay in cache); ``python benchmarks/engine.py --tune`` measures the choice.
CHUNK_BYTES = 16 * 2**20


@functools.cache
def default_workers() -> int:
    """Worker threads of the engine: one per CPU core (NumPy releases the GIL in ufuncs)."""
    return max(1, os.cpu_count() or 1)


_EXECUTORS: dict[int, ThreadPoolExecutor] = {}


def _executor(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads, created once and reused by every step."""
    if workers not in _EXECUTORS:
        _EXECUTORS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="dltk-engine")
    return _EXECUTORS[workers]


_CONTROLLER: Any = None


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run BLAS single-threaded while the engine's own threads share the cores.

    Uses threadpoolctl when it is installed (scikit-learn brings it); without it BLAS keeps
    its threads and the cores are oversubscribed, which is slower but gives the same values.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        yield
        return
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield


class _Scratch(threading.local):
    """Work arrays reused from chunk to chunk, one set per thread (no page faults per chunk)."""

    def __init__(self) -> None:
        self.buffers: dict[tuple[str, str], np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
        size = math.prod(shape)
        key = (name, np.dtype(dtype).str)
        buffer = self.buffers.get(key)
        if buffer is None or buffer.size < size:
            buffer = self.buffers[key] = np.empty(size, dtype=dtype)
        return buffer[:size].reshape(shape)


@dataclass(frozen=True)
class Chunk:
    """A block of consecutive parameters of one layer, evaluated in one stack.

    Attributes
    ----------
    layer : int
        Index of the layer.
    start, stop : int
        Flat parameter indices ``[start, stop)`` (within the model's parameter vector).
    offset : int
        Flat index of the layer's first parameter.
    """

    layer: int
    start: int
    stop: int
    offset: int


class ForwardCache:
    """One step's unperturbed pass and the machinery to follow perturbations through it.

    Parameters
    ----------
    network : Network
    X, targets : ndarray
        Inputs and targets (as ``loss.prepare_targets`` returns them).
    loss : Loss
    training : bool
        Run the layers in training mode (batch statistics, dropout) as ``fit`` does.
    """

    def __init__(
        self, network: Network, X: np.ndarray, targets: np.ndarray, loss: Any, training: bool = True
    ) -> None:
        self.layers = network.layers
        self.params = network.params
        self.slices = network.layer_slices()
        self.loss = loss
        self.targets = targets
        self.training = training
        self.acts = network.activations(X, training)
        self.outputs = self.acts[-1]
        self.value = float(loss.batched(self.outputs, targets))
        self.ctx = loss.context(self.outputs, targets)
        self.hooks = [layer_hooks(layer) for layer in self.layers]
        self.caches = [
            layer.perturbation_cache(self.acts[k], self.acts[k + 1])
            if self.hooks[k] is not None
            else None
            for k, layer in enumerate(self.layers)
        ]
        self.scratch = _Scratch()

    def widths(self) -> list[int]:
        """Per layer, the widest per-sample array a perturbation of it materialises: the
        outputs of the layers after it, and its own unless its hook changes less (a
        ``Dense`` with an elementwise activation changes one column)."""
        sizes = [int(a[0].size) for a in self.acts[1:]]
        widest = []
        for l, layer in enumerate(self.layers):
            own = getattr(layer, "perturbed_width", None)
            first = own() if callable(own) and self.caches[l] is not None else sizes[l]
            widest.append(max([first, *sizes[l + 1 :]]))
        return widest

    def output_change(self, l: int, index: np.ndarray, deltas: np.ndarray) -> Change:
        """Change of the network's outputs when parameter ``index[m]`` of layer ``l`` moves by
        ``deltas[m]`` (real for differences, imaginary for the complex step)."""
        cache, hooks = self.caches[l], self.hooks[l]
        change: Change
        if cache is not None and hooks is not None:
            perturb, _ = hooks
            change = perturb(cache, index, deltas, self.scratch)
        else:
            change = FullChange(self._perturbed_layer(l, index, deltas))
        for k in range(l + 1, len(self.layers)):
            change = self._propagate(k, change)
        return change

    def _propagate(self, k: int, change: Change) -> Change:
        layer, cache, hooks = self.layers[k], self.caches[k], self.hooks[k]
        if cache is not None and hooks is not None:
            _, propagate = hooks
            result: Change | None = propagate(cache, change, self.scratch)
            if result is not None:
                return result
        return FullChange(layer.forward_stack(materialize(change, self.acts[k]), self.training))

    def _perturbed_layer(self, l: int, index: np.ndarray, deltas: np.ndarray) -> np.ndarray:
        """Outputs of layer ``l`` with its parameter ``index[m]`` moved by ``deltas[m]``.

        The generic path: a private copy of the layer, bound to a private copy of its
        parameters (the model's are never written, so threads can share the model).
        """
        dtype = np.result_type(self.params, deltas)
        local = self.params[self.slices[l]].astype(dtype)
        layer = copy.copy(self.layers[l])
        layer.bind(local)
        x = self.acts[l]
        out = np.empty((len(index),) + self.acts[l + 1].shape, dtype=dtype)
        for m, (i, delta) in enumerate(zip(index, deltas)):
            original = local[i]
            local[i] = original + delta
            out[m] = layer.forward(x, self.training)
            local[i] = original
        return out

    def loss_change(self, l: int, index: np.ndarray, deltas: np.ndarray) -> np.ndarray:
        """``L(theta + deltas[m] e_index[m]) - L(theta)`` for real ``deltas``."""
        change = self.output_change(l, index, deltas)
        if isinstance(change, ColumnChange):
            return self.loss.column_delta(change.columns, change.u, self.ctx)
        if isinstance(change, Rank1Change):
            return self.loss.rank1_delta(change.u, change.v, self.ctx)
        values = change.values
        difference = np.subtract(values, self.outputs, out=self.scratch("change", values.shape))
        return self.loss.delta(difference, self.ctx)

    def perturbed_losses(self, l: int, index: np.ndarray, deltas: np.ndarray) -> np.ndarray:
        """``L(theta + deltas[m] e_index[m])`` itself (for complex ``deltas``)."""
        values = materialize(self.output_change(l, index, deltas), self.outputs)
        return np.asarray(self.loss.batched(values, self.targets))


def plan_chunks(
    layer_sizes: list[int],
    widths: list[int],
    n_samples: int,
    n_offsets: int,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    chunk_size: int | None = None,
    workers: int = 1,
    itemsize: int = 8,
) -> list[Chunk]:
    """Split every layer's parameters into chunks of about :data:`CHUNK_BYTES` of work arrays.

    A chunk of ``c`` parameters of layer ``l`` holds about four arrays of shape
    ``(n_offsets * c, n_samples, widths[l])``, ``widths[l]`` being the widest per-sample array
    a perturbation of layer ``l`` materialises (:meth:`ForwardCache.widths`); ``workers``
    chunks at a time must fit ``memory_budget``.
    """
    target = min(CHUNK_BYTES, memory_budget // max(1, workers))
    chunks = []
    offset = 0
    for l, size in enumerate(layer_sizes):
        if chunk_size is None:
            widest = max(1, widths[l])
            per_parameter = n_offsets * n_samples * widest * itemsize * 4
            block = max(1, int(target // per_parameter))
        else:
            block = chunk_size
        for lo in range(0, size, block):
            chunks.append(Chunk(l, offset + lo, offset + min(lo + block, size), offset))
        offset += size
    return chunks


class GradientStep:
    """One gradient evaluation: the unperturbed pass, and the gradient of any chunk."""

    def __init__(
        self,
        network: Network,
        X: np.ndarray,
        targets: np.ndarray,
        loss: Any,
        stencil: Any,
        steps: np.ndarray,
        training: bool = True,
    ) -> None:
        self.state = ForwardCache(network, X, targets, loss, training)
        self.offsets = stencil.offsets_array()
        self.weights = stencil.weights_array()
        self.steps = steps

    @property
    def loss(self) -> float:
        """Loss at the unperturbed parameters."""
        return self.state.value

    @property
    def outputs(self) -> np.ndarray:
        """Network outputs at the unperturbed parameters."""
        return self.state.outputs

    def chunks(self, memory_budget: int, chunk_size: int | None, workers: int) -> list[Chunk]:
        sizes = [layer.num_parameters for layer in self.state.layers]
        return plan_chunks(
            sizes,
            self.state.widths(),
            len(self.outputs),
            len(self.offsets),
            memory_budget,
            chunk_size,
            workers,
        )

    def chunk_gradient(self, chunk: Chunk) -> np.ndarray:
        """Gradient entries ``[chunk.start, chunk.stop)``."""
        q = np.arange(chunk.start - chunk.offset, chunk.stop - chunk.offset)
        h = self.steps[chunk.start : chunk.stop]
        n_offsets = len(self.offsets)
        index = np.tile(q, n_offsets)
        deltas = (self.offsets[:, None] * h[None, :]).reshape(-1)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # Overflow shows up as non-finite entries, which the caller reports by parameter.
            changes = self.state.loss_change(chunk.layer, index, deltas)
            return (self.weights @ changes.reshape(n_offsets, len(q))) / h


def run_chunks(work: Any, chunks: list[Chunk], size: int, workers: int) -> np.ndarray:
    """Evaluate ``work(chunk)`` for every chunk (threads when there are enough) into one vector."""
    gradient = np.empty(size)
    if workers > 1 and len(chunks) >= 2 * workers:
        with _one_blas_thread():
            parts = list(_executor(workers).map(work, chunks))
    else:
        parts = [work(chunk) for chunk in chunks]
    for chunk, part in zip(chunks, parts):
        gradient[chunk.start : chunk.stop] = part
    return gradient


def batched_gradient(
    network: Network,
    X: np.ndarray,
    targets: np.ndarray,
    loss: Any,
    stencil: Any,
    steps: np.ndarray,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    chunk_size: int | None = None,
    workers: int | None = None,
    training: bool = True,
) -> GradientResult:
    """Loss and finite-difference gradient of ``network``, batched over perturbations.

    Parameters
    ----------
    network : Network
        Layers and their flat parameters (read, never modified).
    X : ndarray
        Inputs (N, ...).
    targets : ndarray
        Targets as returned by ``loss.prepare_targets``.
    loss : Loss
    stencil : Stencil
    steps : ndarray
        One step per parameter.
    memory_budget : int
        Bytes allowed for the work arrays of the chunks in flight (all threads together).
    chunk_size : int, optional
        Parameters per chunk; overrides the budget (for tests and tuning).
    workers : int, optional
        Threads evaluating chunks side by side; default one per CPU core. Threads are used
        only when there are at least two chunks per thread; BLAS then runs single-threaded.
        Every chunk's values are the same whatever the number of threads.
    training : bool
        Layers in training mode (as ``fit``), else inference mode.

    Returns
    -------
    GradientResult
    """
    workers = default_workers() if workers is None else workers
    step = GradientStep(network, X, targets, loss, stencil, steps, training)
    chunks = step.chunks(memory_budget, chunk_size, workers)
    gradient = run_chunks(step.chunk_gradient, chunks, network.params.size, workers)
    evaluations = len(step.offsets) * network.params.size + 1
    return GradientResult(step.loss, gradient, step.outputs, evaluations)
