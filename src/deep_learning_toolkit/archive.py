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
(``.<name>.<pid>.<random>.tmp``, the name shortened to fit ``NAME_MAX``) beside the target;
it is never read, and the next save of the same file deletes it once that process is gone.
The replaced file's permission bits are kept (a ``0600`` file stays private), and saving
to a symbolic link replaces the file it points to, not the link.

Loading checks, in this order, that the path is a file, that it is a ZIP archive of the
toolkit, that every member's CRC and the SHA-256 digest match, and that the format version
is one this code reads; anything else is a :class:`ValueError` naming the path and the
problem.

Crafted files
-------------
The checksum detects damage, not intent: anyone can edit a file and recompute it. So every
size is bounded before anything is allocated, and the header is checked against its schema
(:mod:`deep_learning_toolkit.header_schema`) before anything is built from it:

* the members together may decompress to at most :data:`MAX_EXPANSION` times the file's
  size, and never more than :data:`MAX_LOAD_BYTES` (the configured cap; raise it to load
  larger models). Each member's size is checked in the central directory before it is read,
  and counted while it is inflated (in chunks), so a member that lies about its size is
  stopped at the limit. Only stored and deflated members are read;
* each array's ``.npy`` header is read first: its shape and dtype (plain numbers only) must
  account for exactly the bytes that follow;
* the header's nesting depth and integers are bounded, and its fields have the types and
  ranges the loader expects; layers are rebuilt under a budget of as many parameters as the
  file holds (:func:`~deep_learning_toolkit.nn.layer.parameter_budget`).

Loading a file of ``n`` bytes therefore needs memory of a small multiple of ``n`` (the bytes,
the inflated members, the arrays, the parsed header), plus a fixed amount.

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

