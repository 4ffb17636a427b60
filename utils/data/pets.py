"""A loader of the Oxford-IIIT Pet data set's on-disk layout, into the same `Scenes` structure as the synthetic scenes.

The layout (https://www.robots.ox.ac.uk/~vgg/data/pets/) is `images/<name>.jpg` and
`annotations/trimaps/<name>.png`, where the trimap holds 1 = pet, 2 = background, 3 = border
(the uncertain band around the pet's outline). Nothing is downloaded: point `load_pets` at a copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from utils.course.checks import non_negative_int, positive_int
from utils.data.scenes import Scenes, read_image

PET_CLASS_NAMES: tuple[str, ...] = ("background", "pet")
TRIMAP_PET, TRIMAP_BACKGROUND, TRIMAP_BORDER = 1, 2, 3


def load_pets(folder: str | Path, size: int = 128, limit: int | None = None, border: int = 1) -> Scenes:
    """Images resized to size x size (float32 RGB in [0, 1]) with their 2-class masks, as `Scenes`.

    Masks are int32: 0 background, 1 pet, and the trimap's border band gets `border`: 1 (the
    default) counts it as pet, for a plain 2-class problem; 255, say, marks it for a loss to ignore.
    Each image also gets one box, around its pet pixels (border included), and one instance mask.
    Images and masks are resized without keeping the aspect ratio (bilinear and nearest neighbour).
    limit: load only this many image/trimap pairs, evenly spaced in name order so that every breed
    (the files are named by breed) is represented.
    """
    from PIL import Image

    size = positive_int(size, "size")
    border = non_negative_int(border, "border", note="1 = pet, or an ignore value such as 255")
    root = Path(folder)
    image_dir, trimap_dir = root / "images", root / "annotations" / "trimaps"
    for d in (image_dir, trimap_dir):
        if not d.is_dir():
            raise FileNotFoundError(f"folder={str(folder)!r} has no {d.relative_to(root)}/: expected the Oxford-IIIT "
                                    "Pet layout, images/*.jpg and annotations/trimaps/*.png")
    # Some releases hold a few stray non-JPEG files in images/ and trimaps without an image: pair by name.
    names = sorted(p.stem for p in image_dir.glob("*.jpg") if (trimap_dir / f"{p.stem}.png").is_file())
    if not names:
        raise FileNotFoundError(f"folder={str(folder)!r}: found no image in images/*.jpg with a trimap of the "
                                "same name in annotations/trimaps/*.png")
    if limit is not None:
        limit = positive_int(limit, "limit")
        if limit < len(names):
            names = [names[i] for i in np.linspace(0, len(names) - 1, limit).round().astype(int)]

    images = np.empty((len(names), size, size, 3), np.float32)
    masks = np.empty((len(names), size, size), np.int32)
    boxes, labels, instances = [], [], []
    for i, name in enumerate(names):
        image = read_image(image_dir / f"{name}.jpg", "RGB", size, Image.BILINEAR)
        images[i] = image.astype(np.float32) / np.float32(255.0)
        trimap = read_image(trimap_dir / f"{name}.png", None, size, Image.NEAREST)
        if trimap.ndim != 2 or not np.isin(trimap, (TRIMAP_PET, TRIMAP_BACKGROUND, TRIMAP_BORDER)).all():
            raise ValueError(f"trimap {name}.png has shape {trimap.shape} and values {np.unique(trimap)[:8].tolist()}: "
                             "expected a single-channel image of 1 (pet), 2 (background) and 3 (border)")
        masks[i] = np.select([trimap == TRIMAP_PET, trimap == TRIMAP_BORDER], [1, border], 0)
        pet = trimap != TRIMAP_BACKGROUND
        rows, cols = np.flatnonzero(pet.any(axis=1)), np.flatnonzero(pet.any(axis=0))
        found = len(rows) > 0
        boxes.append(np.array([[cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]] if found else [], np.float32)
                     .reshape(-1, 4))
        labels.append(np.ones(int(found), np.int32))
        instances.append(pet[None] if found else np.zeros((0, size, size), bool))
    return Scenes(images, masks, boxes, labels, instances, PET_CLASS_NAMES)
