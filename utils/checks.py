"""Argument checks shared by utils: each error names the argument, its value and what was expected."""

from __future__ import annotations

import numpy as np


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
