"""Patches for training (random crops with the 8 flips/rotations) and overlapping blocks for inference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.course.checks import as_image_array, one_of, positive_int


def dihedral(patch: np.ndarray, k: int) -> np.ndarray:
    """The k-th of the 8 flips/rotations of a square patch (k in 0..7; 0 is the identity)."""
    one_of(k, "k", range(8))
    out = np.rot90(patch, k % 4, axes=(0, 1))
    return out[:, ::-1] if k >= 4 else out


def sample_patches(images: Sequence[np.ndarray], n: int, size: int, rng: np.random.Generator | int | None = None,
                   augment: bool = True) -> np.ndarray:
    """n random size x size crops, each from a photo drawn uniformly, with a random flip/rotation.

    Drawing the photo first (not the pixel) keeps a large photo from dominating the training set.
    """
    n, size = positive_int(n, "n"), positive_int(size, "size")
    if len(images) == 0:
        raise ValueError("images is empty: expected at least one image")
    images = [as_image_array(im, f"images[{i}]", (2, 3)) for i, im in enumerate(images)]
    for i, im in enumerate(images):
        if min(im.shape[:2]) < size:
            raise ValueError(f"images[{i}] has shape {im.shape}: expected both sides >= size={size}")
    rng = np.random.default_rng(rng)
    out = np.empty((n, size, size) + images[0].shape[2:], np.float32)
    for j, i in enumerate(rng.integers(len(images), size=n)):
        im = images[i]
        y = rng.integers(im.shape[0] - size + 1)
        x = rng.integers(im.shape[1] - size + 1)
        crop = im[y:y + size, x:x + size]
        out[j] = dihedral(crop, int(rng.integers(8))) if augment else crop
    return out


def block_positions(length: int, block: int, stride: int) -> list[int]:
    """Start positions of blocks along one axis: every stride, plus one flush with the end."""
    if block > length:
        raise ValueError(f"block={block} is larger than the image side {length}: expected block <= {length}")
    starts = list(range(0, length - block + 1, stride))
    if starts[-1] != length - block:
        starts.append(length - block)
    return starts


def tile_blocks(image: np.ndarray, block: int, stride: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Cut an (H, W[, C]) image into block x block tiles every stride pixels (overlapping if stride < block).

    Returns the tiles as one array (N, block, block[, C]) and the (y, x) corner of each tile.
    """
    image = as_image_array(image, "image", (2, 3), in_unit_range=False)
    block, stride = positive_int(block, "block"), positive_int(stride, "stride")
    if stride > block:
        raise ValueError(f"stride={stride} > block={block}: expected stride <= block so that tiles cover the image")
    corners = [(y, x) for y in block_positions(image.shape[0], block, stride)
               for x in block_positions(image.shape[1], block, stride)]
    return np.stack([image[y:y + block, x:x + block] for y, x in corners]), corners


def untile_blocks(blocks: np.ndarray, corners: Sequence[tuple[int, int]], shape: tuple[int, ...]) -> np.ndarray:
    """Reassemble tiles into an image of the given shape, averaging where tiles overlap.

    The exact inverse of tile_blocks: untile_blocks(*tile_blocks(im, b, s), im.shape) == im.
    """
    blocks = np.asarray(blocks, np.float32)
    if len(blocks) != len(corners):
        raise ValueError(f"blocks has {len(blocks)} tiles but corners has {len(corners)}: expected one corner a tile")
    if blocks.shape[3:] != tuple(shape[2:]):
        raise ValueError(f"blocks have channels {blocks.shape[3:]} but shape={shape}: expected the same")
    total = np.zeros(shape, np.float32)
    count = np.zeros(shape[:2], np.float32)
    by, bx = blocks.shape[1:3]
    for tile, (y, x) in zip(blocks, corners):
        total[y:y + by, x:x + bx] += tile
        count[y:y + by, x:x + bx] += 1
    if (count == 0).any():
        raise ValueError(f"corners leave pixels of shape={shape} uncovered: expected tiles that cover the image")
    return total / (count if total.ndim == 2 else count[..., None])


def center_crop(image: np.ndarray, side: int | None) -> np.ndarray:
    """The central side x side crop of an (H, W[, C]) image; the whole image when side is None."""
    if side is None:
        return image
    side = positive_int(side, "side")
    h, w = np.shape(image)[:2]
    if side > min(h, w):
        raise ValueError(f"side={side} is larger than the image ({h}x{w}): expected side <= {min(h, w)}")
    y, x = (h - side) // 2, (w - side) // 2
    return image[y:y + side, x:x + side]


def crop_to_multiple(image: np.ndarray, multiple: int, max_side: int | None = None) -> np.ndarray:
    """The central crop of an (H, W[, C]) image whose sides are multiples of `multiple` (and <= max_side if given)."""
    multiple = positive_int(multiple, "multiple")
    h, w = np.shape(image)[:2]
    th, tw = (h, w) if max_side is None else (min(h, positive_int(max_side, "max_side")), min(w, max_side))
    th, tw = th - th % multiple, tw - tw % multiple
    if th == 0 or tw == 0:
        raise ValueError(f"image of {h}x{w} has no crop with sides a multiple of multiple={multiple}")
    y, x = (h - th) // 2, (w - tw) // 2
    return image[y:y + th, x:x + tw]


def downscale_mean(images: np.ndarray, factor: int) -> np.ndarray:
    """Downsample a batch (N, H, W, C) by `factor`: each output pixel is the mean of a factor x factor block."""
    factor = positive_int(factor, "factor")
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images has shape {images.shape}: expected (N, H, W, C)")
    n, h, w, ch = images.shape
    if h % factor or w % factor:
        raise ValueError(f"images of {h}x{w} pixels: expected sides divisible by factor={factor}")
    return images.reshape(n, h // factor, factor, w // factor, factor, ch).mean(axis=(2, 4))
