"""Non-maximum suppression: the greedy algorithm written out, and TensorFlow's kernels for real use.

Boxes are xyxy pixels as everywhere in utils. `nms_reference` is the algorithm notebook 09 teaches,
in plain NumPy; `nms`, `batched_nms` and `combined_nms` run `tf.image.non_max_suppression` and
`tf.image.combined_non_max_suppression`, which the tests show to keep the same boxes.
TensorFlow's kernels take (y1, x1, y2, x2); IoU does not change when x and y swap, but the boxes
are converted anyway, so that nothing depends on that. A NaN or infinite box or score is refused (the
kernels would drop such a box without a word); `combined_nms` checks them where their values are known
(not inside compiled code).
"""

from __future__ import annotations

import numpy as np

from utils.course.checks import finite_in, finite_where_known, number_in, numpy_like
from utils.detection.boxes import as_boxes

_FINITE_BOXES = "finite (x1, y1, x2, y2) boxes"
_FINITE_SCORES = "finite scores (a NaN score would drop its box without a word)"


def _finite_boxes(boxes) -> np.ndarray:
    """boxes as a float32 (N, 4) array, checked to be finite."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4), np.float32)
    return finite_in(b, "boxes", expected=_FINITE_BOXES)


def _scores_for(boxes: np.ndarray, scores) -> np.ndarray:
    s = np.asarray(scores, np.float32)
    if s.shape != boxes.shape[:1]:
        raise ValueError(f"scores has shape {s.shape}: expected ({boxes.shape[0]},), one per box")
    return finite_in(s, "scores", expected=_FINITE_SCORES)


def nms_reference(boxes, scores, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy NMS in NumPy: indices of the kept boxes, highest score first.

    Repeat: keep the highest-scoring box left, drop every remaining box whose IoU with it exceeds
    iou_threshold. Ties in score keep the lower index first, as TensorFlow does.
    """
    iou_threshold = number_in(iou_threshold, "iou_threshold", 0, 1)
    b = _finite_boxes(boxes)
    s = _scores_for(b, scores)
    order = np.argsort(-s, kind="stable")
    areas = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.clip(np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]), 0, None)
        h = np.clip(np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]), 0, None)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, np.int64)


def nms(boxes, scores, iou_threshold: float = 0.5, score_threshold: float = float("-inf"),
        max_output: int = 100) -> np.ndarray:
    """Indices of the boxes kept by `tf.image.non_max_suppression`, highest score first (one class)."""
    import tensorflow as tf

    iou_threshold = number_in(iou_threshold, "iou_threshold", 0, 1)
    b = _finite_boxes(boxes)
    s = _scores_for(b, scores)
    keep = tf.image.non_max_suppression(b[:, [1, 0, 3, 2]], s, int(max_output), iou_threshold=iou_threshold,
                                        score_threshold=score_threshold)
    return keep.numpy().astype(np.int64)


def batched_nms(boxes, scores, labels, iou_threshold: float = 0.5, score_threshold: float = float("-inf"),
                max_output: int = 100) -> np.ndarray:
    """Per-class NMS of one image: boxes of different labels never suppress each other; kept indices by score.

    The trick of torchvision's batched_nms: shift each class's boxes by (label * a span larger than
    all the boxes), so boxes of different classes cannot overlap, and run NMS once.
    """
    b = _finite_boxes(boxes)  # before the shift: a NaN would spread to every box
    lab = np.asarray(labels).reshape(-1)
    if lab.shape != b.shape[:1]:
        raise ValueError(f"labels has shape {lab.shape}: expected ({b.shape[0]},), one per box")
    if not len(b):
        return np.zeros(0, np.int64)
    span = float(np.max(np.abs(b))) * 2.0 + 1.0
    return nms(b + (lab.astype(np.float32) * span)[:, None], scores, iou_threshold, score_threshold, max_output)


def combined_nms(boxes, scores, max_per_class: int = 100, max_total: int = 100, iou_threshold: float = 0.5,
                 score_threshold: float = 0.0):
    """Per-class NMS of a batch with `tf.image.combined_non_max_suppression`: a dict of padded detections.

    boxes: (B, A, 4) xyxy shared by all classes, or (B, A, C, 4) one box per class; scores (B, A, C)
    for the C object classes (no background column). Returns {"boxes" (B, K, 4) xyxy, "scores"
    (B, K), "labels" (B, K) int32 in 1..C, "valid" (B,) int32}, K = max_total, sorted by score; rows
    past valid[i] are padding (label -1). Pixel boxes are not clipped (TensorFlow's default clip
    to [0, 1] is for relative boxes). NumPy in, NumPy out; runs on tensors in compiled code too.
    """
    import keras.ops as K
    import tensorflow as tf

    iou_threshold = number_in(iou_threshold, "iou_threshold", 0, 1)
    b = as_boxes(boxes, "boxes")
    s = K.convert_to_tensor(scores)
    finite_where_known(boxes, "boxes", expected=_FINITE_BOXES)
    finite_where_known(scores, "scores", expected=_FINITE_SCORES)
    given = tuple(b.shape)
    if len(b.shape) == 3:
        b = b[:, :, None, :]
    if len(b.shape) != 4 or len(s.shape) != 3 or b.shape[1] != s.shape[1]:
        raise ValueError(f"boxes has shape {given} and scores {tuple(s.shape)}: expected (B, A, 4) or "
                         "(B, A, C, 4) boxes and (B, A, C) scores")
    out = tf.image.combined_non_max_suppression(
        tf.gather(b, [1, 0, 3, 2], axis=-1), tf.cast(s, tf.float32), int(max_per_class), int(max_total),
        iou_threshold=iou_threshold, score_threshold=score_threshold, clip_boxes=False)
    valid = tf.cast(out.valid_detections, tf.int32)
    real = tf.range(int(max_total))[None, :] < valid[:, None]
    result = {"boxes": tf.gather(out.nmsed_boxes, [1, 0, 3, 2], axis=-1), "scores": out.nmsed_scores,
              "labels": tf.where(real, tf.cast(out.nmsed_classes, tf.int32) + 1, -1), "valid": valid}
    return {k: numpy_like(v, boxes, scores) for k, v in result.items()}


def unpad(detections: dict) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per-image lists (boxes, scores, labels) from `combined_nms`'s padded dict, for coco.to_coco_results."""
    valid = np.asarray(detections["valid"])
    boxes, scores, labels = (np.asarray(detections[k]) for k in ("boxes", "scores", "labels"))
    return ([boxes[i, :n] for i, n in enumerate(valid)], [scores[i, :n] for i, n in enumerate(valid)],
            [labels[i, :n] for i, n in enumerate(valid)])
