"""Notebook 09's single-object network: one backbone, a class head and a box head.

`classify_and_localize` is the network of the notebook's first section; its questions change one thing at
a time (the heads' poolings, batch normalization's momentum), which are its arguments.
`single_object_targets` gives its two heads' targets, `class_and_box_scores` scores it per scene.
"""

from __future__ import annotations

import keras
import numpy as np

from utils.course.checks import number_in, one_of, positive_int

# four stride-2 conv-BN-ReLU blocks (16, 32, 64, 64 channels), then one more at stride 16: an 8x8x64 map
STAGES = ((16, 2), (32, 2), (64, 2), (64, 2), (64, 1))
POOLINGS = ("flatten", "global_max", "global_average")


def _pooling(name: str, argument: str) -> keras.layers.Layer:
    from keras import layers

    one_of(name, argument, POOLINGS)
    return {"flatten": layers.Flatten, "global_max": layers.GlobalMaxPooling2D,
            "global_average": layers.GlobalAveragePooling2D}[name]()


def classify_and_localize(num_classes: int = 3, size: int = 128, *, box_pool: str = "flatten",
                          class_pool: str = "global_max", momentum: float = 0.9) -> keras.Model:
    """One backbone, two heads: class probabilities ("class") and the box (x1, y1, x2, y2) / image side
    ("box", a sigmoid).

    The backbone is conv-BN-ReLU blocks (STAGES) ending in an (size/16) x (size/16) x 64 map. The class
    head pools it (class_pool: "global_max", "global_average" or "flatten") into a softmax layer; the box
    head pools it (box_pool, default "flatten": every position kept) into 128 ReLU units, then 4 sigmoids.
    momentum: batch normalization's, for its running averages (Keras's default is 0.99).
    """
    from keras import layers

    from utils.nn.blocks import conv_bn_act

    num_classes = positive_int(num_classes, "num_classes")
    size = positive_int(size, "size")
    if size % 16:
        raise ValueError(f"size={size}: expected a multiple of 16, the backbone's stride")
    momentum = number_in(momentum, "momentum", 0.0, 1.0, low_open=True, high_open=True)
    class_pooling, box_pooling = _pooling(class_pool, "class_pool"), _pooling(box_pool, "box_pool")
    inputs = keras.Input((size, size, 3))
    x = inputs
    for filters, stride in STAGES:
        x = conv_bn_act(x, filters, strides=stride, momentum=momentum)
    class_probs = layers.Dense(num_classes, activation="softmax", name="class")(class_pooling(x))
    hidden = layers.Dense(128, activation="relu")(box_pooling(x))
    box = layers.Dense(4, activation="sigmoid", name="box")(hidden)
    return keras.Model(inputs, {"class": class_probs, "box": box})


def single_object_targets(data) -> dict[str, np.ndarray]:
    """The two heads' targets for scenes of one object each (`make_scenes(..., n_objects=1)`): "class", the
    class index 0..C-1 (the scenes' labels 1..C less 1), and "box", the corners divided by the image side."""
    from utils.data.scenes import check_scenes

    check_scenes(data, action="to train on")
    counts = [len(labels) for labels in data.labels]
    if set(counts) != {1}:
        raise ValueError(f"scenes hold {min(counts)} to {max(counts)} objects: expected exactly one per scene")
    return {"class": np.concatenate(data.labels) - 1, "box": np.concatenate(data.boxes) / data.images.shape[1]}


def class_and_box_scores(model: keras.Model, images: np.ndarray, labels: np.ndarray, boxes: np.ndarray, *,
                         training: bool = False, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Per scene: whether the class is right (1.0 or 0.0) and the IoU of the predicted box with the true one.

    images: (N, S, S, 3); labels: (N,) classes 1..C (0 is background); boxes: (N, 4) true boxes in pixels.
    training=True normalizes each batch of batch_size scenes by its own statistics, as `fit` does when it
    reports training metrics; False uses batch normalization's running averages (inference). Either way
    the model is left as it was.
    """
    from utils.detection.boxes import iou_matrix

    images, labels, boxes = np.asarray(images), np.asarray(labels), np.asarray(boxes, np.float64)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images has shape {images.shape}: expected a non-empty batch (N, S, S, 3)")
    if labels.shape != (len(images),) or boxes.shape != (len(images), 4):
        raise ValueError(f"labels {labels.shape} and boxes {boxes.shape}: expected ({len(images)},) and "
                         f"({len(images)}, 4), one object per scene")
    if not isinstance(training, (bool, np.bool_)):
        raise ValueError(f"training={training!r}: expected True or False")
    batch_size = positive_int(batch_size, "batch_size")
    # a call with training=True also moves batch normalization's running averages: put them back after
    running = [keras.ops.convert_to_numpy(w) for w in model.non_trainable_weights]
    out = [model(images[i:i + batch_size], training=bool(training)) for i in range(0, len(images), batch_size)]
    for w, value in zip(model.non_trainable_weights, running):
        w.assign(value)
    probs, box = (np.concatenate([keras.ops.convert_to_numpy(o[k]) for o in out]) for k in ("class", "box"))
    # corners in order, so that a box predicted with x2 < x1 is scored as the box it covers
    box = np.concatenate([np.minimum(box[:, :2], box[:, 2:]), np.maximum(box[:, :2], box[:, 2:])], axis=1)
    iou = np.diag(iou_matrix(box * images.shape[1], boxes))
    return (probs.argmax(axis=1) + 1 == labels).astype(np.float64), iou.astype(np.float64)
