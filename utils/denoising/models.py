"""The course's denoising networks: the lecture's autoencoder and DnCNN, and how to run one on a whole image."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from utils.course.checks import as_image_array, positive_int
from utils.nn.blocks import conv_bn_act

if TYPE_CHECKING:
    import keras


def lecture_autoencoder(input_shape: tuple = (32, 32, 3)) -> keras.Model:
    """The lecture's denoising autoencoder, layer for layer (use input_shape=(None, None, 3) for whole images)."""
    import keras
    from keras import layers

    x_in = keras.Input(shape=input_shape)
    x = layers.Conv2D(16, (3, 3), activation="relu", padding="same")(x_in)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    encoded = layers.MaxPooling2D((2, 2), padding="same", name="encoded_layer")(x)
    x = layers.BatchNormalization()(encoded)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.UpSampling2D((2, 2))(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(16, (3, 3), activation="relu", padding="same")(x)
    x = layers.UpSampling2D((2, 2))(x)
    # x = layers.Dropout(0.25)(x)   # the lecture leaves this commented out: an exercise in 01
    x = layers.BatchNormalization()(x)
    decoded = layers.Conv2D(3, (3, 3), activation="sigmoid", padding="same")(x)
    return keras.Model(x_in, decoded, name="lecture_autoencoder")


def dncnn(depth: int = 17, channels: int = 64, residual: bool = True, image_channels: int = 1) -> keras.Model:
    """DnCNN (Zhang et al. 2017): Conv+ReLU, (depth-2) x Conv+BN+ReLU, Conv; fully convolutional.

    residual=True: the convolutions predict the noise and the model returns input - noise (the paper).
    residual=False: the same layers must output the clean image themselves (the "plain" network).
    """
    import keras
    from keras import layers

    depth, channels = positive_int(depth, "depth"), positive_int(channels, "channels")
    if depth < 3:
        raise ValueError(f"depth={depth}: expected at least 3 (first, middle and last convolution)")
    noisy = keras.Input(shape=(None, None, image_channels), name="noisy")
    x = layers.Conv2D(channels, 3, padding="same", activation="relu")(noisy)
    for _ in range(depth - 2):
        # BN momentum 0.9 (PyTorch's default, as in the reference code) lets the moving statistics
        # catch up within the few thousand steps a CPU can afford
        x = conv_bn_act(x, channels, momentum=0.9)
    # The last convolution starts at zero, so the residual network starts as the identity
    # (x_hat = y) instead of subtracting large random "noise"; both variants share this start.
    out = layers.Conv2D(image_channels, 3, padding="same", kernel_initializer="zeros",
                        name="noise" if residual else "clean")(x)
    if residual:
        out = layers.Subtract(name="denoised")([noisy, out])
    name = f"dncnn_{depth}x{channels}" + ("" if residual else "_plain")
    return keras.Model(noisy, out, name=name)


def denoise_image(model: keras.Model, image: np.ndarray, multiple: int = 4, batch_size: int = 1) -> np.ndarray:
    """Apply a fully convolutional model to a whole image: (H, W) grey, (H, W, C), or a batch (N, H, W, C).

    The image is padded by reflection to a multiple of `multiple` (2 ** number of poolings) and
    the result cropped back, so any size works.
    """
    arr = as_image_array(image, "image", (2, 3, 4), in_unit_range=False)
    single = arr.ndim < 4
    channels_in = model.input_shape[-1]
    if arr.ndim == 2:
        arr = arr[..., None]
    batch = arr[None] if arr.ndim == 3 else arr
    if batch.shape[-1] != channels_in:
        raise ValueError(f"image has {batch.shape[-1]} channels: the model expects {channels_in}")
    h, w = batch.shape[1:3]
    ph, pw = (-h) % multiple, (-w) % multiple
    padded = np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect")
    out = np.asarray(model.predict(padded, batch_size=batch_size, verbose=0))[:, :h, :w]
    out = out[0] if single else out
    return out[..., 0] if np.asarray(image).ndim == 2 else out
