"""Notebook 09's questions 1-3, trained offline: one change to the single-object network at a time, several seeds.

`python -m utils.train localizer_runs --seeds 0 1 2` trains, for each variant and training seed,
`utils.detection.localizer.classify_and_localize` on notebook 09's single-object training scenes
(`scenes` of 128 x 128, objects of 20-48 px, seed 1) for `epochs` epochs: Adam at 2e-3 with a cosine
decay to 0 over every step, batch 32, loss = class cross-entropy + box_weight x box MAE. By default this
is the notebook's own network at its own budget (4,000 scenes, 5 epochs). The variants, each one change
against `baseline` (box_weight 10):

- `box_weight_0.1`, `box_weight_100`: question 1, the box loss's weight;
- `box_head_global_max`, `class_head_global_average`: question 2, the heads' poolings;
- `momentum_0.99`: question 3, batch normalization's momentum at Keras's default.

The seed fixes the initial weights and the order of the batches. Every run records, for each of
`test_scenes` held-out scenes (seed 2, the notebook's), whether its class is right and the IoU of its box,
with batch normalization's running averages (`class_correct`, `box_iou`) and with each batch's own
statistics (`class_correct_batch_stats`), and the class accuracy on the training scenes both ways. Each
run is saved as `data/runs/STUDY/VARIANT_seedK.{weights.h5,json}` with its provenance
(`utils.course.studies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from utils.course.checks import one_of
from utils.course.studies import StudyConfig, parse_study, seed_run_name, study_parser, train_study

BUILDER = "utils.detection.localizer:classify_and_localize"
SCENES = {"size": 128, "n_objects": 1, "object_size": (20, 48)}
TRAIN_SEED, TEST_SEED = 1, 2
# variant: (classify_and_localize's arguments, box_weight)
VARIANTS: dict[str, tuple[dict[str, Any], float]] = {
    "baseline": ({}, 10.0),
    "box_weight_0.1": ({}, 0.1),
    "box_weight_100": ({}, 100.0),
    "box_head_global_max": ({"box_pool": "global_max"}, 10.0),
    "class_head_global_average": ({"class_pool": "global_average"}, 10.0),
    "momentum_0.99": ({"momentum": 0.99}, 10.0),
}


@dataclass(frozen=True)
class Study(StudyConfig):
    """What every run of the study shares: the scenes and the optimizer."""

    scenes: int = 4000
    test_scenes: int = 500
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 2e-3


def run_name(variant: str, seed: int) -> str:
    """The file name of a run, without its suffix: VARIANT_seedK."""
    return seed_run_name(variant, seed, VARIANTS)


def builder_kwargs(variant: str) -> dict[str, Any]:
    """classify_and_localize's arguments for a variant."""
    return {"num_classes": 3, "size": SCENES["size"], **VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][0]}


@cache
def scenes(n: int, seed: int):
    """The first n single-object scenes of notebook 09's training (seed 1) or held-out (seed 2) scenes."""
    from utils.data.scenes import make_scenes

    return make_scenes(n, **SCENES, seed=seed)


def scores(model, study: Study) -> dict[str, list[float]]:
    """Per held-out scene, with running and with batch statistics, and the training scenes' accuracies."""
    from utils.detection.localizer import class_and_box_scores

    out: dict[str, Any] = {}
    for part, data in (("", scenes(study.test_scenes, TEST_SEED)), ("train_", scenes(study.scenes, TRAIN_SEED))):
        args = (data.images, np.concatenate(data.labels), np.concatenate(data.boxes))
        correct, iou = class_and_box_scores(model, *args, batch_size=study.batch_size)
        batch_correct, _ = class_and_box_scores(model, *args, training=True, batch_size=study.batch_size)
        if part:
            out["train_class_accuracy"] = round(float(correct.mean()), 6)
            out["train_class_accuracy_batch_stats"] = round(float(batch_correct.mean()), 6)
        else:
            out.update(class_correct=correct.tolist(), class_correct_batch_stats=batch_correct.tolist(),
                       box_iou=[round(float(v), 6) for v in iou])
    return out


def train_run(study: Study, variant: str, seed: int) -> tuple[Any, dict[str, Any]]:
    """Train one run to the end of its schedule; return the model and its record."""
    import keras

    from utils.detection.localizer import classify_and_localize, single_object_targets
    from utils.nn.training import train

    keras.utils.set_random_seed(seed)
    net = classify_and_localize(**builder_kwargs(variant))
    data = scenes(study.scenes, TRAIN_SEED)
    run = train(net, data.images, single_object_targets(data), epochs=study.epochs, batch_size=study.batch_size,
                learning_rate=study.learning_rate, loss={"class": "sparse_categorical_crossentropy", "box": "mae"},
                loss_weights={"class": 1.0, "box": VARIANTS[variant][1]})
    return net, {"variant": variant, "seed": seed, "box_weight": VARIANTS[variant][1], "epochs": run.epochs,
                 "steps": run.steps, "seconds": round(run.seconds, 1), "history": run.history,
                 "scores": scores(net, study)}


def load_run(study: str, variant: str, seed: int):
    """The model of one saved run and its provenance record."""
    from utils.course.studies import load_saved_run

    return load_saved_run(study, run_name(variant, seed))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train every (variant, seed) run of a study that is not done yet."""
    defaults = Study()
    flags = ("scenes", "test_scenes", "epochs", "batch_size")
    parser = study_parser("localizer_runs", __doc__, "localizer", VARIANTS, list(VARIANTS), defaults, flags)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    args, values = parse_study(parser, argv, flags)
    study = Study(**values, learning_rate=args.lr)
    runs = {run_name(variant, seed): (variant, seed) for seed in args.seeds for variant in args.variants}

    def summary(name: str, record: dict[str, Any]) -> str:
        s = record["scores"]
        return (f"{name}: {record['epochs']} epochs ({record['steps']} steps) in {record['seconds']:.0f} s; "
                f"held-out class accuracy {np.mean(s['class_correct']):.3f}, mean IoU {np.mean(s['box_iou']):.3f}")

    train_study(parser, args, argv, study, list(runs), lambda name: train_run(study, *runs[name]),
                builder=BUILDER, builder_kwargs=lambda name: builder_kwargs(runs[name][0]),
                same_study=lambda saved: Study(**saved) == study, summary=summary)
