"""Training clips of traffic videos: T consecutive frames (uint8) and the ground-truth tubes that cross them.

A vehicle seen in at least one frame of a clip is a ground-truth tube: its visible-part box in
the frames where it is present (`present`), and, only so that the tube is a valid box sequence
to pool from, the nearest present box copied into the frames where it is not (those boxes are
never regressed: their frame weight is 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.course.checks import int_at_least, positive_int


def clip_targets(video, start: int, length: int, max_tubes: int) -> dict[str, np.ndarray]:
    """{"tubes" (max_tubes, T, 4), "present" (max_tubes, T) bool, "labels" (max_tubes,) -1 padded} of frames
    start .. start + length - 1 of a `utils.data.video.Video`."""
    length, max_tubes = positive_int(length, "length"), positive_int(max_tubes, "max_tubes")
    start = int_at_least(start, "start", 0)
    if start + length > video.n_frames:
        raise ValueError(f"start={start}, length={length}: expected a clip inside the video's {video.n_frames} "
                         "frames")
    found: dict[int, tuple[int, dict[int, np.ndarray]]] = {}
    for t in range(length):
        f = start + t
        for box, label, i in zip(video.boxes[f], video.labels[f], video.ids[f]):
            found.setdefault(int(i), (int(label), {}))[1][t] = box
    if len(found) > max_tubes:
        raise ValueError(f"max_tubes={max_tubes}: frames {start}..{start + length - 1} hold {len(found)} vehicles")
    tubes = np.zeros((max_tubes, length, 4), np.float32)
    present = np.zeros((max_tubes, length), bool)
    labels = np.full(max_tubes, -1, np.int32)
    for row, (label, frames) in enumerate(found.values()):
        seen = np.array(sorted(frames))
        for t in range(length):
            tubes[row, t] = frames[int(seen[np.argmin(np.abs(seen - t))])]
        present[row, seen] = True
        labels[row] = label
    return {"tubes": tubes, "present": present, "labels": labels}


def clip_arrays(videos: Sequence, length: int, step: int, max_tubes: int = 40) -> tuple[np.ndarray, dict]:
    """Every clip of `length` frames every `step` frames of the videos: uint8 clips (N, T, H, W, 3) and targets."""
    from utils.data.pixels import to_uint8
    from utils.data.video import video_clips

    clips, targets = [], {"tubes": [], "present": [], "labels": []}
    for video in videos:
        frames = to_uint8(video.frames, name="video.frames")
        for start, stop in video_clips(video, length, step):
            clips.append(frames[start:stop])
            for key, value in clip_targets(video, start, length, max_tubes).items():
                targets[key].append(value)
    if not clips:
        raise ValueError("videos: expected at least one video")
    return np.stack(clips), {k: np.stack(v) for k, v in targets.items()}


def frame_arrays(videos: Sequence, max_boxes: int = 40) -> tuple[np.ndarray, dict]:
    """Every frame of the videos as uint8 images (N, H, W, 3) and padded targets {"boxes", "labels"} (-1 padding),
    the training data of a frame-by-frame detector."""
    from utils.data.pixels import to_uint8
    from utils.data.scenes import pad_objects

    if not videos:
        raise ValueError("videos: expected at least one video")
    boxes, labels = pad_objects([b for v in videos for b in v.boxes], [lab for v in videos for lab in v.labels],
                                positive_int(max_boxes, "max_boxes"))
    images = np.concatenate([to_uint8(v.frames, name="video.frames") for v in videos])
    return images, {"boxes": boxes, "labels": labels}
