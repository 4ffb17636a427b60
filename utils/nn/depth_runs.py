"""Notebook 14's question 4, trained offline: plain against residual stacks at two depths, several seeds.

`python -m utils.train depth_runs --variants plain_20 residual_20 plain_50 residual_50 --seeds 0 1 2` trains,
for each variant and training seed, `utils.nn.deep_stack.deep_stack` (width 16, batch normalization) on
12x12 grey patches of the training photos with Gaussian noise of sigma 25, to predict the clean patch:
Adam at 1e-3 with a cosine decay to 0 over every step, MSE, the same patches and noise for every run. The
seed fixes the initial weights and the order of the batches. Every run records the validation MSE after
each epoch and, at the end, each validation patch's MSE (the items of notebook 14's comparison). Each run
is saved as `data/runs/STUDY/VARIANT_seedK.{weights.h5,json}` with its provenance (`utils.course.studies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from utils.course.checks import one_of
from utils.course.studies import StudyConfig, parse_study, seed_run_name, study_parser, train_study

BUILDER = "utils.nn.deep_stack:deep_stack"
VARIANTS: dict[str, dict[str, Any]] = {f"{kind}_{depth}": {"depth": depth, "residual": kind == "residual"}
                                       for depth in (20, 50) for kind in ("plain", "residual")}
SIGMA, PATCH = 25, 12


@dataclass(frozen=True)
class Study(StudyConfig):
    """What every run of the study shares: the width, the data and the optimizer."""

    width: int = 16
    patches: int = 1920
    val_patches: int = 256
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3


def run_name(variant: str, seed: int) -> str:
    """The file name of a run, without its suffix: VARIANT_seedK."""
    return seed_run_name(variant, seed, VARIANTS)


def builder_kwargs(study: Study, variant: str) -> dict[str, Any]:
    """deep_stack's arguments for a variant."""
    return {**VARIANTS[one_of(variant, "variant", tuple(VARIANTS))], "width": study.width}


@cache
def pairs(patches: int, val_patches: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(noisy, clean, val_noisy, val_clean): 12x12 grey patches with sigma-25 noise, from fixed seeds."""
    from utils.data.noise import add_gaussian_noise
    from utils.data.patches import sample_patches
    from utils.data.photos import TRAIN_PHOTOS, load_photo

    photos = [load_photo(n, "gray") for n in TRAIN_PHOTOS]
    clean = sample_patches(photos, patches, PATCH, rng=0)[..., None]
    val_clean = sample_patches(photos, val_patches, PATCH, rng=2)[..., None]
    return (add_gaussian_noise(clean, SIGMA, rng=1), clean, add_gaussian_noise(val_clean, SIGMA, rng=3),
            val_clean)


def patch_mse(model, study: Study) -> list[float]:
    """Each validation patch's MSE of the model's output against the clean patch."""
    _, _, val_noisy, val_clean = pairs(study.patches, study.val_patches)
    out = model.predict(val_noisy, batch_size=256, verbose=0)
    return [round(float(v), 8) for v in np.mean((out - val_clean) ** 2, axis=(1, 2, 3))]


def train_run(study: Study, variant: str, seed: int) -> tuple[Any, dict[str, Any]]:
    """Train one run to the end of its schedule; return the model and its record."""
    import keras

    from utils.nn.deep_stack import deep_stack
    from utils.nn.training import train

    keras.utils.set_random_seed(seed)
    net = deep_stack(**builder_kwargs(study, variant))
    noisy, clean, val_noisy, val_clean = pairs(study.patches, study.val_patches)
    run = train(net, noisy, clean, loss="mse", epochs=study.epochs, batch_size=study.batch_size,
                learning_rate=study.learning_rate, validation_data=(val_noisy, val_clean))
    return net, {"variant": variant, "seed": seed, "epochs": run.epochs, "steps": run.steps,
                 "seconds": round(run.seconds, 1), "history": run.history,
                 "scores": {"val_patch_mse": patch_mse(net, study)}}


def load_run(study: str, variant: str, seed: int):
    """The model of one saved run and its provenance record."""
    from utils.course.studies import load_saved_run

    return load_saved_run(study, run_name(variant, seed))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train every (variant, seed) run of a study that is not done yet."""
    defaults = Study()
    flags = ("width", "patches", "val_patches", "epochs", "batch_size")
    parser = study_parser("depth_runs", __doc__, "depth", VARIANTS, list(VARIANTS), defaults, flags)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    args, values = parse_study(parser, argv, flags)
    study = Study(**values, learning_rate=args.lr)
    runs = {run_name(variant, seed): (variant, seed) for seed in args.seeds for variant in args.variants}

    def summary(name: str, record: dict[str, Any]) -> str:
        from utils.denoising.quality import psnr_from_mse

        return (f"{name}: {record['epochs']} epochs ({record['steps']} steps) in {record['seconds']:.0f} s; "
                f"validation PSNR {psnr_from_mse(record['history']['val_loss'][-1]):.2f} dB")

    train_study(parser, args, argv, study, list(runs), lambda name: train_run(study, *runs[name]),
                builder=BUILDER, builder_kwargs=lambda name: builder_kwargs(study, runs[name][0]),
                same_study=lambda saved: Study(**saved) == study, summary=summary)
