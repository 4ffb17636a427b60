"""Tubes, linking and the tracking metrics (utils.tracking): exact small cases, round trips, bad input."""

import numpy as np
import pytest

from utils.tracking.evaluation import mot_metrics
from utils.tracking.inference import frame_detections, segment_starts
from utils.tracking.linking import assign, iou_tracker, link_tubes
from utils.tracking.tubes import anchor_tubes, decode_tubes, encode_tubes, mean_boxes, tube_iou, tube_nms, tube_targets


def moving(x0: float, y0: float, w: float, h: float, dx: float, frames: int) -> np.ndarray:
    """A (frames, 4) tube of a box moving dx pixels a frame."""
    return np.array([[x0 + dx * t, y0, x0 + dx * t + w, y0 + h] for t in range(frames)], np.float32)


# ------------------------------------------------------------------------------------------- tubes

def test_tube_iou_is_the_mean_of_per_frame_ious_over_present_frames():
    a = np.stack([moving(0, 0, 10, 10, 0, 2)])                               # a still box
    b = np.stack([moving(0, 0, 10, 10, 5, 2)])                               # IoU 1 then 50/150
    assert tube_iou(a, b)[0, 0] == pytest.approx((1.0 + 1 / 3) / 2)
    assert tube_iou(a, b, np.array([[True, False]]))[0, 0] == pytest.approx(1.0)
    assert tube_iou(a, b, np.array([[False, False]]))[0, 0] == 0.0


def test_tube_encoding_round_trip_and_anchor_tubes():
    rng = np.random.default_rng(0)
    ref = anchor_tubes(np.array([[10, 10, 30, 20], [0, 0, 8, 8]], np.float32), 3)
    assert ref.shape == (2, 3, 4) and np.all(ref[:, 0] == ref[:, 2])
    tubes = ref + rng.uniform(-3, 3, ref.shape).astype(np.float32)
    np.testing.assert_allclose(decode_tubes(encode_tubes(tubes, ref), ref), tubes, atol=1e-4)
    clipped = decode_tubes(encode_tubes(tubes, ref), ref, image_size=(15, 25))
    assert clipped[..., 2].max() <= 25 and clipped[..., 3].max() <= 15
    np.testing.assert_allclose(mean_boxes(tubes), tubes.mean(axis=1), atol=1e-5)


def test_tube_targets_match_regress_present_frames_only_and_ignore_padding():
    gt = np.stack([moving(20, 20, 12, 8, 2, 3), np.zeros((3, 4), np.float32)])[None]    # (1, 2, 3, 4)
    present = np.array([[[True, True, False], [False, False, False]]])
    labels = np.array([[2, -1]], np.int32)
    anchors = np.stack([gt[0, 0], moving(60, 60, 12, 8, 0, 3)])                            # a perfect tube, a far one
    cls, deltas, weights = tube_targets(anchors, gt, present, labels, 0.5, 0.3)
    np.testing.assert_array_equal(cls, [[2, 0]])
    np.testing.assert_array_equal(weights, [[[1, 1, 0], [0, 0, 0]]])
    np.testing.assert_allclose(deltas[0, 0], 0.0, atol=1e-5)


def test_tube_nms_keeps_the_best_of_overlapping_tubes():
    tubes = np.stack([moving(0, 0, 10, 10, 1, 4), moving(1, 0, 10, 10, 1, 4), moving(40, 40, 10, 10, 0, 4)])[None]
    idx, valid = tube_nms(tubes, np.array([[0.6, 0.9, 0.5]], np.float32), 3, 0.5)
    assert int(valid[0]) == 2 and idx[0, :2].tolist() == [1, 2]


@pytest.mark.parametrize("call, message", [
    (lambda: tube_iou(np.zeros((2, 4)), np.zeros((1, 3, 4))), "tubes1 has shape"),
    (lambda: tube_iou(np.zeros((1, 2, 4)), np.zeros((1, 3, 4))), "expected tubes of one length"),
    (lambda: tube_iou(np.zeros((1, 2, 4)), np.zeros((1, 2, 4)), np.ones((2, 2), bool)), "present2 has shape"),
    (lambda: anchor_tubes(np.zeros((3, 4)), 0), "length=0"),
    (lambda: anchor_tubes(np.zeros(4), 2), "anchors has shape"),
    (lambda: tube_targets(np.zeros((2, 3, 4)), np.zeros((1, 2, 3, 4)), np.ones((1, 2), bool), np.ones((1, 2)), 0.5,
                          0.3), "gt_present"),
    (lambda: tube_nms(np.zeros((1, 2, 3, 4)), np.zeros((1, 3)), 2), "scores has shape"),
])
def test_tube_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------------------------------- linking

