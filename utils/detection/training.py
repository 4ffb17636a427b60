"""Long training runs behind the shipped detectors, run as `python -m utils.train faster_rcnn|mask_rcnn`.

The scenes are notebook 11's (128 x 128, one to four shapes of 20-48 px, training seed 1, held-out
seed 2), so that the notebooks compare Faster R-CNN with YOLO and SSD on the same data. Each run
saves after every epoch and writes the provenance beside the weights: the exact commands of
every leg, epochs, scenes seen, wall time, device, backend, the per-epoch losses and the held-out
box (and mask) AP.
"""

from __future__ import annotations

import argparse
import time

from utils.course.cli import (
    JIT_COMPILE,
    add_checkpoint_arguments,
    add_evaluate_only,
    apply_training_options,
    parse_checkpoint_arguments,
    recorded_command,
)
from utils.detection.evaluation import coco_map  # imported now, not after hours of training (code may change)

SCENES = {"size": 128, "n_objects": (1, 4), "object_size": (20, 48)}  # notebook 11's scenes
TRAIN_SEED, TEST_SEED = 1, 2
BUILDERS = {"faster_rcnn": "utils.detection.rcnn:faster_rcnn", "mask_rcnn": "utils.detection.rcnn:mask_rcnn"}


def evaluate(model, test, batch_size: int = 50) -> dict[str, float]:
    """Box AP (and mask AP for Mask R-CNN) of a model on held-out scenes, with pycocotools."""
    from utils.detection.rcnn import detect_scenes

    dets = detect_scenes(model, test.images, batch_size)
    box = coco_map(test.boxes, test.labels, dets["boxes"], dets["scores"], dets["labels"], test.class_names)
    out = {"map50": box["map50"], "map5095": box["map5095"]}
    if "masks" in dets:
        mask = coco_map(test.boxes, test.labels, dets["boxes"], dets["scores"], dets["labels"], test.class_names,
                        masks=dets["masks"], gt_masks=list(test.instances))
        out.update(mask_ap50=mask["map50"], mask_ap5095=mask["map5095"])
    return {k: round(float(v), 4) for k, v in out.items()}


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train one detector checkpoint."""
    parser = argparse.ArgumentParser(prog="python -m utils.train", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(BUILDERS))
    parser.add_argument("--pooler", choices=["align", "pool"], default="align", help="RoIAlign or RoI pooling")
    parser.add_argument("--train-scenes", type=int, default=6000)
    parser.add_argument("--test-scenes", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    add_checkpoint_arguments(parser)
    add_evaluate_only(parser, "AP")
    args = parse_checkpoint_arguments(parser, argv)
    command = recorded_command(argv)

    from utils.course.session import device_description, quiet_tensorflow

    quiet_tensorflow()
    import keras

    options = apply_training_options(args)  # before any model

    from utils.course.checkpoints import load_checkpoint, next_plan, read_provenance, train_and_save
    from utils.data.scenes import make_scenes
    from utils.detection.rcnn import faster_rcnn, mask_rcnn, rcnn_dataset

    keras.utils.set_random_seed(args.seed)
    masks = args.model == "mask_rcnn"
    kwargs = {"pooler": args.pooler, "seed": args.seed}
    model = (mask_rcnn if masks else faster_rcnn)(**kwargs)
    train_data = make_scenes(args.train_scenes, seed=TRAIN_SEED, **SCENES)
    test = make_scenes(args.test_scenes, seed=TEST_SEED, **SCENES)
    name = args.name or args.model
    before = {"command": None, "epochs": 0, "scenes_seen": 0, "wall_s": 0.0, "history": {}}
    if args.resume:
        before = read_provenance(name)
        load_checkpoint(name, model)
        print(f"resuming {name} after {before['epochs']} epochs: {before['command']}", flush=True)
    t0 = time.time()
    history: dict[str, list[float]] = {k: list(v) for k, v in before["history"].items()}

    def provenance(epochs_run: int) -> dict:
        return {
            "command": " && ".join(c for c in (before["command"], command) if c),
            "epochs": before["epochs"] + epochs_run,
            "epochs_planned": next_plan(before, args.epochs, args.evaluate_only),
            "scenes_seen": before["scenes_seen"] + epochs_run * len(train_data),
            "scenes": {**SCENES, "train": args.train_scenes, "train_seed": TRAIN_SEED, "test": args.test_scenes,
                       "test_seed": TEST_SEED},
            "wall_s": round(before["wall_s"] + time.time() - t0, 1), "device": device_description(),
            "backend": keras.backend.backend(), "keras": keras.__version__, **options,
            "history": history,
        }

    print(f"{model.name}: {model.count_params():,} parameters; {len(train_data)} training scenes; {command}",
          flush=True)
    data = None if args.evaluate_only else rcnn_dataset(train_data, args.batch_size, masks=masks, seed=args.seed)
    record = train_and_save(model, data, name, BUILDERS[args.model], kwargs, provenance, history, epochs=args.epochs,
                            learning_rate=args.lr, minutes=args.minutes, evaluate=lambda m: evaluate(m, test),
                            jit_compile=JIT_COMPILE[args.jit_compile])
    print("held-out scenes:", record["final_metrics"], flush=True)
