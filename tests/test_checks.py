import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.course.checks import (
    as_float_tensor,
    as_image_array,
    is_array_like,
    non_negative_int,
    number_in,
    numpy_like,
    one_of,
    positive_float,
    positive_int,
)


def test_as_image_array_converts_and_checks():
    out = as_image_array(np.zeros((4, 4), np.uint8), "image", (2, 3))
    assert out.dtype == np.float32 and out.shape == (4, 4)
    assert as_image_array(np.full((2, 2), 7.0), "x", (2,), in_unit_range=False).max() == 7.0


@pytest.mark.parametrize("value, error, match", [
    (np.zeros(5), ValueError, "x has shape \\(5,\\) \\(rank 1\\): expected rank 2 or 3"),
    (np.full((2, 2), -0.5), ValueError, "x has values in \\[-0.5, -0.5\\]: expected floats in \\[0, 1\\]"),
    (np.array([["a"]]), TypeError, "x has dtype <U1"),
])
def test_as_image_array_names_the_argument(value, error, match):
    with pytest.raises(error, match=match):
        as_image_array(value, "x", (2, 3))


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "4", None])
def test_positive_int_rejects(value):
    with pytest.raises(ValueError, match=f"n={value!r}"):
        positive_int(value, "n")


def test_positive_int_accepts_numpy_integers():
    assert positive_int(np.int64(3), "n") == 3


# --- number_in, positive_float, non_negative_int, one_of ------------------------------------------

BAD_NUMBERS = [True, False, np.bool_(True), float("nan"), float("inf"), -float("inf"), np.float32("nan"), "0.5",
               None, [0.5], np.array(0.5), 1 + 0j]


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_number_in_rejects_what_is_not_a_finite_real_number(value):
    with pytest.raises(ValueError, match=r"^x=.*: expected a finite number in \(-inf, inf\)$"):
        number_in(value, "x")


@pytest.mark.parametrize("value, low, high, low_open, high_open, interval", [
    (0, 0, 1, True, False, r"\(0, 1\]"),
    (1.5, 0, 1, True, False, r"\(0, 1\]"),
    (1, 0, 1, False, True, r"\[0, 1\)"),
    (-0.1, 0, 1, False, False, r"\[0, 1\]"),
    (-1, 0, None, False, False, r"\[0, inf\)"),
    (0, 0, None, True, False, r"\(0, inf\)"),
    (3, None, 2.5, False, False, r"\(-inf, 2.5\]"),
])
def test_number_in_names_the_interval_it_expected(value, low, high, low_open, high_open, interval):
    kind = "a number" if low is not None and high is not None else "a finite number"
    with pytest.raises(ValueError, match=rf"^x={value!r}: expected {kind} in {interval}$"):
        number_in(value, "x", low, high, low_open=low_open, high_open=high_open)


def test_number_in_accepts_closed_ends_and_numpy_numbers_and_returns_a_float():
    assert number_in(0, "x", 0, 1) == 0.0 and number_in(1, "x", 0, 1) == 1.0
    assert number_in(np.float32(0.25), "x", 0, 1, low_open=True, high_open=True) == 0.25
    assert type(number_in(np.int64(3), "x", 0)) is float
    assert number_in(-1e300, "x") == -1e300


def test_the_error_message_is_the_documented_one():
    with pytest.raises(ValueError) as err:
        number_in(1.5, "positive_iou", 0, 1, low_open=True)
    assert str(err.value) == "positive_iou=1.5: expected a number in (0, 1]"
    with pytest.raises(ValueError) as err:
        number_in(-25, "sigma", 0, note="the 0-255 scale")
    assert str(err.value) == "sigma=-25: expected a finite number in [0, inf) (the 0-255 scale)"


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(-10, 10), st.floats(0, 10),
       st.booleans(), st.booleans())
def test_number_in_accepts_exactly_the_finite_numbers_of_the_interval(value, low, width, low_open, high_open):
    high = low + width
    inside = (math.isfinite(value) and (value > low if low_open else value >= low)
              and (value < high if high_open else value <= high))
    if inside:
        assert number_in(value, "x", low, high, low_open=low_open, high_open=high_open) == value
    else:
        with pytest.raises(ValueError, match="x="):
            number_in(value, "x", low, high, low_open=low_open, high_open=high_open)


@pytest.mark.parametrize("value", [0, -1e-9, -3, True, float("nan"), float("inf"), "2", None])
def test_positive_float_rejects(value):
    with pytest.raises(ValueError, match=r"expected a finite number in \(0, inf\)"):
        positive_float(value, "rate")


def test_positive_float_accepts_ints_floats_and_numpy_numbers():
    assert positive_float(2, "rate") == 2.0 and positive_float(np.float64(1e-12), "rate") == 1e-12


