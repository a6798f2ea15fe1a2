"""Saving and loading models: one versioned, checksummed file, written atomically.

A model file is a ZIP archive (stored, not compressed) with three kinds of members:

``header.json``
    ``{"format": "deep_learning_toolkit.model", "version": 1, ...}``: the architecture
    (``Sequential.config()``), the compile settings (loss name, method name or stencil
    offsets and weights, step, metrics, gradient engine, memory budget), the optimizer's
    name, hyperparameters and step count, the training progress (``epochs_completed``),
    the :class:`~deep_learning_toolkit.training.history.History` and an index of the arrays.
``arrays/<name>.npy``
    The flat parameter vector, the optimizer's state arrays and an array step, in NumPy's
    ``.npy`` format (float64, no pickles).
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

import dataclasses
import hashlib
import io
import json
import os
import secrets
import struct
import zipfile
import zlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ._validation import describe

if TYPE_CHECKING:
    from .nn.model import Sequential

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


# ---------------------------------------------------------------------- public functions
def save_model(model: Sequential, path: PathLike) -> Path:
    """Write ``model`` to ``path`` atomically (see the module notes for the format).

    Parameters
    ----------
    model : Sequential
        Compiled or not; a compiled model keeps its loss, method, step, metrics and its
        optimizer with the optimizer's state, so that training resumes exactly.
    path : str or path-like
        The file to write (suffix ``.dltk`` suggested); replaced if it exists. Its directory
        must exist.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    TypeError
        If ``model`` is not a Sequential, ``path`` is not a path, or the model was compiled
        with a custom loss or method that cannot be written.
    ValueError
        If ``path`` is an existing directory.
    FileNotFoundError
        If the directory of ``path`` does not exist.
    """
    from .nn.model import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a Sequential; got {describe(model)}.")
    path = _check_path(path)
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory; give a file name to save to.")
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(path)!r}: the directory {str(directory)!r} does not exist."
        )
    header, arrays = _model_to_payload(model)
    _write_atomically(path, lambda handle: _write_archive(handle, header, arrays))
    return path


def load_model(path: PathLike) -> Sequential:
    """Rebuild a model saved with :func:`save_model` or ``Sequential.save``.

    The model comes back with its parameters, its ``epochs_completed`` and ``history`` and,
    if it was compiled, compiled again with the same settings and an optimizer holding the
    saved state: ``fit(X, y, initial_epoch=model.epochs_completed, epochs=...)`` continues
    the run bit for bit.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is a directory, or not a model file of this toolkit (a foreign file, a
        truncated or corrupted one, a newer format version); the message names the path.
    TypeError
        If ``path`` is not a path.
    """
    path, header, arrays = _read_model_file(path)
    try:
        return _model_from_payload(header, arrays)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ValueError(
            f"{str(path)!r} is a {FORMAT} file whose contents are invalid ({error}); it was "
            "not written by this version of the toolkit or was edited."
        ) from None


def read_header(path: PathLike) -> dict[str, Any]:
    """The verified JSON header of a model file (architecture, settings, progress, history).

    Cheaper than :func:`load_model` when only the metadata is wanted, e.g. to find the
    epoch a checkpoint was written at: ``read_header(path)["epochs_completed"]``.
    """
    return _read_model_file(path)[1]


def _read_model_file(path: object) -> tuple[Path, dict[str, Any], dict[str, np.ndarray]]:
    """The path, verified header and arrays of a model file."""
    path = _check_path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model file at {str(path)!r}.")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not a model file.")
    header, arrays = _read_archive(path.read_bytes(), str(path))
    return path, header, arrays


# ---------------------------------------------------------------------- model <-> payload
def _model_to_payload(model: Sequential) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {"params": model.params}
    compiled = None
    optimizer = None
    if model.loss is not None:
        compiled = {
            "loss": _loss_name(model.loss),
            "method": _method_to_json(model.stencil),
            "step": _step_to_json(model.step, arrays),
            "metrics": list(model.metrics),
            "gradient_engine": model.gradient_engine,
            "memory_budget": int(model.memory_budget),
        }
        state = model.optimizer.state_dict()
        optimizer = {
            "name": state["optimizer"],
            "hyperparameters": state["hyperparameters"],
            "step": int(state["step"]),
            "shape": None if state["shape"] is None else list(state["shape"]),
            "state": sorted(state["state"]),
        }
        for key, value in state["state"].items():
            arrays[f"optimizer.{key}"] = value
    history = getattr(model, "history", None)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "library_version": _library_version(),
        "architecture": model.config(),
        "epochs_completed": int(getattr(model, "epochs_completed", 0)),
        "compile": compiled,
        "optimizer": optimizer,
        "history": None if history is None else history.to_dict(),
        "arrays": {
            name: {"dtype": value.dtype.str, "shape": list(value.shape)}
            for name, value in arrays.items()
        },
    }
    return header, arrays


def _model_from_payload(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Sequential:
    from .nn.layers import layer_from_config
    from .nn.model import Sequential
    from .optim import OPTIMIZERS
    from .training.history import History

    architecture = header["architecture"]
    layers = [layer_from_config(dict(config)) for config in architecture["layers"]]
    model = Sequential(layers, seed=architecture["seed"])
    model.set_params(arrays["params"])
    compiled = header.get("compile")
    if compiled is not None:
        spec = header["optimizer"]
        name = spec["name"]
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; known ones are {sorted(OPTIMIZERS)}")
        optimizer = OPTIMIZERS[name]()
        optimizer.load_state_dict(
            {
                "optimizer": name,
                "hyperparameters": spec["hyperparameters"],
                "step": spec["step"],
                "shape": spec["shape"],
                "state": {key: arrays[f"optimizer.{key}"] for key in spec["state"]},
            }
        )
        model.compile(
            loss=compiled["loss"],
            optimizer=optimizer,
            method=_method_from_json(compiled["method"]),
            step=_step_from_json(compiled["step"], arrays),
            metrics=compiled["metrics"],
            gradient_engine=compiled["gradient_engine"],
            memory_budget=compiled["memory_budget"],
        )
    model.epochs_completed = int(header["epochs_completed"])
    if header.get("history") is not None:
        model.history = History.from_dict(header["history"])
    return model


def _loss_name(loss: Any) -> str:
    from .nn.losses import LOSSES

    if LOSSES.get(loss.name) is not type(loss):
        raise TypeError(
            f"Cannot save a model compiled with the custom loss {describe(loss)}; only the "
            f"built-in losses {list(LOSSES)} can be saved."
        )
    return loss.name


def _method_to_json(method: Any) -> dict[str, Any]:
    from .numdiff.stencils import COMPLEX_STEP, STENCILS, ComplexStep, Stencil
    from .numdiff.zeroth_order import ZerothOrder

    if isinstance(method, Stencil):
        if STENCILS.get(method.name) == method:
            return {"name": method.name}
        row: dict[str, Any] = {
            "name": method.name,
            "offsets": list(method.offsets),
            "weights": list(method.weights),
            "order": method.order,
            "default_step": method.default_step,
        }
        if method.exact is not None:
            row["exact"] = _formula_to_json(method.exact)
        return {"stencil": row}
    if isinstance(method, ComplexStep):
        if method == COMPLEX_STEP:
            return {"name": method.name}
        return {"complex_step": dataclasses.asdict(method)}
    if isinstance(method, ZerothOrder):
        return {"zeroth_order": method.config()}
    raise TypeError(f"Cannot save a model compiled with the method {describe(method)}.")


def _method_from_json(spec: dict[str, Any]) -> Any:
    from .numdiff.stencils import ComplexStep, Stencil, get_method
    from .numdiff.zeroth_order import ZerothOrder

    if "name" in spec:
        return get_method(spec["name"])
    if "stencil" in spec:
        row = spec["stencil"]
        exact = _formula_from_json(row["exact"]) if "exact" in row else None
        return Stencil(
            row["name"],
            tuple(float(o) for o in row["offsets"]),
            tuple(float(w) for w in row["weights"]),
            int(row["order"]),
            float(row["default_step"]),
            exact,
        )
    if "complex_step" in spec:
        return ComplexStep(**spec["complex_step"])
    if "zeroth_order" in spec:
        return ZerothOrder(**spec["zeroth_order"])
    raise ValueError(f"unknown method description {spec!r}")


def _formula_to_json(formula: Any) -> dict[str, Any]:
    return {
        "offsets": [str(o) for o in formula.offsets],
        "weights": [str(w) for w in formula.weights],
        "derivative": formula.derivative,
        "order": formula.order,
        "error_terms": [[power, str(c)] for power, c in formula.error_terms],
    }


def _formula_from_json(spec: dict[str, Any]) -> Any:
    from .numdiff.fornberg import Formula

    return Formula(
        tuple(Fraction(o) for o in spec["offsets"]),
        tuple(Fraction(w) for w in spec["weights"]),
        int(spec["derivative"]),
        int(spec["order"]),
        tuple((int(power), Fraction(c)) for power, c in spec["error_terms"]),
    )


def _step_to_json(step: Any, arrays: dict[str, np.ndarray]) -> Any:
    if step is None:
        return None
    if isinstance(step, (int, float, np.integer, np.floating)) and not isinstance(step, bool):
        return {"scalar": float(step)}
    arrays["step"] = np.asarray(step, dtype=np.float64)
    return {"array": "step"}


def _step_from_json(spec: Any, arrays: dict[str, np.ndarray]) -> Any:
    if spec is None:
        return None
    if "scalar" in spec:
        return float(spec["scalar"])
    return arrays[spec["array"]]


def _library_version() -> str:
    from . import __version__

    return __version__


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
