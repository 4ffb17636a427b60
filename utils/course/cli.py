"""The command-line options that every checkpoint's training run shares (`python -m utils.train MODEL ...`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from utils.nn.distribution import DISTRIBUTIONS


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """--minutes, --seed, --name, --resume and --distribution: a time limit, the seed, the checkpoint's name,
    resuming it, and data-parallel training (`utils.nn.distribution`)."""
    parser.add_argument("--minutes", type=float, default=None, help="stop after the epoch that would pass this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="checkpoint name (default: the model)")
    parser.add_argument("--resume", action="store_true",
                        help="start from the saved checkpoint NAME and add this run to its provenance")
    parser.add_argument("--distribution", choices=DISTRIBUTIONS, default="none",
                        help="data-parallel training: mirrored (every GPU of this machine, one replica each) or "
                             "multi_worker (the machines that TF_CONFIG names); --batch-size is then the global "
                             "batch, split across the replicas")


def recorded_command(argv: list[str] | None) -> str:
    """The command as the provenance records it: `python -m utils.train` and the arguments, shell-quoted.

    Without --continue: a continued leg is recorded as the one command it continues.
    """
    given = argv if argv is not None else sys.argv[1:]
    return "python -m utils.train " + " ".join(shlex.quote(a) for a in given if a != "--continue")


def add_continue_argument(parser: argparse.ArgumentParser) -> None:
    """--continue: finish a stopped leg from its resume file (`utils.course.checkpoints.start_leg`)."""
    parser.add_argument("--continue", dest="continue_run", action="store_true",
                        help="continue the stopped run of this same command from its resume file (the optimizer's "
                             "state and schedule go on), instead of starting a new leg")


def add_evaluate_only(parser: argparse.ArgumentParser, metrics: str) -> None:
    """--evaluate-only: with --resume, no training, only the held-out metrics added to the checkpoint's provenance."""
    parser.add_argument("--evaluate-only", action="store_true",
                        help=f"with --resume: no training, only the held-out {metrics} added to the provenance")


def parse_checkpoint_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line, refusing --evaluate-only without --resume (it evaluates the saved checkpoint)."""
    args = parser.parse_args(argv)
    if getattr(args, "evaluate_only", False) and not args.resume:
        parser.error("--evaluate-only needs --resume: it evaluates the saved checkpoint NAME")
    return args

