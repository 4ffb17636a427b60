"""Detection AP and mAP by pycocotools' COCOeval, from per-image arrays of ground truth and detections.

The ground truth is built in memory as a COCO data set (no image files are needed to score boxes);
detections go through `utils.coco.to_coco_results`, exactly as they would be written for the COCO
server. COCO's AP is the 101-point interpolated precision averaged over classes ("mAP"), at IoU 0.5
(AP@0.5, PASCAL VOC's threshold) or averaged over IoU 0.50, 0.55, ..., 0.95 (AP@[.5:.95]).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np

from utils.coco import to_coco_results


def _per_image(name: str, values: Sequence, n: int | None, kind: str) -> list[np.ndarray]:
    """Per-image arrays: kind "boxes" (N_i, 4) float, "scores" (N_i,) float or "labels" (N_i,) int."""
    if n is not None and len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries: expected one per image ({n})")
    out = []
    for i, v in enumerate(values):
        arr = np.asarray(v, np.int64 if kind == "labels" else np.float64)
        arr = arr.reshape(-1, 4) if kind == "boxes" else arr.reshape(-1)
        if kind != "labels" and arr.size and not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}[{i}] holds non-finite values: expected finite {kind}")
        out.append(arr)
    return out


def coco_ground_truth(gt_boxes: Sequence[np.ndarray], gt_labels: Sequence[np.ndarray],
                      class_names: Sequence[str] | None = None):
    """A pycocotools COCO object holding the ground truth: image i has id i, label c is category c.

    gt_boxes[i] (N_i, 4) xyxy pixels, gt_labels[i] (N_i,) in 1..C. An annotation's area is its box's
    (w * h), which only the small/medium/large breakdown reads.
    """
    from pycocotools.coco import COCO

    boxes = _per_image("gt_boxes", gt_boxes, None, "boxes")
    labels = _per_image("gt_labels", gt_labels, len(boxes), "labels")
    n_classes = len(class_names) - 1 if class_names is not None else max(
        [int(lab.max()) for lab in labels if lab.size] + [1])
    names = tuple(class_names[1:]) if class_names is not None else tuple(f"class {c}" for c in range(1, n_classes + 1))
    annotations = []
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        if len(b) != len(lab):
            raise ValueError(f"image {i} has {len(b)} boxes and {len(lab)} labels: expected as many of each")
        if lab.size and (lab.min() < 1 or lab.max() > n_classes):
            raise ValueError(f"gt_labels[{i}] has labels in [{lab.min()}, {lab.max()}]: expected 1..{n_classes}")
        for (x1, y1, x2, y2), c in zip(b.tolist(), lab.tolist()):
            w, h = x2 - x1, y2 - y1
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(c),
                                "bbox": [x1, y1, w, h], "area": w * h, "iscrowd": 0})
    coco = COCO()
    coco.dataset = {"images": [{"id": i} for i in range(len(boxes))], "annotations": annotations,
                    "categories": [{"id": c, "name": name} for c, name in enumerate(names, start=1)]}
    with contextlib.redirect_stdout(io.StringIO()):  # COCO prints its progress
        coco.createIndex()
    return coco


def coco_map(gt_boxes: Sequence[np.ndarray], gt_labels: Sequence[np.ndarray], boxes: Sequence[np.ndarray],
             scores: Sequence[np.ndarray], labels: Sequence[np.ndarray],
             class_names: Sequence[str] | None = None) -> dict:
    """COCO box AP of detections against ground truth, all per image (xyxy pixels, labels in 1..C).

    Returns {"map5095": AP@[.5:.95], "map50": AP@0.5, "map75": AP@0.75, "ap50_per_class": {name: AP@0.5},
    "precision50": the (101, C) interpolated precision at recall 0, 0.01, ..., 1 and IoU 0.5}. COCO's
    rules apply: only an image's 100 highest-scoring detections count, and a class with no ground
    truth is left out of the means; no detections at all score 0.
    """
    from pycocotools.cocoeval import COCOeval

    coco = coco_ground_truth(gt_boxes, gt_labels, class_names)
    n = len(coco.dataset["images"])
    labels = _per_image("labels", labels, n, "labels")
    cats = coco.getCatIds()
    for i, lab in enumerate(labels):
        if lab.size and (lab.min() < 1 or lab.max() > len(cats)):
            raise ValueError(f"labels[{i}] has labels in [{lab.min()}, {lab.max()}]: expected 1..{len(cats)}")
    results = to_coco_results(list(range(n)), _per_image("boxes", boxes, n, "boxes"),
                              _per_image("scores", scores, n, "scores"), labels)
    names = [coco.cats[c]["name"] for c in cats]
    if not results:
        return {"map5095": 0.0, "map50": 0.0, "map75": 0.0, "ap50_per_class": dict.fromkeys(names, 0.0),
                "precision50": np.zeros((101, len(cats)))}
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(coco, coco.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    # precision: (IoU thresholds, recall thresholds, classes, area ranges, max detections); -1 = no ground truth
    precision = evaluation.eval["precision"][0, :, :, 0, -1]
    per_class = {name: float(np.mean(p)) if np.all(p >= 0) else float("nan") for name, p in zip(names, precision.T)}
    stats = evaluation.stats
    return {"map5095": float(stats[0]), "map50": float(stats[1]), "map75": float(stats[2]),
            "ap50_per_class": per_class, "precision50": precision}
