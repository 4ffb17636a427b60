"""Bad input to utils.course's tables, source, modes and paths: a clear error naming the argument."""

import numpy as np
import pytest

from utils.course import modes, paths
from utils.course.source import show_source, source_of
from utils.course.tables import markdown_table, show_table


@pytest.mark.parametrize("rows, columns, kwargs, match", [
    ([["a", "b"]], "ab", {}, "columns='ab': expected a list of cells"),
    (["ab"], ["a", "b"], {}, r"rows\[0\]='ab': expected a list of cells"),
    ([1], ["a"], {}, r"rows\[0\]=1: expected a list of cells"),
    ([], [], {}, "columns is empty: expected at least one column name"),
    ([[1.0]], ["a"], {"floatfmt": "q"}, "floatfmt='q': expected a float format such as '.2f'"),
    ([[1.0]], ["a", "b"], {}, r"row \[1.0\] has 1 cells: expected 2"),
])
def test_markdown_table_refuses_strings_for_lists_and_bad_formats(rows, columns, kwargs, match):
    for fn in (markdown_table, show_table):
        with pytest.raises(ValueError, match=match):
            fn(rows, columns, **kwargs)


def test_markdown_table_reads_a_generator_of_rows_once_and_escapes_pipes():
    text = markdown_table((r for r in [["a|b", 1.0], ("c", 2.0), np.array(["d", "e"])]), ["x|y", "v"])
    assert text.splitlines() == ["| x\\|y | v |", "|---|---|", "| a\\|b | 1.00 |", "| c | 2.00 |", "| d | e |"]


@pytest.mark.parametrize("obj", [1, len, "utils"])
def test_source_refuses_what_has_no_python_source(obj):
    for fn in (source_of, show_source):
        with pytest.raises(TypeError, match=f"obj={obj!r}: expected a function, class or module defined in Python"):
            fn(obj)


@pytest.mark.parametrize("value", ["maybe", "2", "on"])
def test_switches_in_the_environment_refuse_what_is_not_a_switch(monkeypatch, value):
    monkeypatch.setenv("COURSE_QUICK", value)
    with pytest.raises(ValueError, match=f"COURSE_QUICK='{value}': expected 1/true/yes for quick mode"):
        modes.mode()
    with pytest.raises(ValueError, match=f"COURSE_QUICK='{value}'"):
        modes.by_mode(full=1, quick=2)
    monkeypatch.setenv("COURSE_OVERRIDES", value)
    with pytest.raises(ValueError, match=f"COURSE_OVERRIDES='{value}': expected 1/true/yes for a run with "
                                         "overridden parameters"):
        modes.has_overrides()
    monkeypatch.setenv("COURSE_OVERRIDES", "0")
    assert modes.has_overrides() is False


def test_a_course_root_that_is_not_a_folder_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path / "typo"))
    for fn in (paths.repo_root, paths.weights_dir, paths.scratch_dir):
        with pytest.raises(ValueError, match="COURSE_ROOT='.*typo' is not a folder: expected the course's root"):
            fn()
