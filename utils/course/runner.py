"""The course runner: `python -m utils.course list | run [--quick] [NN ...] | results | normalise | slides |
student | site`.

`run` executes notebooks in course order, each from a fresh kernel, honouring the `parameters`
cell (`-p name=value` injects overrides after it, as papermill does). Full mode writes the
outputs back into notebooks/ and regenerates RESULTS.md; quick mode (or any override) writes
to .scratch/notebooks/ and never touches the committed notebooks. Before a full run it
normalises the notebook (`normalise`): the Colab setup cell and badge written from pyproject.toml, slide roles on
every cell, Colab's GPU setting where a GPU pays off. `slides`, `student` and `site` build the decks, the
student edition and the HTML site into .scratch/ (or --out).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import time
from pathlib import Path

from utils.course.checks import int_at_least
from utils.course.modes import OVERRIDES_ENV
from utils.course.paths import repo_root, scratch_dir

COURSE_MAP: tuple[tuple[str, str], ...] = (
    ("00_setup", "environment, device, modes, the data"),
    ("01_denoising_autoencoder", "image-to-image autoencoder, the lecture's Keras model"),
    ("02_residual_denoising_dncnn", "\"better denoising networks\": residual learning (DnCNN)"),
    ("03_upsampling_transposed_convolution", "upsampling; transposed convolution as X^T; DSP view"),
    ("04_autoencoder_applications", "completion, super-resolution, compression, features"),
    ("05_semantic_segmentation_unet", "per-pixel classification, losses, U-Net"),
    ("06_soft_dice_class_imbalance", "Soft Dice vs cross-entropy under 0.3 % foreground"),
    ("07_vnet_volumetric_segmentation", "V-Net, 3-D convolution, constrained filters"),
    ("08_ultrasound_localize_then_segment", "Deep BV and Deep MOUSE: localize, then segment"),
    ("09_detection_basics", "classification + localization, anchors, IoU, NMS, AP"),
    ("10_faster_rcnn", "RPN, RoI pooling, four losses"),
    ("11_yolo_ssd", "single-shot detection, speed vs accuracy"),
    ("12_mask_rcnn", "instance segmentation, RoIAlign, mask head"),
    ("13_detect_and_track_tubes", "TrackNet: anchor tubes in video"),
    ("14_written_assignment", "the five questions, answers checked by code"),
    ("15_training_at_scale", "beyond the lecture: data-parallel training, input pipeline"),
)


def notebooks_dir() -> Path:
    """notebooks/: the course itself."""
    return repo_root() / "notebooks"


def available() -> list[str]:
    """The notebooks of the course map that exist, in course order."""
    return [name for name, _ in COURSE_MAP if (notebooks_dir() / f"{name}.ipynb").exists()]


def select(numbers: list[str]) -> list[str]:
    """The available notebooks whose number (or full name) is given; all of them when none is."""
    names = available()
    if not numbers:
        return names
    chosen = []
    for number in numbers:
        match = [n for n in names if n == number or n.split("_")[0] == number.zfill(2)]
        if not match:
            raise SystemExit(f"notebook {number!r}: expected a number or name among {', '.join(names)}")
        chosen += match
    return [n for n in names if n in chosen]


def parse_parameters(pairs: list[str]) -> dict[str, object]:
    """`name=value` strings into a dict; values are Python literals (numbers, strings, lists)."""
    params: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"-p {pair!r}: expected name=value with a Python identifier as name")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    return params


def inject_parameters(nb, params: dict[str, object]) -> None:
    """Insert a cell of assignments right after the cell tagged `parameters` (papermill's convention)."""
    import nbformat

    if not params:
        return
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), None)
    if index is None:
        raise SystemExit("the notebook has no cell tagged 'parameters', so -p cannot set anything")
    tree = ast.parse(nb.cells[index].source)
    targets = [t for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets]
    targets += [node.target for node in ast.walk(tree) if isinstance(node, ast.AnnAssign)]
    known = {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise SystemExit(f"-p {', '.join(unknown)}: not set in the notebook's parameters cell; expected one of "
                         f"{', '.join(sorted(known))}")
    source = "# Parameters injected by the course runner\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)


def normalise(nb, name: str) -> None:
    """Bring `nb` (the notebook `name`) to the course's form: setup cell and Colab badge from pyproject.toml's
    repository, a slide role on every cell (roles set by hand stay), Colab's accelerator where a GPU pays off."""
    import re

    from utils.course.colab import GPU_NOTEBOOKS, badge, setup_cell
    from utils.course.slides import tag_slides

    if len(nb.cells) < 2 or nb.cells[1].cell_type != "code" or not nb.cells[1].source.startswith("# Setup:"):
        raise ValueError(f"{name}: expected the setup cell ('# Setup: ...') second, after the title")
    nb.cells[1].source = setup_cell(name)
    title = nb.cells[0].source
    if "[![Open In Colab]" not in title:
        raise ValueError(f"{name}: expected an 'Open In Colab' badge in the title cell")
    nb.cells[0].source = re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", lambda _: badge(name), title)
    tag_slides(nb)
    if name[:2] in GPU_NOTEBOOKS:
        nb.metadata["accelerator"] = "GPU"
        nb.metadata.setdefault("colab", {})["gpuType"] = "T4"


def execute(name: str, quick: bool, params: dict[str, object], timeout: int | None = 1800,
            progress: bool = False) -> float:
    """Run one notebook from a fresh kernel; return its wall time. Writes it where the mode says.

    timeout: seconds a cell may take (None: no limit). progress: show which cell k/n runs and for how long,
    in place on a terminal, as a plain line a minute in a log.
    """
    import threading

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    from utils.course.progress import LiveLine, duration

    if timeout is not None:
        timeout = int_at_least(timeout, "timeout", 1, note="seconds a cell may take; None for no limit")
    source = notebooks_dir() / f"{name}.ipynb"
    nb = nbformat.read(source, as_version=4)
    if not quick and not params:  # only what is written back into notebooks/ must be in the course's form
        normalise(nb, name)
    inject_parameters(nb, params)
    # the kernel's environment, not this process's (a test calling execute must not change its own mode):
    # a run with overridden parameters records its figures in .scratch/, never over the committed results/
    env = {**os.environ, "COURSE_QUICK": "1" if quick else "0", OVERRIDES_ENV: "1" if params else "0"}
    # the kernel's own log only at ERROR: its "running over TCP without encryption" warning (a local
    # kernel on the loopback interface) is noise on every run; the notebook's warnings still reach its outputs
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(notebooks_dir())}})
    code_cells = {i: k for k, i in enumerate((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), 1)}
    running = {"cell": None, "since": time.monotonic()}

    def started(cell, cell_index: int) -> None:
        running.update(cell=cell_index, since=time.monotonic())

    client.on_cell_execute = started
    line, stop = LiveLine(min_interval=1.0, log_every=60.0), threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            if running["cell"] is not None:
                now = time.monotonic()
                line.update(f"  {name}: cell {code_cells.get(running['cell'], '?')}/{len(code_cells)} running for "
                            f"{duration(now - running['since'])} ({duration(now - t_start)} in all)")

    target = source if not quick and not params else scratch_dir() / "notebooks" / source.name
    t0, t_start = time.perf_counter(), time.monotonic()
    ticker = threading.Thread(target=tick, daemon=True)
    if progress:
        ticker.start()
    try:
        client.execute(env=env)
    except CellTimeoutError:
        raise SystemExit(f"{name}: cell {running['cell']} ran past the limit of {timeout} s per cell "
                         "(--timeout)") from None
    except CellExecutionError as err:
        failed = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        target = scratch_dir() / "notebooks" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        summary = f"{getattr(err, 'ename', type(err).__name__)}: {getattr(err, 'evalue', err)}"
        raise SystemExit(f"{name}: cell {failed} failed: {summary}\n(the partial run is in "
                         f"{target.relative_to(repo_root())})") from None
    finally:
        stop.set()
        if progress:
            ticker.join()
            line.clear()
    wall = time.perf_counter() - t0
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return wall


