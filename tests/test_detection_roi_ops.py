import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.detection.roi_ops import RoIAlign, RoIPool, roi_align, roi_pool


def ramp(h=8, w=8, c=2, b=1):
    """Features whose every value is different: f[b, y, x, c] = 100 b + 10 y + x + 0.5 c (no ties for max)."""
    bb, yy, xx, cc = np.meshgrid(np.arange(b), np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return (100.0 * bb + 10.0 * yy + xx + 0.5 * cc).astype(np.float32)


def test_roi_pool_by_hand():
    f = ramp()
    out = roi_pool(f, np.array([[[0, 0, 4, 4], [2, 1, 5, 7]]], np.float32), output_size=2)
    assert out.shape == (1, 2, 2, 2, 2)
    # box 0: cells 0..3, bins of 2x2 cells; the maximum of a bin is its bottom-right cell
    np.testing.assert_allclose(out[0, 0, ..., 0], [[11, 13], [31, 33]])
    # box 1: rows 1..6 (6 cells, bins of 3: 1-3, 4-6), columns 2..4 (3 cells, bins floor/ceil: 2-3, 3-4)
    np.testing.assert_allclose(out[0, 1, ..., 0], [[33, 34], [63, 64]])
    np.testing.assert_allclose(out[..., 1], out[..., 0] + 0.5)


def test_roi_pool_of_whole_cells_is_max_pooling_and_rounds_to_the_grid():
    f = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    boxes = np.array([[[0, 0, 16, 16]], [[0, 0, 16, 16]]], np.float32)          # the whole image at stride 2
    out = roi_pool(f, boxes, output_size=4, spatial_scale=0.5)
    np.testing.assert_allclose(out[:, 0], keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(2)(f)))
    shifted = roi_pool(f, boxes + 0.4, output_size=4, spatial_scale=0.5)        # 0.2 cells: rounds back
    np.testing.assert_allclose(shifted, out)


def roi_pool_reference(f: np.ndarray, box, ph: int, pw: int) -> np.ndarray:
    """RoI max pooling of one box on one (H, W, C) map, its bins' edges from exact fractions (Python's
    Fraction): rows floor(p * h / P) .. ceil((p + 1) * h / P), the same for columns, clipped to the map."""
    from fractions import Fraction
    from math import ceil, floor

    height, width = f.shape[:2]
    x1, y1, x2, y2 = (int(np.sign(v) * np.floor(abs(v) + 0.5)) for v in box)       # round half away from 0
    h, w = max(y2 - y1, 1), max(x2 - x1, 1)
    out = np.zeros((ph, pw, f.shape[2]), np.float32)
    for i in range(ph):
        for j in range(pw):
            r0 = min(max(floor(Fraction(i * h, ph)) + y1, 0), height)
            r1 = min(max(ceil(Fraction((i + 1) * h, ph)) + y1, 0), height)
            c0 = min(max(floor(Fraction(j * w, pw)) + x1, 0), width)
            c1 = min(max(ceil(Fraction((j + 1) * w, pw)) + x1, 0), width)
            if r1 > r0 and c1 > c0:
                out[i, j] = f[r0:r1, c0:c1].max((0, 1))
    return out


def test_roi_pool_agrees_with_exact_fractions_on_random_rois_in_float32():
    """The bins' edges computed as p * (e / P) + e / P once landed an ulp above the box (e = 9, P = 7: the
    last bin read one cell past it): on these RoIs, 95 of 188 came out wrong that way."""
    rng = np.random.default_rng(27)
    f = rng.normal(size=(1, 24, 24, 2)).astype(np.float32)
    corners = rng.uniform(-2, 26, size=(188, 2, 2))
    boxes = np.concatenate([corners.min(1), corners.max(1)], axis=1)[None].astype(np.float32)
    for ph, pw in ((7, 7), (3, 5)):
        out = roi_pool(f, boxes, (ph, pw))
        expected = np.stack([roi_pool_reference(f[0], box, ph, pw) for box in boxes[0]])
        assert np.array_equal(out[0], expected), f"{(~np.isclose(out[0], expected)).any((1, 2, 3)).sum()} RoIs differ"
    ninth = roi_pool(f, np.array([[[0, 0, 9, 9]]], np.float32), 7)                     # the case of the issue
    np.testing.assert_array_equal(ninth[0, 0], roi_pool_reference(f[0], (0, 0, 9, 9), 7, 7))


