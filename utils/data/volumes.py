"""3-D ultrasound-like volumes standing in for high-frequency ultrasound (HFU) scans of mouse embryos (07, 08).

Axes are (depth, height, width): the transducer sits above depth 0 and its beam runs down axis 0, so depth
attenuation darkens the volume along axis 0 and the axial plane (the plane of one depth) is axes 1 and 2.

The scene model, chosen to be hard the way the lab's scans are (Deep BV, Deep MOUSE):

- **Embryo.** A deformed ellipsoidal trunk, slightly curled, and a large head; a smooth random displacement field
  makes every body a little different. Tissue echoes at a mid grey with a slow texture, the skin is a bright shell,
  and the brain inside the head is a little darker than the rest of the body. Dark fluid-filled structures (a heart,
  a few smaller cavities, the spinal canal along the back, two eyes) make the ventricles far from the only dark
  voxels inside the body.
- **Brain ventricles** (the target): a branched system of tubes inside the brain — a midline channel (fourth,
  mesencephalic and third ventricles) that forks into two lateral ventricles, each with a horn — filled with fluid
  that echoes about as darkly as the other cavities (ventricle_variation: from nearly anechoic to 0.7 of the brain's
  grey). They are thin (tubes 3 to 10 voxels across at 64³) and take a small fraction of the volume: 0.27 to
  0.68 % of the voxels over 100 volumes at 64³ (median 0.46 %, the lecture's imbalance); more at small sizes,
  where each tube is kept at least about two voxels across.
- **Surroundings.** Amniotic fluid (dark) around the body and, beyond a random plane that misses the body, the
  uterine wall (tissue-bright).
- **Imaging.** Multiplicative speckle (the magnitude of a slightly smoothed complex Gaussian field: Rayleigh
  distributed, with a grain of about a voxel), exponential depth attenuation of random strength, weak additive
  noise; the image is scaled by a fixed factor (the skin's echo times a high speckle is white) and clipped to [0, 1].

The lecture's challenges, each a switch (all on by default, which is the held-out setting):

- ``rotation``: a random posture and orientation — a uniformly random 3-D rotation of the embryo and a nod of the
  head against the trunk (off: the body lies along axis 2, its back away from the transducer).
- ``missing_boundary``: a piece of the head's boundary is missing (no skin echo, tissue darkened) where the surface
  runs along the beam, so the head opens into the fluid there.
- ``motion``: the embryo moved during the scan: a few slabs of slices across axis 1 are shifted by a few voxels.
- ``ventricle_variation``: the ventricles' shape (branch positions, radii, a horn present or not) and echo vary from
  volume to volume, the other cavities' echo following theirs (off: one canonical shape, scaled to the head, and
  one dark echo for every cavity).

The masks are the ground truth of the recorded volume, as an annotator would draw it: motion shifts the masks with
the image, and a missing boundary leaves the body mask whole. Every random number is drawn whatever the switches
are, so a switch changes its own effect only: the same seed with ``motion=False`` gives the same embryo unshifted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from utils.course.checks import as_image_array, int_at_least, number_in, one_of, optional_seed, positive_int, rng_from

MIN_SIZE = 16
CHALLENGES: tuple[str, ...] = ("rotation", "missing_boundary", "motion", "ventricle_variation")

# Echo levels before speckle and attenuation (the image is rescaled afterwards, so only their ratios matter).
_FLUID, _TISSUE, _BRAIN, _SKIN, _VENTRICLE = 0.07, 0.5, 0.4, 1.0, 0.08

# Body-local axes: 0 ventral to dorsal (away from the transducer when unrotated), 1 left-right, 2 tail to head.
# Positions in units of half the volume's side ([-1, 1] across it).
_TRUNK_CENTRE, _TRUNK_AXES = np.array([0.0, 0.0, -0.30]), np.array([0.32, 0.30, 0.50])
_HEAD_CENTRE, _HEAD_AXES = np.array([0.08, 0.0, 0.37]), np.array([0.42, 0.40, 0.43])
_BRAIN_DEPTH = 0.16  # the brain is the head shrunk by this (in units of the head's semi-axes): skull and skin
_SPINE = (0.55, 0.035)  # the spinal canal: its height in the trunk (units of the semi-axis 0), its radius
_EYES = (np.array([0.0, 0.62, 0.68]), 0.06)  # the left eye's centre in head units (mirrored on axis 1), radius

# The ventricles' skeleton in head units (the head's semi-axes are 1): points, and tubes between them with a
# radius at each end in volume units. Points 4-6 are the left lateral ventricle; the right one mirrors axis 1.
_POINTS = np.array([
    [-0.20, 0.0, -0.55],  # 0 fourth ventricle
    [0.30, 0.0, -0.30],   # 1 mesencephalic ventricle (dorsal)
    [0.32, 0.0, 0.10],    # 2
    [0.00, 0.0, 0.30],    # 3 third ventricle, where the lateral ventricles branch off
    [0.25, 0.38, 0.38],   # 4 lateral ventricle
    [0.05, 0.52, 0.65],   # 5 its anterior end
    [-0.30, 0.45, 0.25],  # 6 its horn
])
_TUBES = tuple((i, j, 1.45 * ri, 1.45 * rj) for i, j, ri, rj in (
    (0, 1, 0.050, 0.065), (1, 2, 0.065, 0.060), (2, 3, 0.060, 0.045), (3, 4, 0.045, 0.065),
    (4, 5, 0.065, 0.085), (4, 6, 0.055, 0.045)))
_LATERAL = (4, 5, 6)


@dataclass(frozen=True)
class Volume:
    """A 3-D scan and its ground truth: image (D, H, W) float32 in [0, 1], ventricle and body masks (D, H, W) bool.

    spacing is the voxel size (depth, height, width), e.g. in millimetres; 1 for generated volumes.
    """

    image: np.ndarray
    ventricles: np.ndarray
    body: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self):
        image = as_image_array(self.image, "image", (3,))
        if 0 in image.shape:
            raise ValueError(f"image has shape {image.shape}: expected at least one voxel")
        object.__setattr__(self, "image", image)
        for name in ("ventricles", "body"):
            object.__setattr__(self, name, as_mask(getattr(self, name), name, image.shape))
        object.__setattr__(self, "spacing", as_spacing(self.spacing))

    @property
    def shape(self) -> tuple[int, int, int]:
        """The volume's shape (D, H, W)."""
        return self.image.shape

    @property
    def ventricle_fraction(self) -> float:
        """The fraction of the volume's voxels that are ventricle."""
        return float(np.count_nonzero(self.ventricles)) / self.ventricles.size


