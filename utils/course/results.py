"""A notebook's headline figures, written to results/NN_topic.json (quick runs go to .scratch/results/)."""

from __future__ import annotations

import json
from pathlib import Path

from utils.course import session
from utils.course.checks import number_in
from utils.course.modes import has_overrides, mode
from utils.course.paths import repo_root, scratch_dir


def results_dir() -> Path:
    """results/ for a full run with default parameters; .scratch/results/ for a quick run or one with overrides.

    So only the runs that the committed notebooks come from ever write results/.
    """
    return (scratch_dir() / "results") if mode() == "quick" or has_overrides() else (repo_root() / "results")


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MiB (what the kernel of a notebook has held at most)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10   # bytes on macOS, KiB on Linux


def record(figures: dict[str, float], notebook: str | None = None) -> Path:
    """Write {"notebook", "mode", "device", "wall_s", "peak_rss_mb", "figures"} for the running notebook; print it.

    peak_rss_mb is the kernel's peak resident memory up to this call (the course's budget: 4096).
    """
    if not isinstance(figures, dict) or not figures:
        raise ValueError(f"figures={figures!r}: expected a non-empty dict of name -> number")
    clean: dict[str, float] = {}
    for name, value in figures.items():
        clean[str(name)] = round(number_in(value, f"figures[{name!r}]"), 6)
    state = session.current()
    notebook = notebook or str(state["notebook"])
    entry = {"notebook": notebook, "mode": mode(), "device": state.get("device", "unknown"),
             "wall_s": round(session.elapsed(), 1), "peak_rss_mb": round(peak_rss_mb()), "figures": clean}
    path = results_dir() / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry, indent=2) + "\n")
    width = max(map(len, clean))
    print(f"{notebook} ({entry['mode']} mode, {entry['device']}, {entry['wall_s']:.0f} s, "
          f"peak memory {entry['peak_rss_mb']:,} MiB):")
    for name, value in clean.items():
        print(f"  {name:<{width}}  {value:g}")
    return path
