"""The plain per-parameter loop: one whole forward pass per perturbed loss.

This is the textbook definition, kept as the reference the batched engine is tested
against and as the baseline of ``benchmarks/engine.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.network import Network
from ..numdiff.gradient import gradient_details
from .result import GradientResult


def reference_gradient(
    network: Network,
    X: np.ndarray,
    targets: np.ndarray,
    loss: Any,
    stencil: Any,
    steps: np.ndarray | None,
    training: bool = True,
) -> GradientResult:
    """Loss and gradient by :func:`~deep_learning_toolkit.numdiff.gradient` on the flat vector.

    The layers are pointed at each perturbed vector for the call (no copy of the
    parameters), so each evaluation costs one forward pass.
    """
    outputs = network.forward(X, training)
    value = float(loss.batched(outputs, targets))

    def loss_of(theta: np.ndarray) -> float:
        network._bind(theta)
        try:
            return float(loss.batched(network.forward(X, training), targets))
        finally:
            network._bind(network.params)

    result = gradient_details(loss_of, network.params, stencil, steps)
    evaluations = result.evaluations + (0 if stencil.uses_center else 1)
    return GradientResult(value, result.gradient, outputs, evaluations)
