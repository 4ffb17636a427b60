"""The course's denoisers: the lecture's autoencoder, DnCNN, and scikit-image's classical methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from utils.checks import as_image_array, positive_int

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
        x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
        # momentum 0.9 (PyTorch's default, as in the reference code) lets the moving statistics
        # catch up within the few thousand steps a CPU can afford
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
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


Denoiser = Callable[[np.ndarray, float], np.ndarray]


def classical_denoisers(factors: dict[str, float] | None = None) -> dict[str, Denoiser]:
    """scikit-image's classical denoisers, each called as f(noisy, sigma) with sigma on the 0-255 scale.

    Each gets the true noise level, as the networks are trained for it; the strength factors
    (Gaussian width, TV weight, NL-means h; default CLASSICAL_FACTORS) were chosen on the training
    photos only, by `tune_classical`, never on the test photos.
    """
    k = {**CLASSICAL_FACTORS, **(factors or {})}
    from skimage.filters import gaussian
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    def _ch(noisy: np.ndarray) -> int | None:
        return -1 if noisy.ndim == 3 else None

    return {
        "Gaussian": lambda y, s: gaussian(y, sigma=k["Gaussian"] * s, channel_axis=_ch(y)),
        "TV": lambda y, s: denoise_tv_chambolle(y, weight=k["TV"] * s / 255, channel_axis=_ch(y)),
        "wavelet": lambda y, s: denoise_wavelet(y, sigma=s / 255, method="BayesShrink", mode="soft",
                                                rescale_sigma=True, channel_axis=_ch(y)),
        "NL-means": lambda y, s: denoise_nl_means(y, h=k["NL-means"] * s / 255, sigma=s / 255,
                                                  patch_size=7, patch_distance=11, fast_mode=True,
                                                  channel_axis=_ch(y)),
    }


# Strength per unit of sigma, chosen by tune_classical(TUNING_GRIDS) on 256x256 centre crops of
# eight training photos (chelsea, rocket, motorcycle, coins, moon, brick, grass,
# immunohistochemistry) at sigma 15, 25, 50; each choice lies inside its grid.
CLASSICAL_FACTORS: dict[str, float] = {"Gaussian": 0.05, "TV": 0.8, "NL-means": 0.5}


TUNING_GRIDS: dict[str, tuple[float, ...]] = {
    "Gaussian": (0.03, 0.04, 0.05, 0.06),
    "TV": (0.4, 0.6, 0.8, 1.0, 1.2),
    "NL-means": (0.3, 0.4, 0.5, 0.6, 0.8),
}


def tune_classical(images: list[np.ndarray], sigmas: tuple[float, ...] = (15, 25, 50), seed: int = 0,
                   grids: dict[str, tuple[float, ...]] | None = None) -> dict[str, float]:
    """Pick each classical method's strength factor by mean PSNR over images x sigmas (training photos only)."""
    from utils.metrics import psnr
    from utils.noise import add_gaussian_noise

    grids = grids or TUNING_GRIDS
    noisy = {(i, s): add_gaussian_noise(im, s, rng=seed + 97 * i + s) for i, im in enumerate(images) for s in sigmas}
    best: dict[str, float] = {}
    for name, grid in grids.items():
        scores = [np.mean([psnr(images[i], classical_denoisers({name: factor})[name](y, s))
                           for (i, s), y in noisy.items()]) for factor in grid]
        best[name] = grid[int(np.argmax(scores))]
    return best
