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


def test_a_stopped_leg_continues_with_its_optimizer_state(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    args = ["vnet", "--size", "16", "--train-volumes", "2", "--test-volumes", "2", "--epochs", "2",
            "--batch-size", "1", "--base-filters", "2"]
    main(args + ["--name", "whole"])
    cut = args + ["--minutes", "1e-6", "--name", "cut"]        # stopped by the time limit after epoch 1
    main(cut)
    main(cut + ["--continue"])
    weights = tmp_path / "data" / "weights"
    record = json.loads((weights / "cut.json").read_text())
    assert record["command"] == "python -m utils.train " + " ".join(cut)    # one leg, recorded once
    assert record["epochs"] == record["epochs_planned"] == 2 and record["steps"] == 4
    assert record["legs"][-1]["continued_at_epoch"] == 1 and record["history"]["loss"][0] is None
    assert not list((tmp_path / ".scratch" / "resume").iterdir())         # the leg is done
    one, continued = load_checkpoint("whole", directory=weights), load_checkpoint("cut", directory=weights)
    for a, b in zip(one.get_weights(), continued.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


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
