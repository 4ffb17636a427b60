"""Pixel formats: float images in [0, 1] to the 8 bits that detectors take and image files store."""

from __future__ import annotations

import numpy as np

from utils.course.checks import finite_in, positive_int

# Values within half a grey level of [0, 1] (the overshoot of resampling, float rounding) round into it
# anyway; anything further out is an image on another scale, refused rather than clipped.
TOLERANCE = 0.5 / 255


def to_uint8(images: np.ndarray, chunk: int = 256, name: str = "images") -> np.ndarray:
    """uint8 copy round(255 x) of float images in [0, 1], chunk leading-axis items at a time; uint8 comes back as is.

    Working a chunk at a time keeps peak memory to the uint8 result plus one chunk's float
    temporary, not a float copy of the whole set (1.1 GB for 6,000 scenes of 128x128x3).
    Values within half a grey level outside [0, 1] are clipped; NaN/inf, values further out,
    other dtypes (an int or bool image) and empty input are refused with an error naming `name`.
    """
    arr = np.asarray(images)
    chunk = positive_int(chunk, "chunk")
    if arr.dtype != np.uint8 and arr.dtype.kind != "f":
        raise TypeError(f"{name} has dtype {arr.dtype}: expected floats in [0, 1] (or uint8, returned as is)")
    if arr.ndim < 2 or arr.size == 0:
        raise ValueError(f"{name} has shape {arr.shape}: expected a non-empty image (H, W[, C]) or batch of images")
    if arr.dtype == np.uint8:
        return arr
    out = np.empty(arr.shape, np.uint8)
    expected = (f"floats in [0, 1] (within {TOLERANCE:.2g}); an image on the 0-255 scale needs dividing by "
                "255 first")
    for start in range(0, len(arr), chunk):
        part = arr[start:start + chunk]
        finite_in(part, f"{name}[{start}:{start + len(part)}]", -TOLERANCE, 1 + TOLERANCE, expected=expected)
        out[start:start + chunk] = np.clip(np.round(part * np.float32(255)), 0, 255)
    return out
