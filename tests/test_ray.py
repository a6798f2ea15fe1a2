"""The Ray backend: sharded gradients equal the local engine's, sweeps equal sequential runs,
and a worker killed mid-step changes nothing.

One local Ray (2 CPUs, no dashboard) serves the module; the tests that need it take the
``ray_cluster`` fixture. The planner and the argument checks run without Ray.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.distributed import (
    BACKENDS,
    RayGradient,
    gradient_backend,
    init_ray,
    split_tasks,
)
from deep_learning_toolkit.experiments import TrialResult, expand_grid, sweep
from deep_learning_toolkit.gradients import engine
from deep_learning_toolkit.nn.losses import CrossEntropy
from deep_learning_toolkit.numdiff import METHODS
from deep_learning_toolkit.numdiff.stencils import get_stencil
from deep_learning_toolkit.numdiff.steps import resolve_steps

#: A short comparison: every method, a few epochs of the train command's Iris experiment.
SWEEP_BASE = {"dataset": "iris", "epochs": 4, "batch_size": 16, "seed": 1}


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    yield ray
    ray.shutdown()


def problem(kind: str):
    """A network, its prepared batch and its loss: 'classification' or 'regression'."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(24, 5))
    if kind == "classification":
        layers = [
            dlt.Dense(5, 12, activation="tanh"),
            dlt.Dense(12, 6, activation="relu"),
            dlt.Dense(6, 3),
        ]
        model, y, loss = dlt.Sequential(layers, seed=3), rng.integers(0, 3, 24), "cross_entropy"
    else:
        layers = [dlt.Dense(5, 9, activation="sigmoid"), dlt.Dense(9, 2)]
        model, y, loss = dlt.Sequential(layers, seed=4), rng.normal(size=(24, 2)), "mse"
    model.compile(loss=loss, optimizer="sgd")
    X, targets = model._prepare(X, y)
    return model, X, targets


def sizes(model) -> list[int]:
    return [layer.num_parameters for layer in model.layers]


def gradient_inputs(model, method):
    stencil = get_stencil(method)
    return stencil, resolve_steps(model.params, stencil, None)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ---------------------------------------------------------------------- without Ray
def test_split_tasks_covers_every_parameter_once_within_the_chunks() -> None:
    model, X, _ = problem("classification")
    chunks = engine.plan_chunks(sizes(model), [1, 1, 1], len(X), 4, chunk_size=10)
    costs = np.array([5.0, 1.0, 0.5])
    tasks = split_tasks(model.layers, chunks, costs, 6)
    assert len(tasks) == 6
    pieces = [piece for task in tasks for piece in task]
    covered = np.concatenate([np.arange(p.start, p.stop) for p in pieces])
    np.testing.assert_array_equal(covered, np.arange(model.num_parameters))
    for piece in pieces:  # a piece stays inside one engine chunk, so inside the memory budget
        assert any(c.start <= piece.start and piece.stop <= c.stop for c in chunks)
        assert piece.layer == next(c.layer for c in chunks if c.start <= piece.start < c.stop)
    per_parameter = np.repeat(costs, [layer.num_parameters for layer in model.layers])
    task_costs = [sum(per_parameter[p.start : p.stop].sum() for p in task) for task in tasks]
    # Equal shares, up to one parameter of the costliest layer.
    assert max(task_costs) - min(task_costs) <= 2 * costs.max()


def test_split_tasks_never_makes_more_tasks_than_parameters() -> None:
    model = dlt.Sequential([dlt.Dense(1, 1)])
    chunks = engine.plan_chunks(sizes(model), [1], 3, 2)
    tasks = split_tasks(model.layers, chunks, np.ones(1), 8)
    assert [[(p.start, p.stop) for p in task] for task in tasks] == [[(0, 1)], [(1, 2)]]


