"""Image quality: PSNR and SSIM through scikit-image (not hand-written), for float images in [0, 1]."""

from __future__ import annotations

import numpy as np

from utils.course.checks import as_image_array, not_empty, one_of
from utils.denoising.classical import noisy_image

# structural_similarity's default window is 7x7: a smaller image has no window to average over
SSIM_WINDOW = 7


def _pair(reference: np.ndarray, image: np.ndarray, clip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    ref = as_image_array(reference, "reference", (2, 3))
    not_empty(ref, "reference", note="expected an image of at least one pixel")
    img = noisy_image(image, "image", (2, 3))   # a denoiser's output may leave [0, 1] a little: clipped below
    if ref.shape != img.shape:
        raise ValueError(f"image has shape {img.shape} but reference has {ref.shape}: expected the same shape")
    return ref, np.clip(img, 0.0, 1.0) if clip else img


def psnr(reference: np.ndarray, image: np.ndarray, clip: bool = True) -> float:
    """PSNR in dB of image against reference (both in [0, 1], 0-255 refused), peak 1.

    clip=True clips the image to [0, 1] first: the score of an image as it would be displayed or saved.
    clip=False scores the values as they are, as the field does for a signal that is not clipped (an
    unclipped noisy input, or a denoiser's raw output on it): clipping would hide part of its error.
    """
    from skimage.metrics import peak_signal_noise_ratio

    one_of(clip, "clip", (True, False))
    ref, img = _pair(reference, image, clip)
    return float(peak_signal_noise_ratio(ref, img, data_range=1.0))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """SSIM of image against reference (both in [0, 1], at least 7x7); colour images are compared channel by channel."""
    from skimage.metrics import structural_similarity

    ref, img = _pair(reference, image)
    if min(ref.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"reference has shape {ref.shape}: expected sides of at least {SSIM_WINDOW} pixels "
                         f"(SSIM averages over {SSIM_WINDOW}x{SSIM_WINDOW} windows)")
    return float(structural_similarity(ref, img, data_range=1.0, channel_axis=-1 if ref.ndim == 3 else None))


def psnr_from_mse(mse: float | np.ndarray) -> float | np.ndarray:
    """PSNR in dB of a mean squared error between images in [0, 1]: 10 log10(1 / MSE) (a loss curve in dB)."""
    try:
        value = np.asarray(mse, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"mse={mse!r}: expected finite mean squared errors > 0") from None
    not_empty(value, "mse", note="expected at least one mean squared error")
    if not np.all(np.isfinite(value)) or np.any(value <= 0):
        raise ValueError(f"mse={mse!r}: expected finite mean squared errors > 0")
    out = 10.0 * np.log10(1.0 / value)
    return float(out) if out.ndim == 0 else out
