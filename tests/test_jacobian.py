"""numdiff.jacobian: known Jacobians for every method, numdifftools and scipy as references,
error estimates, evaluation counts, vectorized f, shapes and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from deep_learning_toolkit import numdiff
from deep_learning_toolkit.numdiff import jacobian


def field(x: np.ndarray) -> np.ndarray:
    """R^3 -> R^4, complex-safe."""
    return np.array(
        [x[0] * x[1], np.sin(x[1]) * np.exp(x[0]), x[0] ** 2 + x[2] ** 3, np.log(1 + x[2] ** 2)]
    )


def field_jacobian(x: np.ndarray) -> np.ndarray:
    e = np.exp(x[0])
    return np.array(
        [
            [x[1], x[0], 0.0],
            [np.sin(x[1]) * e, np.cos(x[1]) * e, 0.0],
            [2 * x[0], 0.0, 3 * x[2] ** 2],
            [0.0, 0.0, 2 * x[2] / (1 + x[2] ** 2)],
        ]
    )


def field_batch(points: np.ndarray) -> np.ndarray:
    return np.stack([field(p) for p in points])


POINTS = [np.array([0.5, -1.2, 0.8]), np.array([-0.3, 2.0, 1.7])]

#: Largest error relative to max(1, |J|) at the default steps (about ten times the measured).
TOLERANCE = {
    "forward": 1e-6,
    "backward": 1e-6,
    "three_point_endpoint": 1e-8,
    "three_point_midpoint": 2e-9,
    "five_point_endpoint": 2e-9,
    "five_point_midpoint": 3e-10,
    "complex_step": 3e-15,
}


def worst(estimate: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.abs(estimate - exact) / np.maximum(1.0, np.abs(exact))))


@pytest.mark.parametrize("method", list(TOLERANCE))
def test_known_jacobian_for_every_method(method: str) -> None:
    for x in POINTS:
        J = jacobian(field, x, method)
        assert J.shape == (4, 3)
        assert worst(J, field_jacobian(x)) <= TOLERANCE[method]
        adaptive = jacobian(field, x, method, "adaptive", full_output=True)
        assert worst(adaptive.estimate, field_jacobian(x)) <= min(TOLERANCE[method], 1e-11)
        assert np.all(np.abs(adaptive.estimate - field_jacobian(x)) <= adaptive.error)


def test_polar_to_cartesian() -> None:
    r, theta = 2.0, 0.6
    J = jacobian(lambda p: np.array([p[0] * np.cos(p[1]), p[0] * np.sin(p[1])]), [r, theta])
    exact = np.array([[np.cos(theta), -r * np.sin(theta)], [np.sin(theta), r * np.cos(theta)]])
    np.testing.assert_allclose(J, exact, rtol=0, atol=1e-9)
    assert np.linalg.det(J) == pytest.approx(r, rel=1e-9)


def test_full_output_shapes_bounds_and_counts() -> None:
    x = POINTS[0]
    for method in ("forward", "three_point_midpoint", "five_point_midpoint", "complex_step"):
        result = jacobian(field, x, method, full_output=True)
        assert result.estimate.shape == result.error.shape == result.steps.shape == (4, 3)
        assert np.all(np.abs(result.estimate - field_jacobian(x)) <= result.error)
        # Column i is taken at the step of x_i: the same down each column.
        np.testing.assert_array_equal(result.steps, np.broadcast_to(result.steps[0], (4, 3)))
    forward = jacobian(field, x, "2-point", full_output=True)
    np.testing.assert_array_equal(forward.value, field(x))
    # With the 2h points of the error estimate: f(x), +h, +2h per column; +-h, +-2h; ih, 2ih.
    assert jacobian(field, x, "forward", full_output=True).evaluations == 1 + 2 * 3
    assert jacobian(field, x, "3-point", full_output=True).evaluations == 4 * 3
    assert jacobian(field, x, "cs", full_output=True).evaluations == 2 * 3
    calls = []
    jacobian(lambda v: calls.append(1) or field(v), x)
    assert len(calls) == 2 * 3


def test_against_numdifftools_and_scipy() -> None:
    import numdifftools as nd  # the test extra installs it
    import scipy.differentiate as sd
    from scipy.optimize._numdiff import approx_derivative

    for x in POINTS:
        exact = field_jacobian(x)
        calls = []
        theirs = nd.Jacobian(lambda v, c=calls: c.append(1) or field(v))(x)
        ours = jacobian(field, x, step="adaptive", full_output=True)
        assert ours.evaluations <= len(calls)
        assert worst(ours.estimate, exact) <= max(worst(theirs, exact), 1e-13)
        scipy_result = sd.jacobian(lambda v: field(v), x)
        np.testing.assert_allclose(ours.estimate, scipy_result.df, rtol=0, atol=1e-10)
        for method in ("2-point", "3-point", "cs"):
            reference = approx_derivative(field, x, method=method)
            tolerance = TOLERANCE[numdiff.get_method(method).name] * 10
            assert worst(jacobian(field, x, method), reference) <= tolerance


def test_linear_map_and_shapes() -> None:
    A = np.arange(12.0).reshape(4, 3) - 5
    J = jacobian(lambda v: A @ v, [1.0, -2.0, 0.5], step="adaptive")
    np.testing.assert_allclose(J, A, rtol=0, atol=1e-12)
    # A scalar f has m = 1; x of any shape is flattened into the columns, f gets its shape.
    seen = []
    scalar = jacobian(
        lambda v: seen.append(v.shape) or float(np.sum(v**2)), [[1.0, 2.0], [3.0, 4.0]]
    )
    assert scalar.shape == (1, 4) and set(seen) == {(2, 2)}
    np.testing.assert_allclose(scalar[0], [2.0, 4.0, 6.0, 8.0], atol=1e-8)


def test_adaptive_steps_outside_the_domain_are_dropped() -> None:
    # The first steps of the search reach x - 1 < 0, where log and sqrt are NaN.
    f = lambda v: np.array([np.log(v[0]), np.sqrt(v[0]), v[0] * v[1]])  # noqa: E731
    with np.errstate(invalid="ignore", divide="ignore"):
        result = jacobian(f, [0.1, 2.0], step="adaptive", full_output=True)
    exact = np.array([[10.0, 0.0], [0.5 / np.sqrt(0.1), 0.0], [2.0, 0.1]])
    np.testing.assert_allclose(result.estimate, exact, rtol=1e-11, atol=1e-14)
    assert np.all(np.abs(result.estimate - exact) <= result.error)


def test_vectorized_f_gets_all_points_in_one_call() -> None:
    calls = []

    def batch(points: np.ndarray) -> np.ndarray:
        calls.append(points.shape)
        return field_batch(points)

    x = POINTS[1]
    for method in ("three_point_midpoint", "five_point_endpoint"):
        calls.clear()
        result = jacobian(batch, x, method, vectorized=True, full_output=True)
        assert len(calls) == 1 and calls[0][1:] == (3,)
        assert result.evaluations == calls[0][0]
        np.testing.assert_array_equal(result.estimate, jacobian(field, x, method))
    complex_batch = jacobian(batch, x, "complex_step", vectorized=True)
    assert worst(complex_batch, field_jacobian(x)) <= TOLERANCE["complex_step"]


@pytest.mark.parametrize(
    ("f", "kwargs", "error", "match"),
    [
        (lambda v: np.ones((2, 2)), {}, ValueError, "f must return a real scalar or 1-D array"),
        (lambda v: np.ones(2 + int(v[0] > 1.0)), {}, ValueError, "must return the same shape"),
        (lambda v: np.array(["a", "b"]), {}, ValueError, "scalar or 1-D array"),
        (
            lambda v: np.array([np.log(v[2] - (0.8 - 2e-6)), 1.0]),
            {},
            ValueError,
            r"f returned \[nan  1\.\] at x - 1\*h\*e_2",
        ),
        (field, {"method": "complex_step", "f": lambda v: np.abs(v)}, ValueError, "complex scalar"),
        (field, {"step": 1e-17}, ValueError, "vanishes against x"),
        (field, {"step": [1e-3, 1e-3]}, ValueError, "does not match x"),
        (field, {"vectorized": True}, ValueError, r"vectorized f must return an array of shape"),
        (field, {"x": [[np.inf]]}, ValueError, "x contains NaN or infinity"),
        (field, {"richardson": -1}, ValueError, "richardson must be >= 0"),
        (field, {"method": "cs", "richardson": 1}, ValueError, "richardson=1 applies to"),
    ],
)
def test_bad_input_is_named(f, kwargs, error, match) -> None:
    arguments = {"f": f, "x": [1.0, 2.0, 0.8]} | kwargs
    with np.errstate(invalid="ignore", divide="ignore"), pytest.raises(error, match=match):
        jacobian(**arguments)
