import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.detection.anchors import grid_anchors
from utils.detection.boxes import decode_boxes, iou_matrix
from utils.detection.matching import IGNORE, NEGATIVE, anchor_targets, match_anchors, match_iou
from utils.detection.sampling import hard_negative_mask, sample_balanced

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


# --- match_iou: the matching algorithm on an IoU matrix -------------------------------------------

def codes(iou, **kwargs):
    return match_iou(np.asarray(iou, np.float32), **kwargs).tolist()


def test_match_iou_thresholds_and_the_ignore_band():
    iou = [[0.9, 0.1],    # >= 0.5: matched to object 0
           [0.45, 0.2],   # between 0.4 and 0.5: ignored
           [0.3, 0.35],   # < 0.4: background
           [0.0, 0.6]]    # object 1
    assert codes(iou, best_anchor_for_each_gt=False) == [0, IGNORE, NEGATIVE, 1]
    # the ends: positive_iou itself is a match, negative_iou itself is ignored, below it is background
    assert codes([[0.5], [0.4], [0.39]], best_anchor_for_each_gt=False) == [0, IGNORE, NEGATIVE]
    # negative_iou == positive_iou leaves no ignore band
    assert codes([[0.5], [0.45]], positive_iou=0.5, negative_iou=0.5, best_anchor_for_each_gt=False) == \
        [0, NEGATIVE]


def test_match_iou_gives_every_object_its_best_anchor():
    iou = [[0.3, 0.0], [0.2, 0.1], [0.0, 0.05]]  # nothing reaches 0.4
    assert codes(iou, best_anchor_for_each_gt=False) == [NEGATIVE] * 3
    assert codes(iou) == [0, 1, NEGATIVE]
    # a forced anchor can take an anchor that was matched to another object by threshold
    assert codes([[0.6, 0.55], [0.7, 0.0]], best_anchor_for_each_gt=False) == [0, 0]
    assert codes([[0.6, 0.55], [0.7, 0.0]]) == [1, 0]


def test_match_iou_ties_and_shared_best_anchors():
    assert codes([[0.3, 0.0], [0.3, 0.0], [0.1, 0.0]]) == [0, 0, NEGATIVE]  # both tied anchors are object 0's
    # anchor 0 is the best of both objects: the one with the higher IoU (object 0) takes it
    assert codes([[0.3, 0.2], [0.1, 0.0]]) == [0, NEGATIVE]
    assert codes([[0.2, 0.3], [0.0, 0.1]]) == [1, NEGATIVE]
    assert codes([[0.3, 0.3]]) == [0]  # a tie between objects: the first
    assert codes([[0.0, 0.0], [0.0, 0.0]]) == [NEGATIVE, NEGATIVE]  # IoU 0 forces nothing


def test_match_iou_never_matches_padding():
    iou = [[0.9, 0.7], [0.1, 0.6]]
    assert codes(iou) == [0, 1]
    assert codes(iou, valid=np.array([False, True])) == [1, 1]
    assert codes([[0.0, 0.9]], valid=np.array([True, False])) == [NEGATIVE]
    assert codes([[0.9, 0.9]], valid=np.array([False, False])) == [NEGATIVE]


def test_match_iou_without_objects_or_anchors():
    assert codes(np.zeros((3, 0))) == [NEGATIVE] * 3
    out = match_iou(np.zeros((2, 3, 0), np.float32), valid=np.zeros((2, 0), bool))
    assert out.dtype == np.int32 and out.shape == (2, 3) and (out == NEGATIVE).all()
    assert match_iou(np.zeros((0, 2), np.float32)).shape == (0,)