def recorded_time(name: str, quick: bool, params: dict[str, object], since: float, wall: float) -> str | None:
    """Give the results that notebook `name` recorded in a run started at `since` (time.time()) the run's whole
    wall time, and return its times in words; None when the run wrote no results."""
    from utils.course.results import results_folder, time_in_words, whole_run

    path = results_folder(quick, bool(params)) / f"{name}.json"
    if not path.exists() or path.stat().st_mtime < since:
        return None
    return time_in_words(whole_run(path, wall))


def results_table(results: Path | None = None) -> str:
    """RESULTS.md: every notebook's recorded figures, mode, device, wall time, the machine's speed, the wall time
    normalized to the reference machine, and peak memory, in one table."""
    from utils.course.speed import REFERENCE_GFLOPS

    results = results or repo_root() / "results"
    lines = [
        "# Results",
        "",
        "Generated by `python -m utils.course run` from `results/*.json` (full mode); do not edit by hand.",
        f"CPU GFLOP/s is the machine's float32 matmul speed measured when the notebook started; normalized is the "
        f"wall time x GFLOP/s / {REFERENCE_GFLOPS:.0f}, the time on this machine kind on a quiet day, which the "
        "course's budgets (300 s per notebook) are stated for. Neither is recorded on a GPU.",
        "",
        "| notebook | figure | value | mode | device | wall time (s) | CPU GFLOP/s | normalized (s) | "
        "peak memory (MiB) |",
        "|---|---|---:|---|---|---:|---:|---:|---:|",
    ]
    order = {name: i for i, (name, _) in enumerate(COURSE_MAP)}
    entries = [json.loads(p.read_text()) for p in results.glob("*.json")]

    def recorded(entry: dict, key: str, fmt: str) -> str:
        if key not in entry:
            return "not recorded"
        return "GPU run" if entry[key] is None else format(entry[key], fmt)

    for entry in sorted(entries, key=lambda e: order.get(e["notebook"], len(order))):
        head = (entry["notebook"], entry["mode"], entry["device"], f"{entry['wall_s']:.0f}",
                recorded(entry, "cpu_gflops", ".0f"), recorded(entry, "wall_s_normalized", ".0f"),
                recorded(entry, "peak_rss_mb", ",.0f"))
        for i, (figure, value) in enumerate(entry["figures"].items()):
            h = head if i == 0 else ("",) * len(head)
            shown = f"{int(value):,}" if float(value).is_integer() else f"{value:.4g}"
            lines.append(f"| {h[0]} | {figure} | {shown} | {' | '.join(h[1:])} |")
    return "\n".join(lines) + "\n"


