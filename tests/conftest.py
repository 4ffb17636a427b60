"""Test configuration: the machine's speed, a time summary per notebook and per test file, and the quick-mode budget.

Quick mode itself is set in pyproject.toml. Every time is printed beside its normalized value
(`utils.course.speed`: wall x GFLOP/s / 144), from a float32 matmul measured at the start and the end
of the run. When every notebook of the course ran in quick mode, the run fails if their cell time
together, normalized, exceeds the budget (COURSE.md, Time budgets) by more than NOISE, and the
summary names the slowest cells.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

QUICK_BUDGET_S = 300.0               # all notebooks in quick mode: normalized cell time
QUICK_BUDGET_PER_NOTEBOOK_S = 25.0
UNIT_BUDGET_S = 180.0
NOISE = 0.25                         # the run fails only past the budget by more than this fraction


def _measure() -> float | None:
    """The CPU's speed now in GFLOP/s, or None where a GPU runs the tests (nothing is normalized there)."""
    from utils.course.session import quiet_tensorflow
    from utils.course.speed import accelerator, cpu_gflops

    quiet_tensorflow()
    return None if accelerator() else cpu_gflops(1.0)


def quick_budget(seconds: dict[str, float], gflops: float | None, quick: bool) -> dict | None:
    """The quick-mode budget's verdict on a run's durations per test id, or None when it does not apply.

    It applies when the run was in quick mode and ran every notebook of the course: then the
    notebooks' cell time together, normalized to the reference machine where gflops is known, must
    not exceed QUICK_BUDGET_S by more than NOISE. Returns {"measured", "over", "slowest"}.
    """
    from utils.course.runner import COURSE_MAP
    from utils.course.speed import normalized

    cells = {nodeid: s for nodeid, s in seconds.items() if ".ipynb::" in nodeid}
    ran = {nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".ipynb") for nodeid in cells}
    if not quick or not ran >= {name for name, _ in COURSE_MAP}:
        return None
    total = sum(cells.values())
    measured = total if gflops is None else normalized(total, gflops)
    return {"measured": measured, "over": measured > QUICK_BUDGET_S * (1 + NOISE),
            "slowest": sorted(cells.items(), key=lambda item: -item[1])[:10]}


class Timing:
    """Collects every test phase's duration (in the xdist controller, from all workers) and judges the budget."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.speed: dict[str, float | None] = {}
        self.verdict: dict | None = None

    @property
    def gflops(self) -> float | None:
        values = [v for v in self.speed.values() if v is not None]
        return sum(values) / len(values) if values else None

    def normalized(self, seconds: float) -> float | None:
        from utils.course.speed import normalized

        return None if self.gflops is None else normalized(seconds, self.gflops)

    def shown(self, seconds: float) -> str:
        normalized = self.normalized(seconds)
        return f"{seconds:7.1f} s" + ("" if normalized is None else f" {normalized:7.1f} s normalized")

    def pytest_sessionstart(self, session) -> None:
        self.speed["start"] = _measure()

    def pytest_runtest_logreport(self, report) -> None:
        """Setup, call and teardown all count: a notebook's kernel starts in the setup of its first cell."""
        self.seconds[report.nodeid] += report.duration

    def pytest_sessionfinish(self, session) -> None:
        self.speed["end"] = _measure()
        from utils.course.modes import is_quick

        self.verdict = quick_budget(self.seconds, self.gflops, is_quick())
        if self.verdict and self.verdict["over"] and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        write = terminalreporter.write_line
        per_file: dict[str, float] = defaultdict(float)
        for nodeid, seconds in self.seconds.items():
            per_file[nodeid.split("::")[0]] += seconds
        terminalreporter.section("machine speed")
        if self.gflops is None:
            write("a GPU ran the tests: times are not normalized")
        else:
            write(f"cpu_gflops {self.gflops:.0f} (float32 matmul: {self.speed['start']:.0f} at the start, "
                  f"{self.speed['end']:.0f} at the end); normalized = wall x {self.gflops:.0f} / 144, the time "
                  "on this machine kind on a quiet day")
        quick = os.environ.get("COURSE_QUICK") == "1"
        for kind, title, budget in ((".ipynb", f"notebook times (COURSE_QUICK={os.environ.get('COURSE_QUICK')})",
                                     QUICK_BUDGET_PER_NOTEBOOK_S if quick else None),
                                    (".py", "test file times", None)):
            times = {path: total for path, total in per_file.items() if path.endswith(kind)}
            if not times:
                continue
            terminalreporter.section(title)
            for path, total in sorted(times.items()):
                over = budget is not None and (self.normalized(total) or total) > budget
                write(f"{path:<60} {self.shown(total)}" + (f"  (over its {budget:.0f} s budget)" if over else ""))
            limit = f"  (budget {UNIT_BUDGET_S:.0f} s normalized)" if kind == ".py" else ""
            write(f"{'all':<60} {self.shown(sum(times.values()))}{limit}")
        if self.verdict:
            terminalreporter.section("quick-mode budget")
            write(f"every notebook in quick mode: {self.verdict['measured']:.0f} s of cell time, normalized; "
                  f"budget {QUICK_BUDGET_S:.0f} s, the run fails past {QUICK_BUDGET_S * (1 + NOISE):.0f} s: "
                  + ("OVER BUDGET, the slowest cells:" if self.verdict["over"] else "within it"))
            if self.verdict["over"]:
                for nodeid, seconds in self.verdict["slowest"]:
                    write(f"  {nodeid:<70} {seconds:6.1f} s")


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # an xdist worker reports to the controller, which keeps the accounts
        config.pluginmanager.register(Timing(), "course-timing")
