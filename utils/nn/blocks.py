"""The convolution blocks the networks share: convolution, batch normalization, activation (2-D or 3-D), and the
3-D convolution with the lab's two constrained variants (separated and cross)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from utils.course.checks import number_in, one_of, positive_int

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

    _check_block(x, filters, kernel_size, strides, dims, batch_norm, activation, momentum, dilation_rate)
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


def _check_block(x, filters, kernel_size, strides, dims, batch_norm, activation, momentum, dilation_rate) -> None:
    """conv_bn_act's arguments, each refused by name before Keras builds a layer (or silently takes momentum=2)."""
    import keras

    for name, value in (("filters", filters), ("kernel_size", kernel_size), ("strides", strides),
                        ("dilation_rate", dilation_rate)):
        positive_int(value, name)
    one_of(dims, "dims", DIMS, note="2-D images or 3-D volumes")
    one_of(batch_norm, "batch_norm", (True, False))
    number_in(momentum, "momentum", 0, 1, note="the running statistics' decay")
    if activation is not None:
        try:
            keras.activations.get(activation)
        except ValueError:
            raise ValueError(f"activation={activation!r}: expected a Keras activation ('relu', ...) or None") from None
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != dims + 2:
        raise ValueError(f"x has shape {shape}: expected (batch, {dims} spatial axes, channels) for dims={dims}")


def conv3d(x: keras.KerasTensor, filters: int, kernel_size: int = 3, *, separable: bool = False,
           cross: bool = False, name: str | None = None) -> keras.KerasTensor:
    """A k×k×k Conv3D ('same', with bias), or one of the lab's constrained filters ("cross/separated").

    separable=True: k×1×1, 1×k×1, 1×1×k in sequence without a nonlinearity between them, the first mapping the
    input's channels to filters: k·C_in·F + 2·k·F² weights (+ 3F biases) instead of k³·C_in·F (+ F), and the same
    k×k×k field of view. Layers: NAME_d, NAME_h, NAME_w, one per axis.

    cross=True: the same three 1-D kernels in parallel on the input, summed: 3·k·C_in·F weights (+ F biases, on the
    first), and a field of view shaped as a cross, the 3k − 2 voxels of the three axes through the centre instead
    of the cube. Layers: NAME_d, NAME_h, NAME_w and their sum NAME. Without either: one layer, NAME.
    """
    from keras import layers

    filters, kernel_size = positive_int(filters, "filters"), positive_int(kernel_size, "kernel_size")
    one_of(separable, "separable", (True, False))
    one_of(cross, "cross", (True, False))
    if separable and cross:
        raise ValueError("separable=True and cross=True: expected one constrained form, the separated (in sequence) "
                         "or the cross (in parallel, summed)")
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 5:
        raise ValueError(f"x has shape {shape}: expected (batch, depth, height, width, channels) for a 3-D convolution")
    if not (separable or cross):
        return layers.Conv3D(filters, kernel_size, padding="same", name=name)(x)
    branches = []
    for axis, suffix in enumerate("dhw"):
        kernel = tuple(kernel_size if a == axis else 1 for a in range(3))
        conv = layers.Conv3D(filters, kernel, padding="same", use_bias=separable or axis == 0,
                             name=f"{name}_{suffix}" if name else None)
        if separable:
            x = conv(x)
        else:
            branches.append(conv(x))
    return x if separable else layers.Add(name=name)(branches)
