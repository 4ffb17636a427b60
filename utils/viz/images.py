"""Image grids: rows of grey or RGB images in [0, 1], side by side with titles (input / output / truth)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def show_images(rows: Sequence[Sequence[np.ndarray]], titles: Sequence[Sequence[str]] | None = None,
                row_labels: Sequence[str] | None = None, size: float = 3.0, suptitle: str | None = None):
    """A grid of images (rows x columns), gray or RGB in [0, 1], each with an optional title."""
    import matplotlib.pyplot as plt

    rows = [list(r) for r in rows]
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
            im = np.clip(np.asarray(row[j], np.float32), 0, 1)
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
