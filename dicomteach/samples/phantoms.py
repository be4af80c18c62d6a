"""Chest anatomy as numpy maths: the phantom behind the CT and radiograph sample studies.

The anatomy lives in the DICOM patient coordinate system (LPS, millimetres;
``x`` towards the patient's left, ``y`` posterior, ``z`` head), with ``z = 0``
near the carina. It is described in two ways:

* smooth "base" tissue (:func:`base_hounsfield`): body wall, lungs, mediastinal
  fat, heart, great vessels, spine, sternum, diaphragm and upper abdomen, as
  Hounsfield units evaluated at any array of points;
* tubes (:class:`Tubes`): pulmonary vessels, airways, ribs, costal cartilage
  and clavicles as tapered line segments, drawn into a CT volume
  (:func:`draw_tubes`) or projected for a radiograph (:func:`project_tubes`);
* a lesion (:class:`Lesion`): a spiculated part-solid nodule or a mass.

Everything is decided by the seed; nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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


def wall_depths(
    anterior: np.ndarray, posterior: np.ndarray, central: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Depth (mm under the skin) where subcutaneous fat ends and where the muscle ends.

    ``anterior``/``posterior``: 0…1 how far towards the front/back; ``central``:
    1 at the midline (thick pectorals in front, back muscles behind).
    """
    fat = 8.0 + 5.0 * anterior + 6.0 * posterior
    muscle = fat + 6.0 + 14.0 * anterior * central + 10.0 * posterior * central
    return fat, muscle


def _superellipse(u: np.ndarray, v: np.ndarray, power: float = 2.4) -> np.ndarray:
    return (np.abs(u) ** power + np.abs(v) ** power) ** (1.0 / power)


def _ramp(signed_mm: np.ndarray, width: float = 0.8) -> np.ndarray:
    """0 outside, 1 inside, linear over ``width`` mm: partial volume at an edge."""
    return np.clip(signed_mm / width + 0.5, 0.0, 1.0)


