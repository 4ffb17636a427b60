"""Notebook 02's small DnCNNs, trained offline: residual against plain, and the variants its questions ask about.

`python -m utils.train dncnn_runs --variants residual plain ... --seeds 0 1 2` trains, for each variant and
training seed, a DnCNN of the notebook's live size (D = 8, 32 channels) on 40x40 grey patches of the
training photos, fresh patches and fresh noise every epoch, drawn from the study's data seed, so that
every variant sees the same patches in the same epochs (and, where the noise is the same kind, the same
noise); Adam with a cosine decay to 1 % over the run's every step. The training seed fixes the initial
weights and the order of the batches. A variant changes one thing against `residual` (blind, sigma ~ U[0, 55]
per patch, noise clipped to [0, 1], the last convolution starting at zero):

- `plain`: the same layers output the clean image (no subtraction), starting as a black image;
- `residual_random_init`, `plain_random_init`: the last convolution starts from Keras's default random
  weights instead of zeros (what the paper's initialization does), so the two start alike;
- `no_batch_norm`: the middle convolutions without batch normalization;
- `sigma_25`: trained at sigma = 25 only (DnCNN-S style) instead of blind.

Every run is validated after each epoch on the same 64x64 patches at sigma = 25, and at the end scored on
the held-out test photos (grey) at sigma 15, 25 and 50, three noise draws each, with clipped and unclipped
noise (`utils.data.photos.held_out_items`; the denoised output is clipped to [0, 1], an image). Each run is
saved as `data/runs/STUDY/VARIANT_seedK.{weights.h5,json}` with its provenance (`utils.course.studies`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np

from utils.course.checks import one_of
from utils.course.studies import StudyConfig, add_study_arguments, check_seeds_and_rate, seed_run_name, train_study

BUILDER = "utils.denoising.models:dncnn"
# what each variant changes: the noise of its training pairs ("blind" up to sigma_max, or one sigma) and dncnn's
# arguments
VARIANTS: dict[str, tuple[Any, dict[str, Any]]] = {
    "residual": ("blind", {}),
    "plain": ("blind", {"residual": False}),
    "residual_random_init": ("blind", {"last_init": "glorot_uniform"}),
    "plain_random_init": ("blind", {"residual": False, "last_init": "glorot_uniform"}),
    "no_batch_norm": ("blind", {"batch_norm": False}),
    "sigma_25": (25, {}),
}
TEST_SIGMAS = (15, 25, 50)


@dataclass(frozen=True)
class Study(StudyConfig):
    """What every run of a study shares: the network's size, the data and the optimizer."""

    depth: int = 8
    channels: int = 32
    patch: int = 40
    patches_per_epoch: int = 1024
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    sigma_max: float = 55.0
    data_seed: int = 0
    noise_seeds: int = 3


def run_name(variant: str, seed: int) -> str:
    """The file name of a run, without its suffix: VARIANT_seedK."""
    return seed_run_name(variant, seed, VARIANTS)


def builder_kwargs(study: Study, variant: str) -> dict[str, Any]:
    """dncnn's arguments for a variant of the study."""
    changes = VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][1]
    return {"depth": study.depth, "channels": study.channels, **changes}


def epoch_pairs(study: Study, variant: str):
    """A function epoch -> (noisy, clean) patches (N, patch, patch, 1): fresh every epoch, the same for every
    variant (the patches from one stream of the data seed, the noise from another)."""
    from utils.data.noise import add_blind_noise, add_gaussian_noise
    from utils.data.patches import sample_patches
    from utils.data.photos import TRAIN_PHOTOS, load_photos

    noise = VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][0]
    photos = list(load_photos(TRAIN_PHOTOS, "gray").values())
    patch_rng, noise_rng = (np.random.default_rng([study.data_seed, k]) for k in (0, 1))

    def draw(epoch: int) -> tuple[np.ndarray, np.ndarray]:
        clean = sample_patches(photos, study.patches_per_epoch, study.patch, rng=patch_rng)[..., None]
        if noise == "blind":
            return add_blind_noise(clean, study.sigma_max, noise_rng), clean
        return add_gaussian_noise(clean, noise, rng=noise_rng), clean

    return draw


