"""Crafted model files: only ValueError or OSError, memory bounded by the file's size.

A model file's checksum detects damage, not intent: every file here carries a correct
SHA-256 (recomputed after the edit), so what refuses it is the validation of sizes and of
the header, not the checksum.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit import archive
from deep_learning_toolkit.io import load_model, read_header

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: Memory a load may use: this many times the file's size, plus a fixed allowance for the
#: interpreter's own objects (parsed header, the model's Python objects).
PER_FILE_BYTE = 16
FIXED_BYTES = 4 * 2**20


def valid_model() -> dlt.Sequential:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    model = dlt.Sequential([dlt.Dense(4, 5, activation="tanh"), dlt.Dense(5, 3)], seed=1)
    model.compile(optimizer=dlt.optim.Adam(lr=0.01), metrics=["accuracy"])
    model.fit(X, y, epochs=2, batch_size=10)
    return model


@pytest.fixture(scope="module")
def payload(tmp_path_factory) -> tuple[dict, dict[str, bytes]]:
    """The header and the ``.npy`` bytes of the members of a valid file."""
    path = valid_model().save(tmp_path_factory.mktemp("valid") / "model.dltk")
    with zipfile.ZipFile(path) as source:
        header = json.loads(source.read("header.json"))
        members = {
            name: source.read(name) for name in source.namelist() if name.startswith("arrays/")
        }
    return header, members


def craft(
    header: dict | bytes,
    members: dict[str, bytes],
    compress: bool = False,
    sizes: dict[str, int] | None = None,
) -> bytes:
    """A ZIP archive with ``header`` and ``members`` and a correct checksum.

    ``sizes`` overrides the uncompressed sizes written in the central directory.
    """
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    entries = [("header.json", text), *members.items()]
    entries.append(("checksum.sha256", (archive._digest(entries) + "\n").encode()))
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", compression=method) as target:
        for name, data in entries:
            target.writestr(name, data)
    data = buffer.getvalue()
    for name, size in (sizes or {}).items():
        data = _set_declared_size(data, name, size)
    return data


def _set_declared_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite a member's uncompressed size in its local header and central directory."""
    data = bytearray(data)
    encoded = name.encode()
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            name_at = start + (46 if signature == b"PK\x01\x02" else 30)
            if data[name_at : name_at + len(encoded)] == encoded:
                data[start + offset : start + offset + 4] = struct.pack("<I", size)
            start += 4
    return bytes(data)


