"""utils.data.video: seeded traffic videos, their ground truth under occlusion, and bad input."""

import numpy as np
import pytest

from utils.data import video as video_module
from utils.data.video import VEHICLE_CLASSES, Video, traffic_video, traffic_videos, video_clips

# One dense video (and its per-pixel identity map, through the module's renderer) shared by the tests.
DENSE, ID_MAPS = video_module._render(np.random.default_rng(7), **video_module._options(40, 96))


def tight_box(mask: np.ndarray) -> list[float]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]


def test_same_seed_same_video_and_another_seed_another():
    a, b, c = (traffic_video(12, 64, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.frames, b.frames)
    for name in ("boxes", "labels", "ids", "visibility"):
        for x, y in zip(getattr(a, name), getattr(b, name)):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.frames, c.frames)


def test_traffic_videos_are_seeded_and_differ_from_each_other():
    first, again = traffic_videos(2, 8, 48, seed=1), traffic_videos(2, 8, 48, seed=1)
    np.testing.assert_array_equal(first[0].frames, again[0].frames)
    np.testing.assert_array_equal(first[1].frames, again[1].frames)
    assert not np.array_equal(first[0].frames, first[1].frames)
    assert traffic_videos(1, 4, 48, seed=1, lanes=2, shadows=False)[0].n_frames == 4


def test_frames_and_ground_truth_have_the_documented_types():
    v = DENSE
    assert v.frames.shape == (40, 96, 96, 3) and v.frames.dtype == np.float32 and v.n_frames == 40
    assert 0 <= v.frames.min() and v.frames.max() <= 1
    for boxes, labels, ids, vis in zip(v.boxes, v.labels, v.ids, v.visibility):
        assert boxes.dtype == np.float32 and boxes.shape == (len(labels), 4)
        assert labels.dtype == np.int32 and set(labels) <= set(range(1, len(VEHICLE_CLASSES) + 1))
        assert ids.dtype == np.int64 and vis.dtype == np.float32
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 96) and np.all(boxes[:, 2:] > boxes[:, :2])
        assert np.all(vis >= 0.25) and np.all(vis <= 1)


def test_every_box_is_the_tight_box_of_its_visible_pixels():
    for f in range(DENSE.n_frames):
        for box, vid in zip(DENSE.boxes[f], DENSE.ids[f]):
            own = ID_MAPS[f] == vid
            assert own.sum() >= video_module.MIN_PIXELS
            assert box.tolist() == tight_box(own)


def test_an_occluded_vehicle_keeps_the_box_of_what_is_left_visible():
    """A car in the far lane with a bus in the near lane in front of it, drawn together and each alone."""
    rng = np.random.default_rng(0)
    road = video_module._Road(rng, 96, 2, 1.0, False)
    car = video_module._new_vehicle(rng, road, 0, 0.0, 1)
    bus = video_module._new_vehicle(rng, road, 1, 0.0, 2)
    car.cls, car.length, car.height = 0, 4.4, 2.0
    bus.cls, bus.length, bus.height = 1, 8.6, 2.6
    car.pos = road.entry_exit(0)[0] + 20.0
    middle = road.x_of(0, car.pos)  # put the bus's centre at the car's x
    bus.pos = float(np.log((middle - road.vx) / (96 - road.vx)) / road.c[1] * road.direction[1])

    def draw(vehicles):
        frame, ids = np.zeros((96, 96, 3), np.float32), np.zeros((96, 96), np.int64)
        return video_module._draw(road, vehicles, frame, ids, None, 0.01), ids

    (alone,), car_map = draw([car])
    _, bus_map = draw([bus])
    both, both_map = draw([bus, car])  # the order given does not matter: far lanes are drawn first
    assert alone[2] == 1.0 and alone[3] == tuple(tight_box(car_map == 1))
    left = (car_map == 1) & (bus_map != 2)
    occluded = dict((k[0], k) for k in both)[1]
    assert occluded[3] == tuple(tight_box(left))
    assert occluded[2] == pytest.approx(left.sum() / (car_map == 1).sum())
    assert 0.1 < occluded[2] < 0.9 and occluded[3][3] < alone[3][3]  # the bus hides the car's lower part
    assert np.array_equal(both_map == 2, bus_map == 2)


