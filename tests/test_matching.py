import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.anchors import grid_anchors
from utils.boxes import decode_boxes, iou_matrix
from utils.matching import IGNORE, NEGATIVE, anchor_targets, hard_negative_mask, match_anchors, sample_balanced

ANCHORS = np.array([[0, 0, 10, 10], [10, 0, 20, 10], [0, 10, 10, 20], [10, 10, 20, 20], [0, 0, 20, 20]], np.float32)


def test_matching_of_an_exact_case():
    gt = np.array([[0, 0, 10, 10],     # anchor 0 exactly (IoU 1), anchor 4 has 0.25
                   [11, 11, 19, 19],   # anchor 3 has 0.64: positive
                   [-1, -1, -1, -1]], np.float32)  # padding
    labels = np.array([2, 1, -1])
    m = match_anchors(ANCHORS, gt, labels, positive_iou=0.5, negative_iou=0.3)
    assert m.tolist() == [0, NEGATIVE, NEGATIVE, 1, NEGATIVE]
    m = match_anchors(ANCHORS, gt, labels, positive_iou=0.7, negative_iou=0.2)
    # anchor 3 (0.64) is between the thresholds but is object 1's best anchor, so it is kept; anchor 4 (0.25) ignored
    assert m.tolist() == [0, NEGATIVE, NEGATIVE, 1, IGNORE]
    m = match_anchors(ANCHORS, gt, labels, positive_iou=0.7, negative_iou=0.2, best_anchor_for_each_gt=False)
    assert m.tolist() == [0, NEGATIVE, NEGATIVE, IGNORE, IGNORE]


def test_targets_carry_labels_and_offsets_that_decode_to_the_matched_boxes():
    gt = np.array([[[0, 0, 10, 10], [11, 11, 19, 19]], [[2, 2, 18, 18], [-1, -1, -1, -1]]], np.float32)
    labels = np.array([[2, 1], [3, -1]])
    cls, deltas = anchor_targets(ANCHORS, gt, labels, 0.5, 0.3)
    assert cls.dtype == np.int32 and cls.shape == (2, 5) and deltas.shape == (2, 5, 4)
    assert cls[0].tolist() == [2, 0, 0, 1, 0] and cls[1].tolist() == [0, 0, 0, 0, 3]
    assert np.allclose(decode_boxes(deltas[0, [0, 3]], ANCHORS[[0, 3]]), gt[0], atol=1e-4)
    assert np.allclose(decode_boxes(deltas[1, 4], ANCHORS[4]), gt[1, 0], atol=1e-4)
    assert np.all(deltas[cls <= 0] == 0)


def test_an_image_without_objects_is_all_background():
    cls, deltas = anchor_targets(ANCHORS, np.full((3, 4), -1, np.float32), np.full(3, -1))
    assert cls.tolist() == [0] * 5 and not deltas.any()
    assert match_anchors(ANCHORS, np.zeros((0, 4), np.float32)).tolist() == [NEGATIVE] * 5


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_every_object_gets_its_best_anchor(seed):
    rng = np.random.default_rng(seed)
    anchors = grid_anchors((8, 8), 16, (24, 40), (1.0, 2.0, 0.5))
    n = int(rng.integers(1, 5))
    xy = rng.uniform(0, 100, (n, 2))
    gt = np.concatenate([xy, xy + rng.uniform(4, 40, (n, 2))], axis=1).astype(np.float32)
    m = match_anchors(anchors, gt, np.ones(n), positive_iou=0.7, negative_iou=0.3)
    iou = iou_matrix(anchors, gt)
    best = iou.argmax(axis=0)
    for j in range(n):
        shared = [k for k in range(n) if k != j and best[k] == best[j]]
        if not shared:
            assert m[best[j]] == j
    positive = m >= 0
    assert np.all(iou[positive, m[positive]] > 0)
    assert np.all(iou[m == NEGATIVE].max(axis=1, initial=0) < 0.3)


def test_balanced_sampling_caps_positives_and_fills_with_negatives():
    labels = np.array([[1] * 50 + [0] * 200 + [-1] * 10, [2] * 3 + [0] * 257])
    mask = sample_balanced(labels, 64, 0.25, seed=0)
    assert mask.dtype == bool and mask.shape == labels.shape
    assert (mask & (labels > 0)).sum(axis=1).tolist() == [16, 3]
    assert mask.sum(axis=1).tolist() == [64, 64]
    assert not (mask & (labels < 0)).any()
    assert np.array_equal(mask, sample_balanced(labels, 64, 0.25, seed=0))  # reproducible
    few = sample_balanced(np.array([1, 0, 0, -1]), 64, 0.5, seed=1)
    assert few.tolist() == [True, True, True, False]


def test_hard_negatives_are_the_highest_loss_background_anchors():
    labels = np.array([1, 0, 0, 0, 0, 0, -1, 2])
    losses = np.array([0.1, 0.5, 3.0, 0.2, 2.0, 1.0, 9.0, 0.3], np.float32)
    mask = hard_negative_mask(losses, labels, neg_pos_ratio=1.5)
    assert mask.tolist() == [True, False, True, False, True, True, False, True]  # 2 positives -> 3 negatives
    assert hard_negative_mask(losses[None], labels[None], 0.0, min_negatives=1)[0].tolist() == \
        [True, False, True, False, False, False, False, True]


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="negative_iou=0.8: expected a number in"):
        match_anchors(ANCHORS, ANCHORS, positive_iou=0.5, negative_iou=0.8)
    with pytest.raises(ValueError, match=r"anchors has shape \(1, 5, 4\): expected \(A, 4\)"):
        match_anchors(ANCHORS[None], ANCHORS)
    with pytest.raises(ValueError, match=r"gt_labels has shape \(4,\): expected \(5,\)"):
        anchor_targets(ANCHORS, ANCHORS, np.ones(4))
    with pytest.raises(ValueError, match="num_samples=0: expected a positive integer"):
        sample_balanced(np.zeros(4), 0)
