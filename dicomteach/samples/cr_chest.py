"""Chest radiograph (CR, PA) with a lung mass, and the prior of a year before without it.

Agfa-style computed radiography: MONOCHROME1 (the lowest stored value is
white), 12 bits, 0.15 mm pixels given as Imager Pixel Spacing and Pixel
Spacing, Patient Orientation ``L\\F`` (a PA film hung as if facing the
patient: columns run to the patient's left, rows to the feet).

* ``current/IM000001.dcm``: a 4 cm mass in the left upper zone; JPEG-LS Lossless;
* ``prior/IM000001.dcm``: a year earlier, no mass, positioned and exposed a
  little differently; Explicit VR Little Endian.

A radiograph is a 2D projection, so the image is built directly in 2D: every
structure is an analytic shape whose line integral along the beam (its
"chord") is added to a path image in millimetres of tissue times attenuation:
the soft-tissue body with shoulders, arms and axillae; the lungs as air whose
thickness grows as the square root of the distance to their edge (the beam
grazes a curved surface), with rounded apices, curved lateral walls, domed
hemidiaphragms and sharp costophrenic angles; the heart, aortic knuckle,
trachea, gastric bubble; branching pulmonary vessels; bones with cortical
shells (ribs as elliptic arcs, S-shaped clavicles, scapulae, humeral heads,
the spine). Then the film-like processing of a CR reader: log signal with
quantum noise, large-kernel equalisation, mild unsharp masking and a gentle
latitude curve. High exposure (lungs, air) is stored high, so it is displayed
dark once MONOCHROME1 is inverted.

Anatomy coordinates are millimetres: ``x`` to the patient's left (image
right), ``y`` down from the top of the 375 mm field. ``p = side·x`` is the
lateral distance on one side (right lung: ``side = −1``).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, JPEGLSLossless

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.writer import new_instance
from dicomteach.samples._common import Patient, patient_module, sample_uid
from dicomteach.samples._shapes import segment_distance

#: The fictitious patient of both radiographs.
PATIENT = Patient("TEACHING^MASS", "DTCR0001", "19510930", "M")
PIXEL_MM = 0.15
#: Height of the full 2500-row field (mm); anatomy ``y`` runs over it.
FIELD_MM = 375.0

# attenuation (1/mm) at the effective energy: soft tissue, and the differences drawn
MU_SOFT = 0.0218
D_AIR = 0.0218  # soft tissue → air (trachea, stomach)
D_LUNG = 0.0187  # soft tissue → aerated lung
K_CORTEX = 0.0365  # cortical bone over soft tissue
K_MARROW = 0.0055  # cancellous bone over soft tissue

F32 = np.float32
#: Anatomy ``y`` at the centre of the film (the field starts 22 mm above ``y = 0``).
_FIELD_CENTRE = FIELD_MM / 2.0 - 22.0


@dataclasses.dataclass(frozen=True)
class _Exam:
    name: str
    study_date: date
    study_time: str
    accession: str
    transfer_syntax: str
    lesion: bool
    shift_mm: tuple[float, float]  # where the anatomy sits relative to the current film
    degrees: float  # rotation of the patient in the image plane
    exposure: float  # log-exposure offset (a different mAs)
    inspiration_mm: float  # how much lower the domes are than on the current film


_EXAMS = (
    _Exam(
        "current",
        date(2025, 5, 12),
        "101244",
        "DTA25051201",
        JPEGLSLossless,
        True,
        (0.0, 0.0),
        0.0,
        0.0,
        0.0,
    ),
    _Exam(
        "prior",
        date(2024, 5, 14),
        "083011",
        "DTA24051401",
        ExplicitVRLittleEndian,
        False,
        (3.5, -5.0),
        1.1,
        0.09,
        -5.0,
    ),
)


def write(dest: str | Path, *, seed: int = 0, rows: int = 2500, columns: int = 2000) -> list[Path]:
    """Write the current and the prior PA chest radiograph under ``dest``; returns the files."""
    dest = Path(dest)
    written = []
    anatomy = _anatomy(seed)
    for number, exam in enumerate(_EXAMS):
        rng = np.random.default_rng([seed, number, 0xC2])
        image = radiograph(anatomy, exam, rows, columns, rng)
        ds = _dataset(image, exam, seed)
        if exam.transfer_syntax != ExplicitVRLittleEndian:
            ds.compress(exam.transfer_syntax, image, generate_instance_uid=False)
        written.append(save_dataset_atomically(ds, dest / exam.name / "IM000001.dcm"))
    return written


def mass_pixel(
    seed: int = 0, exam: str = "current", *, rows: int = 2500, columns: int = 2000
) -> tuple[float, float]:
    """(row, column) of the centre of the mass on ``exam`` (where it would be on the prior)."""
    film = next(e for e in _EXAMS if e.name == exam)
    x, y = _anatomy(seed).mass_centre
    row, col = _Grid(rows, columns, film.shift_mm, film.degrees).pixel(x, y)
    return float(row), float(col)


# ---------------------------------------------------------------------------
# geometry helpers


def _smooth(t: np.ndarray | float) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _chord(r: np.ndarray | float, d: np.ndarray) -> np.ndarray:
    """Chord through a circle of radius ``r`` at distance ``d`` from its centre."""
    return 2.0 * np.sqrt(np.maximum(r * r - d * d, 0.0))


def _bump(y: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-(((y - centre) / width) ** 2))


class _Grid:
    """Pixel ↔ anatomy mapping of one film: a shift and a small rotation about the centre."""

    def __init__(self, rows: int, columns: int, shift: tuple[float, float], degrees: float):
        self.shape = (rows, columns)
        self.xp = ((np.arange(columns) - (columns - 1) / 2.0) * PIXEL_MM).astype(F32)
        self.yp = ((np.arange(rows) - (rows - 1) / 2.0) * PIXEL_MM).astype(F32)
        a = np.radians(degrees)
        self.c, self.s = F32(np.cos(a)), F32(np.sin(a))
        self.shift = shift

    def coords(self, rs: slice = slice(None), cs: slice = slice(None)):
        """Anatomy (x, y) of the pixels of a block (2D float32 arrays)."""
        xp, yp = self.xp[cs][None, :], self.yp[rs][:, None]
        x = self.c * xp - self.s * yp + F32(self.shift[0])
        y = self.s * xp + self.c * yp + F32(self.shift[1] + _FIELD_CENTRE)
        return x, y

    def pixel(self, x, y):
        """(row, column) of anatomy points (the inverse of :meth:`coords`)."""
        dx = np.asarray(x, float) - self.shift[0]
        dy = np.asarray(y, float) - self.shift[1] - _FIELD_CENTRE
        xp = float(self.c) * dx + float(self.s) * dy
        yp = -float(self.s) * dx + float(self.c) * dy
        rows, cols = self.shape
        return yp / PIXEL_MM + (rows - 1) / 2.0, xp / PIXEL_MM + (cols - 1) / 2.0

    def box(self, x0: float, x1: float, y0: float, y1: float):
        """Pixel slices covering the anatomy rectangle, or None when it is off the film."""
        rs, cs = self.pixel([x0, x1, x0, x1], [y0, y0, y1, y1])
        rows, cols = self.shape
        r0, r1 = max(int(np.floor(rs.min())) - 1, 0), min(int(np.ceil(rs.max())) + 2, rows)
        c0, c1 = max(int(np.floor(cs.min())) - 1, 0), min(int(np.ceil(cs.max())) + 2, cols)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)


def _tube(grid, out, a, b, r0, r1, gain, *, combine="add", weight=None):
    """A tapered tube from ``a`` to ``b`` (its chord times ``gain``) into ``out``."""
    r = max(r0, r1) + 0.5
    box = grid.box(
        min(a[0], b[0]) - r, max(a[0], b[0]) + r, min(a[1], b[1]) - r, max(a[1], b[1]) + r
    )
    if box is None:
        return
    x, y = grid.coords(*box)
    d, t = segment_distance((x, y), a, b)
    value = (gain * _chord(r0 + (r1 - r0) * t, d)).astype(F32)
    if weight is not None:
        value *= weight[box]
    if combine == "max":
        np.maximum(out[box], value, out=out[box])
    else:
        out[box] += value


# ---------------------------------------------------------------------------
# the anatomy of the patient (one per seed: the same on both films)


@dataclasses.dataclass(frozen=True)
class _Side:
    side: int  # −1 right (image left), +1 left
    apex: float  # top of the lung (y)
    centre: float  # lateral position of the apex ellipse (p)
    half_width: float  # its half width: lateral wall at centre + half_width
    shoulder: float  # y where the apex ellipse meets the lateral wall
    bulge: float  # how much the lateral wall widens further down
    dome: float  # y of the top of the hemidiaphragm
    dome_p: float  # p of the top of the dome
    hilum: tuple[float, float]  # (p, y)


@dataclasses.dataclass
class _Anatomy:
    right: _Side
    left: _Side
    heart_centre: tuple[float, float]
    heart_axes: tuple[float, float]
    heart_degrees: float
    mass_centre: tuple[float, float]
    mass_harmonics: np.ndarray  # (n, 3): amplitude, order, phase
    mass_spicules: np.ndarray  # (n, 2): angle, length (mm)
    vessels: list[tuple[tuple[float, float], tuple[float, float], float, float]]
    inspiration: float = 0.0
    seed: int = 0

    def sides(self) -> tuple[_Side, _Side]:
        return self.right, self.left

    # lungs --------------------------------------------------------------
    def lateral(self, s: _Side, y):
        """Lateral lung edge (p) at height ``y``: a rounded apex, then a gently curving wall."""
        dy = np.asarray(y, F32) - s.shoulder
        ay = s.shoulder - s.apex
        upper = s.centre + s.half_width * np.sqrt(np.clip(1.0 - (dy / ay) ** 2, 0.0, 1.0))
        lower = s.centre + s.half_width + s.bulge * (1.0 - np.exp(-np.maximum(dy, 0.0) / 110.0))
        return np.where(dy < 0, upper, lower)

    def medial(self, s: _Side, y):
        """Medial lung edge (p): paratracheal, SVC or aortic knuckle, then the spine behind the heart."""
        y = np.asarray(y, F32)
        heart_level = _smooth((y - 190.0) / 28.0)
        if s.side < 0:
            # the right paratracheal stripe, then the superior vena cava
            upper = 19.0 + 9.0 * _smooth((y - 80.0) / 40.0) + 2.0 * _bump(y, 150.0, 15.0)
            return upper * (1 - heart_level) + 16.0 * heart_level
        # the aortic knuckle, the aortopulmonary window, the pulmonary trunk
        upper = 20.0 + 16.0 * _bump(y, 128.0, 12.0) + 10.0 * _bump(y, 160.0, 16.0)
        return upper * (1 - heart_level) + 25.0 * heart_level  # the descending aorta

    def dome(self, s: _Side, p):
        """The hemidiaphragm (y) under the lung: a dome falling steeply to a sharp angle laterally."""
        p = np.asarray(p, F32)
        top = s.dome + self.inspiration
        wall = s.centre + s.half_width + s.bulge
        lateral = np.clip((p - s.dome_p) / (wall - s.dome_p), 0.0, 1.2) ** 2.4
        medial = np.clip((s.dome_p - p) / (s.dome_p - 12.0), 0.0, 1.0) ** 2
        return top + 40.0 * lateral + 16.0 * medial

    def lung_distances(self, s: _Side, x, y):
        """Distances (mm, > 0 inside) to the chest wall / mediastinum and to the diaphragm."""
        p = s.side * x
        ay = s.shoulder - s.apex
        dy = y - s.shoulder
        u = (p - s.centre) / s.half_width
        v = dy / ay
        f = np.sqrt(u * u + v * v) + F32(1e-6)
        g = np.sqrt((u / s.half_width) ** 2 + (v / ay) ** 2) / f
        apex = (1.0 - f) / np.maximum(g, F32(1e-4))
        wall = self.lateral(s, y) - p
        outer = np.where(dy < 0, np.minimum(apex, wall), wall)
        # the mediastinal surface is gently curved: counted at half the distance
        medial = 0.5 * (p - self.medial(s, y))
        # a smooth minimum: the apex curves into the mediastinum without a corner
        k = F32(5.0)
        low = np.minimum(outer, medial)
        side = low - k * np.log1p(np.exp(-np.abs(outer - medial) / k))
        return side, self.dome(s, p) - y

    def lung_depth(self, s: _Side, x, y, heart):
        """Thickness of aerated lung along the beam (mm), less where the heart displaces it."""
        side, below = self.lung_distances(s, x, y)
        full = F32(150.0) * (0.5 + 0.5 * _smooth((y - 45.0) / 130.0))
        r2 = F32(8.0 * 60.0)  # chord through a curved surface: 2·sqrt(2·R·d)
        t_side = np.tanh(np.sqrt(r2 * np.maximum(side, 0.0)) / full)
        above = np.maximum(below, 0.0)
        # behind the heart and the domes the lower lobes and posterior recesses still hold
        # some lung, less and less towards the spine
        medial = _smooth((s.side * x - self.medial(s, y)) / 35.0)
        back = np.where(below >= 0, 0.2 - 0.12 * heart, 0.2 * np.exp(np.minimum(below, 0.0) / 20.0))
        front = np.where(below >= 0, 0.8 * np.tanh(np.sqrt(r2 * above) / full), 0.0)
        return (full * t_side * (front * (1.0 - 0.95 * heart) + back * medial)).astype(F32)

    def inside_lung(self, s: _Side, x: float, y: float) -> float:
        side, below = self.lung_distances(s, np.array([x], F32), np.array([y], F32))
        return float(min(side[0], below[0]))

    # heart --------------------------------------------------------------
    def heart_fraction(self, x, y):
        """How much of the beam's lung path the heart displaces (0..1), sharp at its border."""
        a = np.radians(self.heart_degrees)
        dx, dy = x - self.heart_centre[0], y - self.heart_centre[1]
        u = (np.cos(a) * dx + np.sin(a) * dy) / self.heart_axes[0]
        v = (-np.sin(a) * dx + np.cos(a) * dy) / self.heart_axes[1]
        # the right atrium bulges a little more than the ellipse
        cy = self.heart_centre[1]
        ra = (
            1.0
            + 0.05 * _bump(y, cy - 8.0, 22.0) * (x < 0)
            + 0.05 * _bump(y, cy + 10.0, 18.0) * (x > 30)
        )
        f = np.sqrt(u * u + v * v) / ra + F32(1e-6)
        g = np.sqrt((u / self.heart_axes[0]) ** 2 + (v / self.heart_axes[1]) ** 2) / f
        d = np.maximum((1.0 - f) / np.maximum(g, F32(1e-4)), 0.0)
        return np.tanh(np.sqrt(F32(2 * 45.0) * d) / F32(22.0)).astype(F32)


