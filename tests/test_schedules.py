"""Tests of the learning-rate schedules: Keras's formulas, torch.optim.lr_scheduler, the
trajectories of optimizers that follow them, and saving/resuming a schedule exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.io import load_model
from deep_learning_toolkit.optim import (
    SGD,
    Adam,
    CosineDecay,
    ExponentialDecay,
    LearningRateError,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    RMSprop,
    StepDecay,
)
from deep_learning_toolkit.optim.schedules import FunctionSchedule, deserialize, serialize

STEPS = np.arange(0, 130)


def rates(schedule: Any, steps=STEPS) -> np.ndarray:
    return np.array([schedule(int(t)) for t in steps])


# ---------------------------------------------------------------------- Keras's formulas
# Written out with NumPy from the Keras 3 documentation and source
# (keras/src/optimizers/schedules/learning_rate_schedule.py), vectorised over the steps.
def keras_exponential(lr0, decay_steps, decay_rate, staircase, t):
    p = t / decay_steps
    return lr0 * decay_rate ** (np.floor(p) if staircase else p)


def keras_cosine(lr0, decay_steps, alpha, t, warmup_target=None, warmup_steps=0):
    def decay(step, start):
        return start * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * step / decay_steps)) + alpha)

    if warmup_target is None:
        return decay(np.minimum(t, decay_steps), lr0)
    t = np.minimum(t, decay_steps + warmup_steps)
    warm = (warmup_target - lr0) * (t / max(warmup_steps, 1)) + lr0  # used only if t < warmup
    return np.where(t < warmup_steps, warm, decay(t - warmup_steps, warmup_target))


def keras_piecewise(boundaries, values, t):
    out = np.where(t <= boundaries[0], values[0], 0.0)
    out += np.where(t > boundaries[-1], values[-1], 0.0)
    for low, high, value in zip(boundaries[:-1], boundaries[1:], values[1:-1]):
        out += np.where((t > low) & (t <= high), value, 0.0)
    return out


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_is_keras_formula(staircase: bool) -> None:
    schedule = ExponentialDecay(0.1, decay_steps=7, decay_rate=0.8, staircase=staircase)
    np.testing.assert_allclose(
        rates(schedule), keras_exponential(0.1, 7, 0.8, staircase, STEPS), rtol=1e-14
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"alpha": 0.1},
        {"alpha": 0.2, "warmup_target": 0.5, "warmup_steps": 15},
        {"warmup_target": 0.05, "warmup_steps": 1},
        {"warmup_target": 0.3, "warmup_steps": 0},
    ],
)
def test_cosine_decay_is_keras_formula(kwargs: dict) -> None:
    schedule = CosineDecay(0.0 if "warmup_target" in kwargs else 0.2, 100, **kwargs)
    lr0 = schedule.initial_learning_rate
    expected = keras_cosine(lr0, 100, kwargs.get("alpha", 0.0), STEPS.astype(float),
                            kwargs.get("warmup_target"), kwargs.get("warmup_steps", 0))  # fmt: skip
    np.testing.assert_allclose(rates(schedule), expected, rtol=1e-14, atol=1e-17)
    assert rates(schedule).min() >= 0


def test_piecewise_constant_and_step_decay() -> None:
    schedule = PiecewiseConstantDecay([10, 40, 41], [0.3, 0.2, 0.1, 0.05])
    np.testing.assert_array_equal(
        rates(schedule), keras_piecewise([10, 40, 41], [0.3, 0.2, 0.1, 0.05], STEPS)
    )
    np.testing.assert_allclose(
        rates(StepDecay(0.5, step_size=9, gamma=0.3)), 0.5 * 0.3 ** (STEPS // 9), rtol=1e-14
    )


# ---------------------------------------------------------------------- torch.optim
def torch_rates(make_scheduler, lr: float, steps: int = len(STEPS)) -> np.ndarray:
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(torch.optim.lr_scheduler, opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(out)


# (our schedule, torch scheduler factory, torch's base lr, steps where they coincide)
TORCH_CASES = {
    "step-decay=StepLR": (
        StepDecay(0.1, step_size=10, gamma=0.5),
        lambda s, o: s.StepLR(o, step_size=10, gamma=0.5),
        0.1,
        130,
    ),
    "exponential-staircase=StepLR": (
        ExponentialDecay(0.1, decay_steps=10, decay_rate=0.7, staircase=True),
        lambda s, o: s.StepLR(o, step_size=10, gamma=0.7),
        0.1,
        130,
    ),
    "exponential-1-step=ExponentialLR": (
        ExponentialDecay(0.05, decay_steps=1, decay_rate=0.97),
        lambda s, o: s.ExponentialLR(o, gamma=0.97),
        0.05,
        130,
    ),
    "cosine=CosineAnnealingLR": (
        CosineDecay(0.1, decay_steps=100, alpha=0.05),
        lambda s, o: s.CosineAnnealingLR(o, T_max=100, eta_min=0.005),
        0.1,
        101,
    ),
    "warmup-cosine=LinearLR+CosineAnnealingLR": (
        CosineDecay(0.01, decay_steps=80, alpha=0.1, warmup_target=0.2, warmup_steps=20),
        lambda s, o: s.SequentialLR(
            o,
            [
                s.LinearLR(o, start_factor=0.05, end_factor=1.0, total_iters=20),
                s.CosineAnnealingLR(o, T_max=80, eta_min=0.02),
            ],
            milestones=[20],
        ),
        0.2,
        101,
    ),
    "piecewise=MultiStepLR": (
        PiecewiseConstantDecay([9, 29], [0.1, 0.01, 0.001]),
        lambda s, o: s.MultiStepLR(o, milestones=[10, 30], gamma=0.1),
        0.1,
        130,
    ),
}


@pytest.mark.parametrize("case", TORCH_CASES.values(), ids=TORCH_CASES.keys())
def test_rates_match_torch_lr_schedulers(case) -> None:
    schedule, factory, lr, steps = case
    np.testing.assert_allclose(
        rates(schedule, STEPS[:steps]), torch_rates(factory, lr, steps), rtol=1e-12, atol=1e-17
    )


TRAJECTORIES = [
    (SGD, "SGD", {"momentum": 0.9}, "cosine=CosineAnnealingLR"),
    (SGD, "SGD", {"momentum": 0.8, "nesterov": True}, "warmup-cosine=LinearLR+CosineAnnealingLR"),
    (Adam, "Adam", {"weight_decay": 0.01}, "cosine=CosineAnnealingLR"),
    (Adam, "Adam", {"amsgrad": True}, "exponential-staircase=StepLR"),
    (RMSprop, "RMSprop", {"centered": True}, "step-decay=StepLR"),
]


@pytest.mark.parametrize(("cls", "torch_name", "kwargs", "case"), TRAJECTORIES)
def test_scheduled_trajectories_match_torch(cls, torch_name, kwargs, case) -> None:
    torch = pytest.importorskip("torch")
    schedule, factory, lr, steps = TORCH_CASES[case]
    rng = np.random.default_rng(3)
    start = rng.normal(size=11)
    grads = [rng.normal(size=11) for _ in range(steps - 1)]
    ours = start.copy()
    opt = cls(lr=schedule, **kwargs)
    for grad in grads:
        opt.step(ours, grad)
    p = torch.nn.Parameter(torch.tensor(start))
    torch_opt = getattr(torch.optim, torch_name)([p], lr=lr, foreach=False, **kwargs)
    scheduler = factory(torch.optim.lr_scheduler, torch_opt)
    for grad in grads:
        p.grad = torch.tensor(grad)
        torch_opt.step()
        scheduler.step()
    np.testing.assert_allclose(ours, p.detach().numpy(), rtol=0, atol=1e-12)
    assert opt.step_count == len(grads) and opt.lr == pytest.approx(schedule(len(grads)))


# ---------------------------------------------------------------------- the optimizer side
def test_any_callable_of_the_step_is_a_schedule() -> None:
    opt = SGD(lr=lambda step: 0.1 / (1 + step))
    params = np.zeros(2)
    for _ in range(3):
        opt.step(params, np.ones(2))
    np.testing.assert_allclose(params, -(0.1 + 0.05 + 0.1 / 3) * np.ones(2), rtol=1e-15)
    assert opt.lr == 0.1 / 4 and opt.learning_rate == opt.lr
    assert isinstance(opt.schedule, FunctionSchedule)


def test_hyperparameters_show_the_current_rate_and_the_schedule() -> None:
    opt = Adam(lr=ExponentialDecay(0.1, 10, 0.5))
    opt.step(np.zeros(3), np.ones(3))
    settings = opt.hyperparameters()
    assert settings["lr"] == 0.1 * 0.5**0.1
    assert settings["lr_schedule"] == (
        "ExponentialDecay(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5, "
        "staircase=False)"
    )
    assert all(isinstance(value, (float, bool, str)) for value in settings.values())
    assert repr(opt).startswith("Adam(lr=ExponentialDecay(")


@pytest.mark.parametrize(
    "schedule",
    [
        CosineDecay(0.05, 30, alpha=0.1, warmup_target=0.2, warmup_steps=5),
        ExponentialDecay(0.2, 4, 0.9, staircase=True),
        PiecewiseConstantDecay([3, 12], [0.1, 0.05, 0.01]),
        StepDecay(0.1, 6),
    ],
    ids=lambda s: type(s).__name__,
)
def test_state_dict_through_json_resumes_the_schedule_exactly(schedule) -> None:
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=5) for _ in range(40)]
    straight = np.ones(5)
    opt = Adam(lr=schedule, amsgrad=True)
    for grad in grads:
        opt.step(straight, grad)

    first, params = Adam(lr=schedule, amsgrad=True), np.ones(5)
    for grad in grads[:17]:
        first.step(params, grad)
    state = first.state_dict()
    hyperparameters = json.loads(json.dumps(state["hyperparameters"]))  # what a file keeps
    resumed = Adam()  # default hyperparameters and a constant rate
    resumed.load_state_dict({**state, "hyperparameters": hyperparameters})
    assert resumed.schedule == schedule and resumed.schedule is not schedule
    assert resumed.lr == first.lr == schedule(17)
    for grad in grads[17:]:
        resumed.step(params, grad)
    np.testing.assert_array_equal(params, straight)


class InverseSqrt(LearningRateSchedule):
    """A user-defined schedule: registered by class name, so it can be saved."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __call__(self, step: int) -> float:
        return self.scale / math.sqrt(step + 1)

    def get_config(self) -> dict:
        return {"scale": self.scale}


