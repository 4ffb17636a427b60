"""Deep BV (the NYU lab's brain-ventricle segmentation of 3-D ultrasound): localize with a sliding window, then segment.

1. **Localizer**: a VGG-style 3-D CNN (ten 3×3×3 convolutions in four blocks, max-pooling between them, global
   average pooling, two dense layers) classifies a window of the volume: does it hold the ventricles completely? It
   is trained on windows labelled by the lecture's rule (`utils.segmentation.windows.window_labels`: positive when
   more than 99 % of the ventricle voxels are inside, negative under 80 %, the rest unused).
2. **Sliding window**: the localizer scores every window of a grid over the volume (`score_windows`); the window of
   the highest score is the region of interest.
3. **Segmenter**: a V-Net-like network inside that window, with extra convolutions at full resolution (finer
   boundaries) and at the lowest resolution (a field of view that spans the window: a global shape prior), trained
   with the positive + negative Soft Dice (`utils.segmentation.losses.fg_bg_dice_loss`).

The sliding window is what makes Deep BV slow: hundreds of windows through the localizer for one volume. Deep MOUSE
(`utils.segmentation.deepmouse`) replaces it by one coarse pass over a downsampled volume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from utils.course.checks import as_image_array, int_at_least, number_in, positive_int, rng_from
from utils.data.volumes import Volume
from utils.segmentation.vnet import vnet
from utils.segmentation.windows import Window, jittered_window_around, sliding_windows, window_fractions, window_labels

if TYPE_CHECKING:
    import keras

WINDOW = 32  # at 64³ the ventricles span at most 24 voxels: a 32³ window holds them with a margin
STRIDE = 2  # the sliding window at inference: every other voxel along each axis, 17³ = 4,913 windows at 64³
TRAIN_STRIDE = 4  # the grid the localizer's training windows are drawn from (729 windows at 64³)
BLOCKS = ((1, 2), (2, 2), (4, 3), (8, 3))  # (channels in units of base_filters, convolutions): ten in all


def localizer(window: int = WINDOW, base_filters: int = 8, name: str = "deepbv_localizer") -> keras.Model:
    """The VGG-style 3-D window classifier: probability that the window holds the whole ventricle system."""
    import keras
    from keras import layers

    from utils.nn.blocks import conv_bn_act

    window, base_filters = positive_int(window, "window"), positive_int(base_filters, "base_filters")
    if window % 2 ** (len(BLOCKS) - 1):
        raise ValueError(f"window={window}: expected a multiple of {2 ** (len(BLOCKS) - 1)} (three max-poolings)")
    inputs = keras.Input((window, window, window, 1), name="window")
    x = inputs
    for b, (width, n_convs) in enumerate(BLOCKS):
        if b:
            x = layers.MaxPooling3D(2, name=f"pool{b}")(x)
        for k in range(n_convs):
            x = conv_bn_act(x, base_filters * width, dims=3, name=f"block{b + 1}_conv{k + 1}")
    x = layers.GlobalAveragePooling3D(name="pool")(x)
    x = layers.Dense(base_filters * 8, activation="relu", name="dense")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="holds_ventricles")(x)
    return keras.Model(inputs, outputs, name=name)


def segmenter(window: int = WINDOW, base_filters: int = 8, levels: int = 3,
              name: str = "deepbv_segmenter") -> keras.Model:
    """The V-Net-like segmenter of a window: two extra convolutions at full resolution and two at the bottom."""
    window = positive_int(window, "window")
    return vnet((window, window, window, 1), n_classes=1, base_filters=base_filters, levels=levels,
                final_activation="sigmoid", batch_norm=True, extra_full_resolution=2, extra_bottom=2, name=name)


def _image(image: object) -> np.ndarray:
    return as_image_array(image, "image", (3,))


def labelled_windows(volume: Volume, window: int = WINDOW, stride: int = STRIDE) -> tuple[list[Window], np.ndarray,
                                                                                      np.ndarray]:
    """Every window of the grid over a volume, its label by the lecture's rule (1, 0, or −1 unused) and the fraction
    of the ventricle voxels inside it."""
    if not isinstance(volume, Volume):
        raise TypeError(f"volume is a {type(volume).__name__}: expected a utils.data.volumes.Volume")
    windows = sliding_windows(volume.shape, window, stride)
    return windows, window_labels(volume.ventricles, windows), window_fractions(volume.ventricles, windows)


def balanced_windows(volumes: list[Volume], rng: object, window: int = WINDOW, stride: int = TRAIN_STRIDE,
                     per_volume: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Localizer training data: from each volume, per_volume windows, half positive and half negative, drawn at random:
    images (N, w, w, w, 1) and labels (N,) in {0, 1}.

    Positives are rare (a few windows of the grid hold the whole ventricle system), so they are drawn with
    replacement. Half the negatives are hard ones, holding at least half of the ventricles but under 80 % (the windows
    next to the positives, which the sliding window must rank below them), half come from anywhere.
    """
    rng, per_volume = rng_from(rng, "rng"), int_at_least(per_volume, "per_volume", 2)
    xs, ys = [], []
    for volume in volumes:
        windows, labels, fractions = labelled_windows(volume, window, stride)
        pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
        hard = np.flatnonzero((labels == 0) & (fractions >= 0.5))
        if not len(pos) or not len(neg):
            continue
        n_pos, n_hard = per_volume // 2, (per_volume - per_volume // 2) // 2 if len(hard) else 0
        chosen = [rng.choice(pos, n_pos), rng.choice(hard, n_hard) if n_hard else np.zeros(0, int),
                  rng.choice(neg, per_volume - n_pos - n_hard)]
        chosen = np.concatenate(chosen)
        xs.append(np.stack([volume.image[windows[k]] for k in chosen]))
        ys.append(labels[chosen].astype(np.float32))
    if not xs:
        raise ValueError("no volume has both positive and negative windows: expected a window larger than the "
                         "ventricles and smaller than the volume")
    return np.concatenate(xs)[..., None], np.concatenate(ys)


