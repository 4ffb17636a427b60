"""Training curves from a Keras History (or a history dict): training solid, validation dashed."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


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
