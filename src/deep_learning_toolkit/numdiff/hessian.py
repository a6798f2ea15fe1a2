"""Hessians (``(n, n)``) and their diagonals (``(n,)``) of scalar functions.

The diagonal uses the method's second-derivative formula along each axis (``(-1, 0, 1)`` for
the central default, ``Im[f(x + (1+i)h) - f(x + (-1+i)h)] / (2h^2)`` for the complex step);
the off-diagonal elements the mixed rule (the first-derivative formula along both axes), one
element per pair ``i < j``, mirrored. With ``n`` entries the central default evaluates
``1 + 2n + 4 n(n-1)/2`` points. See :mod:`~deep_learning_toolkit.numdiff.rules`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .estimate import Outcome, Task, check_flag, check_function, check_point, run_tasks
from .result import DerivativeResult
from .rules import axis_rule, mixed_rule


def _symmetric(n: int, diagonal: np.ndarray, pairs: np.ndarray, upper: np.ndarray | None):
    matrix = np.zeros((n, n))
    matrix[np.arange(n), np.arange(n)] = diagonal
    if upper is not None and len(pairs):
        matrix[pairs[:, 0], pairs[:, 1]] = upper
        matrix[pairs[:, 1], pairs[:, 0]] = upper
    return matrix


def _steps(out: Outcome, n: int, diagonal: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``steps[i, j]``: the step along ``x_i`` used for ``H[i, j]``."""
    steps = np.zeros((n, n))
    steps[np.arange(n), np.arange(n)] = out.steps(0, diagonal)[:, 0]
    if len(pairs):
        steps[pairs[:, 0], pairs[:, 1]] = out.steps(1, pairs, 0)[:, 0]
        steps[pairs[:, 1], pairs[:, 0]] = out.steps(1, pairs, 1)[:, 0]
    return steps


def hessian(
    f: Callable[[np.ndarray], float],
    x: object,
    method: object = "three_point_midpoint",
    step: object = None,
    *,
    richardson: int = 0,
    full_output: bool = False,
    vectorized: bool = False,
) -> np.ndarray | DerivativeResult:
    """Numerical Hessian of a scalar function: ``H[i, j] = d^2 f / dx_i dx_j``.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` (``f(batch) -> (k,)`` with ``vectorized=True``).
    x : array-like
        Point of differentiation; ``n = x.size``.
    method : str, Stencil or ComplexStep
        As in :func:`~deep_learning_toolkit.numdiff.gradient`; a method name keeps its side and
        order for the second derivatives.
    step : None, float, array-like or "adaptive"
        One step per entry of ``x`` (used along that axis by every element); ``None`` for the
        defaults of the diagonal and mixed formulas; ``"adaptive"`` for the best
        Richardson-extrapolated estimate per element.
    richardson, full_output, vectorized
        As in :func:`~deep_learning_toolkit.numdiff.gradient`.

    Returns
    -------
    ndarray of shape (n, n), or DerivativeResult
        Symmetric by construction.

    Examples
    --------
    >>> import numpy as np
    >>> H = hessian(lambda v: v[0] ** 2 * v[1], [1.0, 3.0])
    >>> np.round(H, 6).tolist()
    [[6.0, 2.0], [2.0, 0.0]]
    """
    diagonal_rule = axis_rule(method, 2, richardson)
    mixed = mixed_rule(method, richardson)
    check_function(f)
    x = check_point(x)
    full_output = check_flag("full_output", full_output)
    vectorized = check_flag("vectorized", vectorized)
    n = x.size
    diagonal = np.arange(n)[:, None]
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=int).reshape(-1, 2)
    tasks = [Task(diagonal_rule, diagonal)] + ([Task(mixed, pairs)] if n > 1 else [])
    out = run_tasks(f, x, tasks, step, full_output=full_output, vectorized=vectorized)
    upper = out.estimates[1][:, 0] if n > 1 else None
    matrix = _symmetric(n, out.estimates[0][:, 0], pairs, upper)
    error = None
    if full_output:
        upper_error = out.error(1)[:, 0] if n > 1 else None
        error = _symmetric(n, out.error(0)[:, 0], pairs, upper_error)
    name = diagonal_rule.name if n == 1 else f"{diagonal_rule.name} & {mixed.name}"
    result = DerivativeResult(
        matrix, out.value, out.evaluations, _steps(out, n, diagonal, pairs), name, error
    )
    return result if full_output else result.estimate


def hessian_diag(
    f: Callable[[np.ndarray], float],
    x: object,
    method: object = "three_point_midpoint",
    step: object = None,
    *,
    richardson: int = 0,
    full_output: bool = False,
    vectorized: bool = False,
) -> np.ndarray | DerivativeResult:
    """The diagonal of the Hessian, ``d^2 f / dx_i^2``, shaped like ``x``.

    ``1 + 2n`` evaluations with the central default (the Hessian takes ``O(n^2)``). The
    parameters are those of :func:`hessian`.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(hessian_diag(lambda v: np.sum(v**3), [1.0, -2.0]), 6).tolist()
    [6.0, -12.0]
    """
    rule = axis_rule(method, 2, richardson)
    check_function(f)
    x = check_point(x)
    full_output = check_flag("full_output", full_output)
    vectorized = check_flag("vectorized", vectorized)
    entries = np.arange(x.size)[:, None]
    out = run_tasks(
        f, x, [Task(rule, entries)], step, full_output=full_output, vectorized=vectorized
    )
    error = out.errors[0]
    result = DerivativeResult(
        out.estimates[0].reshape(x.shape),
        out.value,
        out.evaluations,
        out.steps(0, entries).reshape(x.shape),
        rule.name,
        None if error is None else error.reshape(x.shape),
    )
    return result if full_output else result.estimate
