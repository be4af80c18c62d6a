"""Chest anatomy in 3D as numpy maths: the phantom behind the CT chest sample study.

The chest radiograph sample projects the 3D patient of
:mod:`dicomteach.samples.patient` (:mod:`dicomteach.samples.drr`); shapes the
samples share live in :mod:`dicomteach.samples._shapes`.

The anatomy lives in the DICOM patient coordinate system (LPS, millimetres;
``x`` towards the patient's left, ``y`` posterior, ``z`` head), with ``z = 0``
near the carina. It is described in three parts:

* smooth "base" tissue (:func:`base_hounsfield`): body wall, lungs, mediastinal
  fat, heart, great vessels, spine, sternum, diaphragm and upper abdomen, as
  Hounsfield units evaluated at any array of points;
* tubes (:class:`Tubes`): pulmonary vessels, airways, ribs, costal cartilage
  and clavicles as tapered line segments, drawn into a CT volume
  (:func:`draw_tubes`);
* a lesion (:class:`Lesion`): a spiculated part-solid nodule.

Everything is decided by the seed; nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dicomteach.samples._shapes import segment_distance

#: Hounsfield units of the tissues drawn (non-contrast CT).
HU = {
    "air": -1000.0,
    "lung": -850.0,
    "fat": -95.0,
    "muscle": 45.0,
    "skin": 30.0,
    "blood": 38.0,
    "myocardium": 48.0,
    "aorta": 45.0,
    "liver": 58.0,
    "spleen": 48.0,
    "kidney": 32.0,
    "cord": 25.0,
    "disc": 80.0,
    "cancellous": 230.0,
    "cortical": 850.0,
    "cartilage": 110.0,
    "vessel": 40.0,
    "airway_wall": 20.0,
    "nodule_solid": 30.0,
    "nodule_ground_glass": -430.0,
}

#: Kinds of tube and how they are drawn.
VESSEL, AIRWAY, BONE, CARTILAGE = 0, 1, 2, 3


@dataclass
class Tubes:
    """Tapered tubes: segment ``i`` runs from ``p0[i]`` (radius ``r0[i]``) to ``p1[i]`` (``r1[i]``)."""

    p0: np.ndarray
    p1: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    kind: np.ndarray

    @classmethod
    def empty(cls) -> Tubes:
        z = np.zeros((0, 3))
        return cls(z, z.copy(), np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int8))

    def __len__(self) -> int:
        return len(self.r0)

    def moved(self, rotation: np.ndarray, shift: np.ndarray) -> Tubes:
        """The same tubes after the rigid motion ``p → rotation·p + shift``."""
        return Tubes(
            self.p0 @ rotation.T + shift, self.p1 @ rotation.T + shift, self.r0, self.r1, self.kind
        )


@dataclass
class Lesion:
    """A lobulated, spiculated lesion (a part-solid nodule or a solid mass).

    ``radius`` is the mean radius of the whole lesion in mm; ``solid_fraction``
    the radius of the solid core relative to it (1 for a solid mass).
    """

    centre: np.ndarray
    radius: float
    solid_fraction: float
    harmonics: np.ndarray  # (n, 4): amplitude, l, m, phase for the lobulation
    spicules: np.ndarray  # (n, 4): unit direction (3) and length relative to the radius

    def scaled(self, factor: float) -> Lesion:
        """The lesion grown by ``factor`` in diameter (same shape, same centre)."""
        return Lesion(
            self.centre, self.radius * factor, self.solid_fraction, self.harmonics, self.spicules
        )

    def normalised_radius(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Distance from the centre divided by the lobulated radius in that direction (≤ 1 inside)."""
        dx, dy, dz = x - self.centre[0], y - self.centre[1], z - self.centre[2]
        dist = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-6
        theta = np.arccos(np.clip(dz / dist, -1, 1))
        phi = np.arctan2(dy, dx)
        bumps = np.ones_like(dist)
        for amp, ell, m, phase in self.harmonics:
            bumps = bumps + amp * np.sin(ell * theta + phase) * np.cos(m * phi + 2 * phase)
        return dist / (self.radius * bumps)

    def spicule_tubes(self) -> Tubes:
        """The spicules as thin vessels radiating from the surface into the lung."""
        d = self.spicules[:, :3]
        length = self.spicules[:, 3] * self.radius
        p0 = self.centre + d * self.radius * 0.7
        p1 = self.centre + d * (self.radius * 0.9 + length[:, None])
        n = len(d)
        r0 = np.full(n, 0.12 * self.radius)
        return Tubes(p0, p1, r0, r0 * 0.25, np.full(n, VESSEL, dtype=np.int8))


