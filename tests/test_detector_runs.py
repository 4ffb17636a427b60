"""Notebook 11's offline detector runs (`python -m utils.train detector_runs`): one tiny study, its scoring."""

import numpy as np
import pytest

from tests.conftest import own_course_root
from utils.data.scenes import make_scenes
from utils.detection.detector_runs import (
    MAX_DETECTIONS,
    MIN_SCORE,
    Study,
    builder,
    builder_kwargs,
    detector_of,
    evaluate,
    load_run,
    main,
    run_name,
    score,
)

SIZES = ["--train-scenes", "24", "--epochs", "1", "--reduced-scenes", "16", "--reduced-epochs", "2",
         "--test-scenes", "20", "--val-scenes", "10", "--folds", "2"]
STUDY = Study(train_scenes=24, epochs=1, reduced_scenes=16, reduced_epochs=2, test_scenes=20, val_scenes=10, folds=2)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """Two tiny runs (a full-budget YOLO, a reduced-budget SSD on small objects), trained once."""
    with own_course_root(tmp_path_factory) as root:
        main(["detector_runs", "--study", "tiny", "--variants", "yolo", "ssd_short_small", "--seeds", "1", *SIZES])
        yield root


@pytest.mark.parametrize("variant, epochs, steps, scenes", [("yolo", 1, 2, 24), ("ssd_short_small", 2, 2, 16)])
def test_every_run_is_saved_with_its_budget_and_reproducible_scores(tiny_study, monkeypatch, variant, epochs, steps,
                                                                    scenes):
    monkeypatch.setenv("COURSE_ROOT", str(tiny_study))
    model, record = load_run("tiny", variant, 1)
    assert record["epochs"] == record["epochs_planned"] == epochs and record["steps"] == steps   # batch 16
    assert record["images_seen"] == epochs * scenes and record["study"] == STUDY.as_record()
    assert record["builder"] == builder(variant) and record["builder_kwargs"] == builder_kwargs(variant, 1) == {}
    s = record["scores"]
    assert len(s["fold_map50"]) == len(s["fold_map5095"]) == 2 and 0.05 <= s["val_f1_threshold"] <= 0.95
    assert s == evaluate(model, STUDY, variant)          # the saved weights give what was recorded


def test_a_study_refuses_to_train_again_unless_resumed_and_then_skips(tiny_study, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ROOT", str(tiny_study))
    args = ["detector_runs", "--study", "tiny", "--variants", "yolo", "--seeds", "1", *SIZES]
    with pytest.raises(SystemExit):
        main(args)
    assert "--resume" in capsys.readouterr().err
    main([*args, "--resume"])
    assert "yolo_seed1: done, skipped" in capsys.readouterr().out
    with pytest.raises(SystemExit):                      # another configuration cannot resume these runs
        main([*args[:-2], "--folds", "4", "--resume"])
    assert "expected the same configuration" in capsys.readouterr().err


def test_score_is_pycocotools_map_overall_and_per_fold():
    data = make_scenes(6, seed=0)
    perfect = (data.boxes, [np.ones(len(b), np.float32) for b in data.boxes], data.labels)
    s = score(perfect, data, folds=3)
    assert s["map50"] == s["map5095"] == 1.0 and s["fold_map50"] == [1.0] * 3
    shifted = ([b + 30 for b in data.boxes[:2]] + data.boxes[2:], perfect[1], perfect[2])   # fold 1 misses
    assert score(shifted, data, folds=3)["fold_map50"][0] < 0.5 <= score(shifted, data, folds=3)["fold_map50"][1]
    with pytest.raises(ValueError, match="divisible by the folds"):
        score(perfect, data, folds=4)


def test_every_detector_is_scored_with_the_same_setting():
    from utils.detection.rcnn import faster_rcnn

    assert builder_kwargs("faster_rcnn", 2) == {"pooler": "align", "seed": 2, "score_threshold": MIN_SCORE}
    with pytest.raises(ValueError, match="expected 0.0 and 20"):
        detector_of(faster_rcnn(), "faster_rcnn")        # its default keeps only scores >= 0.05
    assert callable(detector_of(faster_rcnn(score_threshold=MIN_SCORE, max_detections=MAX_DETECTIONS), "faster_rcnn"))
    with pytest.raises(ValueError, match="detector"):
        detector_of(None, "retinanet")


@pytest.mark.parametrize("flags, message", [
    (["--folds", "1"], "--folds 1: expected at least 2"),
    (["--test-scenes", "25", "--folds", "10"], "a multiple of the folds"),
    (["--rcnn-lr", "0"], "--rcnn-lr 0.0: expected a positive"),
    (["--lr", "-1"], "--lr -1.0: expected a positive"),
    (["--seeds", "1", "1"], "distinct non-negative"),
    (["--epochs", "0"], "--epochs 0: expected at least 1"),
])
def test_bad_flags_are_refused_by_name(flags, message, capsys):
    with pytest.raises(SystemExit):
        main(["detector_runs", "--study", "never", *flags])
    assert message in capsys.readouterr().err


def test_run_names_refuse_unknown_variants_and_negative_seeds():
    assert run_name("ssd_short_all_negatives", 2) == "ssd_short_all_negatives_seed2"
    with pytest.raises(ValueError, match="variant"):
        run_name("retinanet", 0)
    with pytest.raises(ValueError, match="seed"):
        run_name("ssd", -1)
