"""Tests of the optimizers: agreement with torch.optim, state round trips and input checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from deep_learning_toolkit.optim import (
    OPTIMIZERS,
    SGD,
    Adam,
    Optimizer,
    RMSprop,
    get_optimizer,
)

N_STEPS = 50
SIZE = 37

# (our class, torch.optim class name, our kwargs); torch gets the same kwargs.
CASES: list[tuple[type[Optimizer], str, dict[str, Any]]] = [
    (SGD, "SGD", {"lr": 0.01}),
    (SGD, "SGD", {"lr": 0.05, "momentum": 0.9}),
    (SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    (SGD, "SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    (SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (SGD, "SGD", {"lr": 0.02, "weight_decay": 0.1}),
    (Adam, "Adam", {"lr": 0.001}),
    (Adam, "Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    (Adam, "Adam", {"lr": 0.01, "betas": (0.0, 0.9)}),
    (Adam, "Adam", {"lr": 0.01, "weight_decay": 0.05}),
    (Adam, "Adam", {"lr": 0.01, "amsgrad": True}),
    (Adam, "Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.02}),
    (Adam, "Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (RMSprop, "RMSprop", {"lr": 0.01}),
    (RMSprop, "RMSprop", {"lr": 0.001, "alpha": 0.9, "eps": 1e-6}),
    (RMSprop, "RMSprop", {"lr": 0.001, "centered": True}),
    (RMSprop, "RMSprop", {"lr": 0.001, "momentum": 0.9}),
    (RMSprop, "RMSprop", {"lr": 0.001, "momentum": 0.5, "centered": True}),
    (RMSprop, "RMSprop", {"lr": 0.001, "weight_decay": 0.1, "alpha": 0.3}),
]
IDS = [f"{cls.name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for cls, _, kw in CASES]


def gradients(seed: int, n_steps: int = N_STEPS, size: int = SIZE) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=size) for _ in range(n_steps)]


def start(seed: int = 0, size: int = SIZE) -> np.ndarray:
    return np.random.default_rng(seed + 1000).normal(size=size)


def run(opt: Optimizer, params: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    for grad in grads:
        opt.step(params, grad)
    return params


@pytest.mark.parametrize(("cls", "torch_name", "kwargs"), CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_torch(
    cls: type[Optimizer], torch_name: str, kwargs: dict[str, Any], seed: int
) -> None:
    torch = pytest.importorskip("torch")
    grads = gradients(seed)
    ours = run(cls(**kwargs), start(seed), grads)

    p = torch.nn.Parameter(torch.tensor(start(seed), dtype=torch.float64))
    opt = getattr(torch.optim, torch_name)([p], foreach=False, **kwargs)
    for grad in grads:
        p.grad = torch.tensor(grad, dtype=torch.float64)
        opt.step()
    theirs = p.detach().numpy()
    assert np.max(np.abs(ours - theirs)) <= 1e-12
    assert not np.allclose(ours, start(seed))  # the parameters did move


@pytest.mark.parametrize(("cls", "torch_name", "kwargs"), CASES, ids=IDS)
def test_state_dict_round_trip(cls: type[Optimizer], torch_name: str, kwargs: dict) -> None:
    grads = gradients(3)
    straight = run(cls(**kwargs), start(), grads)

    first = cls(**kwargs)
    params = run(first, start(), grads[:20])
    saved = first.state_dict()
    run(first, params.copy(), grads[20:])  # later steps must not change the saved copy
    resumed = cls()  # default hyperparameters: load_state_dict restores them
    resumed.load_state_dict(saved)
    assert resumed.hyperparameters() == first.hyperparameters()
    assert resumed.step_count == 20
    run(resumed, params, grads[20:])
    np.testing.assert_array_equal(params, straight)


def test_state_dict_contents() -> None:
    opt = Adam(lr=0.01, amsgrad=True)
    fresh = opt.state_dict()
    assert fresh["step"] == 0 and fresh["state"] == {} and fresh["shape"] is None
    params = np.zeros(4)
    opt.step(params, np.ones(4))
    state = opt.state_dict()
    assert state["optimizer"] == "adam" and state["step"] == 1 and state["shape"] == (4,)
    assert set(state["state"]) == {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    state["state"]["exp_avg"][:] = 99.0  # a copy, not the live state
    assert opt.state_dict()["state"]["exp_avg"][0] != 99.0


def test_load_state_dict_rejects_other_optimizer_and_bad_state() -> None:
    sgd = SGD(momentum=0.9)
    sgd.step(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="'sgd'"):
        Adam().load_state_dict(sgd.state_dict())
    with pytest.raises(TypeError, match="state"):
        SGD().load_state_dict([1, 2])  # type: ignore[arg-type]
    broken = sgd.state_dict()
    del broken["state"]
    with pytest.raises(ValueError, match="missing"):
        SGD().load_state_dict(broken)
    bad_shape = sgd.state_dict()
    bad_shape["state"]["momentum_buffer"] = np.zeros(5)
    target = SGD()
    with pytest.raises(ValueError, match="momentum_buffer"):
        target.load_state_dict(bad_shape)
    assert target.hyperparameters() == SGD().hyperparameters()  # unchanged on failure
    bad_hp = sgd.state_dict()
    bad_hp["hyperparameters"]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr"):
        SGD().load_state_dict(bad_hp)


def test_reset_forgets_state() -> None:
    opt = RMSprop(momentum=0.9, centered=True)
    a = run(opt, start(), gradients(5, 10))
    opt.reset()
    assert opt.step_count == 0 and opt.state_dict()["state"] == {}
    opt.step(np.zeros(2), np.ones(2))  # a new shape is fine after reset
    b = run(RMSprop(momentum=0.9, centered=True), start(), gradients(5, 10))
    opt.reset()
    np.testing.assert_array_equal(run(opt, start(), gradients(5, 10)), a)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_update_is_in_place_and_grad_untouched(name: str) -> None:
    opt = get_optimizer(name)
    params = start()
    before = params.copy()
    grad = np.ones(SIZE)
    buffer = params.__array_interface__["data"][0]
    result = opt.step(params, grad)
    assert result is None
    assert params.__array_interface__["data"][0] == buffer
    assert not np.array_equal(params, before)
    np.testing.assert_array_equal(grad, np.ones(SIZE))


def test_in_place_on_the_same_object() -> None:
    params = np.zeros(3)
    alias = params
    SGD(lr=0.5).step(params, np.ones(3))
    assert alias is params
    np.testing.assert_array_equal(alias, [-0.5, -0.5, -0.5])


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_mismatched_shapes_raise(name: str) -> None:
    opt = get_optimizer(name)
    with pytest.raises(ValueError, match="shape"):
        opt.step(np.zeros(3), np.zeros(4))
    opt.step(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        opt.step(np.zeros(4), np.ones(4))


def test_params_must_be_float64_or_float32_array() -> None:
    with pytest.raises(TypeError, match="params"):
        SGD().step([0.0, 1.0], np.ones(2))  # type: ignore[arg-type]
    for dtype in (np.float16, np.int64):
        with pytest.raises(TypeError, match="params must be a float64 or float32 NumPy array"):
            SGD().step(np.zeros(2, dtype=dtype), np.ones(2))
    with pytest.raises(TypeError, match="grad"):
        SGD().step(np.zeros(2), ["a", "b"])  # type: ignore[arg-type]


def test_lr_is_settable_and_validated() -> None:
    opt = SGD(lr=0.1)
    params = np.zeros(2)
    opt.lr = 0.5
    assert opt.lr == 0.5 and opt.hyperparameters()["lr"] == 0.5
    opt.step(params, np.ones(2))
    np.testing.assert_array_equal(params, [-0.5, -0.5])
    with pytest.raises(ValueError, match=r"lr must be > 0; got -1\.0\."):
        opt.lr = -1.0
    with pytest.raises(TypeError, match="lr"):
        opt.lr = "fast"  # type: ignore[assignment]
    assert opt.lr == 0.5


def test_hyperparameters() -> None:
    assert Adam().hyperparameters() == {
        "optimizer": "adam",
        "lr": 0.001,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
        "decoupled_weight_decay": False,
    }
    assert SGD().hyperparameters()["lr"] == 0.01
    assert RMSprop().hyperparameters() == {
        "optimizer": "rmsprop",
        "lr": 0.01,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    }
    for cls in (SGD, Adam, RMSprop):
        values = cls().hyperparameters().values()
        assert all(isinstance(v, (float, bool, str)) for v in values)
        assert repr(cls()).startswith(cls.__name__ + "(lr=")


def test_get_optimizer() -> None:
    assert set(OPTIMIZERS) == {"sgd", "adam", "rmsprop"}
    assert isinstance(get_optimizer("sgd"), SGD)
    assert isinstance(get_optimizer("ADAM"), Adam)
    assert isinstance(get_optimizer(" RMSprop "), RMSprop)
    assert get_optimizer("sgd") is not get_optimizer("sgd")
    opt = Adam(lr=0.1)
    assert get_optimizer(opt) is opt
    with pytest.raises(ValueError, match=r"adamw.*\['adam', 'rmsprop', 'sgd'\]"):
        get_optimizer("adamw")
    with pytest.raises(TypeError, match="optimizer"):
        get_optimizer(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="optimizer"):
        get_optimizer(Adam)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("factory", "error", "match"),
    [
        (lambda: SGD(lr=-1.0), ValueError, r"lr must be > 0; got -1\.0"),
        (lambda: SGD(lr=0), ValueError, "lr"),
        (lambda: SGD(lr=float("nan")), ValueError, "lr must be finite"),
        (lambda: SGD(lr=float("inf")), ValueError, "lr must be finite"),
        (lambda: SGD(lr="0.1"), TypeError, "lr"),
        (lambda: SGD(momentum=-0.1), ValueError, r"momentum must be >= 0; got -0\.1"),
        (lambda: SGD(dampening=1.5), ValueError, "dampening"),
        (lambda: SGD(weight_decay=-1), ValueError, "weight_decay"),
        (lambda: SGD(nesterov=1), TypeError, "nesterov"),
        (lambda: SGD(nesterov=True), ValueError, "nesterov.*momentum"),
        (lambda: SGD(momentum=0.9, dampening=0.1, nesterov=True), ValueError, "dampening"),
        (lambda: Adam(lr=-0.1), ValueError, "lr"),
        (lambda: Adam(betas=(1.0, 0.999)), ValueError, r"betas\[0\] must be < 1\.0; got 1\.0"),
        (lambda: Adam(betas=(0.9, -0.1)), ValueError, r"betas\[1\]"),
        (lambda: Adam(betas=0.9), TypeError, "betas"),
        (lambda: Adam(betas=(0.9, 0.99, 0.9)), TypeError, "betas"),
        (lambda: Adam(eps=0.0), ValueError, "eps"),
        (lambda: Adam(weight_decay=-0.01), ValueError, "weight_decay"),
        (lambda: Adam(amsgrad="yes"), TypeError, "amsgrad"),
        (lambda: Adam(decoupled_weight_decay=None), TypeError, "decoupled_weight_decay"),
        (lambda: RMSprop(alpha=1.5), ValueError, "alpha"),
        (lambda: RMSprop(alpha=-0.5), ValueError, "alpha"),
        (lambda: RMSprop(eps=-1e-8), ValueError, "eps"),
        (lambda: RMSprop(momentum=-1), ValueError, "momentum"),
        (lambda: RMSprop(weight_decay=float("nan")), ValueError, "weight_decay"),
        (lambda: RMSprop(centered=0), TypeError, "centered"),
    ],
)
def test_bad_hyperparameters_raise(factory: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        factory()


@pytest.mark.parametrize(
    "optimizer",
    [
        SGD(lr=0.3, momentum=0.5, dampening=0.1, nesterov=False, weight_decay=0.01),
        Adam(lr=0.02, betas=(0.8, 0.95), eps=1e-7, amsgrad=True, decoupled_weight_decay=True),
        RMSprop(lr=0.05, alpha=0.9, momentum=0.1, centered=True),
        Adam(),
    ],
    ids=["sgd", "adam", "rmsprop", "adam-defaults"],
)
def test_repr_is_a_call_the_constructor_accepts(optimizer) -> None:
    import deep_learning_toolkit.optim as optim

    rebuilt = eval(repr(optimizer), vars(optim))  # noqa: S307 (our own repr)
    assert type(rebuilt) is type(optimizer)
    assert rebuilt.hyperparameters() == optimizer.hyperparameters()
