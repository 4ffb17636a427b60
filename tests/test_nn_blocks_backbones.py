import keras
import numpy as np
import pytest

from utils.nn.backbones import DETECTION_STAGES, conv_stack, detection_backbone
from utils.nn.blocks import conv_bn_act


def test_conv_bn_act_shape_nonnegative_and_momentum():
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, conv_bn_act(inputs, 8, kernel_size=5, strides=2))
    out = model.predict(np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32"), verbose=0)
    assert out.shape == (2, 8, 8, 8) and out.min() >= 0
    conv, bn = model.layers[1], model.layers[2]
    assert conv.kernel_size == (5, 5) and not conv.use_bias and bn.momentum == 0.9


def test_conv_bn_act_in_3d_named_without_batch_norm():
    inputs = keras.Input((8, 8, 8, 1))
    out = conv_bn_act(inputs, 4, strides=2, dims=3, batch_norm=False, activation="sigmoid", name="stage1")
    model = keras.Model(inputs, out)
    names = [layer.name for layer in model.layers[1:]]
    assert names == ["stage1_conv", "stage1"] and model.layers[1].use_bias
    y = model.predict(np.zeros((1, 8, 8, 8, 1), np.float32), verbose=0)
    assert y.shape == (1, 4, 4, 4, 4) and np.all((y > 0) & (y < 1))


def test_conv_bn_act_refuses_bad_arguments():
    inputs = keras.Input((8, 8, 1))
    with pytest.raises(ValueError, match="dims=4: expected one of"):
        conv_bn_act(inputs, 4, dims=4)
    with pytest.raises(ValueError, match="filters=0: expected a positive integer"):
        conv_bn_act(inputs, 0)


def test_conv_stack_returns_the_last_map_at_each_stride():
    inputs = keras.Input((64, 64, 3))
    features = conv_stack(inputs, [(8, 2), (8, 1), (16, 2), (16, 2)])
    assert {s: tuple(f.shape[1:]) for s, f in features.items()} == {2: (32, 32, 8), 4: (16, 16, 16),
                                                                     8: (8, 8, 16)}
    for bad, message in (([], "non-empty"), ([(8, 2, 1)], r"stages\[0\]=\(8, 2, 1\)"),
                         ([(8, 0)], r"stages\[0\] stride=0")):
        with pytest.raises(ValueError, match=message):
            conv_stack(inputs, bad)


def test_detection_backbone_gives_strides_8_16_32_of_uint8_images():
    images = keras.Input((128, 128, 3), dtype="uint8")
    f8, f16, f32 = detection_backbone(images)
    assert [tuple(f.shape[1:3]) for f in (f8, f16, f32)] == [(16, 16), (8, 8), (4, 4)]
    assert len(DETECTION_STAGES) == 7
    with pytest.raises(ValueError, match="expected 8, 16 and 32"):
        detection_backbone(images, [(16, 2), (32, 2)])