def test_local_backend_never_imports_ray() -> None:
    pytest.importorskip("sklearn")
    code = (
        "import sys, deep_learning_toolkit.distributed as d;"
        "from deep_learning_toolkit.gradients import engine;"
        "from deep_learning_toolkit.experiments import sweep;"
        "assert d.gradient_backend('local') is engine.batched_gradient;"
        "sweep([{'method': 'forward'}], base={'epochs': 1});"
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_bad_arguments_are_reported() -> None:
    with pytest.raises(ValueError, match=r"Unknown backend 'gpu'.*\['local', 'ray'\]"):
        gradient_backend("gpu")
    assert BACKENDS == ("local", "ray")
    with pytest.raises(TypeError, match="trials must be a non-empty list"):
        sweep("forward")
    with pytest.raises(TypeError, match=r"trials\[1\] must be a dict"):
        sweep([{"method": "forward"}, "backward"])
    with pytest.raises(TypeError, match=r"grid\['seed'\] must be a non-empty list"):
        sweep({"method": ["forward"], "seed": 3})
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['learning_rate'\]"):
        sweep([{"method": "forward", "learning_rate": 0.1}])
    with pytest.raises(ValueError, match=r"distinct names.*\['forward'\]"):
        sweep([{"method": "forward"}, {"method": "forward"}])
    with pytest.raises(ValueError, match="address is for backend='ray'"):
        sweep([{"method": "forward"}], address="auto")
    with pytest.raises(TypeError, match="trial must be a function"):
        sweep([{"method": "forward"}], trial="train")
    pytest.importorskip("ray")
    with pytest.raises(ValueError, match="num_cpus applies to a local Ray only"):
        init_ray(address="localhost:6379", num_cpus=2)
    with pytest.raises(ValueError, match="num_workers must be >= 1; got 0"):
        RayGradient(num_workers=0)
    with pytest.raises(ValueError, match="overhead_factor must be a finite number >= 0"):
        RayGradient(overhead_factor=-1.0)


def test_expand_grid_varies_the_last_setting_fastest() -> None:
    grid = expand_grid({"method": ["forward", "backward"], "seed": [0, 1], "lr": [0.1]})
    assert [(c["method"], c["seed"]) for c in grid] == [
        ("forward", 0),
        ("forward", 1),
        ("backward", 0),
        ("backward", 1),
    ]


def test_local_sweep_equals_the_train_command() -> None:
    """The default trial is the train command's experiment: same final parameters."""
    pytest.importorskip("sklearn")
    from deep_learning_toolkit.train import run_comparison

    methods = ["forward", "five_point_midpoint"]
    comparison = run_comparison(methods=methods, torch_baseline=False, **SWEEP_BASE)
    results = sweep({"method": methods}, base=SWEEP_BASE)
    for result in results:
        assert result.ok, result.traceback
        np.testing.assert_array_equal(result.params, comparison.params[result.name])
        assert result.history.history["loss"] == comparison.histories[result.name].history["loss"]


# ---------------------------------------------------------------------- sharded gradients
class TestShardedGradient:
    """One actor pool per network (class-scoped), freed before the tests below need CPUs."""

    @pytest.fixture(scope="class", params=["classification", "regression"])
    def sharded(self, request, ray_cluster):
        # overhead_factor=0: always the most tasks per worker, so the planner's cuts are used.
        with RayGradient(overhead_factor=0) as gradient:
            yield gradient, problem(request.param)

    @pytest.mark.parametrize("method", METHODS)
    def test_equals_the_local_engine(self, sharded, method: str) -> None:
        gradient, (model, X, targets) = sharded
        stencil, steps = gradient_inputs(model, method)
        local = engine.batched_gradient(model, X, targets, model.loss, stencil, steps)
        # chunk_size=5: many pieces; a model's first call splits evenly, later ones by cost.
        for _ in range(2):
            result = gradient(model, X, targets, model.loss, stencil, steps, chunk_size=5)
            assert relative_error(result.gradient, local.gradient) <= 1e-12
            assert result.loss == local.loss
            np.testing.assert_array_equal(result.outputs, local.outputs)
            assert result.evaluations == local.evaluations
        assert len(gradient.last_tasks) > len(gradient.worker_pids())  # finer than the workers

    def test_leaves_the_parameters_alone(self, sharded) -> None:
        gradient, (model, X, targets) = sharded
        before = model.get_params()
        stencil, steps = gradient_inputs(model, "central")
        gradient(model, X, targets, model.loss, stencil, steps)
        np.testing.assert_array_equal(model.params, before)
        with pytest.raises(TypeError, match="RayGradient needs a network"):
            gradient(model.layers, X, targets, model.loss, stencil, steps)
        with pytest.raises(ValueError, match="steps must have shape"):
            gradient(model, X, targets, model.loss, stencil, steps[:-1])


def killing_loss(marker: Path) -> CrossEntropy:
    """A cross-entropy whose first perturbed evaluation, anywhere, SIGKILLs its process.

    The class is local, so cloudpickle ships it by value to the workers; ``marker`` (created
    atomically, holding the victim's pid) makes it kill exactly once.
    """

    class KillOnce(CrossEntropy):
        def _die_once(self) -> None:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)

        def delta(self, *args):
            self._die_once()
            return super().delta(*args)

        def rank1_delta(self, *args):
            self._die_once()
            return super().rank1_delta(*args)

        def column_delta(self, *args):
            self._die_once()
            return super().column_delta(*args)

    return KillOnce()


