"""Matching anchors to ground-truth boxes, training targets, and the sampling of anchors for a balanced loss.

Every function takes one image or a batch (leading axes) and runs on NumPy arrays (giving NumPy
back), on tensors and inside compiled code, since it is written in `keras.ops`. Ground truth comes
padded as `utils.data.scenes.pad_boxes` gives it: (..., M, 4) xyxy boxes and (..., M) labels, where a
row with label -1 (or a box of zero area: x2 == x1 or y2 == y1) is padding, not an object. Where the
values are known (NumPy input, eager tensors), any other row whose box has x2 < x1 or y2 < y1, NaN or
inf is refused, and so is an object labelled below 1 by `anchor_targets` (0 is background).

Matching codes, as in torchvision's Matcher: a matched anchor holds the index (>= 0) of its ground
truth, NEGATIVE (-1) marks background and IGNORE (-2) an anchor between the two thresholds, which
the loss leaves out. `match_iou` is the one matching algorithm, on an IoU matrix (..., A, M);
`match_anchors` computes that matrix from boxes, for anchors shared by every image (A, 4) or given
per image (..., A, 4), such as a batch of proposals (B, P, 4) against ground truth (B, M, 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from utils.course.checks import as_float_tensor, concrete_array, is_array_like, number_in, numpy_like, one_of
from utils.detection.boxes import BOX_VARIANCES, as_boxes, check_box_values, encode_boxes, iou_matrix

NEGATIVE = -1
IGNORE = -2


def _valid_gt(gt_boxes, gt_labels):
    """Which ground-truth rows are objects: positive area and (if labels are given) label >= 0."""
    import keras.ops as K

    valid = (gt_boxes[..., 2] > gt_boxes[..., 0]) & (gt_boxes[..., 3] > gt_boxes[..., 1])
    if gt_labels is not None:
        labels = K.convert_to_tensor(gt_labels)
        if tuple(labels.shape) != tuple(valid.shape):
            raise ValueError(f"gt_labels has shape {tuple(labels.shape)}: expected {tuple(valid.shape)}, one label "
                             "per ground-truth box")
        valid = valid & (labels >= 0)
    return valid


def _known_gt(gt_boxes, gt_labels) -> tuple[np.ndarray, np.ndarray | None, np.ndarray] | None:
    """The ground truth's values (boxes, labels or None) and its padding rows (...) where they are known, else None.

    Padding, as in the module docstring: label < 0, or a box of zero area (x2 == x1 or y2 == y1).
    """
    boxes = concrete_array(gt_boxes)
    labels = None if gt_labels is None else concrete_array(gt_labels)
    if boxes is None or (gt_labels is not None and labels is None):
        return None
    boxes = np.asarray(boxes, np.float64)
    padding = (boxes[..., 2] == boxes[..., 0]) | (boxes[..., 3] == boxes[..., 1])
    if labels is not None:
        padding = padding | (labels < 0)
    return boxes, labels, padding


def _same_axes(a: tuple, b: tuple) -> bool:
    """Shapes equal, an unknown (None) axis of compiled code matching anything."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def match_iou(iou, positive_iou: float = 0.5, negative_iou: float = 0.4, best_anchor_for_each_gt: bool = True,
              valid=None) -> Any:
    """Match codes (..., A) int32 from an IoU matrix (..., A, M): ground-truth index (>= 0), NEGATIVE or IGNORE.

    iou: (A, M) IoUs of A anchors (or proposals) with M ground-truth boxes, or a batch (..., A, M), as
    `iou_matrix` gives them; valid: optional (..., M) bool, which columns are real objects (padding
    never matches). An anchor whose best IoU is >= positive_iou is matched to that ground truth; below
    negative_iou it is background; in between it is ignored. With best_anchor_for_each_gt, every
    ground truth also gets the anchor(s) with which it has its highest IoU (ties included), if that
    IoU is > 0, so no object is left without an anchor; where one anchor is the best of several
    objects, the object with the higher IoU takes it. No columns (M = 0): everything is NEGATIVE.
    """
    import keras.ops as K
    from keras.backend import standardize_dtype

    positive_iou = number_in(positive_iou, "positive_iou", 0, 1, low_open=True)
    negative_iou = number_in(negative_iou, "negative_iou", 0, positive_iou, note="at most positive_iou")
    one_of(best_anchor_for_each_gt, "best_anchor_for_each_gt", (True, False))
    x = as_float_tensor(iou, "iou")
    shape = tuple(x.shape)
    if len(shape) < 2:
        raise ValueError(f"iou has shape {shape}: expected (A, M) or (..., A, M), anchors by ground truths")
    if is_array_like(iou):  # values can be checked only outside compiled code
        values = K.convert_to_numpy(x)
        if values.size and not (np.isfinite(values).all() and values.min() >= 0.0 and values.max() <= 1.0 + 1e-6):
            raise ValueError(f"iou has values in [{np.nanmin(values):.3g}, {np.nanmax(values):.3g}]"
                             f"{' and NaN' if np.isnan(values).any() else ''}: expected IoUs in [0, 1]")
    if valid is None:
        real = K.ones_like(K.sum(x, axis=-2), dtype="bool")  # (..., M), also when A = 0
    else:
        real = K.convert_to_tensor(valid)
        expected, dtype = shape[:-2] + shape[-1:], standardize_dtype(real.dtype)
        if not _same_axes(tuple(real.shape), expected) or dtype != "bool":
            raise ValueError(f"valid has shape {tuple(real.shape)} and dtype {dtype}: expected a bool mask of "
                             f"shape {expected}, one flag per ground-truth column of iou")
    if shape[-1] == 0 or shape[-2] == 0:  # no objects (or no anchors): everything is background
        return numpy_like(K.full_like(K.sum(x, axis=-1), NEGATIVE, dtype="int32"), iou, valid)
    x = K.where(real[..., None, :], x, -1.0)  # padding never matches
    best_iou, best_gt = K.max(x, axis=-1), K.cast(K.argmax(x, axis=-1), "int32")
    matches = K.where(best_iou >= positive_iou, best_gt, K.where(best_iou < negative_iou, NEGATIVE, IGNORE))
    if best_anchor_for_each_gt:
        gt_best = K.max(x, axis=-2, keepdims=True)  # (..., 1, M): each object's highest IoU
        is_best = (x == gt_best) & (gt_best > 0.0) & real[..., None, :]
        forced = K.cast(K.argmax(K.where(is_best, x, -1.0), axis=-1), "int32")
        matches = K.where(K.any(is_best, axis=-1), forced, matches)
    return numpy_like(K.cast(matches, "int32"), iou, valid)


