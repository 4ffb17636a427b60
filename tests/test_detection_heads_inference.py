import keras
import numpy as np
import pytest

from utils.detection.anchors import AnchorLevel, multilevel_anchors
from utils.detection.boxes import encode_boxes
from utils.detection.heads import multibox_decode, multibox_head
from utils.detection.inference import detect_all, images_per_second, make_detector, throughputs
from utils.nn.backbones import detection_backbone

LEVELS = [AnchorLevel(8, (20, 28)), AnchorLevel(16, (40, 56)), AnchorLevel(32, (72,))]
ANCHORS, COUNTS = multilevel_anchors((128, 128), LEVELS)


def ssd_like(num_classes: int = 3) -> keras.Model:
    keras.utils.set_random_seed(0)
    images = keras.Input((128, 128, 3), dtype="uint8")
    features = detection_backbone(images)
    return keras.Model(images, multibox_head(features, [lv.per_cell for lv in LEVELS], num_classes))


def test_the_head_gives_one_row_per_anchor_in_the_anchors_order():
    model = ssd_like()
    assert tuple(model.output.shape) == (None, len(ANCHORS), 4 + 3 + 1)
    assert sum(COUNTS) == len(ANCHORS)


def test_decode_inverts_the_encoding_and_drops_the_background():
    boxes = ANCHORS[:5] + np.array([2.0, -1.0, 3.0, 4.0], np.float32)
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]] * 5, np.float32))
    y = np.concatenate([encode_boxes(boxes, ANCHORS[:5]), logits], axis=-1)[None]
    decoded, scores = multibox_decode(y, ANCHORS[:5])
    np.testing.assert_allclose(np.asarray(decoded)[0], boxes, atol=1e-3)
    np.testing.assert_allclose(np.asarray(scores)[0], [[0.2, 0.3, 0.4]] * 5, atol=1e-6)
    with pytest.raises(ValueError, match=r"expected \(n, A, 4 \+ C \+ 1\)"):
        multibox_decode(np.zeros((1, 5, 5), np.float32), ANCHORS[:5])


def test_head_refuses_mismatched_levels():
    images = keras.Input((128, 128, 3), dtype="uint8")
    features = detection_backbone(images)
    with pytest.raises(ValueError, match="expected one anchor count per feature map"):
        multibox_head(features, [2, 2], 3)
    with pytest.raises(ValueError, match="num_classes=0"):
        multibox_head(features, [2, 2, 1], 0)


def test_detector_end_to_end_gives_per_image_lists_and_a_rate():
    model = ssd_like()
    detect = make_detector(model, lambda y: multibox_decode(y, ANCHORS), max_detections=5)
    images = np.random.default_rng(0).integers(0, 255, (7, 128, 128, 3)).astype(np.uint8)
    boxes, scores, labels = detect_all(detect, images, batch_size=3)
    assert len(boxes) == len(scores) == len(labels) == 7
    assert all(len(b) == len(s) == len(lab) <= 5 for b, s, lab in zip(boxes, scores, labels))
    assert all(set(lab.tolist()) <= {1, 2, 3} for lab in labels)
    rate = images_per_second(detect, images, batch_size=2, repeats=1, rounds=1)
    assert rate > 0
    with pytest.raises(ValueError, match="images is empty"):
        detect_all(detect, images[:0])
    with pytest.raises(ValueError, match="iou_threshold=1.5"):
        make_detector(model, lambda y: multibox_decode(y, ANCHORS), iou_threshold=1.5)
    with pytest.raises(ValueError, match="repeats=0"):
        images_per_second(detect, images, batch_size=2, repeats=0)


def test_throughputs_time_each_round_after_one_warm_up_call():
    import time

    calls = []

    def slow_detect(batch):
        calls.append(len(batch))
        time.sleep(0.02)
        return {"valid": np.zeros(len(batch), np.int32)}

    images = np.zeros((3, 8, 8, 3), np.uint8)
    rates = throughputs(slow_detect, images, batch_size=4, repeats=2, rounds=3)
    assert calls == [4] * 7 and rates.shape == (3,)          # warm-up, then 3 rounds of 2 calls on 4 images
    assert np.all(rates > 0) and np.all(rates <= 4 / 0.02)   # a call takes at least its 20 ms
    with pytest.raises(ValueError, match="rounds=0"):
        throughputs(slow_detect, images, batch_size=4, repeats=2, rounds=0)
    with pytest.raises(ValueError, match="images is empty"):
        throughputs(slow_detect, images[:0], batch_size=4, repeats=2)
