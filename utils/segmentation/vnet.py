"""V-Net (Milletari, Navab and Ahmadi 2016) as the paper draws it, scaled to fit a CPU (notebooks 07, 08).

Level i (i = 0..levels−1) works at 1/2^i of the input's resolution with F_i = base_filters·2^i channels.

- **Left (compression) stage i**: min(i + 1, 3) convolutions of kernel_size³ (the paper: 1, 2, 3, 3 of 5³; the
  default here is 3³, which a CPU trains in minutes), each followed by a PReLU with one slope per channel, except
  that the last one's output is first added to the stage's input (the residual: the network learns a residual
  function at every stage). The first stage's input is the image; its channels are repeated to F_0 for the sum, as
  the paper does, or projected by a 1×1×1 convolution when they do not divide F_0.
- **Down-convolution**: a 2×2×2 convolution with stride 2 to F_{i+1} channels, then a PReLU: the paper's learned
  downsampling in place of pooling.
- **Bottom**: level `levels`, 3 convolutions (fewer when levels < 2) at F_levels channels, residual.
- **Up-convolution**: a 2×2×2 transposed convolution with stride 2 to F_i channels, then a PReLU.
- **Right (decompression) stage i**: the up-convolution's output concatenated with left stage i's output (the skip
  connection forwarding fine detail), 2·F_i channels, then as many convolutions as left stage i had, with the
  residual sum of the concatenation.
- **Output**: a 1×1×1 convolution to n_classes scores and a softmax (the paper's two-class voxel-wise softmax) or a
  sigmoid.

levels=4, base_filters=16, kernel_size=5 is the paper's network (16, 32, 64, 128, 256 channels; stages of 1, 2, 3, 3,
3 and 3, 3, 2, 1 convolutions). There is no batch normalization, as in the paper; batch_norm=True adds one after
every convolution (before its PReLU or residual sum; momentum 0.9, as utils.nn.blocks.conv_bn_act uses), for short
CPU trainings: without it, one run (base_filters=8, levels=3, sigmoid outputs for ventricles and body, Soft Dice,
Adam at 2e-3, batches of 2 of the generator's 64³ volumes) reached a loss of 0.67 and then collapsed to an
all-background output (loss 1.0, the sigmoids saturated) by the sixth pass over 48 volumes; with it (and Adam at
1e-3) the loss fell steadily to 0.30 in ten passes.

separable=True replaces every kernel_size³ convolution of the stages by the lab's constrained filter: k×1×1, 1×k×1,
1×1×k in sequence (utils.nn.blocks.conv3d), with the same field of view and k²/3 times fewer weights per
convolution (3k·C² instead of k³·C² between C channels). cross=True uses the lab's other constrained form, the
three 1-D kernels in parallel on the same input, summed: as many weights (3k·C²) and a cross-shaped field of view.

Layers that end a stage are named for it — enc0..enc{L−1}, down1..down{L}, bottom, up{L−1}..up0, skip{L−1}..skip0,
dec{L−1}..dec0, scores, probabilities — so a notebook can tap any stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from utils.course.checks import int_at_least, one_of, positive_int
from utils.nn.blocks import conv3d

if TYPE_CHECKING:
    import keras

ACTIVATIONS = ("softmax", "sigmoid", None)


def stage_convolutions(level: int) -> int:
    """How many convolutions V-Net's stage at this level has: 1, 2, then 3 (the paper's 1, 2, 3, 3 and bottom 3)."""
    return min(int(level) + 1, 3)


def _prelu(x, name: str | None = None):
    from keras import layers

    return layers.PReLU(shared_axes=[1, 2, 3], name=name)(x)  # one slope per channel, as Caffe's PReLU


def _normalized(x, batch_norm: bool, name: str):
    """x, batch-normalized when batch_norm (the option that the paper does without)."""
    from keras import layers

    return layers.BatchNormalization(momentum=0.9, name=name)(x) if batch_norm else x


def _residual_stage(x, filters: int, n_convs: int, kernel_size: int, separable: bool, cross: bool, batch_norm: bool,
                    name: str):
    """n_convs convolutions (PReLU after each), the last one's output plus the stage's input, then a PReLU."""
    from keras import layers

    shortcut = x
    channels = x.shape[-1]
    if channels != filters:  # the first stage: repeat the image's channels (the paper) or project them
        if filters % channels == 0:
            shortcut = layers.Concatenate(name=f"{name}_repeat")([x] * (filters // channels))
        else:
            shortcut = layers.Conv3D(filters, 1, name=f"{name}_project")(x)
    for k in range(1, n_convs + 1):
        x = _normalized(conv3d(x, filters, kernel_size, separable=separable, cross=cross, name=f"{name}_conv{k}"),
                        batch_norm, f"{name}_bn{k}")
        if k < n_convs:
            x = _prelu(x, f"{name}_act{k}")
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return _prelu(x, name)


def _check_input_shape(input_shape: object, multiple: int, levels: int) -> tuple:
    """input_shape as (D, H, W, C): each side None or a positive multiple of 2**levels, C a positive int."""
    dims = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if dims is None or len(dims) != 4:
        raise ValueError(f"input_shape={input_shape!r}: expected (depth, height, width, channels), "
                         "e.g. (None, None, None, 1)")
    for axis, side in zip(("depth", "height", "width"), dims[:3]):
        if side is not None and (isinstance(side, bool) or not isinstance(side, int) or side <= 0 or side % multiple):
            raise ValueError(f"input_shape={input_shape!r}: the {axis} {side!r} is not divisible by 2**levels = "
                             f"{multiple}; expected None or a positive multiple of {multiple} so that levels={levels} "
                             "down-convolutions divide it")
    positive_int(dims[3], "input_shape[3] (channels)")
    return dims


def vnet(input_shape: tuple = (None, None, None, 1), n_classes: int = 2, base_filters: int = 16, levels: int = 4,
         kernel_size: int = 3, separable: bool = False, final_activation: str | None = "softmax",
         batch_norm: bool = False, extra_full_resolution: int = 0, extra_bottom: int = 0,
         name: str | None = None, cross: bool = False) -> keras.Model:
    """V-Net: residual stages, strided-convolution down, transposed-convolution up, PReLU, skips (module docstring).

    extra_full_resolution adds that many convolutions to the first and the last stage (full resolution: finer
    boundaries), extra_bottom that many to the bottom stage (the lowest resolution, whose field of view spans the
    input: a global shape prior), as Deep BV's segmenter does (notebook 08).
    """
    import keras
    from keras import layers

    levels = positive_int(levels, "levels")
    base_filters = positive_int(base_filters, "base_filters")
    n_classes = positive_int(n_classes, "n_classes")
    kernel_size = positive_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size}: expected an odd size (3, 5), centred on its voxel")
    one_of(separable, "separable", (True, False))
    one_of(cross, "cross", (True, False))
    if separable and cross:
        raise ValueError("separable=True and cross=True: expected one constrained form (utils.nn.blocks.conv3d)")
    one_of(batch_norm, "batch_norm", (True, False))
    one_of(final_activation, "final_activation", ACTIVATIONS, note="None: logits")
    if final_activation == "softmax" and n_classes < 2:
        raise ValueError(f"n_classes={n_classes} with final_activation='softmax': a softmax over one class is "
                         "always 1; expected n_classes >= 2, or final_activation='sigmoid' for a binary mask")
    extra_full_resolution = int_at_least(extra_full_resolution, "extra_full_resolution", 0)
    extra_bottom = int_at_least(extra_bottom, "extra_bottom", 0)
    shape = _check_input_shape(input_shape, 2**levels, levels)

    def convs_at(level: int) -> int:
        return stage_convolutions(level) + (extra_full_resolution if level == 0 else 0)

    inputs = keras.Input(shape)
    x, skips = inputs, []
    for level in range(levels):
        x = _residual_stage(x, base_filters * 2**level, convs_at(level), kernel_size, separable, cross,
                            batch_norm, f"enc{level}")
        skips.append(x)
        x = layers.Conv3D(base_filters * 2 ** (level + 1), 2, strides=2, name=f"down{level + 1}_conv")(x)
        x = _prelu(_normalized(x, batch_norm, f"down{level + 1}_bn"), f"down{level + 1}")
    x = _residual_stage(x, base_filters * 2**levels, stage_convolutions(levels) + extra_bottom, kernel_size, separable,
                        cross, batch_norm, "bottom")
    for level in reversed(range(levels)):
        filters = base_filters * 2**level
        x = layers.Conv3DTranspose(filters, 2, strides=2, name=f"up{level}_conv")(x)
        x = _prelu(_normalized(x, batch_norm, f"up{level}_bn"), f"up{level}")
        x = layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _residual_stage(x, 2 * filters, convs_at(level), kernel_size, separable, cross, batch_norm,
                            f"dec{level}")
    x = layers.Conv3D(n_classes, 1, name="scores")(x)
    if final_activation is not None:
        x = layers.Activation(final_activation, name="probabilities")(x)
    default = "vnet_separable" if separable else "vnet_cross" if cross else "vnet"
    return keras.Model(inputs, x, name=name or default)
