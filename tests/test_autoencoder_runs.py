"""Notebook 01's offline runs (`python -m utils.train autoencoder_runs`): one tiny study and its records (the loop
and its --resume, shared with scene_losses in utils.course.studies, are tested in test_scene_losses.py)."""

import numpy as np
import pytest

from tests.conftest import own_course_root
from utils.denoising.autoencoder_runs import (
    TEST_SIGMAS,
    VARIANTS,
    Study,
    builder_kwargs,
    held_out_images,
    load_run,
    main,
    pairs,
    run_name,
)

TINY = ["autoencoder_runs", "--study", "tiny", "--variants", "lecture", "no_batch_norm", "--seeds", "2",
        "--pairs", "40", "--epochs", "1", "--batch-size", "16", "--noise-seeds", "1"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """One tiny study of two variants, run once in a course root of its own."""
    with own_course_root(tmp_path_factory) as root:
        main(TINY)
        yield root


def test_every_run_is_saved_with_its_schedule_and_scores(tiny_study, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tiny_study))
    from utils.denoising.models import denoise_image
    from utils.denoising.quality import psnr

    study = Study(n_pairs=40, epochs=1, batch_size=16, noise_seeds=1)
    _, clean, noisy = held_out_images(25, 1)
    assert study.n_fit == 36
    for variant in ("lecture", "no_batch_norm"):
        model, record = load_run("tiny", variant, 2)
        assert record["epochs"] == record["epochs_planned"] == 1 and record["steps"] == 3   # 36 pairs, batch 16
        assert record["study"] == study.as_record() and record["variant"] == variant and record["seed"] == 2
        assert record["command"].startswith("python -m utils.train autoencoder_runs --study tiny")
        assert len(record["history"]["val_loss"]) == 1 and record["cpu_gflops"] > 0
        assert record["builder_kwargs"] == builder_kwargs(variant)
        assert sorted(record["test_psnr"]) == [f"sigma_{s}" for s in TEST_SIGMAS]
        assert {len(v) for v in record["test_psnr"].values()} == {3}     # 3 photos x 1 noise draw
        # the saved weights give the recorded score (the astronaut at sigma 25)
        again = psnr(clean[1], denoise_image(model, noisy[1]))
        assert again == pytest.approx(record["test_psnr"]["sigma_25"][1], abs=2e-3)


def test_the_variants_share_their_clean_pairs_and_change_one_thing():
    study = Study(n_pairs=20)
    (y25, clean), (y50, clean50), (blind, clean_b) = (pairs(study, v) for v in ("lecture", "sigma_50", "blind"))
    np.testing.assert_array_equal(clean, clean50)
    np.testing.assert_array_equal(clean, clean_b)
    assert clean.shape == (20, 32, 32, 3) and 0 <= y25.min() and y25.max() <= 1     # clipped to [0, 1]
    # unclipped pixels carry the noise: its spread is sigma / 255
    inside = (y50 > 0) & (y50 < 1)
    assert np.std((y50 - clean)[inside]) > 1.5 * np.std((y25 - clean)[(y25 > 0) & (y25 < 1)])
    np.testing.assert_array_equal(pairs(study, "slide_dropout")[0], y25)
    assert set(VARIANTS) == {"lecture", "slide_dropout", "no_batch_norm", "sigma_50", "blind"}


def test_the_test_items_are_the_colour_photos_with_clipped_noise():
    from utils.data.photos import held_out_items

    labels, clean, noisy = held_out_images(50, 2)
    ref = held_out_items(50, 2, "rgb", clip=True)
    assert labels == ref[0] and len(clean) == 6 and clean[0].shape[-1] == 3
    np.testing.assert_array_equal(noisy[5], ref[2][5])


@pytest.mark.parametrize("call, match", [
    (lambda: run_name("dropout", 0), "variant='dropout'"),
    (lambda: run_name("lecture", -1), "seed=-1"),
    (lambda: pairs(Study(n_pairs=20), "sigma_25"), "variant='sigma_25'"),
    (lambda: held_out_images(0.1), "sigma=0.1"),
    (lambda: builder_kwargs("nope"), "variant='nope'"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "1", "1"], "expected distinct non-negative integers"),
    (["--epochs", "0"], "--epochs 0"),
    (["--pairs", "10"], "--pairs 10: expected at least 20"),
    (["--lr", "0"], "--lr 0.0"),
    (["--noise-seeds", "0"], "--noise-seeds 0"),
    (["--variants", "dropout"], "invalid choice"),
])
def test_bad_command_lines_are_refused(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(SystemExit):
        main(["autoencoder_runs", "--study", "bad", *argv])
    assert message in capsys.readouterr().err
