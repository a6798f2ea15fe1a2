"""Elementary functions with closed-form derivatives of orders 1-4: a reference table.

Used by the tests and by ``benchmarks/numdiff.py`` to measure errors against exact values
(numdifftools and scipy are measured on the same table).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def sec(x: np.ndarray) -> np.ndarray:
    """``1 / cos(x)``."""
    return 1 / np.cos(x)


#: name -> (f, [f', f'', f''', f'''']), closed forms.
ELEMENTARY: dict[str, tuple[Callable, list[Callable]]] = {
    "sin": (np.sin, [np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x), np.sin]),
    "cos": (np.cos, [lambda x: -np.sin(x), lambda x: -np.cos(x), np.sin, np.cos]),
    "tan": (
        np.tan,
        [
            lambda x: sec(x) ** 2,
            lambda x: 2 * np.tan(x) * sec(x) ** 2,
            lambda x: 6 * np.tan(x) ** 4 + 8 * np.tan(x) ** 2 + 2,
            lambda x: 24 * np.tan(x) ** 5 + 40 * np.tan(x) ** 3 + 16 * np.tan(x),
        ],
    ),
    "sinh": (np.sinh, [np.cosh, np.sinh, np.cosh, np.sinh]),
    "cosh": (np.cosh, [np.sinh, np.cosh, np.sinh, np.cosh]),
    "tanh": (
        np.tanh,
        [
            lambda x: 1 / np.cosh(x) ** 2,
            lambda x: -2 * np.tanh(x) / np.cosh(x) ** 2,
            lambda x: -6 * np.tanh(x) ** 4 + 8 * np.tanh(x) ** 2 - 2,
            lambda x: 24 * np.tanh(x) ** 5 - 40 * np.tanh(x) ** 3 + 16 * np.tanh(x),
        ],
    ),
    "arcsinh": (
        np.arcsinh,
        [
            lambda x: (x**2 + 1) ** -0.5,
            lambda x: -x * (x**2 + 1) ** -1.5,
            lambda x: (2 * x**2 - 1) * (x**2 + 1) ** -2.5,
            lambda x: -3 * x * (2 * x**2 - 3) * (x**2 + 1) ** -3.5,
        ],
    ),
    "arctan": (
        np.arctan,
        [
            lambda x: 1 / (x**2 + 1),
            lambda x: -2 * x / (x**2 + 1) ** 2,
            lambda x: 2 * (3 * x**2 - 1) / (x**2 + 1) ** 3,
            lambda x: -24 * x * (x**2 - 1) / (x**2 + 1) ** 4,
        ],
    ),
    "arcsin": (
        np.arcsin,
        [
            lambda x: (1 - x**2) ** -0.5,
            lambda x: x * (1 - x**2) ** -1.5,
            lambda x: (2 * x**2 + 1) * (1 - x**2) ** -2.5,
            lambda x: 3 * x * (2 * x**2 + 3) * (1 - x**2) ** -3.5,
        ],
    ),
    "exp": (np.exp, [np.exp] * 4),
    "exp2": (np.exp2, [lambda x, k=k: np.exp2(x) * np.log(2) ** k for k in range(1, 5)]),
    "sqrt": (
        np.sqrt,
        [
            lambda x: 0.5 * x**-0.5,
            lambda x: -0.25 * x**-1.5,
            lambda x: 0.375 * x**-2.5,
            lambda x: -0.9375 * x**-3.5,
        ],
    ),
    "log": (
        np.log,
        [lambda x: 1 / x, lambda x: -1 / x**2, lambda x: 2 / x**3, lambda x: -6 / x**4],
    ),
    "log1p": (
        np.log1p,
        [
            lambda x: 1 / (1 + x),
            lambda x: -1 / (1 + x) ** 2,
            lambda x: 2 / (1 + x) ** 3,
            lambda x: -6 / (1 + x) ** 4,
        ],
    ),
    "log10": (
        np.log10,
        [
            lambda x, k=k: (-1) ** (k + 1) * np.prod(range(1, k)) / x**k / np.log(10)
            for k in range(1, 5)
        ],
    ),
    "gauss": (
        lambda x: np.exp(-(x**2)),
        [
            lambda x: -2 * x * np.exp(-(x**2)),
            lambda x: (4 * x**2 - 2) * np.exp(-(x**2)),
            lambda x: (12 * x - 8 * x**3) * np.exp(-(x**2)),
            lambda x: (16 * x**4 - 48 * x**2 + 12) * np.exp(-(x**2)),
        ],
    ),
    "exp(sin)": (
        lambda x: np.exp(np.sin(x)),
        [
            lambda x: np.cos(x) * np.exp(np.sin(x)),
            lambda x: (np.cos(x) ** 2 - np.sin(x)) * np.exp(np.sin(x)),
            lambda x: -(np.sin(x) + 3) * np.sin(x) * np.cos(x) * np.exp(np.sin(x)),
            lambda x: (
                (np.sin(x) ** 4 + 6 * np.sin(x) ** 3 + 5 * np.sin(x) ** 2 - 5 * np.sin(x) - 3)
                * np.exp(np.sin(x))
            ),
        ],
    ),
    "x^5": (
        lambda x: x**5,
        [lambda x: 5 * x**4, lambda x: 20 * x**3, lambda x: 60 * x**2, lambda x: 120 * x],
    ),
}
