import json
import subprocess
import sys

from utils.course.checkpoints import load_checkpoint
from utils.train import main


def test_a_tiny_detector_run_writes_a_loadable_checkpoint_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    tiny = ["mask_rcnn", "--train-scenes", "16", "--test-scenes", "4", "--epochs", "1", "--name", "tiny"]
    main(tiny)
    main(tiny + ["--resume", "--seed", "1"])
    weights = tmp_path / "data" / "weights"
    record = json.loads((weights / "tiny.json").read_text())
    first, second = record["command"].split(" && ")
    assert first == "python -m utils.train " + " ".join(tiny) and second == first + " --resume --seed 1"
    assert record["epochs"] == 2 and record["scenes_seen"] == 32
    assert record["builder"] == "utils.detection.rcnn:mask_rcnn" and record["builder_kwargs"]["pooler"] == "align"
    assert set(record["history"]) == {"loss", "rpn_objectness", "rpn_box", "roi_class", "roi_box", "mask"}
    assert all(len(v) == 2 for v in record["history"].values())            # both legs' epochs
    assert set(record["final_metrics"]) == {"map50", "map5095", "mask_ap50", "mask_ap5095"}
    model = load_checkpoint("tiny", directory=weights)
    assert model.masks and model.count_params() == record["architecture"]["params"]
    assert "epoch 1/1" in capsys.readouterr().out
    main(tiny + ["--resume", "--evaluate-only"])                   # a run that lost its evaluation gets it back
    again = json.loads((weights / "tiny.json").read_text())
    assert again["epochs"] == again["epochs_planned"] == 2 and again["command"].endswith("--resume --evaluate-only")
    assert again["final_metrics"] == record["final_metrics"]          # the same weights, the same scenes


def test_the_entry_point_sends_each_model_to_its_trainer():
    detector = subprocess.run([sys.executable, "-m", "utils.train", "faster_rcnn", "--help"], capture_output=True,
                              text=True, check=True).stdout
    assert "--pooler" in detector and "--train-scenes" in detector
    denoiser = subprocess.run([sys.executable, "-m", "utils.train", "dncnn", "--help"], capture_output=True,
                              text=True, check=True).stdout
    assert "--clip-fraction" in denoiser
