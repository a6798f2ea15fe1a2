"""The schema of a model file's JSON header: types and ranges of every field the loader uses.

A model file's checksum detects damage, not intent: a file can be edited and re-checksummed.
:func:`check_header` therefore checks the parsed header before anything is built from it, so
that a crafted header is refused with a :class:`ValueError` naming the field, never an
``AttributeError`` deep inside, a negative epoch count or a ``True`` version, and so that
no size in it can ask for more memory than the file holds (see :mod:`.archive`).

Fields the loader does not read are not checked (later versions of format 1 may add some).
"""

from __future__ import annotations

import math
import re
from typing import Any

#: Deepest nesting of lists and objects a header may have (the toolkit writes about 6).
MAX_HEADER_DEPTH = 32
#: Largest integer a header may hold (int64: sizes, counts, seeds).
MAX_HEADER_INT = 2**63 - 1
#: Most values of one input sample a saved ``input_shape`` may declare (shape inference may
#: run a layer on one zero sample of that shape).
MAX_SAMPLE_VALUES = 2**24
#: Most points of a saved stencil.
MAX_STENCIL_POINTS = 128
#: Most truncation terms of a saved exact formula.
MAX_ERROR_TERMS = 16
#: An exact rational of a saved formula: ``p`` or ``p/q`` with at most 200 digits each.
RATIONAL = re.compile(r"-?[0-9]{1,200}(/0*[1-9][0-9]{0,199})?")


class HeaderError(ValueError):
    """A header field of the wrong type or out of range."""


def _fail(path: str, expected: str, value: Any) -> HeaderError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return HeaderError(f"header field {path!r} must be {expected}; got {shown}")


