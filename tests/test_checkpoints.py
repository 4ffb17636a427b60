import json

import numpy as np
import pytest

from utils.course.checkpoints import (
    architecture,
    load_checkpoint,
    next_plan,
    planned_epochs,
    read_provenance,
    save_checkpoint,
)
from utils.course.paths import repo_root, weights_dir
from utils.denoising.models import dncnn


def test_round_trip_rebuilds_and_loads(tmp_path):
    model = dncnn(4, 8)
    save_checkpoint(model, "tiny", "utils.denoising.models:dncnn", {"depth": 4, "channels": 8},
                    {"command": "test", "epochs": 0}, directory=tmp_path)
    record = json.loads((tmp_path / "tiny.json").read_text())
    assert record["architecture"]["params"] == model.count_params() and record["command"] == "test"
    loaded = load_checkpoint("tiny", directory=tmp_path)
    x = np.random.default_rng(0).random((1, 12, 12, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_a_checkpoint_without_the_optimizer_state_predicts_the_same_at_a_third_of_the_size(tmp_path):
    import h5py

    from utils.nn.training import train

    model = dncnn(4, 48)                                                        # 43k weights: the file's overhead small
    x = np.random.default_rng(1).random((8, 12, 12, 1)).astype(np.float32)
    train(model, x, x, loss="mse", epochs=1, batch_size=4, progress=False)       # Adam's moments now exist
    kwargs = {"depth": 4, "channels": 48}
    save_checkpoint(model, "full", "utils.denoising.models:dncnn", kwargs, {}, directory=tmp_path,
                    optimizer_state=True)
    save_checkpoint(model, "lean", "utils.denoising.models:dncnn", kwargs, {}, directory=tmp_path)
    with h5py.File(tmp_path / "full.weights.h5") as full, h5py.File(tmp_path / "lean.weights.h5") as lean:
        assert "optimizer" in full and "optimizer" not in lean and set(lean) == set(full) - {"optimizer"}
    size = {n: (tmp_path / f"{n}.weights.h5").stat().st_size for n in ("full", "lean")}
    assert size["lean"] < 0.5 * size["full"]
    predictions = [load_checkpoint(n, directory=tmp_path).predict(x, verbose=0) for n in ("full", "lean")]
    np.testing.assert_array_equal(predictions[0], predictions[1])
    np.testing.assert_array_equal(predictions[1], model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="optimizer_state"):
        save_checkpoint(model, "bad", "utils.denoising.models:dncnn", kwargs, {}, directory=tmp_path,
                        optimizer_state="no")


def test_mismatched_architecture_fails_clearly(tmp_path):
    save_checkpoint(dncnn(4, 8), "tiny", "utils.denoising.models:dncnn", {"depth": 4, "channels": 8}, {},
                    directory=tmp_path)
    with pytest.raises(ValueError, match="does not match checkpoint 'tiny'"):
        load_checkpoint("tiny", model=dncnn(5, 8), directory=tmp_path)


def test_unknown_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="name='nope'"):
        read_provenance("nope", directory=tmp_path)


@pytest.mark.parametrize("name", sorted(p.stem for p in weights_dir().glob("*.json")))
def test_shipped_checkpoints_load_and_carry_provenance(name):
    record = read_provenance(name)
    for field in ("command", "epochs", "wall_s", "device", "backend", "final_metrics"):
        assert field in record, field
    # patches for denoisers, scenes for detectors, videos (samples_per_epoch x epochs) for the trackers, optimizer
    # steps (of the batch size in the command) for the volumetric models
    assert ("samples_seen" in record or "scenes_seen" in record or "samples_per_epoch" in record.get("videos", {})
            or ("steps" in record and "legs" in record))
    assert record["command"].startswith("python -m utils.train ")
    model = load_checkpoint(name)
    assert architecture(model)["params"] == record["architecture"]["params"]
    # saved without the optimizer's state, which nothing reads (--resume starts a fresh optimizer)
    import h5py

    with h5py.File(weights_dir() / f"{name}.weights.h5") as weights:
        assert "optimizer" not in weights and "layers" in weights


# Shipped checkpoints that a time limit (--minutes) stopped short of the epochs their commands planned, with the
# epochs done of those planned (2026-12-06): the notebooks compare them with models trained to the end of theirs, so
# each is retrained to its plan (or re-planned to the budget) by the issue that re-executes its notebook, which removes
# it here (COURSE.md, Evidence: equal budgets).
STOPPED_SHORT = {
    "deepbv_localizer": "27 of 60", "deepbv_segmenter": "75 of 80", "drunet": "288 of 1197", "mouse_coarse": "9 of 60",
    "mouse_refine_autocontext_body": "6 of 60", "mouse_refine_autocontext_ventricles": "80 of 155",
    "mouse_refine_body": "14 of 60",
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=STOPPED_SHORT[n]))
                                  if n in STOPPED_SHORT else n
                                  for n in sorted(p.stem for p in weights_dir().glob("*.json"))])
