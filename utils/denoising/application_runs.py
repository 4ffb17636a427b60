"""Notebook 04's networks, trained offline: every comparison it draws, each arm over several training seeds.

`python -m utils.train application_runs --variants ... --seeds 0 1 2` trains, for each variant and training
seed, one of the networks of `utils.denoising.applications` with the notebook's budget (Adam, cosine decay
to 0 over the run's every step). The seed fixes the initial weights and the order of the batches; the data
are drawn once from fixed seeds, the same for every run. The variants, by family (one thing changes
within a family):

- completion (1,024 96x96 grey patches with 1-4 random holes of 8-24 px, 4 epochs, batch 8):
  `completion` (the network sees the mask), `completion_no_mask` (the holed image alone);
- super-resolution (4,096 48x48 grey patches, 4 epochs, batch 32): `sr_x2`, `sr_x4` (MSE loss),
  `sr_x4_mae`, `sr_x4_ssim` (the x4 network with another loss), `sr_x2_glorot` (the x2 network with
  Keras's default initialization in its last layer instead of N(0, 1e-3));
- compression (the same 4,096 patches, 8 epochs): `codec_2`, `codec_4`, `codec_8` (2, 4, 8 latent channels,
  8 levels, the straight-through estimator) and `codec_2_noise`, ... (uniform noise instead). At the 3 epochs
  notebook 04 once trained them for, 7 of the 9 straight-through runs ended at a blur (training loss about
  0.012, 17-19 dB on the test photos) and the others near 0.007, depending on the seed; one such run given 8
  epochs left the blur in its fourth and ended at 0.0045;
- features: `features` (the 24x24 feature autoencoder, 150 epochs on the 100 training faces and
  non-faces of `skimage.data.lfw_subset` and their mirror images).

Each run is scored at the end on the held-out items, per item, so that notebook 04 compares arms paired:
completion on the test photos' central 256x256 crops with `hole_draws` draws of twelve holes each (PSNR
in the holes, in their 2-px rim and in the rest, and the rim's mean error); super-resolution and the
codecs on the whole test photos (PSNR, SSIM, MAE; bits per pixel); the features by a linear probe on the
100 test images (right or wrong each), before training (the same seed's random encoder) and after. The
super-resolution runs also record the test PSNR before training and after every epoch. Each run is saved
as `data/runs/STUDY/VARIANT_seedK.{weights.h5,json}` with its provenance (`utils.course.studies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from utils.course.checks import one_of
from utils.course.studies import StudyConfig, parse_study, seed_run_name, study_parser, train_study

MODULE = "utils.denoising.applications"
# variant: (family, the builder's arguments)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "completion": ("completion", {"sees_mask": True}),
    "completion_no_mask": ("completion", {"sees_mask": False}),
    "sr_x2": ("sr", {"scale": 2}),
    "sr_x2_glorot": ("sr", {"scale": 2, "last_init": "glorot_uniform"}),
    "sr_x4": ("sr", {"scale": 4}),
    "sr_x4_mae": ("sr", {"scale": 4}),
    "sr_x4_ssim": ("sr", {"scale": 4}),
    **{f"codec_{c}{suffix}": ("codec", {"channels": c, "quantizer": q})
       for suffix, q in (("", "ste"), ("_noise", "noise")) for c in (2, 4, 8)},
    "features": ("features", {}),
}
BUILDERS = {"completion": "completion_net", "sr": "super_resolution_net", "codec": "codec",
            "features": "feature_autoencoder"}
COMPLETION_TEST_SIDE = 256   # the central crop of each test photo that completion is scored on


@dataclass(frozen=True)
class Study(StudyConfig):
    """What every run of the study shares: the data, the budgets and the optimizer."""

    n_patches: int = 4096          # 48x48 patches (super-resolution, codecs); completion takes a quarter, 96x96
    batch_size: int = 32
    learning_rate: float = 2e-3
    epochs_completion: int = 4     # each family's epochs: epochs_<family>
    completion_batch: int = 8
    epochs_sr: int = 4
    epochs_codec: int = 8
    levels: int = 8
    epochs_features: int = 150
    features_lr: float = 3e-3
    hole_draws: int = 4            # draws of twelve holes on each test photo

    @property
    def epochs(self) -> int:
        """The longest plan of the study (each run records its own)."""
        return max(self.epochs_completion, self.epochs_sr, self.epochs_codec, self.epochs_features)

    def epochs_of(self, variant: str) -> int:
        """The planned epochs of a variant's runs: its family's budget."""
        return getattr(self, f"epochs_{VARIANTS[one_of(variant, 'variant', tuple(VARIANTS))][0]}")


def run_name(variant: str, seed: int) -> str:
    """The file name of a run, without its suffix: VARIANT_seedK."""
    return seed_run_name(variant, seed, VARIANTS)


def builder(variant: str) -> str:
    """The checkpoint builder ("module:function") of a variant."""
    return f"{MODULE}:{BUILDERS[VARIANTS[one_of(variant, 'variant', tuple(VARIANTS))][0]]}"


def builder_kwargs(study: Study, variant: str) -> dict[str, Any]:
    """The builder's arguments of a variant."""
    family, kwargs = VARIANTS[one_of(variant, "variant", tuple(VARIANTS))]
    return {**kwargs, "levels": study.levels} if family == "codec" else dict(kwargs)


