"""Long training runs behind notebooks 07 and 08, run as `python -m utils.train MODEL`, MODEL one of VOLUMETRIC.

Every model trains on the same TRAIN volumes (seeded, every challenge on, 64³), each pass over them freshly
augmented (`utils.data.volumes.augment_volume`), and is evaluated on the notebooks' held-out volumes (TEST_SEED),
whose SHA-1 the provenance records so that a notebook can check it sees the same volumes:

- vnet, vnet_separable, vnet_cross (07): V-Net on whole volumes, ventricles and body as two sigmoid channels, Soft Dice;
- unet2d_slices (07): a 2-D U-Net on the axial slices of the same volumes, Soft Dice over each batch of slices;
- deepbv_localizer, deepbv_segmenter (08): Deep BV's window classifier (cross-entropy on balanced windows labelled
  by the lecture's rule) and its segmenter (positive + negative Soft Dice, in windows around the ventricles);
- mouse_coarse, mouse_refine [--structure S] [--autocontext], mouse_end_to_end (08): Deep MOUSE's coarse network,
  its refiners (Soft Dice in regions around the structure; with auto-context, the coarse network's output, loaded
  from its checkpoint, is the second input channel), and all three trained together from those checkpoints.

The provenance beside the weights holds the commands, the epochs and steps, the wall time, each leg's device and
backend (the shipped checkpoints were trained under Keras 3's JAX backend on a GPU, the two auto-context refiners
continued and the end-to-end model trained under TensorFlow on a CPU; the notebooks load them all under TensorFlow),
the per-epoch losses, and the held-out metrics.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import time
from typing import Any

import numpy as np

from utils.course.cli import (
    JIT_COMPILE,
    add_checkpoint_arguments,
    add_continue_argument,
    apply_training_options,
    parse_checkpoint_arguments,
    recorded_command,
)

SIZE = 64
TRAIN_SEED, TEST_SEED = 2016, 46  # 46: the lecture's Table 1 was measured on 46 test volumes
VOLUMETRIC = ("vnet", "vnet_separable", "vnet_cross", "unet2d_slices", "deepbv_localizer", "deepbv_segmenter",
              "mouse_coarse", "mouse_refine", "mouse_end_to_end")
BUILDERS = {
    "vnet": "utils.segmentation.vnet:vnet", "vnet_separable": "utils.segmentation.vnet:vnet",
    "vnet_cross": "utils.segmentation.vnet:vnet",
    "unet2d_slices": "utils.segmentation.unet:unet", "deepbv_localizer": "utils.segmentation.deepbv:localizer",
    "deepbv_segmenter": "utils.segmentation.deepbv:segmenter",
    "mouse_coarse": "utils.segmentation.deepmouse:coarse_net",
    "mouse_refine": "utils.segmentation.deepmouse:refine_net",
    "mouse_end_to_end": "utils.segmentation.deepmouse:end_to_end",
}
STRUCTURES = ("ventricles", "body")


def volumes_digest(volumes) -> str:
    """SHA-1 of the volumes' images and masks: the notebooks check that they evaluate the volumes evaluated here."""
    h = hashlib.sha1()
    for v in volumes:
        for a in (v.image, v.ventricles, v.body):
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def predict_volume(model, image: np.ndarray, slices: bool = False) -> np.ndarray:
    """A whole-volume model's probabilities (D, H, W, C); slices=True runs a 2-D model on each axial slice."""
    if slices:
        return np.asarray(model.predict(image[..., None], batch_size=32, verbose=0))
    return np.asarray(model.predict_on_batch(image[None, ..., None]))[0]


def coarse_outputs(model, volumes) -> list[np.ndarray]:
    """The coarse network's full-resolution probabilities (D, H, W, 2) for each volume (the auto-context input)."""
    from utils.data.volumes import downsample
    from utils.segmentation.deepmouse import FACTOR, upsample

    small = np.stack([downsample(v, FACTOR).image for v in volumes])[..., None]
    probs = np.asarray(model.predict(small, batch_size=16, verbose=0))
    return [upsample(p, FACTOR) for p in probs]


