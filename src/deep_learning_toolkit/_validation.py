"""Input checks shared by every public entry point.

Each helper raises a ``ValueError`` or ``TypeError`` whose message names the argument
and shows the value received, in the style of scikit-learn, so that a user sees what
was wrong in one line instead of a NumPy traceback from deep inside the library.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def describe(value: Any) -> str:
    """Short printable description of ``value`` for error messages."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; else raise naming the valid ones."""
    choices = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(choices)}; got {describe(value)}.")
    if value not in choices:
        raise ValueError(f"Unknown {name} {value!r}; valid values are {list(choices)}.")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as ``bool`` if it is a (NumPy) boolean; else raise ``TypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {describe(value)}.")
    return bool(value)


def check_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` as ``int`` if it is an integer within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {describe(value)}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}.")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    maximum: float | None = None,
    below: float | None = None,
) -> float:
    """Return ``value`` as a finite ``float`` with the requested sign and bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {describe(value)}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}.")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0; got {value}.")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0; got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}.")
    if below is not None and value >= below:
        raise ValueError(f"{name} must be < {below}; got {value}.")
    return value


#: The dtypes a network can hold its parameters in.
FLOAT_DTYPES: tuple[str, ...] = ("float64", "float32")

_UNSUPPORTED_FLOATS = {
    "float16": "its 11-bit significand (epsilon ~1e-3) is as coarse as a perturbation, so "
    "finite differences would be rounding and zeroth-order shifts of scale ~1e-3 cannot be "
    "exact; NumPy also multiplies float16 matrices without BLAS, slower than float32",
}


def check_dtype(name: str, value: Any) -> np.dtype:
    """Return ``value`` as ``np.dtype("float64")`` or ``np.dtype("float32")``.

    Accepts the names, the NumPy scalar types and dtypes (and Python's ``float``). Anything
    else is refused, naming the argument and the value: ``TypeError`` for what is not a
    dtype, ``ValueError`` for an integer, complex, bool or other float dtype.
    """
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{name} must be 'float32' or 'float64'; got {describe(value)}.")
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be 'float32' or 'float64' (a name, numpy.float32 or numpy.float64); "
            f"got {describe(value)}."
        ) from None
    if dtype.name in FLOAT_DTYPES:
        return dtype.newbyteorder("=")
    why = _UNSUPPORTED_FLOATS.get(dtype.name)
    if why is None:
        kind = {"i": "an integer", "u": "an unsigned integer", "c": "a complex", "b": "a bool"}
        why = f"{kind.get(dtype.kind, 'an unsupported')} dtype cannot hold trained parameters"
        if dtype.kind == "f":
            why = "only float32 and float64 have fast matrix products in NumPy"
    raise ValueError(f"{name} must be 'float32' or 'float64'; got {describe(value)}: {why}.")


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    allow_empty: bool = False,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Return ``value`` as a finite array of ``dtype`` (float64 by default) with the given
    number of dimensions; a value that overflows float32 is refused by name.

    Complex input is refused (``TypeError``), not cast: the cast would drop the imaginary
    parts with only a warning.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be array-like of numbers; got {describe(value)}.")
    try:
        is_complex = np.iscomplexobj(value)
        with np.errstate(over="ignore"):
            array = np.asarray(value, dtype=np.complex128 if is_complex else dtype)
    except (TypeError, ValueError, OverflowError) as error:
        raise TypeError(
            f"{name} must be array-like of numbers; got {describe(value)} ({error})."
        ) from None
    if is_complex:
        raise TypeError(
            f"{name} must be real numbers; got complex values ({describe(value)}): casting "
            "would drop their imaginary parts. Pass value.real if that is what you mean."
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if array.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}; got an array of shape {array.shape}.")
    if not allow_empty and array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); at least one value is needed.")
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        where = tuple(int(i) for i in bad)
        if array.dtype != np.float64:
            original = np.asarray(value, dtype=np.float64)[where]
            if np.isfinite(original):
                raise ValueError(
                    f"{name} holds {original:g} at index {where}, beyond the range of "
                    f"{array.dtype.name} (largest {float(np.finfo(array.dtype).max):.4g}); "
                    "rescale the values or use dtype='float64'."
                )
        raise ValueError(
            f"{name} contains NaN or infinity (first at index {where}: {array[where]}); "
            "clean or impute the data first."
        )
    return array


def check_same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise if ``a`` and ``b`` do not have the same number of samples (rows)."""
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of samples; "
            f"got {len(a)} and {len(b)}."
        )
