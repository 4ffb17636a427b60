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
