"""numdiff.derivative of any order and numdiff.directional_derivative: closed-form derivatives
of elementary functions at orders 1-4 for every method, error estimates that bound the error,
the adaptive step against numdifftools, scipy as a reference, vectorized f, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from deep_learning_toolkit import numdiff
from deep_learning_toolkit.numdiff import DerivativeResult, derivative, directional_derivative
from deep_learning_toolkit.numdiff.known_derivatives import ELEMENTARY
from deep_learning_toolkit.numdiff.steps import nearest_power_of_two

#: The reference table, without log10 (its values need looser tolerances than these tests use).
FUNCTIONS = {name: row for name, row in ELEMENTARY.items() if name != "log10"}
POINTS = (0.2, 0.5, 0.7)
CASES = [(name, x) for name in FUNCTIONS for x in POINTS]

#: Largest relative error (to max(1, |f^(n)|)) at the default steps, for n = 1..4: about ten
#: times the largest measured on the table above.
TOLERANCE = {
    "forward": (1e-6, 1e-3, 3e-2, 3e-1),
    "backward": (1e-6, 1e-3, 3e-2, 3e-1),
    "three_point_endpoint": (1e-8, 3e-5, 2e-3, 5e-2),
    "three_point_midpoint": (2e-9, 2e-6, 2e-4, 4e-3),
    "five_point_endpoint": (2e-9, 1e-5, 1e-3, 4e-2),
    "five_point_midpoint": (3e-10, 2e-7, 3e-5, 6e-4),
    "complex_step": (3e-15, 5e-10),
}
ADAPTIVE_TOLERANCE = (3e-13, 1e-10, 2e-8, 1e-6)


def relative_errors(estimates: dict, n: int) -> np.ndarray:
    out = []
    for (name, x), value in estimates.items():
        truth = FUNCTIONS[name][1][n - 1](x)
        out.append(abs(value - truth) / max(1.0, abs(truth)))
    return np.array(out)


# --------------------------------------------------------------------- accuracy at orders 1-4
@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("method", list(TOLERANCE))
def test_closed_forms_at_the_default_steps(method: str, n: int) -> None:
    if n > len(TOLERANCE[method]):
        with pytest.raises(ValueError, match="n=1 and n=2"):
            derivative(np.sin, 0.5, method, n=n)
        return
    complex_safe = {"sqrt": np.sqrt, "log": np.log}  # numpy's complex versions are analytic
    estimates = {}
    for name, x in CASES:
        f = FUNCTIONS[name][0]
        estimates[name, x] = derivative(complex_safe.get(name, f), x, method, n=n)
    assert np.max(relative_errors(estimates, n)) <= TOLERANCE[method][n - 1]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_adaptive_step_reaches_near_machine_accuracy(n: int) -> None:
    estimates = {
        (name, x): derivative(FUNCTIONS[name][0], x, n=n, step="adaptive") for name, x in CASES
    }
    assert np.max(relative_errors(estimates, n)) <= ADAPTIVE_TOLERANCE[n - 1]


@pytest.mark.parametrize("step", [None, "adaptive"])
@pytest.mark.parametrize("method", ["three_point_midpoint", "five_point_midpoint", "forward"])
def test_error_estimates_bound_the_actual_error(method: str, step) -> None:
    for n in (1, 2, 3, 4):
        # Never below the actual error; never far above what the method achieves.
        ceiling = TOLERANCE[method][n - 1]
        for name, x in CASES:
            f, derivatives = FUNCTIONS[name]
            result = derivative(f, x, method, step, n=n, full_output=True)
            truth = derivatives[n - 1](x)
            actual = abs(result.estimate[0] - truth)
            assert actual <= result.error[0], (name, x, n)
            assert result.error[0] <= 100 * ceiling * max(1, abs(truth)), (name, x, n)


def test_complex_step_error_estimates_bound_the_error() -> None:
    for n in (1, 2):
        for name, x in CASES:
            f = {"sqrt": np.sqrt, "log": np.log}.get(name, FUNCTIONS[name][0])
            result = derivative(f, x, "complex_step", n=n, full_output=True)
            actual = abs(result.estimate[0] - FUNCTIONS[name][1][n - 1](x))
            assert actual <= result.error[0], (name, x, n)


# --------------------------------------------------------------------- orders of the formulas
#: First of three halving steps where truncation dominates, by order of accuracy, for
#: exp(x / 4) (its derivatives shrink fast, so the leading error term is soon alone).
FIRST_STEP = {1: 2.0**-5, 2: 2.0**-3, 4: 2.0**-1}


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("method", numdiff.METHODS)
def test_measured_convergence_order_of_the_higher_derivative_formulas(method, n) -> None:
    order = numdiff.axis_rule(method, n).order
    steps = FIRST_STEP[order] / 2.0 ** np.arange(3)
    exact = 0.25**n * np.exp(0.1)
    f = lambda t: np.exp(t / 4)  # noqa: E731
    errors = np.array([abs(derivative(f, 0.4, method, h, n=n) - exact) for h in steps])
    np.testing.assert_allclose(np.log2(errors[:-1] / errors[1:]), order, atol=0.35)


def test_complex_second_derivative_is_fourth_order() -> None:
    f, derivatives = FUNCTIONS["exp(sin)"]
    steps = 2.0**-1 / 2.0 ** np.arange(4)
    errors = [abs(derivative(f, 0.4, "cs", h, n=2) - derivatives[1](0.4)) for h in steps]
    np.testing.assert_allclose(np.log2(np.divide(errors[:-1], errors[1:])), 4, atol=0.35)


# --------------------------------------------------------------------- numdifftools and scipy
def test_adaptive_is_as_accurate_as_numdifftools_with_fewer_evaluations() -> None:
    import numdifftools as nd  # the test extra installs it

    for n in (1, 2, 3, 4):
        ours, theirs = {}, {}
        for name, x in CASES:
            f = FUNCTIONS[name][0]
            calls = []
            result = derivative(f, x, n=n, step="adaptive", full_output=True)
            theirs[name, x] = nd.Derivative(lambda t, f=f, c=calls: c.append(1) or f(t), n=n)(x)
            ours[name, x] = result.estimate[0]
            assert result.evaluations <= len(calls), (name, x, n)
        mine, reference = relative_errors(ours, n), relative_errors(theirs, n)
        assert np.median(mine) <= np.median(reference)
        assert np.max(mine) <= 3 * np.max(reference)


def test_first_derivatives_agree_with_scipy() -> None:
    import scipy.differentiate as sd
    from scipy.optimize._numdiff import approx_derivative

    for name, x in CASES:
        f, derivatives = FUNCTIONS[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            reference = sd.derivative(f, x)
        ours = derivative(f, x, step="adaptive", full_output=True)
        if reference.success:
            assert abs(ours.estimate[0] - reference.df) <= ours.error[0] + reference.error
        else:  # scipy's first steps (0.5, order 8) leave the domain of f; ours drops them
            with np.errstate(invalid="ignore", divide="ignore"):
                assert np.isnan(f(x + 0.5 * np.arange(-4, 5))).any(), name
            truth = derivatives[0](x)
            assert abs(ours.estimate[0] - truth) <= ADAPTIVE_TOLERANCE[0] * abs(truth)
        # scipy's method names are aliases here; its steps differ, so compare to the accuracy.
        for method, tolerance in (("2-point", 1e-6), ("3-point", 1e-8)):
            theirs = approx_derivative(lambda v, f=f: f(v[0]), np.array([x]), method=method)
            assert abs(derivative(f, x, method) - theirs[0]) <= tolerance * max(1, abs(theirs[0]))


def test_scipy_method_names_are_aliases() -> None:
    f = FUNCTIONS["exp(sin)"][0]
    assert derivative(f, 0.3, "2-point") == derivative(f, 0.3, "forward")
    assert derivative(f, 0.3, "3-point") == derivative(f, 0.3, "three_point_midpoint")
    assert derivative(np.sin, 0.3, "cs") == derivative(np.sin, 0.3, "complex_step")


# --------------------------------------------------------------------- API details
def test_an_integer_third_argument_is_the_order() -> None:
    assert derivative(np.sin, 0.5, 2) == derivative(np.sin, 0.5, n=2)
    assert derivative(np.sin, 0.5, 2) == derivative(np.sin, 0.5, "three_point_midpoint", n=2)
    with pytest.raises(TypeError, match="derivative got n twice"):
        derivative(np.sin, 0.5, 2, n=3)


def test_full_output_bookkeeping() -> None:
    calls = []
    result = derivative(lambda t: calls.append(t) or np.exp(t), 1.0, n=2, full_output=True)
    assert isinstance(result, DerivativeResult)
    assert result.method == "three_point_midpoint(n=2)"
    assert result.estimate.shape == result.error.shape == result.steps.shape == (1,)
    # (-1, 0, 1) at h and 2h: f(x) once, four perturbed points.
    assert result.evaluations == len(calls) == 5
    assert result.value == np.exp(1.0)
    assert result.steps[0] == nearest_power_of_two(numdiff.axis_rule("central", 2).default_step)


def test_vectorized_f_gets_all_points_in_one_call() -> None:
    calls = []

    def f(points: np.ndarray) -> np.ndarray:
        calls.append(points.shape)
        return np.exp(np.sin(points))

    for n in (1, 2, 4):
        calls.clear()
        batched = derivative(f, 0.4, n=n, vectorized=True)
        assert len(calls) == 1 and len(calls[0]) == 1  # one call with a 1-D array of points
        assert batched == derivative(lambda t: f(np.array([t]))[0], 0.4, n=n)
    calls.clear()
    adaptive = derivative(f, 0.4, step="adaptive", vectorized=True, full_output=True)
    assert len(calls) < adaptive.evaluations  # one call per step of the search


def test_adaptive_skips_steps_outside_the_domain() -> None:
    # log at 0.1: the first steps reach x - H < 0, where log is NaN; the search drops them.
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = derivative(np.log, 0.1, n=2, step="adaptive")
    assert estimate == pytest.approx(-100.0, rel=1e-9)


# --------------------------------------------------------------------- directional derivative
def bowl(v: np.ndarray) -> float:
    return float(np.sum(np.exp(np.sin(v))) + v[0] * v[1] ** 2)


def bowl_gradient(v: np.ndarray) -> np.ndarray:
    g = np.cos(v) * np.exp(np.sin(v))
    return g + np.array([v[1] ** 2, 2 * v[0] * v[1], 0.0])


def bowl_hessian(v: np.ndarray) -> np.ndarray:
    d = (np.cos(v) ** 2 - np.sin(v)) * np.exp(np.sin(v))
    H = np.diag(d)
    H[0, 1] = H[1, 0] = 2 * v[1]
    H[1, 1] += 2 * v[0]
    return H


X3 = np.array([0.3, -1.1, 2.0])
V3 = np.array([1.0, 2.0, -0.5])


@pytest.mark.parametrize("method", ["three_point_midpoint", "five_point_midpoint", "complex_step"])
def test_directional_derivative_is_the_gradient_along_v(method: str) -> None:
    f = bowl if method != "complex_step" else lambda v: np.sum(np.exp(np.sin(v))) + v[0] * v[1] ** 2
    exact = bowl_gradient(X3) @ V3
    assert directional_derivative(f, X3, V3, method) == pytest.approx(exact, rel=1e-9)
    assert directional_derivative(f, X3, V3, method, "adaptive") == pytest.approx(exact, rel=1e-12)


def test_second_directional_derivative_and_vectorized() -> None:
    exact = V3 @ bowl_hessian(X3) @ V3
    result = directional_derivative(bowl, X3, V3, n=2, step="adaptive", full_output=True)
    assert abs(result.estimate[0] - exact) <= result.error[0] <= 1e-8
    batched = directional_derivative(
        lambda P: np.sum(np.exp(np.sin(P)), axis=1) + P[:, 0] * P[:, 1] ** 2,
        X3,
        V3,
        vectorized=True,
    )
    assert batched == directional_derivative(bowl, X3, V3)


# --------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 0}, ValueError, "n must be >= 1; got 0"),
        ({"n": -2}, ValueError, "n must be >= 1"),
        ({"n": 1.5}, TypeError, "n must be an integer; got 1.5"),
        ({"n": "2"}, TypeError, "n must be an integer"),
        ({"n": True}, TypeError, "n must be an integer"),
        ({"method": "complex_step", "n": 3}, ValueError, "gives derivatives of order n=1 and n=2"),
        ({"method": numdiff.make_stencil([-1, 1]), "n": 2}, ValueError, "needs at least 3"),
        ({"x": [1.0]}, TypeError, "x must be a real number"),
        ({"x": float("nan")}, ValueError, "x must be finite"),
        ({"f": lambda t: np.array([t, t])}, TypeError, "f must return a real scalar; got array"),
        ({"f": lambda t: np.log(t - 1.0)}, ValueError, r"f returned nan at x - 1\*h\*e_0"),
        ({"step": 1e-17}, ValueError, r"step h = 1e-17 vanishes against x\[0\] = 1"),
        ({"step": "best"}, ValueError, "Unknown step 'best'"),
        (
            {"f": lambda t: np.log(-t), "step": "adaptive"},
            ValueError,
            r"step='adaptive' found no two consecutive usable steps along axis 0 of x; f returned",
        ),
        ({"vectorized": "yes"}, TypeError, "vectorized must be True or False"),
        ({"full_output": 1}, TypeError, "full_output must be True or False"),
        ({"richardson": 7}, ValueError, "richardson must be <= 6"),
    ],
)
def test_bad_input_of_derivative_is_named(kwargs, error, match) -> None:
    arguments = {"f": np.sin, "x": 1.0} | kwargs
    with np.errstate(invalid="ignore"), pytest.raises(error, match=match):
        derivative(**arguments)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"v": [1.0, 2.0]}, ValueError, r"v must have one entry per entry of x \(3"),
        ({"v": np.zeros(3)}, ValueError, "v is zero"),
        ({"v": [1.0, np.nan, 0.0]}, ValueError, "v contains NaN"),
        ({"v": "abc"}, TypeError, "v must be array-like"),
        ({"step": [1e-3, 1e-3, 1e-3]}, TypeError, "step must be None, 'adaptive' or a positive"),
        ({"step": 1e-20}, ValueError, "does not fit x at index"),
        ({"x": [1.5e308, 1.0, 1.0], "step": 1e308}, ValueError, "overflows"),
        ({"n": 0}, ValueError, "n must be >= 1"),
    ],
)
def test_bad_input_of_directional_derivative_is_named(kwargs, error, match) -> None:
    arguments = {"f": bowl, "x": X3, "v": V3} | kwargs
    with pytest.raises(error, match=match):
        directional_derivative(**arguments)
