"""The machine's speed beside every time (utils.course.speed), the live progress line, and the quick-mode budget."""

import io
import json
import math

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import NOISE, QUICK_BUDGET_S, quick_budget
from utils.course import results, runner, session
from utils.course.progress import LiveLine, duration
from utils.course.speed import REFERENCE_GFLOPS, cpu_gflops, normalized


def test_cpu_gflops_measures_a_plausible_speed():
    gflops = cpu_gflops(0.2, size=256)
    assert math.isfinite(gflops) and 0.1 < gflops < 1e5


@pytest.mark.parametrize("kwargs, match", [({"seconds": 0}, "seconds=0"), ({"seconds": float("nan")}, "seconds"),
                                           ({"size": 0}, "size=0"), ({"size": 2.5}, "size=2.5")])
def test_cpu_gflops_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cpu_gflops(**kwargs)


def test_normalized_scales_by_the_reference_speed():
    assert normalized(100.0, 2 * REFERENCE_GFLOPS) == pytest.approx(200.0)
    assert normalized(0.0, 50.0) == 0.0
    for wall, gflops, match in ((-1.0, 100.0, "wall_s"), (1.0, 0.0, "gflops"), (float("inf"), 100.0, "wall_s"),
                                (1.0, True, "gflops")):
        with pytest.raises(ValueError, match=match):
            normalized(wall, gflops)


@pytest.fixture
def course_root(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    monkeypatch.setenv("COURSE_QUICK", "0")
    yield tmp_path
    session._STATE.clear()


def test_record_writes_the_speed_and_the_normalized_time(course_root):
    session._STATE.update(notebook="99_test", t0=0.0, device="CPU: test", cpu_gflops=288.0)
    entry = json.loads(results.record({"x": 1.0}).read_text())
    assert entry["cpu_gflops"] == 288.0
    assert entry["wall_s_normalized"] == pytest.approx(2 * entry["wall_s"], rel=1e-3)
    assert "GFLOP/s" in results.time_in_words(entry) and "normalized" in results.time_in_words(entry)


def test_record_on_a_gpu_names_the_device_and_normalizes_nothing(course_root):
    session._STATE.update(notebook="99_test", t0=0.0, device="GPU: test")  # start() measures nothing on a GPU
    entry = json.loads(results.record({"x": 1.0}).read_text())
    assert entry["device"] == "GPU: test" and entry["cpu_gflops"] is None and entry["wall_s_normalized"] is None
    assert results.time_in_words(entry) == f"{entry['wall_s']:.0f} s"


def test_start_measures_and_prints_the_speed(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    info = session.start("99_test")
    out = capsys.readouterr().out
    if info["device"].startswith("CPU"):
        assert session.current()["cpu_gflops"] > 0 and "GFLOP/s" in out
    session._STATE.clear()


def test_results_table_shows_speed_and_normalized_time(tmp_path):
    common = {"mode": "full", "device": "CPU", "wall_s": 100.0, "peak_rss_mb": 1000, "figures": {"x": 1.5}}
    (tmp_path / "01_denoising_autoencoder.json").write_text(json.dumps(
        {"notebook": "01_denoising_autoencoder", "cpu_gflops": 216.0, "wall_s_normalized": 150.0, **common}))
    (tmp_path / "02_residual_denoising_dncnn.json").write_text(json.dumps(
        {"notebook": "02_residual_denoising_dncnn", **common}))
    rows = [line for line in runner.results_table(tmp_path).splitlines() if line.startswith("| 0")]
    assert rows[0] == "| 01_denoising_autoencoder | x | 1.5 | full | CPU | 100 | 216 | 150 | 1,000 |"
    assert rows[1] == ("| 02_residual_denoising_dncnn | x | 1.5 | full | CPU | 100 | not recorded | not recorded "
                       "| 1,000 |")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_live_line_in_a_log_prints_plain_lines_at_most_every_log_every_seconds():
    out = io.StringIO()
    line = LiveLine(min_interval=0.001, log_every=3600, stream=out)
    for i in range(5):
        line.update(f"step {i}")
    assert out.getvalue() == ""                      # within the first hour: nothing yet
    line.update("forced", force=True)
    line.close("done in 1 s")
    assert out.getvalue().splitlines() == ["forced", "done in 1 s"]


def test_live_line_on_a_terminal_rewrites_one_line():
    out = Terminal()
    line = LiveLine(min_interval=0.001, stream=out)
    line.update("epoch 1/2 long text", force=True)
    line.update("epoch 2/2", force=True)
    line.close("done")
    assert out.getvalue() == "\repoch 1/2 long text\repoch 2/2          \rdone     \n"


def test_live_line_refuses_bad_intervals():
    with pytest.raises(ValueError, match="min_interval=0"):
        LiveLine(min_interval=0)
    with pytest.raises(ValueError, match="log_every=-1"):
        LiveLine(log_every=-1)


def test_live_line_in_a_notebook_leaves_only_its_summary():
    cell = nbformat.v4.new_code_cell("from utils.course.progress import LiveLine\nline = LiveLine(min_interval=1e-3)\n"
                                     "import time\nfor i in range(4):\n    line.update(f'step {i}')\n"
                                     "    time.sleep(0.01)\nline.close('trained 4 steps')")
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                         "display_name": "Python 3"}})
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert len(outputs) == 1 and outputs[0]["output_type"] == "display_data"
    assert outputs[0]["data"]["text/plain"] == "trained 4 steps"


