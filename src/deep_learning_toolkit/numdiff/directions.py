r"""Random directions of the zeroth-order estimators, generated fast and block by block.

A zeroth-order step needs its random direction ``z`` several times (to shift the parameters,
to shift them back, to update them) and never stores it: each pass regenerates it from the
step's seed, :data:`BLOCK` entries at a time, so the generator's speed is part of the cost of
every step. Direction ``k`` of the step with seed ``s`` is a pure function of
``(s, k, entry index)``: its raw bits are the stream of 64-bit words of
``np.random.PCG64(np.random.SeedSequence([s, k]))`` (``random_raw``, the bit generator
without the sampling layer), consumed in order:

* **Rademacher** (SPSA): entry ``i`` is ``-1`` if bit ``i % 64`` of word ``i // 64`` is set,
  else ``+1``: one random bit per entry, looked up 8 entries per byte in a table of the 256
  sign patterns.
* **Gaussian**: the Box-Muller transform in float32, with the angle on a fine grid. The
  words are read as a stream of 32-bit values (low half first), one per pair of entries:
  value ``j`` of group ``g`` (``GROUP / 2`` values, :data:`GROUP` entries) gives
  ``u = 1 - m * 2**-20`` from its top 20 bits ``m`` and ``k`` from its low 12 bits, and
  entries ``j`` and ``j + GROUP/2`` of the group are ``r cos(t)`` and ``r sin(t)`` with
  ``r = sqrt(-2 log u)`` and ``t = 2 pi (k + 1/2) / 4096``. An angle uniform on 4096 equally
  spaced values gives the moments of a uniform angle up to order 4095 (the average of a
  trigonometric polynomial of lower degree over those points is its integral), so the
  pairs have the exact Gaussian moments ``E z = 0``, ``E z_i z_j = delta_ij``,
  ``E z**4 = 3``... up to the radius's 20-bit resolution (``E z**2 = 1 - 1e-5``), while the
  angle costs two lookups in tables of 4096 floats instead of ``cos`` and ``sin``.
  ``|z| <= sqrt(40 log 2) ~ 5.27`` (the smallest ``u`` is ``2**-20``: the normal tail beyond
  it has probability ``1e-6``); the values are float32 numbers. This is several times faster
  than NumPy's ziggurat sampler (``standard_normal``).

The values do not depend on the block size (every block but the last is a whole number of
groups), nor on the dtype of the parameters they perturb: a float32 and a float64 network see
the same directions. NumPy's float32 ``log`` is vectorized per CPU, so Gaussian values may
differ in their last bit between machines with different SIMD sets (as BLAS results do); on
one machine they are reproducible bit for bit.
"""

from __future__ import annotations

import numpy as np

#: Entries of a direction generated at a time (a multiple of :data:`GROUP`): the passes keep
#: a few blocks of work arrays, never a parameter-sized one.
BLOCK = 1 << 15

#: Entries sharing the words of one Box-Muller group (a multiple of 64).
GROUP = 1024

#: A bound on ``|z|``: 1 for signs, ``sqrt(-2 log 2**-20) ~ 5.27`` (rounded up) for the
#: Box-Muller values. The perturbation grid is sized with it.
DIRECTION_BOUND: dict[str, float] = {"rademacher": 1.0, "gaussian": 6.0}

#: Angles of the Gaussian pairs, ``2 pi (k + 1/2) / ANGLES``: the low 12 bits of a value.
ANGLES = 4096
_RADIUS_BITS = 20  # the top bits of a value, that make the radius
_TURNS = 2.0 * np.pi * (np.arange(ANGLES) + 0.5) / ANGLES
_COS, _SIN = np.cos(_TURNS).astype(np.float32), np.sin(_TURNS).astype(np.float32)
_ONE = np.uint32(0x3F800000)  # bits of float32 1.0: OR-ed with 23 mantissa bits gives [1, 2)
#: Bit ``j`` of every byte value, least significant first: ``_BITS[b, j]``.
_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little") == 1


