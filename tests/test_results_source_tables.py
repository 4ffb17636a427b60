import json
import os
import subprocess
import sys

import pytest

from utils.course import results, session
from utils.course.source import show_source, source_of
from utils.course.tables import markdown_table


@pytest.fixture
def course_root(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    session._STATE.update(notebook="99_test", t0=0.0, device="CPU: test")
    yield tmp_path
    session._STATE.clear()


def test_record_writes_full_results(course_root, monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "0")
    path = results.record({"psnr": 30.123456789, "count": 3, "err": 8.8817841970012523e-16, "small": -0.000123456})
    assert path == course_root / "results" / "99_test.json"
    entry = json.loads(path.read_text())
    assert entry["notebook"] == "99_test" and entry["mode"] == "full" and entry["device"] == "CPU: test"
    assert entry["figures"] == {"psnr": 30.123457, "count": 3.0, "err": 8.882e-16, "small": -0.0001235}
    assert entry["wall_s"] > 0


def test_record_adds_the_peak_memory_in_mib(course_root, monkeypatch):
    import numpy as np

    monkeypatch.setenv("COURSE_QUICK", "0")
    held = np.ones(256 * 2**20, np.uint8)                     # 256 MiB resident now
    entry = json.loads(results.record({"x": float(held[0])}).read_text())
    assert 256 <= entry["peak_rss_mb"] <= 64 * 2**10          # MiB: not KiB, not bytes


def test_quick_results_never_replace_full_ones(course_root, monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    path = results.record({"x": 1.0})
    assert path == course_root / ".scratch" / "results" / "99_test.json"
    assert not (course_root / "results").exists()


def test_runs_with_overridden_parameters_never_replace_full_results(course_root, monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "0")
    monkeypatch.setenv("COURSE_OVERRIDES", "1")
    path = results.record({"x": 1.0})
    assert path == course_root / ".scratch" / "results-with-parameters" / "99_test.json"
    assert not (course_root / "results").exists()
    assert not (course_root / ".scratch" / "results").exists()   # nor the quick run's beside it


@pytest.mark.parametrize("figures, match", [({}, "non-empty"), ({"x": float("nan")}, "finite"),
                                            ({"x": "high"}, "finite"), ([1], "dict")])
def test_record_rejects_bad_figures(course_root, figures, match):
    with pytest.raises(ValueError, match=match):
        results.record(figures)


def test_record_needs_a_started_session():
    session._STATE.clear()
    with pytest.raises(RuntimeError, match="start"):
        results.record({"x": 1.0})


def test_source_of_a_function(capsys):
    assert source_of(markdown_table).startswith("def markdown_table(")
    show_source(markdown_table)  # outside Jupyter: plain text
    assert "def markdown_table(" in capsys.readouterr().out
    with pytest.raises(TypeError, match="expected a function"):
        source_of(3)


def test_markdown_table_aligns_numbers_and_checks_rows():
    text = markdown_table([["a", 1.234, 2], ["b", 5.0, 3]], ["name", "x", "n"])
    assert text.splitlines() == ["| name | x | n |", "|---|---:|---:|", "| a | 1.23 | 2 |", "| b | 5.00 | 3 |"]
    # an empty cell keeps a column of numbers right-aligned; a column of empty cells is text
    text = markdown_table([["a", 1.0, ""], ["b", "", ""]], ["name", "x", "note"])
    assert text.splitlines()[1] == "|---|---:|---|" and text.splitlines()[3] == "| b |  |  |"
    with pytest.raises(ValueError, match="expected 3"):
        markdown_table([["a", 1]], ["name", "x", "n"])


def test_start_reports_mode_and_device(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    info = session.start("99_test", seed=3)
    out = capsys.readouterr().out
    assert info["mode"] == "quick" and "mode: quick" in out and "Keras" in out
    assert info["device"].startswith(("CPU", "GPU"))
    assert session.current()["notebook"] == "99_test" and session.elapsed() >= 0


def test_start_splits_the_cpu_before_anything_runs_on_it():
    code = ("from utils.course.session import start; start('15_x', logical_cpus=2); import tensorflow as tf; "
            "print(len(tf.config.list_logical_devices('CPU')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "COURSE_QUICK": "1"})
    assert run.stdout.strip().splitlines()[-1] == "2"     # after start's speed benchmark ran on it
    with pytest.raises(ValueError, match="logical_cpus=0: expected an integer >= 1"):
        session.start("99_test", logical_cpus=0)


def test_start_keeps_tensorflow_quiet_in_a_fresh_process():
    run = subprocess.run([sys.executable, "-c", "from utils.course.session import start; start('00_setup')"],
                         capture_output=True, text=True, check=True, env={**os.environ, "COURSE_QUICK": "1"})
    assert "mode: quick" in run.stdout
    assert "oneDNN" not in run.stderr and "cuda" not in run.stderr.lower(), run.stderr