def test_identities_are_stable_and_never_reused():
    v = DENSE
    seen = np.unique(np.concatenate(v.ids))
    assert seen.tolist() == list(range(1, len(seen) + 1))  # 1..K in order of first appearance
    assert len(seen) < sum(map(len, v.ids)) / 5  # tracks last many frames
    label_of, last = {}, {}
    for f in range(v.n_frames):
        for box, label, vid in zip(v.boxes[f], v.labels[f], v.ids[f]):
            assert label_of.setdefault(vid, label) == label  # one vehicle, one class
            if vid in last and last[vid][0] == f - 1:  # seen in the previous frame: it moved a little
                assert np.abs(box - last[vid][1]).max() <= 12
            last[vid] = (f, box)


def test_without_occluders_each_box_moves_one_way():
    """One lane, no stops: a vehicle's box edges move monotonically in its direction until it has left."""
    v = traffic_video(60, 64, lanes=1, stops=False, density=3.0, seed=2)
    direction = 1  # the nearest lane drives to the right
    tracks: dict[int, list[np.ndarray]] = {}
    for boxes, ids in zip(v.boxes, v.ids):
        for box, vid in zip(boxes, ids):
            tracks.setdefault(int(vid), []).append(box)
    assert len(tracks) >= 2
    for boxes in tracks.values():
        edges = np.array(boxes)[:, [0, 2]] * direction
        assert np.all(np.diff(edges, axis=0) >= 0)


def test_dense_traffic_occludes_and_stops():
    v = DENSE
    vis = np.concatenate(v.visibility)
    assert np.mean([len(b) for b in v.boxes]) >= 6
    assert (vis < 0.9).mean() > 0.1 and (vis < 0.5).any()
    still = 0  # the longest run of frames in which some vehicle's box does not change
    for vid in np.unique(np.concatenate(v.ids)):
        run, previous = 0, None
        for boxes, ids in zip(v.boxes, v.ids):
            box = boxes[ids == vid]
            run = run + 1 if previous is not None and len(box) and np.array_equal(box, previous) else 0
            previous = box if len(box) else None
            still = max(still, run)
    assert still >= 3


def test_nearer_lanes_are_lower_and_bigger():
    """Perspective: fully visible cars lower in the image are taller."""
    v = DENSE
    rows = [(box[3], box[3] - box[1]) for boxes, labels, vis in zip(v.boxes, v.labels, v.visibility)
            for box, label, seen in zip(boxes, labels, vis) if label == 1 and seen == 1]
    bottom, height = np.array(rows).T
    assert len(rows) > 20 and np.polyfit(bottom, height, 1)[0] > 0
    low = bottom > np.median(bottom)
    assert height[low].mean() > height[~low].mean()


def test_options_change_the_scene():
    base = traffic_video(6, 64, seed=5)
    plain = traffic_video(6, 64, shadows=False, illumination=False, seed=5)
    assert not np.array_equal(base.frames, plain.frames)
    for a, b in zip(base.boxes, plain.boxes):  # light and shadows change pixels, not the ground truth
        np.testing.assert_array_equal(a, b)
    sparse = traffic_video(30, 64, density=0.2, seed=5)
    assert sum(map(len, sparse.boxes)) < sum(map(len, traffic_video(30, 64, density=2.0, seed=5).boxes))
    strict = traffic_video(6, 64, min_visibility=1.0, seed=5)
    assert all(np.all(vis == 1) for vis in strict.visibility)


def test_video_clips():
    v = traffic_video(10, 48, seed=0)
    assert video_clips(v, 4, 3) == [(0, 4), (3, 7), (6, 10)]
    assert video_clips(v, 10, 1) == [(0, 10)]
    assert video_clips(v, 4, 4) == [(0, 4), (4, 8)]


