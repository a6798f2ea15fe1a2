"""The step-size study: measured orders, default-step placement, the figure and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from deep_learning_toolkit import study
from deep_learning_toolkit.numdiff.stencils import ALL_METHODS, METHODS, get_method

EXPECTED_ORDERS = {
    "forward": 1,
    "backward": 1,
    "three_point_endpoint": 2,
    "three_point_midpoint": 2,
    "five_point_endpoint": 4,
    "five_point_midpoint": 4,
    "complex_step": 2,
}


@pytest.mark.parametrize("order", [1, 2, 4, 6])
def test_measured_order_of_a_model_curve(order: int) -> None:
    steps = np.exp2(np.arange(-40.0, 0.0))
    errors = 0.3 * steps**order + 1e-16 / steps + 1e-16
    assert study.measured_order(steps, errors) == pytest.approx(order, abs=0.05)


def test_measured_order_needs_a_truncation_regime() -> None:
    steps = np.exp2(np.arange(-10.0, 0.0))
    assert np.isnan(study.measured_order(steps, np.full(steps.shape, 1e-16)))


@pytest.fixture(scope="module")
def result() -> study.StudyResult:
    pytest.importorskip("sklearn")
    model, X, y, description = study.study_network(batch_size=16, epochs=0)
    return study.step_size_study(
        model,
        X,
        y,
        stencil_exponents=range(-40, 0),
        complex_exponents=range(-70, 0, 3),
        description=description,
        name=study.DEFAULT_NETWORK,
    )


def test_orders_measured_on_a_real_network(result: study.StudyResult) -> None:
    assert list(result.curves) == list(ALL_METHODS)
    for name, curve in result.curves.items():
        assert curve.measured_order == pytest.approx(EXPECTED_ORDERS[name], abs=0.3), name
        assert curve.order == EXPECTED_ORDERS[name]


def test_default_steps_sit_near_each_curve_minimum(result: study.StudyResult) -> None:
    for name in METHODS:
        curve = result.curves[name]
        # The default (pilot) steps: within 3x of the best error of the sweep.
        assert 1 / 100 <= curve.best_step / curve.default_step <= 100, name
        assert curve.default_error <= 3 * curve.best_error, name
        # The classic steps (step="classic") are still shown; on Iris they are near too.
        assert curve.classic_step == 2.0 ** round(np.log2(get_method(name).default_step))
        assert curve.classic_error <= 10 * curve.best_error, name
        assert curve.gradient_seconds > 0 and curve.pilot_seconds > 0
    assert result.curves["five_point_midpoint"].default_error < (
        result.curves["three_point_midpoint"].default_error
    )
    # The complex step has no minimum to speak of: flat at rounding level below ~1e-8.
    complex_curve = result.curves["complex_step"]
    assert complex_curve.default_error <= 10 * complex_curve.best_error <= 1e-14


def test_best_errors_follow_the_theory(result: study.StudyResult) -> None:
    best = {name: curve.best_error for name, curve in result.curves.items()}
    assert best["forward"] < 1e-7
    assert best["three_point_midpoint"] < 1e-9
    assert best["five_point_midpoint"] < 1e-11
    assert best["complex_step"] < 1e-14
    assert best["forward"] > best["three_point_midpoint"] > best["five_point_midpoint"]
    assert best["five_point_midpoint"] > best["complex_step"]


def test_table_lists_every_method(result: study.StudyResult) -> None:
    table = result.table()
    assert "torch autograd" in table or "complex step" in table
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[0].count("|") == 11 and "classic h" in rows[0] and "default / best" in rows[0]
    assert [row.split(" | ")[0][2:] for row in rows[1:]] == list(ALL_METHODS)
    assert "five_point_midpoint" in result.pilot_cost()
    summary = study.summary_table([result], ["three_point_midpoint"])
    assert summary.splitlines()[2].startswith("| iris-4-16-16-3 | three_point_midpoint |")


def test_figure_is_written_and_reads_back(result: study.StudyResult, tmp_path) -> None:
    pytest.importorskip("seaborn")
    image = pytest.importorskip("matplotlib.image")
    path = study.plot_study(result, tmp_path / "images" / "study.png")
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 400 and pixels.shape[1] > 800
    assert pixels[..., :3].std() > 0.05  # not a blank canvas


def test_autograd_reference_agrees_with_the_complex_step() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    model, X, y, _ = study.study_network(batch_size=20, epochs=0, seed=3)
    torch_gradient, torch_label = study.reference_gradient(model, X, y, "torch")
    complex_gradient, complex_label = study.reference_gradient(model, X, y, "complex_step")
    assert "torch" in torch_label and "complex" in complex_label
    error = np.linalg.norm(torch_gradient - complex_gradient) / np.linalg.norm(torch_gradient)
    assert error < 1e-14
    loss, _ = study.autograd_gradient(model, X, y)
    assert loss == pytest.approx(model.evaluate(X, y)["loss"], rel=1e-14)


def test_command_line(monkeypatch, capsys, tmp_path) -> None:
    pytest.importorskip("sklearn")
    monkeypatch.setattr(study, "STENCIL_EXPONENTS", tuple(range(-30, -2, 4)))
    monkeypatch.setattr(study, "COMPLEX_EXPONENTS", tuple(range(-30, -2, 4)))
    networks = "iris-4-16-3,iris-4-16-16-3"
    code = study.main(["--no-plot", "--epochs", "0", "--batch-size", "8", "--networks", networks])
    assert code == 0
    out = capsys.readouterr().out
    assert "measured" in out and "five_point_midpoint" in out and "batch of 8" in out
    assert out.count("## iris-4-16") == 2 and out.count("pilot (3 gradients)") == 2
    assert "| network | method | best error | classic default | pilot default |" in out
    for bad in (["--truth", "oracle"], ["--networks", "mnist"]):
        with pytest.raises(SystemExit):
            study.main(bad)


def test_command_line_draws_a_figure_per_network(capsys, tmp_path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("seaborn")
    args = ["--quick", "--epochs", "0", "--batch-size", "8", "--output-dir", str(tmp_path)]
    assert study.main([*args, "--networks", "iris-4-16-3"]) == 0
    figure = tmp_path / "step_size_study_iris-4-16-3.png"
    assert figure.stat().st_size > 10_000 and f"figure: {figure}" in capsys.readouterr().out


def test_the_study_covers_the_benchmark_networks() -> None:
    assert {"iris-4-16-3", "iris-4-64-64-3", "digits-64-32-10", "digits-64-128-10"} <= set(
        study.NETWORKS
    )
    deep = [spec for spec in study.NETWORKS.values() if len(spec.hidden) >= 3]
    assert deep and study.DEFAULT_NETWORK in study.NETWORKS and "digits-cnn" in study.NETWORKS


def test_the_cnn_truth_is_its_pytorch_twin() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    model, X, y, description = study.study_network("digits-cnn", epochs=0, batch_size=12)
    assert X.shape == (12, 1, 8, 8) and "CNN" in description
    twin, label = study.reference_gradient(model, X, y)
    assert "twin" in label
    complex_step, _ = study.reference_gradient(model, X, y, "complex_step")
    assert np.linalg.norm(twin - complex_step) <= 1e-14 * np.linalg.norm(twin)
