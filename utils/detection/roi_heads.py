"""Faster R-CNN's second stage (Ren et al. 2015): sampling the proposals, the box head, its two losses, detections.

Split as torchvision's `roi_heads.py`: `sample_proposals` adds the ground-truth boxes to each image's
proposals, matches them to the objects at IoU 0.5 (foreground: the object's class; background: 0)
and samples a fixed number per image with a fixed foreground fraction (Faster R-CNN: 512 and 0.25);
`box_head` turns each RoI's pooled feature into class logits (background included) and
class-specific box offsets; `box_head_losses` are the lecture's last two losses, final
classification and final box regression (foreground only); `detect` decodes the offsets of every
class, clips, and keeps the best boxes by per-class NMS above a score threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import keras.ops as K

from utils.course.checks import as_float_tensor, number_in, numpy_like, positive_int
from utils.detection.boxes import BOX_VARIANCES, clip_boxes, decode_boxes
from utils.detection.matching import anchor_targets
from utils.detection.nms import combined_nms
from utils.detection.rpn import sampled_mean_losses, smooth_l1
from utils.detection.sampling import sample_balanced


def sample_proposals(proposals, gt_boxes, gt_labels, num_samples: int = 128, positive_fraction: float = 0.25,
                     iou_threshold: float = 0.5, valid=None, seed: int | None = None,
                     variances: Sequence[float] = BOX_VARIANCES):
    """Training RoIs: boxes (B, S, 4), labels (B, S) (class, 0 background, -1 unused row), offsets (B, S, 4).

    proposals (B, P, 4) with valid (B,) real rows each (the rest padding, as `rpn.propose` gives
    them); gt (B, M, 4) and labels (B, M), -1 for padding. The ground-truth boxes join the proposals,
    so every object has at least one perfect RoI from the first step on.
    """
    num_samples = positive_int(num_samples, "num_samples")
    iou_threshold = number_in(iou_threshold, "iou_threshold", 0.0, 1.0, low_open=True)
    p = as_float_tensor(proposals, "proposals", last_axis=4)
    g = as_float_tensor(gt_boxes, "gt_boxes", last_axis=4)
    labels = K.cast(K.convert_to_tensor(gt_labels), "int32")
    if len(p.shape) != 3 or len(g.shape) != 3:
        raise ValueError(f"proposals has shape {tuple(p.shape)} and gt_boxes {tuple(g.shape)}: expected (B, P, 4) "
                         "and (B, M, 4)")
    n_props = K.shape(p)[1]
    limit = n_props if valid is None else K.cast(K.convert_to_tensor(valid), "int32")[:, None]
    real = K.arange(n_props)[None, :] < limit
    rois = K.concatenate([p, g], axis=1)                                      # (B, P + M, 4)
    usable = K.concatenate([real, labels >= 0], axis=1)                        # padding rows never sampled
    cls, deltas = anchor_targets(rois, g, labels, iou_threshold, iou_threshold, variances,
                                 best_anchor_for_each_gt=False)
    cls = K.where(usable, cls, -1)
    chosen = K.convert_to_tensor(sample_balanced(cls, num_samples, positive_fraction, seed=seed))
    # the sampled rows first (foreground before background), then unused rows: a fixed S = num_samples per image
    key = K.cast(chosen, "float32") * (2.0 + K.cast(cls > 0, "float32"))
    rows = None if p.shape[1] is None or g.shape[1] is None else int(p.shape[1]) + int(g.shape[1])
    _, order = K.top_k(key, num_samples if rows is None else min(num_samples, rows))
    picked = K.take_along_axis(chosen, order, axis=1)
    out_labels = K.where(picked, K.take_along_axis(cls, order, axis=1), -1)
    out_boxes = K.take_along_axis(rois, order[..., None], axis=1)
    out_deltas = K.take_along_axis(K.convert_to_tensor(deltas), order[..., None], axis=1)
    return tuple(numpy_like(v, proposals, gt_boxes, gt_labels) for v in (out_boxes, out_labels, out_deltas))


def box_head(pooled: keras.KerasTensor, num_classes: int, hidden: int = 256,
             name: str = "box_head") -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Class logits (B, S, C + 1), background first, and class-specific offsets (B, S, C, 4) of pooled RoIs.

    pooled: (B, S, P, P, ch) from RoI pooling or RoIAlign; two fully connected layers of `hidden`
    units (Faster R-CNN's "TwoMLPHead", 1024 wide in the paper) feed both outputs.
    """
    from keras import layers

    num_classes, hidden = positive_int(num_classes, "num_classes"), positive_int(hidden, "hidden")
    size = 1
    for side in pooled.shape[2:]:
        size *= int(side)
    x = layers.Reshape((-1, size), name=f"{name}_flatten")(pooled)
    x = layers.Dense(hidden, activation="relu", name=f"{name}_fc1")(x)
    x = layers.Dense(hidden, activation="relu", name=f"{name}_fc2")(x)
    logits = layers.Dense(num_classes + 1, name=f"{name}_logits")(x)
    deltas = layers.Dense(4 * num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                          name=f"{name}_deltas")(x)
    return logits, layers.Reshape((-1, num_classes, 4), name=f"{name}_boxes")(deltas)


