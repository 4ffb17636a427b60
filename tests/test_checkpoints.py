import json

import numpy as np
import pytest

from utils.checkpoints import architecture, load_checkpoint, read_provenance, save_checkpoint
from utils.denoisers import dncnn
from utils.paths import weights_dir


def test_round_trip_rebuilds_and_loads(tmp_path):
    model = dncnn(4, 8)
    save_checkpoint(model, "tiny", "utils.denoisers:dncnn", {"depth": 4, "channels": 8},
                    {"command": "test", "epochs": 0}, directory=tmp_path)
    record = json.loads((tmp_path / "tiny.json").read_text())
    assert record["architecture"]["params"] == model.count_params() and record["command"] == "test"
    loaded = load_checkpoint("tiny", directory=tmp_path)
    x = np.random.default_rng(0).random((1, 12, 12, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_mismatched_architecture_fails_clearly(tmp_path):
    save_checkpoint(dncnn(4, 8), "tiny", "utils.denoisers:dncnn", {"depth": 4, "channels": 8}, {}, directory=tmp_path)
    with pytest.raises(ValueError, match="does not match checkpoint 'tiny'"):
        load_checkpoint("tiny", model=dncnn(5, 8), directory=tmp_path)


def test_unknown_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="name='nope'"):
        read_provenance("nope", directory=tmp_path)


@pytest.mark.parametrize("name", sorted(p.stem for p in weights_dir().glob("*.json")))
def test_shipped_checkpoints_load_and_carry_provenance(name):
    record = read_provenance(name)
    for field in ("command", "epochs", "samples_seen", "wall_s", "device", "backend", "final_metrics"):
        assert field in record, field
    assert record["command"].startswith("python -m utils.train ")
    model = load_checkpoint(name)
    assert architecture(model)["params"] == record["architecture"]["params"]
