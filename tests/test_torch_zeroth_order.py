"""Tests of dlt.torch.ZerothOrder, the MeZO-style optimizer for any PyTorch model.

References: the bits of the parameters before and after a step, the exact gradient of a
quadratic, the perturbed parameters the closure sees, torch.optim.SGD's momentum rule, and
test accuracy on scikit-learn's digits.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import deep_learning_toolkit as dlt  # noqa: E402
from deep_learning_toolkit.torch import directions  # noqa: E402
from deep_learning_toolkit.torch.exact_shift import (  # noqa: E402
    BITS,
    apply_shift,
    perturbation,
    undo_shift,
)

ZerothOrder = dlt.torch.ZerothOrder
DTYPES = [torch.float32, torch.bfloat16, torch.float64]
METHODS = ["spsa", "gaussian"]


# --------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread is faster, and immune to other processes' load."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def bits(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().clone().view(BITS[tensor.dtype])


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [bits(p) for p in module.parameters()]


def same_bits(module: torch.nn.Module, saved: list[torch.Tensor]) -> bool:
    return all(torch.equal(bits(p), b) for p, b in zip(module.parameters(), saved))


def awkward_values(dtype: torch.dtype) -> torch.Tensor:
    """Entries that naive shifts damage: -0.0, tiny and subnormal values, powers of two +- ulp."""
    info = torch.finfo(dtype)
    near = [2.0**e for e in range(-12, 2)]
    values = [0.0, -0.0, info.tiny, info.tiny / 4, -3e-7, 1e-5, -4e-4, 7e-4, 0.3, -1.7]
    values += near + [-v for v in near]
    out = torch.tensor(values, dtype=torch.float64).to(dtype)
    return torch.cat([out, torch.nextafter(out[10:], torch.full_like(out[10:], 9.0))])


class Net(torch.nn.Module):
    """A small MLP plus a parameter the loss does not read, holding awkward values."""

    def __init__(self, dtype: torch.dtype = torch.float32, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)
        ).to(dtype)
        self.bank = torch.nn.Parameter(awkward_values(dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def toy_batch(dtype: torch.dtype = torch.float32, n: int = 16):
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(n, 6, generator=generator).to(dtype)
    y = torch.randint(0, 3, (n,), generator=generator)
    return X, y


def loss_closure(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor):
    return lambda: torch.nn.functional.cross_entropy(model(X).float(), y)


def quadratic(size: int = 5, seed: int = 0):
    """``f(x) = x.A.x / 2 + b.x`` (float64) and its gradient."""
    generator = torch.Generator().manual_seed(seed)
    M = torch.randn(size, size, generator=generator, dtype=torch.float64)
    A = (M + M.T) / 2
    b = torch.randn(size, generator=generator, dtype=torch.float64)
    return (lambda x: 0.5 * x @ A @ x + b @ x), (lambda x: A @ x + b)


# --------------------------------------------------------------------------- import
def test_importing_the_toolkit_does_not_import_torch():
    code = (
        "import sys, deep_learning_toolkit as dlt; assert 'torch' not in sys.modules; "
        "dlt.torch.ZerothOrder; assert 'torch' in sys.modules; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_without_torch_dlt_torch_says_how_to_install_it():
    code = (
        "import sys; sys.modules['torch'] = None; import deep_learning_toolkit as dlt\n"
        "try:\n    dlt.torch\nexcept ImportError as e:\n    print(type(e).__name__, e)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ImportError") and "pip install torch" in result.stdout


# --------------------------------------------------------------------------- exact shifts
@pytest.mark.parametrize("dtype", [*DTYPES, torch.float16])
@pytest.mark.parametrize("method", METHODS)
def test_shift_and_undo_give_back_every_bit_where_naive_arithmetic_does_not(dtype, method):
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(20000, generator=generator, dtype=torch.float64) * 0.02).to(dtype)
    x = torch.cat([x, awkward_values(dtype), torch.tensor([math.nan, math.inf], dtype=dtype)])
    z = directions.DirectionStream(method, 7, directions.generation_dtype(dtype), x.device)
    d = perturbation(z.draw(x.numel()), 1e-3, dtype)
    for sign in (1, -1):
        shifted, lost = apply_shift(x, d, sign)
        assert torch.equal(bits(shifted), bits(x + d if sign > 0 else x - d))
        assert lost is not None and 0 < lost[0].numel() < x.numel() // 5
        assert torch.equal(bits(undo_shift(shifted, d, sign, lost)), bits(x))
    naive = (x + d) - 2 * d + d  # MeZO's passes: many entries come back changed
    assert (bits(naive) != bits(x)).sum() > x.numel() // 10


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", METHODS)
def test_a_step_with_lr_zero_leaves_the_parameters_bit_identical(dtype, method):
    model = Net(dtype)
    X, y = toy_batch(dtype)
    saved = snapshot(model)
    optimizer = ZerothOrder(model.parameters(), lr=0.0, method=method, n_directions=2)
    for _ in range(3):
        optimizer.step(loss_closure(model, X, y))
    assert same_bits(model, saved)
    assert optimizer.steps == 3 and not optimizer._perturbed


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_closure_sees_the_perturbed_parameters_and_a_step_updates(dtype):
    model = Net(dtype)
    X, y = toy_batch(dtype)
    weight = model.body[0].weight
    seen = []

    def closure():
        seen.append(weight.detach().clone())
        return loss_closure(model, X, y)()

    start = weight.detach().clone()
    optimizer = ZerothOrder(model.parameters(), lr=0.1, scale=1e-2)
    optimizer.step(closure)
    d = perturbation(optimizer.direction(weight), 1e-2, dtype)
    assert torch.equal(bits(seen[0]), bits(start + d))
    assert torch.equal(bits(seen[1]), bits(start - d))
    assert not torch.equal(bits(weight), bits(start))


@pytest.mark.parametrize("n_directions", [1, 3])
def test_the_closure_is_called_twice_per_direction(n_directions):
    model = Net()
    X, y = toy_batch()
    calls = []

    def closure():
        calls.append(1)
        return loss_closure(model, X, y)()

    optimizer = ZerothOrder(model.parameters(), lr=0.01, n_directions=n_directions)
    for step in range(1, 4):
        optimizer.step(closure)
        assert len(calls) == 2 * n_directions * step
    assert len(optimizer.last_losses) == n_directions


# --------------------------------------------------------------------------- the estimate
@pytest.mark.parametrize("method", METHODS)
def test_the_update_is_the_hand_computed_estimate_on_a_quadratic(method):
    f, _ = quadratic()
    theta = torch.nn.Parameter(torch.linspace(-1.0, 2.0, 5, dtype=torch.float64))
    start = theta.detach().clone()
    lr, h, n = 0.05, 1e-3, 3
    optimizer = ZerothOrder([theta], lr=lr, method=method, scale=h, n_directions=n, seed=11)
    optimizer.step(lambda: f(theta))
    z = [optimizer.direction(theta, k) for k in range(n)]
    if method == "spsa":
        assert all(set(zk.tolist()) <= {-1.0, 1.0} for zk in z)
    plus = [f(start + h * zk).item() for zk in z]
    minus = [f(start - h * zk).item() for zk in z]
    assert optimizer.last_losses == list(zip(plus, minus))
    estimate = sum((p - m) / (2 * h) * zk for p, m, zk in zip(plus, minus, z)) / n
    torch.testing.assert_close(theta.detach(), start - lr * estimate, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_the_estimate_averages_to_the_true_gradient(method):
    f, grad = quadratic(4, seed=3)
    start = torch.tensor([0.5, -1.0, 1.5, 0.25], dtype=torch.float64)
    g = grad(start)
    runs = 1500
    estimates = []
    for seed in range(runs):
        theta = torch.nn.Parameter(start.clone())
        ZerothOrder([theta], lr=1.0, method=method, seed=seed).step(lambda theta=theta: f(theta))
        estimates.append(start - theta.detach())
    mean = torch.stack(estimates).mean(0)
    # Per-entry variance of one estimate of a quadratic (the central difference is exact):
    # sum_{j != i} g_j^2 for +-1 entries, |g|^2 + g_i^2 for normal ones.
    total = (g**2).sum()
    variance = total - g**2 if method == "spsa" else total + g**2
    tolerance = 4.5 * torch.sqrt(variance / runs)
    assert torch.all((mean - g).abs() < tolerance), (mean, g, tolerance)
    assert torch.all(tolerance < 0.5 * g.abs().max())  # the check can fail


def test_momentum_follows_torch_sgd_given_the_estimate():
    f, _ = quadratic(6, seed=5)
    theta = torch.nn.Parameter(torch.linspace(-1.0, 1.0, 6, dtype=torch.float64))
    twin = torch.nn.Parameter(theta.detach().clone())
    optimizer = ZerothOrder([theta], lr=0.02, momentum=0.9, n_directions=2, scale=1e-3)
    reference = torch.optim.SGD([twin], lr=0.02, momentum=0.9)
    for _ in range(4):
        optimizer.step(lambda: f(theta))
        twin.grad = (
            sum(
                (p - m) / 2e-3 * optimizer.direction(theta, k)
                for k, (p, m) in enumerate(optimizer.last_losses)
            )
            / 2
        )
        reference.step()
        torch.testing.assert_close(theta.detach(), twin.detach(), rtol=1e-13, atol=1e-14)
    assert optimizer.state[theta]["momentum_buffer"].shape == theta.shape


# --------------------------------------------------------------------------- training
def digits_tensors(images: bool = False):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    X, y = sklearn_datasets.load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    if images:
        X = X.view(-1, 1, 8, 8)
    else:
        X = (X - X[:1300].mean(0)) / (X[:1300].std(0) + 1e-6)
    return X[:1300], y[:1300], X[1300:], y[1300:]


def train_on_digits(model, images: bool, steps: int, lr: float) -> tuple[float, float]:
    X, y, X_test, y_test = digits_tensors(images)

    def accuracy() -> float:
        with torch.no_grad():
            return (model(X_test).argmax(1) == y_test).float().mean().item()

    before = accuracy()
    optimizer = ZerothOrder(model.parameters(), lr=lr, seed=0)
    batches = torch.Generator().manual_seed(0)
    for _ in range(steps):
        index = torch.randint(0, len(y), (64,), generator=batches)
        xb, yb = X[index], y[index]
        optimizer.step(lambda xb=xb, yb=yb: torch.nn.functional.cross_entropy(model(xb), yb))
    return before, accuracy()


def test_a_torch_mlp_on_digits_learns():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))
    before, after = train_on_digits(model, images=False, steps=2000, lr=0.01)
    assert before < 0.2 and after > 0.8, (before, after)  # torch seeds 0-4: 0.88-0.90


def test_a_torch_cnn_on_digits_learns():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.Tanh(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(128, 10),
    )
    before, after = train_on_digits(model, images=True, steps=1500, lr=0.01)
    assert before < 0.2 and after > 0.7, (before, after)  # torch seeds 0-4: 0.80-0.87


# --------------------------------------------------------------------------- groups, state
def test_parameter_groups_have_their_own_lr_and_scale():
    model = Net(torch.float64)
    X, y = toy_batch(torch.float64)
    first, second = model.body[0], model.body[2]
    frozen = [bits(p) for p in first.parameters()]
    seen = []

    def closure():
        seen.append(second.weight.detach().clone())
        return loss_closure(model, X, y)()

    optimizer = ZerothOrder(
        [{"params": first.parameters(), "lr": 0.0}, {"params": second.parameters(), "scale": 0.1}],
        lr=0.5,
        scale=1e-3,
    )
    start = second.weight.detach().clone()
    optimizer.step(closure)
    assert all(torch.equal(bits(p), b) for p, b in zip(first.parameters(), frozen))
    z = optimizer.direction(second.weight)
    torch.testing.assert_close(seen[0] - start, 0.1 * z, rtol=1e-12, atol=1e-15)
    ((plus, minus),) = optimizer.last_losses
    torch.testing.assert_close(
        second.weight.detach(), start - 0.5 * (plus - minus) / 0.2 * z, rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("method", METHODS)
def test_a_run_resumed_from_state_dicts_replays_the_same_steps(method):
    X, y = toy_batch()
    options = {"lr": 0.05, "method": method, "n_directions": 2, "momentum": 0.5, "seed": 3}

    model = Net()
    optimizer = ZerothOrder(model.parameters(), **options)
    for _ in range(3):
        optimizer.step(loss_closure(model, X, y))
    saved = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, saved)
    for _ in range(3):
        optimizer.step(loss_closure(model, X, y))

    resumed = Net(seed=1)
    other = ZerothOrder(resumed.parameters(), lr=0.5, seed=99)
    saved.seek(0)
    checkpoint = torch.load(saved)
    resumed.load_state_dict(checkpoint["model"])
    other.load_state_dict(checkpoint["optimizer"])
    assert other.steps == 3 and other.seed == 3 and other.param_groups[0]["lr"] == 0.05
    for _ in range(3):
        other.step(loss_closure(resumed, X, y))
    assert same_bits(resumed, snapshot(model))


def test_blocks_and_non_contiguous_parameters(monkeypatch):
    monkeypatch.setattr(directions, "BLOCK", 7)
    f, _ = quadratic(12, seed=2)
    base = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64)
    flat = torch.nn.Parameter(base.clone())
    layout = torch.empty_strided((3, 4), (1, 3), dtype=torch.float64)
    strided = torch.nn.Parameter(layout.copy_(base.view(3, 4)))  # same values, not contiguous
    assert not strided.is_contiguous()
    outcomes = []
    for theta, view in ((flat, lambda: flat), (strided, lambda: strided.reshape(-1))):
        optimizer = ZerothOrder([theta], lr=0.1, seed=4, method="gaussian")
        optimizer.step(lambda view=view: f(view()))
        outcomes.append((view().detach().clone(), optimizer.last_losses))
    # the same flat order, hence the same directions, losses and update
    assert outcomes[0][1] == outcomes[1][1]
    assert torch.equal(outcomes[0][0], outcomes[1][0])
    z = directions.direction("gaussian", 4, 1, 0, 0, flat)
    assert torch.equal(
        z, ZerothOrder([flat], lr=0.1, seed=4, method="gaussian").direction(flat, 0, 1)
    )


def test_directions_are_reproducible_and_distinct():
    like = torch.empty(1000)
    spsa = directions.direction("spsa", 0, 1, 0, 0, like)
    assert set(spsa.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(spsa, directions.direction("spsa", 0, 1, 0, 0, like))
    gaussian = directions.direction("gaussian", 0, 1, 0, 0, like)
    assert abs(gaussian.mean().item()) < 0.15 and abs(gaussian.std().item() - 1) < 0.1
    others = [(1, 1, 0, 0), (0, 2, 0, 0), (0, 1, 1, 0), (0, 1, 0, 1)]
    for seed, step, k, index in others:
        assert not torch.equal(spsa, directions.direction("spsa", seed, step, k, index, like))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("options", "error", "fragment"),
    [
        ({"scale": 0.0}, ValueError, "scale must be > 0"),
        ({"scale": -1e-3}, ValueError, "scale must be > 0"),
        ({"scale": math.nan}, ValueError, "scale must be finite"),
        ({"scale": math.inf}, ValueError, "scale must be finite"),
        ({"scale": "small"}, TypeError, "scale must be a real number"),
        ({"lr": -0.1}, ValueError, "lr must be >= 0"),
        ({"lr": math.nan}, ValueError, "lr must be finite"),
        ({"method": "adam"}, ValueError, "Unknown method 'adam'"),
        ({"n_directions": 0}, ValueError, "n_directions must be >= 1"),
        ({"n_directions": 1.5}, TypeError, "n_directions must be an integer"),
        ({"momentum": 1.0}, ValueError, "momentum must be < 1.0"),
        ({"momentum": -0.5}, ValueError, "momentum must be >= 0"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
    ],
)
def test_bad_options_are_refused(options, error, fragment):
    model = Net()
    saved = snapshot(model)
    with pytest.raises(error, match=fragment):
        ZerothOrder(model.parameters(), **{"lr": 0.1, **options})
    assert same_bits(model, saved)


def test_bad_parameters_are_refused():
    weight = torch.nn.Parameter(torch.ones(3))
    with pytest.raises(TypeError, match=r"parameter 1 has dtype torch.int64"):
        ZerothOrder([weight, torch.zeros(3, dtype=torch.int64)], lr=0.1)
    with pytest.raises(TypeError, match="torch.complex64"):
        ZerothOrder([torch.zeros(2, dtype=torch.complex64, requires_grad=True)], lr=0.1)
    frozen = torch.ones(3)  # requires_grad=False
    with pytest.raises(ValueError, match="parameter 0 does not require a gradient"):
        ZerothOrder([frozen], lr=0.1)
    with pytest.raises(ValueError, match="'bias'.*does not require a gradient"):
        ZerothOrder([("bias", frozen)], lr=0.1)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        ZerothOrder([weight, 3.0], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        ZerothOrder([{"params": [weight]}, {"params": [weight]}], lr=0.1)
    assert torch.equal(weight.detach(), torch.ones(3)) and torch.equal(frozen, torch.ones(3))


def test_a_bad_group_added_later_leaves_the_optimizer_as_it_was():
    model = Net()
    optimizer = ZerothOrder(model.body.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="parameter group 1: scale must be > 0"):
        optimizer.add_param_group({"params": [model.bank], "scale": -1.0})
    assert len(optimizer.param_groups) == 1


@pytest.mark.parametrize(
    ("change", "error", "fragment"),
    [
        (lambda o, m: o.param_groups[0].update(lr=-1.0), ValueError, "group 0: lr must be >= 0"),
        (lambda o, m: o.param_groups[0].update(scale=0), ValueError, "scale must be > 0"),
        (lambda o, m: m.bank.requires_grad_(False), ValueError, "does not require a gradient"),
    ],
)
def test_a_step_refuses_groups_changed_into_bad_ones(change, error, fragment):
    model = Net()
    X, y = toy_batch()
    optimizer = ZerothOrder(model.parameters(), lr=0.1)
    change(optimizer, model)
    saved = snapshot(model)
    with pytest.raises(error, match=fragment):
        optimizer.step(loss_closure(model, X, y))
    assert same_bits(model, saved) and optimizer.steps == 0


def test_a_step_needs_a_callable_closure():
    model = Net()
    saved = snapshot(model)
    optimizer = ZerothOrder(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="needs a closure"):
        optimizer.step()
    with pytest.raises(TypeError, match="closure must be callable"):
        optimizer.step(1.0)
    assert same_bits(model, saved) and optimizer.steps == 0


def bad_after(good: int, bad: object):
    """A closure whose first ``good`` calls return 1.0 and later calls ``bad``."""
    calls = []

    def closure():
        calls.append(1)
        return 1.0 if len(calls) <= good else bad

    return closure


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("bad", "error", "fragment"),
    [
        (torch.ones(3), ValueError, r"scalar loss; got a tensor of shape \(3,\)"),
        (math.nan, ValueError, r"non-finite loss \(nan\)"),
        (torch.tensor(math.inf), ValueError, r"non-finite loss \(inf\)"),
        ("low", TypeError, "real scalar loss; got 'low'"),
        (torch.tensor(1j), TypeError, "complex64 loss"),
    ],
)
def test_a_bad_loss_restores_the_parameters_and_names_the_step(dtype, bad, error, fragment):
    model = Net(dtype)
    optimizer = ZerothOrder(model.parameters(), lr=0.1, n_directions=2)
    optimizer.step(lambda: 1.0)  # step 1: equal losses, no change
    saved = snapshot(model)
    for good in range(4):  # the bad value at each of the four evaluations of step 2
        with pytest.raises(error, match=fragment) as caught:
            optimizer.step(bad_after(good, bad))
        assert "at step 2" in str(caught.value) and "restored" in str(caught.value)
        assert same_bits(model, saved) and optimizer.steps == 1 and not optimizer._perturbed


@pytest.mark.parametrize("exception", [RuntimeError("boom"), KeyboardInterrupt()])
@pytest.mark.parametrize("when", [0, 1, 2, 3])
def test_an_exception_in_the_closure_restores_the_parameters(exception, when):
    model = Net(torch.bfloat16)
    X, y = toy_batch(torch.bfloat16)
    saved = snapshot(model)
    calls = []

    def closure():
        calls.append(1)
        if len(calls) == when + 1:
            raise exception
        return loss_closure(model, X, y)()

    optimizer = ZerothOrder(model.parameters(), lr=0.1, n_directions=2, method="gaussian")
    with pytest.raises(type(exception)):
        optimizer.step(closure)
    assert same_bits(model, saved) and optimizer.steps == 0
    # the failed step left nothing behind: the next step is a fresh optimizer's first step
    optimizer.step(loss_closure(model, X, y))
    twin = Net(torch.bfloat16)
    ZerothOrder(twin.parameters(), lr=0.1, n_directions=2, method="gaussian").step(
        loss_closure(twin, X, y)
    )
    assert same_bits(model, snapshot(twin))


def test_a_closure_that_calls_backward_gets_a_hint():
    model = Net()
    X, y = toy_batch()
    saved = snapshot(model)

    def closure():
        loss = loss_closure(model, X, y)()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match=r"no loss.backward\(\)"):
        ZerothOrder(model.parameters(), lr=0.1).step(closure)
    assert same_bits(model, saved)


def test_load_state_dict_refuses_another_optimizers_state():
    model = Net()
    optimizer = ZerothOrder(model.parameters(), lr=0.1, seed=5)
    state = torch.optim.SGD(model.parameters(), lr=0.3).state_dict()
    with pytest.raises(ValueError, match="does not come from ZerothOrder.state_dict"):
        optimizer.load_state_dict(state)
    state = optimizer.state_dict()
    state["zeroth_order"] = {**state["zeroth_order"], "method": "adam"}
    with pytest.raises(ValueError, match="Unknown method 'adam'"):
        optimizer.load_state_dict(state)
    assert optimizer.method == "spsa" and optimizer.seed == 5
