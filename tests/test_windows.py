"""utils.segmentation.windows: windows covering every voxel, the lecture's labels, regions of interest, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.data.volumes import ultrasound_volume
from utils.segmentation.windows import (
    crop_volume,
    sliding_windows,
    window_around,
    window_fractions,
    window_labels,
    window_starts,
)


def test_starts_step_by_stride_and_the_last_window_is_flush_with_the_end():
    assert window_starts(10, 4, 3) == [0, 3, 6]
    assert window_starts(11, 4, 3) == [0, 3, 6, 7]
    assert window_starts(8, 8, 5) == [0] and window_starts(9, 2, 2) == [0, 2, 4, 6, 7]
    assert window_starts(64, 32, 8) == [0, 8, 16, 24, 32]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.data())
def test_every_voxel_is_covered_and_every_window_fits(size, data):
    window = data.draw(st.integers(1, size))
    stride = data.draw(st.integers(1, window))
    starts = window_starts(size, window, stride)
    covered = np.zeros(size, bool)
    for s in starts:
        assert 0 <= s and s + window <= size
        covered[s:s + window] = True
    assert covered.all()
    assert starts == sorted(set(starts))


def test_sliding_windows_cover_a_volume_in_c_order():
    windows = sliding_windows((10, 12, 9), (4, 6, 9), (3, 6, 1))
    assert len(windows) == 3 * 2 * 1
    assert windows[0] == (slice(0, 4), slice(0, 6), slice(0, 9))
    assert windows[1] == (slice(0, 4), slice(6, 12), slice(0, 9))
    count = np.zeros((10, 12, 9), int)
    for w in windows:
        assert count[w].shape == (4, 6, 9)
        count[w] += 1
    assert count.min() >= 1
    assert len(sliding_windows((64, 64, 64), 32, 16)) == 27


def test_labels_follow_the_lecture_rule_on_a_hand_made_mask():
    mask = np.zeros((1, 1, 200), bool)
    mask[0, 0, 100:200] = True  # 100 ventricle voxels along one line
    windows = [(slice(0, 1), slice(0, 1), slice(a, b)) for a, b in
               [(0, 100), (100, 200), (101, 200), (99, 200), (120, 200), (119, 200), (121, 200), (0, 200)]]
    fractions = window_fractions(mask, windows)
    np.testing.assert_allclose(fractions, [0, 1, 0.99, 1, 0.8, 0.81, 0.79, 1])
    labels = window_labels(mask, windows)
    # > 99 % positive, < 80 % negative: exactly 99 % and exactly 80 % are unused.
    np.testing.assert_array_equal(labels, [0, 1, -1, 1, -1, -1, 0, 1])
    assert labels.dtype == np.int8
    np.testing.assert_array_equal(window_labels(mask, windows, 0.5, 0.5), [0, 1, 1, 1, 1, 1, 1, 1])


def test_fractions_match_direct_counts_on_a_random_volume():
    rng = np.random.default_rng(0)
    mask = rng.random((13, 11, 12)) < 0.05
    windows = sliding_windows(mask.shape, (5, 6, 7), (2, 3, 4))
    expected = [mask[w].sum() / mask.sum() for w in windows]
    np.testing.assert_allclose(window_fractions(mask, windows), expected)


@pytest.mark.parametrize("call, match", [
    (lambda: window_starts(10, 11, 1), "window=11 is larger than the axis"),
    (lambda: window_starts(10, 4, 0), "stride=0"),
    (lambda: window_starts(10, 4, -2), "stride=-2"),
    (lambda: window_starts(10, 0, 2), "window=0"),
    (lambda: window_starts(10, 3, 4), "stride=4 is larger than the window"),
    (lambda: window_starts(0, 1, 1), "size=0"),
    (lambda: sliding_windows((8, 8, 8), 9, 1), r"window=9 is larger than the volume \(8, 8, 8\) along axis 0"),
    (lambda: sliding_windows((8, 8, 8), (4, 4, 10), 1), "along axis 2"),
    (lambda: sliding_windows((8, 8, 8), 4, (1, 0, 1)), r"stride\[1\]=0"),
    (lambda: sliding_windows((8, 8, 8), 4, -1), "stride=-1"),
    (lambda: sliding_windows((8, 8, 8), (4, 4), 1), r"window=\(4, 4\): expected one integer, or 3"),
    (lambda: sliding_windows((8, 0, 8), 4, 1), r"shape\[1\]=0"),
    (lambda: sliding_windows(8, 4, 1), "shape=8"),
    (lambda: window_labels(np.ones((4, 4, 4), bool), [(slice(0, 2),) * 3], negative_below=1.2), "negative_below=1.2"),
    (lambda: window_labels(np.ones((4, 4, 4), bool), [(slice(0, 2),) * 3], 0.9, 0.8), "positive_above=0.8"),
    (lambda: window_fractions(np.zeros((4, 4, 4), bool), [(slice(0, 2),) * 3]), "mask is empty"),
    (lambda: window_fractions(np.ones((4, 4, 4), bool), [(slice(0, 2),) * 2]), r"windows\[0\]="),
    (lambda: window_fractions(np.ones((4, 4, 4), bool), [(slice(2, 2),) * 3]), r"windows\[0\]="),
])
def test_bad_input_is_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_mask_that_is_not_boolean_is_refused():
    with pytest.raises(TypeError, match="mask has dtype float64"):
        window_fractions(np.ones((4, 4, 4)), [(slice(0, 2),) * 3])


def test_window_around_holds_the_whole_mask_and_stays_inside():
    rng = np.random.default_rng(1)
    for _ in range(50):
        mask = np.zeros((20, 18, 16), bool)
        lo = rng.integers(0, 12, 3)
        hi = lo + rng.integers(1, 5, 3)
        mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
        size = tuple(int(rng.integers(h - low, n + 1)) for h, low, n in zip(hi, lo, mask.shape))
        window = window_around(mask, size)
        assert [s.stop - s.start for s in window] == list(size)
        assert all(0 <= s.start and s.stop <= n for s, n in zip(window, mask.shape))
        assert mask[window].sum() == mask.sum()
    centred = np.zeros((10, 10, 10), bool)
    centred[4:6, 4:6, 4:6] = True
    assert window_around(centred, 4) == (slice(3, 7),) * 3
    corner = np.zeros((10, 10, 10), bool)
    corner[0, 0, 9] = True
    assert window_around(corner, 4) == (slice(0, 4), slice(0, 4), slice(6, 10))


def test_crop_volume_cuts_image_and_masks_alike():
    volume = ultrasound_volume(16, seed=0)
    box = np.ptp(np.argwhere(volume.ventricles), axis=0) + 1
    size = tuple(int(min(b + extra, 16)) for b, extra in zip(box, (0, 1, 3)))
    window = window_around(volume.ventricles, size)
    part = crop_volume(volume, window)
    assert part.shape == size and part.spacing == volume.spacing
    np.testing.assert_array_equal(part.image, volume.image[window])
    np.testing.assert_array_equal(part.ventricles, volume.ventricles[window])
    assert part.ventricles.sum() == volume.ventricles.sum()


def test_window_around_and_crop_refuse_bad_input():
    mask = np.zeros((8, 8, 8), bool)
    mask[2, 2, 2] = True
    with pytest.raises(ValueError, match=r"window=9 is larger than the volume \(8, 8, 8\)"):
        window_around(mask, 9)
    with pytest.raises(ValueError, match="mask is empty"):
        window_around(np.zeros((8, 8, 8), bool), 4)
    with pytest.raises(TypeError, match="mask has dtype"):
        window_around(mask.astype(int), 4)
    with pytest.raises(ValueError, match=r"window\[1\]=0"):
        window_around(mask, (4, 0, 4))
    volume = ultrasound_volume(16, seed=0)
    with pytest.raises(ValueError, match="window=.*expected a tuple of 3 slices"):
        crop_volume(volume, (slice(0, 4), slice(0, 4)))
    with pytest.raises(ValueError, match="window=.*select at least one voxel"):
        crop_volume(volume, (slice(0, 4), slice(4, 4), slice(0, 4)))
    with pytest.raises(TypeError, match="volume is a ndarray"):
        crop_volume(volume.image, (slice(0, 4),) * 3)
