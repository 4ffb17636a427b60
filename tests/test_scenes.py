import math
import subprocess
import sys
import time

import numpy as np
import pytest

from utils.data.scenes import (
    CLASS_NAMES,
    SHAPES,
    InstanceMasks,
    Scene,
    Scenes,
    _shape_mask,
    make_scene,
    make_scenes,
    pad_boxes,
    scene_dataset,
)


@pytest.fixture(scope="module")
def data() -> Scenes:
    return make_scenes(60, size=96, seed=0)


def tight_box(mask: np.ndarray) -> list[float]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]


def test_arrays_have_the_documented_shapes_dtypes_and_ranges(data):
    assert len(data) == 60 and data.class_names == CLASS_NAMES and data.num_classes == 4
    assert data.images.shape == (60, 96, 96, 3) and data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    assert data.masks.shape == (60, 96, 96) and data.masks.dtype == np.int32
    assert list(data.image_ids) == list(range(60)) and data.category_ids == (1, 2, 3)
    for boxes, labels, inst in zip(data.boxes, data.labels, data.instances):
        assert boxes.dtype == np.float32 and labels.dtype == np.int32 and inst.dtype == bool
        assert boxes.shape == (len(labels), 4) and inst.shape == (len(labels), 96, 96)
        assert 1 <= len(labels) <= 5 and set(labels.tolist()) <= {1, 2, 3}
    assert set(np.concatenate(data.labels).tolist()) == {1, 2, 3}


def test_semantic_mask_is_the_union_of_disjoint_instances_labelled_by_class(data):
    for i in range(len(data)):
        inst, labels = data.instances[i], data.labels[i]
        assert inst.sum(axis=0).max() <= 1  # visible parts never overlap
        expected = np.zeros((96, 96), np.int32)
        for m, c in zip(inst, labels):
            expected[m] = c
        assert np.array_equal(data.masks[i], expected)


def test_boxes_are_the_tight_boxes_of_the_visible_masks(data):
    for boxes, inst in zip(data.boxes, data.instances):
        for box, m in zip(boxes, inst):
            assert m.any()
            assert box.tolist() == tight_box(m)


def test_same_seed_gives_the_same_scenes_and_a_longer_run_starts_with_them(data):
    again = make_scenes(20, size=96, seed=0)
    assert np.array_equal(again.images, data.images[:20]) and np.array_equal(again.masks, data.masks[:20])
    assert all(np.array_equal(a, b) for a, b in zip(again.boxes, data.boxes))
    other = make_scenes(20, size=96, seed=1)
    assert not np.array_equal(other.images, again.images)
    one = make_scene(np.random.default_rng(0), size=96)
    assert isinstance(one, Scene) and np.array_equal(one.image, data.images[0])
    assert np.array_equal(one.instances, data.instances[0]) and np.array_equal(one.boxes, data.boxes[0])


def test_slicing_and_indexing_give_scenes_and_one_scene(data):
    part = data[10:13]
    assert isinstance(part, Scenes) and len(part) == 3 and list(part.image_ids) == [10, 11, 12]
    assert isinstance(part.instances, InstanceMasks)
    assert np.array_equal(part.instances[1], data.instances[11])
    scene = data[11]
    assert np.array_equal(scene.mask, data.masks[11]) and np.array_equal(scene.labels, data.labels[11])


def test_axis_aligned_square_rasterizes_exactly():
    # A square of side 10 (equal-area radius 10 / sqrt(pi)) centred on a pixel corner covers 10 x 10 pixels.
    px = np.arange(-8, 8, dtype=np.float32)[None, :] + 0.5
    py = np.arange(-8, 8, dtype=np.float32)[:, None] + 0.5
    inside = _shape_mask("square", px, py, 10 / math.sqrt(math.pi), 0.0, 1.0)
    expected = np.zeros((16, 16), bool)
    expected[3:13, 3:13] = True
    assert np.array_equal(inside, expected)
    circle = _shape_mask("circle", px, py, 3.0, 0.0, 1.0)
    assert circle.sum() == 32  # the pixel centres within distance 3 of a pixel corner


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_has_the_area_of_its_equal_area_circle(shape):
    # min_visible=1 forbids any occlusion, so each mask is the whole object of diameter 32.
    data = make_scenes(40, size=128, n_objects=2, object_size=32, classes=(shape,), min_visible=1.0, seed=3)
    areas = np.array([m.sum() for inst in data.instances for m in inst])
    assert len(areas) == 80
    assert abs(areas.mean() / (math.pi * 16**2) - 1) < 0.03


