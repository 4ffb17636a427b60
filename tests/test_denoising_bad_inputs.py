"""Bad input to utils.denoising: refused by name, with what was expected, never a silent wrong answer."""

import numpy as np
import pytest

from utils.denoising.classical import (
    bm3d_denoise,
    classical_denoisers,
    noise_sigma,
    noisy_image,
    strength_factors,
    tune_classical,
)
from utils.denoising.models import denoise_image, dncnn, drunet, lecture_autoencoder, noise_level_map, size_multiple
from utils.denoising.quality import psnr, psnr_from_mse, ssim
from utils.denoising.training import evaluate, main

IMAGE = np.random.default_rng(0).random((16, 16)).astype(np.float32)
NAN = IMAGE.copy()
NAN[3, 4] = np.nan


@pytest.mark.parametrize("shape, match", [
    ((30, 30, 3), r"input_shape=\(30, 30, 3\): the height 30 is not divisible by 4, its two 2x2 poolings; "
                  "expected None or a positive multiple of 4 so that the output has the input's size"),
    ((32, 34, 3), "the width 34 is not divisible by 4"),
    ((0, 32, 3), "the height 0 is not divisible by 4"),
    ((32, 32), r"input_shape=\(32, 32\): expected \(height, width, channels\)"),
    ((32, 32, 0), "expected a positive number of channels, got 0"),
])
def test_lecture_autoencoder_refuses_sizes_its_poolings_do_not_divide(shape, match):
    with pytest.raises(ValueError, match=match):
        lecture_autoencoder(shape)