def _anatomy(seed: int) -> _Anatomy:
    rng = np.random.default_rng([seed, 0xC4E5])
    j = lambda spread: float(rng.uniform(-spread, spread))  # noqa: E731
    right = _Side(
        -1, 52 + j(2), 64 + j(2), 56 + j(2), 150 + j(4), 15 + j(1.5), 246 + j(3), 66, (47, 170)
    )
    left = _Side(
        1, 55 + j(2), 65 + j(2), 55 + j(2), 150 + j(4), 15 + j(1.5), 267 + j(3), 70, (50, 160)
    )
    anatomy = _Anatomy(
        right,
        left,
        heart_centre=(17 + j(2), 229 + j(2)),
        heart_axes=(60 + j(1.5), 40 + j(1.5)),
        heart_degrees=32 + j(2),
        mass_centre=(76 + j(3), 118 + j(3)),
        mass_harmonics=np.column_stack(
            [rng.uniform(0.03, 0.08, 4), rng.integers(2, 6, 4), rng.uniform(0, 2 * np.pi, 4)]
        ),
        mass_spicules=np.column_stack([rng.uniform(0, 2 * np.pi, 7), rng.uniform(5, 14, 7)]),
        vessels=[],
        seed=seed,
    )
    anatomy.vessels = _vessel_trees(anatomy, np.random.default_rng([seed, 0x7EE5]))
    return anatomy