def as_mask(mask: object, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """mask as a bool array of the given shape, checking that it holds only 0/1 (or False/True)."""
    arr = np.asarray(mask)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} has shape {arr.shape}: expected the image's shape {tuple(shape)}")
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} has dtype {arr.dtype}: expected a boolean mask")
    if arr.size and not np.isin(arr, (0, 1)).all():
        bad = arr[~np.isin(arr, (0, 1))].flat[0].item()
        raise ValueError(f"{name} holds the value {bad!r}: expected a binary mask of 0 and 1")
    return arr.astype(bool)


def as_spacing(spacing: object, name: str = "spacing") -> tuple[float, float, float]:
    """spacing as three positive finite floats (the voxel size along depth, height, width)."""
    if not isinstance(spacing, (tuple, list, np.ndarray)) or len(spacing) != 3:
        raise ValueError(f"{name}={spacing!r}: expected three positive voxel sizes (depth, height, width)")
    return tuple(number_in(s, f"{name}[{i}]", 0, low_open=True, note="a voxel size")  # type: ignore[return-value]
                 for i, s in enumerate(spacing))


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation matrix (QR of a Gaussian matrix, signs fixed so that it is Haar-distributed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _about_axis1(angle: float) -> np.ndarray:
    """The rotation by angle (radians) about body axis 1 (a nod of the head)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _affine(m: np.ndarray, p: np.ndarray, shift: np.ndarray | float = 0.0) -> np.ndarray:
    """m @ (p - shift) for points p of shape (3, N), as float32 row sums (BLAS is slow on a 3-row product)."""
    q = p - np.asarray(shift, np.float32).reshape(-1, 1)
    m = np.asarray(m, np.float32)
    return np.stack([m[i, 0] * q[0] + m[i, 1] * q[1] + m[i, 2] * q[2] for i in range(3)])


def _length(p: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """The length of each point (3, N) divided by scale per axis."""
    q = p / np.asarray(scale, np.float32).reshape(-1, 1)
    return np.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2])


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each point (3, N) to the segment a-b, and where along it (0 at a, 1 at b) the nearest point is."""
    ab = (b - a).astype(np.float32)
    q = p - a.astype(np.float32).reshape(3, 1)
    t = np.clip((ab[0] * q[0] + ab[1] * q[1] + ab[2] * q[2]) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return _length(q - t * ab.reshape(3, 1)), t


def _draws(rng: np.random.Generator, size: int) -> dict:
    """Every random number of one volume, drawn in a fixed order whatever the switches (see the module docstring)."""
    n_slabs = int(rng.integers(1, 4))
    return dict(
        centre=rng.uniform(-0.04, 0.04, 3), rotation=_rotation(rng), nod=rng.uniform(-0.45, 0.45),
        curl=rng.uniform(0.2, 0.6), waves=rng.normal(0, 2.5, (4, 3)), phases=rng.uniform(0, 2 * np.pi, (4, 3)),
        amplitudes=rng.uniform(0.01, 0.025, (4, 3)), texture=rng.normal(0, 3.0, (3, 3)),
        cavities=rng.uniform(-1, 1, (3, 3)), cavity_radii=rng.uniform(0.05, 0.09, 3),
        skeleton=rng.normal(0, 0.07, _POINTS.shape), radius_scale=rng.uniform(0.75, 1.35, len(_TUBES)),
        ventricle_echo=rng.uniform(0.06, 0.28), cavity_echo=rng.uniform(0.7, 1.4), horns=rng.random(2),
        wall=rng.normal(size=3),
        wall_gap=rng.uniform(0.05, 0.2), gap_angle=rng.uniform(0, 2 * np.pi), gap_width=rng.uniform(0.45, 0.7),
        attenuation=rng.uniform(0.6, 1.5), speckle=rng.normal(size=(2, size, size, size)).astype(np.float32),
        noise=rng.normal(0, 0.02, (size, size, size)).astype(np.float32),
        slabs=[(rng.random(), int(rng.integers(2, max(3, size // 10) + 1)),
                tuple(int(s) for s in rng.choice([-1, 1], 2) * rng.integers(1, max(2, size // 20) + 1, 2)))
               for _ in range(n_slabs)],
    )


def _ventricles(head: np.ndarray, r: dict, h: float, vary: bool) -> np.ndarray:
    """Which of the points (3, N), in head coordinates (volume units, head centre at 0), are ventricle."""
    points = _POINTS + (r["skeleton"] if vary else 0.0)
    points[:, 1] = np.abs(points[:, 1])
    inside = np.zeros(head.shape[1], bool)
    for side in (1.0, -1.0):
        pts = points * np.array([1.0, side, 1.0]) * _HEAD_AXES
        for k, (i, j, ri, rj) in enumerate(_TUBES):
            if side < 0 and i not in _LATERAL and j not in _LATERAL:
                continue  # the midline is drawn once
            if vary and j == 6 and r["horns"][int(side < 0)] < 0.25:
                continue  # a horn that this embryo lacks
            scale = r["radius_scale"][k] if vary else 1.0
            dist, t = _segment_distance(head, pts[i], pts[j])
            # at least ~1 voxel of radius, so that a tube survives small sizes
            inside |= dist <= np.maximum(scale * (ri + t * (rj - ri)), 1.05 * h)
    return inside


def _embryo(size: int, r: dict, rotation: bool, missing_boundary: bool, vary: bool):
    """Echo map (before speckle), ventricle and body masks of one embryo, all (size, size, size)."""
    from scipy import ndimage

    cube = (size, size, size)
    h = 2.0 / size  # one voxel in volume units
    u = (np.arange(size, dtype=np.float32) + 0.5) * h - 1.0
    grid = np.stack([a.ravel() for a in np.meshgrid(u, u, u, indexing="ij")])  # (3, N): volume coordinates
    rot = r["rotation"] if rotation else np.eye(3)
    local = _affine(rot.T, grid, r["centre"])  # body-local coordinates
    for k in range(4):  # a smooth random displacement field: every body a little different
        w, phase, amplitude = (r[key][k].astype(np.float32).reshape(3, 1) for key in ("waves", "phases", "amplitudes"))
        local = local + amplitude * np.sin((w * local).sum(axis=0) + phase)
    trunk = local - _TRUNK_CENTRE.astype(np.float32).reshape(3, 1)
    trunk[0] -= np.float32(0.3 * r["curl"]) * (trunk[2] / _TRUNK_AXES[2]) ** 2  # the curled back
    f_trunk = _length(trunk, _TRUNK_AXES) - 1.0
    nod = _about_axis1(r["nod"] if rotation else 0.0)
    head = _affine(nod, local, _HEAD_CENTRE)
    f_head = _length(head, _HEAD_AXES) - 1.0
    body = np.minimum(f_trunk, f_head) < 0

    texture = 1.0 + 0.2 * np.sin(_affine(r["texture"], local)).sum(axis=0) / 3
    echo = np.where(body, _TISSUE * texture, _FLUID).astype(np.float32)
    brain = f_head < -_BRAIN_DEPTH
    echo[brain] *= _BRAIN / _TISSUE
    # Dark structures that are not ventricles: the heart (the first cavity, larger), small cavities, the spinal
    # canal along the back, the eyes; their fluid echoes about as the ventricles' does.
    cavity = r["cavity_echo"] * r["ventricle_echo"] if vary else _VENTRICLE
    for k, centre in enumerate(r["cavities"]):
        at = _TRUNK_CENTRE + centre * _TRUNK_AXES * [0.4, 0.5, 0.6]
        echo[_length(_affine(np.eye(3), local, at)) < r["cavity_radii"][k] * (1.8 if k == 0 else 1.0)] = cavity
    height, radius = _SPINE
    canal = np.hypot(trunk[0] - height * _TRUNK_AXES[0], trunk[1]) < max(radius, 0.9 * h)
    echo[canal & (np.abs(trunk[2]) < 0.85 * _TRUNK_AXES[2]) & (f_trunk < 0)] = cavity
    for side in (1.0, -1.0):
        eye = _EYES[0] * [1.0, side, 1.0] * _HEAD_AXES
        echo[_length(_affine(np.eye(3), head, eye)) < max(_EYES[1], 1.05 * h)] = cavity

    ventricles = np.zeros(grid.shape[1], bool)
    inner = np.flatnonzero(f_head < -_BRAIN_DEPTH - 0.05)  # a little brain tissue around every ventricle
    ventricles[inner] = _ventricles(head[:, inner], r, h, vary)
    echo[ventricles] = r["ventricle_echo"] if vary else _VENTRICLE

    body, ventricles, echo = body.reshape(cube), ventricles.reshape(cube), echo.reshape(cube)
    skin = body & ~ndimage.binary_erosion(body, iterations=max(1, size // 48))
    echo[skin] = _SKIN
    n = (r["wall"] / np.linalg.norm(r["wall"])).astype(np.float32)  # the uterine wall, beyond a plane missing the body
    side = (n[0] * grid[0] + n[1] * grid[1] + n[2] * grid[2]).reshape(cube)
    echo[side > side[body].max() + r["wall_gap"] + 2 * h] = _TISSUE
    if missing_boundary:  # a cone of the head's outer layer where the surface runs along the beam
        towards = np.array([0.0, np.cos(r["gap_angle"]), np.sin(r["gap_angle"])])
        offsets = _affine(np.eye(3), grid, r["centre"] + rot @ _HEAD_CENTRE)
        cosine = (towards[1] * offsets[1] + towards[2] * offsets[2]) / np.maximum(_length(offsets), 1e-6)
        gap = (cosine > np.cos(r["gap_width"])).reshape(cube) & body
        outer = gap & ((f_head > -_BRAIN_DEPTH) & (f_head <= f_trunk)).reshape(cube)
        echo[outer] = _FLUID
        echo[gap & ~outer & ~ventricles] *= 0.6
    return echo, ventricles, body


def _image(echo: np.ndarray, r: dict) -> np.ndarray:
    """Speckle, depth attenuation and noise applied to an echo map; scaled into [0, 1]."""
    from scipy import ndimage

    size = echo.shape[0]
    re, im = (ndimage.gaussian_filter(g, 0.6) for g in r["speckle"])
    speckle = np.hypot(re, im)
    speckle /= speckle.mean()
    depth = (np.arange(size, dtype=np.float32) + 0.5) / size
    image = echo * speckle * np.exp(-r["attenuation"] * depth)[:, None, None] + np.abs(r["noise"])
    # A fixed scale, not a percentile of this image, so that a change in one place leaves the rest unchanged:
    # the skin's echo times the 97th percentile of the speckle is white.
    return np.clip(image / (2.0 * _SKIN), 0.0, 1.0).astype(np.float32)


def _shift_slabs(arrays: list[np.ndarray], slabs: list) -> list[np.ndarray]:
    """The arrays (image, ventricles, body) with slabs of slices across axis 1 rolled, each slab within the body.

    A slab is (where in the body's extent along axis 1 it starts, 0 to 1; thickness; (shift on axis 0, on axis 2)).
    """
    rows = np.flatnonzero(arrays[2].any(axis=(0, 2)))
    out = [a.copy() for a in arrays]
    for where, thickness, shift in slabs:
        start = rows[0] + int(where * max(len(rows) - thickness, 0))
        for a in out:
            a[:, start:start + thickness, :] = np.roll(a[:, start:start + thickness, :], shift, axis=(0, 2))
    return out


def _check_switches(switches: dict) -> None:
    for name, value in switches.items():
        one_of(value, name, (True, False), note="a challenge switch")


def ultrasound_volume(size: int = 64, *, rotation: bool = True, missing_boundary: bool = True, motion: bool = True,
                      ventricle_variation: bool = True, seed: object = None) -> Volume:
    """One seeded ultrasound-like volume (size³) of a mouse embryo with its ventricle and body masks."""
    size = int_at_least(size, "size", MIN_SIZE, note="the side of the cubic volume in voxels")
    _check_switches(dict(rotation=rotation, missing_boundary=missing_boundary, motion=motion,
                         ventricle_variation=ventricle_variation))
    r = _draws(rng_from(seed, "seed"), size)
    echo, ventricles, body = _embryo(size, r, rotation, missing_boundary, ventricle_variation)
    image = _image(echo, r)
    if motion:
        image, ventricles, body = _shift_slabs([image, ventricles, body], r["slabs"])
    return Volume(image, ventricles, body)


def ultrasound_volumes(n: int, size: int = 64, *, seed: object = None, **challenges: bool) -> list[Volume]:
    """n independent seeded volumes (volume i is the same whatever n is); challenges as in ultrasound_volume."""
    n = positive_int(n, "n")
    for name in challenges:
        one_of(name, "challenge", CHALLENGES, note="a keyword of ultrasound_volume")
    if isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        seeds = seed.spawn(n)
    else:
        seeds = np.random.SeedSequence(optional_seed(seed, "seed")).spawn(n)
    return [ultrasound_volume(size, seed=s, **challenges) for s in seeds]


def stack_volumes(volumes: list[Volume], masks: tuple[str, ...] = ("ventricles",)) -> tuple[np.ndarray, np.ndarray]:
    """Training arrays: images (N, D, H, W, 1) float32 and the named masks as channels (N, D, H, W, len(masks))."""
    if not isinstance(volumes, (list, tuple)) or not volumes or not all(isinstance(v, Volume) for v in volumes):
        raise ValueError(f"volumes={volumes!r:.80}: expected a non-empty list of utils.data.volumes.Volume")
    if isinstance(masks, str) or not isinstance(masks, (tuple, list)) or not masks:
        raise ValueError(f"masks={masks!r}: expected a non-empty tuple of mask names, e.g. ('ventricles', 'body')")
    for name in masks:
        one_of(name, "masks", ("ventricles", "body"))
    shapes = {v.shape for v in volumes}
    if len(shapes) > 1:
        raise ValueError(f"volumes have shapes {sorted(shapes)}: expected one shape to stack them")
    x = np.stack([v.image for v in volumes])[..., None]
    y = np.stack([np.stack([getattr(v, m) for m in masks], axis=-1) for v in volumes]).astype(np.float32)
    return x, y


def augment_volume(volume: Volume, rng: object) -> Volume:
    """volume flipped and rotated by 90° in the axial plane (axes 1, 2) and its intensity jittered; masks alike.

    The depth axis is never flipped: attenuation runs down the beam in every scan. The jitter is a gain in
    [0.8, 1.2] and a gamma in [0.8, 1.25], clipped to [0, 1]. rng is a NumPy Generator or a seed.
    """
    if not isinstance(volume, Volume):
        raise TypeError(f"volume is a {type(volume).__name__}: expected a utils.data.volumes.Volume")
    rng = rng_from(rng, "rng")
    turns, flip_h, flip_w = int(rng.integers(0, 4)), bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    gain, gamma = rng.uniform(0.8, 1.2), np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
    square = volume.shape[1] == volume.shape[2]

    def move(a: np.ndarray) -> np.ndarray:
        if square:  # a quarter turn of a non-square plane would change the shape: only half turns then
            a = np.rot90(a, turns, axes=(1, 2))
        elif turns % 2:
            a = a[:, ::-1, ::-1]
        if flip_h:
            a = a[:, ::-1, :]
        if flip_w:
            a = a[:, :, ::-1]
        return np.ascontiguousarray(a)

    spacing = volume.spacing
    if square and turns % 2:
        spacing = (spacing[0], spacing[2], spacing[1])
    image = np.clip(gain * move(volume.image) ** gamma, 0.0, 1.0).astype(np.float32)
    return Volume(image, move(volume.ventricles), move(volume.body), spacing)


def downsample(volume: Volume, factor: int) -> Volume:
    """volume at 1/factor resolution: the image averaged over factor³ blocks, a mask voxel set where half its block is.

    Every side must be divisible by factor. The spacing grows by factor. Thin ventricles may vanish at large
    factors: that is what a coarse stage sees.
    """
    if not isinstance(volume, Volume):
        raise TypeError(f"volume is a {type(volume).__name__}: expected a utils.data.volumes.Volume")
    factor = positive_int(factor, "factor")
    if any(side % factor for side in volume.shape):
        raise ValueError(f"factor={factor}: the volume's shape {volume.shape} is not divisible by it; expected a "
                         "factor that divides every side")
    d, h, w = (side // factor for side in volume.shape)

    def blocks(a: np.ndarray) -> np.ndarray:
        return a.reshape(d, factor, h, factor, w, factor).mean(axis=(1, 3, 5), dtype=np.float32)

    return Volume(blocks(volume.image), blocks(volume.ventricles) >= 0.5, blocks(volume.body) >= 0.5,
                  tuple(s * factor for s in volume.spacing))
