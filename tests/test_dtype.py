"""Networks in float32 (``Sequential(..., dtype="float32")``).

References: the float64 network (initial values rounded to float32), torch autograd in
float64 at the float32 point, torch.optim-style update rules computed in float64, and the
bits of the parameters before and after the zeroth-order passes.
"""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients import network_zeroth_order
from deep_learning_toolkit.numdiff import zeroth_order as zo
from deep_learning_toolkit.serialization import model_parts

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5).astype(int)


@dlt.register_layer
class Gain(dlt.Layer):
    """A user-defined layer: its parameter follows the network's dtype too."""

    def __init__(self, n):
        super().__init__()
        self.add_parameter("s", (n,), initializer="normal")

    def forward(self, x, training=False):
        return x * self.s


def layers():
    return [
        dlt.Dense(4, 8, activation="tanh"),
        Gain(8),
        dlt.Dense(8, 6, activation="relu"),
        dlt.Dense(6, 3),
    ]


def network(dtype="float32", seed=3):
    return dlt.Sequential(layers(), seed=seed, dtype=dtype)


def bits(x):
    return x.view(np.uint8).copy()


# --------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float32")])
def test_parameters_forward_and_predictions_are_float32(dtype):
    model = network(dtype)
    assert model.dtype == np.float32 and model.params.dtype == np.float32
    assert all(
        getattr(layer, name).dtype == np.float32
        and np.shares_memory(getattr(layer, name), model.params)
        for layer in model.layers
        for name in layer.parameters
    )
    assert model.forward(model.check_input(X)).dtype == np.float32
    model.compile(loss="cross_entropy")
    assert model.predict(X).dtype == np.float32
    assert model.get_params().dtype == np.float32
    assert "dtype='float32'" in repr(model)


def test_initial_values_are_the_float64_ones_rounded_to_float32():
    wide, narrow = network("float64"), network("float32")
    assert wide.dtype == np.float64 and "dtype" not in repr(wide)
    np.testing.assert_array_equal(narrow.params, wide.params.astype(np.float32))
    assert dlt.Sequential(layers(), seed=3, dtype=float).dtype == np.float64


def test_the_forward_pass_matches_float64_to_float32_rounding():
    narrow = network("float32")
    wide = network("float64")
    wide.set_params(narrow.params.astype(np.float64))  # the same point, exactly
    inputs = narrow.check_input(X)
    out32 = narrow.forward(inputs)
    out64 = wide.forward(inputs.astype(np.float64))
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(out32 - out64)) > 0  # it really ran in float32


def test_set_params_casts_and_refuses_values_beyond_float32():
    model = network()
    model.set_params(np.full(model.num_parameters, 0.1))
    assert model.params.dtype == np.float32 and model.params[0] == np.float32(0.1)
    before = bits(model.params)
    too_large = np.full(model.num_parameters, 1e39)
    with pytest.raises(ValueError, match=r"params holds 1e\+39 at index \(0,\).*float32"):
        model.set_params(too_large)
    np.testing.assert_array_equal(bits(model.params), before)
    with pytest.raises(ValueError, match=r"X holds 1e\+40 .*beyond the range of float32"):
        model.predict(np.where(np.arange(4) == 2, 1e40, X[:5]))


