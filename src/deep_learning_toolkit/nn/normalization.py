"""Normalisation layers: ``BatchNorm`` (statistics over the batch) and ``LayerNorm`` (over
each sample's trailing axes), with PyTorch's parameters, defaults and conventions.

``BatchNorm(C)`` normalises axis 1 of ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)`` inputs:
in training mode with the mean and (biased) variance of the batch over every axis but the
channels, in inference mode with running statistics. These move once per training step,
from the unperturbed input of the step (``fit`` calls :meth:`BatchNorm.update_state`; the
perturbed evaluations of a finite difference never touch them), by PyTorch's rule
``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* batch
variance. They are saved with the model (``state_dict``), so a loaded model predicts and
resumes bit for bit.

In training mode a sample's output depends on the whole batch (``per_sample = False``):
:meth:`BatchNorm.forward_stack` computes the statistics of each batch of a stack of
perturbed batches separately. Both layers accept complex inputs (the complex step): the
variance is the mean of ``d * d``, not of ``|d|**2``, which keeps it analytic.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import positive_int, real_in, sample_shape_error, sizes
from .layer import Layer, register_layer


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps)`` with the (biased) statistics over ``axes``."""
    d = x - x.mean(axis=axes, keepdims=True)
    var = (d * d).mean(axis=axes, keepdims=True)
    d /= np.sqrt(var + eps)
    return d


class BatchNorm(Layer):
    """Batch normalisation over axis 1 (PyTorch's ``BatchNorm1d``/``BatchNorm2d``).

    Parameters
    ----------
    num_features : int
        The number of channels ``C`` (axis 1 of the input).
    momentum : float, default 0.1
        Weight of the batch in the running statistics (PyTorch's convention), in ``[0, 1]``.
    eps : float, default 1e-5
        Added to the variance.

    Notes
    -----
    Parameters in flat order: ``gamma (C,)`` (ones), ``beta (C,)`` (zeros). State (saved, not
    trained): ``running_mean`` (zeros) and ``running_var`` (ones).
    """

    per_sample = False
    has_state = True
    # Declared by add_parameter in __init__: views into the network's flat vector.
    gamma: np.ndarray
    beta: np.ndarray

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = positive_int("BatchNorm", "num_features", num_features)
        self.momentum = real_in("BatchNorm", "momentum", momentum, nonnegative=True, maximum=1.0)
        self.eps = real_in("BatchNorm", "eps", eps, positive=True)
        self.add_parameter("gamma", (self.num_features,), initializer="ones")
        self.add_parameter("beta", (self.num_features,), initializer="zeros")
        self.running_mean = np.zeros(self.num_features)
        self.running_var = np.ones(self.num_features)

    @property
    def expected(self) -> str:
        c = self.num_features
        return f"({c},), ({c}, L) or ({c}, H, W)"

    def input_shape(self) -> None:
        return None  # (C,), (C, L) or (C, H, W): known from the data

    def output_shape(self, input_shape: tuple) -> tuple:
        self._check(tuple(input_shape))
        return tuple(input_shape)

    def _check(self, sample: tuple) -> None:
        if not 1 <= len(sample) <= 3 or sample[0] not in (None, self.num_features):
            raise sample_shape_error(self, self.expected, sample)

    def _affine(self, z: np.ndarray, spatial: int) -> np.ndarray:
        """``gamma * z + beta`` along the channel axis (followed by ``spatial`` axes)."""
        tail = (1,) * spatial  # out of place: the parameters may be complex (complex step)
        return z * self.gamma.reshape(-1, *tail) + self.beta.reshape(-1, *tail)

    def _batch_axes(self, x: np.ndarray, lead: int) -> tuple[int, ...]:
        """The axes of the statistics (batch and spatial) of batches starting at ``lead``."""
        axes = (lead, *range(lead + 2, x.ndim))
        if math.prod(x.shape[a] for a in axes) < 2:
            raise ValueError(
                f"{self!r} needs more than one value per channel in training mode (batch "
                f"statistics); got a batch of shape {x.shape[lead:]}."
            )
        return axes

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Batch statistics in training mode, running statistics in inference mode."""
        self._check(x.shape[1:])
        return self._forward(x, training, lead=0)

    def forward_stack(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Each batch of the stack ``(M, N, C, ...)`` normalised by its own statistics."""
        self._check(x.shape[2:])
        return self._forward(x, training, lead=1)

    def _forward(self, x: np.ndarray, training: bool, lead: int) -> np.ndarray:
        spatial = x.ndim - lead - 2
        if training:
            z = _normalize(x, self._batch_axes(x, lead), self.eps)
        else:
            tail = (1,) * spatial
            z = x - self.running_mean.reshape(-1, *tail)
            z /= np.sqrt(self.running_var + self.eps).reshape(-1, *tail)
        return self._affine(z, spatial)

    def update_state(self, x: np.ndarray) -> None:
        """Move the running statistics toward those of the unperturbed batch ``x``."""
        self._check(x.shape[1:])
        axes = self._batch_axes(x, 0)
        n = x.size // self.num_features
        mean = x.mean(axis=axes)
        var = np.square(x - mean.reshape(-1, *(1,) * (x.ndim - 2))).sum(axis=axes) / (n - 1)
        m = self.momentum
        self.running_mean = m * mean + (1 - m) * self.running_mean
        self.running_var = m * var + (1 - m) * self.running_var

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean.copy(), "running_var": self.running_var.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        keys = {"running_mean", "running_var"}
        if set(state) != keys:
            raise ValueError(f"{self!r}: state must have keys {sorted(keys)}; got {sorted(state)}.")
        values = {key: np.asarray(value, dtype=np.float64) for key, value in state.items()}
        for key, value in values.items():
            if value.shape != (self.num_features,):
                raise ValueError(
                    f"{self!r}: {key} must have shape ({self.num_features},); got {value.shape}."
                )
        self.running_mean = values["running_mean"].copy()
        self.running_var = values["running_var"].copy()

    def config(self) -> dict[str, object]:
        return {
            "type": "BatchNorm",
            "num_features": self.num_features,
            "momentum": self.momentum,
            "eps": self.eps,
        }


