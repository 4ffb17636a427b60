"""Tracks on video frames: boxes coloured and numbered by identity, with the trail of each box's centre.

Tracks are per-frame dicts {"boxes": [(N_f, 4) xyxy], "ids": [(N_f,)]}, as `utils.tracking.linking`
and `utils.data.mot.read_mot_txt` give them; an identity keeps its colour (the course palette,
repeating every nine identities) in every frame and every panel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.course.checks import int_at_least, one_of, positive_float
from utils.viz.boxes import draw_boxes
from utils.viz.images import NOTHING, display_image
from utils.viz.palette import class_color


def _check_tracks(tracks: Sequence[dict], n_frames: int) -> None:
    for k, t in enumerate(tracks):
        if not isinstance(t, dict) or len(t.get("boxes", ())) != n_frames or len(t.get("ids", ())) != n_frames:
            raise ValueError(f"tracks[{k}]: expected {{'boxes', 'ids'}} with one entry per frame ({n_frames} frames)")


def draw_tracks(ax, frame: np.ndarray, tracks: dict, f: int, trail: int = 8) -> None:
    """Frame f with the boxes of its tracks (id as text) and each id's centre over the previous `trail` frames."""
    ax.imshow(display_image(frame, "frame"), interpolation="nearest")
    boxes, ids = np.asarray(tracks["boxes"][f], np.float32).reshape(-1, 4), np.asarray(tracks["ids"][f])
    draw_boxes(ax, boxes, ids.astype(int), fontsize=6)
    for i in ids:
        path = []
        for g in range(max(0, f - trail), f + 1):
            hit = np.flatnonzero(np.asarray(tracks["ids"][g]) == i)
            if len(hit):
                b = np.asarray(tracks["boxes"][g], np.float32).reshape(-1, 4)[hit[0]]
                path.append(((b[0] + b[2]) / 2 - 0.5, (b[1] + b[3]) / 2 - 0.5))
        if len(path) > 1:
            ax.plot(*np.array(path).T, color=class_color(int(i)), lw=1.2, alpha=0.9)
    ax.set_xticks([])
    ax.set_yticks([])


def animate_tracks(frames: np.ndarray, tracks: Sequence[dict], titles: Sequence[str], trail: int = 8,
                   interval: int = 150, size: float = 3.2, dpi: int = 72, first_frame: int = 0):
    """A matplotlib animation of the video with each tracker's tracks side by side (embed with `to_jshtml`).

    dpi sets the embedded frames' resolution (and so the notebook's size); first_frame numbers the titles.
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    frames = np.asarray(frames)
    if frames.ndim != 4 or not len(frames):
        raise ValueError(f"frames has shape {frames.shape}: expected a video (F, H, W, 3); {NOTHING}")
    if not len(tracks) or len(titles) != len(tracks):
        raise ValueError(f"tracks ({len(tracks)}) and titles ({len(titles)}): expected one title per tracker, "
                         "at least one")
    _check_tracks(tracks, len(frames))
    trail, interval = int_at_least(trail, "trail", 0), int_at_least(interval, "interval", 1)
    size, dpi = positive_float(size, "size"), int_at_least(dpi, "dpi", 10)
    first_frame = int_at_least(first_frame, "first_frame", 0)
    fig, axes = plt.subplots(1, len(tracks), figsize=(size * len(tracks), size), squeeze=False, dpi=dpi)

    def show(f: int):
        for ax, t, title in zip(axes[0], tracks, titles):
            ax.clear()
            draw_tracks(ax, frames[f], t, f, trail)
            ax.set_title(f"{title}, frame {first_frame + f}", fontsize=9)
        return list(axes[0])

    fig.tight_layout()
    anim = FuncAnimation(fig, show, frames=len(frames), interval=interval)
    plt.close(fig)
    return anim


# matplotlib's player draws its buttons with Font Awesome from a CDN; these characters need no network
PLAYER_ICONS = {"fast-backward": "⏮", "step-backward": "◀|", "play fa-flip-horizontal": "◀", "pause": "⏸",
                "play": "▶", "step-forward": "|▶", "fast-forward": "⏭", "minus": "−", "plus": "+"}


def without_font_awesome(page: str) -> str:
    """`page` (matplotlib's animation player) without its Font Awesome stylesheet from a CDN, each icon replaced
    by a character, so that it works offline (also applied to players saved before this existed)."""
    import re

    page = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">', "", page)
    return re.sub(r'<i class="fa fa-([^"]+)"></i>', lambda m: PLAYER_ICONS.get(m.group(1), m.group(1)), page)


def animation_html(anim, fps: float, frame_format: str = "jpeg") -> str:
    """A self-contained HTML player of a matplotlib animation, its frames embedded as JPEG (a few times smaller
    than `to_jshtml`'s PNG for video frames, which PNG compresses badly) or PNG; it loads nothing from the
    network (matplotlib's Font Awesome icons are replaced by characters)."""
    import tempfile
    from pathlib import Path

    from matplotlib.animation import HTMLWriter

    writer = HTMLWriter(fps=positive_float(fps, "fps"), embed_frames=True, default_mode="loop")
    writer.frame_format = one_of(frame_format, "frame_format", ("jpeg", "png"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "animation.html"
        anim.save(str(path), writer=writer)
        return without_font_awesome(path.read_text())

