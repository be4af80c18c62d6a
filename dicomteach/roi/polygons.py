"""Masks ⇄ polygons, with one rasterisation rule.

Coordinates are ``(row, column)`` in pixel units: the centre of pixel
``[i, j]`` is the point ``(i, j)``, and the pixel covers the square
``[i - ½, i + ½] × [j - ½, j + ½]`` (the convention of
:meth:`dicomteach.io.Volume.lps_to_index`, where an index is a pixel centre).

The rule (:func:`polygon_to_mask`)
----------------------------------
A pixel belongs to a polygon when its **centre is inside** the polygon, by the
**even-odd** rule: a ray from the centre crosses the outline an odd number of
times. Self-intersecting outlines (a bow-tie) and several outlines given
together (an outer contour and its holes, as RTSTRUCT stores them) follow the
same rule, so a hole is simply a second outline inside the first.

Centres exactly on an edge follow a **half-open (top-left) tie rule**, as
graphics scan converters do: a centre on a *left* or *top* edge is inside, a
centre on a *right* or *bottom* edge is outside. The square with corners on
the pixel centres ``(0, 0)``, ``(0, 2)``, ``(2, 2)``, ``(2, 0)`` therefore covers
exactly the 2 × 2 pixels ``[0:2, 0:2]``: its area. Technically, along each row
``i`` an edge from ``(r0, c0)`` to ``(r1, c1)`` is crossed when
``min(r0, r1) <= i < max(r0, r1)`` (horizontal edges never are), and pixel
``[i, j]`` is inside when an odd number of crossings lie at columns ``<= j``.

:func:`mask_to_polygons` traces the outlines along pixel *edges* (vertices at
pixel corners, half-integers), so no pixel centre lies on them and
``polygon_to_mask(mask_to_polygons(m)) == m`` holds exactly for every mask.

Holes, for readers of either kind (:func:`mask_to_contours`)
-----------------------------------------------------------
RTSTRUCT readers disagree on several contours of one slice: some apply
even-odd across them (dicomteach, and so a contour inside another is a hole),
others fill each contour and OR them (plastimatch 1.9.4 among them, which
fills a hole drawn as its own contour). A *keyhole* contour satisfies both:
each region and its holes are one contour, each hole joined to the region's
outline by a cut along a pixel edge travelled there and back. Any scanline
crosses a cut twice (or never), so the cut changes neither the even-odd
parity nor the winding number of any pixel centre, and no pixel centre lies
on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "MAX_CROSSINGS_PER_PIXEL",
    "mask_to_contours",
    "mask_to_polygons",
    "polygon_to_mask",
    "polygons_to_mask",
]

MAX_CROSSINGS_PER_PIXEL = 4
"""Outlines may cross the pixel rows at most this many times per pixel of the image.