@cache
def training_patches(n: int) -> np.ndarray:
    """n 48x48 grey patches of the training photos (N, 48, 48, 1): super-resolution's and the codecs' data."""
    from utils.data.patches import sample_patches
    from utils.data.photos import TRAIN_PHOTOS, load_photo

    return sample_patches([load_photo(p, "gray") for p in TRAIN_PHOTOS], n, 48, rng=0)[..., None]


@cache
def completion_pairs(n: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """((holed patches, masks), patches): n 96x96 grey patches with 1-4 holes of 8-24 px each."""
    from utils.data.patches import sample_patches
    from utils.data.photos import TRAIN_PHOTOS, load_photo
    from utils.denoising.applications import random_holes

    patches = sample_patches([load_photo(p, "gray") for p in TRAIN_PHOTOS], n, 96, rng=4)[..., None]
    rng = np.random.default_rng(1)
    masks = np.stack([random_holes((96, 96), (1, 4), (8, 24), rng) for _ in patches])[..., None]
    return (patches * (1 - masks), masks), patches


def test_photos(test_side: int | None = None) -> dict[str, np.ndarray]:
    """The held-out grey photos, cropped to a multiple of 8 (and to test_side, when given)."""
    from utils.data.patches import crop_to_multiple
    from utils.data.photos import TEST_PHOTOS, load_photo

    return {p: crop_to_multiple(load_photo(p, "gray"), 8, test_side) for p in TEST_PHOTOS}


def completion_items(hole_draws: int, test_side: int | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(photo, clean crop, mask) of every completion test item: draw after draw, each photo's central 256x256
    crop with twelve holes of 8-24 px (one generator, seed 2, so the first draw is the same in every run)."""
    from utils.data.patches import center_crop
    from utils.denoising.applications import random_holes

    rng = np.random.default_rng(2)
    items = []
    for _ in range(hole_draws):
        for name, photo in test_photos(test_side).items():
            clean = center_crop(photo, COMPLETION_TEST_SIDE) if min(photo.shape) >= COMPLETION_TEST_SIDE else photo
            items.append((name, clean, random_holes(clean.shape, (12, 12), (8, 24), rng)))
    return items


def hole_scores(clean: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """PSNR of a fill (output clipped to [0, 1]) in the holes, in their 2-px rim and in the rest, and the rim's
    mean error (fill - original)."""
    from scipy.ndimage import binary_erosion

    from utils.denoising.quality import psnr

    hole = mask.astype(bool)
    core = binary_erosion(hole, iterations=2)
    rim = hole & ~core
    # the pixels of a region as a one-row image
    return {"holes": psnr(clean[hole][None], filled[hole][None]), "rim": psnr(clean[rim][None], filled[rim][None]),
            "core": psnr(clean[core][None], filled[core][None]),
            "rim_bias": float(np.mean(np.clip(filled[rim], 0, 1) - clean[rim]))}


def faces_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(faces (200, 24, 24, 1), labels (1: face), train_idx, test_idx): 50 + 50 of each class, fixed."""
    from skimage.data import lfw_subset

    faces = lfw_subset()[:, :24, :24, None].astype(np.float32)       # 24x24: two exact poolings
    labels = np.r_[np.ones(100), np.zeros(100)].astype(np.float32)    # the first 100 are faces
    order = np.random.default_rng(3).permutation(100)
    return faces, labels, np.r_[order[:50], 100 + order[:50]], np.r_[order[50:], 100 + order[50:]]


def score(model, study: Study, variant: str) -> dict[str, Any]:
    """A trained model's per-item scores on the held-out items of its family (see the module's docstring)."""
    from utils.denoising.applications import codec_parts, empirical_bpp, encoder_of, linear_probe, upscale
    from utils.denoising.quality import psnr, ssim

    family, kwargs = VARIANTS[variant]
    if family == "completion":
        rows = []
        for _, clean, mask in completion_items(study.hole_draws):
            filled = model.predict([(clean * (1 - mask))[None, ..., None], mask[None, ..., None]], verbose=0)[0, ..., 0]
            rows.append(hole_scores(clean, filled, mask))
        return {k: [round(r[k], 5) for r in rows] for k in rows[0]}
    photos = test_photos()
    if family == "sr":
        outs = [upscale(model, p, kwargs["scale"]) for p in photos.values()]
        return {"psnr": [round(psnr(p, o), 5) for p, o in zip(photos.values(), outs)],
                "ssim": [round(ssim(p, o), 5) for p, o in zip(photos.values(), outs)],
                "mae": [round(float(np.abs(p - np.clip(o, 0, 1)).mean()), 6) for p, o in zip(photos.values(), outs)]}
    if family == "codec":
        encoder, decoder = codec_parts(model)
        codes = [encoder.predict(p[None, ..., None], verbose=0)[0] for p in photos.values()]
        outs = [decoder.predict(c[None], verbose=0)[0, ..., 0] for c in codes]
        return {"bpp": [round(empirical_bpp(c, study.levels), 6) for c in codes],
                "psnr": [round(psnr(p, o), 5) for p, o in zip(photos.values(), outs)]}
    faces, labels, train_idx, test_idx = faces_split()
    code = encoder_of(model).predict(faces, verbose=0)
    return {"correct": linear_probe(code, labels, train_idx, test_idx).astype(int).tolist()}


def train_run(study: Study, variant: str, seed: int) -> tuple[Any, dict[str, Any]]:
    """Train one run to the end of its schedule; return the model and its record (with its scores)."""
    import keras

    from utils.course.checkpoints import build_from_provenance
    from utils.denoising.applications import encoder_of, linear_probe, ssim_loss, upscale
    from utils.denoising.quality import psnr
    from utils.nn.training import train

    family, kwargs = VARIANTS[one_of(variant, "variant", tuple(VARIANTS))]
    keras.utils.set_random_seed(seed)
    net = build_from_provenance({"name": variant, "builder": builder(variant),
                                 "builder_kwargs": builder_kwargs(study, variant)})
    record: dict[str, Any] = {"variant": variant, "seed": seed}
    fit = {"loss": "mse", "epochs": study.epochs_of(variant), "batch_size": study.batch_size,
           "learning_rate": study.learning_rate}
    callbacks = []
    if family == "completion":
        x, y = completion_pairs(study.n_patches // 4)
        fit["batch_size"] = study.completion_batch
    elif family == "features":
        faces, labels, train_idx, test_idx = faces_split()
        record["correct_untrained"] = linear_probe(encoder_of(net).predict(faces, verbose=0), labels, train_idx,
                                                   test_idx).astype(int).tolist()
        x = y = np.concatenate([faces[train_idx], faces[train_idx][:, :, ::-1]])    # with mirror images
        fit["learning_rate"] = study.features_lr
    else:
        from utils.data.patches import downscale_mean

        y = training_patches(study.n_patches)
        x = downscale_mean(y, kwargs["scale"]) if family == "sr" else y
        fit["loss"] = {"sr_x4_mae": "mae", "sr_x4_ssim": ssim_loss}.get(variant, "mse")
    if family == "sr":
        photos = list(test_photos().values())

        def test_psnr() -> list[float]:
            return [round(psnr(p, upscale(net, p, kwargs["scale"])), 5) for p in photos]

        record["test_psnr_by_epoch"] = [test_psnr()]        # before training, then after every epoch
        callbacks.append(keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: record["test_psnr_by_epoch"].append(test_psnr())))
    run = train(net, x, y, callbacks=callbacks, **fit)
    record.update({"epochs": run.epochs, "epochs_planned": fit["epochs"], "steps": run.steps,
                   "seconds": round(run.seconds, 1), "history": run.history, "scores": score(net, study, variant)})
    return net, record


def load_run(study: str, variant: str, seed: int):
    """The model of one saved run and its provenance record."""
    from utils.course.studies import load_saved_run

    return load_saved_run(study, run_name(variant, seed))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train every (variant, seed) run of a study that is not done yet."""
    defaults = Study()
    flags = ("n_patches", "batch_size", "epochs_completion", "completion_batch", "epochs_sr", "epochs_codec",
             "levels", "epochs_features", "hole_draws")
    parser = study_parser("application_runs", __doc__, "applications", VARIANTS, ["sr_x2"], defaults, flags)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--features-lr", type=float, default=defaults.features_lr)
    args, values = parse_study(parser, argv, flags, least={"levels": 2, "n_patches": 4})
    if not args.features_lr > 0:
        parser.error(f"--features-lr {args.features_lr}: expected a positive learning rate")
    study = Study(**values, learning_rate=args.lr,
                  features_lr=args.features_lr)
    runs = {run_name(variant, seed): (variant, seed) for variant in args.variants for seed in args.seeds}

    def summary(name: str, record: dict[str, Any]) -> str:
        means = ", ".join(f"{k} {np.mean(v):.4g}" for k, v in record["scores"].items())
        return (f"{name}: {record['epochs']} epochs ({record['steps']} steps) in {record['seconds']:.0f} s; "
                f"test {means}")

    train_study(parser, args, argv, study, list(runs), lambda name: train_run(study, *runs[name]),
                builder=lambda name: builder(runs[name][0]),
                builder_kwargs=lambda name: builder_kwargs(study, runs[name][0]),
                same_study=lambda saved: Study(**saved) == study, summary=summary)