def random_boxes(rng, shape, low=0.0, high=100.0):
    xy = rng.uniform(low, high, shape + (2,))
    return np.concatenate([xy, xy + rng.uniform(4, 40, shape + (2,))], axis=-1).astype(np.float32)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_batched_match_iou_is_the_loop_over_images(seed):
    rng = np.random.default_rng(seed)
    b, p, m = int(rng.integers(1, 4)), int(rng.integers(1, 30)), int(rng.integers(1, 5))
    iou = iou_matrix(random_boxes(rng, (b, p)), random_boxes(rng, (b, m)))  # (B, P, M)
    valid = rng.random((b, m)) < 0.7
    for best in (True, False):
        batched = match_iou(iou, 0.5, 0.3, best, valid)
        assert batched.shape == (b, p) and batched.dtype == np.int32
        for i in range(b):
            assert batched[i].tolist() == match_iou(iou[i], 0.5, 0.3, best, valid[i]).tolist()


def padded_gt(rng, b, m):
    gt = random_boxes(rng, (b, m))
    labels = rng.integers(1, 4, (b, m)).astype(np.int32)
    pad = rng.random((b, m)) < 0.3
    gt[pad], labels[pad] = -1.0, -1
    return gt, labels


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_match_anchors_with_per_image_proposals_is_the_loop_over_images(seed):
    rng = np.random.default_rng(seed)
    b, p, m = int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(1, 5))
    proposals = random_boxes(rng, (b, p))
    gt, labels = padded_gt(rng, b, m)
    batched = match_anchors(proposals, gt, labels, 0.5, 0.4)
    cls, deltas = anchor_targets(proposals, gt, labels, 0.5, 0.4)
    assert batched.shape == cls.shape == (b, p) and deltas.shape == (b, p, 4)
    for i in range(b):
        assert batched[i].tolist() == match_anchors(proposals[i], gt[i], labels[i], 0.5, 0.4).tolist()
        one_cls, one_deltas = anchor_targets(proposals[i], gt[i], labels[i], 0.5, 0.4)
        assert cls[i].tolist() == one_cls.tolist() and np.allclose(deltas[i], one_deltas, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_match_anchors_is_match_iou_of_the_iou_matrix(seed):
    rng = np.random.default_rng(seed)
    anchors = grid_anchors((6, 6), 16, (24, 40), (1.0, 2.0))
    gt, labels = padded_gt(rng, 3, 4)
    valid = labels >= 0
    for best in (True, False):
        expected = match_iou(iou_matrix(anchors, gt), 0.6, 0.3, best, valid)
        assert np.array_equal(match_anchors(anchors, gt, labels, 0.6, 0.3, best), expected)


def test_matching_runs_on_tensors_and_in_compiled_code():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    proposals, (gt, labels) = random_boxes(rng, (2, 20)), padded_gt(rng, 2, 3)
    expected = match_anchors(proposals, gt, labels)
    spec = [tf.TensorSpec((None, 20, 4)), tf.TensorSpec((None, 3, 4)), tf.TensorSpec((None, 3), tf.int32)]
    compiled = tf.function(lambda a, g, lab: match_anchors(a, g, lab), input_signature=spec)
    out = compiled(tf.constant(proposals), tf.constant(gt), tf.constant(labels))
    assert not isinstance(out, np.ndarray) and np.array_equal(out.numpy(), expected)
    iou = tf.constant(iou_matrix(proposals, gt))
    assert np.array_equal(match_iou(iou, valid=tf.constant(labels >= 0)).numpy(), expected)


@pytest.mark.parametrize("call, match", [
    (lambda: match_iou(np.zeros(3)), r"iou has shape \(3,\): expected \(A, M\) or \(\.\.\., A, M\)"),
    (lambda: match_iou(np.zeros((2, 3, 4)), valid=np.ones((2, 3), bool)),
     r"valid has shape \(2, 3\) and dtype bool: expected a bool mask of shape \(2, 4\)"),
    (lambda: match_iou(np.zeros((3, 4)), valid=np.ones(4, np.int32)), "valid has shape .* and dtype int32"),
    (lambda: match_iou(np.full((2, 2), 1.5)), r"iou has values in \[1.5, 1.5\]: expected IoUs in \[0, 1\]"),
    (lambda: match_iou(np.array([[0.5, np.nan]])), r"iou has values in .* and NaN: expected IoUs in \[0, 1\]"),
    (lambda: match_iou(np.zeros((2, 2)), positive_iou=0), r"positive_iou=0: expected a number in \(0, 1\]"),
    (lambda: match_iou(np.zeros((2, 2)), positive_iou=1.5), r"positive_iou=1.5: expected a number in \(0, 1\]"),
    (lambda: match_iou(np.zeros((2, 2)), positive_iou=True), "positive_iou=True"),
    (lambda: match_iou(np.zeros((2, 2)), negative_iou=-0.1), r"negative_iou=-0.1: expected a number in \[0, 0.5\]"),
    (lambda: match_iou(np.zeros((2, 2)), 0.5, 0.6), r"negative_iou=0.6: .*\[0, 0.5\] \(at most positive_iou\)"),
    (lambda: match_iou(np.zeros((2, 2)), negative_iou=float("nan")), "negative_iou=nan"),
    (lambda: match_iou(np.zeros((2, 2)), best_anchor_for_each_gt="yes"), "best_anchor_for_each_gt='yes'"),
    (lambda: match_anchors(np.zeros((2, 5, 4)), np.zeros((3, 2, 4))),
     r"anchors has shape \(2, 5, 4\): expected \(A, 4\), or \(\.\.\., A, 4\) .* gt_boxes, which has shape \(3, 2, 4\)"),
    (lambda: match_anchors(np.zeros((2, 5, 4)), np.zeros((2, 4))), r"anchors has shape \(2, 5, 4\)"),
    (lambda: match_anchors(np.zeros(4), np.zeros((2, 4))), r"anchors has shape \(4,\)"),
    (lambda: match_anchors(np.zeros((5, 4)), np.zeros(4)), r"gt_boxes has shape \(4,\): expected \(M, 4\)"),
    (lambda: match_anchors(np.zeros((5, 3)), np.zeros((2, 4))), r"anchors has shape \(5, 3\): expected \(\.\.\., 4\)"),
    (lambda: match_anchors(np.zeros((2, 5, 4)), np.zeros((2, 3, 4)), np.ones((3, 2))),
     r"gt_labels has shape \(3, 2\): expected \(2, 3\)"),
    (lambda: anchor_targets(ANCHORS, ANCHORS, None), "gt_labels=None: expected"),
])
def test_bad_matching_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: sample_balanced(np.zeros(4), True), "num_samples=True: expected a positive integer"),
    (lambda: sample_balanced(np.zeros(4), 8, 1.5), r"positive_fraction=1.5: expected a number in \[0, 1\]"),
    (lambda: sample_balanced(np.zeros(4), 8, float("nan")), "positive_fraction=nan"),
    (lambda: hard_negative_mask(np.zeros(4), np.zeros(4), -1), r"neg_pos_ratio=-1: expected a finite number in \[0"),
    (lambda: hard_negative_mask(np.zeros(4), np.zeros(4), float("inf")), "neg_pos_ratio=inf"),
    (lambda: hard_negative_mask(np.zeros(4), np.zeros(4), 3, -1), "min_negatives=-1: expected a non-negative integer"),
    (lambda: hard_negative_mask(np.zeros(4), np.zeros(4), 3, 1.5), "min_negatives=1.5"),
    (lambda: hard_negative_mask(np.zeros(4), np.zeros(5)), r"losses has shape \(4,\) and labels \(5,\)"),
])
def test_bad_sampling_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_sampling_gives_numpy_for_lists_and_tensors_for_tensors():
    import keras

    assert isinstance(sample_balanced([1, 0, 0, -1], 2, seed=0), np.ndarray)
    out = hard_negative_mask(keras.ops.zeros(4), keras.ops.convert_to_tensor([1, 0, 0, -1]))
    assert not isinstance(out, np.ndarray) and keras.ops.convert_to_numpy(out).tolist() == [True, True, True, False]


