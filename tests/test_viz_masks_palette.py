import numpy as np
import pytest

from utils.viz.masks import label_image, overlay_labels
from utils.viz.palette import CLASS_COLORS, class_color, class_color_name, label_palette


def test_one_palette_for_boxes_and_label_maps():
    palette = label_palette(4)
    assert palette.shape == (4, 3) and np.array_equal(palette[0], [0, 0, 0])
    for label in (1, 2, 3):
        hex_colour = class_color(label)
        assert hex_colour == CLASS_COLORS[label - 1]
        np.testing.assert_allclose(palette[label], [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    assert [class_color_name(k) for k in (1, 2, 3)] == ["blue", "orange", "green"]
    assert class_color(0) == "#ffffff" and class_color_name(-1) == "white"
    with pytest.raises(ValueError, match="n_labels=0: expected a positive integer"):
        label_palette(0)


def test_label_image_and_overlay():
    labels = np.array([[0, 1], [2, 3]])
    rgb = label_image(labels)
    assert rgb.shape == (2, 2, 3) and np.array_equal(rgb[0, 0], [0, 0, 0])
    np.testing.assert_allclose(rgb[1, 1], label_palette(4)[3])
    image = np.full((2, 2, 3), 0.5, np.float32)
    over = overlay_labels(image, labels, strength=1.0)
    np.testing.assert_allclose(over[0, 0], image[0, 0])          # background untouched
    np.testing.assert_allclose(over[0, 1], rgb[0, 1])             # full strength: the class colour
    assert label_image(np.zeros((3, 2, 2), np.int32)).shape == (3, 2, 2, 3)


def test_bad_label_maps_are_refused():
    with pytest.raises(ValueError, match="expected an integer label map"):
        label_image(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="expected labels >= 0"):
        label_image(np.array([[0, -1]]))
    with pytest.raises(ValueError, match=r"expected \(\.\.\., H, W, 3\) and \(\.\.\., H, W\)"):
        overlay_labels(np.zeros((2, 3, 3)), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="strength=2"):
        overlay_labels(np.zeros((2, 2, 3)), np.zeros((2, 2), int), strength=2)