import errno
import hashlib
import io
import json
import math
import os
import re
import secrets
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._validation import describe
from .header_schema import check_header

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
#: The members of a file may decompress to at most this many times the file's size in all
#: (the toolkit stores members uncompressed: a ratio of 1; raise it to read a model file
#: that an archiver recompressed better than that).
MAX_EXPANSION = 2
#: The configured cap: the most bytes the members of any model file may decompress to.
MAX_LOAD_BYTES = 2**34
#: Bytes inflated at a time while reading a member.
_READ_CHUNK = 2**16
#: Array element kinds a model file may hold: booleans, integers, floats, complex numbers.
_ARRAY_KINDS = "biufc"
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

    An existing file keeps its permission bits. A symbolic link is written through: the file
    it points to is replaced atomically and the link stays (a dangling link gets its target
    created). Names up to the file system's ``NAME_MAX`` work (the temporary file's name is
    shortened to fit).

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If ``path`` is an existing directory.
    FileNotFoundError
        If the directory of ``path`` does not exist.
    OSError
        From the file system (permission denied, disk full, name too long, a loop of
        links), naming ``path``, never the temporary file.
    """
    path = _check_path(path)
    target = _resolve_link(path)
    if target.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory; give a file name to save to.")
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(path)!r}: the directory {str(directory)!r} does not exist."
        )
    _write_atomically(target, lambda handle: _write_archive(handle, header, arrays), path)
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


def _update_digest(digest: Any, name: str, data: bytes | bytearray) -> None:
    """Feed one member (name, length, bytes) to the SHA-256 of the payload."""
    encoded = name.encode()
    digest.update(struct.pack("<Q", len(encoded)) + encoded)
    digest.update(struct.pack("<Q", len(data)))
    digest.update(data)


def _digest(members: list[tuple[str, bytes | bytearray]]) -> str:
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
        contents, expected = _read_members(data)
    except (_Foreign, _Broken) as problem:
        raise problem.as_error(where) from None
    except _ARCHIVE_ERRORS as error:
        raise ValueError(
            f"{where!r} is truncated or corrupted: it cannot be read as an archive ({error})."
        ) from None
    if _digest(list(contents.items())) != expected:
        raise ValueError(
            f"{where!r} is corrupted: its SHA-256 checksum does not match its contents."
        )
    header = _parse_header(contents[_HEADER], where)
    arrays = {}
    for name, spec in header["arrays"].items():
        member = f"{_ARRAYS}{name}.npy"
        try:
            if member not in contents:
                raise ValueError(f"member {member!r} is missing")
            array = _npy_array(contents[member])
            if array.dtype.str != spec["dtype"] or list(array.shape) != spec["shape"]:
                raise ValueError("it does not match its description in the header")
        except ValueError as error:
            raise ValueError(f"{where!r} has invalid arrays (array {name!r}: {error}).") from None
        arrays[name] = array
    return header, arrays


def _read_members(data: bytes) -> tuple[dict[str, bytearray], str]:
    """The members (but the checksum) by name, and the recorded checksum.

    The members may decompress to ``min(MAX_EXPANSION * len(data), MAX_LOAD_BYTES)`` bytes
    in all: declared sizes are checked before reading, and inflating stops at them.
    """
    budget = min(MAX_EXPANSION * len(data), MAX_LOAD_BYTES)
    contents: dict[str, bytearray] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if _HEADER not in names:
            raise _Foreign(f"a ZIP archive without {_HEADER}")
        if _CHECKSUM not in names:
            raise _Broken(f"{_CHECKSUM} is missing")
        declared = sum(info.file_size for info in infos)
        if declared > budget:
            raise _Broken(
                f"its members would decompress to {declared} bytes, more than this file of "
                f"{len(data)} bytes may hold ({budget} bytes: {MAX_EXPANSION} times its size, "
                f"at most archive.MAX_LOAD_BYTES = {MAX_LOAD_BYTES})"
            )
        for info in infos:
            content = _read_member(archive, info)
            if info.filename != _CHECKSUM:
                contents[info.filename] = content
        expected = bytes(_read_member(archive, archive.getinfo(_CHECKSUM)))
    return contents, expected.decode("ascii").strip()


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytearray:
    """One member's bytes, inflated a chunk at a time up to its declared size."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Broken(
            f"member {info.filename!r} uses compression method {info.compress_type}; model "
            "files hold stored (or deflated) members only"
        )
    buffer = bytearray(info.file_size)
    view = memoryview(buffer)
    filled = 0
    with archive.open(info) as handle:
        while filled < info.file_size:
            chunk = handle.read(min(_READ_CHUNK, info.file_size - filled))
            if not chunk:
                break
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        if filled < info.file_size or handle.read(1):
            raise _Broken(f"member {info.filename!r} does not hold its declared size")
    view.release()
    return buffer


def _parse_header(raw: bytearray, where: str) -> dict[str, Any]:
    """The JSON header, checked against :mod:`~deep_learning_toolkit.header_schema`."""
    try:
        header = json.loads(bytes(raw).decode())
    except RecursionError:
        raise ValueError(f"{where!r} has an unreadable header (nested too deeply).") from None
    except ValueError as error:  # not UTF-8, not JSON, an integer of too many digits
        raise ValueError(f"{where!r} has an unreadable header ({error}).") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise ValueError(f"{where!r} is not a {FORMAT} file (its format field is {found!r}).")
    version = header.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ValueError(
            f"{where!r} has format version {version!r}; this toolkit reads versions 1 to "
            f"{VERSION}. Upgrade deep_learning_toolkit to load it."
        )
    try:
        check_header(header)
    except ValueError as error:
        raise ValueError(f"{where!r} has an invalid header: {error}.") from None
    return header


#: Bytes that hold a ``.npy`` preamble: magic, version, length and NumPy's largest header.
_NPY_PREAMBLE = 12 + 10_000