def test_a_worker_killed_mid_step_is_replaced_and_the_result_unchanged(
    ray_cluster, tmp_path: Path
) -> None:
    model, X, targets = problem("classification")
    stencil, steps = gradient_inputs(model, "five_point_midpoint")
    local = engine.batched_gradient(model, X, targets, model.loss, stencil, steps)
    marker = tmp_path / "killed"
    with RayGradient(num_workers=2) as gradient:
        calm = gradient(model, X, targets, model.loss, stencil, steps)
        pids = gradient.worker_pids()
        result = gradient(model, X, targets, killing_loss(marker), stencil, steps)
        victim = int(marker.read_text())
        assert victim in pids
        survivors = gradient.worker_pids()
    assert victim not in survivors and len(survivors) == 2  # Ray restarted the actor
    assert relative_error(result.gradient, local.gradient) <= 1e-12
    assert relative_error(result.gradient, calm.gradient) <= 1e-12
    assert result.loss == local.loss


def test_each_worker_fetches_the_step_data_once_per_step(ray_cluster, tmp_path: Path) -> None:
    """The step's data (here, its loss) is unpickled once per worker, not once per task."""
    log = tmp_path / "unpickled"

    class Counted(CrossEntropy):
        def __init__(self) -> None:
            self.log = str(log)

        def __setstate__(self, state: dict) -> None:
            with open(state["log"], "a") as file:
                file.write("x")
            self.__dict__.update(state)

    model, X, targets = problem("classification")
    stencil, steps = gradient_inputs(model, "five_point_endpoint")
    with RayGradient(num_workers=2, overhead_factor=0) as gradient:
        for step in range(1, 4):
            gradient(model, X, targets, Counted(), stencil, steps, 256, 4)
            # The first step splits evenly over the workers, later ones as finely as allowed.
            assert len(gradient.last_tasks) == (2 if step == 1 else 2 * gradient.tasks_per_worker)
            assert len(log.read_text()) <= 2 * step


# ---------------------------------------------------------------------- sweeps
def read_scalars(run: Path, split: str, tag: str) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run / split))
    accumulator.Reload()
    return [event.value for event in accumulator.Scalars(tag)]


