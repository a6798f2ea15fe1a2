"""The model file format: one versioned, checksummed archive, written atomically.

This module knows the format, not the model: :mod:`deep_learning_toolkit.serialization` turns a
model into a header and arrays, :mod:`deep_learning_toolkit.io` saves and loads models.

A model file is a ZIP archive (stored, not compressed) with three kinds of members:

``header.json``
    ``{"format": "deep_learning_toolkit.model", "version": 1, ...}``: the architecture
    (``Sequential.config()``), the compile settings (loss name, method name or stencil
    offsets and weights, step, metrics, gradient engine, memory budget), the optimizer's
    name, hyperparameters and step count, the training progress (``epochs_completed``),
    the :class:`~deep_learning_toolkit.training.history.History` and an index of the arrays.
``arrays/<name>.npy``
    The flat parameter vector, the optimizer's state arrays and an array step, in NumPy's
    ``.npy`` format (in their own dtype: float32 for a float32 model's parameters and
    optimizer state, float64 otherwise; no pickles).
``checksum.sha256``
    The SHA-256 digest of all the other members (names, lengths and bytes, in order).

A file is written to a temporary file in the same directory, flushed and ``fsync``-ed, then
renamed over the target with :func:`os.replace` (atomic on POSIX and Windows) and the
directory is ``fsync``-ed, so a crash or ``SIGKILL`` at any moment leaves either the previous
file or the new one, never a mix. A writer killed mid-write can leave its temporary file
(``.<name>.<pid>.<random>.tmp``) beside the target; it is never read and can be deleted.

Loading checks, in this order, that the path is a file, that it is a ZIP archive of the
toolkit, that every member's CRC and the SHA-256 digest match, and that the format version
is one this code reads; anything else is a :class:`ValueError` naming the path and the
problem.

The random state
----------------
``fit`` draws nothing from a running generator: the weights come from the model's ``seed``
and the mini-batch order of epoch ``e`` depends only on ``(seed, e)``
(:func:`~deep_learning_toolkit.data.batching.minibatch_indices`). The model's ``seed`` and
``epochs_completed`` are therefore the whole random state, and a model loaded from a
checkpoint continues bit for bit with ``fit(..., initial_epoch=model.epochs_completed)``
(give ``fit`` the same ``seed`` as the interrupted run if it was given one; the saved
``history.params["seed"]`` records it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._validation import describe

#: The ``format`` field of every model file.
FORMAT = "deep_learning_toolkit.model"
#: The format version this code writes; it reads versions ``1 .. VERSION``.
VERSION = 1
#: Suggested file name suffix (not required).
SUFFIX = ".dltk"

_HEADER = "header.json"
_CHECKSUM = "checksum.sha256"
_ARRAYS = "arrays/"
_ZIP_MAGIC = b"PK\x03\x04"
#: What :mod:`zipfile` raises on a damaged archive (bad CRC, cut central directory, a
#: flipped compression method or encryption flag, undecodable names, ...).
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    struct.error,
    ValueError,
    KeyError,
    OverflowError,
    NotImplementedError,
    RuntimeError,
)

PathLike = str | os.PathLike


# ---------------------------------------------------------------------- files
def write_model_file(path: PathLike, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write ``header`` and ``arrays`` to ``path`` atomically; returns the path.

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If ``path`` is an existing directory.
    FileNotFoundError
        If the directory of ``path`` does not exist.
    """
    path = _check_path(path)
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory; give a file name to save to.")
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(path)!r}: the directory {str(directory)!r} does not exist."
        )
    _write_atomically(path, lambda handle: _write_archive(handle, header, arrays))
    return path


def read_header(path: PathLike) -> dict[str, Any]:
    """The verified JSON header of a model file (architecture, settings, progress, history).

    Cheaper than :func:`load_model` when only the metadata is wanted, e.g. to find the
    epoch a checkpoint was written at: ``read_header(path)["epochs_completed"]``.
    """
    return read_model_file(path)[1]


def read_model_file(path: object) -> tuple[Path, dict[str, Any], dict[str, np.ndarray]]:
    """The path, verified header and arrays of a model file."""
    path = _check_path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model file at {str(path)!r}.")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not a model file.")
    header, arrays = _read_archive(path.read_bytes(), str(path))
    return path, header, arrays


