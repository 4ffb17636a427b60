"""The real photographs bundled with scikit-image (and a few with matplotlib and scikit-learn), and the course's
fixed train/test split by photo."""

from __future__ import annotations

from typing import Literal

import numpy as np

from utils.course.checks import one_of

# Test photos are never used for training or for tuning any method (classical baselines included).
TEST_PHOTOS: tuple[str, ...] = ("camera", "astronaut", "coffee")
TRAIN_PHOTOS: tuple[str, ...] = (
    "chelsea", "rocket", "motorcycle", "coins", "moon", "clock", "page", "text",
    "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "retina", "cell",
)
# More natural photos that ship offline with the course's other packages, for the long training
# runs only (`python -m utils.train ... --photos extended`): matplotlib's portrait of Grace Hopper
# and scikit-learn's two sample photos. Notebooks train live on TRAIN_PHOTOS alone.
EXTRA_TRAIN_PHOTOS: tuple[str, ...] = ("grace_hopper", "china", "flower")
PHOTOS: tuple[str, ...] = TEST_PHOTOS + TRAIN_PHOTOS + EXTRA_TRAIN_PHOTOS


def _raw(name: str) -> np.ndarray:
    from skimage import data

    if name == "motorcycle":  # the left view of the bundled stereo pair
        return data.stereo_motorcycle()[0]
    if name == "grace_hopper":
        import matplotlib.cbook
        import matplotlib.image

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
            return matplotlib.image.imread(f, format="jpg")
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    return getattr(data, name)()


def load_photo(name: str, color: Literal["gray", "rgb"] = "gray") -> np.ndarray:
    """One bundled photo as float32 in [0, 1]: (H, W) for 'gray', (H, W, 3) for 'rgb'."""
    one_of(name, "name", PHOTOS, note="the photos bundled with scikit-image, matplotlib and scikit-learn")
    one_of(color, "color", ("gray", "rgb"))
    from skimage import color as skcolor
    from skimage.util import img_as_float32

    image = img_as_float32(_raw(name))
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    if color == "gray":
        return (skcolor.rgb2gray(image) if image.ndim == 3 else image).astype(np.float32)
    return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1)


def load_photos(names: tuple[str, ...] | list[str], color: Literal["gray", "rgb"] = "gray") -> dict[str, np.ndarray]:
    """Several photos by name, in order, as a dict name -> image."""
    return {name: load_photo(name, color) for name in names}


def held_out_items(sigma: float, noise_seeds: int = 3, color: Literal["gray", "rgb"] = "gray",
                   clip: bool = True) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """The held-out test items at one noise level: every test photo with `noise_seeds` draws of Gaussian noise.

    Returns (labels 'photo, noise k', clean images, noisy images), draw by draw and photo by photo. Draw k of
    photo i comes from the seed 1000 sigma + 10 k + i, clipped to [0, 1] or not: the clipped and unclipped
    items of one draw share their noise, so the two protocols are paired too.
    """
    from utils.course.checks import non_negative_int
    from utils.data.noise import add_gaussian_noise
    from utils.denoising.classical import noise_sigma

    sigma, noise_seeds = noise_sigma(sigma), non_negative_int(noise_seeds, "noise_seeds")
    one_of(clip, "clip", (True, False))
    photos = load_photos(TEST_PHOTOS, color)
    labels, clean, noisy = [], [], []
    for k in range(noise_seeds):
        for i, (name, image) in enumerate(photos.items()):
            labels.append(f"{name}, noise {k}")
            clean.append(image)
            noisy.append(add_gaussian_noise(image, sigma, rng=int(1000 * sigma) + 10 * k + i, clip=clip))
    return labels, clean, noisy
