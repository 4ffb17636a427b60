"""Notebook 11's detectors, trained offline at matched budgets: Faster R-CNN, SSD and YOLO, several seeds each.

`python -m utils.train detector_runs --variants ... --seeds 0 1 2` trains, for each variant and training
seed, one detector on notebook 11's scenes (128 x 128, one to four shapes, training seed 1) to the end
of its cosine schedule, and scores it on held-out scenes. The variants:

- `faster_rcnn`, `ssd`, `yolo`: the lecture's speed-vs-accuracy comparison. Every arm sees the same
  `train_scenes` scenes `epochs` times, in the order its seed shuffles, without flips (notebook 10's
  shipped checkpoint was trained with flips, for 8 epochs): the same images seen. Each keeps its own
  optimizer settings (Faster R-CNN: batch 8, Adam 2e-3 decaying to 1 % with gradients clipped at norm 5,
  as its shipped checkpoint; YOLO and SSD: batch 16, Adam 4e-3 decaying to 0, as notebook 11), so the
  number of optimizer steps differs (recorded);
- the reduced budget of notebook 11's questions (`reduced_epochs` on the first `reduced_scenes`
  scenes), one change against its baseline each: `yolo_short` against `yolo_short_squared` (v1's
  squared-error confidence), `ssd_short` against `ssd_short_all_negatives` (no hard negative mining),
  and `yolo_short_small`, `ssd_short_small` (objects of 8-20 px instead of 20-48, trained and scored on
  such scenes).

Every run is scored the same way: all the detections each model emits (score >= 0, at most 20 per
image after per-class NMS at IoU 0.5, Faster R-CNN's threshold lowered from its default 0.05 to 0 to
match) through pycocotools on `test_scenes` held-out scenes (seed 2) and on each of `folds` equal,
disjoint groups of them (the items of notebook 11's intervals); the best-F1 score threshold is chosen on
`val_scenes` validation scenes (seed 3), never on the test scenes. Each run is saved as
`data/runs/STUDY/VARIANT_seedK.{weights.h5,json}` with its provenance (`utils.course.studies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from utils.course.checks import one_of
from utils.course.studies import StudyConfig, parse_study, seed_run_name, study_parser, train_study

SCENES = {"size": 128, "n_objects": (1, 4)}       # notebook 11's scenes, with object_size by budget
OBJECT_SIZE, SMALL_OBJECT_SIZE = (20, 48), (8, 20)
TRAIN_SEED, TEST_SEED, VAL_SEED = 1, 2, 3
MAX_DETECTIONS, NMS_IOU, MIN_SCORE = 20, 0.5, 0.0
# variant: (detector, the loss's options, budget)
VARIANTS: dict[str, tuple[str, dict[str, Any], str]] = {
    "faster_rcnn": ("faster_rcnn", {}, "full"),
    "ssd": ("ssd", {}, "full"),
    "yolo": ("yolo", {}, "full"),
    "yolo_short": ("yolo", {}, "reduced"),
    "yolo_short_squared": ("yolo", {"confidence": "squared"}, "reduced"),
    "ssd_short": ("ssd", {}, "reduced"),
    "ssd_short_all_negatives": ("ssd", {"hard_negatives": False}, "reduced"),
    "yolo_short_small": ("yolo", {}, "small"),
    "ssd_short_small": ("ssd", {}, "small"),
}
BUILDERS = {"faster_rcnn": "utils.detection.rcnn:faster_rcnn", "ssd": "utils.detection.single_shot:ssd_model",
            "yolo": "utils.detection.single_shot:yolo_model"}


@dataclass(frozen=True)
class Study(StudyConfig):
    """What every run of the study shares: the data, the budgets and the optimizers."""

    train_scenes: int = 6000
    epochs: int = 4
    reduced_scenes: int = 2000
    reduced_epochs: int = 3
    test_scenes: int = 300
    val_scenes: int = 300
    folds: int = 10
    single_shot_batch: int = 16
    single_shot_lr: float = 4e-3
    rcnn_batch: int = 8
    rcnn_lr: float = 2e-3

    def epochs_of(self, variant: str) -> int:
        """The planned epochs of a variant's runs: its budget's."""
        return self.epochs if VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][2] == "full" else \
            self.reduced_epochs


def run_name(variant: str, seed: int) -> str:
    """The file name of a run, without its suffix: VARIANT_seedK."""
    return seed_run_name(variant, seed, VARIANTS)


def builder(variant: str) -> str:
    """The checkpoint builder ("module:function") of a variant."""
    return BUILDERS[VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][0]]


def builder_kwargs(variant: str, seed: int) -> dict[str, Any]:
    """The builder's arguments of a variant: Faster R-CNN with every detection kept (score >= 0)."""
    detector = VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][0]
    return {"pooler": "align", "seed": seed, "score_threshold": MIN_SCORE} if detector == "faster_rcnn" else {}


