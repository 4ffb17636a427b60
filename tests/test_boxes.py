import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from utils.detection.boxes import (
    BOX_VARIANCES,
    FORMATS,
    box_area,
    center_to_corners,
    clip_boxes,
    convert_format,
    corners_to_center,
    decode_boxes,
    encode_boxes,
    iou_matrix,
)

coords = st.floats(0, 100, width=32)
sizes = st.floats(1, 60, width=32)  # ratios stay below exp(MAX_LOG_SCALE) = 62.5


@st.composite
def box_sets(draw, n_min=1, n_max=6):
    """xyxy boxes with positive sides."""
    n = draw(st.integers(n_min, n_max))
    xy = draw(arrays(np.float32, (n, 2), elements=coords))
    wh = draw(arrays(np.float32, (n, 2), elements=sizes))
    return np.concatenate([xy, xy + wh], axis=1)


def test_iou_of_small_exact_cases():
    a = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30]], np.float32)
    b = np.array([[0, 0, 10, 10], [0, 0, 5, 10], [10, 0, 20, 10]], np.float32)
    expected = np.array([[1.0, 0.5, 0.0],                  # half of a; touching edges share no area
                         [25 / 175, 0.0, 25 / 175],        # 5x5 corners in common
                         [0.0, 0.0, 0.0]])
    assert np.allclose(iou_matrix(a, b), expected, atol=1e-6)
    assert iou_matrix(a, b).shape == (3, 3) and isinstance(iou_matrix(a, b), np.ndarray)


def test_iou_of_empty_boxes_is_zero_not_nan():
    empty = np.zeros((2, 4), np.float32)
    out = iou_matrix(empty, empty)
    assert np.array_equal(out, np.zeros((2, 2)))


def test_iou_broadcasts_one_anchor_set_against_a_batch():
    anchors = np.array([[0, 0, 10, 10], [0, 0, 20, 20]], np.float32)
    gt = np.array([[[0, 0, 10, 10]], [[0, 0, 20, 20]]], np.float32)  # (2 images, 1 box, 4)
    out = iou_matrix(anchors, gt)
    assert out.shape == (2, 2, 1)
    assert np.allclose(out[:, :, 0], [[1.0, 0.25], [0.25, 1.0]])


@settings(max_examples=40, deadline=None)
@given(box_sets(), box_sets())
def test_iou_properties_and_agreement_with_keras(a, b):
    from keras.utils import bounding_boxes

    ab, ba = iou_matrix(a, b), iou_matrix(b, a)
    assert np.allclose(ab, ba.T, atol=1e-6)               # symmetric
    assert np.all(ab >= 0) and np.all(ab <= 1 + 1e-6)     # in [0, 1]
    assert np.allclose(np.diag(iou_matrix(a, a)), 1.0, atol=1e-5)  # 1 on identical boxes
    keras_iou = np.asarray(bounding_boxes.compute_iou(a, b, "xyxy"))
    assert np.allclose(ab, keras_iou, atol=1e-4)          # keras adds 1e-7 to the union


def test_formats_convert_through_keras_and_agree_with_the_written_out_pair():
    xyxy = np.array([[10, 20, 30, 60], [0, 0, 4, 2]], np.float32)
    center = np.array([[20, 40, 20, 40], [2, 1, 4, 2]], np.float32)
    assert np.allclose(corners_to_center(xyxy), center)
    assert np.allclose(center_to_corners(center), xyxy)
    assert np.allclose(convert_format(xyxy, "xyxy", "center_xywh"), center)
    assert np.allclose(convert_format(xyxy, "xyxy", "yxyx"), xyxy[:, [1, 0, 3, 2]])
    assert np.allclose(convert_format(xyxy, "xyxy", "rel_xyxy", height=100, width=50), xyxy / [50, 100, 50, 100])
    for fmt in FORMATS:
        kwargs = {"height": 100, "width": 50} if fmt.startswith("rel") else {}
        back = convert_format(convert_format(xyxy, "xyxy", fmt, **kwargs), fmt, "xyxy", **kwargs)
        assert np.allclose(back, xyxy, atol=1e-4), fmt


