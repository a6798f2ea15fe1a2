"""Saving and loading models (the file format itself: :mod:`deep_learning_toolkit.archive`).

A model file holds the architecture (each layer's config), the parameters, the layers'
non-parameter state, the compile settings, the optimizer with its state, the training
progress (``epochs_completed``) and the history. ``load_model`` rebuilds a model that
continues training bit for bit with ``fit(..., initial_epoch=model.epochs_completed)``:
``fit`` draws nothing from a running generator (weights come from the model's ``seed``, the
batches of epoch ``e`` from ``(seed, e)``), so the seed and the progress are the whole
random state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._validation import describe
from .archive import (  # noqa: F401  (re-exported: the format's public names)
    FORMAT,
    SUFFIX,
    VERSION,
    PathLike,
    _archive_bytes,
    _read_archive,
    read_header,
    read_model_file,
)
from .model import Sequential
from .nn.layer import Layer
from .serialization import ModelParts, model_parts


def save_model(model: Sequential, path: PathLike) -> Path:
    """Write ``model`` to ``path`` atomically; the same as ``model.save(path)``.

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
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a Sequential; got {describe(model)}.")
    return model.save(path)


def load_model(path: PathLike, custom_layers: dict[str, type[Layer]] | None = None) -> Sequential:
    """Rebuild a model saved with :func:`save_model` or ``Sequential.save``.

    Parameters
    ----------
    path : str or path-like
    custom_layers : dict, optional
        ``{"ClassName": cls}`` for user-defined layers that were not registered with
        :func:`~deep_learning_toolkit.register_layer`.

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
    path, header, arrays = read_model_file(path)
    try:
        return _assemble(model_parts(header, arrays, custom_layers))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ValueError(
            f"{str(path)!r} is a {FORMAT} file whose contents are invalid ({error}); it was "
            "not written by this version of the toolkit or was edited."
        ) from None


def _assemble(parts: ModelParts) -> Sequential:
    """A model from what :func:`~deep_learning_toolkit.serialization.model_parts` read."""
    model = Sequential(
        parts.layers, seed=parts.seed, input_shape=parts.input_shape, dtype=parts.dtype
    )
    model.set_params(parts.params)
    if parts.compile is not None:
        model.compile(**parts.compile)
    model.epochs_completed = parts.epochs_completed
    model.step_pilot = parts.step_pilot
    model.batches_completed = parts.batches_completed
    model.history = parts.history
    return model


__all__: list[Any] = ["FORMAT", "SUFFIX", "VERSION", "load_model", "read_header", "save_model"]
