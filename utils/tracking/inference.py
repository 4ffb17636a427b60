"""Whole videos through the two trackers: TrackNet's tubes linked segment by segment, and a frame-by-frame
detector's boxes linked by IoU. Both return per-frame tracks (`utils.tracking.linking`)."""

from __future__ import annotations

import numpy as np

from utils.course.checks import number_in, positive_int
from utils.tracking.linking import checked_segment, iou_tracker, link_tubes


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


def frame_detections(segments: list[dict], n_frames: int, presence_threshold: float = 0.5) -> dict[str, list]:
    """Each frame's boxes as TrackNet detects them, before linking and before any score filter (for the detector's
    own average precision, `utils.detection.evaluation.coco_map`).

    Segments overlap, so a frame takes the tubes of the latest segment that holds it: each tube's box in that frame
    where its presence reaches presence_threshold, with the tube's score and label. segments: `tube_segments`'s, in
    time order, together covering frames 0..n_frames-1. Returns {"boxes", "scores", "labels"}, one array per frame.
    """
    n_frames = positive_int(n_frames, "n_frames")
    presence_threshold = number_in(presence_threshold, "presence_threshold", 0.0, 1.0)
    owner: list[int | None] = [None] * n_frames
    last_start = -1
    for k, seg in enumerate(segments):
        start, tubes = checked_segment(seg, k, n_frames, last_start)
        last_start = start
        owner[start:start + tubes.shape[1]] = [k] * tubes.shape[1]
    missing = [f for f, k in enumerate(owner) if k is None]
    if missing:
        raise ValueError(f"frames {missing[:5]} are in no segment: expected segments covering all {n_frames} frames")
    out: dict[str, list] = {"boxes": [], "scores": [], "labels": []}
    for f, k in enumerate(owner):
        seg = segments[k]
        t = f - int(seg["start"])
        keep = np.asarray(seg["presence"])[:, t] >= presence_threshold
        out["boxes"].append(np.asarray(seg["tubes"], np.float32)[keep, t].reshape(-1, 4))
        out["scores"].append(np.asarray(seg["scores"], np.float32)[keep])
        out["labels"].append(np.asarray(seg["labels"])[keep])
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
