"""The scene U-Nets of notebooks 05 and 06, trained offline: one network per loss and training seed.

`python -m utils.train scene_losses --study NAME --losses ce soft_dice --seeds 0 1 2 --epochs 8` trains, for each
loss and seed, the U-Net of notebook 06 (depth 2, 8 filters, no batch normalization, one sigmoid channel) on the
same scenes (drawn from scene seed 0, so every run is scored on the same held-out scenes: paired items), with Adam
and a cosine decay that spans the run's every step. The seed fixes the initial weights and the order and flips of
the batches; the losses of one seed share both. Each run is saved as `data/runs/NAME/LOSS_seedK.weights.h5` beside
its provenance (`LOSS_seedK.json`): the command, the study's configuration, epochs planned and done, steps, wall
time and device, the held-out foreground Dice and objects found after every epoch, and each held-out scene's
Dice at the end. `--resume` skips the runs already done with the same configuration, so a study stopped half way
goes on where it stopped; a run is never cut short (no time limit), so every run ends its schedule.

With `--classes N` (N > 1) the same command trains notebook 05's multi-class U-Net instead (softmax, the sparse
pixel cross-entropy `ce` only), and records the held-out mean IoU: pooled over every pixel after each epoch, per
scene at the end; `--no-skip` and `--upsampling bilinear` give its ablations.

The losses (`LOSSES`): binary cross-entropy; cross-entropy with balanced class weights; the lecture's Soft Dice
(per image or over the batch); the foreground + background Soft Dice of Deep BV; Soft Dice + cross-entropy; and
the focal loss as Lin et al. (2017) define it (α = 0.25, γ = 2, normalized by the foreground pixels, the last
layer's bias initialized to the prior π = 0.01).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from utils.course.checks import one_of
from utils.course.paths import runs_dir
from utils.course.studies import add_study_arguments, check_seeds_and_rate, train_study

LOSSES = ("ce", "weighted_ce", "soft_dice", "fg_bg_dice", "dice_ce", "focal")
BUILDER = "utils.segmentation.unet:unet"
FOCAL_PRIOR = 0.01  # Lin et al.'s π: the untrained network's foreground probability


@dataclass(frozen=True)
class Study:
    """What every run of a study shares: the scenes, the network and the optimizer (not the loss, not the seed)."""

    image_size: int = 96
    object_size: tuple[int, int] = (5, 7)   # diameter in pixels: about 0.3 % of a 96 x 96 scene
    n_objects: tuple[int, int] = (1, 1)     # (0, 1): some scenes hold no object
    n_train: int = 400
    n_test: int = 100
    scene_seed: int = 0
    epochs: int = 8
    batch_size: int = 8
    depth: int = 2
    filters: int = 8
    batch_norm: bool = False
    per_image: bool = True                  # Soft Dice per image (True) or over the batch
    learning_rate: float = 3e-3
    n_classes: int = 1                      # 1: a binary mask (sigmoid); N > 1: N classes (softmax)
    skip: bool = True                       # the U-Net's skip connections
    upsampling: str = "transpose"           # or "bilinear" (a resize, then a 3x3 convolution)
    min_visible: float = 0.5                # of each object, in the scenes

    def builder_kwargs(self) -> dict[str, Any]:
        """The U-Net's arguments, as the checkpoint's provenance records them."""
        kwargs = {"input_shape": [self.image_size, self.image_size, 3], "n_classes": self.n_classes,
                  "depth": self.depth, "filters": self.filters, "batch_norm": self.batch_norm,
                  "final_activation": "sigmoid" if self.n_classes == 1 else "softmax"}
        if not self.skip or self.upsampling != "transpose":
            kwargs.update(skip=self.skip, upsampling=self.upsampling)
        return kwargs

    def as_record(self) -> dict[str, Any]:
        """The configuration as plain JSON values (tuples as lists), to compare with a saved run's."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def study_from_record(config: dict[str, Any]) -> Study:
    """The Study a run recorded (lists back to tuples; fields added since then take their defaults)."""
    return Study(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})


