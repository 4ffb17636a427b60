"""Notebook 04's offline runs (`python -m utils.train application_runs`): one tiny study and its records."""

import numpy as np
import pytest

from tests.conftest import own_course_root
from utils.denoising.application_runs import (
    VARIANTS,
    Study,
    builder,
    builder_kwargs,
    completion_items,
    hole_scores,
    load_run,
    main,
    run_name,
    score,
)

SIZES = ["--n-patches", "16", "--epochs-completion", "1", "--epochs-sr", "2", "--epochs-codec", "1",
         "--epochs-features", "1", "--hole-draws", "1"]
TINY = ["application_runs", "--study", "tiny", "--variants", "completion_no_mask", "sr_x2_glorot", "codec_2_noise",
        "features", "--seeds", "1", *SIZES]
STUDY = Study(n_patches=16, epochs_completion=1, epochs_sr=2, epochs_codec=1, epochs_features=1, hole_draws=1)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """One tiny run of each family, trained once in a course root of its own."""
    with own_course_root(tmp_path_factory) as root:
        main(TINY)
        yield root


@pytest.mark.parametrize("variant, steps, keys", [
    ("completion_no_mask", 1, {"holes", "rim", "core", "rim_bias"}),     # 4 96x96 patches, batch 8
    ("sr_x2_glorot", 2, {"psnr", "ssim", "mae"}),                        # 16 patches, batch 32, 2 epochs
    ("codec_2_noise", 1, {"bpp", "psnr"}),
    ("features", 7, {"correct"}),                                        # 200 faces, batch 32
])
def test_every_run_is_saved_with_its_own_schedule_and_reproducible_scores(tiny_study, monkeypatch, variant, steps,
                                                                          keys):
    monkeypatch.setenv("COURSE_ROOT", str(tiny_study))
    model, record = load_run("tiny", variant, 1)
    assert record["epochs"] == record["epochs_planned"] == STUDY.epochs_of(variant) and record["steps"] == steps
    assert record["study"] == STUDY.as_record() and record["builder"] == builder(variant)
    assert record["builder_kwargs"] == builder_kwargs(STUDY, variant)
    assert set(record["scores"]) == keys
    assert {len(v) for v in record["scores"].values()} == {100 if variant == "features" else 3}
    assert record["scores"] == score(model, STUDY, variant)          # the saved weights give what was recorded


def test_super_resolution_runs_record_the_test_psnr_before_and_after_every_epoch(tiny_study, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tiny_study))
    _, record = load_run("tiny", "sr_x2_glorot", 1)
    by_epoch = np.array(record["test_psnr_by_epoch"])
    assert by_epoch.shape == (3, 3)                                  # before, epoch 1, epoch 2; three photos
    np.testing.assert_allclose(by_epoch[-1], record["scores"]["psnr"], atol=1e-4)


def test_the_features_run_probes_its_own_untrained_encoder_too(tiny_study, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tiny_study))
    _, record = load_run("tiny", "features", 1)
    assert len(record["correct_untrained"]) == 100 and set(record["correct_untrained"]) <= {0, 1}


def test_the_first_draw_of_test_holes_is_the_same_whatever_the_number_of_draws():
    one, three = completion_items(1, test_side=64), completion_items(3, test_side=64)
    assert len(one) == 3 and len(three) == 9 and [n for n, *_ in three[:3]] == [n for n, *_ in one]
    for (_, c1, m1), (_, _, m3) in zip(one, three):
        np.testing.assert_array_equal(m1, m3)
        assert c1.shape == m1.shape == (64, 64) and m1.sum() > 0


def test_hole_scores_split_each_hole_into_its_rim_and_the_rest():
    clean = np.full((20, 20), 0.5)
    mask = np.zeros((20, 20))
    mask[5:15, 5:15] = 1
    filled = clean.copy()
    filled[mask == 1] = 0.6                 # the same error everywhere in the hole
    scores = hole_scores(clean, filled, mask)
    assert scores["holes"] == pytest.approx(20.0) and scores["rim"] == pytest.approx(20.0)
    assert scores["core"] == pytest.approx(20.0) and scores["rim_bias"] == pytest.approx(0.1)
    filled[7:13, 7:13] = 0.55               # the core (6x6 inside a 2-px rim) made better
    assert hole_scores(clean, filled, mask)["core"] == pytest.approx(26.02, abs=0.01)


def test_the_variants_build_what_they_name():
    assert builder("codec_8_noise") == "utils.denoising.applications:codec"
    assert builder_kwargs(Study(), "codec_8_noise") == {"channels": 8, "quantizer": "noise", "levels": 8}
    assert builder_kwargs(Study(), "sr_x4_ssim") == {"scale": 4}
    assert Study().epochs_of("completion") == 4 and Study().epochs_of("features") == 150
    assert len(VARIANTS) == 14


@pytest.mark.parametrize("call, match", [
    (lambda: run_name("sr_x3", 0), "variant='sr_x3'"),
    (lambda: run_name("sr_x2", -1), "seed=-1"),
    (lambda: builder("codec_16"), "variant='codec_16'"),
    (lambda: Study().epochs_of("jpeg"), "variant='jpeg'"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("argv, message", [
    (["--n-patches", "2"], "--n-patches 2: expected at least 4"),
    (["--levels", "1"], "--levels 1: expected at least 2"),
    (["--epochs-sr", "0"], "--epochs-sr 0"),
    (["--seeds", "1", "1"], "expected distinct non-negative integers"),
    (["--lr", "0"], "--lr 0.0"),
    (["--features-lr", "-1"], "--features-lr -1.0"),
    (["--variants", "jpeg"], "invalid choice"),
])
def test_bad_command_lines_are_refused(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(SystemExit):
        main(["application_runs", "--study", "bad", *argv])
    assert message in capsys.readouterr().err