def _setup(args) -> dict[str, Any]:
    """The model, its builder and arguments, its loss, its checkpoint name and its data: one entry per MODEL."""
    from utils.segmentation import deepbv, deepmouse
    from utils.segmentation.losses import FgBgDiceLoss, SoftDiceLoss
    from utils.segmentation.unet import unet
    from utils.segmentation.vnet import vnet

    m = args.model
    if m in ("vnet", "vnet_separable", "vnet_cross"):
        kwargs = {"input_shape": [None, None, None, 1], "n_classes": 2, "base_filters": args.base_filters,
                  "levels": 3, "separable": m == "vnet_separable", "final_activation": "sigmoid", "batch_norm": True,
                  **({"cross": True} if m == "vnet_cross" else {})}
        return {"model": vnet(**kwargs), "kwargs": kwargs, "name": m, "loss": SoftDiceLoss(spatial_dims=3),
                "data": lambda vols, rng: _whole(vols)}
    if m == "unet2d_slices":
        kwargs = {"input_shape": [args.size, args.size, 1], "n_classes": 2, "depth": 3,
                  "filters": 2 * args.base_filters, "final_activation": "sigmoid", "name": "unet2d_slices"}
        return {"model": unet(**kwargs), "kwargs": kwargs, "name": m,
                "loss": SoftDiceLoss(spatial_dims=2, per_image=False), "data": lambda vols, rng: _slices(vols)}
    if m == "deepbv_localizer":
        kwargs = {"window": deepbv.WINDOW, "base_filters": args.base_filters}
        return {"model": deepbv.localizer(**kwargs), "kwargs": kwargs, "name": m, "loss": "binary_crossentropy",
                "metrics": ["binary_accuracy"], "data": lambda vols, rng: deepbv.balanced_windows(vols, rng)}
    if m == "deepbv_segmenter":
        kwargs = {"window": deepbv.WINDOW, "base_filters": args.base_filters}
        return {"model": deepbv.segmenter(**kwargs), "kwargs": kwargs, "name": m,
                "loss": FgBgDiceLoss(spatial_dims=3), "data": lambda vols, rng: deepbv.segmenter_crops(vols, rng)}
    if m == "mouse_coarse":
        kwargs = {"base_filters": args.base_filters}
        return {"model": deepmouse.coarse_net(**kwargs), "kwargs": kwargs, "name": m,
                "loss": SoftDiceLoss(spatial_dims=3), "data": lambda vols, rng: _whole(vols, deepmouse.FACTOR)}
    if m == "mouse_refine":
        name = f"mouse_refine_{'autocontext_' if args.autocontext else ''}{args.structure}"
        kwargs = {"autocontext": args.autocontext, "base_filters": args.base_filters, "name": name}
        coarse = _load("mouse_coarse") if args.autocontext else None

        def refine_data(vols, rng):
            context = coarse_outputs(coarse, vols) if coarse is not None else None
            return deepmouse.refine_crops(vols, args.structure, rng, context)

        return {"model": deepmouse.refine_net(**kwargs), "kwargs": kwargs, "name": name,
                "loss": SoftDiceLoss(spatial_dims=3), "data": refine_data}
    kwargs = {"base_filters": args.base_filters}
    model = deepmouse.end_to_end(**kwargs)
    if not args.resume:  # start from the separately trained parts (Deep MOUSE's end-to-end fine-tuning)
        model.get_layer("mouse_coarse").set_weights(_load("mouse_coarse").get_weights())
        for s in STRUCTURES:
            model.get_layer(f"refine_{s}").set_weights(_load(f"mouse_refine_autocontext_{s}").get_weights())
    loss = SoftDiceLoss(spatial_dims=3)
    return {"model": model, "kwargs": kwargs, "name": m, "loss": [loss, loss, loss],
            "data": lambda vols, rng: deepmouse.end_to_end_batch(vols, rng)}


@functools.cache
def _load(name: str):
    """A shipped checkpoint, loaded once per run."""
    from utils.course.checkpoints import load_checkpoint

    return load_checkpoint(name)


def _whole(volumes, factor: int = 1):
    from utils.data.volumes import downsample, stack_volumes

    if factor > 1:
        volumes = [downsample(v, factor) for v in volumes]
    return stack_volumes(volumes, STRUCTURES)


def _slices(volumes):
    x, y = _whole(volumes)
    return x.reshape(-1, *x.shape[2:]), y.reshape(-1, *y.shape[2:])