def test_every_shipped_checkpoint_ran_the_epochs_it_planned(name):
    record = read_provenance(name)
    planned = planned_epochs(record)
    assert planned is not None, f"{name}: its command names no --epochs"
    assert record["epochs"] >= planned, f"{name}: {record['epochs']} of {planned} epochs"


@pytest.mark.parametrize("path", sorted(str(p.relative_to(repo_root() / "data" / "runs")).removesuffix(".weights.h5")
                                  for p in (repo_root() / "data" / "runs").glob("*/*.weights.h5")))
def test_every_offline_run_ran_its_schedule_to_the_end(path):
    """The multi-seed runs the notebooks compare (data/runs/STUDY/RUN.{weights.h5,json}) are never cut short."""
    folder = repo_root() / "data" / "runs" / path
    record = read_provenance(folder.name, folder.parent)
    if "reduced_epochs" in record["study"]:   # notebook 11's study: its questions' runs have a reduced budget
        from utils.detection.detector_runs import Study

        budget = Study(**record["study"]).epochs_of(record["variant"])
    elif "epochs" in record["study"]:
        budget = record["study"]["epochs"]
    else:   # notebook 04's study: each family of networks has its own budget
        from utils.denoising.application_runs import Study

        budget = Study(**record["study"]).epochs_of(record["variant"])
    assert record["epochs"] == record["epochs_planned"] == budget, path
    assert record["steps"] > 0 and record["command"].startswith("python -m utils.train ")


@pytest.mark.parametrize("name", sorted(p.stem for p in (repo_root() / "data" / "runs" / "denoisers").glob("*.json")))
def test_every_shipped_score_record_is_complete(name):
    """data/runs/denoisers/NAME.json: every method scored on every item at every sigma and protocol."""
    from utils.denoising.scores import key, read_scores

    record = read_scores(name)
    config = record["config"]
    keys = {key(s, p) for s in config["sigmas"] for p in config["protocols"]}
    assert "BM3D" in record["scores"] and record["command"].startswith("python -m utils.train denoiser_scores")
    for method, scores in record["scores"].items():
        assert set(scores) == keys, (name, method)
        assert all(len(v) == 3 * config["noise_seeds"] and np.isfinite(v).all() for v in scores.values()), method
        assert method == "noisy input" or set(record["seconds_per_item"][method]) == keys


@pytest.mark.parametrize("record, planned", [
    ({"command": "python -m utils.train vnet --epochs 60 --minutes 6.3", "epochs": 11}, 60),
    ({"command": "python -m utils.train x --epochs 40 && python -m utils.train x --epochs 20 --resume"}, 60),
    ({"command": "python -m utils.train x --epochs 6 && python -m utils.train x --resume --evaluate-only"}, 6),
    ({"command": "python -m utils.train x --epochs 6", "epochs_planned": 9}, 9),       # recorded by the command
    ({"command": "python -m utils.train x --minutes 5"}, None),                        # the CLI's default: unknown
])
def test_planned_epochs_reads_the_record_or_its_commands(record, planned):
    assert planned_epochs(record) == planned


