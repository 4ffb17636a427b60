"""Denoisers' scores on the test items, computed offline: BM3D and the long-trained networks on every photo x
noise draw x sigma x protocol take longer than a notebook may.

`python -m utils.train denoiser_scores --name gray --color gray --sigmas 15 25 50 --noise-seeds 3` runs every
denoiser of `denoisers(color)`: the classical ones (`classical_denoisers`: Gaussian, TV, wavelet, NL-means with
their strengths tuned on the training photos, and BM3D, each told the true sigma) and the shipped checkpoints
(DnCNN-B and the autoencoder blind, DRUNet told sigma; grey ones on grey items only), on the held-out test items
(`utils.data.photos.held_out_items`: each test photo with each noise draw, whole photos) at each sigma, with
the noise clipped to [0, 1] and, unless `--protocols clipped`, not clipped. It records each item's PSNR and the
seconds per item, in `data/runs/denoisers/NAME.json` with the command, the configuration, the strength factors,
the checkpoints' commands, the device, the machine's speed and the versions of scikit-image and bm3d. The
denoised output is scored clipped to [0, 1] (an image); the noisy input (recorded as "noisy input") is scored as
it is, unclipped noise included. The file is written after each method; `--resume` skips the methods already
in it when the configuration is the same.

A notebook renders these scores beside its own and re-runs some items live to show that they reproduce.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from utils.course.checks import one_of

PROTOCOLS = ("clipped", "unclipped")
NOISY = "noisy input"
# the shipped checkpoints scored, by the name a table shows: (checkpoint, the colours it takes)
CHECKPOINTS = {"DnCNN-B checkpoint": ("dncnn", ("gray",)), "DRUNet checkpoint": ("drunet", ("gray",)),
               "autoencoder checkpoint": ("autoencoder", ("gray", "rgb"))}


def scores_path(name: str):
    """data/runs/denoisers/NAME.json."""
    from utils.course.paths import runs_dir

    return runs_dir("denoisers") / f"{_checked_name(name)}.json"


def denoisers(color: str, only: list[str] | None = None) -> dict[str, Any]:
    """Every denoiser scored for images of a colour (or those named in `only`), as f(noisy, sigma): the classical
    ones, then the checkpoints that take it (loaded only when asked for). The autoencoder (a colour model) gets a
    grey image in its three channels, its output averaged."""
    import numpy as np

    from utils.course.checkpoints import load_checkpoint
    from utils.denoising.classical import classical_denoisers
    from utils.denoising.models import denoise_image

    one_of(color, "color", ("gray", "rgb"))
    methods = dict(classical_denoisers())
    for label, (name, colors) in CHECKPOINTS.items():
        if color not in colors or (only is not None and label not in only):
            continue
        model = load_checkpoint(name)
        if len(model.inputs) == 2:      # told the noise level
            methods[label] = lambda y, s, m=model: denoise_image(m, y, sigma=s)
        elif name == "autoencoder" and color == "gray":
            methods[label] = lambda y, s, m=model: denoise_image(m, np.repeat(y[..., None], 3, -1)).mean(-1)
        else:
            methods[label] = lambda y, s, m=model: denoise_image(m, y)
    return methods


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not name.replace("_", "").isalnum() or not name.islower():
        raise ValueError(f"name={name!r}: expected a lower-case name of letters, digits and _ (a file name)")
    return name


def key(sigma: float, protocol: str) -> str:
    """The scores' key of one sigma and protocol: 'sigma_25' (clipped) or 'sigma_25_unclipped'."""
    one_of(protocol, "protocol", PROTOCOLS)
    return f"sigma_{sigma:g}" + ("_unclipped" if protocol == "unclipped" else "")