def evaluate(args, model, volumes) -> dict[str, float]:
    """Held-out metrics: Dice of ventricles and body (whole-volume models and Deep MOUSE), Dice in the window around
    the ventricles (Deep BV's segmenter), and the localizer's accuracy and the fraction of volumes whose best window
    holds the whole ventricle system."""
    from utils.segmentation import deepbv, deepmouse
    from utils.segmentation.metrics import dice as dice_score
    from utils.segmentation.windows import window_around, window_fractions

    m = args.model
    scores: dict[str, list[float]] = {}

    def add(key, value):
        scores.setdefault(key, []).append(value)

    for v in volumes:
        if m in ("vnet", "vnet_separable", "vnet_cross", "unet2d_slices", "mouse_coarse"):
            if m == "mouse_coarse":
                p = coarse_outputs(model, [v])[0]
            else:
                p = predict_volume(model, v.image, slices=m == "unet2d_slices")
            for c, s in enumerate(STRUCTURES):
                add(f"dice_{s}", dice_score(getattr(v, s), p[..., c] > 0.5))
        elif m == "deepbv_localizer":
            windows, scores_ = deepbv.score_windows(model, v.image)
            best = windows[int(np.argmax(scores_))]
            add("best_window_holds_ventricles", float(window_fractions(v.ventricles, [best])[0] > 0.99))
        elif m == "deepbv_segmenter":
            w = window_around(v.ventricles, deepbv.WINDOW)
            add("dice_ventricles_in_window", dice_score(v.ventricles[w], deepbv.segment_in_window(model, v.image, w)[w]
                                                        > 0.5))
        elif m == "mouse_refine":
            w = window_around(getattr(v, args.structure), deepmouse.ROI[args.structure])
            c = STRUCTURES.index(args.structure)
            context = coarse_outputs(_load("mouse_coarse"), [v])[0][..., c] if args.autocontext else None
            p = np.asarray(model.predict_on_batch(deepmouse.refine_input(v.image, context, w)))[0, ..., 0]
            add(f"dice_{args.structure}_in_region", dice_score(getattr(v, args.structure)[w], p > 0.5))
        else:
            coarse, refiners = deepmouse.parts(model)
            out = deepmouse.coarse_to_fine(v.image, coarse, refiners, autocontext=True)
            for s in STRUCTURES:
                add(f"dice_{s}", dice_score(getattr(v, s), out["masks"][s]))
    return {k: round(float(np.mean(vals)), 4) for k, vals in scores.items()}


