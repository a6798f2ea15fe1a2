"""Tests of ``python -m deep_learning_toolkit.train`` and ``run_comparison``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deep_learning_toolkit.numdiff import METHODS
from deep_learning_toolkit.train import DEFAULTS, main, run_comparison

pytest.importorskip("sklearn")

SHORT = ["--epochs", "3", "--quiet"]


def table_rows(text: str) -> dict[str, list[str]]:
    """Rows of the printed Markdown table by run name."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("run", ""):
            rows[cells[0]] = cells[1:]
    return rows


def test_defaults_reach_93_percent_for_every_method_on_iris() -> None:
    comparison = run_comparison()
    assert list(comparison.histories) == [*METHODS, "pytorch"]
    for name, history in comparison.histories.items():
        assert len(history) == DEFAULTS.epochs
        assert history.last("val_accuracy") >= 0.93, name
    assert comparison.settings["seed"] == DEFAULTS.seed and comparison.split.y_test.size == 30
    results = {row.name: row for row in comparison.results()}
    history = comparison.histories["forward"]
    reached = results["forward"].epochs_to_target
    assert history.history["val_accuracy"][reached - 1] >= 0.95
    assert all(score < 0.95 for score in history.history["val_accuracy"][: reached - 1])
    assert results["pytorch"].evaluations_per_epoch == 8  # ceil(120 / 16) batches
    assert results["forward"].max_param_difference < 1e-5


