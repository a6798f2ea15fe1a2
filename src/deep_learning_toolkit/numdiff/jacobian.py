"""Jacobians of vector-valued functions: ``J[k, i] = d f_k / d x_i``, shape ``(m, n)``.

Each column is the first derivative of the whole output along ``x_i``, by any method (the
complex step included), at the default, a given or adaptive steps (see
:mod:`~deep_learning_toolkit.numdiff.gradient`); with ``step="adaptive"`` every element picks
its own best step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .estimate import Task, check_flag, check_function, check_point, run_tasks
from .result import DerivativeResult
from .rules import axis_rule


def jacobian(
    f: Callable[[np.ndarray], np.ndarray],
    x: object,
    method: object = "three_point_midpoint",
    step: object = None,
    *,
    richardson: int = 0,
    full_output: bool = False,
    vectorized: bool = False,
) -> np.ndarray | DerivativeResult:
    """Numerical Jacobian of a vector-valued function.

    Parameters
    ----------
    f : callable
        ``f(x) -> array of shape (m,)`` (a scalar counts as ``m = 1``) for ``x`` of the shape
        given; it must return the same shape at every point. With ``vectorized=True``,
        ``f(batch)`` for a batch ``(k, *x.shape)`` returns ``(k, m)``.
    x : array-like
        Point of differentiation; its ``n = x.size`` entries are the columns.
    method, step, richardson, full_output, vectorized
        As in :func:`~deep_learning_toolkit.numdiff.gradient` (``step`` may be an array shaped
        like ``x``).

    Returns
    -------
    ndarray of shape (m, n), or DerivativeResult
        With ``full_output=True``: ``estimate``, ``error`` and ``steps`` of shape ``(m, n)``,
        ``value`` the array ``f(x)`` when it was evaluated.

    Examples
    --------
    >>> import numpy as np
    >>> J = jacobian(lambda v: np.array([v[0] * v[1], np.sin(v[1])]), [2.0, 0.0])
    >>> np.round(J, 9).tolist()
    [[0.0, 2.0], [0.0, 1.0]]
    """
    rule = axis_rule(method, 1, richardson)
    check_function(f)
    x = check_point(x)
    full_output = check_flag("full_output", full_output)
    vectorized = check_flag("vectorized", vectorized)
    entries = np.arange(x.size)[:, None]
    out = run_tasks(
        f,
        x,
        [Task(rule, entries)],
        step,
        full_output=full_output,
        vectorized=vectorized,
        vector_output=True,
    )
    error = out.errors[0]
    result = DerivativeResult(
        out.estimates[0].T.copy(),
        out.value,
        out.evaluations,
        out.steps(0, entries).T.copy(),
        rule.name,
        None if error is None else error.T.copy(),
    )
    return result if full_output else result.estimate
