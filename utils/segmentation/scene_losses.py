"""Notebook 06's runs, trained offline: the same small U-Net on scenes of one rare object, once per loss and seed.

`python -m utils.train scene_losses --study NAME --losses ce soft_dice --seeds 0 1 2 --epochs 8` trains, for each
loss and seed, the U-Net of notebook 06 (depth 2, 8 filters, no batch normalization, one sigmoid channel) on the
same scenes (drawn from scene seed 0, so every run is scored on the same held-out scenes: paired items), with Adam
and a cosine decay that spans the run's every step. The seed fixes the initial weights and the order and flips of
the batches; the losses of one seed share both. Each run is saved as `data/runs/NAME/LOSS_seedK.weights.h5` beside
its provenance (`LOSS_seedK.json`): the command, the study's configuration, epochs planned and done, steps, wall
time and device, the held-out foreground Dice and objects found after every epoch, and each held-out scene's
Dice at the end. `--resume` skips the runs already done with the same configuration, so a study stopped half way
goes on where it stopped; a run is never cut short (no time limit), so every run ends its schedule.

The losses (`LOSSES`): binary cross-entropy; cross-entropy with balanced class weights; the lecture's Soft Dice
(per image or over the batch); the foreground + background Soft Dice of Deep BV; Soft Dice + cross-entropy; and
the focal loss as Lin et al. (2017) define it (α = 0.25, γ = 2, normalized by the foreground pixels, the last
layer's bias initialized to the prior π = 0.01).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from utils.course.cli import recorded_command

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

    def builder_kwargs(self) -> dict[str, Any]:
        """The U-Net's arguments, as the checkpoint's provenance records them."""
        return {"input_shape": [self.image_size, self.image_size, 3], "n_classes": 1, "depth": self.depth,
                "filters": self.filters, "batch_norm": self.batch_norm, "final_activation": "sigmoid"}

    def as_record(self) -> dict[str, Any]:
        """The configuration as plain JSON values (tuples as lists), to compare with a saved run's."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def runs_dir(study: str) -> Path:
    """data/runs/STUDY: the weights and provenance of one study's runs."""
    from utils.course.paths import repo_root

    if not isinstance(study, str) or not study.replace("_", "").isalnum() or not study.islower():
        raise ValueError(f"study={study!r}: expected a lower-case name of letters, digits and _ (a folder name)")
    return repo_root() / "data" / "runs" / study


def run_name(loss: str, seed: int) -> str:
    """The file name of a run, without its suffix: LOSS_seedK."""
    from utils.course.checks import one_of

    one_of(loss, "loss", LOSSES)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r}: expected a non-negative integer")
    return f"{loss}_seed{int(seed)}"


def scenes(study: Study):
    """The study's training and held-out scenes (the same for every run of it)."""
    from utils.data.scenes import make_scenes

    drawn = make_scenes(study.n_train + study.n_test, size=study.image_size, n_objects=study.n_objects,
                        object_size=study.object_size, seed=study.scene_seed)
    return drawn[:study.n_train], drawn[study.n_train:]


def binary_dataset(train, batch_size: int, seed: int):
    """The training scenes as (image, (H, W, 1) float foreground mask) batches; the same seed, the same batches."""
    import tensorflow as tf

    from utils.data.scenes import scene_dataset

    return scene_dataset(train, batch_size, shuffle=True, augment=True, seed=seed).map(
        lambda x, y: (x, tf.cast(y > 0, tf.float32)[..., None]))


def make_loss(loss: str, study: Study, train_fg: float):
    """The Keras loss named `loss` (one of LOSSES); train_fg, the training scenes' foreground fraction, sets the
    balanced class weights N / (2 N_c) of weighted_ce."""
    import keras

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
    run_name(loss, 0)  # refuses an unknown loss
    return made[loss]()


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


