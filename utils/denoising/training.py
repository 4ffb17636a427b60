"""Long training runs behind the shipped checkpoints, run as `python -m utils.train dncnn|autoencoder`.

Each run saves after every epoch (so a stopped run still leaves its best-so-far weights) and
writes the provenance beside the weights: the exact command, epochs, samples seen, wall time,
device, backend, and final PSNR on the held-out photos.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np


def evaluate(model, color: str, sigmas=(15, 25, 50), seed: int = 0) -> dict[str, float]:
    """Mean PSNR over the held-out photos at each sigma, noise clipped to [0, 1] and not (suffix _unclipped).

    Grey photos; an RGB model sees them replicated to three channels and its output is averaged back.
    """
    from utils.data.noise import add_gaussian_noise
    from utils.data.photos import TEST_PHOTOS, load_photo
    from utils.denoising.models import denoise_image
    from utils.denoising.quality import psnr

    out = {}
    for clip, suffix in ((True, ""), (False, "_unclipped")):
        for s in sigmas:
            scores = []
            for i, name in enumerate(TEST_PHOTOS):
                clean = load_photo(name, "gray")
                noisy = add_gaussian_noise(clean, s, rng=seed * 1000 + i, clip=clip)
                x = noisy if color == "gray" else np.repeat(noisy[..., None], 3, axis=-1)
                y = denoise_image(model, x)
                scores.append(psnr(clean, y if color == "gray" else y.mean(axis=-1)))
            out[f"psnr_s{s}_test_mean{suffix}"] = round(float(np.mean(scores)), 3)
    return out


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and train one checkpoint."""
    parser = argparse.ArgumentParser(prog="python -m utils.train", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["dncnn", "autoencoder"])
    parser.add_argument("--depth", type=int, default=17, help="DnCNN depth")
    parser.add_argument("--channels", type=int, default=64, help="DnCNN width")
    parser.add_argument("--patch", type=int, default=None, help="training patch side (40 DnCNN, 32 autoencoder)")
    parser.add_argument("--patches-per-epoch", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--sigma-max", type=float, default=55.0, help="blind training: sigma ~ U[0, sigma_max]")
    parser.add_argument("--clip-fraction", type=float, default=1.0,
                        help="fraction of noisy patches clipped to [0, 1] (1: 8-bit protocol, 0: literature's)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after the epoch that would pass this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="checkpoint name (default: the model)")
    parser.add_argument("--resume", action="store_true",
                        help="start from the saved checkpoint NAME and add this run to its provenance")
    args = parser.parse_args(argv)
    command = "python -m utils.train " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    from utils.course.session import device_description, quiet_tensorflow

    quiet_tensorflow()
    import keras

    from utils.course.checkpoints import load_checkpoint, read_provenance, save_checkpoint
    from utils.data.noise import add_blind_noise
    from utils.data.patches import sample_patches
    from utils.data.photos import TRAIN_PHOTOS, load_photo
    from utils.denoising.models import dncnn, lecture_autoencoder
    from utils.denoising.quality import psnr_from_mse
    from utils.nn.training import train

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    color = "gray" if args.model == "dncnn" else "rgb"
    patch = args.patch or (40 if args.model == "dncnn" else 32)
    if args.model == "dncnn":
        kwargs = {"depth": args.depth, "channels": args.channels}
        model, builder = dncnn(**kwargs), "utils.denoising.models:dncnn"
    else:
        kwargs = {"input_shape": [None, None, 3]}
        model, builder = lecture_autoencoder(tuple(kwargs["input_shape"])), "utils.denoising.models:lecture_autoencoder"
    photos = [load_photo(n, color) for n in TRAIN_PHOTOS]
    # Rescaled copies (as in the DnCNN paper) give more scales of texture from few photos.
    from skimage.transform import rescale

    photos += [rescale(p, s, channel_axis=-1 if p.ndim == 3 else None, anti_aliasing=True).astype(np.float32)
               for p in photos for s in (0.8, 0.6) if min(p.shape[:2]) * s >= patch]
    val_clean = sample_patches(photos, 256, 64, rng=12345)
    if color == "gray":
        val_clean = val_clean[..., None]
    val_noisy = add_blind_noise(val_clean, args.sigma_max, rng=54321)

    # 1 and 0 keep the old protocols exactly (no extra random draw); in between, a fraction is clipped
    clip = True if args.clip_fraction == 1 else False if args.clip_fraction == 0 else args.clip_fraction
    name = args.name or args.model
    before = {"command": None, "epochs": 0, "samples_seen": 0, "wall_s": 0.0}
    if args.resume:
        before = read_provenance(name)
        load_checkpoint(name, model)
        print(f"resuming {name} after {before['epochs']} epochs: {before['command']}", flush=True)
    t0 = time.time()

    def epoch_pairs(epoch: int) -> tuple[np.ndarray, np.ndarray]:
        clean = sample_patches(photos, args.patches_per_epoch, patch, rng=rng)
        clean = clean[..., None] if color == "gray" else clean
        return add_blind_noise(clean, args.sigma_max, rng, clip=clip), clean

    def provenance(epochs_run: int, val_mse: float) -> dict:
        # a resumed checkpoint is reproduced by running its commands in order
        return {
            "command": " && ".join(c for c in (before["command"], command) if c),
            "epochs": before["epochs"] + epochs_run, "epochs_planned": before["epochs"] + args.epochs,
            "samples_seen": before["samples_seen"] + epochs_run * args.patches_per_epoch, "patch": patch,
            "sigma_train": f"uniform [0, {args.sigma_max:g}] (blind), " + (
                "noisy clipped to [0, 1]" if clip is True else "noisy not clipped" if clip is False
                else f"{clip:.0%} of the noisy patches clipped to [0, 1]"),
            "train_photos": list(TRAIN_PHOTOS), "wall_s": round(before["wall_s"] + time.time() - t0, 1),
            "device": device_description(), "backend": keras.backend.backend(), "keras": keras.__version__,
            "final_metrics": {"val_psnr_db": round(psnr_from_mse(val_mse), 3)},
        }

    class SaveEveryEpoch(keras.callbacks.Callback):
        """Print the epoch and save the checkpoint, so that a stopped run leaves its weights so far."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            print(f"epoch {epoch + 1}/{args.epochs}: loss {logs['loss']:.5f}, val PSNR "
                  f"{psnr_from_mse(logs['val_loss']):.2f} dB, {(time.time() - t0) / 60:.1f} min", flush=True)
            save_checkpoint(model, name, builder, kwargs, provenance(epoch + 1, logs["val_loss"]))

    print(f"{model.name}: {model.count_params():,} parameters; {len(photos)} training images; {command}", flush=True)
    run = train(model, epoch_pairs, loss="mse", epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                alpha=0.01, clipnorm=1.0, validation_data=(val_noisy, val_clean), callbacks=[SaveEveryEpoch()],
                max_seconds=args.minutes * 60 if args.minutes else None)
    record = provenance(run.epochs, run.last("val_loss"))
    record["final_metrics"].update(evaluate(model, color))
    save_checkpoint(model, name, builder, kwargs, record)
    print("held-out photos:", record["final_metrics"], flush=True)
