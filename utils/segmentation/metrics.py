"""Evaluation metrics on hard masks and label maps (numpy, not differentiable): IoU, Dice, confusion matrix.

Binary masks: iou and dice threshold probabilities at `threshold` (p >= threshold is foreground, as
keras.metrics.BinaryIoU does) and pool every pixel of the arrays they are given; call them per image for per-image
scores. When both masks are empty they agree perfectly and the score is 1.0 (keras.metrics.IoU returns 0 there);
masks of no pixels at all, NaN and values outside [0, 1] are refused.

Label maps: the confusion matrix has the true class on rows and the predicted class on columns (as in Keras and
scikit-learn). A class absent from both maps has an undefined IoU or Dice, reported as NaN, and mean_iou averages the
classes that appear, which is what keras.metrics.MeanIoU does.
"""

from __future__ import annotations

import numpy as np

from utils.course.checks import class_labels, finite_in, not_empty, number_in, positive_int, whole_numbers


def _binary_mask(x: object, name: str, threshold: float) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} has dtype {arr.dtype}: expected a boolean mask or probabilities in [0, 1]")
    # A label map with classes 0, 1, 2 would otherwise be thresholded into a plausible but wrong mask.
    finite_in(arr, name, 0, 1, expected="a binary mask or probabilities in [0, 1] (use per_class_iou for label maps)")
    return arr >= threshold


def _binary_pair(y_true: object, y_pred: object, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    threshold = number_in(threshold, "threshold", 0, 1, low_open=True)
    true = _binary_mask(y_true, "y_true_mask", threshold)
    pred = _binary_mask(y_pred, "y_pred_mask", threshold)
    not_empty(true, "y_true_mask", note="expected at least one pixel (the score of no pixels is undefined)")
    if true.shape != pred.shape:
        raise ValueError(
            f"y_pred_mask has shape {pred.shape} but y_true_mask has {true.shape}: expected the same shape"
        )
    return true, pred


def iou(y_true_mask: np.ndarray, y_pred_mask: np.ndarray, threshold: float = 0.5) -> float:
    """|A ∩ B| / |A ∪ B| of two binary masks (probabilities are thresholded at >= threshold); 1.0 if both empty."""
    true, pred = _binary_pair(y_true_mask, y_pred_mask, threshold)
    union = np.count_nonzero(true | pred)
    return 1.0 if union == 0 else np.count_nonzero(true & pred) / union


def dice(y_true_mask: np.ndarray, y_pred_mask: np.ndarray, threshold: float = 0.5) -> float:
    """2|A ∩ B| / (|A| + |B|) of two binary masks (probabilities are thresholded at >= threshold); 1.0 if both empty."""
    true, pred = _binary_pair(y_true_mask, y_pred_mask, threshold)
    total = np.count_nonzero(true) + np.count_nonzero(pred)
    return 1.0 if total == 0 else 2.0 * np.count_nonzero(true & pred) / total


def _label_map(x: object, name: str, n_classes: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise TypeError(
            f"{name} has dtype {arr.dtype}: expected integer class labels (take argmax over the class axis first)"
        )
    return class_labels(arr, name, n_classes, note=f"n_classes={n_classes}")


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """(n_classes, n_classes) pixel counts, row = true class, column = predicted; pixels of ignore_index skipped."""
    n_classes = positive_int(n_classes, "n_classes")
    true = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if true.shape != pred.shape:
        raise ValueError(f"y_pred has shape {pred.shape} but y_true has {true.shape}: expected the same shape")
    if true.size == 0:
        raise ValueError(f"y_true has shape {true.shape}: expected at least one pixel")
    if ignore_index is not None:
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise ValueError(f"ignore_index={ignore_index!r}: expected an integer label or None")
        # Void pixels (PASCAL VOC's 255) are dropped before the range check, so they need not be < n_classes.
        keep = true != ignore_index
        true, pred = true[keep], pred[keep]
    true = _label_map(true, "y_true", n_classes)
    pred = _label_map(pred, "y_pred", n_classes)
    return np.bincount(true.ravel() * n_classes + pred.ravel(), minlength=n_classes**2).reshape(n_classes, n_classes)


def _check_confusion(cm: object) -> np.ndarray:
    arr = np.asarray(cm)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.size == 0 or arr.dtype.kind not in "iuf":
        raise ValueError(f"cm has shape {arr.shape} and dtype {arr.dtype}: expected a square matrix of counts >= 0")
    # A row-normalised matrix (fractions) would give IoUs that are not the pixels' IoUs.
    return whole_numbers(arr, "cm", 0, expected="pixel counts >= 0 (not a normalised matrix)").astype(np.float64)


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """IoU of each class, TP / (TP + FP + FN), from a confusion matrix (e.g. summed over a data set); NaN if absent."""
    arr = _check_confusion(cm)
    tp = np.diag(arr)
    denominator = arr.sum(axis=0) + arr.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, tp / denominator, np.nan)


def dice_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Dice of each class, 2TP / (2TP + FP + FN), from a confusion matrix; NaN for a class absent from both maps."""
    arr = _check_confusion(cm)
    tp = np.diag(arr)
    denominator = arr.sum(axis=0) + arr.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2.0 * tp / denominator, np.nan)


def per_class_iou(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """IoU of each class of two integer label maps, shape (n_classes,); NaN for a class absent from both."""
    return iou_from_confusion(confusion_matrix(y_true, y_pred, n_classes, ignore_index))


def per_class_dice(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """Dice of each class of two integer label maps, shape (n_classes,); NaN for a class absent from both."""
    return dice_from_confusion(confusion_matrix(y_true, y_pred, n_classes, ignore_index))


def mean_iou(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, ignore_index: int | None = None) -> float:
    """Mean IoU over the classes present in either map (as keras.metrics.MeanIoU); NaN if every pixel is ignored."""
    ious = per_class_iou(y_true, y_pred, n_classes, ignore_index)
    return float(np.nanmean(ious)) if np.isfinite(ious).any() else float("nan")
