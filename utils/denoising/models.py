"""The course's denoising networks: the lecture's autoencoder, DnCNN, a DRUNet-style residual U-Net, and how to run
one on a whole image."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from utils.course.checks import divisible_sides, int_at_least, number_in, one_of, positive_int
from utils.denoising.classical import noise_sigma, noisy_image
from utils.nn.blocks import conv_bn_act

if TYPE_CHECKING:
    import keras


def lecture_autoencoder(input_shape: tuple = (32, 32, 3), dropout: float = 0.0,
                        batch_norm: bool = True) -> keras.Model:
    """The lecture's denoising autoencoder, layer for layer (use input_shape=(None, None, 3) for whole images).

    Its two 2x2 poolings and two 2x upsamplings return an image of the input's size only when the
    sides are multiples of 4: any other fixed size is refused (`denoise_image` pads whole images).
    dropout > 0 uncomments the slide's four `# x = Dropout(0.25)(x)` lines, each right after a batch
    normalization as on the slide; batch_norm=False removes the four batch normalizations.
    """
    import keras
    from keras import layers

    input_shape = divisible_sides(input_shape, "input_shape", 4, by="4, its two 2x2 poolings",
                                  why="so that the output has the input's size")
    dropout = number_in(dropout, "dropout", 0.0, 1.0, high_open=True, note="the fraction of features dropped")
    one_of(batch_norm, "batch_norm", (True, False))

    def normalize(x):  # the slide's BatchNormalization(), then its commented-out Dropout(0.25)
        x = layers.BatchNormalization()(x) if batch_norm else x
        return layers.Dropout(dropout)(x) if dropout else x

    x_in = keras.Input(shape=input_shape)
    x = layers.Conv2D(16, (3, 3), activation="relu", padding="same")(x_in)
    x = normalize(layers.MaxPool2D((2, 2), padding="same")(x))
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    encoded = layers.MaxPool2D((2, 2), padding="same", name="encoded_layer")(x)
    x = normalize(encoded)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = normalize(layers.UpSampling2D((2, 2))(x))
    x = layers.Conv2D(16, (3, 3), activation="relu", padding="same")(x)
    x = normalize(layers.UpSampling2D((2, 2))(x))
    decoded = layers.Conv2D(3, (3, 3), activation="sigmoid", padding="same")(x)
    return keras.Model(x_in, decoded, name="lecture_autoencoder")


def dncnn(depth: int = 17, channels: int = 64, residual: bool = True, image_channels: int = 1,
          batch_norm: bool = True, last_init: str = "zeros") -> keras.Model:
    """DnCNN (Zhang et al. 2017): Conv+ReLU, (depth-2) x Conv+BN+ReLU, Conv; fully convolutional.

    residual=True: the convolutions predict the noise and the model returns input - noise (the paper).
    residual=False: the same layers must output the clean image themselves (the "plain" network).
    batch_norm=False: the middle convolutions without batch normalization (and with their biases back).
    last_init: the last convolution's kernel initializer; "zeros" (the course's) starts the residual
    network as the identity and the plain one as a black image, "glorot_uniform" (Keras's default) starts
    both from random weights.
    """
    import keras
    from keras import layers

    depth = int_at_least(depth, "depth", 3, note="the first, middle and last convolutions")
    channels, image_channels = positive_int(channels, "channels"), positive_int(image_channels, "image_channels")
    one_of(residual, "residual", (True, False))
    one_of(batch_norm, "batch_norm", (True, False))
    one_of(last_init, "last_init", ("zeros", "glorot_uniform"))
    noisy = keras.Input(shape=(None, None, image_channels), name="noisy")
    x = layers.Conv2D(channels, 3, padding="same", activation="relu")(noisy)
    for _ in range(depth - 2):
        # BN momentum 0.9 (PyTorch's default, as in the reference code) lets the moving statistics
        # catch up within the few thousand steps a CPU can afford
        x = conv_bn_act(x, channels, momentum=0.9, batch_norm=batch_norm)
    # By default the last convolution starts at zero, so the residual network starts as the identity
    # (x_hat = y) instead of subtracting large random "noise"; both variants share this start.
    out = layers.Conv2D(image_channels, 3, padding="same", kernel_initializer=last_init,
                        name="noise" if residual else "clean")(x)
    if residual:
        out = layers.Subtract(name="denoised")([noisy, out])
    name = f"dncnn_{depth}x{channels}" + ("" if residual else "_plain")
    return keras.Model(noisy, out, name=name)


def noise_level_map(noisy: keras.KerasTensor, level: keras.KerasTensor) -> keras.KerasTensor:
    """FFDNet's noise-level map: each image's sigma (0-1 scale, shape (N, 1)) spread over its pixels, (N, H, W, 1)."""
    from keras import ops

    if len(noisy.shape) != 4:
        raise ValueError(f"noisy has shape {tuple(noisy.shape)}: expected a batch (N, H, W, C)")
    if len(level.shape) != 2 or level.shape[-1] not in (1, None):
        raise ValueError(f"level has shape {tuple(level.shape)}: expected (N, 1), one sigma / 255 per image")
    return ops.ones_like(noisy[..., :1]) * ops.reshape(level, (-1, 1, 1, 1))


def drunet(channels: tuple[int, ...] | list[int] = (32, 64, 128, 192), blocks: int = 2,
           image_channels: int = 1) -> keras.Model:
    """A small residual U-Net denoiser in the spirit of DRUNet (Zhang et al. 2021), told the noise level as FFDNet is.

    Inputs: the noisy image (N, H, W, C) and its noise level sigma / 255 (N, 1), which becomes a
    constant map beside the image (FFDNet). Each scale has `blocks` residual blocks (conv-ReLU-conv
    plus identity, no batch norm, no biases, as DRUNet); a 2x2 stride-2 convolution goes down a
    scale and a 2x2 stride-2 transposed convolution comes back up, where the encoder's features
    are added. Like DnCNN it predicts the noise and returns noisy - noise. Sides must be
    multiples of 2 ** (len(channels) - 1); `denoise_image` pads to that.
    """
    import keras
    from keras import layers

    if not isinstance(channels, (tuple, list)) or len(channels) < 2:
        raise ValueError(f"channels={channels!r}: expected at least two scales, a list of widths such as [32, 64]")
    channels = [positive_int(c, f"channels[{i}]") for i, c in enumerate(channels)]
    blocks, image_channels = positive_int(blocks, "blocks"), positive_int(image_channels, "image_channels")
    noisy = keras.Input(shape=(None, None, image_channels), name="noisy")
    level = keras.Input(shape=(1,), name="noise_level")
    level_map = layers.Lambda(lambda t: noise_level_map(*t), name="noise_level_map")([noisy, level])
    x = layers.Concatenate()([noisy, level_map])
    conv = {"padding": "same", "use_bias": False}

    def res_block(x, c):
        # the second convolution starts at zero, so every block starts as the identity (no norm layers to tame it)
        y = layers.Conv2D(c, 3, activation="relu", **conv)(x)
        return layers.Add()([x, layers.Conv2D(c, 3, kernel_initializer="zeros", **conv)(y)])

    x = layers.Conv2D(channels[0], 3, **conv)(x)
    skips = []
    for c, c_next in zip(channels[:-1], channels[1:]):
        for _ in range(blocks):
            x = res_block(x, c)
        skips.append(x)
        x = layers.Conv2D(c_next, 2, strides=2, **conv)(x)
    for _ in range(blocks):
        x = res_block(x, channels[-1])
    for c, skip in zip(channels[-2::-1], skips[::-1]):
        x = layers.Add()([layers.Conv2DTranspose(c, 2, strides=2, use_bias=False)(x), skip])
        for _ in range(blocks):
            x = res_block(x, c)
    # float32 at the end, so that under mixed precision the subtraction keeps the image's precision
    noise = layers.Conv2D(image_channels, 3, kernel_initializer="zeros", dtype="float32", name="noise", **conv)(x)
    out = layers.Subtract(dtype="float32", name="denoised")([noisy, noise])
    return keras.Model([noisy, level], out, name=f"drunet_{'-'.join(map(str, channels))}x{blocks}")


def size_multiple(model: keras.Model) -> int:
    """What the sides of a model's input must divide by: 2 ** (number of stride-2 poolings and convolutions)."""
    import keras
    from keras import layers

    if not isinstance(model, keras.Model):
        raise ValueError(f"model={model!r}: expected a Keras model")

    downs = [la for la in model.layers if isinstance(la, (layers.MaxPooling2D, layers.AveragePooling2D, layers.Conv2D))
             and not isinstance(la, layers.Conv2DTranspose) and max(la.strides) > 1]
    return 2 ** len(downs)


def denoise_image(model: keras.Model, image: np.ndarray, multiple: int = 4, batch_size: int = 1,
                  sigma: float | None = None) -> np.ndarray:
    """Apply a fully convolutional model to a whole image: (H, W) grey, (H, W, C), or a batch (N, H, W, C).

    The image is padded by reflection to a multiple of `multiple` and of what the model's
    downsampling needs (`size_multiple`), and the result cropped back, so any size works. A model
    told the noise level (two inputs, as `drunet`) needs sigma on the 0-255 scale; a blind one takes none.
    """
    multiple = math.lcm(positive_int(multiple, "multiple"), size_multiple(model))
    batch_size = positive_int(batch_size, "batch_size")
    arr = noisy_image(image, "image", (2, 3, 4))
    single = arr.ndim < 4
    told = len(model.inputs) == 2
    if told and sigma is None:
        raise ValueError(f"sigma=None: model {model.name!r} is told the noise level, expected sigma on the 0-255 scale")
    if not told and sigma is not None:
        raise ValueError(f"sigma={sigma!r}: model {model.name!r} is blind (one input), expected sigma=None")
    if told:
        sigma = noise_sigma(sigma)
    channels_in = model.inputs[0].shape[-1]
    if arr.ndim == 2:
        arr = arr[..., None]
    batch = arr[None] if arr.ndim == 3 else arr
    if batch.shape[-1] != channels_in:
        raise ValueError(f"image has {batch.shape[-1]} channels: the model expects {channels_in}")
    h, w = batch.shape[1:3]
    ph, pw = (-h) % multiple, (-w) % multiple
    padded = np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect")
    x = [padded, np.full((len(padded), 1), sigma / 255.0, np.float32)] if told else padded
    out = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))[:, :h, :w]
    out = out[0] if single else out
    return out[..., 0] if np.asarray(image).ndim == 2 else out
