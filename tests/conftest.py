"""Test configuration: the machine's speed, a time summary per notebook and per test file, and the quick-mode budget.

Quick mode and the two workers (pytest-xdist, one notebook or test file per worker at a time) are set in
pyproject.toml. Every time is printed beside its normalized value (`utils.course.speed`: wall x GFLOP/s / 144),
from a float32 matmul measured at the start and the end of the run. When every notebook of the course ran in
quick mode, the run fails if their cell time together, normalized, exceeds the budget (COURSE.md, Time
budgets) by more than NOISE, and the summary names the slowest cells. The workers share the machine's cores, so
a cell's time is measured while the other worker runs too: the budget is judged on the run as README's `pytest`
makes it, which is stricter than the same cells run one at a time.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict

import pytest

QUICK_BUDGET_S = 300.0               # all notebooks in quick mode: normalized cell time
QUICK_BUDGET_PER_NOTEBOOK_S = 25.0
UNIT_BUDGET_S = 180.0
NOISE = 0.25                         # the run fails only past the budget by more than this fraction


@contextlib.contextmanager
def own_course_root(tmp_path_factory):
    """A fresh course root (COURSE_ROOT) for a module's fixture: what it trains and saves stays there."""
    root = tmp_path_factory.mktemp("course")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_ROOT", str(root))
        yield root


def _measure() -> float | None:
    """The CPU's speed now in GFLOP/s, or None where a GPU runs the tests (nothing is normalized there)."""
    from utils.course.session import quiet_tensorflow
    from utils.course.speed import accelerator, cpu_gflops

    quiet_tensorflow()
    return None if accelerator() else cpu_gflops(1.0)


# Notebooks whose quick mode is still over its 25 s (normalized) on the day the budget came in, with the time
# measured then: each may take up to that until the issue that re-executes it shrinks its quick sizes and
# removes it here, and the course's total allowance shrinks with the list. Measured on 2026-12-06 as README's
# `pytest` runs them (two workers), normalized: the largest of six runs, two in this working tree and two fresh
# clones' CI in both environments (the floor's older TensorFlow runs the notebooks about 13 % slower), rounded up.
# The six totals: 891 and 925 s in this working tree; 891 and 1,034 s (newest, floor) in a fresh clone's CI beside
# other work; 995 and 1,129 s in one on a quiet machine. Allowed in all then: 1,106 s, failing past 1,382 s.
# Revised on 2026-12-07 after issue 26 moved their training offline: 01, 02, 05 and 06 to the larger of a fresh
# clone's CI in both environments (01: 37.7 and 39.6 s; 02: 41.8 and 37.1; 05: 72.7 and 70.3; 06: 33.4 and 32.7),
# rounded up. The totals then: 856 and 820 s. Allowed in all: 871 s, failing past 1,089 s.
# 04 on 2026-12-07 once its training was offline: 39.5 s in this working tree's full `pytest`, 30.4 s in a
# fresh clone's CI (newest), rounded up to 42 s. 11 on 2026-12-07 once its detectors were trained offline
# (issue 27): 19 s normalized alone, 26.6 s in a fresh clone's CI (newest), rounded up to 30 s (was 110). 14 left
# the list when its question 4 moved offline: 12 s normalized alone, 17.8 s in that CI.
# 15 came in on 2026-12-07 (issue 29) at 41 s (70 s normalized) alone in quick mode, 83.6 and 91.7 s normalized
# in two fresh clones' CI (newest), rounded up: it compiles ten small training steps, four of them under a
# strategy on two logical devices, and compiling is most of its time.
QUICK_OVER_BUDGET: dict[str, float] = {
    "01_denoising_autoencoder": 40.0, "02_residual_denoising_dncnn": 42.0,
    "03_upsampling_transposed_convolution": 30.0, "04_autoencoder_applications": 42.0,
    "05_semantic_segmentation_unet": 73.0, "06_soft_dice_class_imbalance": 34.0,
    "07_vnet_volumetric_segmentation": 51.0, "08_ultrasound_localize_then_segment": 67.0,
    "09_detection_basics": 67.0, "10_faster_rcnn": 76.0, "11_yolo_ssd": 30.0, "12_mask_rcnn": 98.0,
    "13_detect_and_track_tubes": 77.0, "15_training_at_scale": 92.0,
}


