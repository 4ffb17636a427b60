"""Detection AP and mAP by pycocotools' COCOeval, from per-image arrays of ground truth and detections.

The ground truth is built in memory as a COCO data set (no image files are needed to score boxes);
detections go through `utils.data.coco.to_coco_results`, exactly as they would be written for the COCO
server. COCO's AP is the 101-point interpolated precision averaged over classes ("mAP"), at IoU 0.5
(AP@0.5, PASCAL VOC's threshold) or averaged over IoU 0.50, 0.55, ..., 0.95 (AP@[.5:.95]).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np

from utils.course.checks import class_labels, finite_in, whole_numbers, xyxy_boxes
from utils.data.coco import to_coco_results


def _per_image(name: str, values: Sequence, n: int | None, kind: str) -> list[np.ndarray]:
    """Per-image arrays: kind "boxes" (N_i, 4) float, "scores" (N_i,) float or "labels" (N_i,) int."""
    if n is not None and len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries: expected one per image ({n})")
    if kind == "boxes":
        return [xyxy_boxes(v, f"{name}[{i}]") for i, v in enumerate(values)]
    if kind == "scores":
        return [finite_in(np.asarray(v, np.float64).reshape(-1), f"{name}[{i}]", expected="finite scores")
                for i, v in enumerate(values)]
    return [whole_numbers(np.asarray(v).reshape(-1), f"{name}[{i}]", expected="integer labels 1..C")
            for i, v in enumerate(values)]


def _rle(mask: np.ndarray) -> dict:
    """COCO's run-length encoding of one (H, W) mask, its counts as text (JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _per_image_masks(name: str, masks: Sequence[np.ndarray], boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Per-image (N_i, H, W) masks, one per box of the image."""
    if len(masks) != len(boxes):
        raise ValueError(f"{name} has {len(masks)} entries: expected one per image ({len(boxes)})")
    out = []
    for i, (m, b) in enumerate(zip(masks, boxes)):
        m = np.asarray(m)
        if m.ndim != 3 or len(m) != len(b):
            raise ValueError(f"{name}[{i}] has shape {m.shape}: expected ({len(b)}, H, W), one mask per box")
        out.append(m > 0.5 if m.dtype != bool else m)
    return out


def coco_ground_truth(gt_boxes: Sequence[np.ndarray], gt_labels: Sequence[np.ndarray],
                      class_names: Sequence[str] | None = None, gt_masks: Sequence[np.ndarray] | None = None):
    """A pycocotools COCO object holding the ground truth: image i has id i, label c is category c.

    gt_boxes[i] (N_i, 4) xyxy pixels, gt_labels[i] (N_i,) in 1..C. An annotation's area is its box's
    (w * h), which only the small/medium/large breakdown reads. With gt_masks[i] (N_i, H, W), each
    annotation also holds its instance mask (RLE) and its area is the mask's, for mask AP ("segm"); every
    image, one without objects too (gt_masks[i] of shape (0, H, W)), then records its height and width.
    """
    from pycocotools.coco import COCO

    boxes = _per_image("gt_boxes", gt_boxes, None, "boxes")
    labels = _per_image("gt_labels", gt_labels, len(boxes), "labels")
    masks = None if gt_masks is None else _per_image_masks("gt_masks", gt_masks, boxes)
    n_classes = len(class_names) - 1 if class_names is not None else max(
        [int(lab.max()) for lab in labels if lab.size] + [1])
    names = tuple(class_names[1:]) if class_names is not None else tuple(f"class {c}" for c in range(1, n_classes + 1))
    annotations = []
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        if len(b) != len(lab):
            raise ValueError(f"image {i} has {len(b)} boxes and {len(lab)} labels: expected as many of each")
        class_labels(lab, f"gt_labels[{i}]", n_classes, first=1)
        for k, ((x1, y1, x2, y2), c) in enumerate(zip(b.tolist(), lab.tolist())):
            w, h = x2 - x1, y2 - y1
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(c),
                                "bbox": [x1, y1, w, h], "area": w * h, "iscrowd": 0})
            if masks is not None:
                annotations[-1].update(segmentation=_rle(masks[i][k]), area=float(masks[i][k].sum()))
    # every image has its size with masks, also one without objects (gt_masks[i] (0, H, W)): pycocotools reads it
    # for each mask annotation, a detection's on an object-free image included (a false positive there)
    images = [{"id": i} if masks is None else
              {"id": i, "height": int(masks[i].shape[1]), "width": int(masks[i].shape[2])} for i in range(len(boxes))]
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations,
                    "categories": [{"id": c, "name": name} for c, name in enumerate(names, start=1)]}
    with contextlib.redirect_stdout(io.StringIO()):  # COCO prints its progress
        coco.createIndex()
    return coco


