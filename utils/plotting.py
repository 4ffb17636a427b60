"""Figures the notebooks share: image grids with titles, and training curves from a Keras History."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


def plot_history(histories: Mapping[str, object] | object, metric: str = "loss", ax=None,
                 ylabel: str | None = None, log: bool = True):
    """Training (solid) and validation (dashed) curves of one or several Keras Histories or history dicts."""
    import matplotlib.pyplot as plt

    if not isinstance(histories, Mapping) or "loss" in histories:
        histories = {"model": histories}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, h in histories.items():
        hist = getattr(h, "history", h)
        if metric not in hist:
            raise KeyError(f"metric={metric!r} is not in the history of {label!r}: expected one of {sorted(hist)}")
        epochs = np.arange(1, len(hist[metric]) + 1)
        (line,) = ax.plot(epochs, hist[metric], label=f"{label} (train)")
        if f"val_{metric}" in hist:
            ax.plot(epochs, hist[f"val_{metric}"], "--", color=line.get_color(), label=f"{label} (validation)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or metric)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
