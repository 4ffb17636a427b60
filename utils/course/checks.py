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
    if in_unit_range:
        return finite_in(arr, name, 0.0, 1.0, expected="floats in [0, 1] (convert with skimage.util.img_as_float32)")
    return finite_in(arr, name, expected="finite pixel values")


def finite_in(arr: np.ndarray, name: str, low: float | None = None, high: float | None = None, *,
              expected: str) -> np.ndarray:
    """arr, checking that its values are finite and lie in [low, high] (an absent end is unbounded; empty passes)."""
    if arr.size == 0:
        return arr
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        count = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} has {count} NaN or infinite value(s): expected {expected}")
    lo, hi = arr.min(), arr.max()
    if (low is not None and lo < low) or (high is not None and hi > high):
        raise ValueError(f"{name} has values in [{lo:.3g}, {hi:.3g}]: expected {expected}")
    return arr


def whole_numbers(arr: np.ndarray, name: str, low: float | None = None, *, expected: str) -> np.ndarray:
    """arr as int64, checking that its values are finite whole numbers >= low (floats such as 2.0 pass)."""
    finite_in(arr, name, low, expected=expected)
    if arr.size and arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} has fractional values such as {arr[arr != np.round(arr)].flat[0]:.3g}: "
                         f"expected {expected}")
    return arr.astype(np.int64)


def class_labels(arr: np.ndarray, name: str, n_classes: int, *, first: int = 0, note: str | None = None) -> np.ndarray:
    """arr as int64 class labels, checking that every value is a whole number in first..first + n_classes - 1."""
    last = first + n_classes - 1
    labels = whole_numbers(arr, name, expected=f"integer labels in [{first}, {last}]{_note(note)}")
    if labels.size and (labels.min() < first or labels.max() > last):
        raise ValueError(f"{name} has labels in [{labels.min()}, {labels.max()}]: expected labels in "
                         f"[{first}, {last}]{_note(note)}")
    return labels


def xyxy_boxes(boxes: object, name: str) -> np.ndarray:
    """boxes as a float64 (N, 4) array of finite (x1, y1, x2, y2) corners with x2 >= x1 and y2 >= y1."""
    try:
        arr = np.asarray(boxes, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={_described(boxes)}: expected an (N, 4) array of (x1, y1, x2, y2)") from None
    if arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim not in (1, 2) or arr.shape[-1] != 4:
        raise ValueError(f"{name} has shape {arr.shape}: expected (N, 4) boxes (x1, y1, x2, y2), or one box (4,)")
    arr = arr.reshape(-1, 4)
    for bad, what in ((~np.isfinite(arr).all(axis=1), "NaN or inf"),
                      ((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1]), "x2 < x1 or y2 < y1")):
        if bad.any():
            raise ValueError(f"{name} has {int(bad.sum())} box(es) with {what}, the first {arr[bad][0].tolist()}: "
                             "expected finite (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1")
    return arr


def not_empty(value: object, name: str, *, note: str) -> None:
    """Check that value (a sequence, or an array of any shape) holds at least one item."""
    if (value.size if isinstance(value, np.ndarray) else len(value)) == 0:  # type: ignore[arg-type]
        raise ValueError(f"{name} is empty: {note}")


def rng_from(value: object, name: str) -> np.random.Generator:
    """np.random.default_rng(value), checking that value is None, a seed (an int >= 0) or a NumPy Generator."""
    if value is None or isinstance(value, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence)):
        return np.random.default_rng(value)
    return np.random.default_rng(optional_seed(value, name))


def optional_seed(value: object, name: str) -> int | None:
    """value, checking that it is None or a seed: an int >= 0."""
    return None if value is None else non_negative_int(value, name, note="a seed, or None for a random one")