def object_size(variant: str) -> tuple[int, int]:
    """The object diameters of a variant's training and test scenes."""
    return SMALL_OBJECT_SIZE if VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][2] == "small" else OBJECT_SIZE


@cache
def scenes(n: int, seed: int, size: tuple[int, int] = OBJECT_SIZE):
    """n scenes of the study (one draw per (n, seed, object size), shared by the runs of a process)."""
    from utils.data.scenes import make_scenes

    return make_scenes(n, seed=seed, object_size=size, **SCENES)


@cache
def uint8_images(n: int, seed: int, size: tuple[int, int] = OBJECT_SIZE) -> np.ndarray:
    """The scenes' images as 8 bits per channel, as the detectors read them."""
    from utils.data.pixels import to_uint8

    return to_uint8(scenes(n, seed, size).images)


def detector_of(model, detector: str):
    """The compiled detect function (uint8 batch -> padded detections) of a trained model, one setting for all."""
    from utils.detection.inference import make_detector
    from utils.detection.rcnn import rcnn_detector
    from utils.detection.single_shot import ssd_decode, yolo_decode

    if one_of(detector, "detector", tuple(BUILDERS)) == "faster_rcnn":
        if (model.score_threshold, model.max_detections) != (MIN_SCORE, MAX_DETECTIONS):
            raise ValueError(f"the Faster R-CNN keeps detections of score >= {model.score_threshold}, at most "
                             f"{model.max_detections}: expected {MIN_SCORE} and {MAX_DETECTIONS}, as for the others")
        return rcnn_detector(model)
    decode = ssd_decode if detector == "ssd" else yolo_decode
    return make_detector(model, decode, max_detections=MAX_DETECTIONS, iou_threshold=NMS_IOU,
                         score_threshold=MIN_SCORE)


