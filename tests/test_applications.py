"""Notebook 04's networks and their helpers (utils.denoising.applications), bad inputs included."""

import keras
import numpy as np
import pytest

from utils.denoising.applications import (
    NoisyQuantize,
    Quantize,
    codec,
    codec_parts,
    completion_net,
    empirical_bpp,
    encoder_of,
    feature_autoencoder,
    linear_probe,
    random_holes,
    ssim_loss,
    super_resolution_net,
    upscale,
)


def test_random_holes_are_rectangles_within_the_asked_sizes():
    mask = random_holes((64, 80), (3, 3), (8, 12), np.random.default_rng(0))
    assert mask.shape == (64, 80) and mask.dtype == np.float32 and set(np.unique(mask)) == {0.0, 1.0}
    assert 8 * 8 <= mask.sum() <= 3 * 12 * 12
    np.testing.assert_array_equal(mask, random_holes((64, 80), (3, 3), (8, 12), 0))   # a seed is a generator


@pytest.mark.parametrize("args, match", [
    (((16, 16), (1, 2), (8, 20)), "holes no larger than the image"),
    (((16, 16), (3, 2), (2, 4)), "low <= high"),
    (((16, 0), (1, 2), (2, 4)), "shape"),
])
def test_random_holes_refuses_what_cannot_be_cut(args, match):
    with pytest.raises(ValueError, match=match):
        random_holes(*args, rng=0)


@pytest.mark.parametrize("sees_mask", [True, False])
def test_completion_keeps_the_known_pixels_and_fills_only_the_holes(sees_mask):
    keras.utils.set_random_seed(0)
    net = completion_net(sees_mask)
    image = np.random.default_rng(1).random((1, 32, 32, 1)).astype(np.float32)
    mask = random_holes((32, 32), (2, 2), (4, 8), 2)[None, ..., None]
    out = net.predict([image * (1 - mask), mask], verbose=0)
    np.testing.assert_allclose(out[mask == 0], image[mask == 0], atol=1e-6)
    assert ((out[mask == 1] > 0) & (out[mask == 1] < 1)).all()       # a sigmoid's fill


def test_completion_without_the_mask_has_only_the_first_layer_smaller():
    with_mask, without = completion_net(True), completion_net(False)
    assert with_mask.count_params() - without.count_params() == 3 * 3 * 1 * 24   # one input channel less


def test_super_resolution_starts_at_bicubic_only_with_its_near_zero_last_layer():
    image = np.random.default_rng(0).random((32, 48)).astype(np.float32)
    bicubic = upscale(None, image, 2)
    keras.utils.set_random_seed(0)
    near = upscale(super_resolution_net(2), image, 2)
    far = upscale(super_resolution_net(2, last_init="glorot_uniform"), image, 2)
    assert near.shape == bicubic.shape == (32, 48)
    assert np.abs(near - bicubic).max() < 0.01 < np.abs(far - bicubic).max()


def test_upscale_without_a_model_is_keras_bicubic_of_the_block_means():
    image = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    small = image.reshape(4, 4, 4, 4).mean(axis=(1, 3))
    want = keras.layers.UpSampling2D(4, interpolation="bicubic")(small[None, ..., None])
    np.testing.assert_allclose(upscale(None, image, 4), keras.ops.convert_to_numpy(want)[0, ..., 0], atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [({"scale": 3}, "scale=3"), ({"scale": 2, "last_init": "zeros"},
                                                                        "last_init='zeros'")])
def test_super_resolution_refuses_unknown_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        super_resolution_net(**kwargs)


def test_quantize_rounds_forward_and_passes_the_gradient_straight_through():
    import tensorflow as tf

    y = tf.constant([[0.0, 0.1, 0.5, 0.93, 1.0]])
    with tf.GradientTape() as tape:
        tape.watch(y)
        q = Quantize(8)(y)
        total = tf.reduce_sum(q * tf.constant([[1.0, 2.0, 3.0, 4.0, 5.0]]))
    np.testing.assert_allclose(q.numpy(), np.round(y.numpy() * 7) / 7, atol=1e-7)
    np.testing.assert_allclose(tape.gradient(total, y).numpy(), [[1, 2, 3, 4, 5]])   # as if no rounding


