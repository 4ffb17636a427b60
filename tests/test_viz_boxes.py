import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from utils.viz.boxes import draw_boxes, show_detections
from utils.viz.palette import class_color


def test_boxes_are_drawn_on_pixel_borders_with_name_and_score():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.imshow(np.zeros((20, 20, 3)))
    draw_boxes(ax, np.array([[2, 3, 10, 8], [-1, -1, -1, -1]]), np.array([1, -1]), np.array([0.876, 0.1]),
               class_names=("background", "circle"))
    (patch,) = ax.patches  # the padding row is skipped
    assert patch.get_xy() == (1.5, 2.5) and patch.get_width() == 8 and patch.get_height() == 5
    assert patch.get_edgecolor()[:3] == matplotlib.colors.to_rgb(class_color(1))
    assert [t.get_text() for t in ax.texts] == ["circle 0.88"]
    plt.close(fig)


def test_detections_grid_has_one_axis_per_image_and_dashed_ground_truth():
    images = np.zeros((3, 16, 16, 3), np.float32)
    boxes = [np.array([[1, 1, 5, 5]])] * 3
    fig = show_detections(images, boxes, [np.array([2])] * 3, [np.array([0.5])] * 3, gt_boxes=boxes, columns=2,
                          titles=["a", "b", "c"])
    axes = fig.axes
    assert len(axes) == 4 and not axes[3].axison
    assert len(axes[0].patches) == 2 and axes[0].patches[0].get_linestyle() == "--"
    assert axes[1].get_title() == "b"
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_bad_input_gets_a_clear_error():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="scores has 1 entries: expected one per box \\(2\\)"):
        draw_boxes(ax, np.zeros((2, 4)), np.ones(2), np.ones(1))
    with pytest.raises(ValueError, match="labels has 1 entries: expected one per image \\(2\\)"):
        show_detections(np.zeros((2, 8, 8, 3)), [np.zeros((0, 4))] * 2, [np.zeros(0)])
    plt.close(fig)
