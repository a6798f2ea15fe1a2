"""Argument and input checks shared by the built-in layers; every message names the layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._validation import check_float, check_int, describe


def layer_argument(layer: str, check: Callable[..., Any], name: str, value: Any, **kw: Any) -> Any:
    """``check(name, value, **kw)`` with the layer's name put in front of its message."""
    try:
        return check(name, value, **kw)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{layer}: {error}") from None


def positive_int(layer: str, name: str, value: Any) -> int:
    """``value`` as an int >= 1 (``TypeError``/``ValueError`` naming the layer otherwise)."""
    return layer_argument(layer, check_int, name, value, minimum=1)


def real_in(layer: str, name: str, value: Any, **bounds: Any) -> float:
    """``value`` as a finite float within ``bounds`` (keywords of ``check_float``)."""
    return layer_argument(layer, check_float, name, value, **bounds)


def sizes(layer: str, name: str, value: Any, dims: int) -> tuple[int, ...]:
    """``value`` (an int, or ``dims`` ints) as a tuple of ``dims`` ints >= 1."""
    if isinstance(value, (list, tuple)):
        if len(value) != dims:
            raise ValueError(
                f"{layer}: {name} must be an integer or {dims} integers; got {describe(value)}."
            )
        return tuple(positive_int(layer, name, v) for v in value)
    return (positive_int(layer, name, value),) * dims


def sample_shape_error(layer: object, expected: str, received: tuple) -> ValueError:
    """The error for samples of the wrong shape: the layer, what it expects, what it got."""
    return ValueError(
        f"{layer!r} expects samples of shape {expected}; got samples of shape {tuple(received)}."
    )
