"""Bad input is refused with a ValueError/TypeError that names the argument and the value.

One table covers the API and the command line: a command-line case runs
``deep_learning_toolkit.train.main`` in process and must exit with status 2 after writing
exactly one line ``dltk-train: error: ...`` on stderr (no traceback, no usage block); its
message is then matched like an exception's. The end of the file tests the non-finite guard
of ``fit``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.data import load_dataset, train_test_split
from deep_learning_toolkit.io import load_model, save_model
from deep_learning_toolkit.train import main
from deep_learning_toolkit.training.checkpoint import ModelCheckpoint

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 4))
Y = RNG.integers(0, 3, 12)


def model(**compile_args) -> dlt.Sequential:
    net = dlt.Sequential([dlt.Dense(4, 5, activation="tanh"), dlt.Dense(5, 3)], seed=0)
    net.compile(**compile_args)
    return net


def with_nan(a: np.ndarray, value: float = np.nan) -> np.ndarray:
    a = a.astype(float).copy()
    a.flat[3] = value
    return a


THIS_FILE = str(Path(__file__))  # an existing file that is not a model nor a directory


def load_bytes(data: bytes, name: str = "model.dltk") -> dlt.Sequential:
    """``load_model`` on a file holding ``data``."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(data)
        return load_model(path)


def model_file_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        return model(optimizer="adam").save(Path(directory) / "m.dltk").read_bytes()


def npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, params=np.zeros(3))
    return buffer.getvalue()


class CommandLineError(Exception):
    """The one line the command line wrote on stderr when it refused its arguments."""


#: Options that keep an accidental run short and silent; the cases' own options come after
#: and override them.
CLI_BASE = ("--quiet", "--no-torch", "--logdir", "none", "--plots-dir", "none", "--epochs", "1")


