"""Small convolutional backbones: a stack of conv-BN-ReLU blocks that returns its feature map at each stride.

The detection notebooks (09, 10, 11, 12) share them, so that their detectors differ in the heads
they teach, not in the features underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from utils.course.checks import divisible_sides, positive_int
from utils.nn.blocks import conv_bn_act

if TYPE_CHECKING:
    import keras

# The detection backbone of notebooks 10-12: 128x128 in, maps of stride 8, 16 and 32 out (16x16, 8x8, 4x4).
DETECTION_STAGES: tuple[tuple[int, int], ...] = ((16, 2), (32, 2), (64, 2), (64, 1), (64, 2), (64, 1), (64, 2))


def conv_stack(x: keras.KerasTensor, stages: Sequence[tuple[int, int]], dims: int = 2) -> dict[int, keras.KerasTensor]:
    """Apply conv_bn_act for each (filters, stride) stage; return the last feature map at each overall stride."""
    if not stages:
        raise ValueError(f"stages={stages!r}: expected a non-empty sequence of (filters, stride) pairs")
    features, stride = {}, 1
    for i, stage in enumerate(stages):
        if not isinstance(stage, (tuple, list)) or len(stage) != 2:
            raise ValueError(f"stages[{i}]={stage!r}: expected a (filters, stride) pair")
        filters, step = positive_int(stage[0], f"stages[{i}] filters"), positive_int(stage[1], f"stages[{i}] stride")
        x = conv_bn_act(x, filters, strides=step, dims=dims)
        stride *= step
        features[stride] = x
    return features


def detection_backbone(images: keras.KerasTensor,
                       stages: Sequence[tuple[int, int]] = DETECTION_STAGES) -> tuple[keras.KerasTensor, ...]:
    """Feature maps of stride 8, 16 and 32 of uint8 images (rescaled to [0, 1] here): (f8, f16, f32)."""
    from keras import layers

    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4:
        raise ValueError(f"images has shape {shape}: expected a batch (batch, height, width, channels)")
    divisible_sides(shape[1:], "images.shape[1:]", 32, by="32, the coarsest stride",
                    why="so that the maps of stride 8, 16 and 32 cover the image exactly")
    features = conv_stack(layers.Rescaling(1 / 255)(images), stages)
    missing = [s for s in (8, 16, 32) if s not in features]
    if missing:
        raise ValueError(f"stages={tuple(stages)!r} reach strides {sorted(features)}: expected 8, 16 and 32")
    return features[8], features[16], features[32]
