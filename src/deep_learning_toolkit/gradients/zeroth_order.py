"""Zeroth-order (SPSA, Gaussian) gradient estimates of a network, MeZO-style.

The network's parameters are perturbed in place along seed-replayed random directions
(:mod:`deep_learning_toolkit.numdiff.zeroth_order`), each perturbed loss costing one forward
pass, and restored bit for bit; no parameter-sized buffer is needed unless the full
estimate is asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.network import Network
from ..numdiff.zeroth_order import (
    ZerothOrder,
    check_seed,
    estimate_gradient,
    flat_parameters,
    get_zeroth_order,
    perturbation_grid,
    slopes_at,
    snap_to_grid,
)
from .result import GradientResult


def network_zeroth_order(
    network: Network,
    X: np.ndarray,
    targets: np.ndarray,
    loss: Any,
    spec: ZerothOrder | str,
    seed: int,
    *,
    gradient: bool = True,
    training: bool = True,
) -> GradientResult:
    """Zeroth-order step of ``network``, whose parameters are perturbed in place and restored.

    Parameters
    ----------
    network : Network
    X, targets : ndarray
        Inputs and targets (as ``loss.prepare_targets`` returns them).
    loss : Loss
    spec : ZerothOrder or str
    seed : int
        Seed of this step's directions, e.g. ``step_seed(model_seed, epoch, batch)``.
    gradient : bool, default True
        Return the estimate as a full vector (for Adam, RMSprop, momentum); with ``False`` no
        parameter-sized array is allocated and the caller applies ``sgd_update`` with
        ``result.estimate``.

    Returns
    -------
    GradientResult
        A non-finite loss is returned as it is (with non-finite slopes and gradient), as the
        batched engine does, so that ``fit`` raises or skips the batch by its own rule.
    """
    spec = get_zeroth_order(spec)
    seed = check_seed(seed)
    flat = flat_parameters(network.params)
    quantum = perturbation_grid(flat, spec)
    snap_to_grid(flat, quantum)

    def loss_of(_: np.ndarray) -> float:
        return float(loss.batched(network.forward(X, training), targets))

    outputs = network.forward(X, training)
    value = float(loss.batched(outputs, targets))
    estimate = slopes_at(loss_of, network.params, flat, spec, seed, quantum, value, finite=False)
    full = estimate_gradient(estimate) if gradient else None
    return GradientResult(value, full, outputs, estimate.evaluations + 1, estimate)
