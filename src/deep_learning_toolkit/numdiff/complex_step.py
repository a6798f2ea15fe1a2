"""The complex-step derivative, for any complex-safe function and for Sequential models.

For a real-analytic ``f``,

.. math::  f(x + i h e_k) = f(x) + i h \\partial_k f(x) - \\frac{h^2}{2} \\partial_k^2 f(x)
           - i \\frac{h^3}{6} \\partial_k^3 f(x) + \\dots,

so ``Im f(x + i h e_k) / h`` is the partial derivative with error ``h**2 |f'''| / 6`` and
*no subtraction*: the step can be ``1e-20`` and the result is as accurate as ``f`` itself
(about ``eps``), at one evaluation per parameter.

``f`` must be written in complex-safe arithmetic: no ``abs``, ``float()``, comparisons or
``np.real`` of the perturbed values. The layers, activations and losses of the toolkit are:

==================  ======================================================================
tanh, linear        analytic
sigmoid             analytic: ``0.5 + 0.5 tanh(z / 2)``
softmax             analytic; the overflow shift uses the max of the *real* part
relu, leaky_relu    analytic except at 0: the branch is chosen on the real part, so at
                    exactly ``z = 0`` the derivative is the left one (0, or the slope), as
                    in PyTorch
cross_entropy       analytic; log-sum-exp shifted by the max of the real part
binary_cross_ent.   analytic; softplus written per branch of the real part
mse                 analytic
mae                 **not analytic** (``|r|``): refused with a ``ValueError``
==================  ======================================================================

References: W. Squire and G. Trapp, "Using complex variables to estimate derivatives of real
functions", SIAM Review 40 (1998) 110-112; J. R. R. A. Martins, P. Sturdza and J. J. Alonso,
"The complex-step derivative approximation", ACM TOMS 29 (2003) 245-262.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._validation import describe
from .engine import DEFAULT_MEMORY_BUDGET, forward_pass
from .stencils import COMPLEX_STEP
from .steps import resolve_steps

if TYPE_CHECKING:  # the models import numdiff, so numdiff names them only in annotations
    from ..nn.layers import Dense
    from ..nn.losses import Loss


def call_complex(f: Callable[[np.ndarray], object], z: np.ndarray, where: str) -> complex:
    """``f(z)`` for a complex ``z``, checked to be a complex scalar with finite parts."""
    value = f(z)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise TypeError(f"f must return a scalar; got {describe(value)} {where}.")
    if not isinstance(value, numbers.Complex) or isinstance(value, numbers.Real):
        raise TypeError(
            f"f returned a real value ({describe(value)}) for a complex input {where}: the "
            "complex step needs f written in complex-safe arithmetic (no abs, float(), "
            "np.real or comparisons of the input), returning a complex number."
        )
    value = complex(value)
    if not (np.isfinite(value.real) and np.isfinite(value.imag)):
        raise ValueError(f"f returned {value} {where}; the complex step needs finite values.")
    return value


def function_gradient(
    f: Callable[[np.ndarray], object], x: np.ndarray, steps: np.ndarray
) -> tuple[np.ndarray, int]:
    """Complex-step gradient of a complex-safe ``f`` at real ``x``.

    Parameters
    ----------
    f : callable
        ``f(z) -> complex`` for a complex array shaped like ``x``; the work array is modified
        in place between calls.
    x : ndarray
        Real point.
    steps : ndarray
        One step per entry, shaped like ``x``.

    Returns
    -------
    gradient : ndarray
    evaluations : int
        ``x.size``.
    """
    point = x.astype(np.complex128)
    flat_point = point.reshape(-1)
    flat_x = x.reshape(-1)
    flat_steps = steps.reshape(-1)
    grad = np.empty(x.size)
    for i in range(x.size):
        flat_point[i] = complex(flat_x[i], flat_steps[i])
        grad[i] = call_complex(f, point, f"at x + {flat_steps[i]:g}i*e_{i}").imag / flat_steps[i]
        flat_point[i] = flat_x[i]
    return grad.reshape(x.shape), x.size


def check_loss(loss: Loss, n_outputs: int) -> None:
    """Raise ``ValueError`` if ``loss`` cannot be differentiated by the complex step.

    Probes ``loss.batched`` with complex outputs: a loss that refuses them (``mae``) or drops
    their imaginary part (``abs``, comparisons) is reported here rather than giving a silent
    zero gradient.
    """
    labels = np.zeros(1) if loss.task == "classification" else np.zeros((1, n_outputs))
    targets = loss.prepare_targets(labels, n_outputs)
    columns = np.arange(n_outputs, dtype=np.float64)
    probe = (0.25 * columns + 1e-20j * (1.0 + columns))[None, :]
    value = np.asarray(loss.batched(probe, targets))  # mae raises its own ValueError here
    if not np.iscomplexobj(value) or value.imag == 0:
        raise ValueError(
            f"loss {loss.name!r} drops the imaginary part of complex outputs, so the complex "
            "step cannot differentiate it; use a finite-difference method."
        )


def _propagate(layers: Sequence[Dense], a: np.ndarray) -> np.ndarray:
    """Run complex activations ``a`` of shape (M, N, w) through ``layers``."""
    M, N, _ = a.shape
    for layer in layers:
        z = a.reshape(M * N, -1) @ layer.W
        z += layer.b
        a = layer.activation(z).reshape(M, N, -1)
    return a


def _chunk_size(layers: Sequence[Dense], l: int, n_samples: int, memory_budget: int) -> int:
    widest = max(layer.out_features for layer in layers[l:])
    per_parameter = n_samples * widest * 16 * 4  # ~4 live (M, N, width) complex128 arrays
    return max(1, int(memory_budget // per_parameter))


def complex_step_gradient(
    layers: Sequence[Dense],
    params: np.ndarray,
    X: np.ndarray,
    targets: np.ndarray,
    loss: Loss,
    steps: np.ndarray | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> tuple[float, np.ndarray, int]:
    """Loss and complex-step gradient of a stack of dense layers, batched over parameters.

    Parameter ``q`` of layer ``l`` is perturbed by ``i h_q``: only column ``j`` of the layer's
    pre-activation changes (by ``i h_q a_i``), so with an elementwise activation only one
    column of its output does, and the next pre-activation changes by a rank-1 term; from
    there the layers run in complex arithmetic on a batch of perturbations (a leading axis),
    and ``Im loss / h_q`` is the derivative.

    Parameters
    ----------
    layers : sequence of Dense
        The layers, whose parameters are views of ``params``.
    params : ndarray
        The flat parameter vector (read, never modified).
    X : ndarray
        Inputs (N, d).
    targets : ndarray
        Targets as returned by ``loss.prepare_targets``.
    loss : Loss
        Must be complex-safe (not ``mae``; see the module notes).
    steps : ndarray, optional
        One step per parameter; default ``1e-20 * max(1, |theta|)`` rounded to a power of two.
    memory_budget : int
        Bytes allowed for the complex arrays of one chunk.

    Returns
    -------
    loss_value : float
        Loss at ``params``.
    gradient : ndarray
        Laid out like ``params``.
    evaluations : int
        ``P`` complex loss evaluations plus the real one.
    """
    check_loss(loss, layers[-1].out_features)
    steps = resolve_steps(params, COMPLEX_STEP, steps)
    pre, act = forward_pass(layers, X)
    outputs = act[-1]
    value = float(loss.batched(outputs, targets))
    gradient = np.empty(params.size)
    n_samples = X.shape[0]
    ones = np.ones((1, n_samples))
    start = 0
    for l, layer in enumerate(layers):
        inputs_T = np.vstack([act[l].T, ones])  # (in + 1, N): the bias row is all ones
        last = l == len(layers) - 1
        block = _chunk_size(layers, l, n_samples, memory_budget)
        for lo in range(0, layer.num_parameters, block):
            q = np.arange(lo, min(lo + block, layer.num_parameters))
            h = steps[start + q]
            rows, cols = q // layer.out_features, q % layer.out_features
            m = np.arange(len(q))
            shift = 1j * h[:, None] * inputs_T[rows]  # change of z[:, col], (M, N)
            if not layer.activation.elementwise:
                z = np.repeat(pre[l][None].astype(np.complex128), len(q), axis=0)
                z[m, :, cols] += shift
                out = _propagate(layers[l + 1 :], layer.activation(z))
            else:
                column = layer.activation(pre[l].T[cols] + shift)  # (M, N)
                if last:
                    out = np.repeat(outputs[None].astype(np.complex128), len(q), axis=0)
                    out[m, :, cols] = column
                else:
                    following = layers[l + 1]
                    u = column - act[l + 1].T[cols]
                    z = pre[l + 1][None] + u[:, :, None] * following.W[cols][:, None, :]
                    out = _propagate(layers[l + 2 :], following.activation(z))
            gradient[start + q] = np.imag(loss.batched(out, targets)) / h
        start += layer.num_parameters
    return value, gradient, params.size + 1
