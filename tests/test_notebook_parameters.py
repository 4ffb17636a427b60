"""Notebook parameters that switch data sources, run end to end in quick mode on files the test writes."""

import json

from utils.course import runner
from utils.course.results import results_folder
from utils.data.coco import export_coco
from utils.data.scenes import make_scenes


def test_faster_rcnn_trains_and_evaluates_on_a_coco_folder(tmp_path):
    folder = tmp_path / "coco"
    export_coco(make_scenes(30, size=64, n_objects=(1, 2), object_size=(16, 24), seed=5), folder)
    runner.execute("10_faster_rcnn", quick=True, params={"coco_folder": str(folder)})
    figures = json.loads((results_folder(quick=True, overrides=True) / "10_faster_rcnn.json").read_text())["figures"]
    assert figures["n_test"] == 6                                  # the folder's last 20 %, not the scenes
    assert 0.0 <= figures["map50_faster_rcnn"] <= 1.0
