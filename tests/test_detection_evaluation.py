import numpy as np
import pytest

from utils.data.scenes import make_scenes
from utils.detection.evaluation import coco_ground_truth, coco_map

GT_BOXES = [np.array([[10, 10, 30, 30], [50, 50, 90, 70]], np.float32), np.array([[0, 0, 20, 40]], np.float32)]
GT_LABELS = [np.array([1, 2]), np.array([1])]


def test_perfect_detections_score_1_and_none_score_0():
    scores = [np.ones(len(b)) for b in GT_BOXES]
    out = coco_map(GT_BOXES, GT_LABELS, GT_BOXES, scores, GT_LABELS, class_names=("background", "a", "b"))
    assert out["map50"] == pytest.approx(1.0) and out["map5095"] == pytest.approx(1.0)
    assert out["ap50_per_class"] == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    assert out["precision50"].shape == (101, 2)
    empty = [np.zeros((0, 4))] * 2
    none = coco_map(GT_BOXES, GT_LABELS, empty, [np.zeros(0)] * 2, [np.zeros(0, int)] * 2)
    assert none["map50"] == 0.0 and none["map5095"] == 0.0


def test_a_hand_computed_case():
    # class 1 has 2 objects: one found (score 0.9), one missed; a false positive (0.8) elsewhere.
    # Recall reaches 1/2 at precision 1, so the 101-point AP is 51/101. Class 2's box has IoU 0.6 with
    # its object: a hit at IoU 0.5, a miss at 0.75.
    boxes = [np.array([[10, 10, 30, 30], [60, 0, 80, 20], [50, 50, 90, 62]], np.float32),  # 40x12 in 40x20
             np.zeros((0, 4))]
    scores = [np.array([0.9, 0.8, 0.7]), np.zeros(0)]
    labels = [np.array([1, 1, 2]), np.zeros(0, int)]
    out = coco_map(GT_BOXES, GT_LABELS, boxes, scores, labels)
    assert out["ap50_per_class"]["class 1"] == pytest.approx(51 / 101)
    assert out["ap50_per_class"]["class 2"] == pytest.approx(1.0)
    assert out["map50"] == pytest.approx((51 / 101 + 1) / 2)
    assert out["map75"] == pytest.approx((51 / 101 + 0) / 2)


def test_ground_truth_holds_every_box_with_its_coco_bbox():
    data = make_scenes(5, size=64, seed=1)
    coco = coco_ground_truth(data.boxes, data.labels, data.class_names)
    assert sorted(coco.getImgIds()) == [0, 1, 2, 3, 4] and coco.getCatIds() == [1, 2, 3]
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[2]))
    b = data.boxes[2]
    assert np.allclose([a["bbox"] for a in anns], np.c_[b[:, :2], b[:, 2:] - b[:, :2]])
    assert [a["category_id"] for a in anns] == data.labels[2].tolist()


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="boxes has 1 entries: expected one per image \\(2\\)"):
        coco_map(GT_BOXES, GT_LABELS, GT_BOXES[:1], [np.ones(2)] * 2, [np.ones(2)] * 2)
    with pytest.raises(ValueError, match=r"labels\[0\] has labels in \[1, 7\]: expected labels in \[1, 2\]"):
        coco_map(GT_BOXES, GT_LABELS, GT_BOXES, [np.ones(2), np.ones(1)], [np.array([1, 7]), np.array([1])])
    with pytest.raises(ValueError, match="image 0 has 2 boxes and 1 labels"):
        coco_ground_truth(GT_BOXES, [np.array([1]), np.array([1])])


@pytest.mark.parametrize("change, match", [
    ({"gt_boxes": [np.array([[10, 0, 0, 10]]), np.zeros((0, 4))]},
     r"gt_boxes\[0\] has 1 box\(es\) with x2 < x1 or y2 < y1, the first \[10.0, 0.0, 0.0, 10.0\]"),
    ({"boxes": [np.array([[0, 0, np.nan, 10]]), np.zeros((0, 4))]}, r"boxes\[0\] has 1 box\(es\) with NaN or inf"),
    ({"scores": [np.array([np.nan]), np.zeros(0)]}, r"scores\[0\] has 1 NaN or infinite value\(s\): expected finite"),
    ({"labels": [np.array([1.5]), np.zeros(0)]}, r"labels\[0\] has fractional values such as 1.5"),
    ({"gt_labels": [np.array([0]), np.zeros(0)]},
     r"gt_labels\[0\] has labels in \[0, 0\]: expected labels in \[1, 2\]"),
])
def test_bad_boxes_scores_and_labels_are_named(change, match):
    args = {"gt_boxes": [np.array([[0, 0, 10, 10]]), np.zeros((0, 4))], "gt_labels": [np.array([1]), np.zeros(0)],
            "boxes": [np.array([[0, 0, 10, 10]]), np.zeros((0, 4))], "scores": [np.array([0.9]), np.zeros(0)],
            "labels": [np.array([1]), np.zeros(0)], "class_names": ["background", "a", "b"]}
    with pytest.raises(ValueError, match=match):
        coco_map(**{**args, **change})


