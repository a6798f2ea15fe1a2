"""Accuracy against function evaluations: dlt.numdiff, numdifftools and scipy.

Problems with closed-form answers (each over several points):

* ``f'`` ... ``f''''``: 18 elementary functions of numdifftools' kind (sin, tan, tanh, arcsin,
  exp2, sqrt, log1p, exp(-x^2), exp(sin x), ...) at x = 0.2, 0.5, 0.7;
* gradient: Rosenbrock (n=5), a quadratic plus exp(sin) (n=6), log-sum-exp of a linear map;
* Jacobian: a map R^3 -> R^4, softmax (R^5), the Rosenbrock gradient (R^5 -> R^5);
* Hessian: Rosenbrock (n=5), log-sum-exp (n=4), exp(x0 x1) + x0^2 x2 + sin(x2) x1.

For each library and method the table gives the median and (in brackets) the worst error,
relative to ``max(1, |exact|)`` element by element, and the mean number of points at which
the function was evaluated per problem instance (a vectorized call of k points counts k).
``-`` marks what a library does not offer. Library defaults throughout: numdifftools'
``Derivative/Gradient/Jacobian/Hessian()``, ``scipy.differentiate.derivative/jacobian/hessian``
(its default order 8 and tolerances), ``scipy.optimize``'s ``approx_derivative`` with
``method="3-point"`` and ``"cs"``.

Run: ``python benchmarks/numdiff.py`` (about half a minute); ``--quick`` uses one point per
vector problem.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable

import numpy as np

from deep_learning_toolkit import numdiff
from deep_learning_toolkit.numdiff.known_derivatives import ELEMENTARY

# --------------------------------------------------------------------- problems
SCALAR = ELEMENTARY
SCALAR_POINTS = (0.2, 0.5, 0.7)

A = np.array([[1.0, -0.5, 0.3, 0.0], [0.2, 0.8, -1.0, 0.5], [-0.7, 0.1, 0.4, 1.2]])


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2, axis=0)


def rosen_der(x):
    from scipy.optimize import rosen_der as exact

    return exact(x)


def rosen_hess(x):
    from scipy.optimize import rosen_hess as exact

    return exact(x)


def logsumexp(x):
    z = np.tensordot(A, x, axes=1)
    shift = np.max(z.real, axis=0)
    return shift + np.log(np.sum(np.exp(z - shift), axis=0))


def softmax_of(x):
    z = np.tensordot(A, x, axes=1)
    e = np.exp(z - np.max(z.real, axis=0))
    return e / np.sum(e, axis=0)


def trig(x):
    n = x.shape[0]
    Q = np.arange(1.0, 1.0 + n * n).reshape(n, n) / n**2
    return np.einsum("i...,ij,j...->...", x, Q, x) + np.sum(np.exp(np.sin(x)), axis=0)


def trig_gradient(x):
    n = x.size
    Q = np.arange(1.0, 1.0 + n * n).reshape(n, n) / n**2
    return (Q + Q.T) @ x + np.cos(x) * np.exp(np.sin(x))


def mixed(x):
    return np.exp(x[0] * x[1]) + x[0] ** 2 * x[2] + np.sin(x[2]) * x[1]


def mixed_hessian(x):
    e = np.exp(x[0] * x[1])
    return np.array(
        [
            [x[1] ** 2 * e + 2 * x[2], e * (1 + x[0] * x[1]), 2 * x[0]],
            [e * (1 + x[0] * x[1]), x[0] ** 2 * e, np.cos(x[2])],
            [2 * x[0], np.cos(x[2]), -x[1] * np.sin(x[2])],
        ]
    )


def field(x):
    return np.stack(
        [x[0] * x[1], np.sin(x[1]) * np.exp(x[0]), x[0] ** 2 + x[2] ** 3, np.log(1 + x[2] ** 2)]
    )


def field_jacobian(x):
    e = np.exp(x[0])
    return np.array(
        [
            [x[1], x[0], 0.0],
            [np.sin(x[1]) * e, np.cos(x[1]) * e, 0.0],
            [2 * x[0], 0.0, 3 * x[2] ** 2],
            [0.0, 0.0, 2 * x[2] / (1 + x[2] ** 2)],
        ]
    )


def softmax_jacobian(x):
    p = softmax_of(x)
    return (np.diag(p) - np.outer(p, p)) @ A


def rosen_vector(x):
    """The Rosenbrock gradient as a vector function (its Jacobian is the Hessian)."""
    xm, xm_m1, xm_p1 = x[1:-1], x[:-2], x[2:]
    middle = 200 * (xm - xm_m1**2) - 400 * (xm_p1 - xm**2) * xm - 2 * (1 - xm)
    first = -400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0])
    last = 200 * (x[-1] - x[-2] ** 2)
    return np.concatenate([first[None], middle, last[None]])


def logsumexp_gradient(x):
    return A.T @ softmax_of(x)


def logsumexp_hessian(x):
    p = softmax_of(x)
    return A.T @ (np.diag(p) - np.outer(p, p)) @ A


RNG = np.random.default_rng(0)
GRADIENTS = {
    "rosen": (rosen, rosen_der, 5),
    "trig": (trig, trig_gradient, 6),
    "logsumexp": (logsumexp, logsumexp_gradient, 4),
}
JACOBIANS = {
    "field": (field, field_jacobian, 3),
    "softmax": (softmax_of, softmax_jacobian, 4),
    "rosen'": (rosen_vector, rosen_hess, 5),
}
HESSIANS = {
    "rosen": (rosen, rosen_hess, 5),
    "logsumexp": (logsumexp, logsumexp_hessian, 4),
    "mixed": (mixed, mixed_hessian, 3),
}


# --------------------------------------------------------------------- counting evaluations
class Counted:
    """Wraps ``f`` and counts the points it is evaluated at.

    ``batch_axis``: where a vectorized caller stacks points (``None``: one point per call;
    ``"leading"``: ``(k, n)``; ``"trailing"``: ``(n, k...)`` as scipy.differentiate does;
    ``"scalar"``: elementwise over an array of scalars).
    """

    def __init__(self, f: Callable, batch_axis: str | None = None) -> None:
        self.f, self.batch_axis, self.points = f, batch_axis, 0

    def __call__(self, x):
        x = np.asarray(x)
        if self.batch_axis is None:
            self.points += 1
        elif self.batch_axis == "scalar":
            self.points += x.size
        elif self.batch_axis == "trailing":
            self.points += int(np.prod(x.shape[1:]))
        if self.batch_axis == "leading":
            self.points += x.shape[0]
            return np.stack([self.f(p) for p in x])
        return self.f(x)


# --------------------------------------------------------------------- the libraries
def _scipy_derivative(f, x, n):
    import scipy.differentiate as sd

    if n != 1:
        return None
    return sd.derivative(f, x).df


def scalar_tools() -> dict:
    import numdifftools as nd
    from scipy.optimize._numdiff import approx_derivative

    def dlt(method, step=None):
        return lambda f, x, n: numdiff.derivative(f, x, method, step, n=n)

    def approx(method):
        def run(f, x, n):
            if n != 1:
                return None
            return approx_derivative(lambda v: f(v[0]), np.array([x]), method=method)[0]

        return run

    return {
        "dlt central (default)": (dlt("three_point_midpoint"), None),
        "dlt five-point (default)": (dlt("five_point_midpoint"), None),
        "dlt complex step": (
            lambda f, x, n: numdiff.derivative(f, x, "cs", n=n) if n <= 2 else None,
            None,
        ),
        "dlt adaptive": (dlt("three_point_midpoint", "adaptive"), None),
        "numdifftools (default)": (lambda f, x, n: nd.Derivative(f, n=n)(x), None),
        "scipy.differentiate": (_scipy_derivative, "scalar"),
        "scipy approx_derivative 3-point": (approx("3-point"), None),
        "scipy approx_derivative cs": (approx("cs"), None),
    }


def vector_tools(kind: str) -> dict:
    import numdifftools as nd
    import scipy.differentiate as sd
    from scipy.optimize._numdiff import approx_derivative

    ours = {"gradient": numdiff.gradient, "jacobian": numdiff.jacobian, "hessian": numdiff.hessian}[
        kind
    ]
    theirs = {"gradient": nd.Gradient, "jacobian": nd.Jacobian, "hessian": nd.Hessian}[kind]

    def scipy_diff(f, x):
        if kind == "hessian":
            return sd.hessian(f, x).ddf
        return sd.jacobian(f, x).df

    def approx(method):
        if kind == "hessian":
            return None
        return lambda f, x: approx_derivative(f, x, method=method)

    return {
        "dlt central (default)": (lambda f, x: ours(f, x), None),
        "dlt five-point (default)": (lambda f, x: ours(f, x, "five_point_midpoint"), None),
        "dlt complex step": (lambda f, x: ours(f, x, "cs"), None),
        "dlt adaptive": (lambda f, x: ours(f, x, step="adaptive"), None),
        "numdifftools (default)": (lambda f, x: theirs(f)(x), None),
        "scipy.differentiate": (scipy_diff, "trailing"),
        "scipy approx_derivative 3-point": (approx("3-point"), None),
        "scipy approx_derivative cs": (approx("cs"), None),
    }


# --------------------------------------------------------------------- measuring
def _errors(estimate, exact) -> np.ndarray:
    estimate, exact = np.asarray(estimate, dtype=float), np.asarray(exact, dtype=float)
    return (np.abs(estimate - exact.reshape(estimate.shape)) / np.maximum(1, np.abs(exact))).ravel()


def measure_scalar(tool, batch_axis, n) -> tuple[np.ndarray, float] | None:
    errors, points = [], []
    for f, derivatives in SCALAR.values():
        for x in SCALAR_POINTS:
            counted = Counted(f, batch_axis)
            value = tool(counted, x, n)
            if value is None:
                return None
            errors.append(_errors(value, derivatives[n - 1](x)))
            points.append(counted.points)
    return np.concatenate(errors), float(np.mean(points))


def measure_vector(tool, batch_axis, problems, count) -> tuple[np.ndarray, float] | None:
    errors, points = [], []
    for f, exact, size in problems.values():
        for x in RNG_POINTS[size][:count]:
            counted = Counted(f, batch_axis)
            value = tool(counted, x)
            if value is None:
                return None
            errors.append(_errors(value, exact(x)))
            points.append(counted.points)
    return np.concatenate(errors), float(np.mean(points))


RNG_POINTS = {n: [RNG.uniform(-1.2, 1.2, n) for _ in range(3)] for n in (3, 4, 5, 6)}


def cell(result) -> str:
    """``median (worst) · evaluations``, and how many estimates failed (NaN) if any did."""
    if result is None:
        return "-"
    errors, points = result
    finite = errors[np.isfinite(errors)]
    text = f"{np.median(finite):.0e} ({np.max(finite):.0e}) · {points:.0f}"
    failed = errors.size - finite.size
    return text if not failed else f"{text}, {failed}/{errors.size} NaN"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one point per vector problem")
    args = parser.parse_args(argv)
    count = 1 if args.quick else 3
    columns = ["f'", "f''", "f'''", "f''''", "gradient", "Jacobian", "Hessian"]
    rows: dict[str, list[str]] = {}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # numdifftools and scipy probe outside the domains
        for name, (tool, axis) in scalar_tools().items():
            rows[name] = [cell(measure_scalar(tool, axis, n)) for n in (1, 2, 3, 4)]
        for kind, problems in (
            ("gradient", GRADIENTS),
            ("jacobian", JACOBIANS),
            ("hessian", HESSIANS),
        ):
            for name, (tool, axis) in vector_tools(kind).items():
                result = None if tool is None else measure_vector(tool, axis, problems, count)
                rows[name].append(cell(result))
    print("| method | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        "\nmedian relative error (worst) · mean function evaluations per problem instance; "
        "NaN: estimates a library returned as NaN (its steps left the domain of f)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
