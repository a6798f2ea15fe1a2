"""Convolution layers ``Conv1D`` and ``Conv2D``, channels-first, in PyTorch's layout.

A layer computes ``a = activation(conv(x, W) + b)`` (a cross-correlation, as in PyTorch) on
inputs ``(N, C, L)`` or ``(N, C, H, W)`` zero-padded by ``padding`` on each side, with kernels
``W`` of shape ``(out, in, k)`` or ``(out, in, kh, kw)`` followed by biases ``b`` of shape
``(out,)`` in the flat parameter vector: exactly ``torch.nn.Conv1d``/``Conv2d``'s ``weight``
and ``bias``.

Forward pass (im2col): the windows of the padded input are a strided view
(:func:`numpy.lib.stride_tricks.sliding_window_view`); they are copied once into a matrix
``P`` of shape ``(in * k, N * positions)`` and the pre-activation of the whole batch is one
matrix product ``W.reshape(out, -1) @ P + b``.

Engine hook: a perturbation ``delta`` of ``W[o, i, j...]`` changes only output channel ``o``,
whose pre-activation moves by ``delta`` times row ``(i, j...)`` of ``P`` (the slice of input
channel ``i`` seen through kernel offset ``j``, shifted by the stride); a bias ``b[o]`` moves
it by ``delta`` everywhere (a row of ones appended to ``P``). The perturbed outputs are the
unperturbed ones with channel ``o`` replaced by ``activation(pre[:, o] + delta * row)``, a
:class:`~deep_learning_toolkit.nn.perturbation.ChannelChange`: to the layers after it a plain
stack of outputs (recomputed by them, batched over the chunk), except to a convolution, whose
pre-activation then moves by the change ``u`` of that one channel convolved with the kernels
``W[:, i]`` of that one input channel (``in_channels`` times less work than its forward pass).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._validation import check_choice, check_int, describe
from .activations import Activation, get_activation
from .initializers import INITIALIZERS
from .layer import Layer, register_layer
from .perturbation import Change, ChannelChange, FullChange, Scratch

#: Kernel initialisations by name; ``"auto"``: He for rectifiers, Glorot otherwise.
CONV_INITIALIZERS = ("auto", *INITIALIZERS)

#: Names of the spatial axes, by number of spatial dimensions.
SPATIAL_AXES = {1: ("length",), 2: ("height", "width")}


@dataclass(frozen=True)
class ConvCache:
    """What the engine hook reuses within one gradient step."""

    rows: np.ndarray  # [P; ones] (in * k + 1, N * positions): a row gathers contiguously
    pre_T: np.ndarray  # W @ P + b (out, N * positions): channel-major pre-activation
    pre: np.ndarray  # the same, sample-major (N, out, positions)
    out: np.ndarray  # the layer's output (N, out, *spatial)
    out_T: np.ndarray  # the output, channel-major (out, N * positions)


def _sizes(layer: str, name: str, value: Any, n: int, minimum: int) -> tuple[int, ...]:
    """``value`` (an int, or ``n`` ints) as ``n`` ints ``>= minimum``, else a clear error."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values: tuple[Any, ...] = (value,) * n
    elif isinstance(value, (tuple, list)) and len(value) == n:
        values = tuple(value)
    else:
        values = ()
    if not values or any(
        isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values
    ):
        what = "an integer" if n == 1 else f"an integer or a tuple of {n} integers"
        raise TypeError(f"{layer}: {name} must be {what}; got {describe(value)}.")
    if any(v < minimum for v in values):
        raise ValueError(f"{layer}: {name} must be >= {minimum}; got {describe(value)}.")
    return tuple(int(v) for v in values)


