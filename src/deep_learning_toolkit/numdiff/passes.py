"""The in-place passes of a zeroth-order step, each one sweep over the parameters.

A two-sided step with one direction touches the parameters three times: ``+d`` (fused with
the snap to the grid), ``-2d``, and ``+d`` fused with the SGD update, itself rounded to the
grid so that the next step's snap has nothing to do (for one Rademacher direction this last
pass costs what a shift does: one scaled sign pattern). Moving from direction ``k`` to
``k + 1`` is one pass too (``-(-d_k) + d_{k+1}``). Each pass regenerates its directions
block by block (:mod:`.directions`), so a step holds a few blocks of work arrays per thread,
never a parameter-sized array. Vectors of at least ``2 * MIN_BLOCKS_PER_THREAD`` blocks are
split into chunks of whole blocks that threads sweep side by side, one per CPU (NumPy and the
bit generators release the GIL; every entry gets the same value whatever the number of
threads; a thread's work arrays stay a small fraction of its chunk).

Every shift ``d_k`` is a multiple of the grid ``q`` (:mod:`.grid`): ``+-rint(h/q) q`` for
signs, ``rint(h z / q) q`` for Gaussian entries, so that ``theta``, ``theta + d_k``,
``theta - d_k`` and the sums of two shifts are computed exactly and the passes give back the
same bits.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .directions import BLOCK, Direction
from .grid import snap_block

#: Blocks each thread must have at least before a pass is split among threads.
MIN_BLOCKS_PER_THREAD = 16


@functools.cache
def pass_threads() -> int:
    """Threads that sweep the parameters: one per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}  # by (process id, threads): a forked
# child does not inherit its parent's threads


