"""The classical denoisers' offline scores (`python -m utils.train classical_scores`): a tiny record, resuming."""

import numpy as np
import pytest

from utils.data.photos import held_out_items
from utils.denoising.classical import classical_denoisers
from utils.denoising.classical_runs import NOISY, key, main, read_scores, scores_path
from utils.denoising.quality import psnr

TINY = ["classical_scores", "--name", "tiny", "--methods", "Gaussian", "--sigmas", "50", "--noise-seeds", "2"]


def test_scores_are_recorded_per_item_and_reproduce(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    main(TINY)
    record = read_scores("tiny")
    assert record["config"] == {"color": "gray", "sigmas": [50.0], "noise_seeds": 2,
                                "protocols": ["clipped", "unclipped"]}
    assert set(record["scores"]) == {NOISY, "Gaussian"} and record["cpu_gflops"] > 0
    assert record["command"].startswith("python -m utils.train classical_scores --name tiny")
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
])
def test_bad_command_lines_are_refused(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(SystemExit):
        main(["classical_scores", "--name", "bad", *argv])
    assert message in capsys.readouterr().err
