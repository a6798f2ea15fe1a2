"""Seed-replayed random directions for the PyTorch zeroth-order optimizer.

Direction ``k`` of step ``t`` for parameter ``j`` (its position in the optimizer's parameter
groups) comes from a :class:`torch.Generator` on the parameter's device seeded with
:func:`direction_seed`, a pure function of ``(seed, t, k, j)``. The direction is never stored:
it is drawn again, block by block of :data:`BLOCK` entries in the parameter's flat (row-major)
order, for every pass that needs it. Each pass rewinds by seeding a fresh generator, so every
pass draws the same values, and a run resumed from a ``state_dict`` draws the directions an
uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .._validation import check_int

#: Directions: Rademacher ``+-1`` entries (SPSA) or standard normal ones.
METHODS: tuple[str, ...] = ("spsa", "gaussian")

#: Entries of a parameter handled at a time: bounds the temporaries of a pass (a few blocks).
BLOCK = 1 << 20

_MASK64 = (1 << 64) - 1


def _mix(word: int) -> int:
    """SplitMix64's finaliser: a bijection of 64-bit words that scrambles every bit."""
    word = (word + 0x9E3779B97F4A7C15) & _MASK64
    word = ((word ^ (word >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    word = ((word ^ (word >> 27)) * 0x94D049BB133111EB) & _MASK64
    return word ^ (word >> 31)


def direction_seed(seed: int, step: int, k: int, index: int) -> int:
    """The 63-bit generator seed of direction ``k`` of ``step`` for parameter ``index``.

    Parameters
    ----------
    seed : int
        The optimizer's base seed (>= 0).
    step : int
        Number of the step, 1 for the first.
    k : int
        Index of the direction within the step.
    index : int
        Position of the parameter in the optimizer's parameter groups.

    Returns
    -------
    int
    """
    words = [(n, w) for n, w in (("seed", seed), ("step", step), ("k", k), ("index", index))]
    return mixed_seed(*(check_int(name, word, minimum=0, maximum=_MASK64) for name, word in words))


def mixed_seed(*words: int) -> int:
    """:func:`direction_seed` of words already checked (the optimizer's own, per block)."""
    state = 0
    for word in words:
        state = _mix(state ^ word)
    return state >> 1


def generation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype directions are drawn in: float64 for float64 parameters, else float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def blocks(numel: int, contiguous: bool = True) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of the blocks of a parameter (one block if it is not contiguous)."""
    size = BLOCK if contiguous else max(numel, 1)
    for start in range(0, numel, size):
        yield start, min(start + size, numel)


class DirectionStream:
    """Direction ``k`` of one step for one parameter, drawn block after block.

    Parameters
    ----------
    method : {"spsa", "gaussian"}
    seed : int
        From :func:`direction_seed`.
    dtype : torch.dtype
        Dtype of the draws (:func:`generation_dtype` of the parameter's).
    device : torch.device
        The parameter's device; the generator lives there.
    """

    def __init__(self, method: str, seed: int, dtype: torch.dtype, device: torch.device) -> None:
        self.method = method
        self.dtype = dtype
        self.device = device
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def draw(self, size: int) -> torch.Tensor:
        """The next ``size`` entries of the direction (a new 1-D tensor)."""
        if self.method == "spsa":
            z = torch.randint(
                0, 2, (size,), generator=self.generator, device=self.device, dtype=self.dtype
            )
            return z.mul_(2).sub_(1)  # exactly +-1
        return torch.randn(size, generator=self.generator, device=self.device, dtype=self.dtype)


def direction(
    method: str, seed: int, step: int, k: int, index: int, like: torch.Tensor
) -> torch.Tensor:
    """Materialise direction ``k`` of ``step`` for parameter ``index`` (shaped like ``like``).

    The optimizer never holds a whole direction; it draws these same values block by block.
    Values are in :func:`generation_dtype` of ``like.dtype``, on ``like.device``.
    """
    stream = DirectionStream(
        method, direction_seed(seed, step, k, index), generation_dtype(like.dtype), like.device
    )
    parts = [stream.draw(stop - start) for start, stop in blocks(like.numel(), _flat_ok(like))]
    if not parts:
        return torch.empty(like.shape, dtype=stream.dtype, device=like.device)
    return torch.cat(parts).view(like.shape)


def _flat_ok(tensor: torch.Tensor) -> bool:
    """Whether the blocks of ``tensor`` can be views of its storage (it is contiguous)."""
    return tensor.is_contiguous()