def _vessel_trees(anatomy: _Anatomy, rng: np.random.Generator):
    """Pulmonary vessels branching from the hila, thinning to nothing in the outer third."""
    segments = []
    for s in anatomy.sides():
        hp, hy = s.hilum
        # (direction in (p, y), radius, length): upper, lateral and lower lobe trunks
        trunks = [
            ((0.3, -1.0), 3.4, 22.0),
            ((0.9, -1.0), 3.0, 20.0),
            ((1.0, -0.3), 2.8, 18.0),
            ((1.0, 0.4), 3.0, 18.0),
            ((0.8, 1.0), 3.6, 22.0),
            ((0.35, 1.0), 3.8, 24.0),
            ((0.0, 1.0), 3.4, 22.0),
        ]
        stack = []
        for (dp, dy), radius, length in trunks:
            norm = np.hypot(dp, dy)
            stack.append(((hp, hy), (dp / norm, dy / norm), radius, length, 0))
        while stack:
            (p0, y0), (dp, dy), r, length, depth = stack.pop()
            bend = rng.normal(0.0, 0.12)
            c, sn = np.cos(bend), np.sin(bend)
            dp, dy = c * dp - sn * dy, sn * dp + c * dy
            p1, y1 = p0 + dp * length, y0 + dy * length
            room = anatomy.inside_lung(s, s.side * p1, y1)
            if room < 2.0:
                continue
            r1 = r * (0.85 if depth == 0 else 0.94)
            segments.append(((s.side * p0, y0), (s.side * p1, y1), r, r1))
            if r1 < 0.5 or depth >= 12 or room < 4.0 + 3.0 * r1:
                continue
            turn = rng.uniform(0.3, 0.6)
            sign = 1.0 if rng.random() < 0.5 else -1.0
            for angle, shrink, grow in (
                (-sign * turn * 0.4, 0.9, 0.88),
                (sign * turn * 1.3, 0.7, 0.75),
            ):
                c, sn = np.cos(angle), np.sin(angle)
                stack.append(
                    (
                        (p1, y1),
                        (c * dp - sn * dy, sn * dp + c * dy),
                        r1 * shrink,
                        length * grow * rng.uniform(0.85, 1.15),
                        depth + 1,
                    )
                )
    return segments