# ---------------------------------------------------------------------- archive
def _check_path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"path must be a non-empty file path; got {describe(path)}.")
    return Path(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"cannot write {describe(value)} into a model file header")


def _update_digest(digest: Any, name: str, data: bytes) -> None:
    """Feed one member (name, length, bytes) to the SHA-256 of the payload."""
    encoded = name.encode()
    digest.update(struct.pack("<Q", len(encoded)) + encoded)
    digest.update(struct.pack("<Q", len(data)))
    digest.update(data)


def _digest(members: list[tuple[str, bytes]]) -> str:
    """SHA-256 over the members' names, lengths and bytes, in order."""
    digest = hashlib.sha256()
    for name, data in members:
        _update_digest(digest, name, data)
    return digest.hexdigest()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _write_archive(handle: BinaryIO, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write the archive to ``handle``, one member at a time (one array copy in memory)."""
    text = json.dumps(header, indent=1, default=_json_default)
    digest = hashlib.sha256()
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:

        def add(name: str, data: bytes) -> None:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)

        add(_HEADER, text.encode())
        _update_digest(digest, _HEADER, text.encode())
        for key, value in arrays.items():
            name, data = f"{_ARRAYS}{key}.npy", _npy_bytes(value)
            add(name, data)
            _update_digest(digest, name, data)
        add(_CHECKSUM, (digest.hexdigest() + "\n").encode())


def _archive_bytes(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of a model file (what :func:`save_model` writes)."""
    buffer = io.BytesIO()
    _write_archive(buffer, header, arrays)
    return buffer.getvalue()


def _read_archive(data: bytes, where: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Verify and unpack a model file's bytes; ``where`` names the file in errors."""
    if not data:
        raise ValueError(f"{where!r} is empty; it is not a {FORMAT} file (or it was truncated).")
    if not data.startswith(_ZIP_MAGIC):
        raise ValueError(
            f"{where!r} is not a {FORMAT} file (it does not start like one: first bytes "
            f"{data[:8]!r}); save models with model.save(path)."
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if _HEADER not in names:
                raise _Foreign(f"a ZIP archive without {_HEADER}")
            if _CHECKSUM not in names:
                raise _Broken(f"{_CHECKSUM} is missing")
            members = [(name, archive.read(name)) for name in names if name != _CHECKSUM]
            expected = archive.read(_CHECKSUM).decode("ascii").strip()
    except (_Foreign, _Broken) as problem:
        raise problem.as_error(where) from None
    except _ARCHIVE_ERRORS as error:
        raise ValueError(
            f"{where!r} is truncated or corrupted: it cannot be read as an archive ({error})."
        ) from None
    if _digest(members) != expected:
        raise ValueError(
            f"{where!r} is corrupted: its SHA-256 checksum does not match its contents."
        )
    contents = dict(members)
    try:
        header = json.loads(contents[_HEADER].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{where!r} has an unreadable header ({error}).") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise ValueError(f"{where!r} is not a {FORMAT} file (its format field is {found!r}).")
    version = header.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ValueError(
            f"{where!r} has format version {version!r}; this toolkit reads versions 1 to "
            f"{VERSION}. Upgrade deep_learning_toolkit to load it."
        )
    arrays = {}
    try:
        for name, spec in header["arrays"].items():
            member = f"{_ARRAYS}{name}.npy"
            array = np.lib.format.read_array(io.BytesIO(contents[member]), allow_pickle=False)
            if array.dtype.str != spec["dtype"] or list(array.shape) != list(spec["shape"]):
                raise ValueError(f"array {name!r} does not match its description")
            arrays[name] = array
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{where!r} has invalid arrays ({error}).") from None
    return header, arrays


class _Foreign(Exception):
    def as_error(self, where: str) -> ValueError:
        return ValueError(f"{where!r} is not a {FORMAT} file: it is {self}.")


class _Broken(Exception):
    def as_error(self, where: str) -> ValueError:
        return ValueError(f"{where!r} is truncated or corrupted: {self}.")


def _write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Replace ``path`` by what ``write`` writes; a crash leaves the old or the new file."""
    directory = path.parent
    temporary = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # O_EXCL: never follow or reuse another file; mode 0o666 lets the umask apply as usual.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
