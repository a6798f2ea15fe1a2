"""Tests of the epoch loop's argument checks (``training/loop.py``); the loop itself is tested
through ``fit`` in test_model.py, test_resume.py and test_callbacks.py."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt


@pytest.mark.parametrize("shuffle", ["no", "False", 0, 1, None])
def test_shuffle_must_be_a_bool(shuffle) -> None:
    model = dlt.Sequential([dlt.Dense(2, 2)], seed=0)
    model.compile(optimizer="sgd")
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(TypeError, match="shuffle must be True or False; got"):
        model.fit(X, y, epochs=1, shuffle=shuffle)
    assert model.optimizer.step_count == 0
    model.fit(X, y, epochs=1, shuffle=np.bool_(False))  # NumPy booleans are booleans