def segmenter_crops(volumes: list[Volume], rng: object, window: int = WINDOW,
                    jitter: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Segmenter training data: the window around each volume's ventricles, moved by up to ±jitter voxels per axis
    (the localizer's windows are on a grid, not centred): images (N, w, w, w, 1) and masks (N, w, w, w, 1)."""
    rng = rng_from(rng, "rng")
    xs, ys = [], []
    for volume in volumes:
        box = jittered_window_around(volume.ventricles, window, rng, jitter)
        xs.append(volume.image[box])
        ys.append(volume.ventricles[box])
    return np.stack(xs)[..., None], np.stack(ys)[..., None].astype(np.float32)


def score_windows(model: keras.Model, image: np.ndarray, window: int = WINDOW, stride: int = STRIDE,
                  batch_size: int = 64) -> tuple[list[Window], np.ndarray]:
    """Every window of the grid over image and the localizer's score of each (the sliding window)."""
    image = _image(image)
    windows = sliding_windows(image.shape, window, stride)
    batch_size = positive_int(batch_size, "batch_size")
    scores = []
    for b in range(0, len(windows), batch_size):
        batch = np.stack([image[w] for w in windows[b:b + batch_size]])[..., None]
        scores.append(np.asarray(model.predict_on_batch(batch)).reshape(-1))
    return windows, np.concatenate(scores)


def score_map(windows: list[Window], scores: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """The scores on the grid of window corners (a 3-D array indexed by the windows' start positions, in order)."""
    starts = [sorted({w[a].start for w in windows}) for a in range(3)]
    grid = np.full([len(s) for s in starts], np.nan, np.float32)
    for w, score in zip(windows, np.asarray(scores).reshape(-1)):
        grid[tuple(starts[a].index(w[a].start) for a in range(3))] = score
    if np.isnan(grid).any() or len(windows) != grid.size:
        raise ValueError(f"{len(windows)} windows over {shape}: expected the full grid that sliding_windows returns")
    return grid


def segment_in_window(model: keras.Model, image: np.ndarray, window: Window) -> np.ndarray:
    """The segmenter's probabilities inside window, pasted into an all-zero volume of image's shape."""
    image = _image(image)
    probs = np.zeros(image.shape, np.float32)
    probs[window] = np.asarray(model.predict_on_batch(image[window][None, ..., None]))[0, ..., 0]
    return probs


def deep_bv(localizer_model: keras.Model, segmenter_model: keras.Model, image: np.ndarray, window: int = WINDOW,
            stride: int = STRIDE, threshold: float = 0.5) -> dict:
    """The whole pipeline on one volume: the scores of every window, the chosen one, and the ventricle mask."""
    threshold = number_in(threshold, "threshold", 0, 1)
    windows, scores = score_windows(localizer_model, image, window, stride)
    best = windows[int(np.argmax(scores))]
    probs = segment_in_window(segmenter_model, image, best)
    return {"windows": windows, "scores": scores, "window": best, "probabilities": probs, "mask": probs > threshold}
