"""Notebook 14's question 4: the same stack of 3x3 convolutions with and without identity skips.

`deep_stack(depth, residual)` is `depth` 3x3 convolutions: the first lifts a grey patch to `width`
channels; each of the others sees BN -> ReLU of the layer below (He et al.'s pre-activation order)
and the last maps back to one channel. residual=True adds an identity skip around each of the
depth - 2 middle layers; batch_norm=False drops the normalization. The convolutions are named
layer_1 ... layer_depth, first to last, so that their gradients can be read in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from utils.course.checks import int_at_least, one_of, positive_int

if TYPE_CHECKING:
    import keras


def deep_stack(depth: int, residual: bool, batch_norm: bool = True, width: int = 16) -> keras.Model:
    """A plain or residual stack of `depth` 3x3 convolutions, grey image to grey image (any size)."""
    import keras

    depth = int_at_least(depth, "depth", 3)
    one_of(residual, "residual", (True, False))
    one_of(batch_norm, "batch_norm", (True, False))
    width = positive_int(width, "width")
    image = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(width, 3, padding="same", name="layer_1")(image)
    for i in range(2, depth + 1):
        h = keras.layers.BatchNormalization(momentum=0.9)(x) if batch_norm else x
        y = keras.layers.Conv2D(width if i < depth else 1, 3, padding="same", name=f"layer_{i}")(
            keras.layers.ReLU()(h))
        x = keras.layers.Add()([x, y]) if residual and i < depth else y
    return keras.Model(image, x, name=f"{'residual' if residual else 'plain'}_{depth}")