@pytest.mark.parametrize("kwargs, match", [
    ({"dropout": 1.0}, r"dropout=1.0: expected a number in \[0, 1\)"),
    ({"dropout": -0.1}, "dropout=-0.1"),
    ({"batch_norm": "yes"}, "batch_norm='yes'"),
])
def test_lecture_autoencoder_refuses_bad_variants(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lecture_autoencoder(**kwargs)


def test_lecture_autoencoder_takes_multiples_of_4_and_unknown_sides():
    assert lecture_autoencoder((28, 36, 3)).output_shape == (None, 28, 36, 3)
    assert lecture_autoencoder([None, None, 3]).output_shape == (None, None, None, 3)


@pytest.mark.parametrize("kwargs, match", [
    ({"depth": 2}, r"depth=2: expected an integer >= 3 \(the first, middle and last convolutions\)"),
    ({"depth": 17.0}, "depth=17.0: expected an integer >= 3"),
    ({"channels": 0}, "channels=0: expected a positive integer"),
    ({"image_channels": 0}, "image_channels=0: expected a positive integer"),
    ({"residual": "yes"}, "residual='yes': expected one of True, False"),
    ({"batch_norm": 1}, "batch_norm=1: expected one of True, False"),
    ({"last_init": "he_normal"}, "last_init='he_normal': expected one of 'zeros', 'glorot_uniform'"),
])
def test_dncnn_refuses_bad_sizes_and_flags(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dncnn(**{"depth": 5, "channels": 8, **kwargs})


@pytest.mark.parametrize("kwargs, match", [
    ({"channels": 32}, "channels=32: expected at least two scales, a list of widths"),
    ({"channels": (8,)}, r"channels=\(8,\): expected at least two scales"),
    ({"channels": (8, -4)}, r"channels\[1\]=-4: expected a positive integer"),
    ({"blocks": 0}, "blocks=0: expected a positive integer"),
    ({"image_channels": 1.5}, "image_channels=1.5: expected a positive integer"),
])
def test_drunet_refuses_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        drunet(**{"channels": (4, 8), "blocks": 1, **kwargs})


def test_noise_level_map_refuses_tensors_of_the_wrong_rank():
    import keras

    with pytest.raises(ValueError, match=r"noisy has shape \(None, 8, 1\): expected a batch \(N, H, W, C\)"):
        noise_level_map(keras.Input((8, 1)), keras.Input((1,)))
    with pytest.raises(ValueError, match=r"level has shape \(None, 2\): expected \(N, 1\), one sigma / 255"):
        noise_level_map(keras.Input((8, 8, 1)), keras.Input((2,)))


def test_size_multiple_refuses_what_is_not_a_model():
    with pytest.raises(ValueError, match="model='dncnn': expected a Keras model"):
        size_multiple("dncnn")


@pytest.fixture(scope="module")
def small_dncnn():
    return dncnn(3, 4)


@pytest.mark.parametrize("image, kwargs, match", [
    (IMAGE * 255, {}, r"image has values in \[0.\d+, 25\d\]: expected an image in \[0, 1\] plus noise .*not 0-255"),
    (NAN, {}, r"image has 1 NaN or infinite value\(s\): expected finite pixel values"),
    (np.zeros((0, 8), np.float32), {}, "image is empty: expected an image of at least one pixel"),
    (np.zeros(8, np.float32), {}, r"image has shape \(8,\) \(rank 1\): expected rank 2 or 3 or 4"),
    (IMAGE, {"multiple": 0}, "multiple=0: expected a positive integer"),
    (IMAGE, {"batch_size": 0}, "batch_size=0: expected a positive integer"),
])
def test_denoise_image_refuses_bad_images_and_sizes(small_dncnn, image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        denoise_image(small_dncnn, image, **kwargs)


def test_denoise_image_refuses_a_noise_level_off_the_0_255_scale():
    model = drunet((4, 8), blocks=1)
    for sigma, match in ((0.1, "sigma=0.1: expected sigma on the 0-255 scale"), (300, r"sigma=300: expected a "
                         r"number in \(0, 255\] \(the noise level on the 0-255 scale"), (float("inf"), "sigma=inf")):
        with pytest.raises(ValueError, match=match):
            denoise_image(model, IMAGE, sigma=sigma)


@pytest.mark.parametrize("sigma, match", [
    (0.1, "sigma=0.1: expected sigma on the 0-255 scale"),
    (0, r"sigma=0: expected a number in \(0, 255\]"),
    (256, "sigma=256: expected a number in"),
    (float("nan"), "sigma=nan"),
    ("25", "sigma='25'"),
])
def test_noise_sigma_refuses_levels_off_the_0_255_scale(sigma, match):
    with pytest.raises(ValueError, match=match):
        noise_sigma(sigma)
    assert noise_sigma(25) == 25.0


def test_noisy_image_accepts_unclipped_noise_and_refuses_0_255():
    assert noisy_image(IMAGE * 1.5 - 0.25, "x", (2,)).shape == IMAGE.shape
    with pytest.raises(ValueError, match=r"x has values in .*: expected an image in \[0, 1\] plus noise"):
        noisy_image(IMAGE * 255, "x", (2,))
    with pytest.raises(TypeError, match="x has dtype <U1: expected a numeric image array"):
        noisy_image(np.array([["a"]]), "x", (2,))


@pytest.mark.parametrize("factors, match", [
    ({"nl-means": 0.5}, r"factors key='nl-means': expected one of 'Gaussian', 'TV', 'NL-means' \(the methods "
                        "with a tuned strength; names are case-sensitive\\)"),
    ({"BM3D": 1.0}, "factors key='BM3D': expected one of"),
    ({"TV": 0}, r"factors\['TV'\]=0: expected a finite number in \(0, inf\) \(a strength per unit of sigma\)"),
    ({"Gaussian": float("nan")}, r"factors\['Gaussian'\]=nan"),
    ([("TV", 1.0)], r"factors=\[\('TV', 1.0\)\]: expected a dict of method name -> strength factor"),
])
def test_classical_denoisers_refuse_misspelt_methods_and_bad_strengths(factors, match):
    with pytest.raises(ValueError, match=match):
        classical_denoisers(factors)
    with pytest.raises(ValueError, match=match):
        strength_factors(factors)


@pytest.mark.parametrize("method", ["Gaussian", "TV", "wavelet", "NL-means", "BM3D"])
def test_each_classical_denoiser_refuses_0_255_images_and_0_1_sigmas(method):
    denoise = classical_denoisers()[method]
    with pytest.raises(ValueError, match=r"noisy has values in .*not 0-255"):
        denoise(IMAGE * 255, 25)
    with pytest.raises(ValueError, match="noisy has 1 NaN or infinite value"):
        denoise(NAN, 25)
    with pytest.raises(ValueError, match="sigma=0.1: expected sigma on the 0-255 scale"):
        denoise(IMAGE, 0.1)


def test_bm3d_refuses_an_empty_image():
    with pytest.raises(ValueError, match="noisy is empty: expected an image of at least one pixel"):
        bm3d_denoise(np.zeros((0, 0), np.float32), 25)


@pytest.mark.parametrize("kwargs, match", [
    ({"images": []}, "images is empty: expected at least one clean training photo"),
    ({"images": [IMAGE * 255]}, r"images\[0\] has values in .*: expected floats in \[0, 1\]"),
    ({"sigmas": ()}, "sigmas is empty: expected at least one noise level"),
    ({"sigmas": (0.1,)}, r"sigmas\[0\]=0.1: expected sigma on the 0-255 scale"),
    ({"seed": -1}, "seed=-1: expected a non-negative integer"),
    ({"grids": {"nl-means": (0.5,)}}, "grids key='nl-means': expected one of 'Gaussian', 'TV', 'NL-means'"),
    ({"grids": {"TV": ()}}, r"grids\['TV'\] is empty: expected at least one candidate"),
    ({"grids": {"TV": (0.8, -1)}}, r"grids\['TV'\]=-1: expected a finite number in \(0, inf\)"),
])
def test_tune_classical_refuses_bad_photos_levels_and_grids(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tune_classical(**{"images": [IMAGE], "sigmas": (25,), "grids": {"TV": (0.8,)}, **kwargs})


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_psnr_and_ssim_refuse_0_255_nan_empty_and_mismatched_images(metric):
    with pytest.raises(ValueError, match=r"image has values in .*: expected an image in \[0, 1\] plus noise"):
        metric(IMAGE, IMAGE * 255)               # was clipped to 1 and scored without a word
    with pytest.raises(ValueError, match=r"reference has values in .*: expected floats in \[0, 1\]"):
        metric(IMAGE * 255, IMAGE)
    with pytest.raises(ValueError, match="image has 1 NaN or infinite value"):
        metric(IMAGE, NAN)
    with pytest.raises(ValueError, match="reference is empty: expected an image of at least one pixel"):
        metric(np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32))
    with pytest.raises(ValueError, match=r"image has shape \(8, 8\) but reference has \(16, 16\): expected the same"):
        metric(IMAGE, IMAGE[:8, :8])


def test_ssim_refuses_images_smaller_than_its_window():
    with pytest.raises(ValueError, match=r"reference has shape \(5, 16\): expected sides of at least 7 pixels"):
        ssim(IMAGE[:5], IMAGE[:5])


@pytest.mark.parametrize("mse, match", [
    (0.0, "mse=0.0: expected finite mean squared errors > 0"),
    (-1e-3, "mse=-0.001: expected finite mean squared errors > 0"),
    (float("nan"), "mse=nan: expected finite"),
    ([], "mse is empty: expected at least one mean squared error"),
    ("low", "mse='low': expected finite mean squared errors > 0"),
])
def test_psnr_from_mse_refuses_what_is_no_mean_squared_error(mse, match):
    with pytest.raises(ValueError, match=match):
        psnr_from_mse(mse)


@pytest.mark.parametrize("kwargs, match", [
    ({"color": "grey"}, r"color='grey': expected one of 'gray', 'rgb'"),
    ({"sigmas": ()}, "sigmas is empty: expected at least one noise level"),
    ({"sigmas": (25, 0.2)}, r"sigmas\[1\]=0.2: expected sigma on the 0-255 scale"),
    ({"seed": -2}, "seed=-2: expected a non-negative integer"),
])
def test_evaluate_refuses_bad_colour_levels_and_seed(small_dncnn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        evaluate(small_dncnn, **{"color": "gray", **kwargs})


@pytest.mark.parametrize("argv, message", [
    (["dncnn", "--patch", "0"], "--patch=0: expected a positive integer"),     # was silently trained on 40
    (["autoencoder", "--patch", "30"], "--patch=30: expected a multiple of 4, the downsampling of autoencoder"),
    (["drunet", "--patch", "20"], "--patch=20: expected a multiple of 8"),
    (["dncnn", "--depth", "2"], "--depth=2: expected an integer >= 3"),
    (["dncnn", "--epochs", "0"], "--epochs=0: expected a positive integer"),
    (["dncnn", "--batch-size", "-8"], "--batch-size=-8: expected a positive integer"),
    (["dncnn", "--patches-per-epoch", "0"], "--patches-per-epoch=0: expected a positive integer"),
    (["dncnn", "--lr", "0"], r"--lr=0.0: expected a finite number in \(0, inf\)"),
    (["dncnn", "--sigma-max", "0.2"], r"--sigma-max=0.2: expected a number in \[1, 255\]"),
    (["dncnn", "--clip-fraction", "1.5"], r"--clip-fraction=1.5: expected a number in \[0, 1\]"),
    (["dncnn", "--workers", "-1"], "--workers=-1: expected a non-negative integer"),
    (["dncnn", "--seed", "-1"], "--seed=-1: expected a non-negative integer"),
    (["drunet", "--channels", "32", "0"], r"--channels\[1\]=0: expected a positive integer"),
    (["dncnn", "--minutes", "0"], r"--minutes=0.0: expected a finite number in \(0, inf\)"),
])
def test_the_training_command_refuses_bad_sizes_by_flag_before_training(argv, message, capsys):
    import re

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert re.search(message, capsys.readouterr().err)
