import keras
import numpy as np
import pytest

from utils.detection.boxes import encode_boxes
from utils.detection.roi_heads import box_head, box_head_losses, detect, sample_proposals
from utils.detection.rpn import smooth_l1

GT = np.array([[[10, 10, 40, 40], [60, 60, 100, 90], [0, 0, 0, 0]]], np.float32)     # two objects and padding
LABELS = np.array([[2, 1, -1]])


def proposals(n=60, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (1, n, 2))
    wh = rng.uniform(8, 40, (1, n, 2))
    return np.concatenate([xy, xy + wh], axis=-1).astype(np.float32)


def test_sampling_adds_the_objects_and_keeps_the_foreground_fraction():
    boxes, labels, deltas = sample_proposals(proposals(), GT, LABELS, num_samples=32, positive_fraction=0.25, seed=0)
    assert boxes.shape == (1, 32, 4) and labels.shape == (1, 32) and deltas.shape == (1, 32, 4)
    assert 1 <= (labels > 0).sum() <= 8 and (labels >= 0).sum() == 32
    # the ground-truth boxes themselves are RoIs: each object is found, with zero offsets
    for box, label in zip(GT[0, :2], LABELS[0, :2]):
        hits = np.flatnonzero(np.all(np.isclose(boxes[0], box), axis=1))
        assert len(hits) and labels[0, hits[0]] == label and np.allclose(deltas[0, hits[0]], 0, atol=1e-6)
    fg = labels[0] > 0
    assert np.all(np.diff(fg.astype(int)) <= 0)                       # foreground rows come first


def test_padding_is_never_sampled_and_short_batches_mark_unused_rows():
    props = proposals(6)
    props[0, 3:] = 0.0                                                # rows 3.. are padding of rpn.propose
    boxes, labels, _ = sample_proposals(props, GT, LABELS, num_samples=8, positive_fraction=0.5, valid=[3], seed=1)
    used = labels[0] >= 0
    assert used.sum() == 5 and np.all(labels[0, ~used] == -1)           # 3 proposals + 2 objects, no padding
    assert not np.any(np.all(boxes[0, used] == 0, axis=1))


def test_the_box_head_and_its_losses_by_hand():
    pooled = keras.Input((None, 7, 7, 16))
    logits, deltas = box_head(pooled, num_classes=3, hidden=32)
    model = keras.Model(pooled, [logits, deltas])
    z, d = model.predict(np.zeros((2, 5, 7, 7, 16), np.float32), verbose=0)
    assert z.shape == (2, 5, 4) and d.shape == (2, 5, 3, 4)
    labels = np.array([[2, 0, -1]])
    logits_in = np.zeros((1, 3, 4), np.float32)
    deltas_in = np.zeros((1, 3, 3, 4), np.float32)
    deltas_in[0, 0, 1, 0] = 1.0                                        # class 2's offset of the foreground row
    deltas_in[0, 0, 0, 0] = 5.0                                        # another class's offset: never counted
    cls_loss, box_loss = (float(v) for v in box_head_losses(labels, np.zeros((1, 3, 4)), logits_in, deltas_in))
    assert cls_loss == pytest.approx(np.log(4.0), rel=1e-5)            # uniform over 4 classes, 2 used rows
    assert box_loss == pytest.approx(float(smooth_l1(np.float32(1.0))) / 2, rel=1e-5)
    with pytest.raises(ValueError, match=r"expected \(B, S\), \(B, S, C \+ 1\) and \(B, S, C, 4\)"):
        box_head_losses(labels, np.zeros((1, 3, 4)), logits_in[:, :2], deltas_in)


def test_detect_decodes_each_class_and_suppresses_duplicates():
    rois = np.array([[[10, 10, 40, 40], [11, 11, 41, 41], [60, 60, 100, 90]]], np.float32)
    target = np.array([12, 8, 44, 40], np.float32)
    deltas = np.zeros((1, 3, 2, 4), np.float32)
    deltas[0, 0, 1] = encode_boxes(target[None], rois[0, :1])[0]       # class 2 of RoI 0 moves onto target
    logits = np.array([[[0, 0, 5], [0, 0, 4], [0, 4.5, 0]]], np.float32)
    out = detect(rois, logits, deltas, (128, 128), score_threshold=0.5, nms_iou=0.5)
    n = int(out["valid"][0])
    assert n == 2                                                      # RoI 1 is suppressed by RoI 0 (class 2)
    np.testing.assert_allclose(out["boxes"][0, 0], target, atol=1e-3)
    assert out["labels"][0, :n].tolist() == [2, 1]
    with pytest.raises(ValueError, match="score_threshold=2"):
        detect(rois, logits, deltas, (128, 128), score_threshold=2)


def test_bad_sampling_inputs_are_named():
    with pytest.raises(ValueError, match="num_samples=0"):
        sample_proposals(proposals(), GT, LABELS, num_samples=0)
    with pytest.raises(ValueError, match=r"expected \(B, P, 4\) and \(B, M, 4\)"):
        sample_proposals(proposals()[0], GT, LABELS)
    with pytest.raises(ValueError, match="iou_threshold=0"):
        sample_proposals(proposals(), GT, LABELS, iou_threshold=0)
