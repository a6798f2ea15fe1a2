"""The complex-step derivative of any complex-safe function (for networks: ``gradients``).

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
from collections.abc import Callable

import numpy as np

from .._validation import describe


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