def test_assign_is_hungarian_and_respects_the_threshold():
    s = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert assign(s, 0.3) == [(0, 1), (1, 0)]                                 # 0.8 + 0.85 beats 0.9 + 0.1
    assert assign(s, 0.82) == [(1, 0)]
    assert assign(np.zeros((0, 3)), 0.5) == []
    with pytest.raises(ValueError, match="similarity"):
        assign(np.array([[np.nan]]), 0.5)


def test_iou_tracker_keeps_identities_and_bridges_a_missed_frame():
    a, b = moving(0, 0, 10, 10, 2, 5), moving(50, 50, 10, 10, -2, 5)
    boxes = [np.stack([a[t], b[t]]) for t in range(5)]
    boxes[2] = boxes[2][:1]                                                  # b missed in frame 2
    scores = [np.ones(len(x)) for x in boxes]
    labels = [np.ones(len(x), np.int32) for x in boxes]
    tracks = iou_tracker(boxes, scores, labels, max_age=2)
    assert [t.tolist() for t in tracks["ids"]] == [[1, 2], [1, 2], [1], [1, 2], [1, 2]]
    short = iou_tracker(boxes, scores, labels, max_age=1)                  # no patience: b is re-born
    assert short["ids"][3].tolist() == [1, 3]
    with pytest.raises(ValueError, match="max_age=0"):
        iou_tracker(boxes, scores, labels, max_age=0)
    with pytest.raises(ValueError, match="scores"):
        iou_tracker(boxes, scores[:2], labels)


def test_iou_tracker_refuses_nan_boxes_and_fractional_labels():
    boxes = [np.array([[0, 0, 10, 10]], np.float32), np.array([[0, 0, 10, 10], [np.nan, 0, 5, 5]], np.float32)]
    scores, labels = [np.ones(1), np.ones(2)], [np.ones(1, np.int32), np.ones(2, np.int32)]
    with pytest.raises(ValueError, match=r"boxes\[1\] has 1 box\(es\) with NaN or inf, the first \[nan, 0.0, 5.0, "
                                         r"5.0\]: expected finite \(x1, y1, x2, y2\) with x2 >= x1 and y2 >= y1"):
        iou_tracker(boxes, scores, labels)                                  # was a new track, id 2
    with pytest.raises(ValueError, match=r"boxes\[0\] has 1 box\(es\) with x2 < x1 or y2 < y1"):
        iou_tracker([np.array([[10, 0, 0, 10]])], scores[:1], labels[:1])
    with pytest.raises(ValueError, match=r"labels\[0\] has fractional values such as 1.7: expected integer class "
                                         r"labels \(-1 for none\)"):
        iou_tracker(boxes[:1], scores[:1], [np.array([1.7])])              # was class 1
    with pytest.raises(ValueError, match=r"labels\[0\] has values in \[-2, -2\]: expected integer class labels"):
        iou_tracker(boxes[:1], scores[:1], [np.array([-2])])
    with pytest.raises(ValueError, match=r"scores\[1\] has 1 NaN or infinite value\(s\): expected finite detection"):
        iou_tracker(boxes[:1] * 2, [np.ones(1), np.array([np.nan])], labels[:1] * 2)  # was dropped silently
    tracks = iou_tracker(boxes[:1] * 2, scores[:1] * 2, [np.array([2.0])] * 2)  # whole floats and -1 still pass
    assert [t.tolist() for t in tracks["ids"]] == [[1], [1]] and tracks["labels"][0].dtype == np.int32
    assert tracks["labels"][1].tolist() == [2]
    assert iou_tracker(boxes[:1], scores[:1], [np.array([-1])])["labels"][0].tolist() == [-1]


def segment(start: int, tubes: list[np.ndarray], presence=None, scores=None) -> dict:
    tubes = np.stack(tubes)
    return {"start": start, "tubes": tubes,
            "scores": np.full(len(tubes), 0.9, np.float32) if scores is None else np.asarray(scores, np.float32),
            "labels": np.ones(len(tubes), np.int32),
            "presence": np.ones(tubes.shape[:2], np.float32) if presence is None else np.asarray(presence)}


def test_link_tubes_links_through_shared_frames_and_drops_absent_frames():
    a, b = moving(0, 0, 10, 10, 2, 6), moving(40, 40, 10, 10, -2, 6)
    segs = [segment(0, [a[:4], b[:4]]), segment(2, [b[2:], a[2:]], presence=[[1, 1, 1, 0.2], [1, 1, 1, 1]])]
    tracks = link_tubes(segs, 6)
    assert [t.tolist() for t in tracks["ids"]] == [[1, 2]] * 5 + [[1]]       # b hidden in frame 5
    np.testing.assert_allclose(tracks["boxes"][3][0], a[3], atol=1e-5)       # both segments agree: the mean is a
    with pytest.raises(ValueError, match="time order"):
        link_tubes(segs[::-1], 6)
    with pytest.raises(ValueError, match="inside frames"):
        link_tubes(segs, 5)


