"""One palette for the whole course: a class keeps its colour in every figure, boxes and label maps alike."""

from __future__ import annotations

import numpy as np

# Class colours (tab10 without grey), picked by label so a class keeps its colour across figures.
CLASS_COLORS: tuple[str, ...] = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                 "#bcbd22", "#17becf")
COLOR_NAMES: tuple[str, ...] = ("blue", "orange", "green", "red", "purple", "brown", "pink", "olive", "cyan")
BACKGROUND_RGB = (0.0, 0.0, 0.0)


def class_color(label: int) -> str:
    """The colour of class label (1..C) as '#rrggbb'; label 0 (background) or -1 (padding) gets white."""
    return "#ffffff" if label < 1 else CLASS_COLORS[(int(label) - 1) % len(CLASS_COLORS)]


def class_color_name(label: int) -> str:
    """The colour of class label (1..C) in words, for titles and captions ('blue', 'orange', ...)."""
    return "white" if label < 1 else COLOR_NAMES[(int(label) - 1) % len(COLOR_NAMES)]


def label_palette(n_labels: int) -> np.ndarray:
    """RGB colours in [0, 1] of labels 0..n_labels-1, shape (n_labels, 3): black background, then the classes."""
    if isinstance(n_labels, bool) or not isinstance(n_labels, (int, np.integer)) or n_labels < 1:
        raise ValueError(f"n_labels={n_labels!r}: expected a positive integer")
    rgb = [BACKGROUND_RGB] + [tuple(int(class_color(k)[i:i + 2], 16) / 255 for i in (1, 3, 5))
                              for k in range(1, int(n_labels))]
    return np.asarray(rgb, np.float32)
