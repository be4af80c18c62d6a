"""A 3D patient for the chest samples: anatomy in patient millimetres, decided by a seed.

:func:`make_patient` turns a seed into one fictitious adult (sex, size,
subcutaneous fat, depth of inspiration) and grows the parts that are built
once: ribs and costal cartilage, clavicles, and the bronchovascular tree of
each lobe. :func:`tissue` then gives the Hounsfield units and the tissue
(:class:`Tissue`) of the smooth anatomy at any array of points, and
:func:`render` samples the whole patient on a CT grid, moved rigidly if asked.

Coordinates are DICOM patient coordinates (LPS: ``x`` towards the patient's
left, ``y`` posterior, ``z`` towards the head), in millimetres, with ``z = 0``
at the carina; the patient lies supine.

Partial volume comes from soft edges: every boundary is drawn as a linear
ramp one voxel wide across its (approximate) signed distance, and tubes as a
ramp across their radius, so edges, fissures and sub-voxel vessels take the
intermediate values a real reconstruction gives them. ``render(...,
supersample=2)`` averages 2×2 sub-pixel positions on top, for pictures.

The Hounsfield units are the middle of the ranges published for non-contrast
CT (fat −100 ± 20, muscle 40 ± 10, blood 40, cortical bone 700–1500, marrow
200–400, inspiratory lung −850 ± 50, cartilage about 100, liver 55 ± 10):
:data:`HU`, pinned by ``tests/test_samples_patient.py``.

The bronchovascular tree is grown by space colonisation in each lobe (points
scattered in the lobe attract the nearest branch tip until every point is
reached); radii follow Murray's law (a parent's cubed radius is the sum of its
children's), bronchi run along the tree with their artery beside them, and
veins grow separately between the bronchoarterial bundles to the left atrium.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from dicomteach.samples._shapes import segment_distance
from dicomteach.samples.bronchovascular import (
    BRONCHOARTERIAL_RATIO,
    BRONCHUS_FROM,
    LEAF_RADIUS,
    Tree,
    colonise,
    murray_radii,
    side_offsets,
    smoothed,
    unit,
)
from dicomteach.samples.phantoms import (
    AIRWAY,
    BONE,
    CARTILAGE,
    VESSEL,
    Tubes,
    draw_tubes,
    upsample2,
)


class Tissue(enum.IntEnum):
    """What a voxel holds: the label :func:`tissue` and :func:`render` give each point."""

    AIR = 0
    SKIN = 1
    FAT = 2
    MUSCLE = 3
    BREAST = 4  # fibroglandular tissue
    LUNG = 5
    AIRWAY = 6  # lumen of the trachea and bronchi
    AIRWAY_WALL = 7
    BLOOD = 8  # heart chambers and great vessels
    MYOCARDIUM = 9
    OESOPHAGUS = 10
    CORTICAL_BONE = 11
    MARROW = 12
    CARTILAGE = 13
    DISC = 14
    CSF = 15
    CORD = 16
    LIVER = 17
    SPLEEN = 18
    STOMACH = 19  # wall and fluid
    BOWEL_GAS = 20
    THYROID = 21


#: Hounsfield units of each tissue (non-contrast CT); lung is the value at full inspiration.
HU: dict[Tissue, float] = {
    Tissue.AIR: -1000.0,
    Tissue.SKIN: 35.0,
    Tissue.FAT: -100.0,
    Tissue.MUSCLE: 45.0,
    Tissue.BREAST: 25.0,
    Tissue.LUNG: -860.0,
    Tissue.AIRWAY: -1000.0,
    Tissue.AIRWAY_WALL: 35.0,
    Tissue.BLOOD: 40.0,
    Tissue.MYOCARDIUM: 48.0,
    Tissue.OESOPHAGUS: 40.0,
    Tissue.CORTICAL_BONE: 1000.0,
    Tissue.MARROW: 280.0,
    Tissue.CARTILAGE: 105.0,
    Tissue.DISC: 85.0,
    Tissue.CSF: 8.0,
    Tissue.CORD: 28.0,
    Tissue.LIVER: 58.0,
    Tissue.SPLEEN: 48.0,
    Tissue.STOMACH: 20.0,
    Tissue.BOWEL_GAS: -1000.0,
    # iodine makes the thyroid brighter than muscle even without contrast
    Tissue.THYROID: 100.0,
}

#: How far (mm) either side of the midline each dome of the diaphragm is highest.
DOME_X = 55.0

#: Lobes, in the order of :attr:`Patient.lobe_roots`.
LOBES = ("RUL", "RML", "RLL", "LUL", "LLL")


@dataclass(frozen=True)
class Habitus:
    """Who the patient is: what the seed decides before any anatomy is drawn.

    ``size`` scales the chest (1 = a 1.76 m man); ``fat_mm`` is the subcutaneous
    fat over the flank; ``inspiration`` (0 shallow … 1 deep) lowers the
    diaphragm and darkens the lungs.
    """

    sex: str
    size: float
    fat_mm: float
    inspiration: float


@dataclass
class Patient:
    """One fictitious patient: habitus, body dimensions (mm) and the structures built once."""

    habitus: Habitus
    half_width: float
    half_depth: float
    apex: float
    dome_right: float
    dome_left: float
    tubes: Tubes = field(default_factory=Tubes.empty)
    great_vessels: list[tuple[np.ndarray, float]] = field(default_factory=list)
    airways: list[tuple[np.ndarray, float]] = field(default_factory=list)
    lobe_roots: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    arteries: list[Tree] = field(default_factory=list)
    bronchi: list[Tree] = field(default_factory=list)
    veins: list[Tree] = field(default_factory=list)
    fissure_tilt: np.ndarray = field(default_factory=lambda: np.zeros(4))
    texture: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    seed: int = 0

    # outline ------------------------------------------------------------
    def body_axes(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Half width and half depth of the trunk at height ``z`` (narrowing into the neck)."""
        t = (z + 60.0) / 170.0
        a = self.half_width * (1.0 - 0.05 * t * t)
        b = self.half_depth * (1.0 - 0.06 * t * t)
        neck = np.clip((z - self.apex - 28.0) / 45.0, 0.0, 1.0)
        return a * (1 - 0.55 * neck), b * (1 - 0.35 * neck)

    def spine_y(self, z: np.ndarray) -> np.ndarray:
        """Centre of the vertebral body (``y``) at height ``z``: the thoracic kyphosis."""
        return self.half_depth - 62.0 - 10.0 * np.exp(-(((z + 40.0) / 120.0) ** 2))

    def hemithorax(
        self, z: np.ndarray, floor: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Inner chest wall of one side at ``z``: centre ``|x|``, centre ``y``, half axes.

        A rounded superellipse reaching round the ribs into the paravertebral
        gutters, shrinking into the dome of the apex above ``apex − 60``.
        """
        a, b = self.body_axes(z)
        wall = 14.0 + 0.5 * self.habitus.fat_mm
        lateral, medial = a - wall, 3.0
        front, back = -(b - wall - 6.0), 0.9 * b - 28.0
        cx, ax = 0.5 * (lateral + medial), 0.5 * (lateral - medial)
        cy, by = 0.5 * (front + back), 0.5 * (back - front)
        base = self.apex - 60.0
        f = np.sqrt(np.clip(1.0 - np.clip((z - base) / (self.apex - base), 0, None) ** 2, 0, 1))
        f = np.maximum(f, floor)
        return cx * (0.78 + 0.22 * f), cy + 0.35 * by * (1 - f), ax * f, by * f

    def diaphragm(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height of the diaphragm's upper surface (the right dome higher, deep posterior recesses)."""
        dome = np.where(x < 0, self.dome_right, self.dome_left)
        xd = np.where(x < 0, -DOME_X, DOME_X)
        height = dome - 60.0 * (((x - xd) / 95.0) ** 2 + (y / 100.0) ** 2)
        return height - 22.0 * np.clip(y / self.half_depth, 0, 1)

    def fissures(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Signed distances (mm) to the oblique fissure of each side and to the horizontal one.

        The oblique (major) fissure runs from high at the back (about T4)
        down to the front of the diaphragm: negative in the upper lobe (and
        middle lobe), positive in the lower lobe. The horizontal (minor)
        fissure of the right lung is nearly level at the fourth costal
        cartilage: positive above it.
        """
        right = x < 0
        tilt = self.fissure_tilt
        # z = z0 + slope·(y − y0) + a gentle curvature, one plane per side
        slope = np.where(right, 0.78 + tilt[0], 0.85 + tilt[1])
        z0 = np.where(right, -40.0, -30.0)
        curve = 0.0012 * (np.abs(x) - 70.0) ** 2
        # on an axial slice the fissure runs from the hilum out and forwards
        plane = z - (z0 + slope * (y + 0.4 * (np.abs(x) - 60.0)) + curve)
        oblique = -plane / np.sqrt(1.0 + slope * slope)
        horizontal = z - (-28.0 + tilt[2] * 10.0 + 0.12 * (y + 40.0))
        return oblique, horizontal

    def lobe(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Index into :data:`LOBES` of each point (meaningful only in the lung)."""
        oblique, horizontal = self.fissures(x, y, z)
        right = np.where(oblique > 0, 2, np.where(horizontal > 0, 0, 1))
        left = np.where(oblique > 0, 4, 3)
        return np.where(x < 0, right, left).astype(np.int8)


# ---------------------------------------------------------------------------
# the smooth anatomy


class _Canvas:
    """Hounsfield units and labels of a set of points, painted layer by layer with soft edges."""

    def __init__(self, hu: np.ndarray, label: np.ndarray, edge: float) -> None:
        self.hu, self.label, self.edge = hu, label, edge

    @classmethod
    def blank(cls, n: int, edge: float) -> _Canvas:
        hu = np.full(n, HU[Tissue.AIR], dtype=np.float32)
        return cls(hu, np.zeros(n, dtype=np.int8), edge)

    def part(self, at: np.ndarray) -> _Canvas:
        """The points ``at`` (indices) as a canvas of their own; :meth:`merge` puts them back."""
        return _Canvas(self.hu[at], self.label[at], self.edge)

    def merge(self, part: _Canvas, at: np.ndarray) -> None:
        self.hu[at], self.label[at] = part.hu, part.label

    def weight(self, signed_mm: np.ndarray) -> np.ndarray:
        """0 outside, 1 inside, linear across one edge width: the voxel's share of the shape."""
        return np.clip(signed_mm / self.edge + 0.5, 0.0, 1.0).astype(np.float32)

    def paint(self, inside_mm: np.ndarray, value: float | np.ndarray, label: Tissue) -> None:
        """Cover where ``inside_mm`` > 0 (signed distance, mm) with ``value``, blending the edge."""
        w = self.weight(inside_mm)
        self.hu += (
            w * (np.float32(value) - self.hu) if np.isscalar(value) else w * (value - self.hu)
        )
        self.label = np.where(w >= 0.5, np.int8(label), self.label)


#: How far (mm) beyond a structure's boxes its signed distances are still looked at: more
#: than any offset a layer adds to them plus the widest edge.
_REACH = 9.0


def _radial_sd(rho: np.ndarray, radius: np.ndarray | float) -> np.ndarray:
    """Signed distance (mm, positive inside) to a shape whose normalised radius is ``rho``."""
    return (1.0 - rho) * radius


def _inside_box(
    x: np.ndarray, y: np.ndarray, lo: tuple[float, float], hi: tuple[float, float]
) -> np.ndarray:
    """Indices of the points whose ``x`` and ``y`` lie within the box ``lo``…``hi``."""
    return np.flatnonzero((x > lo[0]) & (x < hi[0]) & (y > lo[1]) & (y < hi[1]))


def _take(at: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(a[at] for a in arrays)


def _texture(patient: Patient, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Smooth unit-variance texture: a sum of plane waves (cheap at any point, fixed by the seed)."""
    out = np.zeros(np.broadcast(x, y, z).shape, dtype=np.float32)
    for kx, ky, kz, phase, amp in patient.texture:
        out += np.float32(amp) * np.cos(kx * x + ky * y + kz * z + phase)
    return out


def tissue(
    patient: Patient,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    *,
    edge: float = 0.7,
) -> tuple[np.ndarray, np.ndarray]:
    """Hounsfield units and :class:`Tissue` labels of the smooth anatomy at points (LPS mm).

    Everything but the tubes (ribs, clavicles, costal cartilage, the
    intrapulmonary tree), which :func:`render` draws on top. ``edge`` is the
    width (mm) of the partial-volume ramp at each boundary: the pixel size.

    Each organ is evaluated only at the points in a box round it (and the
    whole only inside the skin): a slice costs what its anatomy holds.

    >>> p = make_patient(0, tree=False)
    >>> hu, label = tissue(p, np.array([-90.0, 0.0]), np.array([0.0, -17.0]), np.array([-20.0, 40.0]))
    >>> [Tissue(v).name for v in label]
    ['LUNG', 'AIRWAY']
    """
    xb, yb, zb = np.broadcast_arrays(
        np.asarray(x, np.float32), np.asarray(y, np.float32), np.asarray(z, np.float32)
    )
    shape = xb.shape
    x, y, z = (np.ascontiguousarray(a, np.float32).ravel() for a in (xb, yb, zb))
    hab = patient.habitus
    a, b = patient.body_axes(z)
    v = y / b
    v = np.where(v > 0, v * (1.0 + 0.12 * v), v)  # flatter back: lying on the table
    rho = (np.abs(x / a) ** 2.2 + np.abs(v) ** 2.2) ** (1 / 2.2)
    depth = np.hypot(x, v * b) * (1.0 - rho) / np.maximum(rho, 1e-3)  # mm under the skin
    skin_sd = depth
    breast_sd = None
    if hab.sex == "F":
        breast_sd = _breasts(patient, x, y, z, b)
        skin_sd = np.maximum(depth, breast_sd)
    # from here on only the points inside the skin: air elsewhere
    body = np.flatnonzero(skin_sd > -edge)
    full = _Canvas.blank(x.size, edge)
    if not body.size:
        return full.hu.reshape(shape), full.label.reshape(shape)
    x, y, z, a, b, v, depth, skin_sd = _take(body, x, y, z, a, b, v, depth, skin_sd)
    c = _Canvas.blank(body.size, edge)
    zmin, zmax = float(z.min()), float(z.max())
    anterior = np.clip(-y / b, 0, 1)
    posterior = np.clip(y / b, 0, 1)
    lateral = np.clip(np.abs(x) / a, 0, 1)
    yv = patient.spine_y(z)
    behind_spine = y - yv

    c.paint(skin_sd, HU[Tissue.SKIN], Tissue.SKIN)
    c.paint(skin_sd - 2.2, HU[Tissue.FAT], Tissue.FAT)
    if breast_sd is not None:
        # fibroglandular tissue behind the nipple, fading into the fat in strands
        at = np.flatnonzero(breast_sd[body] - 6.0 > -edge)
        part = c.part(at)
        bx, by, bz, sd = _take(at, x, y, z, breast_sd[body])
        strands = np.clip(sd / 25.0 + 0.25 * _texture(patient, bx, by, bz), 0, 1)
        glands = HU[Tissue.FAT] + strands * (HU[Tissue.BREAST] + 15.0 - HU[Tissue.FAT])
        part.paint(sd - 6.0, glands, Tissue.BREAST)
        c.merge(part, at)

    # subcutaneous fat then the muscles: pectorals in front, trapezius and latissimus behind
    fat = hab.fat_mm * (0.6 + 0.5 * posterior + 0.3 * lateral)
    pectoral = 16.0 * hab.size * anterior * np.clip(2.0 * lateral - 0.2, 0, 1)
    pectoral *= np.clip((z + 90.0) / 40.0, 0, 1) * (1.3 if hab.sex == "M" else 1.0)
    back = 10.0 * posterior + 6.0 * lateral * (1 - anterior)
    muscle_top = fat + pectoral + back + 4.0
    c.paint(np.minimum(depth - fat, muscle_top - depth), HU[Tissue.MUSCLE], Tissue.MUSCLE)
    # paraspinal (erector spinae) muscles either side of the spinous processes
    spinal = _inside_box(np.abs(x), behind_spine, (-1.0, -24.0), (66.0, 74.0))
    part = c.part(spinal)
    sx, sy, sz, syv, sdepth, sfat = _take(spinal, x, y, z, yv, depth, fat)
    erector = np.sqrt(((np.abs(sx) - 30.0) / 27.0) ** 2 + ((sy - syv - 44.0) / 24.0) ** 2)
    part.paint(
        np.minimum(_radial_sd(erector, 24.0), sdepth - sfat), HU[Tissue.MUSCLE] + 5, Tissue.MUSCLE
    )
    c.merge(part, spinal)

    # the rib cage round two hemithoraces: intercostal muscle outside the cavity
    cx, cy, ax, by = patient.hemithorax(z)
    rho_c = (
        np.abs((np.abs(x) - cx) / np.maximum(ax, 1e-3)) ** 2.2
        + np.abs((y - cy) / np.maximum(by, 1e-3)) ** 2.2
    ) ** (1 / 2.2)
    cavity_sd = np.where(ax > 1.0, _radial_sd(rho_c, np.minimum(ax, by)), -50.0)
    c.paint(
        np.minimum(cavity_sd + 9.0, depth - muscle_top - 2.0), HU[Tissue.MUSCLE] - 5, Tissue.MUSCLE
    )
    # distances to the great vessels and the airways: the neck's fat planes and the
    # mediastinum below are both drawn round them
    great_d, great_r = _nearest_tube(x, y, z, patient.great_vessels)
    air_d, air_r = _nearest_tube(x, y, z, patient.airways)
    if zmax > patient.apex - 60.0 - _REACH:
        _thoracic_inlet(c, patient, x, y, z, depth - muscle_top, (great_d, great_r), (air_d, air_r))

    # scapulae: a plate inside the posterior muscles, outside the ribs, in the upper chest
    blade_top, blade_bottom = patient.apex + 5.0, patient.apex - 150.0 * hab.size
    if zmax > blade_bottom - _REACH and zmin < blade_top + _REACH:
        at = np.flatnonzero(v > 0)  # behind the coronal plane: the blades' angles
        part = c.part(at)
        qx, qz, qa, qv, qdepth, qtop = _take(at, x, z, a, v, depth, muscle_top)
        phi = np.arctan2(np.abs(qx) / qa, qv)  # 0 at the back, pi/2 at the side
        spread = 0.95 - 0.25 * np.clip((blade_top - qz) / (blade_top - blade_bottom), 0, 1)
        in_blade = np.minimum.reduce(
            [(phi - 0.45) * 60.0, (spread - phi) * 60.0, qz - blade_bottom, blade_top - qz]
        )
        plate = 3.0 - np.abs(qdepth - (qtop - 5.0))
        part.paint(np.minimum(in_blade, plate + 1.5), HU[Tissue.MUSCLE], Tissue.MUSCLE)
        part.paint(np.minimum(in_blade, plate), HU[Tissue.CORTICAL_BONE], Tissue.CORTICAL_BONE)
        part.paint(np.minimum(in_blade - 3.0, plate - 1.2), HU[Tissue.MARROW], Tissue.MARROW)
        c.merge(part, at)

    # lungs: the cavity above the diaphragm, outside the mediastinum
    diaphragm = patient.diaphragm(x, y)
    prevertebral = np.sqrt((x / 25.0) ** 2 + ((behind_spine - 2.0) / 22.0) ** 2)
    heart_at, heart_sd = _heart(patient, x, y, z)
    upper = np.clip((z + 10.0) / 20.0, 0, 1)
    near_heart = np.full(x.shape, -np.inf, dtype=np.float32)
    near_heart[heart_at] = heart_sd + 4.0
    mediastinum_sd = np.maximum.reduce(
        [
            near_heart,
            np.where(y < yv - 10.0, 6.0 + 10.0 * upper - np.abs(x - 2.0), -np.inf),
            _radial_sd(np.hypot((x - 4.0) / 17.0, (behind_spine + 36.0) / 27.0), 20.0) + 2.0,
            great_r + 3.0 + 2.0 * upper - great_d,
            air_r + 2.5 - air_d,
            _radial_sd(prevertebral, 22.0) + 4.0,
        ]
    )
    above = z - diaphragm
    thorax_sd = np.minimum(cavity_sd, above)
    c.paint(thorax_sd, HU[Tissue.FAT] + 10.0, Tissue.FAT)
    lung_sd = np.minimum(thorax_sd - 1.0, -mediastinum_sd)
    at = np.flatnonzero(lung_sd > -edge)
    part = c.part(at)
    lx, ly, lz, lyv, lsd = _take(at, x, y, z, yv, lung_sd)
    lung_hu = HU[Tissue.LUNG] + 45.0 * (1.0 - hab.inspiration)
    lung_hu = lung_hu + 60.0 * np.clip((ly - lyv + 70.0) / 120.0, 0, 1) ** 2  # dependent lung
    lung_hu = lung_hu + 12.0 * _texture(patient, lx, ly, lz)
    part.paint(lsd, lung_hu, Tissue.LUNG)
    # fissures: pleura ~0.5 mm thick seen through the slice, within the lung only
    oblique, horizontal = patient.fissures(lx, ly, lz)
    horiz = np.where((lx < 0) & (oblique < 0), np.abs(horizontal), np.inf)
    fissure_d = np.minimum(np.abs(oblique), horiz)
    fissure_w = np.clip(1.0 - fissure_d / (0.5 * edge + 0.6), 0, 1) * part.weight(lsd)
    part.hu += fissure_w * np.float32(0.55) * (np.float32(-150.0) - part.hu)
    c.merge(part, at)

    # heart: pericardium, epicardial fat, myocardium and blood (alike without contrast)
    part = c.part(heart_at)
    part.paint(heart_sd + 3.0, HU[Tissue.FAT], Tissue.FAT)
    part.paint(1.4 - np.abs(heart_sd + 1.6), HU[Tissue.MUSCLE] - 10, Tissue.MUSCLE)
    part.paint(heart_sd, HU[Tissue.MYOCARDIUM], Tissue.MYOCARDIUM)
    part.paint(heart_sd - 9.0, HU[Tissue.BLOOD], Tissue.BLOOD)
    c.merge(part, heart_at)
    c.paint(great_r - great_d, HU[Tissue.BLOOD], Tissue.BLOOD)
    # trachea and main bronchi: wall and air
    c.paint(air_r + 2.0 - air_d, HU[Tissue.AIRWAY_WALL], Tissue.AIRWAY_WALL)
    c.paint(air_r - air_d, HU[Tissue.AIRWAY], Tissue.AIRWAY)
    # oesophagus behind the trachea, left of the midline, a little air inside
    at = _inside_box(x, behind_spine, (-4.0, -39.0), (24.0, -15.0))
    part = c.part(at)
    ox, ody, oz, odia = _take(at, x, behind_spine, z, diaphragm)
    oes = np.hypot((ox - 10.0) / 1.2, ody + 27.0)
    in_chest = np.clip(oz - odia + 30.0, -1, 1) * 50.0
    part.paint(np.minimum(8.0 - oes, in_chest), HU[Tissue.OESOPHAGUS], Tissue.OESOPHAGUS)
    part.paint(np.minimum(1.8 - oes, in_chest), HU[Tissue.AIR], Tissue.BOWEL_GAS)
    c.merge(part, at)

    # below the diaphragm: muscle sheet, liver on the right, stomach and spleen on the left
    if zmin < max(patient.dome_right, patient.dome_left) + _REACH:
        below = np.minimum(cavity_sd + 8.0, -above)
        at = np.flatnonzero(below > -edge)
        part = c.part(at)
        _abdomen(part, *_take(at, x, y, below, above))
        c.merge(part, at)

    part = c.part(spinal)
    _spine(part, sx, sy, sz, syv, sdepth - 0.5 * sfat - 4.0)
    c.merge(part, spinal)
    front = y + b - 16.0 - 0.5 * hab.fat_mm  # behind the front of the sternum
    if zmax > -115.0 - _REACH and zmin < patient.apex + _REACH:
        at = _inside_box(np.abs(x), front, (-1.0, -_REACH - 7.0), (40.0, _REACH + 7.0))
        part = c.part(at)
        _sternum(part, *_take(at, x, front, z), patient)
        c.merge(part, at)
    full.merge(c, body)
    return full.hu.reshape(shape), full.label.reshape(shape)


def _breasts(
    patient: Patient, x: np.ndarray, y: np.ndarray, z: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Signed distance (mm) to the breasts: glandular cones in fat, in front of the pectorals."""
    size = patient.habitus.size
    out = np.full(x.shape, -np.inf, dtype=np.float32)
    for side in (-1.0, 1.0):
        # supine: the breast spreads sideways over the pectoral, flatter than tall
        cx, cz = side * 0.42 * patient.half_width, -75.0 * size
        r = 62.0 * size
        reach = 1.0 + 2.0 * _REACH / r  # normalised radius where the distance is −_REACH
        at = np.flatnonzero(
            (np.abs(x - cx) < r * reach)
            & (np.abs(z - cz) < r * reach)
            & (np.abs(y + b - 6.0) < 0.5 * r * reach)
        )
        rb = np.sqrt(
            ((x[at] - cx) / r) ** 2
            + ((y[at] + b[at] - 6.0) / (0.5 * r)) ** 2
            + ((z[at] - cz) / r) ** 2
        )
        out[at] = np.maximum(out[at], _radial_sd(rb, 0.5 * r))
    return out


def _abdomen(
    c: _Canvas, x: np.ndarray, y: np.ndarray, below: np.ndarray, above: np.ndarray
) -> None:
    """Under the diaphragm: its muscle, the liver on the right, stomach and spleen on the left."""
    c.paint(np.minimum(below, 4.0 + above), HU[Tissue.MUSCLE], Tissue.MUSCLE)
    c.paint(np.minimum(below - 4.0, (45.0 - 0.3 * (y + 40.0)) - x), HU[Tissue.LIVER], Tissue.LIVER)
    stomach = np.hypot((x - 55.0) / 48.0, (y + 25.0) / 42.0)
    stomach_sd = np.minimum(below - 5.0, _radial_sd(stomach, 42.0))
    stomach_sd = np.minimum(stomach_sd, x - (45.0 - 0.3 * (y + 40.0)))
    c.paint(stomach_sd, HU[Tissue.MUSCLE], Tissue.STOMACH)
    c.paint(stomach_sd - 3.0, HU[Tissue.STOMACH], Tissue.STOMACH)
    # supine: gas rises to the front of the stomach, above a level fluid line
    c.paint(np.minimum(stomach_sd - 3.0, -12.0 - y), HU[Tissue.AIR], Tissue.BOWEL_GAS)
    spleen = np.hypot((x - 85.0) / 28.0, (y - 45.0) / 40.0)
    c.paint(np.minimum(below - 4.0, _radial_sd(spleen, 28.0)), HU[Tissue.SPLEEN], Tissue.SPLEEN)


def _thoracic_inlet(
    c: _Canvas,
    patient: Patient,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    under_muscle: np.ndarray,
    great: tuple[np.ndarray, np.ndarray],
    airway: tuple[np.ndarray, np.ndarray],
) -> None:
    """The base of the neck round and above the lung apices: muscle, fat planes, the thyroid.

    ``great`` and ``airway`` are each point's distance to the nearest great
    vessel or airway and that tube's radius (:func:`_nearest_tube`); above
    the carina the nearest airway is the trachea.

    Above the domes of the pleura the trunk is not an empty fat-filled ring:
    the scalene, longus colli and strap muscles fill it, with fat round the
    vessels and the trachea, and the thyroid's lobes hug the trachea either
    side (brighter than muscle, its iodine). Painted before the chest cavity,
    the lungs and the vessels, which take their places over it.
    """
    inlet = np.minimum(under_muscle + 3.0, z - (patient.apex - 50.0))
    c.paint(inlet, HU[Tissue.FAT] + 10.0, Tissue.FAT)
    if not patient.airways:
        return
    top, carina = patient.airways[0][0][0], patient.airways[0][0][-1]
    t = np.clip((z - carina[2]) / (top[2] - carina[2]), 0.0, 1.0)
    tx, ty = carina[0] + t * (top[0] - carina[0]), carina[1] + t * (top[1] - carina[1])
    r = patient.airways[0][1]
    s = patient.habitus.size
    a, _b = patient.body_axes(z)
    yv = patient.spine_y(z)
    # muscle: the deep back and scalenes behind, longus colli and the strap muscles
    # round the trachea and oesophagus, a sternocleidomastoid either side in front;
    # fat between them, in front and out towards the axillae
    muscle = np.maximum.reduce(
        [
            _radial_sd(np.hypot(x / (0.72 * a), (y - yv - 12.0) / 42.0), 40.0),
            _radial_sd(np.hypot((x - tx) / (36.0 * s), (y - ty - 8.0) / (30.0 * s)), 28.0 * s),
            _radial_sd(
                np.hypot(
                    (np.abs(x - tx) - r - 34.0 * s) / (15.0 * s), (y - ty + 24.0 * s) / (7.0 * s)
                ),
                7.0 * s,
            ),
        ]
    )
    c.paint(np.minimum(muscle, inlet), HU[Tissue.MUSCLE] - 5.0, Tissue.MUSCLE)
    (great_d, great_r), (air_d, air_r) = great, airway
    # fat round the vessels (the carotid sheaths) and round the trachea
    c.paint(np.minimum(great_r + 3.5 - great_d, inlet), HU[Tissue.FAT] + 15.0, Tissue.FAT)
    c.paint(np.minimum(air_r + 4.0 - air_d, inlet), HU[Tissue.FAT] + 20.0, Tissue.FAT)
    centre = patient.apex + 24.0 * s
    lobes = np.minimum.reduce(
        [
            np.sqrt(
                ((np.abs(x - tx) - (r + 11.0)) / (8.0 * s)) ** 2
                + ((y - ty + 3.0) / (11.0 * s)) ** 2
                + ((z - centre) / (22.0 * s)) ** 2
            ),
            np.sqrt(
                ((x - tx) / (16.0 * s)) ** 2
                + ((y - ty + r + 6.0) / (4.0 * s)) ** 2
                + ((z - centre - 6.0) / (7.0 * s)) ** 2
            ),
        ]
    )
    c.paint(np.minimum(_radial_sd(lobes, 8.0 * s), inlet), HU[Tissue.THYROID], Tissue.THYROID)


def _nearest_tube(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, tubes: list[tuple[np.ndarray, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the nearest of several polylines (by surface), and that one's radius.

    Only points within :data:`_REACH` of a segment's box are measured; the
    others are infinitely far (no layer reaches that far from a tube).
    """
    best_d = np.full(x.shape, np.inf, dtype=np.float32)
    best_r = np.zeros(x.shape, dtype=np.float32)
    zmin, zmax = float(z.min()), float(z.max())
    boxes = []
    for points, radius in tubes:
        for p0, p1 in zip(points[:-1], points[1:], strict=True):
            lo = np.minimum(p0, p1) - radius - _REACH
            hi = np.maximum(p0, p1) + radius + _REACH
            if hi[2] >= zmin and lo[2] <= zmax:
                boxes.append((p0, p1, float(radius), lo, hi))
    if not boxes:
        return best_d, best_r
    lows, highs = np.min([b[3] for b in boxes], 0), np.max([b[4] for b in boxes], 0)
    near = _inside_box(x, y, lows[:2], highs[:2])
    nx, ny, nz = _take(near, x, y, z)
    for p0, p1, radius, lo, hi in boxes:
        at = _inside_box(nx, ny, lo[:2], hi[:2])
        d, _ = segment_distance((nx[at], ny[at], nz[at]), p0.tolist(), p1.tolist())
        where = near[at]
        closer = d - radius < best_d[where] - best_r[where]
        best_d[where] = np.where(closer, d, best_d[where])
        best_r[where] = np.where(closer, np.float32(radius), best_r[where])
    return best_d, best_r


def _heart_centre(patient: Patient) -> np.ndarray:
    """The centre of the heart's ellipsoid (LPS mm): left of the midline, forward, on the right dome."""
    return np.array([20.0, -30.0, patient.dome_right + 38.0])


def _heart(
    patient: Patient, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The points near the heart (indices) and their signed distance (mm) to its outline.

    An ellipsoid whose long axis points left, forward and down.
    """
    s = patient.habitus.size
    c = _heart_centre(patient)
    # beyond this radius the distance is below −_REACH along every axis
    reach = 62.0 * s * (1.0 + _REACH / 46.0)
    at = np.flatnonzero(
        (np.abs(x - c[0]) < reach) & (np.abs(y - c[1]) < reach) & (np.abs(z - c[2]) < reach)
    )
    dx, dy, dz = x[at] - c[0], y[at] - c[1], z[at] - c[2]
    ca, sa = np.cos(np.radians(40)), np.sin(np.radians(40))
    u = ca * dx - sa * dy
    w = sa * dx + ca * dy
    cb, sb = np.cos(np.radians(25)), np.sin(np.radians(25))
    u, h = cb * u + sb * dz, -sb * u + cb * dz
    rho = np.sqrt((u / (62.0 * s)) ** 2 + (w / (44.0 * s)) ** 2 + (h / (46.0 * s)) ** 2)
    return at, _radial_sd(rho, 46.0).astype(np.float32)


def _spine(
    c: _Canvas, x: np.ndarray, y: np.ndarray, z: np.ndarray, yv: np.ndarray, room: np.ndarray
) -> None:
    """Vertebrae 26 mm apart: body (cortex round marrow), disc, canal, pedicles, laminae, processes.

    ``room``: how deep (mm) a point lies under the fat of the back, where the
    spinous processes stop (a thin patient's can be felt, none shows through).
    """
    phase = np.mod(z + 7.0, 26.0) - 13.0  # 0 mid-body, ±13 at a disc
    waist = 1.0 - 0.08 * np.cos(np.pi * phase / 13.0)
    body = np.hypot(x / (19.0 * waist), (y - yv) / (16.0 * waist))
    body_sd = _radial_sd(body, 16.0)
    end_sd = 10.5 - np.abs(phase)  # endplates
    c.paint(body_sd, HU[Tissue.DISC], Tissue.DISC)
    c.paint(np.minimum(body_sd, end_sd), HU[Tissue.CORTICAL_BONE] + 100, Tissue.CORTICAL_BONE)
    c.paint(np.minimum(body_sd - 1.5, end_sd - 1.2), HU[Tissue.MARROW], Tissue.MARROW)
    arch = 11.5 - np.abs(phase)
    canal = np.hypot(x / 1.1, y - yv - 26.0)
    pedicle = np.minimum.reduce([4.0 - np.abs(np.abs(x) - 12.0), y - yv - 10.0, yv + 26.0 - y])
    lamina = np.minimum.reduce([canal - 9.5, 15.0 - canal, y - yv - 24.0])
    spinous = np.minimum.reduce([4.0 - np.abs(x), y - yv - 38.0, yv + 60.0 + 0.5 * phase - y, room])
    transverse = _radial_sd(
        np.hypot((np.abs(x) - 22.0) / 12.0, (y - yv - 28.0 + 0.35 * np.abs(x)) / 4.5), 4.5
    )
    posterior = np.minimum(np.maximum.reduce([pedicle, lamina, spinous, transverse]), arch)
    c.paint(posterior, HU[Tissue.CORTICAL_BONE], Tissue.CORTICAL_BONE)
    c.paint(np.minimum(posterior - 1.4, arch), HU[Tissue.MARROW], Tissue.MARROW)
    in_canal = np.minimum(9.5 - canal, y - yv - 14.0)
    c.paint(in_canal, HU[Tissue.CSF], Tissue.CSF)
    c.paint(5.0 - np.hypot(x, y - yv - 26.0), HU[Tissue.CORD], Tissue.CORD)


def _sternum(
    c: _Canvas, x: np.ndarray, behind_front: np.ndarray, z: np.ndarray, patient: Patient
) -> None:
    """Manubrium (wide, up high) and body: cortex round marrow, behind the pectoral fascia.

    ``behind_front``: mm behind the sternum's front plane (``y`` − its ``y``).
    """
    width = np.where(z > 25.0, 26.0, 15.0)
    st = np.hypot(x / width, behind_front / 7.0)
    span = np.minimum(z + 115.0, patient.apex - z)
    c.paint(np.minimum(_radial_sd(st, 7.0), span), HU[Tissue.CORTICAL_BONE], Tissue.CORTICAL_BONE)
    c.paint(np.minimum(_radial_sd(st, 7.0) - 1.5, span - 1.5), HU[Tissue.MARROW], Tissue.MARROW)


# ---------------------------------------------------------------------------
# building a patient from a seed


def make_patient(seed: int, *, sex: str | None = None, tree: bool = True) -> Patient:
    """The patient decided by ``seed``: habitus, bones and cartilage, airways, vessel trees.

    ``sex`` ("F" or "M") overrides the seed's choice; ``tree=False`` skips the
    bronchovascular tree (a second of work) when only the smooth anatomy is wanted.

    >>> p = make_patient(4, sex="F", tree=False)
    >>> p.habitus.sex, 0.85 < p.habitus.size < 1.1, len(p.arteries)
    ('F', True, 0)
    """
    if sex not in (None, "F", "M"):
        raise ValueError(f"Argument 'sex' must be 'F', 'M' or None, not {sex!r}")
    rng = np.random.default_rng([seed, 0xB0D7])
    chosen = sex or ("F" if rng.random() < 0.5 else "M")
    size = rng.uniform(0.94, 1.06) * (0.93 if chosen == "F" else 1.0)
    habitus = Habitus(
        sex=chosen,
        size=float(size),
        fat_mm=float(rng.uniform(6.0, 22.0) * (1.25 if chosen == "F" else 1.0)),
        inspiration=float(rng.uniform(0.6, 1.0)),
    )
    low = 14.0 * habitus.inspiration  # a deep breath pushes the domes down
    patient = Patient(
        habitus=habitus,
        half_width=158.0 * size + 0.8 * habitus.fat_mm,
        half_depth=108.0 * size + 0.9 * habitus.fat_mm,
        apex=72.0 * size,
        dome_right=-104.0 * size - low + rng.uniform(-4, 4),
        dome_left=-118.0 * size - low + rng.uniform(-4, 4),
    )
    patient.seed = seed
    patient.fissure_tilt = rng.uniform(-0.08, 0.08, 4)
    waves = rng.normal(size=(6, 3))
    waves /= np.linalg.norm(waves, axis=1, keepdims=True)
    wavelength = rng.uniform(9.0, 30.0, 6)
    patient.texture = np.column_stack(
        [
            waves * (2 * np.pi / wavelength)[:, None],
            rng.uniform(0, 2 * np.pi, 6),
            np.full(6, np.sqrt(2.0 / 6.0)),
        ]
    )
    patient.great_vessels = _great_vessels(patient)
    patient.airways, patient.lobe_roots = _central_airways(patient)
    segments = _ribs(patient) + _clavicles(patient)
    parts = [_tubes(*(np.array([s[n] for s in segments], float) for n in range(4)), BONE)]
    parts[0].kind = np.array([s[4] for s in segments], np.int8)
    if tree:
        parts += _bronchovascular_trees(patient, np.random.default_rng([seed, 0x7EE]))
    patient.tubes = Tubes(
        *(np.concatenate([getattr(t, name) for t in parts]) for name in ("p0", "p1", "r0", "r1")),
        np.concatenate([t.kind for t in parts]),
    )
    return patient


def population(seed: int, n: int, *, tree: bool = True) -> list[Patient]:
    """``n`` different patients drawn from ``seed``: a class's worth of chests.

    Each is :func:`make_patient` of a seed of its own (``Patient.seed``),
    drawn from ``seed``, so the population is the same every time, the first
    ``n`` of a larger one, and its patients differ in sex, size, fat and depth
    of breath.

    >>> people = population(0, 4, tree=False)
    >>> len({p.seed for p in people}), len({p.habitus for p in people})
    (4, 4)
    """
    if n < 1:
        raise ValueError(f"Argument 'n' must be at least 1, not {n!r}")
    # one draw per place, so a smaller class is the start of a larger one
    seeds = [int(np.random.default_rng([seed, 0x909, i]).integers(1, 2**31)) for i in range(n)]
    return [make_patient(s, tree=tree) for s in seeds]


def _tubes(
    p0: np.ndarray, p1: np.ndarray, r0: np.ndarray, r1: np.ndarray, kind: int | np.ndarray
) -> Tubes:
    """Segments as :class:`Tubes`, all of one ``kind`` or one each."""
    return Tubes(
        np.asarray(p0, float).reshape(-1, 3),
        np.asarray(p1, float).reshape(-1, 3),
        np.asarray(r0, float),
        np.asarray(r1, float),
        np.broadcast_to(np.asarray(kind, np.int8), (len(r0),)).copy(),
    )


_Segment = tuple[np.ndarray, np.ndarray, float, float, int]


def _great_vessels(p: Patient) -> list[tuple[np.ndarray, float]]:
    """Aorta with its arch and branches, pulmonary trunk and arteries, cavae, azygos."""
    yv = float(p.spine_y(np.array(0.0)))
    s = p.habitus.size
    top = p.apex + 40.0
    dr = p.dome_right
    aorta = np.array(
        [
            (8.0, -12.0, dr + 55.0),
            (-10.0, -28.0, -12.0),
            (-10.0, -30.0, 22.0),
            (-2.0, -20.0, 40.0),
            (14.0, yv - 45.0, 44.0),
            (24.0, yv - 22.0, 34.0),
            (22.0, yv - 16.0, 0.0),
            (18.0, yv - 15.0, -120.0),
            (6.0, yv - 18.0, -260.0),
        ]
    )
    return [
        (aorta, 14.0 * s),
        (np.array([(14.0, -42.0, dr + 62.0), (22.0, -40.0, -24.0), (26.0, -24.0, -10.0)]), 13.0),
        (np.array([(22.0, -28.0, -12.0), (0.0, -12.0, -13.0), (-35.0, -10.0, -15.0)]), 9.5),
        (np.array([(26.0, -24.0, -10.0), (40.0, -10.0, -6.0)]), 9.0),
        (np.array([(-34.0, -26.0, top), (-30.0, -24.0, 18.0), (-24.0, -18.0, dr + 72.0)]), 10.0),
        (np.array([(38.0, -45.0, top - 10.0), (0.0, -42.0, 40.0), (-30.0, -25.0, 34.0)]), 6.5),
        (np.array([(-2.0, -25.0, 40.0), (-12.0, -30.0, top)]), 6.5),
        (np.array([(6.0, -28.0, 42.0), (12.0, -22.0, top)]), 4.5),
        (np.array([(12.0, yv - 42.0, 44.0), (26.0, yv - 48.0, top)]), 5.0),
        (np.array([(-22.0, 0.0, dr + 20.0), (-20.0, 10.0, -260.0)]), 12.0),
        (
            np.array([(-6.0, yv - 14.0, -120.0), (-8.0, yv - 14.0, 5.0), (-20.0, yv - 40.0, 12.0)]),
            4.0,
        ),
        # left atrium behind the heart, where the pulmonary veins end
        (np.array([(-12.0, yv - 42.0, dr + 62.0), (22.0, yv - 44.0, dr + 62.0)]), 17.0),
    ]


def _central_airways(
    p: Patient,
) -> tuple[list[tuple[np.ndarray, float]], list[tuple[np.ndarray, np.ndarray]]]:
    """Trachea, main, intermediate and lobar bronchi; and each lobe's root (point, direction)."""
    yt = float(p.spine_y(np.array(0.0))) - 48.0
    carina = np.array([2.0, yt, 0.0])
    right_main = np.array([-26.0, yt + 8.0, -16.0])
    intermedius = np.array([-36.0, yt + 12.0, -38.0])
    left_main = np.array([34.0, yt + 16.0, -28.0])
    roots = {
        "RUL": (np.array([-46.0, yt + 6.0, -8.0]), np.array([-0.6, -0.1, 0.8])),
        "RML": (np.array([-44.0, yt + 6.0, -48.0]), np.array([-0.5, -0.8, -0.3])),
        "RLL": (np.array([-44.0, yt + 20.0, -52.0]), np.array([-0.3, 0.5, -0.8])),
        "LUL": (np.array([46.0, yt + 12.0, -22.0]), np.array([0.5, -0.5, 0.6])),
        "LLL": (np.array([48.0, yt + 24.0, -44.0]), np.array([0.3, 0.5, -0.8])),
    }
    airways = [
        (np.array([(0.0, yt - 6.0, p.apex + 60.0), carina]), 8.5 * p.habitus.size),
        (np.array([carina, right_main]), 6.5),
        (np.array([right_main, roots["RUL"][0]]), 4.2),
        (np.array([right_main, intermedius]), 5.0),
        (np.array([intermedius, roots["RML"][0]]), 3.2),
        (np.array([intermedius, roots["RLL"][0]]), 4.2),
        (np.array([carina, left_main]), 6.0),
        (np.array([left_main, roots["LUL"][0]]), 4.2),
        (np.array([left_main, roots["LLL"][0]]), 4.2),
    ]
    return airways, [roots[name] for name in LOBES]


def _ribs(p: Patient) -> list[_Segment]:
    """Twelve ribs a side round the hemithorax, sloping down to the front, then costal cartilage."""
    out: list[_Segment] = []
    for i in range(12):
        z_post = p.apex + 4.0 - 22.5 * i * p.habitus.size
        drop = 45.0 + 6.0 * i
        theta_end = 2.6 - (0.12 * (i - 6) ** 1.4 if i > 6 else 0.0)
        rad = 4.0 if i else 3.6
        yv = float(p.spine_y(np.array(z_post)))
        for side in (-1.0, 1.0):
            pts = [np.array([side * 20.0, yv + 10.0, z_post + 3.0])]  # the rib head
            for theta in np.linspace(-0.6, theta_end, 26):
                z = z_post - 6.0 * (theta + 0.6) - drop * (1 - np.cos(max(theta, 0.0))) / 2.0
                cx, cy, ax, by = (float(t) for t in p.hemithorax(np.array(z), floor=0.5))
                sn, cs = np.sin(theta), np.cos(theta)
                n = (abs(sn) ** 2.2 + abs(cs) ** 2.2) ** (1 / 2.2)
                u, v = ax * sn / n, by * cs / n
                grow = (np.hypot(u, v) + rad + 1.5) / np.hypot(u, v)
                pts.append(np.array([side * (cx + u * grow), cy + v * grow, z]))
            for p0, p1 in zip(pts[:-1], pts[1:], strict=True):
                out.append((p0, p1, rad, rad, BONE))
            if i < 10:
                zs = pts[-1][2] + (6.0 if i < 7 else 22.0)
                b = float(p.body_axes(np.array(zs))[1])
                end = np.array([side * 16.0, -b + 18.0 + 0.5 * p.habitus.fat_mm, zs])
                mid = 0.5 * (pts[-1] + end) + np.array([side * 8.0, -6.0, 0.0])
                out.append((pts[-1], mid, rad, rad * 0.9, CARTILAGE))
                out.append((mid, end, rad * 0.9, rad * 0.8, CARTILAGE))
    return out


def _clavicles(p: Patient) -> list[_Segment]:
    out: list[_Segment] = []
    b = p.half_depth
    for side in (-1.0, 1.0):
        pts = np.array(
            [
                (side * 18.0, -b + 26.0, p.apex + 4.0),
                (side * 55.0, -b + 22.0, p.apex + 12.0),
                (side * 100.0, -b + 34.0, p.apex + 18.0),
                (side * 140.0, -b + 62.0, p.apex + 26.0),
            ]
        )
        for p0, p1 in zip(pts[:-1], pts[1:], strict=True):
            out.append((p0, p1, 7.0, 6.0, BONE))
    return out


# ---------------------------------------------------------------------------
# the bronchovascular tree


def _lung_points(p: Patient, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points scattered uniformly in the lungs, and the lobe of each."""
    box = rng.uniform(
        [-p.half_width, -p.half_depth, p.dome_left - 80.0],
        [p.half_width, p.half_depth, p.apex],
        (n, 3),
    )
    _, label = tissue(p, box[:, 0], box[:, 1], box[:, 2])
    pts = box[label == Tissue.LUNG]
    return pts, p.lobe(pts[:, 0], pts[:, 1], pts[:, 2])


def _bronchovascular_trees(p: Patient, rng: np.random.Generator) -> list[Tubes]:
    """Bronchi with their arteries, grown per lobe, and the veins between them."""
    points, lobes = _lung_points(p, rng, 70000)
    yv = float(p.spine_y(np.array(0.0)))
    atrium = np.array([0.0, yv - 42.0, p.dome_right + 62.0])
    out: list[Tubes] = []
    for number, (root, heading) in enumerate(p.lobe_roots):
        own = points[lobes == number]
        pick = rng.random(len(own)) < 0.5
        xyz, parent = colonise(root, heading, own[pick][:1800], rng)
        xyz = smoothed(xyz, parent)
        radius = murray_radii(parent, LEAF_RADIUS)
        bronchi = Tree(xyz, parent, radius * BRONCHOARTERIAL_RATIO)
        wall = np.maximum(0.18 * bronchi.radius, 0.9)
        gap = np.where(radius >= BRONCHUS_FROM, bronchi.radius + wall, 0.0) + radius + 0.3
        artery = Tree(xyz + side_offsets(bronchi) * gap[:, None], parent, radius)
        p.arteries.append(artery)
        p.bronchi.append(bronchi)
        p0, p1, r0, r1 = bronchi.curve()
        # a bronchus shows where its artery is thick enough to have one
        visible = r1 >= BRONCHUS_FROM * BRONCHOARTERIAL_RATIO
        out.append(_tubes(p0[visible], p1[visible], r0[visible], r1[visible], AIRWAY))
        out.append(_tubes(*artery.curve(), VESSEL))
        # veins: in the septa between bundles, draining towards the left atrium
        far, _ = cKDTree(artery.xyz).query(own[~pick])
        septal = own[~pick][far > 4.0][:1800]
        ostium = atrium + np.array(
            [np.sign(root[0]) * 30.0, 0.0, 12.0 if number in (0, 1, 3) else -8.0]
        )
        vxyz, vparent = colonise(ostium, unit(septal.mean(0) - ostium), septal, rng)
        vein = Tree(smoothed(vxyz, vparent), vparent, murray_radii(vparent, LEAF_RADIUS))
        p.veins.append(vein)
        out.append(_tubes(*vein.curve(), VESSEL))
    out.append(_tubes(*_hilar_arteries(p).curve(), VESSEL))
    return out


def _hilar_arteries(p: Patient) -> Tree:
    """The pulmonary arteries from the end of the right and left main arteries to each lobe's tree.

    On the right the truncus anterior goes up to the upper lobe and the
    interlobar artery down to the middle and lower lobes; on the left the
    artery arches over the upper lobe bronchus and descends behind it.
    """
    roots = [tree.xyz[0] for tree in p.arteries]
    radii = [float(tree.radius[0]) for tree in p.arteries]
    right_end = p.great_vessels[2][0][-1]
    left_end = p.great_vessels[3][0][-1]
    interlobar = 0.5 * (roots[1] + roots[2]) + np.array([4.0, 0.0, 12.0])
    descending = 0.5 * (left_end + roots[4]) + np.array([6.0, 8.0, 0.0])
    xyz = np.array(
        [right_end, roots[0], interlobar, roots[1], roots[2]]
        + [left_end, roots[3], descending, roots[4]]
    )
    parent = np.array([-1, 0, 0, 2, 2, -1, 5, 5, 7])
    radius = np.zeros(len(xyz))
    radius[[1, 3, 4, 6, 8]] = radii
    for node, kids in ((2, (3, 4)), (7, (8,)), (0, (1, 2)), (5, (6, 7))):
        radius[node] = np.cbrt(sum(radius[k] ** 3 for k in kids))
    return Tree(xyz, parent, radius)


# ---------------------------------------------------------------------------
# landmarks


#: The landmarks :func:`landmarks` places, in the words a reader uses to name them.
LANDMARKS = ("right hilum", "left hilum", "heart", "right hemidiaphragm", "left hemidiaphragm")


def landmarks(patient: Patient) -> dict[str, np.ndarray]:
    """Where a reader points to name each of :data:`LANDMARKS` (LPS mm), as the model built it.

    * a hilum: where the lung's root enters it, the mean of that side's
      pulmonary artery's end and its lobar bronchi's roots (each lobe's
      bronchus and artery begin there); the left one lies higher, its artery
      arching over the left main bronchus;
    * the heart: the centre of its ellipsoid;
    * a hemidiaphragm: the top of its dome (supine; a film stands the patient
      up without moving the domes, :mod:`dicomteach.samples.cr_chest`).

    >>> points = landmarks(make_patient(0, tree=False))
    >>> bool(points["right hilum"][0] < 0 < points["left hilum"][0])
    True
    >>> bool(points["left hilum"][2] > points["right hilum"][2])  # the left hilum is higher
    True
    >>> bool(points["right hemidiaphragm"][2] > points["left hemidiaphragm"][2])
    True
    """
    # the right and left pulmonary arteries end at the hila (the tree starts there:
    # _hilar_arteries); the lobes are in the order of LOBES
    ends = {"right": patient.great_vessels[2][0][-1], "left": patient.great_vessels[3][0][-1]}
    roots = [root for root, _heading in patient.lobe_roots]
    lobes = {"right": roots[:3], "left": roots[3:]}
    out = {f"{side} hilum": np.mean([ends[side], *lobes[side]], axis=0) for side in ends}
    out["heart"] = _heart_centre(patient)
    # Patient.diaphragm: each dome is highest at y = 0, DOME_X either side of the midline
    out["right hemidiaphragm"] = np.array([-DOME_X, 0.0, patient.dome_right])
    out["left hemidiaphragm"] = np.array([DOME_X, 0.0, patient.dome_left])
    return {name: out[name] for name in LANDMARKS}


# ---------------------------------------------------------------------------
# sampling on a CT grid


def render(
    patient: Patient,
    z_mm: np.ndarray,
    y_mm: np.ndarray,
    x_mm: np.ndarray,
    *,
    rotation: np.ndarray | None = None,
    shift: np.ndarray | None = None,
    slab: float = 2.5,
    supersample: int = 1,
    coarse: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free Hounsfield units and tissue labels of ``patient`` on an axial CT grid.

    ``z_mm``, ``y_mm``, ``x_mm``: the scanner coordinates (LPS mm) of the
    grid's slices, rows and columns, evenly spaced. The patient is moved by
    ``p → rotation·p + shift`` first (lying differently at a follow-up).
    ``slab``: the slice thickness tubes are seen through. ``supersample``:
    sub-pixel positions per axis averaged in-plane (labels from the first).
    ``coarse=2`` evaluates the smooth anatomy on a grid twice as coarse
    in-plane and interpolates it (4× faster, for 512² matrices whose pixels
    are finer than the reconstruction's blur); tubes are always drawn at
    full resolution.

    >>> p = make_patient(0, tree=False)
    >>> axis = np.arange(-160.0, 160.0, 4.0)
    >>> hu, label = render(p, np.array([0.0]), axis, axis)
    >>> hu.shape, bool((label == Tissue.LUNG).sum() > 1000)
    ((1, 80, 80), True)
    """
    if coarse not in (1, 2) or (coarse == 2 and (len(y_mm) % 2 or len(x_mm) % 2)):
        raise ValueError(f"Argument 'coarse' must be 1, or 2 on an even grid, not {coarse!r}")
    rotation = np.eye(3) if rotation is None else np.asarray(rotation, float)
    shift = np.zeros(3) if shift is None else np.asarray(shift, float)
    z_mm, y_mm, x_mm = (np.asarray(a, np.float32) for a in (z_mm, y_mm, x_mm))
    hu = np.full((len(z_mm), len(y_mm), len(x_mm)), HU[Tissue.AIR], dtype=np.float32)
    label = np.zeros(hu.shape, dtype=np.int8)
    ys = 0.5 * (y_mm[0::2] + y_mm[1::2]) if coarse == 2 else y_mm
    xs = 0.5 * (x_mm[0::2] + x_mm[1::2]) if coarse == 2 else x_mm
    pixel = float(abs(xs[1] - xs[0])) if len(xs) > 1 else 1.0
    plane = np.full((len(ys), len(xs)), HU[Tissue.AIR], dtype=np.float32)
    plane_label = np.zeros(plane.shape, dtype=np.int8)
    # only the box round the body is computed: air elsewhere
    rows = np.flatnonzero(np.abs(ys - shift[1]) < patient.half_depth * 1.2 + 15.0)
    cols = np.flatnonzero(np.abs(xs - shift[0]) < patient.half_width * 1.1 + 15.0)
    if len(rows) and len(cols):
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        subs = ((np.arange(supersample) + 0.5) / supersample - 0.5) * pixel
        inv = rotation.T
        for k, z in enumerate(z_mm):
            total = np.zeros((r1 - r0, c1 - c0), dtype=np.float32)
            for n, (dy, dx) in enumerate((dy, dx) for dy in subs for dx in subs):
                yy, xx = np.meshgrid(
                    ys[r0:r1] + dy - shift[1], xs[c0:c1] + dx - shift[0], indexing="ij"
                )
                zs = np.float32(z - shift[2])
                xa = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2] * zs
                ya = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2] * zs
                za = inv[2, 0] * xx + inv[2, 1] * yy + inv[2, 2] * zs
                h, lab = tissue(patient, xa, ya, za, edge=pixel / supersample)
                total += h
                if n == 0:
                    plane_label[r0:r1, c0:c1] = lab
            plane[r0:r1, c0:c1] = total / np.float32(supersample * supersample)
            if coarse == 2:
                hu[k] = upsample2(plane)
                label[k] = plane_label.repeat(2, 0).repeat(2, 1)
            else:
                hu[k], label[k] = plane, plane_label
    if len(patient.tubes) and len(z_mm) > 1:
        draw_tubes(
            hu,
            # vessels run on through the mediastinal fat of the hila to their great vessels
            (label == Tissue.LUNG) | (label == Tissue.FAT),
            patient.tubes.moved(rotation, shift),
            z_mm,
            y_mm,
            x_mm,
            slab,
        )
    return hu, label
