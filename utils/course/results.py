"""A notebook's headline figures, written to results/NN_topic.json (quick runs go to .scratch/results/)."""

from __future__ import annotations

import json
from pathlib import Path

from utils.course import session
from utils.course.checks import number_in
from utils.course.modes import has_overrides, mode
from utils.course.paths import repo_root, scratch_dir, write_atomically
from utils.course.speed import normalized


def results_folder(quick: bool, overrides: bool) -> Path:
    """Where a run's results go: results/ for a full run with the defaults; .scratch/results/ for a quick run;
    .scratch/results-with-parameters/ for a run with overridden parameters.

    So only the runs that the committed notebooks come from ever write results/, and a run with parameters
    (tests/test_notebook_parameters.py) never reads the figures of a quick run of the same notebook going on
    beside it.
    """
    if overrides:
        return scratch_dir() / "results-with-parameters"
    return scratch_dir() / "results" if quick else repo_root() / "results"


def results_dir() -> Path:
    """The running notebook's results folder (`results_folder` for its mode and parameters)."""
    return results_folder(mode() == "quick", has_overrides())


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MiB (what the kernel of a notebook has held at most)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10   # bytes on macOS, KiB on Linux


def _rounded(value: float) -> float:
    """Six decimals, or four significant digits below 0.001, so that a tiny error (8.9e-16) is not written as 0."""
    return round(value, 6) if value == 0 or abs(value) >= 1e-3 else float(f"{value:.4g}")


def record(figures: dict[str, float], notebook: str | None = None) -> Path:
    """Write the running notebook's headline figures with its mode, device, time, machine speed and memory; print it.

    The entry: {"notebook", "mode", "device", "wall_s", "cpu_gflops", "wall_s_normalized", "peak_rss_mb",
    "figures"}; each figure rounded to six decimals, or to four significant digits below 0.001. cpu_gflops is
    the speed session.start() measured, wall_s_normalized the wall time on the reference machine
    (`utils.course.speed.normalized`); both are None on a GPU. peak_rss_mb is the kernel's
    peak resident memory up to this call (the course's budget: 4096).
    """
    if not isinstance(figures, dict) or not figures:
        raise ValueError(f"figures={figures!r}: expected a non-empty dict of name -> number")
    clean: dict[str, float] = {}
    for name, value in figures.items():
        clean[str(name)] = _rounded(number_in(value, f"figures[{name!r}]"))
    state = session.current()
    notebook = notebook or str(state["notebook"])
    wall = session.elapsed()
    gflops = state.get("cpu_gflops")
    entry = {"notebook": notebook, "mode": mode(), "device": state.get("device", "unknown"),
             "wall_s": round(wall, 1),
             "cpu_gflops": None if gflops is None else round(float(gflops), 1),
             "wall_s_normalized": None if gflops is None else round(normalized(wall, float(gflops)), 1),
             "peak_rss_mb": round(peak_rss_mb()), "figures": clean}
    path = results_dir() / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(entry, indent=2) + "\n")
    width = max(map(len, clean))
    print(f"{notebook} ({entry['mode']} mode, {entry['device']}, {time_in_words(entry)} so far, "
          f"peak memory {entry['peak_rss_mb']:,} MiB):")
    for name, value in clean.items():
        print(f"  {name:<{width}}  {value:g}")
    return path


def whole_run(path: Path, wall_s: float) -> dict:
    """Set a results entry's times to its whole notebook's run (the runner's wall time; record() sees only the
    time up to its own cell, so the answers after it would escape the budget); keep record()'s as wall_s_at_record."""
    entry = json.loads(path.read_text())
    at_record = entry.get("wall_s_at_record", entry["wall_s"])
    gflops = entry.get("cpu_gflops")
    entry.update(wall_s=round(number_in(wall_s, "wall_s", 0.0), 1), wall_s_at_record=at_record,
                 wall_s_normalized=None if gflops is None else round(normalized(wall_s, gflops), 1))
    write_atomically(path, json.dumps(entry, indent=2) + "\n")
    return entry


def time_in_words(entry: dict) -> str:
    """A results entry's wall time with the machine's speed beside it: '412 s at 187 GFLOP/s = 535 s normalized'."""
    if entry.get("wall_s_normalized") is None or entry.get("cpu_gflops") is None:
        return f"{entry['wall_s']:.0f} s" + (", speed not recorded" if "cpu_gflops" not in entry else "")
    return (f"{entry['wall_s']:.0f} s at {entry['cpu_gflops']:.0f} GFLOP/s = {entry['wall_s_normalized']:.0f} s "
            f"normalized")
