import numpy as np
import pytest
from PIL import Image

from utils.data.pets import PET_CLASS_NAMES, load_pets


def write_pets(folder, names=("Abyssinian_1", "Bengal_2", "beagle_3", "pug_4"), size=16):
    """A tiny Oxford-IIIT Pet layout: random JPEGs, and trimaps of a rectangle of pet inside a border ring."""
    (folder / "images").mkdir(parents=True)
    (folder / "annotations" / "trimaps").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        side = size if i == 0 else size + 8 * i  # the first one needs no resizing
        pixels = rng.integers(0, 256, (side, side + 4 * i, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "images" / f"{name}.jpg")
        trimap = np.full((side, side), 2, np.uint8)
        trimap[3:11, 4:13] = 3
        trimap[4:10, 5:12] = 1
        Image.fromarray(trimap).save(folder / "annotations" / "trimaps" / f"{name}.png")
    return folder


def test_loads_images_masks_and_boxes_in_the_scenes_structure(tmp_path):
    data = load_pets(write_pets(tmp_path), size=16)
    assert len(data) == 4 and data.class_names == PET_CLASS_NAMES
    assert data.images.shape == (4, 16, 16, 3) and data.images.dtype == np.float32
    assert 0 <= data.images.min() and data.images.max() <= 1
    assert data.masks.shape == (4, 16, 16) and data.masks.dtype == np.int32
    assert set(np.unique(data.masks).tolist()) == {0, 1}
    expected = np.zeros((16, 16), np.int32)
    expected[3:11, 4:13] = 1  # the border counts as pet
    assert np.array_equal(data.masks[0], expected)
    assert data.boxes[0].tolist() == [[4, 3, 13, 11]] and data.labels[0].tolist() == [1]
    assert np.array_equal(data.instances[0][0], expected.astype(bool))
    jpeg = np.asarray(Image.open(tmp_path / "images" / "Abyssinian_1.jpg"), np.float32) / 255
    assert np.allclose(data.images[0], jpeg)


def test_border_can_be_marked_to_ignore(tmp_path):
    data = load_pets(write_pets(tmp_path), size=16, border=255)
    assert set(np.unique(data.masks[0]).tolist()) == {0, 1, 255}
    assert (data.masks[0][4:10, 5:12] == 1).all() and data.masks[0][3, 4] == 255
    assert data.boxes[0].tolist() == [[4, 3, 13, 11]]


def test_limit_spreads_over_the_names_and_unpaired_files_are_skipped(tmp_path):
    folder = write_pets(tmp_path, names=[f"breed{i}_1" for i in range(9)])
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "images" / "lonely_1.jpg")  # no trimap
    assert len(load_pets(folder, size=8)) == 9
    data = load_pets(folder, size=8, limit=3)
    assert len(data) == 3 and data.images.shape == (3, 8, 8, 3)


def test_bad_layout_and_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="images/"):
        load_pets(tmp_path)
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="annotations/trimaps/"):
        load_pets(tmp_path)
    (tmp_path / "annotations" / "trimaps").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="found no image"):
        load_pets(tmp_path)
    folder = write_pets(tmp_path / "pets")
    with pytest.raises(ValueError, match="size=0"):
        load_pets(folder, size=0)
    with pytest.raises(ValueError, match="limit=0"):
        load_pets(folder, limit=0)
    for bad in (-1, 1.5, True, "255"):
        with pytest.raises(ValueError, match=f"border={bad!r}: expected a non-negative integer \\(1 = pet"):
            load_pets(folder, border=bad)
    Image.fromarray(np.full((16, 16), 7, np.uint8)).save(folder / "annotations" / "trimaps" / "Abyssinian_1.png")
    with pytest.raises(ValueError, match="trimap Abyssinian_1.png"):
        load_pets(folder, size=16)
