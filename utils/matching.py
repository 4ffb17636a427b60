"""Matching anchors to ground-truth boxes, training targets, and the sampling of anchors for a balanced loss.

Every function takes one image or a batch (leading axes) and runs on NumPy arrays (giving NumPy
back), on tensors and inside compiled code, since it is written in `keras.ops`. Ground truth comes
padded as `utils.scenes.pad_boxes` gives it: (..., M, 4) xyxy boxes and (..., M) labels, where a
row with label -1 (or a box of zero area) is padding, not an object.

Matching codes, as in torchvision's Matcher: a matched anchor holds the index (>= 0) of its ground
truth, NEGATIVE (-1) marks background and IGNORE (-2) an anchor between the two thresholds, which
the loss leaves out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.boxes import BOX_VARIANCES, _as_float, _numpy_like, encode_boxes, iou_matrix

NEGATIVE = -1
IGNORE = -2


def _check_thresholds(positive_iou: float, negative_iou: float) -> None:
    if not 0.0 < positive_iou <= 1.0:
        raise ValueError(f"positive_iou={positive_iou!r}: expected a number in (0, 1]")
    if not 0.0 <= negative_iou <= positive_iou:
        raise ValueError(f"negative_iou={negative_iou!r}: expected a number in [0, positive_iou={positive_iou}]")


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


def match_anchors(anchors, gt_boxes, gt_labels=None, positive_iou: float = 0.5, negative_iou: float = 0.4,
                  best_anchor_for_each_gt: bool = True):
    """For each anchor, the index of its ground truth (>= 0), NEGATIVE (-1) or IGNORE (-2); shape (..., A).

    anchors (A, 4) xyxy; gt_boxes (..., M, 4) xyxy padded as in `utils.scenes.pad_boxes`; gt_labels
    (..., M) optional (-1 marks padding). An anchor whose best IoU is >= positive_iou is matched to
    that ground truth; below negative_iou it is background; in between it is ignored. With
    best_anchor_for_each_gt, every ground truth also gets the anchor(s) with which it has its highest
    IoU (ties included), whatever that IoU, so no object is left without an anchor; where one anchor
    is the best of several objects, the object with the higher IoU takes it.
    """
    import keras.ops as K

    _check_thresholds(positive_iou, negative_iou)
    a, g = _as_float(anchors, "anchors"), _as_float(gt_boxes, "gt_boxes")
    if len(a.shape) != 2:
        raise ValueError(f"anchors has shape {tuple(a.shape)}: expected (A, 4)")
    if len(g.shape) < 2:
        raise ValueError(f"gt_boxes has shape {tuple(g.shape)}: expected (M, 4) or (..., M, 4)")
    if g.shape[-2] == 0:  # no objects at all: everything is background
        out = K.full(tuple(g.shape[:-2]) + (a.shape[0],), NEGATIVE, dtype="int32")
        return _numpy_like(out, anchors, gt_boxes)
    valid = _valid_gt(g, gt_labels)  # (..., M)
    iou = iou_matrix(a, g)  # (..., A, M)
    iou = K.where(valid[..., None, :], iou, -1.0)  # padding never matches
    best_iou, best_gt = K.max(iou, axis=-1), K.cast(K.argmax(iou, axis=-1), "int32")
    matches = K.where(best_iou >= positive_iou, best_gt,
                      K.where(best_iou < negative_iou, NEGATIVE, IGNORE))
    if best_anchor_for_each_gt:
        gt_best = K.max(iou, axis=-2, keepdims=True)  # (..., 1, M): each object's highest IoU
        is_best = (iou == gt_best) & (gt_best > 0.0) & valid[..., None, :]
        forced = K.cast(K.argmax(K.where(is_best, iou, -1.0), axis=-1), "int32")
        matches = K.where(K.any(is_best, axis=-1), forced, matches)
    return _numpy_like(K.cast(matches, "int32"), anchors, gt_boxes)


def anchor_targets(anchors, gt_boxes, gt_labels, positive_iou: float = 0.5, negative_iou: float = 0.4,
                   variances: Sequence[float] = BOX_VARIANCES, best_anchor_for_each_gt: bool = True):
    """Training targets of every anchor: class (..., A) int32 and box offsets (..., A, 4) float32.

    The class target is the matched object's label (1..C), 0 for background and -1 for ignored
    anchors; the offsets are `encode_boxes(matched box, anchor, variances)` for matched anchors and
    0 elsewhere. With labels all 1 this gives a region proposal network's objectness targets.
    """
    import keras.ops as K

    matches = match_anchors(anchors, gt_boxes, gt_labels, positive_iou, negative_iou, best_anchor_for_each_gt)
    a, g = _as_float(anchors, "anchors"), _as_float(gt_boxes, "gt_boxes")
    labels = K.cast(K.convert_to_tensor(gt_labels), "int32")
    m = K.convert_to_tensor(matches)
    positive = m >= 0
    if g.shape[-2] == 0:
        cls = K.where(positive, 0, K.where(m == NEGATIVE, 0, -1))
        deltas = K.zeros(tuple(m.shape) + (4,), "float32")
        return _numpy_like(cls, anchors, gt_boxes, gt_labels), _numpy_like(deltas, anchors, gt_boxes, gt_labels)
    index = K.maximum(m, 0)
    matched_labels = K.take_along_axis(labels, index, axis=-1)
    matched_boxes = K.take_along_axis(g, K.repeat(index[..., None], 4, axis=-1), axis=-2)
    cls = K.where(positive, matched_labels, K.where(m == NEGATIVE, 0, -1))
    deltas = K.where(positive[..., None], encode_boxes(matched_boxes, a, variances), 0.0)
    return (_numpy_like(K.cast(cls, "int32"), anchors, gt_boxes, gt_labels),
            _numpy_like(K.cast(deltas, "float32"), anchors, gt_boxes, gt_labels))


def _ranks(key):
    """Rank of each entry along the last axis when sorted ascending (0 = smallest)."""
    import keras.ops as K

    return K.argsort(K.argsort(key, axis=-1), axis=-1)


def sample_balanced(labels, num_samples: int, positive_fraction: float = 0.5, seed: int | None = None):
    """A random mask (..., A) of at most num_samples anchors, at most a positive_fraction of them positive.

    labels: (..., A) class targets, > 0 positive, 0 negative, < 0 ignored (never sampled). Positives
    are drawn first, up to num_samples * positive_fraction; negatives fill the rest (torchvision's
    BalancedPositiveNegativeSampler; Faster R-CNN uses 256 and 0.5 for the RPN, 512 and 0.25 for the
    box head). The same seed gives the same mask.
    """
    import keras
    import keras.ops as K

    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
        raise ValueError(f"num_samples={num_samples!r}: expected a positive integer")
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction={positive_fraction!r}: expected a number in [0, 1]")
    lab = K.convert_to_tensor(labels)
    positive, negative = lab > 0, lab == 0
    n_pos = K.minimum(K.sum(K.cast(positive, "int32"), axis=-1, keepdims=True), int(num_samples * positive_fraction))
    n_neg = K.minimum(K.sum(K.cast(negative, "int32"), axis=-1, keepdims=True), num_samples - n_pos)
    # A random order among the candidates: uniform keys, the other anchors pushed past the end.
    key = keras.random.uniform(tuple(lab.shape), seed=seed)
    take_pos = positive & (_ranks(K.where(positive, key, 2.0)) < n_pos)
    take_neg = negative & (_ranks(K.where(negative, key, 2.0)) < n_neg)
    return _numpy_like(take_pos | take_neg, labels)


def hard_negative_mask(losses, labels, neg_pos_ratio: float = 3.0, min_negatives: int = 0):
    """SSD's hard negative mining: the mask (..., A) of the positives and the highest-loss negatives.

    losses: (..., A) per-anchor classification losses; labels: (..., A) class targets (> 0 positive,
    0 negative, < 0 ignored). Each image keeps its negatives with the largest loss, neg_pos_ratio
    times as many as it has positives (at least min_negatives), so that the easy background does not
    drown the objects (Liu et al. 2016 use 3:1).
    """
    import keras.ops as K

    if not neg_pos_ratio >= 0:
        raise ValueError(f"neg_pos_ratio={neg_pos_ratio!r}: expected a number >= 0")
    lab, loss = K.convert_to_tensor(labels), K.convert_to_tensor(losses)
    if tuple(lab.shape) != tuple(loss.shape):
        raise ValueError(f"losses has shape {tuple(loss.shape)} and labels {tuple(lab.shape)}: expected the same")
    positive, negative = lab > 0, lab == 0
    n_pos = K.sum(K.cast(positive, "float32"), axis=-1, keepdims=True)
    n_neg = K.maximum(K.floor(neg_pos_ratio * n_pos), float(min_negatives))
    # Sort descending by loss; anchors that are not negatives go last.
    key = K.where(negative, -K.cast(K.stop_gradient(loss), "float32"), np.inf)
    hard = negative & (K.cast(_ranks(key), "float32") < n_neg)
    return _numpy_like(positive | hard, losses, labels)
