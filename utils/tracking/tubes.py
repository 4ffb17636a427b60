"""Bounding tubes: a box in each of T consecutive frames, TrackNet's extension of Faster R-CNN's boxes to clips.

Shapes: a tube is (T, 4) xyxy pixel boxes, one per frame; a batch of tubes (..., N, T, 4). Ground-truth
tubes carry `present` (..., M, T): in which frames the object is visible (an occluded or departed
vehicle has no box there). Tube IoU is the mean, over the frames where the ground truth is present,
of the per-frame IoUs (Kalogeiton et al.'s and TrackNet's tube overlap); a tube is encoded frame by frame
with Faster R-CNN's box offsets (`utils.detection.boxes.encode_boxes`) against its anchor tube or
proposal tube: 4T numbers, the simple parameterisation (the paper regresses the tube the same way,
box by box). An anchor tube is one anchor box repeated over the T frames: the network's offsets bend
it into the vehicle's path.

Everything runs on keras.ops in compiled code as well as on NumPy arrays (NumPy in, NumPy out).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras.ops as K
import numpy as np

from utils.course.checks import as_float_tensor, number_in, numpy_like, positive_int
from utils.detection.boxes import BOX_VARIANCES, clip_boxes, decode_boxes, encode_boxes, iou_matrix
from utils.detection.matching import match_iou


def _tubes(x, name: str):
    t = as_float_tensor(x, name, last_axis=4)
    if len(t.shape) < 3:
        raise ValueError(f"{name} has shape {tuple(t.shape)}: expected tubes (..., N, T, 4), a box per frame")
    return t


def anchor_tubes(anchors, length: int) -> np.ndarray:
    """(A, T, 4) anchor tubes: each of the A xyxy anchors repeated in each of the T frames."""
    a = np.asarray(anchors, np.float32)
    if a.ndim != 2 or a.shape[-1] != 4:
        raise ValueError(f"anchors has shape {a.shape}: expected (A, 4) xyxy boxes")
    return np.repeat(a[:, None, :], positive_int(length, "length"), axis=1)


def tube_iou(tubes1, tubes2, present2=None):
    """(..., N, M): the mean per-frame IoU of tubes (..., N, T, 4) with tubes (..., M, T, 4).

    present2 (..., M, T) bool: only the frames where the second tube exists count; a tube present in
    no frame has IoU 0 with everything.
    """
    a, b = _tubes(tubes1, "tubes1"), _tubes(tubes2, "tubes2")
    if a.shape[-2] != b.shape[-2]:
        raise ValueError(f"tubes1 has {a.shape[-2]} frames and tubes2 {b.shape[-2]}: expected tubes of one length")
    # (..., T, N, 4) x (..., T, M, 4) -> per-frame IoU (..., T, N, M)
    per_frame = iou_matrix(K.swapaxes(a, -2, -3), K.swapaxes(b, -2, -3))
    if present2 is None:
        return numpy_like(K.mean(per_frame, axis=-3), tubes1, tubes2)
    p = K.cast(K.convert_to_tensor(present2), per_frame.dtype)
    if tuple(p.shape) != tuple(b.shape[:-1]):
        raise ValueError(f"present2 has shape {tuple(p.shape)}: expected {tuple(b.shape[:-1])}, a flag per frame "
                         "of each tube of tubes2")
    w = K.swapaxes(p, -1, -2)[..., :, None, :]                                 # (..., T, 1, M)
    frames = K.sum(w, axis=-3)                                                   # (..., 1, M)
    return numpy_like(K.sum(per_frame * w, axis=-3) / K.maximum(frames, 1.0), tubes1, tubes2, present2)


def encode_tubes(tubes, reference, variances: Sequence[float] = BOX_VARIANCES):
    """Offsets (..., N, T, 4) of tubes from reference tubes (anchor or proposal tubes) of the same shape."""
    deltas = encode_boxes(_tubes(tubes, "tubes"), _tubes(reference, "reference"), variances)
    return numpy_like(deltas, tubes, reference)


def decode_tubes(deltas, reference, image_size: tuple[int, int] | None = None,
                 variances: Sequence[float] = BOX_VARIANCES):
    """The inverse of `encode_tubes`; with image_size (height, width), each box is clipped to the frame."""
    tubes = decode_boxes(_tubes(deltas, "deltas"), _tubes(reference, "reference"), variances)
    return numpy_like(tubes if image_size is None else clip_boxes(tubes, *image_size), deltas, reference)


def mean_boxes(tubes):
    """(..., N, 4): each tube's box averaged over its frames (a tube's footprint, for NMS and pictures)."""
    return numpy_like(K.mean(_tubes(tubes, "tubes"), axis=-2), tubes)


def tube_targets(tubes, gt_tubes, gt_present, gt_labels, positive_iou: float = 0.5, negative_iou: float = 0.3,
                 best_for_each_gt: bool = True, variances: Sequence[float] = BOX_VARIANCES):
    """Training targets of anchor or proposal tubes against ground truth: labels, offsets and frame weights.

    tubes (A, T, 4) shared by the batch or (B, A, T, 4); gt_tubes (B, M, T, 4), gt_present (B, M, T)
    bool, gt_labels (B, M) with 1..C for vehicles and -1 for padding. Returns labels (B, A) (the
    matched class, 0 background, -1 ignored: between the two IoU thresholds), offsets (B, A, T, 4)
    (`encode_tubes` of the matched ground truth, 0 elsewhere) and weights (B, A, T) (1 in the frames
    where a positive's object is present: only those boxes are regressed).
    """
    g = _tubes(gt_tubes, "gt_tubes")
    t = _tubes(tubes, "tubes")
    labels = K.cast(K.convert_to_tensor(gt_labels), "int32")
    present = K.convert_to_tensor(gt_present)
    if len(g.shape) != 4 or tuple(labels.shape) != tuple(g.shape[:2]) or tuple(present.shape) != tuple(g.shape[:3]):
        raise ValueError(f"gt_tubes {tuple(g.shape)}, gt_present {tuple(present.shape)}, gt_labels "
                         f"{tuple(labels.shape)}: expected (B, M, T, 4), (B, M, T) and (B, M)")
    if len(t.shape) == 3:
        t = K.broadcast_to(t[None], (K.shape(g)[0], *t.shape))
    iou = tube_iou(t, g, present)                                              # (B, A, M)
    matches = match_iou(iou, positive_iou, negative_iou, best_for_each_gt, valid=labels >= 0)
    matched = K.maximum(matches, 0)
    positive = matches >= 0
    cls = K.where(positive, K.take_along_axis(labels, matched, axis=1), K.where(matches == -1, 0, -1))
    gt_for = K.take_along_axis(g, matched[:, :, None, None], axis=1)           # (B, A, T, 4)
    deltas = K.where(positive[..., None, None], encode_tubes(gt_for, t, variances), 0.0)
    frames = K.take_along_axis(K.cast(present, "float32"), matched[:, :, None], axis=1)
    weights = K.where(positive[..., None], frames, 0.0)
    return tuple(numpy_like(v, tubes, gt_tubes, gt_present, gt_labels) for v in (cls, deltas, weights))


def tube_nms(tubes, scores, max_output: int, iou_threshold: float = 0.5, score_threshold: float = 0.0):
    """Indices (B, max_output) of the kept tubes, best first, and their count (B,): NMS of the tubes' mean boxes.

    tubes (B, N, T, 4), scores (B, N). TensorFlow's batched NMS works on boxes; over a short clip a
    tube's mean box is a close stand-in for the tube (rows past the count are padding, index 0).
    """
    import tensorflow as tf

    boxes = mean_boxes(tubes)
    s = as_float_tensor(scores, "scores")
    if len(s.shape) != 2 or tuple(s.shape) != tuple(boxes.shape[:2]):
        raise ValueError(f"scores has shape {tuple(s.shape)}: expected {tuple(boxes.shape[:2])}, one per tube")
    idx, valid = tf.image.non_max_suppression_padded(
        tf.gather(tf.cast(boxes, tf.float32), [1, 0, 3, 2], axis=-1), tf.cast(s, tf.float32),
        positive_int(max_output, "max_output"), iou_threshold=number_in(iou_threshold, "iou_threshold", 0.0, 1.0),
        score_threshold=number_in(score_threshold, "score_threshold", 0.0, 1.0), pad_to_max_output_size=True)
    return numpy_like(tf.cast(idx, tf.int32), tubes, scores), numpy_like(tf.cast(valid, tf.int32), tubes, scores)
