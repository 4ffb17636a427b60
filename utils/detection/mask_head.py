"""Mask R-CNN's mask branch (He et al. 2017): its targets, its head, its loss, and masks pasted back into the image.

- `mask_targets` projects each foreground RoI's ground-truth instance mask onto the RoI's m x m
  grid with RoIAlign (torchvision's `project_masks_on_boxes`) and thresholds it at 0.5;
- `mask_head` is a small fully convolutional network applied to every RoI's pooled feature:
  3x3 convolutions, a 2x transposed convolution, and one m x m logit map per class;
- `mask_loss` is the per-pixel binary cross-entropy of the true class's map only, over the
  foreground RoIs: the classes do not compete for a pixel (the paper's key choice, unlike a
  per-pixel softmax);
- `paste_masks` resizes each predicted m x m mask into its box, giving full-image instance masks.
"""

from __future__ import annotations

import keras
import keras.ops as K
import numpy as np

from utils.course.checks import as_float_tensor, number_in, numpy_like, positive_int
from utils.detection.boxes import check_box_values
from utils.detection.matching import match_anchors
from utils.detection.roi_ops import roi_align


def mask_targets(rois, labels, gt_boxes, gt_labels, gt_masks, size: int = 14, iou_threshold: float = 0.5):
    """Binary targets (B, S, size, size): each foreground RoI's matched instance mask, cropped to the RoI.

    rois (B, S, 4) and labels (B, S) as `roi_heads.sample_proposals` gives them (> 0 foreground);
    gt (B, M, 4), (B, M) and gt_masks (B, M, H, W) in {0, 1}. Background and unused rows get zeros.
    """
    size = positive_int(size, "size")
    masks = as_float_tensor(gt_masks, "gt_masks")
    if len(masks.shape) != 4:
        raise ValueError(f"gt_masks has shape {tuple(masks.shape)}: expected (B, M, H, W) instance masks")
    m_boxes = tuple(K.convert_to_tensor(gt_boxes).shape)[:2]
    if None not in m_boxes and None not in masks.shape[:2] and tuple(masks.shape[:2]) != m_boxes:
        raise ValueError(f"gt_masks has shape {tuple(masks.shape)} and gt_boxes {m_boxes + (4,)}: expected one mask "
                         "per box, (B, M, H, W) and (B, M, 4)")
    matched = K.maximum(K.convert_to_tensor(match_anchors(rois, gt_boxes, gt_labels, iou_threshold, iou_threshold,
                                                          best_anchor_for_each_gt=False)), 0)       # (B, S)
    projected = roi_align(K.transpose(masks, (0, 2, 3, 1)), rois, size, sampling_ratio=2)    # (B, S, m, m, M)
    own = K.take_along_axis(projected, matched[:, :, None, None, None], axis=-1)[..., 0]
    foreground = K.convert_to_tensor(labels)[:, :, None, None] > 0
    return numpy_like(K.where(foreground & (own >= 0.5), 1.0, 0.0), rois, gt_masks)


def mask_head(pooled: keras.KerasTensor, num_classes: int, channels: int = 64, convs: int = 2,
              name: str = "mask_head") -> keras.KerasTensor:
    """Mask logits (B, S, 2P, 2P, num_classes) of pooled RoIs (B, S, P, P, ch): one map per class."""
    from keras import layers

    num_classes, channels = positive_int(num_classes, "num_classes"), positive_int(channels, "channels")
    x = pooled
    for i in range(positive_int(convs, "convs")):
        x = layers.TimeDistributed(layers.Conv2D(channels, 3, padding="same", activation="relu"),
                                   name=f"{name}_conv{i + 1}")(x)
    x = layers.TimeDistributed(layers.Conv2DTranspose(channels, 2, strides=2, activation="relu"),
                               name=f"{name}_upsample")(x)
    return layers.TimeDistributed(layers.Conv2D(num_classes, 1), name=f"{name}_logits")(x)


def mask_loss(labels, targets, logits):
    """Mean per-pixel binary cross-entropy of the true class's mask logits over the foreground RoIs (0 if none)."""
    lab = K.cast(K.convert_to_tensor(labels), "int32")
    z = K.cast(K.convert_to_tensor(logits), "float32")
    t = K.cast(K.convert_to_tensor(targets), "float32")
    if tuple(z.shape[:2]) != tuple(lab.shape) or tuple(t.shape) != tuple(z.shape[:-1]):
        raise ValueError(f"labels {tuple(lab.shape)}, targets {tuple(t.shape)} and logits {tuple(z.shape)}: "
                         "expected (B, S), (B, S, m, m) and (B, S, m, m, C)")
    own = K.take_along_axis(z, K.maximum(lab - 1, 0)[:, :, None, None, None], axis=-1)[..., 0]
    per_roi = K.mean(K.binary_crossentropy(t, own, from_logits=True), axis=(2, 3))
    foreground = K.cast(lab > 0, "float32")
    return K.sum(per_roi * foreground) / K.maximum(K.sum(foreground), 1.0)


def paste_masks(masks: np.ndarray, boxes: np.ndarray, image_size: tuple[int, int],
                threshold: float = 0.5) -> np.ndarray:
    """Full-image boolean masks (N, H, W): each m x m probability map resized bilinearly into its xyxy box.

    A box with x2 < x1 or y2 < y1, NaN or inf is refused (it has no place to paste into).
    """
    from skimage.transform import resize

    m = np.asarray(masks, np.float32)
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    height, width = (positive_int(v, n) for v, n in zip(image_size, ("image height", "image width")))
    threshold = number_in(threshold, "threshold", 0.0, 1.0)
    if m.ndim != 3 or len(m) != len(b):
        raise ValueError(f"masks has shape {m.shape} and boxes {b.shape}: expected (N, m, m) and (N, 4)")
    check_box_values(b, "boxes")
    out = np.zeros((len(m), height, width), bool)
    for k, (mask, (x1, y1, x2, y2)) in enumerate(zip(m, b)):
        # the m x m grid spans the box exactly: resize it to the box, then keep the part inside the image
        top, left = int(round(y1)), int(round(x1))
        box_h, box_w = max(int(round(y2 - y1)), 1), max(int(round(x2 - x1)), 1)
        ys, xs = slice(max(top, 0), min(top + box_h, height)), slice(max(left, 0), min(left + box_w, width))
        if ys.stop <= ys.start or xs.stop <= xs.start:
            continue
        full = resize(mask, (box_h, box_w), order=1, mode="edge", anti_aliasing=False) >= threshold
        out[k, ys, xs] = full[ys.start - top:ys.stop - top, xs.start - left:xs.stop - left]
    return out
