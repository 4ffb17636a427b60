"""MOTChallenge format in and out: track files (gt.txt, det.txt, results) and whole sequence folders.

A track file has one comma-separated line per object and frame (https://motchallenge.net, MOT16/17):
``frame, id, bb_left, bb_top, bb_width, bb_height, conf, class, visibility`` with frames from 1 and
boxes in pixels. What the columns after the box mean depends on their number, and `read_mot_txt`
reads all the kinds:

- 6 columns: frame, id, box;                    7: + conf;            8: + conf, class;
- 9 columns (ground truth, gt.txt):             + conf, class, visibility;
- 10 columns (detections det.txt, results):     + conf, x, y, z (world coordinates, ignored).

Absent classes read as -1, absent visibilities as -1, absent confidences as 1. `write_mot_txt`
always writes the 9 columns of gt.txt. A sequence folder is ``seqinfo.ini`` ([Sequence] with name,
imDir, frameRate, seqLength, imWidth, imHeight, imExt), the frames ``img1/000001.png, ...`` and
``gt/gt.txt``. Every error about a file names it, and the line.

Boxes here are the course's (x1, y1, x2, y2) in 0-based pixels with x2, y2 exclusive, so
bb_width = x2 - x1 and bb_height = y2 - y1; MOTChallenge counts pixels from 1 (its devkit is MATLAB),
so bb_left = x1 + 1 and bb_top = y1 + 1, the convention motmetrics reads (it subtracts the 1 again).
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from utils.course.checks import finite_in, positive_int, whole_numbers, xyxy_boxes
from utils.course.paths import write_atomically
from utils.data.pixels import to_uint8
from utils.data.scenes import read_image
from utils.data.video import Video

COLUMNS: tuple[str, ...] = ("frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf", "class",
                            "visibility")
SEQINFO = "seqinfo.ini"
SEQINFO_KEYS: tuple[str, ...] = ("seqLength", "imWidth", "imHeight", "imDir", "imExt")
GT = Path("gt") / "gt.txt"


def _number(value: object) -> str:
    """The shortest text that reads back as the same float32 (12.5, not 12.500000)."""
    return np.format_float_positional(np.float32(value), trim="-")


def _per_frame(values: object, name: str, n_frames: int) -> Sequence:
    if not isinstance(values, (list, tuple)) or len(values) != n_frames:
        got = f"{len(values)} entries" if isinstance(values, (list, tuple)) else f"a {type(values).__name__}"
        raise ValueError(f"{name} has {got}: expected a list with one array per frame ({n_frames} frames, as boxes)")
    return values


def write_mot_txt(path: str | Path, boxes: list[np.ndarray], ids: list[np.ndarray], *, labels=None, scores=None,
                  visibility=None) -> None:
    """Write per-frame boxes (x1, y1, x2, y2) and track ids as a 9-column MOT file (1-based), atomically.

    conf is the score where scores are given, else 1; class and visibility are -1 where not given
    (a results file). Boxes must have a positive width and height; ids are integers >= 1.
    """
    if not isinstance(boxes, (list, tuple)):
        raise ValueError(f"boxes is a {type(boxes).__name__}: expected a list with one (N, 4) array per frame")
    n = len(boxes)
    columns = {"ids": _per_frame(ids, "ids", n)}
    for name, values in (("labels", labels), ("scores", scores), ("visibility", visibility)):
        if values is not None:
            columns[name] = _per_frame(values, name, n)
    lines = []
    for f in range(n):
        b = xyxy_boxes(boxes[f], f"boxes[{f}]")
        empty = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
        if empty.any():
            raise ValueError(f"boxes[{f}] has {int(empty.sum())} box(es) of zero width or height, the first "
                             f"{b[empty][0].tolist()}: expected x2 > x1 and y2 > y1 (MOT sizes are positive)")
        row = {"ids": whole_numbers(np.asarray(columns["ids"][f]).reshape(-1), f"ids[{f}]", 1,
                                    expected="integer track identities >= 1")}
        if "labels" in columns:
            row["labels"] = whole_numbers(np.asarray(columns["labels"][f]).reshape(-1), f"labels[{f}]", -1,
                                          expected="integer class labels (-1 for none)")
        for name in ("scores", "visibility"):
            if name in columns:
                row[name] = finite_in(np.asarray(columns[name][f], np.float64).reshape(-1), f"{name}[{f}]",
                                      expected=f"finite {name}")
        for name, values in row.items():
            if len(values) != len(b):
                raise ValueError(f"{name}[{f}] has {len(values)} entries but boxes[{f}] has {len(b)}: expected one "
                                 "per box")
        for i, (x1, y1, x2, y2) in enumerate(b):
            conf = _number(row["scores"][i]) if "scores" in row else "1"
            label = str(int(row["labels"][i])) if "labels" in row else "-1"
            vis = _number(row["visibility"][i]) if "visibility" in row else "-1"
            lines.append(",".join((str(f + 1), str(int(row["ids"][i])), _number(x1 + 1), _number(y1 + 1),
                                   _number(x2 - x1), _number(y2 - y1), conf, label, vis)))
    write_atomically(Path(path), "".join(line + "\n" for line in lines))


def _parse_line(text: str, where: str) -> list[float]:
    """The numbers of one comma-separated line, checking their count (6 to 10) and that each is a finite number."""
    fields = [field.strip() for field in text.split(",")]
    if not 6 <= len(fields) <= 10:
        raise ValueError(f"{where}: {len(fields)} comma-separated columns: expected 6 to 10 "
                         f"({', '.join(COLUMNS)}; or det/results files' conf, x, y, z)")
    values = []
    for k, field in enumerate(fields):
        name = COLUMNS[k] if k < 7 or len(fields) < 10 else ("x", "y", "z")[k - 7]
        try:
            value = float(field)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(f"{where}: column {k + 1} ({name}) is {field!r}: expected a finite number")
        values.append(value)
    return values


def read_mot_txt(path: str | Path, n_frames: int | None = None) -> dict[str, list[np.ndarray]]:
    """Read a MOT track file into per-frame arrays for frames 1..n_frames (default: the last frame in the file).

    Returns {"boxes": (N, 4) float32 (x1, y1, x2, y2), "ids": (N,) int64, "labels": (N,) int32,
    "scores": (N,) float32, "visibility": (N,) float32}, each a list over frames, objects in file order.
    """
    path = Path(path)
    if n_frames is not None:
        n_frames = positive_int(n_frames, "n_frames")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file: expected a MOT track file (comma-separated numbers)") from None
    rows, seen = [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        values = _parse_line(line, where)
        frame, track, left, top, width, height = values[:6]
        if frame != int(frame) or frame < 1 or (n_frames is not None and frame > n_frames):
            expected = f"1..{n_frames}" if n_frames is not None else ">= 1"
            raise ValueError(f"{where}: frame {frame:g} is unknown: expected a whole number in {expected}")
        if track != int(track) or (track < 1 and track != -1):
            raise ValueError(f"{where}: id {track:g}: expected a whole number >= 1 (or -1 for a detection)")
        if width <= 0 or height <= 0:
            raise ValueError(f"{where}: bb_width {width:g} and bb_height {height:g}: expected both positive")
        key = (int(frame), int(track))
        if track != -1 and key in seen:
            raise ValueError(f"{where}: frame {key[0]} already has id {key[1]} (line {seen[key]}): expected each "
                             "track at most once per frame")
        seen[key] = number
        conf = values[6] if len(values) > 6 else 1.0
        label = values[7] if 8 <= len(values) <= 9 else -1.0
        if label != int(label):
            raise ValueError(f"{where}: class {label:g}: expected a whole number")
        vis = values[8] if len(values) == 9 else -1.0
        if not (0 <= vis <= 1 or vis == -1):
            raise ValueError(f"{where}: visibility {vis:g}: expected a fraction in [0, 1] (or -1 for unknown)")
        x1, y1 = left - 1, top - 1  # MOT counts pixels from 1
        rows.append((int(frame), track, x1, y1, x1 + width, y1 + height, conf, label, vis))
    last = max((r[0] for r in rows), default=0) if n_frames is None else n_frames
    table = np.array(rows, np.float64).reshape(-1, 9)
    frame_of = table[:, 0].astype(np.int64)
    out: dict[str, list[np.ndarray]] = {"boxes": [], "ids": [], "labels": [], "scores": [], "visibility": []}
    for f in range(1, last + 1):
        part = table[frame_of == f]
        out["boxes"].append(part[:, 2:6].astype(np.float32))
        out["ids"].append(part[:, 1].astype(np.int64))
        out["scores"].append(part[:, 6].astype(np.float32))
        out["labels"].append(part[:, 7].astype(np.int32))
        out["visibility"].append(part[:, 8].astype(np.float32))
    return out


def write_mot_sequence(folder: str | Path, video: Video, name: str = "synthetic", *, frame_rate: int = 10,
                       overwrite: bool = False) -> Path:
    """Write video as a MOT sequence folder/name/ (seqinfo.ini, img1/000001.png..., gt/gt.txt); return its path.

    Frames are stored as 8-bit PNG, so they read back to within 1/255. The folder is assembled beside
    its final place and renamed into it; an existing sequence is replaced only with overwrite=True.
    """
    from PIL import Image

    if not isinstance(video, Video):
        raise ValueError(f"video is a {type(video).__name__}: expected a Video (from traffic_video or "
                         "read_mot_sequence)")
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"name={name!r}: expected a folder name (not empty, no slashes)")
    frame_rate = positive_int(frame_rate, "frame_rate")
    target = Path(folder) / name
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists: expected a new sequence folder (or pass overwrite=True)")
    if target.exists() and not (target / SEQINFO).is_file():
        raise FileExistsError(f"{target} exists and is not a MOT sequence (no {SEQINFO}): it is not replaced")
    tmp = target.with_name(f".{name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "img1").mkdir(parents=True)
        pixels = to_uint8(video.frames, name="video.frames")
        for f, image in enumerate(pixels, start=1):
            Image.fromarray(image).save(tmp / "img1" / f"{f:06d}.png")
        height, width = video.frames.shape[1:3]
        info = {"name": name, "imDir": "img1", "frameRate": frame_rate, "seqLength": video.n_frames,
                "imWidth": width, "imHeight": height, "imExt": ".png"}
        (tmp / SEQINFO).write_text("[Sequence]\n" + "".join(f"{k}={v}\n" for k, v in info.items()))
        write_mot_txt(tmp / GT, video.boxes, video.ids, labels=video.labels, visibility=video.visibility)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _read_seqinfo(path: Path) -> dict[str, str]:
    """The [Sequence] keys of a seqinfo.ini, checking that the required ones are there and are sensible."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: expected a MOT sequence folder with {SEQINFO}")
    section, found, line_of = None, {}, {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif "=" in line and section == "Sequence":
            key, value = (part.strip() for part in line.split("=", 1))
            found[key], line_of[key] = value, number
        elif section == "Sequence":
            raise ValueError(f"{path}, line {number}: {line!r}: expected key=value")
    missing = [key for key in SEQINFO_KEYS if key not in found]
    if missing:
        raise ValueError(f"{path}: [Sequence] lacks {', '.join(missing)}: expected the keys {', '.join(SEQINFO_KEYS)}")
    for key in ("seqLength", "imWidth", "imHeight"):
        if not found[key].isdigit() or int(found[key]) < 1:
            raise ValueError(f"{path}, line {line_of[key]}: {key}={found[key]!r}: expected a positive integer")
    if not found["imExt"].startswith("."):
        raise ValueError(f"{path}, line {line_of['imExt']}: imExt={found['imExt']!r}: expected an extension such "
                         "as .png or .jpg")
    return found


def read_mot_sequence(folder: str | Path) -> Video:
    """Read a MOT sequence folder (seqinfo.ini, its images, gt/gt.txt) as a Video.

    Ground-truth lines with conf 0 (MOT's "ignore this object") are left out; a sequence without
    gt/gt.txt (a test sequence) reads with no objects. All frames are held in memory as float32,
    so this is for short or small sequences.
    """
    folder = Path(folder)
    info = _read_seqinfo(folder / SEQINFO)
    n, width, height = int(info["seqLength"]), int(info["imWidth"]), int(info["imHeight"])
    images = folder / info["imDir"]
    files = sorted(images.glob(f"*{info['imExt']}")) if images.is_dir() else []
    if len(files) != n:
        raise ValueError(f"{images} holds {len(files)} {info['imExt']} images but {folder / SEQINFO} says "
                         f"seqLength={n}: expected one image per frame")
    frames = np.empty((n, height, width, 3), np.float32)
    for f in range(n):
        path = images / f"{f + 1:06d}{info['imExt']}"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: expected the images 000001{info['imExt']} to "
                                    f"{n:06d}{info['imExt']}")
        pixels = read_image(path, "RGB")
        if pixels.shape[:2] != (height, width):
            raise ValueError(f"{path} is {pixels.shape[1]} x {pixels.shape[0]} pixels: expected "
                             f"imWidth x imHeight = {width} x {height} from {folder / SEQINFO}")
        frames[f] = pixels / np.float32(255)
    gt = folder / GT
    if gt.is_file():
        tracks = read_mot_txt(gt, n)
    else:
        tracks = {key: [np.zeros((0, 4) if key == "boxes" else 0)] * n
                  for key in ("boxes", "ids", "labels", "scores", "visibility")}
    keep = [scores != 0 for scores in tracks["scores"]]
    try:
        return Video(frames, *([t[k] for t, k in zip(tracks[key], keep)]
                               for key in ("boxes", "labels", "ids", "visibility")))
    except ValueError as err:
        raise ValueError(f"{gt}: {err}") from None
