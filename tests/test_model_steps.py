"""Default steps of a model from a pilot estimate (gradients/steps.py), against the truth.

The truth is torch autograd in float64. On every network the default (pilot) steps of each
formula give an error within 3x of the best step of a sweep over ``2**k``, and five-point
below three-point; the pilot is refreshed as documented and saved with the model, so that a
resumed run is bit-exact even when it resumes in the middle of a refresh interval.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients import steps as model_steps_module
from deep_learning_toolkit.gradients.steps import (
    PILOT_GRADIENTS,
    PilotState,
    parameter_groups,
    pilot_steps,
)
from deep_learning_toolkit.io import load_model
from deep_learning_toolkit.numdiff import METHODS, get_stencil, resolve_steps
from deep_learning_toolkit.numdiff.steps import nearest_power_of_two

EXPONENTS = range(-40, -2)


def heavy_tailed(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Standardised sparse features, like rarely lit pixels of digits: a few values ~10-30."""
    X = np.where(rng.random((n, d)) < 0.04, rng.uniform(1, 16, (n, d)), 0.0)
    X[:, : d // 2] = rng.normal(size=(n, d // 2))
    reference = np.vstack([X, np.where(rng.random((400, d)) < 0.04, 8.0, 0.0)])
    return (X - reference.mean(0)) / np.maximum(reference.std(0), 1e-12)


def network(widths, rng, n, X=None, seed=0) -> tuple[dlt.Sequential, np.ndarray, np.ndarray]:
    layers = [
        dlt.Dense(a, b, activation="tanh" if i < len(widths) - 2 else "linear")
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))
    ]
    model = dlt.Sequential(layers, seed=seed)
    model.set_params(model.params + rng.normal(0, 0.2, model.num_parameters))
    model.compile(loss="cross_entropy", optimizer="adam")
    X = rng.normal(size=(n, widths[0])) if X is None else X
    return model, X, rng.integers(0, widths[-1], n)


def problems():
    rng = np.random.default_rng(7)
    return {
        "4-8-3": network((4, 8, 3), rng, 32),
        "4-16-16-3": network((4, 16, 16, 3), rng, 24),
        "heavy-tailed 12-10-4": network((12, 10, 4), rng, 64, heavy_tailed(rng, 64, 12)),
    }


PROBLEMS = problems()


def relative_error(model, X, y, method, step, truth) -> float:
    gradient = model.loss_and_gradient(X, y, method=method, step=step)[1]
    return float(np.linalg.norm(gradient - truth) / np.linalg.norm(truth))


def relative_steps(model, h: float) -> np.ndarray:
    return nearest_power_of_two(h * np.maximum(1.0, np.abs(model.params)))


@pytest.fixture(scope="module")
def errors() -> dict:
    """Per problem and method: the best swept error, the classic one and the default one."""
    torch_study = pytest.importorskip("deep_learning_toolkit.study")
    pytest.importorskip("torch")
    table = {}
    for name, (model, X, y) in PROBLEMS.items():
        truth = torch_study.autograd_gradient(model, X, y)[1]
        for method in METHODS:
            swept = [
                relative_error(model, X, y, method, relative_steps(model, 2.0**k), truth)
                for k in EXPONENTS
            ]
            classic = relative_error(model, X, y, method, "classic", truth)
            table[name, method] = (
                min(swept),
                classic,
                relative_error(model, X, y, method, None, truth),
            )
    return table


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("method", METHODS)
def test_default_steps_within_3x_of_the_best_swept_step(errors, name, method) -> None:
    best, _, default = errors[name, method]
    assert default <= 3 * best, (name, method, best, default)


@pytest.mark.parametrize("name", PROBLEMS)
def test_five_point_below_three_point_at_the_defaults(errors, name) -> None:
    for side in ("midpoint", "endpoint"):
        five = errors[name, f"five_point_{side}"][2]
        three = errors[name, f"three_point_{side}"][2]
        assert five < three, (name, side, five, three)


def test_the_heavy_tailed_network_is_where_the_classic_steps_fail(errors) -> None:
    """The case the pilot exists for: large higher derivatives of the first layer's weights
    make the classic five-point step far too large."""
    best, classic, default = errors["heavy-tailed 12-10-4", "five_point_midpoint"]
    assert classic > 30 * best and classic > 30 * default


