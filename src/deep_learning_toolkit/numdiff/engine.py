"""The batched finite-difference engine for stacks of dense layers.

Every value this engine returns is a finite difference of true loss values
``L(theta + o * h * e_q)``; it only computes those losses cheaply, by reusing what a
perturbation of one parameter cannot change:

* the forward pass up to the perturbed layer is computed once per step;
* a perturbation ``delta`` of ``W[i, j]`` (or ``b[j]``, with ``a_i = 1``) changes only column
  ``j`` of the layer's pre-activation, by ``delta * a_i``;
* with an elementwise activation only column ``j`` of the layer's output changes, by an
  N-vector ``u``; the next pre-activation then changes by the rank-1 ``outer(u, W_next[j])``;
* from there on the layers are recomputed, batched over all perturbations of a chunk;
* the loss change is computed from the change of the outputs with exact identities of the
  loss (:mod:`deep_learning_toolkit.nn.losses`), never from a derivative formula.

All offsets of a stencil for a block of parameters go in one batch (a leading axis of size
``offsets x parameters``); blocks are sized from a memory budget.

Notes
-----
A layer's parameters are laid out as an ``(in + 1, out)`` grid: ``W`` in C order followed by
``b``, which is exactly ``W`` stacked on ``b`` as a last row. Appending a column of ones to the
layer's input therefore treats biases and weights alike.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .stencils import Stencil

if TYPE_CHECKING:  # the engine sees layers and losses only through their interface
    from ..nn.layers import Dense
    from ..nn.losses import Context, Loss

#: Default cap on the bytes of the engine's work arrays (all worker threads together).
DEFAULT_MEMORY_BUDGET = 256 * 2**20

#: Bytes of work arrays a chunk aims at. Chunks this size run faster than larger ones (their
#: arrays stay in cache); ``python benchmarks/engine.py --tune`` measures the choice.
CHUNK_BYTES = 16 * 2**20


def default_workers() -> int:
    """Worker threads of the engine: one per CPU core (NumPy releases the GIL in ufuncs)."""
    return max(1, os.cpu_count() or 1)


_EXECUTORS: dict[int, ThreadPoolExecutor] = {}


def _executor(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads, created once and reused by every step."""
    if workers not in _EXECUTORS:
        _EXECUTORS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="dltk-engine")
    return _EXECUTORS[workers]


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


_CONTROLLER = None


@dataclass(frozen=True)
class EngineResult:
    """Loss, gradient and bookkeeping of one engine call.

    Attributes
    ----------
    loss : float
        Loss at the unperturbed parameters.
    gradient : ndarray
        Finite-difference gradient, laid out like the flat parameters.
    outputs : ndarray
        Network outputs at the unperturbed parameters, shape (N, K).
    evaluations : int
        Loss evaluations: ``k * P`` perturbed ones plus the unperturbed one.
    """

    loss: float
    gradient: np.ndarray
    outputs: np.ndarray
    evaluations: int


def supports(layers: Sequence[object]) -> bool:
    """Whether the engine knows every layer (else use the plain per-parameter path)."""
    from ..nn.layers import Dense

    return len(layers) > 0 and all(type(layer) is Dense for layer in layers)


