"""The one result type of every model-gradient method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class GradientResult:
    """Loss, gradient and bookkeeping of one model-gradient evaluation.

    Attributes
    ----------
    loss : float
        Loss at the unperturbed parameters.
    gradient : ndarray or None
        The gradient (or its estimate), laid out like the flat parameters; ``None`` for a
        memory-lean zeroth-order step, whose ``estimate`` is applied in place instead.
    outputs : ndarray or None
        Network outputs at the unperturbed parameters, shape (N, ...); ``None`` for a
        zeroth-order step asked not to evaluate them (its ``loss`` is then the mean of the
        perturbed losses).
    evaluations : int
        Loss evaluations, the unperturbed one included.
    estimate : ZerothOrderEstimate or None
        The directional slopes of a zeroth-order step.
    grad_norm : float or None
        Norm of the gradient estimate, when the step applied its SGD update in place.
    """

    loss: float
    gradient: np.ndarray | None
    outputs: np.ndarray | None
    evaluations: int
    estimate: Any = None
    grad_norm: float | None = None
