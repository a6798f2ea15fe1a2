"""Tests of TensorBoardLogger: event files read back by TensorBoard itself equal the History."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.training.callbacks import Callback
from deep_learning_toolkit.training.history import History

pytest.importorskip("tensorboardX")
pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import metadata as hparams_metadata  # noqa: E402

from deep_learning_toolkit.training.tensorboard import TensorBoardLogger  # noqa: E402

EPOCHS = 4
TRAIN_TAGS = {
    "epoch_loss",
    "epoch_accuracy",
    "epoch_evaluations",
    "epoch_grad_norm",
    "epoch_lr",
    "epoch_fd_step",
    "epoch_seconds",
}
VALIDATION_TAGS = {"epoch_loss", "epoch_accuracy"}


def toy_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)), axis=1)
    return X[:45], y[:45], X[45:], y[45:]


def new_model() -> dlt.Sequential:
    model = dlt.Sequential([dlt.Dense(3, 6, activation="tanh"), dlt.Dense(6, 3)], seed=1)
    model.compile(
        loss="cross_entropy",
        optimizer=dlt.optim.SGD(lr=0.2),
        method="five_point_midpoint",
        metrics=["accuracy"],
    )
    return model


def train(run_dir: Path, callbacks=(), epochs: int = EPOCHS, **hparams) -> History:
    X, y, Xv, yv = toy_problem()
    logger = TensorBoardLogger(run_dir, hparams=hparams or None)
    return new_model().fit(
        X, y, epochs=epochs, batch_size=16, validation_data=(Xv, yv), callbacks=[logger, *callbacks]
    )


def read(directory: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(directory))
    accumulator.Reload()
    return accumulator


def assert_scalars_equal_history(run_dir: Path, history: History) -> None:
    """Every logged value, read back by TensorBoard, equals the History as float32."""
    for split, prefix, tags in (("train", "", TRAIN_TAGS), ("validation", "val_", VALIDATION_TAGS)):
        accumulator = read(run_dir / split)
        assert set(accumulator.Tags()["scalars"]) == tags
        for tag in tags:
            events = accumulator.Scalars(tag)
            key = prefix + tag.removeprefix("epoch_")
            assert [event.step for event in events] == history.epoch
            expected = np.float32(history.history[key])
            np.testing.assert_array_equal(np.float32([event.value for event in events]), expected)


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, History]:
    run_dir = tmp_path_factory.mktemp("tb") / "toy" / "five_point_midpoint"
    return run_dir, train(run_dir, dataset="toy", hidden=(6,))


def test_scalars_read_back_equal_the_history(logged_run) -> None:
    run_dir, history = logged_run
    assert len(history) == EPOCHS
    assert_scalars_equal_history(run_dir, history)


def test_hyperparameters_are_an_hparams_session(logged_run) -> None:
    run_dir, history = logged_run
    accumulator = read(run_dir)
    content = accumulator.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    start = hparams_metadata.parse_session_start_info_plugin_data(content)
    values = {key: value for key, value in start.hparams.items()}
    assert values["method"].string_value == "five_point_midpoint"
    assert values["optimizer"].string_value == "sgd"
    assert values["lr"].number_value == 0.2
    assert values["epochs"].number_value == EPOCHS
    assert values["nesterov"].bool_value is False
    assert values["dataset"].string_value == "toy"
    assert values["hidden"].string_value == "(6,)"
    assert set(values) == set(history.params) | {"dataset", "hidden"}

    content = accumulator.SummaryMetadata("_hparams_/experiment").plugin_data.content
    experiment = hparams_metadata.parse_experiment_plugin_data(content)
    metrics = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert ("validation", "epoch_accuracy") in metrics and ("train", "epoch_loss") in metrics
    assert {info.name for info in experiment.hparam_infos} == set(values)

    content = accumulator.SummaryMetadata("_hparams_/session_end_info").plugin_data.content
    end = hparams_metadata.parse_session_end_info_plugin_data(content)
    assert end.status == 1  # STATUS_SUCCESS


def test_every_epoch_is_on_disk_when_it_ends(tmp_path: Path) -> None:
    """Flushed per epoch: a reader started mid-run sees all finished epochs."""
    seen: list[int] = []
    run_dir = tmp_path / "live"

    class Reader(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(len(read(run_dir / "validation").Scalars("epoch_loss")))

    train(run_dir, callbacks=[Reader()])
    assert seen == list(range(1, EPOCHS + 1))


def test_an_interrupted_run_is_marked_aborted(tmp_path: Path) -> None:
    class Crash(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "crash", callbacks=[Crash()])
    content = read(tmp_path / "crash").SummaryMetadata("_hparams_/session_end_info")
    end = hparams_metadata.parse_session_end_info_plugin_data(content.plugin_data.content)
    assert end.status == 2  # STATUS_FAILURE
    assert len(read(tmp_path / "crash" / "train").Scalars("epoch_loss")) == 2


def test_pytorch_twin_logs_the_same_tags(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from deep_learning_toolkit.baselines import train_torch_twin

    X, y, Xv, yv = toy_problem()
    logger = TensorBoardLogger(tmp_path / "pytorch")
    result = train_torch_twin(
        new_model(), X, y, epochs=3, batch_size=16, validation_data=(Xv, yv), callbacks=[logger]
    )
    assert_scalars_equal_history(tmp_path / "pytorch", result.history)
    content = read(tmp_path / "pytorch").SummaryMetadata("_hparams_/session_start_info")
    start = hparams_metadata.parse_session_start_info_plugin_data(content.plugin_data.content)
    assert start.hparams["method"].string_value == "autograd"


def test_logger_rejects_bad_input(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="log_dir must be a non-empty path; got 3"):
        TensorBoardLogger(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="hparams must be a dict"):
        TensorBoardLogger(tmp_path, hparams=[("lr", 1)])  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="before on_train_begin"):
        TensorBoardLogger(tmp_path).on_epoch_end(0, {"loss": 1.0})
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install tensorboardX .*'\.\[tensorboard\]'"):
        TensorBoardLogger(tmp_path)


# ---------------------------------------------------------------------- the real server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def tensorboard_server(logged_run, tmp_path: Path):
    """``tensorboard --logdir`` on the logged run's root, at a free port; always stopped."""
    run_dir, _ = logged_run
    logdir = run_dir.parent.parent
    executable = shutil.which("tensorboard")
    command = [executable] if executable else [sys.executable, "-m", "tensorboard.main"]
    port = free_port()
    log = (tmp_path / "tensorboard.log").open("w")
    process = subprocess.Popen(
        [*command, "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        log.close()


@pytest.mark.slow
def test_tensorboard_server_serves_the_logged_scalars(logged_run, tensorboard_server) -> None:
    run_dir, history = logged_run
    url, process = tensorboard_server
    run = f"{run_dir.parent.name}/{run_dir.name}"
    wanted = {run, f"{run}/train", f"{run}/validation"}
    runs: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            runs = get_json(f"{url}/data/runs")
        except OSError:
            runs = []
        if wanted <= set(runs):
            break
        time.sleep(0.5)
    assert process.poll() is None, "tensorboard exited early"
    assert wanted <= set(runs), f"runs served: {runs}"
    for split, prefix in (("train", ""), ("validation", "val_")):
        for key in ("loss", "accuracy"):
            query = urllib.parse.urlencode({"tag": f"epoch_{key}", "run": f"{run}/{split}"})
            points = get_json(f"{url}/data/plugin/scalars/scalars?{query}")
            assert [step for _, step, _ in points] == history.epoch
            values = np.float32([value for _, _, value in points])
            np.testing.assert_array_equal(values, np.float32(history.history[prefix + key]))
    experiment = get_json(f"{url}/data/plugin/hparams/experiment", {"experimentName": ""})
    assert "method" in {info["name"] for info in experiment["hparamInfos"]}


# ---------------------------------------------------------------------- histograms, batches, figure
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402

from deep_learning_toolkit.training.tensorboard import (  # noqa: E402
    figure_png,
    learning_curve_figure,
    parameter_blocks,
)

KEEP_ALL = {
    event_accumulator.HISTOGRAMS: 0,
    event_accumulator.IMAGES: 0,
    event_accumulator.SCALARS: 0,
}
#: The toy model's parameter tensors, in flat order: (tag suffix, shape).
TENSORS = [("layers.0.W", (3, 6)), ("layers.0.b", (6,)), ("layers.1.W", (6, 3)),
           ("layers.1.b", (3,))]  # fmt: skip


def read_all(directory: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(directory), size_guidance=KEEP_ALL)
    accumulator.Reload()
    return accumulator


class Recorder(Callback):
    """Parameters per epoch, batch losses, and (optionally) a gradient to expose."""

    def __init__(self, gradient: str | None = None) -> None:
        self.params: dict[int, np.ndarray] = {}
        self.gradients: dict[int, np.ndarray] = {}
        self.batch_losses: list[float] = []
        self.gradient = gradient

    def on_batch_end(self, batch, logs=None):
        self.batch_losses.append(logs["loss"])

    def on_epoch_end(self, epoch, logs=None):
        self.params[epoch] = self.model.get_params()
        if self.gradient == "full":  # stands in for the training loop's model.last_gradient
            X, y, _, _ = toy_problem()
            self.model.last_gradient = self.model.loss_and_gradient(X, y)[1]
            self.gradients[epoch] = self.model.last_gradient.copy()
        elif self.gradient == "none":  # a memory-lean zeroth-order step has no gradient
            self.model.last_gradient = None


def assert_histogram_is(event, values: np.ndarray) -> None:
    histogram = event.histogram_value
    assert histogram.num == values.size and sum(histogram.bucket) == values.size
    assert histogram.min == values.min() and histogram.max == values.max()
    assert histogram.sum == values.sum() and histogram.sum_squares == values.dot(values)
    assert histogram.bucket_limit[-1] >= values.max()


def test_weight_and_gradient_histograms_equal_the_parameters(tmp_path: Path) -> None:
    recorder = Recorder(gradient="full")
    X, y, Xv, yv = toy_problem()
    logger = TensorBoardLogger(tmp_path / "run", histogram_freq=2)
    new_model().fit(X, y, epochs=5, batch_size=16, validation_data=(Xv, yv),
                    callbacks=[recorder, logger])  # fmt: skip
    accumulator = read_all(tmp_path / "run" / "train")
    tags = {f"{kind}/{name}" for kind in ("weights", "gradients") for name, _ in TENSORS}
    assert set(accumulator.Tags()["histograms"]) == tags
    start = 0
    for name, shape in TENSORS:
        stop = start + int(np.prod(shape))
        for kind, source in (("weights", recorder.params), ("gradients", recorder.gradients)):
            events = accumulator.Histograms(f"{kind}/{name}")
            assert [event.step for event in events] == [0, 2, 4]
            for event in events:
                assert_histogram_is(event, source[event.step][start:stop])
        start = stop


def test_no_gradient_histograms_without_a_gradient(tmp_path: Path) -> None:
    X, y, _, _ = toy_problem()
    logger = TensorBoardLogger(tmp_path / "run", histogram_freq=1)
    new_model().fit(X, y, epochs=2, batch_size=16, callbacks=[Recorder(gradient="none"), logger])
    tags = read_all(tmp_path / "run" / "train").Tags()["histograms"]
    assert set(tags) == {f"weights/{name}" for name, _ in TENSORS}


def test_parameter_blocks_split_the_flat_vector_by_layer() -> None:
    model = new_model()
    blocks = parameter_blocks(model, model.num_parameters)
    assert [name for name, _, _ in blocks] == [name for name, _ in TENSORS]
    flat = model.get_params()
    for (_, start, stop), view in zip(blocks, [model.layers[0].W, model.layers[0].b,
                                               model.layers[1].W, model.layers[1].b]):  # fmt: skip
        np.testing.assert_array_equal(flat[start:stop], view.ravel())
    assert parameter_blocks(object(), 7) == [("params", 0, 7)]


@pytest.mark.parametrize(("update_freq", "every"), [("batch", 1), (2, 2), ("epoch", None)])
def test_batch_scalars_every_n_steps(tmp_path: Path, update_freq, every) -> None:
    recorder = Recorder()
    X, y, _, _ = toy_problem()
    model = new_model()
    logger = TensorBoardLogger(tmp_path / "run", update_freq=update_freq)
    model.fit(X, y, epochs=3, batch_size=16, callbacks=[recorder, logger])
    # A second call continues the step axis from the optimizer's step count.
    model.fit(X, y, epochs=5, batch_size=16, initial_epoch=3, callbacks=[recorder, logger])
    accumulator = read_all(tmp_path / "run" / "train")
    if every is None:
        assert "batch_loss" not in accumulator.Tags()["scalars"]
        return
    assert {"batch_loss"} == {t for t in accumulator.Tags()["scalars"] if t.startswith("batch_")}
    events = accumulator.Scalars("batch_loss")
    steps = list(range(every, len(recorder.batch_losses) + 1, every))
    assert [event.step for event in events] == steps == list(range(every, 16, every))
    expected = np.float32([recorder.batch_losses[step - 1] for step in steps])
    np.testing.assert_array_equal(np.float32([event.value for event in events]), expected)


def test_learning_curve_figure_is_written_as_an_image(tmp_path: Path) -> None:
    import matplotlib.image

    X, y, Xv, yv = toy_problem()
    model = new_model()
    logger = TensorBoardLogger(tmp_path / "run", write_figures=True)
    history = model.fit(X, y, epochs=4, batch_size=16, validation_data=(Xv, yv),
                        callbacks=[logger])  # fmt: skip
    images = read_all(tmp_path / "run" / "train").Images("learning_curves")
    assert [image.step for image in images] == [3]
    figure = learning_curve_figure(model.history, model.metrics)
    png, (height, width) = figure_png(figure)
    assert (images[0].height, images[0].width) == (height, width)
    written = matplotlib.image.imread(io.BytesIO(images[0].encoded_image_string), format="png")
    np.testing.assert_array_equal(written, matplotlib.image.imread(io.BytesIO(png), format="png"))
    panels = {axes.get_title(): axes for axes in figure.axes}
    assert set(panels) == {"loss", "accuracy", "lr"}
    for name in ("loss", "accuracy"):
        train_line, validation_line = panels[name].lines
        np.testing.assert_array_equal(train_line.get_ydata(), history.history[name])
        np.testing.assert_array_equal(validation_line.get_ydata(), history.history[f"val_{name}"])
        np.testing.assert_array_equal(train_line.get_xdata(), history.epoch)


def test_new_arguments_are_checked_and_the_old_call_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for kwargs, error, match in [
        ({"histogram_freq": -1}, ValueError, "histogram_freq must be >= 0; got -1"),
        ({"histogram_freq": 1.5}, TypeError, "histogram_freq must be an integer"),
        ({"update_freq": "sometimes"}, ValueError, "update_freq must be 'epoch', 'batch'"),
        ({"update_freq": 0}, ValueError, "update_freq must be >= 1; got 0"),
        ({"write_figures": "yes"}, TypeError, "write_figures must be True or False"),
    ]:
        with pytest.raises(error, match=match):
            TensorBoardLogger(tmp_path, **kwargs)
    old = TensorBoardLogger(tmp_path, {"dataset": "toy"})
    assert old.hparams == {"dataset": "toy"} and old.histogram_freq == 0
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="write_figures=True needs matplotlib: pip install"):
        TensorBoardLogger(tmp_path, write_figures=True)
