"""TrackNet (utils.tracking.tracknet) and its training clips (utils.tracking.clips) on tiny generated videos."""

import numpy as np
import pytest

from utils.data.video import traffic_video
from utils.tracking.clips import clip_arrays, clip_targets, frame_arrays
from utils.tracking.tracknet import LOSSES, tracknet


@pytest.fixture(scope="module")
def video():
    return traffic_video(6, size=64, seed=3)


def test_clip_targets_hold_each_vehicle_as_a_tube_with_its_present_frames(video):
    t = clip_targets(video, 1, 3, max_tubes=40)
    real = t["labels"] > 0
    ids = sorted({int(i) for f in range(1, 4) for i in video.ids[f]})
    assert real.sum() == len(ids) and np.all(t["labels"][~real] == -1)
    for f in range(1, 4):                                                      # every visible box is in its tube
        for box in video.boxes[f]:
            rows = np.flatnonzero(t["present"][:, f - 1])
            assert np.any(np.all(np.isclose(t["tubes"][rows, f - 1], box), axis=1))
    assert t["present"][real].any(axis=1).all() and not t["present"][~real].any()
    with pytest.raises(ValueError, match="max_tubes=1"):
        clip_targets(video, 0, 3, max_tubes=1)
    with pytest.raises(ValueError, match="start=5"):
        clip_targets(video, 5, 3, max_tubes=40)


def test_clip_and_frame_arrays(video):
    clips, targets = clip_arrays([video], 4, 2)
    assert clips.shape == (2, 4, 64, 64, 3) and clips.dtype == np.uint8
    assert targets["tubes"].shape[:2] == targets["present"].shape[:2] == targets["labels"].shape
    frames, boxes = frame_arrays([video])
    assert frames.shape == (6, 64, 64, 3) and boxes["boxes"].shape[:2] == boxes["labels"].shape
    assert (boxes["labels"] > 0).sum() == sum(len(b) for b in video.boxes)


@pytest.mark.parametrize("features", ["2d+3d", "3d"])
def test_tracknet_detects_and_trains_on_clips(video, features):
    model = tracknet(image_size=64, length=2, features=features, seed=0, test_proposals=(50, 10))
    clips, targets = clip_arrays([video], 2, 2)
    out = model(clips[:2])
    k = model.max_detections
    assert out["tubes"].shape == (2, k, 2, 4) and out["presence"].shape == (2, k, 2)
    assert out["scores"].shape == out["labels"].shape == (2, k)
    losses = model.compute_losses(clips[:2], {key: v[:2] for key, v in targets.items()})
    assert set(losses) == set(LOSSES) and all(np.isfinite(float(v)) for v in losses.values())


def test_tracknet_3d_only_has_no_2d_branch():
    both = tracknet(image_size=64, length=2, features="2d+3d")
    only = tracknet(image_size=64, length=2, features="3d")
    assert "per_frame_2d" in [layer.name for layer in both.backbone.layers]
    assert "per_frame_2d" not in [layer.name for layer in only.backbone.layers]
    assert only.count_params() < both.count_params()


@pytest.mark.parametrize("kwargs, message", [
    ({"image_size": 48}, "image_size=48"),
    ({"features": "4d"}, "features='4d'"),
    ({"length": 0}, "length=0"),
])
def test_tracknet_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tracknet(**{"image_size": 64, "length": 2, **kwargs})


def test_tracknet_refuses_clips_of_the_wrong_shape():
    model = tracknet(image_size=64, length=2)
    with pytest.raises(ValueError, match="clips has shape"):
        model(np.zeros((1, 3, 64, 64, 3), np.uint8))                           # three frames, not two
    with pytest.raises(ValueError, match="clips has shape"):
        model(np.zeros((2, 64, 64, 3), np.uint8))                              # frames, not clips


def test_the_compiled_detector_serves_any_batch_size(video):
    from utils.tracking.inference import tube_detector

    model = tracknet(image_size=64, length=2, seed=0, test_proposals=(50, 10))
    run = tube_detector(model)
    clips, _ = clip_arrays([video], 2, 1)
    for n in (1, 2, 3):                                                        # the third shape: an unknown batch axis
        assert run(clips[:n])["tubes"].shape == (n, model.max_detections, 2, 4)
