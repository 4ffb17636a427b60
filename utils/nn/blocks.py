"""The one convolution block the networks share: convolution, batch normalization, activation (2-D or 3-D)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from utils.course.checks import positive_int

if TYPE_CHECKING:
    import keras

DIMS = (2, 3)


def conv_bn_act(x: keras.KerasTensor, filters: int, kernel_size: int = 3, strides: int = 1, *, dims: int = 2,
                batch_norm: bool = True, activation: str | None = "relu", momentum: float = 0.9,
                dilation_rate: int = 1, name: str | None = None) -> keras.KerasTensor:
    """Convolution ('same' padding; no bias when batch norm follows), batch normalization, activation.

    dims=2 uses Conv2D (images), dims=3 Conv3D (volumes). momentum 0.9 lets the running statistics
    settle within the few minutes of training a CPU affords (Keras's 0.99 lags behind; U-Net passes
    0.99). With a name, the layers are NAME_conv, NAME_bn and NAME (the activation's output, so a
    notebook can tap the block by its name).
    """
    from keras import layers

    filters = positive_int(filters, "filters")
    if dims not in DIMS:
        raise ValueError(f"dims={dims!r}: expected one of {DIMS} (2-D images or 3-D volumes)")
    conv = layers.Conv2D if dims == 2 else layers.Conv3D
    x = conv(filters, kernel_size, strides=strides, padding="same", use_bias=not batch_norm,
             dilation_rate=dilation_rate, name=f"{name}_conv" if name else None)(x)
    if batch_norm:
        x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn" if name else None)(x)
    if activation is None:
        return x
    if activation == "relu":
        return layers.ReLU(name=name)(x)
    return layers.Activation(activation, name=name)(x)