def _check_anchors(a, g) -> None:
    """anchors (A, 4), or (..., A, 4) with the leading axes of gt_boxes (..., M, 4)."""
    if len(g.shape) < 2:
        raise ValueError(f"gt_boxes has shape {tuple(g.shape)}: expected (M, 4) or (..., M, 4)")
    if len(a.shape) < 2 or (len(a.shape) > 2 and not _same_axes(tuple(a.shape[:-2]), tuple(g.shape[:-2]))):
        raise ValueError(f"anchors has shape {tuple(a.shape)}: expected (A, 4), or (..., A, 4) per image with the "
                         f"leading axes of gt_boxes, which has shape {tuple(g.shape)}")


def match_anchors(anchors, gt_boxes, gt_labels=None, positive_iou: float = 0.5, negative_iou: float = 0.4,
                  best_anchor_for_each_gt: bool = True):
    """For each anchor, the index of its ground truth (>= 0), NEGATIVE (-1) or IGNORE (-2); shape (..., A).

    anchors: (A, 4) xyxy shared by every image, or (..., A, 4) per image (e.g. proposals (B, P, 4));
    gt_boxes (..., M, 4) xyxy padded as in `utils.data.scenes.pad_boxes`; gt_labels (..., M) optional
    (-1 marks padding). The IoU matrix of anchors and ground truth goes to `match_iou`, which says
    how thresholds, ignored anchors and each object's best anchor are decided. A ground-truth box that
    is not padding (see the module docstring) with x2 < x1 or y2 < y1, NaN or inf is refused where the
    values are known (NumPy input, eager tensors; not inside compiled code).
    """
    a, g = as_boxes(anchors, "anchors"), as_boxes(gt_boxes, "gt_boxes")
    _check_anchors(a, g)
    valid = _valid_gt(g, gt_labels)  # (..., M)
    known = _known_gt(gt_boxes, gt_labels)
    if known is not None:
        check_box_values(known[0], "gt_boxes", padding=known[2],
                         note="a padding row has label -1 or a box of zero area, x2 == x1 or y2 == y1")
    matches = match_iou(iou_matrix(a, g), positive_iou, negative_iou, best_anchor_for_each_gt, valid)
    return numpy_like(matches, anchors, gt_boxes, gt_labels)


