"""The region proposal network of Faster R-CNN (Ren et al. 2015): its head, its proposals, its targets, its two losses.

Split as torchvision's `rpn.py`: a head of a 3x3 convolution and two 1x1 convolutions that score
every anchor (object or not) and regress its box offsets; `propose` turns those outputs into at most
`post_nms_top_n` proposals per image (decode, clip to the image, drop tiny boxes, keep the
`pre_nms_top_n` best, NMS, keep the `post_nms_top_n` best); `rpn_targets` labels the anchors for
training (positive at IoU >= 0.7 or best for an object, negative below 0.3, the rest ignored) and
samples a balanced minibatch of them; `rpn_losses` are the lecture's first two losses, object/not
object and box regression. Anchors are ordered as `utils.detection.anchors.grid_anchors` makes them:
row-major cells, then the anchors of a cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import keras.ops as K

from utils.course.checks import as_float_tensor, finite_where_known, number_in, numpy_like, positive_int
from utils.detection.boxes import BOX_VARIANCES, clip_boxes, decode_boxes
from utils.detection.matching import anchor_targets
from utils.detection.nms import combined_nms
from utils.detection.sampling import sample_balanced


def rpn_head(features: keras.KerasTensor, anchors_per_location: int, channels: int | None = None,
             name: str = "rpn") -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Objectness logits (B, H*W*A) and box offsets (B, H*W*A, 4) of the A anchors at every cell of a feature map."""
    from keras import layers

    a = positive_int(anchors_per_location, "anchors_per_location")
    channels = positive_int(channels if channels is not None else features.shape[-1], "channels")
    shared = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"{name}_conv")(features)
    logits = layers.Conv2D(a, 1, name=f"{name}_objectness")(shared)
    deltas = layers.Conv2D(4 * a, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                           name=f"{name}_deltas")(shared)
    return layers.Reshape((-1,), name=f"{name}_logits")(logits), layers.Reshape((-1, 4), name=f"{name}_boxes")(deltas)


def propose(logits, deltas, anchors, image_size: tuple[int, int], pre_nms_top_n: int = 600,
            post_nms_top_n: int = 100, nms_iou: float = 0.7, min_size: float = 1.0,
            variances: Sequence[float] = BOX_VARIANCES) -> dict:
    """Proposals of a batch: {"boxes" (B, post_nms_top_n, 4), "scores" (B, post_nms_top_n), "valid" (B,)}.

    Per image: decode every anchor's offsets, clip to the image, give boxes thinner than min_size
    pixels no chance, keep the pre_nms_top_n highest objectness, suppress overlaps above nms_iou,
    keep the post_nms_top_n best. Rows past valid[i] are padding (score 0, box zero). NaN or infinite
    logits or deltas are refused where their values are known (NumPy input, eager tensors; not inside
    compiled code): a NaN score would silently lose its anchor.
    """
    height, width = image_size
    pre_n, post_n = positive_int(pre_nms_top_n, "pre_nms_top_n"), positive_int(post_nms_top_n, "post_nms_top_n")
    nms_iou = number_in(nms_iou, "nms_iou", 0.0, 1.0, low_open=True)
    min_size = number_in(min_size, "min_size", 0.0, None)
    scores = K.sigmoid(as_float_tensor(logits, "logits"))                       # (B, A)
    boxes = clip_boxes(decode_boxes(as_float_tensor(deltas, "deltas", last_axis=4), anchors, variances), height,
                       width)
    if len(scores.shape) != 2 or tuple(boxes.shape[:2]) != tuple(scores.shape):
        raise ValueError(f"logits has shape {tuple(scores.shape)} and deltas {tuple(boxes.shape[:-1]) + (4,)}: "
                         "expected (B, A) and (B, A, 4)")
    finite_where_known(logits, "logits", expected="finite objectness logits")
    finite_where_known(deltas, "deltas", expected="finite box offsets")
    wide_enough = (boxes[..., 2] - boxes[..., 0] >= min_size) & (boxes[..., 3] - boxes[..., 1] >= min_size)
    scores = K.where(wide_enough, scores, 0.0)
    k = min(pre_n, int(scores.shape[1])) if scores.shape[1] is not None else pre_n
    top_scores, top = K.top_k(scores, k)
    top_boxes = K.take_along_axis(boxes, top[..., None], axis=1)
    kept = combined_nms(top_boxes, top_scores[..., None], max_per_class=post_n, max_total=post_n,
                        iou_threshold=nms_iou, score_threshold=1e-6)
    return {k: numpy_like(kept[k], logits, deltas) for k in ("boxes", "scores", "valid")}


def rpn_targets(anchors, gt_boxes, gt_labels, num_samples: int = 256, positive_fraction: float = 0.5,
                positive_iou: float = 0.7, negative_iou: float = 0.3, seed: int | None = None,
                variances: Sequence[float] = BOX_VARIANCES):
    """Training targets: objectness (..., A) in {1 object, 0 background, -1 not sampled}, offsets (..., A, 4).

    Anchors match objects by IoU (positive >= positive_iou or the best anchor of an object, negative
    below negative_iou, ignored in between); then at most num_samples anchors per image are sampled,
    at most positive_fraction of them positive (Faster R-CNN: 256 and 0.5); the others get -1.
    """
    labels = K.where(K.convert_to_tensor(gt_labels) > 0, 1, K.convert_to_tensor(gt_labels))  # every class: object
    cls, deltas = anchor_targets(anchors, gt_boxes, labels, positive_iou, negative_iou, variances)
    sampled = sample_balanced(cls, num_samples, positive_fraction, seed=seed)
    objectness = K.where(K.convert_to_tensor(sampled), K.convert_to_tensor(cls), -1)
    return numpy_like(objectness, anchors, gt_boxes, gt_labels), deltas


def smooth_l1(x, beta: float = 1.0 / 9.0):
    """Huber's smooth L1 of each element: x^2 / (2 beta) below beta, |x| - beta / 2 above (torchvision's RPN beta)."""
    ax = K.abs(x)
    return K.where(ax < beta, 0.5 * ax * ax / beta, ax - 0.5 * beta)


def sampled_mean_losses(labels, classification, regression) -> tuple:
    """Sum each row's classification loss over the used rows (label >= 0) and its regression loss over the
    positives (label > 0), both divided by the number of used rows: torchvision's normalization for the RPN and
    the box head alike, so a positive's box loss weighs as much as a row's classification loss."""
    used = K.cast(labels >= 0, "float32")
    positive = K.cast(labels > 0, "float32")
    n = K.maximum(K.sum(used), 1.0)
    return K.sum(classification * used) / n, K.sum(regression * positive) / n


def rpn_losses(objectness_targets, delta_targets, logits, deltas) -> tuple:
    """The RPN's two losses: binary cross-entropy over the sampled anchors, smooth L1 over the sampled positives.

    Both are divided by the number of sampled anchors (torchvision's normalization), so the box
    loss weighs each positive as the classification weighs each anchor.
    """
    t = K.cast(K.convert_to_tensor(objectness_targets), "float32")
    z = K.cast(K.convert_to_tensor(logits), "float32")
    if tuple(t.shape) != tuple(z.shape):
        raise ValueError(f"objectness_targets has shape {tuple(t.shape)} and logits {tuple(z.shape)}: "
                         "expected the same")
    bce = K.binary_crossentropy(K.maximum(t, 0.0), z, from_logits=True)
    box = K.sum(smooth_l1(K.cast(deltas, "float32") - K.cast(delta_targets, "float32")), axis=-1)
    return sampled_mean_losses(t, bce, box)
