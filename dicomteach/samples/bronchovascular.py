"""The bronchovascular tree of a lobe: grown by space colonisation, smoothed, Murray's radii.

A tree is nodes with a parent each (:class:`Tree`). :func:`colonise` grows
one from a hilar root into a cloud of points filling the lobe (each point
pulls the nearest branch tip until every point is reached);
:func:`smoothed` takes the zig-zag of those five-millimetre steps out;
:func:`murray_radii` gives the radii (a parent's cubed radius is the sum of
its children's, so calibre falls steadily from the hilum to the periphery);
and :meth:`Tree.curve` draws it as short tapered segments along
Catmull-Rom curves through the nodes, so a vessel bends smoothly and a
branch leaves its parent in a curve, at its own calibre.

Pure numpy on point arrays: which lobe, lung and patient they belong to is
:mod:`dicomteach.samples.patient`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Radius (mm) of the finest arteries and veins the tree ends in.
LEAF_RADIUS = 0.6
#: Arteries thinner than this (mm) have no visible bronchus beside them.
BRONCHUS_FROM = 1.1
#: Inner diameter of a bronchus relative to its artery's (the bronchoarterial ratio).
BRONCHOARTERIAL_RATIO = 0.75


@dataclass
class Tree:
    """One tree as nodes: ``parent[i]`` (−1 at the root), position ``xyz[i]``, radius ``radius[i]``.

    A parent always comes before its children; several roots make a forest.
    """

    xyz: np.ndarray
    parent: np.ndarray
    radius: np.ndarray

    def main_child(self) -> np.ndarray:
        """Each node's widest child (the branch that carries on), −1 for a leaf.

        >>> Tree(np.zeros((4, 3)), np.array([-1, 0, 0, 1]), np.array([2.0, 1.5, 1.0, 1.0])).main_child().tolist()
        [1, 3, -1, -1]
        """
        best = np.full(len(self.parent), -1, dtype=np.int64)
        widest = np.full(len(self.parent), -np.inf)
        for i in range(1, len(self.parent)):
            par = self.parent[i]
            if par >= 0 and self.radius[i] > widest[par]:
                widest[par], best[par] = self.radius[i], i
        return best

    def segments(self, offset: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(p0, p1, r0, r1) of every node's straight segment from its parent, ``offset`` added per node.

        A segment has its node's calibre all along: at a fork the branches
        narrow at once to their own (as a vessel does at a bifurcation), and a
        side branch does not leave its parent as a cone.
        """
        xyz = self.xyz if offset is None else self.xyz + offset
        child = np.flatnonzero(self.parent >= 0)
        par = self.parent[child]
        return xyz[par], xyz[child], self.radius[child], self.radius[child]

    def curve(self, pieces: int = 3) -> tuple[np.ndarray, ...]:
        """(p0, p1, r0, r1) of ``pieces`` short segments per node along a Catmull-Rom curve.

        The curve through parent and node takes its tangents from the
        grandparent and from the node's widest child (or runs straight on at
        a root or a leaf), so the tree bends without corners; each piece has
        its node's calibre, as :meth:`segments`.

        >>> tree = Tree(np.array([[0.0, 0, 0], [10, 0, 0], [20, 10, 0]]), np.array([-1, 0, 1]),
        ...             np.array([2.0, 2.0, 2.0]))
        >>> p0, p1, r0, r1 = tree.curve(pieces=4)
        >>> len(p0), bool(np.allclose(p0[4], [10, 0, 0])), bool(p1[1][1] < 0)  # bends smoothly
        (8, True, True)
        """
        child = np.flatnonzero(self.parent >= 0)
        if not child.size:
            empty = np.zeros((0, 3))
            return empty, empty, np.zeros(0), np.zeros(0)
        par = self.parent[child]
        grand = self.parent[par]
        main = self.main_child()
        a, b = self.xyz[par], self.xyz[child]
        before = np.where((grand >= 0)[:, None], self.xyz[np.maximum(grand, 0)], 2 * a - b)
        after = np.where(
            (main[child] >= 0)[:, None], self.xyz[np.maximum(main[child], 0)], 2 * b - a
        )
        s = np.linspace(0.0, 1.0, pieces + 1)[None, :, None]
        points = 0.5 * (
            2 * a[:, None]
            + (b - before)[:, None] * s
            + (2 * before - 5 * a + 4 * b - after)[:, None] * s**2
            + (3 * a - before - 3 * b + after)[:, None] * s**3
        )
        radii = np.repeat(self.radius[child], pieces)
        return points[:, :-1].reshape(-1, 3), points[:, 1:].reshape(-1, 3), radii, radii.copy()


