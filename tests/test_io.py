"""save_model / load_model and ModelCheckpoint: round trips, atomic writes, damaged files."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.io import FORMAT, load_model, read_header, save_model
from deep_learning_toolkit.nn.losses import MeanSquaredError
from deep_learning_toolkit.numdiff import make_stencil, richardson_stencil
from deep_learning_toolkit.training.checkpoint import ModelCheckpoint

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 4))
Y = np.argmax(X @ RNG.normal(size=(4, 3)), axis=1)
XV, YV = X[:10] + 0.1, Y[:10]


def new_model(**compile_args) -> dlt.Sequential:
    model = dlt.Sequential([dlt.Dense(4, 5, activation="tanh"), dlt.Dense(5, 3)], seed=3)
    settings = {"optimizer": dlt.optim.Adam(lr=0.02), "metrics": ["accuracy"], **compile_args}
    model.compile(**settings)
    return model


@pytest.fixture(scope="module")
def trained() -> dlt.Sequential:
    model = new_model(method="five_point_midpoint")
    model.fit(X, Y, epochs=3, batch_size=8, validation_data=(XV, YV))
    return model


@pytest.fixture
def saved(tmp_path: Path, trained) -> Path:
    return trained.save(tmp_path / "model.dltk")


def assert_same_model(a: dlt.Sequential, b: dlt.Sequential) -> None:
    assert b.config() == a.config()
    np.testing.assert_array_equal(b.params, a.params)
    assert b.epochs_completed == a.epochs_completed
    if a.loss is None:
        assert b.loss is None
        return
    assert type(b.loss) is type(a.loss)
    assert b.stencil == a.stencil and b.metrics == a.metrics
    assert b.gradient_engine == a.gradient_engine and b.memory_budget == a.memory_budget
    np.testing.assert_array_equal(np.asarray(b.step, dtype=float), np.asarray(a.step, dtype=float))
    assert (b.step_pilot is None) == (a.step_pilot is None)
    if a.step_pilot is not None:
        assert (b.step_pilot.method, b.step_pilot.age) == (a.step_pilot.method, a.step_pilot.age)
        np.testing.assert_array_equal(b.step_pilot.relative, a.step_pilot.relative)
    state_a, state_b = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert type(b.optimizer) is type(a.optimizer)
    assert state_b["hyperparameters"] == state_a["hyperparameters"]
    assert state_b["step"] == state_a["step"] and state_b["shape"] == state_a["shape"]
    assert state_b["state"].keys() == state_a["state"].keys()
    for key, value in state_a["state"].items():
        np.testing.assert_array_equal(state_b["state"][key], value)


def test_round_trip_of_a_trained_model(trained, saved) -> None:
    loaded = load_model(saved)
    assert_same_model(trained, loaded)
    assert loaded.epochs_completed == 3 and loaded.optimizer.step_count == 3 * 4
    assert loaded.history.to_dict() == trained.history.to_dict()
    np.testing.assert_array_equal(loaded.predict(X), trained.predict(X))
    assert loaded.evaluate(XV, YV) == trained.evaluate(XV, YV)


def test_round_trip_of_an_uncompiled_model(tmp_path: Path) -> None:
    model = dlt.Sequential([dlt.Dense(2, 3, activation="relu", init="he_normal")], seed=7)
    model.set_params(np.arange(model.num_parameters) / 7)
    loaded = load_model(save_model(model, str(tmp_path / "plain.dltk")))
    assert_same_model(model, loaded)
    assert loaded.history is None and loaded.layers[0].init == "he_normal"


@pytest.mark.parametrize(
    "compile_args",
    [
        {"method": "forward", "step": 2.0**-20},
        {"method": "central", "step": np.full(43, 2.0**-14), "gradient_engine": "reference"},
        {"method": "complex_step", "optimizer": dlt.optim.RMSprop(lr=0.01, momentum=0.5)},
        {"method": make_stencil([-3, -1, 1, 3]), "memory_budget": 2**16},
        {"method": richardson_stencil(dlt.numdiff.STENCILS["forward"], 2)},
        {"loss": "mse", "metrics": ["mae", "r2"], "optimizer": dlt.optim.SGD(0.1, momentum=0.9)},
        {"loss": "binary_cross_entropy", "optimizer": "sgd"},
    ],
    ids=[
        "step",
        "array-step",
        "complex",
        "stencil",
        "richardson",
        "regression",
        "binary",
    ],
)
def test_round_trip_of_every_compile_setting(tmp_path: Path, compile_args) -> None:
    model = new_model(**{"metrics": [], **compile_args})
    targets = {"regression": X[:, :3], "binary": (X[:, :3] > 0).astype(float)}
    y = targets.get(model.loss.task, Y)
    model.fit(X, y, epochs=1, batch_size=16)
    loaded = load_model(model.save(tmp_path / "m.dltk"))
    assert_same_model(model, loaded)
    if hasattr(model.stencil, "exact") and model.stencil.exact is not None:
        assert loaded.stencil.formula == model.stencil.formula  # exact rationals kept
    assert loaded.loss_and_gradient(X, y)[1].tolist() == model.loss_and_gradient(X, y)[1].tolist()


def test_the_file_is_a_zip_with_a_readable_header(saved) -> None:
    header = read_header(saved)
    assert header["format"] == FORMAT and header["version"] == 1
    assert header["epochs_completed"] == 3
    assert header["compile"]["method"] == {"name": "five_point_midpoint"}
    assert header["optimizer"]["name"] == "adam" and header["optimizer"]["step"] == 12
    assert header["arrays"]["params"] == {"dtype": "<f8", "shape": [43]}
    with zipfile.ZipFile(saved) as archive:
        assert archive.namelist() == [
            "header.json",
            "arrays/params.npy",
            "arrays/optimizer.exp_avg.npy",
            "arrays/optimizer.exp_avg_sq.npy",
            "arrays/step_pilot.npy",  # the pilot steps training goes on with
            "checksum.sha256",
        ]
        assert json.loads(archive.read("header.json")) == header


def test_save_replaces_atomically_and_leaves_no_temporary_file(tmp_path: Path, trained) -> None:
    path = tmp_path / "model.dltk"
    first = new_model()
    first.save(path)
    trained.save(path)
    assert os.listdir(tmp_path) == ["model.dltk"]
    np.testing.assert_array_equal(load_model(path).params, trained.params)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path, trained, monkeypatch) -> None:
    path = tmp_path / "model.dltk"
    trained.save(path)
    before = path.read_bytes()

    def broken_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        new_model().save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.dltk"]


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_files_are_refused(tmp_path: Path, saved, keep: float) -> None:
    data = saved.read_bytes()
    cut = tmp_path / "cut.dltk"
    cut.write_bytes(data[: int(len(data) * keep)])
    message = "is empty" if keep == 0 else "truncated or corrupted"
    with pytest.raises(ValueError, match=message) as error:
        load_model(cut)
    assert str(cut) in str(error.value)


def test_a_flipped_byte_in_the_parameters_is_detected(tmp_path: Path, saved) -> None:
    data = bytearray(saved.read_bytes())
    start = data.find(b"\x93NUMPY")  # the first array, the parameters
    data[start + 200] ^= 0x01
    broken = tmp_path / "broken.dltk"
    broken.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        load_model(broken)


def test_random_damage_is_refused_or_harmless(tmp_path: Path, saved, trained) -> None:
    """A flipped byte either makes loading fail or hit a field that holds no data."""
    data = saved.read_bytes()
    rng = np.random.default_rng(1)
    refused = 0
    for position in rng.choice(len(data), size=60, replace=False):
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(rng.integers(8))
        path = tmp_path / "damaged.dltk"
        path.write_bytes(bytes(damaged))
        try:
            loaded = load_model(path)
        except ValueError as error:
            assert str(path) in str(error)
            refused += 1
        else:
            assert_same_model(trained, loaded)
    assert refused >= 45


def rewrite(path: Path, target: Path, change_header) -> None:
    """Copy a model file with an edited header and a correct checksum."""
    from deep_learning_toolkit.io import _archive_bytes, _read_archive

    header, arrays = _read_archive(path.read_bytes(), str(path))
    change_header(header)
    target.write_bytes(_archive_bytes(header, arrays))


def test_a_consistent_rewrite_without_the_right_checksum_is_refused(tmp_path, saved) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(buffer, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "header.json":
                content = content.replace(b'"epochs_completed": 3', b'"epochs_completed": 4')
            target.writestr(name, content)
    edited = tmp_path / "edited.dltk"
    edited.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="SHA-256 checksum does not match"):
        load_model(edited)


def test_files_from_a_newer_version_or_another_program_are_refused(tmp_path, saved) -> None:
    newer = tmp_path / "newer.dltk"
    rewrite(saved, newer, lambda header: header.update(version=2))
    with pytest.raises(ValueError, match="format version 2; this toolkit reads versions 1 to 1"):
        load_model(newer)
    other = tmp_path / "other.dltk"
    rewrite(saved, other, lambda header: header.update(format="keras"))
    with pytest.raises(ValueError, match="its format field is 'keras'"):
        load_model(other)
    invalid = tmp_path / "invalid.dltk"
    rewrite(saved, invalid, lambda header: header["architecture"]["layers"][0].update(units=3))
    with pytest.raises(ValueError, match="contents are invalid"):
        load_model(invalid)


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes.txt' is not a deep_learning_toolkit.model file"):
        load_model(text)
    arrays = tmp_path / "weights.npz"
    np.savez(arrays, params=np.zeros(3))
    with pytest.raises(ValueError, match="it is a ZIP archive without header.json"):
        load_model(arrays)
    with pytest.raises(ValueError, match="is a directory, not a model file"):
        load_model(tmp_path)
    with pytest.raises(FileNotFoundError, match="No model file at"):
        load_model(tmp_path / "missing.dltk")


def test_custom_losses_cannot_be_saved(tmp_path: Path) -> None:
    class Scaled(MeanSquaredError):
        def batched(self, outputs, targets):
            return 2 * super().batched(outputs, targets)

    model = new_model(loss=Scaled(), metrics=[])
    with pytest.raises(TypeError, match="custom loss"):
        model.save(tmp_path / "m.dltk")
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------- ModelCheckpoint
def test_checkpoint_every_epoch_names_files_by_epochs_completed(tmp_path: Path) -> None:
    model = new_model()
    snapshots = []

    class Snapshot(dlt.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_params())

    template = tmp_path / "run" / "model-{epoch:02d}-{val_loss:.3f}.dltk"
    checkpoint = ModelCheckpoint(template)
    history = model.fit(
        X, Y, epochs=3, batch_size=8, validation_data=(XV, YV), callbacks=[checkpoint, Snapshot()]
    )
    names = sorted(os.listdir(tmp_path / "run"))
    expected = [f"model-{e + 1:02d}-{history.history['val_loss'][e]:.3f}.dltk" for e in range(3)]
    assert names == sorted(expected)
    for epoch, name in enumerate(expected):
        loaded = load_model(tmp_path / "run" / name)
        assert loaded.epochs_completed == epoch + 1
        np.testing.assert_array_equal(loaded.params, snapshots[epoch])
        assert loaded.history.history["loss"] == history.history["loss"][: epoch + 1]
    assert checkpoint.last_saved == tmp_path / "run" / expected[-1]


@pytest.mark.parametrize(("monitor", "mode"), [("val_loss", "auto"), ("val_accuracy", "max")])
def test_checkpoint_best_only_keeps_the_best_epoch(tmp_path: Path, monitor, mode) -> None:
    model = new_model(optimizer=dlt.optim.SGD(lr=3.0))  # a jumpy run: the best is not the last
    snapshots = []

    class Snapshot(dlt.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_params())

    path = tmp_path / "best.dltk"
    checkpoint = ModelCheckpoint(path, monitor=monitor, save_best_only=True, mode=mode)
    history = model.fit(
        X, Y, epochs=8, batch_size=4, validation_data=(XV, YV), callbacks=[checkpoint, Snapshot()]
    )
    values = np.array(history.history[monitor])
    best = int(np.argmax(values) if mode == "max" else np.argmin(values))  # first best wins
    loaded = load_model(path)
    assert loaded.epochs_completed == best + 1
    assert checkpoint.best == values[best]
    np.testing.assert_array_equal(loaded.params, snapshots[best])


def test_checkpoint_best_only_keeps_a_better_model_saved_before_a_resume(tmp_path: Path) -> None:
    path = tmp_path / "best.dltk"
    model = new_model()
    model.fit(X, Y, epochs=4, batch_size=8, validation_data=(XV, YV))
    model.save(path)  # as a best-only checkpoint would have at its best epoch
    resumed = load_model(path)
    resumed.optimizer.lr = 50.0  # the resumed epochs are far worse
    checkpoint = ModelCheckpoint(path, save_best_only=True)
    history = resumed.fit(
        X, Y, epochs=6, initial_epoch=4, validation_data=(XV, YV), callbacks=[checkpoint]
    )
    assert min(history.history["val_loss"]) > model.history.last("val_loss")
    assert checkpoint.last_saved is None and checkpoint.best == model.history.last("val_loss")
    np.testing.assert_array_equal(load_model(path).params, model.params)


def test_checkpoint_rejects_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown mode 'best'"):
        ModelCheckpoint(tmp_path / "m.dltk", mode="best")
    with pytest.raises(ValueError, match="is not a valid template"):
        ModelCheckpoint(str(tmp_path / "m-{epoch.dltk"))
    with pytest.raises(TypeError, match="filepath must be a non-empty path"):
        ModelCheckpoint(None)
    model = new_model()
    missing = ModelCheckpoint(tmp_path / "m.dltk", save_best_only=True)
    with pytest.raises(ValueError, match="monitor 'val_loss' is not logged; available keys"):
        model.fit(X, Y, epochs=1, callbacks=[missing])
    unknown = ModelCheckpoint(str(tmp_path / "m-{val_acc}.dltk"))
    with pytest.raises(ValueError, match="names 'val_acc', which is not logged"):
        model.fit(X, Y, epochs=1, callbacks=[unknown])


# ---------------------------------------------------------------------- files of older versions
FIXTURES = Path(__file__).parent / "fixtures"


def test_a_file_written_by_version_0_1_0_loads_and_resumes_exactly() -> None:
    """``model_v0.1.0.dltk`` was written by the toolkit before the Layer protocol (commit
    8a335c1): a 4-8-3 tanh network, Adam, five-point formula, 3 epochs on standardised Iris.
    ``model_v0.1.0_resumed_params.npy`` holds the parameters that version reached after
    resuming to epoch 5; this version must load the file and reach the same parameters."""
    from deep_learning_toolkit.data import load_dataset

    model = load_model(FIXTURES / "model_v0.1.0.dltk")
    assert read_header(FIXTURES / "model_v0.1.0.dltk")["library_version"] == "0.1.0"
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    assert model.method_name == "five_point_midpoint" and model.epochs_completed == 3
    assert model.optimizer.step_count == 15 and len(model.history.epoch) == 3
    iris = load_dataset("iris")
    X = (iris.X - iris.X.mean(0)) / iris.X.std(0)
    model.fit(X, iris.y, epochs=5, batch_size=32, initial_epoch=3)
    expected = np.load(FIXTURES / "model_v0.1.0_resumed_params.npy")
    np.testing.assert_allclose(model.get_params(), expected, rtol=0, atol=1e-15)