def detections(detect, images: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per-image (boxes, scores, labels) of a detect function (`detector_of`) over uint8 images."""
    from utils.detection.inference import detect_all

    return detect_all(detect, images)


def score(dets, data, folds: int) -> dict[str, Any]:
    """mAP@0.5 and mAP@[.5:.95] of detections on scenes, overall and on each of `folds` equal, disjoint groups."""
    from utils.detection.evaluation import coco_map

    n = len(data.boxes)
    if n % folds:
        raise ValueError(f"{n} scenes in {folds} folds: expected a number of scenes divisible by the folds")
    whole = coco_map(data.boxes, data.labels, *dets, data.class_names)
    out: dict[str, Any] = {"map50": round(whole["map50"], 5), "map5095": round(whole["map5095"], 5),
                           "fold_map50": [], "fold_map5095": []}
    step = n // folds
    for s in range(0, n, step):
        part = coco_map(data.boxes[s:s + step], data.labels[s:s + step], *(d[s:s + step] for d in dets),
                        data.class_names)
        out["fold_map50"].append(round(part["map50"], 5))
        out["fold_map5095"].append(round(part["map5095"], 5))
    return out


def f1_threshold(dets, data) -> tuple[float, float]:
    """The score threshold with the best F1 at IoU 0.5 on scenes (validation scenes: never the test set's)."""
    from utils.detection.evaluation import agreement, best_f1_threshold

    pairs = agreement(dets[0], dets[2], data.boxes, data.labels, iou_threshold=0.5)
    return best_f1_threshold(pairs, dets[1])


def evaluate(model, study: Study, variant: str) -> dict[str, Any]:
    """A trained model's scores: on the test scenes (overall and per fold) and its best-F1 threshold on validation."""
    detector, size = VARIANTS[variant][0], object_size(variant)
    detect = detector_of(model, detector)
    test = scenes(study.test_scenes, TEST_SEED, size)
    out = score(detections(detect, uint8_images(study.test_scenes, TEST_SEED, size)), test, study.folds)
    threshold, f1 = f1_threshold(detections(detect, uint8_images(study.val_scenes, VAL_SEED, size)),
                                 scenes(study.val_scenes, VAL_SEED, size))
    out.update(val_f1_threshold=threshold, val_f1=round(f1, 5))
    return out


def training_data(study: Study, variant: str, seed: int):
    """What `utils.nn.training.train` fits for a run: (x, y) arrays for YOLO and SSD, a dataset for Faster R-CNN."""
    from utils.detection.single_shot import ssd_targets, yolo_targets

    detector = VARIANTS[variant][0]
    data = scenes_of(study, variant)
    if detector == "faster_rcnn":
        from utils.detection.rcnn import rcnn_dataset

        return rcnn_dataset(data, study.rcnn_batch, augment=False, seed=seed), None
    targets = yolo_targets(data)[0] if detector == "yolo" else ssd_targets(data)
    return uint8_images(len(data), TRAIN_SEED, object_size(variant)), targets


def train_run(study: Study, variant: str, seed: int) -> tuple[Any, dict[str, Any]]:
    """Train one run to the end of its schedule; return the model and its record (with its scores)."""
    import keras

    from utils.course.checkpoints import build_from_provenance
    from utils.detection.single_shot import ssd_loss, yolo_loss
    from utils.nn.training import train

    detector, options, _ = VARIANTS[one_of(variant, "variant", tuple(VARIANTS))]
    keras.utils.set_random_seed(seed)
    net = build_from_provenance({"name": variant, "builder": builder(variant),
                                 "builder_kwargs": builder_kwargs(variant, seed)})
    x, y = training_data(study, variant, seed)
    epochs = study.epochs_of(variant)
    if detector == "faster_rcnn":
        run = train(net, x, loss=None, epochs=epochs, learning_rate=study.rcnn_lr, alpha=0.01, clipnorm=5.0)
    else:
        loss = yolo_loss(**options) if detector == "yolo" else ssd_loss(**options)
        run = train(net, x, y, loss=loss, epochs=epochs, batch_size=study.single_shot_batch,
                    learning_rate=study.single_shot_lr)
    record = {"variant": variant, "seed": seed, "epochs": run.epochs, "epochs_planned": epochs, "steps": run.steps,
              "seconds": round(run.seconds, 1), "images_seen": run.epochs * len(scenes_of(study, variant)),
              "history": run.history, "scores": evaluate(net, study, variant)}
    return net, record


def scenes_of(study: Study, variant: str):
    """The training scenes of a variant."""
    n = study.train_scenes if VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][2] == "full" else \
        study.reduced_scenes
    return scenes(n, TRAIN_SEED, object_size(variant))


def load_run(study: str, variant: str, seed: int):
    """The model of one saved run and its provenance record."""
    from utils.course.studies import load_saved_run

    return load_saved_run(study, run_name(variant, seed))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train every (variant, seed) run of a study that is not done yet."""
    defaults = Study()
    flags = ("train_scenes", "epochs", "reduced_scenes", "reduced_epochs", "test_scenes", "val_scenes", "folds",
             "single_shot_batch", "rcnn_batch")
    parser = study_parser("detector_runs", __doc__, "detectors", VARIANTS, ["faster_rcnn", "ssd", "yolo"], defaults,
                          flags)
    parser.add_argument("--lr", type=float, default=defaults.single_shot_lr, help="YOLO's and SSD's")
    parser.add_argument("--rcnn-lr", type=float, default=defaults.rcnn_lr)
    args, values = parse_study(parser, argv, flags, least={"folds": 2})
    if args.test_scenes % args.folds or args.test_scenes < 2 * args.folds:
        parser.error(f"--test-scenes {args.test_scenes} in --folds {args.folds}: expected a multiple of the folds, "
                     "at least two scenes each")
    if not args.rcnn_lr > 0:
        parser.error(f"--rcnn-lr {args.rcnn_lr}: expected a positive learning rate")
    study = Study(**values, single_shot_lr=args.lr, rcnn_lr=args.rcnn_lr)
    # seed by seed, so that a run cut short leaves every arm with the same seeds done
    runs = {run_name(variant, seed): (variant, seed) for seed in args.seeds for variant in args.variants}

    def summary(name: str, record: dict[str, Any]) -> str:
        s = record["scores"]
        return (f"{name}: {record['epochs']} epochs ({record['steps']} steps) in {record['seconds']:.0f} s; test "
                f"mAP@0.5 {s['map50']:.3f}, mAP@[.5:.95] {s['map5095']:.3f}; validation best-F1 threshold "
                f"{s['val_f1_threshold']:.2f}")

    train_study(parser, args, argv, study, list(runs), lambda name: train_run(study, *runs[name]),
                builder=lambda name: builder(runs[name][0]),
                builder_kwargs=lambda name: builder_kwargs(*runs[name]),
                same_study=lambda saved: Study(**saved) == study, summary=summary)
