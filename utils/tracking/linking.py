"""Tracks from detections: frame boxes linked by IoU (the baseline) and TrackNet's tubes linked by their overlap.

Both link with the Hungarian algorithm (`scipy.optimize.linear_sum_assignment`) on 1 - IoU, a pair
linked only at IoU >= iou_threshold; an unlinked detection starts a new identity, and a track that
finds no partner waits up to max_age steps (frames, or segments for tubes) before it ends.
- `iou_tracker`: frame by frame, each track's last box against the frame's detections.
- `link_tubes`: segment by segment; consecutive segments share frames, so a tube is linked to the
  previous segment's tube with the highest mean IoU over the shared frames (a lost track: its last
  box against the tube's first box). Each frame then holds the boxes of the tubes that cover it
  where their vehicle is present, the boxes of one track averaged where two segments overlap.

Tracks are per-frame lists, as `utils.data.mot.read_mot_txt` reads them: {"boxes": (N_f, 4) xyxy,
"ids": (N_f,) int64 from 1, "labels": (N_f,) int32, "scores": (N_f,) float32}.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.course.checks import finite_in, int_at_least, number_in, positive_int, whole_numbers, xyxy_boxes
from utils.detection.boxes import iou_matrix


def assign(similarity: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, column) of the Hungarian assignment that maximises the summed similarity, each >= threshold."""
    from scipy.optimize import linear_sum_assignment

    s = np.asarray(similarity, np.float64)
    if s.ndim != 2 or not np.isfinite(s).all():
        raise ValueError(f"similarity has shape {s.shape}: expected a finite (rows, columns) matrix")
    if not s.size:
        return []
    rows, cols = linear_sum_assignment(-s)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if s[r, c] >= threshold]


def _frame_boxes(x: object, name: str, n: int | None = None) -> list[np.ndarray]:
    if not isinstance(x, Sequence) or isinstance(x, (str, bytes)) or (n is not None and len(x) != n):
        raise ValueError(f"{name}: expected a list of per-frame arrays{'' if n is None else f' ({n} frames)'}")
    return [np.asarray(v, np.float32) for v in x]


def iou_tracker(boxes: Sequence[np.ndarray], scores: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                iou_threshold: float = 0.3, max_age: int = 2, min_score: float = 0.5) -> dict[str, list[np.ndarray]]:
    """Link per-frame detections (score >= min_score) into tracks by IoU with each track's last box.

    Refused, in any frame: a box with NaN or inf, x2 < x1 or y2 < y1 (it would start a new track), a NaN or
    infinite score (it would be dropped silently), and a label that is not a whole number >= -1 (1.7 would
    become class 1; -1 is no class, as in MOT files).
    """
    boxes = _frame_boxes(boxes, "boxes")
    scores, labels = _frame_boxes(scores, "scores", len(boxes)), _frame_boxes(labels, "labels", len(boxes))
    iou_threshold = number_in(iou_threshold, "iou_threshold", 0.0, 1.0, low_open=True)
    max_age, min_score = int_at_least(max_age, "max_age", 1), number_in(min_score, "min_score", 0.0, 1.0)
    tracks: dict[int, tuple[np.ndarray, int]] = {}                              # id -> (last box, last frame)
    out: dict[str, list[np.ndarray]] = {"boxes": [], "ids": [], "labels": [], "scores": []}
    next_id = 1
    for f, (b, s, lab) in enumerate(zip(boxes, scores, labels)):
        xyxy_boxes(b, f"boxes[{f}]")
        finite_in(np.asarray(s, np.float64), f"scores[{f}]", expected="finite detection scores")
        lab = whole_numbers(lab, f"labels[{f}]", -1, expected="integer class labels (-1 for none)")
        keep = s >= min_score
        b, s, lab = b.reshape(-1, 4)[keep], s[keep], lab[keep].astype(np.int32)
        live = [i for i, (_, last) in tracks.items() if f - last <= max_age]
        prev = np.array([tracks[i][0] for i in live], np.float32).reshape(-1, 4)
        ids = np.zeros(len(b), np.int64)
        for r, c in assign(iou_matrix(prev, b), iou_threshold):
            ids[c] = live[r]
        for c in np.flatnonzero(ids == 0):
            ids[c], next_id = next_id, next_id + 1
        for c, i in enumerate(ids):
            tracks[int(i)] = (b[c], f)
        for key, value in (("boxes", b), ("ids", ids), ("labels", lab), ("scores", s.astype(np.float32))):
            out[key].append(value)
    return out


