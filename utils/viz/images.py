"""Image grids: rows of grey or RGB images in [0, 1], side by side with titles (input / output / truth)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.course.checks import as_image_array, finite_in, not_empty, positive_float

NOTHING = "nothing to show"
_FAR = 16.0  # beyond this a float image is no [0, 1] image with some overshoot: a dark 0-255 image exceeds it


def display_image(image: object, name: str) -> np.ndarray:
    """image as float32 (H, W[, 1|3|4]) clipped to [0, 1] for display, refusing NaN, 8-bit pixels and empty images.

    Floats a little outside [0, 1] (unclipped noise, a map scaled by its 99th percentile) are clipped, as they
    always were; integers above 1 or floats far outside are 0-255 pixels, which clipping turns all white.
    """
    arr = np.asarray(image)
    integers = arr.dtype.kind in "iub"
    arr = as_image_array(arr, name, (2, 3), in_unit_range=integers)
    if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4):
        raise ValueError(f"{name} has shape {arr.shape}: expected (H, W) grey, or (H, W, 1), (H, W, 3) or (H, W, 4)")
    not_empty(arr, name, note=f"{NOTHING} (expected an image of at least one pixel)")
    finite_in(arr, name, -_FAR, _FAR, expected="values in [0, 1] (a little outside is clipped; divide 0-255 "
                                               "images by 255)")
    return np.clip(arr, 0, 1)


def _one_per_row(value: Sequence | None, name: str, n_rows: int) -> None:
    if value is not None and len(value) != n_rows:
        raise ValueError(f"{name} has {len(value)} entries: expected one per row of images ({n_rows})")


def show_images(rows: Sequence[Sequence[np.ndarray]], titles: Sequence[Sequence[str]] | None = None,
                row_labels: Sequence[str] | None = None, size: float = 3.0, suptitle: str | None = None):
    """A grid of images (rows x columns), gray or RGB in [0, 1], each with an optional title."""
    import matplotlib.pyplot as plt

    rows = [[display_image(im, f"rows[{i}][{j}]") for j, im in enumerate(r)] for i, r in enumerate(rows)]
    not_empty([im for r in rows for im in r], "rows", note=f"{NOTHING} (expected rows of images)")
    _one_per_row(titles, "titles", len(rows))
    _one_per_row(row_labels, "row_labels", len(rows))
    size = positive_float(size, "size", note="inches per image")
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols, size * len(rows)), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(row):
                ax.axis("off")
                continue
            im = row[j]
            ax.imshow(im.squeeze(), cmap="gray" if im.squeeze().ndim == 2 else None, vmin=0, vmax=1,
                      interpolation="nearest")
            if titles is not None and j < len(titles[i]):
                ax.set_title(titles[i][j], fontsize=10)
            if row_labels is not None and j == 0:
                ax.set_ylabel(row_labels[i])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