def test_a_real_ground_truth_box_with_swapped_corners_is_refused_not_taken_for_padding():
    import keras

    swapped = np.array([[10, 0, 0, 10]], np.float32)                      # x2 < x1, label 1: an object
    message = (r"gt_boxes has 1 box\(es\) with x2 < x1 or y2 < y1, the first \[10.0, 0.0, 0.0, 10.0\]: expected "
               r"finite \(x1, y1, x2, y2\) with x2 >= x1 and y2 >= y1 \(a padding row has label -1 or a box of zero")
    for labels in (np.array([1]), None):
        with pytest.raises(ValueError, match=message):
            match_anchors(ANCHORS, swapped, labels)
    with pytest.raises(ValueError, match=message):
        match_anchors(ANCHORS, keras.ops.convert_to_tensor(swapped[None]), keras.ops.convert_to_tensor([[1]]))
    with pytest.raises(ValueError, match=r"gt_boxes has 1 box\(es\) with NaN or inf"):
        anchor_targets(ANCHORS, np.array([[0, 0, np.nan, 10]], np.float32), np.array([1]))
    # padding by the convention is still padding, whatever its corners: label -1, or a box of zero area
    gt = np.array([[0, 0, 10, 10], [10, 0, 0, 10], [5, 5, 5, 5]], np.float32)
    assert match_anchors(ANCHORS, gt, np.array([2, -1, 3])).tolist() == [0, NEGATIVE, NEGATIVE, NEGATIVE, NEGATIVE]
    assert match_anchors(ANCHORS, gt[[0, 2]]).tolist() == [0, NEGATIVE, NEGATIVE, NEGATIVE, NEGATIVE]


