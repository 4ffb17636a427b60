"""Bad input to utils.data.patches: a clear error naming the argument, never a silent wrong answer."""

import numpy as np
import pytest

from utils.data.patches import (
    block_positions,
    center_crop,
    crop_to_multiple,
    dihedral,
    downscale_mean,
    sample_patches,
    tile_blocks,
    untile_blocks,
)

IMAGE = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)


@pytest.mark.parametrize("patch, k, match", [
    (IMAGE, 2.5, "k=2.5: expected an integer in 0..7"),
    (np.zeros((3, 4)), 1, r"patch has shape \(3, 4\): expected a square patch"),
    (np.zeros(3), 0, r"patch has shape \(3,\): expected a square patch"),
])
def test_dihedral_refuses_non_square_patches_and_bad_k(patch, k, match):
    with pytest.raises(ValueError, match=match):
        dihedral(patch, k)


@pytest.mark.parametrize("images, kwargs, match", [
    ([IMAGE * 255], {}, r"images\[0\] has values in \[0, 255\]: expected floats in \[0, 1\]"),
    ([np.full((8, 8), np.nan)], {}, r"images\[0\] has 64 NaN or infinite value\(s\)"),
    ([IMAGE, np.zeros((16, 16, 3))], {}, r"images\[1\] has shape \(16, 16, 3\) but images\[0\] has \(16, 16\): "
                                         "expected the same channels"),
    ([IMAGE], {"rng": -1}, "rng=-1: expected a non-negative integer"),
    ([IMAGE], {"rng": 2.5}, "rng=2.5: expected a non-negative integer"),
    ([IMAGE], {"rng": "a"}, "rng='a'"),
    ([IMAGE], {"augment": "no"}, "augment='no': expected one of True, False"),
    ([IMAGE], {"n": 0}, "n=0: expected a positive integer"),
    ([IMAGE], {"size": 32}, r"images\[0\] has shape \(16, 16\): expected both sides >= size=32"),
    ([], {}, "images is empty"),
])
def test_sample_patches_refuses_bad_images_and_arguments(images, kwargs, match):
    kwargs = {"n": 2, "size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        sample_patches(images, **kwargs)


def test_sample_patches_takes_a_generator():
    out = sample_patches([IMAGE], 2, 4, rng=np.random.default_rng(0))
    assert np.array_equal(out, sample_patches([IMAGE], 2, 4, rng=0))


@pytest.mark.parametrize("args, match", [
    ((10, 4, 0), "stride=0: expected a positive integer"),
    ((10, -4, 2), "block=-4: expected a positive integer"),
    ((10, 4, 2.5), "stride=2.5: expected a positive integer"),
    ((0, 4, 1), "length=0: expected a positive integer"),
    ((3, 4, 1), "block=4 is larger than the image side 3"),
])
def test_block_positions_refuses_zero_negative_and_fractional_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        block_positions(*args)


def test_tile_blocks_refuses_nan_and_zero_size_images():
    with pytest.raises(ValueError, match=r"image has 64 NaN or infinite value\(s\): expected finite pixel values"):
        tile_blocks(np.full((8, 8), np.nan), 4, 4)
    with pytest.raises(ValueError, match="image is empty: expected an image of at least one pixel"):
        tile_blocks(np.zeros((0, 8)), 4, 4)


BLOCKS, CORNERS = tile_blocks(IMAGE, 4, 4)


@pytest.mark.parametrize("blocks, corners, shape, match", [
    (BLOCKS, CORNERS, (8, 8), r"corners\[2\]=\(0, 8\) puts a 4x4 tile outside shape=\(8, 8\)"),
    (BLOCKS, CORNERS, 16, "shape=16: expected the image's shape"),
    (BLOCKS, CORNERS, (0, 16), r"shape\[0\]=0: expected a positive integer"),
    (BLOCKS, CORNERS, (2, 2), r"shape=\(2, 2\) is smaller than one 4x4 tile"),
    (BLOCKS, [(-1, 0)] + CORNERS[1:], (16, 16), r"corners\[0\]=-1: expected a non-negative integer"),
    (BLOCKS, [1] * len(BLOCKS), (16, 16), r"corners\[0\]=1: expected a \(y, x\) pair"),
    (np.zeros((0, 4, 4)), [], (16, 16), "blocks is empty: expected at least one tile"),
    (np.zeros(3), [(0, 0)] * 3, (16, 16), r"blocks has shape \(3,\) \(rank 1\): expected rank 3 or 4"),
    (BLOCKS * np.nan, CORNERS, (16, 16), r"blocks has 256 NaN or infinite value\(s\)"),
])
def test_untile_blocks_refuses_tiles_that_do_not_fit(blocks, corners, shape, match):
    with pytest.raises(ValueError, match=match):
        untile_blocks(blocks, corners, shape)


@pytest.mark.parametrize("call, match", [
    (lambda: center_crop(np.zeros(5), 2), r"image has shape \(5,\): expected \(H, W\) or \(H, W, C\)"),
    (lambda: center_crop(IMAGE, 2.5), "side=2.5: expected a positive integer"),
    (lambda: crop_to_multiple(np.zeros(8), 4), r"image has shape \(8,\): expected \(H, W\)"),
    (lambda: crop_to_multiple(IMAGE, 4, max_side=-1), "max_side=-1: expected a positive integer"),
    (lambda: crop_to_multiple(IMAGE, 32), "image of 16x16 has no crop with sides a multiple of multiple=32"),
])
def test_crops_refuse_what_is_not_an_image(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("images, factor, match", [
    (np.zeros((0, 4, 4, 1)), 2, "images is empty: expected at least one image"),
    (np.full((1, 4, 4, 1), "a"), 2, r"images has shape \(1, 4, 4, 1\) and dtype <U1: expected numbers"),
    (np.full((1, 4, 4, 1), np.inf), 2, r"images has 16 NaN or infinite value\(s\)"),
    (np.zeros((1, 4, 4, 1)), 1.5, "factor=1.5: expected a positive integer"),
])
def test_downscale_mean_refuses_empty_non_numeric_and_nan_batches(images, factor, match):
    with pytest.raises(ValueError, match=match):
        downscale_mean(images, factor)
