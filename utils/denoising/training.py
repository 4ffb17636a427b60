"""Long training runs behind the shipped checkpoints, run as `python -m utils.train dncnn|autoencoder`.

Each run saves after every epoch (so a stopped run still leaves its best-so-far weights) and
writes the provenance beside the weights: the exact command, epochs, samples seen, wall time,
device, backend, and final PSNR on the held-out photos.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from utils.course.cli import (
    JIT_COMPILE,
    add_checkpoint_arguments,
    add_continue_argument,
    apply_training_options,
    recorded_command,
)


def evaluate(model, color: str, sigmas=(15, 25, 50), seed: int = 0) -> dict[str, float]:
    """Mean PSNR over the held-out photos at each sigma, noise clipped to [0, 1] and not (suffix _unclipped).

    Grey photos; an RGB model sees them replicated to three channels and its output is averaged back.
    A model told the noise level (drunet) is told the true sigma, as BM3D is.
    """
    from utils.course.checks import non_negative_int, not_empty, one_of
    from utils.data.noise import add_gaussian_noise
    from utils.data.photos import TEST_PHOTOS, load_photo
    from utils.denoising.classical import noise_sigma
    from utils.denoising.models import denoise_image
    from utils.denoising.quality import psnr

    one_of(color, "color", ("gray", "rgb"), note="what the model takes: one grey channel or three")
    not_empty(sigmas, "sigmas", note="expected at least one noise level on the 0-255 scale")
    for i, s in enumerate(sigmas):
        noise_sigma(s, f"sigmas[{i}]")
    seed = non_negative_int(seed, "seed")
    out = {}
    for clip, suffix in ((True, ""), (False, "_unclipped")):
        for s in sigmas:
            scores = []
            for i, name in enumerate(TEST_PHOTOS):
                clean = load_photo(name, "gray")
                noisy = add_gaussian_noise(clean, s, rng=seed * 1000 + i, clip=clip)
                x = noisy if color == "gray" else np.repeat(noisy[..., None], 3, axis=-1)
                y = denoise_image(model, x, sigma=s if len(model.inputs) == 2 else None)
                scores.append(psnr(clean, y if color == "gray" else y.mean(axis=-1)))
            out[f"psnr_s{s}_test_mean{suffix}"] = round(float(np.mean(scores)), 3)
    return out


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse zero/negative sizes and counts, a learning rate <= 0 and fractions outside [0, 1], by flag name."""
    from utils.course.checks import int_at_least, non_negative_int, number_in, positive_float, positive_int

    try:
        int_at_least(args.depth, "--depth", 3, note="the first, middle and last convolutions")
        for i, c in enumerate(args.channels or []):
            positive_int(c, f"--channels[{i}]")
        for flag in ("blocks", "patch", "patches_per_epoch", "epochs", "batch_size"):
            if getattr(args, flag) is not None:  # --patch None: the model's default
                positive_int(getattr(args, flag), "--" + flag.replace("_", "-"))
        non_negative_int(args.workers, "--workers")
        non_negative_int(args.seed, "--seed")
        positive_float(args.lr, "--lr")
        number_in(args.sigma_max, "--sigma-max", 1, 255, note="the largest noise level on the 0-255 scale")
        number_in(args.clip_fraction, "--clip-fraction", 0, 1)
        if args.minutes is not None:
            positive_float(args.minutes, "--minutes")
    except ValueError as err:
        parser.error(str(err))
    # the models that downsample train only on patches their scales divide (else the output has another size)
    multiple = {"autoencoder": 4, "drunet": 2 ** (len(args.channels or [32, 64, 128, 192]) - 1)}.get(args.model, 1)
    if args.patch is not None and args.patch % multiple:
        parser.error(f"--patch={args.patch}: expected a multiple of {multiple}, the downsampling of {args.model}")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train one checkpoint."""
    parser = argparse.ArgumentParser(prog="python -m utils.train", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["dncnn", "drunet", "autoencoder"])
    parser.add_argument("--depth", type=int, default=17, help="DnCNN depth")
    parser.add_argument("--channels", type=int, nargs="+", default=None,
                        help="DnCNN width (default 64); drunet: the widths of its scales (default 32 64 128 192)")
    parser.add_argument("--blocks", type=int, default=2, help="drunet: residual blocks per scale and side")
    parser.add_argument("--patch", type=int, default=None, help="training patch side (40 DnCNN, 32 autoencoder, "
                        "96 drunet)")
    parser.add_argument("--photos", choices=["course", "extended"], default="course",
                        help="train on TRAIN_PHOTOS, or on them plus EXTRA_TRAIN_PHOTOS (utils.data.photos)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="the same as --precision mixed_bfloat16 (kept for the recorded commands)")
    parser.add_argument("--schedule", choices=["epochs", "minutes"], default="epochs",
                        help="cosine learning rate over the planned epochs, or over --minutes (set at each epoch)")
    parser.add_argument("--workers", type=int, default=0,
                        help="0: draw each epoch's patches and noise in turn (the recorded runs); N > 0: draw the "
                             "next epoch in the background while this one trains, its noise in N threads")
    parser.add_argument("--patches-per-epoch", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--sigma-max", type=float, default=55.0, help="blind training: sigma ~ U[0, sigma_max]")
    parser.add_argument("--clip-fraction", type=float, default=1.0,
                        help="fraction of noisy patches clipped to [0, 1] (1: 8-bit protocol, 0: literature's)")
    add_checkpoint_arguments(parser)
    add_continue_argument(parser)
    args = parser.parse_args(argv)
    command = recorded_command(argv)

    check_arguments(parser, args)
    if args.schedule == "minutes" and not args.minutes:
        parser.error("--schedule minutes needs --minutes")
    if args.model != "drunet" and args.channels is not None and len(args.channels) != 1:
        parser.error(f"--channels {' '.join(map(str, args.channels))}: {args.model} takes one width")

    from utils.course.session import device_description, quiet_tensorflow

    quiet_tensorflow()
    import keras

    if args.mixed_precision:  # the flag the recorded drunet commands use
        args.precision = "mixed_bfloat16"
    options = apply_training_options(args)  # before any model

    from utils.course.checkpoints import begin_leg, finish_leg, in_float32, next_plan, save_checkpoint
    from utils.data.noise import add_blind_noise
    from utils.data.patches import sample_patches
    from utils.data.photos import EXTRA_TRAIN_PHOTOS, TRAIN_PHOTOS, load_photo
    from utils.denoising.models import dncnn, drunet, lecture_autoencoder
    from utils.denoising.quality import psnr_from_mse
    from utils.nn.training import train

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    color = "rgb" if args.model == "autoencoder" else "gray"
    patch = args.patch if args.patch is not None else {"dncnn": 40, "drunet": 96, "autoencoder": 32}[args.model]
    if args.model == "dncnn":
        kwargs = {"depth": args.depth, "channels": (args.channels or [64])[0]}
        model, builder = dncnn(**kwargs), "utils.denoising.models:dncnn"
    elif args.model == "drunet":
        kwargs = {"channels": args.channels or [32, 64, 128, 192], "blocks": args.blocks}
        model, builder = drunet(**kwargs), "utils.denoising.models:drunet"
    else:
        kwargs = {"input_shape": [None, None, 3]}
        model, builder = lecture_autoencoder(tuple(kwargs["input_shape"])), "utils.denoising.models:lecture_autoencoder"
    told = args.model == "drunet"      # the model is told each image's sigma
    train_photos = TRAIN_PHOTOS + (EXTRA_TRAIN_PHOTOS if args.photos == "extended" else ())
    photos = [load_photo(n, color) for n in train_photos]
    # Rescaled copies (as in the DnCNN paper) give more scales of texture from few photos.
    from skimage.transform import rescale

    photos += [rescale(p, s, channel_axis=-1 if p.ndim == 3 else None, anti_aliasing=True).astype(np.float32)
               for p in photos for s in (0.8, 0.6) if min(p.shape[:2]) * s >= patch]
    val_clean = sample_patches(photos, 256, 64, rng=12345)
    if color == "gray":
        val_clean = val_clean[..., None]
    val_noisy, val_sigma = add_blind_noise(val_clean, args.sigma_max, rng=54321, return_sigma=True)
    val_x = [val_noisy, val_sigma[:, None] / 255.0] if told else val_noisy

    # 1 and 0 keep the old protocols exactly (no extra random draw); in between, a fraction is clipped
    clip = True if args.clip_fraction == 1 else False if args.clip_fraction == 0 else args.clip_fraction
    name = args.name or args.model
    before = {"command": None, "epochs": 0, "samples_seen": 0, "wall_s": 0.0}
    try:
        state, before, trained_s = begin_leg(name, model, command, before, resume=args.resume,
                                             continuing=args.continue_run)
    except ValueError as err:
        parser.error(str(err))
    t0 = time.time() - trained_s

    stream = {"next": 0}  # the epoch the generator draws next

    def draw_pairs(epoch: int) -> tuple:
        # A continued run asks for its first epoch after epoch 0: the generator draws the epochs between as an
        # uninterrupted run did, so the continued run trains on the same pairs.
        while stream["next"] < epoch:
            draw_epoch()
        return draw_epoch()

    def draw_epoch() -> tuple:
        stream["next"] += 1
        clean = sample_patches(photos, args.patches_per_epoch, patch, rng=rng)
        clean = clean[..., None] if color == "gray" else clean
        if not args.workers:
            noisy, sigma = add_blind_noise(clean, args.sigma_max, rng, clip=clip, return_sigma=True)
        else:  # the noise in chunks, each from its own generator, in threads (NumPy draws without the GIL)
            chunks = np.array_split(np.arange(len(clean)), args.workers)
            drawn = list(pool.map(lambda c, g: add_blind_noise(clean[c], args.sigma_max, g, clip=clip,
                                                                return_sigma=True), chunks, rng.spawn(len(chunks))))
            noisy, sigma = np.concatenate([d[0] for d in drawn]), np.concatenate([d[1] for d in drawn])
        return ([noisy, sigma[:, None] / 255.0] if told else noisy), clean

    pool = ThreadPoolExecutor(max(args.workers, 1))

    def provenance(epochs_run: int, val_mse: float) -> dict:
        # a resumed checkpoint is reproduced by running its commands in order
        return {
            "command": " && ".join(c for c in (before["command"], command) if c),
            "epochs": before["epochs"] + epochs_run, "epochs_planned": next_plan(before, args.epochs),
            "samples_seen": before["samples_seen"] + epochs_run * args.patches_per_epoch, "patch": patch,
            "sigma_train": f"uniform [0, {args.sigma_max:g}] (blind), " + (
                "noisy clipped to [0, 1]" if clip is True else "noisy not clipped" if clip is False
                else f"{clip:.0%} of the noisy patches clipped to [0, 1]"),
            "train_photos": list(train_photos), "wall_s": round(before["wall_s"] + time.time() - t0, 1),
            "device": device_description(), "backend": keras.backend.backend(), "keras": keras.__version__,
            **options,
            **({"noise_level": "told the true sigma (FFDNet's noise-level map)"} if told else {}),
            **({"schedule": f"cosine over {args.minutes:g} minutes, set at each epoch"}
               if args.schedule == "minutes" else {}),
            "final_metrics": {"val_psnr_db": round(psnr_from_mse(val_mse), 3)},
        }

    class SaveEveryEpoch(keras.callbacks.Callback):
        """Print the epoch and save the checkpoint, so that a stopped run leaves its weights so far."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            print(f"epoch {epoch + 1}/{args.epochs}: lr {float(self.model.optimizer.learning_rate):.2e}, "
                  f"loss {logs['loss']:.5f}, val PSNR "
                  f"{psnr_from_mse(logs['val_loss']):.2f} dB, {(time.time() - t0) / 60:.1f} min", flush=True)
            save_checkpoint(model, name, builder, kwargs, provenance(epoch + 1, logs["val_loss"]))

    class CosineOverMinutes(keras.callbacks.Callback):
        """The cosine learning rate as a function of the time spent, not of the step, set at each epoch."""

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            done = min((time.time() - t0) / (args.minutes * 60), 1.0)
            self.model.optimizer.learning_rate = args.lr * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * done)))

    print(f"{model.name}: {model.count_params():,} parameters; {len(photos)} training images; {command}", flush=True)
    timed = args.schedule == "minutes"
    # with workers, the next epoch's pairs are drawn in the background while this one trains
    run = train(model, draw_pairs, ahead=args.workers > 0, loss="mse", epochs=args.epochs, batch_size=args.batch_size,
                learning_rate=args.lr, schedule="constant" if timed else "cosine", alpha=0.01, clipnorm=1.0,
                validation_data=(val_x, val_clean), callbacks=[SaveEveryEpoch(), *([CosineOverMinutes()] * timed)],
                max_seconds=args.minutes * 60 if args.minutes else None, state=state,
                jit_compile=JIT_COMPILE[args.jit_compile])
    pool.shutdown(cancel_futures=True)
    model = in_float32(model, builder, kwargs)  # scored as the notebooks use it
    record = provenance(run.start_epoch + run.epochs, run.last("val_loss"))
    record["final_metrics"].update(evaluate(model, color))
    save_checkpoint(model, name, builder, kwargs, record)
    if run.start_epoch + run.epochs == args.epochs:  # a leg cut short (--minutes, a crash) keeps its resume file
        finish_leg(state)
    print("held-out photos:", record["final_metrics"], flush=True)
