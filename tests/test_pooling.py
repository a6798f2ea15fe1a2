"""Pooling layers against PyTorch (float64): forward, gradients by every formula, the
engine, saving and resuming, the twin, and refused input."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from layer_checks import (
    check_deterministic,
    check_engine_equals_reference,
    check_formulas_against_autograd,
    check_refused_fit_changes_nothing,
    check_resume,
    check_twin,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

# (layer, samples' shape, torch function of the same pooling)
POOLS = [
    (lambda: dlt.MaxPool1D(3, 2), (2, 9), lambda x: F.max_pool1d(x, 3, 2)),
    (lambda: dlt.MaxPool1D(2), (2, 9), lambda x: F.max_pool1d(x, 2)),
    (lambda: dlt.AvgPool1D(3, stride=1), (2, 9), lambda x: F.avg_pool1d(x, 3, 1)),
    (lambda: dlt.MaxPool2D(2), (2, 5, 4), lambda x: F.max_pool2d(x, 2)),
    (lambda: dlt.MaxPool2D((3, 2), (1, 2)), (2, 5, 4), lambda x: F.max_pool2d(x, (3, 2), (1, 2))),
    (lambda: dlt.AvgPool2D(2, stride=1), (2, 5, 4), lambda x: F.avg_pool2d(x, 2, 1)),
    (lambda: dlt.AvgPool2D((2, 3)), (2, 5, 4), lambda x: F.avg_pool2d(x, (2, 3))),
    (lambda: dlt.GlobalAvgPool(), (2, 9), lambda x: x.mean(dim=2)),
    (lambda: dlt.GlobalAvgPool(), (2, 5, 4), lambda x: x.mean(dim=(2, 3))),
]
IDS = [f"{make()!r}-{shape}" for make, shape, _ in POOLS]
#: One configuration per layer type (and both MaxPool2D strides) for the costlier checks.
EACH = [0, 2, 3, 4, 6, 8]


def data(shape, n=16, seed=0):
    """Each sample's channels: a shuffled evenly spaced grid, so that no two entries of a
    window are closer than the grid's spacing (max pooling has kinks at ties)."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-2.0, 2.0, int(np.prod(shape[1:])))
    X = np.array([[rng.permutation(grid) for _ in range(shape[0])] for _ in range(n)])
    return X.reshape(n, *shape), rng.integers(0, 3, n)


def model_with(make_pool, shape, seed=0, optimizer=None):
    """LayerNorm (parameters before the pool) -> tanh -> pool -> Flatten -> Dense.

    The LayerNorm starts at gamma = 1, beta = 0: the pool's input then keeps the order of
    the data in each channel, and the closest two entries of a window stay >= 0.03 apart,
    more than any perturbation of the formulas moves them (<= 4 h |x| ~ 7e-3).
    """
    pool = make_pool()
    flat = int(np.prod(pool.output_shape(shape)))
    model = dlt.Sequential(
        [dlt.LayerNorm(shape[1:]), dlt.Activation("tanh"), pool, dlt.Flatten(), dlt.Dense(flat, 3)],
        seed=seed,
        input_shape=shape,
    )
    dense = model.layer_slices()[-1]
    model.params[dense] += np.random.default_rng(seed + 1).normal(0, 0.3, dense.stop - dense.start)
    model.compile(loss="cross_entropy", optimizer=optimizer or dlt.optim.SGD(lr=0.1))
    return model


@pytest.mark.parametrize(("make_pool", "shape", "reference"), POOLS, ids=IDS)
def test_forward_equals_torch_in_both_modes(make_pool, shape, reference):
    X, _ = data(shape, n=5)
    expected = reference(torch.from_numpy(X)).numpy()
    layer = make_pool()
    for training in (False, True):
        out = layer.forward(X, training)
        assert out.shape == expected.shape == (5, *layer.output_shape(shape))
        np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-15)
    stack = np.stack([X, 2 * X])
    np.testing.assert_array_equal(layer.forward_stack(stack), np.stack([out, layer.forward(2 * X)]))


def test_max_pool_follows_the_real_part_of_complex_input():
    """The complex step: the imaginary part rides along with the entry the real input picks."""
    X, _ = data((2, 6, 5), n=3)
    V = np.random.default_rng(1).normal(size=X.shape)
    layer = dlt.MaxPool2D(2)
    out = layer.forward(X + 1e-20j * V)
    np.testing.assert_array_equal(out.real, layer.forward(X))
    picked = torch.nn.functional.max_pool2d(torch.from_numpy(X), 2, return_indices=True)[1]
    expected = np.take_along_axis(V.reshape(3, 2, -1), picked.numpy().reshape(3, 2, -1), axis=2)
    np.testing.assert_array_equal(out.imag, 1e-20 * expected.reshape(out.shape))


