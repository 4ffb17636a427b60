"""Tracks on frames (utils.viz.tracks): boxes, trails, the animation, and bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils.viz.tracks import animate_tracks, draw_tracks  # noqa: E402


def tracks(n_frames: int) -> dict:
    return {"boxes": [np.array([[2 + f, 2, 8 + f, 6]], np.float32) for f in range(n_frames)],
            "ids": [np.array([3]) for _ in range(n_frames)]}


def test_draw_tracks_draws_a_box_and_the_trail():
    fig, ax = plt.subplots()
    draw_tracks(ax, np.zeros((16, 16, 3)), tracks(4), 3, trail=2)
    assert len(ax.patches) == 1 and len(ax.lines) == 1
    centres = [5 + f for f in range(1, 4)]                                   # frames 1..3, drawn half a pixel left
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.array(centres) - 0.5)
    plt.close(fig)


def test_animate_tracks_has_a_frame_per_video_frame():
    anim = animate_tracks(np.zeros((3, 16, 16, 3)), [tracks(3), tracks(3)], ["a", "b"])
    html = anim.to_jshtml()
    assert html.count("data:image/png;base64") == 3


@pytest.mark.parametrize("args, message", [
    ((np.zeros((0, 16, 16, 3)), [tracks(0)], ["a"]), "nothing to show"),
    ((np.zeros((16, 16, 3)), [tracks(1)], ["a"]), "frames has shape"),
    ((np.zeros((3, 16, 16, 3)), [tracks(2)], ["a"]), "one entry per frame"),
    ((np.zeros((3, 16, 16, 3)), [tracks(3)], ["a", "b"]), "one title per tracker"),
])
def test_animate_tracks_bad_inputs(args, message):
    with pytest.raises(ValueError, match=message):
        animate_tracks(*args)


def test_animation_frames_may_be_numbered_from_a_later_frame():
    anim = animate_tracks(np.zeros((2, 16, 16, 3)), [tracks(2)], ["a"], first_frame=10, dpi=30)
    assert anim.to_jshtml().count("data:image/png;base64") == 2
    with pytest.raises(ValueError, match="first_frame=-1"):
        animate_tracks(np.zeros((2, 16, 16, 3)), [tracks(2)], ["a"], first_frame=-1)


def test_animation_html_embeds_jpeg_frames():
    from utils.viz.tracks import animation_html

    anim = animate_tracks(np.random.default_rng(0).uniform(size=(3, 32, 32, 3)), [tracks(3)], ["a"])
    html = animation_html(anim, fps=5)
    assert html.count("data:image/jpeg;base64") == 3
    # it opens offline: no stylesheet from a CDN, and every button still has a visible label
    assert "http" not in html.split("data:image")[0] and "fa fa-" not in html
    assert all(icon in html for icon in ("⏮", "▶", "⏸", "⏭"))
    with pytest.raises(ValueError, match="frame_format='gif'"):
        animation_html(anim, fps=5, frame_format="gif")
