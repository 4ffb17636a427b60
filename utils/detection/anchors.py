"""Anchor (default, prior) boxes: a few shapes repeated at every position of a feature map.

A feature map of stride s over an image holds one cell per s x s pixels; cell (i, j) is centred on
pixel ((j + 0.5) s, (i + 0.5) s). Each cell gets K anchors, one per (size, aspect ratio) pair, with
width size * sqrt(ratio) and height size / sqrt(ratio) (ratio = width / height), so every anchor of
one size has the same area size**2.

The order of the anchors is row-major over the cells and then the K shapes, which is the order of a
convolutional head's output (H, W, K * 4) reshaped to (H * W * K, 4): anchor k of cell (i, j) is
number (i * W + j) * K + k. Anchors are constants, so they are NumPy float32 arrays in xyxy pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from utils.course.checks import number_in, positive_float, positive_int


def _positive_floats(values: Sequence[float] | float, name: str) -> np.ndarray:
    """One number or a sequence of them as a 1-D float64 array, each checked by `positive_float`."""
    if isinstance(values, np.ndarray):
        items = list(np.atleast_1d(values))
    else:
        items = list(values) if isinstance(values, (list, tuple)) else [values]
    try:
        arr = np.array([positive_float(v, name) for v in items], np.float64)
    except ValueError:
        arr = np.zeros(0)
    if arr.size == 0:
        raise ValueError(f"{name}={values!r}: expected one or more positive numbers")
    return arr


def anchor_shapes(sizes: Sequence[float] | float, aspect_ratios: Sequence[float] | float = (1.0,)) -> np.ndarray:
    """(K, 2) widths and heights of the K = len(sizes) * len(aspect_ratios) anchor shapes, sizes first."""
    s = _positive_floats(sizes, "sizes")
    r = _positive_floats(aspect_ratios, "aspect_ratios")
    w = (s[:, None] * np.sqrt(r)[None, :]).ravel()
    h = (s[:, None] / np.sqrt(r)[None, :]).ravel()
    return np.stack([w, h], axis=1).astype(np.float32)


def grid_anchors(feature_size: tuple[int, int], stride: float, sizes: Sequence[float] | float,
                 aspect_ratios: Sequence[float] | float = (1.0,), offset: float = 0.5) -> np.ndarray:
    """(H * W * K, 4) xyxy anchors over an H x W feature map of the given stride, cell-major then shape.

    offset: where in its cell an anchor is centred, in cells (0.5: the cell's centre).
    """
    try:
        fh, fw = feature_size
    except (TypeError, ValueError):
        raise ValueError(f"feature_size={feature_size!r}: expected (height, width) in cells") from None
    fh, fw = positive_int(fh, "feature_size[0]"), positive_int(fw, "feature_size[1]")
    stride = positive_float(stride, "stride")
    offset = number_in(offset, "offset", 0, 1, note="where in its cell an anchor is centred, in cells")
    shapes = anchor_shapes(sizes, aspect_ratios)  # (K, 2)
    cy, cx = np.meshgrid((np.arange(fh) + offset) * stride, (np.arange(fw) + offset) * stride, indexing="ij")
    centres = np.stack([cx, cy], axis=-1).reshape(-1, 1, 2)  # (H*W, 1, 2)
    half = 0.5 * shapes[None]  # (1, K, 2)
    return np.concatenate([centres - half, centres + half], axis=-1).reshape(-1, 4).astype(np.float32)


@dataclass(frozen=True)
class AnchorLevel:
    """The anchors of one feature map: its stride, sizes and aspect ratios."""

    stride: int
    sizes: tuple[float, ...]
    aspect_ratios: tuple[float, ...] = (1.0,)

    @property
    def per_cell(self) -> int:
        """Anchors per cell, K: what the head's channel count is a multiple of."""
        return len(self.sizes) * len(self.aspect_ratios)


def multilevel_anchors(image_size: tuple[int, int], levels: Sequence[AnchorLevel]) -> tuple[np.ndarray, list[int]]:
    """All anchors of several feature maps (strides dividing the image size), level after level, and each level's count.

    The feature map of stride s over an H x W image is (H / s) x (W / s), as a stack of 'same'
    padded stride-2 convolutions gives it.
    """
    try:
        height, width = (positive_int(v, "image_size") for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size={image_size!r}: expected (height, width) in pixels") from None
    if not levels:
        raise ValueError(f"levels={levels!r}: expected at least one AnchorLevel")
    out, counts = [], []
    for level in levels:
        positive_int(level.stride, "level.stride")
        if height % level.stride or width % level.stride:
            raise ValueError(f"level stride {level.stride} does not divide image_size={image_size!r}: expected "
                             "strides that divide both sides")
        a = grid_anchors((height // level.stride, width // level.stride), level.stride, level.sizes,
                         level.aspect_ratios)
        out.append(a)
        counts.append(len(a))
    return np.concatenate(out), counts
