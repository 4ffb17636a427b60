"""Notebook 14's question 4: the plain and residual stacks (utils.nn.deep_stack) and their offline runs."""

import numpy as np
import pytest

from tests.conftest import own_course_root
from utils.nn.deep_stack import deep_stack
from utils.nn.depth_runs import Study, builder_kwargs, load_run, main, patch_mse, run_name


@pytest.mark.parametrize("residual, adds", [(False, 0), (True, 3)])
def test_the_stack_has_depth_convolutions_and_a_skip_around_each_middle_one(residual, adds):
    model = deep_stack(5, residual, width=4)
    convs = [layer.name for layer in model.layers if layer.name.startswith("layer_")]
    assert convs == [f"layer_{i}" for i in range(1, 6)]
    assert sum(type(layer).__name__ == "Add" for layer in model.layers) == adds
    # 3x3 kernels: 1 -> 4, three 4 -> 4, 4 -> 1, with biases, and 4 BN layers of 4 channels (4 weights each)
    assert model.count_params() == (9 * 4 + 4) + 3 * (9 * 16 + 4) + (9 * 4 + 1) + 4 * 16
    assert model.predict(np.zeros((1, 7, 9, 1), np.float32), verbose=0).shape == (1, 7, 9, 1)


def test_without_batch_norm_and_bad_inputs():
    assert not any(type(layer).__name__ == "BatchNormalization" for layer in deep_stack(4, True, False).layers)
    for kwargs, name in (({"depth": 2, "residual": True}, "depth"), ({"depth": 4, "residual": 1}, "residual"),
                         ({"depth": 4, "residual": True, "batch_norm": "yes"}, "batch_norm"),
                         ({"depth": 4, "residual": True, "width": 0}, "width")):
        with pytest.raises(ValueError, match=name):
            deep_stack(**kwargs)


def test_a_tiny_study_saves_each_patch_score_and_refuses_bad_flags(tmp_path_factory, capsys):
    study = Study(patches=32, val_patches=8, epochs=1)
    # the course root is this test's only while the block runs (COURSE_ROOT set and restored by own_course_root)
    with own_course_root(tmp_path_factory):
        main(["depth_runs", "--study", "tiny", "--variants", "plain_20", "--seeds", "1", "--patches", "32",
              "--val-patches", "8", "--epochs", "1"])
        model, record = load_run("tiny", "plain_20", 1)
    assert record["epochs"] == record["epochs_planned"] == 1 and record["steps"] == 1
    assert record["builder_kwargs"] == builder_kwargs(study, "plain_20") == {"depth": 20, "residual": False,
                                                                             "width": 16}
    assert len(record["history"]["val_loss"]) == 1 and record["study"] == study.as_record()
    np.testing.assert_allclose(record["scores"]["val_patch_mse"], patch_mse(model, study), rtol=1e-5)
    assert np.mean(record["scores"]["val_patch_mse"]) == pytest.approx(record["history"]["val_loss"][0], rel=1e-4)
    for flags, message in ((["--epochs", "0"], "--epochs 0: expected at least 1"),
                           (["--lr", "0"], "expected a positive learning rate")):
        with pytest.raises(SystemExit):
            main(["depth_runs", "--study", "never", *flags])
        assert message in capsys.readouterr().err
    assert run_name("residual_50", 2) == "residual_50_seed2"
    with pytest.raises(ValueError, match="variant"):
        run_name("residual_30", 0)
