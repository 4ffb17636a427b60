"""The command-line options that every checkpoint's training run shares (`python -m utils.train MODEL ...`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from utils.nn.distribution import DISTRIBUTIONS

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
JIT_COMPILE = {"auto": "auto", "on": True, "off": False}


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """--minutes, --seed, --name, --resume, --distribution, --precision and --jit-compile: a time limit, the
    seed, the checkpoint's name, resuming it, data-parallel training (`utils.nn.distribution`), mixed
    precision and XLA (for a GPU; neither is on by default on a CPU)."""
    parser.add_argument("--minutes", type=float, default=None, help="stop after the epoch that would pass this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="checkpoint name (default: the model)")
    parser.add_argument("--resume", action="store_true",
                        help="start from the saved checkpoint NAME and add this run to its provenance")
    parser.add_argument("--distribution", choices=DISTRIBUTIONS, default="none",
                        help="data-parallel training: mirrored (every GPU of this machine, one replica each) or "
                             "multi_worker (the machines that TF_CONFIG names); --batch-size is then the global "
                             "batch, split across the replicas")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="mixed_float16: float16 compute with Keras's loss scaling (a GPU); mixed_bfloat16: "
                             "bfloat16 compute (recent GPUs, TPUs); the checkpoint's weights are float32 either way "
                             "and it is scored in float32")
    parser.add_argument("--jit-compile", choices=tuple(JIT_COMPILE), default="auto",
                        help="XLA compilation of the training step: auto compiles on a GPU, not on a CPU (where it "
                             "measured slower) nor under a distribution strategy")


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


def apply_training_options(args: argparse.Namespace) -> dict:
    """Before any model is built: the run's distribution and precision. Returns their provenance entries
    ("distribution", and "precision" and "jit_compile" where not the defaults)."""
    import keras

    from utils.nn.distribution import description, use_distribution

    entries: dict = {"distribution": description(args.distribution, use_distribution(args.distribution))}
    keras.config.set_dtype_policy(args.precision)
    if args.precision != "float32":
        entries["precision"] = f"{args.precision} (float32 weights)"
    if args.jit_compile != "auto":
        entries["jit_compile"] = args.jit_compile
    return entries


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

