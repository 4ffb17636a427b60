import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.detection.boxes import iou_matrix
from utils.detection.nms import batched_nms, combined_nms, nms, nms_reference, unpad


def random_boxes(seed: int, n: int):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 60, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(2, 30, (n, 2))], axis=1).astype(np.float32)
    return boxes, rng.random(n).astype(np.float32), rng.integers(1, 4, n)


def test_nms_of_an_exact_case():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 5], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    # box 1 overlaps box 0 with IoU 9/11 > 0.5; box 2 with 0.5 exactly, which is not above the threshold
    assert nms_reference(boxes, scores, 0.5).tolist() == [0, 2, 3]
    assert nms(boxes, scores, 0.5).tolist() == [0, 2, 3]
    assert nms_reference(boxes, scores, 0.4).tolist() == [0, 3]
    assert nms_reference(np.zeros((0, 4)), np.zeros(0)).tolist() == []


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 40), st.sampled_from([0.3, 0.5, 0.7]))
def test_nms_properties_and_agreement_with_tensorflow(seed, n, threshold):
    boxes, scores, _ = random_boxes(seed, n)
    keep = nms_reference(boxes, scores, threshold)
    assert np.array_equal(keep, nms(boxes, scores, threshold))           # the same as tf.image
    assert set(keep.tolist()) <= set(range(n)) and len(set(keep.tolist())) == len(keep)  # a subset
    assert np.all(np.diff(scores[keep]) <= 0)                              # sorted by score
    iou = iou_matrix(boxes[keep], boxes[keep])
    assert np.all(iou[~np.eye(len(keep), dtype=bool)] <= threshold + 1e-6)  # no kept pair above the threshold
    dropped = np.setdiff1d(np.arange(n), keep)
    if len(dropped):  # every dropped box overlaps a kept box of higher score
        over = iou_matrix(boxes[dropped], boxes[keep]) > threshold - 1e-6
        higher = scores[keep][None, :] >= scores[dropped][:, None]
        assert np.all((over & higher).any(axis=1))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 40))
def test_per_class_nms_equals_nms_class_by_class_and_combined_nms(seed, n):
    boxes, scores, labels = random_boxes(seed, n)
    keep = batched_nms(boxes, scores, labels, 0.5)
    expected = np.concatenate([np.flatnonzero(labels == c)[nms_reference(boxes[labels == c], scores[labels == c])]
                               for c in (1, 2, 3)])
    assert sorted(keep.tolist()) == sorted(expected.tolist())
    assert np.all(np.diff(scores[keep]) <= 0)
    one_hot = np.eye(3, dtype=np.float32)[labels - 1] * scores[:, None]
    out = combined_nms(boxes[None], one_hot[None], max_per_class=50, max_total=50, iou_threshold=0.5,
                       score_threshold=1e-6)
    b, s, lab = (x[0] for x in unpad(out))
    assert out["valid"][0] == len(keep) and np.all(out["labels"][0, len(keep):] == -1)
    assert np.allclose(b, boxes[keep]) and np.allclose(s, scores[keep]) and np.array_equal(lab, labels[keep])


def test_combined_nms_keeps_pixel_boxes_unclipped_and_runs_in_a_compiled_function():
    import tensorflow as tf

    boxes = np.array([[[10, 10, 50, 50], [12, 10, 52, 50], [60, 60, 120, 100]]], np.float32)
    scores = np.array([[[0.9, 0.1], [0.8, 0.0], [0.2, 0.7]]], np.float32)
    out = combined_nms(boxes, scores, iou_threshold=0.5, score_threshold=0.05, max_total=5)
    # class 1 keeps box 0 (box 1 overlaps it) and box 2; class 2 keeps box 2 and box 0; box 1 (0.0) is below 0.05
    assert out["valid"].tolist() == [4]
    assert out["labels"][0].tolist() == [1, 2, 1, 2, -1] and np.allclose(out["scores"][0, :4], [0.9, 0.7, 0.2, 0.1])
    assert np.allclose(out["boxes"][0, :4], boxes[0, [0, 2, 2, 0]])
    compiled = tf.function(lambda b, s: combined_nms(b, s, iou_threshold=0.5, score_threshold=0.05, max_total=5))
    assert np.allclose(compiled(tf.constant(boxes), tf.constant(scores))["boxes"].numpy(), out["boxes"])


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match=r"scores has shape \(2,\): expected \(3,\)"):
        nms_reference(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="iou_threshold=1.5: expected a number in"):
        nms(np.zeros((3, 4)), np.zeros(3), 1.5)
    with pytest.raises(ValueError, match=r"labels has shape \(2,\): expected \(3,\)"):
        batched_nms(np.zeros((3, 4)), np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="expected \\(B, A, 4\\) or"):
        combined_nms(np.zeros((3, 4), np.float32), np.zeros((1, 3, 2), np.float32))
    with pytest.raises(ValueError, match=r"boxes has shape \(1, 3, 4\) and scores \(1, 2, 2\)"):
        combined_nms(np.zeros((1, 3, 4)).tolist(), np.zeros((1, 2, 2)).tolist())
    for bad in (True, float("nan"), -0.1, "0.5"):
        with pytest.raises(ValueError, match=r"iou_threshold=.*: expected a number in \[0, 1\]"):
            nms_reference(np.zeros((3, 4)), np.zeros(3), bad)
        with pytest.raises(ValueError, match="iou_threshold="):
            combined_nms(np.zeros((1, 3, 4)), np.zeros((1, 3, 2)), iou_threshold=bad)


def test_combined_nms_gives_numpy_for_lists_too():
    out = combined_nms(np.zeros((1, 3, 4)).tolist(), np.zeros((1, 3, 2)).tolist(), score_threshold=-1.0)
    assert all(isinstance(v, np.ndarray) for v in out.values())


def test_non_finite_scores_and_boxes_are_refused_not_dropped():
    import keras
    import tensorflow as tf

    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    for scores in (np.array([np.nan, 0.5], np.float32), np.array([0.9, -np.inf], np.float32)):
        for call in (nms, nms_reference):
            with pytest.raises(ValueError, match=r"scores has 1 NaN or infinite value\(s\): expected finite scores"):
                call(boxes, scores)                                        # nms dropped the NaN box
        with pytest.raises(ValueError, match=r"scores has 1 NaN or infinite value\(s\)"):
            batched_nms(boxes, scores, np.array([1, 2]))
        with pytest.raises(ValueError, match=r"scores has 1 NaN or infinite value\(s\)"):
            combined_nms(boxes[None], scores[None, :, None])
    bad = np.array([[0, 0, 10, 10], [20, np.nan, 30, 30]], np.float32)
    for call in (lambda: nms(bad, np.ones(2)), lambda: nms_reference(bad, np.ones(2)),
                 lambda: batched_nms(bad, np.ones(2), np.array([1, 2])),
                 lambda: combined_nms(keras.ops.convert_to_tensor(bad[None]), np.ones((1, 2, 1), np.float32))):
        with pytest.raises(ValueError, match=r"boxes has 1 NaN or infinite value\(s\): expected finite \(x1, y1, x2"):
            call()
    # inside compiled code the values are unknown: not checked
    compiled = tf.function(lambda b, s: combined_nms(b, s, score_threshold=0.1)["valid"])
    assert compiled(tf.constant(boxes[None]), tf.constant([[[0.9], [0.8]]])).numpy().tolist() == [2]