def test_cli_prints_the_table_and_where_things_went(tmp_path: Path, capsys) -> None:
    logdir, plots = tmp_path / "logs", tmp_path / "plots"
    methods = "forward,five_point_midpoint"
    status = main(
        [*SHORT, "--methods", methods, "--logdir", str(logdir), "--plots-dir", str(plots)]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert out.startswith("iris: 4-16-3 tanh network, sgd (lr=0.1), 3 epochs, batch size 16")
    rows = table_rows(out)
    assert list(rows) == ["forward", "five_point_midpoint", "pytorch"]
    assert "| run | train accuracy | test accuracy | train loss | test loss |" in out
    # Loss evaluations / epoch: 8 batches * (131 + 1), plus the pilot of the default steps
    # (3 gradients on the first batch) spread over the 3 epochs: 1056 + 396 / 3.
    assert rows["forward"][6] == "1188"
    assert rows["pytorch"][6] == "8 *"
    assert f"TensorBoard logs: {logdir / 'iris'}" in out
    for run in ("forward", "five_point_midpoint", "pytorch"):
        assert any((logdir / "iris" / run / "validation").glob("events.out.tfevents.*"))
        assert str(plots / f"iris_{run}.png") in out
        assert (plots / f"iris_{run}.png").stat().st_size > 10_000
    assert (plots / "iris_methods_vs_pytorch.png").exists()


def test_no_torch_flag_and_missing_torch_skip_the_baseline(monkeypatch, capsys) -> None:
    off = ["--logdir", "none", "--plots-dir", "none", "--methods", "central"]
    assert main([*SHORT, *off, "--no-torch"]) == 0
    out = capsys.readouterr().out
    assert "PyTorch baseline skipped: not requested" in out and "pytorch" not in table_rows(out)
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main([*SHORT, *off]) == 0
    out = capsys.readouterr().out
    assert "PyTorch baseline skipped:" in out
    assert "torch is needed for the PyTorch baseline: pip install torch" in out
    assert list(table_rows(out)) == ["three_point_midpoint"]


def test_progress_bar_unless_quiet(capsys) -> None:
    pytest.importorskip("tqdm")
    off = ["--logdir", "none", "--plots-dir", "none", "--methods", "forward", "--no-torch"]
    main(["--epochs", "2", *off])
    assert "forward" in capsys.readouterr().err  # tqdm's description
    main(["--epochs", "2", "--quiet", *off])
    assert capsys.readouterr().err == ""


def test_other_datasets_and_options() -> None:
    comparison = run_comparison(
        dataset="diabetes",
        methods=["central", "three_point_midpoint"],
        epochs=2,
        hidden=(8, 4),
        activation="relu",
        optimizer="adam",
        torch_baseline=False,
    )
    assert list(comparison.histories) == ["three_point_midpoint"]  # "central" is its alias
    assert comparison.task.metric == "r2" and comparison.settings["lr"] == 0.01
    split = comparison.split
    assert split.n_outputs == 1 and abs(split.y_train.mean()) < 1e-12  # standardised target
    assert "| run | train r2 | test r2 |" in comparison.table()
    history = comparison.histories["three_point_midpoint"]
    assert (
        history.params["optimizer"] == "adam"
        and history.params["num_parameters"] == 10 * 8 + 8 + 8 * 4 + 4 + 5
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--methods", "forward,sideways"], "sideways"),
        (["--hidden", "16,x"], "expected widths like 16 or 32,16"),
        (["--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["--epochs", "0"], "epochs must be >= 1; got 0"),
        (["--lr", "-1"], "lr must be > 0; got -1.0"),
    ],
)
def test_cli_rejects_bad_arguments(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--quiet", "--logdir", "none", "--plots-dir", "none", "--no-torch"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_run_comparison_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="methods must be a non-empty list"):
        run_comparison(methods="forward")
    with pytest.raises(ValueError, match="Unknown activation 'softmax'"):
        run_comparison(activation="softmax")
    with pytest.raises(ValueError, match="hidden must be >= 1; got 0"):
        run_comparison(hidden=(16, 0))
    with pytest.raises(ValueError, match="Unknown dataset 'friedman'"):
        run_comparison(dataset="friedman")


def test_module_runs_as_a_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deep_learning_toolkit.train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    for flag in ("--dataset", "--methods", "--epochs", "--batch-size", "--lr", "--optimizer"):
        assert flag in result.stdout
    for flag in ("--hidden", "--activation", "--seed", "--logdir", "--plots-dir", "--no-torch"):
        assert flag in result.stdout
    assert "--quiet" in result.stdout


def test_results_are_reproducible() -> None:
    first = run_comparison(methods=["forward"], epochs=3, torch_baseline=False)
    second = run_comparison(methods=["forward"], epochs=3, torch_baseline=False)
    np.testing.assert_array_equal(first.params["forward"], second.params["forward"])
    assert first.histories["forward"].history["loss"] == second.histories["forward"].history["loss"]


# ---------------------------------------------------------------------- output locations
def _unwritable(monkeypatch, directory: Path) -> None:
    """Make ``directory`` (and what is under it) refuse to be created, as a read-only place
    would (simulated: the tests may run as root, whom permissions do not stop)."""
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == directory or directory in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)


def _count_training(monkeypatch) -> list[int]:
    import deep_learning_toolkit.experiments.comparison as comparison_module

    calls: list[int] = []
    real_sweep = comparison_module.sweep

    def sweep(*args, **kwargs):
        calls.append(1)
        return real_sweep(*args, **kwargs)

    monkeypatch.setattr(comparison_module, "sweep", sweep)
    return calls


@pytest.mark.parametrize("option", ["--plots-dir", "--logdir"])
def test_an_unwritable_output_directory_is_refused_before_training(
    tmp_path, monkeypatch, capsys, option
) -> None:
    directory = tmp_path / "out"
    _unwritable(monkeypatch, directory)
    trained = _count_training(monkeypatch)
    other = "--logdir" if option == "--plots-dir" else "--plots-dir"
    argv = [*SHORT, "--methods", "forward", "--no-torch", other, "none", option, str(directory)]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and trained == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dltk-train: error: ")
    assert option in err and str(directory) in err and "Permission denied" in err


def test_a_late_io_error_still_prints_the_results_table(tmp_path, monkeypatch, capsys) -> None:
    """Plots are written after the table: a full disk loses no computed result."""
    pytest.importorskip("matplotlib")
    import deep_learning_toolkit.viz.plots as plots

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots, "plot_histories", full_disk)
    argv = [*SHORT, "--methods", "forward", "--no-torch", "--logdir", "none"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--plots-dir", str(tmp_path / "plots")])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert list(table_rows(captured.out)) == ["forward"]
    assert captured.err.count("\n") == 1 and "No space left on device" in captured.err
    assert "results above" in captured.err


def test_ctrl_c_names_no_checkpoint_the_command_line_does_not_write(monkeypatch, capsys) -> None:
    """A real Ctrl-C in training: the message must not send the user to checkpoints."""
    import os
    import signal

    import deep_learning_toolkit as dlt
    import deep_learning_toolkit.train as train_module

    class CtrlC(dlt.training.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            os.kill(os.getpid(), signal.SIGINT)

    def interrupted_comparison(**kwargs):
        model = dlt.Sequential([dlt.Dense(2, 2)], seed=0)
        model.compile(optimizer="sgd")
        model.fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]), epochs=2, callbacks=[CtrlC()])

    monkeypatch.setattr(train_module, "run_comparison", interrupted_comparison)
    with pytest.raises(SystemExit) as exit_info:
        main([*SHORT, "--methods", "forward", "--no-torch", "--logdir", "none"])
    assert exit_info.value.code == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err
    assert "Resume from the last checkpoint" not in err and "no checkpoints" in err


def test_the_cnn_model_on_digits_images(tmp_path, capsys) -> None:
    """--model cnn: the same table, TensorBoard runs and plots as the default, for a CNN."""
    pytest.importorskip("sklearn")
    pytest.importorskip("tensorboardX")
    status = main(
        [
            "--dataset",
            "digits",
            "--model",
            "cnn",
            "--hidden",
            "32",
            "--optimizer",
            "adam",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--methods",
            "central",
            "--quiet",
            "--logdir",
            str(tmp_path / "runs"),
            "--plots-dir",
            "none",
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert out.startswith("digits: 1x8x8 conv(8,3x3)-pool-32-10 tanh network")
    assert "| three_point_midpoint |" in out
    assert (tmp_path / "runs" / "digits" / "three_point_midpoint").is_dir()


def test_the_cnn_needs_an_image_dataset(capsys) -> None:
    pytest.importorskip("sklearn")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "--dataset",
                "iris",
                "--model",
                "cnn",
                "--quiet",
                "--no-torch",
                "--logdir",
                "none",
                "--plots-dir",
                "none",
            ]
        )
    assert exit_info.value.code == 2
    assert "model 'cnn' needs an image dataset" in capsys.readouterr().err
