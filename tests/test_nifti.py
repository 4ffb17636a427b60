"""utils.data.nifti: volumes round-trip through NIfTI folders; malformed files are refused naming the file."""

import nibabel as nib
import numpy as np
import pytest

from utils.data.nifti import FILES, load_nifti, read_nifti, save_nifti
from utils.data.volumes import Volume, ultrasound_volume


@pytest.fixture
def volume() -> Volume:
    return ultrasound_volume(16, seed=3)


def write(path, array, zooms=(1.0, 1.0, 1.0)):
    image = nib.Nifti1Image(array, np.diag([*zooms, 1.0]))
    nib.save(image, str(path))


def test_round_trip_is_exact_and_keeps_the_spacing(tmp_path, volume):
    folder = save_nifti(tmp_path / "case", volume, spacing=(0.05, 0.04, 0.04))
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES.values())  # no temporary file left
    back = load_nifti(folder)
    for name in ("image", "ventricles", "body"):
        np.testing.assert_array_equal(getattr(back, name), getattr(volume, name))
    np.testing.assert_allclose(back.spacing, (0.05, 0.04, 0.04), rtol=1e-6)
    assert back.image.dtype == np.float32 and back.ventricles.dtype == bool
    # nibabel reads what we wrote as an ordinary NIfTI file: masks as uint8, the voxel size in the header.
    mask = nib.load(str(folder / FILES["ventricles"]))
    assert mask.get_data_dtype() == np.uint8 and mask.header.get_zooms() == pytest.approx((0.05, 0.04, 0.04))
    save_nifti(folder, back)  # overwriting a case keeps its own spacing
    assert load_nifti(folder).spacing == pytest.approx((0.05, 0.04, 0.04))


def test_a_raw_scan_is_rescaled_on_request(tmp_path, volume):
    folder = save_nifti(tmp_path / "raw", volume)
    write(folder / FILES["image"], (volume.image * 4000 - 100).astype(np.float32))
    with pytest.raises(ValueError, match=r"image.nii.gz has values .* rescale=True"):
        load_nifti(folder)
    back = load_nifti(folder, rescale=True)
    assert back.image.min() == 0 and back.image.max() == 1
    np.testing.assert_array_equal(back.body, volume.body)


def test_a_four_d_file_with_one_channel_reads_as_three_d(tmp_path):
    write(tmp_path / "x.nii", np.zeros((3, 4, 5, 1), np.float32), (2.0, 2.0, 3.0))
    array, spacing = read_nifti(tmp_path / "x.nii")
    assert array.shape == (3, 4, 5) and spacing == (2.0, 2.0, 3.0)


def test_bad_files_are_refused_naming_the_file(tmp_path, volume):
    folder = save_nifti(tmp_path / "case", volume)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_nifti(tmp_path / "nowhere")
    (folder / FILES["body"]).unlink()
    with pytest.raises(FileNotFoundError, match="body.nii.gz"):
        load_nifti(folder)
    write(folder / FILES["body"], np.zeros((16, 16, 15), np.uint8))
    with pytest.raises(ValueError, match=r"body.nii.gz does not match .*image.nii.gz.*shape \(16, 16, 15\)"):
        load_nifti(folder)
    write(folder / FILES["body"], np.full((16, 16, 16), 3, np.uint8))
    with pytest.raises(ValueError, match="body.nii.gz does not match .*value 3"):
        load_nifti(folder)
    write(folder / FILES["body"], volume.body.astype(np.uint8), (2.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="body.nii.gz has voxel size"):
        load_nifti(folder)
    write(folder / FILES["ventricles"], np.zeros((16, 16), np.uint8))
    with pytest.raises(ValueError, match=r"ventricles.nii.gz holds an array of shape \(16, 16\)"):
        load_nifti(folder)
    (folder / FILES["image"]).write_bytes(b"not a nifti file")
    with pytest.raises(ValueError, match="image.nii.gz: cannot be read as NIfTI"):
        load_nifti(folder)


def test_bad_arguments_are_refused_by_name(tmp_path, volume):
    with pytest.raises(TypeError, match="volume is a ndarray"):
        save_nifti(tmp_path / "a", volume.image)
    with pytest.raises(ValueError, match=r"spacing\[0\]=-1"):
        save_nifti(tmp_path / "a", volume, spacing=(-1, 1, 1))
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        save_nifti(tmp_path / "file", volume)
    with pytest.raises(ValueError, match="rescale='yes'"):
        load_nifti(tmp_path, rescale="yes")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_nifti(tmp_path / "missing.nii.gz")
