import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from utils.data.noise import add_blind_noise, add_gaussian_noise
from utils.data.photos import EXTRA_TRAIN_PHOTOS, PHOTOS, TEST_PHOTOS, TRAIN_PHOTOS, held_out_items, load_photo
from utils.denoising.quality import psnr, ssim


def test_split_is_disjoint_and_holds_cameraman():
    assert "camera" in TEST_PHOTOS
    assert not set(TEST_PHOTOS) & set(TRAIN_PHOTOS)
    assert not set(TEST_PHOTOS) & set(EXTRA_TRAIN_PHOTOS) and not set(TRAIN_PHOTOS) & set(EXTRA_TRAIN_PHOTOS)
    assert len(set(PHOTOS)) == len(PHOTOS)


@pytest.mark.parametrize("name", PHOTOS)
def test_every_photo_loads_offline_in_unit_range(name):
    gray, rgb = load_photo(name, "gray"), load_photo(name, "rgb")
    assert gray.dtype == rgb.dtype == np.float32
    assert gray.ndim == 2 and rgb.shape == gray.shape + (3,)
    assert 0.0 <= gray.min() and gray.max() <= 1.0 and min(gray.shape) >= 150


def test_unknown_photo_and_colour_are_named():
    with pytest.raises(ValueError, match="name='lena'"):
        load_photo("lena")
    with pytest.raises(ValueError, match="color='cmyk': expected one of 'gray', 'rgb'"):
        load_photo("camera", "cmyk")
    with pytest.raises(ValueError, match="name=None: expected one of 'camera'"):
        load_photo(None)


def test_held_out_items_are_every_test_photo_at_every_noise_draw():
    labels, clean, noisy = held_out_items(25, 2, "rgb")
    assert labels == ["camera, noise 0", "astronaut, noise 0", "coffee, noise 0",
                      "camera, noise 1", "astronaut, noise 1", "coffee, noise 1"]
    np.testing.assert_array_equal(clean[0], clean[3])
    assert clean[0].shape[-1] == 3 and not np.array_equal(noisy[0], noisy[3])    # another draw, same photo
    np.testing.assert_array_equal(held_out_items(25, 2, "rgb")[2][4], noisy[4])  # the same draw every time
    _, _, unclipped = held_out_items(25, 1, "rgb", clip=False)
    assert unclipped[1].min() < 0 and np.array_equal(np.clip(unclipped[1], 0, 1), noisy[1])   # the same noise
    with pytest.raises(ValueError, match="clip='no'"):
        held_out_items(25, 1, clip="no")
    with pytest.raises(ValueError, match="noise_seeds=-1"):
        held_out_items(25, -1)


def test_noise_has_the_requested_sigma_on_the_255_scale():
    clean = np.full((256, 256), 0.5, np.float32)
    noisy = add_gaussian_noise(clean, 25, rng=0, clip=False)
    assert abs((noisy - clean).std() * 255 - 25) < 0.5
    assert np.array_equal(add_gaussian_noise(clean, 25, rng=0, clip=False), noisy)  # seeded


def test_noise_is_clipped_by_default_and_zero_sigma_is_identity():
    clean = load_photo("camera")[:64, :64]
    noisy = add_gaussian_noise(clean, 50, rng=1)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert np.array_equal(add_gaussian_noise(clean, 0, rng=1), clean)


@pytest.mark.parametrize("sigma, match", [(-1, "sigma=-1"), (0.1, "0-255 scale"), (float("nan"), "sigma=nan"),
                                          (float("inf"), "sigma=inf"), ("25", "sigma='25'"), (True, "sigma=True"),
                                          (None, r"sigma=None: expected a finite number in \[0, inf\)")])
def test_bad_sigma_is_named(sigma, match):
    with pytest.raises(ValueError, match=match):
        add_gaussian_noise(np.zeros((8, 8)), sigma)


@pytest.mark.parametrize("sigma_max, match", [(0.5, r"sigma_max=0.5: expected a finite number in \[1, inf\)"),
                                              (float("nan"), "sigma_max=nan"), (True, "sigma_max=True")])
def test_bad_blind_sigma_is_named(sigma_max, match):
    with pytest.raises(ValueError, match=match):
        add_blind_noise(np.zeros((2, 8, 8)), sigma_max)


