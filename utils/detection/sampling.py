"""Which anchors a loss sees: balanced random sampling (Faster R-CNN) and hard negative mining (SSD).

Both take class targets as `utils.detection.matching.anchor_targets` gives them (> 0 positive,
0 negative, < 0 ignored), for one image (A,) or a batch (..., A), and run on NumPy arrays or tensors.
"""

from __future__ import annotations

import numpy as np

from utils.course.checks import non_negative_int, number_in, numpy_like, positive_int


def ranks(key):
    """Rank of each entry along the last axis when sorted ascending (0 = smallest)."""
    import keras.ops as K

    return K.argsort(K.argsort(key, axis=-1), axis=-1)


def sample_balanced(labels, num_samples: int, positive_fraction: float = 0.5, seed: int | None = None):
    """A random mask (..., A) of at most num_samples anchors, at most a positive_fraction of them positive.

    labels: (..., A) class targets, > 0 positive, 0 negative, < 0 ignored (never sampled). Positives
    are drawn first, up to num_samples * positive_fraction; negatives fill the rest (torchvision's
    BalancedPositiveNegativeSampler; Faster R-CNN uses 256 and 0.5 for the RPN, 512 and 0.25 for the
    box head). The same seed gives the same mask.
    """
    import keras
    import keras.ops as K

    num_samples = positive_int(num_samples, "num_samples")
    positive_fraction = number_in(positive_fraction, "positive_fraction", 0, 1)
    lab = K.convert_to_tensor(labels)
    positive, negative = lab > 0, lab == 0
    n_pos = K.minimum(K.sum(K.cast(positive, "int32"), axis=-1, keepdims=True), int(num_samples * positive_fraction))
    n_neg = K.minimum(K.sum(K.cast(negative, "int32"), axis=-1, keepdims=True), num_samples - n_pos)
    # A random order among the candidates: uniform keys, the other anchors pushed past the end.
    key = keras.random.uniform(K.shape(lab), seed=seed)  # K.shape: the batch may be unknown until run time
    take_pos = positive & (ranks(K.where(positive, key, 2.0)) < n_pos)
    take_neg = negative & (ranks(K.where(negative, key, 2.0)) < n_neg)
    return numpy_like(take_pos | take_neg, labels)


def hard_negative_mask(losses, labels, neg_pos_ratio: float = 3.0, min_negatives: int = 0):
    """SSD's hard negative mining: the mask (..., A) of the positives and the highest-loss negatives.

    losses: (..., A) per-anchor classification losses; labels: (..., A) class targets (> 0 positive,
    0 negative, < 0 ignored). Each image keeps its negatives with the largest loss, neg_pos_ratio
    times as many as it has positives (at least min_negatives), so that the easy background does not
    drown the objects (Liu et al. 2016 use 3:1).
    """
    import keras.ops as K

    neg_pos_ratio = number_in(neg_pos_ratio, "neg_pos_ratio", 0)
    min_negatives = non_negative_int(min_negatives, "min_negatives")
    lab, loss = K.convert_to_tensor(labels), K.convert_to_tensor(losses)
    if tuple(lab.shape) != tuple(loss.shape):
        raise ValueError(f"losses has shape {tuple(loss.shape)} and labels {tuple(lab.shape)}: expected the same")
    positive, negative = lab > 0, lab == 0
    n_pos = K.sum(K.cast(positive, "float32"), axis=-1, keepdims=True)
    n_neg = K.maximum(K.floor(neg_pos_ratio * n_pos), float(min_negatives))
    # Sort descending by loss; anchors that are not negatives go last.
    key = K.where(negative, -K.cast(K.stop_gradient(loss), "float32"), np.inf)
    hard = negative & (K.cast(ranks(key), "float32") < n_neg)
    return numpy_like(positive | hard, losses, labels)