# --------------------------------------------------------------------------- optimizers
OPTIMIZERS = [
    lambda: dlt.optim.SGD(lr=0.1),
    lambda: dlt.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda: dlt.optim.Adam(lr=0.01, amsgrad=True, weight_decay=0.01),
    lambda: dlt.optim.Adam(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    lambda: dlt.optim.RMSprop(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_optimizer_updates_and_state_stay_float32_and_follow_the_float64_rule(make):
    rng = np.random.default_rng(1)
    narrow = rng.normal(size=50).astype(np.float32)
    wide = narrow.astype(np.float64)
    fast, reference = make(), make()
    for _ in range(5):
        grad = rng.normal(size=50).astype(np.float32)
        fast.step(narrow, grad)
        reference.step(wide, grad.astype(np.float64))
        assert narrow.dtype == np.float32
        assert all(value.dtype == np.float32 for value in fast.state_dict()["state"].values())
    np.testing.assert_allclose(narrow, wide, rtol=2e-5, atol=2e-6)


def test_a_float64_state_is_cast_to_the_parameters_dtype():
    optimizer = dlt.optim.Adam(lr=0.01)
    wide = np.ones(4)
    optimizer.step(wide, np.ones(4))
    state = optimizer.state_dict()
    narrow_optimizer = dlt.optim.Adam(lr=0.01)
    narrow_optimizer.load_state_dict(state)
    narrow = np.ones(4, dtype=np.float32)
    narrow_optimizer.step(narrow, np.ones(4))
    assert narrow.dtype == np.float32
    assert narrow_optimizer.state_dict()["state"]["exp_avg"].dtype == np.float32


# --------------------------------------------------------------------------- finite differences
def test_finite_differences_of_a_float32_network_are_taken_in_float64():
    """The policy: the differences run on a float64 copy of the float32 parameters, so the
    gradient is as accurate as a float64 network's and comes back in float64; in float32
    arithmetic the same formula would be off by more than 1e-4."""
    from deep_learning_toolkit.study import autograd_gradient

    pytest.importorskip("torch")
    model = dlt.Sequential(  # Dense layers: the torch reference knows them
        [dlt.Dense(4, 8, activation="tanh"), dlt.Dense(8, 3)], seed=3, dtype="float32"
    )
    model.compile(loss="cross_entropy", method="five_point_midpoint")
    before = bits(model.params)
    exact = autograd_gradient(model, X, Y)[1]
    scale = np.max(np.abs(exact))
    for method, accuracy in [
        ("five_point_midpoint", 1e-9),
        ("central", 1e-8),
        ("complex_step", 1e-13),
    ]:
        loss, gradient = model.loss_and_gradient(X, Y, method=method)
        assert gradient.dtype == np.float64 and model.params.dtype == np.float32
        error = np.max(np.abs(gradient - exact)) / scale
        assert error < accuracy, (method, error)  # as accurate as in a float64 network
    np.testing.assert_array_equal(bits(model.params), before)
    assert all(  # the layers read the float32 parameters again
        np.shares_memory(layer.W, model.params) for layer in model.layers if hasattr(layer, "W")
    )
    # what float32 arithmetic would give: central differences of the float32 loss
    inputs, targets = model._prepare(X, Y)
    theta = model.params
    index = np.arange(0, model.num_parameters, 7)
    h = np.float32(2.0**-12)
    naive = []
    for i in index:
        original = theta[i]
        theta[i] = original + h
        up = model.loss.batched(model.forward(inputs, True), targets)
        theta[i] = original - h
        down = model.loss.batched(model.forward(inputs, True), targets)
        theta[i] = original
        naive.append((up - down) / (2 * h))
    naive_error = np.max(np.abs(np.array(naive, dtype=np.float64) - exact[index])) / scale
    assert naive_error > 1e-4


def test_training_a_float32_network_with_finite_differences_lowers_the_loss():
    model = network()
    model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.05), method="central")
    history = model.fit(X, Y, epochs=8, batch_size=20)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.params.dtype == np.float32
    assert model.last_gradient.dtype == np.float64  # applied in float32 by the optimizer
    assert model.optimizer.state_dict()["state"]["exp_avg"].dtype == np.float32


class Fuse(dlt.Layer):
    """Passes its input through, or fails when lit."""

    lit = False

    def forward(self, x, training=False):
        if Fuse.lit and x.dtype == np.float64:
            raise RuntimeError("fuse blew")
        return x


def test_a_failing_difference_binds_the_float32_parameters_again():
    model = dlt.Sequential([dlt.Dense(4, 5), Fuse(), dlt.Dense(5, 3)], seed=0, dtype="float32")
    model.compile(loss="cross_entropy", method="central", gradient_engine="reference")
    before = bits(model.params)
    Fuse.lit = True
    try:
        with pytest.raises(RuntimeError, match="fuse blew"):
            model.loss_and_gradient(X, Y)
    finally:
        Fuse.lit = False
    assert model.params.dtype == np.float32
    np.testing.assert_array_equal(bits(model.params), before)
    assert np.shares_memory(model.layers[0].W, model.params)
    assert model.forward(model.check_input(X)).dtype == np.float32


# --------------------------------------------------------------------------- zeroth order
@pytest.mark.parametrize("method", ["spsa", "gaussian:n_directions=3", "spsa:two_sided=false"])
def test_zeroth_order_passes_restore_float32_parameters_bit_for_bit(method):
    rng = np.random.default_rng(4)
    theta = rng.normal(0.0, 0.05, 3 * zo.BLOCK + 11).astype(np.float32)
    theta[:1000] = rng.normal(0.0, 1e-6, 1000).astype(np.float32)  # below the grid step
    theta[1000:1010] = np.float32(-0.0)
    quantum = zo.perturbation_grid(theta, method)
    assert quantum == 2.0 ** (np.frexp(np.max(np.abs(theta)) + 2e-3)[1] - 24)  # 24-bit grid
    zo.snap_to_grid(theta, quantum)
    before = bits(theta)
    seen = []
    estimate = zo.directional_slopes(
        lambda v: seen.append(float(v @ v)) or seen[-1], theta, method, 5
    )
    np.testing.assert_array_equal(bits(theta), before)
    assert len(set(seen)) == estimate.evaluations  # f saw perturbed parameters
    assert zo.estimate_gradient(estimate).dtype == np.float32
    naive = theta + np.float32(1e-3) * zo.direction(method, 5, 0, theta.size).astype(np.float32)
    naive -= np.float32(1e-3) * zo.direction(method, 5, 0, theta.size).astype(np.float32)
    assert np.count_nonzero(naive != theta) > 100  # what the grid is for, in float32 too


def test_the_float32_grid_refuses_a_scale_below_its_resolution():
    theta = np.full(10, 100.0, dtype=np.float32)
    zo.perturbation_grid(theta, "spsa:scale=1e-3")  # 2**-18 of 100 is 4e-4
    with pytest.raises(
        ValueError, match=r"scale=0\.0001 is too small .*\(2\*\*-18 of max\|theta\| in float32\)"
    ):
        zo.perturbation_grid(theta, "spsa:scale=1e-4")
    zo.perturbation_grid(theta.astype(np.float64), "spsa:scale=1e-4")  # fine in float64


@pytest.mark.parametrize("method", ["spsa", "gaussian"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_zeroth_order_training_in_float32_lowers_the_loss_and_resumes_exactly(
    tmp_path, method, optimizer
):
    def model():
        net = network()
        opt = dlt.optim.SGD(lr=0.05) if optimizer == "sgd" else dlt.optim.Adam(lr=0.02)
        net.compile(loss="cross_entropy", optimizer=opt, method=f"{method}:n_directions=4")
        return net

    straight = model()
    history = straight.fit(X, Y, epochs=30, batch_size=20)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert straight.params.dtype == np.float32
    half = model()
    half.fit(X, Y, epochs=15, batch_size=20)
    resumed = dlt.load_model(half.save(tmp_path / "half.dltk"))
    assert resumed.params.dtype == np.float32
    resumed.fit(X, Y, epochs=30, batch_size=20, initial_epoch=15)
    np.testing.assert_array_equal(bits(resumed.params), bits(straight.params))
    assert resumed.history.history["loss"] == history.history["loss"]


def test_read_only_zeroth_order_calls_give_back_float32_bits():
    model = network()
    model.compile(loss="cross_entropy")
    model.params[...] += np.float32(1e-7)  # off the perturbation grid
    before = bits(model.params)
    loss, gradient = model.loss_and_gradient(X, Y, method="gaussian")
    assert gradient.dtype == np.float32 and np.isfinite(loss)
    np.testing.assert_array_equal(bits(model.params), before)


# --------------------------------------------------------------------------- logged loss
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_without_metrics_fit_logs_the_mean_perturbed_loss_and_skips_the_unperturbed_pass(dtype):
    def model(metrics):
        net = network(dtype)
        net.compile(
            loss="cross_entropy",
            optimizer=dlt.optim.SGD(lr=0.1),
            method="spsa:n_directions=2",
            metrics=metrics,
        )
        return net

    lean, measured = model(None), model(["accuracy"])
    start = lean.get_params()
    logs = lean.fit(X, Y, epochs=1, batch_size=None, shuffle=False).history  # one step
    assert logs["evaluations"] == [4.0]  # 2 * n_directions: no unperturbed pass
    assert "accuracy" not in logs
    # the same step, evaluated apart: the mean of its four perturbed losses
    probe = model(None)
    probe.set_params(start)
    probe.set_step(probe.seed, 0, 0)
    inputs, targets = probe._prepare(X, Y)
    seed = zo.step_seed(probe.seed, 0, 0)
    result = network_zeroth_order(
        probe, inputs, targets, probe.loss, probe.stencil, seed, gradient=False, outputs=False
    )
    assert result.outputs is None and result.evaluations == 4
    assert result.loss == result.estimate.perturbed_mean
    assert logs["loss"] == [pytest.approx(result.loss, rel=1e-15)]  # times 60, over 60
    unperturbed = probe.evaluate(X, Y)["loss"]
    assert 0 < abs(result.loss - unperturbed) < 1e-4  # O(h**2) away
    logged = measured.fit(X, Y, epochs=1, batch_size=None, shuffle=False).history
    assert logged["evaluations"] == [5.0] and "accuracy" in logged
    assert logged["loss"] == [pytest.approx(unperturbed, rel=1e-15)]
    np.testing.assert_array_equal(lean.params, measured.params)  # the same update


def test_a_diverging_lean_step_keeps_the_parameters_of_the_last_batch():
    model = network()
    model.compile(loss="cross_entropy", optimizer=dlt.optim.SGD(lr=0.1), method="spsa")
    model.fit(X, Y, epochs=1, batch_size=60)  # a finished step: on its grid
    model.compile(loss="cross_entropy", optimizer=dlt.optim.SGD(lr=1e300), method="spsa")
    before = bits(model.params)
    with pytest.raises(FloatingPointError, match=r"diverged.*lr=1e\+300"):
        model.fit(X, Y, epochs=1, batch_size=60)
    np.testing.assert_array_equal(bits(model.params), before)


# --------------------------------------------------------------------------- saving
@pytest.mark.parametrize("method", ["central", "spsa"])
def test_save_and_load_keep_the_dtype_and_the_optimizer_state(tmp_path, method):
    model = network()
    model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.01), method=method)
    model.fit(X, Y, epochs=2, batch_size=20)
    assert model.config()["dtype"] == "float32"
    loaded = dlt.load_model(model.save(tmp_path / "m.dltk"))
    assert loaded.dtype == np.float32 and loaded.config() == model.config()
    np.testing.assert_array_equal(bits(loaded.params), bits(model.params))
    saved, restored = model.optimizer.state_dict(), loaded.optimizer.state_dict()
    for key, value in saved["state"].items():
        assert restored["state"][key].dtype == np.float32
        np.testing.assert_array_equal(restored["state"][key], value)
    header = dlt.io.read_header(tmp_path / "m.dltk")
    assert header["arrays"]["params"]["dtype"] == "<f4"


def test_files_without_a_dtype_load_as_float64():
    model = network("float64")
    model.compile(loss="cross_entropy")
    from deep_learning_toolkit.serialization import model_payload

    header, arrays = model_payload(model)
    del header["architecture"]["dtype"]  # written before float32 support
    parts = model_parts(header, arrays)
    assert parts.dtype == "float64"


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "dtype, error, match",
    [
        ("int32", ValueError, "dtype must be 'float32' or 'float64'; got 'int32': an integer"),
        (int, ValueError, "an integer dtype"),
        ("complex128", ValueError, "got 'complex128': a complex dtype"),
        ("float16", ValueError, r"got 'float16': its 11-bit significand"),
        (np.longdouble, ValueError, "only float32 and float64"),
        ("bool", ValueError, "a bool dtype"),
        ("float", TypeError, None),  # np.dtype("float") is float64: accepted below
        ("banana", TypeError, r"dtype must be 'float32' or 'float64' .*got 'banana'"),
        (None, TypeError, "got None"),
        (True, TypeError, "got True"),
        (0.5, TypeError, "got 0.5"),
    ],
)
def test_a_bad_dtype_is_refused_naming_it_and_changes_nothing(dtype, error, match):
    mine = layers()
    if dtype == "float":
        assert dlt.Sequential(mine, dtype=dtype).dtype == np.float64
        return
    with pytest.raises(error, match=match):
        dlt.Sequential(mine, seed=0, dtype=dtype)
    model = dlt.Sequential(mine, seed=0, dtype="float32")  # the layers are still free
    assert model.layers[0].W.dtype == np.float32