def score_method(method: str, config: dict[str, Any], denoise=None) -> tuple[dict[str, list[float]],
                                                                             dict[str, float]]:
    """One method's PSNR on every item, and its seconds per item, for each sigma and protocol of config; denoise:
    the method's f(noisy, sigma), None for the noisy input."""
    import numpy as np

    from utils.data.photos import held_out_items
    from utils.denoising.quality import psnr

    scores, seconds = {}, {}
    for protocol in config["protocols"]:
        for sigma in config["sigmas"]:
            _, clean, noisy = held_out_items(sigma, config["noise_seeds"], config["color"],
                                             clip=protocol == "clipped")
            t0 = time.perf_counter()
            if denoise is None:
                values = [psnr(c, y, clip=False) for c, y in zip(clean, noisy)]
            else:
                values = [psnr(c, denoise(y, sigma)) for c, y in zip(clean, noisy)]
            seconds[key(sigma, protocol)] = round((time.perf_counter() - t0) / len(clean), 2)
            scores[key(sigma, protocol)] = [round(float(v), 4) for v in np.asarray(values)]
    return scores, seconds


def read_scores(name: str) -> dict[str, Any]:
    """The saved record of data/runs/denoisers/NAME.json."""
    path = scores_path(name)
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []
        raise FileNotFoundError(f"name={name!r}: no {path}; expected one of {known}")
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and score every method not scored yet."""
    parser = argparse.ArgumentParser(prog="python -m utils.train denoiser_scores",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["denoiser_scores"])
    parser.add_argument("--name", required=True, help="the file under data/runs/denoisers/")
    parser.add_argument("--color", choices=["gray", "rgb"], default="gray")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[15, 25, 50])
    parser.add_argument("--noise-seeds", type=int, default=3)
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--methods", nargs="+", default=None, help="default: every denoiser of the colour")
    parser.add_argument("--resume", action="store_true", help="skip the methods already scored with this "
                        "configuration")
    args = parser.parse_args(argv)
    from utils.denoising.classical import CLASSICAL_FACTORS, classical_denoisers, noise_sigma

    known = [*classical_denoisers(), *(k for k, (_, colors) in CHECKPOINTS.items() if args.color in colors)]
    try:
        _checked_name(args.name)
        for i, s in enumerate(args.sigmas):
            noise_sigma(s, f"--sigmas[{i}]")
        for m in args.methods or []:
            one_of(m, "--methods", tuple(known))
    except ValueError as err:
        parser.error(str(err))
    if args.noise_seeds < 2:
        parser.error(f"--noise-seeds {args.noise_seeds}: expected at least 2 (a comparison needs 2 items per photo "
                     "set, and one draw shows no spread)")
    config = {"color": args.color, "sigmas": [float(s) for s in args.sigmas], "noise_seeds": args.noise_seeds,
              "protocols": list(dict.fromkeys(args.protocols))}
    methods = [NOISY, *(args.methods or known)]
    path = scores_path(args.name)
    record: dict[str, Any] = {}
    if path.exists():
        if not args.resume:
            parser.error(f"{path} exists: add --resume to score the methods it lacks, or choose --name")
        record = json.loads(path.read_text())
        if record["config"] != config:
            parser.error(f"{path} was scored with {record['config']}, not {config}: expected the same "
                         "configuration to resume, or another --name")

    from importlib.metadata import version

    import skimage

    from utils.course.checkpoints import read_provenance
    from utils.course.cli import recorded_command
    from utils.course.paths import write_atomically
    from utils.course.session import device_description, quiet_tensorflow
    from utils.course.speed import cpu_gflops

    quiet_tensorflow()
    record = record or {"command": recorded_command(argv), "config": config, "factors": dict(CLASSICAL_FACTORS),
                        "checkpoints": {label: read_provenance(name)["command"]
                                        for label, (name, _) in CHECKPOINTS.items() if label in methods},
                        "scores": {}, "seconds_per_item": {}}
    run = denoisers(args.color, methods)
    record.update({"device": device_description(), "cpu_gflops": round(cpu_gflops(), 1),
                   "versions": {"scikit-image": skimage.__version__, "bm3d": version("bm3d")}})
    for method in methods:
        if method in record["scores"]:
            print(f"{method}: done, skipped", flush=True)
            continue
        scores, seconds = score_method(method, config, None if method == NOISY else run[method])
        record["scores"][method], record["seconds_per_item"][method] = scores, seconds
        write_atomically(path, json.dumps(record, indent=1) + "\n")
        print(f"{method}: " + ", ".join(f"{k} {sum(v) / len(v):.2f} dB ({seconds[k]:.2f} s per item)"
                                       for k, v in scores.items()), flush=True)
