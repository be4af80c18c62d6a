"""Tubes and the nodule drawn into a CT grid: the pieces the chest samples share.

The chest anatomy is the 3D patient of :mod:`dicomteach.samples.patient`
(the CT, and the radiograph through :mod:`dicomteach.samples.drr`); shapes the
samples share live in :mod:`dicomteach.samples._shapes`. Here, in the DICOM
patient coordinate system (LPS, millimetres; ``x`` towards the patient's left,
``y`` posterior, ``z`` head):

* tubes (:class:`Tubes`): vessels, airways, ribs, costal cartilage and
  clavicles as tapered line segments, drawn into a CT volume
  (:func:`draw_tubes`);
* a lesion (:class:`Lesion`, :func:`make_nodule`): a spiculated part-solid
  nodule, drawn with partial volume (:func:`draw_lesion`).

Everything is decided by the seed; nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# ---------------------------------------------------------------------------
# the nodule


def _ramp(signed_mm: np.ndarray, width: float = 0.8) -> np.ndarray:
    """0 outside, 1 inside, linear over ``width`` mm: partial volume at an edge."""
    return np.clip(signed_mm / width + 0.5, 0.0, 1.0)


def make_nodule(seed: int) -> Lesion:
    """The 15 mm spiculated part-solid nodule of seed ``seed``, in the right upper lobe.

    >>> nodule = make_nodule(0)
    >>> nodule.radius, bool(nodule.centre[0] < 0)  # the patient's right
    (7.5, True)
    """
    rng = np.random.default_rng([seed, 0x1E5])
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