def _is_int(value: Any, minimum: int | None = None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (minimum is None or value >= minimum)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _get(parent: dict[str, Any], key: str, path: str, kind: str, optional: bool = False) -> Any:
    """``parent[key]`` checked to be ``kind`` (dict, list, str, int>=0, int>=1, number)."""
    where = f"{path}.{key}" if path else key
    if key not in parent:
        if optional:
            return None
        raise HeaderError(f"header field {where!r} is missing")
    value = parent[key]
    if optional and value is None:
        return None
    checks = {
        "object": (lambda v: isinstance(v, dict), "an object"),
        "list": (lambda v: isinstance(v, list), "a list"),
        "str": (lambda v: isinstance(v, str), "a string"),
        "int>=0": (lambda v: _is_int(v, 0), "an integer >= 0"),
        "int>=1": (lambda v: _is_int(v, 1), "an integer >= 1"),
        "number": (_is_number, "a number"),
    }
    test, expected = checks[kind]
    if not test(value):
        raise _fail(where, expected, value)
    return value


def _list_of(values: list[Any], path: str, test: Any, expected: str) -> None:
    for index, value in enumerate(values):
        if not test(value):
            raise _fail(f"{path}[{index}]", expected, value)


def check_tree(header: Any) -> None:
    """Refuse nesting deeper than :data:`MAX_HEADER_DEPTH` and integers beyond int64
    (iteratively: no recursion, whatever the input)."""
    stack: list[tuple[Any, int, str]] = [(header, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_HEADER_DEPTH:
                raise HeaderError(
                    f"the header is nested more than {MAX_HEADER_DEPTH} levels deep (at {path!r})"
                )
            if isinstance(value, dict):
                stack.extend((item, depth + 1, f"{path}.{key}") for key, item in value.items())
            else:
                stack.extend((item, depth + 1, f"{path}[{i}]") for i, item in enumerate(value))
        elif _is_int(value) and abs(value) > MAX_HEADER_INT:
            raise HeaderError(
                f"header field {path.lstrip('.')!r} holds an integer of "
                f"{len(str(abs(value)))} digits, beyond int64"
            )


def check_header(header: dict[str, Any]) -> None:
    """Check every field the loader reads; raises :class:`HeaderError` (a ``ValueError``)."""
    check_tree(header)
    _get(header, "library_version", "", "str", optional=True)
    _check_architecture(_get(header, "architecture", "", "object"))
    _get(header, "epochs_completed", "", "int>=0")
    compiled = _get(header, "compile", "", "object", optional=True)
    optimizer = _get(header, "optimizer", "", "object", optional=True)
    if compiled is not None:
        _check_compile(compiled)
        if optimizer is None:
            raise HeaderError("header field 'optimizer' is missing for a compiled model")
    if optimizer is not None:
        _check_optimizer(optimizer)
    pilot = _get(header, "step_pilot", "", "object", optional=True)
    if pilot is not None:  # the pilot steps training goes on with (gradients.steps)
        _get(pilot, "method", "step_pilot", "str")
        _get(pilot, "age", "step_pilot", "int>=0")
        _get(pilot, "relative", "step_pilot", "str")
    history = _get(header, "history", "", "object", optional=True)
    if history is not None:
        _check_history(history)
    _check_arrays(_get(header, "arrays", "", "object"))


def _check_architecture(architecture: dict[str, Any]) -> None:
    layers = _get(architecture, "layers", "architecture", "list")
    if not layers:
        raise _fail("architecture.layers", "a non-empty list", layers)
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise _fail(f"architecture.layers[{index}]", "an object with a 'type'", layer)
    _get(architecture, "seed", "architecture", "int>=0")
    shape = _get(architecture, "input_shape", "architecture", "list", optional=True)
    if shape is not None:
        path = "architecture.input_shape"
        _list_of(shape, path, lambda s: s is None or _is_int(s, 1), "sizes >= 1 or null")
        values = math.prod(s for s in shape if s is not None)
        if values > MAX_SAMPLE_VALUES:
            raise _fail(path, f"a shape of at most {MAX_SAMPLE_VALUES} values", shape)


def _check_compile(compiled: dict[str, Any]) -> None:
    for key in ("loss", "gradient_engine"):
        _get(compiled, key, "compile", "str")
    _check_method(_get(compiled, "method", "compile", "object"))
    step = _get(compiled, "step", "compile", "object", optional=True)
    if step is not None:
        if "scalar" in step:
            _get(step, "scalar", "compile.step", "number")
        elif "rule" in step:  # "pilot" or "classic" (gradients.steps)
            _get(step, "rule", "compile.step", "str")
        else:
            _get(step, "array", "compile.step", "str")
    metrics = _get(compiled, "metrics", "compile", "list")
    _list_of(metrics, "compile.metrics", lambda m: isinstance(m, str), "a metric name")
    _get(compiled, "memory_budget", "compile", "int>=1")


def _check_method(method: dict[str, Any]) -> None:
    kinds = [key for key in ("name", "stencil", "complex_step", "zeroth_order") if key in method]
    if len(kinds) != 1:
        raise _fail("compile.method", "one of name, stencil, complex_step, zeroth_order", method)
    kind = kinds[0]
    _get(method, kind, "compile.method", "str" if kind == "name" else "object")
    if kind == "stencil":
        _check_stencil(method["stencil"])


def _check_stencil(row: dict[str, Any]) -> None:
    path = "compile.method.stencil"
    _get(row, "name", path, "str")
    offsets = _get(row, "offsets", path, "list")
    weights = _get(row, "weights", path, "list")
    for key, values in (("offsets", offsets), ("weights", weights)):
        if not 1 <= len(values) <= MAX_STENCIL_POINTS:
            raise _fail(f"{path}.{key}", f"1 to {MAX_STENCIL_POINTS} numbers", values)
        _list_of(values, f"{path}.{key}", _is_number, "a number")
    order = _get(row, "order", path, "int>=1")
    if order > len(offsets) + 1:
        raise _fail(f"{path}.order", f"at most {len(offsets) + 1} for {len(offsets)} points", order)
    _get(row, "default_step", path, "number")
    exact = _get(row, "exact", path, "object", optional=True)
    if exact is not None:
        _check_formula(exact, f"{path}.exact", len(offsets))


def _check_formula(formula: dict[str, Any], path: str, points: int) -> None:
    def rational(value: Any) -> bool:
        return isinstance(value, str) and RATIONAL.fullmatch(value) is not None

    for key in ("offsets", "weights"):
        values = _get(formula, key, path, "list")
        if len(values) != points:
            raise _fail(f"{path}.{key}", f"{points} rationals (one per offset)", values)
        _list_of(values, f"{path}.{key}", rational, "a rational 'p' or 'p/q'")
    if formula.get("derivative") != 1 or isinstance(formula.get("derivative"), bool):
        raise _fail(
            f"{path}.derivative", "1 (a stencil approximates f')", formula.get("derivative")
        )
    _get(formula, "order", path, "int>=1")
    terms = _get(formula, "error_terms", path, "list")
    if not 1 <= len(terms) <= MAX_ERROR_TERMS:
        raise _fail(f"{path}.error_terms", f"1 to {MAX_ERROR_TERMS} terms", terms)
    _list_of(
        terms,
        f"{path}.error_terms",
        lambda t: isinstance(t, list) and len(t) == 2 and _is_int(t[0], 1) and rational(t[1]),
        "a [power, rational] pair",
    )


def _check_optimizer(optimizer: dict[str, Any]) -> None:
    _get(optimizer, "name", "optimizer", "str")
    # Values: numbers, flags, a schedule's config; the optimizer checks them as it loads.
    _get(optimizer, "hyperparameters", "optimizer", "object")
    _get(optimizer, "step", "optimizer", "int>=0")
    shape = _get(optimizer, "shape", "optimizer", "list", optional=True)
    if shape is not None:
        _list_of(shape, "optimizer.shape", lambda s: _is_int(s, 0), "a size >= 0")
    state = _get(optimizer, "state", "optimizer", "list")
    _list_of(state, "optimizer.state", lambda s: isinstance(s, str), "an array name")


def _check_history(history: dict[str, Any]) -> None:
    _get(history, "name", "history", "str", optional=True)
    _get(history, "params", "history", "object", optional=True)
    epochs = _get(history, "epoch", "history", "list", optional=True) or []
    _list_of(epochs, "history.epoch", lambda e: _is_int(e, 0), "an epoch number >= 0")
    logs = _get(history, "history", "history", "object", optional=True) or {}
    for key, values in logs.items():
        if not isinstance(values, list):
            raise _fail(f"history.history.{key}", "a list of numbers", values)
        _list_of(values, f"history.history.{key}", _is_number, "a number")


def _check_arrays(arrays: dict[str, Any]) -> None:
    for name, spec in arrays.items():
        path = f"arrays.{name}"
        if not isinstance(spec, dict):
            raise _fail(path, "an object with dtype and shape", spec)
        _get(spec, "dtype", path, "str")
        shape = _get(spec, "shape", path, "list")
        _list_of(shape, f"{path}.shape", lambda s: _is_int(s, 0), "a size >= 0")
    params = _get(arrays, "params", "arrays", "object")
    if len(params["shape"]) != 1:
        raise _fail("arrays.params.shape", "one size (a flat vector)", params["shape"])
