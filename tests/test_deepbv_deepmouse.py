"""utils.segmentation.deepbv and deepmouse: the localizer's data and sliding window, Deep MOUSE's regions, crops and
end-to-end model, checked against NumPy and against the rules they state; bad input."""

import keras
import numpy as np
import pytest

from utils.data.volumes import downsample, ultrasound_volumes
from utils.segmentation import deepbv, deepmouse
from utils.segmentation.vnet import vnet
from utils.segmentation.windows import jittered_window_around, sliding_windows, window_around, window_fractions


@pytest.fixture(scope="module")
def volumes():
    return ultrasound_volumes(3, 64, seed=5)


def test_localizer_has_ten_convolutions_and_scores_windows():
    model = deepbv.localizer(16, base_filters=2)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv3D)]
    assert len(convs) == 10 and model.output_shape == (None, 1)
    with pytest.raises(ValueError, match="window=12: expected a multiple of 8"):
        deepbv.localizer(12)


def test_segmenter_adds_convolutions_at_full_resolution_and_at_the_bottom():
    plain = vnet((16, 16, 16, 1), 1, 2, 2, final_activation="sigmoid", batch_norm=True)
    deep = deepbv.segmenter(16, base_filters=2, levels=2)
    count = lambda m, stage: sum(1 for la in m.layers if la.name.startswith(f"{stage}_conv"))  # noqa: E731
    assert [count(deep, s) - count(plain, s) for s in ("enc0", "enc1", "bottom", "dec1", "dec0")] == [2, 0, 2, 0, 2]
    with pytest.raises(ValueError, match="extra_bottom=-1"):
        vnet(extra_bottom=-1)


def test_balanced_windows_follow_the_lecture_rule(volumes):
    x, y = deepbv.balanced_windows(volumes, 0, per_volume=8)
    assert x.shape == (24, 32, 32, 32, 1) and y.mean() == 0.5
    # each window's label agrees with the fraction of the ventricles it holds, recomputed by brute force
    for volume in volumes[:1]:
        windows = sliding_windows(volume.shape, 32, deepbv.TRAIN_STRIDE)
        images = {volume.image[w].tobytes(): w for w in windows}
        for image, label in zip(x[:8, ..., 0], y[:8]):
            w = images[image.tobytes()]
            fraction = volume.ventricles[w].sum() / volume.ventricles.sum()
            assert (fraction > 0.99) if label == 1 else (fraction < 0.8)


def test_score_map_and_the_sliding_window_pick_the_best_window(volumes):
    class Oracle:  # a perfect localizer: scores a window by the fraction of the ventricles inside it
        def __init__(self, lookup):
            self.lookup = lookup

        def predict_on_batch(self, batch):
            return np.array([[self.lookup[b[..., 0].tobytes()]] for b in batch])

    volume = volumes[0]
    windows = sliding_windows(volume.shape, 32, 8)
    fractions = window_fractions(volume.ventricles, windows)
    oracle = Oracle({volume.image[w].tobytes(): f for w, f in zip(windows, fractions)})
    got, scores = deepbv.score_windows(oracle, volume.image, 32, 8, batch_size=7)
    assert got == windows and np.allclose(scores, fractions)
    grid = deepbv.score_map(got, scores, volume.shape)
    assert grid.shape == (5, 5, 5) and grid.max() == fractions.max()
    segmenter = keras.Sequential([keras.Input((32, 32, 32, 1)), keras.layers.Lambda(lambda t: t * 0 + 1)])
    result = deepbv.deep_bv(oracle, segmenter, volume.image, 32, 8)
    assert result["window"] == windows[int(np.argmax(fractions))]
    assert result["mask"].sum() == 32**3 and result["mask"][result["window"]].all()
    with pytest.raises(ValueError, match="expected the full grid"):
        deepbv.score_map(got[:-1], scores[:-1], volume.shape)


def test_segmenter_crops_hold_the_ventricles(volumes):
    x, y = deepbv.segmenter_crops(volumes, 1, jitter=0)
    for volume, image, mask in zip(volumes, x, y):
        w = window_around(volume.ventricles, 32)
        assert np.array_equal(image[..., 0], volume.image[w]) and mask.sum() == volume.ventricles.sum()


def test_jittered_windows_move_by_at_most_the_jitter_and_stay_inside(volumes):
    mask = volumes[0].ventricles
    centred = window_around(mask, 32)
    rng = np.random.default_rng(0)
    shifts = set()
    for _ in range(50):
        w = jittered_window_around(mask, 32, rng, 3)
        for a, b in zip(w, centred):
            assert 0 <= a.start and a.stop <= 64 and a.stop - a.start == 32 and abs(a.start - b.start) <= 3
            shifts.add(a.start - b.start)
    assert len(shifts) > 3
    with pytest.raises(ValueError, match="jitter=-1"):
        jittered_window_around(mask, 32, rng, -1)