def run_name(loss: str, seed: int) -> str:
    """The file name of a run, without its suffix: LOSS_seedK."""
    one_of(loss, "loss", LOSSES)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r}: expected a non-negative integer")
    return f"{loss}_seed{int(seed)}"


def scenes(study: Study):
    """The study's training and held-out scenes (the same for every run of it)."""
    from utils.data.scenes import make_scenes

    drawn = make_scenes(study.n_train + study.n_test, size=study.image_size, n_objects=study.n_objects,
                        object_size=study.object_size, min_visible=study.min_visible, seed=study.scene_seed)
    return drawn[:study.n_train], drawn[study.n_train:]


def training_batches(train, study: Study, seed: int):
    """The training scenes in batches, flipped at random: (image, (H, W, 1) float foreground mask) for a binary
    study, (image, (H, W) int label map) for a multi-class one; the same seed, the same batches."""
    import tensorflow as tf

    from utils.data.scenes import scene_dataset

    batches = scene_dataset(train, study.batch_size, shuffle=True, augment=True, seed=seed)
    if study.n_classes > 1:
        return batches
    return batches.map(lambda x, y: (x, tf.cast(y > 0, tf.float32)[..., None]))


def make_loss(loss: str, study: Study, train_fg: float):
    """The Keras loss named `loss` (one of LOSSES); train_fg, the training scenes' foreground fraction, sets the
    balanced class weights N / (2 N_c) of weighted_ce."""
    import keras

    if study.n_classes > 1:
        if loss != "ce":
            raise ValueError(f"loss={loss!r} with n_classes={study.n_classes}: expected 'ce', the only multi-class "
                             "loss of these studies")
        return keras.losses.SparseCategoricalCrossentropy()
    from utils.segmentation.losses import (
        DiceCrossEntropyLoss,
        FgBgDiceLoss,
        FocalLoss,
        SoftDiceLoss,
        WeightedCategoricalCrossentropy,
    )

    made = {
        "ce": lambda: keras.losses.BinaryCrossentropy(),
        "weighted_ce": lambda: WeightedCategoricalCrossentropy(class_weights=balanced_weights(train_fg)),
        "soft_dice": lambda: SoftDiceLoss(per_image=study.per_image),
        "fg_bg_dice": lambda: FgBgDiceLoss(per_image=study.per_image),
        "dice_ce": lambda: DiceCrossEntropyLoss(per_image=study.per_image),
        "focal": lambda: FocalLoss(alpha=0.25, gamma=2.0),
    }
    return made[one_of(loss, "loss", LOSSES)]()


def balanced_weights(fg_fraction: float) -> list[float]:
    """N / (2 N_c) for background and foreground: each class contributes equally to the weighted cross-entropy."""
    from utils.course.checks import number_in

    fg = number_in(fg_fraction, "fg_fraction", 0.0, 1.0, low_open=True, high_open=True)
    return [0.5 / (1.0 - fg), 0.5 / fg]


def build(study: Study, loss: str):
    """The study's U-Net, its last bias set to Lin et al.'s prior for the focal loss (call after seeding)."""
    from utils.segmentation.losses import prior_bias
    from utils.segmentation.unet import unet

    net = unet(**study.builder_kwargs())
    if loss == "focal":
        kernel, bias = net.get_layer("scores").get_weights()
        net.get_layer("scores").set_weights([kernel, np.full_like(bias, prior_bias(FOCAL_PRIOR))])
    return net