def test_noisy_quantize_adds_at_most_half_a_step_in_training_and_rounds_at_test():
    y = np.full((1, 1000), 0.45, np.float32)
    layer = NoisyQuantize(8)
    noisy = keras.ops.convert_to_numpy(layer(y, training=True))
    assert np.abs(noisy - 0.45).max() <= 0.5 / 7 + 1e-6 and noisy.std() > 0.01
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(y, training=False)), 3 / 7, rtol=1e-6)


@pytest.mark.parametrize("layer", [Quantize, NoisyQuantize])
def test_a_quantizer_needs_two_levels(layer):
    with pytest.raises(ValueError, match="levels=1"):
        layer(1)


@pytest.mark.parametrize("quantizer", ["ste", "noise"])
def test_the_codec_code_is_eight_times_smaller_and_on_the_level_grid(quantizer):
    model = codec(4, levels=8, quantizer=quantizer)
    encoder, decoder = codec_parts(model)
    image = np.random.default_rng(0).random((1, 40, 24, 1)).astype(np.float32)
    code = encoder.predict(image, verbose=0)
    assert code.shape == (1, 5, 3, 4)
    np.testing.assert_allclose(code * 7, np.round(code * 7), atol=1e-5)
    assert decoder.predict(code, verbose=0).shape == image.shape
    with pytest.raises(ValueError, match="quantizer='jpeg'"):
        codec(4, quantizer="jpeg")


def test_empirical_bpp_is_the_entropy_of_each_channel_per_image_pixel():
    from scipy.stats import entropy

    rng = np.random.default_rng(0)
    code = rng.integers(0, 8, (16, 16, 3)) / 7
    want = sum(entropy(np.bincount(np.round(code[..., c] * 7).astype(int).ravel(), minlength=8), base=2)
               for c in range(3)) / 64
    assert empirical_bpp(code) == pytest.approx(want)
    assert empirical_bpp(np.full((4, 4, 2), 3 / 7)) == 0.0                      # one symbol: no bits
    assert empirical_bpp(np.tile([0.0, 1.0], (4, 2, 1)).transpose(0, 2, 1)[..., :1], levels=2,
                         pixels_per_symbol=1) == pytest.approx(1.0)             # two symbols, half each


@pytest.mark.parametrize("code, match", [(np.full((4, 4), 0.5), "shape"), (np.full((2, 2, 1), 1.5), r"\[0, 1\]"),
                                         (np.full((2, 2, 1), np.nan), "finite")])
def test_empirical_bpp_refuses_a_code_that_is_not_quantized_maps(code, match):
    with pytest.raises(ValueError, match=match):
        empirical_bpp(code)


def test_the_feature_code_is_a_sixteenth_of_the_pixels_in_eight_channels():
    model = feature_autoencoder(24)
    assert encoder_of(model).output.shape[1:] == (6, 6, 8) and model.output.shape[1:] == (24, 24, 1)
    with pytest.raises(ValueError, match="side=22"):
        feature_autoencoder(22)


def test_linear_probe_separates_separable_classes_and_refuses_bad_splits():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(20), np.zeros(20)]
    features = rng.normal(size=(40, 5)) + 4 * labels[:, None]
    train_idx, test_idx = np.r_[0:10, 20:30], np.r_[10:20, 30:40]
    correct = linear_probe(features, labels, train_idx, test_idx, passes=50)
    assert correct.shape == (20,) and correct.mean() == 1.0
    with pytest.raises(ValueError, match="disjoint"):
        linear_probe(features, labels, train_idx, train_idx[:3])
    with pytest.raises(ValueError, match="0/1 label"):
        linear_probe(features, labels * 2, train_idx, test_idx)


def test_ssim_loss_is_zero_for_a_perfect_output_and_grows_with_the_error():
    image = np.random.default_rng(0).random((2, 32, 32, 1)).astype(np.float32)
    loss = keras.ops.convert_to_numpy(ssim_loss(image, image))
    worse = keras.ops.convert_to_numpy(ssim_loss(image, np.clip(image + 0.2, 0, 1)))
    np.testing.assert_allclose(loss, 0.0, atol=1e-5)
    assert (worse > 0.01).all() and loss.shape == (2,)
