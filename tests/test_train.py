import json

from utils.course.checkpoints import load_checkpoint
from utils.denoising.training import main


def test_a_tiny_training_run_writes_a_loadable_checkpoint_with_provenance_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    tiny = ["dncnn", "--depth", "3", "--channels", "4", "--epochs", "2", "--patches-per-epoch", "64",
            "--batch-size", "32", "--name", "tiny"]
    main(tiny)
    weights = tmp_path / "data" / "weights"
    record = json.loads((weights / "tiny.json").read_text())
    assert record["command"] == ("python -m utils.train dncnn --depth 3 --channels 4 --epochs 2 "
                                 "--patches-per-epoch 64 --batch-size 32 --name tiny")
    assert record["epochs"] == 2 and record["samples_seen"] == 128
    assert set(record["final_metrics"]) == {"val_psnr_db"} | {f"psnr_s{s}_test_mean{p}" for s in (15, 25, 50)
                                                              for p in ("", "_unclipped")}
    assert record["sigma_train"] == "uniform [0, 55] (blind), noisy clipped to [0, 1]"
    assert "precision" not in record and "jit_compile" not in record   # float32, Keras's XLA choice
    model = load_checkpoint("tiny", directory=weights)
    assert model.count_params() == record["architecture"]["params"]
    assert "epoch 2/2" in capsys.readouterr().out

    main(tiny + ["--resume", "--seed", "1", "--clip-fraction", "0.5"])   # resuming adds to the provenance
    record = json.loads((weights / "tiny.json").read_text())
    assert record["epochs"] == record["epochs_planned"] == 4 and record["samples_seen"] == 256
    assert record["distribution"] == {"strategy": "one device", "replicas": 1}
    first, second = record["command"].split(" && ")
    assert second == first + " --resume --seed 1 --clip-fraction 0.5"
    assert record["sigma_train"] == "uniform [0, 55] (blind), 50% of the noisy patches clipped to [0, 1]"


def test_a_stopped_run_continues_with_its_optimizer_state_as_if_never_stopped(tmp_path, monkeypatch, capsys):
    import numpy as np
    import pytest

    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    tiny = ["dncnn", "--depth", "3", "--channels", "4", "--epochs", "3", "--patches-per-epoch", "64",
            "--batch-size", "32"]
    main(tiny + ["--name", "whole"])
    cut = tiny + ["--minutes", "1e-6", "--name", "cut"]     # the time limit stops it after each epoch
    main(cut)
    resume = tmp_path / ".scratch" / "resume"
    assert (resume / "cut.weights.h5").exists() and json.loads((tmp_path / "data" / "weights" / "cut.json")
                                                               .read_text())["epochs"] == 1
    main(cut + ["--continue"])
    main(cut + ["--continue"])                                # the third epoch ends the leg
    weights = tmp_path / "data" / "weights"
    record = json.loads((weights / "cut.json").read_text())
    assert record["epochs"] == record["epochs_planned"] == 3 and record["samples_seen"] == 192
    assert " && " not in record["command"] and "--continue" not in record["command"]  # one leg
    assert not list(resume.iterdir())                         # nothing left to continue
    one, continued = load_checkpoint("whole", directory=weights), load_checkpoint("cut", directory=weights)
    for a, b in zip(one.get_weights(), continued.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # the same pairs, steps, moments and schedule
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(cut + ["--continue"])
    assert "--continue: no stopped run of 'cut' to continue" in capsys.readouterr().err
    main(cut)                                                 # stopped again after one epoch
    with pytest.raises(SystemExit):
        main(cut + ["--lr", "0.01", "--continue"])
    assert "--continue: expected the stopped run's own command" in capsys.readouterr().err


def test_mixed_precision_and_xla_are_options_recorded_and_the_checkpoint_is_float32(tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    main(["dncnn", "--depth", "3", "--channels", "4", "--epochs", "1", "--patches-per-epoch", "64", "--batch-size",
          "32", "--precision", "mixed_bfloat16", "--jit-compile", "off", "--name", "mixed"])
    weights = tmp_path / "data" / "weights"
    record = json.loads((weights / "mixed.json").read_text())
    assert record["precision"] == "mixed_bfloat16 (float32 weights)" and record["jit_compile"] == "off"
    assert keras.config.dtype_policy().name == "float32"       # scored, and left, in float32
    model = load_checkpoint("mixed", directory=weights)
    assert {w.dtype for w in model.weights} == {"float32"}


def test_the_recorded_entry_point_still_runs():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "utils.train", "--help"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("usage: python -m utils.train")


def test_the_entry_point_routes_every_volumetric_model():
    """utils.train keeps its own copy of the names (so that --help imports no TensorFlow): the two must agree."""
    import utils.train
    from utils.segmentation import training

    assert utils.train.VOLUMETRIC == training.VOLUMETRIC
    assert set(training.BUILDERS) == set(training.VOLUMETRIC)


def test_drunet_trains_told_the_noise_level_with_the_background_pipeline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    main(["drunet", "--channels", "4", "8", "--blocks", "1", "--patch", "32", "--epochs", "3",
          "--patches-per-epoch", "32", "--batch-size", "16", "--photos", "extended", "--schedule", "minutes",
          "--minutes", "5", "--workers", "2", "--clip-fraction", "0.5", "--name", "tiny_unet"])
    record = json.loads((tmp_path / "data" / "weights" / "tiny_unet.json").read_text())
    assert record["builder"] == "utils.denoising.models:drunet"
    assert record["builder_kwargs"] == {"channels": [4, 8], "blocks": 1}
    assert record["epochs"] == 3 and record["samples_seen"] == 96
    assert record["train_photos"][-3:] == ["grace_hopper", "china", "flower"]
    assert record["noise_level"].startswith("told the true sigma") and "cosine over 5" in record["schedule"]
    assert "psnr_s25_test_mean_unclipped" in record["final_metrics"]
    model = load_checkpoint("tiny_unet", directory=tmp_path / "data" / "weights")
    assert len(model.inputs) == 2
    assert "epoch 3/3: lr " in capsys.readouterr().out


def test_bad_training_options_are_refused(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["drunet", "--schedule", "minutes"])
    assert "--schedule minutes needs --minutes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["dncnn", "--channels", "32", "64"])
    assert "dncnn takes one width" in capsys.readouterr().err