def test_roi_align_of_whole_cells_is_average_pooling():
    f = np.random.default_rng(1).normal(size=(1, 8, 8, 3)).astype(np.float32)
    out = roi_align(f, np.array([[[0, 0, 8, 8]]], np.float32), output_size=4, sampling_ratio=2, aligned=True)
    np.testing.assert_allclose(out[:, 0], keras.ops.convert_to_numpy(keras.layers.AveragePooling2D(2)(f)), atol=1e-6)


def test_roi_align_by_hand_and_the_half_pixel_convention():
    f = ramp(c=1)
    # one bin, one sample at the box centre: aligned, (2 + 4) / 2 - 0.5 = 2.5 in x and 1.5 in y -> 10*1.5 + 2.5
    box = np.array([[[2, 1, 4, 3]]], np.float32)
    assert float(roi_align(f, box, 1, sampling_ratio=1, aligned=True)[0, 0, 0, 0, 0]) == pytest.approx(17.5)
    # the original convention samples half a cell further on: 10 * 2 + 3
    assert float(roi_align(f, box, 1, sampling_ratio=1, aligned=False)[0, 0, 0, 0, 0]) == pytest.approx(23.0)
    # a box far outside the map samples nothing: zeros
    far = np.array([[[100, 100, 120, 120]]], np.float32)
    assert np.all(roi_align(f, far, 2) == 0)


def test_roi_align_equals_a_construction_from_crop_and_resize():
    rng = np.random.default_rng(2)
    f = rng.normal(size=(2, 16, 16, 4)).astype(np.float32)
    boxes = np.array([[[2.3, 3.1, 11.7, 9.4], [4, 4, 12, 14]], [[1.2, 0.6, 7.9, 15.1], [6.5, 2.5, 9.5, 5.5]]],
                     np.float32)
    ph, pw, ratio = 3, 2, 2
    out = roi_align(f, boxes, (ph, pw), spatial_scale=1.0, sampling_ratio=ratio, aligned=True)
    # crop_and_resize samples crop_h points from y1 to y2 (normalized by H - 1), both included: put its first and
    # last sample on RoIAlign's, then average each ratio x ratio block
    x1, y1, x2, y2 = (boxes[..., i].reshape(-1) - 0.5 for i in range(4))
    bh, bw = (y2 - y1) / ph, (x2 - x1) / pw
    first_y, last_y = y1 + 0.5 * bh / ratio, y2 - 0.5 * bh / ratio
    first_x, last_x = x1 + 0.5 * bw / ratio, x2 - 0.5 * bw / ratio
    norm = np.stack([first_y, first_x, last_y, last_x], axis=-1) / 15.0
    crops = tf.image.crop_and_resize(f, norm, np.repeat(np.arange(2), 2), (ph * ratio, pw * ratio)).numpy()
    expected = crops.reshape(4, ph, ratio, pw, ratio, 4).mean(axis=(2, 4)).reshape(2, 2, ph, pw, 4)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_gradients_reach_the_features():
    rng = np.random.default_rng(3)
    f64 = rng.normal(size=(1, 6, 6, 1))
    boxes = tf.constant([[[0.7, 1.2, 4.6, 5.1]]], tf.float64)
    weights = rng.normal(size=(1, 1, 2, 2, 1))
    for op in (lambda x: roi_align(x, boxes, 2, sampling_ratio=2), lambda x: roi_pool(x, boxes, 2)):
        x = tf.Variable(f64)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(op(x) * weights)
        grad = tf.convert_to_tensor(tape.gradient(loss, x)).numpy()   # IndexedSlices: the images taken per box
        numeric = np.zeros_like(f64)
        for idx in np.ndindex(*f64.shape):
            bumped = f64.copy()
            bumped[idx] += 1e-6
            numeric[idx] = (float(tf.reduce_sum(op(tf.constant(bumped)) * weights)) - float(loss)) / 1e-6
        np.testing.assert_allclose(grad, numeric, atol=1e-5)
        assert np.count_nonzero(grad) > 0