class Direction:
    """Direction ``k`` of the step with seed ``seed``, regenerated in order, block by block.

    :meth:`fill` writes the next entries; :meth:`seek` moves to any group of entries (each
    pass over the parameters starts with the first one; threads start at their chunk).
    """

    def __init__(self, distribution: str, seed: int, k: int, size: int) -> None:
        self.distribution = distribution
        self.size = size
        self._bits = np.random.PCG64(np.random.SeedSequence([seed, k]))
        self._start = self._bits.state
        self._position = 0
        self._table: tuple[np.floating, np.ndarray] | None = None

    def seek(self, entry: int) -> None:
        """Continue from ``entry`` (a multiple of :data:`GROUP`), e.g. 0 to start again."""
        if entry == self._position:
            return
        if entry % GROUP:
            raise ValueError(f"entry must be a multiple of {GROUP}; got {entry}.")
        self._bits.state = self._start
        words = entry // (64 if self.distribution == "rademacher" else 4)
        if words:
            self._bits.advance(words)
        self._position = entry

    def fill(self, out: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Write ``scale * z`` of the next ``len(out)`` entries into ``out`` (float32/64).

        ``len(out)`` must be a multiple of :data:`GROUP` except for the last entries of the
        direction. Rademacher entries are ``+-scale`` exactly (when ``scale`` is a float of
        ``out``'s dtype); Gaussian ones are the float32 ``z`` times ``scale``, rounded once
        in ``out``'s dtype.
        """
        count = len(out)
        if count % GROUP and self._position + count != self.size:
            raise ValueError(f"blocks must hold a multiple of {GROUP} entries; got {count}.")
        self._position += count
        value = out.dtype.type(scale)
        if self.distribution == "rademacher":
            words = self._bits.random_raw(-(-count // 64))
            bytes_ = np.asarray(words, dtype="<u8").view(np.uint8)
            table = self._sign_table(value)
            if count % 8 == 0:  # each byte gives 8 entries: one lookup of a table row
                np.take(table, bytes_[: count // 8], axis=0, out=out.reshape(-1, 8), mode="wrap")
            else:
                out[...] = table[bytes_].reshape(-1)[:count]
            return out
        groups = -(-count // GROUP)
        if groups * GROUP == count:
            self._box_muller(groups, out, value)
        else:  # the last, partial group
            whole = np.empty(groups * GROUP, dtype=out.dtype)
            out[...] = self._box_muller(groups, whole, value)[:count]
        return out

    def _sign_table(self, value: np.floating) -> np.ndarray:
        """``(256, 8)``: row ``b`` holds the entries ``+-value`` that byte ``b`` encodes."""
        if self._table is None or self._table[0] != value or self._table[1].dtype != value.dtype:
            signs = np.where(_BITS, -value, value).astype(value.dtype)  # bit set: -value
            self._table = (value, signs)
        return self._table[1]

    def _box_muller(self, groups: int, out: np.ndarray, scale: np.floating) -> np.ndarray:
        """``groups`` whole groups of Gaussian entries times ``scale`` into ``out``."""
        half = GROUP // 2
        words = self._bits.random_raw(groups * half // 2)
        values = np.asarray(words, dtype="<u8").view("<u4").reshape(groups, half)
        turns = np.bitwise_and(values, np.uint32(ANGLES - 1)).astype(np.intp)  # low 12 bits
        radius = np.right_shift(values, np.uint32(32 - _RADIUS_BITS))  # top 20 bits
        np.left_shift(radius, np.uint32(23 - _RADIUS_BITS), out=radius)
        np.bitwise_or(radius, _ONE, out=radius)
        radius = radius.view(np.float32)  # 1 + m * 2**-20 in [1, 2)
        np.subtract(np.float32(2.0), radius, out=radius)  # u in (0, 1]
        np.log(radius, out=radius)
        np.multiply(radius, np.float32(-2.0), out=radius)
        np.sqrt(radius, out=radius)
        pairs = out.reshape(groups, 2, half)
        for side, table in enumerate((_COS, _SIN)):  # float32 products, also into float64
            np.multiply(np.take(table, turns, mode="wrap"), radius, out=pairs[:, side])
        if scale != 1:
            np.multiply(out, scale, out=out)
        return out
