import json
import re
import subprocess
import sys

import nbformat
import pytest

from utils.course import runner as course
from utils.course.paths import repo_root


def test_course_map_is_numbered_in_order():
    numbers = [name[:2] for name, _ in course.COURSE_MAP]
    assert numbers == [f"{i:02d}" for i in range(16)]
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+", name) for name, _ in course.COURSE_MAP)


def test_every_notebook_is_on_the_map_and_well_formed():
    names = {name for name, _ in course.COURSE_MAP}
    for path in sorted((repo_root() / "notebooks").glob("*.ipynb")):
        assert path.stem in names, path.name
        nb = nbformat.read(path, as_version=4)
        head = "".join(c.source for c in nb.cells[:2])
        assert f"blob/main/notebooks/{path.name}" in head, f"{path.name}: Colab badge points elsewhere"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert re.search(rf'start\("{path.stem}"(, logical_cpus=\d+)?\)', code[0].source), path.name
        assert "parameters" in code[1].metadata.get("tags", []), path.name
        assert any("record(" in c.source for c in code), path.name


def test_list_prints_the_map():
    out = subprocess.run([sys.executable, "-m", "utils.course", "list"], capture_output=True, text=True, check=True)
    assert "01_denoising_autoencoder" in out.stdout and "15_training_at_scale" in out.stdout


def test_select_by_number_and_unknown_number(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    for name in ("00_setup", "01_denoising_autoencoder", "not_on_the_map"):
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text("{}")
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    assert course.available() == ["00_setup", "01_denoising_autoencoder"]
    assert course.select(["1"]) == ["01_denoising_autoencoder"]
    assert course.select(["01_denoising_autoencoder", "0"]) == ["00_setup", "01_denoising_autoencoder"]
    assert course.select([]) == course.available()
    with pytest.raises(SystemExit, match="notebook '77'"):
        course.select(["77"])


def test_parameters_are_parsed_and_injected_after_the_parameters_cell():
    params = course.parse_parameters(["epochs=3", "name=camera", "sizes=[1, 2]"])
    assert params == {"epochs": 3, "name": "camera", "sizes": [1, 2]}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1"),
                                         nbformat.v4.new_code_cell("epochs = 10\nname, sizes = 'x', []\nsizes = [3]",
                                                                   metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell("print(epochs)")])
    course.inject_parameters(nb, params)
    assert "epochs = 3" in nb.cells[2].source and nb.cells[3].source == "print(epochs)"
    with pytest.raises(SystemExit, match="name=value"):
        course.parse_parameters(["3=x"])
    with pytest.raises(SystemExit, match="-p epoch: not set in the notebook's parameters cell; expected one of "
                                         "epochs, name, sizes"):
        course.inject_parameters(nb, {"epoch": 3})


def test_results_table_lists_every_figure(tmp_path):
    (tmp_path / "01_denoising_autoencoder.json").write_text(json.dumps(
        {"notebook": "01_denoising_autoencoder", "mode": "full", "device": "CPU", "wall_s": 12.3,
         "peak_rss_mb": 1234, "figures": {"psnr": 28.25, "params": 19779}}))
    (tmp_path / "00_setup.json").write_text(json.dumps(
        {"notebook": "00_setup", "mode": "full", "device": "CPU", "wall_s": 1.0, "figures": {"n": 3}}))
    lines = course.results_table(tmp_path).splitlines()
    rows = [line for line in lines if line.startswith(("| 0", "|  |"))]
    assert rows[0] == "| 00_setup | n | 3 | full | CPU | 1 | not recorded | not recorded | not recorded |"
    assert rows[1] == ("| 01_denoising_autoencoder | psnr | 28.25 | full | CPU | 12 | not recorded | not recorded "
                       "| 1,234 |")
    assert rows[2].startswith("|  | params | 19,779 |")


def test_quick_run_writes_to_scratch_and_reports_time(tmp_path, monkeypatch):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("print(x * 2)")]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                        "language": "python"}})
    nbformat.write(nb, nb_dir / "00_setup.ipynb")
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    wall = course.execute("00_setup", quick=True, params={"x": 21})
    out = nbformat.read(tmp_path / ".scratch" / "notebooks" / "00_setup.ipynb", as_version=4)
    assert out.cells[2].outputs[0]["text"].strip() == "42" and wall > 0
    assert nbformat.read(nb_dir / "00_setup.ipynb", as_version=4).cells[1].outputs == []


def test_a_run_sets_the_mode_in_the_kernel_not_in_this_process(tmp_path, monkeypatch):
    import os

    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    parameters = nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]})
    show = nbformat.v4.new_code_cell("import os\nprint(os.environ['COURSE_QUICK'], os.environ['COURSE_OVERRIDES'])")
    nb = nbformat.v4.new_notebook(cells=[parameters, show],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nbformat.write(nb, nb_dir / "00_setup.ipynb")
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    monkeypatch.delenv("COURSE_OVERRIDES", raising=False)
    before = os.environ.get("COURSE_QUICK")
    course.execute("00_setup", quick=True, params={"x": 1})
    ran = nbformat.read(tmp_path / ".scratch" / "notebooks" / "00_setup.ipynb", as_version=4)
    assert ran.cells[-1].outputs[0]["text"].strip() == "1 1"
    assert os.environ.get("COURSE_QUICK") == before and "COURSE_OVERRIDES" not in os.environ


def test_a_failing_cell_is_named(tmp_path, monkeypatch):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nbformat.write(nb, nb_dir / "00_setup.ipynb")
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(SystemExit, match="00_setup: cell 0 failed: ZeroDivisionError"):
        course.execute("00_setup", quick=True, params={})


def test_a_cell_past_the_time_limit_is_named_with_the_limit(tmp_path, monkeypatch):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(
        "import time\ntime.sleep(30)")], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                  "language": "python"}})
    nbformat.write(nb, nb_dir / "00_setup.ipynb")
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(SystemExit, match=r"00_setup: cell 1 ran past the limit of 2 s per cell \(--timeout\)"):
        course.execute("00_setup", quick=True, params={}, timeout=2)


def test_no_notebook_code_cell_is_longer_than_a_slide():
    long_cells = []
    for path in sorted((repo_root() / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        long_cells += [(path.name, i, n) for i, c in enumerate(code)
                       if (n := len("".join(c["source"]).splitlines())) > 40]
    assert not long_cells, f"code cells over 40 lines (notebook, code cell, lines): {long_cells}"


def test_utils_has_subject_subpackages_and_no_loose_modules():
    root = repo_root() / "utils"
    loose = sorted(p.name for p in root.glob("*.py") if p.name not in ("__init__.py", "train.py"))
    assert not loose, f"modules at the top of utils/: {loose}; expected them inside a subject subpackage"
    for sub in ("course", "data", "nn", "denoising", "segmentation", "detection", "viz"):
        assert (root / sub / "__init__.py").exists(), sub
