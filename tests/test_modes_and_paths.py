import pytest

from utils.course import modes


@pytest.mark.parametrize("value, quick", [("1", True), ("true", True), ("YES", True), ("0", False),
                                          ("", False), ("no", False)])
def test_mode_from_environment(monkeypatch, value, quick):
    monkeypatch.setenv("COURSE_QUICK", value)
    assert modes.is_quick() is quick
    assert modes.mode() == ("quick" if quick else "full")
    assert modes.by_mode(full=100, quick=3) == (3 if quick else 100)


def test_mode_unset_is_full(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    assert modes.mode() == "full"


def test_bad_mode_value_is_named(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="COURSE_QUICK='maybe'"):
        modes.is_quick()


def test_paths_follow_the_repository_or_course_root(monkeypatch, tmp_path):
    from utils.course import paths

    monkeypatch.delenv("COURSE_ROOT", raising=False)
    assert (paths.repo_root() / "utils" / "course" / "paths.py").exists()
    assert paths.weights_dir() == paths.repo_root() / "data" / "weights"
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    assert paths.repo_root() == tmp_path and paths.scratch_dir() == tmp_path / ".scratch"
