"""One palette for the whole course: a class keeps its colour in every figure, boxes and label maps alike."""

from __future__ import annotations

import numpy as np

from utils.course.checks import int_at_least, positive_int

# Class colours (tab10 without grey), picked by label so a class keeps its colour across figures.
CLASS_COLORS: tuple[str, ...] = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                 "#bcbd22", "#17becf")
COLOR_NAMES: tuple[str, ...] = ("blue", "orange", "green", "red", "purple", "brown", "pink", "olive", "cyan")
BACKGROUND_RGB = (0.0, 0.0, 0.0)


def _colour_index(label: object) -> int:
    """Index into CLASS_COLORS of a class label 1..C (the colours repeat), -1 for background 0 or padding -1."""
    label = int_at_least(label, "label", -1, note="a class 1..C, 0 for background or -1 for padding")
    return -1 if label < 1 else (label - 1) % len(CLASS_COLORS)


def class_color(label: int) -> str:
    """The colour of class label (1..C) as '#rrggbb'; label 0 (background) or -1 (padding) gets white."""
    k = _colour_index(label)
    return "#ffffff" if k < 0 else CLASS_COLORS[k]


def class_color_name(label: int) -> str:
    """The colour of class label (1..C) in words, for titles and captions ('blue', 'orange', ...)."""
    k = _colour_index(label)
    return "white" if k < 0 else COLOR_NAMES[k]


def label_palette(n_labels: int) -> np.ndarray:
    """RGB colours in [0, 1] of labels 0..n_labels-1, shape (n_labels, 3): black background, then the classes."""
    n_labels = positive_int(n_labels, "n_labels")
    rgb = [BACKGROUND_RGB] + [tuple(int(class_color(k)[i:i + 2], 16) / 255 for i in (1, 3, 5))
                              for k in range(1, n_labels)]
    return np.asarray(rgb, np.float32)