def cli(*argv: str) -> None:
    """Run the command line in process; it must exit with status 2 and one error line."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main([*CLI_BASE, *argv])
        except SystemExit as exit_:
            status = exit_.code
    text = stderr.getvalue()
    assert "Traceback" not in text, text
    assert status == 2, (status, text)
    lines = text.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dltk-train: error: "), text
    raise CommandLineError(lines[0])


CASES = [
    # (description, call, error type, message fragment)
    (
        "unknown method in numdiff",
        lambda: dlt.numdiff.gradient(np.sum, [1.0], method="fwd"),
        ValueError,
        r"Unknown method 'fwd'.*three_point_midpoint",
    ),
    (
        "unknown method in compile",
        lambda: model(method="six_point"),
        ValueError,
        "Unknown method 'six_point'",
    ),
    ("method not a string", lambda: model(method=3), TypeError, "method must be a string"),
    (
        "zero step",
        lambda: dlt.numdiff.gradient(np.sum, [1.0], step=0.0),
        ValueError,
        "step must be positive and finite; got 0.0",
    ),
    ("negative step", lambda: model(step=-1e-3), ValueError, "step must be positive.*-0.001"),
    (
        "nan step",
        lambda: dlt.numdiff.derivative(np.sin, 1.0, step=float("nan")),
        ValueError,
        "step must be positive and finite; got nan",
    ),
    (
        "inf step array",
        lambda: dlt.numdiff.gradient(np.sum, [1.0, 2.0], step=[1e-3, np.inf]),
        ValueError,
        "step must be positive and finite everywhere; got inf at index",
    ),
    (
        "step array of wrong shape",
        lambda: dlt.numdiff.gradient(np.sum, [1.0, 2.0], step=[1, 2, 3]),
        ValueError,
        r"step array of shape \(3,\) does not match x of shape \(2,\)",
    ),
    (
        "X and y of different lengths",
        lambda: model().fit(X, Y[:-1]),
        ValueError,
        "X and y must have the same number of samples; got 12 and 11",
    ),
    ("NaN in X", lambda: model().fit(with_nan(X), Y), ValueError, "X contains NaN or infinity"),
    (
        "inf in X",
        lambda: model().evaluate(with_nan(X, np.inf), Y),
        ValueError,
        "X contains NaN or infinity",
    ),
    (
        "label out of range",
        lambda: model().fit(X, np.where(Y == 0, 3, Y)),
        ValueError,
        r"y contains label 3 outside \[0, 3\)",
    ),
    (
        "negative label",
        lambda: model().fit(X, np.where(Y == 0, -1, Y)),
        ValueError,
        r"y contains label -1 outside \[0, 3\)",
    ),
    ("fractional label", lambda: model().fit(X, Y + 0.5), ValueError, "integer class labels"),
    (
        "labels of wrong shape",
        lambda: model().fit(X, np.zeros((12, 2, 1))),
        ValueError,
        r"y must be 1-D or 2-D; got an array of shape \(12, 2, 1\)",
    ),
    (
        "one-hot with wrong width",
        lambda: model().fit(X, np.eye(4)[Y]),
        ValueError,
        r"one-hot labels must have 3 columns",
    ),
    (
        "X with wrong feature count",
        lambda: model().predict(X[:, :3]),
        ValueError,
        "X has 3 features, but the model's first layer expects 4",
    ),
    ("X 1-D", lambda: model().predict(X[0]), ValueError, "X must be 2-D"),
    ("learning rate zero", lambda: dlt.optim.SGD(lr=0.0), ValueError, "lr must be > 0; got 0.0"),
    ("learning rate negative", lambda: dlt.optim.Adam(lr=-0.1), ValueError, "lr must be > 0"),
    (
        "layer sizes do not chain",
        lambda: dlt.Sequential([dlt.Dense(4, 5), dlt.Dense(6, 3)]),
        ValueError,
        r"layers\[1\] \(Dense\(6, 3.*does not fit its input: layers\[0\] .* outputs shape "
        r"\(5,\).*expects inputs of shape \(6,\)",
    ),
    (
        "unknown activation",
        lambda: dlt.Dense(4, 5, activation="swish"),
        ValueError,
        r"Unknown activation 'swish'; valid values are \['linear'",
    ),
    ("unknown loss", lambda: model(loss="hinge"), ValueError, "Unknown loss 'hinge'"),
    ("unknown optimizer", lambda: model(optimizer="adagrad"), ValueError, "adagrad"),
    ("unknown metric", lambda: model(metrics=["f1"]), ValueError, "Unknown metric 'f1'"),
    (
        "softmax before cross-entropy",
        lambda: dlt.Sequential([dlt.Dense(4, 3, activation="softmax")]).compile(),
        ValueError,
        "takes logits, but the last layer has activation 'softmax'",
    ),
    (
        "batch size zero",
        lambda: model().fit(X, Y, batch_size=0),
        ValueError,
        "batch_size must be >= 1; got 0",
    ),
    (
        "epochs not an int",
        lambda: model().fit(X, Y, epochs=2.5),
        TypeError,
        "epochs must be an integer; got 2.5",
    ),
    (
        "validation data not a pair",
        lambda: model().fit(X, Y, validation_data=X),
        ValueError,
        "validation_data must be a tuple",
    ),
    (
        "validation labels out of range",
        lambda: model().fit(X, Y, validation_data=(X, Y + 3)),
        ValueError,
        "y_val contains label",
    ),
    (
        "set_params of wrong length",
        lambda: model().set_params(np.zeros(3)),
        ValueError,
        r"params must have \d+ entries \(num_parameters\); got 3",
    ),
    (
        "fit before compile",
        lambda: dlt.Sequential([dlt.Dense(4, 3)]).fit(X, Y),
        RuntimeError,
        "not compiled",
    ),
    ("f not callable", lambda: dlt.numdiff.gradient(3.0, [1.0]), TypeError, "f must be callable"),
    (
        "f returns NaN",
        lambda: dlt.numdiff.gradient(lambda v: np.nan, [1.0], "forward"),
        ValueError,
        "f returned nan at x",
    ),
    (
        "f returns a vector",
        lambda: dlt.numdiff.gradient(lambda v: v, [1.0, 2.0]),
        TypeError,
        "f must return a real scalar",
    ),
    ("empty X", lambda: model().predict(np.zeros((0, 4))), ValueError, "X is empty"),
    ("strings as X", lambda: model().predict("data"), TypeError, "X must be array-like"),
    # ---------------------------------------------------------------- more arrays and labels
    ("empty training set", lambda: model().fit(X[:0], Y[:0]), ValueError, "X is empty"),
    (
        "ragged X",
        lambda: model().fit([[1.0, 2.0], [3.0]], Y[:2]),
        TypeError,
        r"X must be array-like of numbers; got \[\[1.0, 2.0\], \[3.0\]\]",
    ),
    (
        "string labels",
        lambda: model().fit(X, np.array(["a"] * 12)),
        TypeError,
        "y must be array-like of numbers; got array of shape",
    ),
    (
        "binary targets other than 0/1",
        lambda: model(loss="binary_cross_entropy").fit(X, np.full((12, 3), 2.0)),
        ValueError,
        "y for binary_cross_entropy must hold 0 or 1; got 2",
    ),
    (
        "validation X with wrong feature count",
        lambda: model().fit(X, Y, validation_data=(X[:, :3], Y)),
        ValueError,
        "X_val has 3 features, but the model's first layer expects 4",
    ),
    (
        "NaN parameters",
        lambda: model().set_params(np.full(43, np.nan)),
        ValueError,
        "params contains NaN or infinity",
    ),
    (
        "NaN point for numdiff",
        lambda: dlt.numdiff.gradient(np.sum, [np.nan]),
        ValueError,
        r"x contains NaN or infinity \(first at index \(0,\): nan\)",
    ),
    (
        "string point for derivative",
        lambda: dlt.numdiff.derivative(np.sin, "1"),
        TypeError,
        "x must be a real number; got '1'",
    ),
    # ---------------------------------------------------------------- fit settings
    (
        "batch size not an integer",
        lambda: model().fit(X, Y, batch_size=2.5),
        TypeError,
        "batch_size must be an integer; got 2.5",
    ),
    ("zero epochs", lambda: model().fit(X, Y, epochs=0), ValueError, "epochs must be >= 1; got 0"),
    (
        "initial epoch past the end",
        lambda: model().fit(X, Y, epochs=2, initial_epoch=5),
        ValueError,
        "initial_epoch must be <= 1; got 5",
    ),
    (
        "negative verbosity",
        lambda: model().fit(X, Y, verbose=-1),
        ValueError,
        "verbose must be >= 0; got -1",
    ),
    (
        "unknown non-finite action",
        lambda: model().fit(X, Y, on_non_finite="ignore"),
        ValueError,
        r"Unknown on_non_finite 'ignore'; valid values are \['raise', 'skip'\]",
    ),
    (
        "callback that is not a Callback",
        lambda: model().fit(X, Y, callbacks=[print]),
        TypeError,
        "callbacks must be Callback instances; got <built-in function print>",
    ),
    (
        "negative patience",
        lambda: dlt.EarlyStopping(patience=-1),
        ValueError,
        "patience must be >= 0; got -1",
    ),
    (
        "TensorBoard directory not a path",
        lambda: dlt.TensorBoardLogger(3),
        TypeError,
        "log_dir must be a non-empty path; got 3",
    ),
    # ---------------------------------------------------------------- layers and models
    (
        "layer with no inputs",
        lambda: dlt.Dense(0, 3),
        ValueError,
        "in_features must be >= 1; got 0",
    ),
    (
        "layer width as a string",
        lambda: dlt.Dense(3, "3"),
        TypeError,
        "out_features must be an integer; got '3'",
    ),
    (
        "unknown initialisation",
        lambda: dlt.Dense(3, 3, init="zeros"),
        ValueError,
        r"Unknown init 'zeros'; valid values are \['auto', 'glorot_uniform', 'he_normal'\]",
    ),
    ("no layers", lambda: dlt.Sequential([]), ValueError, "layers is empty"),
    (
        "a layer instead of a list",
        lambda: dlt.Sequential(dlt.Dense(3, 3)),
        TypeError,
        "layers must be a list of layers; got Dense",
    ),
    (
        "not a layer",
        lambda: dlt.Sequential([dlt.Dense(3, 3), "relu"]),
        TypeError,
        r"layers\[1\] must be a Layer .*; got 'relu'",
    ),
    (
        "negative seed",
        lambda: dlt.Sequential([dlt.Dense(3, 3)], seed=-1),
        ValueError,
        "seed must be >= 0; got -1",
    ),
    (
        "unknown gradient engine",
        lambda: model(gradient_engine="gpu"),
        ValueError,
        r"Unknown gradient_engine 'gpu'; valid values are \['batched', 'reference'\]",
    ),
    (
        "zero memory budget",
        lambda: model(memory_budget=0),
        ValueError,
        "memory_budget must be >= 1; got 0",
    ),
    (
        "accuracy for regression",
        lambda: model(loss="mse", metrics=["accuracy"]),
        ValueError,
        "metric 'accuracy' needs a classification loss; got 'mse'",
    ),
    (
        "complex step on a non-analytic loss",
        lambda: model(loss="mae", method="complex_step"),
        ValueError,
        "loss 'mae' is not analytic",
    ),
    (
        "loss of the wrong type",
        lambda: model(loss=3),
        TypeError,
        r"loss must be a name in \['cross_entropy'.*, a Loss or a function f\(y_true, y_pred\); "
        r"got 3",
    ),
    (
        "stencil with repeated offsets",
        lambda: dlt.numdiff.make_stencil([1, 1]),
        ValueError,
        r"offsets must be distinct; got \[1.0, 1.0\]",
    ),
    # ---------------------------------------------------------------- optimizers
    ("learning rate as a string", lambda: dlt.optim.SGD(lr="0.1"), TypeError, "lr must be a real"),
    ("infinite learning rate", lambda: dlt.optim.SGD(lr=np.inf), ValueError, "lr must be finite"),
    (
        "beta of one",
        lambda: dlt.optim.Adam(betas=(1.0, 0.9)),
        ValueError,
        r"betas\[0\] must be < 1.0; got 1.0",
    ),
    (
        "negative momentum",
        lambda: dlt.optim.SGD(lr=0.1, momentum=-1),
        ValueError,
        "momentum must be >= 0; got -1.0",
    ),
    (
        "optimizer of the wrong type",
        lambda: model(optimizer=3),
        TypeError,
        r"optimizer must be a name \['adam', 'rmsprop', 'sgd'\] or an Optimizer instance",
    ),
    (
        "optimizer state of another optimizer",
        lambda: dlt.optim.Adam().load_state_dict(dlt.optim.SGD().state_dict()),
        ValueError,
        "state is for optimizer 'sgd', not 'adam'",
    ),
    # ---------------------------------------------------------------- data
    (
        "unknown dataset",
        lambda: load_dataset("mnist"),
        ValueError,
        r"'mnist'; valid values are \['iris', 'wine'",
    ),
    (
        "test size above one",
        lambda: train_test_split(X, Y, test_size=1.5),
        ValueError,
        "test_size must be < 1.0; got 1.5",
    ),
    # ---------------------------------------------------------------- files
    (
        "load a missing file",
        lambda: load_model("no/such/model.dltk"),
        FileNotFoundError,
        "No model file at 'no/such/model.dltk'",
    ),
    (
        "load a directory",
        lambda: load_model(os.path.dirname(THIS_FILE)),
        ValueError,
        "is a directory, not a model file",
    ),
    (
        "load a Python file",
        lambda: load_model(THIS_FILE),
        ValueError,
        r"test_errors.py' is not a deep_learning_toolkit.model file \(it does not start",
    ),
    ("load an empty file", lambda: load_bytes(b""), ValueError, "model.dltk' is empty"),
    (
        "load a NumPy archive",
        lambda: load_bytes(npz_bytes(), "weights.npz"),
        ValueError,
        "weights.npz' is not a deep_learning_toolkit.model file: it is a ZIP archive without",
    ),
    (
        "load a truncated model",
        lambda: load_bytes(model_file_bytes()[:-100]),
        ValueError,
        "model.dltk' is truncated or corrupted",
    ),
    (
        "load a path that is not a path",
        lambda: load_model(None),
        TypeError,
        "path must be a non-empty file path; got None",
    ),
    (
        "save into a missing directory",
        lambda: model().save("no/such/dir/model.dltk"),
        FileNotFoundError,
        "the directory 'no/such/dir' does not exist",
    ),
    (
        "save onto a directory",
        lambda: model().save(os.path.dirname(THIS_FILE)),
        ValueError,
        "is a directory; give a file name to save to",
    ),
    (
        "save something that is not a model",
        lambda: save_model("model", "m.dltk"),
        TypeError,
        "model must be a Sequential; got 'model'",
    ),
    (
        "checkpoint mode",
        lambda: ModelCheckpoint("m.dltk", mode="best"),
        ValueError,
        r"Unknown mode 'best'; valid values are \['auto', 'min', 'max'\]",
    ),
    (
        "checkpoint template with an open brace",
        lambda: ModelCheckpoint("m-{epoch.dltk"),
        ValueError,
        "filepath 'm-{epoch.dltk' is not a valid template",
    ),
    (
        "checkpoint template with a positional field",
        lambda: ModelCheckpoint("m-{}.dltk"),
        ValueError,
        "has the field {}; use names such as {epoch}",
    ),
    # ---------------------------------------------------------------- command line
    (
        "cli: unknown dataset",
        lambda: cli("--dataset", "mnist"),
        CommandLineError,
        "argument --dataset: invalid choice: 'mnist'",
    ),
    (
        "cli: unknown method",
        lambda: cli("--methods", "forward,sideways"),
        CommandLineError,
        r"error: Unknown method 'sideways'; valid values are \['forward'",
    ),
    (
        "cli: no methods",
        lambda: cli("--methods", ","),
        CommandLineError,
        "methods must be a non-empty list of names",
    ),
    (
        "cli: zero epochs",
        lambda: cli("--epochs", "0"),
        CommandLineError,
        "error: epochs must be >= 1; got 0",
    ),
    (
        "cli: epochs not a number",
        lambda: cli("--epochs", "ten"),
        CommandLineError,
        "argument --epochs: invalid int value: 'ten'",
    ),
    (
        "cli: zero batch size",
        lambda: cli("--batch-size", "0"),
        CommandLineError,
        "error: batch_size must be >= 1; got 0",
    ),
    (
        "cli: fractional batch size",
        lambda: cli("--batch-size", "2.5"),
        CommandLineError,
        "argument --batch-size: invalid int value: '2.5'",
    ),
    (
        "cli: negative learning rate",
        lambda: cli("--lr", "-1"),
        CommandLineError,
        "error: lr must be > 0; got -1.0",
    ),
    ("cli: NaN learning rate", lambda: cli("--lr", "nan"), CommandLineError, "lr must be finite"),
    (
        "cli: learning rate not a number",
        lambda: cli("--lr", "fast"),
        CommandLineError,
        "argument --lr: invalid float value: 'fast'",
    ),
    (
        "cli: hidden width not a number",
        lambda: cli("--hidden", "16,x"),
        CommandLineError,
        "expected widths like 16 or 32,16; got '16,x'",
    ),
    (
        "cli: zero hidden width",
        lambda: cli("--hidden", "16,0"),
        CommandLineError,
        "expected positive widths like 16 or 32,16; got '16,0'",
    ),
    (
        "cli: unknown optimizer",
        lambda: cli("--optimizer", "adagrad"),
        CommandLineError,
        "argument --optimizer: invalid choice: 'adagrad'",
    ),
    (
        "cli: output activation for hidden layers",
        lambda: cli("--activation", "softmax"),
        CommandLineError,
        "argument --activation: invalid choice: 'softmax'",
    ),
    (
        "cli: negative seed",
        lambda: cli("--seed", "-1"),
        CommandLineError,
        "error: seed must be >= 0; got -1",
    ),
    (
        "cli: log directory is a file",
        lambda: cli("--logdir", THIS_FILE),
        CommandLineError,
        r"logdir '.*test_errors.py' cannot be a directory: '.*test_errors.py' is a file",
    ),
    (
        "cli: plots directory inside a file",
        lambda: cli("--plots-dir", os.path.join(THIS_FILE, "plots")),
        CommandLineError,
        r"--plots-dir '.*plots' cannot be a directory: '.*test_errors.py' is a file",
    ),
    (
        "cli: unknown option",
        lambda: cli("--bogus"),
        CommandLineError,
        r"unrecognized arguments: --bogus \(see --help\)",
    ),
    (
        "cli: option without its value",
        lambda: cli("--epochs"),
        CommandLineError,
        "argument --epochs: expected one argument",
    ),
]


#: The model methods whose refusals are checked to change nothing.
GUARDED = (
    "compile",
    "fit",
    "evaluate",
    "predict",
    "loss_and_gradient",
    "gradient_details",
    "save",
    "set_params",
)


def snapshot(net: dlt.Sequential) -> dict:
    """Everything a refused call must leave as it was (copies, comparable with ==)."""
    optimizer = net.optimizer
    return {
        "params": net.params.tobytes(),
        "layer state": repr([layer.state_dict() for layer in net.layers]),
        "loss": None if net.loss is None else (type(net.loss), net.loss.name),
        "optimizer": None if optimizer is None else (id(optimizer), repr(optimizer.state_dict())),
        "method": repr(net.stencil),
        "step": repr(net.step),
        "metrics": repr(net.metrics),
        "engine": (net.gradient_engine, net.memory_budget, net.backend),
        "history": None if net.history is None else repr(net.history.to_dict()),
        "progress": (net.epochs_completed, net.batches_completed),
    }


@pytest.fixture
def refusals_change_nothing(monkeypatch):
    """Wrap the model's methods: a call that raises must leave the model's whole state as it
    was before the call. Returns the list of the refused calls that were checked."""
    checked: list[str] = []
    for name in GUARDED:
        original = getattr(dlt.Sequential, name)

        def guarded(self, *args, _original=original, _name=name, **kwargs):
            before = snapshot(self)
            try:
                return _original(self, *args, **kwargs)
            except Exception:
                after = snapshot(self)
                changed = [key for key in before if before[key] != after[key]]
                assert not changed, f"refused {_name} changed {changed}"
                checked.append(_name)
                raise

        monkeypatch.setattr(dlt.Sequential, name, guarded)
    return checked


@pytest.mark.parametrize(
    "call, error, fragment",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_refused_with_a_clear_message(call, error, fragment, refusals_change_nothing):
    """Every case raises the right error; every refused model call left the model unchanged."""
    with pytest.raises(error, match=fragment):
        call()


def test_the_state_guard_sees_refused_calls(refusals_change_nothing):
    net = model(optimizer="adam", metrics=["accuracy"])
    net.fit(X, Y, epochs=2, batch_size=4)
    for call in (
        lambda: net.compile(loss="mse", optimizer="sgd", gradient_engine="nope"),
        lambda: net.compile(optimizer="nope"),
        lambda: net.fit(X, Y, epochs=3, callbacks=[object()]),
        lambda: net.fit(X, Y, epochs=3, callbacks=dlt.EarlyStopping()),
        lambda: net.fit(X, Y[:5], epochs=3),
        lambda: net.fit(X, Y, epochs=3, validation_split=0.5, validation_data=(X, Y)),
        lambda: net.predict(X[:, :2]),
        lambda: net.set_params(np.zeros(3)),
    ):
        with pytest.raises((TypeError, ValueError)):
            call()
    assert len(refusals_change_nothing) == 8


def test_nan_in_regression_targets_is_refused():
    net = dlt.Sequential([dlt.Dense(4, 1)], seed=0)
    net.compile(loss="mse")
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        net.fit(X, with_nan(RNG.normal(size=12)))


@pytest.mark.parametrize(
    "argv",
    [["--epochs", "0"], ["--dataset", "mnist"], ["--logdir", THIS_FILE]],
    ids=["library error", "argparse error", "path error"],
)
def test_the_real_command_line_prints_one_line_and_exits_with_2(argv):
    result = subprocess.run(
        [sys.executable, "-m", "deep_learning_toolkit.train", *CLI_BASE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("dltk-train: error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_diverging_run_is_one_line_and_exit_status_1(capsys):
    pytest.importorskip("sklearn")
    with pytest.raises(SystemExit) as exit_info:
        main([*CLI_BASE, "--methods", "forward", "--lr", "1e308"])  # parameters overflow
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("dltk-train: error: training diverged: ") and err.count("\n") == 1


# ---------------------------------------------------------------------- non-finite guard
def poison(net: dlt.Sequential, calls: set[int], entries: list[int] | None = None) -> list:
    """Make the loss (or, with ``entries``, those gradient entries) NaN at the given calls of
    the model's gradient; returns the parameters seen at each call. The model is compiled
    with ``step="classic"`` (no pilot gradients), so call ``k`` is training step ``k``."""
    original, seen = net.compute_gradient, []

    def gradient(*args, **kwargs):
        seen.append(net.get_params())
        result = original(*args, **kwargs)
        if len(seen) - 1 in calls:
            if entries is None:
                return dataclasses.replace(result, loss=float("nan"))
            result.gradient[entries] = np.inf
        return result

    net.compute_gradient = gradient
    return seen


def test_non_finite_gradient_names_epoch_batch_and_parameters():
    net = model(optimizer=dlt.optim.SGD(lr=0.1), step="classic")
    seen = poison(net, calls={5}, entries=[1, 42])  # batch size 4: 3 batches an epoch
    names = r"\(layers\[0\].W\[0, 1\], layers\[1\].b\[2\]\)"
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 2 for 2 parameter\(s\) " + names):
        net.fit(X, Y, epochs=3, batch_size=4)
    np.testing.assert_array_equal(net.params, seen[5])  # the last finite parameters
    assert net.epochs_completed == 1


def test_skip_drops_the_batch_keeps_the_parameters_and_counts_it():
    net = model(optimizer=dlt.optim.Adam(lr=0.05), metrics=["accuracy"], step="classic")
    seen = poison(net, calls={1, 3, 4})  # epoch 0: batch 1; epoch 1: batches 0 and 1
    history = net.fit(X, Y, epochs=3, batch_size=4, on_non_finite="skip")
    assert history.history["skipped_batches"] == [1.0, 2.0, 0.0]
    assert net.optimizer.step_count == 9 - 3
    for call in (1, 3, 4):
        np.testing.assert_array_equal(seen[call + 1], seen[call])  # no step was taken
    assert not np.array_equal(seen[6], seen[5])
    assert np.all(np.isfinite(net.params)) and np.all(np.isfinite(history.history["loss"]))
    assert 0 <= history.history["accuracy"][1] <= 1


def test_skip_refuses_an_epoch_without_a_finite_batch():
    net = model(step="classic")
    poison(net, calls=set(range(3, 6)))
    with pytest.raises(FloatingPointError, match="Every batch of epoch 1 had a non-finite loss"):
        net.fit(X, Y, epochs=3, batch_size=4, on_non_finite="skip")
    assert net.epochs_completed == 1


def test_a_diverging_zeroth_order_run_exits_1_naming_the_learning_rate(capsys):
    """SPSA with a huge rate: parameters ~1e200 outgrow the perturbation scale. That is a
    diverged run (exit 1, the rate named), not bad input (exit 2)."""
    pytest.importorskip("sklearn")
    with pytest.raises(SystemExit) as exit_info:
        main([*CLI_BASE, "--methods", "spsa", "--lr", "1e200", "--epochs", "3"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("dltk-train: error: training diverged: ") and "lr=1e+200" in err
