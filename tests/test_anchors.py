import numpy as np
import pytest

from utils.detection.anchors import AnchorLevel, anchor_shapes, grid_anchors, multilevel_anchors


def test_shapes_keep_the_area_and_set_the_aspect_ratio():
    shapes = anchor_shapes((16, 32), (0.5, 1.0, 2.0))
    assert shapes.shape == (6, 2) and shapes.dtype == np.float32
    assert np.allclose(shapes.prod(axis=1), [16**2] * 3 + [32**2] * 3, rtol=1e-6)
    assert np.allclose(shapes[:, 0] / shapes[:, 1], [0.5, 1, 2] * 2, rtol=1e-6)
    assert np.allclose(shapes[4], [32, 32])


def test_grid_anchors_of_an_exact_case():
    anchors = grid_anchors((2, 3), stride=10, sizes=4, aspect_ratios=(1.0, 4.0))
    assert anchors.shape == (2 * 3 * 2, 4)
    # cell (0, 0) centred at (5, 5): a 4x4 square, then an 8x2 wide box
    assert np.allclose(anchors[:2], [[3, 3, 7, 7], [1, 4, 9, 6]])
    # anchor k of cell (i, j) is number (i * W + j) * K + k: cell (1, 2) is centred at (25, 15)
    assert np.allclose(anchors[(1 * 3 + 2) * 2], [23, 13, 27, 17])


def test_grid_anchors_follow_the_head_output_order():
    fh, fw, k = 4, 5, 3
    anchors = grid_anchors((fh, fw), stride=8, sizes=(10, 20, 30))
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    as_map = centres.reshape(fh, fw, k, 2)  # what a (H, W, K * 4) head reshapes to
    assert np.allclose(as_map[..., 0], (np.arange(fw)[None, :, None] + 0.5) * 8 + 0 * as_map[..., 0])
    assert np.allclose(as_map[..., 1], (np.arange(fh)[:, None, None] + 0.5) * 8 + 0 * as_map[..., 1])


def test_multilevel_anchors_concatenate_levels_and_count_them():
    levels = [AnchorLevel(8, (16, 24), (1.0, 2.0, 0.5)), AnchorLevel(32, (64,))]
    anchors, counts = multilevel_anchors((64, 128), levels)
    assert counts == [8 * 16 * 6, 2 * 4 * 1] and anchors.shape == (sum(counts), 4)
    assert levels[0].per_cell == 6
    assert np.allclose(anchors[counts[0]], [16 - 32, 16 - 32, 16 + 32, 16 + 32])


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match=r"sizes=\(16, -1\): expected one or more positive numbers"):
        anchor_shapes((16, -1))
    with pytest.raises(ValueError, match="feature_size=8: expected"):
        grid_anchors(8, 8, 16)
    with pytest.raises(ValueError, match="level stride 48 does not divide image_size"):
        multilevel_anchors((128, 128), [AnchorLevel(48, (16,))])
    with pytest.raises(ValueError, match="level.stride=0: expected a positive integer"):
        multilevel_anchors((128, 128), [AnchorLevel(0, (16,))])


@pytest.mark.parametrize("call, match", [
    (lambda: anchor_shapes(()), r"sizes=\(\): expected one or more positive numbers"),
    (lambda: anchor_shapes(16, (1.0, float("nan"))), r"aspect_ratios=\(1.0, nan\): expected one or more positive"),
    (lambda: anchor_shapes([[16, 32]]), r"sizes=\[\[16, 32\]\]: expected one or more"),
    (lambda: anchor_shapes((16, True)), r"sizes=\(16, True\)"),
    (lambda: anchor_shapes("16"), "sizes='16'"),
    (lambda: grid_anchors((4, 4), 0, 16), r"stride=0: expected a finite number in \(0, inf\)"),
    (lambda: grid_anchors((4, 4), float("inf"), 16), "stride=inf"),
    (lambda: grid_anchors((4, 4), 8, 16, offset=1.5), r"offset=1.5: expected a number in \[0, 1\]"),
    (lambda: grid_anchors((4, 0), 8, 16), "feature_size\\[1\\]=0"),
])
def test_bad_sizes_strides_and_offsets_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_sizes_accept_one_number_or_an_array():
    assert np.array_equal(anchor_shapes(16), anchor_shapes(np.array([16.0])))
    assert np.array_equal(anchor_shapes(np.float32(16), np.array(1.0)), [[16.0, 16.0]])
