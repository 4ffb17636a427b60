"""Colab: the repository's address (one place: pyproject.toml), the setup cell and badge built from it, and the
install that the setup cell runs on Colab.

The setup cell must fetch the course before `utils` can be imported, so it cannot read the address at run
time: it carries it as a literal that `setup_cell` writes from pyproject.toml's `[project.urls] Repository`.
The course runner rewrites every notebook's setup cell and badge before it executes it
(`python -m utils.course normalise` does it without executing), and a test checks that the committed
notebooks and README.md agree with pyproject.toml. Only the standard library is imported here: `install` runs
on Colab before the course's dependencies are there.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

# Colab ships these; installing the course must never replace them (a new TensorFlow needs a runtime restart
# and may not match Colab's CUDA).
KEEP = ("tensorflow", "keras")
# what `install` writes once it succeeded, so that re-running the setup cell (or a restarted runtime) skips pip
INSTALLED_MARKER = ".colab-installed"
# full-mode runs longer than about 100 s on a 2-core CPU (results/*.json `wall_s`): a GPU runtime pays off there
GPU_NOTEBOOKS = ("01", "02", "04", "05", "06", "08", "11", "12", "14")
# notebooks that train on several logical CPU devices, which start() must make before TensorFlow runs anything
LOGICAL_CPUS = {"15": 2}

SETUP_CELL = '''\
# Setup: on Colab, fetch the course once and install what Colab lacks (its TensorFlow
# and Keras stay as they are); everywhere, start the session: seeds, versions, device
# and mode.
import os
import subprocess
import sys

# the course's address, written from pyproject.toml by the course runner
COURSE_URL = "{url}"
if "google.colab" in sys.modules:
    course_dir = os.path.abspath("course")  # Colab starts in /content
    if not os.path.isdir(os.path.join(course_dir, ".git")):
        clone = subprocess.run(
            ["git", "clone", "-q", "--depth", "1", COURSE_URL, course_dir],
            capture_output=True, text=True)
        if clone.returncode:
            raise RuntimeError(
                f"Could not clone the course from {{COURSE_URL}}:\\n"
                f"{{clone.stderr.strip()}}\\nCheck the address and that the runtime is "
                "online, then run this cell again.")
    if course_dir not in sys.path:
        sys.path.insert(0, course_dir)
    from utils.course.colab import install

    install(course_dir)

# on Colab, importable only once the course is there
from utils.course.session import start  # noqa: E402

info = start("{name}"{start_options})'''

BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"


def pyproject(root: Path | None = None) -> str:
    """The text of pyproject.toml in `root` (default: this checkout)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[2]
    path = root / "pyproject.toml"
    if not path.is_file():
        raise FileNotFoundError(f"root={str(root)!r}: expected a course checkout with a pyproject.toml")
    return path.read_text(encoding="utf-8")


def repository_url(root: Path | None = None) -> str:
    """The course's git repository (pyproject.toml, `[project.urls] Repository`), without a trailing .git."""
    match = re.search(r'^Repository\s*=\s*"([^"]+)"', pyproject(root), re.M)
    if not match:
        raise ValueError("pyproject.toml: expected a line 'Repository = \"https://...\"' under [project.urls]")
    return match.group(1).removesuffix(".git")


def colab_link(notebook: str, root: Path | None = None) -> str:
    """The Colab address that opens `notebook` (e.g. "05_semantic_segmentation_unet") from the repository."""
    url = repository_url(root)
    if not url.startswith("https://github.com/"):
        raise ValueError(f"repository URL {url!r}: Colab opens notebooks from https://github.com/<owner>/<name>")
    return f"https://colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/main/" \
           f"notebooks/{notebook}.ipynb"


def setup_cell(notebook: str, root: Path | None = None) -> str:
    """The source of `notebook`'s setup cell, with the repository's address written in."""
    if not re.fullmatch(r"\d\d_\w+", notebook):
        raise ValueError(f"notebook={notebook!r}: expected a course notebook's name such as "
                         "'05_semantic_segmentation_unet'")
    cpus = LOGICAL_CPUS.get(notebook[:2], 1)
    return SETUP_CELL.format(url=repository_url(root), name=notebook,
                             start_options=f", logical_cpus={cpus}" if cpus > 1 else "")


def badge(notebook: str, root: Path | None = None) -> str:
    """The "Open in Colab" badge of `notebook`, in Markdown."""
    return BADGE.format(link=colab_link(notebook, root))


def dependencies(root: Path) -> list[str]:
    """pyproject.toml's `[project] dependencies` in `root`, without the packages Colab's own copies serve (KEEP)."""
    block = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", pyproject(root), re.M | re.S)
    if not block:
        raise ValueError(f"{root}/pyproject.toml: expected a 'dependencies = [...]' list under [project]")
    specs = re.findall(r'^\s*"([^"]+)"', block.group(1), re.M)
    return [s for s in specs if re.split(r"[<>=!~\[ ;]", s, maxsplit=1)[0].lower() not in KEEP]


def install(course_dir: str | Path) -> bool:
    """Install the course's dependencies except TensorFlow and Keras, pinned at the versions installed; once.

    Returns True if pip ran, False if an earlier call had already installed them (the marker file in
    `course_dir`). Raises RuntimeError with pip's message if pip fails.
    """
    course_dir = Path(course_dir)
    marker = course_dir / INSTALLED_MARKER
    if marker.exists():
        return False
    pins = []
    for name in KEEP:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass  # not installed here: nothing to keep
    constraints = course_dir / ".colab-constraints.txt"
    constraints.write_text("".join(f"{pin}\n" for pin in pins), encoding="utf-8")
    command = [sys.executable, "-m", "pip", "install", "-q", "-c", str(constraints), *dependencies(course_dir)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"Installing the course's dependencies failed ({' '.join(command)}):\n{done.stderr}")
    marker.write_text(" ".join(pins) + "\n", encoding="utf-8")
    print(f"installed the course's dependencies; kept {', '.join(pins) or 'no TensorFlow/Keras'}")
    return True