@pytest.mark.parametrize("kwargs, match", [
    ({"n_frames": 0}, "n_frames=0: expected a positive integer"),
    ({"n_frames": 2.5}, "n_frames=2.5"),
    ({"size": 16}, r"size=16: expected an integer >= 32"),
    ({"density": 0}, r"density=0: expected a finite number in \(0, inf\)"),
    ({"density": float("nan")}, "density=nan"),
    ({"lanes": 0}, "lanes=0: expected an integer >= 1"),
    ({"lanes": 20}, r"lanes=20: expected an integer in 1..8"),
    ({"min_visibility": 0}, r"min_visibility=0: expected a number in \(0, 1\]"),
    ({"min_visibility": 1.5}, "min_visibility=1.5"),
    ({"shadows": "yes"}, "shadows='yes': expected True or False"),
    ({"seed": -1}, "seed=-1: expected a non-negative integer"),
])
def test_traffic_video_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        traffic_video(**{"n_frames": 4, **kwargs})


def test_traffic_videos_refuses_bad_arguments():
    with pytest.raises(ValueError, match="n=0: expected a positive integer"):
        traffic_videos(0, 4)
    with pytest.raises(ValueError, match="density=-1"):
        traffic_videos(1, 4, density=-1)
    with pytest.raises(TypeError, match="colour"):
        traffic_videos(1, 4, colour=True)


@pytest.mark.parametrize("length, step, match", [
    (0, 1, "length=0: expected a positive integer"),
    (2, 0, "step=0: expected a positive integer"),
    (11, 1, "length=11: expected at most the video's 10 frames"),
])
def test_video_clips_refuses_bad_arguments(length, step, match):
    with pytest.raises(ValueError, match=match):
        video_clips(traffic_video(10, 48, seed=0), length, step)
    with pytest.raises(ValueError, match="video is a ndarray: expected a Video"):
        video_clips(np.zeros((10, 8, 8, 3)), 2, 1)


def good_fields(n=2):
    return dict(frames=np.zeros((n, 8, 8, 3), np.float32), boxes=[np.array([[0, 0, 2, 2]])] * n,
                labels=[np.array([1])] * n, ids=[np.array([1])] * n, visibility=[np.array([1.0])] * n)


@pytest.mark.parametrize("change, match", [
    ({"frames": np.zeros((2, 8, 8), np.float32)}, r"frames has shape \(2, 8, 8\) \(rank 3\): expected rank 4"),
    ({"frames": np.full((2, 8, 8, 3), 255.0)}, r"frames has values in \[255, 255\]: expected floats in \[0, 1\]"),
    ({"frames": np.zeros((2, 8, 8, 4))}, r"frames has shape \(2, 8, 8, 4\): expected \(F, H, W, 3\)"),
    ({"boxes": [np.zeros((1, 4))]}, "boxes has 1 entries: expected a list with one array per frame"),
    ({"ids": np.ones((2, 1))}, "ids has a ndarray: expected a list"),
    ({"boxes": [np.zeros((1, 3))] * 2}, r"boxes\[0\] has shape \(1, 3\)"),
    ({"boxes": [np.array([[2, 0, 1, 2]])] * 2}, r"boxes\[0\] has 1 box\(es\) with x2 < x1"),
    ({"labels": [np.array([0])] * 2}, r"labels\[0\] holds 0"),
    ({"ids": [np.array([0])] * 2}, r"ids\[0\] has values in \[0, 0\]: expected integer track identities >= 1"),
    ({"visibility": [np.array([1.5])] * 2}, r"visibility\[0\] has values in \[1.5, 1.5\]"),
    ({"labels": [np.array([1, 1])] * 2}, "frame 0 has 1 boxes, 2 labels, 1 ids and 1 visibilities"),
    ({"boxes": [np.zeros((2, 4))] * 2, "labels": [np.ones(2)] * 2, "ids": [np.ones(2)] * 2,
      "visibility": [np.ones(2)] * 2}, r"ids\[0\]=\[1, 1\] repeats an identity"),
])
def test_video_refuses_inconsistent_fields(change, match):
    with pytest.raises(ValueError, match=match):
        Video(**{**good_fields(), **change})


def test_video_accepts_unknown_labels_and_visibility():
    v = Video(**{**good_fields(), "labels": [np.array([-1])] * 2, "visibility": [np.array([-1.0])] * 2})
    assert v.labels[0].tolist() == [-1] and v.visibility[0].dtype == np.float32