def test_pilot_steps_are_powers_of_two_in_the_measured_range() -> None:
    model, X, y = PROBLEMS["4-16-16-3"]
    Xc, targets = model._prepare(X, y)
    stencil = get_stencil("five_point_midpoint")
    found = pilot_steps(model, stencil, lambda h: model.compute_gradient(Xc, targets, stencil, h))
    steps = found.steps(model.params)
    assert np.all(np.log2(steps) == np.round(np.log2(steps)))
    classic = resolve_steps(model.params, stencil, None)
    assert np.all(steps >= classic * 2.0**-13) and np.all(steps <= classic * 2.0**3)
    assert found.evaluations == PILOT_GRADIENTS * (4 * model.num_parameters + 1)
    # Richardson from the gradients at H = 2c and 2H, floored at its tensor's RMS; noise
    # coefficients are one per tensor.
    large = nearest_power_of_two(stencil.default_step * 2 * np.maximum(1.0, np.abs(model.params)))
    g_large, g_double = (
        model.compute_gradient(Xc, targets, stencil, h).gradient for h in (large, 2 * large)
    )
    raw = np.abs(g_large - g_double) / 15 / large**4
    for group in parameter_groups(model):
        floor = np.sqrt(np.mean(raw[group] ** 2))
        np.testing.assert_allclose(found.truncation[group], np.fmax(raw[group], floor), rtol=1e-12)
        assert np.unique(found.noise[group]).size == 1


def test_a_feature_that_is_always_zero_gives_finite_steps() -> None:
    """Its weights' gradient is exactly 0 at every step: no information, no NaN."""
    rng = np.random.default_rng(3)
    model, X, y = network((5, 6, 3), rng, 20)
    X[:, 2] = 0.0
    steps = model_steps_module.model_steps(
        model,
        get_stencil("central"),
        None,
        lambda h: model.compute_gradient(*model._prepare(X, y), get_stencil("central"), h),
    )
    assert np.all(np.isfinite(steps)) and np.all(steps > 0)


def test_the_pilot_measures_the_noise_of_the_evaluator_in_use() -> None:
    """The reference loop subtracts two rounded losses (noise ~ eps |L|), the engine computes
    the change exactly: the pilot gives the loop larger steps, right for each."""
    pytest.importorskip("torch")
    from deep_learning_toolkit.study import autograd_gradient

    model, X, y = PROBLEMS["4-8-3"]
    truth = autograd_gradient(model, X, y)[1]
    sizes = {}
    for engine in ("batched", "reference"):
        model.gradient_engine = engine
        try:
            stencil = get_stencil("three_point_midpoint")
            evaluate = partial(model.compute_gradient, *model._prepare(X, y), stencil)
            found = pilot_steps(model, stencil, evaluate)
            sizes[engine] = np.median(found.relative)
            swept = [
                relative_error(model, X, y, stencil, relative_steps(model, 2.0**k), truth)
                for k in range(-30, -8)
            ]
            default = relative_error(model, X, y, stencil, None, truth)
        finally:
            model.gradient_engine = "batched"
        assert default <= 3 * min(swept), engine
    assert sizes["reference"] >= 2 * sizes["batched"]


def test_classic_keeps_the_old_rule_and_runs_no_pilot() -> None:
    model, X, y = PROBLEMS["4-8-3"]
    stencil = get_stencil("five_point_midpoint")
    old = resolve_steps(model.params, stencil, None)
    classic = model.loss_and_gradient(X, y, method=stencil, step="classic")[1]
    explicit = model.loss_and_gradient(X, y, method=stencil, step=old)[1]
    assert np.array_equal(classic, explicit)
    fresh = dlt.Sequential([dlt.Dense(4, 8, activation="tanh"), dlt.Dense(8, 3)], seed=1)
    fresh.compile(method="five_point_midpoint", step="classic", optimizer="sgd")
    history = fresh.fit(X, y, epochs=2, batch_size=8)
    assert history.history["evaluations"] == [4 * (4 * fresh.num_parameters + 1)] * 2
    assert fresh.step_pilot is None


def test_complex_step_keeps_its_default() -> None:
    model, X, y = PROBLEMS["4-8-3"]
    default = model.loss_and_gradient(X, y, method="complex_step")[1]
    classic = model.loss_and_gradient(X, y, method="complex_step", step="classic")[1]
    assert np.array_equal(default, classic)


