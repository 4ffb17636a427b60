"""Test configuration: a per-notebook time summary (quick mode itself is set in pyproject.toml)."""

import os
from collections import defaultdict


def pytest_terminal_summary(terminalreporter):
    """Print each notebook's wall time (the sum of its cells' nbval items), as CI must."""
    seconds: dict[str, float] = defaultdict(float)
    for reports in terminalreporter.stats.values():
        for report in reports:
            nodeid = getattr(report, "nodeid", "")
            if nodeid.split("::")[0].endswith(".ipynb"):
                seconds[nodeid.split("::")[0]] += getattr(report, "duration", 0.0)
    if not seconds:
        return
    terminalreporter.section(f"notebook times (COURSE_QUICK={os.environ.get('COURSE_QUICK')})")
    for path, total in sorted(seconds.items()):
        terminalreporter.write_line(f"{path:<60} {total:7.1f} s")
    terminalreporter.write_line(f"{'all notebooks':<60} {sum(seconds.values()):7.1f} s")
