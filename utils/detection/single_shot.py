"""YOLO and SSD as notebook 11 builds them: targets, losses, models and decoding, on one backbone.

Both detectors read 128x128 uint8 scenes through `utils.nn.backbones.detection_backbone` (maps of
stride 8, 16 and 32), so that they differ in heads, targets and losses only.

- YOLO (Redmon et al. 2016, with v2's base boxes and logistic confidence): an S x S grid (S = 8, the
  stride-16 map), B = 2 boxes per cell, each (confidence, dx, dy, dw, dh), and C class scores per cell:
  S x S x (5B + C) numbers. The cell of an object's centre and its base box closer in shape take it.
- SSD (Liu et al. 2016): square default boxes on the three maps (the stride-16 features added to the
  stride-8 map), C + 1 class logits and 4 offsets per default box; matched as SSD matches, IoU >= 0.5
  the object (and each object's best box), every other box background, no ignore band (that band is
  RetinaNet's); hard negative mining at 3 negatives per positive.

The variants that notebook 11's questions train are parameters: `yolo_loss(confidence="squared")`
(v1's squared error of the confidence), `ssd_loss(hard_negatives=False)` (every background box),
`ssd_model(num_classes=80)`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from utils.course.checks import one_of, positive_int
from utils.detection.anchors import AnchorLevel, anchor_shapes, multilevel_anchors

if TYPE_CHECKING:
    import keras

SIZE = 128                                 # scene side in pixels
S, B = 8, 2                                # YOLO's grid and boxes per cell
STRIDE = SIZE // S                         # pixels per grid cell
BASE_SIZES = (28, 46)                      # YOLO's base boxes (square), one per box of a cell
LAMBDA_COORD, LAMBDA_NOOBJ = 5.0, 0.5      # the YOLO paper's loss weights
SSD_LEVELS = (AnchorLevel(8, (20, 28)), AnchorLevel(16, (40, 56)), AnchorLevel(32, (72,)))
SSD_POSITIVE_IOU = 0.5                     # SSD: >= 0.5 matched, everything else background
CONFIDENCE_LOSSES = ("logistic", "squared")


def yolo_base() -> np.ndarray:
    """The base boxes' widths and heights (B, 2) in pixels."""
    return anchor_shapes(BASE_SIZES)


@cache
def ssd_anchors() -> np.ndarray:
    """SSD's default boxes (A, 4) xyxy in pixels: the three maps' in order, row-major, then the boxes of a cell."""
    anchors, _ = multilevel_anchors((SIZE, SIZE), SSD_LEVELS)
    anchors.setflags(write=False)
    return anchors


def _check_scenes(data: Any) -> None:
    if getattr(data, "images", None) is not None and tuple(np.shape(data.images)[1:3]) != (SIZE, SIZE):
        raise ValueError(f"scenes of {tuple(np.shape(data.images)[1:3])} pixels: expected {SIZE}x{SIZE} scenes, "
                         "the size of the detectors' grid and default boxes")