def model_with(lr) -> dlt.Sequential:
    model = dlt.Sequential([dlt.Dense(3, 5, activation="tanh"), dlt.Dense(5, 2)], seed=2)
    model.compile(optimizer=SGD(lr=lr, momentum=0.9), method="central")
    return model


def toy_data():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 3))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.mark.parametrize(
    "schedule", [CosineDecay(0.2, 50, warmup_target=0.5, warmup_steps=10), InverseSqrt(0.3)]
)
def test_a_saved_model_resumes_its_schedule_exactly(tmp_path: Path, schedule) -> None:
    X, y = toy_data()
    straight = model_with(schedule)
    full = straight.fit(X, y, epochs=6, batch_size=8)

    first = model_with(schedule)
    first.fit(X, y, epochs=3, batch_size=8)
    first.save(tmp_path / "half.dltk")
    resumed = load_model(tmp_path / "half.dltk")
    assert resumed.optimizer.schedule == schedule and resumed.optimizer.step_count == 15
    rest = resumed.fit(X, y, epochs=6, batch_size=8, initial_epoch=3)
    np.testing.assert_array_equal(resumed.get_params(), straight.get_params())
    assert rest.history["lr"] == full.history["lr"][3:]
    assert full.history["lr"] == [schedule(5 * (epoch + 1)) for epoch in range(6)]


