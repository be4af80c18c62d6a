"""Digitally reconstructed radiographs of the 3D patient: line integrals of a divergent beam.

A chest radiograph is the shadow of the patient of
:mod:`dicomteach.samples.patient` cast by a point source on a flat detector.
This module computes that shadow's line integrals ``∫μ dl`` (dimensionless:
``exp(−∫μ dl)`` of the photons get through) for a PA projection: the source
behind the patient, the detector against the front of the chest, and every ray
running from the source to its own detector point (a cone beam: what lies near
the source is magnified more than what lies against the detector).

Three parts, each computed the way that keeps what a film shows:

* the smooth anatomy (:func:`dicomteach.samples.patient.tissue`) sampled on a
  voxel grid of a couple of millimetres inside the body, Hounsfield units turned
  into attenuation at the film's effective energy (:func:`attenuation`), then
  summed slab by slab along the beam, each slab of constant depth magnified by
  its own factor onto the detector (:func:`project_volume`);
* the tubes the patient carries (ribs with cortex and marrow, clavicles,
  costal cartilage, bronchi with their walls, the vessel trees): the exact
  chord of each ray through each tapered cylinder (:func:`cylinder_integrals`),
  so a rib's cortex or a 1 mm vessel stays sharp whatever the voxel size;
* a finding: a small box of Hounsfield units at fine voxels, projected like the
  smooth anatomy.

Coordinates are the patient's (LPS millimetres, see
:mod:`dicomteach.samples.patient`); on the detector, ``u`` runs along ``x``
(towards the patient's left) and ``v`` along ``z`` (towards the head), both 0
where the central ray meets it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from dicomteach.samples import phantoms
from dicomteach.samples.patient import Patient, Tissue, tissue

#: Attenuation of water (1/mm) at the effective energy of a 125 kV chest beam (about 60 keV).
MU_WATER = 0.0205
#: How much faster bone's attenuation rises above water's at that energy than on a CT's HU
#: scale (calcium's photoelectric share grows as the energy falls; a CT's effective energy is
#: about 70 keV): cortical bone is 2.9 times water at 60 keV, 2.6 times at 70 keV.
BONE_EXCESS = 1.2

F32 = np.float32

#: Longest piece (mm) a tube is projected in (see :func:`cylinder_integrals`).
PIECE_MM = 12.0

#: Vessels thinner than this (radius, mm) are projected on a grid twice as coarse.
THIN_VESSEL_MM = 1.0

#: A change of Hounsfield units ``(hu, label, x, y, z) → hu`` for a posture other than supine.
Posture = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def attenuation(hu: np.ndarray) -> np.ndarray:
    """Linear attenuation (1/mm) of Hounsfield units at the radiograph's effective energy.

    Below water, ``μ = μ_water·(1 + HU/1000)``: air, lung and fat are mixtures
    of air and water-like tissue. Above water the excess is scaled by
    :data:`BONE_EXCESS` (a bilinear conversion, as DRRs from CT use).

    >>> [round(float(mu), 4) for mu in attenuation(np.array([-1000.0, 0.0, 1000.0]))]
    [0.0, 0.0205, 0.0451]
    """
    hu = np.asarray(hu, dtype=F32)
    excess = np.where(hu > 0, hu * F32(BONE_EXCESS), hu) / F32(1000.0)
    return np.maximum(F32(MU_WATER) * (1 + excess), 0).astype(F32)


@dataclass(frozen=True)
class Projection:
    """A PA projection: point source behind the patient, flat detector in front (LPS mm).

    The detector is the plane ``y = detector_y`` (in front: negative ``y``);
    the source sits ``sid`` mm behind it on the central ray, which meets the
    detector at ``x = 0, z = centre_z``.

    >>> g = Projection(sid=1800.0, detector_y=-130.0, centre_z=0.0)
    >>> u, v = g.project(np.array([[10.0, 770.0, 5.0]]))  # halfway to the source: ×2
    >>> float(u[0]), float(v[0])
    (20.0, 10.0)
    """

    sid: float
    detector_y: float
    centre_z: float

    @property
    def source_y(self) -> float:
        """``y`` of the focal spot."""
        return self.detector_y + self.sid

    def magnification(self, y: np.ndarray | float) -> np.ndarray:
        """How much a structure at depth ``y`` is enlarged on the detector (1 against it)."""
        return self.sid / (self.source_y - np.asarray(y, dtype=float))

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Detector coordinates ``(u, v)`` of points ``(..., 3)`` in LPS mm."""
        pts = np.asarray(points, dtype=float)
        m = self.magnification(pts[..., 1])
        return pts[..., 0] * m, (pts[..., 2] - self.centre_z) * m

    def obliquity(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Path length per millimetre of depth along the ray to ``(u, v)``: 1 on the central ray."""
        return np.sqrt(1.0 + (np.square(u) + np.square(v)) / self.sid**2).astype(F32)


@dataclass(frozen=True)
class Grid:
    """Sampling points on the detector: column ``j`` at ``u0 + step·j``, row ``i`` at ``v0 − step·i``.

    Rows run downwards (towards the feet), as an image's do.

    >>> g = Grid.covering(-10.0, 10.0, -5.0, 5.0, 2.5)
    >>> g.rows, g.columns, float(g.u[0]), float(g.v[0])
    (5, 9, -10.0, 5.0)
    """

    u0: float
    v0: float
    step: float
    rows: int
    columns: int

    @classmethod
    def covering(cls, u_min: float, u_max: float, v_min: float, v_max: float, step: float) -> Grid:
        """The grid of spacing ``step`` from ``(u_min, v_max)`` at its top left over the rectangle."""
        columns = int(np.ceil((u_max - u_min) / step - 1e-6)) + 1
        rows = int(np.ceil((v_max - v_min) / step - 1e-6)) + 1
        return cls(u_min, v_max, step, rows, columns)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.rows, self.columns

    @property
    def u(self) -> np.ndarray:
        """``u`` of each column."""
        return (self.u0 + self.step * np.arange(self.columns)).astype(F32)

    @property
    def v(self) -> np.ndarray:
        """``v`` of each row."""
        return (self.v0 - self.step * np.arange(self.rows)).astype(F32)

    def window(
        self, u_min: float, u_max: float, v_min: float, v_max: float
    ) -> tuple[Grid, tuple[slice, slice]] | None:
        """The part of this grid over a rectangle (its own grid, and its rows and columns here).

        >>> sub, (rows, cols) = Grid.covering(0.0, 10.0, 0.0, 10.0, 1.0).window(2.2, 4.5, 0.0, 3.0)
        >>> (rows.start, rows.stop), (cols.start, cols.stop), float(sub.u0), float(sub.v0)
        ((7, 11), (2, 6), 2.0, 3.0)
        """
        j0 = max(int(np.floor((u_min - self.u0) / self.step)), 0)
        j1 = min(int(np.ceil((u_max - self.u0) / self.step)) + 1, self.columns)
        i0 = max(int(np.floor((self.v0 - v_max) / self.step)), 0)
        i1 = min(int(np.ceil((self.v0 - v_min) / self.step)) + 1, self.rows)
        if j0 >= j1 or i0 >= i1:
            return None
        sub = Grid(self.u0 + j0 * self.step, self.v0 - i0 * self.step, self.step, i1 - i0, j1 - j0)
        return sub, (slice(i0, i1), slice(j0, j1))


def project_volume(
    mu: np.ndarray,
    axes: tuple[np.ndarray, np.ndarray, np.ndarray],
    projection: Projection,
    grid: Grid,
) -> np.ndarray:
    """``∫μ dl`` of a voxel volume along the ray to each grid point.

    ``mu``: attenuation (1/mm) on the regular axes ``(z_mm, y_mm, x_mm)``
    (increasing, evenly spaced), zero outside. Each slab of constant ``y`` is
    magnified by its own factor and sampled bilinearly where the rays cross
    it; the sum is scaled by the slab thickness and each ray's obliquity.

    >>> z = y = x = np.arange(-10.0, 10.5, 1.0)
    >>> mu = np.full((21, 21, 21), 0.02, dtype=np.float32)  # a 21 mm cube of water
    >>> g = Projection(1800.0, -200.0, 0.0)
    >>> out = project_volume(mu, (z, y, x), g, Grid.covering(-2.0, 2.0, -2.0, 2.0, 1.0))
    >>> round(float(out[2, 2]), 2)  # 21 mm of water on the central ray
    0.42
    """
    z_mm, y_mm, x_mm = (np.asarray(a, dtype=float) for a in axes)
    hz = z_mm[1] - z_mm[0] if len(z_mm) > 1 else 1.0
    hy = y_mm[1] - y_mm[0] if len(y_mm) > 1 else 1.0
    hx = x_mm[1] - x_mm[0] if len(x_mm) > 1 else 1.0
    # a border of zeros: rays beyond the volume read empty voxels
    padded = np.pad(np.asarray(mu, dtype=F32), ((1, 1), (0, 0), (1, 1)))
    nz, nx = padded.shape[0], padded.shape[2]
    u, v = grid.u.astype(float), grid.v.astype(float)
    total = np.zeros(grid.shape, dtype=F32)
    occupied = np.flatnonzero(np.asarray(mu).reshape(mu.shape[0], mu.shape[1], -1).any(axis=(0, 2)))
    for j in occupied:
        m = float(projection.magnification(y_mm[j]))
        fx = np.clip((u / m - x_mm[0]) / hx + 1.0, 0.0, nx - 1.001)
        fz = np.clip((projection.centre_z + v / m - z_mm[0]) / hz + 1.0, 0.0, nz - 1.001)
        ix, iz = fx.astype(np.intp), fz.astype(np.intp)
        wx, wz = (fx - ix).astype(F32), (fz - iz).astype(F32)[:, None]
        k0, k1 = int(iz.min()), int(iz.max()) + 2
        slab = padded[k0:k1, j, :]
        along = slab[:, ix] * (1 - wx) + slab[:, ix + 1] * wx
        total += along[iz - k0] * (1 - wz) + along[iz - k0 + 1] * wz
    return total * F32(hy) * projection.obliquity(u[None, :], v[:, None])


def cylinder_integrals(
    p0: np.ndarray,
    p1: np.ndarray,
    r0: np.ndarray,
    r1: np.ndarray,
    delta_mu: np.ndarray,
    projection: Projection,
    grid: Grid,
    *,
    budget: int = 1 << 20,
) -> np.ndarray:
    """``Σ Δμ·chord`` of tapered cylinders along the ray to each grid point.

    Cylinder ``i`` runs from ``p0[i]`` (radius ``r0[i]``) to ``p1[i]``
    (``r1[i]``) with flat ends and adds ``delta_mu[i]`` (1/mm) to what it
    replaces. The chord of each ray is exact for a straight cylinder: the part
    of the ray within the radius of the axis, intersected with the part between
    the end planes (the radius is taken where the ray passes closest). Rays
    are taken parallel within a piece of a tube (:data:`PIECE_MM` long at
    most), at the magnification of its middle. ``budget`` bounds the pixels
    evaluated at once (memory).

    >>> g = Projection(1800.0, -100.0, 0.0)
    >>> grid = Grid.covering(-4.0, 4.0, -1.0, 1.0, 1.0)
    >>> one = cylinder_integrals(
    ...     np.array([[0.0, 0.0, -50.0]]), np.array([[0.0, 0.0, 50.0]]),
    ...     np.array([3.0]), np.array([3.0]), np.array([1.0]), g, grid)
    >>> round(float(one[1, 4]), 2)  # through the axis: the diameter
    6.0
    """
    p0, p1 = np.asarray(p0, dtype=float), np.asarray(p1, dtype=float)
    r0, r1 = np.asarray(r0, dtype=float), np.asarray(r1, dtype=float)
    delta_mu = np.asarray(delta_mu, dtype=float)
    keep = (delta_mu != 0) & (np.maximum(r0, r1) > 0)
    p0, p1, r0, r1, delta_mu = p0[keep], p1[keep], r0[keep], r1[keep], delta_mu[keep]
    # each piece is seen by parallel rays at its middle's magnification: keep pieces short
    pieces = np.maximum(np.ceil(np.linalg.norm(p1 - p0, axis=1) / PIECE_MM).astype(int), 1)
    if (pieces > 1).any():
        which = np.repeat(np.arange(len(p0)), pieces)
        k = np.arange(len(which)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        t0, t1 = k / pieces[which], (k + 1) / pieces[which]
        step, dr = (p1 - p0)[which], (r1 - r0)[which]
        p0, p1 = p0[which] + t0[:, None] * step, p0[which] + t1[:, None] * step
        r0, r1 = r0[which] + t0 * dr, r0[which] + t1 * dr
        delta_mu = delta_mu[which]
    out = np.zeros(grid.rows * grid.columns, dtype=float)
    if not len(p0):
        return out.reshape(grid.shape).astype(F32)
    # each cylinder's box on the detector
    ua, va = projection.project(p0)
    ub, vb = projection.project(p1)
    reach = np.maximum(r0, r1) * np.maximum(
        projection.magnification(p0[:, 1]), projection.magnification(p1[:, 1])
    )
    reach = reach + 1.5 * grid.step
    j0 = np.floor((np.minimum(ua, ub) - reach - grid.u0) / grid.step).astype(int)
    j1 = np.ceil((np.maximum(ua, ub) + reach - grid.u0) / grid.step).astype(int) + 1
    i0 = np.floor((grid.v0 - np.maximum(va, vb) - reach) / grid.step).astype(int)
    i1 = np.ceil((grid.v0 - np.minimum(va, vb) + reach) / grid.step).astype(int) + 1
    j0, i0 = np.maximum(j0, 0), np.maximum(i0, 0)
    j1, i1 = np.minimum(j1, grid.columns), np.minimum(i1, grid.rows)
    seen = (j1 > j0) & (i1 > i0)
    # batches of boxes of about one shape, padded to the batch's largest
    heights, widths = i1 - i0, j1 - j0
    order = np.flatnonzero(seen)
    order = order[np.lexsort((widths[order], heights[order] // 8))]
    start = 0
    while start < len(order):
        stop, tallest, widest = start, 0, 0
        while stop < len(order):
            h, w = max(tallest, heights[order[stop]]), max(widest, widths[order[stop]])
            if stop > start and (stop + 1 - start) * h * w > budget:
                break
            tallest, widest, stop = h, w, stop + 1
        _add_chords(
            out, grid, projection, p0, p1, r0, r1, delta_mu, order[start:stop], i0, i1, j0, j1
        )
        start = stop
    return out.reshape(grid.shape).astype(F32)


def _add_chords(out, grid, projection, p0, p1, r0, r1, delta_mu, batch, i0, i1, j0, j1) -> None:
    """One batch of :func:`cylinder_integrals`.

    A cylinder is small beside the 1.8 m to the source, so its rays are taken
    parallel (the direction from the source to its middle) through the points
    where the true rays cross its depth: each detector point is brought back
    by the cylinder's magnification, and every quantity along the ray is then
    linear in the pixel's ``u`` and ``v``.
    """
    h = int((i1 - i0)[batch].max())
    w = int((j1 - j0)[batch].max())
    rows = i0[batch, None] + np.arange(h)  # (n, h)
    cols = j0[batch, None] + np.arange(w)  # (n, w)
    inside = (rows < i1[batch, None])[:, :, None] & (cols < j1[batch, None])[:, None, :]
    a0, a1 = p0[batch], p1[batch]
    middle = 0.5 * (a0 + a1)
    m = projection.magnification(middle[:, 1])
    source = np.array([0.0, projection.source_y, projection.centre_z])
    e = middle - source
    e /= np.linalg.norm(e, axis=1, keepdims=True)  # the rays' direction
    axis = a1 - a0
    length = np.linalg.norm(axis, axis=1)
    axis /= np.maximum(length, 1e-9)[:, None]
    b = (e * axis).sum(axis=1)  # cos of the angle between ray and axis
    sin2 = np.maximum(1.0 - b * b, 1e-4)
    b = np.where(np.abs(b) < 1e-6, 1e-6, b)
    normal = np.cross(e, axis)
    # w = (point where the ray crosses the cylinder's depth) − a0, per component
    wx = ((grid.u0 + grid.step * cols) / m[:, None] - a0[:, 0, None])[:, None, :]  # (n, 1, w)
    wz = ((projection.centre_z + (grid.v0 - grid.step * rows) / m[:, None]) - a0[:, 2, None])[
        :, :, None
    ]  # (n, h, 1)
    wy = (middle[:, 1] - a0[:, 1])[:, None, None]

    def dot(vec: np.ndarray) -> np.ndarray:
        k = [vec[:, i, None, None] for i in range(3)]
        return ((k[0] * wx + k[1] * wy).astype(F32) + (k[2] * wz).astype(F32)).astype(F32)

    def col(values: np.ndarray) -> np.ndarray:
        return values.astype(F32)[:, None, None]

    d, c, trip = dot(e), dot(axis), dot(normal)  # along the ray, along the axis, across both
    b32, sin32, length32 = col(b), col(sin2), col(length)
    dist2 = trip * trip / sin32
    tau = (b32 * c - d) / sin32  # where along the ray it passes closest to the axis
    t = np.clip((c + tau * b32) / np.maximum(length32, F32(1e-6)), 0, 1)
    r = col(r0[batch]) + col(r1[batch] - r0[batch]) * t
    half = np.sqrt(np.maximum(r * r - dist2, 0) / sin32)
    ta, tb = -c / b32, (length32 - c) / b32  # where the ray crosses the end planes
    lo = np.maximum(tau - half, np.minimum(ta, tb))
    hi = np.minimum(tau + half, np.maximum(ta, tb))
    chord = np.maximum(hi - lo, 0)
    hit = inside & (chord > 0)
    flat = (rows[:, :, None] * grid.columns + cols[:, None, :])[hit]
    weight = (chord * col(delta_mu[batch]))[hit]
    out += np.bincount(flat, weights=weight, minlength=out.size)


def smooth_integrals(
    patient: Patient,
    projection: Projection,
    grid: Grid,
    *,
    voxel: float = 2.0,
    posture: Posture | None = None,
) -> np.ndarray:
    """``∫μ dl`` of the smooth anatomy (everything :func:`~dicomteach.samples.patient.tissue` draws).

    The anatomy is sampled on a grid of ``voxel`` mm, only inside the body and
    only where rays to ``grid`` pass, with partial-volume edges one voxel wide.
    ``posture(hu, label, x, y, z)`` may change the Hounsfield units of the
    supine patient the model describes (gas rising elsewhere when standing).

    >>> from dicomteach.samples.patient import make_patient
    >>> p = make_patient(0, tree=False)
    >>> g = Projection(1800.0, -p.half_depth - 20.0, -40.0)
    >>> out = smooth_integrals(p, g, Grid.covering(-200.0, 200.0, -8.0, 8.0, 8.0), voxel=8.0)
    >>> lung, middle, outside = out[1, 12], out[1, 25], out[1, 0]  # right lung, spine, air
    >>> bool(outside == 0.0 and 1.0 < lung < middle)
    True
    """
    u, v = grid.u.astype(float), grid.v.astype(float)
    margin = 2.0 * voxel
    breasts = 45.0 if patient.habitus.sex == "F" else 0.0  # they lie in front of the chest wall
    front, back = patient.half_depth + breasts + margin, patient.half_depth + margin
    spread = projection.magnification(np.array([-front, back]))  # least and most magnified

    def reach(values: np.ndarray) -> tuple[float, float]:
        ends = np.concatenate([values.min() / spread, values.max() / spread])
        return float(ends.min()) - voxel, float(ends.max()) + voxel

    x_lo, x_hi = reach(u)
    x_lim = patient.half_width + margin
    z_lo, z_hi = reach(v)
    x_mm = _axis(max(x_lo, -x_lim), min(x_hi, x_lim), voxel)
    y_mm = _axis(-front, back, voxel)
    z_mm = _axis(projection.centre_z + z_lo, projection.centre_z + z_hi, voxel)
    mu = np.zeros((len(z_mm), len(y_mm), len(x_mm)), dtype=F32)
    yy, xx = np.meshgrid(y_mm.astype(F32), x_mm.astype(F32), indexing="ij")
    step = max(1, 400_000 // xx.size)
    for k0 in range(0, len(z_mm), step):
        zs = z_mm[k0 : k0 + step].astype(F32)
        a, b = (t[:, None, None] for t in patient.body_axes(zs))
        depth = np.where(yy < 0, b + breasts, b)
        inside = (np.abs(xx) / (a + margin)) ** 2.2 + (np.abs(yy) / (depth + margin)) ** 2.2 <= 1
        kk, ii, jj = np.nonzero(inside)
        if len(kk):
            x, y, z = xx[ii, jj], yy[ii, jj], zs[kk]
            hu, label = tissue(patient, x, y, z, edge=voxel)
            if posture is not None:
                hu = posture(hu, label, x, y, z)
            mu[k0 + kk, ii, jj] = attenuation(hu)
    return project_volume(mu, (z_mm, y_mm, x_mm), projection, grid)


def _axis(lo: float, hi: float, step: float) -> np.ndarray:
    n = int(np.ceil((hi - lo) / step)) + 1
    return lo + step * np.arange(n)


def tube_integrals(patient: Patient, projection: Projection, grid: Grid) -> np.ndarray:
    """``∫Δμ dl`` of the patient's tubes over the smooth anatomy they replace.

    Each tube's background is the tissue at its middle: vessels and bronchial
    walls count only in the lung (as the CT draws them), airway lumens and
    bones everywhere; a rib or clavicle is cortex round marrow, as on the CT.

    >>> from dicomteach.samples.patient import make_patient
    >>> p = make_patient(0, tree=False)  # ribs, clavicles and cartilage only
    >>> g = Projection(1800.0, -p.half_depth - 20.0, -40.0)
    >>> out = tube_integrals(p, g, Grid.covering(-150.0, 150.0, -100.0, 100.0, 2.0))
    >>> bool(out.max() > 0.1 and (out > 0.02).mean() > 0.1)  # ribs cover much of the chest
    True
    """
    tubes = patient.tubes
    if not len(tubes):
        return np.zeros(grid.shape, dtype=F32)
    middle = 0.5 * (tubes.p0 + tubes.p1)
    hu_bg, label = tissue(
        patient, middle[:, 0].astype(F32), middle[:, 1].astype(F32), middle[:, 2].astype(F32)
    )
    background = attenuation(hu_bg).astype(float)
    lung = (label == Tissue.LUNG).astype(float)
    hu = phantoms.HU

    def mu(name: str) -> float:
        return float(attenuation(np.array([hu[name]]))[0])

    kind = tubes.kind
    parts = []
    vessel = kind == phantoms.VESSEL
    parts.append((vessel, 0.0, (mu("vessel") - background) * lung))
    airway = kind == phantoms.AIRWAY
    wall = np.maximum(0.18 * np.maximum(tubes.r0, tubes.r1), 0.9)
    wall_delta = (mu("airway_wall") - background) * lung
    parts.append((airway, wall, wall_delta))
    parts.append((airway, 0.0, mu("air") - background - wall_delta))
    bone = kind == phantoms.BONE
    parts.append((bone, 0.0, mu("cortical") - background))
    parts.append((bone, -1.6, np.full(len(kind), mu("cancellous") - mu("cortical"))))
    cartilage = kind == phantoms.CARTILAGE
    parts.append((cartilage, 0.0, mu("cartilage") - background))
    p0, p1, r0, r1, delta, thin = [], [], [], [], [], []
    for which, grow, dmu in parts:
        extra = np.broadcast_to(np.asarray(grow, dtype=float), which.shape)[which]
        p0.append(tubes.p0[which])
        p1.append(tubes.p1[which])
        r0.append(np.maximum(tubes.r0[which] + extra, 0.0))
        r1.append(np.maximum(tubes.r1[which] + extra, 0.0))
        delta.append(np.broadcast_to(dmu, which.shape)[which])
        thin.append(
            (kind[which] == phantoms.VESSEL) & (np.maximum(r0[-1], r1[-1]) < THIN_VESSEL_MM)
        )
    p0, p1, r0, r1, delta, thin = (np.concatenate(a) for a in (p0, p1, r0, r1, delta, thin))
    out = cylinder_integrals(
        p0[~thin], p1[~thin], r0[~thin], r1[~thin], delta[~thin], projection, grid
    )
    # the thinnest vessels on a grid twice as coarse, widened to its pixels with their
    # integral kept (no aliasing), then brought onto the fine grid: a quarter of the work
    coarse = Grid(grid.u0, grid.v0, 2 * grid.step, (grid.rows + 1) // 2, (grid.columns + 1) // 2)
    wide = 0.75 * coarse.step
    w0, w1 = np.maximum(r0[thin], wide), np.maximum(r1[thin], wide)
    keep = delta[thin] * (0.5 * (r0[thin] + r1[thin]) / (0.5 * (w0 + w1))) ** 2
    fine = cylinder_integrals(p0[thin], p1[thin], w0, w1, keep, projection, coarse)
    return out + resample(fine, coarse, grid)


def resample(image: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """Bilinear values of ``image`` (sampled on ``source``) at the points of ``target``.

    >>> coarse = Grid.covering(0.0, 2.0, 0.0, 2.0, 2.0)
    >>> image = np.array([[0.0, 2.0], [0.0, 2.0]], dtype=np.float32)
    >>> resample(image, coarse, Grid.covering(0.0, 2.0, 0.0, 2.0, 1.0))[0].tolist()
    [0.0, 1.0, 2.0]
    """
    scale = target.step / source.step
    offset = ((source.v0 - target.v0) / source.step, (target.u0 - source.u0) / source.step)
    return ndimage.affine_transform(
        image,
        np.array([scale, scale]),
        offset=offset,
        output_shape=target.shape,
        order=1,
        mode="nearest",
    ).astype(F32)