def forward_pass(
    layers: Sequence[Dense], X: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pre-activations ``z`` and activations ``a`` (``a[0] = X``) of every layer.

    Works in any dtype the layers accept (float64 here, complex128 for the complex step).
    """
    pre, act = [], [X]
    for layer in layers:
        z = layer.pre_activation(act[-1])
        pre.append(z)
        act.append(layer.activation(z))
    return pre, act


class _Scratch(threading.local):
    """Work arrays reused from chunk to chunk, one set per thread.

    Fresh large temporaries cost page faults on every chunk; reusing them keeps the engine's
    time in arithmetic.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        size = math.prod(shape)
        buffer = self.buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self.buffers[name] = np.empty(size)
        return buffer[:size].reshape(shape)


class _Step:
    """The state shared by every chunk of one gradient evaluation."""

    def __init__(
        self, layers: Sequence[Dense], X: np.ndarray, targets: np.ndarray, loss: Loss
    ) -> None:
        self.layers = layers
        self.loss = loss
        self.pre, self.act = forward_pass(layers, X)
        self.outputs = self.act[-1]
        self.ctx: Context = loss.context(self.outputs, targets)
        self.value = float(loss.batched(self.outputs, targets))
        ones = np.ones((1, X.shape[0]))
        # Transposed, so that gathering a column is a contiguous row copy.
        self.inputs_T = [np.vstack([a.T, ones]) for a in self.act[:-1]]
        self.pre_T = [np.ascontiguousarray(z.T) for z in self.pre]
        self.act_T = [np.ascontiguousarray(a.T) for a in self.act[1:]]
        self.scratch = _Scratch()

    def loss_change(self, l: int, rows: np.ndarray, cols: np.ndarray, deltas: np.ndarray):
        """Loss changes for perturbations ``deltas[m]`` of parameter ``(rows[m], cols[m])``.

        ``rows`` index the augmented input of layer ``l`` (the last row is the bias).
        """
        layer = self.layers[l]
        M, N = len(rows), self.outputs.shape[0]
        scratch = self.scratch
        # Change of z[:, col]: delta * a_prev[:, row], (M, N).
        shift = np.take(self.inputs_T[l], rows, axis=0, out=scratch("shift", (M, N)), mode="clip")
        shift *= deltas[:, None]
        if not layer.activation.elementwise:
            z = np.repeat(self.pre[l][None], M, axis=0)
            z[np.arange(M), :, cols] += shift
            layer.activation.in_place(z)
            return self._from_full(l + 1, z)
        if layer.activation.name == "linear":
            u = shift
        else:
            u = np.take(self.pre_T[l], cols, axis=0, out=scratch("u", (M, N)), mode="clip")
            u += shift
            layer.activation.in_place(u)
            u -= np.take(self.act_T[l], cols, axis=0, out=shift, mode="clip")
        if l == len(self.layers) - 1:
            return self.loss.column_delta(cols, u, self.ctx)
        following = self.layers[l + 1]
        w_rows = following.W[cols]  # (M, K_next)
        if l + 1 == len(self.layers) - 1 and following.activation.name == "linear":
            return self.loss.rank1_delta(u, w_rows, self.ctx)
        z = scratch("z", (M, N, following.out_features))
        np.multiply(u[:, :, None], w_rows[:, None, :], out=z)
        z += self.pre[l + 1]
        following.activation.in_place(z)
        return self._from_full(l + 2, z)

    def _from_full(self, first: int, a: np.ndarray) -> np.ndarray:
        """Loss changes from full activations ``a`` (M, N, w) of layer ``first - 1``.

        The remaining layers run with one matrix product each, on reused buffers.
        """
        M, N, _ = a.shape
        for index in range(first, len(self.layers)):
            layer = self.layers[index]
            z = self.scratch(f"layer {index}", (M * N, layer.out_features))
            np.matmul(a.reshape(M * N, -1), layer.W, out=z)
            z += layer.b
            layer.activation.in_place(z)
            a = z.reshape(M, N, -1)
        change = np.subtract(a, self.outputs, out=self.scratch("change", a.shape))
        return self.loss.delta(change, self.ctx)


@dataclass(frozen=True)
class Chunk:
    """A block of consecutive parameters of one layer, evaluated in one batch.

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


def plan_chunks(
    layers: Sequence[Dense],
    n_samples: int,
    n_offsets: int,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    chunk_size: int | None = None,
    workers: int = 1,
) -> list[Chunk]:
    """Split every layer's parameters into chunks of about :data:`CHUNK_BYTES` of work arrays.

    A chunk of ``c`` parameters of layer ``l`` holds about four arrays of shape
    ``(n_offsets * c, n_samples, width)``, ``width`` being the widest layer after ``l``;
    ``workers`` chunks at a time must fit ``memory_budget``.
    """
    target = min(CHUNK_BYTES, memory_budget // max(1, workers))
    chunks = []
    offset = 0
    for l, layer in enumerate(layers):
        if chunk_size is None:
            widest = max([1] + [later.out_features for later in layers[l + 1 :]])
            per_parameter = n_offsets * n_samples * widest * 8 * 4
            block = max(1, int(target // per_parameter))
        else:
            block = chunk_size
        size = layer.num_parameters
        for lo in range(0, size, block):
            chunks.append(Chunk(l, offset + lo, offset + min(lo + block, size), offset))
        offset += size
    return chunks


class GradientStep:
    """One gradient evaluation: the unperturbed pass, and the gradient of any chunk.

    Parameters
    ----------
    layers, X, targets, loss
        As for :func:`sequential_gradient`.
    stencil : Stencil
    steps : ndarray
        One step per parameter.
    """

    def __init__(
        self,
        layers: Sequence[Dense],
        X: np.ndarray,
        targets: np.ndarray,
        loss: Loss,
        stencil: Stencil,
        steps: np.ndarray,
    ) -> None:
        self.state = _Step(layers, X, targets, loss)
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

    def chunk_gradient(self, chunk: Chunk) -> np.ndarray:
        """Gradient entries ``[chunk.start, chunk.stop)``."""
        layer = self.state.layers[chunk.layer]
        q = np.arange(chunk.start - chunk.offset, chunk.stop - chunk.offset)
        h = self.steps[chunk.start : chunk.stop]
        n_offsets = len(self.offsets)
        rows = np.tile(q // layer.out_features, n_offsets)
        cols = np.tile(q % layer.out_features, n_offsets)
        deltas = (self.offsets[:, None] * h[None, :]).reshape(-1)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # Overflow shows up as non-finite entries, which the caller reports by parameter.
            changes = self.state.loss_change(chunk.layer, rows, cols, deltas)
            return (self.weights @ changes.reshape(n_offsets, len(q))) / h


def sequential_gradient(
    layers: Sequence[Dense],
    params: np.ndarray,
    X: np.ndarray,
    targets: np.ndarray,
    loss: Loss,
    stencil: Stencil,
    steps: np.ndarray,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    chunk_size: int | None = None,
    workers: int | None = None,
) -> EngineResult:
    """Loss and finite-difference gradient of a stack of dense layers, batched.

    Parameters
    ----------
    layers : sequence of Dense
        The layers, whose parameters are views of ``params``.
    params : ndarray
        The flat parameter vector (read, never modified).
    X : ndarray
        Inputs (N, d).
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

    Returns
    -------
    EngineResult
    """
    workers = default_workers() if workers is None else workers
    step = GradientStep(layers, X, targets, loss, stencil, steps)
    chunks = plan_chunks(layers, len(X), len(step.offsets), memory_budget, chunk_size, workers)
    gradient = np.empty_like(params)
    if workers > 1 and len(chunks) >= 2 * workers:
        with _one_blas_thread():
            parts = list(_executor(workers).map(step.chunk_gradient, chunks))
    else:
        parts = [step.chunk_gradient(chunk) for chunk in chunks]
    for chunk, part in zip(chunks, parts):
        gradient[chunk.start : chunk.stop] = part
    evaluations = len(step.offsets) * params.size + 1
    return EngineResult(step.loss, gradient, step.outputs, evaluations)
