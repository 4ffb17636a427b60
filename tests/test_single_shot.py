"""YOLO and SSD of notebook 11 (utils.detection.single_shot): targets, losses against NumPy references, decoding."""

import keras
import numpy as np
import pytest

from utils.data.scenes import Scenes, make_scenes
from utils.detection.boxes import iou_matrix
from utils.detection.single_shot import (
    LAMBDA_COORD,
    LAMBDA_NOOBJ,
    STRIDE,
    B,
    S,
    ssd_anchors,
    ssd_decode,
    ssd_loss,
    ssd_model,
    ssd_targets,
    yolo_base,
    yolo_decode,
    yolo_loss,
    yolo_model,
    yolo_targets,
)


def scenes_with(boxes: list[list[list[float]]], labels: list[list[int]]) -> Scenes:
    """Scenes of 128x128 black images holding the given boxes (no masks: targets need only boxes and labels)."""
    n = len(boxes)
    return Scenes(images=np.zeros((n, 128, 128, 3), np.float32), masks=np.zeros((n, 128, 128), np.int32),
                  instances=[np.zeros((len(b), 128, 128), bool) for b in boxes],
                  boxes=[np.array(b, np.float32).reshape(-1, 4) for b in boxes],
                  labels=[np.array(lab, np.int32) for lab in labels], class_names=("background", "a", "b", "c"))


def test_yolo_targets_put_each_object_at_its_centre_cell_and_closest_base_box():
    data = scenes_with([[[40, 8, 70, 36], [0, 0, 50, 44]]], [[2, 3]])
    y, slots = yolo_targets(data)
    # the first: centre (55, 22) -> column 3, row 1; 30x28 is closer to the 28-px base box
    np.testing.assert_allclose(y[0, 1, 3, 0], [1, 55 / STRIDE - 3, 22 / STRIDE - 1, np.log(30 / 28), 0, 1], rtol=1e-6)
    # the second: centre (25, 22) -> column 1, row 1; 50x44 is closer to the 46-px box
    np.testing.assert_allclose(y[0, 1, 1, 1], [1, 25 / STRIDE - 1, 22 / STRIDE - 1, np.log(50 / 46), np.log(44 / 46),
                                               2], rtol=1e-6)
    assert slots.tolist() == [[0, 1, 3, 0], [0, 1, 1, 1]] and y[..., 0].sum() == 2


def test_yolo_targets_keep_the_later_of_two_objects_in_one_slot():
    data = scenes_with([[[10, 10, 40, 40], [12, 12, 38, 38]]], [[1, 2]])
    y, slots = yolo_targets(data)
    assert len(slots) == 2 and y[..., 0].sum() == 1 and y[0, 1, 1, 0, 5] == 1    # class index of label 2


def yolo_loss_reference(y_true: np.ndarray, y_pred: np.ndarray, squared: bool) -> float:
    """The four terms of YOLO's loss written out in NumPy, image by image."""
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    boxes = y_pred[..., :5 * B].reshape(len(y_pred), S, S, B, 5)
    obj = y_true[..., 0]
    coord = ((sigmoid(boxes[..., 1:3]) - y_true[..., 1:3]) ** 2).sum(-1) + ((boxes[..., 3:5] - y_true[..., 3:5]) ** 2
                                                                           ).sum(-1)
    p = sigmoid(boxes[..., 0])
    conf = (p - obj) ** 2 if squared else -(obj * np.log(p) + (1 - obj) * np.log(1 - p))
    logits = y_pred[..., 5 * B:]
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cell_class = (y_true[..., 5] * obj).max(-1).astype(int)
    classes = -np.take_along_axis(log_softmax, cell_class[..., None], -1)[..., 0]
    per_image = (LAMBDA_COORD * (obj * coord).sum((1, 2, 3)) + (obj * conf).sum((1, 2, 3))
                 + LAMBDA_NOOBJ * ((1 - obj) * conf).sum((1, 2, 3)) + (obj.max(-1) * classes).sum((1, 2)))
    return float(per_image.mean())


@pytest.mark.parametrize("confidence", ["logistic", "squared"])
def test_yolo_loss_is_the_four_terms_of_the_paper(confidence):
    data = make_scenes(3, n_objects=(1, 4), object_size=(20, 48), seed=5)
    y_true, _ = yolo_targets(data)
    y_pred = np.random.default_rng(0).normal(size=(3, S, S, 5 * B + 3)).astype(np.float32)
    got = float(yolo_loss(confidence)(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred)))
    assert got == pytest.approx(yolo_loss_reference(y_true, y_pred, confidence == "squared"), rel=1e-4)