@pytest.mark.parametrize("value", [-1, 2.0, 0.5, True, False, "3", None, float("nan"), np.float32(1)])
def test_non_negative_int_rejects(value):
    with pytest.raises(ValueError, match="expected a non-negative integer"):
        non_negative_int(value, "count")


def test_non_negative_int_accepts_zero_and_numpy_integers():
    assert non_negative_int(0, "count") == 0
    out = non_negative_int(np.uint8(255), "count")
    assert out == 255 and type(out) is int


def test_one_of_returns_the_value_and_keeps_types_apart():
    assert one_of("boxes", "targets", ("semantic", "boxes")) == "boxes"
    assert one_of(None, "final_activation", ("softmax", None)) is None
    assert one_of(np.int64(2), "spatial_dims", (1, 2, 3)) == 2
    assert one_of(np.bool_(True), "skip", (True, False))
    assert one_of(7, "k", range(8)) == 7
    for value, choices in [(1, (True, False)), (True, (0, 1)), (2.0, (1, 2, 3)), ("None", (None,)),
                           ("Boxes", ("boxes",)), (np.array([1, 2]), (1, 2)), (8, range(8)), (2.0, range(8)),
                           (True, range(8)), (float("nan"), (float("nan"),))]:
        with pytest.raises(ValueError, match="expected"):
            one_of(value, "x", choices)


def test_one_of_lists_the_choices():
    with pytest.raises(ValueError) as err:
        one_of("nearest", "upsampling", ("transpose", "bilinear"))
    assert str(err.value) == "upsampling='nearest': expected one of 'transpose', 'bilinear'"
    with pytest.raises(ValueError) as err:
        one_of(9, "k", range(8))
    assert str(err.value) == "k=9: expected an integer in 0..7"


def test_a_long_value_is_shortened_in_the_message():
    with pytest.raises(ValueError) as err:
        one_of(list(range(1000)), "x", (1, 2))
    assert len(str(err.value)) < 120 and "..." in str(err.value)


# --- is_array_like, numpy_like, as_float_tensor --------------------------------------------------

def test_is_array_like_is_numpy_lists_tuples_and_numbers_not_tensors():
    import keras

    for x in (np.zeros(3), np.float32(1), [1, 2], (1, 2), 3, 2.5, True):
        assert is_array_like(x)
    for x in (keras.ops.zeros(3), "abc", None, {"a": 1}):
        assert not is_array_like(x)


def test_numpy_like_gives_numpy_for_numpy_inputs_and_tensors_for_a_tensor_input():
    import keras

    t = keras.ops.ones(3)
    for inputs in [(np.ones(3),), ([1.0],), ((1.0,), 2.0), (np.float32(1), None), ()]:
        out = numpy_like(t, *inputs)
        assert isinstance(out, np.ndarray) and out.tolist() == [1.0, 1.0, 1.0]
    assert numpy_like(t, np.ones(3), t) is t
    already = np.zeros(2)
    assert numpy_like(already, [1]) is already


def test_as_float_tensor_converts_to_float32_and_keeps_float_tensors():
    import keras

    assert keras.backend.standardize_dtype(as_float_tensor(np.arange(4, dtype=np.int64), "x").dtype) == "float32"
    assert keras.backend.standardize_dtype(as_float_tensor(np.zeros(2, np.float64), "x").dtype) == "float32"
    assert keras.backend.standardize_dtype(as_float_tensor([[1, 2, 3, 4]], "x", last_axis=4).dtype) == "float32"
    t64 = keras.ops.zeros((2, 4), "float64")
    assert keras.backend.standardize_dtype(as_float_tensor(t64, "x", last_axis=4).dtype) == "float64"
    ints = keras.ops.zeros((2, 4), "int32")
    assert keras.backend.standardize_dtype(as_float_tensor(ints, "x").dtype) == "float32"


@pytest.mark.parametrize("value, match", [
    (np.zeros((2, 3)), r"boxes has shape \(2, 3\): expected \(\.\.\., 4\)"),
    (np.float32(1), r"boxes has shape \(\): expected \(\.\.\., 4\)"),
    ([["a", "b", "c", "d"]], "boxes=.*: expected numbers"),
    ("abcd", "boxes='abcd' has dtype string: expected an array or a tensor of numbers"),
])
def test_as_float_tensor_names_bad_input(value, match):
    with pytest.raises(ValueError, match=match):
        as_float_tensor(value, "boxes", last_axis=4)