def chunks(size: int, threads: int | None = None) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of whole blocks, one per thread that a pass over ``size`` uses."""
    blocks = -(-size // BLOCK)
    threads = pass_threads() if threads is None else threads
    count = max(1, min(threads, blocks // MIN_BLOCKS_PER_THREAD))
    edges = [BLOCK * (blocks * i // count) for i in range(count)] + [size]
    return [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]


def run_chunks(size: int, work: Callable[[int, int], Any]) -> list[Any]:
    """``work(lo, hi)`` for every chunk of :func:`chunks`, in threads when there are several."""
    parts = chunks(size)
    if len(parts) == 1:
        return [work(*parts[0])]
    key = (os.getpid(), len(parts))
    if key not in _POOLS:
        _POOLS[key] = ThreadPoolExecutor(len(parts), thread_name_prefix="dltk-passes")
    return list(_POOLS[key].map(lambda part: work(*part), parts))


class Passes:
    """The shifts of one step on ``flat`` (on the grid ``quantum``, or snapped by the first pass).

    Parameters
    ----------
    flat : ndarray
        The parameters (flat, C-contiguous, float32 or float64), shifted in place.
    distribution : str
        ``"rademacher"`` or ``"gaussian"``.
    scale : float
        Perturbation size ``h``.
    seed : int
        Seed of the step's directions.
    n_directions : int
        Number of directions.
    quantum : float
        The grid.
    snap_first : bool
        Snap ``flat`` to the grid in the first pass (``flat`` is not on it yet).
    """

    def __init__(
        self,
        flat: np.ndarray,
        distribution: str,
        scale: float,
        seed: int,
        n_directions: int,
        quantum: float,
        snap_first: bool,
    ) -> None:
        self.flat = flat
        self.distribution = distribution
        self.seed = seed
        self.n_directions = n_directions
        self.quantum = quantum
        self.snap_pending = snap_first
        self.ratio = scale / quantum
        #: ``h`` rounded to the grid: the exact size of a Rademacher shift.
        self.units = float(np.rint(self.ratio))
        #: ``(k, m)``: ``flat`` holds the grid point plus ``m * d_k``; ``None``: the point.
        self.position: tuple[int, int] | None = None

    @property
    def shift_size(self) -> float:
        """The step the slopes divide by: the exact shift of a sign, else ``h``."""
        if self.distribution == "rademacher":
            return self.units * self.quantum
        return self.ratio * self.quantum

    def directions(self, indices: Sequence[int], lo: int) -> list[Direction]:
        """Directions ``indices`` positioned at entry ``lo``."""
        found = [Direction(self.distribution, self.seed, k, self.flat.size) for k in indices]
        for direction in found:
            direction.seek(lo)
        return found

    def shift_values(self, direction: Direction, out: np.ndarray, times: int) -> np.ndarray:
        """``times * d_k`` of the next block into ``out``: exact multiples of the grid."""
        kind = out.dtype.type
        if self.distribution == "rademacher":
            return direction.fill(out, self.units * times * self.quantum)
        direction.fill(out)
        out *= kind(self.ratio)
        np.rint(out, out=out)
        out *= kind(times * self.quantum)
        return out

    # ------------------------------------------------------------------ shifts
    def move_to(self, k: int, offset: int) -> None:
        """Make ``flat`` the grid point plus ``offset * d_k`` (``offset`` in -1, 0, 1)."""
        moves = []
        if self.position is None:
            moves = [(k, offset)]
        else:
            j, current = self.position
            moves = [(k, offset - current)] if j == k else [(j, -current), (k, offset)]
        moves = [(j, times) for j, times in moves if times]
        if moves or self.snap_pending:
            run_chunks(self.flat.size, lambda lo, hi: self._shift_chunk(lo, hi, moves))
            self.snap_pending = False
        self.position = (k, offset) if offset else None

    def restore(self) -> None:
        """Back to the grid point (a no-op if there already)."""
        if self.position is not None:
            self.move_to(self.position[0], 0)

    def _shift_chunk(self, lo: int, hi: int, moves: list[tuple[int, int]]) -> None:
        found = self.directions([k for k, _ in moves], lo)
        width = min(BLOCK, hi - lo)
        buffers = [np.empty(width, dtype=self.flat.dtype) for _ in moves]
        for start in range(lo, hi, BLOCK):
            part = self.flat[start : min(start + BLOCK, hi)]
            if self.snap_pending:
                snap_block(part, self.quantum)
            total = None
            for direction, (_, times), buffer in zip(found, moves, buffers):
                values = self.shift_values(direction, buffer[: part.size], times)
                total = values if total is None else np.add(total, values, out=total)
            if total is not None:
                part += total  # a sum of two shifts is a multiple of q below the bound: exact

    # ------------------------------------------------------------------ update
    def restore_and_update(self, weights: np.ndarray, next_quantum: float) -> float:
        """Back to the grid point, then ``flat += sum_k weights[k] z_k`` on the grid
        ``next_quantum``, in one pass. Returns ``|sum_k weights[k] z_k|**2``.

        When ``next_quantum`` is not coarser than the current grid, the update itself is
        rounded to the current grid (at most ``q/2`` per entry, as a snap would move it) and
        added exactly; for one Rademacher direction that is a single scaled sign pattern, the
        cost of one shift. Otherwise the sum is snapped to ``next_quantum``.
        """
        if self.snap_pending:
            raise RuntimeError("restore_and_update before any shift")
        restore, size = self.position, self.flat.size
        on_grid = next_quantum <= self.quantum
        if on_grid and self.distribution == "rademacher" and self.n_directions == 1:
            units = float(np.rint(weights[0] / self.quantum))
            if restore is not None:
                units -= restore[1] * self.units
            run_chunks(size, lambda lo, hi: self._add_signs(lo, hi, units * self.quantum))
            squares = float(weights[0]) ** 2 * size
        else:
            squares = math.fsum(
                run_chunks(
                    size,
                    lambda lo, hi: self._update_chunk(
                        lo, hi, weights, restore, None if on_grid else next_quantum
                    ),
                )
            )
        self.position = None
        self.quantum = min(self.quantum, next_quantum) if on_grid else next_quantum
        return squares

    def _add_signs(self, lo: int, hi: int, value: float) -> None:
        """``flat += value * z_0`` (``value`` a multiple of the grid: exact)."""
        (direction,) = self.directions([0], lo)
        buffer = np.empty(min(BLOCK, hi - lo), dtype=self.flat.dtype)
        for start in range(lo, hi, BLOCK):
            part = self.flat[start : min(start + BLOCK, hi)]
            part += direction.fill(buffer[: part.size], value)

    def _update_chunk(
        self,
        lo: int,
        hi: int,
        weights: np.ndarray,
        restore: tuple[int, int] | None,
        snap_to: float | None,
    ) -> float:
        """The general update pass: any directions; snapped to ``snap_to`` if given, else
        rounded to the current grid."""
        first = 0 if restore is None else restore[0]
        order = [first] + [k for k in range(self.n_directions) if k != first]
        found = self.directions(order, lo)
        kind = self.flat.dtype.type
        inverse, quantum = kind(1.0 / self.quantum), kind(self.quantum)
        width = min(BLOCK, hi - lo)
        z, total = np.empty(width, dtype=kind), np.empty(width, dtype=kind)
        other = np.empty(width if len(order) > 1 else 0, dtype=kind)  # for directions 1..
        squares = 0.0
        for start in range(lo, hi, BLOCK):
            part = self.flat[start : min(start + BLOCK, hi)]
            zb, tb = z[: part.size], total[: part.size]
            found[0].fill(zb)
            np.multiply(zb, kind(weights[first]), out=tb)
            back = None if restore is None else self._units(zb, -restore[1])  # exact, in q
            for direction, k in zip(found[1:], order[1:]):
                tb += direction.fill(other[: part.size], weights[k])
            squares += float(np.dot(tb, tb))
            if snap_to is None:  # round the update to the grid, add it exactly
                tb *= inverse
                np.rint(tb, out=tb)
                if back is not None:
                    tb += back
                tb *= quantum
                part += tb
            else:
                if back is not None:
                    part += back * quantum
                part += tb
                snap_block(part, snap_to)
        return squares

    def _units(self, z: np.ndarray, times: int) -> np.ndarray:
        """``times * d / q`` (integers) computed in place from the direction's entries ``z``."""
        kind = z.dtype.type
        if self.distribution == "rademacher":
            z *= kind(self.units * times)
            return z
        z *= kind(self.ratio * times)  # rint is odd, so this is times * rint(z * ratio)
        np.rint(z, out=z)
        return z

    # ------------------------------------------------------------------ combined estimate
    def combined(self, weights: np.ndarray, out: np.ndarray, add: bool) -> float:
        """``out (+)= sum_k weights[k] z_k`` (``out`` flat, any float dtype); returns the
        squared norm of the sum. ``flat`` is not touched."""
        parts = run_chunks(out.size, lambda lo, hi: self._combine_chunk(lo, hi, weights, out, add))
        return math.fsum(parts)

    def _combine_chunk(
        self, lo: int, hi: int, weights: np.ndarray, out: np.ndarray, add: bool
    ) -> float:
        found = self.directions(range(self.n_directions), lo)
        kind = out.dtype.type
        width = min(BLOCK, hi - lo)
        z, total = np.empty(width, dtype=kind), np.empty(width, dtype=kind)
        squares = 0.0
        for start in range(lo, hi, BLOCK):
            part = out[start : min(start + BLOCK, hi)]
            zb, tb = z[: part.size], total[: part.size]
            found[0].fill(tb, weights[0])
            for direction, weight in zip(found[1:], weights[1:]):
                tb += direction.fill(zb, weight)
            squares += float(np.dot(tb, tb))
            if add:
                part += tb
            else:
                part[...] = tb
        return squares
