"""``step="adaptive"``: a halving sequence of steps, a Richardson table, the best estimate.

For every element the rule is evaluated at the steps ``H, H/2, H/4, ...`` (``H`` from
:func:`~deep_learning_toolkit.numdiff.steps.adaptive_base_steps`, at most
:data:`~deep_learning_toolkit.numdiff.steps.ADAPTIVE_RUNGS` of them). Each new step adds a row
to a Richardson table (Neville's scheme, as in Ridders' method and numdifftools): entry ``k``
of the row eliminates the ``k`` leading truncation powers of the rule, using the ``k`` larger
steps before it. Each entry gets the error estimate

.. math::  e_{jk} = \\max(|T_{jk} - T_{j,k-1}|, |T_{jk} - T_{j-1,k-1}|)
           + \\varepsilon S_{jk} \\max|f| / h_j^n,

the disagreement with its two parents plus its rounding error (``S_jk``, the noise gain of the
extrapolated formula, follows the same recursion as the table). The estimate with the smallest
``e`` is kept. An element stops as soon as the rounding error of the plain rule at the current
step exceeds its best error: every smaller step would be worse. With ratio 2 the samples of
wider rules are shared between steps (``+-2h`` of one step is ``+-h`` of the next), so every
step costs two evaluations per element for central rules.

Large steps may leave the domain of ``f`` (``log`` at ``x - H < 0``): such values are not
errors here; the step is dropped and the table restarts after it. Only when no two
consecutive steps are usable is the first failure reported.

Reference: C. J. F. Ridders, "Accurate computation of F'(x) and F'(x) F''(x)", Adv. Eng.
Software 4 (1982) 75-76; Press et al., *Numerical Recipes*, 3rd ed., sec. 5.7; P. A.
Brodtkorb, numdifftools (``Derivative``, ``MaxStepGenerator``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evaluate import apply_rule
from .rules import Rule
from .sampling import Sampler
from .steps import ADAPTIVE_RUNGS


@dataclass
class _Best:
    """Best estimate so far per element and output, with its error and step factor."""

    estimate: np.ndarray
    error: np.ndarray
    factor: np.ndarray

    def update(self, candidate: np.ndarray, error: np.ndarray, factor: float) -> None:
        better = error < self.error  # NaN never wins
        self.estimate = np.where(better, candidate, self.estimate)
        self.error = np.where(better, error, self.error)
        self.factor = np.where(better, factor, self.factor)


def _extend(row: list, previous: list, powers: tuple[int, ...]) -> list:
    """Neville step: extrapolate ``row[0]`` with the previous row, one power per column."""
    for k, power in enumerate(powers[: len(previous)]):
        gain = 2.0**power
        row.append((gain * row[k] - previous[k]) / (gain - 1.0))
    return row


def adaptive_estimate(
    sampler: Sampler,
    rule: Rule,
    entries: np.ndarray,
    base_steps: np.ndarray,
    rungs: int = ADAPTIVE_RUNGS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(estimate, error, factor)`` per element and output, each of shape ``(E, m)``.

    ``factor * base_steps`` are the steps at which each estimate was taken.
    ``sampler`` should be lenient (``strict=False``) so that steps leaving the domain of ``f``
    are dropped instead of raising.
    """
    count = len(entries)
    active = np.ones(count, dtype=bool)
    best: _Best | None = None
    previous: list = []
    previous_noise: list = []
    for j in range(rungs):
        factor = 2.0**-j
        index = np.flatnonzero(active)
        applied = apply_rule(sampler, rule, entries[index], base_steps, factor)
        if sampler.width is None:  # no value of f yet (every point failed): nothing to extend
            previous, previous_noise = [], []
            continue
        width = sampler.width
        if best is None:
            best = _Best(*(np.full((count, width), v) for v in (np.nan, np.inf, np.nan)))
        plain = np.full((count, width), np.nan)
        plain[index] = applied.estimate
        rounding = np.full((count, width), np.nan)
        with np.errstate(invalid="ignore", over="ignore"):
            rounding[index] = applied.rounding(rule) * factor**rule.derivative
            row = _extend([plain], previous, rule.powers)
            noise = _extend([factor**-rule.derivative], previous_noise, rule.powers)
            for k in range(1, len(row)):
                spread = np.maximum(np.abs(row[k] - row[k - 1]), np.abs(row[k] - previous[k - 1]))
                best.update(row[k], spread + rounding * noise[k], factor)
            # The plain rule at this step already rounds worse than the best: stop the element.
            done = np.all(best.error <= rounding * noise[0], axis=1)
        active &= ~done
        previous, previous_noise = row, noise
        if not active.any():
            break
    if best is None:
        raise ValueError(f"rungs must be >= 1; got {rungs}.")
    return best.estimate, best.error, best.factor
