"""A rule at given steps: the estimate of every element, and its error from a second step.

An *element* is one derivative to estimate: the rule along the axes ``entries[e]`` of ``x``
(one axis for ``d^n f / dx_i^n``, two for a mixed derivative), with the per-axis steps ``h``.
The weighted sum is taken on values divided by their largest magnitude, so that it cannot
overflow where the result itself does not (``x = 1e308`` with ``f(x) ~ x``); an estimate that
does overflow float64 is refused with a ``ValueError``.

The error estimate of a fixed step compares the rule at ``h`` and ``2h``:
``SAFETY |D(h) - D(2h)| / (2**p - 1) + NOISE eps S max|f| / h**n``: Richardson's estimate
of the leading truncation term, doubled because the next term can add to it (one-sided
formulas of high derivatives lose up to a third to it at their default steps), plus the
rounding model with a few ulps per value; evaluations shared with ``D(h)`` are made once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fornberg import EPS
from .rules import Rule
from .sampling import Point, Sampler

#: Factor on Richardson's truncation estimate in :func:`fixed_estimate`.
SAFETY = 2.0

#: Rounding error of one value of ``f``, in units of ``eps |f|``: a few ulps, since ``f`` is
#: usually a sum of terms larger than itself (``exp(a) - b`` near ``exp(a) = b``).
NOISE = 4.0


@dataclass(frozen=True)
class Applied:
    """The rule at one step for every element: arrays of shape ``(E, m)`` and ``(E,)``."""

    estimate: np.ndarray
    scale: np.ndarray  # max |value| over each element's samples (the rounding scale)
    denominator: np.ndarray  # prod_j h_{a_j}**n_j per element

    def rounding(self, rule: Rule, gain: float = 1.0) -> np.ndarray:
        """Modelled rounding error ``eps S max|f| / h**n`` (times ``gain``) per element."""
        return NOISE * EPS * self.scale * rule.noise_gain * gain / self.denominator[:, None]


def element_points(rule: Rule, entry: np.ndarray, steps: np.ndarray, factor: float) -> list[Point]:
    """The points of ``rule`` for one element, at ``factor`` times the steps."""
    axes = [int(a) for a in entry]
    return [
        tuple(
            (axis, complex(o) * factor if rule.imag else float(o.real) * factor, float(steps[axis]))
            for axis, o in zip(axes, offsets)
        )
        for offsets, _ in rule.terms
    ]


def denominators(rule: Rule, entries: np.ndarray, steps: np.ndarray, factor: float) -> np.ndarray:
    """``prod_j (factor h_{a_j})**n_j``: ``h**n`` along one axis, ``h_i h_j`` for mixed rules."""
    powers = [rule.derivative] if rule.axes == 1 else [1, 1]
    result = np.ones(len(entries))
    for column, power in enumerate(powers):
        result = result * (factor * steps[entries[:, column]]) ** power
    return result


def apply_rule(
    sampler: Sampler, rule: Rule, entries: np.ndarray, steps: np.ndarray, factor: float = 1.0
) -> Applied:
    """Evaluate ``rule`` at ``factor * steps`` for every element (NaN where a point failed)."""
    points = [p for entry in entries for p in element_points(rule, entry, steps, factor)]
    values = sampler.values(points).reshape(len(entries), len(rule.terms), -1)
    weights = np.array([w for _, w in rule.terms])
    with np.errstate(invalid="ignore"):
        scale = np.max(np.abs(values), axis=1)  # (E, m)
    unit = np.where(scale > 0, scale, 1.0)
    denominator = denominators(rule, entries, steps, factor)
    with np.errstate(over="ignore", invalid="ignore"):
        combined = np.einsum("k,ekm->em", weights, values / unit[:, None, :])
        estimate = combined * (unit / denominator[:, None])
    overflow = ~np.isfinite(estimate) & np.isfinite(combined)
    if overflow.any():
        e, _ = np.argwhere(overflow)[0]
        raise ValueError(
            f"the derivative estimate at x overflows float64 (element {e}: values of f up to "
            f"{scale[e].max():.3g} over a step product of {denominator[e]:.3g}); rescale f or x."
        )
    return Applied(estimate, scale, denominator)


def fixed_estimate(
    sampler: Sampler,
    rule: Rule,
    entries: np.ndarray,
    steps: np.ndarray,
    with_error: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(estimate, error)`` of every element at ``steps`` (error ``None`` unless asked for)."""
    fine = apply_rule(sampler, rule, entries, steps)
    if not with_error:
        return fine.estimate, None
    coarse = apply_rule(sampler, rule, entries, steps, 2.0)
    truncation = SAFETY * np.abs(fine.estimate - coarse.estimate) / (2.0**rule.order - 1.0)
    scale = np.maximum(fine.scale, coarse.scale)
    rounding = NOISE * EPS * scale * rule.noise_gain / fine.denominator[:, None]
    return fine.estimate, truncation + rounding
