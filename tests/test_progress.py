"""Progress output: a bar only on a terminal, a few lines in a log, one per epoch at verbose=2."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.training import ProgressBar as ReExported
from deep_learning_toolkit.training.progress import (
    LINES_PER_RUN,
    ProgressBar,
    format_epoch,
    is_terminal,
)


class Terminal(io.StringIO):
    """A text stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def run(bar: ProgressBar, epochs: range, stop: int | None = None) -> None:
    """Drive the callback as fit does, with logs whose loss is the epoch number."""
    bar.on_train_begin({})
    for epoch in epochs:
        bar.on_epoch_end(epoch, {"loss": float(epoch), "lr": 0.1, "seconds": 0.002})
        if epoch == stop:
            break
    bar.on_train_end({})


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_format_is_keras_like() -> None:
    logs = {"loss": 0.5, "accuracy": 0.75, "grad_norm": 3.0, "val_loss": 2e-5, "seconds": 1.25}
    assert format_epoch(0, 10, logs, "forward") == (
        "forward: epoch 1/10 - loss: 0.5000 - accuracy: 0.7500 - val_loss: 2.0000e-05 - 1.2 s"
    )
    assert format_epoch(4, 5, {"loss": float("nan")}) == "epoch 5/5 - loss: nan"
    assert format_epoch(4, 5, None) == "epoch 5/5"


def test_verbose_2_writes_one_line_per_epoch() -> None:
    stream = io.StringIO()
    run(ProgressBar(7, description="central", verbose=2, stream=stream), range(7))
    assert lines(stream) == [f"central: epoch {k + 1}/7 - loss: {k:.4f} - 2 ms" for k in range(7)]


def test_verbose_1_in_a_log_writes_a_tenth_of_the_epochs() -> None:
    stream = io.StringIO()
    run(ProgressBar(95, verbose=1, stream=stream), range(95))
    written = lines(stream)
    # every ceil(95 / 10) = 10 epochs, and the last one
    assert [line.split(" - ")[0] for line in written] == [
        *(f"epoch {k}/95" for k in range(10, 91, 10)),
        "epoch 95/95",
    ]
    assert len(written) <= LINES_PER_RUN + 1
    assert "\r" not in stream.getvalue()


def test_a_resumed_or_stopped_run_shows_where_it_ended() -> None:
    stream = io.StringIO()
    run(ProgressBar(100, initial_epoch=90, stream=stream), range(90, 100), stop=93)
    assert [line.split(" - ")[0] for line in lines(stream)] == [
        "epoch 91/100",
        "epoch 92/100",
        "epoch 93/100",
        "epoch 94/100",
    ]
    stream = io.StringIO()
    run(ProgressBar(100, stream=stream), range(100), stop=14)
    assert [line.split(" - ")[0] for line in lines(stream)] == ["epoch 10/100", "epoch 15/100"]


def test_verbose_0_is_silent() -> None:
    stream = Terminal()
    run(ProgressBar(5, verbose=0, stream=stream), range(5))
    assert stream.getvalue() == ""


def test_a_terminal_gets_a_tqdm_bar() -> None:
    pytest.importorskip("tqdm")
    stream = Terminal()
    bar = ProgressBar(20, initial_epoch=2, description="five_point_midpoint", stream=stream)
    bar.on_train_begin({})
    for epoch in range(2, 20):
        bar.on_epoch_end(epoch, {"loss": 0.25, "grad_norm": 1.0})
    assert (bar._bar.n, bar._bar.total) == (20, 20)
    assert bar._bar.postfix == "loss=0.2500"
    bar.on_train_end({})
    text = stream.getvalue()
    assert "five_point_midpoint" in text and "\r" in text
    assert "epoch 20/20" not in text  # no plain lines beside the bar


def test_a_terminal_without_tqdm_gets_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    stream = Terminal()
    run(ProgressBar(3, stream=stream), range(3))
    assert [line.split(" - ")[0] for line in lines(stream)] == [f"epoch {k}/3" for k in (1, 2, 3)]


def test_default_stream_is_stderr_at_train_begin(capsys: pytest.CaptureFixture[str]) -> None:
    run(ProgressBar(2, verbose=2), range(2))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 2
    assert not is_terminal(sys.stderr)  # pytest's capture is not a terminal


def test_is_terminal_handles_odd_streams() -> None:
    closed = io.StringIO()
    closed.close()
    assert not is_terminal(closed)
    assert not is_terminal(object())
    assert is_terminal(Terminal())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": -1}, ValueError, "epochs must be >= 0; got -1"),
        ({"epochs": 5, "initial_epoch": 6}, ValueError, "initial_epoch must be <= 5; got 6"),
        ({"epochs": 5, "verbose": 3}, ValueError, "verbose must be <= 2; got 3"),
        ({"epochs": 5, "verbose": True}, TypeError, "verbose must be an integer; got True"),
        ({"epochs": 5, "description": 1}, TypeError, "description must be a string; got 1"),
        ({"epochs": 5, "stream": "log.txt"}, TypeError, "stream must be a writable"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        ProgressBar(**kwargs)


def test_fit_with_a_progress_callback_logs_each_epoch() -> None:
    """The bar is a plain callback: results of the real epoch logs, one line each at verbose=2."""
    assert ReExported is ProgressBar
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(24, 3)), rng.integers(0, 2, size=24)
    model = dlt.Sequential([dlt.Dense(3, 4, activation="tanh"), dlt.Dense(4, 2)], seed=0)
    model.compile(loss="cross_entropy", optimizer=dlt.optim.SGD(lr=0.1), metrics=["accuracy"])
    stream = io.StringIO()
    history = model.fit(
        X,
        y,
        epochs=4,
        batch_size=8,
        validation_data=(X, y),
        callbacks=[ProgressBar(4, description="run", verbose=2, stream=stream)],
    )
    written = lines(stream)
    assert len(written) == 4
    for epoch, line in enumerate(written):
        loss = history.history["loss"][epoch]
        accuracy = history.history["val_accuracy"][epoch]
        assert line.startswith(f"run: epoch {epoch + 1}/4 - loss: {loss:.4f} - accuracy: ")
        assert f" - val_accuracy: {accuracy:.4f} - " in line and line.endswith(" ms")
        assert "grad_norm" not in line and "evaluations" not in line