def quick_budget(seconds: dict[str, float], gflops: float | None, quick: bool) -> dict | None:
    """The quick-mode budget's verdict on a run's durations per test id, or None when it does not apply.

    It applies when the run was in quick mode and ran every notebook of the course. All of them together,
    their cell time normalized to the reference machine where gflops is known, may take QUICK_BUDGET_S plus
    what the notebooks listed in QUICK_OVER_BUDGET are allowed beyond their QUICK_BUDGET_PER_NOTEBOOK_S; the
    run fails past that by more than NOISE. A notebook over its own allowance is named but fails nothing by
    itself: one notebook's time varies with what the other worker runs beside it, the total much less.
    Returns {"measured", "allowed", "per_notebook", "over" (notebooks over their allowance), "failed" (the
    total past its allowance and NOISE), "slowest" (cells)}.
    """
    from utils.course.runner import COURSE_MAP
    from utils.course.speed import normalized

    cells = {nodeid: s for nodeid, s in seconds.items() if ".ipynb::" in nodeid}
    per_notebook: dict[str, float] = {}
    for nodeid, s in cells.items():
        name = nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".ipynb")
        per_notebook[name] = per_notebook.get(name, 0.0) + (s if gflops is None else normalized(s, gflops))
    if not quick or not set(per_notebook) >= {name for name, _ in COURSE_MAP}:
        return None
    allowed = {name: QUICK_OVER_BUDGET.get(name, QUICK_BUDGET_PER_NOTEBOOK_S) for name in per_notebook}
    over = sorted(name for name, s in per_notebook.items() if s > allowed[name])
    total_allowed = QUICK_BUDGET_S + sum(max(s - QUICK_BUDGET_PER_NOTEBOOK_S, 0.0) for s in QUICK_OVER_BUDGET.values())
    measured = sum(per_notebook.values())
    return {"measured": measured, "allowed": total_allowed, "per_notebook": per_notebook, "over": over,
            "failed": measured > total_allowed * (1 + NOISE),
            "slowest": sorted(cells.items(), key=lambda item: -item[1])[:10]}


class Timing:
    """Collects every test phase's duration and judges the quick-mode budget."""

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
        if self.verdict and self.verdict["failed"] and session.exitstatus == pytest.ExitCode.OK:
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
                mine = budget and QUICK_OVER_BUDGET.get(path.rsplit("/", 1)[-1].removesuffix(kind), budget)
                over = bool(mine) and (self.normalized(total) or total) > mine
                write(f"{path:<60} {self.shown(total)}" + (f"  (over its {mine:.0f} s budget)" if over else ""))
            limit = f"  (budget {UNIT_BUDGET_S:.0f} s normalized)" if kind == ".py" else ""
            write(f"{'all':<60} {self.shown(sum(times.values()))}{limit}")
        if self.verdict:
            verdict = self.verdict
            terminalreporter.section("quick-mode budget")
            write(f"every notebook in quick mode: {verdict['measured']:.0f} s of cell time, normalized; allowed "
                  f"{verdict['allowed']:.0f} s (the course's budget {QUICK_BUDGET_S:.0f} s"
                  + (f" + what {len(QUICK_OVER_BUDGET)} notebooks still over theirs may take" if QUICK_OVER_BUDGET
                     else "") + f"), failing past +{NOISE:.0%}")
            if verdict["over"]:
                write(f"over their own allowance (named, not failing): {', '.join(verdict['over'])}")
            if verdict["failed"]:
                write(f"OVER BUDGET by more than {NOISE:.0%}; the slowest cells (wall time):")
                for nodeid, seconds in verdict["slowest"]:
                    write(f"  {nodeid:<70} {seconds:6.1f} s")


def pytest_configure(config) -> None:
    """The timing lives in the main process only: under pytest-xdist its workers' reports reach it."""
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Timing(), "course-timing")