def train_run(study: Study, loss: str, seed: int, train, test) -> tuple[Any, dict[str, Any]]:
    """Train one run to the end of its schedule; return the model and its record (curves and final scores)."""
    import keras

    from utils.nn.training import train as train_model

    masks = (test.masks > 0)[..., None]
    curves: dict[str, list[float]] = {"dice": [], "found": []}

    class HeldOut(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            s = scene_scores(masks, self.model.predict(test.images, batch_size=50, verbose=0))
            curves["dice"].append(round(s["dice"], 6))
            curves["found"].append(round(s["found"], 6))

    keras.utils.set_random_seed(seed)
    net = build(study, loss)
    run = train_model(net, binary_dataset(train, study.batch_size, seed), loss=make_loss(
        loss, study, float(np.mean(train.masks > 0))), epochs=study.epochs, learning_rate=study.learning_rate,
        callbacks=[HeldOut()])
    final = scene_scores(masks, net.predict(test.images, batch_size=50, verbose=0))
    return net, {"loss": loss, "seed": seed, "epochs": run.epochs, "steps": run.steps,
                 "seconds": round(run.seconds, 1), "history": {"loss": run.history["loss"], **curves},
                 "final": final}


def load_run(study: str, loss: str, seed: int):
    """The model of one saved run and its provenance record."""
    from utils.course.checkpoints import load_checkpoint, read_provenance

    name, directory = run_name(loss, seed), runs_dir(study)
    return load_checkpoint(name, directory=directory), read_provenance(name, directory)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train every (loss, seed) run of a study that is not done yet."""
    parser = argparse.ArgumentParser(prog="python -m utils.train scene_losses", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["scene_losses"])
    parser.add_argument("--study", required=True, help="the folder under data/runs/")
    parser.add_argument("--losses", nargs="+", choices=LOSSES, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    defaults = Study()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--object-size", type=int, nargs=2, default=list(defaults.object_size))
    parser.add_argument("--objects", type=int, nargs=2, default=list(defaults.n_objects), help="min and max per scene")
    parser.add_argument("--train-scenes", type=int, default=defaults.n_train)
    parser.add_argument("--test-scenes", type=int, default=defaults.n_test)
    parser.add_argument("--batch-norm", action="store_true")
    parser.add_argument("--per-batch", action="store_true", help="Soft Dice over the batch instead of per image")
    parser.add_argument("--resume", action="store_true", help="skip the runs already saved with this configuration")
    args = parser.parse_args(argv)
    for flag in ("epochs", "image_size", "train_scenes", "test_scenes"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected a positive integer")
    if any(s < 0 for s in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds {args.seeds}: expected distinct non-negative integers")
    if args.image_size % 4:
        parser.error(f"--image-size {args.image_size}: expected a multiple of 4 (the U-Net's two poolings)")
    study = Study(image_size=args.image_size, object_size=tuple(args.object_size), n_objects=tuple(args.objects),
                  n_train=args.train_scenes, n_test=args.test_scenes, epochs=args.epochs,
                  batch_norm=args.batch_norm, per_image=not args.per_batch)
    directory = runs_dir(args.study)
    todo = [(loss, seed) for seed in args.seeds for loss in args.losses]
    done = [run_name(*r) for r in todo if (directory / f"{run_name(*r)}.json").exists()]
    if done and not args.resume:
        parser.error(f"{directory} already holds {', '.join(done)}: add --resume to skip them, or choose --study")
    command = recorded_command(argv)

    from utils.course.session import device_description, quiet_tensorflow

    quiet_tensorflow()
    import keras

    from utils.course.checkpoints import read_provenance, save_checkpoint
    from utils.course.speed import cpu_gflops

    for name in done:
        saved = read_provenance(name, directory)
        if saved["study"] != study.as_record():
            parser.error(f"{directory / name}.json was trained with {saved['study']}, not {study.as_record()}: "
                         "expected the same configuration to resume, or another --study")
    train, test = scenes(study)
    speed = round(cpu_gflops(), 1)
    for loss, seed in todo:
        name = run_name(loss, seed)
        if name in done:
            print(f"{name}: done, skipped", flush=True)
            continue
        t0 = time.time()
        net, record = train_run(study, loss, seed, train, test)
        record.update({"command": command, "study": study.as_record(), "epochs_planned": study.epochs,
                       "wall_s": round(time.time() - t0, 1), "device": device_description(),
                       "backend": keras.backend.backend(), "keras": keras.__version__, "cpu_gflops": speed})
        save_checkpoint(net, name, BUILDER, study.builder_kwargs(), record, directory)
        print(f"{name}: {record['epochs']} epochs in {record['seconds']:.0f} s; held-out Dice per epoch "
              + " ".join(f"{d:.2f}" for d in record["history"]["dice"]), flush=True)