def test_opt_in_shapes_extend_the_classes():
    data = make_scenes(30, size=64, classes=SHAPES, seed=0)
    assert data.class_names == ("background",) + SHAPES
    assert set(np.concatenate(data.labels).tolist()) == {1, 2, 3, 4, 5}


def test_foreground_fraction_is_controllable():
    tiny = make_scenes(300, size=128, n_objects=1, object_size=(6, 9), seed=0)
    fraction = (tiny.masks > 0).mean()
    assert 0.001 < fraction < 0.006
    assert abs(fraction - math.pi / 4 * np.mean(np.arange(6, 10) ** 2) / 128**2) < 0.001
    default = (make_scenes(100, size=128, seed=0).masks > 0).mean()
    assert 0.05 < default < 0.2


def test_flat_backgrounds_only_and_empty_scenes():
    data = make_scenes(5, size=64, n_objects=0, backgrounds="flat", seed=0)
    assert all(len(lab) == 0 for lab in data.labels) and not data.masks.any()
    assert np.ptp(data.images, axis=(1, 2)).max() == 0  # one colour per image
    assert data.instances[0].shape == (0, 64, 64)


def test_generates_fast_enough():
    make_scenes(5, size=128, seed=0)  # load the textures
    start = time.perf_counter()
    make_scenes(400, size=128, seed=1)
    rate = 400 / (time.perf_counter() - start)
    assert rate >= 300, f"{rate:.0f} scenes/s"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "n=0"),
        ({"size": 32}, "size=32"),
        ({"size": 300}, "size=300"),
        ({"n_objects": (3, 1)}, r"n_objects=\(3, 1\)"),
        ({"n_objects": -1}, "n_objects=-1"),
        ({"object_size": (2, 8)}, r"object_size=\(2, 8\)"),
        ({"object_size": 80}, "object_size=80"),
        ({"classes": ("hexagon",)}, "classes=.*hexagon"),
        ({"classes": ("circle", "circle")}, "classes="),
        ({"backgrounds": ("sky",)}, "backgrounds=.*sky"),
        ({"min_visible": 0}, "min_visible=0"),
        ({"min_visible": float("nan")}, r"min_visible=nan: expected a number in \(0, 1\]"),
        ({"min_visible": True}, "min_visible=True"),
        ({"min_visible": "0.5"}, "min_visible='0.5'"),
        ({"size": 128.0}, r"size=128.0: expected an integer in 64..256 \(the image side in pixels\)"),
        ({"size": True}, "size=True"),
        ({"n_objects": 2.0}, "n_objects=2.0"),
        ({"n_objects": (1, 2, 3)}, r"n_objects=\(1, 2, 3\)"),
        ({"n_objects": (1, None)}, r"n_objects=\(1, None\)"),
        ({"object_size": (8, True)}, r"object_size=\(8, True\)"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    args = {"n": 1, "size": 128} | kwargs
    with pytest.raises(ValueError, match=match):
        make_scenes(**args)


def test_pad_boxes_pads_with_minus_one(data):
    boxes, labels = pad_boxes(data[:4], max_boxes=6)
    assert boxes.shape == (4, 6, 4) and labels.shape == (4, 6)
    for i in range(4):
        n = len(data.labels[i])
        assert np.array_equal(boxes[i, :n], data.boxes[i]) and np.array_equal(labels[i, :n], data.labels[i])
        assert (boxes[i, n:] == -1).all() and (labels[i, n:] == -1).all()
    with pytest.raises(ValueError, match="max_boxes=1"):
        pad_boxes(data, max_boxes=1)
    for bad in (7.5, True, -1, "8"):
        with pytest.raises(ValueError, match=f"max_boxes={bad!r}"):
            pad_boxes(data, max_boxes=bad)


def test_dataset_targets_have_the_documented_shapes(data):
    image, mask = next(iter(scene_dataset(data, 8, seed=0)))
    assert image.shape == (8, 96, 96, 3) and mask.shape == (8, 96, 96) and mask.dtype.name == "int32"
    _, one_hot = next(iter(scene_dataset(data, 8, seed=0, targets="one_hot")))
    assert one_hot.shape == (8, 96, 96, 4) and np.allclose(one_hot.numpy().sum(-1), 1)
    _, target = next(iter(scene_dataset(data, 8, seed=0, targets="boxes", max_boxes=7)))
    assert target["boxes"].shape == (8, 7, 4) and target["labels"].shape == (8, 7)
    with pytest.raises(ValueError, match="targets='points': expected one of 'semantic', 'one_hot'"):
        scene_dataset(data, 8, targets="points")
    with pytest.raises(ValueError, match="batch_size=0"):
        scene_dataset(data, 0)


def test_dataset_is_the_same_for_the_same_seed_and_reshuffles_each_pass(data):
    ds = scene_dataset(data, 60, seed=5)
    first, second = (next(iter(ds))[0].numpy() for _ in range(2))
    again = next(iter(scene_dataset(data, 60, seed=5)))[0].numpy()
    assert np.array_equal(first, again) and not np.array_equal(first, second)
    plain = next(iter(scene_dataset(data, 60, shuffle=False, augment=False)))[0].numpy()
    assert np.array_equal(plain, data.images)


def test_flips_move_image_mask_boxes_and_instances_together(data):
    part = data[:24]
    image, target = next(iter(scene_dataset(part, 24, shuffle=False, seed=1, targets="instances")))
    _, mask = next(iter(scene_dataset(part, 24, shuffle=False, seed=1)))
    image, mask = image.numpy(), mask.numpy()
    flips = set()
    for i in range(24):
        matches = [(fx, fy) for fx in (False, True) for fy in (False, True)
                   if np.array_equal(image[i], flip(part.images[i], fx, fy))]
        assert len(matches) >= 1
        fx, fy = matches[0]
        flips.add((fx, fy))
        assert np.array_equal(mask[i], flip(part.masks[i], fx, fy))
        n = len(part.labels[i])
        labels, boxes, masks = (target[k][i].numpy() for k in ("labels", "boxes", "masks"))
        assert np.array_equal(labels[:n], part.labels[i]) and (labels[n:] == -1).all()
        assert (boxes[n:] == -1).all() and not masks[n:].any()
        for k in range(n):
            assert np.array_equal(masks[k], flip(part.instances[i][k], fx, fy))
            assert boxes[k].tolist() == tight_box(masks[k])
    assert len(flips) == 4


def flip(x: np.ndarray, fx: bool, fy: bool) -> np.ndarray:
    x = x[:, ::-1] if fx else x
    return x[::-1] if fy else x


def test_importing_the_data_modules_does_not_import_tensorflow():
    code = "import sys, utils.data.scenes, utils.data.coco, utils.data.pets; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_indexing_by_positions_matches_indexing_one_by_one():
    data = make_scenes(12, size=64, seed=5)
    order = np.array([7, 2, 11, 0])
    part = data[order]
    assert len(part) == 4 and list(part.image_ids) == [7, 2, 11, 0]
    for j, k in enumerate(order):
        one, picked = data[int(k)], part[j]
        assert np.array_equal(picked.image, one.image) and np.array_equal(picked.mask, one.mask)
        assert np.array_equal(picked.boxes, one.boxes) and np.array_equal(picked.labels, one.labels)
        assert np.array_equal(picked.instances, one.instances)
    assert np.array_equal(data[[1, 3]].masks, data.masks[[1, 3]])
