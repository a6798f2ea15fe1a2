"""Shifts of a block of parameters that are undone bit for bit, without a copy of the block.

:func:`apply_shift` computes ``a = x + d`` (or ``x - d``) and at once checks, bit by bit,
whether the shift that :func:`undo_shift` will apply later, ``a - d`` (or ``a + d``), gives
``x`` back. Where it does not (the rounding of ``x + d`` dropped low bits of ``x``: mostly
entries smaller than ``|d|``, or next to a power of two), it keeps those entries' indices and
original values, and :func:`undo_shift` writes them back after the reverse shift. The reverse
shift is computed by the same expression on the same ``a`` and the same regenerated ``d``, so
it rounds the same way as in the check: every entry comes back with its exact bits, ``-0.0``,
NaN payloads and entries flushed by denormal modes included.

See :mod:`deep_learning_toolkit.torch.zeroth_order` for why some entries must be kept.
"""

from __future__ import annotations

import torch

#: Integer dtype of the same width, to compare floating-point tensors bit by bit.
BITS: dict[torch.dtype, torch.dtype] = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.bfloat16: torch.int16,
    torch.float16: torch.int16,
}

#: Entries of a block that a shift could not give back: ``(indices, original values)``.
Lost = tuple[torch.Tensor, torch.Tensor]


def perturbation(z: torch.Tensor, scale: float, dtype: torch.dtype) -> torch.Tensor:
    """``d = scale * z`` in the parameters' dtype (rounded once, the same way on every pass)."""
    return (z * scale).to(dtype)


def _shifted(x: torch.Tensor, d: torch.Tensor, sign: int) -> torch.Tensor:
    """``x + d`` for ``sign > 0``, else ``x - d``: the one expression every pass uses."""
    return torch.add(x, d) if sign > 0 else torch.sub(x, d)


def apply_shift(x: torch.Tensor, d: torch.Tensor, sign: int) -> tuple[torch.Tensor, Lost | None]:
    """Return ``x + sign * d`` and the entries that ``undo_shift`` could not recover alone.

    Parameters
    ----------
    x : Tensor
        A 1-D block of parameters (not modified).
    d : Tensor
        The perturbation, same shape and dtype.
    sign : {1, -1}

    Returns
    -------
    shifted : Tensor
        A new tensor.
    lost : (indices, values) or None
        int32 indices into the block and the original values there, ``None`` when the reverse
        shift recovers every entry.
    """
    shifted = _shifted(x, d, sign)
    back = _shifted(shifted, d, -sign)
    bits = BITS[x.dtype]
    index = (back.view(bits) != x.view(bits)).nonzero().view(-1)
    if index.numel() == 0:
        return shifted, None
    return shifted, (index.to(torch.int32), x[index])


def undo_shift(
    shifted: torch.Tensor, d: torch.Tensor, sign: int, lost: Lost | None
) -> torch.Tensor:
    """The block ``x`` that ``apply_shift(x, d, sign)`` shifted, bit for bit (a new tensor)."""
    back = _shifted(shifted, d, -sign)
    if lost is not None:
        index, values = lost
        back[index] = values
    return back
