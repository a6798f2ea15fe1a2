"""Evaluating ``f`` at perturbed points: each point once, every value checked.

A *point* is ``x + sum_a o_a h_a e_a`` over one or two axes ``a``, given as
``((axis, offset, step), ...)``; points with the same perturbations (``offset * step``) are
the same point, so formulas at ``h`` and ``2h``, Richardson tables and the rows of a Hessian
share their evaluations. :class:`Sampler` evaluates the points one call at a time on a work
array shaped like ``x`` (perturbed in place and restored), or, with ``vectorized=True``, all
the new points of a request in one call of ``f`` on a batch ``(k, *x.shape)`` (in chunks of at
most :data:`BATCH_BUDGET` numbers).

Values are checked as they arrive: a value of the wrong type or shape is a ``TypeError`` /
``ValueError`` naming the point; a non-finite value is a ``ValueError`` reporting the point
(its offsets, steps and coordinates), except in lenient mode (``strict=False``, used by the
adaptive step to probe large steps that may leave the domain of ``f``), where it becomes a NaN
row and the first such report is kept in :attr:`Sampler.failure`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np

from .._validation import describe
from .steps import format_offset, perturbation_problem

#: A point: ``((axis, offset, step), ...)``, the perturbation of each axis in units of its step.
Point = tuple[tuple[int, complex, float], ...]
Key = tuple[tuple[int, complex], ...]

#: Largest number of coordinates in one vectorized call (32 MiB of float64).
BATCH_BUDGET = 2**22


def point_key(point: Point) -> Key:
    """The perturbation ``((axis, offset * step), ...)`` that identifies ``point``."""
    return tuple(sorted((axis, offset * step) for axis, offset, step in point if offset != 0))


class Sampler:
    """Values of ``f`` (or of ``Im f`` for the complex step) at points around ``x``.

    Parameters
    ----------
    f : callable
        ``f(x)`` (``f(batch)`` with ``vectorized=True``).
    x : ndarray
        The point of differentiation (float64, any shape).
    vector_output : bool
        ``f`` returns a 0-D or 1-D array (Jacobians) instead of a scalar.
    imag : bool
        Evaluate at complex points and keep the imaginary parts (complex step).
    vectorized : bool
        ``f`` takes a batch ``(k, *x.shape)`` and returns ``k`` values (``(k,)`` or ``(k, m)``).
    strict : bool
        Non-finite values raise (``True``) or become NaN rows (``False``).
    checked : bool
        The caller has checked every point it will request (with
        :func:`~deep_learning_toolkit.numdiff.steps.check_perturbations`); skip the per-point
        check.
    """

    def __init__(
        self,
        f: Callable,
        x: np.ndarray,
        *,
        vector_output: bool = False,
        imag: bool = False,
        vectorized: bool = False,
        strict: bool = True,
        checked: bool = False,
    ) -> None:
        self.f, self.x, self.flat = f, x, x.reshape(-1)
        self.vector_output, self.imag, self.vectorized = vector_output, imag, vectorized
        self.strict, self.checked = strict, checked
        self.cache: dict[Key, np.ndarray] = {}
        self.failed: set[Key] = set()
        self.evaluations = 0
        self.width: int | None = None  # values per point: 1, or m for vector outputs
        self.failure: str | None = None

    def values(self, points: Sequence[Point]) -> np.ndarray:
        """``(len(points), width)`` values; each new point is checked, then evaluated once."""
        todo: dict[Key, Point] = {}
        for point in points:
            key = point_key(point)
            if key not in self.cache and key not in self.failed and key not in todo:
                todo[key] = point
        usable = [(key, point) for key, point in todo.items() if self._usable(key, point)]
        if usable:
            (self._batch if self.vectorized else self._loop)(usable)
        failed = np.full(self.width or 1, np.nan)  # the width may be known only now
        return np.stack([self.cache.get(point_key(point), failed) for point in points])

    def center(self) -> float | np.ndarray | None:
        """``f(x)`` if it was evaluated (a float, or an array for vector outputs)."""
        value = self.cache.get(())
        if value is None or self.imag:
            return None
        return value.copy() if self.vector_output else float(value[0])

    # ----------------------------------------------------------------- points
    def _usable(self, key: Key, point: Point) -> bool:
        if self.checked:
            return True
        for axis, offset, step in point:
            problem = perturbation_problem(float(self.flat[axis]), offset, step, axis)
            if problem is not None:
                if self.strict:
                    raise ValueError(problem)
                self._fail(key, problem)
                return False
        return True

    def _fail(self, key: Key, message: str) -> None:
        self.failure = self.failure or message
        self.failed.add(key)

    def _loop(self, todo: list[tuple[Key, Point]]) -> None:
        work = self.x.astype(np.complex128 if self.imag else np.float64)
        flat = work.reshape(-1)
        for key, point in todo:
            for axis, delta in key:
                flat[axis] = self.flat[axis] + delta
            value = self.f(work)
            for axis, _ in key:
                flat[axis] = self.flat[axis]
            self.evaluations += 1
            self._store(key, point, value)

    def _batch(self, todo: list[tuple[Key, Point]]) -> None:
        size = max(1, BATCH_BUDGET // max(1, self.flat.size))
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            batch = np.repeat(self.flat[None, :], len(chunk), axis=0)
            batch = batch.astype(np.complex128 if self.imag else np.float64)
            for row, (key, _) in enumerate(chunk):
                for axis, delta in key:
                    batch[row, axis] += delta
            values = self.f(batch.reshape((len(chunk), *self.x.shape)))
            self.evaluations += len(chunk)
            for (key, point), value in zip(chunk, self._split(values, chunk)):
                self._store(key, point, value)

    def _split(self, values: object, chunk: list) -> np.ndarray:
        k = len(chunk)
        array = np.asarray(values)
        ok = (
            array.ndim >= 1
            and array.shape[0] == k
            and array.ndim <= (2 if self.vector_output else 1)
        )
        if not ok or array.dtype.kind not in "iufc":
            want = "(k,) or (k, m)" if self.vector_output else "(k,)"
            raise ValueError(
                f"vectorized f must return an array of shape {want} for a batch of k={k} points "
                f"of shape {self.x.shape}; got {describe(values)}."
            )
        return array

    # ----------------------------------------------------------------- values
    def _store(self, key: Key, point: Point, value: object) -> None:
        row = self._vector(value, point) if self.vector_output else self._scalar(value, point)
        if self.width is None:
            self.width = row.size
        elif row.size != self.width:
            raise ValueError(
                f"f returned {row.size} values {self.where(point)}, but {self.width} at the "
                "points before; f must return the same shape at every point."
            )
        if not np.all(np.isfinite(row)):
            array = np.asarray(value)
            shown = value if array.ndim == 0 else array.reshape(-1)
            what = "the complex step" if self.imag else "a finite difference"
            message = f"f returned {shown} {self.where(point)}; {what} needs finite values."
            if self.strict:
                raise ValueError(message)
            self._fail(key, message)
            return
        self.cache[key] = row

    def _scalar(self, value: object, point: Point) -> np.ndarray:
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(()).item()
        if not self.imag and isinstance(value, float):  # the common case first
            return np.array([value])
        if self.imag:
            return np.array([_imaginary(value, point, self.where)])
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"f must return a real scalar; got {describe(value)} {self.where(point)}."
            )
        return np.array([float(value)])

    def _vector(self, value: object, point: Point) -> np.ndarray:
        array = np.asarray(value)
        if array.ndim > 1 or array.dtype.kind not in ("c" if self.imag else "iuf"):
            kind = "complex" if self.imag else "real"
            raise ValueError(
                f"f must return a {kind} scalar or 1-D array; got {describe(value)} "
                f"{self.where(point)}."
            )
        if self.imag:
            imaginary = np.array(array.imag, dtype=np.float64).reshape(-1)
            return np.where(np.isfinite(array.reshape(-1)), imaginary, np.nan)
        return np.array(array, dtype=np.float64).reshape(-1)

    def where(self, point: Point) -> str:
        """``at x + 1*h*e_3 (h = 0.001, x[3] -> 1.501)``: the point, for messages."""
        moved = [(axis, offset, step) for axis, offset, step in point if offset != 0]
        if not moved:
            return "at x"
        terms = "".join(_signed(o) + f"*h*e_{axis}" for axis, o, _ in moved)
        details = ", ".join(
            f"h = {step:.3g}, x[{axis}] -> {float(self.flat[axis] + complex(o * step).real)!r}"
            for axis, o, step in moved
        )
        return f"at x{terms} ({details})"


def _signed(offset: complex) -> str:
    """`` + 1``, `` - 2``, `` + (1+1i)``: an offset as a term of a sum."""
    offset = complex(offset)
    if offset.imag == 0 and offset.real < 0:
        return f" - {format_offset(-offset)}"
    return f" + {format_offset(offset)}"


def _imaginary(value: object, point: Point, where: Callable[[Point], str]) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise TypeError(f"f must return a scalar; got {describe(value)} {where(point)}.")
    if not isinstance(value, numbers.Complex) or isinstance(value, numbers.Real):
        raise TypeError(
            f"f returned a real value ({describe(value)}) for a complex input {where(point)}: the "
            "complex step needs f written in complex-safe arithmetic (no abs, float(), "
            "np.real or comparisons of the input), returning a complex number."
        )
    value = complex(value)
    if not (np.isfinite(value.real) and np.isfinite(value.imag)):
        return float("nan")
    return value.imag
