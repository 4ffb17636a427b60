"""Bad input to utils.data.scenes, coco and pets: a clear error naming the argument or the file."""

import json

import numpy as np
import pytest

from utils.data.coco import export_coco, load_coco, to_coco_results
from utils.data.pets import load_pets
from utils.data.scenes import Scenes, make_scene, make_scenes, pad_boxes, read_image, scene_dataset

DATA = make_scenes(3, size=64, seed=0)


def one_scene(boxes, labels, image=None):
    image = np.zeros((1, 8, 8, 3), np.float32) if image is None else image
    masks = np.zeros((1, 8, 8), np.int32)
    return Scenes(image, masks, [np.asarray(boxes, np.float32)], [np.asarray(labels, np.int32)],
                  [np.zeros((len(labels), 8, 8), bool)])


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, r"seed=-1: expected a non-negative integer \(a seed, or None for a random one\)"),
    ({"seed": 2.5}, "seed=2.5: expected a non-negative integer"),
    ({"seed": "a"}, "seed='a'"),
    ({"n": 0}, "n=0: expected a positive integer"),
    ({"classes": ("Circle",)}, "classes=\\('Circle',\\): expected distinct shapes"),
])
def test_make_scenes_refuses_bad_seeds_and_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_scenes(**{"n": 1, **kwargs})


@pytest.mark.parametrize("rng", [-1, 1.5, "x"])
def test_make_scene_refuses_bad_seeds(rng):
    with pytest.raises(ValueError, match=f"rng={rng!r}: expected a non-negative integer"):
        make_scene(rng)


@pytest.mark.parametrize("boxes, labels, match", [
    ([[5, 5, 1, 1]], [1], r"boxes\[0\] has 1 box\(es\) with x2 < x1 or y2 < y1, the first \[5.0, 5.0, 1.0, 1.0\]"),
    ([[np.nan, 0, 1, 1]], [1], r"boxes\[0\] has 1 box\(es\) with NaN or inf"),
    ([[0, 0, 1, 1]], [4], r"labels\[0\] has labels in \[4, 4\]: expected labels in \[1, 3\] \(1..C, 0 is the "),
    ([[0, 0, 1, 1]], [0], r"labels\[0\] has labels in \[0, 0\]"),
    ([[0, 0, 1, 1]], [1, 2], r"labels\[0\] has 2 entries but boxes\[0\] has 1: expected one per box"),
])
def test_scenes_refuse_inverted_boxes_and_labels_outside_1_c(boxes, labels, match):
    with pytest.raises(ValueError, match=match):
        one_scene(boxes, labels)


def test_scenes_read_a_list_of_bools_as_a_mask_not_as_positions():
    assert DATA[[True, False, True]].image_ids.tolist() == [0, 2]
    assert len(DATA[[]]) == 0
    with pytest.raises(IndexError, match=r"positions \[0.5\]: expected integers or a boolean mask"):
        DATA[[0.5]]


@pytest.mark.parametrize("data, kwargs, match", [
    (DATA, {"batch_size": 0}, "batch_size=0: expected a positive integer"),
    (DATA, {"seed": -1}, "seed=-1: expected a non-negative integer"),
    (DATA, {"seed": 2.5}, "seed=2.5"),
    (DATA, {"shuffle": "no"}, "shuffle='no': expected one of True, False"),
    (DATA, {"augment": 1}, "augment=1: expected one of True, False"),
    (DATA, {"targets": "box"}, "targets='box': expected one of"),
    (DATA[0:0], {}, "data is empty: expected at least one scene to batch"),
    ([1, 2], {}, "data is a list: expected Scenes"),
])
def test_scene_dataset_refuses_bad_arguments_before_tensorflow_sees_them(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        scene_dataset(data, **{"batch_size": 2, **kwargs})


def test_pad_boxes_refuses_fractional_rows_and_what_is_not_scenes():
    with pytest.raises(ValueError, match="max_boxes=2.5: expected a non-negative integer"):
        pad_boxes(DATA, 2.5)
    with pytest.raises(ValueError, match="data is a dict: expected Scenes"):
        pad_boxes({"boxes": []})
    with pytest.raises(ValueError, match="data is empty: expected at least one scene to pad"):
        pad_boxes(DATA[0:0])


def test_read_image_names_a_truncated_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ValueError, match="broken.png could not be read as an image"):
        read_image(bad)


