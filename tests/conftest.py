"""Test configuration: a per-notebook time summary (quick mode itself is set in pyproject.toml)."""

import os
from collections import defaultdict

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