def test_upsample_repeats_voxels_as_keras_does():
    p = np.random.default_rng(0).random((4, 4, 4, 2)).astype(np.float32)
    ours = deepmouse.upsample(p, 2)
    theirs = np.asarray(keras.layers.UpSampling3D(2)(p[None]))[0]
    assert ours.shape == (8, 8, 8, 2) and np.array_equal(ours, theirs)
    with pytest.raises(ValueError, match="expected \\(depth, height, width, channels\\)"):
        deepmouse.upsample(p[..., 0], 2)


def test_region_falls_back_to_the_centre_for_an_empty_mask():
    empty = np.zeros((64, 64, 64), bool)
    assert deepmouse.region(empty, 32) == (slice(16, 48),) * 3
    with pytest.raises(ValueError, match="size=80 is larger"):
        deepmouse.region(empty, 80)


def test_crop_at_cuts_each_volume_at_its_own_corner():
    rng = np.random.default_rng(1)
    volumes = rng.random((3, 12, 12, 12, 2)).astype(np.float32)
    corners = np.array([[0, 0, 0], [4, 2, 7], [8, 8, 8]], np.int32)
    got = np.asarray(deepmouse.CropAt(4)([volumes, corners]))
    for v, c, g in zip(volumes, corners, got):
        assert np.array_equal(g, v[c[0]:c[0] + 4, c[1]:c[1] + 4, c[2]:c[2] + 4])


def test_end_to_end_batch_and_model_agree_with_the_pipeline(volumes):
    x, y = deepmouse.end_to_end_batch(volumes[:2], 0, jitter=0)
    assert [a.shape for a in x] == [(2, 64, 64, 64, 1), (2, 3), (2, 3)]
    assert [a.shape for a in y] == [(2, 32, 32, 32, 2), (2, 32, 32, 32, 1), (2, 56, 56, 56, 1)]
    assert np.array_equal(y[0][0, ..., 0], downsample(volumes[0], 2).ventricles)
    assert y[1][0].sum() == volumes[0].ventricles.sum()  # the whole ventricle system is in its region
    keras.utils.set_random_seed(0)
    model = deepmouse.end_to_end(base_filters=2)
    coarse, refiners = deepmouse.parts(model)
    first, bv, body = model.predict(x, verbose=0)
    # the model's coarse output is the coarse network on the block-mean volume; its refined ventricle region is
    # the refiner on the image and the upsampled coarse output cut at the given corner
    volume = volumes[0]
    c = deepmouse.coarse_probabilities(coarse, volume.image)
    assert np.allclose(deepmouse.upsample(first[0]), c, atol=1e-5)
    w = tuple(slice(s, s + 32) for s in x[1][0])
    alone = refiners["ventricles"].predict_on_batch(deepmouse.refine_input(volume.image, c[..., 0], w))
    assert np.allclose(bv[0], np.asarray(alone)[0], atol=1e-5)
    assert body.shape == (2, 56, 56, 56, 1)


def test_coarse_to_fine_keeps_the_coarse_estimate_outside_the_regions(volumes):
    keras.utils.set_random_seed(0)
    coarse = deepmouse.coarse_net(base_filters=2)
    ones = keras.Sequential([keras.Input((None, None, None, 1)), keras.layers.Lambda(lambda t: t[..., :1] * 0 + 1)])
    out = deepmouse.coarse_to_fine(volumes[0].image, coarse, {"ventricles": ones, "body": ones})
    for structure in deepmouse.STRUCTURES:
        window = out["windows"][structure]
        inside = np.zeros((64, 64, 64), bool)
        inside[window] = True
        c = deepmouse.STRUCTURES.index(structure)
        assert out["probabilities"][structure][inside].min() == 1
        assert np.array_equal(out["probabilities"][structure][~inside], out["coarse"][..., c][~inside])
    plain = deepmouse.coarse_to_fine(volumes[0].image, coarse)
    assert np.array_equal(plain["probabilities"]["body"], plain["coarse"][..., 1])
    with pytest.raises(ValueError, match="autocontext='yes'"):
        deepmouse.coarse_to_fine(volumes[0].image, coarse, autocontext="yes")
    with pytest.raises(ValueError, match="image"):
        deepmouse.coarse_to_fine(volumes[0].image[0], coarse)


def test_refine_crops_refuse_an_unknown_structure(volumes):
    with pytest.raises(ValueError, match="structure='brain'"):
        deepmouse.refine_crops(volumes, "brain", 0)
    x, y = deepmouse.refine_crops(volumes, "body", 0, coarse=[np.zeros((64, 64, 64, 2), np.float32)] * 3)
    assert x.shape == (3, 56, 56, 56, 2) and y.shape == (3, 56, 56, 56, 1) and not x[..., 1].any()