def npy(shape: tuple, dtype: str = "<f8", body: bytes | None = None) -> bytes:
    """A ``.npy`` member declaring ``shape`` and ``dtype`` (with ``body`` as its data)."""
    text = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    header = text.encode() + b" " * ((64 - (len(text) + 11) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + (body or b"")


def load_within_memory(path: Path) -> Exception | None:
    """Load ``path``; return the refusal (ValueError/OSError) and check the peak memory."""
    size = path.stat().st_size
    tracemalloc.start()
    try:
        load_model(path)
        outcome = None
    except (ValueError, OSError) as error:
        outcome = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= PER_FILE_BYTE * size + FIXED_BYTES, (peak, size)
    return outcome


def refused(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "crafted.dltk"
    path.write_bytes(data)
    error = load_within_memory(path)
    assert isinstance(error, ValueError), error
    assert str(path) in str(error) and match in str(error), str(error)


# ---------------------------------------------------------------------- sizes
def test_a_member_that_decompresses_far_beyond_the_file_is_refused(tmp_path, payload) -> None:
    """200 MiB of zeros deflated into 200 KiB, appended as one more member."""
    header, members = payload
    zeros, size = b"\0" * 2**20, 200 * 2**20
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = b"".join(bomb.compress(zeros) for _ in range(size // 2**20)) + bomb.flush()
    crc = 0
    for _ in range(size // 2**20):
        crc = zlib.crc32(zeros, crc)
    bombed = _append_deflated(craft(header, members), "arrays/extra.npy", body, size, crc)
    assert len(bombed) < 2**20
    refused(tmp_path, bombed, "decompress")


def _append_deflated(data: bytes, name: str, body: bytes, size: int, crc: int) -> bytes:
    """Add a member of raw deflate ``body`` (``size`` bytes once inflated) to a ZIP's end."""
    end = data.rfind(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack("<HII", data[end + 10 : end + 20])
    files, directory = data[:cd_offset], data[cd_offset : cd_offset + cd_size]
    encoded = name.encode()
    sizes = (crc, len(body), size, len(encoded))
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, *sizes, 0)
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, *sizes, 0, 0, 0, 0, 0,
        len(files),
    )  # fmt: skip
    files += local + encoded + body
    directory += central + encoded
    records = (count + 1, count + 1, len(directory), len(files), 0)
    return files + directory + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, *records)


def test_a_member_declaring_a_small_size_cannot_decompress_more(tmp_path, payload) -> None:
    """The central directory's size is a claim: decompression stops at it, whatever follows."""
    header, members = payload
    big = npy((2**22,), body=b"\0" * 8 * 2**22)
    data = craft(header, {**members, "arrays/extra.npy": big}, compress=True)
    small = _set_declared_size(data, "arrays/extra.npy", 100)
    refused(tmp_path, small, "arrays/extra.npy")


def test_an_array_header_declaring_1e12_elements_is_refused(tmp_path, payload) -> None:
    header, members = payload
    header = json.loads(json.dumps(header))
    header["arrays"]["params"]["shape"] = [10**12]
    data = craft(header, {**members, "arrays/params.npy": npy((10**12,))})
    refused(tmp_path, data, "params")


def test_a_layer_of_1e6_by_1e6_is_refused_before_it_is_built(tmp_path, payload) -> None:
    header, members = payload
    header = json.loads(json.dumps(header))
    header["architecture"]["layers"][0].update(in_features=10**6, out_features=10**6)
    refused(tmp_path, craft(header, members), "parameters")


def test_an_input_shape_of_1e12_values_is_refused(tmp_path, payload) -> None:
    header, members = payload
    header = json.loads(json.dumps(header))
    header["architecture"]["input_shape"] = [10**6, 10**6]
    refused(tmp_path, craft(header, members), "input_shape")


# ---------------------------------------------------------------------- the header's schema
def edited(payload, change) -> tuple[dict, dict[str, bytes]]:
    header, members = payload
    header = json.loads(json.dumps(header))
    change(header)
    return header, members


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda h: h.update(history=[1, 2]), "history"),
        (lambda h: h["history"].update(history={"loss": "high"}), "history"),
        (lambda h: h["history"].update(history={"loss": [1.0, None]}), "history"),
        (lambda h: h["history"].update(history={"loss": [True]}), "history"),
        (lambda h: h["history"].update(epoch=[0, "1"]), "history"),
        (lambda h: h.update(epochs_completed=-3), "epochs_completed"),
        (lambda h: h.update(epochs_completed=2.5), "epochs_completed"),
        (lambda h: h.update(epochs_completed=True), "epochs_completed"),
        (lambda h: h.update(version=True), "version"),
        (lambda h: h.update(architecture=[]), "architecture"),
        (lambda h: h["architecture"].update(seed=-1), "seed"),
        (lambda h: h["architecture"].update(layers={"type": "Dense"}), "layers"),
        (lambda h: h.update(compile="adam"), "compile"),
        (lambda h: h["compile"].update(memory_budget=False), "memory_budget"),
        (lambda h: h["compile"].update(metrics="accuracy"), "metrics"),
        (lambda h: h.update(optimizer={"name": 3}), "optimizer"),
        (lambda h: h["optimizer"].update(step=-1), "step"),
        (lambda h: h["optimizer"]["hyperparameters"].update(lr=10**400), "lr"),
        (lambda h: h.update(arrays={"params": {"dtype": "<f8", "shape": [-1]}}), "arrays"),
    ],
)
def test_header_fields_of_the_wrong_type_or_range_are_refused(
    tmp_path, payload, change, match
) -> None:
    refused(tmp_path, craft(*edited(payload, change)), match)


def test_deeply_nested_json_is_refused(tmp_path, payload) -> None:
    header, members = payload
    text = json.dumps(header).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = text.replace(b'"library_version": ', b'"library_version": ' + deep + b', "x": ')
    refused(tmp_path, craft(nested, members), "nested")


def test_a_stencil_with_step_0_is_refused(tmp_path, payload) -> None:
    def zero_step(header):
        header["compile"]["method"] = {
            "stencil": {
                "name": "mine",
                "offsets": [-1.0, 1.0],
                "weights": [-0.5, 0.5],
                "order": 2,
                "default_step": 0.0,
            }
        }

    refused(tmp_path, craft(*edited(payload, zero_step)), "default_step")


def test_an_exact_formula_with_huge_numbers_is_refused(tmp_path, payload) -> None:
    def huge(header):
        header["compile"]["method"] = {
            "stencil": {
                "name": "mine",
                "offsets": [-1.0, 1.0],
                "weights": [-0.5, 0.5],
                "order": 2,
                "default_step": 1e-5,
                "exact": {
                    "offsets": ["-1", "1e999999999"],
                    "weights": ["-1/2", "1/2"],
                    "derivative": 1,
                    "order": 2,
                    "error_terms": [[2, "1/6"]],
                },
            }
        }

    refused(tmp_path, craft(*edited(payload, huge)), "exact")


def test_the_configured_cap_bounds_even_a_valid_file(tmp_path, payload, monkeypatch) -> None:
    path = tmp_path / "valid.dltk"
    path.write_bytes(craft(*payload))
    monkeypatch.setattr(archive, "MAX_LOAD_BYTES", path.stat().st_size // 2)
    with pytest.raises(ValueError, match="MAX_LOAD_BYTES"):
        load_model(path)
    monkeypatch.setattr(archive, "MAX_LOAD_BYTES", 2**34)
    assert load_within_memory(path) is None


def test_valid_files_still_load(tmp_path, payload) -> None:
    """The crafting itself is sound: an unedited payload, stored or deflated, loads."""
    for compress in (False, True):
        path = tmp_path / "valid.dltk"
        path.write_bytes(craft(*payload, compress=compress))
        assert load_within_memory(path) is None
        assert read_header(path)["epochs_completed"] == 2


# ---------------------------------------------------------------------- fuzz
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.sampled_from([0, 1, -1, -3, 2, 10**6, 10**12, 2**63, 10**400])
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
DTYPES = ["<f8", "<f4", "<i8", "|b1", "<c16", "|O", "|V8", "<U3", "[('a', '<f8')]", ">f8"]


def _paths(value, prefix=()):
    """Every path into a JSON value (keys and list indices)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _set(root, path, value, delete=False):
    target = root
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value


@st.composite
def crafted_files(draw, payload):
    header, members = payload
    header = json.loads(json.dumps(header))
    members = dict(members)
    sizes = {}
    kinds = ["replace", "replace", "replace", "delete", "array", "member", "size"]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(kinds))
        if kind in ("replace", "delete"):
            # Deeper paths first: a wrong "format" or "version" is refused trivially.
            paths = sorted((p for p in _paths(header) if p), key=len, reverse=True)
            path = draw(st.sampled_from(paths))
            try:
                _set(header, path, draw(JSON_VALUES), delete=kind == "delete")
            except (KeyError, IndexError, TypeError):
                pass  # an earlier edit removed or replaced the path
        elif kind == "size":
            name = draw(st.sampled_from(["header.json", *sorted(members)]))
            sizes[name] = draw(st.sampled_from([0, 1, 100, 2**20, 2**31]))
        elif kind == "array":
            name = draw(st.sampled_from(sorted(members)))
            shape = tuple(draw(st.lists(st.sampled_from([0, 1, 3, 67, 10**6, 10**12]), max_size=3)))
            body_size = draw(st.sampled_from([0, 8, 67 * 8, 10**4]))
            members[name] = npy(shape, draw(st.sampled_from(DTYPES)), b"\1" * body_size)
        else:
            name = draw(st.sampled_from(sorted(members)))
            members[name] = draw(st.binary(max_size=200))
    compress = draw(st.booleans())
    return craft(header, members, compress=compress, sizes=sizes)


FUZZ_CASES = 500


def test_fuzzed_files_raise_only_value_or_os_errors_within_memory(tmp_path, payload) -> None:
    seen = []

    @settings(
        max_examples=FUZZ_CASES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def check(data):
        path = tmp_path / "fuzzed.dltk"
        path.write_bytes(data.draw(crafted_files(payload)))
        seen.append(load_within_memory(path))

    check()
    assert len(seen) >= FUZZ_CASES // 2
    assert sum(error is not None for error in seen) >= len(seen) // 2


# ---------------------------------------------------------------------- saving
def small_model() -> dlt.Sequential:
    return dlt.Sequential([dlt.Dense(2, 2)], seed=0)


def test_resaving_keeps_the_mode_of_the_file(tmp_path) -> None:
    path = tmp_path / "secret.dltk"
    small_model().save(path)
    os.chmod(path, 0o600)
    small_model().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o640)
    small_model().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("relative", [False, True])
def test_saving_to_a_symlink_writes_through_it(tmp_path, relative) -> None:
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "model.dltk"
    small_model().save(target)
    link = tmp_path / "latest.dltk"
    link.symlink_to(Path("store") / "model.dltk" if relative else target)
    model = small_model()
    model.set_params(np.arange(6.0))
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(
        Path("store") / "model.dltk" if relative else target
    )
    np.testing.assert_array_equal(load_model(target).params, np.arange(6.0))
    assert sorted(os.listdir(tmp_path / "store")) == ["model.dltk"]


def test_saving_to_a_dangling_symlink_creates_its_target(tmp_path) -> None:
    link = tmp_path / "link.dltk"
    link.symlink_to(tmp_path / "new.dltk")
    small_model().save(link)
    assert link.is_symlink() and (tmp_path / "new.dltk").is_file()


def test_a_symlink_loop_is_refused_naming_the_path(tmp_path) -> None:
    a, b = tmp_path / "a.dltk", tmp_path / "b.dltk"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OSError) as error:
        small_model().save(a)
    assert str(a) in str(error.value) and ".tmp" not in str(error.value)
    assert a.is_symlink() and b.is_symlink()


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        return 255


@pytest.mark.parametrize("length", [200, 236, 240, 250, 255])
def test_long_names_save_and_load(tmp_path, length) -> None:
    length = min(length, _name_max(tmp_path))
    path = tmp_path / ("m" * (length - 5) + ".dltk")
    small_model().save(path)
    small_model().save(path)  # over an existing file too
    assert os.listdir(tmp_path) == [path.name]
    assert load_model(path).num_parameters == 6


def test_a_long_name_of_multibyte_characters_saves(tmp_path) -> None:
    name = "é" * ((_name_max(tmp_path) - 5) // 2) + ".dltk"  # 2 bytes each in UTF-8
    small_model().save(tmp_path / name)
    assert os.listdir(tmp_path) == [name]


def test_a_name_too_long_is_refused_naming_the_users_path(tmp_path) -> None:
    path = tmp_path / ("m" * (_name_max(tmp_path) + 1))
    with pytest.raises(OSError) as error:
        small_model().save(path)
    assert str(path) in str(error.value) and ".tmp" not in str(error.value)
    assert os.listdir(tmp_path) == []


def test_permission_errors_name_the_users_path(tmp_path, monkeypatch) -> None:
    """As the OS reports them (simulated: the tests may run as root, who is never refused)."""
    path = tmp_path / "model.dltk"
    real_open = os.open

    def refuse(name, flags, mode=0o777, **kwargs):
        if flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", os.fspath(name))
        return real_open(name, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PermissionError) as error:
        small_model().save(path)
    assert str(path) in str(error.value) and ".tmp" not in str(error.value)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporary_files_of_an_interrupted_save_are_removed_by_the_next(tmp_path) -> None:
    path = tmp_path / "model.dltk"
    dead = _dead_pid()
    stale = tmp_path / f".model.dltk.{dead}.0123abcd.tmp"
    live = tmp_path / f".model.dltk.{os.getppid()}.0123abcd.tmp"
    other = tmp_path / f".other.dltk.{dead}.0123abcd.tmp"
    for leftover in (stale, live, other):
        leftover.write_bytes(b"partial")
    small_model().save(path)
    assert sorted(os.listdir(tmp_path)) == sorted(["model.dltk", live.name, other.name])


def test_a_killed_save_of_a_long_name_is_cleaned_up_too(tmp_path) -> None:
    """A real interrupted save: a child process killed while it writes the temporary file."""
    path = tmp_path / ("m" * (_name_max(tmp_path) - 5) + ".dltk")
    script = (
        "import os, signal, sys\n"
        "from deep_learning_toolkit import archive\n"
        "def stop(handle):\n"
        "    handle.write(b'partial'); handle.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "archive._write_atomically(archive.Path(sys.argv[1]), stop)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script, str(path)], env=env, check=False)
    leftovers = os.listdir(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp")
    small_model().save(path)
    assert os.listdir(tmp_path) == [path.name]