def test_duration_in_words():
    assert [duration(s) for s in (0.4, 42, 425, 3720)] == ["0 s", "42 s", "7 min 05 s", "1 h 02 min"]


def test_runner_refuses_a_timeout_that_is_not_positive(capsys):
    for value in ("0", "-5", "soon"):
        with pytest.raises(SystemExit):
            runner.main(["run", "--timeout", value, "00"])
        assert "expected a whole number of seconds > 0 (or --no-timeout)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="timeout=0"):
        runner.execute("00_setup", quick=True, params={}, timeout=0)


def test_quick_budget_applies_to_a_whole_quick_run_and_names_the_slowest_cells(monkeypatch):
    import tests.conftest as conftest

    monkeypatch.setattr(conftest, "QUICK_OVER_BUDGET", {})
    names = [name for name, _ in runner.COURSE_MAP]
    per_cell = QUICK_BUDGET_S / len(names)
    seconds = {f"notebooks/{name}.ipynb::Cell {i}": per_cell / 2 for name in names for i in range(2)}
    seconds["tests/test_x.py::test_y"] = 1000.0                     # unit tests do not count
    within = quick_budget(seconds, REFERENCE_GFLOPS, quick=True)
    assert within["measured"] == pytest.approx(QUICK_BUDGET_S) and within["over"] == [] and not within["failed"]
    slow_day = quick_budget(seconds, REFERENCE_GFLOPS / 2, quick=True)   # the same times on a machine half as fast
    assert slow_day["over"] == [] and not slow_day["failed"]
    just_within = quick_budget(seconds, REFERENCE_GFLOPS * (1 + NOISE) * 0.99, quick=True)
    assert not just_within["failed"]
    one_slow = {**seconds, f"notebooks/{names[4]}.ipynb::Cell 1": 20.0}    # 30 s: over its 25 s, the total within
    assert quick_budget(one_slow, REFERENCE_GFLOPS, quick=True)["over"] == [names[4]]
    assert not quick_budget(one_slow, REFERENCE_GFLOPS, quick=True)["failed"]       # named, not failing
    fast_day = quick_budget(seconds, REFERENCE_GFLOPS * (1 + NOISE) * 1.01, quick=True)
    assert fast_day["failed"] and len(fast_day["slowest"]) == 10
    seconds["notebooks/05_semantic_segmentation_unet.ipynb::Cell 7"] = 100.0
    verdict = quick_budget(seconds, REFERENCE_GFLOPS, quick=True)
    assert verdict["over"] == ["05_semantic_segmentation_unet"] and verdict["failed"]
    assert verdict["slowest"][0][0] == "notebooks/05_semantic_segmentation_unet.ipynb::Cell 7"
    monkeypatch.setattr(conftest, "QUICK_OVER_BUDGET", {"05_semantic_segmentation_unet": 120.0})  # known to be over
    verdict = quick_budget(seconds, REFERENCE_GFLOPS, quick=True)
    assert verdict["over"] == [] and not verdict["failed"] and verdict["allowed"] == QUICK_BUDGET_S + 95.0
    assert quick_budget(seconds, REFERENCE_GFLOPS, quick=False) is None                 # full mode: not this budget
    del seconds[f"notebooks/{names[3]}.ipynb::Cell 0"], seconds[f"notebooks/{names[3]}.ipynb::Cell 1"]
    assert quick_budget(seconds, REFERENCE_GFLOPS, quick=True) is None                  # a subset of the course


def test_train_ends_with_one_summary_line(capsys):
    import keras
    import numpy as np

    from utils.nn.training import train

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    x = np.ones((8, 3), np.float32)
    run = train(model, x, x[:, :1], loss="mse", epochs=2, batch_size=4, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"trained 2 epoch(s), 4 steps, in {duration(run.seconds)}: loss {run.last():.4g}, "
                     f"val_loss {run.last('val_loss'):.4g}"]
    quiet = train(model, x, x[:, :1], loss="mse", epochs=2, batch_size=4, progress=False)
    assert capsys.readouterr().out == "" and quiet.steps == 4 and len(quiet.history["loss"]) == 2


def test_the_runner_gives_results_the_whole_notebooks_time(course_root):
    session._STATE.update(notebook="99_test", t0=0.0, device="CPU: test", cpu_gflops=72.0)
    path = results.record({"x": 1.0})
    at_record = json.loads(path.read_text())["wall_s"]
    entry = results.whole_run(path, 500.0)
    assert (entry["wall_s"], entry["wall_s_normalized"], entry["wall_s_at_record"]) == (500.0, 250.0, at_record)
    assert results.whole_run(path, 600.0)["wall_s_at_record"] == at_record      # a second call keeps record()'s
    with pytest.raises(ValueError, match="wall_s=-1"):
        results.whole_run(path, -1.0)
