"""Tests of utils.segmentation.unet: shapes, probabilities, the parameter cost of the skips, argument checks,
a training step."""

import keras
import numpy as np
import pytest

from utils.segmentation.unet import feature_map_sizes, unet


@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
@pytest.mark.parametrize("skip", [True, False])
def test_output_shape_and_softmax_sums_to_one(upsampling, skip):
    model = unet((None, None, 3), n_classes=4, depth=2, filters=4, skip=skip, upsampling=upsampling)
    x = np.random.default_rng(0).random((2, 24, 32, 3)).astype(np.float32)
    p = keras.ops.convert_to_numpy(model(x))
    assert p.shape == (2, 24, 32, 4)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)
    assert (p >= 0).all()


def test_sigmoid_output_is_one_probability_per_pixel():
    model = unet((16, 16, 1), n_classes=1, depth=3, filters=2, final_activation="sigmoid")
    p = keras.ops.convert_to_numpy(model(np.zeros((1, 16, 16, 1), np.float32)))
    assert p.shape == (1, 16, 16, 1)
    assert ((p > 0) & (p < 1)).all()


@pytest.mark.parametrize("depth, filters, batch_norm", [(1, 3, True), (3, 4, True), (2, 5, False)])
def test_skips_cost_exactly_the_extra_input_channels_of_the_decoder_convolutions(depth, filters, batch_norm):
    with_skip = unet((None, None, 3), 3, depth=depth, filters=filters, batch_norm=batch_norm)
    without = unet((None, None, 3), 3, depth=depth, filters=filters, batch_norm=batch_norm, skip=False)
    # Level i's first decoder conv (3x3, width w = filters * 2**(i-1) out) reads [skip (w), upsampled (w)]
    # with the skip, [upsampled (w)] without: 9 * w * w more weights; its bias and BN do not change.
    extra = sum(9 * (filters * 2 ** (i - 1)) ** 2 for i in range(1, depth + 1))
    assert with_skip.count_params() - without.count_params() == extra
    layer = with_skip.get_layer("dec1_1_conv")
    assert layer.kernel.shape == (3, 3, 2 * filters, filters)
    assert without.get_layer("dec1_1_conv").kernel.shape == (3, 3, filters, filters)


def test_feature_map_sizes_follow_the_u():
    model = unet((64, 64, 3), n_classes=4, depth=3, filters=8)
    sizes = dict(feature_map_sizes(model))
    assert sizes["image"] == (64, 64, 3)
    assert sizes["enc1"] == (64, 64, 8) and sizes["pool1"] == (32, 32, 8)
    assert sizes["enc3"] == (16, 16, 32) and sizes["bottleneck"] == (8, 8, 64)
    assert sizes["up3"] == (16, 16, 32) and sizes["skip3"] == (16, 16, 64) and sizes["dec3"] == (16, 16, 32)
    assert sizes["dec1"] == (64, 64, 8) and sizes["probabilities"] == (64, 64, 4)
    names = [n for n, _ in feature_map_sizes(unet((64, 64, 3), 4, depth=3, filters=8, skip=False))]
    assert not any(n.startswith("skip") for n in names)


def test_feature_map_sizes_rejects_other_models():
    plain = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3)])
    with pytest.raises(ValueError, match="bottleneck"):
        feature_map_sizes(plain)
    with pytest.raises(ValueError, match="model="):
        feature_map_sizes("unet")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_shape": (60, 64, 3), "depth": 3}, "height 60 is not divisible by 2\\*\\*depth = 8"),
        ({"input_shape": (64, 30, 3), "depth": 2}, "width 30"),
        ({"input_shape": (64, 64)}, "input_shape="),
        ({"input_shape": (None, None, 0)}, "channels"),
        ({"depth": 0}, "depth=0"),
        ({"filters": 2.5}, "filters=2.5"),
        ({"n_classes": 0}, "n_classes=0"),
        ({"n_classes": 1}, "n_classes=1 with final_activation='softmax'"),
        ({"upsampling": "nearest"}, "upsampling='nearest'"),
        ({"final_activation": "relu"}, "final_activation='relu'"),
        ({"skip": "yes"}, "skip='yes'"),
        ({"skip": 1}, "skip=1: expected one of True, False"),
        ({"batch_norm": None}, "batch_norm=None"),
        ({"upsampling": None}, "upsampling=None: expected one of 'transpose', 'bilinear'"),
        ({"final_activation": "None"},
         r"final_activation='None': expected one of 'softmax', 'sigmoid', None \(None: logits\)"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        unet(**kwargs)


def test_one_training_step_runs_and_changes_the_weights():
    keras.utils.set_random_seed(0)
    model = unet((16, 16, 3), n_classes=3, depth=2, filters=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((4, 16, 16, 3)).astype(np.float32)
    y = rng.integers(0, 3, (4, 16, 16)).astype(np.int32)
    before = model.get_layer("scores").get_weights()[0].copy()
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert not np.allclose(before, model.get_layer("scores").get_weights()[0])