# ---------------------------------------------------------------------------
# drawing one film


def radiograph(
    anatomy: _Anatomy, exam: _Exam, rows: int, columns: int, rng: np.random.Generator
) -> np.ndarray:
    """Stored values (uint16, 12 bits, MONOCHROME1 sense) of a processed PA chest radiograph."""
    anatomy = dataclasses.replace(anatomy, inspiration=exam.inspiration_mm)
    grid = _Grid(rows, columns, exam.shift_mm, exam.degrees)
    x, y = grid.coords()
    path = MU_SOFT * _body_thickness(x, y)
    del x, y
    air = np.zeros(grid.shape, F32)
    heart = np.zeros(grid.shape, F32)
    cx, cy = anatomy.heart_centre
    box = grid.box(cx - 90.0, cx + 90.0, cy - 80.0, cy + 80.0)
    if box is not None:
        heart[box] = anatomy.heart_fraction(*grid.coords(*box))
    for s in anatomy.sides():
        box = grid.box(*sorted((s.side * -45.0, s.side * 150.0)), 25.0, 345.0)
        if box is not None:
            air[box] += anatomy.lung_depth(s, *grid.coords(*box), heart[box])
    del heart
    # the lung's own texture: the countless vessels too small to draw one by one
    texture_rng = np.random.default_rng([anatomy.seed, 0x7E47])
    texture = _coarse_noise(grid.shape, 4, 0.9 / (4 * PIXEL_MM), texture_rng)
    path -= D_LUNG * air * (1.0 - 0.02 * texture)
    # vessels and the mass only show against aerated lung
    aerated = np.clip(air / 45.0, 0.0, 1.0)
    vessels = np.zeros(grid.shape, F32)
    for a, b, r0, r1 in anatomy.vessels:
        _tube(grid, vessels, a, b, r0, r1, 1.8 * D_LUNG, combine="max")
    path += vessels * aerated
    # the hila: pulmonary arteries and veins seen end-on and overlapping
    for s in anatomy.sides():
        hp, hy = s.hilum
        box = grid.box(s.side * hp - 25.0, s.side * hp + 25.0, hy - 30.0, hy + 30.0)
        if box is not None:
            x, y = grid.coords(*box)
            rn = np.hypot((x - s.side * (hp - 3.0)) / 11.0, (y - hy) / 20.0)
            blob = D_LUNG * 20.0 * np.exp(-(rn**2) * 1.5) * aerated[box]
            path[box] += blob.astype(F32)
    if exam.lesion:
        _mass(grid, path, anatomy)
    _airways(grid, path, anatomy)
    path += _bones(grid, anatomy)
    return _process(path, exam, rng)


