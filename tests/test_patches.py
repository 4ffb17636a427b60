import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.data.patches import block_positions, center_crop, dihedral, sample_patches, tile_blocks, untile_blocks


def test_dihedral_gives_eight_distinct_transforms_and_identity():
    patch = np.arange(9).reshape(3, 3)
    outs = {dihedral(patch, k).tobytes() for k in range(8)}
    assert len(outs) == 8
    assert np.array_equal(dihedral(patch, 0), patch)
    with pytest.raises(ValueError, match="k=8"):
        dihedral(patch, 8)
    for bad in (-1, 2.0, True, "1", None):
        with pytest.raises(ValueError, match="expected an integer in 0..7"):
            dihedral(patch, bad)
    assert np.array_equal(dihedral(patch, np.int64(5)), dihedral(patch, 5))


def test_sample_patches_shapes_range_and_seed():
    images = [np.random.default_rng(0).random((50, 60)), np.random.default_rng(1).random((40, 40))]
    a = sample_patches(images, 16, 32, rng=3)
    assert a.shape == (16, 32, 32) and a.dtype == np.float32
    assert np.array_equal(a, sample_patches(images, 16, 32, rng=3))
    colour = sample_patches([np.random.default_rng(0).random((40, 40, 3))], 4, 8, rng=0)
    assert colour.shape == (4, 8, 8, 3)


def test_sample_patches_without_augmentation_are_crops():
    image = np.random.default_rng(0).random((20, 20)).astype(np.float32)
    for patch in sample_patches([image], 8, 5, rng=0, augment=False):
        found = any(np.array_equal(image[y:y + 5, x:x + 5], patch) for y in range(16) for x in range(16))
        assert found


def test_sample_patches_errors_name_the_argument():
    with pytest.raises(ValueError, match="size=64"):
        sample_patches([np.zeros((32, 32))], 1, 64)
    with pytest.raises(ValueError, match="n=0"):
        sample_patches([np.zeros((32, 32))], 0, 8)
    with pytest.raises(ValueError, match="images is empty"):
        sample_patches([], 1, 8)


def test_block_positions_cover_and_end_flush():
    assert block_positions(10, 4, 3) == [0, 3, 6]
    assert block_positions(11, 4, 3) == [0, 3, 6, 7]
    assert block_positions(8, 8, 8) == [0]


@settings(max_examples=40, deadline=None)
@given(h=st.integers(8, 40), w=st.integers(8, 40), block=st.integers(1, 8), data=st.data(),
       channels=st.sampled_from([None, 3]))
def test_untile_is_the_exact_inverse_of_tile(h, w, block, data, channels):
    stride = data.draw(st.integers(1, block))
    shape = (h, w) if channels is None else (h, w, channels)
    image = np.random.default_rng(h * w).random(shape).astype(np.float32)
    blocks, corners = tile_blocks(image, block, stride)
    assert blocks.shape[1:3] == (block, block)
    np.testing.assert_allclose(untile_blocks(blocks, corners, image.shape), image, atol=1e-6)


def test_overlapping_tiles_are_averaged():
    blocks = np.stack([np.zeros((2, 2)), np.ones((2, 2))])
    out = untile_blocks(blocks, [(0, 0), (0, 1)], (2, 3))
    np.testing.assert_allclose(out, [[0, 0.5, 1], [0, 0.5, 1]])


def test_tile_errors_name_the_argument():
    with pytest.raises(ValueError, match="stride=5 > block=4"):
        tile_blocks(np.zeros((8, 8)), 4, 5)
    with pytest.raises(ValueError, match="block=16"):
        tile_blocks(np.zeros((8, 8)), 16, 4)
    with pytest.raises(ValueError, match="uncovered"):
        untile_blocks(np.zeros((1, 2, 2)), [(0, 0)], (4, 4))


def test_center_crop():
    image = np.arange(5 * 6).reshape(5, 6)
    assert np.array_equal(center_crop(image, 2), image[1:3, 2:4])
    assert center_crop(image, None) is image
    with pytest.raises(ValueError, match="side=7"):
        center_crop(image, 7)


def test_downscale_mean_equals_skimage_and_checks_its_arguments():
    from skimage.transform import downscale_local_mean

    from utils.data.patches import downscale_mean

    x = np.random.default_rng(0).random((2, 12, 8, 3)).astype(np.float32)
    for f in (1, 2, 4):
        np.testing.assert_allclose(downscale_mean(x, f), downscale_local_mean(x, (1, f, f, 1)), rtol=1e-6)
    with pytest.raises(ValueError, match="factor=3"):
        downscale_mean(x, 3)
    with pytest.raises(ValueError, match=r"images has shape \(12, 8\)"):
        downscale_mean(x[0, ..., 0], 2)


def test_crop_to_multiple_is_central_and_bounded():
    from utils.data.patches import crop_to_multiple

    img = np.arange(10 * 13).reshape(10, 13)
    out = crop_to_multiple(img, 4)
    assert out.shape == (8, 12) and out[0, 0] == img[1, 0]
    assert crop_to_multiple(img, 2, max_side=6).shape == (6, 6)
    assert crop_to_multiple(img, 1).shape == img.shape
    with pytest.raises(ValueError, match="multiple=16"):
        crop_to_multiple(img, 16)
