"""utils.viz.volumes: orthogonal slices with overlays, marching-cubes surfaces, bad input."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils.viz.volumes import centre_of, draw_surface, orthogonal_slices, surface  # noqa: E402


def ball(n=20, r=6.0):
    z, y, x = np.mgrid[:n, :n, :n]
    return (z - 8) ** 2 + (y - 10) ** 2 + (x - 11) ** 2 <= r**2


def test_slices_cut_through_the_labels_centre_and_tint_only_labelled_voxels():
    volume = np.random.default_rng(0).random((20, 20, 20)).astype(np.float32)
    mask = ball()
    assert centre_of(mask) == (8, 10, 11) and centre_of(np.zeros((4, 6, 8), bool)) == (2, 3, 4)
    axial, coronal, sagittal = orthogonal_slices(volume, mask)
    assert axial.shape == coronal.shape == sagittal.shape == (20, 20, 3)
    grey = np.repeat(volume[8][..., None], 3, -1)
    assert np.array_equal(axial[~mask[8]], grey[~mask[8]]) and not np.array_equal(axial[mask[8]], grey[mask[8]])
    assert np.array_equal(orthogonal_slices(volume, point=(1, 2, 3))[2][..., 0], volume[:, :, 3])


def test_surface_of_a_ball_has_the_balls_area():
    from skimage.measure import mesh_surface_area

    verts, faces = surface(ball(r=6.0))
    # within 15 %: marching cubes on a voxelized ball follows its staircase (about 10 % here)
    assert abs(mesh_surface_area(verts, faces) / (4 * np.pi * 6.0**2) - 1) < 0.15
    assert verts.min() >= -0.5 and verts.max() <= 19.5  # padded for a closed surface, shifted back
    ax = plt.figure().add_subplot(projection="3d")
    assert draw_surface(ax, ball(), "tab:red") == len(faces) and ax.get_xlim() == (0, 20)
    draw_surface(ax, ball(), "tab:red", around=ball(r=2.0), margin=1)
    assert ax.get_xlim() == (5, 12) and ax.get_zlim() == (8, 15)  # the small ball's box (6..10, 9..13) plus 1
    with pytest.raises(ValueError, match="around is empty"):
        draw_surface(ax, ball(), "tab:red", around=np.zeros((20, 20, 20), bool))
    plt.close("all")


def test_bad_input_is_refused_by_name():
    volume = np.zeros((8, 8, 8), np.float32)
    with pytest.raises(ValueError, match="labels have shape"):
        orthogonal_slices(volume, np.zeros((8, 8), int))
    with pytest.raises(ValueError, match="point=\\(9, 0, 0\\)"):
        orthogonal_slices(volume, point=(9, 0, 0))
    with pytest.raises(ValueError, match="mask is empty"):
        surface(np.zeros((4, 4, 4), bool))
    with pytest.raises(ValueError, match="expected a boolean volume"):
        surface(np.ones((4, 4), bool))