def generate(n: int, seed: int, workers: int, size: int = SIZE):
    """n held-out or training volumes (every challenge on), generated in parallel processes when workers > 1."""
    from utils.data.volumes import ultrasound_volume

    seeds = np.random.SeedSequence(seed).spawn(n)  # as ultrasound_volumes(n, seed=seed): volume i is the same
    if workers <= 1:
        return [ultrasound_volume(size, seed=s) for s in seeds]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawned, not forked: a fork of a process that has started JAX's or TensorFlow's threads can deadlock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_volume, seeds, [size] * n, chunksize=max(1, n // (4 * workers))))


def _volume(seed, size: int):
    from utils.data.volumes import ultrasound_volume

    return ultrasound_volume(size, seed=seed)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train one checkpoint of notebooks 07 and 08."""
    parser = argparse.ArgumentParser(prog="python -m utils.train", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=VOLUMETRIC)
    parser.add_argument("--structure", choices=STRUCTURES, default="ventricles", help="mouse_refine's structure")
    parser.add_argument("--autocontext", action="store_true", help="mouse_refine: the coarse output as a 2nd input")
    parser.add_argument("--size", type=int, default=SIZE, help="the volumes' side (tests: 16)")
    parser.add_argument("--train-volumes", type=int, default=400)
    parser.add_argument("--test-volumes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--base-filters", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="processes generating the volumes")
    add_checkpoint_arguments(parser)
    add_continue_argument(parser)
    args = parse_checkpoint_arguments(parser, argv)
    for flag in ("size", "train_volumes", "test_volumes", "epochs", "batch_size", "base_filters", "workers"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected a positive integer")
    if not args.lr > 0:
        parser.error(f"--lr {args.lr}: expected a positive learning rate")
    if args.size % 16:
        parser.error(f"--size {args.size}: expected a multiple of 16 (three halvings of a volume downsampled by 2)")
    if args.size < 64 and args.model.startswith(("deepbv", "mouse_refine", "mouse_end")):
        parser.error(f"--size {args.size}: {args.model} cuts regions of up to 56 voxels; expected --size 64 or more")
    if args.model != "mouse_refine" and (args.autocontext or args.structure != "ventricles"):
        parser.error("--structure and --autocontext apply to mouse_refine only")
    command = recorded_command(argv)

    from utils.course.session import device_description, quiet_tensorflow

    quiet_tensorflow()
    import keras

    options = apply_training_options(args)  # before any model

    from utils.course.checkpoints import begin_leg, finish_leg, in_float32, next_plan, save_checkpoint
    from utils.data.volumes import augment_volume
    from utils.nn.training import train

    keras.utils.set_random_seed(args.seed)
    t0 = time.time()
    train_volumes = generate(args.train_volumes, TRAIN_SEED, args.workers, args.size)
    test_volumes = generate(args.test_volumes, TEST_SEED, 1, args.size)
    setup = _setup(args)
    model, name = setup["model"], args.name or setup["name"]
    before = {"command": None, "epochs": 0, "wall_s": 0.0, "history": {}}
    try:
        state, before, trained_s = begin_leg(name, model, command, before, resume=args.resume,
                                             continuing=args.continue_run)
    except ValueError as err:
        parser.error(str(err))
    t0 -= trained_s

    def fresh(epoch: int):
        rng = np.random.default_rng([args.seed, before["epochs"] + epoch])
        return setup["data"]([augment_volume(v, rng) for v in train_volumes], rng)

    print(f"{model.name}: {model.count_params():,} parameters; {command}", flush=True)
    # each epoch's augmented volumes depend on the epoch alone, so drawing the next one ahead, while this one
    # trains, changes nothing but the time an accelerator waits
    run = train(model, fresh, ahead=True, loss=setup["loss"], metrics=setup.get("metrics"), epochs=args.epochs,
                batch_size=args.batch_size, learning_rate=args.lr, clipnorm=5.0,
                max_seconds=args.minutes * 60 if args.minutes else None, state=state,
                jit_compile=JIT_COMPILE[args.jit_compile])
    model = in_float32(model, BUILDERS[args.model], setup["kwargs"])  # scored as the notebooks use it
    # a continued leg: its epochs before the stop count, their history (never saved) is null
    leg_epochs = run.start_epoch + run.epochs
    history = {k: list(before["history"].get(k, [])) + [None] * run.start_epoch + v for k, v in run.history.items()}
    metrics = evaluate(args, model, test_volumes)
    record = {
        "command": " && ".join(c for c in (before["command"], command) if c), "epochs": before["epochs"] + leg_epochs,
        "epochs_planned": next_plan(before, args.epochs), "steps": before.get("steps", 0) + run.steps,
        "volumes": {"size": args.size, "train": args.train_volumes, "train_seed": TRAIN_SEED, "test": args.test_volumes,
                    "test_seed": TEST_SEED, "test_sha1": volumes_digest(test_volumes),
                    "augmentation": "augment_volume"},
        "wall_s": round(before["wall_s"] + time.time() - t0, 1),
        # every leg's machine, backend and steps, for a checkpoint resumed elsewhere (a GPU run continued on a CPU)
        "legs": [*before.get("legs", []), {"device": device_description(), "backend": keras.backend.backend(),
                                           "keras": keras.__version__, **options,
                                           "epochs": leg_epochs, "steps": run.steps,
                                           "seconds": round(run.seconds + trained_s, 1),
                                           **({"continued_at_epoch": run.start_epoch} if run.start_epoch else {})}],
        "history": history,
        "final_metrics": metrics,
    }
    for key in ("device", "backend"):  # every leg's, in order, without repeats: "GPU: NVIDIA H200, then CPU: ..."
        record[key] = ", then ".join(dict.fromkeys(leg[key] for leg in record["legs"]))
    save_checkpoint(model, name, BUILDERS[args.model], setup["kwargs"], record)
    if leg_epochs == args.epochs:  # a leg cut short (--minutes, a crash) keeps its resume file
        finish_leg(state)
    print(f"{name}: {run.epochs} epochs in {run.seconds:.0f} s; held-out: {metrics}", flush=True)
