"""Resuming and surviving: checkpoints resume bit for bit, SIGKILL and Ctrl-C lose nothing saved.

* A run stopped after ``k`` epochs, saved, loaded into a new model object and continued with
  ``fit(initial_epoch=k)`` ends with exactly the parameters and logs of the uninterrupted run.
* A process killed with SIGKILL while it saves leaves a complete, loadable file on disk.
* Ctrl-C (SIGINT) during ``fit`` finishes the current batch, runs ``on_train_end`` (loggers
  flush), restores the previous handler and raises ``KeyboardInterrupt``; the last
  checkpoint loads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.io import load_model
from deep_learning_toolkit.training.checkpoint import ModelCheckpoint

RNG = np.random.default_rng(0)
X = RNG.normal(size=(45, 4))
Y = np.argmax(X @ RNG.normal(size=(4, 3)), axis=1)
XV, YV = X[:12] + 0.1, Y[:12]
TIMED = {"seconds"}  # the only logged value that may differ between runs

CONFIGS = {
    "adam-five-point-validation": (
        lambda: dlt.optim.Adam(lr=0.01, amsgrad=True),
        {"method": "five_point_midpoint", "metrics": ["accuracy"]},
        {"batch_size": 8, "validation_data": (XV, YV)},
    ),
    "sgd-nesterov-forward-fixed-step": (
        lambda: dlt.optim.SGD(lr=0.1, momentum=0.9, nesterov=True),
        {"method": "forward", "step": 2.0**-26},
        {"batch_size": 7, "seed": 11},
    ),
    "rmsprop-complex-step-no-shuffle": (
        lambda: dlt.optim.RMSprop(lr=0.005, centered=True),
        {"method": "complex_step"},
        {"batch_size": 16, "shuffle": False},
    ),
}


def new_model(optimizer, compile_args) -> dlt.Sequential:
    model = dlt.Sequential([dlt.Dense(4, 6, activation="tanh"), dlt.Dense(6, 3)], seed=5)
    model.compile(optimizer=optimizer(), **compile_args)
    return model


def assert_same_logs(resumed: dlt.History, straight: dlt.History, start: int) -> None:
    assert resumed.epoch == straight.epoch[start:]
    assert set(resumed.history) == set(straight.history)
    for key, values in straight.history.items():
        if key not in TIMED:
            assert resumed.history[key] == values[start:], key


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_resumed_run_equals_the_uninterrupted_run(tmp_path: Path, config) -> None:
    optimizer, compile_args, fit_args = config
    straight = new_model(optimizer, compile_args)
    full = straight.fit(X, Y, epochs=10, **fit_args)

    first = new_model(optimizer, compile_args)
    first.fit(X, Y, epochs=5, **fit_args)
    first.save(tmp_path / "half.dltk")
    del first
    resumed = load_model(tmp_path / "half.dltk")
    assert resumed.epochs_completed == 5
    rest = resumed.fit(X, Y, epochs=10, initial_epoch=resumed.epochs_completed, **fit_args)

    assert np.array_equal(resumed.params, straight.params)
    assert resumed.optimizer.step_count == straight.optimizer.step_count
    for key, value in straight.optimizer.state_dict()["state"].items():
        assert np.array_equal(resumed.optimizer.state_dict()["state"][key], value)
    assert_same_logs(rest, full, start=5)
    assert resumed.epochs_completed == straight.epochs_completed == 10


def test_every_checkpoint_of_a_run_resumes_to_its_end(tmp_path: Path) -> None:
    optimizer, compile_args, fit_args = CONFIGS["adam-five-point-validation"]
    model = new_model(optimizer, compile_args)
    template = str(tmp_path / "epoch-{epoch}.dltk")
    full = model.fit(X, Y, epochs=6, callbacks=[ModelCheckpoint(template)], **fit_args)
    for done in (1, 3, 5):
        resumed = load_model(tmp_path / f"epoch-{done}.dltk")
        rest = resumed.fit(X, Y, epochs=6, initial_epoch=resumed.epochs_completed, **fit_args)
        assert np.array_equal(resumed.params, model.params), done
        assert_same_logs(rest, full, start=done)


# ---------------------------------------------------------------------- Ctrl-C in process
class Interrupter(dlt.Callback):
    """Sends SIGINT to this process from inside batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch: int, batch: int, times: int = 1) -> None:
        self.at, self.times = (epoch, batch), times
        self.epoch, self.batch_ends, self.train_ended = -1, 0, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        self.batch_ends += 1
        if (self.epoch, batch) == self.at:
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)

    def on_train_end(self, logs=None):
        self.train_ended = True


