"""Box coding: formats, areas, the IoU matrix, and (dx, dy, dw, dh) offsets of boxes against anchors.

Conventions (those of utils.data.scenes and utils.data.coco):
- boxes are (..., 4) arrays in pixels, "xyxy" = (x1, y1, x2, y2) with x2, y2 exclusive, so a box's
  width is x2 - x1; "center_xywh" = (cx, cy, w, h). Every format of `keras.utils.bounding_boxes`
  is accepted by `convert_format`, which delegates to it.
- NumPy in, NumPy out: the functions are written in `keras.ops`, so they also run on tensors and
  inside a compiled model or a tf.data map, where they return tensors.

`iou_matrix`, `encode_boxes` and `decode_boxes` are written out because notebook 09 teaches them;
the tests check them against `keras.utils.bounding_boxes.compute_iou`, `encode_box_to_deltas` and
`decode_deltas_to_boxes`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from utils.course.checks import (
    as_float_array,
    as_float_tensor,
    concrete_array,
    is_array_like,
    numpy_like,
    one_of,
    positive_float,
    xyxy_boxes,
)

FORMATS: tuple[str, ...] = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw",
                            "rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh")
# SSD's and Faster R-CNN's scaling of the offsets (the "variances"): dividing the centre offsets by
# 0.1 and the log-sizes by 0.2 brings the typical target to about unit size for the regression loss.
BOX_VARIANCES: tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2)
# Largest log-scale a decoded box may grow by (torchvision's value, log(1000 / 16)): keeps exp()
# finite when an untrained head predicts a huge dw or dh.
MAX_LOG_SCALE = math.log(1000.0 / 16.0)


def as_boxes(x: object, name: str) -> Any:
    """x as a float tensor of (..., 4) boxes (float32 unless already a float tensor); see checks.as_float_tensor."""
    return as_float_tensor(x, name, last_axis=4)


def check_box_values(boxes, name: str, padding=None, note: str | None = None) -> None:
    """Refuse (..., 4) xyxy boxes with NaN or inf, x2 < x1 or y2 < y1 where their values are known now.

    Known: NumPy input or an eager tensor (`checks.concrete_array`); inside compiled code (tf.function,
    a model's traced step, a tf.data map) a tensor has no values yet and nothing is checked, so the check
    costs nothing in training. padding: an optional bool array (...) of rows left out whatever their
    corners. The error is `checks.xyxy_boxes`'s, with note (if given) added in parentheses.
    """
    values = concrete_array(boxes)
    if values is None or values.size == 0:
        return
    rows = np.asarray(values, np.float64).reshape(-1, 4)
    if padding is not None:
        rows = rows[~np.asarray(padding, bool).reshape(-1)]
    try:
        xyxy_boxes(rows, name)
    except ValueError as err:
        if note is None:
            raise
        raise ValueError(f"{err} ({note})") from None


def _check_format(fmt: str, name: str) -> str:
    """fmt in lower case, checked to be one of FORMATS (the error shows fmt as given)."""
    return one_of(fmt.lower() if isinstance(fmt, str) and fmt.lower() in FORMATS else fmt, name, FORMATS)


def convert_format(boxes, source: str, target: str, height: int | None = None, width: int | None = None):
    """Boxes from one format to another (see FORMATS) through keras.utils.bounding_boxes.convert_format.

    height and width (the image sides in pixels) are needed only between a relative ("rel_...") and
    an absolute format.
    """
    from keras.utils import bounding_boxes

    source, target = _check_format(source, "source"), _check_format(target, "target")
    if (source.startswith("rel_") != target.startswith("rel_")) and (height is None or width is None):
        raise ValueError(f"height={height!r}, width={width!r}: expected both image sides to convert from "
                         f"{source!r} to {target!r}")
    x = as_boxes(boxes, "boxes")
    if source.startswith("rel_") and target.startswith("rel_") and (height is None or width is None):
        # Between two relative formats Keras converts as between the absolute ones and never reads the
        # sides, but still refuses to go on without them.
        height, width = 1, 1
    if source == "rel_center_xywh" and not target.startswith("rel_"):
        # Keras 3.13 and 3.14 scale x by the height and y by the width when converting from this
        # format to an absolute one (fixed in later releases): take the corners here, in relative
        # units, and let Keras scale "rel_xyxy", which every release converts right.
        import keras.ops as K

        half = 0.5 * x[..., 2:]
        x, source = K.concatenate([x[..., :2] - half, x[..., :2] + half], axis=-1), "rel_xyxy"
    return numpy_like(bounding_boxes.convert_format(x, source, target, height=height, width=width, dtype=x.dtype),
                      boxes)


def corners_to_center(boxes):
    """(x1, y1, x2, y2) -> (cx, cy, w, h)."""
    import keras.ops as K

    b = as_boxes(boxes, "boxes")
    wh = b[..., 2:] - b[..., :2]
    return numpy_like(K.concatenate([b[..., :2] + 0.5 * wh, wh], axis=-1), boxes)


def center_to_corners(boxes):
    """(cx, cy, w, h) -> (x1, y1, x2, y2)."""
    import keras.ops as K

    b = as_boxes(boxes, "boxes")
    half = 0.5 * b[..., 2:]
    return numpy_like(K.concatenate([b[..., :2] - half, b[..., :2] + half], axis=-1), boxes)


def box_area(boxes):
    """Area of (..., 4) xyxy boxes; a box with x2 < x1 or y2 < y1 has area 0."""
    import keras.ops as K

    b = as_boxes(boxes, "boxes")
    return numpy_like(K.maximum(b[..., 2] - b[..., 0], 0.0) * K.maximum(b[..., 3] - b[..., 1], 0.0), boxes)


def iou_matrix(boxes1, boxes2):
    """Pairwise IoU of xyxy boxes: (..., N, 4) and (..., M, 4) -> (..., N, M); 0 where the union is empty.

    Leading axes broadcast, so a batch of anchor sets against a batch of ground truths works, and
    so does one anchor set (A, 4) against a batch (B, M, 4) once it is given a leading axis. The
    same formula runs on NumPy for NumPy input (the trackers call it thousands of times a video).
    """
    if is_array_like(boxes1) and is_array_like(boxes2):  # NumPy in: NumPy's ops, no backend round trip per call
        K, a, b = np, as_float_array(boxes1, "boxes1", 4), as_float_array(boxes2, "boxes2", 4)
    else:
        import keras.ops as K

        a, b = as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2")
    a, b = a[..., :, None, :], b[..., None, :, :]  # (..., N, 1, 4) and (..., 1, M, 4)
    width = K.maximum(K.minimum(a[..., 2], b[..., 2]) - K.maximum(a[..., 0], b[..., 0]), 0.0)
    height = K.maximum(K.minimum(a[..., 3], b[..., 3]) - K.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = width * height
    area_a = K.maximum(a[..., 2] - a[..., 0], 0.0) * K.maximum(a[..., 3] - a[..., 1], 0.0)
    area_b = K.maximum(b[..., 2] - b[..., 0], 0.0) * K.maximum(b[..., 3] - b[..., 1], 0.0)
    union = area_a + area_b - inter
    # Two empty boxes have union 0: their IoU is 0, not 0/0.
    iou = K.where(union > 0, inter / K.maximum(union, 1e-12), 0.0)
    return numpy_like(iou, boxes1, boxes2)


def _variances(variances: Sequence[float]):
    try:
        v = np.asarray(variances, np.float32)
    except (TypeError, ValueError):
        v = np.zeros(0, np.float32)
    if v.shape != (4,) or not np.all(np.isfinite(v) & (v > 0)):
        raise ValueError(f"variances={variances!r}: expected 4 positive numbers (for dx, dy, dw, dh)")
    return v


def encode_boxes(boxes, anchors, variances: Sequence[float] = BOX_VARIANCES):
    """Offsets (dx, dy, dw, dh) of xyxy boxes from xyxy anchors of the same shape (or broadcastable).

    dx = (cx - cx_a) / w_a / v0, dy = (cy - cy_a) / h_a / v1, dw = log(w / w_a) / v2,
    dh = log(h / h_a) / v3 (Girshick et al. 2014; SSD's variances v). Sizes are clamped at 1e-6 so
    that an empty box gives a large finite offset, not -inf. Boxes or anchors with x2 < x1 or y2 < y1,
    NaN or inf are refused where their values are known (see `check_box_values`).
    """
    import keras.ops as K

    v = _variances(variances)
    b, a = as_boxes(boxes, "boxes"), as_boxes(anchors, "anchors")
    check_box_values(boxes, "boxes")
    check_box_values(anchors, "anchors")
    b_wh = K.maximum(b[..., 2:] - b[..., :2], 1e-6)
    a_wh = K.maximum(a[..., 2:] - a[..., :2], 1e-6)
    b_c, a_c = b[..., :2] + 0.5 * (b[..., 2:] - b[..., :2]), a[..., :2] + 0.5 * (a[..., 2:] - a[..., :2])
    deltas = K.concatenate([(b_c - a_c) / a_wh, K.log(b_wh / a_wh)], axis=-1) / K.cast(v, b.dtype)
    return numpy_like(deltas, boxes, anchors)


def decode_boxes(deltas, anchors, variances: Sequence[float] = BOX_VARIANCES):
    """The inverse of `encode_boxes`: xyxy boxes from offsets (dx, dy, dw, dh) against xyxy anchors.

    dw and dh are clamped at MAX_LOG_SCALE (after the variance), as torchvision does, so an untrained
    head cannot produce an infinite box.
    """
    import keras.ops as K

    v = _variances(variances)
    d, a = as_boxes(deltas, "deltas"), as_boxes(anchors, "anchors")
    d = d * K.cast(v, d.dtype)
    a_wh = a[..., 2:] - a[..., :2]
    a_c = a[..., :2] + 0.5 * a_wh
    centre = a_c + d[..., :2] * a_wh
    half = 0.5 * a_wh * K.exp(K.minimum(d[..., 2:], MAX_LOG_SCALE))
    return numpy_like(K.concatenate([centre - half, centre + half], axis=-1), deltas, anchors)


def clip_boxes(boxes, height: float, width: float):
    """xyxy boxes clipped to the image [0, width] x [0, height]."""
    import keras.ops as K

    b = as_boxes(boxes, "boxes")
    height = positive_float(height, "height", note="the image side in pixels")
    width = positive_float(width, "width", note="the image side in pixels")
    x = K.clip(b[..., 0::2], 0.0, float(width))
    y = K.clip(b[..., 1::2], 0.0, float(height))
    return numpy_like(K.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1), boxes)
