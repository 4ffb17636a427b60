"""The loop every offline study shares: each run (an arm and a training seed) trained to its end and saved.

A study (`python -m utils.train scene_losses | autoencoder_runs | dncnn_runs | application_runs |
localizer_runs | detector_runs | depth_runs`) trains runs that share one
configuration, and saves each as `data/runs/STUDY/NAME.weights.h5` beside its provenance `NAME.json`:
what the run recorded, plus the command, the configuration, the planned epochs, wall time, device,
backend, machine speed and distribution; the weights without the optimizer's state. Runs already saved
are refused unless `--resume`, which skips them, and only when they were trained with the same
configuration.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any


class StudyConfig:
    """Base of a study's frozen configuration dataclass: what every run of the study shares."""

    def as_record(self) -> dict[str, Any]:
        """The configuration as plain JSON values, to compare with a saved run's."""
        return asdict(self)


def seed_run_name(variant: str, seed: int, variants: Iterable[str]) -> str:
    """The file name of a run, without its suffix: VARIANT_seedK, for a variant of `variants` and a seed >= 0."""
    from utils.course.checks import non_negative_int, one_of

    one_of(variant, "variant", tuple(variants))
    return f"{variant}_seed{non_negative_int(seed, 'seed')}"


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every study shares: --seeds, --resume and --distribution."""
    from utils.nn.distribution import DISTRIBUTIONS

    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--resume", action="store_true", help="skip the runs already saved with this configuration")
    parser.add_argument("--distribution", choices=DISTRIBUTIONS, default="none",
                        help="data-parallel training (utils.nn.distribution); the batch stays the global batch")


def study_parser(model: str, doc: str, study: str, variants: Iterable[str], default_variants: list[str],
                 defaults: Any, flags: Iterable[str]) -> argparse.ArgumentParser:
    """The command line an offline study starts from: `python -m utils.train MODEL`, --study (its folder under
    data/runs/, default `study`), --variants, and its configuration's integer fields as flags (`add_integer_flags`).
    The study adds its own flags (its rates), then `parse_study` adds the shared ones and parses."""
    parser = argparse.ArgumentParser(prog=f"python -m utils.train {model}", description=doc.splitlines()[0])
    parser.add_argument("model", choices=[model])
    parser.add_argument("--study", default=study, help="the folder under data/runs/")
    parser.add_argument("--variants", nargs="+", choices=tuple(variants), default=default_variants)
    add_integer_flags(parser, defaults, flags)
    return parser


def parse_study(parser: argparse.ArgumentParser, argv: list[str] | None, flags: Iterable[str],
                least: dict[str, int] | None = None) -> tuple[argparse.Namespace, dict[str, int]]:
    """Add the shared flags (`add_study_arguments`), parse, and check the integer flags (`integer_flags`), the
    seeds and --lr (`check_seeds_and_rate`). Returns the arguments and the integer fields by name."""
    add_study_arguments(parser)
    args = parser.parse_args(argv)
    values = integer_flags(parser, args, flags, least)
    check_seeds_and_rate(parser, args)
    return args, values


def add_integer_flags(parser: argparse.ArgumentParser, defaults: Any, flags: Iterable[str]) -> None:
    """--FIELD-NAME for each integer field of a study's configuration, defaulting to its value in `defaults`."""
    for flag in flags:
        parser.add_argument("--" + flag.replace("_", "-"), type=int, default=getattr(defaults, flag))


def integer_flags(parser: argparse.ArgumentParser, args: argparse.Namespace, flags: Iterable[str],
                  least: dict[str, int] | None = None) -> dict[str, int]:
    """The flags' values by field name, refusing by flag name any below its least value (1 unless `least` says)."""
    values = {}
    for flag in flags:
        bound = (least or {}).get(flag, 1)
        if getattr(args, flag) < bound:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected at least {bound}")
        values[flag] = getattr(args, flag)
    return values


def check_seeds_and_rate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse repeated or negative --seeds and a learning rate --lr that is not positive, by flag name."""
    if any(s < 0 for s in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds {args.seeds}: expected distinct non-negative integers")
    if not args.lr > 0:
        parser.error(f"--lr {args.lr}: expected a positive learning rate")


def train_study(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None, study: Any,
                names: list[str], train_one: Callable[[str], tuple[Any, dict[str, Any]]], *,
                builder: str | Callable[[str], str],
                builder_kwargs: Callable[[str], dict[str, Any]], same_study: Callable[[dict[str, Any]], bool],
                summary: Callable[[str, dict[str, Any]], str]) -> None:
    """Train and save every run of `names` not saved yet in data/runs/<args.study>.

    study: the configuration (a dataclass with `epochs` and `as_record()`); train_one(name): the trained
    model and its record (with its own "epochs_planned" where runs differ in length); builder: the
    checkpoint builder of every run, or a function name -> builder where runs differ; builder_kwargs(name):
    the builder's arguments saved with it; same_study(record's "study"): whether a saved run shares this
    configuration; summary(name, record): the line printed after it.
    args needs `study`, `resume` and `distribution`.
    """
    from utils.course.cli import recorded_command
    from utils.course.paths import runs_dir

    directory = runs_dir(args.study)
    done = [name for name in names if (directory / f"{name}.json").exists()]
    if done and not args.resume:
        parser.error(f"{directory} already holds {', '.join(done)}: add --resume to skip them, or choose --study")
    command = recorded_command(argv)

    from utils.course.session import device_description, quiet_tensorflow

    quiet_tensorflow()
    import keras

    from utils.nn.distribution import description, use_distribution

    distribution = description(args.distribution, use_distribution(args.distribution))  # before any model

    from utils.course.checkpoints import read_provenance, save_checkpoint
    from utils.course.speed import cpu_gflops

    for name in done:
        saved = read_provenance(name, directory)
        if not same_study(saved["study"]):
            parser.error(f"{directory / name}.json was trained with {saved['study']}, not {study.as_record()}: "
                         "expected the same configuration to resume, or another --study")
    speed = round(cpu_gflops(), 1)
    for name in names:
        if name in done:
            print(f"{name}: done, skipped", flush=True)
            continue
        t0 = time.time()
        net, record = train_one(name)
        # a study whose runs differ in length (notebook 04's) gives each run's plan in its record
        record.update({"command": command, "study": study.as_record(),
                       "epochs_planned": record.get("epochs_planned", study.epochs),
                       "wall_s": round(time.time() - t0, 1), "device": device_description(),
                       "backend": keras.backend.backend(), "keras": keras.__version__, "cpu_gflops": speed,
                       "distribution": distribution})
        # a run is trained whole or not at all (--resume skips it), so its optimizer's state is not kept
        save_checkpoint(net, name, builder(name) if callable(builder) else builder, builder_kwargs(name), record,
                        directory, optimizer_state=False)
        print(summary(name, record), flush=True)


def load_saved_run(study: str, name: str):
    """The model of one saved run of data/runs/<study>/ (rebuilt from its provenance) and its provenance record."""
    from utils.course.checkpoints import load_checkpoint, read_provenance
    from utils.course.paths import runs_dir

    directory = runs_dir(study)
    return load_checkpoint(name, directory=directory), read_provenance(name, directory)