An outline traced along pixel edges crosses a row at most once per column
boundary; more than four per pixel is no delineation, only a cost (an
RTSTRUCT contour of millions of points zigzagging across the image)."""

# directions of travel along pixel edges, in (row, column) steps: east, south, west, north
_STEPS = np.array([(0, 1), (1, 0), (0, -1), (-1, 0)])


def _as_points(points_rc: object, name: str = "points_rc") -> np.ndarray:
    points = np.asarray(points_rc, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            f"Argument '{name}' must have shape (N, 2) (row, column), not {points.shape}."
        )
    if not np.all(np.isfinite(points)):
        raise ValueError(f"Argument '{name}' must hold finite coordinates.")
    return points


def _as_shape(shape: Sequence[int]) -> tuple[int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 0:
        raise ValueError(f"Argument 'shape' must be (rows, columns) ≥ 0, not {shape}.")
    return shape  # type: ignore[return-value]


def polygons_to_mask(outlines: Sequence[object], shape: Sequence[int]) -> np.ndarray:
    """Rasterise several closed outlines together, even-odd (holes are outlines inside outlines).

    Each outline is an ``(N, 2)`` array of ``(row, column)`` vertices in pixel
    units, closed implicitly (the last vertex joins the first). The rule and
    the tie rule are in the module docstring. Vectorised over the crossings of
    edges and rows, so time and memory follow the outline, not the image.

    Raises ``ValueError`` when the outlines cross the rows more than
    :data:`MAX_CROSSINGS_PER_PIXEL` times per pixel.

    Examples
    --------
    >>> outer = [(0.5, 0.5), (0.5, 4.5), (4.5, 4.5), (4.5, 0.5)]
    >>> hole = [(1.5, 1.5), (1.5, 3.5), (3.5, 3.5), (3.5, 1.5)]
    >>> polygons_to_mask([outer, hole], (6, 6)).astype(int)
    array([[0, 0, 0, 0, 0, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 1, 0, 0, 1, 0],
           [0, 1, 0, 0, 1, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 0, 0, 0, 0, 0]])
    """
    rows, cols = _as_shape(shape)
    starts, ends = [], []
    for n, outline in enumerate(outlines):
        points = _as_points(outline, f"outlines[{n}]")
        if len(points) < 3:
            continue  # a point or a segment encloses no pixel centre
        starts.append(points)
        ends.append(np.roll(points, -1, axis=0))
    mask = np.zeros((rows, cols), dtype=bool)
    if not starts or rows == 0 or cols == 0:
        return mask
    p0, p1 = np.concatenate(starts), np.concatenate(ends)
    low, high = np.minimum(p0[:, 0], p1[:, 0]), np.maximum(p0[:, 0], p1[:, 0])
    # each edge crosses the rows i with low <= i < high (half-open: a row at the top is
    # out, horizontal edges cross none), counted per edge so the cost follows the crossings
    first = np.maximum(np.ceil(low), 0)
    last = np.minimum(np.ceil(high) - 1, rows - 1)
    count = np.maximum(last - first + 1, 0).astype(np.int64)
    total = int(count.sum())
    limit = MAX_CROSSINGS_PER_PIXEL * rows * (cols + 1)
    if total > limit:
        raise ValueError(
            f"Argument 'outlines' crosses the rows of a {rows}×{cols} image {total} times, "
            f"more than the {limit} any delineation of it needs."
        )
    if total == 0:
        return mask
    e = np.repeat(np.arange(len(count)), count)
    row = first[e] + (np.arange(total) - np.repeat(np.cumsum(count) - count, count))
    # where row meets edge e; the division is safe: crossed edges are not horizontal
    t = (row - p0[e, 0]) / (p1[e, 0] - p0[e, 0])
    x = p0[e, 1] + t * (p1[e, 1] - p0[e, 1])
    # crossings at columns <= j are those with ceil(x) <= j: toggle parity from ceil(x) on
    start = np.clip(np.ceil(x), 0, cols).astype(np.intp)
    top, bottom = int(row.min()), int(row.max())
    toggles = np.zeros((bottom - top + 1, cols + 1), dtype=np.int32)
    np.add.at(toggles, (row.astype(np.intp) - top, start), 1)
    mask[top : bottom + 1] = (np.cumsum(toggles, axis=1)[:, :cols] & 1).astype(bool)
    return mask


def polygon_to_mask(points_rc: object, shape: Sequence[int]) -> np.ndarray:
    """Pixels whose centre is inside the polygon (even-odd, half-open ties).

    Parameters
    ----------
    points_rc : array_like, shape (N, 2)
        Vertices ``(row, column)`` in pixel units (pixel ``[i, j]`` is centred
        on ``(i, j)``); the outline closes itself.
    shape : (rows, columns)

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``

    Examples
    --------
    A square with corners on pixel centres covers its area (top-left ties in):

    >>> polygon_to_mask([(1, 1), (1, 3), (3, 3), (3, 1)], (5, 5)).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 0, 0],
           [0, 1, 1, 0, 0],
           [0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    return polygons_to_mask([_as_points(points_rc)], shape)


def mask_to_polygons(mask: object) -> list[np.ndarray]:
    """Outlines of a 2D mask traced along pixel edges; even-odd gives the mask back exactly.

    Each outline is an ``(N, 2)`` float array of ``(row, column)`` pixel
    corners (half-integers), without repeating the first vertex, collinear
    vertices removed. Outer outlines run clockwise on screen (rows down) and
    holes counter-clockwise. Pixels touching only at a corner are traced as
    separate outlines (foreground is 4-connected), so outlines never cross;
    at such a corner two outlines share a vertex.

    Examples
    --------
    >>> mask = np.zeros((4, 5), bool); mask[1:3, 1:4] = True
    >>> [outline.tolist() for outline in mask_to_polygons(mask)]
    [[[0.5, 0.5], [0.5, 3.5], [2.5, 3.5], [2.5, 0.5]]]
    >>> bool(np.array_equal(polygons_to_mask(mask_to_polygons(mask), mask.shape), mask))
    True
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"Argument 'mask' must be 2D, not {mask.ndim}D.")
    padded = np.pad(mask.astype(bool), 1)
    inside = padded[1:-1, 1:-1]
    # directed boundary edges between corners (i, j) (corner (i, j) is at (i - ½, j - ½)),
    # clockwise around each foreground pixel so the foreground lies on the right
    edges = []
    for direction, (neighbour, offset) in enumerate(
        (
            (padded[:-2, 1:-1], (0, 0)),  # background above: top edge, heading east
            (padded[1:-1, 2:], (0, 1)),  # background right: right edge, heading south
            (padded[2:, 1:-1], (1, 1)),  # background below: bottom edge, heading west
            (padded[1:-1, :-2], (1, 0)),  # background left: left edge, heading north
        )
    ):
        i, j = np.nonzero(inside & ~neighbour)
        edges.append(np.stack([i + offset[0], j + offset[1], np.full_like(i, direction)], 1))
    edge = np.concatenate(edges)
    if len(edge) == 0:
        return []
    rows, cols = mask.shape
    # which edge leaves corner (i, j) heading d
    leaving = np.full((rows + 1, cols + 1, 4), -1, dtype=np.intp)
    leaving[edge[:, 0], edge[:, 1], edge[:, 2]] = np.arange(len(edge))
    end = edge[:, :2] + _STEPS[edge[:, 2]]
    # at a corner shared diagonally by two pixels, turn right first: it keeps hugging the
    # same pixel, so diagonal neighbours get separate outlines
    following = np.full(len(edge), -1, dtype=np.intp)
    for turn in (1, 0, 3):  # right, straight on, left (never back); headings run clockwise
        heading = (edge[:, 2] + turn) % 4
        candidate = leaving[end[:, 0], end[:, 1], heading]
        pick = (following < 0) & (candidate >= 0)
        following[pick] = candidate[pick]
    seen = np.zeros(len(edge), dtype=bool)
    outlines = []
    for first in range(len(edge)):
        if seen[first]:
            continue
        loop = []
        current = first
        while not seen[current]:
            seen[current] = True
            loop.append(current)
            current = following[current]
        corners = edge[loop]
        # keep the corners where the heading changes
        turns = corners[:, 2] != np.roll(corners[:, 2], 1)
        outlines.append(corners[turns, :2].astype(float) - 0.5)
    return outlines


_FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def mask_to_contours(mask: object) -> list[np.ndarray]:
    """Outlines of a 2D mask as an RTSTRUCT should store them: one per region, holes keyholed.

    Each 4-connected region (as :func:`mask_to_polygons` traces it) gives one
    closed outline: its outer outline, with each of its holes joined to it by
    a cut along a pixel edge (module docstring). Filling every outline
    even-odd together and filling each alone then OR-ing give the mask back
    exactly.

    Examples
    --------
    >>> ring = np.zeros((6, 6), bool); ring[1:5, 1:5] = True; ring[2:4, 2:4] = False
    >>> (outline,) = mask_to_contours(ring)
    >>> outline.tolist()
    [[0.5, 0.5], [0.5, 1.5], [1.5, 1.5], [3.5, 1.5], [3.5, 3.5], [1.5, 3.5], [1.5, 1.5], [0.5, 1.5], [0.5, 4.5], [4.5, 4.5], [4.5, 0.5]]
    >>> bool(np.array_equal(polygon_to_mask(outline, ring.shape), ring))
    True
    """
    from scipy import ndimage  # here, not at the top: it costs ~0.5 s to import

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"Argument 'mask' must be 2D, not {mask.ndim}D.")
    labels, _count = ndimage.label(mask.astype(bool), structure=_FOUR_CONNECTED)
    out = []
    for number, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        corner = np.array([box[0].start, box[1].start], dtype=float)
        outlines = [o + corner for o in mask_to_polygons(labels[box] == number)]
        areas = [_signed_area(o) for o in outlines]
        # one 4-connected region: one outer outline (clockwise, positive area), the rest holes
        outer = outlines[int(np.argmax(areas))]
        holes = [o for o, a in zip(outlines, areas, strict=True) if a < 0]
        out.append(_keyholed(outer, holes))
    return out


def _signed_area(outline: np.ndarray) -> float:
    """Shoelace area in (row, column): positive for an outer outline of mask_to_polygons."""
    r, c = outline[:, 0], outline[:, 1]
    return 0.5 * float(np.sum(c * np.roll(r, -1) - np.roll(c, -1) * r))


def _keyholed(outer: np.ndarray, holes: list[np.ndarray]) -> np.ndarray:
    """``outer`` with each hole joined by a vertical cut up from the hole's top-left corner.

    Holes are joined top first, so whatever lies between a hole and the
    outline above it has been joined already: the cut reaches the nearest
    horizontal edge of the outline built so far and crosses nothing.
    """
    polygon = outer
    for hole in sorted(holes, key=lambda h: (h[:, 0].min(), h[h[:, 0] == h[:, 0].min(), 1].min())):
        top = hole[:, 0].min()
        start = int(np.flatnonzero(hole[:, 0] == top)[np.argmin(hole[hole[:, 0] == top, 1])])
        column = hole[start, 1]
        p0, p1 = polygon, np.roll(polygon, -1, axis=0)
        candidates = np.flatnonzero(
            (p0[:, 0] == p1[:, 0])
            & (p0[:, 0] < top)
            & (np.minimum(p0[:, 1], p1[:, 1]) <= column)
            & (column <= np.maximum(p0[:, 1], p1[:, 1]))
        )
        edge = int(candidates[np.argmax(p0[candidates, 0])])
        hit = np.array([p0[edge, 0], column])
        around = np.roll(hole, -start, axis=0)  # from the corner, the hole's own way round
        cut = [hit[None], around, around[:1], hit[None]]
        if np.array_equal(hit, p0[edge]):
            cut = cut[1:]  # the cut starts on a vertex: do not repeat it
        if np.array_equal(hit, p1[edge]):
            cut = cut[:-1]
        polygon = np.concatenate([polygon[: edge + 1], *cut, polygon[edge + 1 :]])
    return polygon