class LayerNorm(Layer):
    """Normalisation of each sample over its trailing axes (PyTorch's ``LayerNorm``).

    Parameters
    ----------
    normalized_shape : int or tuple of int
        Shape of the trailing axes to normalise over, e.g. ``F`` for ``(N, F)`` or
        ``(N, L, F)`` inputs, ``(C, H, W)`` for whole images.
    eps : float, default 1e-5
        Added to the variance.

    Notes
    -----
    Parameters in flat order: ``gamma`` (ones), then ``beta`` (zeros), each of shape
    ``normalized_shape``.
    """

    # Declared by add_parameter in __init__: views into the network's flat vector.
    gamma: np.ndarray
    beta: np.ndarray

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5) -> None:
        super().__init__()
        given = normalized_shape
        dims = len(given) if isinstance(given, (list, tuple)) else 1
        if dims == 0:
            raise ValueError("LayerNorm: normalized_shape must not be empty; got ().")
        self.normalized_shape = sizes("LayerNorm", "normalized_shape", given, dims)
        self.eps = real_in("LayerNorm", "eps", eps, positive=True)
        self.add_parameter("gamma", self.normalized_shape, initializer="ones")
        self.add_parameter("beta", self.normalized_shape, initializer="zeros")

    @property
    def expected(self) -> str:
        shape = self.normalized_shape
        inner = ", ".join(str(s) for s in shape)
        return f"(..., {inner}) (ending with normalized_shape {shape})"

    def input_shape(self) -> None:
        return None

    def output_shape(self, input_shape: tuple) -> tuple:
        self._check(tuple(input_shape))
        return tuple(input_shape)

    def _check(self, sample: tuple) -> None:
        k = len(self.normalized_shape)
        tail = sample[len(sample) - k :]
        if len(sample) < k or any(s not in (None, e) for s, e in zip(tail, self.normalized_shape)):
            raise sample_shape_error(self, self.expected, sample)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``gamma * (x - mean) / sqrt(var + eps) + beta``, statistics of each sample."""
        self._check(x.shape[1:])
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        return _normalize(x, axes, self.eps) * self.gamma + self.beta

    def config(self) -> dict[str, object]:
        shape = self.normalized_shape
        return {
            "type": "LayerNorm",
            "normalized_shape": shape[0] if len(shape) == 1 else list(shape),
            "eps": self.eps,
        }


register_layer(BatchNorm)
register_layer(LayerNorm)