def test_every_pair_of_formats_agrees_with_the_boxes_written_out_on_a_non_square_image():
    # 50 wide, 100 high, so a conversion that swaps the sides (Keras 3.13 and 3.14 did, from
    # rel_center_xywh to an absolute format) cannot pass.
    xyxy = np.array([[10, 20, 30, 60], [0, 0, 50, 100]], np.float32)
    x1, y1, x2, y2 = xyxy.T
    w, h, cx, cy = x2 - x1, y2 - y1, (x1 + x2) / 2, (y1 + y2) / 2
    absolute = {"xyxy": [x1, y1, x2, y2], "yxyx": [y1, x1, y2, x2], "xywh": [x1, y1, w, h],
                "center_xywh": [cx, cy, w, h], "center_yxhw": [cy, cx, h, w]}
    written = {fmt: np.stack(v, axis=-1) for fmt, v in absolute.items()}
    scale = {"xyxy": [50, 100, 50, 100], "yxyx": [100, 50, 100, 50], "xywh": [50, 100, 50, 100],
             "center_xywh": [50, 100, 50, 100]}
    written.update({f"rel_{fmt}": written[fmt] / np.float32(s) for fmt, s in scale.items()})
    assert set(written) == set(FORMATS)
    for source in FORMATS:
        for target in FORMATS:
            got = convert_format(written[source], source, target, height=100, width=50)
            assert np.allclose(got, written[target], atol=1e-4), (source, target)
            if source.startswith("rel_") == target.startswith("rel_"):  # the sides are not needed
                assert np.allclose(convert_format(written[source], source, target), written[target], atol=1e-4)


def test_area_and_clipping():
    boxes = np.array([[0, 0, 4, 5], [3, 3, 1, 1], [-5, -5, 200, 50]], np.float32)
    assert np.allclose(box_area(boxes), [20, 0, 205 * 55])
    assert np.allclose(clip_boxes(boxes, 40, 100)[2], [0, 0, 100, 40])


def test_encoding_of_an_exact_case():
    anchor = np.array([[0, 0, 10, 20]], np.float32)   # centre (5, 10), 10 x 20
    box = np.array([[2, 4, 22, 24]], np.float32)      # centre (12, 14), 20 x 20
    raw = [7 / 10, 4 / 20, np.log(2.0), np.log(1.0)]
    assert np.allclose(encode_boxes(box, anchor, (1, 1, 1, 1)), [raw], atol=1e-6)
    assert np.allclose(encode_boxes(box, anchor), [np.divide(raw, BOX_VARIANCES)], atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(box_sets(4, 4), box_sets(4, 4))
def test_encode_decode_round_trip_and_agreement_with_keras(boxes, anchors):
    from keras.utils import bounding_boxes

    deltas = encode_boxes(boxes, anchors)
    assert np.allclose(decode_boxes(deltas, anchors), boxes, atol=1e-3)  # decode(encode(b)) = b
    keras_deltas = bounding_boxes.encode_box_to_deltas(anchors, boxes, "xyxy", "xyxy", encoding_format="center_xywh",
                                                       variance=BOX_VARIANCES)
    assert np.allclose(deltas, np.asarray(keras_deltas), atol=1e-4)
    keras_boxes = bounding_boxes.decode_deltas_to_boxes(anchors, deltas, "xyxy", "xyxy", encoded_format="center_xywh",
                                                        variance=BOX_VARIANCES)
    assert np.allclose(decode_boxes(deltas, anchors), np.asarray(keras_boxes), atol=1e-3)


def test_decoding_clamps_huge_sizes_and_runs_on_tensors():
    import keras

    anchors = np.array([[0, 0, 16, 16]], np.float32)
    out = decode_boxes(np.array([[0, 0, 1e4, 1e4]], np.float32), anchors)
    assert np.all(np.isfinite(out)) and np.allclose(out[0, 2] - out[0, 0], 1000.0, rtol=1e-4)
    tensor = decode_boxes(keras.ops.zeros((1, 4)), anchors)
    assert not isinstance(tensor, np.ndarray) and np.allclose(keras.ops.convert_to_numpy(tensor), anchors)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match=r"boxes1 has shape \(3,\): expected \(\.\.\., 4\)"):
        iou_matrix(np.zeros(3), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="source='xy': expected one of 'xyxy', 'yxyx'"):
        convert_format(np.zeros((1, 4)), "xy", "xyxy")
    with pytest.raises(ValueError, match="height=None, width=None: expected both image sides"):
        convert_format(np.zeros((1, 4)), "xyxy", "rel_xyxy")
    with pytest.raises(ValueError, match=r"variances=\(0.1, 0.1\): expected 4 positive numbers"):
        encode_boxes(np.zeros((1, 4)), np.ones((1, 4)), variances=(0.1, 0.1))
    with pytest.raises(ValueError, match=r"height=0: expected a finite number in \(0, inf\) \(the image side"):
        clip_boxes(np.zeros((1, 4)), 0, 10)
    with pytest.raises(ValueError, match="width=True"):
        clip_boxes(np.zeros((1, 4)), 10, True)
    with pytest.raises(ValueError, match="width=nan"):
        clip_boxes(np.zeros((1, 4)), 10, float("nan"))
    with pytest.raises(ValueError, match=r"variances=\(0.1, 0.1, nan, 0.2\): expected 4 positive numbers"):
        decode_boxes(np.zeros((1, 4)), np.ones((1, 4)), variances=(0.1, 0.1, float("nan"), 0.2))
    with pytest.raises(ValueError, match="boxes=.*'a'.*: expected numbers"):
        box_area([["a", 0, 1, 1]])
    with pytest.raises(ValueError, match="target=None: expected one of"):
        convert_format(np.zeros((1, 4)), "xyxy", None)