def test_ctrl_c_stops_after_the_batch_and_raises(tmp_path: Path) -> None:
    optimizer, compile_args, fit_args = CONFIGS["adam-five-point-validation"]
    model = new_model(optimizer, compile_args)
    interrupter = Interrupter(epoch=2, batch=3)
    checkpoint = ModelCheckpoint(tmp_path / "last.dltk")
    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match=r"after 4 batch\(es\) of epoch 2; 2 epoch"):
        model.fit(X, Y, epochs=10, callbacks=[checkpoint, interrupter], **fit_args)
    assert signal.getsignal(signal.SIGINT) is previous
    assert interrupter.train_ended
    batches_per_epoch = -(-len(X) // fit_args["batch_size"])
    assert interrupter.batch_ends == model.optimizer.step_count == 2 * batches_per_epoch + 4
    assert model.epochs_completed == len(model.history) == 2
    saved = load_model(tmp_path / "last.dltk")
    assert saved.epochs_completed == 2 and saved.optimizer.step_count == 2 * batches_per_epoch


def test_ctrl_c_in_the_last_batch_finishes_the_epoch(tmp_path: Path) -> None:
    optimizer, compile_args, fit_args = CONFIGS["adam-five-point-validation"]
    model = new_model(optimizer, compile_args)
    last = -(-len(X) // fit_args["batch_size"]) - 1
    with pytest.raises(KeyboardInterrupt, match="at the end of epoch 1; 2 epoch"):
        model.fit(X, Y, epochs=10, callbacks=[Interrupter(epoch=1, batch=last)], **fit_args)
    assert model.epochs_completed == 2 and "val_loss" in model.history.history


def test_a_second_ctrl_c_interrupts_at_once() -> None:
    optimizer, compile_args, fit_args = CONFIGS["adam-five-point-validation"]
    model = new_model(optimizer, compile_args)
    interrupter = Interrupter(epoch=0, batch=1, times=2)
    with pytest.raises(KeyboardInterrupt) as error:
        model.fit(X, Y, epochs=3, callbacks=[interrupter], **fit_args)
    assert "Training interrupted" not in str(error.value)  # the default handler's
    assert interrupter.train_ended and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_fit_in_a_thread_leaves_signals_alone() -> None:
    optimizer, compile_args, fit_args = CONFIGS["adam-five-point-validation"]
    seen = []

    class Probe(dlt.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(
        target=lambda: new_model(optimizer, compile_args).fit(
            X, Y, epochs=1, callbacks=[Probe()], **fit_args
        )
    )
    thread.start()
    thread.join()
    assert seen and all(handler is signal.default_int_handler for handler in seen)


# ---------------------------------------------------------------------- real signals
posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")

SAVER = """
import sys
import numpy as np
import deep_learning_toolkit as dlt

model = dlt.Sequential([dlt.Dense(1000, 1000)], seed=0)  # 1,001,000 parameters: 8 MB
version = 0
while True:
    version += 1
    model.params[...] = version
    model.epochs_completed = version
    model.save(sys.argv[1])
    print(version, flush=True)
"""


@pytest.mark.slow
@posix_only
def test_sigkill_while_saving_leaves_a_complete_file(tmp_path: Path) -> None:
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    path = tmp_path / "model.dltk"
    rng = np.random.default_rng(0)
    for trial in range(6):
        process = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
        )
        try:
            first = process.stdout.readline()  # one save done: the file exists
            assert first.strip(), f"the saver died at trial {trial}"
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        completed = [int(first), *map(int, process.stdout.read().split())]
        process.stdout.close()
        model = load_model(path)
        version = model.epochs_completed
        # the last reported save, or the next one if it was renamed before it could report
        assert completed[-1] <= version <= completed[-1] + 1, (trial, completed[-1], version)
        assert model.num_parameters == 1_001_000 and np.all(model.params == version)
    leftovers = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert leftovers, "no kill landed inside a write; the test did not test anything"


TRAINER = """
import json, os, signal, sys
import numpy as np
import deep_learning_toolkit as dlt
from deep_learning_toolkit.training.checkpoint import ModelCheckpoint

workdir = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.normal(size=(320, 20))
y = rng.integers(0, 3, 320)
model = dlt.Sequential([dlt.Dense(20, 48, activation="tanh"), dlt.Dense(48, 3)], seed=0)
model.compile(optimizer=dlt.optim.Adam(lr=0.01), method="five_point_midpoint")


class CsvLog(dlt.Callback):
    # A buffered log: its lines reach the disk only when on_train_end closes the file.
    def on_train_begin(self, logs=None):
        self.file = open(os.path.join(workdir, "log.csv"), "w", buffering=1 << 20)
        self.batch_ends = 0

    def on_batch_end(self, batch, logs=None):
        self.batch_ends += 1
        print(self.batch_ends, flush=True)

    def on_epoch_end(self, epoch, logs=None):
        self.file.write(f"{epoch},{logs['loss']!r}\\n")

    def on_train_end(self, logs=None):
        self.file.close()


log = CsvLog()
checkpoint = ModelCheckpoint(os.path.join(workdir, "last.dltk"))
try:
    model.fit(X, y, epochs=1000, batch_size=16, callbacks=[checkpoint, log])
except KeyboardInterrupt as error:
    report = {
        "message": str(error),
        "epochs_completed": model.epochs_completed,
        "history_epochs": len(model.history),
        "steps": model.optimizer.step_count,
        "batch_ends": log.batch_ends,
        "finite": bool(np.all(np.isfinite(model.params))),
        "handler_restored": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
    }
    with open(os.path.join(workdir, "report.json"), "w") as file:
        json.dump(report, file)
    os._exit(0)  # no interpreter clean-up: only what fit flushed is on disk
os._exit(3)
"""


@pytest.mark.slow
@posix_only
def test_sigint_finishes_the_batch_flushes_the_logs_and_keeps_the_checkpoint(tmp_path: Path):
    script = tmp_path / "trainer.py"
    script.write_text(textwrap.dedent(TRAINER))
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    batches_per_epoch = 320 // 16
    try:
        for line in process.stdout:  # wait until the second epoch is under way
            if int(line) >= batches_per_epoch + 5:
                break
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    assert process.returncode == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["message"].startswith("Training interrupted (Ctrl-C)")
    assert report["steps"] == report["batch_ends"]  # every step started was finished
    assert report["finite"] and report["handler_restored"]
    done = report["epochs_completed"]
    assert done >= 1 and report["history_epochs"] == done
    saved = load_model(tmp_path / "last.dltk")
    assert saved.epochs_completed == done
    assert saved.optimizer.step_count == done * batches_per_epoch
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows == [f"{epoch},{loss!r}" for epoch, loss in enumerate(saved.history.history["loss"])]


def test_a_resumed_run_extends_the_saved_history(tmp_path):
    """fit returns this call's epochs; model.history (what save writes) keeps them all."""
    import deep_learning_toolkit as dlt

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    model = dlt.Sequential([dlt.Dense(4, 5, activation="tanh"), dlt.Dense(5, 3)], seed=0)
    model.compile(optimizer="adam")
    first = model.fit(X, y, epochs=3, batch_size=20)
    model.save(tmp_path / "m.dltk")
    loaded = dlt.load_model(tmp_path / "m.dltk")
    second = loaded.fit(X, y, epochs=5, batch_size=20, initial_epoch=3)
    assert second.epoch == [3, 4]
    assert loaded.history.epoch == [0, 1, 2, 3, 4]
    assert loaded.history.history["loss"] == first.history["loss"] + second.history["loss"]
    loaded.save(tmp_path / "m.dltk")
    assert dlt.load_model(tmp_path / "m.dltk").history.epoch == [0, 1, 2, 3, 4]