def test_as_image_array_refuses_nan_and_inf_in_either_mode():
    with pytest.raises(ValueError, match=r"image has 1 NaN or infinite value\(s\): expected floats in \[0, 1\]"):
        as_image_array(np.array([[0.0, np.nan]]), "image", (2,))
    with pytest.raises(ValueError, match=r"image has 1 NaN or infinite value\(s\): expected finite pixel values"):
        as_image_array(np.array([[0.0, np.inf]]), "image", (2,), in_unit_range=False)


def test_finite_in_whole_numbers_and_class_labels():
    from utils.course.checks import class_labels, finite_in, whole_numbers

    assert finite_in(np.zeros(0), "x", 0, 1, expected="e").size == 0
    with pytest.raises(ValueError, match=r"x has values in \[-1, 2\]: expected e"):
        finite_in(np.array([-1.0, 2.0]), "x", 0, 1, expected="e")
    assert whole_numbers(np.array([2.0, 3.0]), "n", 0, expected="counts").dtype == np.int64
    with pytest.raises(ValueError, match="n has fractional values such as 0.5: expected counts"):
        whole_numbers(np.array([0.5]), "n", expected="counts")
    assert class_labels(np.array([1, 3]), "lab", 3, first=1).tolist() == [1, 3]
    with pytest.raises(ValueError, match=r"lab has labels in \[0, 3\]: expected labels in \[1, 3\] \(1..C\)"):
        class_labels(np.array([0, 3]), "lab", 3, first=1, note="1..C")


def test_xyxy_boxes():
    from utils.course.checks import xyxy_boxes

    assert xyxy_boxes([], "b").shape == (0, 4) and xyxy_boxes([0, 0, 1, 1], "b").shape == (1, 4)
    for bad, match in (([[0, 0, 1]], r"b has shape \(1, 3\): expected \(N, 4\)"),
                       ([[0, 0, 2, 2], [5, 0, 1, 1]], r"b has 1 box\(es\) with x2 < x1 or y2 < y1, the first "
                                                      r"\[5.0, 0.0, 1.0, 1.0\]: expected finite"),
                       ([[0, np.nan, 1, 1]], r"b has 1 box\(es\) with NaN or inf"),
                       ([["a", 0, 1, 1]], "b=.*: expected an \\(N, 4\\) array")):
        with pytest.raises(ValueError, match=match):
            xyxy_boxes(bad, "b")


def test_not_empty_rng_from_and_seed():
    from utils.course.checks import not_empty, optional_seed, rng_from

    not_empty([1], "x", note="n")
    with pytest.raises(ValueError, match="images is empty: nothing to show"):
        not_empty(np.zeros((2, 0)), "images", note="nothing to show")
    assert rng_from(3, "rng").integers(100) == np.random.default_rng(3).integers(100)
    generator = np.random.default_rng(0)
    assert rng_from(generator, "rng") is generator and optional_seed(None, "seed") is None
    for bad in (-1, 2.5, "a", True):
        with pytest.raises(ValueError, match=f"seed={bad!r}: expected a non-negative integer"):
            rng_from(bad, "seed")


def test_divisible_sides():
    from utils.course.checks import divisible_sides

    assert divisible_sides((np.int64(8), None, 3), "s", 4, by="4", why="w") == (8, None, 3)
    with pytest.raises(ValueError, match="s=\\(6, 8, 3\\): the height 6 is not divisible by 4; expected None or a "
                                         "positive multiple of 4 w"):
        divisible_sides((6, 8, 3), "s", 4, by="4", why="w")


def test_concrete_array_is_none_inside_a_traced_function():
    import tensorflow as tf

    from utils.course.checks import concrete_array

    assert concrete_array([1, 2]).tolist() == [1, 2]
    assert concrete_array(tf.constant([1.0])).tolist() == [1.0]
    seen = []
    tf.function(lambda x: seen.append(concrete_array(x)) or x)(tf.zeros(2))
    assert seen == [None]


def test_finite_where_known_refuses_nan_in_numpy_and_eager_values_but_not_in_traced_ones():
    import tensorflow as tf

    from utils.course.checks import finite_where_known

    finite_where_known([1.0, 2.0], "scores", expected="finite scores")
    for bad in (np.array([1.0, np.nan]), tf.constant([np.inf])):
        with pytest.raises(ValueError, match="scores has 1 NaN or infinite value\\(s\\): expected finite scores"):
            finite_where_known(bad, "scores", expected="finite scores")
    tf.function(lambda x: finite_where_known(x, "scores", expected="finite") or x)(tf.constant([np.nan]))


@pytest.mark.parametrize("value", [-2, 1.5, True, "0", None])
def test_int_at_least_refuses(value):
    from utils.course.checks import int_at_least

    with pytest.raises(ValueError, match=f"label={value!r}: expected an integer >= -1 \\(n\\)"):
        int_at_least(value, "label", -1, note="n")
    assert int_at_least(np.int64(-1), "label", -1) == -1
