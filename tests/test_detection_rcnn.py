import keras
import numpy as np
import pytest

from utils.data.scenes import make_scenes
from utils.detection.evaluation import coco_map
from utils.detection.rcnn import LOSSES, RCNN, detect_scenes, faster_rcnn, mask_rcnn, rcnn_dataset
from utils.nn.training import train


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(8, size=64, n_objects=(1, 2), object_size=(16, 24), seed=0)


def small(masks: bool, pooler: str = "align"):
    keras.utils.set_random_seed(0)
    build = mask_rcnn if masks else faster_rcnn
    return build(image_size=64, pooler=pooler, seed=0, anchor_sizes=(16, 24), aspect_ratios=(1.0,),
                 rpn_samples=32, roi_samples=16, train_proposals=(64, 16), test_proposals=(32, 8))


@pytest.mark.parametrize("masks, pooler", [(False, "align"), (True, "pool")])
def test_one_joint_step_logs_every_loss_and_changes_every_part(scenes, masks, pooler):
    model = small(masks, pooler)
    parts = ["backbone", "rpn", "box_head"] + (["mask_head"] if masks else [])
    before = {part: [np.array(v) for v in getattr(model, part).trainable_variables] for part in parts}
    run = train(model, rcnn_dataset(scenes, 4, masks=masks, seed=0), loss=None, epochs=1, learning_rate=1e-3)
    names = set(LOSSES) | ({"mask"} if masks else set())
    assert names | {"loss"} == set(run.history)
    assert all(np.isfinite(run.history[k][0]) for k in names)
    assert run.history["loss"][0] == pytest.approx(sum(run.history[k][0] for k in names), rel=1e-4)
    for part in parts:                                             # the joint step reaches every part
        after = [np.array(v) for v in getattr(model, part).trainable_variables]
        assert any(not np.allclose(a, b) for a, b in zip(before[part], after)), part


def test_inference_gives_padded_detections_and_masks(scenes):
    model = small(True)
    out = model(np.zeros((2, 64, 64, 3), np.uint8))
    k = model.max_detections
    assert tuple(out["boxes"].shape) == (2, k, 4) and tuple(out["masks"].shape) == (2, k, 28, 28)
    assert tuple(out["proposals"].shape) == (2, 8, 4)
    dets = detect_scenes(model, scenes.images, batch_size=3)
    assert len(dets["boxes"]) == len(scenes) == len(dets["masks"])
    for boxes, masks in zip(dets["boxes"], dets["masks"]):
        assert masks.shape == (len(boxes), 64, 64) and masks.dtype == bool


def test_an_image_without_objects_trains_and_evaluates():
    empty = make_scenes(4, size=64, n_objects=(0, 0), seed=1)
    assert all(len(lab) == 0 for lab in empty.labels)
    model = small(True)
    losses = model.compute_losses(np.zeros((4, 64, 64, 3), np.uint8),
                                  {"boxes": -np.ones((4, 1, 4), np.float32), "labels": -np.ones((4, 1), np.int32),
                                   "masks": np.zeros((4, 1, 64, 64), bool)})
    assert float(losses["rpn_box"]) == 0.0 and float(losses["roi_box"]) == 0.0 and float(losses["mask"]) == 0.0
    assert float(losses["rpn_objectness"]) > 0.0 and float(losses["roi_class"]) > 0.0   # background is learnt
    dets = detect_scenes(model, empty.images)
    with pytest.raises(ValueError, match="gt_boxes holds no object in its 4 images"):
        coco_map(empty.boxes, empty.labels, dets["boxes"], dets["scores"], dets["labels"], empty.class_names)
    # among images with objects, an empty image evaluates: its detections are false positives
    mixed_gt = [np.array([[8, 8, 24, 24]], np.float32)] + list(empty.boxes)
    mixed_labels = [np.array([1])] + list(empty.labels)
    found = [np.array([[8, 8, 24, 24]], np.float32)] + [np.zeros((0, 4), np.float32)] * 4
    false = [np.array([[8, 8, 24, 24]], np.float32)] + [np.array([[0, 0, 16, 16]], np.float32)] * 4
    perfect = coco_map(mixed_gt, mixed_labels, found, [np.ones(len(f)) for f in found],
                       [np.ones(len(f), int) for f in found], empty.class_names)
    worse = coco_map(mixed_gt, mixed_labels, false, [np.array([0.9])] + [np.ones(1)] * 4,   # the false ones first
                     [np.ones(len(f), int) for f in false], empty.class_names)
    assert perfect["map50"] == pytest.approx(1.0) and worse["map50"] < 0.5


def test_mask_ap_is_one_for_the_ground_truth_and_lower_for_shifted_masks(scenes):
    gt_masks = list(scenes.instances)
    scores = [np.ones(len(b)) for b in scenes.boxes]
    perfect = coco_map(scenes.boxes, scenes.labels, scenes.boxes, scores, scenes.labels, scenes.class_names,
                       masks=gt_masks, gt_masks=gt_masks)
    assert perfect["map5095"] == pytest.approx(1.0)
    shifted = [np.roll(m, 4, axis=2) for m in gt_masks]
    worse = coco_map(scenes.boxes, scenes.labels, scenes.boxes, scores, scenes.labels, scenes.class_names,
                     masks=shifted, gt_masks=gt_masks)
    assert worse["map5095"] < 0.9
    with pytest.raises(ValueError, match="expected both"):
        coco_map(scenes.boxes, scenes.labels, scenes.boxes, scores, scenes.labels, masks=gt_masks)
    with pytest.raises(ValueError, match=r"masks\[0\] has shape"):
        coco_map(scenes.boxes, scenes.labels, scenes.boxes, scores, scenes.labels, masks=[m[:0] for m in gt_masks],
                 gt_masks=gt_masks)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="pooler"):
        RCNN(pooler="max")
    with pytest.raises(ValueError, match="image_size=72: expected a multiple of 32"):
        RCNN(image_size=72)
    with pytest.raises(ValueError, match="roi_positive_fraction"):
        RCNN(roi_positive_fraction=0.0)
    model = small(True)
    with pytest.raises(ValueError, match=r"images has shape \(2, 32, 32, 3\): expected \(n, 64, 64, 3\)"):
        detect_scenes(model, np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"images\[0:2\] has values in \[0, 255\]: expected floats in \[0, 1\]"):
        detect_scenes(model, np.full((2, 64, 64, 3), 255.0, np.float32) * (np.arange(2) > 0)[:, None, None, None])
    boxes, labels = np.zeros((1, 1, 4), np.float32), np.ones((1, 1), np.int32)
    with pytest.raises(ValueError, match=r"masks has shape \(1, 1, 32, 32\): expected \(B, M, 64, 64\)"):
        model.compute_losses(np.zeros((1, 64, 64, 3), np.uint8),
                             {"boxes": boxes, "labels": labels, "masks": np.zeros((1, 1, 32, 32), bool)})


def test_no_proposals_give_no_detections():
    from utils.detection.roi_heads import detect

    rois, logits = np.zeros((1, 4, 4), np.float32), np.zeros((1, 4, 3), np.float32)
    logits[..., 1] = 10.0                                          # confident objects, but in padding rows
    out = detect(rois + [0, 0, 8, 8], logits, np.zeros((1, 4, 2, 4), np.float32), (16, 16), valid=[0])
    assert int(out["valid"][0]) == 0
    assert int(detect(rois + [0, 0, 8, 8], logits, np.zeros((1, 4, 2, 4), np.float32), (16, 16),
                      valid=[1])["valid"][0]) == 1