def test_format_names_are_case_insensitive():
    boxes = np.array([[0, 0, 4, 2]], np.float32)
    assert np.allclose(convert_format(boxes, "XYXY", "Center_XYWH"), convert_format(boxes, "xyxy", "center_xywh"))


def test_numpy_in_numpy_out_for_arrays_lists_and_tuples_tensors_stay_tensors():
    import keras

    for boxes in ([[0, 0, 2, 3]], ((0, 0, 2, 3),), np.array([[0, 0, 2, 3]], np.int64)):
        area = box_area(boxes)
        assert isinstance(area, np.ndarray) and area.dtype == np.float32 and area.tolist() == [6.0]
    iou = iou_matrix([[0, 0, 2, 2]], keras.ops.convert_to_tensor([[0.0, 0.0, 2.0, 2.0]]))
    assert not isinstance(iou, np.ndarray) and keras.ops.convert_to_numpy(iou).tolist() == [[1.0]]


def test_iou_matrix_numpy_path_equals_the_tensor_path():
    import keras

    rng = np.random.default_rng(0)
    a = np.sort(rng.uniform(0, 50, (7, 2, 2)), axis=1).transpose(0, 2, 1).reshape(7, 4)[:, [0, 2, 1, 3]]
    b = np.sort(rng.uniform(0, 50, (5, 2, 2)), axis=1).transpose(0, 2, 1).reshape(5, 4)[:, [0, 2, 1, 3]]
    b[0] = [3, 3, 3, 3]                                                        # an empty box
    fast = iou_matrix(a, b)
    slow = keras.ops.convert_to_numpy(iou_matrix(keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b)))
    assert isinstance(fast, np.ndarray) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="boxes2 has shape"):
        iou_matrix(a, b[:, :3])


def test_encode_boxes_refuses_swapped_corners_where_the_values_are_known():
    import keras
    import tensorflow as tf

    anchor = np.array([[0, 0, 10, 10]], np.float32)
    swapped = np.array([[10, 0, 0, 10]], np.float32)                     # x2 < x1: was a target of -80.6
    with pytest.raises(ValueError, match=r"boxes has 1 box\(es\) with x2 < x1 or y2 < y1, the first "
                                         r"\[10.0, 0.0, 0.0, 10.0\]: expected finite \(x1, y1, x2, y2\)"):
        encode_boxes(swapped, anchor)
    with pytest.raises(ValueError, match=r"boxes has 1 box\(es\) with x2 < x1 or y2 < y1, the first \[0.0, 8.0"):
        encode_boxes(keras.ops.convert_to_tensor([[0.0, 8.0, 10.0, 2.0]]), anchor)   # y2 < y1, an eager tensor
    with pytest.raises(ValueError, match=r"anchors has 1 box\(es\) with x2 < x1 or y2 < y1"):
        encode_boxes(anchor, swapped)
    with pytest.raises(ValueError, match=r"boxes has 1 box\(es\) with NaN or inf"):
        encode_boxes(np.array([[0, 0, np.nan, 10]], np.float32), anchor)
    # an empty box (x2 == x1) is still encoded, to a large finite offset
    assert np.all(np.isfinite(encode_boxes(np.array([[5, 0, 5, 10]], np.float32), anchor)))
    # inside compiled code the values are unknown: nothing is checked
    compiled = tf.function(lambda b, a: encode_boxes(b, a))
    assert compiled(tf.constant(anchor), tf.constant(anchor)).numpy().tolist() == [[0.0, 0.0, 0.0, 0.0]]