def coco_map(gt_boxes: Sequence[np.ndarray], gt_labels: Sequence[np.ndarray], boxes: Sequence[np.ndarray],
             scores: Sequence[np.ndarray], labels: Sequence[np.ndarray],
             class_names: Sequence[str] | None = None, masks: Sequence[np.ndarray] | None = None,
             gt_masks: Sequence[np.ndarray] | None = None) -> dict:
    """COCO box AP of detections against ground truth, all per image (xyxy pixels, labels in 1..C).

    With masks[i] (N_i, H, W) for the detections and gt_masks[i] for the ground truth, the AP is
    COCO's mask AP ("segm": IoU of the masks, as RLEs) instead of box AP.

    Returns {"map5095": AP@[.5:.95], "map50": AP@0.5, "map75": AP@0.75, "ap50_per_class": {name: AP@0.5},
    "precision50": the (101, C) interpolated precision at recall 0, 0.01, ..., 1 and IoU 0.5}. COCO's
    rules apply: in each image, only the 100 highest-scoring detections *of each class* count
    (COCOeval's maxDets caps per image and category), and a class with no ground truth is left out
    of the means; no detections at all score 0. Images without objects count (their detections are
    false positives), but AP is undefined without any object at all: that is an error.
    """
    from pycocotools.cocoeval import COCOeval

    if (masks is None) != (gt_masks is None):
        raise ValueError("masks and gt_masks: expected both (mask AP) or neither (box AP)")
    coco = coco_ground_truth(gt_boxes, gt_labels, class_names, gt_masks)
    n = len(coco.dataset["images"])
    if not coco.dataset["annotations"]:
        raise ValueError(f"gt_boxes holds no object in its {n} images: expected at least one (AP is undefined "
                         "without ground truth)")
    labels = _per_image("labels", labels, n, "labels")
    cats = coco.getCatIds()
    for i, lab in enumerate(labels):
        class_labels(lab, f"labels[{i}]", len(cats), first=1)
    boxes = _per_image("boxes", boxes, n, "boxes")
    results = to_coco_results(list(range(n)), boxes, _per_image("scores", scores, n, "scores"), labels)
    if masks is not None:
        for r, m in zip(results, (m for per_image in _per_image_masks("masks", masks, boxes) for m in per_image)):
            r["segmentation"] = _rle(m)
    names = [coco.cats[c]["name"] for c in cats]
    if not results:
        return {"map5095": 0.0, "map50": 0.0, "map75": 0.0, "ap50_per_class": dict.fromkeys(names, 0.0),
                "precision50": np.zeros((101, len(cats)))}
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(coco, coco.loadRes(results), "bbox" if masks is None else "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    # precision: (IoU thresholds, recall thresholds, classes, area ranges, max detections); -1 = no ground truth
    precision = evaluation.eval["precision"][0, :, :, 0, -1]
    per_class = {name: float(np.mean(p)) if np.all(p >= 0) else float("nan") for name, p in zip(names, precision.T)}
    stats = evaluation.stats
    return {"map5095": float(stats[0]), "map50": float(stats[1]), "map75": float(stats[2]),
            "ap50_per_class": per_class, "precision50": precision}


# Operating point: at which score to keep detections (what a deployed detector must choose).

def agreement(boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray], gt_boxes: Sequence[np.ndarray],
              gt_labels: Sequence[np.ndarray], iou_threshold: float = 0.5) -> list[np.ndarray]:
    """Per image, the (detections, objects) boolean matrix of pairs that agree: same class and IoU >= iou_threshold."""
    from utils.course.checks import number_in
    from utils.detection.boxes import iou_matrix

    iou_threshold = number_in(iou_threshold, "iou_threshold", 0.0, 1.0, low_open=True)
    n = len(gt_boxes)
    b, lab = _per_image("boxes", boxes, n, "boxes"), _per_image("labels", labels, n, "labels")
    gb, gl = _per_image("gt_boxes", gt_boxes, None, "boxes"), _per_image("gt_labels", gt_labels, n, "labels")
    out = []
    for i in range(n):
        if len(lab[i]) != len(b[i]) or len(gl[i]) != len(gb[i]):
            raise ValueError(f"image {i}: {len(b[i])} boxes with {len(lab[i])} labels and {len(gb[i])} objects with "
                             f"{len(gl[i])} labels: expected one label per box")
        iou = iou_matrix(b[i], gb[i]) if len(b[i]) and len(gb[i]) else np.zeros((len(b[i]), len(gb[i])))
        out.append((np.asarray(iou) >= iou_threshold) & (lab[i][:, None] == gl[i][None, :]))
    return out