def divisible_sides(shape: object, name: str, multiple: int, *, by: str, why: str) -> tuple:
    """shape as a tuple (H, W, C): H and W None or positive multiples of `multiple` (named `by`), C a positive int.

    A model that downsamples by `multiple` would otherwise return a different size without a word.
    """
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else None
    if dims is None or len(dims) != 3:
        raise ValueError(f"{name}={shape!r}: expected (height, width, channels), e.g. (None, None, 3)")
    for axis, side in zip(("height", "width"), dims[:2]):
        if side is not None and (not _is_int(side) or side <= 0 or side % multiple):
            raise ValueError(f"{name}={shape!r}: the {axis} {side!r} is not divisible by {by}; expected None "
                             f"or a positive multiple of {multiple} {why}")
    if not _is_int(dims[2]) or dims[2] <= 0:
        raise ValueError(f"{name}={shape!r}: expected a positive number of channels, got {dims[2]!r}")
    return tuple(None if d is None else int(d) for d in dims)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value: object, name: str) -> int:
    """Return value as an int, checking that it is one and that it is > 0."""
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{name}={value!r}: expected a positive integer")
    return int(value)


def int_at_least(value: object, name: str, low: int, *, note: str | None = None) -> int:
    """Return value as an int, checking that it is one (not a bool, not 1.5) and that it is >= low."""
    if not _is_int(value) or value < low:
        raise ValueError(f"{name}={_described(value)}: expected an integer >= {low}{_note(note)}")
    return int(value)


def non_negative_int(value: object, name: str, *, note: str | None = None) -> int:
    """Return value as an int, checking that it is one and that it is >= 0."""
    if not _is_int(value) or value < 0:
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


def concrete_array(x: object) -> np.ndarray | None:
    """x as a NumPy array when its values are known now (NumPy input, an eager tensor), None when it is symbolic.

    Inside a traced training step (tf.function, jax.jit) a tensor has no values yet: checks of values are
    then skipped, so they cost nothing in training and still catch a wrong call made by hand.
    """
    if is_array_like(x):
        return np.asarray(x)
    import keras

    try:
        return np.asarray(keras.ops.convert_to_numpy(x))
    except (NotImplementedError, RuntimeError, TypeError, ValueError):  # a symbolic tensor or a tracer
        return None


def finite_where_known(x: object, name: str, *, expected: str) -> None:
    """Refuse NaN or inf in x where its values are known now (`concrete_array`); inside compiled code, nothing."""
    known = concrete_array(x)
    if known is not None:
        finite_in(np.asarray(known, np.float64), name, expected=expected)


def _check_last_axis(shape: tuple, name: str, last_axis: int | None) -> None:
    if last_axis is not None and (len(shape) < 1 or (shape[-1] is not None and shape[-1] != last_axis)):
        raise ValueError(f"{name} has shape {shape}: expected (..., {last_axis})")


def as_float_array(x: object, name: str, last_axis: int | None = None) -> np.ndarray:
    """Array-like x as a float32 NumPy array, its last axis checked when given (NumPy's side of as_float_tensor)."""
    try:
        a = np.asarray(x, np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}={_described(x)}: expected numbers ({err})") from None
    _check_last_axis(a.shape, name, last_axis)
    return a


def as_float_tensor(x: object, name: str, last_axis: int | None = None) -> Any:
    """x as a backend float tensor (float32 unless already a float tensor), its last axis checked when given.

    Array-like input (see `is_array_like`) goes through np.asarray(x, float32) first, so NumPy input
    is always computed in float32, whatever its dtype; a tensor keeps its float dtype.
    """
    import keras

    if is_array_like(x):
        x = as_float_array(x, name)
    try:
        t = keras.ops.convert_to_tensor(x)
        dtype = keras.backend.standardize_dtype(t.dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}={_described(x)}: expected an array or a tensor of numbers ({err})") from None
    if not dtype.startswith(("float", "bfloat", "int", "uint", "bool")):
        raise ValueError(f"{name}={_described(x)} has dtype {dtype}: expected an array or a tensor of numbers")
    if not keras.backend.is_float_dtype(dtype):
        t = keras.ops.cast(t, "float32")
    _check_last_axis(tuple(t.shape), name, last_axis)
    return t
