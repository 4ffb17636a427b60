"""Argument checks shared by utils: each error names the argument, its value and what was expected.

Also the one rule for what comes back: NumPy in, NumPy out (`numpy_like`). Keras and TensorFlow are
imported only by the functions that need them, so importing this module stays cheap.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Iterable
from typing import Any

import numpy as np

_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxtuple = 40, 40, 8, 8


def _described(value: object) -> str:
    """A short repr of a value for an error message (a large array or list is cut)."""
    return _short.repr(value)


def _is_number(value: object) -> bool:
    """A real number that is not a bool (True is an int to Python, never a threshold to a user)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _note(note: str | None) -> str:
    return f" ({note})" if note else ""


def as_image_array(x: object, name: str, ndims: tuple[int, ...], in_unit_range: bool = True) -> np.ndarray:
    """Return x as a float32 array, checking its rank and (optionally) that its values lie in [0, 1]."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} has dtype {arr.dtype}: expected a numeric image array")
    if arr.ndim not in ndims:
        ranks = " or ".join(map(str, ndims))
        raise ValueError(f"{name} has shape {arr.shape} (rank {arr.ndim}): expected rank {ranks}")
    arr = arr.astype(np.float32, copy=False)
    if in_unit_range and arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(
            f"{name} has values in [{arr.min():.3g}, {arr.max():.3g}]: expected floats in [0, 1] "
            "(convert with skimage.util.img_as_float32)"
        )
    return arr


def positive_int(value: object, name: str) -> int:
    """Return value as an int, checking that it is one and that it is > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name}={value!r}: expected a positive integer")
    return int(value)


def non_negative_int(value: object, name: str, *, note: str | None = None) -> int:
    """Return value as an int, checking that it is one and that it is >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}={_described(value)}: expected a non-negative integer{_note(note)}")
    return int(value)


def interval(low: float | None = None, high: float | None = None, *, low_open: bool = False,
             high_open: bool = False) -> str:
    """The interval in mathematical notation, e.g. '(0, 1]' or '[0, inf)' (an absent end is infinite, so open)."""
    left = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
    right = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
    return f"{left}, {right}"


def number_in(value: object, name: str, low: float | None = None, high: float | None = None, *,
              low_open: bool = False, high_open: bool = False, note: str | None = None) -> float:
    """Return value as a float, checking that it is a finite real number (not a bool) in the interval."""
    ok = _is_number(value) and math.isfinite(value)  # type: ignore[arg-type]
    if ok and low is not None:
        ok = value > low if low_open else value >= low  # type: ignore[operator]
    if ok and high is not None:
        ok = value < high if high_open else value <= high  # type: ignore[operator]
    if not ok:
        kind = "a number" if low is not None and high is not None else "a finite number"
        where = interval(low, high, low_open=low_open, high_open=high_open)
        raise ValueError(f"{name}={_described(value)}: expected {kind} in {where}{_note(note)}")
    return float(value)  # type: ignore[arg-type]


def positive_float(value: object, name: str, *, note: str | None = None) -> float:
    """Return value as a float, checking that it is a finite real number > 0."""
    return number_in(value, name, 0, None, low_open=True, note=note)


def _matches(value: object, choice: object) -> bool:
    """value == choice, where a bool only equals a bool and a float never stands for an int choice."""
    bools = isinstance(choice, (bool, np.bool_)), isinstance(value, (bool, np.bool_))
    if any(bools):
        return all(bools) and bool(value) == bool(choice)
    if isinstance(choice, numbers.Integral) and not isinstance(value, numbers.Integral):
        return False
    if isinstance(choice, numbers.Number) != isinstance(value, numbers.Number):
        return False
    try:
        return bool(value == choice)
    except (TypeError, ValueError):  # an array compares elementwise: it is not one of the choices
        return False


def one_of(value: Any, name: str, choices: Iterable[Any], *, note: str | None = None) -> Any:
    """Return value, checking that it equals one of choices (1 is not True, 2.0 is not 2, 'a' is not 'A')."""
    if isinstance(choices, range):  # membership without a walk over the range
        found = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) and value in choices
    else:
        choices = tuple(choices)
        found = any(_matches(value, c) for c in choices)
    if not found:
        if isinstance(choices, range) and choices.step == 1 and len(choices):
            what = f"an integer in {choices.start}..{choices.stop - 1}"
        else:
            what = "one of " + ", ".join(map(repr, choices))
        raise ValueError(f"{name}={_described(value)}: expected {what}{_note(note)}")
    return value


def is_array_like(x: object) -> bool:
    """True for what counts as NumPy input: a NumPy array or scalar, a list, a tuple or a Python number."""
    return isinstance(x, (np.ndarray, np.generic, list, tuple, numbers.Number))


def numpy_like(result: Any, *inputs: object) -> Any:
    """result as a NumPy array when every input (None skipped) is array-like, else as it is (a backend tensor)."""
    if all(is_array_like(x) for x in inputs if x is not None):
        if isinstance(result, np.ndarray):
            return result
        import keras

        return np.asarray(keras.ops.convert_to_numpy(result))
    return result


def as_float_tensor(x: object, name: str, last_axis: int | None = None) -> Any:
    """x as a backend float tensor (float32 unless already a float tensor), its last axis checked when given.

    Array-like input (see `is_array_like`) goes through np.asarray(x, float32) first, so NumPy input
    is always computed in float32, whatever its dtype; a tensor keeps its float dtype.
    """
    import keras

    if is_array_like(x):
        try:
            x = np.asarray(x, np.float32)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}={_described(x)}: expected numbers ({err})") from None
    try:
        t = keras.ops.convert_to_tensor(x)
        dtype = keras.backend.standardize_dtype(t.dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}={_described(x)}: expected an array or a tensor of numbers ({err})") from None
    if not dtype.startswith(("float", "bfloat", "int", "uint", "bool")):
        raise ValueError(f"{name}={_described(x)} has dtype {dtype}: expected an array or a tensor of numbers")
    if not keras.backend.is_float_dtype(dtype):
        t = keras.ops.cast(t, "float32")
    if last_axis is not None:
        shape = tuple(t.shape)
        if len(shape) < 1 or (shape[-1] is not None and shape[-1] != last_axis):
            raise ValueError(f"{name} has shape {shape}: expected (..., {last_axis})")
    return t
