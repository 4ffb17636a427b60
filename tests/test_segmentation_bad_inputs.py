"""Bad input to utils.segmentation: a clear error naming the argument, never a silent wrong answer."""

import keras
import numpy as np
import pytest

from utils.segmentation.losses import (
    DiceCrossEntropyLoss,
    FgBgDiceLoss,
    SoftDiceLoss,
    WeightedCategoricalCrossentropy,
    dice_cross_entropy,
    fg_bg_dice,
    fg_bg_dice_loss,
    soft_dice,
    soft_dice_gradient_wrt_logits,
    soft_dice_loss,
    weighted_categorical_crossentropy,
)
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
from utils.segmentation.unet import feature_map_sizes, unet

MASK = np.array([[0, 1], [1, 1]], np.float32)
G = np.zeros((1, 4, 4, 1), np.float32)
P = np.full((1, 4, 4, 1), 0.5, np.float32)
LABELS = np.zeros((1, 4, 4), np.int32)
P3 = np.full((1, 4, 4, 3), 1 / 3, np.float32)
NAN = float("nan")


@pytest.mark.parametrize("call, match", [
    (lambda: iou(MASK, np.full((2, 2), NAN)), r"y_pred_mask has 4 NaN or infinite value\(s\): expected a binary mask"),
    (lambda: dice(MASK * 255, MASK), r"y_true_mask has values in \[0, 255\]: expected a binary mask or probabilities"),
    (lambda: iou(np.zeros(0), np.zeros(0)), "y_true_mask is empty: expected at least one pixel"),
    (lambda: dice(np.zeros((0, 4)), np.zeros((0, 4))), "y_true_mask is empty"),
])
def test_binary_metrics_refuse_nan_0_255_and_empty_masks(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("cm, match", [
    (np.array([[NAN, 1], [1, 1]]), r"cm has 1 NaN or infinite value\(s\): expected pixel counts >= 0"),
    (np.array([[np.inf, 1], [1, 1]]), "cm has 1 NaN or infinite"),
    (np.array([[0.5, 0.5], [0.25, 0.75]]), "cm has fractional values such as 0.5: expected pixel counts >= 0 "
                                           r"\(not a normalised matrix\)"),
    (np.array([[-1, 1], [1, 1]]), r"cm has values in \[-1, 1\]: expected pixel counts >= 0"),
    (np.zeros((0, 0)), r"cm has shape \(0, 0\) and dtype float64: expected a square matrix"),
])
def test_confusion_matrix_metrics_refuse_what_is_not_counts(cm, match):
    for fn in (iou_from_confusion, dice_from_confusion):
        with pytest.raises(ValueError, match=match):
            fn(cm)


def test_confusion_matrix_of_whole_float_counts_still_works():
    np.testing.assert_allclose(iou_from_confusion(np.array([[2.0, 0.0], [0.0, 1.0]])), [1.0, 1.0])


@pytest.mark.parametrize("fn", [confusion_matrix, per_class_iou, per_class_dice, mean_iou])
def test_label_map_metrics_name_labels_out_of_range(fn):
    with pytest.raises(ValueError, match=r"y_pred has labels in \[0, 5\]: expected labels in \[0, 2\] "
                                         r"\(n_classes=3\)"):
        fn(np.array([0, 1, 2]), np.array([0, 1, 5]), 3)
    with pytest.raises(ValueError, match="n_classes=-1: expected a positive integer"):
        fn(np.array([0]), np.array([0]), -1)


LOSS_FUNCTIONS = [soft_dice, soft_dice_loss, fg_bg_dice, fg_bg_dice_loss, dice_cross_entropy,
                  lambda g, p, **k: weighted_categorical_crossentropy(g, p, [1.0, 2.0], **k)]


@pytest.mark.parametrize("fn", LOSS_FUNCTIONS)
@pytest.mark.parametrize("y_pred, match", [
    (P * 255, r"y_pred has values in \[128, 128\]: expected probabilities in \[0, 1\] \(a sigmoid or softmax output"),
    (P - 1, r"y_pred has values in \[-0.5, -0.5\]: expected probabilities"),
    (np.full_like(P, NAN), r"y_pred has 16 NaN or infinite value\(s\): expected probabilities"),
])
def test_losses_refuse_what_is_not_probabilities(fn, y_pred, match):
    with pytest.raises(ValueError, match=match):
        fn(G, y_pred)


@pytest.mark.parametrize("fn", LOSS_FUNCTIONS)
def test_losses_refuse_targets_out_of_0_1_and_empty_batches(fn):
    with pytest.raises(ValueError, match=r"y_true has values in \[255, 255\]: expected a binary mask or a one-hot"):
        fn(G + 255, P)
    with pytest.raises(ValueError, match=r"y_pred has shape \(0, 4, 4, 1\): expected at least one image"):
        fn(G[:0], P[:0])


def test_losses_check_eager_tensors_too():
    with pytest.raises(ValueError, match="y_pred has values in"):
        SoftDiceLoss()(keras.ops.convert_to_tensor(G), keras.ops.convert_to_tensor(P * 255))


@pytest.mark.parametrize("labels, match", [
    (LABELS + 3, r"y_true has labels in \[3, 3\]: expected labels in \[0, 2\] \(integer labels of y_pred's 3"),
    (LABELS - 1, r"y_true has labels in \[-1, -1\]"),
    (LABELS + 1.5, "y_true has fractional values such as 1.5: expected integer labels in"),
])
def test_sparse_labels_outside_the_classes_are_refused(labels, match):
    # They used to become rows of zeros after one-hot encoding: a loss of a pixel that is no class.
    for fn in (soft_dice, dice_cross_entropy, lambda g, p: weighted_categorical_crossentropy(g, p, [1, 1, 1])):
        with pytest.raises(ValueError, match=match):
            fn(labels, P3)


@pytest.mark.parametrize("call, match", [
    (lambda: soft_dice(G, P, per_image="no"), "per_image='no': expected one of True, False"),
    (lambda: soft_dice_loss(G, P, exclude_background=1), "exclude_background=1: expected one of True, False"),
    (lambda: fg_bg_dice(G, P, per_image=None), "per_image=None"),
    (lambda: dice_cross_entropy(G, P, exclude_background="False"), "exclude_background='False'"),
    (lambda: SoftDiceLoss(per_image="yes"), "per_image='yes'"),
    (lambda: FgBgDiceLoss(per_image=0), "per_image=0"),
    (lambda: DiceCrossEntropyLoss(exclude_background="no"), "exclude_background='no'"),
    (lambda: WeightedCategoricalCrossentropy([1.0, float("inf")]), r"class_weights=\[1.0, inf\]"),
    (lambda: WeightedCategoricalCrossentropy([1.0, 2.0], spatial_dims=0), "spatial_dims=0"),
])
def test_loss_options_that_are_not_booleans_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("z, g, match", [
    (np.full((2, 2), NAN), np.zeros((2, 2)), r"z has 4 NaN or infinite value\(s\): expected finite logits"),
    (np.zeros((2, 2)), np.full((2, 2), 255.0), r"g has values in \[255, 255\]: expected a binary mask"),
    (np.zeros(0), np.zeros(0), "z is empty: expected at least one pixel"),
])
def test_closed_form_gradient_refuses_nan_0_255_and_empty(z, g, match):
    with pytest.raises(ValueError, match=match):
        soft_dice_gradient_wrt_logits(z, g)


@pytest.mark.parametrize("kwargs, match", [
    ({"input_shape": (31, 32, 3), "depth": 1}, "height 31 is not divisible by 2\\*\\*depth = 2; expected None or a "
                                               "positive multiple of 2 so that depth=1 poolings divide it"),
    ({"input_shape": (32, 32, 2.5)}, "expected a positive number of channels, got 2.5"),
    ({"input_shape": (32, 32.0, 3)}, "width 32.0 is not divisible"),
    ({"input_shape": 32}, "input_shape=32: expected \\(height, width, channels\\)"),
    ({"depth": 2.0}, "depth=2.0: expected a positive integer"),
])
def test_unet_refuses_sizes_its_poolings_do_not_divide(kwargs, match):
    with pytest.raises(ValueError, match=match):
        unet(**kwargs)


def test_unet_takes_numpy_integer_sizes():
    model = unet((np.int64(16), np.int64(16), np.int64(1)), depth=2, filters=2)
    assert tuple(model.output.shape) == (None, 16, 16, 2)
    with pytest.raises(ValueError, match="model='x': expected a keras.Model built by utils.unet.unet"):
        feature_map_sizes("x")