def _body_thickness(x, y):
    """Soft tissue along the beam (mm): neck, trapezius, shoulders, chest, arms and axillae."""
    p = np.abs(x)
    half = 52.0 + 84.0 * _smooth((y - 14.0) / 46.0) + 8.0 * _smooth((y - 90.0) / 160.0)
    depth = 135.0 + 85.0 * _smooth((y - 10.0) / 110.0)
    # a rounded-rectangular cross-section: the lateral chest wall is thick along the beam
    torso = depth * np.clip(1.0 - (p / half) ** 3.5, 0.0, 1.0) ** 0.3
    # the shoulder: deltoid and the rotator cuff round the humeral head
    shoulder = 0.9 * _chord(50.0, np.hypot(p - 150.0, y - 110.0))
    # the arm hangs off the side, leaving the axilla between it and the chest
    arm_x = 190.0 + 0.12 * (y - 110.0)
    arm = np.where(y > 110.0, _chord(46.0, p - arm_x), 0.0)
    return np.maximum(np.maximum(torso, shoulder), arm).astype(F32)


def _airways(grid: _Grid, path: np.ndarray, anatomy: _Anatomy) -> None:
    carina = (-3.0, 150.0)
    lumen = np.zeros(grid.shape, F32)
    _tube(grid, lumen, (-1.0, -60.0), carina, 8.0, 7.5, 0.35 * D_AIR, combine="max")
    _tube(grid, lumen, carina, (-30.0, 170.0), 6.5, 5.0, 0.3 * D_AIR, combine="max")
    _tube(grid, lumen, carina, (36.0, 177.0), 6.0, 4.5, 0.3 * D_AIR, combine="max")
    path -= lumen
    # the gastric bubble under the left dome, round with a flatter fluid level
    s = anatomy.left
    cx = 60.0
    cy = float(anatomy.dome(s, cx)) + 19.0
    box = grid.box(cx - 25, cx + 25, cy - 20, cy + 15)
    if box is not None:
        x, y = grid.coords(*box)
        ry = np.where(y < cy, 12.0, 9.0)
        rn = ((x - cx) / 15.0) ** 2 + ((y - cy) / ry) ** 2
        path[box] -= (D_AIR * 20.0 * np.sqrt(np.clip(1.0 - rn, 0.0, 1.0))).astype(F32)


def _mass(grid: _Grid, path: np.ndarray, anatomy: _Anatomy) -> None:
    """A lobulated 4 cm solid mass with a few spicules, in the left upper zone."""
    cx, cy = anatomy.mass_centre
    radius = 20.0
    box = grid.box(cx - 30, cx + 30, cy - 30, cy + 30)
    if box is not None:
        x, y = grid.coords(*box)
        theta = np.arctan2(y - cy, x - cx)
        bumps = np.ones_like(theta)
        for amp, order, phase in anatomy.mass_harmonics:
            bumps += amp * np.sin(order * theta + phase)
        rn = np.hypot(x - cx, y - cy) / (radius * bumps)
        path[box] += (D_LUNG * 2.0 * radius * np.sqrt(np.clip(1.0 - rn * rn, 0.0, 1.0))).astype(F32)
    for angle, length in anatomy.mass_spicules:
        a = (cx + 0.85 * radius * np.cos(angle), cy + 0.85 * radius * np.sin(angle))
        b = (cx + (radius + length) * np.cos(angle), cy + (radius + length) * np.sin(angle))
        _tube(grid, path, a, b, 1.3, 0.3, D_LUNG)


