"""Bad input to utils.nn: refused by name before Keras builds a layer, or silently accepts it."""

import keras
import pytest

from utils.nn.backbones import conv_stack, detection_backbone
from utils.nn.blocks import conv_bn_act

X = keras.Input((16, 16, 3))


@pytest.mark.parametrize("kwargs, match", [
    ({"kernel_size": 0}, "kernel_size=0: expected a positive integer"),
    ({"kernel_size": 2.5}, "kernel_size=2.5: expected a positive integer"),
    ({"strides": 0}, "strides=0: expected a positive integer"),
    ({"strides": -1}, "strides=-1: expected a positive integer"),
    ({"dilation_rate": 0}, "dilation_rate=0: expected a positive integer"),
    ({"dims": 1}, r"dims=1: expected one of 2, 3 \(2-D images or 3-D volumes\)"),
    ({"dims": 3}, r"x has shape \(None, 16, 16, 3\): expected \(batch, 3 spatial axes, channels\) for dims=3"),
    ({"momentum": 2}, r"momentum=2: expected a number in \[0, 1\] \(the running statistics' decay\)"),
    ({"momentum": float("nan")}, "momentum=nan"),
    ({"batch_norm": "no"}, "batch_norm='no': expected one of True, False"),
    ({"activation": "Relu"}, r"activation='Relu': expected a Keras activation \('relu', ...\) or None"),
])
def test_conv_bn_act_refuses_bad_sizes_and_options_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv_bn_act(X, 4, **kwargs)


def test_conv_stack_refuses_bad_stages_and_dims():
    with pytest.raises(ValueError, match=r"stages\[1\] filters=0: expected a positive integer"):
        conv_stack(X, [(4, 1), (0, 2)])
    with pytest.raises(ValueError, match="dims=4: expected one of 2, 3"):
        conv_stack(X, [(4, 1)], dims=4)


@pytest.mark.parametrize("shape, match", [
    ((100, 100, 3), r"images.shape\[1:\]=\(100, 100, 3\): the height 100 is not divisible by 32, the coarsest "
                    "stride; expected None or a positive multiple of 32 so that the maps"),
    ((128, 96 + 8, 3), "the width 104 is not divisible by 32"),
    ((128, 128), r"images has shape \(None, 128, 128\): expected a batch \(batch, height, width, channels\)"),
])
def test_detection_backbone_refuses_sizes_its_strides_do_not_divide(shape, match):
    with pytest.raises(ValueError, match=match):
        detection_backbone(keras.Input(shape, dtype="uint8"))


def test_detection_backbone_takes_any_size_when_unknown():
    f8, _, f32 = detection_backbone(keras.Input((None, None, 3), dtype="uint8"))
    assert tuple(f8.shape[1:3]) == (None, None) and f32.shape[-1] == 64