def test_yolo_decode_inverts_the_targets_of_a_box():
    data = scenes_with([[[40, 8, 70, 36]]], [[2]])
    y, _ = yolo_targets(data)
    raw = np.full((1, S, S, 5 * B + 3), -8.0, np.float32)
    t = y[0, 1, 3, 0]
    raw[0, 1, 3, :5] = [8.0, np.log(t[1] / (1 - t[1])), np.log(t[2] / (1 - t[2])), t[3], t[4]]
    raw[0, 1, 3, 5 * B + 1] = 8.0                                   # the cell says class index 1
    boxes, scores = (np.asarray(v) for v in yolo_decode(raw))
    best = scores.max(-1).argmax(-1)[0]
    np.testing.assert_allclose(boxes[0, best], [40, 8, 70, 36], atol=1e-3)
    assert scores[0, best].argmax() == 1 and scores.shape == (1, S * S * B, 3)
    np.testing.assert_allclose(yolo_base(), [[28, 28], [46, 46]])


def test_ssd_targets_match_as_ssd_does_without_an_ignore_band():
    data = make_scenes(20, n_objects=(1, 4), object_size=(20, 48), seed=3)
    y = ssd_targets(data, chunk=7)
    labels = y[..., 4]
    assert y.shape == (20, len(ssd_anchors()), 5) and labels.min() >= 0          # no ignored default box
    for i, boxes in enumerate(data.boxes):
        iou = iou_matrix(ssd_anchors(), boxes)
        assert np.all(labels[i][iou.max(axis=1) >= 0.5] > 0)                   # >= 0.5: an object's class
        assert np.all(labels[i][iou.argmax(axis=0)] > 0)                       # each object's best box too
        positive = (iou.max(axis=1) >= 0.5) | np.isin(np.arange(len(iou)), iou.argmax(axis=0))
        assert np.all(labels[i][~positive] == 0)                               # every other box: background


def ssd_loss_reference(y_true: np.ndarray, y_pred: np.ndarray, hard_negatives: bool) -> float:
    """SSD's loss in NumPy: per image the 3 x positives highest-loss negatives (or all), over the positives."""
    labels = y_true[..., 4].astype(int)
    logits = y_pred[..., 4:]
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -np.take_along_axis(log_softmax, labels[..., None], -1)[..., 0]
    kept = labels > 0
    for i in range(len(labels)):
        negatives = np.flatnonzero(labels[i] == 0)
        k = min(3 * int((labels[i] > 0).sum()), len(negatives)) if hard_negatives else len(negatives)
        kept[i, negatives[np.argsort(-ce[i, negatives])[:k]]] = True
    error = np.abs(y_true[..., :4] - y_pred[..., :4])
    smooth = np.where(error < 1, 0.5 * error**2, error - 0.5).sum(-1)
    return float(((kept * ce).sum() + ((labels > 0) * smooth).sum()) / max((labels > 0).sum(), 1))


@pytest.mark.parametrize("hard_negatives", [True, False])
def test_ssd_loss_mines_three_negatives_per_positive_or_keeps_them_all(hard_negatives):
    data = make_scenes(2, n_objects=(1, 4), object_size=(20, 48), seed=4)
    y_true = ssd_targets(data)
    y_pred = np.random.default_rng(1).normal(size=y_true.shape[:2] + (8,)).astype(np.float32)
    got = float(ssd_loss(hard_negatives)(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred)))
    assert got == pytest.approx(ssd_loss_reference(y_true, y_pred, hard_negatives), rel=1e-4)


def test_the_models_output_the_tensors_the_targets_and_decoders_expect():
    yolo, ssd80 = yolo_model(), ssd_model(num_classes=80)
    assert tuple(yolo.output.shape[1:]) == (S, S, 5 * B + 3) and yolo.count_params() == 173_245
    assert tuple(ssd80.output.shape[1:]) == (656, 85)
    boxes, scores = ssd_decode(np.zeros((2, 656, 8), np.float32))
    np.testing.assert_allclose(np.asarray(boxes)[0], ssd_anchors(), atol=1e-4)   # zero offsets: the default boxes
    assert tuple(scores.shape) == (2, 656, 3)


def test_bad_inputs_are_refused_by_name():
    with pytest.raises(ValueError, match="confidence"):
        yolo_loss("mse")
    with pytest.raises(ValueError, match="hard_negatives"):
        ssd_loss("yes")
    with pytest.raises(ValueError, match="neg_pos_ratio"):
        ssd_loss(True, 0.0)
    with pytest.raises(ValueError, match="num_classes"):
        ssd_model(num_classes=0)
    with pytest.raises(ValueError, match="num_classes"):
        yolo_model(num_classes=-1)
    with pytest.raises(ValueError, match="y_pred has shape"):
        yolo_decode(np.zeros((1, S, S, 5 * B), np.float32))             # no class score
    with pytest.raises(ValueError, match="expected 128x128"):
        yolo_targets(make_scenes(1, size=64, seed=0))
    with pytest.raises(ValueError, match="expected 128x128"):
        ssd_targets(make_scenes(1, size=64, seed=0))
    with pytest.raises(ValueError, match="chunk"):
        ssd_targets(make_scenes(1, seed=0), chunk=0)
