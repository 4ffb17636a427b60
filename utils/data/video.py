"""Short low-resolution traffic videos with exact tracking ground truth (TrackNet's setting, notebook 13).

The scene model, chosen to be hard for a tracker the way an intersection camera is:

- **Camera.** Oblique, not bird's-eye: a straight road of `lanes` lanes runs diagonally through the
  frame toward a vanishing point V outside it (far to the left, level with the frame's top). Every lane
  line passes through V, and the horizon is the horizontal line through V, so the apparent size of
  anything on the road is proportional to its height below the horizon: vehicles shrink toward the
  upper left and nearer lanes (lower in the image) are bigger. A vehicle's world position along its
  lane maps to the image exponentially, so its image speed grows with its size, as it does on a real
  camera.
- **Vehicles.** Three classes (`VEHICLE_CLASSES`, labels 1..3): cars (about 2:1), buses (about 3.5:1
  and bigger) and motorbikes (about 1:1, small), with random body colours, dark windows, dark
  wheels and a little variation of size from one vehicle to the next. Seen from the side and a
  little above, each stands on its lane's ground line with vertical sides; at 96 x 96 a car is 7 to
  17 pixels long, a bus 14 to 31, a motorbike 3 to 6 (boxes are less elongated: the road slopes).
- **Traffic.** Lanes alternate in direction, so vehicles in different lanes pass each other, and a
  lane is narrower on the image than a vehicle is tall: the nearer vehicle hides the lower part of
  the farther one (drawn far to near, the painter's algorithm), and a bus can hide a car entirely.
  Each lane has its speed and each vehicle its own variation of it; with `stops`, every lane runs a
  light cycle in which its speed ramps down to zero, stays there for a while and ramps back up.
  Vehicles keep a minimum gap to the one in front (no overlap within a lane), enter at one side and
  leave at the other; `density` scales the arrival rate (1.0 is congested: queues behind every light).
  The simulation runs for a while before the first frame, so the road is already busy.
- **Light.** Cast shadows (`shadows`): a darker, blurred quadrilateral offset from each vehicle on the
  road, in one direction per video. Illumination (`illumination`): brightness and contrast drift
  over time (up to about +-25 %) and a large soft cloud shadow crosses the frame. Then a slight blur
  and mild sensor noise. Road, lane markings, kerbs, pavements and building fronts are static.

Ground truth, per frame, follows the course's scenes (utils.data.scenes): each vehicle's visible mask
is its full mask minus what nearer vehicles hide and minus what lies outside the frame; it is in the
ground truth when its visible fraction is at least `min_visibility` (and it shows at least a few
pixels), with the tight box of its visible pixels as float32 (x1, y1, x2, y2), x2 and y2 exclusive,
its label, its track identity (1, 2, ... in order of first appearance, never reused) and its
visible fraction. Everything comes from one NumPy Generator, so a seed fixes the whole video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from utils.course.checks import (
    as_image_array,
    finite_in,
    int_at_least,
    number_in,
    optional_seed,
    positive_int,
    rng_from,
    whole_numbers,
    xyxy_boxes,
)

VEHICLE_CLASSES: tuple[str, ...] = ("car", "bus", "motorbike")
MIN_SIZE = 32
MAX_LANES = 8
MIN_PIXELS = 4  # fewer visible pixels than this is no object a detector could be asked to find

# Geometry in units of the frame side S (x to the right, y down): the vanishing point, and where the
# road's near edge meets the right border. Lane widths and vehicle sizes are in metres, drawn at
# PX_PER_M * S / 96 pixels per metre where the road's near edge meets the right border (scale 1).
_VANISHING = (-1.6, 0.05)
_NEAR_EDGE = 0.88
PX_PER_M = 3.6
_LANE_WIDTH_M = 1.45  # the apparent (foreshortened) lane width: less than a car is tall, so lanes overlap
_GROUND = 0.3  # where a vehicle stands, as a fraction of its lane's width from the near edge
_WARM_UP = 150  # frames simulated before the first one recorded

# Per class: (length m, height m, arrival weight, parts). A part is ("rect", code, a0, a1, z0, z1)
# or ("disc", code, a, z, radius) in vehicle coordinates: a from the back (0) to the front (1), z from
# the ground (0) to the top (1), a disc's radius in units of the height. Later parts paint over
# earlier ones; codes index the vehicle's colours: 1 body, 2 roof/helmet, 3 windows, 4 wheels, 5 rider.
_CLASSES = (
    (4.4, 2.0, 0.70, (("rect", 1, 0.0, 1.0, 0.12, 0.55), ("rect", 2, 0.18, 0.76, 0.55, 1.0),
                      ("rect", 3, 0.23, 0.71, 0.6, 0.88), ("disc", 4, 0.2, 0.15, 0.15),
                      ("disc", 4, 0.8, 0.15, 0.15))),
    (8.6, 2.6, 0.12, (("rect", 1, 0.0, 1.0, 0.08, 1.0), ("rect", 2, 0.0, 1.0, 0.9, 1.0),
                      ("rect", 3, 0.06, 0.94, 0.48, 0.8), ("disc", 4, 0.16, 0.11, 0.11),
                      ("disc", 4, 0.82, 0.11, 0.11))),
    (2.0, 1.7, 0.18, (("disc", 4, 0.2, 0.17, 0.17), ("disc", 4, 0.8, 0.17, 0.17),
                      ("rect", 1, 0.22, 0.8, 0.25, 0.45), ("rect", 5, 0.38, 0.62, 0.45, 0.84),
                      ("disc", 2, 0.52, 0.9, 0.1))),
)
_BODY_COLOURS = np.array([[0.92, 0.92, 0.9], [0.7, 0.72, 0.75], [0.12, 0.12, 0.14], [0.75, 0.12, 0.1],
                          [0.15, 0.25, 0.6], [0.15, 0.4, 0.2], [0.9, 0.75, 0.15], [0.45, 0.3, 0.2]], np.float32)


@dataclass(frozen=True)
class Video:
    """Frames of one video and per-frame ground truth (see the module docstring for the conventions).

    Labels are 1..len(VEHICLE_CLASSES) for generated videos, or -1 for "class unknown" (a MOT file
    without classes); visibility lies in [0, 1], or is -1 where a MOT file does not say.
    """

    frames: np.ndarray  # (F, H, W, 3) float32 in [0, 1]
    boxes: list[np.ndarray]  # per frame (N_f, 4) float32 (x1, y1, x2, y2), x2 and y2 exclusive
    labels: list[np.ndarray]  # per frame (N_f,) int32
    ids: list[np.ndarray]  # per frame (N_f,) int64 track identities >= 1, distinct within a frame
    visibility: list[np.ndarray]  # per frame (N_f,) float32 visible fraction

    def __post_init__(self):
        frames = as_image_array(self.frames, "frames", (4,))
        if frames.shape[-1] != 3 or frames.shape[0] == 0:
            raise ValueError(f"frames has shape {frames.shape}: expected (F, H, W, 3) with F >= 1 RGB frames")
        n = frames.shape[0]
        fields = {}
        for name in ("boxes", "labels", "ids", "visibility"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or len(value) != n:
                got = f"{len(value)} entries" if isinstance(value, (list, tuple)) else f"a {type(value).__name__}"
                raise ValueError(f"{name} has {got}: expected a list with one array per frame ({n} frames)")
            fields[name] = []
        for f in range(n):
            boxes = xyxy_boxes(self.boxes[f], f"boxes[{f}]").astype(np.float32)
            labels = whole_numbers(np.asarray(self.labels[f]).reshape(-1), f"labels[{f}]", -1,
                                   expected="integer class labels >= 1, or -1 for unknown")
            ids = whole_numbers(np.asarray(self.ids[f]).reshape(-1), f"ids[{f}]", 1,
                                expected="integer track identities >= 1")
            vis = finite_in(np.asarray(self.visibility[f], np.float32).reshape(-1), f"visibility[{f}]", -1, 1,
                            expected="visible fractions in [0, 1], or -1 for unknown")
            if np.any(labels == 0):
                raise ValueError(f"labels[{f}] holds 0: expected class labels >= 1 (0 is the background), "
                                 "or -1 for unknown")
            if np.any((vis < 0) & (vis != -1)):
                raise ValueError(f"visibility[{f}] holds negative values other than -1: expected visible "
                                 "fractions in [0, 1], or -1 for unknown")
            counts = {len(boxes), len(labels), len(ids), len(vis)}
            if len(counts) != 1:
                raise ValueError(f"frame {f} has {len(boxes)} boxes, {len(labels)} labels, {len(ids)} ids and "
                                 f"{len(vis)} visibilities: expected one of each per object")
            if len(np.unique(ids)) != len(ids):
                raise ValueError(f"ids[{f}]={ids.tolist()} repeats an identity: expected each track at most "
                                 "once per frame")
            for name, arr in zip(fields, (boxes, labels.astype(np.int32), ids, vis)):
                fields[name].append(arr)
        object.__setattr__(self, "frames", frames)
        for name, arrays in fields.items():
            object.__setattr__(self, name, arrays)

    @property
    def n_frames(self) -> int:
        """The number of frames F."""
        return int(self.frames.shape[0])


# ---------------------------------------------------------------------------------------------
# The scene: geometry, background, traffic


@dataclass
class _Vehicle:
    id: int
    cls: int
    lane: int
    pos: float  # centre along the direction of travel, metres (grows as it drives)
    length: float
    height: float
    speed: float  # metres per frame when its lane runs freely
    gap: float  # metres it keeps behind the vehicle in front
    colours: np.ndarray  # (6, 3): none, body, roof, windows, wheels, rider


class _Road:
    """The static geometry of one video: lane lines through the vanishing point, scales, speeds, lights."""

    def __init__(self, rng: np.random.Generator, size: int, lanes: int, density: float, stops: bool):
        self.size, self.lanes = size, lanes
        self.vx, self.vy = _VANISHING[0] * size, _VANISHING[1] * size
        self.px_per_m = PX_PER_M * size / 96
        near = _NEAR_EDGE * size
        # Lane edges where they meet the right border, from the near edge upward: each lane is
        # _LANE_WIDTH_M wide at the scale of its near edge, so lanes narrow toward the horizon.
        edges = [near]
        for _ in range(lanes):
            edges.append(edges[-1] - _LANE_WIDTH_M * self.px_per_m * self.scale_at(edges[-1]))
        self.edges = np.array(edges[::-1])  # far (top) to near (bottom), lanes + 1 values
        self.slopes = (self.edges - self.vy) / (size - self.vx)  # each line: y = vy + slope * (x - vx)
        width = np.diff(self.edges)
        ground = self.edges[1:] - _GROUND * width  # where vehicles of each lane stand, at the right border
        self.ground_slopes = (ground - self.vy) / (size - self.vx)
        self.scale_right = (ground - self.vy) / (near - self.vy)
        # Lane coordinate u (metres, 0 at the right border): x = vx + (S - vx) exp(c u), the solution of
        # dx/du = px_per_m * scale(x) with the scale growing linearly from the vanishing point.
        self.c = self.px_per_m * self.scale_right / (size - self.vx)
        self.u_left = np.log(-self.vx / (size - self.vx)) / self.c  # u at the left border (< 0)
        self.direction = np.where((lanes - 1 - np.arange(lanes)) % 2 == 0, 1, -1)  # the nearest lane drives right
        self.speed = rng.uniform(0.45, 0.8, lanes)  # metres per frame
        self.arrival = density * rng.uniform(0.022, 0.035, lanes)  # vehicles per frame
        self.stops = stops
        self.period = rng.uniform(45, 80, lanes)
        self.red = rng.uniform(0.25, 0.4, lanes) * self.period
        self.phase = rng.uniform(0, 1, lanes) * self.period

    def scale_at(self, y: np.ndarray | float) -> np.ndarray | float:
        """Pixels per metre at image row y, relative to the road's near edge at the right border."""
        return (y - self.vy) / (_NEAR_EDGE * self.size - self.vy)

    def flow(self, t: int) -> np.ndarray:
        """Each lane's speed factor at frame t: 1 on green, ramping down to 0 for the red part of its cycle."""
        if not self.stops:
            return np.ones(self.lanes)
        into = (t + self.phase) % self.period  # red covers [0, red); the ramps lie just outside it
        ramp = 6.0  # frames to reach full speed after red, and to come to a stop before it
        after_red = np.clip((into - self.red) / ramp, 0, 1)
        before_red = np.clip((self.period - into) / ramp, 0, 1)
        return np.where(into < self.red, 0.0, np.minimum(after_red, before_red))

    def entry_exit(self, lane: int) -> tuple[float, float]:
        """Positions (along the direction of travel) of the border a lane's vehicles enter and the one they leave."""
        if self.direction[lane] > 0:
            return float(self.u_left[lane]), 0.0
        return 0.0, -float(self.u_left[lane])

    def x_of(self, lane: int, pos: float) -> float:
        """Image x of a position along a lane (metres in the direction of travel)."""
        return self.vx + (self.size - self.vx) * math.exp(self.c[lane] * self.direction[lane] * pos)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Noise in [0, 1) varying smoothly over about size / cells pixels: a coarse grid, bilinearly upsampled."""
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
    gy, gx = np.linspace(0, cells, h, dtype=np.float32), np.linspace(0, cells, w, dtype=np.float32)
    iy, ix = np.minimum(gy.astype(int), cells - 1), np.minimum(gx.astype(int), cells - 1)
    fy, fx = (gy - iy)[:, None], (gx - ix)[None, :]
    top = grid[iy][:, ix] * (1 - fx) + grid[iy][:, ix + 1] * fx
    bottom = grid[iy + 1][:, ix] * (1 - fx) + grid[iy + 1][:, ix + 1] * fx
    return top * (1 - fy) + bottom * fy


def _background(rng: np.random.Generator, road: _Road) -> np.ndarray:
    """The static scene: building fronts above the road, pavements and kerbs, the road with lane markings."""
    s = road.size
    y, x = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
    slope = (y - road.vy) / (x - road.vx)  # which line through the vanishing point each pixel is on
    scale = road.scale_at(y)
    out = np.empty((s, s, 3), np.float32)
    texture = _smooth_noise(rng, s, s, 6) - 0.5
    grain = rng.normal(0, 0.025, (s, s)).astype(np.float32)
    # Building fronts: vertical bands of random colour with rows of dark windows.
    n_bands = 7
    cuts = np.sort(rng.uniform(0, s, n_bands - 1))
    band = np.searchsorted(cuts, x[0])
    colours = rng.uniform(0.3, 0.6, (n_bands, 3)).astype(np.float32) * rng.uniform(0.7, 1.0, (n_bands, 1))
    colours = 0.5 * colours + 0.5 * colours.mean(axis=1, keepdims=True)  # weathered, greyish fronts
    out[:] = colours[band][None]
    period = max(3.0, s / 20)
    windows = ((y % period) < period * 0.4) & (((x + 7 * band[None]) % period) < period * 0.4)
    out[windows] *= 0.5
    # Pavements on both sides of the road (3 m), a kerb line at each edge, a plaza below the near pavement.
    far, near = road.slopes[0], road.slopes[-1]
    metre = road.px_per_m * scale / (x - road.vx)  # one (foreshortened) metre in units of slope
    paving = rng.uniform(0.5, 0.65) * np.float32([1.0, 0.97, 0.92])
    out[(slope > far - 3 * metre) & (slope < far)] = paving
    out[slope > near] = paving
    plaza = slope > near + 3 * metre
    out[plaza] = paving * 0.85 * (1 - 0.08 * (((x[plaza] // 3) + (y[plaza] // 2)) % 2))[:, None]
    out[(np.abs(slope - far) < 0.2 * metre) | (np.abs(slope - near) < 0.2 * metre)] = 0.8
    # The road: dark grey asphalt, dashed white lines between lanes, solid lines along its edges,
    # and a zebra crossing (stripes along the direction of travel, 1 m wide).
    on_road = (slope >= far) & (slope <= near)
    out[on_road] = rng.uniform(0.28, 0.38)
    dash = np.maximum(6.0 * road.px_per_m * scale, 2.0)  # about 6 m between dashes, shrinking toward the horizon
    for i, edge in enumerate(road.slopes):
        line = np.abs(slope - edge) < 0.12 * metre
        if 0 < i < road.lanes:
            line &= (x % dash) < dash / 2
        out[line & on_road] = 0.8
    crossing = rng.uniform(0.35, 0.75) * s
    stripes = on_road & (np.abs(x - crossing) < 2.5 * road.px_per_m * scale) & (((slope - far) / metre) % 2 < 1)
    out[stripes] = 0.75
    out += (0.15 * texture + grain)[..., None]
    return np.clip(out, 0, 1)


def _new_vehicle(rng: np.random.Generator, road: _Road, lane: int, pos: float, vid: int) -> _Vehicle:
    """A vehicle of a random class, size, speed and colour at position pos (its centre) of a lane."""
    weights = np.array([c[2] for c in _CLASSES])
    cls = int(rng.choice(len(_CLASSES), p=weights / weights.sum()))
    length, height = _CLASSES[cls][0], _CLASSES[cls][1]
    colours = np.zeros((6, 3), np.float32)
    body = _BODY_COLOURS[rng.integers(len(_BODY_COLOURS))] * rng.uniform(0.85, 1.1, 3)
    colours[1] = body
    colours[2] = body * 0.85 + 0.15  # roofs and helmets catch the light
    colours[3] = rng.uniform(0.08, 0.2) * np.float32([0.9, 1.0, 1.2])
    colours[4] = 0.06
    colours[5] = rng.uniform(0.1, 0.4, 3)
    return _Vehicle(id=vid, cls=cls, lane=lane, pos=pos, length=length * rng.uniform(0.9, 1.1),
                    height=height * rng.uniform(0.92, 1.08), speed=road.speed[lane] * rng.uniform(0.85, 1.15),
                    gap=rng.uniform(1.2, 3.0), colours=np.clip(colours, 0, 1))


class _Traffic:
    """Vehicles per lane, front first; one step moves them (car-following), removes leavers, adds arrivals."""

    def __init__(self, rng: np.random.Generator, road: _Road):
        self.rng, self.road = rng, road
        self.queues: list[list[_Vehicle]] = [[] for _ in range(road.lanes)]
        self.waiting = np.zeros(road.lanes, int)  # arrivals that found no room at the entry yet
        self.next_id = 1

    def step(self, t: int) -> None:
        road = self.road
        flow = road.flow(t)
        for lane, queue in enumerate(self.queues):
            entry, exit_ = road.entry_exit(lane)
            ahead = math.inf  # where the back of the vehicle in front is (after its move)
            for v in queue:
                room = ahead - v.gap - v.length / 2
                v.pos = max(v.pos, min(v.pos + v.speed * flow[lane], room))
                ahead = v.pos - v.length / 2
            queue[:] = [v for v in queue if v.pos - v.length / 2 < exit_ + 0.5]
            self.waiting[lane] += self.rng.poisson(road.arrival[lane])
            if self.waiting[lane]:
                v = _new_vehicle(self.rng, road, lane, 0.0, self.next_id)
                v.pos = entry - 0.3 - v.length / 2
                back_of_last = queue[-1].pos - queue[-1].length / 2 if queue else math.inf
                if v.pos + v.length / 2 + v.gap <= back_of_last:
                    queue.append(v)
                    self.waiting[lane] -= 1
                    self.next_id += 1


# ---------------------------------------------------------------------------------------------
# Rendering


_GRID = 48  # vehicle shapes are drawn from a table of _GRID x _GRID cells over (a, z) in [0, 1)^2


def _shape_table(length: float, height: float, parts: tuple) -> np.ndarray:
    """The part code of each (a, z) cell of a class's shape (discs round on the vehicle, not on the table).

    One row and one column more than the grid, all 0, for pixels outside the vehicle's box.
    """
    centres = (np.arange(_GRID) + 0.5) / _GRID
    a, z = centres[:, None], centres[None, :]
    table = np.zeros((_GRID + 1, _GRID + 1), np.uint8)
    for part in parts:
        if part[0] == "rect":
            _, code, a0, a1, z0, z1 = part
            inside = (a >= a0) & (a <= a1) & (z >= z0) & (z <= z1)
        else:
            _, code, ac, zc, r = part
            inside = ((a - ac) * length / height) ** 2 + (z - zc) ** 2 <= r**2
        table[:_GRID, :_GRID][inside] = code
    return table


_TABLES = [_shape_table(length, height, parts) for length, height, _, parts in _CLASSES]


def _cells(t: np.ndarray) -> np.ndarray:
    """Table indices of coordinates t: floor(t * _GRID) inside [0, 1), else the all-zero last index."""
    cells = (t * _GRID).astype(np.int32)
    cells[(t < 0) | (cells >= _GRID)] = _GRID
    return cells


def _vehicle_pixels(road: _Road, v: _Vehicle, shadow: tuple[float, float] | None = None):
    """The part codes of a vehicle (or, with shadow=(dx, dy), its cast shadow's mask) on its bounding crop.

    Returns (codes or mask over the crop, y0, x0): the crop may reach outside the frame, so the full
    mask is known even where the frame cuts it.
    """
    lane = v.lane
    x_back, x_front = road.x_of(lane, v.pos - v.length / 2), road.x_of(lane, v.pos + v.length / 2)
    slope = road.ground_slopes[lane]
    h = v.height * road.px_per_m * slope * (0.5 * (x_back + x_front) - road.vx) / (_NEAR_EDGE * road.size - road.vy)
    dx = dy = 0.0
    if shadow is not None:
        dx, dy = shadow[0] * h, shadow[1] * h
    x0, x1 = math.floor(min(x_back, x_front) + dx), math.ceil(max(x_back, x_front) + dx)
    g0, g1 = (road.vy + slope * (x - dx - road.vx) + dy for x in (x0, x1))
    top, bottom = (1.0, 0.0) if shadow is None else (0.4, 0.25)
    y0, y1 = math.floor(min(g0, g1) - top * h), math.ceil(max(g0, g1) + bottom * h)
    xs = np.arange(x0, x1, dtype=np.float32) + np.float32(0.5 - dx)
    a = (xs - np.float32(x_back)) / np.float32(x_front - x_back)  # 0 at the back, 1 at the front
    ground = np.float32(road.vy + dy - slope * road.vx) + np.float32(slope) * xs
    z = ground[None, :] - (np.arange(y0, y1, dtype=np.float32) + np.float32(0.5))[:, None]
    z /= np.float32(h)  # 0 on the ground, 1 at the roof
    if shadow is not None:
        return ((a >= -0.05) & (a <= 1.05))[None, :] & (z >= -0.25) & (z <= 0.4), y0, x0
    return _TABLES[v.cls][_cells(a)[None, :], _cells(z)], y0, x0


def _clip(y0: int, x0: int, shape: tuple[int, int], size: int):
    """The slices of a crop at (y0, x0) that lie inside a size x size frame, in frame and in crop coordinates."""
    ya, yb = max(y0, 0), min(y0 + shape[0], size)
    xa, xb = max(x0, 0), min(x0 + shape[1], size)
    if ya >= yb or xa >= xb:
        return None
    return (slice(ya, yb), slice(xa, xb)), (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0))


def _blur(images: np.ndarray, weights: tuple[float, float, float], axes: tuple[int, int]) -> np.ndarray:
    """A separable 3-tap blur along two axes, edges repeated."""
    w0, w1, w2 = (np.float32(w) for w in weights)
    for axis in axes:
        lead = (slice(None),) * (axis % images.ndim)
        head, tail, first, last = ((*lead, slice(a, b)) for a, b in ((None, -1), (1, None), (None, 1), (-1, None)))
        out = images * w1
        out[tail] += w0 * images[head]  # each pixel takes w0 of the one before it ...
        out[first] += w0 * images[first]
        out[head] += w2 * images[tail]  # ... and w2 of the one after it
        out[last] += w2 * images[last]
        images = out
    return images


def _draw(road: _Road, vehicles: list[_Vehicle], frame: np.ndarray, id_map: np.ndarray,
          shadow: tuple[float, float, float] | None, min_visibility: float) -> list[tuple]:
    """Draw shadows, then vehicles far to near, onto frame and id_map (in place); return the ground truth.

    Each entry is (vehicle id, label, visible fraction, tight (x1, y1, x2, y2) of the visible pixels).
    """
    size = frame.shape[0]
    vehicles = sorted(vehicles, key=lambda v: v.lane)  # far lanes first: nearer vehicles paint over them
    if shadow is not None:
        shade = np.zeros((size, size), bool)
        for v in vehicles:
            mask, y0, x0 = _vehicle_pixels(road, v, shadow[:2])
            where = _clip(y0, x0, mask.shape, size)
            if where is not None:
                shade[where[0]] |= mask[where[1]]
        soft = _blur(shade.astype(np.float32), (0.25, 0.5, 0.25), (0, 1))
        frame *= (1 - shadow[2] * _blur(soft, (0.25, 0.5, 0.25), (0, 1)))[..., None]
    full, crops = {}, {}
    for v in vehicles:
        codes, y0, x0 = _vehicle_pixels(road, v)
        where = _clip(y0, x0, codes.shape, size)
        if where is None:
            continue
        inside = codes[where[1]] > 0
        frame[where[0]][inside] = v.colours[codes[where[1]][inside]]
        id_map[where[0]][inside] = v.id
        full[v.id] = int(np.count_nonzero(codes)), v  # counted on the whole crop, in the frame or not
        crops[v.id] = where[0]
    visible = np.bincount(id_map.ravel(), minlength=max(full, default=0) + 1)
    kept = []
    for vid, (n_full, v) in full.items():
        n_visible = int(visible[vid])
        if n_visible < MIN_PIXELS or n_visible < min_visibility * n_full:
            continue
        ys, xs = crops[vid]
        own = id_map[ys, xs] == vid
        rows, cols = np.flatnonzero(own.any(axis=1)), np.flatnonzero(own.any(axis=0))
        box = (xs.start + cols[0], ys.start + rows[0], xs.start + cols[-1] + 1, ys.start + rows[-1] + 1)
        kept.append((vid, v.cls + 1, n_visible / n_full, box))
    return kept


def _render(rng: np.random.Generator, n_frames: int, size: int, density: float, lanes: int, shadows: bool,
            illumination: bool, stops: bool, min_visibility: float) -> tuple[Video, np.ndarray]:
    """One video and its (F, H, W) map of the visible vehicle's identity per pixel (0 where there is none)."""
    road = _Road(rng, size, lanes, density, stops)
    background = _background(rng, road)
    traffic = _Traffic(rng, road)
    shadow = (rng.uniform(-0.7, 0.7), rng.uniform(0.1, 0.35), rng.uniform(0.35, 0.5))  # offset x, y; darkness
    for t in range(_WARM_UP):
        traffic.step(t)
    frames = np.empty((n_frames, size, size, 3), np.float32)
    id_maps = np.zeros((n_frames, size, size), np.int64)
    records = []  # per frame: (ids, labels, visible counts, full counts, boxes) of the vehicles in view
    for f in range(n_frames):
        traffic.step(_WARM_UP + f)
        vehicles = [v for queue in traffic.queues for v in queue]
        frames[f] = background
        records.append(_draw(road, vehicles, frames[f], id_maps[f], shadow if shadows else None, min_visibility))
    if illumination:
        t = np.arange(n_frames, dtype=np.float32)
        phase, amp = rng.uniform(0, 2 * np.pi, 2), rng.uniform(0.15, 0.25)
        gain = 1 + amp * np.sin(2 * np.pi * t / rng.uniform(40, 90) + phase[0])
        contrast = 1 + 0.12 * np.sin(2 * np.pi * t / rng.uniform(30, 70) + phase[1])
        start, velocity = rng.uniform(-0.3, 1.3, 2) * size, rng.uniform(-1, 1, 2) * size / 60
        cy, cx = start[:, None] + velocity[:, None] * t[None]
        sigma = rng.uniform(0.25, 0.4) * size
        grid = np.arange(size, dtype=np.float32) + 0.5
        cloud = (np.exp(-((grid[None] - cy[:, None]) ** 2) / (2 * sigma**2))[:, :, None]
                 * np.exp(-((grid[None] - cx[:, None]) ** 2) / (2 * sigma**2))[:, None, :])
        light = (gain[:, None, None] * (1 - rng.uniform(0.2, 0.35) * cloud))[..., None]
        frames = (0.5 + contrast[:, None, None, None] * (frames - 0.5)) * light
    frames = _blur(frames, (0.15, 0.7, 0.15), (1, 2))
    frames += rng.normal(0, 0.015, frames.shape).astype(np.float32)
    np.clip(frames, 0, 1, out=frames)
    # Identities 1, 2, ... in order of first appearance in the video (the simulation numbers the
    # vehicles of its warm-up too); the id map follows, with 0 for vehicles never in the ground truth.
    order = {}
    for kept in records:
        for vid, *_ in kept:
            order.setdefault(vid, len(order) + 1)
    lookup = np.zeros(traffic.next_id, np.int64)
    lookup[list(order)] = list(order.values())
    id_maps = lookup[id_maps]
    boxes = [np.array([k[3] for k in kept], np.float32).reshape(-1, 4) for kept in records]
    labels = [np.array([k[1] for k in kept], np.int32) for kept in records]
    ids = [np.array([order[k[0]] for k in kept], np.int64) for kept in records]
    vis = [np.array([k[2] for k in kept], np.float32) for kept in records]
    return Video(frames.astype(np.float32, copy=False), boxes, labels, ids, vis), id_maps


# ---------------------------------------------------------------------------------------------
# Public API


def _options(n_frames: int, size: int, *, density: float = 1.0, lanes: int = 4, shadows: bool = True,
             illumination: bool = True, stops: bool = True, min_visibility: float = 0.25) -> dict:
    """The checked arguments of `_render` (other than its Generator)."""
    options = {"n_frames": positive_int(n_frames, "n_frames"),
               "size": int_at_least(size, "size", MIN_SIZE, note="the frame side in pixels"),
               "density": number_in(density, "density", 0, None, low_open=True, note="1.0 is congested traffic"),
               "lanes": int_at_least(lanes, "lanes", 1, note="the number of lanes"),
               "min_visibility": number_in(min_visibility, "min_visibility", 0, 1, low_open=True,
                                           note="the visible fraction a vehicle needs to be in the ground truth")}
    if options["lanes"] > MAX_LANES:
        raise ValueError(f"lanes={lanes!r}: expected an integer in 1..{MAX_LANES} (more do not fit in the frame)")
    for name, value in (("shadows", shadows), ("illumination", illumination), ("stops", stops)):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name}={value!r}: expected True or False")
        options[name] = bool(value)
    return options


