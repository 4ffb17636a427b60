"""Additive white Gaussian noise, with sigma on the 0-255 scale as in the denoising literature."""

from __future__ import annotations

import numpy as np

from utils.course.checks import as_image_array, number_in


def add_gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator | int | None = None,
                       clip: bool = True) -> np.ndarray:
    """Return image + N(0, (sigma/255)^2), for a float image in [0, 1].

    Clipping policy: by default the noisy image is clipped back to [0, 1], because a noisy photo is
    still an image (the lecture's pairs of clean and noisy images live in (0, 1)); every method in
    the course sees the same clipped input. Pass clip=False for the unclipped model of the papers.
    """
    clean = as_image_array(image, "image", (2, 3, 4))
    number_in(sigma, "sigma", 0, note="a noise level on the 0-255 scale")
    if 0 < sigma < 1:
        raise ValueError(f"sigma={sigma!r}: expected sigma on the 0-255 scale (e.g. 25), not the 0-1 scale")
    rng = np.random.default_rng(rng)
    noisy = clean + rng.normal(0.0, sigma / 255.0, size=clean.shape).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


def add_blind_noise(
    clean: np.ndarray, sigma_max: float, rng: np.random.Generator | int | None = None, clip: bool | float = True,
    return_sigma: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Noisy copies of a batch (N, ...) of images, each with its own sigma ~ U[0, sigma_max] (blind training).

    clip: True clips every noisy image to [0, 1] (an 8-bit camera's protocol), False none (the literature's);
    a number in [0, 1] clips that fraction of the images, drawn at random, so one model learns both protocols.
    return_sigma: also return each image's sigma on the 0-255 scale, shape (N,), for a model told the noise level.
    """
    batch = as_image_array(clean, "clean", (3, 4))
    number_in(sigma_max, "sigma_max", 1, note="a noise level on the 0-255 scale")
    if not isinstance(clip, (bool, np.bool_)):
        clip = number_in(clip, "clip", 0.0, 1.0, note="True, False or the fraction of images to clip")
    rng = np.random.default_rng(rng)
    sigmas = rng.uniform(0.0, sigma_max, size=(len(batch),) + (1,) * (batch.ndim - 1)) / 255.0
    noisy = batch + rng.normal(size=batch.shape).astype(np.float32) * sigmas.astype(np.float32)
    if isinstance(clip, (bool, np.bool_)):  # no extra random draw: the same seed gives the same noise as ever
        noisy = np.clip(noisy, 0.0, 1.0) if clip else noisy
    else:
        clipped = (rng.random(len(batch)) < clip).reshape((len(batch),) + (1,) * (batch.ndim - 1))
        noisy = np.where(clipped, np.clip(noisy, 0.0, 1.0), noisy)
    return (noisy, (sigmas.reshape(-1) * 255.0).astype(np.float32)) if return_sigma else noisy
