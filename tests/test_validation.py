"""Tests of the argument checks shared by the package (``_validation.py``)."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit._validation import check_array


@pytest.mark.parametrize(
    "value", [np.ones((2, 2)) + 1j, np.ones((2, 2), dtype=np.complex64), [[1 + 0j, 2]]]
)
def test_complex_arrays_are_refused_not_cast(value) -> None:
    """Casting would drop the imaginary part silently (NumPy only warns)."""
    with pytest.raises(TypeError, match="X must be real numbers; got complex values"):
        check_array("X", value)


def test_complex_inputs_of_a_model_are_refused() -> None:
    model = dlt.Sequential([dlt.Dense(2, 2)], seed=0)
    model.compile(optimizer="sgd")
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(TypeError, match="X must be real numbers"):
        model.predict(X + 1j)
    with pytest.raises(TypeError, match="X must be real numbers"):
        model.fit(X * (1 + 1j), y, epochs=1)
    with pytest.raises(TypeError, match="y must be real numbers"):
        model.fit(X, y + 0j, epochs=1)
    assert model.optimizer.step_count == 0
    check_array("X", X)  # real input still passes
