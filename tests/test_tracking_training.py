"""The training runs behind notebook 13 (`python -m utils.train tracknet|frame_rcnn`), tiny."""

import json

import pytest

from utils.course.checkpoints import load_checkpoint
from utils.tracking.training import LENGTH
from utils.train import main


def test_a_tiny_tracknet_run_writes_a_loadable_checkpoint_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    tiny = ["tracknet", "--features", "3d", "--train-videos", "1", "--frames", "6", "--test-videos", "1",
            "--test-frames", "6", "--epochs", "1", "--batch-size", "2", "--name", "tiny"]
    main(tiny)
    main(tiny + ["--resume"])
    weights = tmp_path / "data" / "weights"
    record = json.loads((weights / "tiny.json").read_text())
    assert record["command"].count(" && ") == 1 and record["epochs"] == 2
    assert record["builder"] == "utils.tracking.tracknet:tracknet" and record["builder_kwargs"]["features"] == "3d"
    assert record["videos"]["length"] == LENGTH and len(record["videos"]["test_sha1"]) == 40
    assert set(record["final_metrics"]) >= {"mota", "idf1", "num_switches"}
    assert all(len(v) == 2 for v in record["history"].values())
    model = load_checkpoint("tiny", directory=weights)
    assert model.features == "3d" and model.count_params() == record["architecture"]["params"]
    assert "epoch 1/1" in capsys.readouterr().out
    main(tiny + ["--resume", "--evaluate-only"])                   # a run that lost its evaluation gets it back
    again = json.loads((weights / "tiny.json").read_text())
    assert again["epochs"] == again["epochs_planned"] == 2 and again["command"].endswith("--resume --evaluate-only")
    assert again["final_metrics"] == record["final_metrics"]          # the same weights, the same videos


def test_a_tiny_frame_detector_run(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    main(["frame_rcnn", "--train-videos", "1", "--frames", "4", "--test-videos", "1", "--test-frames", "4",
          "--epochs", "1", "--name", "tiny"])
    record = json.loads((tmp_path / "data" / "weights" / "tiny.json").read_text())
    assert record["builder"] == "utils.detection.rcnn:faster_rcnn" and record["builder_kwargs"]["image_size"] == 128


@pytest.mark.parametrize("flags, message", [
    (["--train-videos", "0"], "--train-videos 0: expected a positive integer"),
    (["--frames", "3"], f"--frames 3: expected at least {LENGTH}"),
    (["--lr", "0"], "--lr 0.0: expected a positive learning rate"),
    (["--train-videos", "1", "--frames", "4", "--batch-size", "8"], "--batch-size 8: expected at most the 1"),
    (["--features", "4d"], "invalid choice: '4d'"),
    (["--evaluate-only"], "--evaluate-only needs --resume"),
])
def test_bad_tracking_options_are_refused(flags, message, capsys):
    with pytest.raises(SystemExit):
        main(["tracknet", *flags])
    assert message in capsys.readouterr().err