@dataclass
class Chest:
    """One fictitious chest: sizes and the tubes and lesion drawn in it (LPS mm)."""

    half_width: float = 158.0
    half_depth: float = 108.0
    dome_right: float = -118.0
    dome_left: float = -132.0
    apex: float = 72.0
    tubes: Tubes = field(default_factory=Tubes.empty)
    great_vessels: list[tuple[np.ndarray, float]] = field(default_factory=list)
    lesion: Lesion | None = None

    # body outline -------------------------------------------------------
    def body_axes(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Half width and half depth of the body at height ``z`` (barrel chest, narrower neck)."""
        t = (z + 60.0) / 170.0
        a = self.half_width * (1.0 - 0.05 * t * t)
        b = self.half_depth * (1.0 - 0.06 * t * t)
        neck = np.clip((z - 100.0) / 45.0, 0.0, 1.0)
        return a * (1 - 0.55 * neck), b * (1 - 0.35 * neck)

    def spine_y(self, z: np.ndarray) -> np.ndarray:
        """Centre of the vertebral body (y) at height ``z``: the thoracic kyphosis."""
        return self.half_depth - 62.0 - 10.0 * np.exp(-(((z + 40.0) / 120.0) ** 2))

    def hemithorax(
        self, z: np.ndarray, floor: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Inner chest wall of one side at height ``z``: centre ``|x|``, centre ``y``, half axes.

        Each hemithorax is a rounded superellipse, so the lungs curve round the
        posterior ribs into the paravertebral gutters; above ``apex − 60`` it
        shrinks into the dome of the apex (``floor``: the least it shrinks to).
        """
        a, b = self.body_axes(z)
        lateral, medial = a - 24.0, 3.0
        front, back = -(b - 30.0), 0.9 * b - 28.0
        cx, ax = 0.5 * (lateral + medial), 0.5 * (lateral - medial)
        cy, by = 0.5 * (front + back), 0.5 * (back - front)
        base = self.apex - 60.0
        f = np.sqrt(np.clip(1.0 - np.clip((z - base) / (self.apex - base), 0, None) ** 2, 0, 1))
        f = np.maximum(f, floor)
        return cx * (0.78 + 0.22 * f), cy + 0.35 * by * (1 - f), ax * f, by * f


def wall_depths(
    anterior: np.ndarray, posterior: np.ndarray, central: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Depth (mm under the skin) where subcutaneous fat ends and where the muscle ends.

    ``anterior``/``posterior``: 0…1 how far towards the front/back; ``central``:
    1 at the midline (thick pectorals in front, back muscles behind).
    """
    fat = 7.0 + 6.0 * anterior * (1.0 - 0.6 * central) + 5.0 * posterior
    muscle = fat + 5.0 + 13.0 * anterior * np.clip(1.6 - 2.2 * central, 0, 1) + 4.0 * posterior
    return fat, muscle


def _superellipse(u: np.ndarray, v: np.ndarray, power: float = 2.4) -> np.ndarray:
    return (np.abs(u) ** power + np.abs(v) ** power) ** (1.0 / power)


def _ramp(signed_mm: np.ndarray, width: float = 0.8) -> np.ndarray:
    """0 outside, 1 inside, linear over ``width`` mm: partial volume at an edge."""
    return np.clip(signed_mm / width + 0.5, 0.0, 1.0)


def _polyline_distance(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, points: np.ndarray, margin: float
) -> np.ndarray:
    """Distance to a polyline, computed only for segments whose height range is near ``z``."""
    best = np.full(np.broadcast(x, y, z).shape, np.inf, dtype=np.float32)
    zmin, zmax = float(np.min(z)), float(np.max(z))
    for p0, p1 in zip(points[:-1], points[1:], strict=True):
        lo, hi = min(p0[2], p1[2]) - margin, max(p0[2], p1[2]) + margin
        if hi < zmin or lo > zmax:
            continue
        d, _ = segment_distance((x, y, z), p0, p1)
        best = np.minimum(best, d)
    return best


def base_hounsfield(
    chest: Chest, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Hounsfield units of the smooth tissues at points ``(x, y, z)`` (LPS mm), and the lung mask.

    Arrays broadcast together; float32 out. Tubes and lesions are drawn
    afterwards on top of these values.
    """
    x, y, z = np.broadcast_arrays(
        np.asarray(x, np.float32), np.asarray(y, np.float32), np.asarray(z, np.float32)
    )
    a, b = chest.body_axes(z)
    # flatter back: the patient lies on the table
    v = y / b
    v = np.where(v > 0, v * (1.0 + 0.12 * v), v)
    rho = _superellipse(x / a, v, 2.2)
    depth = np.hypot(x, v * b) * (1.0 - rho) / np.maximum(rho, 1e-3)  # mm under the skin
    hu = np.full(x.shape, HU["air"], dtype=np.float32)
    yv = chest.spine_y(z)

    # body wall: skin, subcutaneous fat, muscle (pectorals in front, back muscles behind)
    anterior = np.clip(-y / b, 0, 1)
    posterior = np.clip(y / b, 0, 1)
    central = np.clip(1.0 - np.abs(x) / a, 0, 1)
    fat_depth, muscle_depth = wall_depths(anterior, posterior, central)
    hu = np.where(depth > 0, HU["skin"], hu)
    hu = np.where(depth > 1.5, HU["fat"], hu)
    hu = np.where(depth > fat_depth, HU["muscle"], hu)
    # a fat plane between the superficial muscles and the rib cage
    hu = np.where((depth > muscle_depth) & (depth < muscle_depth + 2.5), HU["fat"] + 30.0, hu)
    # erector spinae either side of the spinous processes, a fat line round them
    erector = ((np.abs(x) - 32.0) / 26.0) ** 2 + ((y - yv - 44.0) / 24.0) ** 2
    hu = np.where((erector < 1.15) & (depth > 4.0), HU["fat"] + 20.0, hu)
    hu = np.where((erector < 1.0) & (depth > 4.0), HU["muscle"] + 5.0, hu)
    # partial volume at the skin
    hu = HU["air"] + (hu - HU["air"]) * _ramp(depth, 1.0)

    # the thoracic cavity: two rounded hemithoraces either side of the spine
    cx, cy, ax, by = chest.hemithorax(z)
    rho_c = _superellipse(
        (np.abs(x) - cx) / np.maximum(ax, 1e-3), (y - cy) / np.maximum(by, 1e-3), 2.2
    )
    inside = (rho_c < 1.0) & (ax > 1.0)
    prevertebral = (x / 25.0) ** 2 + ((y - yv - 2.0) / 22.0) ** 2 < 1.0
    back = (y > yv + 8.0) & (np.abs(x) < 27.0 + 0.9 * (y - yv - 8.0))
    cavity = inside & ~prevertebral & ~back
    # intercostal muscle: the layer of the rib cage round the cavity
    hu = np.where(
        (rho_c < 1.0 + 7.0 / np.maximum(ax, 1.0)) & ~cavity & (depth > fat_depth),
        HU["muscle"] - 5.0,
        hu,
    )

    # lungs: cavity above the diaphragm, outside the mediastinum
    dome = np.where(x < 0, chest.dome_right, chest.dome_left)
    xd = np.where(x < 0, -55.0, 55.0)
    diaphragm = dome - 60.0 * (((x - xd) / 95.0) ** 2 + ((y - 0.0) / 100.0) ** 2)
    diaphragm = diaphragm - 22.0 * np.clip(y / b, 0, 1)  # deep posterior recesses
    above = z > diaphragm
    # mediastinum: heart, great vessels, the fat around trachea, oesophagus and aorta
    heart = _heart_radius(chest, x, y, z)
    vessels_d = np.full(x.shape, np.inf, dtype=np.float32)
    vessel_r = np.zeros(x.shape, dtype=np.float32)
    for points, radius in chest.great_vessels:
        d = _polyline_distance(x, y, z, points, radius + 10.0)
        closer = d - radius < vessels_d - vessel_r
        vessels_d = np.where(closer, d, vessels_d)
        vessel_r = np.where(closer, radius, vessel_r)
    mediastinum = heart < 1.1
    upper = np.clip((z + 10.0) / 20.0, 0, 1)
    mediastinum |= (np.abs(x - 2.0) < 6.0 + 10.0 * upper) & (y < yv - 10.0)
    mediastinum |= ((x - 4.0) / (15.0 + 6.0 * upper)) ** 2 + ((y - yv + 36.0) / 27.0) ** 2 < 1.0
    mediastinum |= vessels_d < vessel_r + 3.0 + 2.0 * upper
    lung = cavity & above & ~mediastinum
    # lung parenchyma: gravity makes the dependent (posterior) lung a little denser
    hu = np.where(cavity & above, HU["fat"], hu)
    lung_hu = HU["lung"] + 55.0 * np.clip((y - yv + 70.0) / 120.0, 0, 1) ** 2
    hu = np.where(lung, lung_hu, hu)
    # the pleura: a thin line where lung meets the chest wall
    hu = np.where(lung & (rho_c > 1.0 - 1.2 / np.maximum(ax, 1.0)), -300.0, hu)

    # heart: pericardium, epicardial fat, myocardium and blood
    hu = np.where((heart > 1.02) & (heart < 1.05), HU["muscle"] - 15.0, hu)
    hu = np.where(heart < 1.0, HU["myocardium"], hu)
    hu = np.where(heart < 0.8, HU["blood"], hu)
    atrium = np.sqrt(
        ((x + 24.0) / 26.0) ** 2
        + ((y + 12.0) / 28.0) ** 2
        + ((z - chest.dome_right - 38.0) / 30.0) ** 2
    )
    hu = np.where(atrium < 1.0, HU["blood"], hu)
    # aorta, pulmonary arteries, venae cavae; a thin calcified-free wall
    hu = np.where(vessels_d < vessel_r, HU["aorta"], hu)
    # oesophagus behind the trachea, left of midline, a little air in it
    oes = np.hypot((x - 10.0) / 1.2, y - (yv - 27.0))
    in_chest = z > diaphragm - 30.0
    hu = np.where((oes < 8.0) & in_chest & ~lung, HU["muscle"] - 5.0, hu)
    hu = np.where((oes < 1.8) & in_chest & ~lung, HU["air"], hu)

    # below the diaphragm: liver on the right, stomach and spleen on the left
    abdomen = (rho_c < 1.0) & ~above & ~prevertebral & ~back
    abdomen |= (
        (depth > muscle_depth + 8.0) & (z < diaphragm) & ~prevertebral & ~back & (erector > 1.15)
    )
    hu = np.where(abdomen, HU["fat"] + 20.0, hu)
    liver = abdomen & (x < 45.0 - 0.3 * (y + 40.0)) & (z < diaphragm - 3.0)
    hu = np.where(liver, HU["liver"], hu)
    stomach = np.sqrt(((x - 55.0) / 48.0) ** 2 + ((y + 25.0) / 42.0) ** 2)
    stomach_top = chest.dome_left - 20.0
    stomach_in = abdomen & ~liver & (stomach < 1.0) & (z < diaphragm - 4.0)
    hu = np.where(stomach_in, 25.0, hu)
    hu = np.where(stomach_in & (z > stomach_top - 12.0) & (y < -10.0), HU["air"], hu)
    spleen = abdomen & ~liver & (((x - 85.0) / 28.0) ** 2 + ((y - 45.0) / 40.0) ** 2 < 1.0)
    hu = np.where(spleen & (z < diaphragm - 4.0), HU["spleen"], hu)
    # the diaphragm itself: a muscle sheet under the lung bases
    sheet = (z < diaphragm) & (z > diaphragm - 4.0) & (rho_c < 1.0)
    hu = np.where(sheet & ~lung, HU["muscle"], hu)
    crus = abdomen & (np.abs(x) < 30.0) & (np.abs(y - yv + 30.0) < 12.0)
    hu = np.where(crus, HU["muscle"], hu)

    # spine: vertebral body, discs, canal, posterior elements
    hu = _spine(hu, x, y, z, yv)
    # sternum: manubrium and body, in front of the mediastinum
    hu = _sternum(hu, x, y, z, b)
    # scapulae: thin plates behind the ribs, upper chest
    phi = np.arctan2(np.abs(x) / a, v)
    scap = (
        (depth > fat_depth + 2.0)
        & (depth < fat_depth + 7.0)
        & (phi > 0.55)
        & (phi < 1.05 - 0.004 * np.clip(-40.0 - z, 0, 200))
        & (z > -95.0)
        & (z < 95.0)
    )
    hu = np.where(scap, 0.5 * (HU["cancellous"] + HU["cortical"]), hu)
    return hu, lung


def _heart_radius(chest: Chest, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Normalised radius of the heart ellipsoid, its long axis pointing left, forward and down."""
    c = np.array([20.0, -30.0, chest.dome_right + 38.0])
    dx, dy, dz = x - c[0], y - c[1], z - c[2]
    # rotate 40° about z (apex to the left and front) and 25° about y (apex down)
    ca, sa = np.cos(np.radians(40)), np.sin(np.radians(40))
    u = ca * dx - sa * dy
    w = sa * dx + ca * dy
    cb, sb = np.cos(np.radians(25)), np.sin(np.radians(25))
    u, h = cb * u + sb * dz, -sb * u + cb * dz
    return np.sqrt((u / 62.0) ** 2 + (w / 44.0) ** 2 + (h / 46.0) ** 2)


def _spine(
    hu: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, yv: np.ndarray
) -> np.ndarray:
    """Vertebrae 26 mm apart: body (cortical rim, cancellous centre), disc, arch, processes."""
    phase = np.mod(z + 7.0, 26.0) - 13.0  # 0 at the middle of a body, ±13 at a disc
    disc = np.clip((np.abs(phase) - 10.0) / 1.5, 0.0, 1.0)  # smooth endplates
    waist = 1.0 - 0.08 * np.cos(np.pi * phase / 13.0)  # bodies are concave at the waist
    body = np.sqrt((x / (19.0 * waist)) ** 2 + ((y - yv) / (16.0 * waist)) ** 2)
    vertebra = (1.0 - disc) * np.where(body < 0.9, HU["cancellous"] + 20.0, HU["cortical"] - 150.0)
    value = vertebra + disc * HU["disc"]
    hu = np.where(body < 1.0, value, hu)
    # posterior elements sit on the body, not on the disc: pedicles, laminae, processes
    arch_on = np.abs(phase) < 11.5
    canal = np.hypot(x / 1.1, y - yv - 26.0)
    pedicle = (np.abs(np.abs(x) - 12.0) < 4.0) & (y > yv + 10.0) & (y < yv + 26.0)
    lamina = (canal > 9.5) & (canal < 15.0) & (y > yv + 24.0)
    spinous = (np.abs(x) < 4.0) & (y > yv + 38.0) & (y < yv + 60.0 + 0.5 * phase)
    transverse = (
        ((np.abs(x) - 22.0) / 12.0) ** 2 + ((y - yv - 28.0 + 0.35 * np.abs(x)) / 4.5) ** 2
    ) < 1.0
    bone = (pedicle | lamina | spinous | transverse) & arch_on
    hu = np.where(bone, 420.0, hu)
    hu = np.where((canal < 9.5) & (y > yv + 14.0), 8.0, hu)  # CSF
    hu = np.where(np.hypot(x, y - yv - 26.0) < 5.0, HU["cord"], hu)
    return hu


def _sternum(
    hu: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, b: np.ndarray
) -> np.ndarray:
    width = np.where(z > 25.0, 26.0, 15.0)
    front = -b + 22.0
    st = np.sqrt((x / width) ** 2 + ((y - front) / 7.0) ** 2)
    span = (z > -115.0) & (z < 72.0)
    hu = np.where((st < 1.0) & span, HU["cortical"], hu)
    hu = np.where((st < 0.7) & span, HU["cancellous"], hu)
    return hu


# ---------------------------------------------------------------------------
# building a chest from a seed


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)


Segment = tuple[np.ndarray, np.ndarray, float, float, int]


def _territory_tree(
    root: np.ndarray,
    radius: float,
    points: np.ndarray,
    rng: np.random.Generator,
    *,
    leaf: int,
    airway_from: float | None = None,
) -> tuple[list[Segment], list[Segment]]:
    """A vessel tree that fills the lung points it is given, and the bronchi beside it.

    Each branch heads for the centre of the lung it supplies, then splits that
    territory in two across its longest axis; radii follow Murray's law
    (``r³`` proportional to the territory), so the tree tapers from the hilum
    to sub-millimetre twigs at the pleura. Where a branch is thicker than
    ``airway_from`` mm a bronchus runs beside it (the bronchoarterial pair).
    """
    n_root = len(points)
    vessels: list[Segment] = []
    airways: list[Segment] = []
    stack = [(np.asarray(root, float), np.arange(n_root), np.zeros(3))]
    while stack:
        p, idx, offset = stack.pop()
        r = radius * (len(idx) / n_root) ** (1.0 / 3.0)
        pts = points[idx]
        c = pts.mean(axis=0)
        if len(idx) <= leaf:
            end = c + 0.6 * (pts[np.argmax(np.linalg.norm(pts - c, axis=1))] - c)
            vessels.append((p, c, r, r * 0.85, VESSEL))
            vessels.append((c, end, r * 0.85, r * 0.6, VESSEL))
            continue
        q = p + rng.uniform(0.35, 0.55) * (c - p) + rng.normal(0.0, 0.06, 3) * np.linalg.norm(c - p)
        vessels.append((p, q, r, r * 0.97, VESSEL))
        if airway_from is not None and r >= airway_from:
            side = _unit(np.cross(q - p, (0.3, 0.2, 1.0)))
            new_offset = side * (r + 0.8 * r + 1.2)
            if not offset.any():
                offset = new_offset
            airways.append((p + offset, q + new_offset, 0.8 * r, 0.78 * r, AIRWAY))
            offset = new_offset
        else:
            offset = np.zeros(3)
        d = pts - c
        _, vecs = np.linalg.eigh(d.T @ d)
        proj = d @ vecs[:, -1]
        cut = np.quantile(proj, rng.uniform(0.3, 0.7))
        for part in (idx[proj <= cut], idx[proj > cut]):
            if len(part):
                stack.append((q, part, offset))
    return vessels, airways


def _lung_points(chest: Chest, rng: np.random.Generator, n: int) -> np.ndarray:
    box = rng.uniform([-170.0, -120.0, -220.0], [170.0, 120.0, 80.0], (n, 3))
    _, inside = base_hounsfield(chest, box[:, 0], box[:, 1], box[:, 2])
    return box[inside]


def _pulmonary_trees(chest: Chest, rng: np.random.Generator) -> list[Segment]:
    """Arteries from the hila and veins to the left atrium, filling both lungs, and the bronchi."""
    points = _lung_points(chest, rng, 44000)
    yv = float(chest.spine_y(np.array(0.0)))
    out: list[Segment] = []
    airways: list[Segment] = []
    for side in (-1.0, 1.0):
        own = points[points[:, 0] * side > 0]
        half = rng.random(len(own)) < 0.55
        arteries, veins = own[half], own[~half]
        # arteries: an upper-lobe trunk and an interlobar one per hilum
        hilum = np.array([side * 52.0, -4.0 + 6.0 * (side > 0), -14.0 + 8.0 * (side > 0)])
        upper = arteries[:, 2] > hilum[2] + 15.0
        for part, r, start in ((upper, 5.5, hilum + (0, -4, 6)), (~upper, 7.0, hilum + (0, 4, -6))):
            v, a = _territory_tree(start, r, arteries[part], rng, leaf=3, airway_from=1.6)
            out += v
            airways += a
        # veins: superior and inferior pulmonary veins into the left atrium
        atrium = np.array([side * 34.0, yv - 40.0, -55.0])
        upper = veins[:, 2] > atrium[2] + 10.0
        for part, r, start in (
            (upper, 5.5, atrium + (0, -4, 10)),
            (~upper, 6.0, atrium + (0, 6, -8)),
        ):
            v, _ = _territory_tree(start, r, veins[part], rng, leaf=3)
            out += v
    return out + airways


def _ribs(chest: Chest) -> list[Segment]:
    """Twelve ribs a side hugging the hemithorax, sloping down to the front, then costal cartilage."""
    out: list[Segment] = []
    for i in range(12):
        z_post = chest.apex + 4.0 - 22.5 * i
        drop = 45.0 + 6.0 * i
        theta_end = 2.6 - (0.12 * (i - 6) ** 1.4 if i > 6 else 0.0)
        rad = 4.0 if i else 3.6
        yv = float(chest.spine_y(np.array(z_post)))
        for side in (-1.0, 1.0):
            pts = [np.array([side * 20.0, yv + 10.0, z_post + 3.0])]  # the rib head
            for theta in np.linspace(-0.6, theta_end, 26):
                z = z_post - 6.0 * (theta + 0.6) - drop * (1 - np.cos(max(theta, 0.0))) / 2.0
                cx, cy, ax, by = (float(t) for t in chest.hemithorax(np.array(z), floor=0.5))
                s, c = np.sin(theta), np.cos(theta)
                n = float(_superellipse(np.array(s), np.array(c), 2.2))
                u, v = ax * s / n, by * c / n
                grow = (np.hypot(u, v) + rad + 1.0) / np.hypot(u, v)
                pts.append(np.array([side * (cx + u * grow), cy + v * grow, z]))
            pts = np.array(pts)
            for p0, p1 in zip(pts[:-1], pts[1:], strict=True):
                out.append((p0, p1, rad, rad, BONE))
            if i < 10:
                # costal cartilage up to the sternum
                zs = pts[-1][2] + (6.0 if i < 7 else 22.0)
                b = float(chest.body_axes(np.array(zs))[1])
                end = np.array([side * 16.0, -b + 24.0, zs])
                mid = 0.5 * (pts[-1] + end) + np.array([side * 8.0, -6.0, 0.0])
                out.append((pts[-1], mid, rad, rad * 0.9, CARTILAGE))
                out.append((mid, end, rad * 0.9, rad * 0.8, CARTILAGE))
    return out


def _clavicles(chest: Chest) -> list[Segment]:
    out: list[Segment] = []
    b = chest.half_depth
    for side in (-1.0, 1.0):
        pts = np.array(
            [
                (side * 18.0, -b + 26.0, chest.apex + 4.0),
                (side * 55.0, -b + 22.0, chest.apex + 12.0),
                (side * 100.0, -b + 34.0, chest.apex + 18.0),
                (side * 140.0, -b + 62.0, chest.apex + 26.0),
            ]
        )
        for p0, p1 in zip(pts[:-1], pts[1:], strict=True):
            out.append((p0, p1, 7.0, 6.0, BONE))
    return out


def _great_vessels(chest: Chest) -> list[tuple[np.ndarray, float]]:
    """Aorta, pulmonary trunk and arteries, superior vena cava: (polyline, radius)."""
    yv = float(chest.spine_y(np.array(0.0)))
    top = chest.apex + 40.0
    aorta = np.array(
        [
            (8.0, -12.0, chest.dome_right + 55.0),
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
    trunk = np.array(
        [(14.0, -42.0, chest.dome_right + 62.0), (22.0, -40.0, -24.0), (26.0, -24.0, -10.0)]
    )
    right_pa = np.array(
        [(22.0, -28.0, -12.0), (0.0, -12.0, -13.0), (-35.0, -10.0, -15.0), (-50.0, -6.0, -16.0)]
    )
    left_pa = np.array([(26.0, -24.0, -10.0), (42.0, -8.0, -4.0), (52.0, 4.0, -8.0)])
    svc = np.array(
        [(-34.0, -26.0, top), (-30.0, -24.0, 18.0), (-24.0, -18.0, chest.dome_right + 72.0)]
    )
    brachiocephalic_vein = np.array(
        [(38.0, -45.0, top - 10.0), (0.0, -42.0, 40.0), (-30.0, -25.0, 34.0)]
    )
    arch_branches = np.array([(-2.0, -25.0, 40.0), (-12.0, -30.0, top)])
    left_carotid = np.array([(6.0, -28.0, 42.0), (12.0, -22.0, top)])
    left_subclavian = np.array([(12.0, yv - 42.0, 44.0), (26.0, yv - 48.0, top)])
    ivc = np.array([(-22.0, 0.0, chest.dome_right + 20.0), (-20.0, 10.0, -260.0)])
    azygos = np.array([(-6.0, yv - 14.0, -120.0), (-8.0, yv - 14.0, 5.0), (-20.0, yv - 40.0, 12.0)])
    return [
        (aorta, 14.0),
        (trunk, 14.0),
        (right_pa, 10.0),
        (left_pa, 10.0),
        (svc, 10.0),
        (brachiocephalic_vein, 6.5),
        (arch_branches, 6.5),
        (left_carotid, 4.5),
        (left_subclavian, 5.0),
        (ivc, 12.0),
        (azygos, 4.0),
    ]


def _airways(chest: Chest) -> list[Segment]:
    """Trachea and main bronchi: the right short and steep, the left long, under the arch."""
    yv = float(chest.spine_y(np.array(0.0)))
    yt = yv - 48.0
    carina = np.array([2.0, yt, 0.0])
    out: list[Segment] = [(np.array([0.0, yt - 6.0, chest.apex + 45.0]), carina, 9.0, 8.5, AIRWAY)]
    out.append((carina, np.array([-28.0, yt + 8.0, -16.0]), 7.0, 6.0, AIRWAY))
    out.append(
        (np.array([-28.0, yt + 8.0, -16.0]), np.array([-48.0, yt + 14.0, -30.0]), 6.0, 4.5, AIRWAY)
    )
    out.append(
        (np.array([-28.0, yt + 8.0, -16.0]), np.array([-48.0, yt + 6.0, -2.0]), 4.5, 4.0, AIRWAY)
    )
    out.append((carina, np.array([36.0, yt + 16.0, -26.0]), 6.2, 5.5, AIRWAY))
    out.append(
        (np.array([36.0, yt + 16.0, -26.0]), np.array([52.0, yt + 20.0, -40.0]), 5.5, 4.5, AIRWAY)
    )
    out.append(
        (np.array([36.0, yt + 16.0, -26.0]), np.array([50.0, yt + 8.0, -10.0]), 4.5, 4.0, AIRWAY)
    )
    return out


def make_chest(seed: int, *, lesion: str | None = "nodule") -> Chest:
    """A chest decided by ``seed``: sizes, vessel and airway trees, ribs, and a lesion.

    ``lesion``: ``"nodule"`` (a 15 mm spiculated part-solid nodule in the right
    upper lobe) or None.
    """
    rng = np.random.default_rng([seed, 0xC4E57])
    chest = Chest(
        half_width=158.0 * rng.uniform(0.97, 1.03),
        half_depth=108.0 * rng.uniform(0.97, 1.03),
        dome_right=-118.0 + rng.uniform(-5, 5),
        dome_left=-132.0 + rng.uniform(-5, 5),
    )
    chest.great_vessels = _great_vessels(chest)
    lesion_rng = np.random.default_rng([seed, 0x1E5])
    segs = _ribs(chest) + _clavicles(chest) + _airways(chest) + _pulmonary_trees(chest, rng)
    if lesion is not None:
        chest.lesion = _lesion(chest, lesion_rng, lesion)
    chest.tubes = Tubes(
        np.array([s[0] for s in segs], float),
        np.array([s[1] for s in segs], float),
        np.array([s[2] for s in segs], float),
        np.array([s[3] for s in segs], float),
        np.array([s[4] for s in segs], np.int8),
    )
    return chest


def make_nodule(seed: int) -> Lesion:
    """The spiculated part-solid nodule of seed ``seed`` (the one :func:`make_chest` places).

    >>> bool(np.allclose(make_nodule(0).centre, make_chest(0).lesion.centre))
    True
    """
    return _lesion(Chest(), np.random.default_rng([seed, 0x1E5]), "nodule")


def _lesion(chest: Chest, rng: np.random.Generator, kind: str) -> Lesion:
    if kind != "nodule":
        raise ValueError(f"Argument 'lesion' must be 'nodule' or None, not {kind!r}")
    centre = np.array([-82.0, 30.0, 22.0]) + rng.uniform(-4, 4, 3)
    radius, solid = 7.5, 0.5
    n_spicules = 14
    harmonics = np.column_stack(
        [
            rng.uniform(0.04, 0.1, 4),
            rng.integers(2, 5, 4),
            rng.integers(1, 4, 4),
            rng.uniform(0, 2 * np.pi, 4),
        ]
    )
    directions = rng.normal(size=(n_spicules, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    spicules = np.column_stack([directions, rng.uniform(0.6, 1.4, n_spicules)])
    return Lesion(centre, radius, solid, harmonics, spicules)


# ---------------------------------------------------------------------------
# drawing into a CT grid


def rigid_motion(degrees_z: float, degrees_x: float) -> np.ndarray:
    """Rotation matrix: ``degrees_z`` about the body axis, then ``degrees_x`` about the left-right axis."""
    a, c = np.radians(degrees_z), np.radians(degrees_x)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rx @ rz


#: Voxels measured per batch by :func:`draw_tubes` (bounds its memory).
_TUBE_BATCH = 1 << 20
#: Slices :func:`draw_tubes` gathers tube shares for at once.
_TUBE_SLICES = 8
#: What each kind of tube leaves in a voxel: (share, Hounsfield units, only in the lung).
_TUBE_LAYERS = (
    ("bone", "cortical", False),
    ("cartilage", "cartilage", False),
    ("wall", "airway_wall", True),
    ("lumen", "air", False),
    ("vessel", "vessel", True),
)


def draw_tubes(
    hu: np.ndarray,
    lung: np.ndarray,
    tubes: Tubes,
    z_mm: np.ndarray,
    y_mm: np.ndarray,
    x_mm: np.ndarray,
    slab: float,
) -> None:
    """Draw ``tubes`` (scanner coordinates) into the CT volume ``hu`` in place.

    ``z_mm``, ``y_mm``, ``x_mm``: the regular coordinates of the volume's axes.
    Vessels and airway walls are drawn only in the lung; airway lumens, bone
    and cartilage everywhere. Thin tubes are widened to a voxel and made
    fainter (partial volume), and a slab of ``slab`` mm counts as in-plane.

    Each segment is cut into the slices its slab reaches, and every voxel of
    the box round that piece is measured at once, a few slices at a time.
    Where tubes of a kind overlap (a branch point, a joint) a voxel takes the
    largest share any of them gives it; the kinds are then laid on in the
    order bone, cartilage, airway wall, airway lumen, vessel.

    >>> z = np.arange(5.0); y = x = np.arange(-4.0, 4.5, 0.5)
    >>> hu = np.full((5, 17, 17), -850.0, dtype=np.float32)
    >>> tube = Tubes(np.array([[0.0, 0, 0]]), np.array([[0.0, 0, 4]]), np.ones(1), np.ones(1),
    ...              np.array([VESSEL], np.int8))
    >>> draw_tubes(hu, np.ones(hu.shape, bool), tube, z, y, x, 1.0)
    >>> float(hu[2, 8, 8]), float(hu[2, 8, 0])
    (40.0, -850.0)
    """
    if not len(tubes) or len(z_mm) < 2:
        return
    pieces = _TubePieces(tubes, np.asarray(z_mm), np.asarray(y_mm), np.asarray(x_mm), slab)
    block_of = pieces.k // _TUBE_SLICES
    order = np.lexsort((pieces.kind, block_of))
    bounds = np.searchsorted(block_of[order], np.arange(hu.shape[0] // _TUBE_SLICES + 2))
    for block in range(len(bounds) - 1):
        here = order[bounds[block] : bounds[block + 1]]
        if not here.size:
            continue
        k0 = block * _TUBE_SLICES
        shares = _TubeShares(hu[k0 : k0 + _TUBE_SLICES], lung[k0 : k0 + _TUBE_SLICES])
        for batch in pieces.batches(here):
            shares.add(pieces, batch, k0)
        shares.lay_on()


class _TubePieces:
    """Each tube segment cut into the slices it reaches: one row per (segment, slice).

    Per piece: its slice ``k``, the box of rows and columns round it
    (``i0``…``i1``, ``j0``…``j1``), and the line ``t = a·x + b·y + c`` giving
    the position along the segment nearest a point of that slice (before
    clipping to 0…1), with the segment's start, direction and radii.
    """

    def __init__(
        self, tubes: Tubes, z_mm: np.ndarray, y_mm: np.ndarray, x_mm: np.ndarray, slab: float
    ) -> None:
        dz, dy, dx = (float(a[1] - a[0]) for a in (z_mm, y_mm, x_mm))
        self.pixel = abs(dx)
        p0, p1 = tubes.p0.astype(float), tubes.p1.astype(float)
        step = p1 - p0
        rmax = np.maximum(tubes.r0, tubes.r1)
        wall = np.where(tubes.kind == AIRWAY, np.maximum(0.18 * rmax, 0.9), 0.0)
        reach = np.maximum(rmax, 0.6 * self.pixel) + wall + 0.5 * self.pixel
        half = 0.5 * slab + reach  # how far in z a slice still sees the tube
        kz = np.sort(np.stack([p0[:, 2], p1[:, 2]]), axis=0)
        first = np.ceil((np.where(dz > 0, kz[0] - half, kz[1] + half) - z_mm[0]) / dz)
        last = np.floor((np.where(dz > 0, kz[1] + half, kz[0] - half) - z_mm[0]) / dz)
        first, last = np.sort(np.stack([first, last]), axis=0)
        first = np.clip(first, 0, len(z_mm)).astype(np.int64)
        last = np.clip(last + 1, 0, len(z_mm)).astype(np.int64)
        count = np.maximum(last - first, 0)
        seg = np.repeat(np.arange(len(count)), count)
        k = first[seg] + np.arange(seg.size) - np.repeat(np.cumsum(count) - count, count)
        z = z_mm[k].astype(float)
        # the part of the segment within the slice's reach, as a range of t
        sz = step[seg, 2]
        flat = np.abs(sz) < 1e-6
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = np.where(flat, 0.0, (z - half[seg] - p0[seg, 2]) / sz)
            tb = np.where(flat, 1.0, (z + half[seg] - p0[seg, 2]) / sz)
        ta, tb = np.clip(np.minimum(ta, tb), 0, 1), np.clip(np.maximum(ta, tb), 0, 1)
        ends = np.stack(
            [p0[seg, :2] + ta[:, None] * step[seg, :2], p0[seg, :2] + tb[:, None] * step[seg, :2]]
        )
        lo = ends.min(0) - reach[seg, None]
        hi = ends.max(0) + reach[seg, None]
        rows = np.sort(np.stack([(lo[:, 1] - y_mm[0]) / dy, (hi[:, 1] - y_mm[0]) / dy]), axis=0)
        cols = np.sort(np.stack([(lo[:, 0] - x_mm[0]) / dx, (hi[:, 0] - x_mm[0]) / dx]), axis=0)
        self.i0 = np.clip(np.ceil(rows[0]), 0, len(y_mm)).astype(np.int64)
        self.i1 = np.clip(np.floor(rows[1]) + 1, 0, len(y_mm)).astype(np.int64)
        self.j0 = np.clip(np.ceil(cols[0]), 0, len(x_mm)).astype(np.int64)
        self.j1 = np.clip(np.floor(cols[1]) + 1, 0, len(x_mm)).astype(np.int64)
        keep = (self.i1 > self.i0) & (self.j1 > self.j0)
        seg, k, z = seg[keep], k[keep], z[keep]
        self.i0, self.i1, self.j0, self.j1 = (a[keep] for a in (self.i0, self.i1, self.j0, self.j1))
        self.k = k
        self.kind = tubes.kind[seg]
        length2 = np.maximum((step[seg] ** 2).sum(1), 1e-9)
        s = step[seg]
        start = p0[seg] - np.stack(
            [np.zeros_like(z), np.zeros_like(z), z], 1
        )  # z relative to the slice
        self.size = (self.i1 - self.i0) * (self.j1 - self.j0)
        # per piece: t = a·x + b·y + c; offsets from start + t·step; radius r0 + dr·t
        self.table = np.stack(
            [
                s[:, 0] / length2,
                s[:, 1] / length2,
                -(start * s).sum(1) / length2,
                start[:, 0],
                start[:, 1],
                start[:, 2],
                s[:, 0],
                s[:, 1],
                s[:, 2],
                tubes.r0[seg],
                tubes.r1[seg] - tubes.r0[seg],
            ],
            1,
        ).astype(np.float32)
        self.y_mm = np.asarray(y_mm, np.float32)
        self.x_mm = np.asarray(x_mm, np.float32)
        self.half_slab = np.float32(0.5 * slab)

    def batches(self, which: np.ndarray) -> list[np.ndarray]:
        """``which`` (pieces of one kind after another) in runs of one kind and ≤ _TUBE_BATCH voxels."""
        out = []
        kinds = self.kind[which]
        cuts = np.flatnonzero(np.diff(kinds)) + 1
        for run in np.split(which, cuts):
            total = np.cumsum(self.size[run])
            start = 0
            while start < len(run):
                base = total[start - 1] if start else 0
                stop = max(int(np.searchsorted(total, base + _TUBE_BATCH, "right")), start + 1)
                out.append(run[start:stop])
                start = stop
        return out


class _TubeShares:
    """The share of each voxel of a few slices each kind of tube covers, then laid on ``hu``."""

    def __init__(self, hu: np.ndarray, lung: np.ndarray) -> None:
        self.hu, self.lung = hu, lung
        self.shares = {name: np.zeros(hu.size, np.float32) for name, _, _ in _TUBE_LAYERS}
        self.marrow = np.zeros(hu.size, np.float32)
        self.touched = np.zeros(hu.size, bool)

    def add(self, pieces: _TubePieces, which: np.ndarray, k0: int) -> None:
        size = pieces.size[which]
        n = int(size.sum())
        if not n:
            return
        owner = np.repeat(np.arange(len(which), dtype=np.int32), size)
        local = np.arange(n, dtype=np.int32) - np.repeat(
            (np.cumsum(size) - size).astype(np.int32), size
        )
        width = (pieces.j1 - pieces.j0)[which].astype(np.int32)[owner]
        di = local // width
        i = pieces.i0[which].astype(np.int32)[owner] + di
        j = pieces.j0[which].astype(np.int32)[owner] + (local - di * width)
        a, b, c, sx, sy, sz, ux, uy, uz, r0, dr = pieces.table[which][owner].T
        y, x = pieces.y_mm[i], pieces.x_mm[j]
        t = np.clip(a * x + b * y + c, 0.0, 1.0)
        ox = x - sx - t * ux
        oy = y - sy - t * uy
        oz = np.maximum(np.abs(sz + t * uz) - pieces.half_slab, 0.0)
        d = np.sqrt(ox * ox + oy * oy + oz * oz)
        r = r0 + dr * t
        kind = int(pieces.kind[which[0]])
        flat = ((pieces.k[which].astype(np.int32)[owner] - k0) * self.hu.shape[1] + i) * (
            self.hu.shape[2]
        ) + j
        pixel = pieces.pixel
        if kind == VESSEL:
            r_eff = np.maximum(r, np.float32(0.6 * pixel))
            faint = np.minimum(np.float32(1.0), (r / r_eff) ** 2 * np.float32(1.6))
            self._take("vessel", flat, _ramp(r_eff - d, pixel) * faint)
        elif kind == AIRWAY:
            self._take("wall", flat, _ramp(r + np.maximum(0.18 * r, 0.9) - d, pixel))
            self._take("lumen", flat, _ramp(r - d, pixel))
        elif kind == BONE:
            self._take("bone", flat, _ramp(r - d, pixel))
            inner = _ramp(r - 1.6 - d, pixel)
            at = inner > 0
            np.maximum.at(self.marrow, flat[at], inner[at].astype(np.float32))
        else:
            self._take("cartilage", flat, _ramp(r - d, pixel))

    def _take(self, name: str, flat: np.ndarray, share: np.ndarray) -> None:
        at = share > 0
        flat = flat[at]
        np.maximum.at(self.shares[name], flat, share[at].astype(np.float32))
        self.touched[flat] = True

    def lay_on(self) -> None:
        at = np.flatnonzero(self.touched)
        hu = self.hu.reshape(-1)
        values = hu[at]
        in_lung = self.lung.reshape(-1)[at]
        for name, tissue, lung_only in _TUBE_LAYERS:
            share = self.shares[name][at]
            if lung_only:
                share = np.where(in_lung, share, np.float32(0.0))
            value = np.float32(HU[tissue])
            if name == "bone":
                value = value + self.marrow[at] * np.float32(HU["cancellous"] - HU["cortical"])
            values += share * (value - values)
        hu[at] = values


def draw_lesion(
    hu: np.ndarray,
    lung: np.ndarray,
    lesion: Lesion,
    to_anatomy: tuple[np.ndarray, np.ndarray],
    z_mm: np.ndarray,
    y_mm: np.ndarray,
    x_mm: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, tuple[slice, slice, slice]]:
    """Draw the lesion into ``hu`` in place; returns its mask (the reference) and where it lies.

    ``to_anatomy`` = (rotation, shift) maps scanner points to anatomy points:
    ``p_anatomy = rotation·(p − shift)``... given as the matrix and vector of
    that inverse motion.
    """
    rot_inv, shift = to_anatomy
    centre_scan = np.linalg.inv(rot_inv) @ lesion.centre + shift
    reach = lesion.radius * 1.5 + 3.0
    ks = _axis_slice(z_mm, centre_scan[2], reach)
    is_ = _axis_slice(y_mm, centre_scan[1], reach)
    js = _axis_slice(x_mm, centre_scan[0], reach)
    zz, yy, xx = np.meshgrid(z_mm[ks], y_mm[is_], x_mm[js], indexing="ij")
    pts = np.stack([xx - shift[0], yy - shift[1], zz - shift[2]], axis=-1) @ rot_inv.T
    rn = lesion.normalised_radius(pts[..., 0], pts[..., 1], pts[..., 2])
    mm = lesion.radius
    outer = _ramp((1.0 - rn) * mm, 1.2)
    core = _ramp((lesion.solid_fraction - rn) * mm, 1.5)
    texture = rng.normal(0.0, 1.0, rn.shape).astype(np.float32)
    texture = (
        texture + np.roll(texture, 1, 1) + np.roll(texture, 1, 2) + np.roll(texture, 1, 0)
    ) / 2.0
    ground_glass = HU["nodule_ground_glass"] + 45.0 * texture
    value = ground_glass + core * (HU["nodule_solid"] - ground_glass)
    box = hu[ks, is_, js]
    box += (outer * (value - box)).astype(box.dtype)
    mask = np.zeros(hu.shape, dtype=bool)
    mask[ks, is_, js] = rn <= 1.0
    return mask, (ks, is_, js)


def _axis_slice(axis_mm: np.ndarray, centre: float, reach: float) -> slice:
    step = axis_mm[1] - axis_mm[0]
    a = (centre - reach - axis_mm[0]) / step
    b = (centre + reach - axis_mm[0]) / step
    a, b = sorted((a, b))
    return slice(max(int(np.floor(a)), 0), min(int(np.ceil(b)) + 1, len(axis_mm)))


def ct_volume(
    chest: Chest,
    z_mm: np.ndarray,
    y_mm: np.ndarray,
    x_mm: np.ndarray,
    *,
    rotation: np.ndarray | None = None,
    shift: np.ndarray | None = None,
    slab: float = 2.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free Hounsfield units on a regular axial grid, and the lesion mask.

    The anatomy is moved by ``p → rotation·p + shift`` before sampling (a
    patient lying a little differently at a follow-up).
    """
    rotation = np.eye(3) if rotation is None else rotation
    shift = np.zeros(3) if shift is None else np.asarray(shift, float)
    inv = rotation.T
    hu = np.empty((len(z_mm), len(y_mm), len(x_mm)), dtype=np.float32)
    lung = np.empty(hu.shape, dtype=bool)
    # smooth tissue on a grid twice as coarse in-plane, then interpolated: 4× faster;
    # computed only inside the box around the body (air elsewhere)
    yc = 0.5 * (y_mm[0::2] + y_mm[1::2])
    xc = 0.5 * (x_mm[0::2] + x_mm[1::2])
    reach = np.hypot(chest.half_width, chest.half_depth)
    rows = np.flatnonzero(np.abs(yc - shift[1]) < min(reach, chest.half_depth * 1.15 + 12.0))
    cols = np.flatnonzero(np.abs(xc - shift[0]) < min(reach, chest.half_width * 1.1 + 12.0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    yy, xx = np.meshgrid(yc[r0:r1] - shift[1], xc[c0:c1] - shift[0], indexing="ij")
    coarse = np.full((len(yc), len(xc)), HU["air"], dtype=np.float32)
    coarse_lung = np.zeros(coarse.shape, dtype=bool)
    for k, z in enumerate(z_mm):
        zs = np.float32(z - shift[2])
        xa = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2] * zs
        ya = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2] * zs
        za = inv[2, 0] * xx + inv[2, 1] * yy + inv[2, 2] * zs
        coarse[r0:r1, c0:c1], coarse_lung[r0:r1, c0:c1] = base_hounsfield(chest, xa, ya, za)
        hu[k] = upsample2(coarse)
        lung[k] = coarse_lung.repeat(2, 0).repeat(2, 1)
    draw_tubes(hu, lung, chest.tubes.moved(rotation, shift), z_mm, y_mm, x_mm, slab)
    mask = np.zeros(hu.shape, dtype=bool)
    if chest.lesion is not None:
        rng = np.random.default_rng(7)
        draw_tubes(
            hu, lung, chest.lesion.spicule_tubes().moved(rotation, shift), z_mm, y_mm, x_mm, slab
        )
        mask, _ = draw_lesion(hu, lung, chest.lesion, (inv, shift), z_mm, y_mm, x_mm, rng)
    return hu, mask


def upsample2(image: np.ndarray) -> np.ndarray:
    """Bilinear ×2 upsampling of a cell-centred 2D grid (edges clamped)."""

    def axis(a: np.ndarray, ax: int) -> np.ndarray:
        prev = np.concatenate([np.take(a, [0], ax), np.take(a, range(a.shape[ax] - 1), ax)], ax)
        nxt = np.concatenate([np.take(a, range(1, a.shape[ax]), ax), np.take(a, [-1], ax)], ax)
        out = np.stack([0.75 * a + 0.25 * prev, 0.75 * a + 0.25 * nxt], ax + 1)
        shape = list(a.shape)
        shape[ax] *= 2
        return out.reshape(shape)

    return axis(axis(image, 0), 1).astype(np.float32)
