import keras
import numpy as np
import pytest

from utils.detection.mask_head import mask_head, mask_loss, mask_targets, paste_masks


def disk_scene():
    """One image 48x48: a square object (label 1) and a disk (label 2) with their boxes and instance masks."""
    masks = np.zeros((1, 2, 48, 48), np.float32)
    masks[0, 0, 8:24, 8:24] = 1.0
    yy, xx = np.mgrid[:48, :48]
    masks[0, 1] = ((yy - 32.5) ** 2 + (xx - 32.5) ** 2 <= 10**2).astype(np.float32)
    boxes = np.array([[[8, 8, 24, 24], [23, 23, 43, 43]]], np.float32)
    return boxes, np.array([[1, 2]]), masks


def test_targets_crop_each_instance_to_its_roi():
    gt_boxes, gt_labels, gt_masks = disk_scene()
    rois = np.array([[[8, 8, 24, 24], [23, 23, 43, 43], [8, 8, 16, 24], [0, 30, 10, 40]]], np.float32)
    labels = np.array([[1, 2, 1, 0]])
    t = mask_targets(rois, labels, gt_boxes, gt_labels, gt_masks, size=14)
    assert t.shape == (1, 4, 14, 14)
    assert np.all(t[0, 0] == 1)                                   # the square fills its own box
    assert t[0, 1, 7, 7] == 1 and t[0, 1, 0, 0] == 0              # the disk: inside at the centre, not at a corner
    assert np.all(t[0, 2] == 1)                                   # the left half of the square is all square
    assert np.all(t[0, 3] == 0)                                   # background RoI: no target


def test_pasting_the_targets_back_recovers_the_instances():
    gt_boxes, gt_labels, gt_masks = disk_scene()
    t = mask_targets(gt_boxes, gt_labels, gt_boxes, gt_labels, gt_masks, size=28)
    pasted = paste_masks(t[0], gt_boxes[0], (48, 48))
    for k in range(2):
        truth = gt_masks[0, k] > 0
        iou = (pasted[k] & truth).sum() / (pasted[k] | truth).sum()
        assert iou > 0.9, (k, iou)
    clipped = paste_masks(np.ones((1, 4, 4)), np.array([[40, 40, 60, 60]]), (48, 48))   # a box past the border
    assert clipped[0, 40:, 40:].all() and clipped.sum() == 8 * 8


def test_the_head_and_the_loss_by_hand():
    pooled = keras.Input((None, 7, 7, 16))
    model = keras.Model(pooled, mask_head(pooled, num_classes=3, channels=8))
    assert model.predict(np.zeros((2, 4, 7, 7, 16), np.float32), verbose=0).shape == (2, 4, 14, 14, 3)
    labels = np.array([[2, 0]])
    targets = np.zeros((1, 2, 4, 4), np.float32)
    logits = np.zeros((1, 2, 4, 4, 3), np.float32)
    logits[..., 0] = logits[..., 2] = 50.0                        # other classes' maps: never counted
    assert float(mask_loss(labels, targets, logits)) == pytest.approx(np.log(2.0), rel=1e-5)
    assert float(mask_loss(np.array([[0, -1]]), targets, logits)) == 0.0     # no foreground: no loss
    with pytest.raises(ValueError, match=r"expected \(B, S\), \(B, S, m, m\) and \(B, S, m, m, C\)"):
        mask_loss(labels, targets[:, :, :2], logits)


def test_bad_inputs_are_named():
    gt_boxes, gt_labels, gt_masks = disk_scene()
    with pytest.raises(ValueError, match=r"gt_masks has shape \(2, 48, 48\)"):
        mask_targets(gt_boxes, gt_labels, gt_boxes, gt_labels, gt_masks[0])
    with pytest.raises(ValueError, match="size=0"):
        mask_targets(gt_boxes, gt_labels, gt_boxes, gt_labels, gt_masks, size=0)
    with pytest.raises(ValueError, match=r"gt_masks has shape \(1, 1, 48, 48\) and gt_boxes \(1, 2, 4\)"):
        mask_targets(gt_boxes, gt_labels, gt_boxes, gt_labels, gt_masks[:, :1])
    with pytest.raises(ValueError, match=r"expected \(N, m, m\) and \(N, 4\)"):
        paste_masks(np.ones((2, 4, 4)), np.zeros((1, 4)), (48, 48))
    with pytest.raises(ValueError, match="threshold=2"):
        paste_masks(np.ones((1, 4, 4)), np.zeros((1, 4)), (48, 48), threshold=2)


def test_paste_masks_refuses_boxes_with_swapped_corners_or_nan():
    with pytest.raises(ValueError, match=r"boxes has 1 box\(es\) with x2 < x1 or y2 < y1, the first "
                                         r"\[10.0, 0.0, 2.0, 8.0\]: expected finite \(x1, y1, x2, y2\)"):
        paste_masks(np.ones((2, 4, 4)), np.array([[0, 0, 8, 8], [10, 0, 2, 8]]), (16, 16))   # was a 1-pixel mask
    with pytest.raises(ValueError, match=r"boxes has 1 box\(es\) with NaN or inf"):
        paste_masks(np.ones((1, 4, 4)), np.array([[0, 0, np.nan, 8]]), (16, 16))
    assert paste_masks(np.ones((1, 4, 4)), np.array([[3, 3, 3, 9]]), (16, 16)).sum() == 6   # x2 == x1: 1 column
