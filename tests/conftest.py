"""Test configuration: quick mode for the notebooks, no windows, and a per-notebook time summary."""

import os
from collections import defaultdict

# Set before any kernel starts, so every notebook nbval runs is in quick mode (unless set already).
os.environ.setdefault("COURSE_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

_NOTEBOOK_SECONDS: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    """Add up the time of every cell (nbval item) per notebook."""
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _NOTEBOOK_SECONDS[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    """Print each notebook's wall time in the summary, as CI must."""
    if not _NOTEBOOK_SECONDS:
        return
    terminalreporter.section(f"notebook times (COURSE_QUICK={os.environ.get('COURSE_QUICK')})")
    for path, seconds in sorted(_NOTEBOOK_SECONDS.items()):
        terminalreporter.write_line(f"{path:<60} {seconds:7.1f} s")
    terminalreporter.write_line(f"{'all notebooks':<60} {sum(_NOTEBOOK_SECONDS.values()):7.1f} s")