class _Conv(Layer):
    """Shared implementation of ``Conv1D`` and ``Conv2D`` (``spatial`` = 1 or 2)."""

    spatial = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        activation: str | None = "linear",
        init: str = "auto",
    ) -> None:
        super().__init__()
        name, n = type(self).__name__, self.spatial
        self.in_channels = check_int(f"{name}: in_channels", in_channels, minimum=1)
        self.out_channels = check_int(f"{name}: out_channels", out_channels, minimum=1)
        self.kernel_size = _sizes(name, "kernel_size", kernel_size, n, 1)
        self.stride = _sizes(name, "stride", stride, n, 1)
        self.padding = _sizes(name, "padding", padding, n, 0)
        self.activation: Activation = get_activation(activation)
        self.init = check_choice("init", init, CONV_INITIALIZERS)
        scheme = init
        if scheme == "auto":
            scheme = "he_normal" if self.activation.init == "he" else "glorot_uniform"
        kernel = (self.out_channels, self.in_channels, *self.kernel_size)
        self.add_parameter("W", kernel, initializer=scheme)
        self.add_parameter("b", (self.out_channels,), initializer="zeros")

    # ------------------------------------------------------------------ shapes
    def _expected(self) -> str:
        return f"(in_channels={self.in_channels}, {', '.join(SPATIAL_AXES[self.spatial])})"

    def input_shape(self) -> None:
        """Unknown until data (or ``Sequential(..., input_shape=...)``) gives the sizes."""
        return None

    def output_shape(self, input_shape: tuple) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != 1 + self.spatial:
            raise ValueError(
                f"{self!r} expects samples of shape {self._expected()} (batches of "
                f"{2 + self.spatial} dimensions); got samples of shape {shape}."
            )
        if shape[0] is not None and shape[0] != self.in_channels:
            raise ValueError(
                f"{self!r} expects {self.in_channels} input channel(s), samples of shape "
                f"{self._expected()}; got {shape[0]} channel(s) in shape {shape}."
            )
        sizes: list[int | None] = []
        axes = zip(SPATIAL_AXES[self.spatial], shape[1:], self.kernel_size, self.stride)
        for (axis, size, k, s), p in zip(axes, self.padding):
            if size is None:
                sizes.append(None)
                continue
            if k > size + 2 * p:
                raise ValueError(
                    f"{self!r}: kernel {axis} {k} is larger than the padded input {axis} "
                    f"{size + 2 * p} ({size} + 2 * padding {p}) of samples of shape {shape}."
                )
            sizes.append((size + 2 * p - k) // s + 1)
        return (self.out_channels, *sizes)

    # ------------------------------------------------------------------ forward
    @property
    def patch_size(self) -> int:
        """Entries of one window: ``in_channels * prod(kernel_size)``."""
        return self.in_channels * math.prod(self.kernel_size)

    def _padded(self, x: np.ndarray, buffer: np.ndarray | None = None) -> np.ndarray:
        """``x`` with zeros around its spatial (last) axes; written into ``buffer`` if given."""
        if not any(self.padding):
            return x
        if buffer is None:
            return np.pad(x, [(0, 0)] * (x.ndim - self.spatial) + [(p, p) for p in self.padding])
        buffer.fill(0)
        inner = (slice(p, p + n) for p, n in zip(self.padding, x.shape[-self.spatial :]))
        buffer[(..., *inner)] = x
        return buffer

    def _strided(self, padded: np.ndarray) -> np.ndarray:
        """View ``(a, b, *positions, *kernel)`` of the windows of ``padded`` ``(a, b, *space)``."""
        axes = tuple(range(2, 2 + self.spatial))
        windows = sliding_window_view(padded, self.kernel_size, axis=axes)
        return windows[(slice(None), slice(None), *(slice(None, None, t) for t in self.stride))]

    def _windows(self, x: np.ndarray) -> np.ndarray:
        """Strided view ``(in, *kernel, N, *positions)`` of the windows of the padded ``x``."""
        self.output_shape(x.shape[1:])  # a misfit raises, naming the layer and the shapes
        s = self.spatial
        windows = self._strided(self._padded(x))
        return windows.transpose(1, *range(2 + s, 2 + 2 * s), 0, *range(2, 2 + s))

    def _pre_T(self, patches: np.ndarray) -> np.ndarray:
        """``W @ patches + b``: channel-major pre-activations ``(out, N * positions)``."""
        pre = self.W.reshape(self.out_channels, -1) @ patches
        pre += self.b[:, None]
        return pre

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``activation(conv(x, W) + b)`` for ``x`` of shape ``(N, in, *spatial)``."""
        windows = self._windows(x)
        positions = windows.shape[1 + self.spatial :]
        patches = np.ascontiguousarray(windows).reshape(self.patch_size, -1)
        pre = self._pre_T(patches).reshape(self.out_channels, *positions)
        out = np.ascontiguousarray(pre.swapaxes(0, 1))
        return self._activate(out)

    def _activate(self, z: np.ndarray) -> np.ndarray:
        """The activation of ``z`` (over the last axis for softmax), in place when real."""
        if z.dtype == np.float64:
            self.activation.in_place(z)
            return z
        return self.activation(z)

    # ------------------------------------------------------------------ saving
    def config(self) -> dict[str, object]:
        def compact(values: tuple[int, ...]) -> int | list[int]:
            return values[0] if len(set(values)) == 1 else list(values)

        return {
            "type": self.type_name,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": compact(self.kernel_size),
            "stride": compact(self.stride),
            "padding": compact(self.padding),
            "activation": self.activation.name,
            "init": self.init,
        }

    def __repr__(self) -> str:
        config = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in self.config().items()
        }
        defaults = {"stride": 1, "padding": 0, "activation": "linear", "init": "auto"}
        shown = [f"{config[k]!r}" for k in ("in_channels", "out_channels", "kernel_size")]
        shown += [f"{k}={config[k]!r}" for k, v in defaults.items() if config[k] != v]
        return f"{self.type_name}({', '.join(shown)})"

    # ------------------------------------------------------------------ engine hook
    def perturbation_cache(self, x: np.ndarray, out: np.ndarray) -> ConvCache:
        windows = self._windows(x)
        rows = np.empty((self.patch_size + 1, out.shape[0] * math.prod(out.shape[2:])), x.dtype)
        rows[:-1].reshape(windows.shape)[...] = windows
        rows[-1] = 1.0
        out_T = np.ascontiguousarray(out.swapaxes(0, 1)).reshape(self.out_channels, -1)
        pre_T = self._pre_T(rows[:-1])
        pre = np.ascontiguousarray(pre_T.reshape(self.out_channels, len(x), -1).swapaxes(0, 1))
        return ConvCache(rows, pre_T, pre, out, out_T)

    def perturb(
        self, cache: ConvCache, index: np.ndarray, deltas: np.ndarray, scratch: Scratch
    ) -> ChannelChange:
        """Outputs with ``W``/``b`` entry ``index[m]`` moved by ``deltas[m]``: one channel each."""
        index = np.asarray(index)
        n_weights = self.out_channels * self.patch_size
        bias = index >= n_weights
        channels = np.where(bias, index - n_weights, index // self.patch_size)
        rows = np.where(bias, self.patch_size, index % self.patch_size)
        M, out = len(index), cache.out
        dtype = np.result_type(cache.rows, deltas)
        real = dtype == np.float64
        key = f"{id(self)}"
        shift = scratch(key + "shift", (M, cache.rows.shape[1]), dtype)
        z = scratch(key + "z", shift.shape, dtype)
        if real:
            np.take(cache.rows, rows, axis=0, out=shift)
            np.take(cache.pre_T, channels, axis=0, out=z)
        else:
            shift[...] = cache.rows[rows]
            z[...] = cache.pre_T[channels]
        shift *= deltas[:, None]
        z += shift
        per_channel = (M, out.shape[0], *out.shape[2:])
        changed = self._activate(z.reshape(per_channel))
        values = scratch(key + "values", (M, *out.shape), dtype)
        values[...] = out
        values[np.arange(M), :, channels] = changed
        if real:
            np.take(cache.out_T, channels, axis=0, out=shift)
        else:
            shift[...] = cache.out_T[channels]
        u = np.subtract(changed, shift.reshape(per_channel), out=shift.reshape(per_channel))
        return ChannelChange(values, channels, u)

    def propagate(self, cache: ConvCache, change: Change, scratch: Scratch) -> Change | None:
        """Outputs for an input whose channel ``i[m]`` changes by ``u[m]``: the pre-activation
        moves by ``conv(u[m], W[:, i[m]])``, one input channel's work instead of all of them.
        ``None`` (the generic path) for any other change."""
        if not isinstance(change, ChannelChange):
            return None
        u, out = change.u, cache.out
        M, N, s = len(u), len(out), self.spatial
        dtype = np.result_type(u, self.W)
        key = f"{id(self)}"
        space = tuple(n + 2 * p for n, p in zip(u.shape[2:], self.padding))
        buffer = scratch(key + "padded", (M, N, *space), dtype) if any(self.padding) else None
        windows = self._strided(self._padded(u, buffer))  # (M, N, *positions, *kernel)
        k, width = math.prod(self.kernel_size), cache.rows.shape[1]
        patches = scratch(key + "patches", (M, k, width), dtype)
        patches.reshape(M, *self.kernel_size, N, *out.shape[2:])[...] = windows.transpose(
            0, *range(2 + s, 2 + 2 * s), 1, *range(2, 2 + s)
        )
        kernels = self.W.reshape(self.out_channels, self.in_channels, k)[:, change.channels]
        z = scratch(key + "propagated_z", (M, self.out_channels, width), dtype)
        np.matmul(kernels.transpose(1, 0, 2), patches, out=z)
        values = scratch(key + "propagated", (M, *out.shape), dtype)
        change_by_sample = z.reshape(M, self.out_channels, N, -1).swapaxes(1, 2)
        np.add(change_by_sample, cache.pre, out=values.reshape(M, N, self.out_channels, -1))
        return FullChange(self._activate(values))


class Conv1D(_Conv):
    """A 1-D convolution over inputs ``(N, in_channels, length)``, as ``torch.nn.Conv1d``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int
        Width of the kernel.
    stride : int, default 1
        Step between windows.
    padding : int, default 0
        Zeros added at each end of the length.
    activation : str, default "linear"
        One of ``linear``, ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``softmax`` (over
        the length axis).
    init : str, default "auto"
        Kernel initialiser (fans as PyTorch's: ``in_channels * kernel_size`` and
        ``out_channels * kernel_size``): ``"auto"`` is ``he_normal`` for rectifiers and
        ``glorot_uniform`` otherwise, or any name of
        :data:`~deep_learning_toolkit.nn.initializers.INITIALIZERS`. Biases start at zero.

    Notes
    -----
    Parameters in flat order: ``W`` of shape ``(out_channels, in_channels, kernel_size)``,
    then ``b`` of shape ``(out_channels,)``; the output length is
    ``(length + 2 * padding - kernel_size) // stride + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> import deep_learning_toolkit as dlt
    >>> conv = dlt.nn.Conv1D(2, 4, kernel_size=3, stride=2, padding=1)
    >>> model = dlt.Sequential([conv], input_shape=(2, 9))
    >>> model.forward(np.ones((5, 2, 9))).shape
    (5, 4, 5)
    """

    spatial = 1


class Conv2D(_Conv):
    """A 2-D convolution over inputs ``(N, in_channels, height, width)``, as ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int or (int, int)
        Height and width of the kernel (one int: a square kernel).
    stride : int or (int, int), default 1
        Steps between windows along the height and the width.
    padding : int or (int, int), default 0
        Zeros added at each side of the height and of the width.
    activation : str, default "linear"
        As for :class:`Conv1D` (``softmax`` acts over the width axis).
    init : str, default "auto"
        As for :class:`Conv1D`; fans are multiplied by ``kh * kw``.

    Notes
    -----
    Parameters in flat order: ``W`` of shape ``(out_channels, in_channels, kh, kw)``, then
    ``b`` of shape ``(out_channels,)``.

    Examples
    --------
    >>> import numpy as np
    >>> import deep_learning_toolkit as dlt
    >>> conv = dlt.nn.Conv2D(1, 6, kernel_size=3, padding=1, activation="relu")
    >>> model = dlt.Sequential([conv], input_shape=(1, 8, 8))
    >>> model.forward(np.ones((2, 1, 8, 8))).shape
    (2, 6, 8, 8)
    """

    spatial = 2


register_layer(Conv1D)
register_layer(Conv2D)
