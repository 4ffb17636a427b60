"""utils.segmentation.volume_metrics: HD95 on hand cases, against skimage's Hausdorff distance, and bad input."""

import numpy as np
import pytest
from skimage.metrics import hausdorff_distance

from utils.segmentation.volume_metrics import hausdorff95, surface, surface_distances


def ball(shape, centre, radius):
    grid = np.indices(shape).astype(float)
    return sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2


def test_identical_masks_are_zero_apart():
    a = ball((24, 24, 24), (12, 12, 12), 6)
    assert hausdorff95(a, a) == 0.0 and hausdorff95(a, a, percentile=100) == 0.0


@pytest.mark.parametrize("k", [1, 2, 4])
def test_two_balls_offset_by_k_voxels_are_about_k_apart(k):
    a = ball((32, 32, 32), (16, 16, 14), 7)
    b = ball((32, 32, 32), (16, 16, 14 + k), 7)
    assert hausdorff95(a, b, percentile=100) == pytest.approx(k)
    assert k - 1 <= hausdorff95(a, b) <= k


def test_concentric_balls_are_their_radii_apart_in_the_spacing_units():
    a, b = ball((30, 30, 30), (15, 15, 15), 5), ball((30, 30, 30), (15, 15, 15), 9)
    assert hausdorff95(a, b) == pytest.approx(4, abs=0.8)
    # A voxel of 0.5 mm along every axis halves every distance.
    assert hausdorff95(a, b, (0.5, 0.5, 0.5)) == pytest.approx(hausdorff95(a, b) / 2)
    # Anisotropic spacing: a slab offset along axis 0 only, by 3 voxels of 2 mm.
    s, t = np.zeros((20, 8, 8), bool), np.zeros((20, 8, 8), bool)
    s[5:10], t[8:13] = True, True
    assert hausdorff95(s, t, (2.0, 1.0, 1.0), percentile=100) == pytest.approx(6.0)


def test_the_maximum_matches_skimage_on_random_masks():
    rng = np.random.default_rng(0)
    for shape in ((12, 13, 14), (40, 30)):
        for _ in range(4):
            a, b = rng.random(shape) < 0.1, rng.random(shape) < 0.05
            expected = hausdorff_distance(surface(a), surface(b))
            assert hausdorff95(a, b, percentile=100) == pytest.approx(expected)


def test_surfaces_and_directed_distances():
    cube = np.zeros((7, 7, 7), bool)
    cube[1:6, 1:6, 1:6] = True
    assert surface(cube).sum() == 5**3 - 3**3
    full = np.ones((3, 3, 3), bool)
    assert surface(full).sum() == 26, "the array's border counts as outside: only the centre is inner"
    small = np.zeros_like(cube)
    small[3, 3, 3] = True
    np.testing.assert_allclose(surface_distances(small, cube), [2.0])
    assert surface_distances(cube, small).max() == pytest.approx(np.sqrt(3 * 2**2))


def test_empty_masks_are_refused_or_scored_as_inf():
    a, empty = ball((10, 10, 10), (5, 5, 5), 3), np.zeros((10, 10, 10), bool)
    with pytest.raises(ValueError, match="mask_b is empty"):
        hausdorff95(a, empty)
    with pytest.raises(ValueError, match="mask_a is empty"):
        hausdorff95(empty, a)
    assert hausdorff95(a, empty, if_empty="inf") == float("inf")
    assert hausdorff95(empty, empty, if_empty="inf") == 0.0
    with pytest.raises(ValueError, match="mask_b is empty"):
        surface_distances(a, empty)


@pytest.mark.parametrize("kwargs, match", [
    (dict(mask_b=np.zeros((10, 10, 9), bool)), r"mask_b has shape \(10, 10, 9\) but mask_a has"),
    (dict(mask_a=np.zeros(10, bool), mask_b=np.zeros(10, bool)), r"mask_a has shape \(10,\) \(rank 1\)"),
    (dict(mask_a=np.full((10, 10, 10), 0.7)), "mask_a holds the value 0.7"),
    (dict(spacing=(1, 1)), r"spacing=\(1, 1\)"),
    (dict(spacing=(1, 0, 1)), r"spacing\[1\]=0"),
    (dict(percentile=0), "percentile=0"),
    (dict(percentile=101), "percentile=101"),
    (dict(if_empty="nan"), "if_empty='nan'"),
])
def test_bad_arguments_are_refused_by_name(kwargs, match):
    a = ball((10, 10, 10), (5, 5, 5), 3)
    args = dict(mask_a=a, mask_b=a) | kwargs
    with pytest.raises(ValueError, match=match):
        hausdorff95(**args)


def test_score_pipelines_scores_and_times_each_pipeline_on_the_same_volumes():
    from utils.data.volumes import ultrasound_volumes
    from utils.segmentation.volume_metrics import score_pipelines

    volumes = ultrasound_volumes(2, 16, seed=0)
    calls = []
    truth = {v.image.tobytes(): v for v in volumes}

    def perfect(image):
        calls.append("perfect")
        v = truth[image.tobytes()]
        return {"ventricles": v.ventricles, "body": v.body}

    def half(image):
        v = truth[image.tobytes()]
        return {"ventricles": v.ventricles, "body": np.zeros_like(v.body)}

    table = score_pipelines({"perfect": perfect, "half": half}, volumes, warm_up={"perfect": lambda image: None})
    assert table["perfect"] == {"dice_ventricles": 1.0, "dice_body": 1.0, "time_s": table["perfect"]["time_s"]}
    assert table["half"]["dice_ventricles"] == 1.0 and table["half"]["dice_body"] == 0.0
    assert calls == ["perfect", "perfect"] and table["half"]["time_s"] > 0  # the warm-up replaced the first call
    with pytest.raises(ValueError, match="warm_up names \\['other'\\]"):
        score_pipelines({"half": half}, volumes, warm_up={"other": half})
    with pytest.raises(KeyError, match="expected a mask for 'body'"):
        score_pipelines({"bad": lambda image: {"ventricles": truth[image.tobytes()].ventricles}}, volumes)
    with pytest.raises(ValueError, match="expected a non-empty list"):
        score_pipelines({"half": half}, [])
    each = score_pipelines({"half": half}, volumes, per_volume=True)["half"]
    assert each["dice_ventricles"] == [1.0, 1.0] and each["dice_body"] == [0.0, 0.0] and len(each["time_s"]) == 2
    with pytest.raises(ValueError, match="per_volume='yes'"):
        score_pipelines({"half": half}, volumes, per_volume="yes")
