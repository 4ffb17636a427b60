"""Volumes as pictures: three orthogonal slices with the masks tinted over them, and masks as 3-D surfaces."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.course.checks import as_image_array
from utils.viz.masks import overlay_labels

PLANES = ("axial (depth d)", "coronal (height h)", "sagittal (width w)")


def _labels_like(labels: object, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.shape != shape:
        raise ValueError(f"labels have shape {arr.shape}: expected the volume's shape {shape}")
    if arr.dtype.kind not in "iub":
        raise ValueError(f"labels have dtype {arr.dtype}: expected an integer or boolean label volume")
    return arr.astype(np.int64)


def centre_of(mask: np.ndarray) -> tuple[int, int, int]:
    """The voxel nearest the centre of mass of a mask (the volume's centre when the mask is empty)."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return tuple(n // 2 for n in mask.shape)  # type: ignore[return-value]
    return tuple(int(round(c)) for c in np.argwhere(mask).mean(axis=0))  # type: ignore[return-value]


def orthogonal_slices(volume: np.ndarray, labels: np.ndarray | None = None, point: Sequence[int] | None = None,
                      strength: float = 0.6) -> list[np.ndarray]:
    """The axial, coronal and sagittal slices through point (default: the labels' centre) as RGB images, with the
    labels (0 background, 1, 2, ... in the palette's colours) tinted over them."""
    volume = as_image_array(volume, "volume", (3,))
    lab = None if labels is None else _labels_like(labels, volume.shape)
    if point is None:
        point = centre_of(lab > 0) if lab is not None else tuple(n // 2 for n in volume.shape)
    if len(point) != 3 or not all(0 <= int(p) < n for p, n in zip(point, volume.shape)):
        raise ValueError(f"point={tuple(point)!r}: expected a voxel (d, h, w) inside the volume {volume.shape}")
    out = []
    for axis, p in enumerate(point):
        cut = [slice(None)] * 3
        cut[axis] = int(p)
        image = np.repeat(volume[tuple(cut)][..., None], 3, axis=-1)
        out.append(overlay_labels(image, lab[tuple(cut)], strength) if lab is not None else image)
    return out


def surface(mask: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """The surface of a binary mask as a triangle mesh (vertices (V, 3) in voxel units times spacing, faces (F, 3)),
    by marching cubes at level 0.5 (skimage.measure.marching_cubes); the mask is padded so the surface is closed."""
    from skimage.measure import marching_cubes

    mask = np.asarray(mask)
    if mask.ndim != 3 or mask.dtype != bool:
        raise ValueError(f"mask has shape {mask.shape} and dtype {mask.dtype}: expected a boolean volume (D, H, W)")
    if not mask.any():
        raise ValueError("mask is empty: expected at least one voxel to draw a surface around")
    verts, faces, _, _ = marching_cubes(np.pad(mask, 1).astype(np.float32), 0.5, spacing=tuple(spacing))
    return verts - np.asarray(spacing), faces


def draw_surface(ax, mask: np.ndarray, color: str, alpha: float = 0.5, label: str | None = None,
                 around: np.ndarray | None = None, margin: int = 3) -> int:
    """Draw a mask's surface on a 3-D matplotlib axis (projection='3d'); returns the number of triangles.

    The axes span the whole volume, or with around (a boolean mask, e.g. the truth) its bounding box plus margin
    voxels, so that a small structure fills the picture and several pictures share their limits.
    """
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    verts, faces = surface(mask)
    mesh = Poly3DCollection(verts[faces], alpha=alpha, facecolor=color, edgecolor="none", label=label)
    ax.add_collection3d(mesh)
    if around is None:
        low, high = np.zeros(3), np.asarray(mask.shape, float)
    else:
        points = np.argwhere(_labels_like(around, mask.shape) > 0)
        if not len(points):
            raise ValueError("around is empty: expected a mask with at least one voxel to frame")
        low, high = points.min(axis=0) - margin, points.max(axis=0) + 1 + margin
    for set_lim, lo, hi in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), low, high):
        set_lim(lo, hi)
    return len(faces)
