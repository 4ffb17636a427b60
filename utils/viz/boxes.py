"""Boxes on images with matplotlib: class names, scores, one colour per class, ground truth dashed.

`keras.visualization.draw_bounding_boxes` burns boxes into the pixels and needs OpenCV, which the
course does not install; drawing matplotlib patches on the axes instead keeps the text sharp at any
zoom and adds no dependency. Boxes are xyxy pixels with x2, y2 exclusive: pixel (r, c) covers
[c, c + 1) x [r, r + 1), which `imshow` draws centred on (c, r), so a box's edges are drawn half a
pixel up and left of its coordinates and sit exactly on the pixel borders.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.course.checks import (
    class_labels,
    finite_in,
    not_empty,
    positive_float,
    positive_int,
    whole_numbers,
    xyxy_boxes,
)
from utils.viz.images import NOTHING, display_image
from utils.viz.palette import class_color


def _labels(labels: object, n_boxes: int, class_names: Sequence[str] | None) -> np.ndarray:
    """Integer labels, one per box: -1 (padding) or a class that indexes class_names when it is given."""
    lab = whole_numbers(np.asarray(labels).reshape(-1), "labels", -1, expected="integer labels (-1 for padding)")
    _one_per_box(lab, "labels", n_boxes)
    if class_names is not None:
        class_labels(lab[lab >= 0], "labels", len(class_names), note="indices into class_names, or -1 for padding")
    return lab


def _one_per_box(values: np.ndarray, name: str, n_boxes: int) -> None:
    if len(values) != n_boxes:
        raise ValueError(f"{name} has {len(values)} entries: expected one per box ({n_boxes})")


def draw_boxes(ax, boxes, labels=None, scores=None, class_names: Sequence[str] | None = None,
               ground_truth: bool = False, color: str | None = None, fontsize: float = 7.0) -> None:
    """Draw xyxy boxes on a matplotlib axis, labelled 'name score'; ground truth dashed and unlabelled."""
    from matplotlib.patches import Rectangle

    b = xyxy_boxes(boxes, "boxes")
    lab = np.full(len(b), -1) if labels is None else _labels(labels, len(b), class_names)
    sc = None if scores is None else np.asarray(scores, np.float64).reshape(-1)
    if sc is not None:
        _one_per_box(finite_in(sc, "scores", expected="finite scores"), "scores", len(b))
    positive_float(fontsize, "fontsize")
    for k, (x1, y1, x2, y2) in enumerate(b):
        if lab[k] < 0 and labels is not None:  # padding rows (label -1)
            continue
        c = color or class_color(int(lab[k]))
        ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=c,
                               linewidth=1.2 if ground_truth else 1.6, linestyle="--" if ground_truth else "-"))
        if ground_truth:
            continue
        text = []
        if labels is not None:
            text.append(class_names[int(lab[k])] if class_names is not None else str(int(lab[k])))
        if sc is not None:
            text.append(f"{sc[k]:.2f}")
        if text:
            ax.text(x1 - 0.5, y1 - 1.5, " ".join(text), color="white", fontsize=fontsize, va="bottom",
                    bbox={"facecolor": c, "alpha": 0.8, "pad": 1, "edgecolor": "none"}, clip_on=True)


def show_detections(images: Sequence[np.ndarray], boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                    scores: Sequence[np.ndarray] | None = None, gt_boxes: Sequence[np.ndarray] | None = None,
                    class_names: Sequence[str] | None = None, titles: Sequence[str] | None = None,
                    columns: int = 4, size: float = 3.0, suptitle: str | None = None):
    """A grid of images with their detections (solid, 'name score') and, if given, ground truth (dashed white)."""
    import matplotlib.pyplot as plt

    images = [display_image(im, f"images[{k}]") for k, im in enumerate(images)]
    n = len(images)
    not_empty(images, "images", note=f"{NOTHING} (expected at least one image)")
    for name, seq in (("boxes", boxes), ("labels", labels), ("scores", scores), ("gt_boxes", gt_boxes),
                      ("titles", titles)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries: expected one per image ({n})")
    columns = min(positive_int(columns, "columns"), n)
    size = positive_float(size, "size", note="inches per image")
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.axis("off")
            continue
        ax.imshow(images[k], interpolation="nearest")
        if gt_boxes is not None:
            draw_boxes(ax, gt_boxes[k], ground_truth=True, color="white")
        draw_boxes(ax, boxes[k], labels[k], None if scores is None else scores[k], class_names)
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