def link_tubes(segments: Sequence[dict], n_frames: int, iou_threshold: float = 0.3, max_age: int = 1,
               min_score: float = 0.5, presence_threshold: float = 0.5) -> dict[str, list[np.ndarray]]:
    """Link the tubes of consecutive segments into per-frame tracks (see the module docstring).

    segments: in time order, each {"start": first frame, "tubes": (N, T, 4), "scores": (N,),
    "labels": (N,), "presence": (N, T) probabilities}; tubes scoring below min_score are dropped.
    """
    n_frames = positive_int(n_frames, "n_frames")
    iou_threshold = number_in(iou_threshold, "iou_threshold", 0.0, 1.0, low_open=True)
    max_age, min_score = int_at_least(max_age, "max_age", 1), number_in(min_score, "min_score", 0.0, 1.0)
    presence_threshold = number_in(presence_threshold, "presence_threshold", 0.0, 1.0)
    acc: list[dict[int, list]] = [{} for _ in range(n_frames)]                  # frame -> id -> [boxes, label, score]
    tracks: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}             # id -> (tube, presence, start, step)
    next_id, last_start = 1, -1
    for step, seg in enumerate(segments):
        start, tubes = checked_segment(seg, step, n_frames, last_start)
        last_start = start
        keep = np.asarray(seg["scores"]) >= min_score
        tubes, presence = tubes[keep], np.asarray(seg["presence"], np.float32)[keep]
        scores, labels = np.asarray(seg["scores"], np.float32)[keep], np.asarray(seg["labels"])[keep]
        live = [i for i, t in tracks.items() if step - t[3] <= max_age]
        similarity = np.zeros((len(live), len(tubes)), np.float32)
        for r, i in enumerate(live):
            similarity[r] = _overlap(*tracks[i][:3], tubes, presence, start, presence_threshold)
        ids = np.zeros(len(tubes), np.int64)
        for r, c in assign(similarity, iou_threshold):
            ids[c] = live[r]
        for c in np.flatnonzero(ids == 0):
            ids[c], next_id = next_id, next_id + 1
        for c, i in enumerate(ids):
            tracks[int(i)] = (tubes[c], presence[c], start, step)
            for t in np.flatnonzero(presence[c] >= presence_threshold):
                entry = acc[start + t].setdefault(int(i), [[], labels[c], scores[c]])
                entry[0].append(tubes[c, t])
    return _per_frame(acc)


def checked_segment(seg: dict, k: int, n_frames: int, last_start: int) -> tuple[int, np.ndarray]:
    """segments[k]'s start and (N, T, 4) tubes, refused unless inside frames 0..n_frames-1 and after last_start."""
    start, tubes = int(seg["start"]), np.asarray(seg["tubes"], np.float32)
    if tubes.ndim != 3 or tubes.shape[-1] != 4 or start < 0 or start + tubes.shape[1] > n_frames:
        raise ValueError(f"segments[{k}]: start {start} and tubes {tubes.shape}: expected (N, T, 4) tubes "
                         f"inside frames 0..{n_frames - 1}")
    if start <= last_start:
        raise ValueError(f"segments[{k}] starts at frame {start}: expected segments in time order")
    return start, tubes


def _overlap(tube, presence, start, tubes, presences, new_start, threshold) -> np.ndarray:
    """Similarity of an earlier tube with each new tube: mean IoU over shared frames where both are present,
    or, with no shared frame, the IoU of the earlier tube's last present box with each new tube's first."""
    length = tube.shape[0]
    shared = range(new_start, min(start + length, new_start + tubes.shape[1]))
    if len(shared) and len(tubes):
        ious = np.stack([iou_matrix(tube[f - start][None], tubes[:, f - new_start])[0] for f in shared])  # (S, N)
        both = np.stack([(presence[f - start] >= threshold) & (presences[:, f - new_start] >= threshold)
                         for f in shared])
        return np.where(both.any(0), (ious * both).sum(0) / np.maximum(both.sum(0), 1), 0.0)
    seen = np.flatnonzero(presence >= threshold)
    last = tube[seen[-1] if len(seen) else -1]
    first = np.argmax(presences >= threshold, axis=1) if len(tubes) else np.zeros(0, int)
    return iou_matrix(last[None], tubes[np.arange(len(tubes)), first])[0]


def _per_frame(acc: list[dict[int, list]]) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {"boxes": [], "ids": [], "labels": [], "scores": []}
    for frame in acc:
        ids = sorted(frame)
        out["boxes"].append(np.array([np.mean(frame[i][0], axis=0) for i in ids], np.float32).reshape(-1, 4))
        out["ids"].append(np.array(ids, np.int64))
        out["labels"].append(np.array([frame[i][1] for i in ids], np.int32))
        out["scores"].append(np.array([frame[i][2] for i in ids], np.float32))
    return out
