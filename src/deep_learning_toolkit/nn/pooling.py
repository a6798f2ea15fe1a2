"""Pooling layers: max and average over windows (1-D, 2-D), and the global average.

Inputs are channels-first, as in PyTorch: ``(N, C, L)`` for the 1-D layers, ``(N, C, H, W)``
for the 2-D ones. A window of ``kernel_size`` moves by ``stride`` (default: ``kernel_size``,
windows side by side) without padding, so an axis of length ``n`` gives
``(n - kernel_size) // stride + 1`` outputs, as ``torch.nn.MaxPool1d`` and friends do.

The layers have no parameters; the engine runs them on whole stacks of perturbed inputs
(``per_sample``: the samples do not interact). They accept complex inputs (the complex
step): max pooling picks each window's entry with the largest real part, which is the
entry it picks for the real input.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from ._checks import sample_shape_error, sizes
from .layer import Layer, register_layer


class _Pool(Layer):
    """Pooling over the last ``dims`` axes of channels-first inputs (see the module notes)."""

    dims = 1
    reduction = "max"

    def __init__(self, kernel_size: int | tuple[int, ...], stride: int | tuple | None = None):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = sizes(name, "kernel_size", kernel_size, self.dims)
        self.stride = (
            self.kernel_size if stride is None else sizes(name, "stride", stride, self.dims)
        )
        self._default_stride = stride is None

    @property
    def expected(self) -> str:
        """The per-sample shape the layer takes, in words."""
        return "(C, L)" if self.dims == 1 else "(C, H, W)"

    def input_shape(self) -> None:
        return None  # any number of channels and any size: known from the data

    def output_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) != self.dims + 1:
            raise sample_shape_error(self, self.expected, input_shape)
        return (input_shape[0], *self._spatial_output(tuple(input_shape)))

    def _spatial_output(self, sample: tuple) -> list[int | None]:
        """Output sizes of the pooled axes of samples of shape ``sample`` (channels first);
        ``ValueError`` if a kernel is larger than its axis."""
        out: list[int | None] = []
        for axis, (n, k, s) in enumerate(zip(sample[1:], self.kernel_size, self.stride)):
            if n is not None and n < k:
                where = "L" if self.dims == 1 else "HW"[axis]
                raise ValueError(
                    f"{self!r}: kernel size {k} is larger than the input along {where}: "
                    f"samples of shape {self.expected} = {sample} have {where} = {n}."
                )
            out.append(None if n is None else (n - k) // s + 1)
        return out

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The pooled batch ``(N, C, *out)``."""
        if x.ndim != self.dims + 2:
            raise sample_shape_error(self, self.expected, x.shape[1:])
        outs = self._spatial_output(x.shape[1:])
        windows = self._windows(x, outs)
        out = np.array(next(windows))  # a copy of the first window's entries
        if self.reduction == "mean":
            for window in windows:
                out += window
            out /= np.prod(self.kernel_size)
        elif np.iscomplexobj(out):
            for window in windows:
                out = np.where(window.real > out.real, window, out)
        else:
            for window in windows:
                np.maximum(out, window, out=out)
        return out

    def _windows(self, x: np.ndarray, outs: list) -> Iterator[np.ndarray]:
        """For each offset within the kernel, the strided view of the entries it covers."""
        for offset in itertools.product(*(range(k) for k in self.kernel_size)):
            yield x[
                (Ellipsis,)
                + tuple(
                    slice(o, o + s * (m - 1) + 1, s) for o, s, m in zip(offset, self.stride, outs)
                )
            ]

    def config(self) -> dict[str, object]:
        def plain(value: tuple[int, ...]) -> int | list[int]:
            return value[0] if len(set(value)) == 1 else list(value)

        stride = None if self._default_stride else plain(self.stride)
        return {"type": self.type_name, "kernel_size": plain(self.kernel_size), "stride": stride}


class MaxPool1D(_Pool):
    """Maximum over windows of ``kernel_size`` along ``L`` of ``(N, C, L)`` inputs.

    Parameters
    ----------
    kernel_size : int
    stride : int, optional
        Default: ``kernel_size``.
    """

    dims, reduction = 1, "max"


class MaxPool2D(_Pool):
    """Maximum over ``kernel_size`` windows of ``(N, C, H, W)`` inputs.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    """

    dims, reduction = 2, "max"


class AvgPool1D(_Pool):
    """Mean over windows of ``kernel_size`` along ``L`` of ``(N, C, L)`` inputs.

    Parameters
    ----------
    kernel_size : int
    stride : int, optional
        Default: ``kernel_size``.
    """

    dims, reduction = 1, "mean"


class AvgPool2D(_Pool):
    """Mean over ``kernel_size`` windows of ``(N, C, H, W)`` inputs.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    """

    dims, reduction = 2, "mean"


class GlobalAvgPool(Layer):
    """Mean over all spatial axes: ``(N, C, ...)`` to ``(N, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> import deep_learning_toolkit as dlt
    >>> dlt.GlobalAvgPool().forward(np.arange(8.0).reshape(1, 2, 4))
    array([[1.5, 5.5]])
    """

    def __init__(self) -> None:
        super().__init__()

    def input_shape(self) -> None:
        return None

    def output_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) < 2:
            raise sample_shape_error(self, "(C, L), (C, H, W) or (C, ...)", input_shape)
        return (input_shape[0],)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``x.mean`` over every axis after the channels."""
        if x.ndim < 3:
            raise sample_shape_error(self, "(C, L), (C, H, W) or (C, ...)", x.shape[1:])
        return x.mean(axis=tuple(range(2, x.ndim)))


for _cls in (MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D, GlobalAvgPool):
    register_layer(_cls)
