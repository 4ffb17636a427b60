"""Denoisers' offline scores on the test items (`python -m utils.train denoiser_scores`): a tiny record, resuming."""

import numpy as np
import pytest

from utils.data.photos import held_out_items
from utils.denoising.classical import classical_denoisers
from utils.denoising.quality import psnr
from utils.denoising.scores import CHECKPOINTS, NOISY, denoisers, key, main, read_scores, scores_path

TINY = ["denoiser_scores", "--name", "tiny", "--methods", "Gaussian", "--sigmas", "50", "--noise-seeds", "2"]


def test_scores_are_recorded_per_item_and_reproduce(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    main(TINY)
    record = read_scores("tiny")
    assert record["config"] == {"color": "gray", "sigmas": [50.0], "noise_seeds": 2,
                                "protocols": ["clipped", "unclipped"]}
    assert set(record["scores"]) == {NOISY, "Gaussian"} and record["cpu_gflops"] > 0
    assert record["command"].startswith("python -m utils.train denoiser_scores --name tiny")
    _, clean, noisy = held_out_items(50, 2, "gray", clip=False)
    # the unclipped noisy input is scored as it is; a denoised output clipped to [0, 1]
    np.testing.assert_allclose(record["scores"][NOISY]["sigma_50_unclipped"],
                               [psnr(c, y, clip=False) for c, y in zip(clean, noisy)], atol=1e-3)
    gauss = classical_denoisers()["Gaussian"]
    assert record["scores"]["Gaussian"]["sigma_50_unclipped"][3] == pytest.approx(
        psnr(clean[3], gauss(noisy[3], 50)), abs=1e-3)
    assert len(record["scores"]["Gaussian"]["sigma_50"]) == 6           # 3 photos x 2 draws
    saved = scores_path("tiny").read_text()
    with pytest.raises(SystemExit):
        main(TINY)                                                      # no --resume: refused
    assert "add --resume" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*TINY[:-1], "3", "--resume"])                             # another configuration
    assert "expected the same configuration" in capsys.readouterr().err
    main([*TINY, "--resume"])
    assert capsys.readouterr().out.count("done, skipped") == 2 and scores_path("tiny").read_text() == saved


def test_the_checkpoints_are_scored_where_they_apply():
    from utils.data.photos import held_out_items

    gray, rgb = denoisers("gray"), denoisers("rgb")
    assert set(CHECKPOINTS) <= set(gray) and "BM3D" in gray
    assert "autoencoder checkpoint" in rgb and "DnCNN-B checkpoint" not in rgb
    _, clean, noisy = held_out_items(25, 1, "gray")
    crop = noisy[0][:64, :64]
    for label in CHECKPOINTS:                                     # grey in, grey out, denoised
        out = gray[label](crop, 25)
        assert out.shape == crop.shape and psnr(clean[0][:64, :64], out) > psnr(clean[0][:64, :64], crop)
    with pytest.raises(ValueError, match="color='cmyk'"):
        denoisers("cmyk")


def test_keys_name_the_sigma_and_the_protocol():
    assert key(25, "clipped") == "sigma_25" and key(15.0, "unclipped") == "sigma_15_unclipped"
    with pytest.raises(ValueError, match="protocol='raw'"):
        key(25, "raw")


def test_a_missing_record_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="name='nothing'"):
        read_scores("nothing")
    with pytest.raises(ValueError, match="name='Bad Name'"):
        scores_path("Bad Name")


@pytest.mark.parametrize("argv, message", [
    (["--sigmas", "0.1"], "expected sigma on the 0-255 scale"),
    (["--noise-seeds", "1"], "--noise-seeds 1: expected at least 2"),
    (["--methods", "median"], "--methods='median'"),
    (["--name", "Bad"], "name='Bad'"),
    (["--color", "rgb", "--methods", "DnCNN-B checkpoint"], "--methods='DnCNN-B checkpoint'"),
])
def test_bad_command_lines_are_refused(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(SystemExit):
        main(["denoiser_scores", "--name", "bad", *argv])
    assert message in capsys.readouterr().err
