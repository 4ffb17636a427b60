"""Label maps as pictures: each class in its palette colour, alone or tinted over the image."""

from __future__ import annotations

import numpy as np

from utils.course.checks import as_image_array, not_empty, number_in
from utils.viz.images import NOTHING
from utils.viz.palette import CLASS_COLORS, label_palette


def _labels(labels: object) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iub" or arr.ndim < 2:
        raise ValueError(f"labels has dtype {arr.dtype} and shape {arr.shape}: expected an integer label map (H, W)")
    if arr.size and arr.min() < 0:
        raise ValueError(f"labels has values down to {arr.min()}: expected labels >= 0 (0 = background)")
    not_empty(arr, "labels", note=f"{NOTHING} (expected a label map of at least one pixel)")
    return arr.astype(np.int64)


def label_image(labels: np.ndarray) -> np.ndarray:
    """A label map (..., H, W) as an RGB image (..., H, W, 3): background black, each class its palette colour."""
    arr = _labels(labels)
    # Colours repeat after len(CLASS_COLORS) classes: index a short palette, not one as long as the largest label.
    arr = np.where(arr > 0, (arr - 1) % len(CLASS_COLORS) + 1, 0)
    return label_palette(int(arr.max()) + 1)[arr]


def overlay_labels(image: np.ndarray, labels: np.ndarray, strength: float = 0.7) -> np.ndarray:
    """The image with each labelled pixel tinted by its class colour over grey (the background left as it is)."""
    img = as_image_array(image, "image", tuple(range(3, 8)))
    arr = _labels(labels)
    if img.ndim != arr.ndim + 1 or img.shape[:-1] != arr.shape or img.shape[-1] != 3:
        raise ValueError(f"image has shape {img.shape} and labels {arr.shape}: expected (..., H, W, 3) and (..., H, W)")
    strength = number_in(strength, "strength", 0, 1)
    grey = img.mean(axis=-1, keepdims=True)  # grey underneath, so the object's own colour does not mix in
    tinted = (1 - strength) * grey + strength * label_image(arr)
    return np.where(arr[..., None] > 0, tinted, img)
