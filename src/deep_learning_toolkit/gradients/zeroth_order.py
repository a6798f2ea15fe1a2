"""Zeroth-order (SPSA, Gaussian) gradient estimates of a network, MeZO-style.

The network's parameters are perturbed in place along seed-replayed random directions
(:mod:`deep_learning_toolkit.numdiff.zeroth_order`), each perturbed loss costing one forward
pass, and restored bit for bit; no parameter-sized buffer is needed unless the full
estimate is asked for. With ``update=`` the SGD update is applied in the pass that restores
the parameters (``fit``'s memory-lean path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..nn.network import Network
from ..numdiff.zeroth_order import (
    ZerothOrder,
    ZerothOrderEstimate,
    check_seed,
    estimate_gradient,
    flat_parameters,
    get_zeroth_order,
    perturbation_grid,
    run_passes,
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
    outputs: bool = True,
    update: Callable[[ZerothOrderEstimate], float | None] | None = None,
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
        ``result.estimate`` (or passes ``update``).
    training : bool, default True
        Run the layers in training mode.
    outputs : bool, default True
        Evaluate the network once at the unperturbed parameters, for ``result.outputs`` and
        ``result.loss``. A two-sided step does not need that pass: with ``False``,
        ``result.outputs`` is ``None`` and ``result.loss`` is the mean of the ``2n``
        perturbed losses (``estimate.perturbed_mean``, within ``O(h**2)`` of the loss).
    update : callable, optional
        ``update(estimate) -> lr or None``: apply ``params -= lr * ghat`` fused with the pass
        that restores the parameters (see ``numdiff.zeroth_order.run_passes``);
        ``result.grad_norm`` is then ``|ghat|``.

    Returns
    -------
    GradientResult
        A non-finite loss is returned as it is (with non-finite slopes and gradient), as the
        batched engine does, so that ``fit`` raises or skips the batch by its own rule.
    """
    spec = get_zeroth_order(spec)
    seed = check_seed(seed)
    flat = flat_parameters(network.params)

    def loss_of(_: np.ndarray) -> float:
        return float(loss.batched(network.forward(X, training), targets))

    quantum, value, out = None, None, None
    if outputs or not spec.two_sided:
        quantum = perturbation_grid(flat, spec)
        snap_to_grid(flat, quantum)
        out = network.forward(X, training)
        value = float(loss.batched(out, targets))
    estimate, norm = run_passes(
        loss_of,
        network.params,
        spec,
        seed,
        quantum=quantum,
        value=value,
        finite=False,
        update=update,
    )
    full = estimate_gradient(estimate) if gradient else None
    loss_value = estimate.perturbed_mean if value is None else value
    evaluations = estimate.evaluations + (0 if value is None else 1)
    return GradientResult(loss_value, full, out, evaluations, estimate, norm)