# ------------------------------------------------------------------------------------------------
# COCO export


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.boxes.__setitem__(0, np.array([[10, 10, 5, 5]] * len(d.boxes[0]), np.float32)),
     r"boxes\[0\] has \d box\(es\) with x2 < x1"),
    (lambda d: d.labels.__setitem__(0, np.full(len(d.labels[0]), 9, np.int32)), r"labels\[0\] has labels in \[9, 9\]"),
    (lambda d: d.images.__setitem__(0, d.images[0] * 255), r"data.images\[0\] has values in .*: expected floats in"),
])
def test_export_coco_refuses_what_a_coco_file_cannot_hold(tmp_path, edit, match):
    data = make_scenes(2, size=64, n_objects=(1, 2), seed=1)
    edit(data)  # an edit after the scenes were made
    with pytest.raises(ValueError, match=match):
        export_coco(data, tmp_path)


def test_export_coco_refuses_empty_data_and_masks_that_do_not_match(tmp_path):
    with pytest.raises(ValueError, match="data is empty: expected at least one scene to export"):
        export_coco(DATA[0:0], tmp_path)
    with pytest.raises(ValueError, match="data is a list: expected Scenes"):
        export_coco([1], tmp_path)
    scene = one_scene([[0, 0, 2, 2]], [1])
    scene.instances = [np.zeros((0, 8, 8), bool)]
    with pytest.raises(ValueError, match=r"data.instances\[0\] has shape \(0, 8, 8\): expected one mask per box"):
        export_coco(scene, tmp_path)


# ------------------------------------------------------------------------------------------------
# COCO loading: every error names the file


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coco")
    export_coco(make_scenes(2, size=64, n_objects=(1, 2), seed=2), folder)
    return folder


def edited(coco, tmp_path, edit=None, text=None):
    (tmp_path / "images").symlink_to(coco / "images")
    document = json.loads((coco / "annotations.json").read_text())
    if edit:
        edit(document)
    (tmp_path / "annotations.json").write_text(text if text is not None else json.dumps(document))
    return tmp_path


def _set(path, value):
    def edit(document):
        *keys, last = path
        target = document
        for key in keys:
            target = target[key]
        target[last] = value
    return edit


@pytest.mark.parametrize("edit, match", [
    (_set(("annotations", 0, "image_id"), 999), "annotation 1 has image_id=999: expected one of the images' ids"),
    (_set(("annotations", 0, "bbox"), [10, 10, -5, 5]), r"annotation 1 has bbox=\[10, 10, -5, 5\]: expected "
                                                        r"\[x, y, width, height\], finite, width and height >= 0"),
    (_set(("annotations", 0, "bbox"), [1, 2, 3]), r"bbox=\[1, 2, 3\]"),
    (_set(("annotations", 0, "category_id"), 77), "annotation 1 has category_id=77: expected one of the categories"),
    (_set(("annotations", 0, "segmentation", "size"), [3, 3]),
     r"annotation 1 of image 0 \(64x64\) has an RLE of size \[3, 3\]: expected \[height, width\] = \[64, 64\]"),
    (_set(("annotations", 0, "segmentation"), {"size": [64, 64], "counts": [5, 3]}),
     "has RLE counts summing to 8: expected height \\* width = 4096 pixels"),
    (_set(("annotations", 0, "segmentation"), {"size": [64, 64], "counts": "!!bad"}),
     "has a segmentation pycocotools cannot read"),
    (_set(("annotations", 0, "segmentation"), [[1, 2, 3]]), "has a segmentation pycocotools cannot read"),
    (lambda d: d["annotations"][0].pop("bbox"), r"annotations\[0\] has no 'bbox': expected the COCO keys"),
    (lambda d: d["images"][0].pop("file_name"), r"images\[0\] has no 'file_name'"),
    (lambda d: d["images"].append(dict(d["images"][0])), "has image ids .* with repeats"),
    (_set(("images",), {}), "has no list 'images': expected a COCO annotation file"),
])
def test_load_coco_names_the_file_and_the_annotation(coco, tmp_path, edit, match):
    folder = edited(coco, tmp_path, edit)
    with pytest.raises(ValueError, match=match) as info:
        load_coco(folder)
    assert str(folder / "annotations.json") in str(info.value)


