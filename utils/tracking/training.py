"""Long training runs behind notebook 13, run as `python -m utils.train tracknet|frame_rcnn`.

tracknet trains TrackNet (`--features 2d+3d`, or `3d` for the slide's ablation) on clips of the
training videos; frame_rcnn trains the baseline, notebook 10's Faster R-CNN with TrackNet's anchors
and 2-D backbone, on every frame of the same videos. Both save after every epoch and write the
provenance beside the weights: the commands, epochs, wall time, device, per-epoch losses, and the
tracking metrics (MOTA, IDF1, ID switches) on the held-out videos.
"""

from __future__ import annotations

import argparse
import time

from utils.course import cli
from utils.tracking.evaluation import mot_metrics  # imported now, not after the training (code may change)

VIDEOS = {"size": 128, "density": 1.0}
TRAIN_SEED, TEST_SEED, VAL_SEED = 11, 12, 13  # training, held-out and validation videos (tuning the trackers)
LENGTH, STEP = 4, 2                      # segments of 4 frames every 2: consecutive segments share 2 frames
BUILDERS = {"tracknet": "utils.tracking.tracknet:tracknet", "frame_rcnn": "utils.detection.rcnn:faster_rcnn"}


def frame_rcnn_kwargs(seed: int) -> dict:
    """The baseline detector: Faster R-CNN on 128 x 128 frames with TrackNet's anchors (JSON-ready arguments)."""
    from utils.tracking.tracknet import ANCHOR_SIZES, ASPECT_RATIOS

    return {"num_classes": 3, "image_size": VIDEOS["size"], "anchor_sizes": list(ANCHOR_SIZES),
            "aspect_ratios": list(ASPECT_RATIOS), "max_detections": 30, "seed": seed}


def evaluate(model, videos) -> dict[str, float]:
    """Tracking metrics of a model on held-out videos (TrackNet: linked tubes; Faster R-CNN: IoU tracker)."""
    from utils.tracking.inference import track_frame_by_frame, track_with_tubes

    gt = [{"boxes": v.boxes, "ids": v.ids} for v in videos]
    if hasattr(model, "length"):
        hyp = [track_with_tubes(model, v.frames, STEP) for v in videos]
    else:
        hyp = [track_frame_by_frame(model, v.frames) for v in videos]
    m = mot_metrics(gt, hyp)
    return {k: round(m[k], 4) for k in ("mota", "idf1", "num_switches", "num_false_positives", "num_misses")}


def videos_digest(videos) -> str:
    """SHA-1 of the videos' frames, boxes and identities: the notebook checks that it sees the videos evaluated here."""
    import hashlib

    import numpy as np

    h = hashlib.sha1()
    for v in videos:
        h.update(np.ascontiguousarray(v.frames).tobytes())
        for boxes, ids in zip(v.boxes, v.ids):
            h.update(np.ascontiguousarray(boxes).tobytes() + np.ascontiguousarray(ids).tobytes())
    return h.hexdigest()


def _dataset(args, train_videos):
    import tensorflow as tf

    from utils.tracking.clips import clip_arrays, frame_arrays

    if args.model == "tracknet":
        x, y = clip_arrays(train_videos, LENGTH, STEP)
    else:
        x, y = frame_arrays(train_videos)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=args.seed)
    return ds.batch(args.batch_size, drop_remainder=True).prefetch(2), len(x)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train one checkpoint of notebook 13."""
    parser = argparse.ArgumentParser(prog="python -m utils.train", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(BUILDERS))
    parser.add_argument("--features", choices=["2d+3d", "3d", "2d"], default="2d+3d", help="TrackNet's features")
    parser.add_argument("--train-videos", type=int, default=100)
    parser.add_argument("--test-videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=40, help="frames per training video")
    parser.add_argument("--test-frames", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    cli.add_checkpoint_arguments(parser)
    cli.add_evaluate_only(parser, "tracking metrics")
    args = cli.parse_checkpoint_arguments(parser, argv)
    for flag in ("train_videos", "test_videos", "epochs", "batch_size"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected a positive integer")
    for flag in ("frames", "test_frames"):
        if getattr(args, flag) < LENGTH:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected at least {LENGTH}, a segment")
    if not args.lr > 0:
        parser.error(f"--lr {args.lr}: expected a positive learning rate")
    command = cli.recorded_command(argv)

    from utils.course.session import device_description, quiet_tensorflow

    quiet_tensorflow()
    import keras

    options = cli.apply_training_options(args)  # before any model

    from utils.course.checkpoints import load_checkpoint, next_plan, read_provenance, train_and_save
    from utils.data.video import traffic_videos
    from utils.detection.rcnn import faster_rcnn
    from utils.tracking.tracknet import tracknet

    keras.utils.set_random_seed(args.seed)
    if args.model == "tracknet":
        kwargs = {"image_size": VIDEOS["size"], "length": LENGTH, "features": args.features, "seed": args.seed}
        model = tracknet(**kwargs)
    else:
        kwargs = frame_rcnn_kwargs(args.seed)
        model = faster_rcnn(**kwargs)
    train_videos = traffic_videos(args.train_videos, args.frames, seed=TRAIN_SEED, **VIDEOS)
    test_videos = traffic_videos(args.test_videos, args.test_frames, seed=TEST_SEED, **VIDEOS)
    name = args.name or (f"tracknet_{args.features.replace('+', '_')}" if args.model == "tracknet" else args.model)
    before = {"command": None, "epochs": 0, "wall_s": 0.0, "history": {}}
    if args.resume:
        before = read_provenance(name)
        load_checkpoint(name, model)
    t0 = time.time()
    history: dict[str, list[float]] = {k: list(v) for k, v in before["history"].items()}
    data, n_samples = _dataset(args, train_videos)
    if n_samples < args.batch_size:
        parser.error(f"--batch-size {args.batch_size}: expected at most the {n_samples} training samples an epoch")

    def provenance(epochs_run: int) -> dict:
        return {
            "command": " && ".join(c for c in (before["command"], command) if c),
            "epochs": before["epochs"] + epochs_run,
            "epochs_planned": next_plan(before, args.epochs, args.evaluate_only),
            "videos": {**VIDEOS, "train": args.train_videos, "frames": args.frames, "train_seed": TRAIN_SEED,
                       "test": args.test_videos, "test_frames": args.test_frames, "test_seed": TEST_SEED,
                       "length": LENGTH, "step": STEP, "samples_per_epoch": n_samples,
                       "test_sha1": videos_digest(test_videos)},
            "wall_s": round(before["wall_s"] + time.time() - t0, 1), "device": device_description(),
            "backend": keras.backend.backend(), "keras": keras.__version__, **options,
            "history": history,
        }

    print(f"{model.name}: {model.count_params():,} parameters; {n_samples} samples an epoch; {command}", flush=True)
    record = train_and_save(model, None if args.evaluate_only else data, name, BUILDERS[args.model], kwargs,
                            provenance, history, epochs=args.epochs, learning_rate=args.lr, minutes=args.minutes,
                            evaluate=lambda m: evaluate(m, test_videos), jit_compile=cli.JIT_COMPILE[args.jit_compile])
    print("held-out videos:", record["final_metrics"], flush=True)