def validation_pairs() -> tuple[np.ndarray, np.ndarray]:
    """128 grey 64x64 patches of the training photos at sigma = 25 (noisy, clean): every run's validation."""
    from utils.data.noise import add_gaussian_noise
    from utils.data.patches import sample_patches
    from utils.data.photos import TRAIN_PHOTOS, load_photos

    clean = sample_patches(list(load_photos(TRAIN_PHOTOS, "gray").values()), 128, 64, rng=7)[..., None]
    return add_gaussian_noise(clean, 25, rng=8), clean


def held_out_psnr(model, study: Study) -> dict[str, list[float]]:
    """PSNR of the model's output (clipped to [0, 1]) on every test item, keyed 'sigma_15', ...,
    'sigma_15_unclipped', ... for the noise clipped and not."""
    from utils.data.photos import held_out_items
    from utils.denoising.models import denoise_image
    from utils.denoising.quality import psnr

    scores = {}
    for clip, suffix in ((True, ""), (False, "_unclipped")):
        for sigma in TEST_SIGMAS:
            _, clean, noisy = held_out_items(sigma, study.noise_seeds, "gray", clip=clip)
            scores[f"sigma_{sigma}{suffix}"] = [round(psnr(c, denoise_image(model, y)), 4)
                                                for c, y in zip(clean, noisy)]
    return scores


def train_run(study: Study, variant: str, seed: int) -> tuple[Any, dict[str, Any]]:
    """Train one run to the end of its schedule; return the model and its record."""
    import keras

    from utils.denoising.models import dncnn
    from utils.nn.training import train

    keras.utils.set_random_seed(seed)
    net = dncnn(**builder_kwargs(study, variant))
    run = train(net, epoch_pairs(study, variant), loss="mse", epochs=study.epochs, batch_size=study.batch_size,
                learning_rate=study.learning_rate, alpha=0.01, validation_data=validation_pairs())
    return net, {"variant": variant, "seed": seed, "epochs": run.epochs, "steps": run.steps,
                 "seconds": round(run.seconds, 1), "history": run.history, "test_psnr": held_out_psnr(net, study)}


def load_run(study: str, variant: str, seed: int):
    """The model of one saved run and its provenance record."""
    from utils.course.studies import load_saved_run

    return load_saved_run(study, run_name(variant, seed))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train every (variant, seed) run of a study that is not done yet."""
    parser = argparse.ArgumentParser(prog="python -m utils.train dncnn_runs", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["dncnn_runs"])
    parser.add_argument("--study", default="dncnn", help="the folder under data/runs/")
    parser.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), default=["residual", "plain"])
    defaults = Study()
    for flag in ("depth", "channels", "patch", "patches_per_epoch", "epochs", "batch_size"):
        parser.add_argument("--" + flag.replace("_", "-"), type=int, default=getattr(defaults, flag))
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--noise-seeds", type=int, default=defaults.noise_seeds,
                        help="noise draws of each test photo in the final scores")
    add_study_arguments(parser)
    args = parser.parse_args(argv)
    for flag in ("channels", "patch", "patches_per_epoch", "epochs", "batch_size", "noise_seeds"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected a positive integer")
    if args.depth < 3:
        parser.error(f"--depth {args.depth}: expected at least 3 (the first, middle and last convolutions)")
    check_seeds_and_rate(parser, args)
    study = Study(depth=args.depth, channels=args.channels, patch=args.patch,
                  patches_per_epoch=args.patches_per_epoch, epochs=args.epochs, batch_size=args.batch_size,
                  learning_rate=args.lr, noise_seeds=args.noise_seeds)
    runs = {run_name(variant, seed): (variant, seed) for variant in args.variants for seed in args.seeds}

    def summary(name: str, record: dict[str, Any]) -> str:
        from utils.denoising.quality import psnr_from_mse

        return (f"{name}: {record['epochs']} epochs in {record['seconds']:.0f} s; validation PSNR per epoch "
                + " ".join(f"{psnr_from_mse(v):.2f}" for v in record["history"]["val_loss"])
                + f"; test PSNR at sigma 25 {np.mean(record['test_psnr']['sigma_25']):.2f} dB")

    train_study(parser, args, argv, study, list(runs), lambda name: train_run(study, *runs[name]), builder=BUILDER,
                builder_kwargs=lambda name: builder_kwargs(study, runs[name][0]),
                same_study=lambda saved: Study(**saved) == study, summary=summary)