def write_results_table() -> Path:
    """Regenerate RESULTS.md from results/."""
    path = repo_root() / "RESULTS.md"
    path.write_text(results_table())
    return path


def build_edition(kind: str, names: list[str], out: Path, answers: bool = True) -> list[Path]:
    """Build the decks, the student edition or the site of `names` into `out`; print and return what it wrote.
    answers=False: decks without the answers (`utils.course.slides.build_decks`)."""
    from utils.course.editions import build_site, write_student_edition
    from utils.course.slides import build_decks

    root, target = repo_root().resolve(), Path(out).resolve()
    committed = [root / folder for folder in ("notebooks", "utils", "tests", "data", "results")]
    if target == root or any(target == folder or folder in target.parents for folder in committed):
        # the student edition writes <out>/notebooks/NN_*.ipynb: with --out . that is the committed notebooks
        raise SystemExit(f"--out {out}: the course's own files are there (notebooks, utils, tests, data, results); "
                         f"choose a folder of its own, e.g. .scratch/{kind} (the default)")
    if kind == "slides":
        written = build_decks(names, out, answers=answers)
    else:
        written = {"student": write_student_edition, "site": build_site}[kind](names, out)
    print(f"wrote {len(written)} file(s) to {out}" + (f"; open {written[0]}" if kind != "student" else ""))
    return written


def _seconds(text: str) -> int:
    """--timeout's value: a whole number of seconds > 0 (0 or less is refused, not read as 'no limit')."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of seconds > 0 (or --no-timeout)")
    return value


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m utils.course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the course map")
    run = sub.add_parser("run", help="execute notebooks in order, each from a fresh kernel")
    run.add_argument("notebooks", nargs="*", help="numbers (01) or names; default: all")
    run.add_argument("--quick", action="store_true", help="quick mode: tiny sizes, outputs to .scratch/")
    run.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                     help="override a variable of the parameters cell (outputs go to .scratch/)")
    limit = run.add_mutually_exclusive_group()
    limit.add_argument("--timeout", type=_seconds, default=1800, help="seconds a cell may take (default 1800)")
    limit.add_argument("--no-timeout", dest="timeout", action="store_const", const=None,
                       help="let every cell run as long as it takes")
    sub.add_parser("results", help="regenerate RESULTS.md from results/")
    sub.add_parser("normalise", help="write setup cells, Colab badges and slide roles into notebooks/ "
                                     "without executing (after changing the repository in pyproject.toml)")
    builds = {"slides": "reveal.js decks", "student": "the student edition (no answers)",
              "site": "a static HTML site with an index in lecture order"}
    for command, what in builds.items():
        build = sub.add_parser(command, help=f"build {what}, offline, into .scratch/{command}/ (or --out)")
        build.add_argument("notebooks", nargs="*", help="numbers (01) or names; default: all")
        build.add_argument("--out", type=Path, default=None, help=f"folder to write (default .scratch/{command})")
        if command == "slides":
            build.add_argument("--no-answers", action="store_true",
                               help="leave the answers out, for a class that has not done the exercises "
                                    "(default folder .scratch/slides-without-answers)")
    args = parser.parse_args(argv)

    if args.command == "list":
        have = set(available())
        for name, topic in COURSE_MAP:
            print(f"{'*' if name in have else ' '} {name:<40} {topic}")
        print("(* = notebook present)")
        return
    if args.command == "results":
        print(f"wrote {write_results_table().relative_to(repo_root())}")
        return
    if args.command == "normalise":
        import nbformat

        for name in available():
            path = notebooks_dir() / f"{name}.ipynb"
            nb = nbformat.read(path, as_version=4)
            normalise(nb, name)
            nbformat.write(nb, path)
        print(f"normalised {len(available())} notebooks")
        return
    if args.command in builds:
        answers = not getattr(args, "no_answers", False)
        folder = args.command if answers else "slides-without-answers"
        build_edition(args.command, select(args.notebooks), args.out or scratch_dir() / folder, answers=answers)
        return
    params = parse_parameters(args.parameter)
    names = select(args.notebooks)
    mode = "quick" if args.quick else "full"
    print(f"running {len(names)} notebook(s) in {mode} mode", flush=True)
    total = 0.0
    for name in names:
        since = time.time()
        wall = execute(name, args.quick, params, args.timeout, progress=True)
        total += wall
        recorded = recorded_time(name, args.quick, params, since, wall)
        print(f"{name:<40} ok {wall:7.1f} s" + (f" ({recorded})" if recorded else ""), flush=True)
    print(f"{'total':<40}    {total:7.1f} s")
    if not args.quick and not params:
        print(f"wrote {write_results_table().relative_to(repo_root())}")
