"""Whole videos through the two trackers: TrackNet's tubes linked segment by segment, and a frame-by-frame
detector's boxes linked by IoU. Both return per-frame tracks (`utils.tracking.linking`)."""

from __future__ import annotations

import numpy as np

from utils.course.checks import positive_int
from utils.tracking.linking import iou_tracker, link_tubes


def segment_starts(n_frames: int, length: int, step: int) -> list[int]:
    """First frames of the segments: every `step` frames, plus a last one ending on the last frame."""
    n_frames, length, step = positive_int(n_frames, "n_frames"), positive_int(length, "length"), positive_int(
        step, "step")
    if length > n_frames:
        raise ValueError(f"length={length}: expected at most the video's {n_frames} frames")
    if step > length:
        raise ValueError(f"step={step}: expected at most length={length}, so that every frame is in a segment")
    starts = list(range(0, n_frames - length + 1, step))
    return starts if starts[-1] == n_frames - length else [*starts, n_frames - length]


def tube_segments(model, frames: np.ndarray, step: int, batch_size: int = 16, run=None) -> list[dict]:
    """TrackNet's tubes in every segment of a video's frames (uint8 or [0, 1] floats), in time order.

    run: the compiled model (`tube_detector(model)`) to reuse across videos; made here if None.
    """
    from utils.data.pixels import to_uint8

    frames = to_uint8(np.asarray(frames), name="frames")
    if frames.ndim != 4:
        raise ValueError(f"frames has shape {frames.shape}: expected a video (F, H, W, 3)")
    starts = segment_starts(len(frames), model.length, step)
    run = run or tube_detector(model)
    out = []
    for i in range(0, len(starts), positive_int(batch_size, "batch_size")):
        chunk = starts[i:i + batch_size]
        dets = {k: np.asarray(v) for k, v in run(np.stack([frames[s:s + model.length] for s in chunk])).items()}
        for j, s in enumerate(chunk):
            n = int(dets["valid"][j])
            out.append({"start": s, **{k: dets[k][j, :n] for k in ("tubes", "scores", "labels", "presence")}})
    return out


def tube_detector(model):
    """clips (uint8 batch) -> TrackNet's padded tube detections, one tf.function to reuse across videos (and time)."""
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def track_with_tubes(model, frames: np.ndarray, step: int, run=None, **link_kwargs) -> dict[str, list[np.ndarray]]:
    """Per-frame tracks of a video by TrackNet: tubes of overlapping segments, linked (`link_tubes`)."""
    return link_tubes(tube_segments(model, frames, step, run=run), len(frames), **link_kwargs)


def track_frame_by_frame(model, frames: np.ndarray, batch_size: int = 32, run=None,
                         **tracker_kwargs) -> dict[str, list]:
    """Per-frame tracks of a video by a Faster R-CNN (`utils.detection.rcnn`) on each frame, linked by IoU.

    run: the compiled detector (`utils.detection.rcnn.rcnn_detector`) to reuse across videos.
    """
    from utils.detection.rcnn import detect_scenes

    dets = detect_scenes(model, np.asarray(frames), batch_size, run=run)
    return iou_tracker(dets["boxes"], dets["scores"], dets["labels"], **tracker_kwargs)
