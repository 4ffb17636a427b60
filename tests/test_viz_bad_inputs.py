"""Bad input to utils.viz: a clear error naming the argument ("nothing to show" for empty input), never a wrong plot."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from utils.viz.boxes import draw_boxes, show_detections
from utils.viz.curves import plot_history
from utils.viz.images import display_image, show_images
from utils.viz.masks import label_image, overlay_labels
from utils.viz.palette import CLASS_COLORS, class_color, class_color_name, label_palette

GREY = np.zeros((4, 4), np.float32)
RGB = np.zeros((4, 4, 3), np.float32)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("rows, kwargs, match", [
    ([], {}, "rows is empty: nothing to show"),
    ([[]], {}, "rows is empty: nothing to show"),
    ([[np.full((4, 4), 200, np.uint8)]], {}, r"rows\[0\]\[0\] has values in \[200, 200\]: expected floats in \[0, 1\]"),
    ([[GREY, np.full((4, 4), 200.0)]], {}, r"rows\[0\]\[1\] has values in \[200, 200\]: expected values in \[0, 1\] "
                                           r"\(a little outside is clipped; divide 0-255 images by 255\)"),
    ([[np.full((4, 4), np.nan)]], {}, r"rows\[0\]\[0\] has 16 NaN or infinite value\(s\)"),
    ([[np.zeros((0, 4))]], {}, r"rows\[0\]\[0\] is empty: nothing to show"),
    ([[np.zeros(4)]], {}, r"rows\[0\]\[0\] has shape \(4,\) \(rank 1\): expected rank 2 or 3"),
    ([[np.zeros((4, 4, 5))]], {}, r"rows\[0\]\[0\] has shape \(4, 4, 5\): expected \(H, W\) grey"),
    ([[GREY], [GREY]], {"titles": [["a"]]}, "titles has 1 entries: expected one per row of images \\(2\\)"),
    ([[GREY], [GREY]], {"row_labels": ["a"]}, "row_labels has 1 entries: expected one per row"),
    ([[GREY]], {"size": 0}, "size=0: expected a finite number in \\(0, inf\\) \\(inches per image\\)"),
])
def test_show_images_refuses_what_it_cannot_show(rows, kwargs, match):
    with pytest.raises(ValueError, match=match):
        show_images(rows, **kwargs)


def test_show_images_still_clips_a_little_overshoot():
    noisy = np.array([[-0.3, 1.4], [0.5, 0.5]], np.float32)
    assert display_image(noisy, "x").tolist() == [[0.0, 1.0], [0.5, 0.5]]
    fig = show_images([[noisy]])
    assert fig.axes[0].get_images()[0].get_array().max() == 1.0


@pytest.mark.parametrize("histories, kwargs, match", [
    ({}, {}, "histories is empty: nothing to show"),
    ({"m": {"loss": []}}, {}, "the history of 'm' for metric='loss' is empty: nothing to show"),
    ({"loss": [1.0, -0.5]}, {}, r"loss of 'model' has values down to -0.5: expected values > 0 on a log scale "
                                r"\(pass log=False\)"),
    ({"m": {"loss": [1.0], "val_loss": [0.0]}}, {}, "val_loss of 'm' has values down to 0"),
    (5, {}, "the history of 'model' is 5: expected a keras History or a dict of lists"),
    ({"loss": [1.0, 0.5], "val_loss": [1.0]}, {}, "the history of 'model' has 2 values of 'loss' but 1 of "
                                                    "'val_loss': expected one of each per epoch"),
])
def test_plot_history_refuses_empty_and_non_positive_log_curves(histories, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_history(histories, **kwargs)
    assert plot_history({"loss": [1.0, -0.5]}, log=False).get_yscale() == "linear"


@pytest.mark.parametrize("args, kwargs, match", [
    (([[10, 10, 5, 5]],), {}, r"boxes has 1 box\(es\) with x2 < x1 or y2 < y1, the first \[10.0, 10.0, 5.0, 5.0\]"),
    (([[np.nan, 0, 5, 5]],), {}, r"boxes has 1 box\(es\) with NaN or inf"),
    (([[0, 0, 5]],), {}, r"boxes has shape \(1, 3\): expected \(N, 4\) boxes"),
    (([[0, 0, 5, 5]], [2]), {"class_names": ["bg", "a"]},
     r"labels has labels in \[2, 2\]: expected labels in \[0, 1\] \(indices into class_names"),
    (([[0, 0, 5, 5]], [1.5]), {}, "labels has fractional values such as 1.5: expected integer labels"),
    (([[0, 0, 5, 5]], [-2]), {}, r"labels has values in \[-2, -2\]: expected integer labels \(-1 for padding\)"),
    (([[0, 0, 5, 5]], [1], [np.nan]), {}, r"scores has 1 NaN or infinite value\(s\): expected finite scores"),
    (([[0, 0, 5, 5]], [1], [0.5, 0.2]), {}, r"scores has 2 entries: expected one per box \(1\)"),
    (([[0, 0, 5, 5]], [1, 1]), {}, r"labels has 2 entries: expected one per box \(1\)"),
    (([[0, 0, 5, 5]],), {"fontsize": 0}, "fontsize=0: expected a finite number in \\(0, inf\\)"),
])
def test_draw_boxes_refuses_bad_boxes_labels_and_scores(args, kwargs, match):
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match=match):
        draw_boxes(ax, *args, **kwargs)


def test_draw_boxes_skips_padding_and_takes_no_boxes():
    _, ax = plt.subplots()
    draw_boxes(ax, np.zeros((0, 4)))
    draw_boxes(ax, [[-1, -1, -1, -1], [0, 0, 2, 2]], [-1, 1], class_names=["bg", "a"])
    assert len(ax.patches) == 1


@pytest.mark.parametrize("images, kwargs, match", [
    ([], {}, "images is empty: nothing to show"),
    ([np.full((4, 4, 3), 200.0)], {}, r"images\[0\] has values in \[200, 200\]"),
    ([RGB], {"columns": 0}, "columns=0: expected a positive integer"),
    ([RGB], {"columns": 2.5}, "columns=2.5: expected a positive integer"),
    ([RGB], {"size": -1.0}, "size=-1.0: expected a finite number"),
])
def test_show_detections_refuses_empty_and_0_255_images_and_bad_layout(images, kwargs, match):
    n = len(images)
    with pytest.raises(ValueError, match=match):
        show_detections(images, [np.zeros((0, 4))] * n, [np.zeros(0, int)] * n, **kwargs)


def test_label_maps_refuse_empty_maps_and_bad_images():
    with pytest.raises(ValueError, match="labels is empty: nothing to show"):
        label_image(np.zeros((0, 0), int))
    with pytest.raises(ValueError, match=r"image has values in \[0, 200\]: expected floats in \[0, 1\]"):
        overlay_labels(np.eye(2)[..., None].repeat(3, -1) * 200.0, np.zeros((2, 2), int))
    with pytest.raises(ValueError, match=r"image has 12 NaN or infinite value\(s\)"):
        overlay_labels(np.full((2, 2, 3), np.nan), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="strength='a': expected a number in \\[0, 1\\]"):
        overlay_labels(np.zeros((2, 2, 3)), np.zeros((2, 2), int), strength="a")


def test_label_image_of_a_large_label_cycles_the_palette_without_a_huge_palette():
    rgb = label_image(np.array([[10**9]]))
    np.testing.assert_allclose(rgb[0, 0], label_palette(10)[(10**9 - 1) % len(CLASS_COLORS) + 1])


@pytest.mark.parametrize("label", [1.5, float("nan"), "1", None, True, -2])
def test_class_colours_refuse_what_is_not_an_integer_label(label):
    for fn in (class_color, class_color_name):
        with pytest.raises(ValueError, match=f"label={label!r}: expected an integer >= -1 \\(a class 1..C, 0 for"):
            fn(label)
    assert class_color(np.int64(2)) == CLASS_COLORS[1]


@pytest.mark.parametrize("n", [0, 2.0, "3", True])
def test_label_palette_refuses_what_is_not_a_count(n):
    with pytest.raises(ValueError, match=f"n_labels={n!r}: expected a positive integer"):
        label_palette(n)
