"""Where the course's folders are: the repository root, data/ (weights, offline runs), results/ and a scratch
folder."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The course's root folder (COURSE_ROOT if set, else the folder that holds the utils package)."""
    if os.environ.get("COURSE_ROOT"):
        root = Path(os.environ["COURSE_ROOT"]).resolve()
        if not root.is_dir():  # a typo would otherwise write results and checkpoints to a new, unseen folder
            raise ValueError(f"COURSE_ROOT={os.environ['COURSE_ROOT']!r} is not a folder: expected the course's "
                             "root folder, or COURSE_ROOT unset")
        return root
    return Path(__file__).resolve().parents[2]


def weights_dir() -> Path:
    """data/weights: the shipped checkpoints and their provenance files."""
    return repo_root() / "data" / "weights"


def runs_dir(study: str) -> Path:
    """data/runs/STUDY: the weights and provenance of one offline study's runs (several seeds, several arms)."""
    if not isinstance(study, str) or not study.replace("_", "").isalnum() or not study.islower():
        raise ValueError(f"study={study!r}: expected a lower-case name of letters, digits and _ (a folder name)")
    return repo_root() / "data" / "runs" / study


def scratch_dir() -> Path:
    """.scratch: what quick runs write (never committed, never mixed with full results)."""
    return repo_root() / ".scratch"


def write_atomically(path: Path, text: str) -> None:
    """Write text to path through a temporary file beside it, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
