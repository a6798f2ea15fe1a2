"""Loss-change identities against direct differences, and the engine on saturated networks.

The engine gets perturbed losses from ``Loss.delta`` / ``rank1_delta`` / ``column_delta``
(exact identities such as ``log1p(sum p expm1(D))``). These must stay finite, and equal to
the difference of the two losses to rounding, whenever the losses themselves are finite:
saturated softmax and sigmoid outputs, changes of the logits of thousands.
"""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients.engine import batched_gradient
from deep_learning_toolkit.gradients.reference import reference_gradient
from deep_learning_toolkit.nn.losses import get_loss
from deep_learning_toolkit.numdiff import METHODS, get_stencil, resolve_steps

EPS = np.finfo(np.float64).eps
LOSSES = ("cross_entropy", "binary_cross_entropy", "mse", "mae")


def _targets(loss, n, k, rng):
    if loss == "cross_entropy":
        return rng.integers(0, k, n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (n, k)).astype(float)
    return rng.normal(size=(n, k))


def _magnitude(loss, outputs, targets):
    """Size of the per-sample summands whose rounding bounds a loss value's rounding."""
    if loss in ("cross_entropy", "binary_cross_entropy"):
        return np.abs(outputs).max(axis=(-2, -1)) + 1.0
    residual = np.abs(outputs - targets)
    return (residual**2 if loss == "mse" else residual).max(axis=(-2, -1)) + 1.0


# ---------------------------------------------------------------- the identities themselves
@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("logit_scale", [1.0, 30.0, 1e3, 1e4])
@pytest.mark.parametrize("change_scale", [1e-6, 0.3, 3.0, 800.0, 1e5])
def test_delta_identities_equal_direct_difference(loss_name, logit_scale, change_scale):
    """delta, rank1_delta and column_delta against ``L(z + D) - L(z)`` on saturated logits."""
    rng = np.random.default_rng(int(logit_scale + change_scale) % 2**32)
    loss = get_loss(loss_name)
    n, k, m = 9, 3, 6
    z = rng.normal(size=(n, k)) * logit_scale
    targets = loss.prepare_targets(_targets(loss_name, n, k, rng), k)
    ctx = loss.context(z, targets)
    u = rng.normal(size=(m, n)) * change_scale
    v = rng.normal(size=(m, k))
    columns = rng.integers(0, k, m)
    column_D = np.zeros((m, n, k))
    column_D[np.arange(m), :, columns] = u
    cases = {
        "delta": (loss.delta(u[:, :, None] * v[:, None, :], ctx), u[:, :, None] * v[:, None, :]),
        "rank1_delta": (loss.rank1_delta(u, v, ctx), u[:, :, None] * v[:, None, :]),
        "column_delta": (loss.column_delta(columns, u, ctx), column_D),
    }
    base = loss.batched(z, targets)
    for name, (fast, D) in cases.items():
        direct = loss.batched(z + D, targets) - base
        assert np.all(np.isfinite(direct))
        bound = (
            16 * EPS * (_magnitude(loss_name, z + D, targets) + _magnitude(loss_name, z, targets))
        )
        assert np.all(np.isfinite(fast)), (name, fast)
        assert np.all(np.abs(fast - direct) <= bound), (name, fast - direct, bound)


# ---------------------------------------------------------------- engine on saturated nets
def saturated_problem(loss, hidden, activation, feature_scale, logit_scale, seed=0, n=7):
    """A 4-...-K net whose first feature is ``feature_scale`` and logits reach ``logit_scale``."""
    rng = np.random.default_rng(seed)
    k = 2 if loss == "binary_cross_entropy" else 3
    sizes = (4, *hidden, k)
    layers = [
        dlt.Dense(a, b, activation=activation if i < len(hidden) else "linear")
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
    ]
    model = dlt.Sequential(layers, seed=seed)
    X = rng.normal(size=(n, 4))
    X[:, 0] *= feature_scale
    outputs = model.forward(X)
    last = model.layers[-1]
    last.W[...] *= logit_scale / max(np.abs(outputs).max(), 1e-300)
    y = _targets(loss, n, k, rng)
    model.compile(loss=loss, optimizer="sgd")
    return model, X, model.loss.prepare_targets(y, k)


def perturbed_magnitude(model, X, targets, loss_name, stencil, steps):
    """Largest loss-summand size over every evaluation the stencil makes."""
    theta = model.get_params()
    largest = float(_magnitude(loss_name, model.forward(X), targets))
    try:
        for q in range(theta.size):
            for o in stencil.offsets_array():
                shifted = theta.copy()
                shifted[q] += o * steps[q]
                model.set_params(shifted)
                largest = max(largest, float(_magnitude(loss_name, model.forward(X), targets)))
    finally:
        model.set_params(theta)
    return largest


NETS = [
    ((), "linear", 3e4, 1e2),
    ((), "linear", 1e8, 1e4),
    ((), "linear", 1e6, 30.0),
    ((5,), "tanh", 1e8, 1e4),
    ((5,), "relu", 1e8, 1e4),
    ((5,), "relu", 1e4, 1e3),
    ((4,), "sigmoid", 1e8, 1e3),
]


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("net", NETS, ids=lambda a: f"{a[0]}-{a[1]}-x{a[2]:g}-z{a[3]:g}")
def test_engine_equals_reference_on_saturated_nets(loss_name, net):
    """Finite where the reference loop is finite, and equal to it to rounding, every formula.

    Both evaluate the same loss values ``L(theta + o h e_q)``; each is rounded by about
    ``eps`` times the largest summand (logit, squared or absolute residual) of its batch, so
    the gradients differ by at most that times ``sum|w| / h``.
    """
    model, X, targets = saturated_problem(loss_name, *net)
    for method in METHODS:
        stencil = get_stencil(method)
        steps = resolve_steps(model.params, stencil)
        fast = batched_gradient(model, X, targets, model.loss, stencil, steps, workers=1)
        slow = reference_gradient(model, X, targets, model.loss, stencil, steps)
        finite = np.isfinite(slow.gradient)
        assert finite.any()
        assert np.all(np.isfinite(fast.gradient[finite])), method
        scale = perturbed_magnitude(model, X, targets, loss_name, stencil, steps)
        weight_sum = np.abs(stencil.weights_array()).sum()
        bound = 64 * EPS * scale * weight_sum / steps
        error = np.abs(fast.gradient - slow.gradient)
        assert np.all(error[finite] <= bound[finite]), (method, (error / bound).max())
