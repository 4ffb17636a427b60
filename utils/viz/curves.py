"""Training curves from a Keras History (or a history dict): training solid, validation dashed."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from utils.course.checks import not_empty
from utils.viz.images import NOTHING


def _curves(history: object, label: str, metric: str, log: bool) -> dict[str, np.ndarray]:
    """The metric's training and (if recorded) validation values in one history, checked for plotting."""
    hist = getattr(history, "history", history)
    if not isinstance(hist, Mapping):
        raise ValueError(f"the history of {label!r} is {hist!r}: expected a keras History or a dict of lists")
    if metric not in hist:
        raise KeyError(f"metric={metric!r} is not in the history of {label!r}: expected one of {sorted(hist)}")
    curves = {key: np.asarray(hist[key], np.float64) for key in (metric, f"val_{metric}") if key in hist}
    not_empty(curves[metric], f"the history of {label!r} for metric={metric!r}", note=f"{NOTHING} (no epoch)")
    if any(len(values) != len(curves[metric]) for values in curves.values()):
        raise ValueError(f"the history of {label!r} has {len(curves[metric])} values of {metric!r} but "
                         f"{len(curves[f'val_{metric}'])} of 'val_{metric}': expected one of each per epoch")
    for key, values in curves.items():
        if log and np.any(values <= 0):  # matplotlib would drop them from a log axis without a word
            raise ValueError(f"{key} of {label!r} has values down to {np.nanmin(values):.3g}: expected values > 0 "
                             "on a log scale (pass log=False)")
    return curves


def plot_history(histories: Mapping[str, object] | object, metric: str = "loss", ax=None,
                 ylabel: str | None = None, log: bool = True):
    """Training (solid) and validation (dashed) curves of one or several Keras Histories or history dicts."""
    import matplotlib.pyplot as plt

    if not isinstance(histories, Mapping) or "loss" in histories:
        histories = {"model": histories}
    not_empty(histories, "histories", note=f"{NOTHING} (expected a History, a history dict or a dict of them)")
    curves = {label: _curves(h, label, metric, log) for label, h in histories.items()}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, c in curves.items():
        epochs = np.arange(1, len(c[metric]) + 1)
        (line,) = ax.plot(epochs, c[metric], label=f"{label} (train)")
        if f"val_{metric}" in c:
            ax.plot(epochs, c[f"val_{metric}"], "--", color=line.get_color(), label=f"{label} (validation)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or metric)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
