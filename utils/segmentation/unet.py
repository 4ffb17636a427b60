"""U-Net (Ronneberger et al. 2015) as a multiresolution autoencoder, and a list of its feature-map sizes.

Encoder level i (i = 1..depth) has filters·2^(i−1) channels: two 3×3 convolutions (each followed by batch
normalization and ReLU), then a 2×2 max-pool. The bottleneck has filters·2^depth channels. Decoder level i
upsamples by 2 to filters·2^(i−1) channels — a Conv2DTranspose with kernel 2 and stride 2 (the kernel is divisible
by the stride, so every output pixel gets exactly one stamp and there is no checkerboard, see notebook 03), or a
bilinear resize followed by a 3×3 convolution — concatenates the encoder's level-i output (the skip connection),
and applies two 3×3 convolutions. A 1×1 convolution maps the last decoder level to n_classes scores, and a softmax
(one class per pixel) or sigmoid (binary or multi-label) turns them into probabilities.

skip=False builds the same network without the concatenations: a plain encoder–decoder whose layers have the same
widths, so the only difference is the first convolution of each decoder level, which sees half as many channels.

Layers that end a stage are named for it — enc1..encD, pool1..poolD, bottleneck, up{D}..up1, skip{D}..skip1,
dec{D}..dec1, scores, probabilities — so `feature_map_sizes` can list them and a notebook can tap any stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from utils.course.checks import divisible_sides, one_of, positive_int
from utils.nn.blocks import conv_bn_act

if TYPE_CHECKING:
    import keras

UPSAMPLING = ("transpose", "bilinear")
ACTIVATIONS = ("softmax", "sigmoid", None)


def _conv_block(x, n_filters: int, batch_norm: bool, name: str):
    """Two (3×3 convolution, [batch normalization], ReLU): layers NAME_1_conv .. NAME_1, then NAME_conv .. NAME."""
    # Keras's default BN momentum (0.99): the U-Net notebooks train long enough for it
    x = conv_bn_act(x, n_filters, batch_norm=batch_norm, momentum=0.99, name=f"{name}_1")
    return conv_bn_act(x, n_filters, batch_norm=batch_norm, momentum=0.99, name=name)


def unet(
    input_shape: tuple = (None, None, 3), n_classes: int = 2, depth: int = 3, filters: int = 16, skip: bool = True,
    upsampling: str = "transpose", batch_norm: bool = True, final_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """U-Net with `depth` poolings and `filters` channels at full resolution; skip=False drops the skip connections."""
    import keras
    from keras import layers

    depth = positive_int(depth, "depth")
    filters = positive_int(filters, "filters")
    n_classes = positive_int(n_classes, "n_classes")
    shape = divisible_sides(input_shape, "input_shape", 2**depth, by=f"2**depth = {2**depth}",
                            why=f"so that depth={depth} poolings divide it")
    one_of(upsampling, "upsampling", UPSAMPLING)
    one_of(final_activation, "final_activation", ACTIVATIONS, note="None: logits")
    if final_activation == "softmax" and n_classes < 2:
        raise ValueError(
            f"n_classes={n_classes} with final_activation='softmax': a softmax over one class is always 1; "
            "expected n_classes >= 2, or final_activation='sigmoid' for a binary mask"
        )
    one_of(skip, "skip", (True, False))
    one_of(batch_norm, "batch_norm", (True, False))

    inputs = keras.Input(shape, name="image")
    x = inputs
    skips = []
    for level in range(1, depth + 1):
        x = _conv_block(x, filters * 2 ** (level - 1), batch_norm, f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = _conv_block(x, filters * 2**depth, batch_norm, "bottleneck")
    for level in range(depth, 0, -1):
        width = filters * 2 ** (level - 1)
        if upsampling == "transpose":
            x = layers.Conv2DTranspose(width, 2, strides=2, name=f"up{level}")(x)
        else:
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{level}_resize")(x)
            x = layers.Conv2D(width, 3, padding="same", name=f"up{level}")(x)
        if skip:
            x = layers.Concatenate(name=f"skip{level}")([skips[level - 1], x])
        x = _conv_block(x, width, batch_norm, f"dec{level}")
    scores = layers.Conv2D(n_classes, 1, name="scores")(x)
    # float32 probabilities even under mixed precision, so that losses and metrics see exact sums.
    outputs = layers.Activation(final_activation or "linear", dtype="float32", name="probabilities")(scores)
    default = f"unet_d{depth}_f{filters}" + ("" if skip else "_no_skip")
    return keras.Model(inputs, outputs, name=name or default)


def _is_stage(layer_name: str) -> bool:
    """True for the layers that end a stage (see the module docstring), and the input layer `image`."""
    if layer_name in ("image", "bottleneck", "scores", "probabilities"):
        return True
    for prefix in ("enc", "pool", "up", "skip", "dec"):
        if layer_name.startswith(prefix) and layer_name[len(prefix):].isdigit():
            return True
    return False


def feature_map_sizes(model: keras.Model) -> list[tuple[str, tuple]]:
    """(stage name, output shape without the batch axis) for each stage of a model built by `unet`, in order."""
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"model={model!r}: expected a keras.Model built by utils.unet.unet")
    stages = [(layer.name, tuple(layer.output.shape[1:])) for layer in model.layers if _is_stage(layer.name)]
    if not any(name == "bottleneck" for name, _ in stages):
        raise ValueError(f"model={model.name!r} has no layer named 'bottleneck': expected a model built by unet()")
    return stages
