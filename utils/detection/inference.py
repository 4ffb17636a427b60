"""From a trained detector to detections, and how fast: a compiled detect function, batching, images per second.

`make_detector` compiles model -> decode -> per-class NMS into one TensorFlow function, so that a
detector is timed and evaluated as it would run: whole batches, no Python between the steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from utils.course.checks import number_in, positive_int
from utils.detection.nms import combined_nms, unpad

if TYPE_CHECKING:
    import keras

Decode = Callable[[Any], tuple[Any, Any]]


def make_detector(model: keras.Model, decode: Decode, max_detections: int = 20, iou_threshold: float = 0.5,
                  score_threshold: float = 0.01) -> Callable[[Any], dict]:
    """images (uint8 batch) -> padded per-class NMS detections (see `combined_nms`), as one tf.function.

    decode maps the model's raw output to (boxes (n, A, 4) xyxy pixels, scores (n, A, C)).
    """
    import tensorflow as tf

    max_detections = positive_int(max_detections, "max_detections")
    iou_threshold = number_in(iou_threshold, "iou_threshold", 0.0, 1.0)
    score_threshold = number_in(score_threshold, "score_threshold", 0.0, 1.0)

    @tf.function(reduce_retracing=True)
    def detect(images):
        boxes, scores = decode(model(images, training=False))
        return combined_nms(boxes, scores, max_per_class=max_detections, max_total=max_detections,
                            iou_threshold=iou_threshold, score_threshold=score_threshold)

    return detect


def detect_all(detect: Callable[[Any], dict], images: np.ndarray,
               batch_size: int = 50) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per-image lists (boxes, scores, labels) of a detect function over many images, batch by batch."""
    import tensorflow as tf

    batch_size = positive_int(batch_size, "batch_size")
    if len(images) == 0:
        raise ValueError("images is empty: expected at least one image")
    out = [detect(tf.constant(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]
    return unpad({k: np.concatenate([np.asarray(o[k]) for o in out]) for k in out[0]})


def throughputs(detect: Callable[[Any], dict], images: np.ndarray, batch_size: int, repeats: int,
                rounds: int = 3) -> np.ndarray:
    """Images per second of a detect function in each of `rounds` timed rounds of `repeats` calls on one batch of
    batch_size images, after a warm-up call: their spread is how much the machine's load moved the timing.

    Each call waits for its result (`.numpy()`), so asynchronous devices are timed honestly.
    """
    import tensorflow as tf

    batch_size, repeats, rounds = (positive_int(v, n) for v, n in ((batch_size, "batch_size"), (repeats, "repeats"),
                                                                    (rounds, "rounds")))
    if len(images) == 0:
        raise ValueError("images is empty: expected at least one image to time")
    batch = tf.constant(np.resize(images, (batch_size,) + tuple(images.shape[1:])).astype(images.dtype))
    np.asarray(detect(batch)["valid"])  # warm-up: tracing and the first run
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeats):
            np.asarray(detect(batch)["valid"])
        rates.append(batch_size * repeats / (time.perf_counter() - t0))
    return np.array(rates)


def images_per_second(detect: Callable[[Any], dict], images: np.ndarray, batch_size: int, repeats: int,
                      rounds: int = 3) -> float:
    """Throughput of a detect function on batches of batch_size images: the best of `throughputs`' rounds, the one
    least slowed down by other programs on the machine (as timeit does)."""
    return float(throughputs(detect, images, batch_size, repeats, rounds).max())