def test_plain_callables_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="plain callable and cannot be saved"):
        serialize(FunctionSchedule(lambda step: 0.1))
    X, y = toy_data()
    model = model_with(lambda step: 0.1)
    model.fit(X, y, epochs=1, batch_size=20)
    with pytest.raises(TypeError, match="FunctionSchedule"):
        model.save(tmp_path / "model.dltk")


@pytest.mark.parametrize(
    ("value", "shown"),
    [(-0.1, "-0.1"), (float("nan"), "nan"), (float("inf"), "inf"), ("fast", "'fast'")],
)
def test_a_bad_rate_stops_at_its_step_and_changes_nothing(value, shown) -> None:
    opt = SGD(lr=lambda step: 0.1 if step < 3 else value, momentum=0.5)
    params = np.zeros(4)
    for _ in range(3):
        opt.step(params, np.ones(4))
    before, state = params.copy(), opt.state_dict()  # a checkpoint can still be taken
    assert opt.hyperparameters()["lr"] is None
    with pytest.raises(LearningRateError, match=rf"returned {shown} at optimizer step 3") as error:
        opt.step(params, np.ones(4))
    assert error.value.step == 3
    np.testing.assert_array_equal(params, before)
    assert opt.step_count == 3
    np.testing.assert_array_equal(
        opt.state_dict()["state"]["momentum_buffer"], state["state"]["momentum_buffer"]
    )
    with pytest.raises(LearningRateError, match="optimizer step 3"):
        opt.advance()
    assert opt.step_count == 3


def test_fit_stops_on_a_bad_rate_naming_the_step() -> None:
    X, y = toy_data()
    model = model_with(lambda step: 0.1 if step < 7 else -0.01)
    with pytest.raises(LearningRateError, match=r"returned -0\.01 at optimizer step 7"):
        model.fit(X, y, epochs=3, batch_size=8)
    assert model.optimizer.step_count == 7