def _bones(grid: _Grid, anatomy: _Anatomy) -> np.ndarray:
    bone = np.zeros(grid.shape, F32)
    _spine(grid, bone)
    for s in anatomy.sides():
        _ribs(grid, bone, anatomy, s)
        _scapula(grid, bone, s.side)
        _clavicle(grid, bone, s.side)
        _humerus(grid, bone, s.side)
    return bone


def _bone_chord(half_width, depth, shell, s):
    """Projected bone of a flat tube: cortex where the beam grazes the shell, marrow inside."""
    outer = depth * np.sqrt(np.clip(1.0 - (s / half_width) ** 2, 0.0, 1.0))
    iw = np.maximum(half_width - shell, 0.5)
    inner = np.maximum(depth - 2 * shell, 0.5) * np.sqrt(np.clip(1.0 - (s / iw) ** 2, 0.0, 1.0))
    return (K_CORTEX * (outer - inner) + K_MARROW * inner).astype(F32)


def _side_box(grid: _Grid, side: int, p0: float, p1: float, y0: float, y1: float):
    x0, x1 = sorted((side * p0, side * p1))
    box = grid.box(x0, x1, y0, y1)
    if box is None:
        return None, None, None
    x, y = grid.coords(*box)
    return box, side * x, y


def _spine(grid: _Grid, bone: np.ndarray) -> None:
    """Vertebral bodies, pedicles and spinous processes: faint through the mediastinum."""
    top, k = -40.0, 0
    while top < FIELD_MM + 10.0:
        h, w = 16.0 + 0.6 * k, 14.5 + 0.5 * k
        box = grid.box(-w - 4, w + 4, top - 3, top + h + 10)
        if box is not None:
            x, y = grid.coords(*box)
            body = _smooth((y - top) / 1.5) * _smooth((top + h - y) / 1.5)
            value = K_MARROW * _chord(w, x) * (0.88 + 0.12 * body)
            for px in (-w + 3.5, w - 3.5):
                rn = np.hypot((x - px) / 3.6, (y - top - 0.4 * h) / 5.5)
                value += K_CORTEX * 1.2 * np.exp(-(((rn - 1.0) / 0.25) ** 2))
            rn = np.hypot(x / 3.0, (y - top - 0.85 * h) / 6.0)
            value += K_CORTEX * 3.0 * np.sqrt(np.clip(1.0 - rn * rn, 0.0, 1.0))
            bone[box] += 0.16 * value
        top += h + 3.5 + 0.1 * k
        k += 1


def _ribs(grid: _Grid, bone: np.ndarray, anatomy: _Anatomy, s: _Side) -> None:
    """Posterior ribs as arcs falling laterally, anterior ribs fainter, sloping down medially."""
    for k in range(1, 11):
        top = 40.0 + 19.5 * (k - 1)
        drop = 42.0 + 1.8 * k
        cv = top + 0.96 * drop
        wall = float(anatomy.lateral(s, cv + 8.0)) + 6.0
        w = 4.4 + 0.13 * k
        _rib_arc(grid, bone, s.side, -30.0, cv, wall + 30.0, drop, w, w, 7.0, 1.0, 0.85, 2.0)
        if k <= 7:
            _rib_arc(grid, bone, s.side, 0.0, cv, wall, 80.0, w, 6.5, 4.5, 0.8, 0.5, -1.2)


def _rib_arc(grid, bone, side, pc, cv, a, b, w_lateral, w_end, depth, gain_lateral, gain_end, end):
    """A quarter ellipse (centre ``pc, cv``, half axes ``a, b``): above ``cv`` when ``end`` > 1.

    ``end`` > 1: a posterior rib from the spine (fading into it) to the lateral point;
    otherwise an anterior rib from the lateral point down to its costochondral end, the
    quarter cut at ``pi/2 · |end|`` and fading there.
    """
    upper = end > 1.0
    cut = 1.0 if upper else abs(end) * 0.55
    wmax = max(w_lateral, w_end) + 1.0
    y0, y1 = (cv - b - wmax, cv + 1.0) if upper else (cv - 1.0, cv + b + wmax)
    p_end = pc + a * np.cos(cut * np.pi / 2)
    p0 = max(min(pc, p_end) - wmax - 4.0, 6.0)
    box, p, y = _side_box(grid, side, p0, pc + a + wmax, y0, y1)
    if box is None:
        return
    u = (p - pc) / a
    v = (y - cv) / b
    f = np.sqrt(u * u + v * v) + F32(1e-6)
    g = np.sqrt((u / a) ** 2 + (v / b) ** 2) / f
    dist = (f - 1.0) / np.maximum(g, F32(1e-4))
    phi = np.arctan2(np.abs(v), np.maximum(u, 0.0)) / (np.pi / 2)  # 0 lateral, 1 at the end
    w = w_lateral + (w_end - w_lateral) * phi
    gain = gain_lateral + (gain_end - gain_lateral) * phi
    if upper:
        keep = (v <= 0) * (0.1 + 0.9 * _smooth((p - 16.0) / 26.0)) * _smooth((p - 8.0) / 6.0)
    else:
        keep = (v > 0) * _smooth((p_end - p) / -10.0 + 1.0) * (phi < 1.0)
    bone[box] += _bone_chord(w, depth, 1.3, dist) * (gain * keep).astype(F32)