def scene_scores(masks: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Held-out scores of predicted probabilities (n, H, W, 1) against true masks: the foreground Dice and IoU
    over all pixels, each scene's Dice (1 for a scene with no object and no false pixel), the fraction of
    objects found (a pixel >= threshold on the object), the predicted/true foreground ratio, and the false
    pixels per scene without an object (found and false_pixels_empty are None where no scene has an object, or
    none is empty)."""
    from utils.segmentation.metrics import dice, iou

    truth, probs = np.asarray(masks) > 0, np.asarray(probs)
    if truth.shape != probs.shape:
        raise ValueError(f"probs has shape {probs.shape} but masks {truth.shape}: expected the same shape")
    predicted = probs >= threshold
    has_object = truth.reshape(len(truth), -1).any(axis=1)
    empty = ~has_object
    return {
        "dice": dice(truth, probs, threshold), "iou": iou(truth, probs, threshold),
        "scene_dice": [dice(t, p, threshold) for t, p in zip(truth, probs)],
        "found": float(np.mean([(p[t]).any() for t, p in zip(truth[has_object], predicted[has_object])]))
        if has_object.any() else None,
        "ratio": float(predicted.sum() / max(truth.sum(), 1)),
        "false_pixels_empty": float(predicted[empty].reshape(int(empty.sum()), -1).sum(axis=1).mean())
        if empty.any() else None,
    }


def class_scores(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Held-out scores of class probabilities (n, H, W, C) against label maps (n, H, W): the mean IoU and each
    class's IoU over all pixels (`utils.segmentation.metrics`), and each scene's mean IoU over the classes present
    in its truth or its prediction."""
    from utils.segmentation.metrics import confusion_matrix, iou_from_confusion, mean_iou, per_class_iou

    labels, probs = np.asarray(labels), np.asarray(probs)
    if probs.ndim != 4 or labels.shape != probs.shape[:3]:
        raise ValueError(f"probs has shape {probs.shape} and labels {labels.shape}: expected (n, H, W, C) and "
                         "(n, H, W)")
    n_classes = probs.shape[-1]
    predicted = probs.argmax(axis=-1)
    # a class absent from both a scene's truth and its prediction has IoU NaN there: left out
    scene_miou = [float(np.nanmean(iou_from_confusion(confusion_matrix(t, p, n_classes))))
                  for t, p in zip(labels, predicted)]
    return {"miou": mean_iou(labels, predicted, n_classes),
            "iou": [float(v) for v in per_class_iou(labels, predicted, n_classes)], "scene_miou": scene_miou}


def evaluate(study: Study, model, test) -> dict[str, Any]:
    """The held-out scores of a study's model: scene_scores (binary) or class_scores (multi-class)."""
    probs = model.predict(test.images, batch_size=50, verbose=0)
    if study.n_classes > 1:
        return class_scores(np.asarray(test.masks), probs)
    return scene_scores((test.masks > 0)[..., None], probs)


def train_run(study: Study, loss: str, seed: int, train, test) -> tuple[Any, dict[str, Any]]:
    """Train one run to the end of its schedule; return the model and its record (curves and final scores)."""
    import keras

    from utils.nn.training import train as train_model

    keys = ("miou",) if study.n_classes > 1 else ("dice", "found")
    curves: dict[str, list[float]] = {key: [] for key in keys}

    class HeldOut(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            s = evaluate(study, self.model, test)
            for key in keys:
                curves[key].append(round(s[key], 6))

    keras.utils.set_random_seed(seed)
    net = build(study, loss)
    run = train_model(net, training_batches(train, study, seed), loss=make_loss(
        loss, study, float(np.mean(train.masks > 0))), epochs=study.epochs, learning_rate=study.learning_rate,
        callbacks=[HeldOut()])
    final = evaluate(study, net, test)
    return net, {"loss": loss, "seed": seed, "epochs": run.epochs, "steps": run.steps,
                 "seconds": round(run.seconds, 1), "history": {"loss": run.history["loss"], **curves},
                 "final": final}


def load_run(study: str, loss: str, seed: int):
    """The model of one saved run and its provenance record."""
    from utils.course.studies import load_saved_run

    return load_saved_run(study, run_name(loss, seed))


def study_config(study: str) -> Study:
    """The configuration that every run saved in data/runs/STUDY shares (refused if they disagree, or none is)."""
    import json

    folder = runs_dir(study)
    configs = {study_from_record(json.loads(p.read_text())["study"]) for p in sorted(folder.glob("*.json"))}
    if not configs:
        known = sorted(p.name for p in folder.parent.iterdir()) if folder.parent.is_dir() else []
        raise FileNotFoundError(f"study={study!r}: no runs in {folder}; expected one of {known}")
    if len(configs) > 1:
        raise ValueError(f"the runs in {folder} were trained with {len(configs)} configurations: expected one")
    return configs.pop()


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train every (loss, seed) run of a study that is not done yet."""
    parser = argparse.ArgumentParser(prog="python -m utils.train scene_losses", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["scene_losses"])
    parser.add_argument("--study", required=True, help="the folder under data/runs/")
    parser.add_argument("--losses", nargs="+", choices=LOSSES, required=True)
    defaults = Study()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--object-size", type=int, nargs=2, default=list(defaults.object_size))
    parser.add_argument("--objects", type=int, nargs=2, default=list(defaults.n_objects), help="min and max per scene")
    parser.add_argument("--train-scenes", type=int, default=defaults.n_train)
    parser.add_argument("--test-scenes", type=int, default=defaults.n_test)
    parser.add_argument("--batch-norm", action="store_true")
    parser.add_argument("--per-batch", action="store_true", help="Soft Dice over the batch instead of per image")
    parser.add_argument("--min-visible", type=float, default=defaults.min_visible, help="of each object")
    parser.add_argument("--depth", type=int, default=defaults.depth, help="the U-Net's poolings")
    parser.add_argument("--filters", type=int, default=defaults.filters, help="its channels at full resolution")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--classes", type=int, default=defaults.n_classes,
                        help="1: a binary mask; N > 1: notebook 05's N classes (background and the shapes)")
    parser.add_argument("--no-skip", action="store_true", help="the U-Net without its skip connections")
    parser.add_argument("--upsampling", choices=["transpose", "bilinear"], default=defaults.upsampling)
    add_study_arguments(parser)
    args = parser.parse_args(argv)
    for flag in ("epochs", "image_size", "train_scenes", "test_scenes", "depth", "filters", "batch_size", "classes"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected a positive integer")
    check_seeds_and_rate(parser, args)
    if args.image_size % 2**args.depth:
        parser.error(f"--image-size {args.image_size}: expected a multiple of {2**args.depth} (the U-Net's "
                     f"{args.depth} poolings)")
    if args.classes > 1 and set(args.losses) != {"ce"}:
        parser.error(f"--losses {' '.join(args.losses)} with --classes {args.classes}: expected ce only")
    study = Study(image_size=args.image_size, object_size=tuple(args.object_size), n_objects=tuple(args.objects),
                  n_train=args.train_scenes, n_test=args.test_scenes, epochs=args.epochs,
                  batch_size=args.batch_size, depth=args.depth, filters=args.filters,
                  batch_norm=args.batch_norm, per_image=not args.per_batch, learning_rate=args.lr,
                  n_classes=args.classes, skip=not args.no_skip, upsampling=args.upsampling,
                  min_visible=args.min_visible)
    runs = {run_name(loss, seed): (loss, seed) for seed in args.seeds for loss in args.losses}
    drawn: list = []                         # the scenes, drawn once, when the first run needs them

    def train_one(name: str):
        if not drawn:
            drawn.extend(scenes(study))
        return train_run(study, *runs[name], *drawn)

    def summary(name: str, record: dict[str, Any]) -> str:
        key = "miou" if study.n_classes > 1 else "dice"
        return (f"{name}: {record['epochs']} epochs in {record['seconds']:.0f} s; held-out {key} per epoch "
                + " ".join(f"{d:.2f}" for d in record["history"][key]))

    train_study(parser, args, argv, study, list(runs), train_one, builder=BUILDER,
                builder_kwargs=lambda name: study.builder_kwargs(),
                same_study=lambda saved: study_from_record(saved) == study, summary=summary)
