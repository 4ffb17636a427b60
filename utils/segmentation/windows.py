"""Deep BV's sliding window: windows that cover a volume, and their labels for training the localizer (notebook 08).

Along each axis, windows start every `stride` voxels from 0 (a stride of at most the window), and one more window
is added flush with the end when the strides do not land there, so every voxel lies in at least one window. A window
is a tuple of slices, one per axis, ready to index the volume: volume[window].

The lecture's labelling rule, for a window W and the ventricle mask M: the fraction f = |M ∩ W| / |M| of the
ventricle voxels inside W makes W positive (1) when f > 99 %, negative (0) when f < 80 %, and unused (−1) in between,
so the classifier never learns from windows that cut the ventricles only a little.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from utils.course.checks import non_negative_int, number_in, positive_int, rng_from
from utils.data.volumes import Volume

Window = tuple[slice, ...]


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Starts of windows of `window` voxels every `stride` along an axis of `size`, the last flush with its end."""
    size, window, stride = positive_int(size, "size"), positive_int(window, "window"), positive_int(stride, "stride")
    if window > size:
        raise ValueError(f"window={window} is larger than the axis (size={size}): expected a window <= size")
    if stride > window:
        raise ValueError(f"stride={stride} is larger than the window ({window}): the voxels between two windows would "
                         "be seen by none; expected a stride <= window")
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] + window < size:
        starts.append(size - window)
    return starts


def _per_axis(value: object, name: str, ndim: int) -> tuple[int, ...]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * ndim
    if len(values) != ndim:
        raise ValueError(f"{name}={value!r}: expected one integer, or {ndim} (one per axis)")
    return tuple(positive_int(v, f"{name}[{i}]" if isinstance(value, (tuple, list)) else name)
                 for i, v in enumerate(values))


def sliding_windows(shape: Sequence[int], window: int | Sequence[int], stride: int | Sequence[int]) -> list[Window]:
    """Every window (a tuple of slices) of the given size and stride over an array of shape, in C order."""
    if not isinstance(shape, (tuple, list)) or not shape:
        raise ValueError(f"shape={shape!r}: expected the array's shape, e.g. (64, 64, 64)")
    shape = tuple(positive_int(s, f"shape[{i}]") for i, s in enumerate(shape))
    windows, strides = _per_axis(window, "window", len(shape)), _per_axis(stride, "stride", len(shape))
    for axis, (size, w) in enumerate(zip(shape, windows)):
        if w > size:
            raise ValueError(f"window={window!r} is larger than the volume {shape} along axis {axis}: "
                             "expected a window that fits inside it")
    starts = [window_starts(n, w, s) for n, w, s in zip(shape, windows, strides)]
    return [tuple(slice(b, b + w) for b, w in zip(corner, windows)) for corner in itertools.product(*starts)]


def _boolean(mask: object) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"mask has dtype {mask.dtype}: expected a boolean mask (e.g. Volume.ventricles)")
    if not mask.any():
        raise ValueError("mask is empty: expected at least one voxel (the ventricles' place is undefined)")
    return mask


def window_fractions(mask: np.ndarray, windows: Sequence[Window]) -> np.ndarray:
    """For each window, the fraction of the mask's voxels that lie inside it (float64, 0 to 1)."""
    mask = _boolean(mask)
    total = np.count_nonzero(mask)
    # A summed-volume table (zero-padded cumulative sums), so that each window's count costs 2^ndim look-ups.
    table = np.pad(mask.astype(np.int64), [(1, 0)] * mask.ndim)
    for axis in range(mask.ndim):
        table = table.cumsum(axis=axis)
    bounds = np.array([window_bounds(w, mask.shape, f"windows[{k}]") for k, w in enumerate(windows)], np.int64)
    if not len(bounds):
        return np.zeros(0)
    counts = np.zeros(len(windows), np.int64)
    for corner in itertools.product((0, 1), repeat=mask.ndim):  # inclusion-exclusion over the box's corners
        sign = (-1) ** (mask.ndim - sum(corner))
        counts += sign * table[tuple(bounds[:, axis, c] for axis, c in enumerate(corner))]
    return counts / total


def window_bounds(window: object, shape: tuple[int, ...], name: str = "window") -> list[tuple[int, int]]:
    """(start, stop) of each slice of window, checking that it selects at least one voxel of an array of shape."""
    ok = isinstance(window, tuple) and len(window) == len(shape) and all(isinstance(s, slice) for s in window)
    bounds = [s.indices(n) for s, n in zip(window, shape)] if ok else []
    if not ok or any(step != 1 or stop <= start for start, stop, step in bounds):
        raise ValueError(f"{name}={window!r}: expected a tuple of {len(shape)} slices with step 1 that select at "
                         f"least one voxel of shape {tuple(shape)}, as sliding_windows returns")
    return [(start, stop) for start, stop, _ in bounds]


def window_around(mask: np.ndarray, window: int | Sequence[int]) -> Window:
    """The window of the given size centred on the mask's bounding box, moved inside the array where it sticks out.

    The region of interest of a coarse-to-fine pipeline: when the window is at least the box's size, the whole
    mask lies inside it.
    """
    mask = _boolean(mask)
    sizes = _per_axis(window, "window", mask.ndim)
    if any(w > n for w, n in zip(sizes, mask.shape)):
        raise ValueError(f"window={window!r} is larger than the volume {mask.shape}: expected a window that fits")
    corner = []
    for axis, (w, n) in enumerate(zip(sizes, mask.shape)):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        centre = (present[0] + present[-1] + 1) / 2
        corner.append(int(min(max(round(centre - w / 2), 0), n - w)))
    return tuple(slice(c, c + w) for c, w in zip(corner, sizes))


def jittered_window_around(mask: np.ndarray, window: int | Sequence[int], rng: object, jitter: int) -> Window:
    """`window_around` moved by a random shift of up to ±jitter voxels per axis, kept inside the array: the training
    crops of a second stage, whose regions come from a first stage that never finds exactly the truth's box."""
    rng, jitter = rng_from(rng, "rng"), non_negative_int(jitter, "jitter")
    out = []
    for s, n in zip(window_around(mask, window), np.shape(mask)):
        size = s.stop - s.start
        start = int(np.clip(s.start + rng.integers(-jitter, jitter + 1), 0, n - size))
        out.append(slice(start, start + size))
    return tuple(out)


def crop_volume(volume: Volume, window: Window) -> Volume:
    """The part of a Volume (image and masks) inside window, with the same spacing."""
    if not isinstance(volume, Volume):
        raise TypeError(f"volume is a {type(volume).__name__}: expected a utils.data.volumes.Volume")
    window_bounds(window, volume.shape)
    return Volume(volume.image[window], volume.ventricles[window], volume.body[window], volume.spacing)


def window_labels(mask: np.ndarray, windows: Sequence[Window], negative_below: float = 0.8,
                  positive_above: float = 0.99) -> np.ndarray:
    """The lecture's labels (int8): 1 if more than positive_above of the mask is inside, 0 if less than negative_below,
    −1 (unused) in between."""
    negative_below = number_in(negative_below, "negative_below", 0, 1)
    positive_above = number_in(positive_above, "positive_above", negative_below, 1,
                               note=f"at least negative_below={negative_below:g}")
    fractions = window_fractions(mask, windows)
    labels = np.full(len(fractions), -1, np.int8)
    labels[fractions > positive_above] = 1
    labels[fractions < negative_below] = 0
    return labels
