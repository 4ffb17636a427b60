"""Classical denoisers: scikit-image's Gaussian, TV, wavelet and NL-means (strengths tuned on training photos) and BM3D.

BM3D (Dabov et al. 2007) comes from the `bm3d` package, the authors' reference implementation; it is
the classical state of the art that DnCNN's paper measures itself against, and it is slow on a CPU
(about 7 s for a 512x512 grey photo on 2 cores).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from utils.course.checks import as_image_array, positive_float

Denoiser = Callable[[np.ndarray, float], np.ndarray]


def bm3d_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D with the true noise level sigma (0-255 scale): grey (H, W) by bm3d, colour (H, W, 3) by bm3d_rgb."""
    import bm3d

    image = as_image_array(noisy, "noisy", (2, 3), in_unit_range=False)  # unclipped noise leaves [0, 1]
    sigma = positive_float(sigma, "sigma", note="the noise level on the 0-255 scale, e.g. 25")
    if image.ndim == 3 and image.shape[-1] != 3:
        raise ValueError(f"noisy has shape {image.shape}: expected a grey (H, W) or an RGB (H, W, 3) image")
    run = bm3d.bm3d_rgb if image.ndim == 3 else bm3d.bm3d
    return np.asarray(run(image, sigma / 255.0), np.float32)


def classical_denoisers(factors: dict[str, float] | None = None) -> dict[str, Denoiser]:
    """The classical denoisers, each called as f(noisy, sigma) with sigma on the 0-255 scale.

    Each gets the true noise level, as the networks are trained for it (BM3D included); the strength factors
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
        "BM3D": bm3d_denoise,
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
    from utils.data.noise import add_gaussian_noise
    from utils.denoising.quality import psnr

    grids = grids or TUNING_GRIDS
    noisy = {(i, s): add_gaussian_noise(im, s, rng=seed + 97 * i + s) for i, im in enumerate(images) for s in sigmas}
    best: dict[str, float] = {}
    for name, grid in grids.items():
        scores = [np.mean([psnr(images[i], classical_denoisers({name: factor})[name](y, s))
                           for (i, s), y in noisy.items()]) for factor in grid]
        best[name] = grid[int(np.argmax(scores))]
    return best
