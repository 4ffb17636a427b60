import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from utils.segmentation.metrics import (
    confusion_matrix,
    dice,
    dice_from_confusion,
    iou,
    iou_from_confusion,
    mean_iou,
    per_class_dice,
    per_class_iou,
)

TRUE = np.array([[1, 1, 0], [0, 0, 0]], bool)
PROB = np.array([[0.9, 0.2, 0.5], [0.0, 0.1, 0.0]])  # thresholded at 0.5: [[1, 0, 1], [0, 0, 0]]


def keras_result(metric: keras.metrics.Metric, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    metric.update_state(y_true, y_pred)
    return float(metric.result())


def test_binary_hand_case_and_threshold():
    assert iou(TRUE, PROB) == pytest.approx(1 / 3)  # overlap 1, union 3
    assert dice(TRUE, PROB) == pytest.approx(2 * 1 / (2 + 2))
    assert iou(TRUE, PROB, threshold=0.9) == pytest.approx(1 / 2)  # only 0.9 is foreground
    assert iou(TRUE.astype(int), TRUE.astype(float)) == 1.0


def test_empty_masks_agree_perfectly():
    empty = np.zeros((4, 4))
    assert iou(empty, empty) == 1.0 and dice(empty, empty) == 1.0
    assert iou(empty, np.eye(4)) == 0.0 and dice(np.eye(4), empty) == 0.0


def test_binary_iou_matches_keras():
    rng = np.random.default_rng(0)
    y_true = (rng.random((3, 16, 16)) > 0.7).astype(np.int32)
    y_prob = rng.random((3, 16, 16))
    expected = keras_result(keras.metrics.IoU(num_classes=2, target_class_ids=[1]), y_true, (y_prob >= 0.5) * 1)
    assert iou(y_true, y_prob) == pytest.approx(expected, abs=1e-6)
    binary = keras_result(keras.metrics.BinaryIoU(target_class_ids=[1], threshold=0.3), y_true, y_prob)
    assert iou(y_true, y_prob, threshold=0.3) == pytest.approx(binary, abs=1e-6)


@given(arrays(bool, (5, 7)), arrays(bool, (5, 7)))
@settings(max_examples=50, deadline=None)
def test_dice_is_a_function_of_iou(a, b):
    j = iou(a, b)
    assert dice(a, b) == pytest.approx(2 * j / (1 + j))


def test_confusion_matrix_hand_case():
    y_true = np.array([[0, 0, 1], [2, 2, 2]])
    y_pred = np.array([[0, 1, 1], [2, 0, 2]])
    cm = confusion_matrix(y_true, y_pred, 4)
    expected = np.zeros((4, 4), int)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[2, 2], expected[2, 0] = 1, 1, 1, 2, 1
    np.testing.assert_array_equal(cm, expected)
    # class 0: TP 1, FP 1, FN 1; class 1: TP 1, FP 1; class 2: TP 2, FN 1; class 3 absent.
    np.testing.assert_allclose(per_class_iou(y_true, y_pred, 4), [1 / 3, 1 / 2, 2 / 3, np.nan])
    np.testing.assert_allclose(per_class_dice(y_true, y_pred, 4), [1 / 2, 2 / 3, 4 / 5, np.nan])
    assert mean_iou(y_true, y_pred, 4) == pytest.approx((1 / 3 + 1 / 2 + 2 / 3) / 3)
    np.testing.assert_allclose(iou_from_confusion(cm), per_class_iou(y_true, y_pred, 4))
    np.testing.assert_allclose(dice_from_confusion(cm), per_class_dice(y_true, y_pred, 4))


@pytest.mark.parametrize("seed", range(3))
def test_mean_iou_matches_keras_including_absent_classes(seed):
    rng = np.random.default_rng(seed)
    n_classes = 6
    # Classes 4 and 5 never occur, so they must not count in the mean, as in keras.metrics.MeanIoU.
    y_true = rng.integers(0, 4, (2, 12, 12))
    y_pred = np.where(rng.random(y_true.shape) < 0.6, y_true, rng.integers(0, 4, y_true.shape))
    expected = keras_result(keras.metrics.MeanIoU(num_classes=n_classes), y_true, y_pred)
    assert mean_iou(y_true, y_pred, n_classes) == pytest.approx(expected, abs=1e-6)
    assert np.isnan(per_class_iou(y_true, y_pred, n_classes)[4:]).all()


def test_ignore_index_matches_keras_ignore_class():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 3, (10, 10))
    y_true[:3] = 255  # PASCAL VOC's void border
    y_pred = rng.integers(0, 3, (10, 10))
    expected = keras_result(keras.metrics.MeanIoU(num_classes=3, ignore_class=255), y_true, y_pred)
    assert mean_iou(y_true, y_pred, 3, ignore_index=255) == pytest.approx(expected, abs=1e-6)
    assert confusion_matrix(y_true, y_pred, 3, ignore_index=255).sum() == 70
    assert np.isnan(mean_iou(np.full((2, 2), 255), np.zeros((2, 2), int), 3, ignore_index=255))


@pytest.mark.parametrize("call, error, match", [
    (lambda: iou(TRUE, PROB[:, :2]), ValueError, r"y_pred_mask has shape \(2, 2\) but y_true_mask has \(2, 3\)"),
    (lambda: iou(np.array([0, 1, 2]), np.array([0, 1, 1])), ValueError, r"y_true_mask has values in \[0, 2\]"),
    (lambda: dice(TRUE, PROB, threshold=0), ValueError, "threshold=0"),
    (lambda: iou(TRUE, PROB, threshold=1.5), ValueError, r"threshold=1.5: expected a number in \(0, 1\]"),
    (lambda: iou(TRUE, PROB, threshold=True), ValueError, "threshold=True"),
    (lambda: iou(TRUE, PROB, threshold=float("nan")), ValueError, "threshold=nan"),
    (lambda: dice(TRUE, PROB, threshold="0.5"), ValueError, "threshold='0.5'"),
    (lambda: dice(TRUE, TRUE.astype(str)), TypeError, "y_pred_mask has dtype <U"),
    (lambda: confusion_matrix([0, 1], [0, 1], 0), ValueError, "n_classes=0"),
    (lambda: confusion_matrix([0, 1], [0, 1], 2.0), ValueError, "n_classes=2.0"),
    (lambda: confusion_matrix([0, 1], [0, 1, 1], 2), ValueError, r"y_pred has shape \(3,\) but y_true has \(2,\)"),
    (lambda: confusion_matrix([0, 3], [0, 1], 3), ValueError, r"y_true has labels in \[0, 3\]"),
    (lambda: confusion_matrix([0, 1], [-1, 1], 3), ValueError, r"y_pred has labels in \[-1, 1\]"),
    (lambda: confusion_matrix([0.0, 1.0], [0, 1], 2), TypeError, "y_true has dtype float64"),
    (lambda: confusion_matrix([], [], 2), ValueError, "expected at least one pixel"),
    (lambda: mean_iou([0, 1], [0, 1], 2, ignore_index=0.5), ValueError, "ignore_index=0.5"),
    (lambda: iou_from_confusion(np.ones((2, 3))), ValueError, r"cm has shape \(2, 3\)"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