def _clavicle(grid: _Grid, bone: np.ndarray, side: int) -> None:
    """An S-shaped clavicle rising laterally from the sternal notch to the acromion."""
    p0, p1 = 22.0, 132.0
    box, p, y = _side_box(grid, side, p0 - 12, p1 + 10, 48.0, 100.0)
    if box is None:
        return
    t = (p - p0) / (p1 - p0)
    tc = np.clip(t, 0.0, 1.0)
    yc = 86.0 - 22.0 * tc - 7.0 * np.sin(2 * np.pi * tc)
    slope = (-22.0 - 14.0 * np.pi * np.cos(2 * np.pi * tc)) / (p1 - p0)
    w = 5.2 + 3.2 * (1 - tc) ** 3 + 1.6 * tc**4
    dist = (y - yc) / np.sqrt(1 + slope * slope)
    ends = _smooth((p - p0 + 3.0) / 6.0) * _smooth((p1 + 3.0 - p) / 6.0)
    bone[box] += _bone_chord(w, 2.2 * w, 2.2, dist) * ends.astype(F32)


def _scapula(grid: _Grid, bone: np.ndarray, side: int) -> None:
    """The scapula rotated out: a thin plate lateral to the lung, thick lateral border, spine."""
    sup, glen, inf = (110.0, 60.0), (131.0, 90.0), (127.0, 192.0)
    box, p, y = _side_box(grid, side, 100.0, 152.0, 52.0, 200.0)
    if box is None:
        return
    # the plate: distance inside the triangle (min over its edges, normals pointing in)
    cp, cy = (sup[0] + glen[0] + inf[0]) / 3, (sup[1] + glen[1] + inf[1]) / 3
    inside = None
    for a, b in ((sup, glen), (glen, inf), (inf, sup)):
        nx, ny = b[1] - a[1], a[0] - b[0]
        norm = np.hypot(nx, ny) * np.sign((cp - a[0]) * nx + (cy - a[1]) * ny)
        d = ((p - a[0]) * nx + (y - a[1]) * ny) / norm
        inside = d if inside is None else np.minimum(inside, d)
    value = K_CORTEX * 1.6 * _smooth(inside / 3.0)
    for a, b, w, depth in (
        (glen, inf, 4.5, 9.0),
        ((111.0, 74.0), (143.0, 60.0), 4.2, 8.0),
        (sup, inf, 2.0, 4.0),
    ):
        d, t = segment_distance((p, y), a, b)
        taper = 1.0 - 0.45 * t  # the borders thin towards the inferior angle and acromion
        value = value + _bone_chord(w * taper, depth * taper, 1.3, d)
    rn = np.hypot((p - 129.0) / 5.0, (y - 101.0) / 16.0)
    value = value + K_CORTEX * 3.0 * np.exp(-(((rn - 1.0) / 0.15) ** 2))
    bone[box] += value.astype(F32)


def _humerus(grid: _Grid, bone: np.ndarray, side: int) -> None:
    """The humeral head against the glenoid, and the neck and shaft running off the film."""
    box, p, y = _side_box(grid, side, 118.0, 200.0, 76.0, FIELD_MM + 10.0)
    if box is None:
        return
    d = np.hypot(p - 147.0, y - 104.0)
    head = K_CORTEX * (_chord(24.0, d) - _chord(22.2, d)) + 2.5 * K_MARROW * _chord(22.2, d)
    d, _ = segment_distance((p, y), (151.0, 120.0), (176.0, FIELD_MM + 20.0))
    shaft = K_CORTEX * (_chord(15.0, d) - _chord(11.5, d)) + K_MARROW * 0.5 * _chord(11.5, d)
    bone[box] += np.maximum(head, shaft).astype(F32)


# ---------------------------------------------------------------------------
# the CR reader's processing


def _process(path: np.ndarray, exam: _Exam, rng: np.random.Generator) -> np.ndarray:
    sigma = np.clip(0.016 * np.exp(0.3 * (path - 3.0)), 0.008, 0.04).astype(F32)
    e = exam.exposure - path + rng.standard_normal(path.shape, dtype=F32) * sigma
    e -= 0.45 * _lowpass(e, 8, 25.0 / (8 * PIXEL_MM))
    e += 0.7 * (e - _lowpass(e, 4, 2.0 / (4 * PIXEL_MM)))
    lo, hi = -5.2, -0.2
    t = (e - lo) / (hi - lo)
    t = 0.5 + 0.5 * np.tanh(2.0 * (t - 0.5)) / np.tanh(1.0)
    stored = np.clip(np.rint(200.0 + 3800.0 * t), 0, 4095).astype(np.uint16)
    edge = int(round(4.5 / PIXEL_MM))
    for view in (stored[:edge], stored[-edge:], stored[:, :edge], stored[:, -edge:]):
        view[...] = 180
    return stored


