"""`python -m utils.train vnet|mouse_coarse|...` (utils.segmentation.training): tiny runs, provenance, bad flags."""

import json

import pytest

from utils.course.checkpoints import load_checkpoint
from utils.data.volumes import ultrasound_volumes
from utils.segmentation.training import TEST_SEED, main, volumes_digest


@pytest.mark.parametrize("model", ["vnet", "mouse_coarse"])
def test_a_tiny_run_writes_a_loadable_checkpoint_with_provenance(tmp_path, monkeypatch, model):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    args = [model, "--size", "16", "--train-volumes", "2", "--test-volumes", "2", "--epochs", "1",
            "--batch-size", "2", "--base-filters", "2", "--name", "tiny"]
    main(args)
    weights = tmp_path / "data" / "weights"
    record = json.loads((weights / "tiny.json").read_text())
    assert record["command"] == "python -m utils.train " + " ".join(args)
    assert record["epochs"] == 1 and record["steps"] == 1 and len(record["legs"]) == 1
    assert record["volumes"]["test_sha1"] == volumes_digest(ultrasound_volumes(2, 16, seed=TEST_SEED))
    assert set(record["final_metrics"]) == {"dice_ventricles", "dice_body"}
    assert load_checkpoint("tiny", directory=weights).count_params() == record["architecture"]["params"]
    if model != "vnet":
        return                          # resuming is one code path for every model: checked once, on vnet
    main(args + ["--resume"])
    record = json.loads((weights / "tiny.json").read_text())
    assert record["epochs"] == record["epochs_planned"] == 2 and record["steps"] == 2 and len(record["legs"]) == 2


@pytest.mark.parametrize("flags, message", [
    (["vnet", "--size", "24"], "--size 24: expected a multiple of 16"),
    (["deepbv_segmenter", "--size", "32"], "cuts regions of up to 56 voxels"),
    (["vnet", "--epochs", "0"], "--epochs 0"),
    (["vnet", "--lr", "0"], "--lr 0.0"),
    (["vnet", "--autocontext"], "apply to mouse_refine only"),
    (["mouse_refine", "--structure", "brain"], "invalid choice: 'brain'"),
])
def test_bad_flags_are_refused_by_name(flags, message, capsys):
    with pytest.raises(SystemExit):
        main(flags)
    assert message in capsys.readouterr().err
