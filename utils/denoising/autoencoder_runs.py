"""Notebook 01's autoencoders, trained offline: the lecture's model and the variants its questions ask about.

`python -m utils.train autoencoder_runs --variants lecture slide_dropout no_batch_norm sigma_50 blind --seeds 0 1 2`
trains, for each variant and training seed, the lecture's autoencoder (`lecture_autoencoder`) on the same
32x32 colour pairs cut from the training photos (drawn once from `pair_seed`), with Adam at a constant
learning rate for the study's every epoch. The seed fixes the initial weights and the order of the batches;
the variants of one seed share both. A variant changes one thing against `lecture` (sigma = 25, clipped):

- `slide_dropout`: the slide's four commented-out `Dropout(0.25)` lines put back, each after its batch
  normalization as on the slide;
- `no_batch_norm`: the four batch normalizations removed;
- `sigma_50`: the same clean pairs with noise of sigma = 50;
- `blind`: each pair with its own sigma ~ U[0, 55].

The last 10 % of the pairs validate every run (never trained on). At the end each run is scored on the
held-out test photos (`held_out_images`: cameraman, astronaut, coffee in colour) at sigma 25 and 50, three noise
seeds each, so that every comparison in notebook 01 is paired over the same photo x noise-seed items.
Each run is saved as `data/runs/STUDY/VARIANT_seedK.weights.h5` beside its provenance (`VARIANT_seedK.json`):
the command, the study's configuration, epochs planned and done, steps, wall time, device and speed, the
training and validation loss after every epoch, and the final PSNR of every test item. `--resume` skips the
runs already saved with the same configuration; no run is cut short.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np

from utils.course.checks import one_of
from utils.course.studies import StudyConfig, add_study_arguments, check_seeds_and_rate, seed_run_name, train_study

BUILDER = "utils.denoising.models:lecture_autoencoder"
# what each variant changes: the noise of its pairs (sigma, or "blind" up to 55) and the model's arguments
VARIANTS: dict[str, tuple[Any, dict[str, Any]]] = {
    "lecture": (25, {}),
    "slide_dropout": (25, {"dropout": 0.25}),
    "no_batch_norm": (25, {"batch_norm": False}),
    "sigma_50": (50, {}),
    "blind": ("blind", {}),
}
BLIND_MAX = 55          # the blind variant's largest sigma
TEST_SIGMAS = (25, 50)  # the test photos' noise levels, each scored in every run


@dataclass(frozen=True)
class Study(StudyConfig):
    """What every run of a study shares: the pairs and the optimizer (not the variant, not the seed)."""

    n_pairs: int = 16384         # 32x32 pairs, the last `validation` of them held out
    validation: float = 0.1
    pair_seed: int = 0           # the patches; the noise of each variant has its own fixed seed
    epochs: int = 16
    batch_size: int = 64
    learning_rate: float = 1e-3
    noise_seeds: int = 3         # test items: every test photo with this many noise draws at each sigma

    @property
    def n_fit(self) -> int:
        """The pairs trained on (the first ones; the rest validate), as Keras's validation_split counts them."""
        return self.n_pairs - int(self.n_pairs * self.validation)


def run_name(variant: str, seed: int) -> str:
    """The file name of a run, without its suffix: VARIANT_seedK."""
    return seed_run_name(variant, seed, VARIANTS)


def pairs(study: Study, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """The study's (noisy, clean) 32x32 colour pairs for a variant: the same clean patches for every variant."""
    from utils.data.noise import add_blind_noise, add_gaussian_noise
    from utils.data.patches import sample_patches
    from utils.data.photos import TRAIN_PHOTOS, load_photo

    noise = VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][0]
    clean = sample_patches([load_photo(n, "rgb") for n in TRAIN_PHOTOS], study.n_pairs, 32, rng=study.pair_seed)
    if noise == "blind":
        return add_blind_noise(clean, BLIND_MAX, rng=12), clean
    return add_gaussian_noise(clean, noise, rng={25: 1, 50: 11}[noise]), clean


