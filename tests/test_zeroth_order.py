"""Tests of the zeroth-order estimators (SPSA, Gaussian smoothing) and their in-place passes.

References: the exact gradient of a quadratic, torch autograd in float64 for a network, and
the bits of the parameters before and after the perturbation passes.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients import network_zeroth_order
from deep_learning_toolkit.numdiff import directions, passes
from deep_learning_toolkit.numdiff import zeroth_order as zo
from deep_learning_toolkit.optim import SGD

VARIANTS = [
    "spsa",
    "gaussian",
    "spsa:two_sided=false",
    "gaussian:two_sided=false",
]


def quadratic(size: int, seed: int = 0):
    """``f(x) = x.A.x / 2 + b.x`` with a random symmetric ``A``, and its gradient."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(size, size))
    A = (M + M.T) / 2
    b = rng.normal(size=size)

    def f(x: np.ndarray) -> float:
        return float(0.5 * x @ A @ x + b @ x)

    return f, (lambda x: A @ x + b)


def bits(x: np.ndarray) -> np.ndarray:
    return x.view(np.uint64).copy()


def awkward_theta(size: int, seed: int = 0) -> np.ndarray:
    """Parameters on which naive ``x + hz - 2hz + hz`` loses bits: tiny, huge, subnormal, -0."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.05, size)
    theta[: size // 4] = rng.normal(0.0, 1e-5, size // 4)
    quarter = slice(size // 4, size // 2)
    theta[quarter] = 10.0 ** rng.uniform(-315, 3, size // 4) * rng.choice([-1, 1], size // 4)
    theta[:5] = 0.0
    theta[5:10] = -0.0
    return theta


# --------------------------------------------------------------------------- estimators
@pytest.mark.parametrize("method", VARIANTS)
def test_estimators_are_unbiased_for_a_quadratic(method):
    f, grad = quadratic(5)
    x = np.array([0.3, -1.2, 0.8, 0.05, 2.0])
    truth = grad(x)
    spec = zo.get_zeroth_order(method, scale=0.05)
    samples = np.array([zo.zeroth_order_gradient(f, x.copy(), spec, seed) for seed in range(4000)])
    mean = samples.mean(axis=0)
    stderr = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    # 4.5 standard errors: a false alarm about once in 10^5 per entry.
    assert np.all(np.abs(mean - truth) < 4.5 * stderr), (mean, truth, stderr)
    assert np.all(stderr > 0)
    assert np.all(4.5 * stderr < 0.1 * np.linalg.norm(truth))  # the test has power


@pytest.mark.parametrize("method", ["spsa", "gaussian"])
def test_two_sided_slope_is_the_exact_directional_derivative_of_a_quadratic(method):
    f, grad = quadratic(40, seed=3)
    x = np.random.default_rng(1).normal(size=40)
    estimate = zo.directional_slopes(f, x, zo.get_zeroth_order(method, n_directions=3), seed=11)
    for k in range(3):
        z = zo.direction(method, 11, k, 40)
        # The central difference of a quadratic has no truncation error; what is left is the
        # rounding of f (~1e-16 |f| / h) and the grid rounding of gaussian shifts (~1e-13).
        assert estimate.slopes[k] == pytest.approx(z @ grad(x), rel=1e-9, abs=1e-9)
    assert estimate.evaluations == 6 and estimate.value is None


def test_one_sided_slope_has_the_expected_second_order_term():
    f, grad = quadratic(10, seed=4)
    x = np.linspace(-1.0, 1.0, 10)
    spec = zo.get_zeroth_order("gaussian:two_sided=false,scale=0.01")
    estimate = zo.directional_slopes(f, x, spec, seed=5)
    z = zo.direction(spec, 5, 0, 10)
    A_z = grad(z) - grad(np.zeros(10))
    # (f(x + hz) - f(x)) / h = z.g + (h/2) z.A.z for a quadratic
    expected = z @ grad(x) + 0.5 * spec.scale * z @ A_z
    assert estimate.slopes[0] == pytest.approx(expected, rel=1e-8)
    assert estimate.value == pytest.approx(f(x)) and estimate.evaluations == 2


@pytest.mark.parametrize("method", ["spsa", "gaussian"])
@pytest.mark.parametrize("size", [7, 2 * zo.BLOCK + 5])  # one kept block; regenerated blocks
def test_n_directions_average_the_single_direction_estimates(method, size):
    def f(x: np.ndarray) -> float:
        return float(x @ x + x[:3].sum())

    x = np.linspace(-1.0, 1.0, size)
    spec = zo.get_zeroth_order(method, n_directions=3)
    many = zo.zeroth_order_gradient(f, x.copy(), spec, seed=9)
    estimate = zo.directional_slopes(f, x.copy(), spec, seed=9)
    singles = [estimate.slopes[k] * zo.direction(spec, 9, k, size) for k in range(3)]
    np.testing.assert_allclose(many, np.mean(singles, axis=0), rtol=1e-13, atol=1e-13)


def test_rademacher_directions_are_signs_and_gaussian_ones_look_normal():
    z = zo.direction("spsa", 0, 0, 100_003)  # not a multiple of the block size
    assert set(np.unique(z)) == {-1.0, 1.0}
    assert abs(z.mean()) < 0.02
    g = zo.direction("gaussian", 0, 0, 200_000)
    assert abs(g.mean()) < 0.01 and abs(g.std() - 1.0) < 0.01
    assert abs(np.mean(g**4) - 3.0) < 0.05  # kurtosis of a normal
    np.testing.assert_array_equal(g, zo.direction("gaussian", 0, 0, 200_000))
    assert not np.array_equal(g, zo.direction("gaussian", 0, 1, 200_000))
    assert not np.array_equal(g, zo.direction("gaussian", 1, 0, 200_000))


# --------------------------------------------------------------------------- the generator
def _blockwise(distribution: str, seed: int, k: int, size: int, block: int, dtype=np.float64):
    """Direction ``k`` generated ``block`` entries at a time into arrays of ``dtype``."""
    out = np.empty(size, dtype=dtype)
    z_k = directions.Direction(distribution, seed, k, size)
    for start in range(0, size, block):
        z_k.fill(out[start : start + block])
    return out


@pytest.mark.parametrize("distribution", zo.DISTRIBUTIONS)
def test_directions_do_not_depend_on_the_block_size_the_dtype_or_the_start(distribution):
    size = 5 * directions.GROUP + 77  # a partial last group
    whole = _blockwise(distribution, 12, 3, size, size)
    for block in (directions.GROUP, 3 * directions.GROUP, directions.BLOCK):
        np.testing.assert_array_equal(_blockwise(distribution, 12, 3, size, block), whole)
    narrow = _blockwise(distribution, 12, 3, size, directions.GROUP, np.float32)
    np.testing.assert_array_equal(narrow.astype(np.float64), whole)  # float32 values, exactly
    z_k = directions.Direction(distribution, 12, 3, size)
    z_k.seek(2 * directions.GROUP)  # where a thread's chunk starts
    tail = np.empty(size - 2 * directions.GROUP)
    z_k.fill(tail)
    np.testing.assert_array_equal(tail, whole[2 * directions.GROUP :])
    method = "spsa" if distribution == "rademacher" else "gaussian"
    np.testing.assert_array_equal(zo.direction(method, 12, 3, size), whole)
    assert not np.array_equal(whole, _blockwise(distribution, 12, 4, size, size))
    assert not np.array_equal(whole, _blockwise(distribution, 13, 3, size, size))
    with pytest.raises(ValueError, match="multiple of 1024"):
        directions.Direction(distribution, 0, 0, size).fill(np.empty(100))


def test_rademacher_entries_are_exactly_plus_or_minus_the_scale_with_mean_zero():
    size = 1_000_003
    z = zo.direction("spsa", 7, 0, size)
    assert set(np.unique(z)) == {-1.0, 1.0}
    assert abs(z.mean()) < 4 / np.sqrt(size)  # 4 standard errors
    other = zo.direction("spsa", 7, 1, size)
    assert abs(np.mean(z * other)) < 4 / np.sqrt(size)  # independent directions
    assert abs(np.mean(z[1:] * z[:-1])) < 4 / np.sqrt(size)  # independent neighbours
    scaled = _blockwise("rademacher", 7, 0, size, directions.BLOCK, np.float32)
    z_k = directions.Direction("rademacher", 7, 0, size)
    value = np.float32(3 * 2.0**-20)  # a multiple of a grid step: the shifts are exact
    shifted = np.empty(size, dtype=np.float32)
    for start in range(0, size, directions.BLOCK):
        z_k.fill(shifted[start : start + directions.BLOCK], value)
    np.testing.assert_array_equal(shifted, scaled * value)


def test_gaussian_entries_have_the_moments_of_normal_deviates():
    size = 1 << 21
    z = zo.direction("gaussian", 5, 0, size)
    error = 1 / np.sqrt(size)
    assert abs(z.mean()) < 4 * error
    assert abs(z.var() - 1.0) < 4 * np.sqrt(2) * error  # var of z**2 is 2
    assert abs(np.mean(z**3)) < 4 * np.sqrt(15) * error
    assert abs(np.mean(z**4) - 3.0) < 4 * np.sqrt(96) * error
    assert np.max(np.abs(z)) <= zo.DIRECTION_BOUND["gaussian"]
    pairs = z.reshape(-1, 2, directions.GROUP // 2)  # r cos t and r sin t share r and t
    cos_side, sin_side = pairs[:, 0].ravel(), pairs[:, 1].ravel()
    assert abs(np.mean(cos_side * sin_side)) < 4 * np.sqrt(2) * error
    assert abs(np.mean(cos_side**2 * sin_side**2) - 1.0) < 4 * np.sqrt(8) * error
    other = zo.direction("gaussian", 5, 1, size)
    assert abs(np.mean(z * other)) < 4 * np.sqrt(2) * error


def test_gaussian_entries_pass_a_kolmogorov_smirnov_test():
    stats = pytest.importorskip("scipy.stats")
    z = zo.direction("gaussian", 2, 0, 1 << 20)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    pairs = z.reshape(-1, 2, directions.GROUP // 2)
    assert stats.kstest(pairs[:, 1].ravel(), "norm").pvalue > 1e-3  # the sine side too


# --------------------------------------------------------------------------- exact replay
@pytest.mark.parametrize("method", VARIANTS + ["gaussian:n_directions=3,scale=0.3"])
def test_passes_restore_the_parameters_bit_for_bit(method):
    theta = awkward_theta(300_000)
    spec = zo.get_zeroth_order(method)
    quantum = zo.perturbation_grid(theta, spec)
    zo.snap_to_grid(theta, quantum)
    before = bits(theta)
    seen = []
    estimate = zo.directional_slopes(
        lambda v: seen.append(float(v @ v)) or seen[-1], theta, spec, 21
    )
    np.testing.assert_array_equal(bits(theta), before)
    assert len(seen) == estimate.evaluations
    assert len(set(seen)) == len(seen)  # f really saw perturbed parameters


def test_naive_replay_is_not_exact_on_the_same_parameters():
    # What the grid is for: MeZO's x + hz - 2hz + hz changes bits of such parameters.
    theta = awkward_theta(100_000)
    z = zo.direction("gaussian", 21, 0, theta.size)
    naive = theta + 1e-3 * z
    naive -= 2e-3 * z
    naive += 1e-3 * z
    assert np.count_nonzero(bits(naive) != bits(theta)) > 1000


def test_snap_moves_entries_by_at_most_half_a_quantum_and_is_idempotent():
    theta = awkward_theta(50_000)
    original = theta.copy()
    quantum = zo.perturbation_grid(theta, "spsa")
    assert quantum == 2.0**-43  # max|theta| + 2h just under 1000 < 2**10 = 2**53 q
    zo.snap_to_grid(theta, quantum)
    assert np.max(np.abs(theta - original)) <= quantum / 2
    assert np.all(theta / quantum == np.rint(theta / quantum))
    snapped = bits(theta)
    zo.snap_to_grid(theta, quantum)
    np.testing.assert_array_equal(bits(theta), snapped)
    # a step's own snap leaves on-grid parameters untouched
    zo.directional_slopes(lambda v: float(v.sum()), theta, "spsa", 0)
    np.testing.assert_array_equal(bits(theta), snapped)


def test_parameters_are_restored_when_f_raises():
    theta = awkward_theta(10_000)
    zo.snap_to_grid(theta, zo.perturbation_grid(theta, "spsa"))
    before = bits(theta)
    calls = []

    def failing(v: np.ndarray) -> float:
        calls.append(1)
        if len(calls) == 2:  # at theta - h z
            raise RuntimeError("black box failed")
        return 0.0

    with pytest.raises(RuntimeError, match="black box failed"):
        zo.directional_slopes(failing, theta, "spsa", 3)
    np.testing.assert_array_equal(bits(theta), before)
    with pytest.raises(ValueError, match=r"f returned nan at theta \+ h\*z_0"):
        zo.directional_slopes(lambda v: float("nan"), theta, "spsa", 3)
    np.testing.assert_array_equal(bits(theta), before)


# --------------------------------------------------------------------------- updates
def test_lean_sgd_update_matches_sgd_on_the_full_estimate():
    f, _ = quadratic(30, seed=2)
    theta = np.random.default_rng(0).normal(size=30)
    estimate = zo.directional_slopes(f, theta, "gaussian:n_directions=4", seed=8)
    full = zo.estimate_gradient(estimate)
    reference = theta.copy()
    SGD(lr=0.01).step(reference, full)
    norm = zo.sgd_update(theta, estimate, lr=0.01)
    np.testing.assert_allclose(theta, reference, rtol=1e-15, atol=1e-16)
    assert norm == pytest.approx(np.linalg.norm(full), rel=1e-12)


@pytest.mark.parametrize("method", VARIANTS + ["spsa:n_directions=3", "gaussian:n_directions=3"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_fused_step_is_slopes_then_sgd_rounded_to_the_next_grid(method, dtype):
    size = 3 * zo.BLOCK + 5
    theta = np.random.default_rng(1).normal(0.0, 0.5, size).astype(dtype)
    zo.snap_to_grid(theta, zo.perturbation_grid(theta, method))
    f, lr = (lambda v: float(np.sum(v * v, dtype=np.float64))), 1e-3
    start, reference = theta.copy(), theta.copy()
    expected = zo.directional_slopes(f, reference, method, 4)
    zo.sgd_update(reference, expected, lr)
    estimate = zo.zeroth_order_step(f, theta, lr, method, 4)
    np.testing.assert_array_equal(estimate.slopes, expected.slopes)  # the same evaluations
    quantum = zo.perturbation_grid(theta, method)
    assert np.max(np.abs(theta - reference)) <= quantum  # the update rounded to the grid
    assert np.count_nonzero(theta != start) > size // 2  # it did update
    on_grid = theta.copy()
    zo.snap_to_grid(on_grid, quantum)  # the next step's snap changes nothing
    np.testing.assert_array_equal(on_grid.view(np.uint8), theta.view(np.uint8))


def test_run_passes_restores_the_bits_when_no_update_is_applied_or_it_fails():
    theta = awkward_theta(3 * zo.BLOCK)
    spec = zo.get_zeroth_order("gaussian:n_directions=2")
    zo.snap_to_grid(theta, zo.perturbation_grid(theta, spec))
    before = bits(theta)
    f = lambda v: float(v[:100] @ v[:100])  # noqa: E731
    _, norm = zo.run_passes(f, theta, spec, 3, update=lambda estimate: None)
    assert norm is None
    np.testing.assert_array_equal(bits(theta), before)

    def refuse(estimate):
        raise RuntimeError("no rate")

    with pytest.raises(RuntimeError, match="no rate"):
        zo.run_passes(f, theta, spec, 3, update=refuse)
    np.testing.assert_array_equal(bits(theta), before)
    with pytest.raises(zo.ScaleTooSmallError, match="too small"):  # a diverging update
        zo.zeroth_order_step(f, theta, 1e300, spec, 3)
    np.testing.assert_array_equal(bits(theta), before)


@pytest.mark.parametrize("method", ["spsa", "gaussian:n_directions=2"])
def test_threads_sweep_the_parameters_to_the_same_bits(monkeypatch, method):
    size = 2 * passes.MIN_BLOCKS_PER_THREAD * zo.BLOCK + 7
    start = np.random.default_rng(2).normal(size=size).astype(np.float32)
    f = lambda v: float(v[::1000] @ v[::1000])  # noqa: E731
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(passes, "pass_threads", lambda threads=threads: threads)
        assert len(passes.chunks(size)) == threads
        theta = start.copy()
        estimate = zo.zeroth_order_step(f, theta, 1e-2, method, 8)
        results.append((theta, estimate.slopes, zo.estimate_gradient(estimate)))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_zeroth_order_step_uses_no_parameter_sized_memory():
    size = 1_000_000  # 8 MB of parameters

    def f(v: np.ndarray) -> float:
        return float(v @ v)  # allocates nothing

    theta = np.random.default_rng(0).normal(size=size)
    tracemalloc.start()
    try:
        zo.zeroth_order_step(f, theta, 1e-3, "gaussian:n_directions=2", seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    threads = len(passes.chunks(size))  # each sweeps its chunk with a few blocks of arrays
    assert peak < threads * 5 * zo.BLOCK * 8 + 100_000  # a few 256 KiB blocks per thread
    assert peak < theta.nbytes / 2


def test_training_a_black_box_with_spsa_lowers_its_loss():
    rng = np.random.default_rng(0)
    # convex, so that there is a minimum to approach so that there is a minimum to approach
    Q = rng.normal(size=(20, 20))
    A = Q @ Q.T / 20 + np.eye(20)
    b = rng.normal(size=20)
    theta = np.zeros(20)

    def loss(x: np.ndarray) -> float:
        return float(0.5 * x @ A @ x + b @ x)

    best = loss(np.linalg.solve(A, -b))
    start = loss(theta)
    for step in range(1500):
        zo.zeroth_order_step(loss, theta, 0.02, "spsa", seed=zo.step_seed(0, 0, step))
    assert loss(theta) - best < 0.01 * (start - best)


# --------------------------------------------------------------------------- Sequential
@pytest.fixture
def network():
    rng = np.random.default_rng(0)
    model = dlt.Sequential([dlt.Dense(4, 6, activation="tanh"), dlt.Dense(6, 3)], seed=1)
    model.compile(loss="cross_entropy", metrics=["accuracy"])
    X = rng.normal(size=(12, 4))
    y = rng.integers(0, 3, size=12)
    return model, X, model.loss.prepare_targets(y, 3)


def test_sequential_helper_slopes_match_torch_autograd(network):
    torch = pytest.importorskip("torch")
    model, X, targets = network
    spec = zo.get_zeroth_order("spsa:n_directions=2,scale=1e-4")
    result = network_zeroth_order(model, X, targets, model.loss, spec, seed=4)
    # the same loss in torch, float64, on the (snapped) parameters
    theta = torch.tensor(model.params, dtype=torch.float64, requires_grad=True)
    W1 = theta[:24].reshape(4, 6)
    b1 = theta[24:30]
    W2 = theta[30:48].reshape(6, 3)
    b2 = theta[48:51]
    logits = torch.tanh(torch.tensor(X) @ W1 + b1) @ W2 + b2
    value = torch.nn.functional.cross_entropy(logits, torch.tensor(targets))
    value.backward()
    exact = theta.grad.numpy()
    assert result.loss == pytest.approx(value.item(), rel=1e-14)
    for k in range(2):
        z = zo.direction(spec, 4, k, model.num_parameters)
        # two-sided error O(h^2) = 1e-8 relative
        assert result.estimate.slopes[k] == pytest.approx(z @ exact, rel=1e-6)
    np.testing.assert_allclose(
        result.gradient, zo.estimate_gradient(result.estimate), rtol=0, atol=0
    )
    assert result.evaluations == 5
    np.testing.assert_allclose(result.outputs, model.forward(X), rtol=0, atol=0)


def test_sequential_helper_restores_params_and_can_skip_the_gradient(network):
    model, X, targets = network
    zo.snap_to_grid(model.params, zo.perturbation_grid(model.params, "gaussian"))
    before = bits(model.params)
    result = network_zeroth_order(model, X, targets, model.loss, "gaussian", 0, gradient=False)
    assert result.gradient is None
    np.testing.assert_array_equal(bits(model.params), before)
    zo.sgd_update(model.params, result.estimate, 0.1)
    assert not np.array_equal(bits(model.params), before)


def test_sequential_helper_returns_non_finite_losses_for_fit_to_handle(network):
    model, X, targets = network

    class Exploding(type(model.loss)):
        def batched(self, outputs, targets):
            return np.full(outputs.shape[:-2], np.nan)

    zo.snap_to_grid(model.params, zo.perturbation_grid(model.params, "spsa"))
    before = bits(model.params)
    result = network_zeroth_order(model, X, targets, Exploding(), "spsa", 0)
    assert np.isnan(result.loss) and np.all(np.isnan(result.gradient))
    np.testing.assert_array_equal(bits(model.params), before)


def test_spsa_trains_a_small_network():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR of signs: needs the hidden layer
    model = dlt.Sequential([dlt.Dense(2, 16, activation="tanh"), dlt.Dense(16, 2)], seed=0)
    model.compile(loss="cross_entropy", optimizer=dlt.optim.Adam(lr=0.02), metrics=["accuracy"])
    targets = model.loss.prepare_targets(y, 2)
    start = model.evaluate(X, y)["loss"]
    for step in range(600):
        result = network_zeroth_order(model, X, targets, model.loss, "spsa:n_directions=2", step)
        model.optimizer.step(model.params, result.gradient)
    scores = model.evaluate(X, y)
    assert scores["loss"] < 0.5 * start
    assert scores["accuracy"] > 0.9


# --------------------------------------------------------------------------- specs
def test_named_methods_and_options_round_trip():
    assert zo.get_zeroth_order("spsa") == zo.ZerothOrder("rademacher")
    assert zo.get_zeroth_order("gaussian").distribution == "gaussian"
    spec = zo.get_zeroth_order("gaussian: n_directions=8, two_sided=false, scale=1e-2, seed=3")
    assert spec == zo.ZerothOrder("gaussian", False, 8, 0.01, 3)
    assert zo.get_zeroth_order(spec.label) == spec
    assert zo.get_zeroth_order("spsa").label == "spsa"
    assert zo.get_zeroth_order(spec, n_directions=2).n_directions == 2
    assert zo.get_zeroth_order("spsa", scale=0.1).scale == 0.1
    assert zo.ZerothOrder(**spec.config()) == spec
    assert spec.perturbed_evaluations == 8
    assert zo.get_zeroth_order("spsa:n_directions=3").perturbed_evaluations == 6
    assert zo.is_zeroth_order("spsa") and zo.is_zeroth_order("gaussian:scale=1")
    assert zo.is_zeroth_order(spec)
    assert not zo.is_zeroth_order("central") and not zo.is_zeroth_order(3)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: zo.get_zeroth_order("sspa"), ValueError, "valid names are"),
        (lambda: zo.get_zeroth_order(3), TypeError, "got 3"),
        (lambda: zo.get_zeroth_order("spsa:n=3"), ValueError, "key in"),
        (lambda: zo.get_zeroth_order("spsa:n_directions"), ValueError, "key=value"),
        (lambda: zo.get_zeroth_order("spsa:n_directions=two"), ValueError, "an integer"),
        (lambda: zo.get_zeroth_order("spsa:two_sided=maybe"), ValueError, "true or false"),
        (lambda: zo.get_zeroth_order("spsa:scale=-1"), ValueError, "scale must be > 0"),
        (lambda: zo.get_zeroth_order("spsa", distribution="gaussian"), ValueError, "Unknown"),
        (lambda: zo.ZerothOrder("uniform"), ValueError, "Unknown distribution 'uniform'"),
        (lambda: zo.ZerothOrder(n_directions=0), ValueError, "n_directions must be >= 1"),
        (lambda: zo.ZerothOrder(two_sided="yes"), TypeError, "two_sided must be True or False"),
        (lambda: zo.ZerothOrder(scale=float("inf")), ValueError, "scale must be finite"),
        (lambda: zo.ZerothOrder(seed=-1), ValueError, "seed must be >= 0"),
    ],
)
def test_bad_specs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_bad_inputs_raise_clear_errors():
    f = lambda v: float(v.sum())  # noqa: E731
    with pytest.raises(TypeError, match="float64 or float32 NumPy array"):
        zo.directional_slopes(f, [1.0, 2.0], "spsa", 0)
    for dtype in (np.float16, np.int64, np.complex128):
        with pytest.raises(TypeError, match="float64 or float32 NumPy array"):
            zo.directional_slopes(f, np.ones(3, dtype=dtype), "spsa", 0)
    with pytest.raises(ValueError, match="C-contiguous and writable"):
        zo.directional_slopes(f, np.ones(6)[::2], "spsa", 0)
    with pytest.raises(ValueError, match="theta contains nan at index 1"):
        zo.directional_slopes(f, np.array([1.0, np.nan]), "spsa", 0)
    with pytest.raises(TypeError, match="f must be callable"):
        zo.directional_slopes("f", np.ones(3), "spsa", 0)
    with pytest.raises(TypeError, match="f must return a real scalar"):
        zo.directional_slopes(lambda v: "x", np.ones(3), "spsa", 0)
    with pytest.raises(ValueError, match="scale=1e-20 is too small"):
        zo.directional_slopes(f, np.ones(3), "spsa:scale=1e-20", 0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        zo.directional_slopes(f, np.ones(3), "spsa", -1)
    estimate = zo.directional_slopes(f, np.ones(3), "spsa", 0)
    with pytest.raises(ValueError, match="theta must have 3 entries"):
        zo.sgd_update(np.ones(4), estimate, 0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        zo.sgd_update(np.ones(3), estimate, 0.0)


def test_step_seeds_are_reproducible_and_distinct():
    assert zo.step_seed(0, 1, 2) == zo.step_seed(0, 1, 2)
    seeds = {zo.step_seed(s, e, b) for s in range(3) for e in range(5) for b in range(20)}
    assert len(seeds) == 300
    assert all(0 <= s < 2**63 for s in seeds)


# ---------------------------------------------------------------- through compile / fit


def _digits_like(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_with_spsa_trains_and_replays_on_resume(optimizer):
    import deep_learning_toolkit as dlt

    X, y = _digits_like()

    def model():
        net = dlt.Sequential([dlt.Dense(6, 8, activation="tanh"), dlt.Dense(8, 3)], seed=0)
        opt = dlt.optim.SGD(lr=0.05) if optimizer == "sgd" else dlt.optim.Adam(lr=0.01)
        net.compile(optimizer=opt, method="spsa:n_directions=4", metrics=["accuracy"])
        return net

    straight = model()
    history = straight.fit(X, y, epochs=30, batch_size=40)
    assert history.name == "spsa:n_directions=4"
    assert history.history["evaluations"][0] == 3 * (1 + 2 * 4)  # 3 batches
    assert history.history["loss"][-1] < history.history["loss"][0]
    resumed = model()
    resumed.fit(X, y, epochs=15, batch_size=40)
    resumed.fit(X, y, epochs=30, batch_size=40, initial_epoch=15)
    np.testing.assert_array_equal(resumed.params, straight.params)


def test_lean_sgd_path_matches_sgd_on_the_full_estimate(monkeypatch):
    """Plain SGD updates in place (no gradient vector); momentum SGD takes the full vector."""
    import deep_learning_toolkit as dlt
    from deep_learning_toolkit.training import step as training_step

    X, y = _digits_like(1)
    lean = dlt.Sequential([dlt.Dense(6, 5, activation="tanh"), dlt.Dense(5, 3)], seed=2)
    lean.compile(optimizer=dlt.optim.SGD(lr=0.1), method="gaussian")
    full = dlt.Sequential([dlt.Dense(6, 5, activation="tanh"), dlt.Dense(5, 3)], seed=2)
    full.compile(optimizer=dlt.optim.SGD(lr=0.1), method="gaussian")
    lean.fit(X, y, epochs=1, batch_size=120)
    # the same SGD rule through the full gradient vector
    monkeypatch.setattr(training_step, "lean_update", lambda optimizer: False)
    full.fit(X, y, epochs=1, batch_size=120)
    np.testing.assert_allclose(lean.params, full.params, rtol=0, atol=1e-15)


def test_read_only_calls_give_back_the_callers_bits():
    """loss_and_gradient(method="spsa") and zeroth_order_gradient snap the parameters to their
    perturbation grid to estimate; the caller's exact bits must come back."""
    import deep_learning_toolkit as dlt

    rng = np.random.default_rng(0)
    model = dlt.Sequential([dlt.Dense(3, 4, activation="tanh"), dlt.Dense(4, 2)], seed=0)
    model.compile(optimizer="sgd")
    model.params[...] += rng.normal(size=model.num_parameters) * 1e-9  # off any coarse grid
    before = bits(model.params)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 2, 10)
    model.loss_and_gradient(X, y, method="spsa")
    np.testing.assert_array_equal(bits(model.params), before)
    theta = rng.normal(size=50) + 1e-9
    theta_bits = bits(theta)
    zo.zeroth_order_gradient(lambda v: float(v @ v), theta, "gaussian", 3)
    np.testing.assert_array_equal(bits(theta), theta_bits)
