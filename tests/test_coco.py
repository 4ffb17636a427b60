import json

import numpy as np
import pytest
from PIL import Image

from utils.data.coco import export_coco, load_coco, to_coco_results
from utils.data.scenes import make_scenes, scene_dataset


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    data = make_scenes(8, size=64, seed=0)
    folder = tmp_path_factory.mktemp("coco")
    return data, folder, export_coco(data, folder)


def quiet_coco(path, capsys):
    from pycocotools.coco import COCO

    coco = COCO(str(path))
    capsys.readouterr()  # COCO prints its progress
    return coco


def test_round_trip_gives_back_images_masks_boxes_and_labels(exported):
    data, folder, path = exported
    assert path == folder / "annotations.json" and (folder / "images" / "000007.png").is_file()
    loaded = load_coco(folder)
    assert loaded.images.shape == data.images.shape and loaded.images.dtype == np.float32
    assert np.abs(loaded.images - data.images).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(loaded.images, np.round(data.images * 255) / np.float32(255))
    assert np.array_equal(loaded.masks, data.masks)
    assert loaded.class_names == data.class_names and loaded.category_ids == (1, 2, 3)
    assert list(loaded.image_ids) == list(range(8))
    for i in range(8):
        assert np.array_equal(loaded.boxes[i], data.boxes[i]) and loaded.boxes[i].dtype == np.float32
        assert np.array_equal(loaded.labels[i], data.labels[i])
        assert np.array_equal(loaded.instances[i], data.instances[i])
    assert load_coco(path).masks.shape == (8, 64, 64)  # the JSON's path works as well as its folder


def test_pycocotools_reads_the_export_and_scores_perfect_detections_ap_1(exported, capsys):
    from pycocotools.cocoeval import COCOeval

    data, _, path = exported
    coco = quiet_coco(path, capsys)
    assert sorted(coco.getImgIds()) == list(range(8)) and coco.getCatIds() == [1, 2, 3]
    assert len(coco.getAnnIds()) == sum(len(lab) for lab in data.labels)
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[3])):
        k = ann["id"] - 1 - sum(len(lab) for lab in data.labels[:3])
        assert np.array_equal(coco.annToMask(ann).astype(bool), data.instances[3][k])
        assert ann["area"] == data.instances[3][k].sum()
    scores = [np.ones(len(lab)) for lab in data.labels]
    results = to_coco_results(data.image_ids, data.boxes, scores, data.labels)
    evaluation = COCOeval(coco, coco.loadRes(results), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    capsys.readouterr()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_loaded_instances_feed_the_dataset_like_generated_ones(exported):
    data, folder, _ = exported
    loaded = load_coco(folder)
    a = next(iter(scene_dataset(data, 8, shuffle=False, seed=0, targets="instances")))[1]
    b = next(iter(scene_dataset(loaded, 8, shuffle=False, seed=0, targets="instances")))[1]
    for key in ("boxes", "labels", "masks"):
        assert np.array_equal(a[key].numpy(), b[key].numpy())


def write_fixture(folder):
    """A hand-written COCO folder: a polygon, an uncompressed RLE, a crowd region, and two image sizes."""
    (folder / "pics").mkdir()
    Image.fromarray(np.full((8, 10, 3), 200, np.uint8)).save(folder / "pics" / "a.png")
    Image.fromarray(np.full((6, 5), 100, np.uint8)).save(folder / "pics" / "b.png")  # gray
    # Column-major runs over a 6 x 5 image: 7 off, 4 on (rows 1-4 of column 1), 19 off.
    rle = {"size": [6, 5], "counts": [7, 4, 19]}
    document = {
        "images": [{"id": 42, "file_name": "b.png", "width": 5, "height": 6},
                   {"id": 7, "file_name": "a.png", "width": 10, "height": 8}],
        "categories": [{"id": 9, "name": "thing"}, {"id": 3, "name": "other"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 9, "iscrowd": 0, "bbox": [2, 1, 4, 3], "area": 12,
             "segmentation": [[2, 1, 6, 1, 6, 4, 2, 4]]},
            {"id": 2, "image_id": 7, "category_id": 3, "iscrowd": 1, "bbox": [0, 0, 10, 8], "area": 80,
             "segmentation": {"size": [8, 10], "counts": [0, 80]}},
            {"id": 3, "image_id": 42, "category_id": 3, "iscrowd": 0, "bbox": [1, 1, 1, 4], "area": 4,
             "segmentation": rle},
        ],
    }
    (folder / "instances.json").write_text(json.dumps(document))
    return folder / "instances.json"


def test_hand_written_coco_with_polygons_rle_crowd_and_two_sizes(tmp_path, capsys):
    path = write_fixture(tmp_path)
    data = load_coco(path, images_dir=tmp_path / "pics")
    assert data.class_names == ("background", "other", "thing") and data.category_ids == (3, 9)
    assert list(data.image_ids) == [7, 42]  # sorted by id
    assert isinstance(data.images, list) and [im.shape for im in data.images] == [(8, 10, 3), (6, 5, 3)]
    assert np.allclose(data.images[1], 100 / 255)
    # The polygon: labelled "thing" (label 2), the crowd annotation skipped.
    assert data.labels[0].tolist() == [2] and data.boxes[0].tolist() == [[2, 1, 6, 4]]
    coco = quiet_coco(path, capsys)
    polygon = coco.annToMask(coco.loadAnns([1])[0]).astype(bool)
    assert np.array_equal(data.instances[0][0], polygon)
    rectangle = np.zeros((8, 10), bool)
    rectangle[1:4, 2:6] = True  # the pixels whose centres lie inside the polygon
    assert np.array_equal(polygon, rectangle)
    assert np.array_equal(data.masks[0], np.where(polygon, 2, 0))
    expected = np.zeros((6, 5), bool)
    expected[1:5, 1] = True
    assert np.array_equal(data.instances[1][0], expected) and np.array_equal(data.masks[1], expected.astype(int))
    assert data.labels[1].tolist() == [1] and data.boxes[1].tolist() == [[1, 1, 2, 5]]


def test_load_errors_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder_or_json="):
        load_coco(tmp_path / "nowhere")
    path = write_fixture(tmp_path)
    with pytest.raises(FileNotFoundError, match="images_dir="):
        load_coco(path)  # the images are in pics/, not next to the JSON
    (tmp_path / "bad.json").write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="'annotations', 'categories'"):
        load_coco(tmp_path / "bad.json")


def test_to_coco_results_converts_boxes_and_categories():
    results = to_coco_results([5], [np.array([[1, 2, 4, 6]])], [np.array([0.9])], [np.array([2])],
                              category_ids=[3, 9])
    assert results == [{"image_id": 5, "category_id": 9, "bbox": [1.0, 2.0, 3.0, 4.0], "score": 0.9}]
    assert to_coco_results([0], [np.zeros((0, 4))], [np.zeros(0)], [np.zeros(0, int)]) == []
    with pytest.raises(ValueError, match="lengths 2, 1"):
        to_coco_results([0, 1], [np.zeros((0, 4))], [np.zeros(0)], [np.zeros(0)])
    with pytest.raises(ValueError, match="labels in"):
        to_coco_results([0], [np.zeros((1, 4))], [np.ones(1)], [np.zeros(1, int)])
    json.dumps(results)  # plain Python numbers only
