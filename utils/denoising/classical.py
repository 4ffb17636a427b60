"""Classical denoisers: scikit-image's Gaussian, TV, wavelet and NL-means (strengths tuned on training photos) and BM3D.

BM3D (Dabov et al. 2007) comes from the `bm3d` package, the authors' reference implementation; it is
the classical state of the art that DnCNN's paper measures itself against, and it is slow on a CPU
(about 7 s for a 512x512 grey photo on 2 cores).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from utils.course.checks import as_image_array, finite_in, non_negative_int, not_empty, number_in, one_of

Denoiser = Callable[[np.ndarray, float], np.ndarray]

# A noisy image in [0, 1] plus unclipped noise stays well inside this range (sigma 100 reaches about
# -1.8 and 2.8 at 4.5 sigma); an image in 0-255 leaves it unless it is almost black.
NOISY_RANGE: tuple[float, float] = (-3.0, 4.0)


def noise_sigma(sigma: object, name: str = "sigma") -> float:
    """sigma as a float, checking that it is a noise level on the 0-255 scale, in [1, 255] (0.1 is the 0-1 scale)."""
    value = number_in(sigma, name, 0, 255, low_open=True, note="the noise level on the 0-255 scale, e.g. 25")
    if value < 1:
        raise ValueError(f"{name}={sigma!r}: expected sigma on the 0-255 scale (e.g. 25), not the 0-1 scale")
    return value


def noisy_image(x: object, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    """x as a non-empty float32 image in [0, 1] plus noise (unclipped noise may leave [0, 1]; 0-255 is refused)."""
    arr = as_image_array(x, name, ndims, in_unit_range=False)
    not_empty(arr, name, note="expected an image of at least one pixel")
    return finite_in(arr, name, *NOISY_RANGE, expected="an image in [0, 1] plus noise (values near [0, 1]), not "
                     "0-255 (convert with skimage.util.img_as_float32)")


def bm3d_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D with the true noise level sigma (0-255 scale): grey (H, W) by bm3d, colour (H, W, 3) by bm3d_rgb."""
    import bm3d

    image = noisy_image(noisy, "noisy", (2, 3))  # unclipped noise leaves [0, 1]
    sigma = noise_sigma(sigma)
    if image.ndim == 3 and image.shape[-1] != 3:
        raise ValueError(f"noisy has shape {image.shape}: expected a grey (H, W) or an RGB (H, W, 3) image")
    run = bm3d.bm3d_rgb if image.ndim == 3 else bm3d.bm3d
    return np.asarray(run(image, sigma / 255.0), np.float32)


def strength_factors(factors: Mapping[str, float] | None, name: str = "factors") -> dict[str, float]:
    """CLASSICAL_FACTORS updated by factors, checking each key (a tuned method's name) and value (> 0)."""
    if factors is not None and not isinstance(factors, Mapping):
        raise ValueError(f"{name}={factors!r}: expected a dict of method name -> strength factor, or None")
    for key, value in (factors or {}).items():
        one_of(key, f"{name} key", CLASSICAL_FACTORS, note="the methods with a tuned strength; names are "
               "case-sensitive")
        number_in(value, f"{name}[{key!r}]", 0, None, low_open=True, note="a strength per unit of sigma")
    return {**CLASSICAL_FACTORS, **(factors or {})}


def classical_denoisers(factors: dict[str, float] | None = None) -> dict[str, Denoiser]:
    """The classical denoisers, each called as f(noisy, sigma) with sigma on the 0-255 scale.

    Each gets the true noise level, as the networks are trained for it (BM3D included); the strength factors
    (Gaussian width, TV weight, NL-means h; default CLASSICAL_FACTORS) were chosen on the training
    photos only, by `tune_classical`, never on the test photos. Each denoiser refuses an image in
    0-255 and a sigma on the 0-1 scale by name.
    """
    k = strength_factors(factors)
    from skimage.filters import gaussian
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    def checked(run: Callable[[np.ndarray, float, int | None], np.ndarray]) -> Denoiser:
        def denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
            y = noisy_image(noisy, "noisy", (2, 3))
            return run(y, noise_sigma(sigma), -1 if y.ndim == 3 else None)

        return denoise

    return {
        "Gaussian": checked(lambda y, s, ch: gaussian(y, sigma=k["Gaussian"] * s, channel_axis=ch)),
        "TV": checked(lambda y, s, ch: denoise_tv_chambolle(y, weight=k["TV"] * s / 255, channel_axis=ch)),
        "wavelet": checked(lambda y, s, ch: denoise_wavelet(y, sigma=s / 255, method="BayesShrink", mode="soft",
                                                            rescale_sigma=True, channel_axis=ch)),
        "NL-means": checked(lambda y, s, ch: denoise_nl_means(y, h=k["NL-means"] * s / 255, sigma=s / 255,
                                                              patch_size=7, patch_distance=11, fast_mode=True,
                                                              channel_axis=ch)),
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


def tune_classical(images: Sequence[np.ndarray], sigmas: tuple[float, ...] = (15, 25, 50), seed: int = 0,
                   grids: dict[str, tuple[float, ...]] | None = None) -> dict[str, float]:
    """Pick each classical method's strength factor by mean PSNR over images x sigmas (training photos only)."""
    from utils.data.noise import add_gaussian_noise
    from utils.denoising.quality import psnr

    not_empty(images, "images", note="expected at least one clean training photo in [0, 1]")
    images = [as_image_array(im, f"images[{i}]", (2, 3)) for i, im in enumerate(images)]
    not_empty(sigmas, "sigmas", note="expected at least one noise level on the 0-255 scale")
    sigmas = tuple(noise_sigma(s, f"sigmas[{i}]") for i, s in enumerate(sigmas))
    seed = non_negative_int(seed, "seed", note="the seed of the noise")
    grids = TUNING_GRIDS if grids is None else grids
    not_empty(grids, "grids", note="expected a dict of method name -> candidate strength factors")
    for name, grid in grids.items():
        not_empty(grid, f"grids[{name!r}]", note="expected at least one candidate strength factor")
        for factor in grid:  # each key and candidate checked by name
            strength_factors({name: factor}, "grids")
    noisy = {(i, s): add_gaussian_noise(im, s, rng=seed + 97 * i + int(s)) for i, im in enumerate(images)
             for s in sigmas}
    best: dict[str, float] = {}
    for name, grid in grids.items():
        scores = [np.mean([psnr(images[i], classical_denoisers({name: factor})[name](y, s))
                           for (i, s), y in noisy.items()]) for factor in grid]
        best[name] = grid[int(np.argmax(scores))]
    return best
