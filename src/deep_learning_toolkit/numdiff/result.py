"""The one result type of every numerical derivative: the estimate and how it was obtained."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DerivativeResult:
    """A derivative, gradient, Jacobian or Hessian with its bookkeeping (``full_output=True``).

    Attributes
    ----------
    estimate : ndarray
        The estimate: shape ``(1,)`` for :func:`~deep_learning_toolkit.numdiff.derivative` and
        :func:`~deep_learning_toolkit.numdiff.directional_derivative`, ``x.shape`` for
        :func:`~deep_learning_toolkit.numdiff.gradient`, ``(m, n)`` for
        :func:`~deep_learning_toolkit.numdiff.jacobian`, ``(n, n)`` for
        :func:`~deep_learning_toolkit.numdiff.hessian`, ``(n,)`` for
        :func:`~deep_learning_toolkit.numdiff.hessian_diag`.
    value : float, ndarray or None
        ``f(x)`` when the formula evaluated it, else ``None``.
    evaluations : int
        Number of calls of ``f`` (of the batched ``f`` with ``vectorized=True``).
    steps : ndarray
        Shaped like ``estimate``: the step along the axis of ``x`` that each element
        differentiates (for ``H[i, j]``, the step along ``x_i``; the smallest step of a
        Richardson stencil). With ``step="adaptive"`` elements may use different steps.
    method : str
        Name of the formula (``"<name>+richardson<n>"`` when extrapolated, ``"<name>(n=2)"``
        for a second derivative, ...).
    error : ndarray or None
        Estimated absolute error per element, shaped like ``estimate``, when asked for
        (``full_output=True``) or when it came for free (``step="adaptive"``).
    """

    estimate: np.ndarray
    value: float | np.ndarray | None
    evaluations: int
    steps: np.ndarray
    method: str
    error: np.ndarray | None = None

    @property
    def gradient(self) -> np.ndarray:
        """The estimate (the name :func:`~deep_learning_toolkit.numdiff.gradient` gives it)."""
        return self.estimate


#: The name results had when only gradients were computed; the same class.
GradientResult = DerivativeResult
