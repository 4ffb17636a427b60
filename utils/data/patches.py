"""Patches for training (random crops with the 8 flips/rotations) and overlapping blocks for inference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.course.checks import (
    as_image_array,
    finite_in,
    non_negative_int,
    not_empty,
    one_of,
    positive_int,
    rng_from,
)


def dihedral(patch: np.ndarray, k: int) -> np.ndarray:
    """The k-th of the 8 flips/rotations of a square patch (k in 0..7; 0 is the identity)."""
    one_of(k, "k", range(8))
    shape = np.shape(patch)
    if len(shape) < 2 or shape[0] != shape[1]:
        raise ValueError(f"patch has shape {shape}: expected a square patch (S, S[, C]); a rotation would change "
                         "the shape of any other")
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
    one_of(augment, "augment", (True, False))
    images = [as_image_array(im, f"images[{i}]", (2, 3)) for i, im in enumerate(images)]
    for i, im in enumerate(images):
        if min(im.shape[:2]) < size:
            raise ValueError(f"images[{i}] has shape {im.shape}: expected both sides >= size={size}")
        if im.shape[2:] != images[0].shape[2:]:
            raise ValueError(f"images[{i}] has shape {im.shape} but images[0] has {images[0].shape}: expected the "
                             "same channels in every image (grey and RGB do not stack)")
    rng = rng_from(rng, "rng")
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
    length, block, stride = positive_int(length, "length"), positive_int(block, "block"), positive_int(stride, "stride")
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
    not_empty(image, "image", note="expected an image of at least one pixel")
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
    blocks = as_image_array(blocks, "blocks", (3, 4), in_unit_range=False)
    shape = _image_shape(shape, blocks.shape[1:3])
    not_empty(blocks, "blocks", note="expected at least one tile")
    if len(blocks) != len(corners):
        raise ValueError(f"blocks has {len(blocks)} tiles but corners has {len(corners)}: expected one corner a tile")
    if blocks.shape[3:] != tuple(shape[2:]):
        raise ValueError(f"blocks have channels {blocks.shape[3:]} but shape={shape}: expected the same")
    by, bx = blocks.shape[1:3]
    for i, corner in enumerate(corners):
        y, x = (non_negative_int(v, f"corners[{i}]") for v in _pair(corner, f"corners[{i}]"))
        if y + by > shape[0] or x + bx > shape[1]:
            raise ValueError(f"corners[{i}]={(y, x)} puts a {by}x{bx} tile outside shape={shape}: expected tiles "
                             "inside the image")
    total = np.zeros(shape, np.float32)
    count = np.zeros(shape[:2], np.float32)
    for tile, (y, x) in zip(blocks, corners):
        total[y:y + by, x:x + bx] += tile
        count[y:y + by, x:x + bx] += 1
    if (count == 0).any():
        raise ValueError(f"corners leave pixels of shape={shape} uncovered: expected tiles that cover the image")
    return total / (count if total.ndim == 2 else count[..., None])


def _pair(value: object, name: str) -> tuple:
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise ValueError(f"{name}={value!r}: expected a (y, x) pair")
    return tuple(value)


def _image_shape(shape: object, block: tuple[int, int]) -> tuple[int, ...]:
    """shape as a tuple (H, W[, C]) of positive ints, at least as large as one block."""
    if not isinstance(shape, (tuple, list)) or len(shape) not in (2, 3):
        raise ValueError(f"shape={shape!r}: expected the image's shape (H, W) or (H, W, C)")
    sides = tuple(positive_int(v, f"shape[{i}]") for i, v in enumerate(shape))
    if sides[0] < block[0] or sides[1] < block[1]:
        raise ValueError(f"shape={shape!r} is smaller than one {block[0]}x{block[1]} tile: expected the image's shape")
    return sides


def _sides(image: object) -> tuple[int, int]:
    """(H, W) of an (H, W[, C]) image."""
    shape = np.shape(image)
    if len(shape) not in (2, 3):
        raise ValueError(f"image has shape {shape}: expected (H, W) or (H, W, C)")
    return shape[0], shape[1]


def center_crop(image: np.ndarray, side: int | None) -> np.ndarray:
    """The central side x side crop of an (H, W[, C]) image; the whole image when side is None."""
    if side is None:
        return image
    side = positive_int(side, "side")
    h, w = _sides(image)
    if side > min(h, w):
        raise ValueError(f"side={side} is larger than the image ({h}x{w}): expected side <= {min(h, w)}")
    y, x = (h - side) // 2, (w - side) // 2
    return image[y:y + side, x:x + side]


def crop_to_multiple(image: np.ndarray, multiple: int, max_side: int | None = None) -> np.ndarray:
    """The central crop of an (H, W[, C]) image whose sides are multiples of `multiple` (and <= max_side if given)."""
    multiple = positive_int(multiple, "multiple")
    h, w = _sides(image)
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
    if images.ndim != 4 or images.dtype.kind not in "fiub":
        raise ValueError(f"images has shape {images.shape} and dtype {images.dtype}: expected numbers (N, H, W, C)")
    not_empty(images, "images", note="expected at least one image of at least one pixel")
    finite_in(images, "images", expected="finite pixel values")
    n, h, w, ch = images.shape
    if h % factor or w % factor:
        raise ValueError(f"images of {h}x{w} pixels: expected sides divisible by factor={factor}")
    return images.reshape(n, h // factor, factor, w // factor, factor, ch).mean(axis=(2, 4))
