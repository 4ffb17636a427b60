"""utils.data.pixels.to_uint8: round(255 x), clipped within a tolerance, chunk by chunk; bad input refused by name."""

import numpy as np
import pytest

from utils.data.pixels import TOLERANCE, to_uint8


def test_rounds_like_the_whole_array_at_once_whatever_the_chunk():
    rng = np.random.default_rng(0)
    images = rng.random((7, 5, 4, 3), dtype=np.float32)
    images[0, 0, 0] = [0.0, 1.0, 0.5 / 255]
    expected = np.round(images * 255).astype(np.uint8)
    for chunk in (1, 3, 7, 100):
        out = to_uint8(images, chunk=chunk)
        assert out.dtype == np.uint8 and out.shape == images.shape
        np.testing.assert_array_equal(out, expected)
    assert to_uint8(images[0, :, :, 0]).shape == (5, 4)   # one grey image: chunks of rows


def test_exact_grey_levels_round_trip_and_float64_works():
    levels = np.arange(256, dtype=np.float64).reshape(16, 16) / 255
    np.testing.assert_array_equal(to_uint8(levels), np.arange(256).reshape(16, 16))
    np.testing.assert_array_equal(to_uint8(levels.astype(np.float32), chunk=5), np.arange(256).reshape(16, 16))


def test_clips_within_the_tolerance():
    images = np.array([[-TOLERANCE, 1 + TOLERANCE], [-1e-7, 1 + 1e-7]], np.float32)
    np.testing.assert_array_equal(to_uint8(images), [[0, 255], [0, 255]])


def test_uint8_comes_back_as_is():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    assert to_uint8(images) is images


@pytest.mark.parametrize("images, match", [
    (np.full((2, 4, 4), 255.0, np.float32), r"images\[0:2\] has values in \[255, 255\]: expected floats in \[0, 1\]"),
    (np.full((2, 4, 4), -0.1), r"images\[0:2\] has values in \[-0.1, -0.1\]"),
    (np.array([[0.5, 1.01]]), r"has values in \[0.5, 1.01\].*0-255 scale"),
    (np.array([[0.5, np.nan]]), r"images\[0:1\] has 1 NaN or infinite value\(s\)"),
    (np.array([[np.inf, 0.0]]), "NaN or infinite"),
    (np.zeros((0, 4, 4, 3), np.float32), r"images has shape \(0, 4, 4, 3\): expected a non-empty image"),
    (np.zeros((0, 4, 4, 3), np.uint8), r"images has shape \(0, 4, 4, 3\): expected a non-empty image"),
    (np.zeros(4, np.float32), r"images has shape \(4,\): expected a non-empty image \(H, W\[, C\]\)"),
    (np.float32(0.5), r"images has shape \(\)"),
])
def test_refuses_bad_values_and_empty_input(images, match):
    with pytest.raises(ValueError, match=match):
        to_uint8(images)


def test_names_the_chunk_that_holds_the_bad_value():
    images = np.zeros((10, 2, 2), np.float32)
    images[7, 1, 1] = 2.0
    with pytest.raises(ValueError, match=r"x_test\[6:9\] has values in \[0, 2\]"):
        to_uint8(images, chunk=3, name="x_test")


@pytest.mark.parametrize("images", [np.zeros((2, 2), np.int64), np.zeros((2, 2), bool), np.array([["a", "b"]])])
def test_refuses_other_dtypes(images):
    with pytest.raises(TypeError, match=f"images has dtype {images.dtype}: expected floats in \\[0, 1\\]"):
        to_uint8(images)


@pytest.mark.parametrize("chunk", [0, -1, 2.5, True])
def test_refuses_a_bad_chunk(chunk):
    with pytest.raises(ValueError, match=f"chunk={chunk!r}: expected a positive integer"):
        to_uint8(np.zeros((2, 2), np.float32), chunk=chunk)
