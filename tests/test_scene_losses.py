"""Notebook 06's offline runs (`python -m utils.train scene_losses`): one tiny study, its records and resuming (the
loop every study shares, utils.course.studies.train_study)."""

import json

import numpy as np
import pytest

from tests.conftest import own_course_root
from utils.segmentation.scene_losses import (
    FOCAL_PRIOR,
    Study,
    balanced_weights,
    build,
    class_scores,
    load_run,
    main,
    make_loss,
    run_name,
    runs_dir,
    scene_scores,
    scenes,
    study_config,
)

TINY = ["scene_losses", "--study", "tiny", "--losses", "ce", "focal", "--seeds", "3", "--epochs", "1",
        "--image-size", "64", "--object-size", "4", "5", "--train-scenes", "16", "--test-scenes", "6"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """One tiny study of two losses, run once in a course root of its own."""
    with own_course_root(tmp_path_factory) as root:
        main(TINY)
        yield root


def test_every_run_is_saved_with_its_schedule_and_scores(tiny_study, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tiny_study))
    folder = runs_dir("tiny")
    assert sorted(p.name for p in folder.iterdir()) == ["ce_seed3.json", "ce_seed3.weights.h5", "focal_seed3.json",
                                                        "focal_seed3.weights.h5"]
    study = Study(image_size=64, object_size=(4, 5), n_train=16, n_test=6, epochs=1)
    _, test = scenes(study)
    assert study_config("tiny") == study
    for loss in ("ce", "focal"):
        model, record = load_run("tiny", loss, 3)
        assert record["epochs"] == record["epochs_planned"] == 1 and record["steps"] == 2   # 16 scenes, batch 8
        assert record["study"] == study.as_record() and record["seed"] == 3 and record["loss"] == loss
        assert record["command"].startswith("python -m utils.train scene_losses --study tiny")
        assert record["distribution"] == {"strategy": "one device", "replicas": 1}
        assert len(record["history"]["dice"]) == 1 and len(record["final"]["scene_dice"]) == 6
        again = scene_scores((test.masks > 0)[..., None], model.predict(test.images, verbose=0))
        np.testing.assert_allclose(again["scene_dice"], record["final"]["scene_dice"], atol=1e-9)


def test_a_study_resumes_only_with_its_configuration(tiny_study, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ROOT", str(tiny_study))
    saved = (runs_dir("tiny") / "ce_seed3.json").read_text()
    with pytest.raises(SystemExit):
        main(TINY)                                                 # without --resume: refused, nothing overwritten
    assert "add --resume" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*TINY[:9], "2", *TINY[10:], "--resume"])             # 2 epochs: not the saved runs' configuration
    assert "expected the same configuration" in capsys.readouterr().err
    main([*TINY, "--resume"])
    assert capsys.readouterr().out.count("done, skipped") == 2
    assert (runs_dir("tiny") / "ce_seed3.json").read_text() == saved


def test_a_multi_class_study_records_the_mean_iou(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    main(["scene_losses", "--study", "classes", "--losses", "ce", "--seeds", "0", "--epochs", "1",
          "--image-size", "64", "--objects", "1", "3", "--object-size", "16", "30", "--classes", "4",
          "--depth", "3", "--filters", "4", "--no-skip", "--train-scenes", "8", "--test-scenes", "4"])
    model, record = load_run("classes", "ce", 0)
    assert record["builder_kwargs"]["skip"] is False and model.output_shape == (None, 64, 64, 4)
    assert len(record["history"]["miou"]) == 1 and len(record["final"]["scene_miou"]) == 4
    _, test = scenes(study_config("classes"))
    again = class_scores(test.masks, model.predict(test.images, verbose=0))
    np.testing.assert_allclose(again["scene_miou"], record["final"]["scene_miou"], atol=1e-9)


def test_class_scores_by_hand():
    labels = np.zeros((2, 2, 2), int)
    labels[0, 0, 0] = 1                                           # scene 0: one pixel of class 1
    probs = np.zeros((2, 2, 2, 3))
    probs[..., 0] = 1.0                                           # background everywhere ...
    probs[1, 1, 1] = [0, 0, 1]                                    # ... but one pixel of class 2 in scene 1
    s = class_scores(labels, probs)
    # scene 0: background 3/4, class 1 0/1; scene 1: background 3/4, class 2 0/1
    assert s["scene_miou"] == pytest.approx([0.375, 0.375])
    assert s["iou"] == pytest.approx([6 / 8, 0.0, 0.0]) and s["miou"] == pytest.approx(0.25)


def test_a_study_without_runs_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="study='nothing': no runs"):
        study_config("nothing")


def test_focal_runs_start_from_lin_et_al_prior():
    import keras

    keras.utils.set_random_seed(0)
    net = build(Study(image_size=64), "focal")
    bias = net.get_layer("scores").get_weights()[1]
    np.testing.assert_allclose(1 / (1 + np.exp(-bias)), FOCAL_PRIOR, rtol=1e-5)
    assert build(Study(image_size=64), "ce").get_layer("scores").get_weights()[1] == pytest.approx(0.0)


def test_scene_scores_by_hand():
    masks = np.zeros((3, 4, 4, 1), bool)
    masks[0, :2, :2] = True                                       # 4 object pixels
    masks[1, 3, 3] = True                                         # 1 object pixel, missed
    probs = np.zeros((3, 4, 4, 1))
    probs[0, :2, :1] = 0.9                                        # 2 of the 4 found
    probs[2, 0, 0] = 0.6                                          # a false pixel in the empty scene
    s = scene_scores(masks, probs)
    assert s["scene_dice"] == pytest.approx([2 * 2 / 6, 0.0, 0.0])
    assert s["dice"] == pytest.approx(2 * 2 / (5 + 3)) and s["found"] == 0.5
    assert s["ratio"] == pytest.approx(3 / 5) and s["false_pixels_empty"] == 1.0
    assert scene_scores(masks[:2], probs[:2])["false_pixels_empty"] is None
    json.dumps(s)                                                 # plain JSON: no NaN


def test_balanced_weights_make_both_classes_count_equally():
    w_bg, w_fg = balanced_weights(0.01)
    assert 0.99 * w_bg == pytest.approx(0.01 * w_fg) == pytest.approx(0.5)


@pytest.mark.parametrize("call, match", [
    (lambda: run_name("dice", 0), "loss='dice'"),
    (lambda: run_name("ce", -1), "seed=-1"),
    (lambda: runs_dir("Bad-Name"), "study='Bad-Name'"),
    (lambda: balanced_weights(0.0), "fg_fraction=0.0"),
    (lambda: scene_scores(np.zeros((2, 4, 4, 1)), np.zeros((2, 4, 4))), "expected the same shape"),
    (lambda: class_scores(np.zeros((2, 4, 4)), np.zeros((2, 4, 4))), r"expected \(n, H, W, C\)"),
    (lambda: make_loss("soft_dice", Study(n_classes=4), 0.1), "expected 'ce'"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("argv, message", [
    (["--image-size", "66"], "expected a multiple of 4"),
    (["--seeds", "1", "1"], "expected distinct non-negative integers"),
    (["--epochs", "0"], "--epochs 0"),
    (["--classes", "4", "--losses", "soft_dice"], "expected ce only"),
    (["--depth", "3", "--image-size", "68"], "expected a multiple of 8"),
])
def test_bad_command_lines_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(["scene_losses", "--study", "never", "--losses", "ce", *argv])
    assert message in capsys.readouterr().err