def traffic_video(n_frames: int, size: int = 96, *, density: float = 1.0, lanes: int = 4, shadows: bool = True,
                  illumination: bool = True, stops: bool = True, min_visibility: float = 0.25,
                  seed: int | None = None) -> Video:
    """A seeded video of traffic seen by a low-resolution camera, with boxes, labels and track identities."""
    options = _options(n_frames, size, density=density, lanes=lanes, shadows=shadows, illumination=illumination,
                       stops=stops, min_visibility=min_visibility)
    return _render(rng_from(seed, "seed"), **options)[0]


def traffic_videos(n: int, n_frames: int, size: int = 96, *, seed: int | None = None, **kwargs) -> list[Video]:
    """n independent traffic videos, each from its own stream of one seed; kwargs are traffic_video's options."""
    n = positive_int(n, "n")
    options = _options(n_frames, size, **kwargs)
    streams = np.random.SeedSequence(optional_seed(seed, "seed")).spawn(n)
    return [_render(np.random.default_rng(stream), **options)[0] for stream in streams]


def video_clips(video: Video, length: int, step: int) -> list[tuple[int, int]]:
    """(start, stop) frame ranges of the clips of `length` frames that start every `step` frames (whole clips only)."""
    if not isinstance(video, Video):
        raise ValueError(f"video is a {type(video).__name__}: expected a Video (from traffic_video or "
                         "read_mot_sequence)")
    length, step = positive_int(length, "length"), positive_int(step, "step")
    if length > video.n_frames:
        raise ValueError(f"length={length}: expected at most the video's {video.n_frames} frames")
    return [(start, start + length) for start in range(0, video.n_frames - length + 1, step)]
