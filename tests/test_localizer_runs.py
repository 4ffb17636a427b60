"""Notebook 09's single-object network (utils.detection.localizer) and its offline question runs."""

import keras
import numpy as np
import pytest

from tests.conftest import own_course_root
from utils.data.scenes import make_scenes
from utils.detection.localizer import class_and_box_scores, classify_and_localize, single_object_targets
from utils.detection.localizer_runs import Study, builder_kwargs, load_run, main, run_name, scenes


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_the_heads_pool_as_asked_and_the_backbone_ends_at_stride_16():
    model = classify_and_localize(num_classes=3, size=64)
    assert model.output["class"].shape == (None, 3) and model.output["box"].shape == (None, 4)
    types = _layer_types(model)
    assert types.count("Conv2D") == 5 and types.count("BatchNormalization") == 5
    assert "GlobalMaxPooling2D" in types and "Flatten" in types
    # the box head flattens the 4x4x64 map of a 64-pixel image into 128 units
    assert model.layers[types.index("Flatten")].output.shape == (None, 4 * 4 * 64)
    other = _layer_types(classify_and_localize(size=64, box_pool="global_max", class_pool="global_average"))
    assert "Flatten" not in other and "GlobalAveragePooling2D" in other and "GlobalMaxPooling2D" in other
    momenta = {layer.momentum for layer in classify_and_localize(size=32, momentum=0.99).layers
               if type(layer).__name__ == "BatchNormalization"}
    assert momenta == {0.99}


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 40}, "size=40: expected a multiple of 16"),
    ({"num_classes": 0}, "num_classes"),
    ({"box_pool": "average"}, "box_pool"),
    ({"class_pool": "flat"}, "class_pool"),
    ({"momentum": 1.0}, "momentum"),
])
def test_the_network_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        classify_and_localize(**kwargs)


def test_targets_are_class_indices_from_0_and_corners_over_the_side_and_refuse_crowds():
    data = make_scenes(3, size=64, n_objects=1, seed=0)
    t = single_object_targets(data)
    np.testing.assert_array_equal(t["class"], np.concatenate(data.labels) - 1)
    np.testing.assert_allclose(t["box"] * 64, np.concatenate(data.boxes))
    assert t["box"].shape == (3, 4) and t["class"].min() >= 0
    with pytest.raises(ValueError, match="expected exactly one per scene"):
        single_object_targets(make_scenes(4, size=64, n_objects=(2, 3), seed=0))
    with pytest.raises(ValueError, match="expected Scenes"):
        single_object_targets({"labels": [np.array([1])]})


class _Fixed(keras.Model):
    """A stand-in whose outputs are given per image: the image's first pixel holds its index."""

    def __init__(self, probs, boxes):
        super().__init__()
        self.probs, self.boxes = np.asarray(probs, np.float32), np.asarray(boxes, np.float32)

    def call(self, images, training=False):
        index = np.asarray(images)[:, 0, 0, 0].astype(int)
        return {"class": self.probs[index], "box": self.boxes[index]}


def test_scores_match_hand_computed_accuracy_and_iou_with_swapped_corners():
    images = np.zeros((2, 16, 16, 3), np.float32)
    images[1, 0, 0, 0] = 1
    # scene 0: class 2 predicted and true; the box predicted with its corners swapped covers the true box.
    # scene 1: class 1 predicted, 3 true; a box of half the true box's area inside it: IoU 0.5
    model = _Fixed([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1]], [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.25]])
    correct, iou = class_and_box_scores(model, images, np.array([2, 3]),
                                        np.array([[0, 0, 8, 8], [0, 0, 8, 8]]),
                                        batch_size=1)
    np.testing.assert_array_equal(correct, [1.0, 0.0])
    np.testing.assert_allclose(iou, [1.0, 0.5])


@pytest.mark.parametrize("images, labels, boxes, kwargs, message", [
    (np.zeros((0, 16, 16, 3)), np.zeros(0), np.zeros((0, 4)), {}, "non-empty batch"),
    (np.zeros((2, 16, 16, 3)), np.zeros(3), np.zeros((2, 4)), {}, "one object per scene"),
    (np.zeros((2, 16, 16, 3)), np.zeros(2), np.zeros((2, 4)), {"training": 1}, "training=1"),
    (np.zeros((2, 16, 16, 3)), np.zeros(2), np.zeros((2, 4)), {"batch_size": 0}, "batch_size"),
])
def test_scores_refuse_bad_inputs(images, labels, boxes, kwargs, message):
    with pytest.raises(ValueError, match=message):
        class_and_box_scores(_Fixed(np.ones((2, 3)), np.ones((2, 4))), images, labels, boxes, **kwargs)


def test_a_tiny_study_saves_each_scene_score_and_refuses_bad_flags(tmp_path_factory, capsys):
    study = Study(scenes=16, test_scenes=8, epochs=1, batch_size=8)
    with own_course_root(tmp_path_factory):
        main(["localizer_runs", "--study", "tiny", "--variants", "box_weight_0.1", "--seeds", "1", "--scenes", "16",
              "--test-scenes", "8", "--epochs", "1", "--batch-size", "8"])
        model, record = load_run("tiny", "box_weight_0.1", 1)
    assert record["epochs"] == record["epochs_planned"] == 1 and record["steps"] == 2 and record["box_weight"] == 0.1
    assert record["builder_kwargs"] == builder_kwargs("box_weight_0.1") == {"num_classes": 3, "size": 128}
    assert record["study"] == study.as_record()
    test = scenes(8, 2)
    correct, iou = class_and_box_scores(model, test.images, np.concatenate(test.labels), np.concatenate(test.boxes))
    np.testing.assert_allclose(record["scores"]["box_iou"], iou, atol=1e-5)
    np.testing.assert_array_equal(record["scores"]["class_correct"], correct)
    assert len(record["scores"]["class_correct_batch_stats"]) == 8
    assert 0 <= record["scores"]["train_class_accuracy_batch_stats"] <= 1
    # scoring with each batch's statistics leaves the running averages as they were
    before = [np.array(w) for w in model.non_trainable_weights]
    again, _ = class_and_box_scores(model, test.images, np.concatenate(test.labels), np.concatenate(test.boxes),
                                    training=True)
    np.testing.assert_array_equal(again, record["scores"]["class_correct_batch_stats"])
    for w, value in zip(model.non_trainable_weights, before):
        np.testing.assert_array_equal(np.array(w), value)
    for flags, message in ((["--scenes", "0"], "--scenes 0: expected at least 1"),
                           (["--lr", "-1"], "expected a positive learning rate"),
                           (["--seeds", "1", "1"], "expected distinct non-negative integers")):
        with pytest.raises(SystemExit):
            main(["localizer_runs", "--study", "never", *flags])
        assert message in capsys.readouterr().err
    assert run_name("momentum_0.99", 2) == "momentum_0.99_seed2"
    assert builder_kwargs("class_head_global_average")["class_pool"] == "global_average"
    with pytest.raises(ValueError, match="variant"):
        run_name("box_weight_1", 0)