def box_head_losses(labels, delta_targets, logits, deltas) -> tuple:
    """Final classification (cross-entropy over used rows) and box regression (smooth L1 of the true class, foreground).

    Both are divided by the number of used rows, as torchvision does.
    """
    lab = K.cast(K.convert_to_tensor(labels), "int32")
    z = K.cast(K.convert_to_tensor(logits), "float32")
    d = K.cast(K.convert_to_tensor(deltas), "float32")
    if tuple(lab.shape) != tuple(z.shape[:-1]) or tuple(d.shape[:-2]) != tuple(lab.shape):
        raise ValueError(f"labels {tuple(lab.shape)}, logits {tuple(z.shape)} and deltas {tuple(d.shape)}: expected "
                         "(B, S), (B, S, C + 1) and (B, S, C, 4)")
    ce = K.sparse_categorical_crossentropy(K.maximum(lab, 0), z, from_logits=True)
    class_index = K.maximum(lab - 1, 0)                                        # the true class's offsets
    own = K.take_along_axis(d, class_index[..., None, None], axis=2)[..., 0, :]
    box = K.sum(smooth_l1(own - K.cast(delta_targets, "float32")), axis=-1)
    return sampled_mean_losses(lab, ce, box)


def detect(rois, logits, deltas, image_size: tuple[int, int], score_threshold: float = 0.05,
           nms_iou: float = 0.5, max_detections: int = 20, variances: Sequence[float] = BOX_VARIANCES,
           valid=None) -> dict:
    """Detections of a batch: every class's box decoded from its RoI, clipped, per-class NMS (see `combined_nms`).

    valid (B,): the number of real RoIs per image (the rest padding, as `rpn.propose` gives them): padding
    rows never become detections.
    """
    height, width = image_size
    r = as_float_tensor(rois, "rois", last_axis=4)                              # (B, S, 4)
    d = as_float_tensor(deltas, "deltas", last_axis=4)                          # (B, S, C, 4)
    if len(r.shape) != 3 or len(d.shape) != 4:
        raise ValueError(f"rois has shape {tuple(r.shape)} and deltas {tuple(d.shape)}: expected (B, S, 4) and "
                         "(B, S, C, 4)")
    boxes = clip_boxes(decode_boxes(d, r[:, :, None, :], variances), height, width)
    scores = K.softmax(as_float_tensor(logits, "logits"))[..., 1:]              # background dropped
    if valid is not None:
        real = K.arange(K.shape(r)[1])[None, :] < K.cast(K.convert_to_tensor(valid), "int32")[:, None]
        scores = K.where(real[..., None], scores, 0.0)
    kept = combined_nms(boxes, scores, max_per_class=positive_int(max_detections, "max_detections"),
                        max_total=max_detections, iou_threshold=number_in(nms_iou, "nms_iou", 0.0, 1.0),
                        score_threshold=number_in(score_threshold, "score_threshold", 0.0, 1.0))
    return {k: numpy_like(v, rois, logits, deltas) for k, v in kept.items()}