@pytest.mark.parametrize("step", ["pilot", "adaptive", "Classic"])
def test_an_unknown_step_rule_is_refused_and_changes_nothing(step) -> None:
    model = dlt.Sequential([dlt.Dense(4, 3)], seed=0)
    model.compile(method="forward", step=2.0**-20)
    with pytest.raises(ValueError, match="'classic'"):
        model.compile(method="central", step=step)
    assert model.step == 2.0**-20 and model.method_name == "forward"
    with pytest.raises(ValueError, match="'classic'"):
        model.loss_and_gradient(np.zeros((2, 4)), [0, 1], step=step)


# ---------------------------------------------------------------------- refreshes and resume
RNG = np.random.default_rng(0)
X_FIT = RNG.normal(size=(40, 4))
Y_FIT = np.argmax(X_FIT @ RNG.normal(size=(4, 3)), axis=1)


def fit_model(epochs: int = 3, model: dlt.Sequential | None = None, **fit_args):
    if model is None:
        model = dlt.Sequential([dlt.Dense(4, 6, activation="tanh"), dlt.Dense(6, 3)], seed=2)
        model.compile(optimizer=dlt.optim.Adam(lr=0.02), method="five_point_midpoint")
    history = model.fit(X_FIT, Y_FIT, epochs=epochs, batch_size=8, **fit_args)
    return model, history


@pytest.fixture
def interval_4(monkeypatch):
    """Pilots every 4 batches, with 5 batches an epoch: refreshes fall inside epochs."""
    monkeypatch.setattr(model_steps_module, "PILOT_INTERVAL", 4)


def test_refresh_count_is_as_documented(interval_4) -> None:
    model, history = fit_model(epochs=3)
    per_gradient = 4 * model.num_parameters + 1
    pilot = PILOT_GRADIENTS * per_gradient
    # 15 batches: pilots before batches 0, 4 (epoch 0), 8 (epoch 1) and 12 (epoch 2).
    expected = [5 * per_gradient + n * pilot for n in (2, 1, 1)]
    assert history.history["evaluations"] == expected
    assert isinstance(model.step_pilot, PilotState)
    assert model.step_pilot.age == 3 and model.step_pilot.method == "five_point_midpoint"


def test_refreshes_count_across_fit_calls(interval_4) -> None:
    straight, whole = fit_model(epochs=3)
    model, first = fit_model(epochs=2)
    model, rest = fit_model(epochs=3, model=model, initial_epoch=2)
    assert (
        first.history["evaluations"] + rest.history["evaluations"] == whole.history["evaluations"]
    )
    assert np.array_equal(model.params, straight.params)


def test_resume_inside_a_refresh_interval_is_bit_exact(interval_4, tmp_path: Path) -> None:
    straight, whole = fit_model(epochs=4)
    first, _ = fit_model(epochs=3)
    assert first.step_pilot.age == 3  # saved mid-interval: the next pilot is 1 batch away
    resumed = load_model(first.save(tmp_path / "mid.dltk"))
    assert resumed.step_pilot.age == 3
    np.testing.assert_array_equal(resumed.step_pilot.relative, first.step_pilot.relative)
    _, rest = fit_model(epochs=4, model=resumed, initial_epoch=3)
    assert np.array_equal(resumed.params, straight.params)
    assert rest.history["loss"] == whole.history["loss"][3:]
    assert rest.history["evaluations"] == whole.history["evaluations"][3:]


def test_a_pilot_for_another_method_is_not_reused(interval_4) -> None:
    model, _ = fit_model(epochs=1)
    model.compile(optimizer=dlt.optim.Adam(lr=0.02), method="three_point_midpoint")
    _, history = fit_model(epochs=2, model=model, initial_epoch=1)
    assert model.step_pilot.method == "three_point_midpoint"
    per_gradient = 2 * model.num_parameters + 1
    assert history.history["evaluations"] == [5 * per_gradient + 2 * PILOT_GRADIENTS * per_gradient]


def test_the_step_rule_round_trips_through_a_file(tmp_path: Path) -> None:
    for step in (None, "classic"):
        model = dlt.Sequential([dlt.Dense(4, 3)], seed=0)
        model.compile(method="central", step=step)
        assert load_model(model.save(tmp_path / "m.dltk")).step == step