def _npy_array(raw: bytearray) -> np.ndarray:
    """An array from ``.npy`` bytes whose header is checked before any allocation."""
    handle = io.BytesIO(bytes(raw[:_NPY_PREAMBLE]))
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f".npy version {version} is not read")
    except (ValueError, TypeError, SyntaxError, OverflowError) as error:
        raise ValueError(f"unreadable .npy header ({error})") from None
    if dtype.hasobject or dtype.kind not in _ARRAY_KINDS or dtype.fields or dtype.subdtype:
        raise ValueError(f"dtype {dtype.str!r} is not a plain number type")
    if any(size < 0 for size in shape):
        raise ValueError(f"shape {shape} has a negative size")
    count = math.prod(shape)
    body = memoryview(raw)[handle.tell() :]
    if len(body) != count * dtype.itemsize:
        raise ValueError(
            f"its header declares shape {shape} of {dtype.str} ({count * dtype.itemsize} "
            f"bytes) but {len(body)} bytes of data follow"
        )
    array = np.frombuffer(body, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C").copy()


class _Foreign(Exception):
    def as_error(self, where: str) -> ValueError:
        return ValueError(f"{where!r} is not a {FORMAT} file: it is {self}.")


class _Broken(Exception):
    def as_error(self, where: str) -> ValueError:
        return ValueError(f"{where!r} is truncated or corrupted: {self}.")


def _write_atomically(
    path: Path, write: Callable[[BinaryIO], None], shown: Path | None = None
) -> None:
    """Replace ``path`` by what ``write`` writes; a crash leaves the old or the new file.

    The new file keeps the permission bits of the file it replaces. Temporary files that an
    interrupted save of ``path`` left (their process is gone) are deleted first. An
    ``OSError`` names ``shown`` (the user's path; default ``path``), never the temporary file.
    """
    shown = path if shown is None else shown
    directory = path.parent
    try:
        _remove_stale_temporaries(path)
        mode = _permissions(path)
        temporary = directory / (
            f".{_temporary_stem(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        )
        # O_EXCL: never follow or reuse another file. A new file: mode 0o666 lets the umask
        # apply as usual; a replacement: private until it has the replaced file's mode.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        descriptor = os.open(temporary, flags, 0o666 if mode is None else 0o600)
    except OSError as error:
        raise _naming(error, shown, path) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_directory(directory)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _naming(error, shown, path) from None
        raise


def _resolve_link(path: Path) -> Path:
    """The file a symbolic link ``path`` points to (through any chain), else ``path``."""
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if target.is_symlink():  # realpath stops at a link it cannot resolve: a loop
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
    return target


def _naming(error: OSError, shown: Path, target: Path) -> OSError:
    """``error`` again (same errno and class), naming the user's path ``shown``."""
    if error.errno is None:
        return error
    reason = error.strerror or str(error)
    if target != shown:
        reason += f" (saving through the link to {str(target)!r})"
    return OSError(error.errno, reason, str(shown))


def _permissions(path: Path) -> int | None:
    """Permission bits of the existing file ``path``, or ``None`` if there is none."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777
    except FileNotFoundError:
        return None


#: ``.<stem>.<pid>.<8 hex digits>.tmp``: a temporary file of a save in progress (or killed).
_TEMPORARY = re.compile(r"\.(?P<stem>.+)\.(?P<pid>[0-9]{1,10})\.[0-9a-f]{8}\.tmp", re.DOTALL)
#: Bytes a temporary name adds to its stem: two dots, a pid of up to 10 digits, ".<hex>.tmp".
_TEMPORARY_EXTRA = 2 + 10 + 9 + 4


def _temporary_stem(path: Path) -> str:
    """``path``'s name, shortened so that its temporary file's name fits ``NAME_MAX``."""
    try:
        name_max = os.pathconf(path.parent, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        name_max = 255
    limit = max(1, name_max - _TEMPORARY_EXTRA)
    stem = path.name[:limit]
    while len(os.fsencode(stem)) > limit:
        stem = stem[:-1]
    return stem


def _remove_stale_temporaries(path: Path) -> None:
    """Delete what killed saves of ``path`` left beside it: temporary files whose writing
    process no longer runs (best effort; POSIX only, where a pid can be probed)."""
    if os.name != "posix":
        return
    stem = _temporary_stem(path)
    try:
        with os.scandir(path.parent) as entries:
            for entry in entries:
                match = _TEMPORARY.fullmatch(entry.name)
                if match is None or match["stem"] != stem or _process_runs(int(match["pid"])):
                    continue
                if entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
    except OSError:
        pass  # an unreadable directory, or another save removed the file first


def _process_runs(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # another user's process (EPERM), or a pid the system cannot have
    return True


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
