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
    outputs : ndarray
        Network outputs at the unperturbed parameters, shape (N, ...).
    evaluations : int
        Loss evaluations, the unperturbed one included.
    estimate : ZerothOrderEstimate or None
        The directional slopes of a zeroth-order step.
    """

    loss: float
    gradient: np.ndarray | None
    outputs: np.ndarray
    evaluations: int
    estimate: Any = None