@pytest.mark.parametrize("index", EACH, ids=[IDS[i] for i in EACH])
def test_gradients_of_every_formula_equal_autograd(index):
    make_pool, shape, _ = POOLS[index]
    model = model_with(make_pool, shape)
    X, y = data(shape)
    check_formulas_against_autograd(model, X, y)
    check_formulas_against_autograd(model, X, y, training=False)


@pytest.mark.parametrize("index", EACH, ids=[IDS[i] for i in EACH])
def test_engine_equals_the_reference_loop(index):
    make_pool, shape, _ = POOLS[index]
    model = model_with(make_pool, shape)
    X, y = data(shape, n=5)
    check_engine_equals_reference(model, X, y)
    check_deterministic(model, X, y)


@pytest.mark.parametrize("index", [0, 5], ids=[IDS[i] for i in (0, 5)])
def test_save_load_resume_bit_for_bit(index, tmp_path):
    make_pool, shape, _ = POOLS[index]
    X, y = data(shape, n=20)
    _, resumed = check_resume(
        lambda: model_with(make_pool, shape, optimizer=dlt.optim.Adam(lr=0.01)),
        X,
        y,
        tmp_path,
        batch_size=8,
    )
    assert type(resumed.layers[2]) is type(make_pool())
    assert resumed.layers[2].config() == make_pool().config()


@pytest.mark.parametrize("index", EACH, ids=[IDS[i] for i in EACH])
def test_twin_ends_at_our_parameters(index):
    make_pool, shape, _ = POOLS[index]
    X, y = data(shape, n=24)
    check_twin(lambda: model_with(make_pool, shape), X, y)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: dlt.MaxPool1D(0), r"MaxPool1D: kernel_size must be >= 1; got 0"),
        (lambda: dlt.AvgPool1D(2, stride=0), r"AvgPool1D: stride must be >= 1; got 0"),
        (lambda: dlt.MaxPool2D(2, stride=(1, -1)), r"MaxPool2D: stride must be >= 1; got -1"),
        (lambda: dlt.AvgPool2D((2, 2, 2)), r"AvgPool2D: kernel_size must be .* 2 integers"),
    ],
)
def test_bad_arguments_are_refused_naming_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()
    with pytest.raises(TypeError, match="MaxPool1D: kernel_size must be an integer; got 2.5"):
        dlt.MaxPool1D(2.5)


def test_wrong_rank_and_too_large_kernels_are_refused_before_any_work():
    with pytest.raises(
        ValueError,
        match=r"MaxPool2D\(kernel_size=2.*\) expects samples of shape "
        r"\(C, H, W\); got samples of shape \(2, 9\)",
    ):
        dlt.Sequential([dlt.MaxPool2D(2)], input_shape=(2, 9))
    with pytest.raises(
        ValueError,
        match=r"layers\[1\] \(AvgPool1D.*kernel size 4 is larger than "
        r"the input along L: samples of shape \(C, L\) = \(2, 3\) have L = 3",
    ):
        dlt.Sequential([dlt.LayerNorm(3), dlt.AvgPool1D(4)], input_shape=(2, 3))
    with pytest.raises(ValueError, match=r"kernel size 3 is larger than the input along W"):
        dlt.MaxPool2D((2, 3)).forward(np.zeros((1, 1, 4, 2)))
    with pytest.raises(ValueError, match=r"GlobalAvgPool\(\) expects samples of shape \(C, L\)"):
        dlt.GlobalAvgPool().forward(np.zeros((3, 4)))


def test_a_fit_on_misfitting_data_changes_nothing():
    model = dlt.Sequential([dlt.MaxPool1D(3), dlt.Flatten(), dlt.Dense(6, 2)], seed=0)
    model.compile(loss="cross_entropy", optimizer="adam")
    X, y = data((2, 9), n=8)
    y = y % 2
    check_refused_fit_changes_nothing(model, X[:, :, :2], y, r"layers\[0\] \(MaxPool1D.*larger")
    assert not model.built  # nothing inferred from the refused data
    model.fit(X, y, epochs=1)
    check_refused_fit_changes_nothing(model, X[:, :1], y, r"samples of shape \(1, 9\), but the")