def test_frame_detections_take_each_frame_from_the_latest_segment_without_a_score_filter():
    a, b = moving(0, 0, 10, 10, 2, 6), moving(40, 40, 10, 10, -2, 6)
    first = segment(0, [a[:4]], scores=[0.02])                               # kept: no score filter
    second = segment(2, [b[2:], a[2:] + 1], presence=[[1, 1, 1, 0.2], [1, 1, 1, 1]], scores=[0.9, 0.3])
    dets = frame_detections([first, second], 6)
    assert [len(s) for s in dets["scores"]] == [1, 1, 2, 2, 2, 1]           # b's presence 0.2 in frame 5
    np.testing.assert_allclose(dets["boxes"][1][0], a[1])                    # frames 0, 1: the first segment
    np.testing.assert_allclose(dets["boxes"][2][1], a[2] + 1)                # frames 2..5: the second, not the first
    assert dets["scores"][0].tolist() == pytest.approx([0.02]) and dets["scores"][5].tolist() == pytest.approx([0.3])
    with pytest.raises(ValueError, match=r"frames \[6\] are in no segment"):
        frame_detections([first, second], 7)
    with pytest.raises(ValueError, match="time order"):
        frame_detections([second, first], 6)
    with pytest.raises(ValueError, match="presence_threshold=2"):
        frame_detections([first, second], 6, presence_threshold=2)


def test_segment_starts_cover_every_frame():
    for n, length, step in [(10, 4, 2), (11, 4, 3), (4, 4, 1), (9, 3, 3)]:
        starts = segment_starts(n, length, step)
        covered = {f for s in starts for f in range(s, s + length)}
        assert covered == set(range(n)) and starts[-1] == n - length
    with pytest.raises(ValueError, match="length=5"):
        segment_starts(4, 5, 1)
    with pytest.raises(ValueError, match="step=0"):
        segment_starts(8, 4, 0)


# ------------------------------------------------------------------------------------------- metrics

def test_mot_metrics_match_a_hand_computed_mota():
    box = lambda x: np.array([[x, 0, x + 10, 10]], np.float32)  # noqa: E731
    two = lambda x, y: np.concatenate([box(x), box(y)])  # noqa: E731
    gt = {"boxes": [two(0, 50), two(1, 51), two(2, 52)], "ids": [np.array([1, 2])] * 3}
    # frame 0 right; frame 1: object 2 missed and a false positive; frame 2: object 1 changes identity (a switch)
    hyp = {"boxes": [two(0, 50), two(1, 80), two(2, 52)],
           "ids": [np.array([7, 8]), np.array([7, 9]), np.array([10, 8])]}
    m = mot_metrics([gt], [hyp])
    assert (m["num_misses"], m["num_false_positives"], m["num_switches"]) == (1, 1, 1)
    assert m["mota"] == pytest.approx(1 - 3 / 6)
    assert mot_metrics([gt], [gt])["mota"] == 1.0 and mot_metrics([gt], [gt])["idf1"] == 1.0
    with pytest.raises(ValueError, match="frames"):
        mot_metrics([gt], [{"boxes": hyp["boxes"][:2], "ids": hyp["ids"][:2]}])
    with pytest.raises(ValueError, match="x2 >= x1"):
        mot_metrics([gt], [{"boxes": [box(0)[:, [2, 1, 0, 3]]] * 3, "ids": [np.array([1])] * 3}])
    with pytest.raises(ValueError, match="two lists"):
        mot_metrics(gt, hyp)


def test_grid_search_picks_the_setting_with_the_best_mota():
    from utils.tracking.evaluation import grid_search

    box = np.array([[0, 0, 10, 10]], np.float32)
    gt = {"boxes": [box, box], "ids": [np.array([1]), np.array([1])]}
    good = {"boxes": [box, box], "ids": [np.array([5]), np.array([5])]}
    bad = {"boxes": [box, box + 30], "ids": [np.array([5]), np.array([5])]}
    best, tried = grid_search([gt], lambda shift: [bad if shift else good], {"shift": [True, False]})
    assert best == {"shift": False} and len(tried) == 2 and tried[1][1]["mota"] == 1.0
    with pytest.raises(ValueError, match="grid="):
        grid_search([gt], lambda: [gt], {})
