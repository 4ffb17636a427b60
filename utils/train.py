"""Long training runs that produce the shipped checkpoints: `python -m utils.train dncnn|autoencoder`.

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
    """Mean PSNR over the held-out photos at each sigma (gray photos; the RGB model sees them replicated)."""
    from utils.denoisers import denoise_image
    from utils.metrics import psnr
    from utils.noise import add_gaussian_noise
    from utils.photos import TEST_PHOTOS, load_photo

    out = {}
    for s in sigmas:
        scores = []
        for i, name in enumerate(TEST_PHOTOS):
            clean = load_photo(name, "gray")
            noisy = add_gaussian_noise(clean, s, rng=seed * 1000 + i)
            x = noisy if color == "gray" else np.repeat(noisy[..., None], 3, axis=-1)
            y = denoise_image(model, x)
            scores.append(psnr(clean, y if color == "gray" else y.mean(axis=-1)))
        out[f"psnr_s{s}_test_mean"] = round(float(np.mean(scores)), 3)
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
    parser.add_argument("--minutes", type=float, default=None, help="stop after the epoch that would pass this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="checkpoint name (default: the model)")
    parser.add_argument("--resume", action="store_true",
                        help="start from the saved checkpoint NAME and add this run to its provenance")
    args = parser.parse_args(argv)
    command = "python -m utils.train " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    from utils.session import device_description, quiet_tensorflow

    quiet_tensorflow()
    import keras

    from utils.checkpoints import load_checkpoint, read_provenance, save_checkpoint
    from utils.denoisers import dncnn, lecture_autoencoder
    from utils.noise import add_blind_noise
    from utils.patches import sample_patches
    from utils.photos import TRAIN_PHOTOS, load_photo

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    color = "gray" if args.model == "dncnn" else "rgb"
    patch = args.patch or (40 if args.model == "dncnn" else 32)
    if args.model == "dncnn":
        kwargs = {"depth": args.depth, "channels": args.channels}
        model, builder = dncnn(**kwargs), "utils.denoisers:dncnn"
    else:
        kwargs = {"input_shape": [None, None, 3]}
        model, builder = lecture_autoencoder(tuple(kwargs["input_shape"])), "utils.denoisers:lecture_autoencoder"
    photos = [load_photo(n, color) for n in TRAIN_PHOTOS]
    # Rescaled copies (as in the DnCNN paper) give more scales of texture from few photos.
    from skimage.transform import rescale

    photos += [rescale(p, s, channel_axis=-1 if p.ndim == 3 else None, anti_aliasing=True).astype(np.float32)
               for p in photos for s in (0.8, 0.6) if min(p.shape[:2]) * s >= patch]
    val_clean = sample_patches(photos, 256, 64, rng=12345)
    if color == "gray":
        val_clean = val_clean[..., None]
    val_noisy = add_blind_noise(val_clean, args.sigma_max, rng=54321)

    name = args.name or args.model
    before = {"command": None, "epochs": 0, "samples_seen": 0, "wall_s": 0.0}
    if args.resume:
        before = read_provenance(name)
        load_checkpoint(name, model)
        print(f"resuming {name} after {before['epochs']} epochs: {before['command']}", flush=True)
    steps = args.epochs * -(-args.patches_per_epoch // args.batch_size)  # ceil: the last batch may be short
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=steps, alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0), loss="mse")
    t0, seen, epoch_times = time.time(), 0, []
    print(f"{model.name}: {model.count_params():,} parameters; {len(photos)} training images; {command}", flush=True)
    for epoch in range(1, args.epochs + 1):
        te = time.time()
        clean = sample_patches(photos, args.patches_per_epoch, patch, rng=rng)
        if color == "gray":
            clean = clean[..., None]
        noisy = add_blind_noise(clean, args.sigma_max, rng)
        hist = model.fit(noisy, clean, batch_size=args.batch_size, epochs=1, verbose=0)
        seen += len(clean)
        val_mse = float(model.evaluate(val_noisy, val_clean, batch_size=64, verbose=0))
        epoch_times.append(time.time() - te)
        wall = time.time() - t0
        print(f"epoch {epoch}/{args.epochs}: loss {hist.history['loss'][-1]:.5f}, "
              f"val PSNR {10 * np.log10(1 / val_mse):.2f} dB, {wall / 60:.1f} min", flush=True)
        last = epoch == args.epochs or (args.minutes and wall + np.mean(epoch_times) > args.minutes * 60)
        provenance = {
            # a resumed checkpoint is reproduced by running its commands in order
            "command": " && ".join(c for c in (before["command"], command) if c),
            "epochs": before["epochs"] + epoch, "epochs_planned": before["epochs"] + args.epochs,
            "samples_seen": before["samples_seen"] + seen, "patch": patch,
            "sigma_train": f"uniform [0, {args.sigma_max:g}] (blind), noisy clipped to [0, 1]",
            "train_photos": list(TRAIN_PHOTOS), "wall_s": round(before["wall_s"] + wall, 1),
            "device": device_description(),
            "backend": keras.backend.backend(), "keras": keras.__version__,
            "final_metrics": {"val_psnr_db": round(float(10 * np.log10(1 / val_mse)), 3)},
        }
        if last:
            provenance["final_metrics"].update(evaluate(model, color))
        save_checkpoint(model, name, builder, kwargs, provenance)
        if last:
            print("held-out photos:", provenance["final_metrics"], flush=True)
            break


if __name__ == "__main__":
    main()