def _segment_distance(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, p0: np.ndarray, p1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from points to a segment and the position ``t`` (0…1) of the nearest point."""
    d = p1 - p0
    length2 = float(d @ d) or 1e-9
    t = ((x - p0[0]) * d[0] + (y - p0[1]) * d[1] + (z - p0[2]) * d[2]) / length2
    t = np.clip(t, 0.0, 1.0)
    ex = x - (p0[0] + t * d[0])
    ey = y - (p0[1] + t * d[1])
    ez = z - (p0[2] + t * d[2])
    return np.sqrt(ex * ex + ey * ey + ez * ez), t


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
        d, _ = _segment_distance(x, y, z, p0, p1)
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
    rho = _superellipse(x / a, v)
    depth = np.hypot(x, v * b) * (1.0 - rho) / np.maximum(rho, 1e-3)  # mm under the skin
    hu = np.full(x.shape, HU["air"], dtype=np.float32)

    # body wall: skin, subcutaneous fat, muscle (pectorals in front, thicker back muscles)
    anterior = np.clip(-y / b, 0, 1)
    posterior = np.clip(y / b, 0, 1)
    central = np.clip(1.0 - np.abs(x) / a, 0, 1)
    fat_depth, muscle_depth = wall_depths(anterior, posterior, central)
    hu = np.where(depth > 0, HU["skin"], hu)
    hu = np.where(depth > 2.0, HU["fat"], hu)
    hu = np.where(depth > fat_depth, HU["muscle"], hu)
    # partial volume at the skin
    hu = HU["air"] + (hu - HU["air"]) * _ramp(depth, 1.0)

    # the thoracic cavity: inside the rib cage, around the spine
    cavity_depth = muscle_depth + 7.0
    yv = chest.spine_y(z)
    inside = depth > cavity_depth
    spine_zone = ((x / 28.0) ** 2 + ((y - yv - 6.0) / 28.0) ** 2) < 1.0
    back = (y > yv + 6.0) & (np.abs(x) < 28.0 + 0.5 * (y - yv - 6.0))
    cavity = inside & ~spine_zone & ~back
    hu = np.where(inside & ~cavity, HU["muscle"], hu)

    # lungs: cavity above the diaphragm, below the apex, outside the mediastinum
    dome = np.where(x < 0, chest.dome_right, chest.dome_left)
    xd = np.where(x < 0, -60.0, 60.0)
    diaphragm = dome - 55.0 * (((x - xd) / 95.0) ** 2 + ((y - 5.0) / 110.0) ** 2)
    diaphragm = diaphragm - 18.0 * np.clip(y / b, 0, 1)  # deep posterior recesses
    above = z > diaphragm
    apex_shrink = np.clip((chest.apex - z) / 45.0, 0.0, 1.0)
    lung_zone = cavity & above & (depth > cavity_depth + 45.0 * (1.0 - np.sqrt(apex_shrink)))
    lung_zone &= z < chest.apex
    # mediastinum: heart, great vessels, the fat around trachea, oesophagus and aorta
    heart = _heart_radius(chest, x, y, z)
    vessels_d = np.full(x.shape, np.inf, dtype=np.float32)
    vessel_r = np.zeros(x.shape, dtype=np.float32)
    for points, radius in chest.great_vessels:
        d = _polyline_distance(x, y, z, points, radius + 10.0)
        closer = d - radius < vessels_d - vessel_r
        vessels_d = np.where(closer, d, vessels_d)
        vessel_r = np.where(closer, radius, vessel_r)
    mediastinum = heart < 1.12
    mediastinum |= (np.abs(x) < 4.0 + 8.0 * np.clip((z - 20.0) / 40.0, 0, 1)) & (y < yv)
    upper = np.clip((z + 10.0) / 20.0, 0, 1)
    mediastinum |= ((x - 4.0) / (16.0 + 8.0 * upper)) ** 2 + ((y - yv + 36.0) / 28.0) ** 2 < 1.0
    mediastinum |= ((x - 10.0) / 20.0) ** 2 + ((y - yv + 14.0) / 18.0) ** 2 < 1.0
    mediastinum |= vessels_d < vessel_r + 4.0 + 3.0 * upper
    lung = lung_zone & ~mediastinum
    # lung parenchyma: gravity makes the dependent (posterior) lung a little denser
    hu = np.where(cavity & above, HU["fat"], hu)
    lung_hu = HU["lung"] + 45.0 * np.clip((y - yv + 60.0) / 120.0, 0, 1)
    hu = np.where(lung, lung_hu, hu)

    # heart: pericardial fat, myocardium, blood pool
    hu = np.where(heart < 1.0, HU["myocardium"], hu)
    hu = np.where(heart < 0.78, HU["blood"], hu)
    # aorta, pulmonary arteries, venae cavae
    hu = np.where(vessels_d < vessel_r, HU["aorta"], hu)
    # oesophagus behind the trachea
    oes = np.hypot(x - 8.0, y - (yv - 30.0))
    in_chest = z > diaphragm - 30.0
    hu = np.where((oes < 8.0) & in_chest & ~lung, HU["muscle"] - 5.0, hu)
    hu = np.where((oes < 2.0) & in_chest & ~lung, HU["air"], hu)

    # below the diaphragm: liver on the right, stomach and spleen on the left
    abdomen = inside & ~above & ~spine_zone & ~back
    hu = np.where(abdomen, HU["fat"] + 20.0, hu)
    liver = abdomen & (x < 40.0 - 0.3 * (y + 40.0)) & (z < diaphragm - 3.0)
    hu = np.where(liver, HU["liver"], hu)
    stomach = np.sqrt(((x - 55.0) / 48.0) ** 2 + ((y + 25.0) / 42.0) ** 2)
    stomach_top = chest.dome_left - 20.0
    stomach_in = abdomen & ~liver & (stomach < 1.0) & (z < diaphragm - 4.0)
    hu = np.where(stomach_in, 25.0, hu)
    hu = np.where(stomach_in & (z > stomach_top - 12.0) & (y < -10.0), HU["air"], hu)
    spleen = abdomen & ~liver & (((x - 85.0) / 28.0) ** 2 + ((y - 45.0) / 40.0) ** 2 < 1.0)
    hu = np.where(spleen & (z < diaphragm - 4.0), HU["spleen"], hu)
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
    c = np.array([26.0, -36.0, chest.dome_right + 35.0])
    dx, dy, dz = x - c[0], y - c[1], z - c[2]
    # rotate 40° about z (apex to the left and front) and 20° about y (apex down)
    ca, sa = np.cos(np.radians(40)), np.sin(np.radians(40))
    u = ca * dx - sa * dy
    w = sa * dx + ca * dy
    cb, sb = np.cos(np.radians(25)), np.sin(np.radians(25))
    u, h = cb * u + sb * dz, -sb * u + cb * dz
    return np.sqrt((u / 60.0) ** 2 + (w / 43.0) ** 2 + (h / 46.0) ** 2)


def _spine(
    hu: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, yv: np.ndarray
) -> np.ndarray:
    phase = np.mod(z + 7.0, 27.0)
    disc = phase < 5.0
    body = np.sqrt((x / 19.0) ** 2 + ((y - yv) / 16.0) ** 2)
    hu = np.where(body < 1.0, np.where(disc, HU["disc"], HU["cortical"]), hu)
    hu = np.where((body < 0.9) & ~disc, HU["cancellous"] - 60.0, hu)
    canal = np.hypot(x, y - yv - 27.0)
    arch = (canal < 16.0) & (y > yv + 15.0)
    spinous = (np.abs(x) < 4.5) & (y > yv + 35.0) & (y < yv + 62.0)
    transverse = (
        ((np.abs(x) - 22.0) / 11.0) ** 2 + ((y - yv - 26.0 + 0.25 * np.abs(x)) / 5.0) ** 2
    ) < 1.0
    bone = (arch | spinous | transverse) & (phase > 8.0)
    hu = np.where(bone, 0.5 * (HU["cancellous"] + HU["cortical"]), hu)
    hu = np.where(canal < 9.5, HU["cord"], hu)
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


def _rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    return (
        v * np.cos(angle)
        + np.cross(axis, v) * np.sin(angle)
        + axis * float(axis @ v) * (1 - np.cos(angle))
    )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)


def _forest(
    chest: Chest,
    roots: list[tuple[np.ndarray, np.ndarray, float]],
    rng: np.random.Generator,
    kind: int,
    *,
    min_radius: float,
    max_depth: int,
) -> list[tuple[np.ndarray, np.ndarray, float, float, int]]:
    """Branching trees from ``roots`` (point, direction, radius), grown a generation at a time.

    Children are thinner and spread away from their root; a branch that would
    leave the lung is shortened or stops.
    """
    out: list[tuple[np.ndarray, np.ndarray, float, float, int]] = []
    # random points of the lungs attract the branches, so that the trees fill them
    box = rng.uniform([-170.0, -120.0, -200.0], [170.0, 120.0, 80.0], (3000, 3))
    _, inside = base_hounsfield(chest, box[:, 0], box[:, 1], box[:, 2])
    targets = box[inside]
    # (start, direction, radius, depth, root)
    front = [
        (np.asarray(p, float), _unit(np.asarray(d, float)), r, 0, np.asarray(p, float))
        for p, d, r in roots
    ]
    while front:
        lengths = np.array(
            [np.clip(r * rng.uniform(3.0, 5.0), 3.5, 25.0) for _, _, r, _, _ in front]
        )
        starts = np.array([f[0] for f in front])
        dirs = np.array([f[1] for f in front])
        ends = starts + dirs * lengths[:, None]
        halves = starts + dirs * (0.45 * lengths)[:, None]
        pts = np.concatenate([ends, halves])
        _, lung = base_hounsfield(chest, pts[:, 0], pts[:, 1], pts[:, 2])
        n = len(front)
        nxt = []
        for i, (p, d, r, depth, root) in enumerate(front):
            if lung[i] or depth == 0:
                q = ends[i]
            elif lung[n + i]:
                q = halves[i]
            else:
                continue
            r_end = r * 0.95
            out.append((p, q, r, r_end, kind))
            if r_end < min_radius or depth >= max_depth:
                continue
            away = _unit(q - root)
            axis = _unit(np.cross(d, rng.normal(size=3)))
            for share, angle in ((0.84, rng.uniform(0.2, 0.45)), (0.7, -rng.uniform(0.4, 0.8))):
                child = _unit(_rotate(d, axis, angle) + 0.35 * away)
                to = targets - q
                dist = np.linalg.norm(to, axis=1) + 1e-6
                ahead = np.flatnonzero((to @ child > 0.6 * dist) & (dist > 8.0) & (dist < 100.0))
                if len(ahead):
                    pick = ahead[rng.integers(len(ahead))]
                    child = _unit(child + 0.9 * to[pick] / dist[pick])
                nxt.append((q, child, r_end * share, depth + 1, root))
        front = nxt
    return out


def wall_point(chest: Chest, side: float, phi: float, z: float, inset: float) -> np.ndarray:
    """The point ``inset`` mm under the skin at angle ``phi`` from the back (0) to the front (π)."""
    a, b = (float(t) for t in chest.body_axes(np.array(z)))
    s, c = np.sin(phi), np.cos(phi)
    n = float(_superellipse(np.array(s), np.array(c)))
    u, v = s / n, c / n
    if v > 0:  # undo the flattening of the back
        v = (-1.0 + np.sqrt(1.0 + 0.48 * v)) / 0.24
    x, y = side * a * u, b * v
    r = np.hypot(x, y)
    return np.array([x * (1 - inset / r), y * (1 - inset / r), z])


def _ribs(chest: Chest) -> list[tuple[np.ndarray, np.ndarray, float, float, int]]:
    """Twelve ribs a side: curved bone tubes sloping down to the front, then costal cartilage."""
    out = []
    for i in range(12):
        z_post = chest.apex + 2.0 - 22.5 * i
        drop = 50.0 + 5.0 * i
        phi_end = 2.45 - (0.12 * (i - 6) ** 1.4 if i > 6 else 0.0)
        rad = 4.0 if i else 3.6
        for side in (-1.0, 1.0):
            pts = []
            for phi in np.linspace(0.3, phi_end, 24):
                z = z_post - 10.0 * phi - drop * (1 - np.cos(phi)) / 2.0
                c = np.cos(phi)
                _, muscle = wall_depths(max(-c, 0.0), max(c, 0.0), 1.0 - abs(np.sin(phi)))
                pts.append(wall_point(chest, side, phi, z, float(muscle) + 3.0))
            pts = np.array(pts)
            for p0, p1 in zip(pts[:-1], pts[1:], strict=True):
                out.append((p0, p1, rad, rad, BONE))
            if i < 10:
                # costal cartilage up to the sternum
                zs = pts[-1][2] + (6.0 if i < 7 else 22.0)
                b = float(chest.body_axes(np.array(zs))[1])
                end = np.array([side * 16.0, -b + 24.0, zs])
                mid = wall_point(
                    chest, side, 0.5 * (phi_end + np.pi), 0.5 * (pts[-1][2] + zs), 22.0
                )
                out.append((pts[-1], mid, rad, rad * 0.9, CARTILAGE))
                out.append((mid, end, rad * 0.9, rad * 0.8, CARTILAGE))
    return out


def _clavicles(chest: Chest) -> list[tuple[np.ndarray, np.ndarray, float, float, int]]:
    out = []
    b = chest.half_depth
    for side in (-1.0, 1.0):
        pts = np.array(
            [
                (side * 14.0, -b + 28.0, chest.apex + 2.0),
                (side * 55.0, -b + 24.0, chest.apex + 10.0),
                (side * 100.0, -b + 38.0, chest.apex + 16.0),
                (side * 140.0, -b + 70.0, chest.apex + 24.0),
            ]
        )
        for p0, p1 in zip(pts[:-1], pts[1:], strict=True):
            out.append((p0, p1, 7.0, 6.5, BONE))
    return out


def _great_vessels(chest: Chest) -> list[tuple[np.ndarray, float]]:
    """Aorta, pulmonary trunk and arteries, superior vena cava: (polyline, radius)."""
    yv = float(chest.spine_y(np.array(0.0)))
    top = chest.apex + 40.0
    aorta = np.array(
        [
            (5.0, -10.0, chest.dome_right + 50.0),
            (-12.0, -30.0, -10.0),
            (-12.0, -32.0, 25.0),
            (-2.0, -20.0, 40.0),
            (14.0, yv - 50.0, 44.0),
            (24.0, yv - 22.0, 34.0),
            (24.0, yv - 18.0, 0.0),
            (18.0, yv - 16.0, -120.0),
            (6.0, yv - 20.0, -260.0),
        ]
    )
    trunk = np.array(
        [(12.0, -40.0, chest.dome_right + 60.0), (24.0, -42.0, -20.0), (28.0, -25.0, -8.0)]
    )
    right_pa = np.array(
        [(24.0, -30.0, -10.0), (0.0, -12.0, -12.0), (-35.0, -10.0, -14.0), (-52.0, -5.0, -18.0)]
    )
    left_pa = np.array([(28.0, -25.0, -8.0), (45.0, -5.0, -2.0), (55.0, 5.0, -8.0)])
    svc = np.array(
        [(-35.0, -28.0, top), (-32.0, -26.0, 20.0), (-25.0, -22.0, chest.dome_right + 70.0)]
    )
    arch_branches = np.array([(-2.0, -25.0, 40.0), (-12.0, -30.0, top)])
    left_subclavian = np.array([(12.0, yv - 45.0, 44.0), (28.0, yv - 50.0, top)])
    ivc = np.array([(-22.0, 0.0, chest.dome_right + 20.0), (-20.0, 10.0, -260.0)])
    return [
        (aorta, 14.0),
        (trunk, 14.0),
        (right_pa, 10.0),
        (left_pa, 10.0),
        (svc, 10.0),
        (arch_branches, 6.0),
        (left_subclavian, 5.5),
        (ivc, 12.0),
    ]


def _airways(
    chest: Chest, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray, float, float, int]]:
    yv = float(chest.spine_y(np.array(0.0)))
    yt = yv - 48.0
    carina = np.array([0.0, yt, 0.0])
    out = [(np.array([0.0, yt - 4.0, chest.apex + 45.0]), carina, 9.0, 8.5, AIRWAY)]
    right = np.array([-30.0, yt + 8.0, -18.0])
    left = np.array([42.0, yt + 14.0, -32.0])
    out.append((carina, right, 7.0, 6.5, AIRWAY))
    out.append((carina, left, 6.2, 5.8, AIRWAY))
    roots = [
        (right, (-0.6, 0.0, 0.8), 4.5),
        (right, (-0.4, 0.1, -0.9), 4.5),
        (left, (-0.1, 0.0, 1.0), 4.5),
        (left, (0.4, 0.2, -0.9), 4.5),
    ]
    return out + _forest(chest, roots, rng, AIRWAY, min_radius=1.3, max_depth=4)


def _vessel_trees(
    chest: Chest, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray, float, float, int]]:
    roots = [
        # pulmonary arteries from the hila
        ((-54.0, -4.0, -18.0), (-0.5, 0.0, 0.9), 6.5),
        ((-54.0, -4.0, -22.0), (-0.5, 0.2, -0.9), 7.0),
        ((-52.0, -14.0, -25.0), (-0.6, -0.6, -0.3), 5.0),
        ((55.0, 5.0, -8.0), (0.3, 0.1, 1.0), 6.0),
        ((55.0, 5.0, -12.0), (0.5, 0.3, -0.9), 6.5),
        ((52.0, -10.0, -15.0), (0.6, -0.7, -0.2), 4.5),
        # pulmonary veins towards the left atrium
        ((-40.0, 20.0, -60.0), (-0.8, 0.3, -0.4), 5.5),
        ((-40.0, 10.0, -45.0), (-0.8, -0.2, 0.5), 5.0),
        ((42.0, 22.0, -55.0), (0.8, 0.3, -0.4), 5.0),
        ((40.0, 10.0, -40.0), (0.8, -0.1, 0.5), 4.5),
    ]
    return _forest(chest, roots, rng, VESSEL, min_radius=0.4, max_depth=12)


def make_chest(seed: int, *, lesion: str | None = "nodule", scale: float = 1.0) -> Chest:
    """A chest decided by ``seed``: sizes, vessel and airway trees, ribs, and a lesion.

    ``lesion``: ``"nodule"`` (a 15 mm spiculated part-solid nodule in the right
    upper lobe), ``"mass"`` (a 40 mm solid mass in the left upper zone) or None.
    """
    rng = np.random.default_rng([seed, 0xC4E57])
    chest = Chest(
        half_width=158.0 * scale * rng.uniform(0.97, 1.03),
        half_depth=108.0 * scale * rng.uniform(0.97, 1.03),
        dome_right=-118.0 + rng.uniform(-5, 5),
        dome_left=-132.0 + rng.uniform(-5, 5),
    )
    chest.great_vessels = _great_vessels(chest)
    segs = _ribs(chest) + _clavicles(chest) + _airways(chest, rng) + _vessel_trees(chest, rng)
    if lesion is not None:
        chest.lesion = _lesion(chest, rng, lesion)
    chest.tubes = Tubes(
        np.array([s[0] for s in segs], float),
        np.array([s[1] for s in segs], float),
        np.array([s[2] for s in segs], float),
        np.array([s[3] for s in segs], float),
        np.array([s[4] for s in segs], np.int8),
    )
    return chest


def _lesion(chest: Chest, rng: np.random.Generator, kind: str) -> Lesion:
    if kind == "nodule":
        centre = np.array([-82.0, 30.0, 22.0]) + rng.uniform(-4, 4, 3)
        radius, solid = 7.5, 0.5
        n_spicules = 14
    elif kind == "mass":
        centre = np.array([75.0, -10.0, 5.0]) + rng.uniform(-4, 4, 3)
        radius, solid = 20.0, 1.0
        n_spicules = 6
    else:
        raise ValueError(f"Argument 'lesion' must be 'nodule', 'mass' or None, not {kind!r}")
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
# drawing into a CT grid and projecting for a radiograph


def rigid_motion(degrees_z: float, degrees_x: float) -> np.ndarray:
    """Rotation matrix: ``degrees_z`` about the body axis, then ``degrees_x`` about the left-right axis."""
    a, c = np.radians(degrees_z), np.radians(degrees_x)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rx @ rz


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
    """
    dz, dy, dx = z_mm[1] - z_mm[0], y_mm[1] - y_mm[0], x_mm[1] - x_mm[0]
    pixel = float(abs(dx))
    for p0, p1, r0, r1, kind in zip(
        tubes.p0, tubes.p1, tubes.r0, tubes.r1, tubes.kind, strict=True
    ):
        rmax = max(r0, r1) + 1.5 + (1.5 if kind == AIRWAY else 0.0)
        lo = np.minimum(p0, p1) - rmax
        hi = np.maximum(p0, p1) + rmax
        k0, k1 = sorted(((lo[2] - slab - z_mm[0]) / dz, (hi[2] + slab - z_mm[0]) / dz))
        i0, i1 = sorted(((lo[1] - y_mm[0]) / dy, (hi[1] - y_mm[0]) / dy))
        j0, j1 = sorted(((lo[0] - x_mm[0]) / dx, (hi[0] - x_mm[0]) / dx))
        ks = slice(max(int(np.floor(k0)), 0), min(int(np.ceil(k1)) + 1, len(z_mm)))
        is_ = slice(max(int(np.floor(i0)), 0), min(int(np.ceil(i1)) + 1, len(y_mm)))
        js = slice(max(int(np.floor(j0)), 0), min(int(np.ceil(j1)) + 1, len(x_mm)))
        if ks.start >= ks.stop or is_.start >= is_.stop or js.start >= js.stop:
            continue
        zz = z_mm[ks][:, None, None]
        yy = y_mm[is_][None, :, None]
        xx = x_mm[js][None, None, :]
        d, t = _slab_distance(xx, yy, zz, p0, p1, slab)
        r = r0 + (r1 - r0) * t
        box = hu[ks, is_, js]
        in_lung = lung[ks, is_, js]
        if kind == VESSEL:
            r_eff = np.maximum(r, 0.6 * pixel)
            w = _ramp(r_eff - d, pixel) * np.minimum(1.0, (r / r_eff) ** 2 * 1.6)
            box += np.where(in_lung, w * (HU["vessel"] - box), 0.0).astype(box.dtype)
        elif kind == AIRWAY:
            wall = np.maximum(0.18 * r, 0.9)
            w_wall = _ramp(r + wall - d, pixel)
            box += np.where(in_lung, w_wall * (HU["airway_wall"] - box), 0.0).astype(box.dtype)
            w = _ramp(r - d, pixel)
            box += (w * (HU["air"] - box)).astype(box.dtype)
        elif kind == BONE:
            w = _ramp(r - d, pixel)
            inner = _ramp(r - 1.6 - d, pixel)
            value = HU["cortical"] + inner * (HU["cancellous"] - HU["cortical"])
            box += (w * (value - box)).astype(box.dtype)
        else:
            w = _ramp(r - d, pixel)
            box += (w * (HU["cartilage"] - box)).astype(box.dtype)


def _slab_distance(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, p0: np.ndarray, p1: np.ndarray, slab: float
) -> tuple[np.ndarray, np.ndarray]:
    d = p1 - p0
    length2 = float(d @ d) or 1e-9
    t = ((x - p0[0]) * d[0] + (y - p0[1]) * d[1] + (z - p0[2]) * d[2]) / length2
    t = np.clip(t, 0.0, 1.0)
    ex = x - (p0[0] + t * d[0])
    ey = y - (p0[1] + t * d[1])
    ez = z - (p0[2] + t * d[2])
    ez = np.maximum(np.abs(ez) - slab / 2.0, 0.0)
    return np.sqrt(ex * ex + ey * ey + ez * ez), t


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


def attenuation(hu: np.ndarray) -> np.ndarray:
    """Linear attenuation (1/mm) at a radiograph's effective energy from Hounsfield units.

    Bone attenuates more than its HU says at low energy: the bone part is boosted.
    """
    mu_water = 0.021
    mu = mu_water * (1.0 + np.asarray(hu, np.float32) / 1000.0)
    bone = np.clip((np.asarray(hu, np.float32) - 150.0) / 700.0, 0.0, 1.0)
    return np.maximum(mu * (1.0 + 0.5 * bone), 0.0)


def project_tubes(
    path: np.ndarray,
    tubes: Tubes,
    z_mm: np.ndarray,
    x_mm: np.ndarray,
) -> None:
    """Add the attenuation of ``tubes`` along y (AP) to the line-integral image ``path`` in place.

    ``path`` is (rows = z, columns = x). The chord through a tube of radius
    ``r`` at distance ``d`` from its projected axis is ``2·sqrt(r² − d²)``.
    """
    mu_soft = float(attenuation(np.array(HU["vessel"])))
    mu_lung = float(attenuation(np.array(HU["lung"])))
    mu_cort = float(attenuation(np.array(HU["cortical"])))
    mu_canc = float(attenuation(np.array(HU["cancellous"])))
    mu_cart = float(attenuation(np.array(HU["cartilage"])))
    dz, dx = z_mm[1] - z_mm[0], x_mm[1] - x_mm[0]
    # the segments of one tube overlap at their joints: keep the largest chord, don't add them
    denser = np.zeros(path.shape, dtype=np.float32)
    lighter = np.zeros(path.shape, dtype=np.float32)
    for p0, p1, r0, r1, kind in zip(
        tubes.p0, tubes.p1, tubes.r0, tubes.r1, tubes.kind, strict=True
    ):
        rmax = max(r0, r1) + 0.5
        lo = np.minimum(p0, p1) - rmax
        hi = np.maximum(p0, p1) + rmax
        rs = _axis_slice_between(z_mm, lo[2], hi[2], dz)
        cs = _axis_slice_between(x_mm, lo[0], hi[0], dx)
        if rs.start >= rs.stop or cs.start >= cs.stop:
            continue
        zz = z_mm[rs][:, None]
        xx = x_mm[cs][None, :]
        q0 = np.array([p0[0], 0.0, p0[2]])
        q1 = np.array([p1[0], 0.0, p1[2]])
        d, t = _segment_distance(xx, 0.0, zz, q0, q1)
        r = r0 + (r1 - r0) * t
        chord = 2.0 * np.sqrt(np.maximum(r * r - d * d, 0.0))
        if kind == VESSEL:
            add = (mu_soft - mu_lung) * chord
        elif kind == AIRWAY:
            add = -0.5 * (mu_soft - mu_lung) * chord
        elif kind == BONE:
            ri = np.maximum(r - 1.6, 0.0)
            inner = 2.0 * np.sqrt(np.maximum(ri * ri - d * d, 0.0))
            add = (mu_cort - mu_soft) * (chord - inner) + (mu_canc - mu_soft) * inner
        else:
            add = (mu_cart - mu_soft) * chord
        if kind == AIRWAY:
            lighter[rs, cs] = np.minimum(lighter[rs, cs], add)
        else:
            denser[rs, cs] = np.maximum(denser[rs, cs], add)
    path += denser + lighter


def _axis_slice_between(axis_mm: np.ndarray, lo: float, hi: float, step: float) -> slice:
    a, b = sorted(((lo - axis_mm[0]) / step, (hi - axis_mm[0]) / step))
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
