"""Image quality: PSNR and SSIM through scikit-image (not hand-written), for float images in [0, 1]."""

from __future__ import annotations

import numpy as np

from utils.course.checks import as_image_array


def _pair(reference: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = as_image_array(reference, "reference", (2, 3))
    img = as_image_array(image, "image", (2, 3), in_unit_range=False)
    if ref.shape != img.shape:
        raise ValueError(f"image has shape {img.shape} but reference has {ref.shape}: expected the same shape")
    return ref, np.clip(img, 0.0, 1.0)


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """PSNR in dB of image against reference (both in [0, 1]; image is clipped to [0, 1] first)."""
    from skimage.metrics import peak_signal_noise_ratio

    ref, img = _pair(reference, image)
    return float(peak_signal_noise_ratio(ref, img, data_range=1.0))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """SSIM of image against reference (both in [0, 1]); colour images are compared channel by channel."""
    from skimage.metrics import structural_similarity

    ref, img = _pair(reference, image)
    return float(structural_similarity(ref, img, data_range=1.0, channel_axis=-1 if ref.ndim == 3 else None))


def psnr_from_mse(mse: float | np.ndarray) -> float | np.ndarray:
    """PSNR in dB of a mean squared error between images in [0, 1]: 10 log10(1 / MSE) (a loss curve in dB)."""
    value = np.asarray(mse, np.float64)
    if not np.all(np.isfinite(value)) or np.any(value <= 0):
        raise ValueError(f"mse={mse!r}: expected finite mean squared errors > 0")
    out = 10.0 * np.log10(1.0 / value)
    return float(out) if out.ndim == 0 else out
