"""Single-shot detection heads and their decoding: a class and an offset convolution per feature map (SSD).

`multibox_head` puts, on every feature map, a 3x3 convolution that predicts 4 box offsets and a
3x3 convolution that predicts C + 1 class logits (background first) for each of the map's anchors
per cell; `multibox_decode` turns those outputs back into boxes and class scores for NMS. The anchor
order is the one of `utils.detection.anchors.multilevel_anchors`: level by level, row-major cells,
then the anchors of a cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from utils.course.checks import positive_int
from utils.detection.boxes import BOX_VARIANCES, decode_boxes

if TYPE_CHECKING:
    import keras


def multibox_head(features: Sequence[keras.KerasTensor], anchors_per_cell: Sequence[int],
                  num_classes: int) -> keras.KerasTensor:
    """Per-anchor outputs (n, A, 4 + num_classes + 1): offsets, then class logits with background at index 0."""
    from keras import layers

    num_classes = positive_int(num_classes, "num_classes")
    if len(features) != len(anchors_per_cell) or not features:
        raise ValueError(f"features has {len(features)} maps and anchors_per_cell {len(anchors_per_cell)} entries: "
                         "expected one anchor count per feature map")
    offsets, logits = [], []
    for i, (feature, k) in enumerate(zip(features, anchors_per_cell)):
        k = positive_int(k, f"anchors_per_cell[{i}]")
        offsets.append(layers.Reshape((-1, 4))(layers.Conv2D(k * 4, 3, padding="same")(feature)))
        logits.append(layers.Reshape((-1, num_classes + 1))(layers.Conv2D(k * (num_classes + 1), 3,
                                                                           padding="same")(feature)))
    if len(features) == 1:
        return layers.Concatenate(axis=-1)([offsets[0], logits[0]])
    return layers.Concatenate(axis=-1)([layers.Concatenate(axis=1)(offsets), layers.Concatenate(axis=1)(logits)])


def multibox_decode(y_pred, anchors, variances: Sequence[float] = BOX_VARIANCES):
    """Boxes (n, A, 4) xyxy pixels and class scores (n, A, C) (softmax, background dropped) of a multibox output."""
    import keras.ops as K

    y = K.convert_to_tensor(y_pred)
    if len(y.shape) != 3 or y.shape[-1] is not None and y.shape[-1] < 6:
        raise ValueError(f"y_pred has shape {tuple(y.shape)}: expected (n, A, 4 + C + 1) with at least one class")
    return decode_boxes(y[..., :4], anchors, variances), K.softmax(y[..., 4:])[..., 1:]
