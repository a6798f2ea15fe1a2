"""Tests of the seaborn plots: the frame, the plotted line data, the PNG files."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from deep_learning_toolkit.training.history import History

pytest.importorskip("pandas")
pytest.importorskip("seaborn")
pytest.importorskip("matplotlib")

from deep_learning_toolkit import viz  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_history(name: str, epochs: int = 6, offset: float = 0.0) -> History:
    """A History with a train/validation loss and accuracy and bookkeeping keys."""
    history = History(name=name, params={"method": name})
    rng = np.random.default_rng(sum(map(ord, name)))
    for epoch in range(epochs):
        history.append(
            epoch,
            {
                "loss": 1.0 / (epoch + 1) + offset,
                "accuracy": 0.5 + 0.05 * epoch,
                "grad_norm": float(rng.uniform(0.1, 1.0)),
                "val_loss": 1.2 / (epoch + 1) + offset,
                "val_accuracy": 0.45 + 0.05 * epoch,
            },
        )
    return history


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def lines_by_label(ax) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Data lines of a matplotlib Axes by label (seaborn's legend proxies have no data)."""
    return {
        line.get_label(): (np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
        for line in ax.lines
        if len(line.get_xdata())
    }


def test_histories_to_frame_is_long_form_and_exact() -> None:
    runs = [make_history("forward"), make_history("pytorch", epochs=4)]
    frame = viz.histories_to_frame(runs)
    assert list(frame.columns) == ["run", "epoch", "metric", "split", "value"]
    assert list(frame["run"].cat.categories) == ["forward", "pytorch"]
    assert len(frame) == 5 * 6 + 5 * 4
    for history in runs:
        for key, values in history.history.items():
            metric, split = key.removeprefix("val_"), "validation" if key[:4] == "val_" else "train"
            part = frame[
                (frame["run"] == history.name)
                & (frame["metric"] == metric)
                & (frame["split"] == split)
            ]
            assert part["epoch"].tolist() == history.epoch
            assert part["value"].tolist() == values  # exact, no rounding
    assert set(frame[frame["metric"] == "grad_norm"]["split"]) == {"train"}


def test_frame_accepts_a_dict_of_named_runs() -> None:
    frame = viz.histories_to_frame({"a": make_history("x"), "b": make_history("x")})
    assert list(frame["run"].cat.categories) == ["a", "b"]


def test_plot_of_several_runs_draws_exactly_the_histories(tmp_path: Path) -> None:
    runs = {name: make_history(name, offset=k / 10) for k, name in enumerate(["a", "b", "ref"])}
    path = tmp_path / "sub" / "curves.png"
    figure = viz.plot_histories(runs, path=path, title="Three runs", reference="ref")
    assert figure._suptitle.get_text() == "Three runs"
    axes = figure.axes
    titles = sorted(ax.get_title() for ax in axes)
    assert titles == [
        "accuracy (train)",
        "accuracy (validation)",
        "loss (train)",
        "loss (validation)",
    ]
    for ax in axes:
        metric, split = ax.get_title()[:-1].split(" (")
        key = metric if split == "train" else f"val_{metric}"
        lines = lines_by_label(ax)
        assert set(lines) == set(runs)
        for name, history in runs.items():
            x, y = lines[name]
            np.testing.assert_array_equal(x, history.epoch)
            np.testing.assert_array_equal(y, history.history[key])
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == metric
    reference_line = next(line for line in axes[0].lines if line.get_label() == "ref")
    assert reference_line.get_color() == "black" and reference_line.get_linestyle() == "--"
    legend_labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend_labels == ["a", "b", "ref"]
    width, height = png_size(path)
    assert 800 <= width <= 3000 and 500 <= height <= 2000


def test_plot_of_one_run_shows_train_and_validation() -> None:
    history = make_history("five_point_midpoint")
    figure = viz.plot_histories([history], metrics=["loss", "accuracy", "grad_norm"])
    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy", "grad_norm"]
    for ax in figure.axes:
        metric = ax.get_title()
        lines = lines_by_label(ax)
        np.testing.assert_array_equal(lines["train"][1], history.history[metric])
        if metric != "grad_norm":
            np.testing.assert_array_equal(lines["validation"][1], history.history[f"val_{metric}"])
        else:
            assert set(lines) == {"train"}


def test_plot_differences_shows_distance_to_the_reference_on_log_scale(tmp_path: Path) -> None:
    runs = [make_history("a", offset=1e-6), make_history("b", offset=1e-9), make_history("ref")]
    path = tmp_path / "diff.png"
    figure = viz.plot_differences(runs, reference="ref", path=path, title="distance")
    assert len(figure.axes) == 2
    for ax in figure.axes:
        assert ax.get_yscale() == "log"
        key = "loss" if ax.get_title() == "loss (train)" else "val_loss"
        lines = lines_by_label(ax)
        assert set(lines) == {"a", "b"}
        for history in runs[:2]:
            expected = np.abs(np.array(history.history[key]) - runs[2].history[key])
            np.testing.assert_allclose(lines[history.name][1], expected, rtol=1e-12)
    frame = viz.differences_frame(runs, "ref")
    assert set(frame["run"]) == {"a", "b"}
    assert frame[frame["metric"] == "loss"]["value"].notna().all()
    assert frame[frame["metric"] == "accuracy"]["value"].isna().all()  # identical values
    same = viz.differences_frame({"a": make_history("ref"), "ref": make_history("ref")}, "ref")
    assert same["value"].isna().all()  # exact agreement is a gap, not log(0)
    png_size(path)


@pytest.mark.parametrize(
    ("histories", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "empty"),
        ("loss", {}, TypeError, "list of History"),
        ([make_history("a"), {"loss": [1.0]}], {}, TypeError, r"histories\[1\]"),
        ([make_history("a"), make_history("a")], {}, ValueError, "two histories are named 'a'"),
        ([make_history("a")], {"metrics": ["r2"]}, ValueError, r"\['r2'\] are not logged"),
        ([make_history("a")], {"metrics": "loss"}, ValueError, "non-empty list"),
        ([make_history("a")], {"reference": "pytorch"}, ValueError, "reference 'pytorch'"),
    ],
)
def test_plot_histories_rejects_bad_input(histories, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        viz.plot_histories(histories, **kwargs)


def test_missing_plot_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "seaborn", None)
    with pytest.raises(ImportError, match=r"seaborn is needed for plots: pip install seaborn \(or"):
        viz.plot_histories([make_history("a")])


def test_comparison_figures_are_written(tmp_path: Path) -> None:
    """Every figure of the experiment exists as a PNG of sensible size."""
    from deep_learning_toolkit.numdiff import METHODS
    from deep_learning_toolkit.train import TASKS, make_plots

    histories = {name: make_history(name, offset=k * 1e-8) for k, name in enumerate(METHODS)}
    histories["pytorch"] = make_history("pytorch")
    paths = make_plots(histories, tmp_path, "iris", TASKS["classification"])
    expected = [*METHODS, "pytorch", "all_methods", "methods_vs_pytorch", "difference_from_pytorch"]
    assert sorted(paths) == sorted(expected)
    for name, path in paths.items():
        assert path == tmp_path / f"iris_{name}.png"
        width, height = png_size(path)
        assert 800 <= width <= 3000 and 350 <= height <= 2000, (name, width, height)