def test_a_resumed_leg_adds_its_plan_to_the_earlier_legs_plans():
    first = {"command": "python -m utils.train vnet --epochs 60 --minutes 6", "epochs": 11}
    assert next_plan({"command": None, "epochs": 0}, 60) == 60
    assert next_plan(first, 40) == 100                           # the 49 epochs the time limit cut stay missing
    assert next_plan(first, 40, evaluate_only=True) == 60


def test_a_checkpoint_never_names_code_to_run(tmp_path):
    save_checkpoint(dncnn(4, 8), "tiny", "utils.denoising.models:dncnn", {"depth": 4, "channels": 8}, {},
                    directory=tmp_path)
    path = tmp_path / "tiny.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "builder": "os:system", "builder_kwargs": {"command": "true"}}))
    with pytest.raises(ValueError, match="builder='os:system' in checkpoint 'tiny': expected one of"):
        load_checkpoint("tiny", directory=tmp_path)
    path.write_text(json.dumps({**record, "builder_kwargs": ["depth", 4]}))
    with pytest.raises(ValueError, match="builder_kwargs=.*expected a dict"):
        load_checkpoint("tiny", directory=tmp_path)


def test_a_failed_save_leaves_the_old_checkpoint_and_numpy_numbers_are_written(tmp_path):
    kwargs = {"depth": 4, "channels": 8}
    old = dncnn(4, 8)
    save_checkpoint(old, "c", "utils.denoising.models:dncnn", kwargs, {"epochs": np.int64(3)}, directory=tmp_path)
    assert read_provenance("c", directory=tmp_path)["epochs"] == 3               # a NumPy integer, written as 3
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ValueError, match="provenance of checkpoint 'c' cannot be written as JSON"):
        save_checkpoint(dncnn(4, 8), "c", "utils.denoising.models:dncnn", kwargs, {"when": object()},
                        directory=tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before     # untouched, no temporary left
    loaded = load_checkpoint("c", directory=tmp_path)
    x = np.random.default_rng(0).random((1, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), old.predict(x, verbose=0), atol=1e-6)


def test_truncated_files_are_named(tmp_path):
    save_checkpoint(dncnn(4, 8), "t", "utils.denoising.models:dncnn", {"depth": 4, "channels": 8}, {},
                    directory=tmp_path)
    weights = tmp_path / "t.weights.h5"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"t\.weights\.h5 could not be loaded"):
        load_checkpoint("t", directory=tmp_path)
    (tmp_path / "t.json").write_text('{"name": "t", "builder"')
    with pytest.raises(ValueError, match=r"t\.json is not valid JSON"):
        read_provenance("t", directory=tmp_path)


def test_a_study_names_its_runs_variant_and_seed_and_records_its_configuration():
    from dataclasses import dataclass

    from utils.course.studies import StudyConfig, seed_run_name

    @dataclass(frozen=True)
    class Tiny(StudyConfig):
        epochs: int = 2
        sizes: tuple = (1, 2)

    assert Tiny().as_record() == {"epochs": 2, "sizes": (1, 2)}
    assert seed_run_name("plain", 3, ("plain", "residual")) == "plain_seed3"
    for variant, seed, message in (("deep", 0, "variant"), ("plain", -1, "seed"), ("plain", 1.5, "seed"),
                                   ("plain", True, "seed")):
        with pytest.raises(ValueError, match=message):
            seed_run_name(variant, seed, ("plain", "residual"))


def test_a_study_s_integer_flags_default_to_its_configuration_and_refuse_values_below_their_least(capsys):
    import argparse
    from dataclasses import dataclass

    from utils.course.studies import StudyConfig, add_integer_flags, integer_flags

    @dataclass(frozen=True)
    class Tiny(StudyConfig):
        epochs: int = 2
        folds: int = 5

    parser = argparse.ArgumentParser(prog="tiny")
    add_integer_flags(parser, Tiny(), ("epochs", "folds"))
    args = parser.parse_args([])
    assert integer_flags(parser, args, ("epochs", "folds"), least={"folds": 2}) == {"epochs": 2, "folds": 5}
    with pytest.raises(SystemExit):
        integer_flags(parser, parser.parse_args(["--folds", "1"]), ("epochs", "folds"), least={"folds": 2})
    assert "--folds 1: expected at least 2" in capsys.readouterr().err
