import keras
import numpy as np
import pytest

from utils.detection.anchors import grid_anchors
from utils.detection.boxes import clip_boxes, decode_boxes
from utils.detection.nms import nms_reference
from utils.detection.rpn import propose, rpn_head, rpn_losses, rpn_targets, smooth_l1

ANCHORS = grid_anchors((8, 8), stride=16, sizes=(24, 48), aspect_ratios=(0.5, 1.0, 2.0))   # 8*8*6 = 384


def test_the_head_scores_every_anchor_in_grid_order():
    features = keras.Input((8, 8, 32))
    logits, deltas = rpn_head(features, anchors_per_location=6)
    assert tuple(logits.shape) == (None, len(ANCHORS)) and tuple(deltas.shape) == (None, len(ANCHORS), 4)
    with pytest.raises(ValueError, match="anchors_per_location=0"):
        rpn_head(features, 0)


def reference_proposals(logits, deltas, pre_n, post_n, iou, min_size):
    """The same steps for one image in plain NumPy, with the course's teaching NMS."""
    scores = 1 / (1 + np.exp(-logits))
    boxes = clip_boxes(decode_boxes(deltas, ANCHORS), 128, 128)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
    scores = np.where(keep, scores, 0.0)
    top = np.argsort(-scores, kind="stable")[:pre_n]
    top = top[scores[top] > 1e-6]
    kept = top[nms_reference(boxes[top], scores[top], iou)][:post_n]
    return boxes[kept], scores[kept]


def test_proposals_equal_decode_clip_filter_topk_nms_topk_by_hand():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (2, len(ANCHORS))).astype(np.float32)
    deltas = rng.normal(0, 0.5, (2, len(ANCHORS), 4)).astype(np.float32)
    out = propose(logits, deltas, ANCHORS, (128, 128), pre_nms_top_n=100, post_nms_top_n=20, nms_iou=0.7,
                  min_size=8.0)
    assert out["boxes"].shape == (2, 20, 4) and out["scores"].shape == (2, 20)
    for i in range(2):
        boxes, scores = reference_proposals(logits[i], deltas[i], 100, 20, 0.7, 8.0)
        n = int(out["valid"][i])
        assert n == len(boxes)
        np.testing.assert_allclose(out["boxes"][i, :n], boxes, atol=1e-3)
        np.testing.assert_allclose(out["scores"][i, :n], scores, atol=1e-5)
        assert np.all(out["boxes"][i, :n] >= 0) and np.all(out["boxes"][i, :n] <= 128)


def test_proposals_run_in_compiled_code():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    logits = tf.constant(rng.normal(size=(3, len(ANCHORS))), tf.float32)
    deltas = tf.constant(rng.normal(0, 0.3, (3, len(ANCHORS), 4)), tf.float32)
    compiled = tf.function(lambda z, d: propose(z, d, ANCHORS, (128, 128), pre_nms_top_n=50, post_nms_top_n=10))
    eager = propose(logits.numpy(), deltas.numpy(), ANCHORS, (128, 128), pre_nms_top_n=50, post_nms_top_n=10)
    out = compiled(logits, deltas)
    np.testing.assert_allclose(out["boxes"].numpy(), eager["boxes"], atol=1e-4)
    np.testing.assert_array_equal(out["valid"].numpy(), eager["valid"])


def test_targets_label_sample_and_encode():
    gt = np.array([[ANCHORS[100], [0, 0, 0, 0]]], np.float32)            # one object exactly on anchor 100, padding
    labels = np.array([[3, -1]])
    objectness, deltas = rpn_targets(ANCHORS[None], gt, labels, num_samples=64, positive_fraction=0.25, seed=0)
    assert objectness.shape == (1, len(ANCHORS)) and set(np.unique(objectness)) <= {-1, 0, 1}
    assert objectness[0, 100] == 1 and np.allclose(deltas[0, 100], 0, atol=1e-6)
    assert (objectness >= 0).sum() == 64 and (objectness == 1).sum() <= 16
    with pytest.raises(ValueError, match="num_samples=0"):
        rpn_targets(ANCHORS[None], gt, labels, num_samples=0)


def test_losses_by_hand_and_only_sampled_anchors_count():
    targets = np.array([[1, 0, -1, 1]])
    logits = np.array([[0.0, 0.0, 5.0, 2.0]], np.float32)
    delta_t = np.zeros((1, 4, 4), np.float32)
    deltas = np.zeros((1, 4, 4), np.float32)
    deltas[0, 3, 0], deltas[0, 2, 1] = 1.0, 7.0                           # anchor 2 is not sampled: no box loss
    obj, box = (float(v) for v in rpn_losses(targets, delta_t, logits, deltas))
    expected_bce = (np.log(2) + np.log(2) + np.log(1 + np.exp(-2.0))) / 3
    assert obj == pytest.approx(expected_bce, rel=1e-5)
    assert box == pytest.approx(float(smooth_l1(np.float32(1.0))) / 3, rel=1e-5)
    assert float(smooth_l1(np.float32(0.05))) == pytest.approx(0.5 * 0.05**2 * 9, rel=1e-5)
    with pytest.raises(ValueError, match="objectness_targets has shape"):
        rpn_losses(targets[:, :3], delta_t, logits, deltas)


def test_bad_proposal_arguments_are_named():
    logits, deltas = np.zeros((1, len(ANCHORS)), np.float32), np.zeros((1, len(ANCHORS), 4), np.float32)
    for kwargs, message in (({"pre_nms_top_n": 0}, "pre_nms_top_n=0"), ({"nms_iou": 0.0}, "nms_iou=0"),
                            ({"min_size": -1.0}, "min_size=-1")):
        with pytest.raises(ValueError, match=message):
            propose(logits, deltas, ANCHORS, (128, 128), **kwargs)
    with pytest.raises(ValueError, match=r"expected \(B, A\) and \(B, A, 4\)"):
        propose(logits[:, :10], deltas, ANCHORS, (128, 128))


def test_non_finite_logits_and_deltas_are_refused_where_their_values_are_known():
    logits, deltas = np.zeros((1, len(ANCHORS)), np.float32), np.zeros((1, len(ANCHORS), 4), np.float32)
    nan_logits = np.full_like(logits, np.nan)
    with pytest.raises(ValueError, match=r"logits has 384 NaN or infinite value\(s\): expected finite objectness"):
        propose(nan_logits, deltas, ANCHORS, (128, 128))                   # was: 0 proposals
    bad_deltas = deltas.copy()
    bad_deltas[0, 5, 2] = np.inf
    with pytest.raises(ValueError, match=r"deltas has 1 NaN or infinite value\(s\): expected finite box offsets"):
        propose(logits, keras.ops.convert_to_tensor(bad_deltas), ANCHORS, (128, 128))   # an eager tensor
    with pytest.raises(ValueError, match=r"logits has 1 NaN"):
        propose(keras.ops.convert_to_tensor(np.where(np.arange(len(ANCHORS)) == 7, np.nan, logits)), deltas,
                ANCHORS, (128, 128))
