"""Small Keras building blocks that several notebooks' networks share."""

from __future__ import annotations

import keras
from keras import layers


def conv_bn_relu(x: keras.KerasTensor, filters: int, strides: int = 1, kernel: int = 3) -> keras.KerasTensor:
    """Convolution (no bias), batch normalization, ReLU: the detection notebooks' backbone block."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    # momentum 0.9: running statistics that settle within a few minutes of training (Keras's 0.99 lags behind)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)