def test_layers_run_batched_inside_a_model():
    features = keras.Input((16, 16, 8))
    boxes = keras.Input((5, 4))
    aligned = RoIAlign(output_size=(3, 3), spatial_scale=0.5)([features, boxes])
    pooled = RoIPool(output_size=2, spatial_scale=0.5)([features, boxes])
    model = keras.Model([features, boxes], [aligned, pooled])
    rng = np.random.default_rng(4)
    f = rng.random((2, 16, 16, 8)).astype(np.float32)
    b = np.sort(rng.uniform(0, 32, (2, 5, 2, 2)), axis=2).reshape(2, 5, 4).astype(np.float32)  # (x1, y1, x2, y2)
    a, p = model.predict([f, b], verbose=0)
    assert a.shape == (2, 5, 3, 3, 8) and p.shape == (2, 5, 2, 2, 8)
    np.testing.assert_allclose(a, roi_align(f, b, 3, spatial_scale=0.5), atol=1e-6)
    assert RoIAlign.from_config(RoIAlign(output_size=4).get_config()).output_size == 4


def test_bad_inputs_are_named():
    f, b = ramp(), np.zeros((1, 2, 4), np.float32)
    for call, message in ((lambda: roi_align(f[0], b), r"features has shape \(8, 8, 2\)"),
                          (lambda: roi_align(f, b[0]), r"boxes has shape \(2, 4\)"),
                          (lambda: roi_pool(f, np.zeros((1, 2, 5))), r"expected \(\.\.\., 4\)"),
                          (lambda: roi_align(np.concatenate([f, f]), b), "features hold 2 images and boxes 1"),
                          (lambda: roi_align(f, b, output_size=0), "output_size height=0"),
                          (lambda: roi_align(f, b, output_size=(2, 2, 2)), "output_size=.*expected an int"),
                          (lambda: roi_align(f, b, spatial_scale=0), "spatial_scale=0"),
                          (lambda: roi_align(f, b, sampling_ratio=0), "sampling_ratio=0")):
        with pytest.raises(ValueError, match=message):
            call()


def test_boxes_outside_the_map_read_zeros_and_inverted_or_no_boxes_are_handled():
    f = ramp() + 1.0                                                  # no zero inside the map
    outside = np.array([[[40, 40, 56, 56], [-30, -30, -10, -10]]], np.float32)   # beyond the 8 x 8 map
    assert np.all(roi_align(f, outside, 2) == 0) and np.all(roi_pool(f, outside, 2) == 0)
    half = roi_pool(f, np.array([[[4, 0, 12, 8]]], np.float32), (1, 2))           # right half outside
    assert half[0, 0, 0, 0, 0] > 0 and half[0, 0, 0, 1, 0] == 0
    assert roi_align(f, np.zeros((1, 0, 4), np.float32), 3).shape == (1, 0, 3, 3, 2)
    with pytest.raises(ValueError, match=r"1 box\(es\) with x2 < x1 or y2 < y1, the first \[4.0, 0.0, 2.0, 8.0\]"):
        roi_align(f, np.array([[[0, 0, 8, 8], [4, 0, 2, 8]]], np.float32))
    with pytest.raises(ValueError, match=r"boxes has 1 box\(es\) with NaN or inf"):
        roi_pool(f, np.array([[[0, 0, np.nan, 8]]], np.float32))


def test_swapped_corners_are_refused_for_eager_tensors_and_in_the_layer_but_not_checked_in_compiled_code():
    f = ramp() + 1.0
    swapped = np.array([[[0, 0, 8, 8], [6, 0, 2, 8]]], np.float32)               # box 1: x2 < x1
    message = r"boxes has 1 box\(es\) with x2 < x1 or y2 < y1, the first \[6.0, 0.0, 2.0, 8.0\]: expected finite"
    for call in (lambda: roi_align(f, tf.constant(swapped)), lambda: roi_pool(f, tf.constant(swapped)),
                 lambda: RoIAlign(2)([f, swapped]),                               # Keras makes the boxes tensors
                 lambda: RoIPool(2)([f, swapped])):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=r"boxes has 1 box\(es\) with NaN or inf"):
        RoIAlign(2)([f, np.array([[[0, 0, np.nan, 8]]], np.float32)])
    # inside a traced graph the values are unknown: the box is sampled (mirrored), as the module docstring says
    compiled = tf.function(lambda x, b: roi_align(x, b, 2))
    assert tuple(compiled(tf.constant(f), tf.constant(swapped)).shape) == (1, 2, 2, 2, 2)
