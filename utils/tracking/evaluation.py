"""Tracking metrics with motmetrics (the CLEAR MOT metrics and IDF1, as the MOTChallenge reports them).

MOTA = 1 - (misses + false positives + identity switches) / ground-truth boxes: one number for
detection and association together. IDF1 is the F1 score of boxes given the right identity, after
the best one-to-one matching of whole tracks: it punishes a track that changes vehicle, or a
vehicle that changes track, for as long as that lasts. A hypothesis box matches a ground-truth box
at IoU >= iou_threshold (0.5, the MOTChallenge's). The IoU matrix is the course's own
(`utils.detection.boxes.iou_matrix`): motmetrics 1.4's `distances.iou_matrix` calls `np.asfarray`,
which NumPy 2 removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from utils.course.checks import number_in
from utils.detection.boxes import iou_matrix

METRICS = ("mota", "idf1", "num_switches", "num_false_positives", "num_misses", "num_objects", "motp", "precision",
           "recall")


def _frames(tracks: object, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    if not isinstance(tracks, dict) or "boxes" not in tracks or "ids" not in tracks:
        raise ValueError(f"{name}: expected per-frame tracks {{'boxes': [...], 'ids': [...]}}, got "
                         f"{type(tracks).__name__}")
    boxes, ids = list(tracks["boxes"]), list(tracks["ids"])
    if len(boxes) != len(ids):
        raise ValueError(f"{name} has {len(boxes)} frames of boxes and {len(ids)} of ids: expected the same")
    out_b, out_i = [], []
    for f, (b, i) in enumerate(zip(boxes, ids)):
        b, i = np.asarray(b, np.float32).reshape(-1, 4), np.asarray(i).reshape(-1)
        if len(b) != len(i) or not np.isfinite(b).all() or (b[:, 2:] < b[:, :2]).any():
            raise ValueError(f"{name}, frame {f}: {len(b)} boxes and {len(i)} ids: expected one id per finite xyxy "
                             "box with x2 >= x1 and y2 >= y1")
        out_b.append(b)
        out_i.append(i)
    return out_b, out_i


def mot_metrics(gt: Sequence[dict], hyp: Sequence[dict], iou_threshold: float = 0.5) -> dict[str, float]:
    """MOTA, IDF1, ID switches, false positives, misses, ... over several sequences (motmetrics' OVERALL row).

    gt, hyp: one per-frame track dict per sequence ({"boxes", "ids"}, see `utils.tracking.linking`),
    the same number of frames in each pair.
    """
    import motmetrics as mm

    iou_threshold = number_in(iou_threshold, "iou_threshold", 0.0, 1.0, low_open=True)
    if isinstance(gt, dict) or isinstance(hyp, dict) or len(gt) != len(hyp) or not len(gt):
        raise ValueError("gt and hyp: expected two lists of per-frame track dicts, one per sequence, of the same "
                         "non-zero length")
    accumulators = []
    for n, (g, h) in enumerate(zip(gt, hyp)):
        (gb, gi), (hb, hi) = _frames(g, f"gt[{n}]"), _frames(h, f"hyp[{n}]")
        if len(gb) != len(hb):
            raise ValueError(f"gt[{n}] has {len(gb)} frames and hyp[{n}] {len(hb)}: expected the same")
        acc = mm.MOTAccumulator(auto_id=True)
        for f in range(len(gb)):
            iou = iou_matrix(gb[f], hb[f])
            acc.update(gi[f].tolist(), hi[f].tolist(), np.where(iou >= iou_threshold, 1.0 - iou, np.nan))
        accumulators.append(acc)
    summary = mm.metrics.create().compute_many(accumulators, metrics=list(METRICS),
                                               names=[str(i) for i in range(len(accumulators))],
                                               generate_overall=True)
    row = summary.loc["OVERALL"]
    return {k: float(row[k]) for k in METRICS}


def grid_search(truth: Sequence[dict], track: Callable[..., Sequence[dict]],
                grid: dict[str, Sequence]) -> tuple[dict, list[tuple[dict, dict[str, float]]]]:
    """The setting of `track(**setting)` with the highest MOTA (ties: IDF1) over every combination of grid's values,
    and each (setting, metrics) tried. track(**setting) returns per-sequence tracks for the sequences of truth."""
    from itertools import product

    if not isinstance(grid, dict) or not grid or any(not len(v) for v in grid.values()):
        raise ValueError(f"grid={grid!r}: expected a dict of setting names to non-empty sequences of values")
    tried = []
    for values in product(*grid.values()):
        setting = dict(zip(grid, values))
        tried.append((setting, mot_metrics(truth, track(**setting))))
    best = max(tried, key=lambda t: (t[1]["mota"], t[1]["idf1"]))
    return best[0], tried