def yolo_targets(data) -> tuple[np.ndarray, np.ndarray]:
    """Targets (n, S, S, B, 6): [object?, dx, dy, dw, dh, class index] at each object's cell and base box,
    and each object's slot (scene, row, column, base box); a later object in a taken slot overwrites it."""
    _check_scenes(data)
    base = yolo_base()
    y = np.zeros((len(data), S, S, B, 6), np.float32)
    slots = []
    for i, (boxes, labels) in enumerate(zip(data.boxes, data.labels)):
        wh = boxes[:, 2:] - boxes[:, :2]
        centre = boxes[:, :2] + wh / 2
        # IoU of two boxes with the same centre: the overlap of their sizes over the union
        inter = np.prod(np.minimum(wh[:, None], base[None]), axis=-1)
        shape_iou = inter / (np.prod(wh, axis=1)[:, None] + np.prod(base, axis=1)[None] - inter)
        for k, label in enumerate(labels):
            col, row = np.minimum(centre[k] // STRIDE, S - 1).astype(int)
            b = int(shape_iou[k].argmax())
            slots.append((i, row, col, b))
            y[i, row, col, b] = [1.0, centre[k, 0] / STRIDE - col, centre[k, 1] / STRIDE - row,
                                 np.log(wh[k, 0] / base[b, 0]), np.log(wh[k, 1] / base[b, 1]), label - 1]
    return y, np.array(slots, np.int64).reshape(-1, 4)


def yolo_loss(confidence: str = "logistic"):
    """YOLO's loss (y_true, y_pred) -> scalar: coordinates, objectness, no-object and class terms.

    confidence: "logistic", the binary cross-entropy of the confidence logit (v2 onward), or "squared",
    v1's squared error of the confidence (its sigmoid); both weigh objects 1 and empty boxes LAMBDA_NOOBJ.
    """
    import keras.ops as K

    squared = one_of(confidence, "confidence", CONFIDENCE_LOSSES) == "squared"

    def loss(y_true, y_pred):
        boxes = K.reshape(y_pred[..., :5 * B], (-1, S, S, B, 5))  # per box: confidence, dx, dy, dw, dh
        obj = y_true[..., 0]
        coord = K.sum((K.sigmoid(boxes[..., 1:3]) - y_true[..., 1:3]) ** 2, axis=-1) \
            + K.sum((boxes[..., 3:5] - y_true[..., 3:5]) ** 2, axis=-1)
        if squared:
            conf = (K.sigmoid(boxes[..., 0]) - obj) ** 2
        else:
            conf = K.binary_crossentropy(obj, boxes[..., 0], from_logits=True)
        cell_has_object = K.max(obj, axis=-1)
        cell_class = K.cast(K.max(y_true[..., 5] * obj, axis=-1), "int32")
        classes = K.sparse_categorical_crossentropy(cell_class, y_pred[..., 5 * B:], from_logits=True)
        per_image = (LAMBDA_COORD * K.sum(obj * coord, axis=(1, 2, 3))
                     + K.sum(obj * conf, axis=(1, 2, 3))
                     + LAMBDA_NOOBJ * K.sum((1 - obj) * conf, axis=(1, 2, 3))
                     + K.sum(cell_has_object * classes, axis=(1, 2)))
        return K.mean(per_image)

    loss.__name__ = f"yolo_loss_{confidence}"
    return loss


def yolo_model(num_classes: int = 3) -> keras.Model:
    """Backbone, one more 3x3 convolution on the stride-16 map, and a 1x1 convolution to 5B + C channels."""
    import keras
    from keras import layers

    from utils.nn.backbones import detection_backbone
    from utils.nn.blocks import conv_bn_act

    num_classes = positive_int(num_classes, "num_classes")
    inputs = keras.Input((SIZE, SIZE, 3), dtype="uint8")
    _, f16, _ = detection_backbone(inputs)
    x = conv_bn_act(f16, 64)
    return keras.Model(inputs, layers.Conv2D(5 * B + num_classes, 1)(x), name="yolo")


def yolo_decode(y_pred):
    """Boxes (n, S*S*B, 4) xyxy in pixels and class scores (n, S*S*B, C) from YOLO's raw output.

    A box's centre is its cell's corner plus sigmoid(dx, dy) cells, its size the base box's times
    exp(dw, dh) (capped at e^4); its score for class c is confidence x P(c | cell)."""
    import keras.ops as K

    y = K.convert_to_tensor(y_pred)
    if len(y.shape) != 4 or tuple(y.shape[1:3]) != (S, S) or (y.shape[-1] is not None and y.shape[-1] <= 5 * B):
        raise ValueError(f"y_pred has shape {tuple(y.shape)}: expected (n, {S}, {S}, 5B + C) = (n, {S}, {S}, "
                         f"{5 * B} + C) with at least one class")
    classes = int(y.shape[-1]) - 5 * B
    grid_y, grid_x = np.meshgrid(np.arange(S, dtype=np.float32), np.arange(S, dtype=np.float32), indexing="ij")
    base = yolo_base()
    boxes = K.reshape(y[..., :5 * B], (-1, S, S, B, 5))
    cx = (K.sigmoid(boxes[..., 1]) + grid_x[None, :, :, None]) * STRIDE
    cy = (K.sigmoid(boxes[..., 2]) + grid_y[None, :, :, None]) * STRIDE
    w = base[:, 0] * K.exp(K.minimum(boxes[..., 3], 4.0))
    h = base[:, 1] * K.exp(K.minimum(boxes[..., 4], 4.0))
    xyxy = K.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    scores = K.sigmoid(boxes[..., 0])[..., None] * K.softmax(y[..., 5 * B:])[:, :, :, None, :]
    return K.reshape(xyxy, (-1, S * S * B, 4)), K.reshape(scores, (-1, S * S * B, classes))


def ssd_targets(data, chunk: int = 1000) -> np.ndarray:
    """Targets (n, A, 5): the four encoded offsets and the class (0 background) of every default box,
    matched as SSD does (IoU >= 0.5, and each object's best default box; no ignored boxes)."""
    from utils.data.scenes import pad_boxes
    from utils.detection.matching import anchor_targets

    _check_scenes(data)
    chunk = positive_int(chunk, "chunk")
    gt_boxes, gt_labels = pad_boxes(data)
    parts = []
    for s in range(0, len(data), chunk):
        cls, deltas = anchor_targets(ssd_anchors(), gt_boxes[s:s + chunk], gt_labels[s:s + chunk],
                                     SSD_POSITIVE_IOU, SSD_POSITIVE_IOU)
        parts.append(np.concatenate([deltas, np.asarray(cls)[..., None].astype(np.float32)], axis=-1))
    return np.concatenate(parts)


def ssd_loss(hard_negatives: bool = True, neg_pos_ratio: float = 3.0):
    """SSD's multibox loss (y_true, y_pred) -> scalar: the cross-entropy of the positives and the kept
    negatives plus the smooth L1 loss of the positives' offsets, both divided by the number of positives.

    hard_negatives: keep, in each image, the neg_pos_ratio x positives background boxes of highest loss
    (SSD's hard negative mining); False: every background box. y_pred (n, A, 4 + C + 1)."""
    import keras.ops as K

    from utils.course.checks import positive_float
    from utils.detection.sampling import hard_negative_mask

    one_of(hard_negatives, "hard_negatives", (True, False))
    neg_pos_ratio = positive_float(neg_pos_ratio, "neg_pos_ratio")

    def loss(y_true, y_pred):
        labels = K.cast(y_true[..., 4], "int32")
        ce = K.sparse_categorical_crossentropy(K.maximum(labels, 0), y_pred[..., 4:], from_logits=True)
        if hard_negatives:
            kept = K.cast(hard_negative_mask(ce, labels, neg_pos_ratio=neg_pos_ratio), "float32")
        else:
            kept = K.cast(labels >= 0, "float32")
        positive = K.cast(labels > 0, "float32")
        n_positive = K.maximum(K.sum(positive), 1.0)
        error = K.abs(y_true[..., :4] - y_pred[..., :4])
        smooth_l1 = K.sum(K.where(error < 1.0, 0.5 * error**2, error - 0.5), axis=-1)
        return (K.sum(kept * ce) + K.sum(positive * smooth_l1)) / n_positive

    loss.__name__ = "ssd_loss" if hard_negatives else "ssd_loss_all_negatives"
    return loss


def ssd_model(num_classes: int = 3) -> keras.Model:
    """Backbone, the stride-16 features added to the stride-8 map, and a 3x3 class and offset head per map."""
    import keras
    from keras import layers

    from utils.detection.heads import multibox_head
    from utils.nn.backbones import detection_backbone

    num_classes = positive_int(num_classes, "num_classes")
    inputs = keras.Input((SIZE, SIZE, 3), dtype="uint8")
    f8, f16, f32 = detection_backbone(inputs)
    f8 = layers.Add()([f8, layers.UpSampling2D(2)(layers.Conv2D(64, 1)(f16))])
    out = multibox_head([f8, f16, f32], [level.per_cell for level in SSD_LEVELS], num_classes=num_classes)
    return keras.Model(inputs, out, name="ssd")


def ssd_decode(y_pred):
    """Boxes (n, A, 4) xyxy in pixels and class scores (n, A, C) of SSD's output on `ssd_anchors()`."""
    from utils.detection.heads import multibox_decode

    return multibox_decode(y_pred, ssd_anchors())