def test_bad_images_are_named():
    with pytest.raises(ValueError, match="values in"):
        add_gaussian_noise(np.full((8, 8), 255.0), 25)
    with pytest.raises(ValueError, match="rank"):
        add_gaussian_noise(np.zeros(8), 25)
    with pytest.raises(TypeError, match="dtype"):
        add_gaussian_noise(np.array([["a"]]), 25)


def test_metrics_agree_with_skimage():
    rng = np.random.default_rng(0)
    ref = rng.random((64, 64, 3)).astype(np.float32)
    img = np.clip(ref + 0.05 * rng.standard_normal(ref.shape), 0, 1).astype(np.float32)
    assert psnr(ref, img) == pytest.approx(peak_signal_noise_ratio(ref, img, data_range=1.0))
    assert ssim(ref, img) == pytest.approx(structural_similarity(ref, img, data_range=1.0, channel_axis=-1))
    assert psnr(ref[..., 0], ref[..., 0] * 0 + 0.5) < 20 < psnr(ref, img)


def test_psnr_of_known_error():
    ref = np.zeros((10, 10), np.float32)
    assert psnr(ref, ref + 0.1) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01 -> 20 dB


def test_psnr_of_an_unclipped_signal_is_not_clipped_unless_asked():
    rng = np.random.default_rng(3)
    ref = rng.uniform(0.0, 1.0, (32, 32))
    noisy = add_gaussian_noise(ref, 50, rng=rng, clip=False)     # about 16 % of the values leave [0, 1]
    by_hand = 10 * np.log10(1.0 / np.mean((noisy - ref) ** 2))
    assert psnr(ref, noisy, clip=False) == pytest.approx(by_hand, abs=1e-4)
    assert psnr(ref, noisy) > by_hand + 0.3                       # clipping hides part of the noise
    assert psnr(ref, np.clip(noisy, 0, 1), clip=False) == pytest.approx(psnr(ref, noisy))
    with pytest.raises(ValueError, match="clip='no'"):
        psnr(ref, noisy, clip="no")


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="expected the same shape"):
        psnr(np.zeros((8, 8)), np.zeros((8, 9)))


def test_psnr_from_mse_matches_skimage_and_refuses_bad_errors():
    from utils.denoising.quality import psnr_from_mse

    rng = np.random.default_rng(3)
    clean = rng.random((16, 16)).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    mse = float(np.mean((np.float64(clean) - noisy) ** 2))
    assert abs(psnr_from_mse(mse) - psnr(clean, noisy)) < 1e-3
    np.testing.assert_allclose(psnr_from_mse([0.01, 0.001]), [20.0, 30.0])
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="expected finite mean squared errors > 0"):
            psnr_from_mse(bad)


def test_blind_noise_can_clip_a_fraction_of_the_images():
    clean = np.full((400, 4, 4), 0.98, np.float32)
    unclipped = add_blind_noise(clean, 50, rng=0, clip=False)       # the same draws: clipping comes last
    exceeding = unclipped.max(axis=(1, 2)) > 1.0
    for clip, low, high in ((True, 1.0, 1.0), (False, 0.0, 0.0), (0.5, 0.4, 0.6)):
        noisy = add_blind_noise(clean, 50, rng=0, clip=clip)
        assert noisy.max() <= 1.0 or clip is not True
        clipped = (noisy != unclipped).any(axis=(1, 2))[exceeding].mean()
        assert low <= clipped <= high, (clip, clipped)
    np.testing.assert_array_equal(add_blind_noise(clean, 50, rng=3), add_blind_noise(clean, 50, rng=3, clip=True))
    with pytest.raises(ValueError, match="clip=1.5: expected a number in"):
        add_blind_noise(clean, 50, rng=0, clip=1.5)


def test_blind_noise_returns_the_sigma_it_drew_without_changing_the_noise():
    clean = np.full((300, 32, 32), 0.5, np.float32)
    noisy, sigma = add_blind_noise(clean, 55, rng=4, clip=False, return_sigma=True)
    np.testing.assert_array_equal(noisy, add_blind_noise(clean, 55, rng=4, clip=False))
    assert sigma.shape == (300,) and sigma.dtype == np.float32 and 0 <= sigma.min() and sigma.max() <= 55
    measured = (noisy - clean).reshape(300, -1).std(axis=1) * 255
    assert np.abs(measured - sigma).max() < 0.1 * sigma.max()
    clipped, sigma_clipped = add_blind_noise(clean, 55, rng=4, clip=0.5, return_sigma=True)
    np.testing.assert_array_equal(sigma_clipped, sigma)