def test_operating_point_counts_by_hand():
    from utils.detection.evaluation import (
        agreement,
        best_f1_threshold,
        detection_counts,
        errors_per_image,
        found_objects,
    )

    gt_boxes = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32), np.array([[0, 0, 8, 8]], np.float32)]
    gt_labels = [np.array([1, 2]), np.array([1])]
    boxes = [np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30], [50, 50, 60, 60]], np.float32),
             np.zeros((0, 4), np.float32)]
    labels = [np.array([1, 1, 1, 2]), np.zeros(0, int)]
    scores = [np.array([0.9, 0.8, 0.7, 0.3]), np.zeros(0)]
    pairs = agreement(boxes, labels, gt_boxes, gt_labels)
    # detection 2 overlaps object 1 perfectly but has the wrong class
    assert pairs[0].tolist() == [[True, False], [True, False], [False, False], [False, False]]
    assert pairs[1].shape == (0, 1)
    assert detection_counts(pairs, scores, 0.0) == (1, 2, 2)   # found 1; dets 2, 3 match nothing; 2 missed
    assert detection_counts(pairs, scores, 0.75) == (1, 0, 2)
    assert errors_per_image(pairs, scores, 0.75).tolist() == [1, 1]
    assert [f.tolist() for f in found_objects(pairs, scores, 0.95)] == [[False, False], [False]]
    t, f1 = best_f1_threshold(pairs, scores, thresholds=[0.0, 0.75, 0.95])
    assert t == 0.75 and f1 == pytest.approx(2 / (2 + 0 + 2))
    with pytest.raises(ValueError, match=r"scores\[0\] has 3 entries: expected one per detection \(4\)"):
        detection_counts(pairs, [scores[0][:3], scores[1]], 0.5)
    with pytest.raises(ValueError, match="thresholds=.*expected a non-empty sequence"):
        best_f1_threshold(pairs, scores, thresholds=[])
    with pytest.raises(ValueError, match=r"thresholds has 1 NaN or infinite value\(s\)"):
        best_f1_threshold(pairs, scores, thresholds=[0.5, np.nan])
    with pytest.raises(ValueError, match="iou_threshold=0"):
        agreement(boxes, labels, gt_boxes, gt_labels, iou_threshold=0)
    with pytest.raises(ValueError, match="image 0: 4 boxes with 3 labels"):
        agreement(boxes, [labels[0][:3], labels[1]], gt_boxes, gt_labels)


def test_mask_ap_counts_detections_on_an_image_without_objects_as_false_positives():
    # image 0: one object, its mask detected exactly (score 0.5); image 1: no object (gt_masks (0, H, W)), one
    # detection. Scoring 0.9, it comes first: a false positive at recall 0, then the hit at recall 1 with
    # precision 1/2, so the interpolated precision is 1/2 at every recall: AP = 0.5 at every IoU threshold.
    # Scoring 0.4, it comes after the hit: precision 1 up to recall 1, AP = 1. (This raised KeyError: 'height'.)
    mask = np.zeros((1, 16, 16), bool)
    mask[0, 2:8, 2:8] = True
    gt_boxes, gt_labels = [np.array([[2, 2, 8, 8]], np.float32), np.zeros((0, 4))], [np.array([1]), np.zeros(0, int)]
    boxes, labels = [np.array([[2, 2, 8, 8]], np.float32)] * 2, [np.array([1])] * 2
    gt_masks = [mask, np.zeros((0, 16, 16), bool)]
    for fp_score, expected in ((0.9, 0.5), (0.4, 1.0)):
        scores = [np.array([0.5]), np.array([fp_score])]
        segm = coco_map(gt_boxes, gt_labels, boxes, scores, labels, masks=[mask, mask], gt_masks=gt_masks)
        box = coco_map(gt_boxes, gt_labels, boxes, scores, labels)
        for out in (segm, box):
            assert out["map50"] == pytest.approx(expected) and out["map5095"] == pytest.approx(expected)
            assert out["ap50_per_class"] == {"class 1": pytest.approx(expected)}
    # without the detection on image 1, mask AP is 1: the false positive scoring 0.9 lowered it to 0.5
    alone = coco_map(gt_boxes, gt_labels, [boxes[0], np.zeros((0, 4))], [np.array([0.5]), np.zeros(0)],
                     [labels[0], np.zeros(0, int)], masks=[mask, np.zeros((0, 16, 16), bool)], gt_masks=gt_masks)
    assert alone["map50"] == pytest.approx(1.0) and alone["map5095"] == pytest.approx(1.0)
    coco = coco_ground_truth(gt_boxes, gt_labels, gt_masks=gt_masks)
    assert coco.imgs[1] == {"id": 1, "height": 16, "width": 16}
