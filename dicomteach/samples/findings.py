"""Lung findings of a chest CT teaching file: nodules of each kind, a scar, and their mimics.

A radiologist reading a chest CT meets a handful of small lung findings again
and again; each kind has its own density and shape (published ranges, non-
contrast CT):

* **solid nodule**: soft tissue (20–60 HU), round or lobulated, smooth;
* **part-solid nodule**: a solid core in a ground-glass halo; ground glass is
  lung whose air spaces are partly filled, about −700 to −300 HU, and the
  vessels running through it stay visible;
* **ground-glass nodule** (pure): the halo alone, faint, its edge ill defined;
* **spiculated nodule**: a solid core with thin spicules tapering out into the
  lung, and a pleural tag (a line drawn to the pleura) when the pleura is near;
* **calcified granuloma**: small and dense (calcium is over 200 HU) with a
  benign pattern: diffuse, central, laminated or popcorn;
* **scar**: a band, linear on axial slices, running in from the pleura;

and the commonest mimic of a nodule, a vessel seen end-on: a round dot on one
slice that a reader scrolling through sees continue as a vessel
(:func:`end_on_vessels`).

A :class:`Finding` is a shape in patient millimetres (LPS, the coordinates of
:mod:`dicomteach.samples.patient`). :func:`draw_finding` draws it into a CT
volume with partial volume: its box is supersampled (4 positions through the
slice, 3×3 in-plane), each position is calcium, soft tissue, ground glass or
untouched lung, and a voxel takes the mean. Ground glass fills part of the air
of what is there (``hu + share·(40 − hu)``), so a vessel inside keeps its
density; soft tissue and calcium replace it. The share of the voxel the
finding occupies is returned, and the finding's reference segmentation is
where that share is at least one half: the segmentation is the shape drawn.
:func:`place_findings` puts a teaching file's findings in the lungs of a
patient, clear of large vessels, airways and each other. The teaching-file
study that holds them is :mod:`dicomteach.samples.ct_findings`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from dicomteach.errors import DicomTeachError
from dicomteach.samples import patient as anatomy
from dicomteach.samples._shapes import segment_distance
from dicomteach.samples.phantoms import AIRWAY, VESSEL


class FindingsError(DicomTeachError):
    """The findings of a teaching file cannot be placed, or its manifest cannot be read."""


class Kind(enum.StrEnum):
    """What a finding is, in the words of a report."""

    SOLID = "solid nodule"
    PART_SOLID = "part-solid nodule"
    GROUND_GLASS = "ground-glass nodule"
    SPICULATED = "spiculated nodule"
    CALCIFIED = "calcified granuloma"
    SCAR = "scar"


#: Soft tissue of a solid nodule, a spicule, a scar (HU, non-contrast; published 20–60).
SOFT_TISSUE_HU = 35.0
#: Dense calcification (HU); anything over 200 HU in a nodule reads as calcium.
CALCIUM_HU = 850.0
#: What fills the air spaces of ground glass (cells, fluid), in HU ...
FILLING_HU = 40.0
#: ... and the share of the air it fills: lung at −860 HU becomes about −560 HU.
GROUND_GLASS_SHARE = 0.33
#: Calcification patterns a granuloma may show (popcorn is the hamartoma's classic one).
PATTERNS = ("diffuse", "central", "laminated", "popcorn")
#: Positions per voxel averaged for partial volume: through the slice, then in-plane.
SUPERSAMPLE = (4, 3, 3)


@dataclass(frozen=True, eq=False)
class Finding:
    """One finding: its kind, where it is and its shape (patient LPS millimetres).

    ``radius`` is the mean radius (half the diameter) of a nodule, and half
    the length of a scar. The arrays hold what the seed decided:
    ``bumps`` (direction xyz, amplitude) lobulate the outline, ``spicules``
    (direction xyz, length mm, base radius mm) radiate from a spiculated
    core, ``tag`` is the pleural tag's two ends, ``axes`` a scar's frame
    (along, across, through) from its pleural end ``centre − radius·along``.
    """

    kind: Kind
    centre: np.ndarray
    radius: float
    lobe: str
    solid_radius: float = 0.0
    """Radius of a part-solid nodule's solid core (its centre is ``core_offset`` away)."""
    core_offset: np.ndarray = field(default_factory=lambda: np.zeros(3))
    bumps: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    spicules: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    tag: np.ndarray | None = None
    pattern: str = ""
    axes: np.ndarray | None = None
    waves: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))

    @property
    def diameter_mm(self) -> float:
        """Diameter of a nodule, length of a scar (mm), to the millimetre as reports give it."""
        return float(round(2.0 * self.radius))

    @property
    def label(self) -> str:
        """What a report would say: ``"part-solid nodule RUL 14 mm"``.

        >>> Finding(Kind.SOLID, np.zeros(3), 4.6, "LLL").label
        'solid nodule LLL 9 mm'
        """
        return f"{self.kind.value} {self.lobe} {self.diameter_mm:.0f} mm"

    @property
    def reach(self) -> float:
        """Radius (mm) of a sphere round ``centre`` that holds the whole finding, tag included."""
        out = self.radius * (1.0 + float(np.abs(self.bumps[:, 3]).sum()))
        if len(self.spicules):
            out = max(out, self.radius * 1.3 + float(self.spicules[:, 3].max()))
        if self.tag is not None:
            out = max(out, float(np.linalg.norm(self.tag - self.centre, axis=1).max()) + 1.0)
        if self.kind == Kind.SCAR:
            out = self.radius + 8.0
        return out

    def texture(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """A smooth field of unit variance (wavelengths of millimetres) that varies densities."""
        return _waves(self.waves, x, y, z)

    def composition(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray, texture: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What each point holds: calcium, soft tissue, ground glass, pleural tag (exclusive bools).

        ``texture``: :meth:`texture` at the points (or near them), computed if not given.
        """
        texture = self.texture(x, y, z) if texture is None else texture
        false = np.zeros(np.broadcast(x, y, z).shape, dtype=bool)
        calcium, solid, glass, tag = false, false, false.copy(), false
        if self.kind == Kind.SCAR:
            solid = self._scar(x, y, z, texture)
        else:
            # the outline crinkles a little at the scale of the texture (a few millimetres)
            crinkle = 0.09 if self.kind == Kind.SPICULATED else 0.04
            rn = self._normalised_radius(x, y, z, self.centre, self.radius) - crinkle * texture
            if self.kind == Kind.GROUND_GLASS:
                glass = rn <= 1.0
            elif self.kind == Kind.PART_SOLID:
                core = self.centre + self.core_offset
                solid = self._normalised_radius(x, y, z, core, self.solid_radius) <= 1.0
                glass = (rn <= 1.0) & ~solid
            elif self.kind == Kind.CALCIFIED:
                calcium = _calcified(self.pattern, rn, x, y, z, self)
                solid = (rn <= 1.0) & ~calcium
            else:
                solid = rn <= 1.0
                if len(self.spicules):
                    solid = solid | self._spicules(x, y, z)
        if self.tag is not None:
            d, t = segment_distance((x, y, z), self.tag[0], self.tag[1])
            tag = (d <= 0.55 + 0.35 * t) & ~solid & ~calcium
        return calcium, solid, glass & ~calcium, tag

    def _normalised_radius(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray, centre: np.ndarray, radius: float
    ) -> np.ndarray:
        """Distance from ``centre`` over the lobulated radius in that direction (≤ 1 inside)."""
        c = np.asarray(centre, dtype=np.float32)
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        dist = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-6)
        return dist / (np.float32(radius) * self._lobulation(dx / dist, dy / dist, dz / dist))

    def _lobulation(self, ux: np.ndarray, uy: np.ndarray, uz: np.ndarray) -> np.ndarray:
        """1 + smooth bumps on the sphere, each of mean zero over it: the mean radius stays."""
        out = np.ones(np.broadcast(ux, uy, uz).shape, dtype=np.float32)
        sharp = 6.0
        mean = (1.0 - np.exp(-2.0 * sharp)) / (2.0 * sharp)
        for vx, vy, vz, amplitude in self.bumps.astype(np.float32):
            cosine = ux * vx + uy * vy + uz * vz
            out += amplitude * (np.exp(np.float32(sharp) * (cosine - 1)) - np.float32(mean))
        return out

    def _spicules(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Cones from inside the core out into the lung, tapering to a tenth of a millimetre."""
        inside = np.zeros(np.broadcast(x, y, z).shape, dtype=bool)
        # on a grid (x, y, z varying along one axis each) only each spicule's own box is tested
        grid = inside.ndim == 3 and x.shape[:2] == (1, 1) and y.shape[::2] == (1, 1)
        grid = grid and z.shape[1:] == (1, 1)
        for vx, vy, vz, length, base in self.spicules:
            v = np.array([vx, vy, vz])
            surface = self.radius * float(self._lobulation(vx, vy, vz))
            start = self.centre + v * 0.8 * surface
            end = self.centre + v * (surface + length)
            box: tuple[slice, ...] = (slice(None),) * inside.ndim
            xs, ys, zs = x, y, z
            if grid:
                low, high = np.minimum(start, end) - base, np.maximum(start, end) + base
                box = tuple(
                    _span(axis.ravel(), low[i], high[i]) for axis, i in ((z, 2), (y, 1), (x, 0))
                )
                if any(b.start == b.stop for b in box):
                    continue
                zs, ys, xs = z[box[0]], y[:, box[1]], x[:, :, box[2]]
            d, t = segment_distance((xs, ys, zs), start, end)
            inside[box] |= d <= base + (0.1 - base) * t
        return inside

    def _scar(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, texture: np.ndarray) -> np.ndarray:
        """A band from the pleura inwards: thick at the pleura, thinning and narrowing, wavy."""
        assert self.axes is not None
        along, across, through = self.axes
        pleura = self.centre - self.radius * along
        dx, dy, dz = x - pleura[0], y - pleura[1], z - pleura[2]
        s = dx * along[0] + dy * along[1] + dz * along[2]
        w = dx * across[0] + dy * across[1] + dz * across[2]
        h = dx * through[0] + dy * through[1] + dz * through[2]
        length = 2.0 * self.radius
        f = np.clip(s / length, 0.0, 1.0)
        bend = 0.008 * s * s * np.sign(self.bumps[0, 3] if len(self.bumps) else 1.0)
        wave = 0.3 * np.sin(s * 0.45 + 0.2 * w) + 0.2 * texture
        # thick where it pulls on the pleura (a small tent), thinning inwards
        thickness = 3.0 - 1.8 * f + 3.0 * np.clip(1.0 - s / 5.0, 0.0, 1.0)
        half_width = 6.0 - 3.0 * f + 0.8 * texture
        return (
            (s >= -3.0)
            & (s <= length)
            & (np.abs(w) <= half_width)
            & (np.abs(h - bend - wave) <= 0.5 * thickness)
        )


def _span(axis: np.ndarray, low: float, high: float) -> slice:
    """The run of a monotonic ``axis`` between ``low`` and ``high`` (empty if none)."""
    hits = np.flatnonzero((axis >= low) & (axis <= high))
    return slice(int(hits[0]), int(hits[-1]) + 1) if len(hits) else slice(0, 0)


def _calcified(
    pattern: str, rn: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, finding: Finding
) -> np.ndarray:
    """Where a granuloma's calcium lies, by its pattern."""
    if pattern == "diffuse":
        return rn <= 1.0
    if pattern == "central":
        return rn <= 0.5
    if pattern == "laminated":
        return (rn <= 0.3) | ((rn >= 0.55) & (rn <= 0.7)) | ((rn >= 0.85) & (rn <= 1.0))
    if pattern == "popcorn":
        out = np.zeros(rn.shape, dtype=bool)
        for vx, vy, vz, _ in finding.bumps:
            c = finding.centre + 0.5 * finding.radius * np.array([vx, vy, vz])
            blob = (x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2
            out |= blob <= (0.32 * finding.radius) ** 2
        return out & (rn <= 1.0)
    raise ValueError(f"Argument 'pattern' must be one of {PATTERNS}, not {pattern!r}")


def _waves(waves: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """A sum of plane waves: smooth, unit variance, cheap at any point."""
    out = np.zeros(np.broadcast(x, y, z).shape, dtype=np.float32)
    for kx, ky, kz, phase, amplitude in waves.astype(np.float32):
        out += np.float32(amplitude) * np.cos(kx * x + ky * y + kz * z + phase)
    return out


def _random_waves(rng: np.random.Generator, shortest: float, longest: float) -> np.ndarray:
    """Six plane waves of wavelengths between ``shortest`` and ``longest`` mm, unit variance in sum."""
    k = rng.normal(size=(6, 3))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    k *= (2.0 * np.pi / rng.uniform(shortest, longest, 6))[:, None]
    return np.column_stack([k, rng.uniform(0.0, 2.0 * np.pi, 6), np.full(6, np.sqrt(2.0 / 6.0))])


def _random_bumps(rng: np.random.Generator, count: int, amplitude: float) -> np.ndarray:
    v = rng.normal(size=(count, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return np.column_stack([v, rng.uniform(0.4, 1.0, count) * amplitude])


# ---------------------------------------------------------------------------
# drawing into a CT volume


@dataclass
class Drawn:
    """Where a finding was drawn: the box of the volume and the share of each voxel it fills."""

    box: tuple[slice, slice, slice]
    occupancy: np.ndarray
    """Share (0…1) of each voxel of ``box`` inside the finding (its pleural tag left out)."""

    def mask(self, shape: tuple[int, ...]) -> np.ndarray:
        """The finding's reference segmentation on a volume of ``shape``: occupancy ≥ 0.5."""
        out = np.zeros(shape, dtype=bool)
        out[self.box] = self.occupancy >= 0.5
        return out


def draw_finding(
    hu: np.ndarray,
    lung: np.ndarray,
    finding: Finding,
    z_mm: np.ndarray,
    y_mm: np.ndarray,
    x_mm: np.ndarray,
    *,
    slab: float,
    supersample: tuple[int, int, int] = SUPERSAMPLE,
) -> Drawn:
    """Draw ``finding`` into ``hu`` (Hounsfield units) in place, in the lung only; returns its share.

    ``z_mm``, ``y_mm``, ``x_mm``: the coordinates of the volume's slices,
    rows and columns (evenly spaced); ``slab``: the slice thickness
    the positions through a slice are spread over.

    >>> axis = np.arange(-10.0, 10.0, 0.7)
    >>> z = np.arange(-10.0, 10.0, 2.5)
    >>> hu = np.full((len(z), len(axis), len(axis)), -860.0, dtype=np.float32)
    >>> nodule = Finding(Kind.SOLID, np.zeros(3), 4.0, "RUL")
    >>> drawn = draw_finding(hu, hu < 0, nodule, z, axis, axis, slab=2.5)
    >>> bool(-60 < hu[drawn.occupancy.shape[0] // 2 + drawn.box[0].start, 14, 14] < 80)
    True
    """
    box = finding_box(finding, z_mm, y_mm, x_mm)
    zs, ys, xs = z_mm[box[0]], y_mm[box[1]], x_mm[box[2]]
    shape = (len(zs), len(ys), len(xs))
    if 0 in shape:
        return Drawn(box, np.zeros(shape, dtype=np.float32))
    steps = (slab, abs(float(y_mm[1] - y_mm[0])), abs(float(x_mm[1] - x_mm[0])))
    offsets = [
        ((np.arange(n) + 0.5) / n - 0.5) * step for n, step in zip(supersample, steps, strict=True)
    ]
    calcium_sum = np.zeros(shape, dtype=np.float32)
    calcium_hu = np.zeros(shape, dtype=np.float32)
    solid_sum = np.zeros(shape, dtype=np.float32)
    solid_hu = np.zeros(shape, dtype=np.float32)
    glass_fill = np.zeros(shape, dtype=np.float32)
    inside = np.zeros(shape, dtype=np.float32)
    # the texture is smooth over millimetres: once per voxel is enough
    texture = finding.texture(xs[None, None, :], ys[None, :, None], zs[:, None, None])
    for oz in offsets[0]:
        for oy in offsets[1]:
            for ox in offsets[2]:
                z = (zs + np.float32(oz))[:, None, None]
                y = (ys + np.float32(oy))[None, :, None]
                x = (xs + np.float32(ox))[None, None, :]
                calcium, solid, glass, tag = finding.composition(x, y, z, texture)
                calcium_sum += calcium
                calcium_hu += calcium * (CALCIUM_HU * (1.0 + 0.1 * texture))
                dense = solid | tag
                solid_sum += dense
                solid_hu += dense * (SOFT_TISSUE_HU + 10.0 * texture)
                edge = _glass_edge(finding, x, y, z)
                glass_fill += glass * (GROUND_GLASS_SHARE * (1.0 + 0.2 * texture) * edge)
                inside += calcium | solid | glass
    n = np.float32(np.prod(supersample))
    in_lung = lung[box]
    background = hu[box]
    drawn = (
        background
        + (calcium_hu - calcium_sum * background) / n
        + (solid_hu - solid_sum * background) / n
        + glass_fill / n * (FILLING_HU - background)
    )
    hu[box] = np.where(in_lung, drawn, background)
    return Drawn(box, np.where(in_lung, inside / n, np.float32(0.0)))


def finding_box(
    finding: Finding, z_mm: np.ndarray, y_mm: np.ndarray, x_mm: np.ndarray
) -> tuple[slice, slice, slice]:
    """The box of a volume (slices, rows, columns) that :func:`draw_finding` draws ``finding`` in."""
    reach = finding.reach + 1.0
    return tuple(
        _axis_slice(axis, float(finding.centre[i]), reach)
        for axis, i in ((z_mm, 2), (y_mm, 1), (x_mm, 0))
    )


def _glass_edge(finding: Finding, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Ground glass fades over its outer 1.5 mm (a pure ground-glass nodule's margin is ill defined)."""
    if finding.kind not in (Kind.GROUND_GLASS, Kind.PART_SOLID):
        return np.float32(1.0)
    rn = finding._normalised_radius(x, y, z, finding.centre, finding.radius)
    fade = 2.5 if finding.kind == Kind.GROUND_GLASS else 1.2
    return np.clip((1.0 - rn) * finding.radius / fade + 0.35, 0.35, 1.0).astype(np.float32)


def _axis_slice(axis_mm: np.ndarray, centre: float, reach: float) -> slice:
    """The indices of ``axis_mm`` (evenly spaced, either direction) within ``reach`` of ``centre``."""
    step = float(axis_mm[1] - axis_mm[0])
    a, b = sorted(((centre - reach - axis_mm[0]) / step, (centre + reach - axis_mm[0]) / step))
    return slice(max(int(np.floor(a)), 0), min(int(np.ceil(b)) + 1, len(axis_mm)))


# ---------------------------------------------------------------------------
# placing a teaching file's findings in a patient

#: The teaching file's findings in the order they are placed: kind, lobes tried first,
#: diameter (mm) and, for a spiculated nodule, how far (mm) the pleura may be for a tag.
PLAN: tuple[tuple[Kind, tuple[str, ...], float], ...] = (
    (Kind.SPICULATED, ("RUL", "LUL"), 16.0),
    (Kind.PART_SOLID, ("LUL", "RUL"), 14.0),
    (Kind.GROUND_GLASS, ("RLL", "RUL", "LLL"), 12.0),
    (Kind.SOLID, ("LLL", "RLL"), 9.0),
    (Kind.CALCIFIED, ("RML", "RLL", "LUL"), 7.0),
    (Kind.SCAR, ("LUL", "LLL", "RLL"), 26.0),
)
#: Vessels and airways at least this wide (radius, mm) are kept clear of every finding.
LARGE_TUBE_RADIUS = 1.5
#: Room (mm) kept between a finding and a large vessel, an airway or another finding.
CLEARANCE = 3.0


def place_findings(
    person: anatomy.Patient, seed: int, z_range: tuple[float, float], plan=PLAN
) -> list[Finding]:
    """The findings of ``plan`` placed in ``person``'s lungs, decided by ``seed``.

    Each lies wholly in the lung (its surface and a margin round it sampled
    through :func:`dicomteach.samples.patient.tissue`), between ``z_range``
    (mm) with a margin, clear of vessels and airways thicker than
    :data:`LARGE_TUBE_RADIUS` and of the findings placed before it. A
    spiculated nodule is put where the pleura is near enough for a pleural
    tag; a scar starts at the pleura; a ground-glass nodule where a small
    vessel runs through it. Raises :class:`FindingsError` when the lungs
    have no room.

    >>> person = anatomy.make_patient(101, sex="F")
    >>> [f.label for f in place_findings(person, 0, (-200.0, 95.0))][:2]
    ['spiculated nodule RUL 16 mm', 'part-solid nodule LUL 14 mm']
    """
    rng = np.random.default_rng([seed, 0xF1D])
    candidates = _lung_candidates(person, rng, z_range)
    tubes = _tube_table(person)
    placed: list[Finding] = []
    for kind, lobes, diameter in plan:
        finding = _place_one(person, rng, candidates, tubes, placed, kind, lobes, diameter, z_range)
        placed.append(finding)
    return placed


def _lung_candidates(
    person: anatomy.Patient, rng: np.random.Generator, z_range: tuple[float, float]
) -> np.ndarray:
    """Points in the lungs, uniform, in a random order; with the lobe of each (last column)."""
    low, high = max(z_range[0], person.dome_left - 90.0), min(z_range[1], person.apex)
    box = rng.uniform(
        [-person.half_width, -person.half_depth, low],
        [person.half_width, person.half_depth, high],
        (6000, 3),
    )
    _, label = anatomy.tissue(person, box[:, 0], box[:, 1], box[:, 2])
    points = box[label == anatomy.Tissue.LUNG]
    lobes = person.lobe(points[:, 0], points[:, 1], points[:, 2])
    return np.column_stack([points, lobes])


def _tube_table(person: anatomy.Patient) -> tuple[np.ndarray, ...]:
    """Large vessels and airways (with their wall) as segments: p0, p1, radius."""
    tubes = person.tubes
    radius = np.maximum(tubes.r0, tubes.r1)
    wall = np.where(tubes.kind == AIRWAY, np.maximum(0.18 * radius, 0.9), 0.0)
    keep = ((tubes.kind == VESSEL) | (tubes.kind == AIRWAY)) & (radius >= LARGE_TUBE_RADIUS)
    small = (tubes.kind == VESSEL) & (radius >= 0.7) & (radius < LARGE_TUBE_RADIUS)
    return tubes.p0[keep], tubes.p1[keep], (radius + wall)[keep], tubes.p0[small], tubes.p1[small]


def _clearance(point: np.ndarray, p0: np.ndarray, p1: np.ndarray, radius: np.ndarray) -> float:
    """Distance (mm) from ``point`` to the surface of the nearest of the tubes (negative inside)."""
    if not len(p0):
        return np.inf
    step = p1 - p0
    t = np.clip(((point - p0) * step).sum(1) / np.maximum((step * step).sum(1), 1e-9), 0.0, 1.0)
    d = np.linalg.norm(p0 + t[:, None] * step - point, axis=1)
    return float((d - radius).min())


def _sphere(count: int) -> np.ndarray:
    """``count`` directions spread evenly over the sphere (a Fibonacci lattice)."""
    i = np.arange(count) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / count)
    azimuth = np.pi * (1.0 + 5.0**0.5) * i
    return np.column_stack(
        [np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)]
    )


_DIRECTIONS = _sphere(64)


def _all_lung(person: anatomy.Patient, points: np.ndarray) -> bool:
    _, label = anatomy.tissue(person, points[:, 0], points[:, 1], points[:, 2])
    return bool((label == anatomy.Tissue.LUNG).all())


def _pleura(person: anatomy.Patient, point: np.ndarray, reach: float) -> tuple[float, np.ndarray]:
    """Distance (mm) to the nearest point that is not lung, within ``reach``, and that point."""
    steps = np.arange(1.0, reach + 1.0, 1.0)
    rays = point + _DIRECTIONS[:, None, :] * steps[None, :, None]
    flat = rays.reshape(-1, 3)
    _, label = anatomy.tissue(person, flat[:, 0], flat[:, 1], flat[:, 2])
    outside = (label != anatomy.Tissue.LUNG).reshape(len(_DIRECTIONS), len(steps))
    if not outside.any():
        return np.inf, point
    first = np.where(outside.any(1), outside.argmax(1), len(steps))
    ray = int(first.argmin())
    return float(steps[first[ray]]), rays[ray, first[ray]]


def _costal(person: anatomy.Patient, point: np.ndarray) -> bool:
    """Whether ``point`` (just past the lung's edge) lies on the chest wall, not the mediastinum.

    The hemithorax of :meth:`dicomteach.samples.patient.Patient.hemithorax` is the cavity
    inside the ribs: a point of its rim's outer part is costal pleura.
    """
    cx, cy, ax, by = (float(v) for v in person.hemithorax(np.array(point[2])))
    if ax < 1.0 or by < 1.0:
        return False
    rho = (abs((abs(point[0]) - cx) / ax) ** 2.2 + abs((point[1] - cy) / by) ** 2.2) ** (1 / 2.2)
    return bool(rho > 0.9 and abs(point[0]) > cx - 0.3 * ax)


def _place_one(
    person: anatomy.Patient,
    rng: np.random.Generator,
    candidates: np.ndarray,
    tubes: tuple[np.ndarray, ...],
    placed: list[Finding],
    kind: Kind,
    lobes: tuple[str, ...],
    diameter: float,
    z_range: tuple[float, float],
) -> Finding:
    radius = diameter / 2.0
    wanted = [anatomy.LOBES.index(name) for name in lobes]
    order = sorted(
        range(len(candidates)),
        key=lambda i: wanted.index(int(candidates[i, 3])) if int(candidates[i, 3]) in wanted else 9,
    )
    for i in order[:1500]:
        centre = candidates[i, :3]
        finding = _shape(person, rng, kind, centre, radius, anatomy.LOBES[int(candidates[i, 3])])
        if finding is not None and _fits(person, finding, tubes, placed, z_range):
            return finding
    raise FindingsError(f"no room in the lungs for a {diameter:g} mm {kind.value}")


def _shape(
    person: anatomy.Patient,
    rng: np.random.Generator,
    kind: Kind,
    centre: np.ndarray,
    radius: float,
    lobe: str,
) -> Finding | None:
    """The finding of ``kind`` at ``centre``, its shape drawn from ``rng``; None if it cannot be there."""
    waves = _random_waves(rng, 3.0, 9.0)
    if kind == Kind.SCAR:
        distance, wall = _pleura(person, centre, 14.0)
        if not np.isfinite(distance) or not _costal(person, wall):
            return None
        along = (centre - wall) / np.linalg.norm(centre - wall)
        along = along + rng.normal(0.0, 0.25, 3) * np.array([1.0, 1.0, 0.3])
        along[2] *= 0.3  # in the axial plane, or nearly: linear on axial slices
        along /= np.linalg.norm(along)
        across = np.array([0.0, 0.0, 1.0]) - along[2] * along
        across = across / np.linalg.norm(across)
        tilt = rng.uniform(-0.35, 0.35)
        through = np.cross(along, across)
        across, through = (
            np.cos(tilt) * across + np.sin(tilt) * through,
            -np.sin(tilt) * across + np.cos(tilt) * through,
        )
        bend = np.array([[0.0, 0.0, 0.0, rng.choice([-1.0, 1.0])]])
        return Finding(
            kind,
            wall + along * (radius - 1.0),
            radius,
            lobe,
            bumps=bend,
            axes=np.array([along, across, through]),
            waves=_random_waves(rng, 4.0, 12.0),
        )
    spiculated = kind == Kind.SPICULATED
    bumps = _random_bumps(rng, 9 if spiculated else 6, 0.5 if spiculated else 0.22)
    if spiculated:
        distance, wall = _pleura(person, centre, radius + 16.0)
        if not (radius + 5.0 <= distance <= radius + 16.0) or not _costal(person, wall):
            return None
        # spicules lean towards the axial plane, where a reader sees them whole
        v = rng.normal(size=(32, 3)) * np.array([1.0, 1.0, 0.5])
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        spicules = np.column_stack(
            [v, rng.uniform(0.3, 1.5, 32) * radius, rng.uniform(0.5, 1.1, 32)]
        )
        start = centre + (wall - centre) / distance * radius * 0.8
        return Finding(
            kind,
            centre,
            radius,
            lobe,
            bumps=bumps,
            spicules=spicules,
            tag=np.array([start, wall + (wall - centre) / distance * 2.0]),
            waves=waves,
        )
    if kind == Kind.PART_SOLID:
        offset = rng.normal(0.0, 1.0, 3) * radius * 0.15
        return Finding(
            kind,
            centre,
            radius,
            lobe,
            solid_radius=radius * 0.42,
            core_offset=offset,
            bumps=bumps,
            waves=waves,
        )
    if kind == Kind.CALCIFIED:
        pattern = str(rng.choice(PATTERNS))
        return Finding(kind, centre, radius, lobe, bumps=bumps * 0.3, pattern=pattern, waves=waves)
    return Finding(kind, centre, radius, lobe, bumps=bumps, waves=waves)


def _fits(
    person: anatomy.Patient,
    finding: Finding,
    tubes: tuple[np.ndarray, ...],
    placed: list[Finding],
    z_range: tuple[float, float],
) -> bool:
    """In the lung, inside the imaged range, clear of large tubes and of other findings."""
    reach = finding.reach
    low, high = sorted(z_range)
    if not low + reach + 5.0 <= finding.centre[2] <= high - reach - 5.0:
        return False
    for other in placed:
        if np.linalg.norm(other.centre - finding.centre) < other.reach + reach + CLEARANCE + 4.0:
            return False
    big0, big1, big_r, small0, small1 = tubes
    if finding.kind == Kind.SCAR:
        assert finding.axes is not None
        line = finding.centre + np.outer(
            np.linspace(-0.6, 1.0, 5) * finding.radius, finding.axes[0]
        )
        inner = line[1:]
        if not _all_lung(person, inner):
            return False
        return all(_clearance(p, big0, big1, big_r) > 2.0 + CLEARANCE for p in inner)
    body = finding.radius * 1.15
    if _clearance(finding.centre, big0, big1, big_r) < body + CLEARANCE:
        return False
    shell = finding.centre + _DIRECTIONS * (body + CLEARANCE)
    if finding.kind == Kind.SPICULATED:
        shell = finding.centre + _DIRECTIONS * (body + 1.0)  # its spicules and tag reach the pleura
    if not _all_lung(person, np.vstack([finding.centre, shell])):
        return False
    if finding.kind == Kind.GROUND_GLASS:
        # a small vessel through it, to show that ground glass leaves vessels visible
        return (
            _clearance(finding.centre, small0, small1, np.zeros(len(small0))) < 0.5 * finding.radius
        )
    return True


# ---------------------------------------------------------------------------
# mimics: vessels seen end-on


@dataclass(frozen=True, eq=False)
class Mimic:
    """A vessel running through the slices, seen end-on: a round dot that is no nodule."""

    vessel: str
    """``"artery"`` or ``"vein"``."""
    lobe: str
    centre: np.ndarray
    """A point on its axis (patient LPS mm) ..."""
    diameter_mm: float
    z_range: tuple[float, float]
    """... and the heights (mm) between which it runs within 25° of the body's long axis."""

    @property
    def label(self) -> str:
        """``"vessel seen end-on RLL 3.4 mm"``."""
        return f"vessel seen end-on {self.lobe} {self.diameter_mm:.1f} mm"


#: Vessels thinner than this (diameter, mm) are not listed as nodule mimics.
MIMIC_DIAMETER = 2.4


def end_on_vessels(
    person: anatomy.Patient,
    hu: np.ndarray,
    z_mm: np.ndarray,
    y_mm: np.ndarray,
    x_mm: np.ndarray,
    findings: list[Finding],
    *,
    count: int = 4,
) -> list[Mimic]:
    """Up to ``count`` vessels of ``person``'s tree that a CT (``hu``) shows end-on, thickest first.

    A vessel qualifies where two successive segments of its tree run within
    25° of the long axis, it is at least :data:`MIMIC_DIAMETER` wide, lies
    in the lung away from every finding, and ``hu`` shows it dense (over
    −300 HU) on the slice through its middle and on the slices either side:
    the round dot a reader scrolling through sees continue as a vessel. The
    ones chosen lie at least 30 mm apart, from as many lobes as there are.
    """
    candidates = []
    for vessel, trees in (("artery", person.arteries), ("vein", person.veins)):
        for tree in trees:
            candidates += _steep_runs(vessel, tree)
    candidates.sort(key=lambda c: -c[3])
    chosen: list[Mimic] = []
    lobes_used: set[str] = set()
    for second_round in (False, True):
        for vessel, centre, span, radius in candidates:
            if len(chosen) >= count:
                return chosen
            lobe = anatomy.LOBES[int(person.lobe(*centre)[()])]
            if (lobe in lobes_used) != second_round:
                continue
            if any(np.linalg.norm(centre - m.centre) < 30.0 for m in chosen):
                continue
            if any(np.linalg.norm(centre - f.centre) < f.reach + 10.0 for f in findings):
                continue
            if not _all_lung(person, centre[None, :]) or not _shows(
                hu, centre, span, z_mm, y_mm, x_mm
            ):
                continue
            chosen.append(
                Mimic(
                    vessel,
                    lobe,
                    centre,
                    round(2.0 * radius, 1),
                    (float(span[0][2]), float(span[1][2])),
                )
            )
            lobes_used.add(lobe)
    return chosen


def _steep_runs(vessel: str, tree: anatomy.Tree) -> list[tuple[str, np.ndarray, tuple, float]]:
    """Nodes whose segment from the parent and the parent's own both run near the long axis."""
    parent = tree.parent
    node = np.flatnonzero((parent >= 0) & (parent[np.maximum(parent, 0)] >= 0))
    mid, top = parent[node], parent[parent[node]]
    lower, upper = tree.xyz[node] - tree.xyz[mid], tree.xyz[mid] - tree.xyz[top]

    def steep(v: np.ndarray) -> np.ndarray:
        return np.abs(v[:, 2]) >= np.cos(np.radians(25.0)) * np.linalg.norm(v, axis=1)

    keep = steep(lower) & steep(upper) & (2.0 * tree.radius[node] >= MIMIC_DIAMETER)
    return [
        (vessel, tree.xyz[m], (tree.xyz[t], tree.xyz[n]), float(tree.radius[n]))
        for n, m, t in zip(node[keep], mid[keep], top[keep], strict=True)
    ]


def _shows(
    hu: np.ndarray,
    centre: np.ndarray,
    span: tuple[np.ndarray, np.ndarray],
    z_mm: np.ndarray,
    y_mm: np.ndarray,
    x_mm: np.ndarray,
) -> bool:
    """Dense on the slice through ``centre`` and on its neighbours, along the vessel's axis."""
    dz = float(z_mm[1] - z_mm[0])
    k = int(round((centre[2] - z_mm[0]) / dz))
    if not 1 <= k < len(z_mm) - 1:
        return False
    for kk in (k - 1, k, k + 1):
        z = float(z_mm[kk])
        a, b = span
        low, high = sorted((a, b), key=lambda p: p[2])
        t = np.clip((z - low[2]) / max(high[2] - low[2], 1e-6), 0.0, 1.0)
        point = low + t * (high - low) if low[2] <= z <= high[2] else (centre if kk == k else None)
        if point is None:
            return False
        i = int(round((point[1] - y_mm[0]) / (y_mm[1] - y_mm[0])))
        j = int(round((point[0] - x_mm[0]) / (x_mm[1] - x_mm[0])))
        if not (0 <= i < hu.shape[1] and 0 <= j < hu.shape[2]):
            return False
        if hu[kk, max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2].max() < -300.0:
            return False
        if kk == k and not _isolated(hu[k], i, j, float(abs(y_mm[1] - y_mm[0]))):
            return False
    return True


def _isolated(plane: np.ndarray, i: int, j: int, pixel: float) -> bool:
    """Lung all round (a ring 3.5–8 mm out is at most 15 % dense): a dot, not a hilar crowd."""
    reach = int(np.ceil(8.0 / pixel))
    rows = np.arange(i - reach, i + reach + 1)
    cols = np.arange(j - reach, j + reach + 1)
    if rows[0] < 0 or cols[0] < 0 or rows[-1] >= plane.shape[0] or cols[-1] >= plane.shape[1]:
        return False
    r = np.hypot(*np.meshgrid(rows - i, cols - j, indexing="ij")) * pixel
    ring = plane[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1][(r >= 3.5) & (r <= 8.0)]
    return bool((ring > -500.0).mean() <= 0.15)
