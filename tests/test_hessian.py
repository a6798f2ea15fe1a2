"""numdiff.hessian and numdiff.hessian_diag: known Hessians for every method, numdifftools and
scipy as references, error estimates, evaluation counts, vectorized f and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from deep_learning_toolkit import numdiff
from deep_learning_toolkit.numdiff import derivative, hessian, hessian_diag


def mixed(x: np.ndarray) -> object:
    """exp(x0 x1) + x0^2 x2 + sin(x2) x1 (complex-safe)."""
    return np.exp(x[0] * x[1]) + x[0] ** 2 * x[2] + np.sin(x[2]) * x[1]


def mixed_hessian(x: np.ndarray) -> np.ndarray:
    e = np.exp(x[0] * x[1])
    return np.array(
        [
            [x[1] ** 2 * e + 2 * x[2], e * (1 + x[0] * x[1]), 2 * x[0]],
            [e * (1 + x[0] * x[1]), x[0] ** 2 * e, np.cos(x[2])],
            [2 * x[0], np.cos(x[2]), -x[1] * np.sin(x[2])],
        ]
    )


def rosenbrock(v: np.ndarray) -> object:
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


def rosenbrock_hessian(v: np.ndarray) -> np.ndarray:
    x, y = v
    return np.array([[2 - 400 * (y - x**2) + 800 * x**2, -400 * x], [-400 * x, 200.0]])


POINTS = [np.array([0.5, -1.2, 0.8]), np.array([1.5, 0.7, -2.0])]

#: Largest error relative to max(1, |H|) at the default steps (about ten times the measured).
TOLERANCE = {
    "forward": 2e-4,
    "backward": 2e-4,
    "three_point_endpoint": 1e-6,
    "three_point_midpoint": 1e-7,
    "five_point_endpoint": 1e-7,
    "five_point_midpoint": 2e-9,
    "complex_step": 2e-10,
}
ADAPTIVE_TOLERANCE = {
    "three_point_midpoint": 5e-12,
    "five_point_midpoint": 5e-12,
    "complex_step": 1e-13,
}


def worst(estimate: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.abs(estimate - exact) / np.maximum(1.0, np.abs(exact))))


@pytest.mark.parametrize("method", list(TOLERANCE))
def test_known_hessian_for_every_method(method: str) -> None:
    for x in POINTS:
        result = hessian(mixed, x, method, full_output=True)
        assert worst(result.estimate, mixed_hessian(x)) <= TOLERANCE[method]
        np.testing.assert_array_equal(result.estimate, result.estimate.T)
        assert np.all(np.abs(result.estimate - mixed_hessian(x)) <= result.error)


@pytest.mark.parametrize("method", list(ADAPTIVE_TOLERANCE))
def test_adaptive_hessian(method: str) -> None:
    for x in POINTS:
        result = hessian(mixed, x, method, "adaptive", full_output=True)
        assert worst(result.estimate, mixed_hessian(x)) <= ADAPTIVE_TOLERANCE[method]
        assert np.all(np.abs(result.estimate - mixed_hessian(x)) <= result.error)
        assert result.steps.shape == (3, 3)


def test_rosenbrock_and_richardson() -> None:
    for v in (np.array([1.0, 1.0]), np.array([-1.2, 1.0])):
        exact = rosenbrock_hessian(v)
        assert worst(hessian(rosenbrock, v), exact) <= 1e-6
        assert worst(hessian(rosenbrock, v, richardson=1), exact) <= 1e-9
        assert worst(hessian(rosenbrock, v, step="adaptive"), exact) <= 1e-12


def test_against_numdifftools_and_scipy() -> None:
    import numdifftools as nd  # the test extra installs it
    import scipy.differentiate as sd

    for x in POINTS:
        exact = mixed_hessian(x)
        calls = []
        theirs = nd.Hessian(lambda v, c=calls: c.append(1) or mixed(v))(x)
        ours = hessian(mixed, x, step="adaptive", full_output=True)
        assert ours.evaluations <= len(calls)
        assert worst(ours.estimate, exact) <= max(worst(theirs, exact), 1e-13)
        reference = sd.hessian(mixed, x)
        np.testing.assert_allclose(ours.estimate, reference.ddf, rtol=0, atol=1e-10)
        diagonal = nd.Hessdiag(mixed)(x)
        np.testing.assert_allclose(hessian_diag(mixed, x, step="adaptive"), diagonal, atol=1e-10)


def test_evaluation_counts_and_the_diagonal() -> None:
    x = POINTS[0]
    n = x.size
    calls = []
    hessian(lambda v: calls.append(1) or mixed(v), x)
    # f(x), +-h e_i on the diagonal, four corners per pair i < j; twice that for full_output.
    assert len(calls) == 1 + 2 * n + 4 * n * (n - 1) // 2
    result = hessian(mixed, x, full_output=True)
    assert result.evaluations == 1 + 4 * n + 8 * n * (n - 1) // 2
    assert result.value == mixed(x)
    diagonal = hessian_diag(mixed, x, full_output=True)
    assert diagonal.evaluations == 1 + 4 * n
    np.testing.assert_array_equal(diagonal.estimate, np.diag(result.estimate))
    np.testing.assert_array_equal(diagonal.steps, np.diag(result.steps))
    # One variable: the second derivative.
    assert hessian(np.exp, [0.3])[0, 0] == derivative(np.exp, 0.3, n=2)
    assert hessian(lambda v: np.exp(v[0]), [0.3]).shape == (1, 1)


def test_steps_of_the_mixed_elements_follow_their_axes() -> None:
    x = np.array([0.5, 300.0])
    result = hessian(lambda v: v[0] * np.log(v[1]), x, step=[1e-4, 1e-2], full_output=True)
    np.testing.assert_array_equal(result.steps, [[1e-4, 1e-4], [1e-2, 1e-2]])
    np.testing.assert_allclose(
        result.estimate, [[0.0, 1 / 300], [1 / 300, -0.5 / 300**2]], atol=1e-8
    )


def test_vectorized_f_gets_all_points_in_one_call() -> None:
    calls = []

    def batch(points: np.ndarray) -> np.ndarray:
        calls.append(points.shape)
        return mixed(points.T)

    x = POINTS[1]
    for method in ("three_point_midpoint", "complex_step"):
        calls.clear()
        result = hessian(batch, x, method, vectorized=True, full_output=True)
        assert len(calls) == 1 and result.evaluations == calls[0][0]
        np.testing.assert_array_equal(result.estimate, hessian(mixed, x, method))
        np.testing.assert_array_equal(
            hessian_diag(batch, x, method, vectorized=True), np.diag(result.estimate)
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"f": lambda v: v}, TypeError, "f must return a real scalar; got array"),
        (
            {"f": lambda v: np.log(v[0] - (1 - 6e-5)) + v[1]},
            ValueError,
            r"f returned nan at x - 1\*h\*e_0",
        ),
        (
            {"f": lambda v: np.log(1 + 1e10 * (v[0] - 1) * (v[1] - 1))},
            ValueError,
            r"f returned nan at x - 1\*h\*e_0 \+ 1\*h\*e_1 \(h = 6.1e-05, x\[0\] -> 0.99993",
        ),
        ({"step": 1e-17}, ValueError, r"vanishes against x\[0\] = 1"),
        ({"method": "complex_step", "f": lambda v: np.sum(np.abs(v))}, TypeError, "complex-safe"),
        ({"method": "cs", "richardson": 1}, ValueError, "richardson=1"),
        ({"method": numdiff.make_stencil([-1, 1]), "richardson": 1.5}, TypeError, "richardson"),
        ({"x": []}, ValueError, "x is empty"),
        ({"f": None}, TypeError, "f must be callable"),
        ({"step": "fine"}, ValueError, "Unknown step 'fine'"),
    ],
)
def test_bad_input_is_named(kwargs, error, match) -> None:
    arguments = {"f": rosenbrock, "x": [1.0, 1.0]} | kwargs
    with np.errstate(invalid="ignore", divide="ignore"), pytest.raises(error, match=match):
        hessian(**arguments)


def test_bad_input_of_the_diagonal() -> None:
    with pytest.raises(TypeError, match="f must return a real scalar"):
        hessian_diag(lambda v: v, [1.0, 2.0])
    with pytest.raises(ValueError, match="vanishes against x"):
        hessian_diag(rosenbrock, [1.0, 1.0], step=1e-17)
    with np.errstate(invalid="ignore"), pytest.raises(ValueError, match=r"at x - 1\*h\*e_1"):
        hessian_diag(lambda v: v[0] + np.sqrt(v[1] - 1.0), [1.0, 1.0])