def test_ray_sweep_of_the_six_methods_equals_the_sequential_run(
    ray_cluster, tmp_path: Path
) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tensorboard")
    grid = {"method": list(METHODS)}
    local = sweep(grid, base=SWEEP_BASE, logdir=tmp_path / "local")
    remote = sweep(grid, base=SWEEP_BASE, backend="ray", logdir=tmp_path / "ray")
    assert [r.name for r in remote] == [r.name for r in local] == list(METHODS)
    for a, b in zip(local, remote):
        assert a.ok and b.ok, (a.traceback, b.traceback)
        assert np.array_equal(a.params, b.params)
        assert a.config == b.config == {**SWEEP_BASE, "method": a.name}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norm", "fd_step"):
            assert a.history.history[key] == b.history.history[key]
        for split, tag in (("train", "epoch_loss"), ("validation", "epoch_accuracy")):
            values = read_scalars(tmp_path / "ray" / b.name, split, tag)
            assert values == read_scalars(tmp_path / "local" / a.name, split, tag)
            key = ("val_" if split == "validation" else "") + tag.removeprefix("epoch_")
            np.testing.assert_array_equal(np.float32(values), np.float32(b.history.history[key]))


def test_a_failed_trial_is_reported_and_the_others_finish(ray_cluster, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("seaborn")
    trials = [
        {"method": "forward"},
        {"method": "forward", "lr": -1.0},
        {"method": "seventh_point", "name": "typo"},
    ]
    results = sweep(
        trials, base={**SWEEP_BASE, "epochs": 2}, backend="ray", plots_dir=tmp_path / "plots"
    )
    assert [r.name for r in results] == ["forward", "forward,lr=-1", "typo"]
    good, bad_lr, typo = results
    assert good.ok and len(good.history) == 2 and good.params.shape == (131,)
    assert not bad_lr.ok and bad_lr.history is None and bad_lr.params is None
    assert bad_lr.config["lr"] == -1.0
    assert bad_lr.error.startswith("ValueError: ") and "lr" in bad_lr.error
    assert "Traceback" in bad_lr.traceback
    assert isinstance(bad_lr.exception, ValueError) and str(bad_lr.exception) in bad_lr.error
    assert typo.error.startswith("ValueError: Unknown method 'seventh_point'")
    assert typo.config["method"] == "seventh_point"
    assert (tmp_path / "plots" / "sweep.png").stat().st_size > 0


def test_a_custom_trial_function_runs_on_ray(ray_cluster) -> None:
    def trial(config, log_dir):
        model = dlt.Sequential([dlt.Dense(2, 1)], seed=config["seed"])
        model.compile(loss="mse", optimizer=dlt.optim.SGD(lr=0.1), method=config["method"])
        X = np.random.default_rng(0).normal(size=(20, 2))
        history = model.fit(X, X @ np.array([1.0, -2.0]), epochs=3, batch_size=5)
        return history, model.get_params()

    grid = {"seed": [0, 1], "method": ["forward", "central"]}
    local = sweep(grid, trial=trial)
    remote = sweep(grid, trial=trial, backend="ray")
    assert [r.name for r in remote] == ["seed=0,forward", "seed=0,central", "seed=1,forward",
                                        "seed=1,central"]  # fmt: skip
    assert all(isinstance(r, TrialResult) and r.ok for r in remote)
    for a, b in zip(local, remote):
        assert np.array_equal(a.params, b.params)


def test_sharded_gradient_of_stochastic_and_stateful_layers_equals_the_local_one(ray_cluster):
    """Workers get each step's dropout keys and the running statistics with the step data."""
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(24, 5)), rng.integers(0, 3, 24)
    layers = [
        dlt.Dense(5, 8, activation="tanh"),
        dlt.Dropout(0.3),
        dlt.BatchNorm(8),
        dlt.Dense(8, 3),
    ]
    model = dlt.Sequential(layers, seed=3)
    model.compile(loss="cross_entropy", optimizer="sgd")
    model.fit(X, y, epochs=1, batch_size=8)  # moves the running statistics off their start
    X, targets = model._prepare(X, y)
    stencil, steps = gradient_inputs(model, "central")
    with RayGradient(num_workers=2) as gradient:
        for key in ((3, 0, 0), (3, 5, 1)):
            model.set_step(*key)
            local = engine.batched_gradient(model, X, targets, model.loss, stencil, steps)
            sharded = gradient(model, X, targets, model.loss, stencil, steps)
            assert relative_error(sharded.gradient, local.gradient) <= 1e-12
