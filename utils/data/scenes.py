"""Synthetic scenes of shapes on textured backgrounds, with exact ground truth for every task.

One generator feeds semantic segmentation (05, 06), detection (09, 11) and instance segmentation
(12): each scene comes with its semantic mask, the visible mask of every object, the box of what is
visible and the object's class. Shapes are saturated colours; backgrounds are dimmed, nearly grey
crops of the texture photos bundled with scikit-image (grass, gravel, brick) or flat colours, so the
objects are learnable from colour and shape, not from brightness alone.

Objects are drawn one after the other and later ones occlude earlier ones. A placement that would
leave an earlier object with less than `min_visible` of its own area is rejected and drawn again,
so every object in the ground truth stays mostly visible. Every object lies inside the image.

Conventions, shared with utils.data.coco and utils.data.pets:
- images float32 (H, W, 3) in [0, 1]; semantic masks int32 (H, W), 0 = background, 1..C = class;
- boxes float32 (N, 4) as (x1, y1, x2, y2) in pixels with x2, y2 exclusive: the box of the visible
  pixels, x1 = first column, x2 = last column + 1; labels int32 (N,) in 1..C;
- instance masks bool (N, H, W), the visible part of each object; they never overlap here, and
  their union, each labelled by its class, is the semantic mask.

TensorFlow is imported only inside `scene_dataset`, so importing this module stays cheap.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

from utils.course.checks import (
    class_labels,
    non_negative_int,
    not_empty,
    number_in,
    one_of,
    optional_seed,
    positive_int,
    rng_from,
    xyxy_boxes,
)

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "ellipse", "star")
DEFAULT_CLASSES: tuple[str, ...] = ("circle", "square", "triangle")
CLASS_NAMES: tuple[str, ...] = ("background",) + DEFAULT_CLASSES
TEXTURES: tuple[str, ...] = ("grass", "gravel", "brick")
BACKGROUNDS: tuple[str, ...] = TEXTURES + ("flat",)
MIN_SIZE, MAX_SIZE = 64, 256
TARGETS: tuple[str, ...] = ("semantic", "one_hot", "boxes", "instances")

# Circumradius of each shape per unit of equal-area radius: an object of size d has the area of a
# circle of diameter d whatever its class, so no class is easier for being larger and the
# foreground fraction is about n_objects * pi * d**2 / 4 / size**2 for every mix of classes.
_STAR_INNER = 0.5  # inner radius of the 5-pointed star, as a fraction of its outer radius
_ELLIPSE_ASPECT = (1.5, 2.5)  # ratio of the long to the short axis
_CIRCUMRADIUS = {
    "circle": 1.0,
    "square": math.sqrt(math.pi / 2.0),
    "triangle": math.sqrt(4.0 * math.pi / (3.0 * math.sqrt(3.0))),
    "star": math.sqrt(math.pi / (5.0 * _STAR_INNER * math.sin(math.pi / 5.0))),
}
_MAX_TRIES = 20  # placements tried per object before it is left out of the scene


@dataclass(frozen=True)
class Scene:
    """One image and its ground truth (see the module docstring for shapes, dtypes and conventions)."""

    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    mask: np.ndarray  # (H, W) int32, 0 = background, 1..C = class
    instances: np.ndarray  # (N, H, W) bool, the visible part of each object
    boxes: np.ndarray  # (N, 4) float32, (x1, y1, x2, y2), x2 and y2 exclusive
    labels: np.ndarray  # (N,) int32 in 1..C
    class_names: tuple[str, ...] = CLASS_NAMES


class InstanceMasks(Sequence):
    """Per-image instance masks of generated scenes, made on demand from one (n, H, W) map of object ids.

    Generated objects never overlap once occlusion is applied, so a map whose pixel holds k for the
    k-th object (0 for background) stores every instance mask in 1 byte per pixel; `masks[i]` is the
    (N_i, H, W) bool array of image i.
    """

    def __init__(self, ids: np.ndarray, counts: np.ndarray):
        self.ids, self.counts = ids, np.asarray(counts, np.int64)
        if np.ndim(ids) != 3 or self.counts.shape != (len(ids),):
            raise ValueError(f"ids has shape {np.shape(ids)} and counts {self.counts.shape}: expected an (n, H, W) "
                             "map of object ids and one count per image, (n,)")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        if isinstance(i, (slice, list, np.ndarray)):
            return InstanceMasks(self.ids[i], self.counts[i])
        return self.ids[i][None] == np.arange(1, self.counts[i] + 1, dtype=self.ids.dtype)[:, None, None]


@dataclass
class Scenes:
    """A data set of scenes: stacked images and semantic masks, and per-image boxes, labels and instances.

    `images` (n, H, W, 3) float32 and `masks` (n, H, W) int32 are lists of per-image arrays instead
    when the images differ in size (a loaded COCO folder). `boxes[i]`, `labels[i]` and `instances[i]`
    hold image i's (N_i, 4), (N_i,) and (N_i, H, W) arrays. `image_ids` are the COCO image ids
    (0..n-1 for generated scenes) and `category_ids[c - 1]` is the COCO category id of label c.
    `data[i]` is one `Scene`; `data[a:b]` and `data[positions]` (a list or integer array) are a `Scenes`.
    """

    images: np.ndarray | list[np.ndarray]
    masks: np.ndarray | list[np.ndarray]
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    instances: Sequence[np.ndarray]
    class_names: tuple[str, ...] = CLASS_NAMES
    image_ids: np.ndarray | Sequence[int] | None = None  # None: 0..n-1
    category_ids: Sequence[int] | None = None  # None: 1..C

    def __post_init__(self):
        n = len(self.images)
        for name in ("masks", "boxes", "labels", "instances"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries: expected one per image ({n})")
        if self.image_ids is None:
            self.image_ids = np.arange(n)
        self.image_ids = np.asarray(self.image_ids, np.int64)
        if self.category_ids is None:
            self.category_ids = tuple(range(1, len(self.class_names)))
        self.class_names, self.category_ids = tuple(self.class_names), tuple(int(c) for c in self.category_ids)
        if len(self.image_ids) != n:
            raise ValueError(f"image_ids has {len(self.image_ids)} entries: expected one per image ({n})")
        if len(self.category_ids) != len(self.class_names) - 1:
            raise ValueError(f"category_ids={self.category_ids}: expected one per class after the background, "
                             f"{len(self.class_names) - 1} for class_names={self.class_names}")
        for i, (b, lab) in enumerate(zip(self.boxes, self.labels)):
            check_objects(b, lab, f"[{i}]", len(self.class_names) - 1)

    def __len__(self) -> int:
        return len(self.images)

    @overload
    def __getitem__(self, i: int) -> Scene: ...

    @overload
    def __getitem__(self, i: slice | list[int] | np.ndarray) -> Scenes: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Scenes(self.images[i], self.masks[i], self.boxes[i], self.labels[i], self.instances[i],
                          self.class_names, self.image_ids[i], self.category_ids)
        if isinstance(i, (list, tuple, np.ndarray)):  # positions, e.g. a random split, or a boolean mask
            idx = [int(k) for k in np.arange(len(self))[_positions(i)]]
            pick = (lambda a: a[idx]) if isinstance(self.images, np.ndarray) else (lambda a: [a[k] for k in idx])
            instances = (self.instances[idx] if isinstance(self.instances, InstanceMasks)
                         else [self.instances[k] for k in idx])
            return Scenes(pick(self.images), pick(self.masks), [self.boxes[k] for k in idx],
                          [self.labels[k] for k in idx], instances, self.class_names, self.image_ids[idx],
                          self.category_ids)
        return Scene(self.images[i], self.masks[i], self.instances[i], self.boxes[i], self.labels[i],
                     self.class_names)

    @property
    def num_classes(self) -> int:
        """Number of classes, background included (the size of a segmentation model's last axis)."""
        return len(self.class_names)


def read_image(path, mode: str | None = None, size: int | None = None, resample: int | None = None) -> np.ndarray:
    """The pixels of an image file (converted to mode, resized to size x size if given) as a NumPy array.

    A truncated or unreadable file raises a ValueError that names it (PIL's own errors often do not).
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert(mode) if mode else im
            return np.asarray(im.resize((size, size), resample) if size else im)
    except OSError as err:  # UnidentifiedImageError, "image file is truncated", ...
        raise ValueError(f"{path} could not be read as an image ({err}): expected a PNG or JPEG file") from None


# ---------------------------------------------------------------------------------------------
# Argument checks


def check_scenes(data: object, *, action: str) -> None:
    """Check that data is a non-empty Scenes (what make_scenes, load_coco and load_pets return)."""
    if not isinstance(data, Scenes):
        raise ValueError(f"data is a {type(data).__name__}: expected Scenes (from make_scenes, load_coco or load_pets)")
    not_empty(data, "data", note=f"expected at least one scene {action}")


def check_objects(boxes: object, labels: object, where: str, n_classes: int) -> None:
    """Check one image's boxes (N, 4) xyxy with x2 >= x1, y2 >= y1, and labels (N,) in 1..n_classes."""
    b = xyxy_boxes(boxes, f"boxes{where}")
    lab = class_labels(np.asarray(labels).reshape(-1), f"labels{where}", n_classes, first=1,
                       note="1..C, 0 is the background")
    if len(lab) != len(b):
        raise ValueError(f"labels{where} has {len(lab)} entries but boxes{where} has {len(b)}: expected one per box")


def _positions(i: object) -> np.ndarray:
    """i as an index array: integer positions, or a boolean mask (a list of bools is a mask, not positions 0 and 1)."""
    arr = np.asarray(i)
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise IndexError(f"positions {i!r}: expected integers or a boolean mask")
    return arr


def _range(value: object, name: str, low: int, high: int) -> tuple[int, int]:
    """An int or an inclusive (min, max) pair of ints, each in [low, high]."""
    pair = value if isinstance(value, (tuple, list, np.ndarray)) else (value, value)
    try:
        a, b = (int(one_of(v, name, range(low, high + 1))) for v in pair)
        ok = a <= b
    except ValueError:  # not two values, or one that is not an int in [low, high]
        ok = False
    if not ok:
        raise ValueError(f"{name}={value!r}: expected an int or a (min, max) pair of ints with "
                         f"{low} <= min <= max <= {high}")
    return a, b


@dataclass(frozen=True)
class _Config:
    size: int
    n_objects: tuple[int, int]
    object_size: tuple[int, int]
    classes: tuple[str, ...]
    backgrounds: tuple[str, ...]
    min_visible: float


def _config(size, n_objects, object_size, classes, backgrounds, min_visible) -> _Config:
    size = int(one_of(size, "size", range(MIN_SIZE, MAX_SIZE + 1), note="the image side in pixels"))
    n_objects = _range(n_objects, "n_objects", 0, 255)  # object ids are stored in uint8
    if object_size is None:
        object_size = (size // 8, size * 5 // 16)
    object_size = _range(object_size, "object_size", 4, size // 2)
    classes = (classes,) if isinstance(classes, str) else tuple(classes)
    if not classes or len(set(classes)) != len(classes) or not set(classes) <= set(SHAPES):
        raise ValueError(f"classes={classes!r}: expected distinct shapes among {', '.join(SHAPES)}")
    backgrounds = (backgrounds,) if isinstance(backgrounds, str) else tuple(backgrounds)
    if not backgrounds or not set(backgrounds) <= set(BACKGROUNDS):
        raise ValueError(f"backgrounds={backgrounds!r}: expected a non-empty choice of {', '.join(BACKGROUNDS)}")
    min_visible = number_in(min_visible, "min_visible", 0, 1, low_open=True,
                            note="the fraction of its area an object keeps")
    return _Config(size, n_objects, object_size, classes, backgrounds, min_visible)


# ---------------------------------------------------------------------------------------------
# Drawing


_texture_cache: dict[str, np.ndarray] = {}


def _texture(name: str) -> np.ndarray:
    """A bundled texture photo as float32 gray, stretched to [0, 1] between its 2nd and 98th percentiles."""
    if name not in _texture_cache:
        from skimage import data

        tex = getattr(data, name)().astype(np.float32)
        lo, hi = np.percentile(tex, [2, 98])
        _texture_cache[name] = np.clip((tex - lo) / (hi - lo), 0.0, 1.0)
    return _texture_cache[name]


def _draw_background(rng: np.random.Generator, out: np.ndarray, kind: str) -> None:
    """Fill out (H, W, 3) with a dimmed, nearly grey background of the given kind."""
    u = rng.random(6)
    tint = colorsys.hsv_to_rgb(u[0], 0.25 * u[1], 1.0)
    if kind == "flat":
        for c in range(3):
            out[..., c] = (0.15 + 0.45 * u[2]) * tint[c]
        return
    tex = _texture(kind)
    s = out.shape[0]
    y, x = int(u[3] * (tex.shape[0] - s + 1)), int(u[4] * (tex.shape[1] - s + 1))
    crop = tex[y:y + s, x:x + s]
    crop = crop.T if u[5] < 0.5 else crop  # transposing doubles the variety of crops for free
    low, span = 0.08 + 0.25 * u[2], 0.2 + 0.25 * u[1]
    lum = crop * np.float32(span)
    lum += np.float32(low)
    for c in range(3):  # one channel at a time: numpy broadcasts over a last axis of 3 slowly
        np.multiply(lum, np.float32(tint[c]), out=out[..., c])


def _shape_mask(shape: str, px: np.ndarray, py: np.ndarray, r: float, angle: float, aspect: float) -> np.ndarray:
    """Which pixel centres (px, py relative to the object's centre) fall inside the shape of equal-area radius r."""
    if shape == "circle":
        return px * px + py * py <= r * r
    if shape in ("square", "triangle"):
        k = 4 if shape == "square" else 3
        apothem = _CIRCUMRADIUS[shape] * r * math.cos(math.pi / k)
        inside = None
        for j in range(k):  # a regular polygon is the intersection of k half-planes
            phi = angle + 2.0 * math.pi * j / k
            half = px * math.cos(phi) + py * math.sin(phi) <= apothem
            inside = half if inside is None else inside & half
        return inside
    c, s = math.cos(angle), math.sin(angle)
    u, v = px * c + py * s, py * c - px * s
    if shape == "ellipse":
        a, b = r * math.sqrt(aspect), r / math.sqrt(aspect)
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    # star: fold the plane onto the sector between an outer tip (angle 0) and the next inner corner
    # (angle pi/5), where the star is the side of one straight edge that holds the centre.
    outer = _CIRCUMRADIUS["star"] * r
    inner = _STAR_INNER * outer
    sector = 2.0 * math.pi / 5.0
    t = np.mod(np.arctan2(v, u), sector)
    t = np.minimum(t, sector - t)
    rho = np.hypot(u, v)
    qx, qy = rho * np.cos(t), rho * np.sin(t)
    ex, ey = inner * math.cos(math.pi / 5.0) - outer, inner * math.sin(math.pi / 5.0)
    return ex * qy - ey * (qx - outer) >= 0.0  # the centre (0, 0) gives ey * outer > 0


def _draw_scene(rng: np.random.Generator, image: np.ndarray, ids: np.ndarray, mask: np.ndarray, cfg: _Config):
    """Draw one scene into image (H, W, 3), object ids (H, W) uint8 and mask (H, W); return its boxes and labels."""
    size = cfg.size
    _draw_background(rng, image, cfg.backgrounds[int(rng.integers(len(cfg.backgrounds)))])
    ids[...] = 0
    mask[...] = 0
    n_max = int(rng.integers(cfg.n_objects[0], cfg.n_objects[1] + 1))
    full = np.zeros(n_max + 1, np.int64)  # area of object k when unoccluded
    visible = np.zeros(n_max + 1, np.int64)
    windows: list[tuple[int, int, int, int]] = []
    labels: list[int] = []
    lo, hi = cfg.object_size
    for _ in range(n_max):
        k = len(labels) + 1
        label = int(rng.integers(len(cfg.classes))) + 1
        shape = cfg.classes[label - 1]
        for _try in range(_MAX_TRIES):
            u = rng.random(5)
            r = 0.5 * (lo + (hi - lo) * u[0])
            aspect = _ELLIPSE_ASPECT[0] + (_ELLIPSE_ASPECT[1] - _ELLIPSE_ASPECT[0]) * u[4]
            reach = r * (math.sqrt(aspect) if shape == "ellipse" else _CIRCUMRADIUS[shape])
            cx, cy = reach + (size - 2 * reach) * u[1], reach + (size - 2 * reach) * u[2]
            x0, x1 = max(int(cx - reach), 0), min(math.ceil(cx + reach), size)
            y0, y1 = max(int(cy - reach), 0), min(math.ceil(cy + reach), size)
            px = np.arange(x0, x1, dtype=np.float32)[None, :] + np.float32(0.5 - cx)
            py = np.arange(y0, y1, dtype=np.float32)[:, None] + np.float32(0.5 - cy)
            inside = _shape_mask(shape, px, py, r, 2.0 * math.pi * u[3], aspect)
            area = int(np.count_nonzero(inside))
            if area == 0:
                continue
            window = ids[y0:y1, x0:x1]
            hidden = np.bincount(window[inside], minlength=k)[:k]
            hidden[0] = 0
            if np.all(visible[:k] - hidden >= cfg.min_visible * full[:k]):
                break
        else:
            continue  # no room for this object: the scene gets one object fewer
        window[inside] = k
        visible[:k] -= hidden
        full[k] = visible[k] = area
        hue, sat, val = rng.random(3)
        image[y0:y1, x0:x1][inside] = colorsys.hsv_to_rgb(hue, 0.65 + 0.35 * sat, 0.6 + 0.4 * val)
        windows.append((y0, y1, x0, x1))
        labels.append(label)
    boxes = np.empty((len(labels), 4), np.float32)
    for k, (y0, y1, x0, x1) in enumerate(windows, start=1):
        seen = ids[y0:y1, x0:x1] == k  # an object's visible pixels all lie in its own window
        mask[y0:y1, x0:x1][seen] = labels[k - 1]
        cols, rows = np.flatnonzero(seen.any(axis=0)), np.flatnonzero(seen.any(axis=1))
        boxes[k - 1] = (x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1)
    return boxes, np.asarray(labels, np.int32)


def make_scene(rng: np.random.Generator | int | None = None, size: int = 128, n_objects: int | tuple[int, int] = (1, 5),
               object_size: int | tuple[int, int] | None = None, classes: Sequence[str] = DEFAULT_CLASSES,
               backgrounds: Sequence[str] = BACKGROUNDS, min_visible: float = 0.5) -> Scene:
    """One random scene (a seed or a Generator); the parameters are those of `make_scenes`."""
    cfg = _config(size, n_objects, object_size, classes, backgrounds, min_visible)
    rng = rng_from(rng, "rng")
    image = np.empty((cfg.size, cfg.size, 3), np.float32)
    ids = np.empty((cfg.size, cfg.size), np.uint8)
    mask = np.empty((cfg.size, cfg.size), np.int32)
    boxes, labels = _draw_scene(rng, image, ids, mask, cfg)
    instances = ids[None] == np.arange(1, len(labels) + 1, dtype=np.uint8)[:, None, None]
    return Scene(image, mask, instances, boxes, labels, ("background",) + cfg.classes)


def make_scenes(n: int, size: int = 128, n_objects: int | tuple[int, int] = (1, 5),
                object_size: int | tuple[int, int] | None = None, classes: Sequence[str] = DEFAULT_CLASSES,
                backgrounds: Sequence[str] = BACKGROUNDS, min_visible: float = 0.5,
                seed: int | None = None) -> Scenes:
    """n random scenes of size x size pixels, the same for the same seed.

    n_objects: objects per scene, an int or an inclusive (min, max) range (fewer when no placement
      keeps the others visible, which is rare unless the objects are large and many).
    object_size: diameter in pixels of the circle with the object's area, an int or a (min, max)
      range drawn uniformly, at least 4 and at most size // 2; by default (size // 8, 5 * size // 16).
      One object of size 6 to 9 in a 128 x 128 image covers about 0.3 % of it.
    classes: the shapes to draw, in label order (label c is classes[c - 1]); any of SHAPES.
    backgrounds: the background kinds drawn uniformly: textures grass, gravel, brick, and flat.
    min_visible: the smallest fraction of its own area an object may keep after occlusion.
    The first k scenes of make_scenes(n, seed=s) are make_scenes(k, seed=s), for any k <= n.
    """
    n = positive_int(n, "n")
    cfg = _config(size, n_objects, object_size, classes, backgrounds, min_visible)
    rng = rng_from(seed, "seed")
    images = np.empty((n, cfg.size, cfg.size, 3), np.float32)
    ids = np.empty((n, cfg.size, cfg.size), np.uint8)
    masks = np.empty((n, cfg.size, cfg.size), np.int32)
    boxes, labels = [], []
    for i in range(n):
        b, lab = _draw_scene(rng, images[i], ids[i], masks[i], cfg)
        boxes.append(b)
        labels.append(lab)
    instances = InstanceMasks(ids, [len(lab) for lab in labels])
    return Scenes(images, masks, boxes, labels, instances, ("background",) + cfg.classes)


# ---------------------------------------------------------------------------------------------
# Detection targets and the tf.data pipeline


def pad_boxes(data: Scenes, max_boxes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (n, M, 4) float32 and labels (n, M) int32 padded with -1 to M = max_boxes (default: the most in an image).

    Padding with -1 (both box coordinates and label) is the convention of `keras.utils.bounding_boxes`
    and of Keras' box-aware augmentation layers: a row with label -1 is not an object.
    """
    check_scenes(data, action="to pad")
    return pad_objects(data.boxes, data.labels, max_boxes)


def pad_objects(boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                max_boxes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-image boxes and labels as arrays (n, M, 4) and (n, M) padded with -1, as `pad_boxes` (any source)."""
    most = max((len(lab) for lab in labels), default=0)
    m = most if max_boxes is None else non_negative_int(max_boxes, "max_boxes")
    if m < most:
        raise ValueError(f"max_boxes={max_boxes!r}: expected an int >= {most}, the most objects in one image")
    out_boxes = np.full((len(labels), m, 4), -1.0, np.float32)
    out_labels = np.full((len(labels), m), -1, np.int32)
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        out_boxes[i, :len(lab)] = b
        out_labels[i, :len(lab)] = lab
    return out_boxes, out_labels


def scene_dataset(data: Scenes, batch_size: int, shuffle: bool = True, augment: bool = True, seed: int | None = None,
                  targets: Literal["semantic", "one_hot", "boxes", "instances"] = "semantic",
                  max_boxes: int | None = None):
    """A batched, prefetched tf.data.Dataset of (image, target) pairs, shuffled and randomly flipped on request.

    targets:
      "semantic": the int32 (H, W) mask, for SparseCategoricalCrossentropy;
      "one_hot": the float32 (H, W, C) one-hot mask, for Dice and categorical cross-entropy;
      "boxes": a dict {"boxes": (M, 4) float32, "labels": (M,) int32} padded with -1 (see `pad_boxes`);
      "instances": the same dict plus "masks": (M, H, W) bool, all False in padded rows.
    augment flips each image left-right and up-down with probability 1/2 each, and its mask, boxes and
    instance masks with it (a left-right flip maps x1, x2 to W - x2, W - x1). The same seed gives the
    same batches; each pass over the data reshuffles and redraws the flips.
    """
    check_scenes(data, action="to batch")
    batch_size = positive_int(batch_size, "batch_size")
    one_of(targets, "targets", TARGETS)
    one_of(shuffle, "shuffle", (True, False))
    one_of(augment, "augment", (True, False))
    seed = optional_seed(seed, "seed")
    if isinstance(data.images, list):
        raise ValueError("data.images is a list of images of different sizes: expected stacked images of one size "
                         "(resize them first)")
    import tensorflow as tf

    n, height, width = data.images.shape[:3]
    tensors = {"image": data.images, "mask": np.asarray(data.masks, np.int32)}
    if targets in ("boxes", "instances"):
        tensors["boxes"], tensors["labels"] = pad_boxes(data, max_boxes)
    m = tensors["labels"].shape[1] if "labels" in tensors else 0
    if targets == "instances":
        if isinstance(data.instances, InstanceMasks):
            tensors["ids"] = data.instances.ids  # 1 byte per pixel instead of M
        else:
            masks = np.zeros((n, m, height, width), bool)
            for i, inst in enumerate(data.instances):
                masks[i, :len(inst)] = inst
            tensors["instances"] = masks
    ds = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)

    def flip(x, r):
        flip_x, flip_y = tf.equal(r % 2, 1), tf.equal((r // 2) % 2, 1)

        def reverse(t, flag, axis):
            return tf.cond(flag, lambda: tf.reverse(t, [axis]), lambda: t)

        out = {}
        for key, t in x.items():
            if key in ("image", "mask", "ids"):  # (H, W, ...)
                out[key] = reverse(reverse(t, flip_x, 1), flip_y, 0)
            elif key == "instances":  # (M, H, W)
                out[key] = reverse(reverse(t, flip_x, 2), flip_y, 1)
            else:
                out[key] = t
        if "boxes" in x:
            x1, y1, x2, y2 = tf.unstack(x["boxes"], axis=-1)
            x1, x2 = tf.where(flip_x, width - x2, x1), tf.where(flip_x, width - x1, x2)
            y1, y2 = tf.where(flip_y, height - y2, y1), tf.where(flip_y, height - y1, y2)
            real = (x["labels"] >= 0)[:, None]  # padding rows stay -1
            out["boxes"] = tf.where(real, tf.stack([x1, y1, x2, y2], axis=-1), x["boxes"])
        return out

    if augment:
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, randoms)).map(flip, num_parallel_calls=tf.data.AUTOTUNE)

    num_classes = len(data.class_names)

    def split(x):
        if targets == "semantic":
            return x["image"], x["mask"]
        if targets == "one_hot":
            return x["image"], tf.one_hot(x["mask"], num_classes, dtype=tf.float32)
        target = {"boxes": x["boxes"], "labels": x["labels"]}
        if targets == "instances":
            if "ids" in x:
                ids = tf.cast(x["ids"], tf.int32)[None]
                target["masks"] = tf.equal(ids, tf.range(1, m + 1, dtype=tf.int32)[:, None, None])
            else:
                target["masks"] = x["instances"]
        return x["image"], target

    ds = ds.map(split, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