def colonise(
    root: np.ndarray,
    direction: np.ndarray,
    attractors: np.ndarray,
    rng: np.random.Generator,
    *,
    step: float = 5.0,
    kill: float = 7.0,
    max_nodes: int = 20000,
) -> tuple[np.ndarray, np.ndarray]:
    """Grow a branching tree from ``root`` into a cloud of ``attractors`` (space colonisation).

    Each round, every attractor pulls the tree node nearest to it; a node
    pulled grows a new node ``step`` mm towards the mean of its pulls;
    attractors closer than ``kill`` mm to a node are reached and removed.
    Returns node positions and each node's parent (−1 for the root); a
    parent always comes before its children.

    >>> pts = np.random.default_rng(0).uniform(-20, 20, (200, 3)) + (0, 0, 60)
    >>> xyz, parent = colonise(np.zeros(3), np.array([0, 0, 1.0]), pts, np.random.default_rng(1))
    >>> bool((parent[1:] < np.arange(1, len(parent))).all()), bool(len(xyz) > 20)
    (True, True)
    """
    xyz = np.zeros((max_nodes, 3))
    parent = np.full(max_nodes, -1, dtype=np.int64)
    xyz[0] = root
    n = 1
    # a trunk towards the territory before branching starts
    while n < max_nodes and np.min(np.linalg.norm(attractors - xyz[n - 1], axis=1)) > 3 * kill:
        pull = unit(np.asarray(direction, float) + 0.2 * unit(attractors.mean(0) - xyz[n - 1]))
        xyz[n], parent[n] = xyz[n - 1] + step * pull, n - 1
        n += 1
        direction = pull
        if n > 40:
            break
    nearest_d = np.linalg.norm(attractors - xyz[n - 1], axis=1)
    nearest_i = np.full(len(attractors), n - 1)
    alive = np.ones(len(attractors), dtype=bool)
    new = np.arange(n)
    for _ in range(400):
        if len(new):
            d = np.linalg.norm(attractors[:, None, :] - xyz[new][None, :, :], axis=2)
            best = d.argmin(axis=1)
            closer = d[np.arange(len(d)), best] < nearest_d
            nearest_d = np.where(closer, d[np.arange(len(d)), best], nearest_d)
            nearest_i = np.where(closer, new[best], nearest_i)
        alive &= nearest_d > kill
        live = np.flatnonzero(alive)
        if not len(live) or n >= max_nodes:
            break
        owners = nearest_i[live]
        pulls = attractors[live] - xyz[owners]
        pulls /= np.linalg.norm(pulls, axis=1, keepdims=True)
        sums = np.zeros((n, 3))
        np.add.at(sums, owners, pulls)
        growing = np.unique(owners)[: max_nodes - n]
        heading = sums[growing] + rng.normal(0.0, 0.15, (len(growing), 3))
        heading /= np.linalg.norm(heading, axis=1, keepdims=True)
        new = np.arange(n, n + len(growing))
        xyz[new] = xyz[growing] + step * heading
        parent[new] = growing
        n += len(growing)
    return xyz[:n].copy(), parent[:n].copy()


def murray_radii(parent: np.ndarray, leaf_radius: float) -> np.ndarray:
    """Radius of each node by Murray's law: a parent's r³ is the sum of its children's r³.

    A node without children gets ``leaf_radius``; a chain keeps its radius.

    >>> murray_radii(np.array([-1, 0, 0]), 1.0).round(3).tolist()
    [1.26, 1.0, 1.0]
    """
    cubes = np.zeros(len(parent))
    has_child = np.zeros(len(parent), dtype=bool)
    has_child[parent[parent >= 0]] = True
    cubes[~has_child] = leaf_radius**3
    for i in range(len(parent) - 1, 0, -1):  # children always come after their parent
        cubes[parent[i]] += cubes[i]
    return np.cbrt(cubes)


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to length 1 along its last axis.

    >>> unit(np.array([3.0, 0.0, 4.0])).round(6).tolist()
    [0.6, 0.0, 0.8]
    """
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-12)


def smoothed(xyz: np.ndarray, parent: np.ndarray, rounds: int = 8) -> np.ndarray:
    """Node positions with the zig-zag of growth taken out: each inner node moves halfway
    towards the midpoint of its parent and its widest child, ``rounds`` times.

    Roots and leaves stay where they are, so a tree keeps its reach.

    >>> xyz = np.array([[0.0, 0, 0], [5, 2, 0], [10, -2, 0], [15, 2, 0], [20, 0, 0]])
    >>> out = smoothed(xyz, np.array([-1, 0, 1, 2, 3]))
    >>> bool(np.abs(out[1:4, 1]).max() < np.abs(xyz[1:4, 1]).max() / 2)
    True
    """
    tree = Tree(xyz, parent, murray_radii(parent, 1.0))
    main = tree.main_child()
    inner = np.flatnonzero((parent >= 0) & (main >= 0))
    out = np.array(xyz, dtype=float)
    for _ in range(rounds):
        middle = 0.5 * (out[parent[inner]] + out[main[inner]])
        out[inner] += 0.5 * (middle - out[inner])
    return out


def side_offsets(tree: Tree) -> np.ndarray:
    """A unit vector per node across its branch, carried smoothly down the tree."""
    side = np.zeros_like(tree.xyz)
    for i in range(len(tree.parent)):
        par = tree.parent[i]
        ref = side[par] if par >= 0 else np.array([0.0, 0.0, 1.0])
        heading = unit(tree.xyz[i] - tree.xyz[par]) if par >= 0 else np.array([1.0, 0.0, 0.0])
        across = ref - (ref @ heading) * heading
        if np.linalg.norm(across) < 1e-3:
            across = np.cross(heading, (0.3, 1.0, 0.2))
        side[i] = unit(across)
    return side
