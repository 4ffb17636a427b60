import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from utils.viz.curves import plot_history
from utils.viz.images import show_images


def test_show_images_grid_titles_and_labels():
    gray, rgb = np.zeros((8, 8)), np.ones((8, 8, 3))
    fig = show_images([[gray, rgb, gray], [rgb]], [["noisy", "output", "clean"], ["x"]], row_labels=["a", "b"])
    axes = fig.axes
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes[:3]] == ["noisy", "output", "clean"]
    assert axes[0].get_ylabel() == "a" and not axes[4].axison
    plt.close(fig)


def test_plot_history_draws_train_and_validation():
    ax = plot_history({"m": {"loss": [1.0, 0.5], "val_loss": [1.2, 0.7]}})
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["m (train)", "m (validation)"] and ax.get_yscale() == "log"
    ax2 = plot_history({"loss": [3, 2, 1]}, log=False)  # a bare history dict
    assert len(ax2.get_lines()[0].get_xdata()) == 3
    plt.close("all")


def test_plot_history_names_a_missing_metric():
    with pytest.raises(KeyError, match="metric='psnr'"):
        plot_history({"m": {"loss": [1.0]}}, metric="psnr")
