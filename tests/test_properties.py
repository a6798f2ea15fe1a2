"""Property-based tests (hypothesis) of the finite-difference formulas.

* exactness: a formula of order ``p`` differentiates every polynomial of degree ``<= p``
  exactly (up to the rounding of the evaluations), and for ``x**(p+1)`` its error is exactly
  its leading truncation term ``C h**p (p+1)!``;
* linearity: ``D[a f + b g] = a D[f] + b D[g]`` up to rounding;
* agreement: on ``A sin(w x + phi)``, every method is within its rigorous error bound
  (Taylor remainder plus rounding) of the exact derivative, hence any two methods agree
  within the sum of their bounds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from deep_learning_toolkit import numdiff  # noqa: E402
from deep_learning_toolkit.numdiff import METHODS, STENCILS  # noqa: E402
from deep_learning_toolkit.numdiff.steps import default_steps  # noqa: E402

EPS = np.finfo(np.float64).eps
TINY = 2.0**-1000
EXAMPLES = settings(max_examples=60, deadline=None)

methods = st.sampled_from(METHODS)
points = st.floats(-4.0, 4.0, allow_nan=False)
coefficients = st.floats(-3.0, 3.0, allow_nan=False)
step_exponents = st.integers(-12, -3)


def horner(coefs: list[float], x: float) -> float:
    value = 0.0
    for c in reversed(coefs):
        value = value * x + c
    return value


def polynomial_derivative(coefs: list[float], x: float) -> float:
    return math.fsum(k * c * x ** (k - 1) for k, c in enumerate(coefs) if k)


def rounding_bound(stencil, scale: float, h: float) -> float:
    """Worst rounding error of ``sum w f(x + o h) / h`` when each ``f`` is off by ``scale``.

    ``TINY`` covers underflow (subnormal intermediate values have an absolute precision).
    """
    return stencil.noise_gain * (scale + TINY) / h


@EXAMPLES
@given(method=methods, data=st.data(), x=points, exponent=step_exponents)
def test_exact_on_polynomials_up_to_the_order(method, data, x, exponent):
    stencil = STENCILS[method]
    degree = data.draw(st.integers(0, stencil.order), label="degree")
    coefs = data.draw(st.lists(coefficients, min_size=degree + 1, max_size=degree + 1))
    h = 2.0**exponent
    estimate = numdiff.derivative(lambda t: horner(coefs, t), x, method, step=h)
    reach = abs(x) + 4 * h
    magnitude = sum(abs(c) * reach**k for k, c in enumerate(coefs))
    # Each Horner evaluation is off by at most ~2 * degree ulps of the magnitude, and x + o h
    # is rounded by half an ulp of x, which moves f by |f'| * eps * |x|.
    slope = sum(k * abs(c) * reach ** (k - 1) for k, c in enumerate(coefs) if k)
    scale = (4 * (degree + 1) * magnitude + 2 * slope * max(1.0, abs(x))) * EPS
    assert abs(estimate - polynomial_derivative(coefs, x)) <= rounding_bound(stencil, scale, h)


@EXAMPLES
@given(method=methods, x=points, exponent=st.integers(-5, -1))
def test_error_on_the_next_degree_is_the_leading_truncation_term(method, x, exponent):
    stencil = STENCILS[method]
    p, h = stencil.order, 2.0**exponent
    constant = float(stencil.formula.error_constant) * math.factorial(p + 1)
    estimate = numdiff.derivative(lambda t: t ** (p + 1), x, method, step=h)
    error = estimate - (p + 1) * x**p
    reach = abs(x) + 4 * h
    scale = 8 * (p + 2) * reach ** (p + 1) * EPS
    assert abs(error - constant * h**p) <= rounding_bound(stencil, scale, h)
    assert constant != 0  # the order is sharp: degree p + 1 is not differentiated exactly


@EXAMPLES
@given(
    method=methods,
    x=st.lists(points, min_size=1, max_size=5),
    a=coefficients,
    b=coefficients,
    exponent=step_exponents,
)
def test_linear_in_f(method, x, a, b, exponent):
    x = np.array(x)
    h = 2.0**exponent

    def f(v):
        return float(np.sum(np.sin(v) * v))

    def g(v):
        return float(np.sum(np.cos(2 * v)) + np.prod(v[:2]))

    def combined(v):
        return a * f(v) + b * g(v)

    stencil = STENCILS[method]
    d_f, d_g, d_combined = (numdiff.gradient(fn, x, method, step=h) for fn in (f, g, combined))
    n, reach = x.size, np.max(np.abs(x)) + 4 * h
    bound_f, bound_g = n * reach + 1, n + (reach**2 if n > 1 else 1)
    # a f + b g rounds once per term on top of f and g's own few-ulp errors.
    scale = 8 * n * (abs(a) * bound_f + abs(b) * bound_g) * EPS
    np.testing.assert_allclose(
        d_combined, a * d_f + b * d_g, rtol=0, atol=rounding_bound(stencil, scale, h)
    )


def error_bound(stencil, h: float, amplitude: float, frequency: float, x: float) -> float:
    """Rigorous bound on the error of a stencil at step ``h`` for ``A sin(w t + phi)``.

    Taylor's theorem with the Lagrange remainder of order ``p + 1``: since the formula is
    exact up to degree ``p``, the truncation error is at most
    ``sum |w_k| |o_k|**(p+1) h**p / (p+1)! * max |f^(p+1)|`` with
    ``max |f^(p+1)| = A w**(p+1)``; each evaluation of ``f`` is off by a few ulps of ``A``
    plus ``|f'| * eps * |x + o h|`` from rounding ``x + o h``.
    """
    p = stencil.order
    moment = sum(abs(w) * abs(o) ** (p + 1) for o, w in zip(stencil.offsets, stencil.weights))
    truncation = moment * h**p / math.factorial(p + 1) * amplitude * frequency ** (p + 1)
    reach = abs(x) + 4 * h
    scale = (4 * amplitude + 2 * amplitude * frequency * reach) * EPS
    return truncation + rounding_bound(stencil, scale, h)


@EXAMPLES
@given(
    x=points,
    amplitude=st.floats(0.1, 10.0),
    frequency=st.floats(0.1, 3.0),
    phase=st.floats(-math.pi, math.pi),
)
def test_methods_agree_within_their_error_bounds(x, amplitude, frequency, phase):
    def f(t):
        return amplitude * math.sin(frequency * t + phase)

    exact = amplitude * frequency * math.cos(frequency * x + phase)
    estimates, bounds = {}, {}
    for method in METHODS:
        stencil = STENCILS[method]
        h = float(default_steps(np.array([x]), stencil)[0])
        estimates[method] = numdiff.derivative(f, x, method)
        bounds[method] = error_bound(stencil, h, amplitude, frequency, x)
        assert abs(estimates[method] - exact) <= bounds[method], method
    for first in METHODS:
        for second in METHODS:
            gap = abs(estimates[first] - estimates[second])
            assert gap <= bounds[first] + bounds[second], (first, second)
    # The bounds are meaningful: the fourth-order formulas beat the first-order ones.
    assert bounds["five_point_midpoint"] < bounds["forward"] / 100
