"""Surface distances between masks: the 95th-percentile Hausdorff distance (HD95), medical imaging's second metric.

Dice counts overlapping voxels; HD95 says how far the two outlines are apart, in the voxel spacing's units. The
surface of a mask is its voxels with a face-neighbour outside it (the volume's border counts as outside). For every
surface voxel of A the distance to the nearest surface voxel of B is read from a Euclidean distance transform
(scipy.ndimage.distance_transform_edt, with the spacing), and likewise from B to A; HD95 is the 95th percentile of
the two sets of distances pooled (MedPy's `hd95`; MONAI takes the larger of the two directed percentiles instead).
percentile=100 gives the symmetric Hausdorff distance of the two surfaces, which is what
skimage.metrics.hausdorff_distance returns when given the surfaces.

An empty mask has no surface and no distance to anything: by default it is refused naming the mask; with
if_empty="inf" the distance is inf when one mask is empty and 0.0 when both are (two empty outlines agree), so an
evaluation over many volumes can go on and report the failure.

`score_pipelines` measures whole segmentation pipelines side by side: Dice of each structure and seconds per volume,
on the same volumes (notebook 08's Table 1).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from utils.course.checks import number_in, one_of
from utils.data.volumes import as_mask, as_spacing

IF_EMPTY = ("raise", "inf")


def _mask(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} has shape {arr.shape} (rank {arr.ndim}): expected a 2-D or 3-D mask")
    return as_mask(arr, name, arr.shape)


def surface(mask: np.ndarray) -> np.ndarray:
    """The mask's surface voxels: those with a face-neighbour outside the mask or outside the array."""
    from scipy import ndimage

    mask = _mask(mask, "mask")
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def surface_distances(mask_a: np.ndarray, mask_b: np.ndarray, spacing: tuple[float, ...] | None = None) -> np.ndarray:
    """For each surface voxel of mask_a, the distance (in spacing's units) to the nearest surface voxel of mask_b."""
    from scipy import ndimage

    a, b = _pair(mask_a, mask_b)
    sampling = _sampling(spacing, a.ndim)
    if not b.any():
        raise ValueError("mask_b is empty: expected at least one voxel (the distance to nothing is undefined)")
    return ndimage.distance_transform_edt(~surface(b), sampling=sampling)[surface(a)]


def _pair(mask_a: object, mask_b: object) -> tuple[np.ndarray, np.ndarray]:
    a, b = _mask(mask_a, "mask_a"), _mask(mask_b, "mask_b")
    if a.shape != b.shape:
        raise ValueError(f"mask_b has shape {b.shape} but mask_a has {a.shape}: expected the same shape")
    return a, b


def _sampling(spacing: object, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * ndim
    if ndim == 3:
        return as_spacing(spacing)
    if not isinstance(spacing, (tuple, list, np.ndarray)) or len(spacing) != ndim:
        raise ValueError(f"spacing={spacing!r}: expected {ndim} positive voxel sizes, one per axis")
    return tuple(number_in(s, f"spacing[{i}]", 0, low_open=True, note="a voxel size") for i, s in enumerate(spacing))


def hausdorff95(mask_a: np.ndarray, mask_b: np.ndarray, spacing: tuple[float, ...] | None = None, *,
                percentile: float = 95.0, if_empty: str = "raise") -> float:
    """The percentile (95: HD95, 100: Hausdorff) of the pooled symmetric surface distances of two masks."""
    a, b = _pair(mask_a, mask_b)
    percentile = number_in(percentile, "percentile", 0, 100, low_open=True,
                           note="95 for HD95, 100 for the Hausdorff distance")
    one_of(if_empty, "if_empty", IF_EMPTY)
    _sampling(spacing, a.ndim)
    if not (a.any() and b.any()):
        if if_empty == "inf":
            return 0.0 if not (a.any() or b.any()) else float("inf")
        name = "mask_a" if not a.any() else "mask_b"
        raise ValueError(f"{name} is empty: expected at least one voxel (HD95 of an empty mask is undefined; "
                         "pass if_empty='inf' to score it as inf)")
    pooled = np.concatenate([surface_distances(a, b, spacing), surface_distances(b, a, spacing)])
    return float(np.percentile(pooled, percentile))


def score_pipelines(pipelines: Mapping[str, Callable[[np.ndarray], Mapping[str, np.ndarray]]], volumes: Sequence,
                    structures: Sequence[str] = ("ventricles", "body"),
                    warm_up: Mapping[str, Callable[[np.ndarray], object]] | None = None,
                    per_volume: bool = False) -> dict[str, dict[str, float]] | dict[str, dict[str, list[float]]]:
    """Mean Dice of each structure and mean seconds per volume of each pipeline, on the same volumes.

    A pipeline maps an image (D, H, W) to {structure: boolean mask}; volumes are `utils.data.volumes.Volume`s,
    whose attributes named by structures are the truth. Each volume is timed alone, after one call on the first
    volume (warm_up[name], default the pipeline itself) that builds the models' graphs. Returns
    {name: {"dice_<structure>": mean, ..., "time_s": mean}}, or with per_volume=True the lists of each volume's
    values in the volumes' order (for paired comparisons between pipelines, utils.course.evidence.compare).
    """
    from utils.segmentation.metrics import dice

    if not isinstance(pipelines, Mapping) or not pipelines or not all(callable(p) for p in pipelines.values()):
        raise ValueError(f"pipelines={pipelines!r:.80}: expected a non-empty dict of name -> function(image) -> masks")
    if not isinstance(volumes, (list, tuple)) or not volumes:
        raise ValueError(f"volumes={volumes!r:.80}: expected a non-empty list of utils.data.volumes.Volume")
    one_of(per_volume, "per_volume", (True, False))
    warm_up = dict(warm_up or {})
    unknown = sorted(set(warm_up) - set(pipelines))
    if unknown:
        raise ValueError(f"warm_up names {unknown}: expected names of pipelines, {sorted(pipelines)}")
    table = {}
    for name, pipeline in pipelines.items():
        warm_up.get(name, pipeline)(volumes[0].image)
        scores: dict[str, list[float]] = {f"dice_{s}": [] for s in structures}
        scores["time_s"] = []
        for volume in volumes:
            t = time.perf_counter()
            masks = pipeline(volume.image)
            scores["time_s"].append(time.perf_counter() - t)
            for s in structures:
                if s not in masks:
                    raise KeyError(f"pipeline {name!r} returned {sorted(masks)}: expected a mask for {s!r}")
                scores[f"dice_{s}"].append(dice(getattr(volume, s), masks[s]))
        table[name] = scores if per_volume else {key: float(np.mean(values)) for key, values in scores.items()}
    return table
