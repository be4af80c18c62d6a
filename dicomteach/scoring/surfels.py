"""Surface elements of a binary mask: neighbour codes and their areas.

The surface of a mask is described on the grid of voxel *corners*: the
neighbour code of a corner packs the 2×2×2 (2×2 in 2D) voxels around it into
8 (4) bits, the voxel at offset ``(-1, -1, -1)`` in the most significant bit
and the voxel at ``(0, 0, 0)`` in the least, the encoding of DeepMind's
``surface-distance`` (Nikolov et al. 2021). A corner is a *surface element*
(surfel) when its code is neither all zeros nor all ones.

The area of a surfel (its length in 2D) is that of the marching-cubes
(marching-squares) surface inside the cell: the isosurface passes through the
midpoints of the cell edges that join an inside and an outside corner. The
tables here are derived from that definition, not copied:

* each face of the cell contributes segments between cut-edge midpoints; a face
  with two diagonal inside corners separates the minority corners (the inside
  ones when at most half the cell is inside), as in Lorensen & Cline's
  complement-symmetric cases;
* the segments close into polygons; each polygon is split into triangles by the
  triangulation of largest total area for cubic voxels (unique up to ties of
  equal area), and the triangles are scaled by the voxel spacing.

With these two rules the 256 areas equal those of ``surface-distance`` for
every spacing (checked in ``tests/test_scoring.py``), to 1e-12 relative: not
always bitwise, as a cell's triangles are summed in another order.

The derivation takes tens of milliseconds, so its spacing-free result, one
area vector per triangle (:func:`derive_area_vectors`), ships as
``surfel_normals.npy`` (a test regenerates and compares it); the table for a
spacing is then one vectorised expression.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["derive_area_vectors", "neighbour_codes", "surfel_area_table"]


@functools.cache
def _corner_bit(corner: tuple[int, ...]) -> int:
    """Bit of a cell corner; corner ``(0, …, 0)`` is the most significant."""
    n = len(corner)
    index = sum(c << (n - 1 - axis) for axis, c in enumerate(corner))
    return 1 << ((1 << n) - 1 - index)


@functools.cache
def _midpoint(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[float, ...]:
    return tuple((x + y) / 2 for x, y in zip(a, b, strict=True))


def _face_segments(code: int, ndim: int) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """Segments of the isocontour on every 2D face of the cell."""
    corners = list(itertools.product((0, 1), repeat=ndim))
    inside = {c: bool(code & _corner_bit(c)) for c in corners}
    separate_inside = bin(code).count("1") <= (1 << ndim) // 2
    segments = []
    fixed_axes = [()] if ndim == 2 else [(axis,) for axis in range(3)]
    for fixed in fixed_axes:
        free = [axis for axis in range(ndim) if axis not in fixed]
        for value in (0, 1) if fixed else (None,):

            def corner(p: int, q: int, free=free, fixed=fixed, value=value) -> tuple[int, ...]:
                c = [0] * ndim
                for axis in fixed:
                    c[axis] = value
                c[free[0]], c[free[1]] = p, q
                return tuple(c)

            ring = [corner(0, 0), corner(0, 1), corner(1, 1), corner(1, 0)]
            edges = [(ring[i], ring[(i + 1) % 4]) for i in range(4)]
            cut = [i for i in range(4) if inside[ring[i]] != inside[ring[(i + 1) % 4]]]
            if len(cut) == 2:
                segments.append((_midpoint(*edges[cut[0]]), _midpoint(*edges[cut[1]])))
            elif len(cut) == 4:
                for i in range(4):
                    if inside[ring[i]] == separate_inside:
                        segments.append((_midpoint(*edges[i - 1]), _midpoint(*edges[i])))
    return segments


def _polygons(segments: list) -> list[list[tuple[float, ...]]]:
    """Close face segments into polygons (cycles of edge midpoints)."""
    neighbours: dict[tuple[float, ...], list[tuple[float, ...]]] = {}
    for a, b in segments:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    seen: set[tuple[float, ...]] = set()
    polygons = []
    for start in neighbours:
        if start in seen:
            continue
        polygon, current = [start], start
        seen.add(start)
        while True:
            following = [p for p in neighbours[current] if p not in seen]
            if not following:
                break
            current = following[0]
            polygon.append(current)
            seen.add(current)
        polygons.append(polygon)
    return polygons


def _triangulations(vertices: list[int]):
    """Every triangulation of a convex-ordered polygon, as lists of index triples."""
    if len(vertices) < 3:
        yield []
        return
    first, last = vertices[0], vertices[-1]
    for k in range(1, len(vertices) - 1):
        for left in _triangulations(vertices[: k + 1]):
            for right in _triangulations(vertices[k:]):
                yield [*left, *right, (first, vertices[k], last)]


def _triangle_areas(triangles: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Areas of ``(T, 3, 3)`` triangles after scaling the axes by `spacing`."""
    scaled = triangles * spacing
    normal = np.cross(scaled[:, 1] - scaled[:, 0], scaled[:, 2] - scaled[:, 0])
    return np.sqrt((normal * normal).sum(axis=1)) / 2