def test_set_learning_rate_and_advance() -> None:
    opt = SGD(lr=0.1)
    opt.set_learning_rate(0.05)
    assert opt.lr == 0.05 and opt.state_dict()["hyperparameters"]["lr"] == 0.05
    opt.learning_rate = 0.02
    assert opt.lr == 0.02
    for bad, error in [(-1.0, ValueError), (0.0, ValueError), ("x", TypeError)]:
        with pytest.raises(error, match="lr"):
            opt.set_learning_rate(bad)
        assert opt.lr == 0.02
    opt.set_learning_rate(StepDecay(0.4, 2, gamma=0.5))
    assert [opt.advance() for _ in range(5)] == [0.4, 0.4, 0.2, 0.2, 0.1]
    assert opt.step_count == 5 and opt.state_dict()["shape"] is None
    with pytest.raises(TypeError, match="follows the schedule StepDecay.*cannot be set"):
        opt.set_learning_rate(0.3)
    assert opt.schedule == StepDecay(0.4, 2, gamma=0.5)
    fresh = SGD()
    fresh.load_state_dict(opt.state_dict())  # steps counted without a parameter shape
    assert fresh.step_count == 5 and fresh.lr == 0.1


@pytest.mark.parametrize(
    ("factory", "error", "match"),
    [
        (lambda: ExponentialDecay(0.1, 0, 0.9), ValueError, "decay_steps must be > 0; got 0"),
        (lambda: ExponentialDecay(0.1, 10, -0.9), ValueError, "decay_rate must be > 0"),
        (lambda: ExponentialDecay(-0.1, 10, 0.9), ValueError, "initial_learning_rate must be >= 0"),
        (lambda: ExponentialDecay(0.1, 10, 0.9, staircase="yes"), TypeError, "staircase"),
        (lambda: CosineDecay(0.1, 100, alpha=1.5), ValueError, "alpha must be <= 1.0"),
        (lambda: CosineDecay(0.1, float("nan")), ValueError, "decay_steps must be finite"),
        (lambda: CosineDecay(0.1, 100, warmup_target=-1.0), ValueError, "warmup_target"),
        (lambda: StepDecay(0.1, 0), ValueError, "step_size must be >= 1"),
        (lambda: PiecewiseConstantDecay([5, 5], [1.0, 0.5, 0.1]), ValueError, "increasing"),
        (lambda: PiecewiseConstantDecay([5], [1.0]), ValueError, "one more entry"),
        (lambda: PiecewiseConstantDecay(5, [1.0]), TypeError, "boundaries"),
        (lambda: SGD(lr=CosineDecay), TypeError, "lr must be a real number > 0, a LearningRate"),
        (lambda: deserialize({"class_name": "Nope", "config": {}}), ValueError, "Unknown"),
        (lambda: deserialize({"config": {}}), ValueError, "'class_name' and 'config'"),
    ],
)
def test_bad_schedules_raise(factory, error, match) -> None:
    with pytest.raises(error, match=match):
        factory()


def test_serialize_round_trip_for_every_built_in() -> None:
    for schedule in (
        CosineDecay(0.1, 10, 0.1, 0.2, 3),
        ExponentialDecay(0.1, 2.5, 0.5, True),
        PiecewiseConstantDecay([1, 2], [0.3, 0.2, 0.1]),
        StepDecay(0.1, 3, 0.5),
    ):
        spec = json.loads(json.dumps(serialize(schedule)))
        rebuilt = deserialize(spec)
        assert rebuilt == schedule and rates(rebuilt).tolist() == rates(schedule).tolist()


def test_cosine_warm_up_without_a_target_rises_from_zero_to_the_initial_rate():
    """The contract's CosineDecay(lr, decay_steps, warmup_steps=...): linear from 0, then
    the cosine decay from the initial rate (Keras would skip such a warm-up silently)."""
    schedule = dlt.optim.CosineDecay(0.1, 100, alpha=0.0, warmup_steps=10)
    assert schedule(0) == 0.0 and schedule(5) == pytest.approx(0.05)
    assert schedule(10) == pytest.approx(0.1)
    assert schedule(60) == pytest.approx(0.05)  # half-way through the decay
    assert schedule(110) == pytest.approx(0.0, abs=1e-15)
    clone = dlt.optim.CosineDecay.from_config(schedule.get_config())
    assert [clone(t) for t in range(0, 120, 7)] == [schedule(t) for t in range(0, 120, 7)]
