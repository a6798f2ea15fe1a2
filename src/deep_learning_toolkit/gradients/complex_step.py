"""The complex-step gradient of a network: ``Im L(theta + i h e_q) / h``, batched.

Each parameter is moved by ``i h_q`` and the perturbation is followed through the network
by the engine's machinery (:class:`~deep_learning_toolkit.gradients.engine.ForwardCache`)
in complex arithmetic: a ``Dense`` layer changes one column, the next a rank-1 term, later
layers run on a stack of perturbations. There is no subtraction, so the step can be
``1e-20`` and the result is as accurate as the loss itself. Layers and losses must be
complex-safe (see :mod:`deep_learning_toolkit.numdiff.complex_step`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.network import Network
from ..numdiff.stencils import COMPLEX_STEP
from ..numdiff.steps import resolve_steps
from .engine import DEFAULT_MEMORY_BUDGET, ForwardCache, plan_chunks, run_chunks
from .result import GradientResult


def check_loss(loss: Any, n_outputs: int) -> None:
    """Raise ``ValueError`` if ``loss`` cannot be differentiated by the complex step.

    Probes ``loss.batched`` with complex outputs: a loss that refuses them (``mae``) or drops
    their imaginary part (``abs``, comparisons) is reported here rather than giving a silent
    zero gradient.
    """
    labels = np.zeros(1) if loss.task == "classification" else np.zeros((1, n_outputs))
    targets = loss.prepare_targets(labels, n_outputs)
    columns = np.arange(n_outputs, dtype=np.float64)
    probe = (0.25 * columns + 1e-20j * (1.0 + columns))[None, :]
    value = np.asarray(loss.batched(probe, targets))  # mae raises its own ValueError here
    if not np.iscomplexobj(value) or value.imag == 0:
        raise ValueError(
            f"loss {loss.name!r} drops the imaginary part of complex outputs, so the complex "
            "step cannot differentiate it; use a finite-difference method."
        )


def complex_step_gradient(
    network: Network,
    X: np.ndarray,
    targets: np.ndarray,
    loss: Any,
    steps: np.ndarray | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    training: bool = True,
) -> GradientResult:
    """Loss and complex-step gradient of ``network`` (parameters read, never modified).

    Parameters
    ----------
    network : Network
    X, targets : ndarray
        Inputs and targets (as ``loss.prepare_targets`` returns them).
    loss : Loss
        Must be complex-safe (not ``mae``).
    steps : ndarray, optional
        One step per parameter; default ``1e-20 * max(1, |theta|)`` rounded to a power of two.
    memory_budget : int
        Bytes allowed for the complex arrays of one chunk.

    Returns
    -------
    GradientResult
        ``evaluations``: ``P`` complex loss evaluations plus the real one.
    """
    check_loss(loss, network.n_outputs)
    steps = resolve_steps(network.params, COMPLEX_STEP, steps)
    state = ForwardCache(network, X, targets, loss, training)
    sizes = [layer.num_parameters for layer in network.layers]
    chunks = plan_chunks(sizes, state.widths(), len(X), 1, memory_budget, itemsize=16)

    def chunk_gradient(chunk: Any) -> np.ndarray:
        index = np.arange(chunk.start - chunk.offset, chunk.stop - chunk.offset)
        h = steps[chunk.start : chunk.stop]
        return np.imag(state.perturbed_losses(chunk.layer, index, 1j * h)) / h

    gradient = run_chunks(chunk_gradient, chunks, network.params.size, workers=1)
    return GradientResult(state.value, gradient, state.outputs, network.params.size + 1)
