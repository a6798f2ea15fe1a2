"""One driver for every numerical derivative: validate, pick the steps, evaluate, estimate.

:func:`~deep_learning_toolkit.numdiff.derivative`, ``gradient``, ``jacobian``, ``hessian``,
``hessian_diag`` and ``directional_derivative`` each describe their work as :class:`Task` s
(a :class:`~deep_learning_toolkit.numdiff.rules.Rule` over a set of elements) and call
:func:`run_tasks`, which

1. resolves the steps of every task (``None``, a number, an array, or ``"adaptive"``) and
   checks every point ``x + o*h`` before ``f`` is called
   (:func:`~deep_learning_toolkit.numdiff.steps.check_perturbations`);
2. evaluates the points through one :class:`~deep_learning_toolkit.numdiff.sampling.Sampler`
   shared by the tasks (so ``f(x)`` and coinciding points are evaluated once);
3. applies the rule at the steps, with the ``2h`` error estimate when asked
   (:mod:`~deep_learning_toolkit.numdiff.evaluate`), or runs the adaptive search
   (:mod:`~deep_learning_toolkit.numdiff.adaptive`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .._validation import check_array, check_choice, describe
from .adaptive import adaptive_estimate
from .evaluate import element_points, fixed_estimate
from .rules import Rule
from .sampling import Sampler
from .steps import (
    ADAPTIVE_RUNGS,
    STEP_RULES,
    adaptive_base_steps,
    check_perturbations,
    resolve_steps,
)


@dataclass(frozen=True)
class Task:
    """A rule applied to elements: ``entries`` is ``(E, rule.axes)`` axis indices of ``x``."""

    rule: Rule
    entries: np.ndarray


@dataclass(frozen=True)
class Outcome:
    """Per task: ``(E, m)`` estimates, errors (or ``None``) and step factors, and the flat
    per-axis steps they multiply; then the evaluation count and ``f(x)`` (if evaluated)."""

    estimates: list[np.ndarray]
    errors: list[np.ndarray | None]
    factors: list[np.ndarray]
    bases: list[np.ndarray]
    evaluations: int
    value: float | np.ndarray | None

    def steps(self, task: int, entries: np.ndarray, column: int = 0) -> np.ndarray:
        """``(E, m)`` steps of a task's elements along their axis ``entries[:, column]``."""
        return self.factors[task] * self.bases[task][entries[:, column]][:, None]

    def error(self, task: int) -> np.ndarray:
        """``(E, m)`` error estimates of a task (a run with ``full_output`` has them)."""
        error = self.errors[task]
        if error is None:
            raise RuntimeError("no error estimates: the tasks were run without full_output.")
        return error


def check_flag(name: str, value: object) -> bool:
    """``value`` as a bool, refusing anything but ``True``/``False``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {describe(value)}.")
    return bool(value)


def check_function(f: object) -> None:
    """Refuse an ``f`` that cannot be called."""
    if not callable(f):
        raise TypeError(f"f must be callable; got {describe(f)}.")


def check_point(x: object) -> np.ndarray:
    """``x`` as a finite, non-empty float64 array."""
    return check_array("x", x, allow_empty=False)


def check_scalar(x: object) -> float:
    """``x`` as a finite float (a real number, not an array)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"x must be a real number; got {describe(x)}.")
    value = float(x)
    if not np.isfinite(value):
        raise ValueError(f"x must be finite; got {value}.")
    return value


def is_adaptive(step: object) -> bool:
    """``True`` for ``step="adaptive"``; other strings are refused naming the valid ones."""
    if isinstance(step, str):
        check_choice("step", step, STEP_RULES)
        return True
    return False


def run_tasks(
    f: Callable,
    x: np.ndarray,
    tasks: Sequence[Task],
    step: object,
    *,
    full_output: bool,
    vectorized: bool = False,
    vector_output: bool = False,
    relative_to: np.ndarray | None = None,
) -> Outcome:
    """Estimate every task's elements (see the module notes).

    ``relative_to`` (default ``x``) is the array the default and adaptive steps scale with;
    :func:`~deep_learning_toolkit.numdiff.directional_derivative` differentiates in ``t`` at
    ``t = 0`` with steps relative to ``x``.
    """
    reference = x if relative_to is None else relative_to
    imag = tasks[0].rule.imag
    adaptive = is_adaptive(step)
    if adaptive and imag and all(t.rule.derivative == 1 for t in tasks):
        adaptive, step = False, None  # the complex step's default is exact to rounding
    sampler = Sampler(
        f,
        x,
        vector_output=vector_output,
        imag=imag,
        vectorized=vectorized,
        strict=not adaptive,
        checked=not adaptive,  # fixed steps: check_perturbations below covers every point
    )
    if adaptive:
        bases = [adaptive_base_steps(reference, t.rule.reach).reshape(-1) for t in tasks]
        results = [_adaptive(sampler, t, base) for t, base in zip(tasks, bases)]
    else:
        bases = [resolve_steps(reference, t.rule, step).reshape(-1) for t in tasks]
        factors = (1.0, 2.0) if full_output else (1.0,)
        points = []
        for task, h in zip(tasks, bases):
            offsets = {complex(o) * k for offs, _ in task.rule.terms for o in offs for k in factors}
            check_perturbations(x, h.reshape(x.shape), offsets)
            points += [
                p for e in task.entries for k in factors for p in element_points(task.rule, e, h, k)
            ]
        sampler.values(points)  # every point checked, then evaluated (one call if vectorized)
        results = [
            fixed_estimate(sampler, t.rule, t.entries, h, full_output) for t, h in zip(tasks, bases)
        ]
        results = [(est, err, np.ones_like(est)) for est, err in results]
    estimates, errors, used = (list(column) for column in zip(*results))
    return Outcome(estimates, errors, used, bases, sampler.evaluations, sampler.center())


def adaptive_rungs(rule: Rule) -> int:
    """Steps the adaptive search may try: :data:`~.steps.ADAPTIVE_RUNGS`, less one per unit of
    reach beyond 1, so that a central rule never evaluates more than ``2 * ADAPTIVE_RUNGS``
    points per element (numdifftools' 15 steps of 2 points)."""
    return max(2, ADAPTIVE_RUNGS - (math.ceil(rule.reach) - 1))


def _adaptive(sampler: Sampler, task: Task, base: np.ndarray) -> tuple:
    rungs = adaptive_rungs(task.rule)
    with np.errstate(all="ignore"):  # large steps may leave the domain of f: dropped, not errors
        estimate, error, factor = adaptive_estimate(sampler, task.rule, task.entries, base, rungs)
    lost = ~np.isfinite(error)
    if lost.any():
        e = int(np.argwhere(lost)[0][0])
        axes = ", ".join(str(int(a)) for a in task.entries[e])
        raise ValueError(
            f"step='adaptive' found no two consecutive usable steps along axis {axes} of x; "
            f"{sampler.failure or 'the estimates were not finite'}"
        )
    return estimate, error, factor
