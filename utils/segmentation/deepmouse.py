"""Deep MOUSE (the NYU lab's coarse-to-fine joint segmentation of brain ventricles and body in 3-D ultrasound).

1. **Coarse**: one small V-Net segments both structures (two sigmoid channels: ventricles, body) in the volume
   downsampled by FACTOR (block means, as `utils.data.volumes.downsample`); its output, upsampled back by
   repetition, is the initial segmentation.
2. **Regions of interest**: for each structure, a window of fixed size (BV_ROI³ for the ventricles, BODY_ROI³ for
   the body) centred on the coarse mask's bounding box (`utils.segmentation.windows.window_around`).
3. **Refinement**: a V-Net per structure segments its region at full resolution, from the image alone or, with
   auto-context, from the image and the coarse probabilities of that structure as a second channel. Outside its
   region each structure keeps the coarse estimate.
4. **End to end**: the coarse network and the two auto-context refiners in one model (`end_to_end`), the regions
   cut inside the graph (`CropAt`), trained on the sum of the three Soft Dice losses, so that the coarse output
   learns to be the context the refiners need.

One coarse pass over an eighth of the voxels and two refinements replace Deep BV's thousands of localizer windows:
that is the speed-up of the lecture's Table 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import layers, ops

from utils.course.checks import as_image_array, number_in, one_of, positive_int, rng_from
from utils.data.volumes import Volume, downsample
from utils.segmentation.vnet import vnet
from utils.segmentation.windows import Window, jittered_window_around, window_around

if TYPE_CHECKING:
    from collections.abc import Mapping

FACTOR = 2
STRUCTURES = ("ventricles", "body")
ROI = {"ventricles": 32, "body": 56}  # the ventricles span at most 24 voxels at 64³, the body at most 55


def coarse_net(base_filters: int = 8, levels: int = 2, name: str = "mouse_coarse") -> keras.Model:
    """The coarse V-Net: a downsampled volume in, the probabilities of ventricles and body out (two channels)."""
    return vnet((None, None, None, 1), n_classes=len(STRUCTURES), base_filters=base_filters, levels=levels,
                final_activation="sigmoid", batch_norm=True, name=name)


def refine_net(autocontext: bool, base_filters: int = 8, levels: int = 3, name: str = "mouse_refine") -> keras.Model:
    """A refinement V-Net: a region at full resolution in (and the coarse probabilities with auto-context), one
    structure's probabilities out."""
    one_of(autocontext, "autocontext", (True, False))
    return vnet((None, None, None, 2 if autocontext else 1), n_classes=1, base_filters=base_filters, levels=levels,
                final_activation="sigmoid", batch_norm=True, name=name)