def test_load_coco_names_a_truncated_json_file(coco, tmp_path):
    text = (coco / "annotations.json").read_text()[:100]
    folder = edited(coco, tmp_path, text=text)
    with pytest.raises(ValueError, match=r"annotations.json is not valid JSON \(.*\): expected a COCO annotation "
                                         r"file \(a truncated copy\?\)"):
        load_coco(folder)


def test_load_coco_names_a_broken_image_file(coco, tmp_path):
    (tmp_path / "images").mkdir()
    for png in (coco / "images").iterdir():
        (tmp_path / "images" / png.name).write_bytes(png.read_bytes()[:40])
    (tmp_path / "annotations.json").write_text((coco / "annotations.json").read_text())
    with pytest.raises(ValueError, match="000000.png could not be read as an image"):
        load_coco(tmp_path)


# ------------------------------------------------------------------------------------------------
# COCO results


@pytest.mark.parametrize("args, match", [
    (([0], [[[5, 5, 1, 1]]], [[0.5]], [[1]]), r"boxes\[0\] has 1 box\(es\) with x2 < x1 or y2 < y1"),
    (([0], [[[np.nan, 0, 1, 1]]], [[0.5]], [[1]]), r"boxes\[0\] has 1 box\(es\) with NaN or inf"),
    (([0], [[[0, 0, 1]]], [[0.5]], [[1]]), r"boxes\[0\] has shape \(1, 3\)"),
    (([0], [[[0, 0, 1, 1]]], [[np.nan]], [[1]]), r"scores\[0\] has 1 NaN or infinite value\(s\): expected finite"),
    (([0], [[[0, 0, 1, 1]]], [[0.5]], [[1.5]]), r"labels\[0\] has fractional values such as 1.5"),
    (([0], [[[0, 0, 1, 1]]], [[0.5]], [[0]]), r"image 0 has labels in \[0, 0\]: expected labels in 1..C"),
    (([0.5], [[[0, 0, 1, 1]]], [[0.5]], [[1]]), "image_ids has fractional values such as 0.5"),
    ((3, [[[0, 0, 1, 1]]], [[0.5]], [[1]]), "image_ids=3: expected a sequence of image ids"),
])
def test_to_coco_results_refuses_inverted_boxes_nan_scores_and_fractional_ids(args, match):
    with pytest.raises(ValueError, match=match):
        to_coco_results(*args)


def test_to_coco_results_takes_images_without_detections():
    assert to_coco_results([0], [np.zeros(0)], [np.zeros(0)], [np.zeros(0, int)]) == []


# ------------------------------------------------------------------------------------------------
# Pets


@pytest.mark.parametrize("kwargs, match", [
    ({"size": 0}, "size=0: expected a positive integer"),
    ({"limit": 0}, "limit=0: expected a positive integer"),
    ({"border": -1}, r"border=-1: expected a non-negative integer \(1 = pet"),
])
def test_load_pets_refuses_bad_sizes(tmp_path, kwargs, match):
    from tests.test_pets import write_pets

    with pytest.raises(ValueError, match=match):
        load_pets(write_pets(tmp_path), **kwargs)


def test_load_pets_names_a_truncated_jpeg(tmp_path):
    from tests.test_pets import write_pets

    folder = write_pets(tmp_path, names=("Abyssinian_1",))
    jpeg = folder / "images" / "Abyssinian_1.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[:30])
    with pytest.raises(ValueError, match="Abyssinian_1.jpg could not be read as an image"):
        load_pets(folder)


def test_instance_masks_refuse_counts_that_do_not_match_the_images():
    from utils.data.scenes import InstanceMasks

    with pytest.raises(ValueError, match=r"ids has shape \(2, 4, 4\) and counts \(3,\): expected an \(n, H, W\)"):
        InstanceMasks(np.zeros((2, 4, 4), np.uint8), [1, 1, 1])