def test_an_object_labelled_background_is_refused():
    import keras

    gt = np.array([[[0, 0, 10, 10]], [[11, 11, 19, 19]]], np.float32)
    with pytest.raises(ValueError, match=r"gt_labels\[0\]=0 labels the box \[0.0, 0.0, 10.0, 10.0\]: expected labels "
                                         r">= 1 for objects \(0 is background\), -1 for a padding row"):
        anchor_targets(ANCHORS, gt[0], np.array([0]))                    # was: a positive anchor of class 0
    with pytest.raises(ValueError, match=r"gt_labels\[1, 0\]=0 labels the box \[11.0, 11.0, 19.0, 19.0\]"):
        anchor_targets(ANCHORS, keras.ops.convert_to_tensor(gt), keras.ops.convert_to_tensor([[2], [0]]))
    # a padding row may hold any label: label 0 on a box of zero area is padding, as is label -1
    gt = np.array([[0, 0, 10, 10], [3, 3, 3, 3], [-1, -1, -1, -1]], np.float32)
    cls, _ = anchor_targets(ANCHORS, gt, np.array([2, 0, -1]))
    assert cls.tolist() == [2, 0, 0, 0, 0]


def test_targets_with_a_swapped_padding_row_among_the_anchors_are_unchanged():
    # roi_heads.sample_proposals adds the ground truth, padding rows included, to the proposals: a padding
    # row with swapped corners becomes an anchor, and must not reach encode_boxes' check
    gt = np.array([[0, 0, 10, 10], [11, 11, 19, 19], [10, 0, 0, 10]], np.float32)
    labels = np.array([2, 1, -1])
    rois = np.concatenate([ANCHORS, gt])
    cls, deltas = anchor_targets(rois, gt, labels, 0.5, 0.3)
    assert cls.tolist() == [2, 0, 0, 1, 0, 2, 1, 0]
    expected_cls, expected_deltas = anchor_targets(rois[:-1], gt, labels, 0.5, 0.3)
    assert cls[:-1].tolist() == expected_cls.tolist() and np.allclose(deltas[:-1], expected_deltas)
    assert not deltas[-1].any()