def upsample(probabilities: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """(d, h, w, C) coarse probabilities at factor× the resolution, each voxel repeated (as keras' UpSampling3D)."""
    factor = positive_int(factor, "factor")
    p = np.asarray(probabilities)
    if p.ndim != 4:
        raise ValueError(f"probabilities have shape {p.shape}: expected (depth, height, width, channels)")
    for axis in range(3):
        p = np.repeat(p, factor, axis=axis)
    return p


def region(coarse_mask: np.ndarray, size: int) -> Window:
    """The region of interest: the size³ window around a coarse mask, or the centred one where the mask is empty."""
    coarse_mask = np.asarray(coarse_mask, bool)
    if coarse_mask.any():
        return window_around(coarse_mask, size)
    if any(size > n for n in coarse_mask.shape):
        raise ValueError(f"size={size} is larger than the volume {coarse_mask.shape}: expected a window that fits")
    return tuple(slice((n - size) // 2, (n - size) // 2 + size) for n in coarse_mask.shape)


def refine_input(image: np.ndarray, coarse: np.ndarray | None, window: Window) -> np.ndarray:
    """A refiner's input (1, s, s, s, 1 or 2): the image inside window, with the coarse probabilities (s, s, s) of its
    structure inside the same window as the second channel when coarse is given (auto-context)."""
    channels = [image[window]] + ([np.asarray(coarse)[window]] if coarse is not None else [])
    return np.stack(channels, axis=-1)[None].astype(np.float32)


def coarse_probabilities(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """The coarse network's probabilities (D, H, W, 2) at full resolution (upsampled by repetition)."""
    image = as_image_array(image, "image", (3,))
    small = downsample(Volume(image, np.zeros(image.shape, bool), np.zeros(image.shape, bool)), FACTOR).image
    return upsample(np.asarray(model.predict_on_batch(small[None, ..., None]))[0], FACTOR)


def coarse_to_fine(image: np.ndarray, coarse: keras.Model, refiners: Mapping[str, keras.Model] | None = None,
                   autocontext: bool = False, threshold: float = 0.5) -> dict:
    """Deep MOUSE on one volume: the coarse probabilities, the regions of interest, and the refined probabilities and
    masks of ventricles and body (each (D, H, W); without refiners, the coarse segmentation)."""
    one_of(autocontext, "autocontext", (True, False))
    threshold = number_in(threshold, "threshold", 0, 1)
    image = as_image_array(image, "image", (3,))
    first = coarse_probabilities(coarse, image)
    probabilities = {s: first[..., c].copy() for c, s in enumerate(STRUCTURES)}
    windows = {}
    for c, structure in enumerate(STRUCTURES):
        windows[structure] = window = region(first[..., c] > threshold, ROI[structure])
        if refiners is not None:
            x = refine_input(image, first[..., c] if autocontext else None, window)
            probabilities[structure][window] = np.asarray(refiners[structure].predict_on_batch(x))[0, ..., 0]
    return {"coarse": first, "windows": windows, "probabilities": probabilities,
            "masks": {s: p > threshold for s, p in probabilities.items()}}


def refine_crops(volumes: list[Volume], structure: str, rng: object, coarse: list[np.ndarray] | None = None,
                 jitter: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A refiner's training data: the region around each volume's structure, jittered, as images (N, s, s, s, 1 or 2)
    (with the coarse probabilities of the structure as the second channel when coarse, one (D, H, W, 2) array per
    volume, is given) and masks (N, s, s, s, 1)."""
    one_of(structure, "structure", STRUCTURES)
    rng = rng_from(rng, "rng")
    c = STRUCTURES.index(structure)
    xs, ys = [], []
    for k, volume in enumerate(volumes):
        mask = getattr(volume, structure)
        window = jittered_window_around(mask, ROI[structure], rng, jitter)
        xs.append(refine_input(volume.image, None if coarse is None else coarse[k][..., c], window)[0])
        ys.append(mask[window][..., None])
    return np.stack(xs), np.stack(ys).astype(np.float32)


class CropAt(layers.Layer):
    """Cut a size³ block out of each volume of a batch at its own corner: inputs (volumes (B, D, H, W, C), corners
    (B, 3) integers), output (B, size, size, size, C). The corners are data, not weights: no gradient flows to them."""

    def __init__(self, size: int, **kwargs):
        super().__init__(**kwargs)
        self.size = positive_int(size, "size")

    def call(self, inputs):
        volumes, corners = inputs
        corners = ops.cast(corners, "int32")
        size = self.size

        def crop(pair):
            volume, corner = pair
            start = ops.concatenate([corner, ops.zeros((1,), "int32")])
            return ops.slice(volume, start, (size, size, size, volume.shape[-1]))

        return ops.vectorized_map(crop, (volumes, corners))

    def compute_output_shape(self, input_shape):
        volumes = input_shape[0]
        return (volumes[0], self.size, self.size, self.size, volumes[-1])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def end_to_end(base_filters: int = 8, coarse_levels: int = 2, refine_levels: int = 3,
               name: str = "mouse_end_to_end") -> keras.Model:
    """Coarse network and the two auto-context refiners in one model, trained together.

    Inputs: the volume (B, D, H, W, 1) and the corners (B, 3) of the ventricle and body regions. Outputs: the coarse
    probabilities at 1/FACTOR resolution (B, D/2, H/2, W/2, 2), and the refined probabilities of the ventricle region
    (B, 32, 32, 32, 1) and of the body region (B, 56, 56, 56, 1). The nested models are named mouse_coarse,
    refine_ventricles and refine_body, so that separately trained weights load into them and inference runs them
    through `coarse_to_fine` (`parts`).
    """
    image = keras.Input((None, None, None, 1), name="image")
    corners = {s: keras.Input((3,), dtype="int32", name=f"{s}_corner") for s in STRUCTURES}
    coarse = coarse_net(base_filters, coarse_levels)
    small = layers.AveragePooling3D(FACTOR, name="downsample")(image)
    first = coarse(small)
    context = layers.UpSampling3D(FACTOR, name="upsample")(first)
    outputs = [first]
    for c, structure in enumerate(STRUCTURES):
        refiner = refine_net(True, base_filters, refine_levels, name=f"refine_{structure}")
        channel = layers.Lambda(lambda p, c=c: p[..., c:c + 1], name=f"{structure}_context")(context)
        stacked = layers.Concatenate(name=f"{structure}_input")([image, channel])
        outputs.append(refiner(CropAt(ROI[structure], name=f"{structure}_region")([stacked, corners[structure]])))
    return keras.Model([image, corners["ventricles"], corners["body"]], outputs, name=name)


def parts(model: keras.Model) -> tuple[keras.Model, dict[str, keras.Model]]:
    """The coarse network and the refiners of an end-to-end model, for `coarse_to_fine(..., autocontext=True)`."""
    return model.get_layer("mouse_coarse"), {s: model.get_layer(f"refine_{s}") for s in STRUCTURES}


def end_to_end_batch(volumes: list[Volume], rng: object, jitter: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """End-to-end training data: inputs [volumes, ventricle corners, body corners] (regions around the true masks,
    jittered) and targets [coarse masks (N, D/2, H/2, W/2, 2), ventricle region masks, body region masks]."""
    rng = rng_from(rng, "rng")
    images, corners, targets = [], {s: [] for s in STRUCTURES}, {s: [] for s in ("coarse", *STRUCTURES)}
    for volume in volumes:
        images.append(volume.image[..., None])
        small = downsample(volume, FACTOR)
        targets["coarse"].append(np.stack([getattr(small, s) for s in STRUCTURES], axis=-1))
        for structure in STRUCTURES:
            mask = getattr(volume, structure)
            window = jittered_window_around(mask, ROI[structure], rng, jitter)
            corners[structure].append([w.start for w in window])
            targets[structure].append(mask[window][..., None])
    x = [np.stack(images).astype(np.float32), *(np.asarray(corners[s], np.int32) for s in STRUCTURES)]
    y = [np.stack(targets[k]).astype(np.float32) for k in ("coarse", *STRUCTURES)]
    return x, y
