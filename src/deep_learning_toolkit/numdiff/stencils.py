"""The finite-difference formulas, as data.

A first-derivative formula is a *stencil*: offsets ``o_k`` (in units of the step ``h``) and
weights ``w_k`` such that

.. math::  f'(x) \\approx \\frac{1}{h} \\sum_k w_k \\, f(x + o_k h),

with a truncation error of order ``h**order``. Every method of the toolkit is one row of the
table below; a single evaluator (:func:`deep_learning_toolkit.numdiff.gradient.gradient` and the
batched engine) handles them all.

The default step of each formula balances its truncation error (``~h**order``) against the
rounding error of the differences (``~eps/h``): ``h ~ eps**(1 / (order + 1))`` relative to
``max(1, |x|)``. References: Fornberg, "Generation of finite difference formulas on arbitrarily
spaced grids", Math. Comp. 51 (1988); Burden & Faires, *Numerical Analysis*, sec. 4.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_choice


@dataclass(frozen=True)
class Stencil:
    """A first-derivative finite-difference formula.

    Parameters
    ----------
    name : str
        Method name, e.g. ``"three_point_midpoint"``.
    offsets : tuple of float
        Evaluation points in units of the step ``h``.
    weights : tuple of float
        Weights of ``f(x + o_k h)``; the derivative is ``sum(w_k f(x + o_k h)) / h``.
    order : int
        Order of accuracy: the truncation error shrinks like ``h**order``.
    default_step : float
        Near-optimal relative step in float64, scaled by ``max(1, |x|)``.
    """

    name: str
    offsets: tuple[float, ...]
    weights: tuple[float, ...]
    order: int
    default_step: float

    @property
    def uses_center(self) -> bool:
        """Whether the formula needs ``f(x)`` itself (offset 0 with a non-zero weight)."""
        return any(o == 0 and w != 0 for o, w in zip(self.offsets, self.weights))

    @property
    def perturbed(self) -> tuple[tuple[float, float], ...]:
        """``(offset, weight)`` pairs that need a perturbed evaluation (offset != 0)."""
        return tuple((o, w) for o, w in zip(self.offsets, self.weights) if o != 0)

    @property
    def center_weight(self) -> float:
        """Weight of ``f(x)`` (0 for midpoint formulas)."""
        return float(sum(w for o, w in zip(self.offsets, self.weights) if o == 0))

    @property
    def evaluations_per_parameter(self) -> int:
        """Perturbed function evaluations per parameter (``f(x)`` is shared by all)."""
        return len(self.perturbed)

    def offsets_array(self) -> np.ndarray:
        """Offsets of the perturbed points as a float64 array."""
        return np.array([o for o, _ in self.perturbed], dtype=np.float64)

    def weights_array(self) -> np.ndarray:
        """Weights of the perturbed points as a float64 array."""
        return np.array([w for _, w in self.perturbed], dtype=np.float64)


_EPS = float(np.finfo(np.float64).eps)

#: The six classic formulas: name -> (offsets, weights, order).
STENCILS: dict[str, Stencil] = {
    s.name: s
    for s in (
        Stencil("forward", (0.0, 1.0), (-1.0, 1.0), 1, _EPS ** (1 / 2)),
        Stencil("backward", (-1.0, 0.0), (-1.0, 1.0), 1, _EPS ** (1 / 2)),
        Stencil(
            "three_point_endpoint", (0.0, 1.0, 2.0), (-1.5, 2.0, -0.5), 2, _EPS ** (1 / 3)
        ),
        Stencil("three_point_midpoint", (-1.0, 1.0), (-0.5, 0.5), 2, _EPS ** (1 / 3)),
        Stencil(
            "five_point_endpoint",
            (0.0, 1.0, 2.0, 3.0, 4.0),
            (-25 / 12, 4.0, -3.0, 4 / 3, -0.25),
            4,
            _EPS ** (1 / 5),
        ),
        Stencil(
            "five_point_midpoint",
            (-2.0, -1.0, 1.0, 2.0),
            (1 / 12, -2 / 3, 2 / 3, -1 / 12),
            4,
            _EPS ** (1 / 5),
        ),
    )
}

#: Method names in the order the product presents them.
METHODS: tuple[str, ...] = tuple(STENCILS)

#: Other accepted spellings.
ALIASES: dict[str, str] = {"central": "three_point_midpoint"}


def get_stencil(method: str | Stencil) -> Stencil:
    """Return the :class:`Stencil` for a method name, an alias, or a stencil itself.

    Raises
    ------
    ValueError
        If ``method`` is not a known name; the message lists the valid names.
    """
    if isinstance(method, Stencil):
        return method
    name = check_choice("method", method, METHODS + tuple(ALIASES))
    return STENCILS[ALIASES.get(name, name)]
