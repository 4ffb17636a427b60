"""Colab (utils.course.colab): the one repository URL, and the setup cell's Colab branch run for real against a local
clone, with a stand-in `google.colab` module and a temporary folder as /content."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.course import colab
from utils.course.paths import repo_root

RUN_CELL = """
import importlib.metadata, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")  # what Colab's runtime has imported
cell = compile(open(sys.argv[1], encoding="utf-8").read(), "setup cell", "exec")
for run in range(int(sys.argv[2])):  # the student runs the cell again
    exec(cell, {"__name__": "__main__"})
import utils
print("utils from", utils.__file__)
print("versions", importlib.metadata.version("tensorflow"), importlib.metadata.version("keras"))
"""


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> Path:
    """A bare repository of this repository's committed HEAD without data/, standing in for GitHub.

    data/ (the shipped weights and runs, some 200 MB) plays no part in what the setup cell does (clone, install,
    import, start), and copying it twice took most of this module's time."""
    if not (repo_root() / ".git").exists():
        pytest.skip("the Colab test clones the course's git repository, and this checkout has none")
    tree = tmp_path_factory.mktemp("head")
    archive = subprocess.run(["git", "-C", str(repo_root()), "archive", "HEAD", "--", ".", ":(exclude)data"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    git = ["git", "-C", str(tree), "-c", "user.name=course", "-c", "user.email=course@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "HEAD without data/"]):
        subprocess.run([*git, *args], check=True)
    bare = tmp_path_factory.mktemp("github") / "course.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(tree), str(bare)], check=True)
    return bare


def run_setup_cell(content: Path, origin: Path | None, runs: int = 1) -> subprocess.CompletedProcess:
    """Run the setup cell's source `runs` times in a fresh Python whose working folder is `content`, with git
    redirecting the repository's URL to `origin` (None: to a folder that does not exist)."""
    cell = content.parent / "setup_cell.py"
    cell.write_text(colab.setup_cell("00_setup"), encoding="utf-8")
    target = origin.as_uri() if origin is not None else (content.parent / "missing.git").as_uri()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COURSE_ROOT")}
    env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"url.{target}.insteadOf",
               GIT_CONFIG_VALUE_0=colab.repository_url(), GIT_TERMINAL_PROMPT="0")
    return subprocess.run([sys.executable, "-c", RUN_CELL, str(cell), str(runs)], cwd=content, env=env,
                          capture_output=True, text=True, timeout=600)


def test_setup_cell_clones_installs_once_and_imports_the_clone(tmp_path, origin):
    content = tmp_path / "content"
    content.mkdir()
    before = (importlib.metadata.version("tensorflow"), importlib.metadata.version("keras"))
    done = run_setup_cell(content, origin, runs=2)
    assert done.returncode == 0, done.stderr[-3000:]
    clone = content / "course"
    assert (clone / ".git").is_dir() and (clone / colab.INSTALLED_MARKER).is_file()
    assert f"utils from {clone / 'utils' / '__init__.py'}" in done.stdout
    assert done.stdout.count("installed the course's dependencies") == 1, "the second run re-installed"
    assert f"versions {before[0]} {before[1]}" in done.stdout, "TensorFlow or Keras changed"
    assert (clone / colab.INSTALLED_MARKER).read_text().split() == [f"tensorflow=={before[0]}", f"keras=={before[1]}"]
    assert done.stdout.count("| mode: ") == 2  # start() ran and reported, once per run of the cell

    # a restarted runtime: /content keeps the clone, so nothing is cloned (GitHub is unreachable now) or installed
    again = run_setup_cell(content, None)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "installed the course's dependencies" not in again.stdout


def test_setup_cell_fails_clearly_when_the_clone_fails(tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    done = run_setup_cell(content, None)
    assert done.returncode != 0
    assert f"Could not clone the course from {colab.repository_url()}" in done.stderr
    assert "ImportError" not in done.stderr and "ModuleNotFoundError" not in done.stderr


def test_repository_url_is_read_from_pyproject(tmp_path):
    assert colab.repository_url().startswith("https://github.com/")
    assert not colab.repository_url().endswith(".git")
    (tmp_path / "pyproject.toml").write_text('[project.urls]\nRepository = "https://github.com/a/b.git"\n')
    assert colab.repository_url(tmp_path) == "https://github.com/a/b"
    assert colab.colab_link("05_x", tmp_path) == \
        "https://colab.research.google.com/github/a/b/blob/main/notebooks/05_x.ipynb"


def test_setup_cell_names_its_notebook_and_is_a_slide_long():
    cell = colab.setup_cell("05_semantic_segmentation_unet")
    assert cell.rstrip().endswith('info = start("05_semantic_segmentation_unet")')
    assert f'COURSE_URL = "{colab.repository_url()}"' in cell
    assert len(cell.splitlines()) <= 40
    compile(cell, "setup cell", "exec")  # plain Python, no IPython magics: it runs anywhere


def test_dependencies_leave_tensorflow_and_keras_to_colab():
    deps = colab.dependencies(repo_root())
    names = [d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in deps]
    assert "tensorflow" not in names and "keras" not in names
    assert "scikit-image" in names and "pycocotools" in names


@pytest.mark.parametrize("text, call, message", [
    ("[project]\nname = 'x'\n", colab.repository_url, "Repository"),
    ('[project.urls]\nRepository = "https://gitlab.com/a/b"\n', lambda root: colab.colab_link("05_x", root),
     "https://github.com"),
    ("[project]\nname = 'x'\n", colab.dependencies, "dependencies"),
])
def test_bad_pyproject_is_refused(tmp_path, text, call, message):
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ValueError, match=message):
        call(tmp_path)


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="root="):
        colab.repository_url(tmp_path)
    with pytest.raises(ValueError, match="notebook='setup'"):
        colab.setup_cell("setup")
    # pip's own refusal reaches the student as an error that shows pip's message, and nothing is marked installed
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = [\n    "not a requirement ===",\n]\n')
    with pytest.raises(RuntimeError, match="Installing the course's dependencies failed"):
        colab.install(tmp_path)
    assert not (tmp_path / colab.INSTALLED_MARKER).exists()
