"""Dense (fully connected) layers, with the engine hook that keeps their rank-1 structure.

A layer computes ``a = activation(x @ W + b)`` with ``W`` of shape ``(in, out)`` and ``b`` of
shape ``(out,)``; in the flat parameter vector ``W`` (C order) is followed by ``b``, which is
``W`` stacked on ``b`` as a last row: with a column of ones appended to the input, biases and
weights are perturbed alike.

Engine hook: a perturbation ``delta`` of ``W[i, j]`` (or ``b[j]``, with ``x_i = 1``) changes
only column ``j`` of ``z = x @ W + b``, by ``delta * x[:, i]``; with an elementwise activation
only column ``j`` of the output changes (a :class:`ColumnChange`). A column change of the
input changes ``z`` by the rank-1 ``outer(u, W[j])`` (a :class:`Rank1Change` when the
activation is linear).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_choice, check_int
from .activations import Activation, get_activation
from .layer import Layer, register_layer
from .perturbation import (
    BlockChange,
    Change,
    ColumnChange,
    FullChange,
    Rank1Change,
    Scratch,
    materialize,
)

#: Weight initialisations of ``Dense`` by name; ``"auto"`` picks the one the activation prefers.
INITIALIZERS = ("auto", "glorot_uniform", "he_normal")


@dataclass(frozen=True)
class DenseCache:
    """What the engine hook reuses within one gradient step."""

    x: np.ndarray  # input (N, in)
    pre: np.ndarray  # x @ W + b (N, out)
    out: np.ndarray  # activation(pre) (N, out)
    inputs_T: np.ndarray  # [x.T; ones] (in + 1, N): gathering a row is a contiguous copy
    pre_T: np.ndarray  # pre.T (out, N)
    out_T: np.ndarray  # out.T (out, N)


class Dense(Layer):
    """A fully connected layer.

    Parameters
    ----------
    in_features : int
        Width of the input.
    out_features : int
        Width of the output.
    activation : str, default "linear"
        One of ``linear``, ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``softmax``.
    init : str, default "auto"
        ``"glorot_uniform"`` (Glorot & Bengio, 2010), ``"he_normal"`` (He et al., 2015), or
        ``"auto"``: He for rectifiers, Glorot otherwise. Biases start at zero.
    """

    # Declared by add_parameter in __init__: views into the network's flat vector.
    W: np.ndarray
    b: np.ndarray

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | None = "linear",
        init: str = "auto",
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        self.activation: Activation = get_activation(activation)
        self.init = check_choice("init", init, INITIALIZERS)
        scheme = init
        if scheme == "auto":
            scheme = "he_normal" if self.activation.init == "he" else "glorot_uniform"
        self.add_parameter("W", (self.in_features, self.out_features), initializer=scheme)
        self.add_parameter("b", (self.out_features,), initializer="zeros")

    def input_shape(self) -> tuple[int]:
        return (self.in_features,)

    def output_shape(self, input_shape: tuple) -> tuple[int]:
        if tuple(input_shape) != (self.in_features,):
            raise ValueError(
                f"{self!r} expects inputs of shape ({self.in_features},); got {tuple(input_shape)}."
            )
        return (self.out_features,)

    def pre_activation(self, x: np.ndarray) -> np.ndarray:
        """``x @ W + b`` for ``x`` with any leading batch axes."""
        return x @ self.W + self.b

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``activation(x @ W + b)``."""
        return self.activation(self.pre_activation(x))

    def config(self) -> dict[str, object]:
        return {
            "type": "Dense",
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": self.activation.name,
            "init": self.init,
        }

    def __repr__(self) -> str:
        return (
            f"Dense({self.in_features}, {self.out_features}, activation={self.activation.name!r})"
        )

    # ------------------------------------------------------------------ engine hook
    def perturbed_width(self) -> int:
        """Per-sample entries of the output a perturbation of one parameter changes."""
        return 1 if self.activation.elementwise else self.out_features

    def perturbation_cache(self, x: np.ndarray, out: np.ndarray) -> DenseCache:
        pre = self.pre_activation(x)
        inputs_T = np.vstack([x.T, np.ones((1, x.shape[0]), dtype=x.dtype)])
        return DenseCache(
            x, pre, out, inputs_T, np.ascontiguousarray(pre.T), np.ascontiguousarray(out.T)
        )

    def perturb(
        self, cache: DenseCache, index: np.ndarray, deltas: np.ndarray, scratch: Scratch
    ) -> Change:
        """Output change for ``W``/``b`` entry ``index[m]`` moved by ``deltas[m]``."""
        rows, cols = np.divmod(index, self.out_features)
        M, N = len(index), cache.x.shape[0]
        dtype = np.result_type(cache.inputs_T, deltas)
        real = dtype == np.float64
        key = f"{id(self)}"
        shift = scratch(key + "shift", (M, N), dtype)
        if real:
            np.take(cache.inputs_T, rows, axis=0, out=shift)
        else:
            shift[...] = cache.inputs_T[rows]
        shift *= deltas[:, None]
        activation = self.activation
        if not activation.elementwise:
            z = np.repeat(cache.pre[None].astype(dtype), M, axis=0)
            z[np.arange(M), :, cols] += shift
            return FullChange(self._activate(z, real))
        if activation.name == "linear":
            return ColumnChange(cols, shift)
        u = scratch(key + "u", (M, N), dtype)
        if real:
            np.take(cache.pre_T, cols, axis=0, out=u)
        else:
            u[...] = cache.pre_T[cols]
        u += shift
        u = self._activate(u, real)
        u -= np.take(cache.out_T, cols, axis=0, out=shift) if real else cache.out_T[cols]
        return ColumnChange(cols, u)

    def propagate(self, cache: DenseCache, change: Change, scratch: Scratch) -> Change:
        """Output change for an input change: rank-1 for a column change, else a product."""
        key = f"{id(self)}"
        if isinstance(change, ColumnChange):
            u = change.u
            w_rows = self.W[change.columns]  # (M, out)
            if self.activation.name == "linear":
                return Rank1Change(u, w_rows)
            M, N = u.shape
            dtype = np.result_type(u, w_rows)
            z = scratch(key + "z", (M, N, self.out_features), dtype)
            np.multiply(u[:, :, None], w_rows[:, None, :], out=z)
            z += cache.pre
            return FullChange(self._activate(z, dtype == np.float64))
        if isinstance(change, BlockChange):  # columns starts[m] : starts[m] + S of x changed
            u = change.u
            M, N, S = u.shape
            w_blocks = self.W[change.starts[:, None] + np.arange(S)]  # (M, S, out)
            dtype = np.result_type(u, w_blocks)
            z = scratch(key + "block", (M, N, self.out_features), dtype)
            np.matmul(u, w_blocks, out=z)
            z += cache.pre
            return FullChange(self._activate(z, dtype == np.float64))
        a = materialize(change, cache.x)
        M, N = a.shape[:2]
        dtype = np.result_type(a, self.W)
        z = scratch(key + "full", (M * N, self.out_features), dtype)
        np.matmul(a.reshape(M * N, -1), self.W, out=z)
        z += self.b
        return FullChange(self._activate(z, dtype == np.float64).reshape(M, N, -1))

    def _activate(self, z: np.ndarray, real: bool) -> np.ndarray:
        """The activation of ``z``, in place for real float64 arrays."""
        if real:
            self.activation.in_place(z)
            return z
        return self.activation(z)


register_layer(Dense)
