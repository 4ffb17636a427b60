"""Notebook 02's offline runs (`python -m utils.train dncnn_runs`): one tiny study and its records (the loop and
its --resume, shared in utils.course.studies, are tested in test_scene_losses.py)."""

import numpy as np
import pytest

from tests.conftest import own_course_root
from utils.denoising.dncnn_runs import (
    TEST_SIGMAS,
    VARIANTS,
    Study,
    builder_kwargs,
    epoch_pairs,
    load_run,
    main,
    run_name,
    validation_pairs,
)

TINY = ["dncnn_runs", "--study", "tiny", "--variants", "residual", "plain", "--seeds", "1", "--depth", "3",
        "--channels", "4", "--patches-per-epoch", "16", "--epochs", "1", "--batch-size", "8", "--noise-seeds", "1"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """One tiny study of two variants, run once in a course root of its own."""
    with own_course_root(tmp_path_factory) as root:
        main(TINY)
        yield root


def test_every_run_is_saved_with_its_schedule_and_scores(tiny_study, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tiny_study))
    from utils.data.photos import held_out_items
    from utils.denoising.models import denoise_image
    from utils.denoising.quality import psnr

    study = Study(depth=3, channels=4, patches_per_epoch=16, epochs=1, batch_size=8, noise_seeds=1)
    _, clean, noisy = held_out_items(50, 1, "gray", clip=False)
    for variant in ("residual", "plain"):
        model, record = load_run("tiny", variant, 1)
        assert record["epochs"] == record["epochs_planned"] == 1 and record["steps"] == 2   # 16 patches, batch 8
        assert record["study"] == study.as_record() and record["variant"] == variant and record["seed"] == 1
        assert record["builder_kwargs"] == builder_kwargs(study, variant)
        assert model.name == ("dncnn_3x4" if variant == "residual" else "dncnn_3x4_plain")
        assert sorted(record["test_psnr"]) == sorted(f"sigma_{s}{p}" for s in TEST_SIGMAS
                                                     for p in ("", "_unclipped"))
        assert {len(v) for v in record["test_psnr"].values()} == {3}     # 3 photos x 1 noise draw
        # the saved weights give the recorded score (the coffee, sigma 50, unclipped noise)
        again = psnr(clean[2], denoise_image(model, noisy[2]))
        assert again == pytest.approx(record["test_psnr"]["sigma_50_unclipped"][2], abs=2e-3)


def test_every_variant_sees_the_same_patches():
    study = Study(patches_per_epoch=6)
    draws = {v: epoch_pairs(study, v) for v in ("residual", "plain", "sigma_25")}
    first = {v: d(0) for v, d in draws.items()}
    np.testing.assert_array_equal(first["residual"][0], first["plain"][0])     # same noise, same kind
    np.testing.assert_array_equal(first["residual"][1], first["sigma_25"][1])  # same clean patches
    assert first["residual"][1].shape == (6, 40, 40, 1)
    second = draws["residual"](1)
    assert not np.array_equal(second[1], first["residual"][1])                # fresh patches every epoch
    np.testing.assert_array_equal(second[1], draws["plain"](1)[1])
    noisy, clean = validation_pairs()
    assert noisy.shape == clean.shape == (128, 64, 64, 1)


def test_the_variants_build_what_they_name():
    study = Study(depth=4, channels=4)
    assert builder_kwargs(study, "no_batch_norm") == {"depth": 4, "channels": 4, "batch_norm": False}
    assert set(VARIANTS) == {"residual", "plain", "residual_random_init", "plain_random_init", "no_batch_norm",
                             "sigma_25"}


@pytest.mark.parametrize("call, match", [
    (lambda: run_name("deep", 0), "variant='deep'"),
    (lambda: run_name("plain", -2), "seed=-2"),
    (lambda: builder_kwargs(Study(), "blind"), "variant='blind'"),
    (lambda: epoch_pairs(Study(), "sigma_15"), "variant='sigma_15'"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("argv, message", [
    (["--depth", "2"], "--depth 2: expected at least 3"),
    (["--seeds", "0", "0"], "expected distinct non-negative integers"),
    (["--patch", "0"], "--patch 0"),
    (["--lr", "-1"], "--lr -1.0"),
    (["--noise-seeds", "0"], "--noise-seeds 0"),
    (["--variants", "deep"], "invalid choice"),
])
def test_bad_command_lines_are_refused(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(SystemExit):
        main(["dncnn_runs", "--study", "bad", *argv])
    assert message in capsys.readouterr().err