def held_out_images(sigma: float, noise_seeds: int = 3) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """The held-out test items at one sigma (`utils.data.photos.held_out_items` in colour, noise clipped)."""
    from utils.data.photos import held_out_items

    return held_out_items(sigma, noise_seeds, "rgb", clip=True)


def held_out_psnr(model, study: Study) -> dict[str, list[float]]:
    """The model's PSNR on every test item at each sigma of TEST_SIGMAS (whole photos), keyed 'sigma_25', ..."""
    from utils.denoising.models import denoise_image
    from utils.denoising.quality import psnr

    scores = {}
    for sigma in TEST_SIGMAS:
        _, clean, noisy = held_out_images(sigma, study.noise_seeds)
        scores[f"sigma_{sigma}"] = [round(psnr(c, denoise_image(model, y)), 4) for c, y in zip(clean, noisy)]
    return scores


def train_run(study: Study, variant: str, seed: int, data: tuple[np.ndarray, np.ndarray] | None = None,
              score: bool = True) -> tuple[Any, dict[str, Any]]:
    """Train one run to the end of its schedule; return the model (for whole images) and its record (with the
    test items' PSNR unless score=False)."""
    import keras

    from utils.denoising.models import lecture_autoencoder
    from utils.nn.training import train

    noisy, clean = pairs(study, variant) if data is None else data
    n = study.n_fit
    keras.utils.set_random_seed(seed)
    net = lecture_autoencoder((None, None, 3), **VARIANTS[variant][1])
    run = train(net, noisy[:n], clean[:n], loss="mse", epochs=study.epochs, batch_size=study.batch_size,
                learning_rate=study.learning_rate, schedule="constant",
                validation_data=(noisy[n:], clean[n:]))
    record = {"variant": variant, "seed": seed, "epochs": run.epochs, "steps": run.steps,
              "seconds": round(run.seconds, 1), "history": run.history}
    return net, {**record, "test_psnr": held_out_psnr(net, study)} if score else record


def builder_kwargs(variant: str) -> dict[str, Any]:
    """The builder's arguments of a variant's saved model (whole images)."""
    return {"input_shape": [None, None, 3], **VARIANTS[one_of(variant, "variant", tuple(VARIANTS))][1]}


def load_run(study: str, variant: str, seed: int):
    """The model (for whole images) of one saved run and its provenance record."""
    from utils.course.studies import load_saved_run

    return load_saved_run(study, run_name(variant, seed))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train every (variant, seed) run of a study that is not done yet."""
    parser = argparse.ArgumentParser(prog="python -m utils.train autoencoder_runs",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["autoencoder_runs"])
    parser.add_argument("--study", default="autoencoder", help="the folder under data/runs/")
    parser.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), default=["lecture"])
    defaults = Study()
    parser.add_argument("--pairs", type=int, default=defaults.n_pairs)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--noise-seeds", type=int, default=defaults.noise_seeds,
                        help="noise draws of each test photo in the final scores")
    add_study_arguments(parser)
    args = parser.parse_args(argv)
    for flag in ("epochs", "batch_size"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected a positive integer")
    if args.pairs < 20:
        parser.error(f"--pairs {args.pairs}: expected at least 20 (a tenth of them validate)")
    check_seeds_and_rate(parser, args)
    if args.noise_seeds < 1:
        parser.error(f"--noise-seeds {args.noise_seeds}: expected a positive integer")
    study = Study(n_pairs=args.pairs, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                  noise_seeds=args.noise_seeds)
    runs = {run_name(variant, seed): (variant, seed) for variant in args.variants for seed in args.seeds}

    def summary(name: str, record: dict[str, Any]) -> str:
        return (f"{name}: {record['epochs']} epochs in {record['seconds']:.0f} s; validation MSE per epoch "
                + " ".join(f"{v:.5f}" for v in record["history"]["val_loss"])
                + f"; test PSNR at sigma 25 {np.mean(record['test_psnr']['sigma_25']):.2f} dB")

    train_study(parser, args, argv, study, list(runs), lambda name: train_run(study, *runs[name]), builder=BUILDER,
                builder_kwargs=lambda name: builder_kwargs(runs[name][0]),
                same_study=lambda saved: Study(**saved) == study, summary=summary)