def _kept(pairs: Sequence[np.ndarray], scores: Sequence[np.ndarray], min_score: float) -> list[np.ndarray]:
    if len(pairs) != len(scores):
        raise ValueError(f"scores has {len(scores)} entries: expected one per image ({len(pairs)})")
    out = []
    for i, (p, s) in enumerate(zip(pairs, scores)):
        s = np.asarray(s).reshape(-1)
        if len(s) != len(p):
            raise ValueError(f"scores[{i}] has {len(s)} entries: expected one per detection ({len(p)})")
        out.append(np.asarray(p, bool)[s >= min_score])
    return out


def found_objects(pairs: Sequence[np.ndarray], scores: Sequence[np.ndarray], min_score: float) -> list[np.ndarray]:
    """Per image, which objects some detection scoring >= min_score agrees with (see `agreement`)."""
    return [k.any(axis=0) for k in _kept(pairs, scores, min_score)]


def errors_per_image(pairs: Sequence[np.ndarray], scores: Sequence[np.ndarray], min_score: float) -> np.ndarray:
    """Missed objects plus false detections of each image when detections scoring >= min_score are kept."""
    return np.array([int((~k.any(axis=0)).sum() + (~k.any(axis=1)).sum()) for k in _kept(pairs, scores, min_score)])


def detection_counts(pairs: Sequence[np.ndarray], scores: Sequence[np.ndarray],
                     min_score: float) -> tuple[int, int, int]:
    """True positives (objects found), false positives (detections matching nothing) and misses at min_score.

    As in the notebooks' pictures, not COCO's one-to-one matching: two detections of the same object
    are one true positive and no false positive; use AP for the strict count.
    """
    kept = _kept(pairs, scores, min_score)
    tp = sum(int(k.any(axis=0).sum()) for k in kept)
    fn = sum(int((~k.any(axis=0)).sum()) for k in kept)
    fp = sum(int((~k.any(axis=1)).sum()) for k in kept)
    return tp, fp, fn


def best_f1_threshold(pairs: Sequence[np.ndarray], scores: Sequence[np.ndarray],
                      thresholds: Sequence[float] | None = None) -> tuple[float, float]:
    """The score threshold with the highest F1 = 2TP / (2TP + FP + FN) (default 0.05, 0.10, ..., 0.95), and that F1."""
    grid = np.round(np.arange(0.05, 1.0, 0.05), 2) if thresholds is None else np.asarray(thresholds, np.float64)
    if grid.ndim != 1 or not len(grid):
        raise ValueError(f"thresholds={thresholds!r}: expected a non-empty sequence of finite scores")
    finite_in(grid, "thresholds", expected="a non-empty sequence of finite scores")
    f1 = {}
    for t in grid:
        tp, fp, fn = detection_counts(pairs, scores, float(t))
        f1[float(t)] = 2 * tp / max(2 * tp + fp + fn, 1)
    best = max(f1, key=f1.get)
    return best, f1[best]
