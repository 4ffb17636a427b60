import numpy as np
import pytest

from utils.checks import as_image_array, positive_int


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
