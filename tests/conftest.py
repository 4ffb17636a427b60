"""Test configuration: a time summary per notebook and per test file (quick mode itself is set in pyproject.toml)."""

import os
from collections import defaultdict


def pytest_terminal_summary(terminalreporter):
    """Print each notebook's wall time (the sum of its cells' nbval items) and each test file's, as CI must."""
    seconds: dict[str, float] = defaultdict(float)
    for reports in terminalreporter.stats.values():
        for report in reports:
            nodeid = getattr(report, "nodeid", "")
            if nodeid:
                seconds[nodeid.split("::")[0]] += getattr(report, "duration", 0.0)
    for kind, title in ((".ipynb", f"notebook times (COURSE_QUICK={os.environ.get('COURSE_QUICK')})"),
                        (".py", "test file times")):
        times = {path: total for path, total in seconds.items() if path.endswith(kind)}
        if not times:
            continue
        terminalreporter.section(title)
        for path, total in sorted(times.items()):
            terminalreporter.write_line(f"{path:<60} {total:7.1f} s")
        terminalreporter.write_line(f"{'all':<60} {sum(times.values()):7.1f} s")