@functools.cache
def _cell_elements(ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Surface pieces of every neighbour code, spacing-free.

    Returns ``(codes, pieces)``: in 3D, triangles ``(T, 3, 3)``; in 2D,
    segments ``(S, 2, 2)``; ``codes[i]`` is the neighbour code piece ``i`` belongs to.
    """
    codes, pieces = [], []
    candidates = []  # (code, polygon points, triangulations) for 3D polygons
    for code in range(1, (1 << (1 << ndim)) - 1):
        segments = _face_segments(code, ndim)
        if ndim == 2:
            for segment in segments:
                codes.append(code)
                pieces.append(segment)
            continue
        for polygon in _polygons(segments):
            options = np.array(list(_triangulations(list(range(len(polygon))))))
            candidates.append((code, np.array(polygon), options))
    if ndim == 3:
        # the area of every triangulation of every polygon, for cubic voxels, in one call
        triangles = np.concatenate(
            [points[options].reshape(-1, 3, 3) for _, points, options in candidates]
        )
        areas = _triangle_areas(triangles, np.ones(3))
        start = 0
        for code, points, options in candidates:
            size = options.shape[0] * options.shape[1]
            totals = areas[start : start + size].reshape(options.shape[:2]).sum(axis=1)
            start += size
            for triangle in options[int(np.argmax(totals))]:
                codes.append(code)
                pieces.append(points[triangle])
    return np.array(codes), np.array(pieces, dtype=np.float64)


_NORMALS_FILE = Path(__file__).with_name("surfel_normals.npy")
"""The 3D surface pieces as area vectors, generated by :func:`derive_area_vectors`."""


def derive_area_vectors() -> np.ndarray:
    """Spacing-free area vector of every 3D marching-cubes triangle, from the derivation.

    Returns ``(T, 4)`` ``int16`` rows ``(code, 8 v0, 8 v1, 8 v2)``: the triangle
    belongs to neighbour code ``code`` and ``v = cross(b - a, c - a) / 2`` for
    its corners in a unit cell (a multiple of 1/8, hence stored times 8). With
    voxel spacing ``s`` the triangle's area is ``|v * (s1 s2, s0 s2, s0 s1)|``.
    ``surfel_normals.npy`` in this package holds this array (tests regenerate
    and compare it) so that a fresh process need not repeat the derivation.
    """
    codes, triangles = _cell_elements(3)
    vectors = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]) * 4
    rounded = np.rint(vectors)
    if not np.array_equal(rounded, vectors):  # pragma: no cover - a broken derivation
        raise AssertionError("area vectors are not multiples of 1/8")
    return np.column_stack([codes, rounded]).astype(np.int16)


@functools.cache
def _area_vectors() -> tuple[np.ndarray, np.ndarray]:
    """``(codes, vectors)`` of the 3D triangles, read from the shipped file when present."""
    try:
        rows = np.load(_NORMALS_FILE, allow_pickle=False)
    except OSError:  # pragma: no cover - file missing from an unusual install
        rows = derive_area_vectors()
    return rows[:, 0].astype(np.intp), rows[:, 1:].astype(np.float64) / 8


def surfel_area_table(spacing_mm: Sequence[float]) -> np.ndarray:
    """Area (mm², 3D) or length (mm, 2D) of the surface in each neighbour-code cell.

    Parameters
    ----------
    spacing_mm : sequence of 2 or 3 floats
        Voxel size along each array axis, in mm.

    Returns
    -------
    numpy.ndarray
        ``float64`` table of 256 (3D) or 16 (2D) entries indexed by neighbour
        code; entries 0 and the all-ones code are 0.

    Examples
    --------
    >>> table = surfel_area_table((1.0, 1.0, 1.0))
    >>> round(float(table[0b00001111]), 6)  # four corners on a face: a unit square
    1.0
    >>> surfel_area_table((2.0, 1.0))[0b0011]  # horizontal contour, one pixel wide
    np.float64(1.0)
    """
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    ndim = spacing.size
    if ndim == 2:
        codes, pieces = _cell_elements(2)
        delta = (pieces[:, 1] - pieces[:, 0]) * spacing
        sizes = np.sqrt((delta * delta).sum(axis=1))
    else:
        codes, vectors = _area_vectors()
        s0, s1, s2 = spacing
        scaled = vectors * np.array([s1 * s2, s0 * s2, s0 * s1])
        sizes = np.sqrt((scaled * scaled).sum(axis=1))
    return np.bincount(codes, weights=sizes, minlength=1 << (1 << ndim))


def neighbour_codes(mask: np.ndarray) -> np.ndarray:
    """Neighbour code of every voxel corner of a 2D or 3D boolean mask.

    Corner ``p`` lies between voxels ``p - 1`` and ``p`` on each axis, so the
    result is one longer than `mask` on every axis; voxels outside `mask`
    count as background.

    Parameters
    ----------
    mask : numpy.ndarray of bool
        2D or 3D mask.

    Returns
    -------
    numpy.ndarray
        ``uint8`` codes, shape ``mask.shape + 1``.

    Examples
    --------
    >>> neighbour_codes(np.array([[True]]))
    array([[1, 2],
           [4, 8]], dtype=uint8)
    """
    ndim = mask.ndim
    padded = np.zeros(tuple(n + 2 for n in mask.shape), dtype=np.uint8)
    padded[(slice(1, -1),) * ndim] = mask
    out_shape = tuple(n + 1 for n in mask.shape)
    codes = np.zeros(out_shape, dtype=np.uint8)
    scratch = np.empty(out_shape, dtype=np.uint8)
    for offset in itertools.product((0, 1), repeat=ndim):
        window = tuple(slice(o, o + n) for o, n in zip(offset, out_shape, strict=True))
        np.left_shift(padded[window], _corner_bit(offset).bit_length() - 1, out=scratch)
        np.bitwise_or(codes, scratch, out=codes)
    return codes
