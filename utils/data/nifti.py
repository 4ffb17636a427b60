"""Volumes on disk in NIfTI-1 (`nibabel`), the format of real ultrasound, MR and CT scans.

A volume is a folder of three files, each one 3-D NIfTI image of the same shape and voxel size::

    FOLDER/image.nii.gz       float32 intensities
    FOLDER/ventricles.nii.gz  uint8 0/1 mask
    FOLDER/body.nii.gz        uint8 0/1 mask

(the layout of one case in most segmentation data sets, one file per structure). The array is stored with the
course's axes (depth, height, width) as NIfTI's (i, j, k), and the affine is diag(spacing): no reorientation
happens, so what is saved loads back voxel for voxel. Each file is written atomically (a temporary file beside it,
then renamed), so a reader never sees half a file. Errors name the file they are about.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from utils.course.checks import one_of
from utils.data.volumes import Volume, as_mask, as_spacing

FILES: dict[str, str] = {"image": "image.nii.gz", "ventricles": "ventricles.nii.gz", "body": "body.nii.gz"}


def _save(array: np.ndarray, spacing: tuple[float, float, float], path: Path) -> None:
    """One array as a NIfTI file at path, written through a temporary file beside it."""
    import nibabel as nib

    image = nib.Nifti1Image(array, np.diag([*spacing, 1.0]))
    image.header.set_zooms(spacing)
    tmp = path.with_name(f".{path.name}.partial.nii.gz")  # nibabel picks compression from the suffix
    try:
        nib.save(image, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_nifti(folder: str | Path, volume: Volume, spacing: tuple[float, float, float] | None = None) -> Path:
    """Write volume as FOLDER/image.nii.gz, ventricles.nii.gz and body.nii.gz (spacing: the volume's if None)."""
    if not isinstance(volume, Volume):
        raise TypeError(f"volume is a {type(volume).__name__}: expected a utils.data.volumes.Volume")
    spacing = volume.spacing if spacing is None else as_spacing(spacing)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"folder={str(folder)!r} is a file: expected a folder (or a path to create)")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("ventricles", "body", "image"):  # the image last: a folder with an image is complete
        array = getattr(volume, name)
        _save(array.astype(np.float32 if name == "image" else np.uint8), spacing, folder / FILES[name])
    return folder


def read_nifti(path: str | Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """One 3-D NIfTI file as (array, spacing); a trailing axis of length 1 is dropped; errors name the file."""
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (expected a NIfTI volume, .nii or .nii.gz)")
    try:
        image = nib.load(str(path))
        array = np.asanyarray(image.dataobj)
    except Exception as err:  # nibabel raises many kinds on a damaged file; each is "not a NIfTI volume"
        raise ValueError(f"{path}: cannot be read as NIfTI ({type(err).__name__}: {err})") from None
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise ValueError(f"{path} holds an array of shape {array.shape} (rank {array.ndim}): expected a 3-D volume")
    try:
        spacing = as_spacing(tuple(float(z) for z in image.header.get_zooms()[:3]), "voxel size")
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return array, spacing


def load_nifti(folder: str | Path, rescale: bool = False) -> Volume:
    """The Volume saved in folder (see the module docstring); rescale=True maps the image's range onto [0, 1]."""
    one_of(rescale, "rescale", (True, False))
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (expected one holding {', '.join(FILES.values())})")
    image, spacing = read_nifti(folder / FILES["image"])
    image = image.astype(np.float32)
    if rescale and image.size and np.isfinite(image).all():
        low, high = float(image.min()), float(image.max())
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    elif image.size and (not np.isfinite(image).all() or image.min() < 0 or image.max() > 1):
        raise ValueError(f"{folder / FILES['image']} has values in [{np.nanmin(image):.3g}, {np.nanmax(image):.3g}]"
                         " or NaN: expected finite intensities in [0, 1] (pass rescale=True for a raw scan)")
    masks = {}
    for name in ("ventricles", "body"):
        path = folder / FILES[name]
        mask, mask_spacing = read_nifti(path)
        try:
            masks[name] = as_mask(mask, name, image.shape)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path} does not match {folder / FILES['image']}: {err}") from None
        if not np.allclose(mask_spacing, spacing, rtol=1e-5):
            raise ValueError(f"{path} has voxel size {mask_spacing} but {folder / FILES['image']} has {spacing}: "
                             "expected the same voxel size")
    return Volume(image, masks["ventricles"], masks["body"], spacing)