def _coarse_noise(shape, factor: int, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth unit noise drawn on a grid ``factor`` times coarser, interpolated back."""
    coarse = rng.standard_normal((shape[0] // factor + 2, shape[1] // factor + 2), dtype=F32)
    coarse = _gaussian_fft(coarse, sigma_px)
    coarse /= coarse.std() + 1e-6
    return _upsample(coarse, factor, shape)


def _lowpass(image: np.ndarray, factor: int, sigma_px: float) -> np.ndarray:
    """Gaussian low-pass computed on a grid ``factor`` times coarser, interpolated back."""
    rows, cols = image.shape
    pr, pc = (-rows) % factor, (-cols) % factor
    padded = np.pad(image, ((0, pr), (0, pc)), mode="edge")
    coarse = padded.reshape(padded.shape[0] // factor, factor, -1, factor).mean(axis=(1, 3))
    return _upsample(_gaussian_fft(coarse, sigma_px), factor, (rows, cols))


def _upsample(coarse: np.ndarray, factor: int, shape) -> np.ndarray:
    """Bilinear interpolation of a grid ``factor`` times coarser onto ``shape``."""
    rows, cols = shape
    ri = np.clip((np.arange(rows) + 0.5) / factor - 0.5, 0, coarse.shape[0] - 1)
    ci = np.clip((np.arange(cols) + 0.5) / factor - 0.5, 0, coarse.shape[1] - 1)
    r0 = np.minimum(ri.astype(int), coarse.shape[0] - 2)
    c0 = np.minimum(ci.astype(int), coarse.shape[1] - 2)
    wr = (ri - r0).astype(F32)[:, None]
    wc = (ci - c0).astype(F32)[None, :]
    top = coarse[r0] * (1 - wr) + coarse[r0 + 1] * wr
    return (top[:, c0] * (1 - wc) + top[:, c0 + 1] * wc).astype(F32)


def _gaussian_fft(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian low-pass through the FFT, with edge padding to avoid wrap-around."""
    pad = int(3 * sigma_px)
    padded = np.pad(image, pad, mode="edge")
    fy = np.fft.fftfreq(padded.shape[0])[:, None]
    fx = np.fft.rfftfreq(padded.shape[1])[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (fy * fy + fx * fx))
    out = np.fft.irfft2(np.fft.rfft2(padded) * kernel, s=padded.shape)
    return out[pad:-pad, pad:-pad].astype(np.float32)


def _dataset(image: np.ndarray, exam: _Exam, seed: int) -> Dataset:
    tag = ("cr-chest", exam.name)
    sop_uid = sample_uid(seed, *tag, "instance")
    ds = new_instance(ComputedRadiographyImageStorage, sop_uid)
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    day = exam.study_date.strftime("%Y%m%d")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = day
    ds.StudyTime = ds.SeriesTime = exam.study_time
    ds.ContentTime = ds.AcquisitionTime = exam.study_time
    ds.AccessionNumber = exam.accession
    ds.Modality = "CR"
    ds.Manufacturer = "Agfa"
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.ReferringPhysicianName = ""
    ds.StationName = "ADC_5146"
    ds.StudyDescription = "CHEST PA"
    ds.SeriesDescription = "Thorax PA"
    ds.ManufacturerModelName = "CR 85-X"
    patient_module(ds, PATIENT)
    ds.PatientAge = f"{exam.study_date.year - 1951:03d}Y"
    ds.BodyPartExamined = "CHEST"
    ds.KVP = "125"
    ds.DistanceSourceToDetector = "1800"
    ds.ExposureTime = "12"
    ds.XRayTubeCurrent = 320
    ds.Exposure = 4
    ds.ImagerPixelSpacing = [f"{PIXEL_MM:g}", f"{PIXEL_MM:g}"]
    ds.SoftwareVersions = "NX 3.0"
    ds.PlateType = "MD40"
    ds.ViewPosition = "PA"
    ds.StudyInstanceUID = sample_uid(seed, *tag, "study")
    ds.SeriesInstanceUID = sample_uid(seed, *tag, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ["L", "F"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.Rows, ds.Columns = (int(n) for n in image.shape)
    ds.PixelSpacing = [f"{PIXEL_MM:g}", f"{PIXEL_MM:g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    body = image[
        image.shape[0] // 5 : -image.shape[0] // 5, image.shape[1] // 5 : -image.shape[1] // 5
    ]
    low, high = np.percentile(body, [1.0, 99.5])
    ds.WindowCenter = f"{round((low + high) / 2)}"
    ds.WindowWidth = f"{round(high - low)}"
    ds.WindowCenterWidthExplanation = "NORMAL"
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.LossyImageCompression = "00"
    block = ds.private_block(0x0019, "AGFA", create=True)
    block.add_new(0x10, "LO", "Thorax PA")  # examination, as Agfa NX writes it
    block.add_new(0x11, "LO", "MUSICA2")  # image processing
    ds.PixelData = np.ascontiguousarray(image, dtype=np.uint16).tobytes()
    return ds