def anchor_targets(anchors, gt_boxes, gt_labels, positive_iou: float = 0.5, negative_iou: float = 0.4,
                   variances: Sequence[float] = BOX_VARIANCES, best_anchor_for_each_gt: bool = True):
    """Training targets of every anchor: class (..., A) int32 and box offsets (..., A, 4) float32.

    anchors: (A, 4) shared by every image or (..., A, 4) per image, as in `match_anchors`.
    The class target is the matched object's label (1..C), 0 for background and -1 for ignored
    anchors; the offsets are `encode_boxes(matched box, anchor, variances)` for matched anchors and
    0 elsewhere. With labels all 1 this gives a region proposal network's objectness targets. An object
    (a row that is not padding) labelled below 1 is refused where the values are known: 0 is background.
    """
    import keras.ops as K

    if gt_labels is None:
        raise ValueError("gt_labels=None: expected (..., M) labels, 1..C for objects and -1 for padding "
                         "(all 1 for a region proposal network)")
    matches = match_anchors(anchors, gt_boxes, gt_labels, positive_iou, negative_iou, best_anchor_for_each_gt)
    known = _known_gt(gt_boxes, gt_labels)
    if known is not None:
        boxes, labels, padding = known
        background = ~padding & ~(np.asarray(labels) >= 1)  # NaN too
        if background.any():
            first = tuple(int(i) for i in np.argwhere(background)[0])
            raise ValueError(f"gt_labels[{', '.join(map(str, first))}]={np.asarray(labels)[first].item()!r} labels "
                             f"the box {boxes[first].tolist()}: expected labels >= 1 for objects (0 is background), "
                             "-1 for a padding row")
    a, g = as_boxes(anchors, "anchors"), as_boxes(gt_boxes, "gt_boxes")
    labels = K.cast(K.convert_to_tensor(gt_labels), "int32")
    m = K.convert_to_tensor(matches)
    positive = m >= 0
    if g.shape[-2] == 0:
        cls = K.where(positive, 0, K.where(m == NEGATIVE, 0, -1))
        deltas = K.zeros(tuple(m.shape) + (4,), "float32")
        return numpy_like(cls, anchors, gt_boxes, gt_labels), numpy_like(deltas, anchors, gt_boxes, gt_labels)
    index = K.maximum(m, 0)
    matched_labels = K.take_along_axis(labels, index, axis=-1)
    matched_boxes = K.take_along_axis(g, K.repeat(index[..., None], 4, axis=-1), axis=-2)
    cls = K.where(positive, matched_labels, K.where(m == NEGATIVE, 0, -1))
    # only the positives' offsets are kept: the other rows encode a unit box against itself, so that a
    # padding row (whatever its corners) never reaches encode_boxes' checks
    pos = positive[..., None]
    unit = (0.0, 0.0, 1.0, 1.0)
    deltas = K.where(pos, encode_boxes(K.where(pos, matched_boxes, K.convert_to_tensor(unit, matched_boxes.dtype)),
                                       K.where(pos, a, K.convert_to_tensor(unit, a.dtype)), variances), 0.0)
    return (numpy_like(K.cast(cls, "int32"), anchors, gt_boxes, gt_labels),
            numpy_like(K.cast(deltas, "float32"), anchors, gt_boxes, gt_labels))
