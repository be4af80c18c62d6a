"""Expert-style outlines of a sample's lesion: several observers, each drawing as people do.

Observers outlining one lesion disagree: lung tumour volumes differ by a
factor of about two between observers on CT, and Dice between two experts is
0.7 to 0.85 for many targets, lower for small ones. A teaching library with a
single reference hides that; this module makes, from a study's own reference
mask and its image, the outlines of a few observers who differ the way real
ones do (:data:`OBSERVERS`):

* **A, generous** — takes in the partial-volume rim and the roots of spicules:
  up to 2 mm beyond the reference edge wherever the image is at least a fifth
  of the way from the surroundings to the lesion;
* **B, tight** — the dense part only: trims up to 2 mm inside the edge where
  the image is less than four fifths of the way, and leaves out an end slice
  where the lesion covers less than a third of its largest slice (stops a
  slice early);
* **C, loose hand** — the edge at the image's half-way level, but wandering a
  millimetre or two either side in smooth waves, as a hand that draws quickly,
  and rounding off spurs and bays under a millimetre.

Each observer draws slice by slice, as people do on axial images: distances
are in-plane (per slice, millimetres), and the wander is a smooth field in
patient millimetres, the same on any grid. The image decides near the edge
(:func:`observer_outline`), so outlines follow what is on the screen, not only
the reference's shape; an outline is closed and keeps only the pieces that
touch the lesion.
Everything is fixed by the seed: the same study writes the same bytes.

:func:`write_observer_segs` writes one DICOM SEG per observer (a series of its
own, the observer named in Content Creator's Name, Series Description and
Segment Description), as a department hands over each observer's contours;
``ct_chest`` and ``mr_brain`` call it beside their reference SEG
(``baseline/experts/`` and ``experts/``). docs/samples.md gives their measured
agreement; graders grade against their consensus
(:mod:`dicomteach.grading.experts`, docs/decisions.md, decision 29).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import edt
import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from scipy import ndimage

from dicomteach.roi import write_seg
from dicomteach.samples._common import sample_uid

__all__ = [
    "OBSERVERS",
    "Observer",
    "SegmentSpec",
    "glioma_outlines",
    "nodule_outlines",
    "observer_outline",
    "write_observer_segs",
]


@dataclass(frozen=True)
class Observer:
    """How one observer outlines a lesion (see the module docstring for the three of the library).

    ``level`` is the contrast the observer takes as lesion near the edge: 0 is
    the surroundings' median, 1 the lesion's. Within ``outside_mm`` beyond the
    reference edge a voxel is drawn when the image reaches ``level``; within
    ``inside_mm`` inside it, a voxel is left out when it does not. ``wander_mm``
    is the standard deviation of the edge's smooth wander; ``smallest_end`` the
    share of its largest slice an end slice must cover to be drawn;
    ``rounding_mm`` the radius of the smallest bay or spur a quick hand
    smooths over.
    """

    letter: str
    style: str
    outside_mm: float
    inside_mm: float
    level: float
    wander_mm: float = 0.0
    smallest_end: float = 0.0
    rounding_mm: float = 0.0

    @property
    def label(self) -> str:
        """``Observer A``: how the observer is named to people."""
        return f"Observer {self.letter}"

    @property
    def person_name(self) -> str:
        """``OBSERVER^A``: the Content Creator's Name (a DICOM PN) of the observer's SEG."""
        return f"OBSERVER^{self.letter}"


#: The library's observers, the same for every study.
OBSERVERS: tuple[Observer, ...] = (
    Observer(
        "A",
        "generous: takes in the partial-volume rim and the roots of spicules",
        outside_mm=2.0,
        inside_mm=0.0,
        level=0.2,
    ),
    Observer(
        "B",
        "tight: the dense part only, and stops a slice early where the lesion fades",
        outside_mm=0.0,
        inside_mm=2.0,
        level=0.8,
        smallest_end=0.34,
    ),
    Observer(
        "C",
        "loose hand: the edge at half contrast, wandering a millimetre or two either side",
        outside_mm=1.0,
        inside_mm=1.0,
        level=0.5,
        wander_mm=1.0,
        rounding_mm=1.0,
    ),
)

#: Wavelengths (mm) of the waves an edge wanders in: a hand's wobble, not the voxel grid's.
WANDER_WAVELENGTHS_MM = (9.0, 22.0)
#: How many waves make up one observer's wander.
WANDER_WAVES = 8
#: Sigma (mm, in-plane) of the blur through which an observer reads the image's noise.
READING_BLUR_MM = 1.0
#: The band (mm from the edge) where the surroundings' median is taken outside the lesion;
#: the lesion's is taken within the band's outer width inside it.
EDGE_BAND_MM = (1.5, 5.0)


def _slice_distances(mask: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """Signed in-plane distance (mm) to the edge of ``mask`` on its slice: negative inside.

    The edge lies half a pixel beyond the outermost voxel centres, so a voxel
    at the edge is ±half a pixel from it; slices without the mask are +inf.
    """
    half = min(spacing[1], spacing[2]) / 2.0
    out = np.full(mask.shape, np.inf, np.float32)
    anisotropy = (float(spacing[1]), float(spacing[2]))
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        inside = np.ascontiguousarray(mask[k])
        # a slice entirely inside its box never happens here: the box has a margin
        depth = edt.edt(inside, anisotropy=anisotropy, black_border=False)
        reach = edt.edt(~inside, anisotropy=anisotropy, black_border=False)
        out[k] = np.where(inside, half - depth, reach - half)
    return out


def _wander(
    shape: Sequence[int],
    spacing: Sequence[float],
    origin_mm: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """A smooth field of unit standard deviation: plane waves in millimetres from ``origin_mm``.

    Defined in millimetres, not voxels, so the same seed wanders alike on a
    256 and a 512 matrix.
    """
    axes = [
        (np.arange(n, dtype=np.float32) * s - o)
        for n, s, o in zip(shape, spacing, origin_mm, strict=True)
    ]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    field = np.zeros(tuple(shape), np.float32)
    low, high = WANDER_WAVELENGTHS_MM
    for _ in range(WANDER_WAVES):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        wavelength = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        phase = float(rng.uniform(0.0, 2.0 * np.pi))
        k = (2.0 * np.pi / wavelength) * direction
        field += np.cos(k[0] * zz + k[1] * yy + k[2] * xx + phase)
    # a sum of n unit cosines with random phases has variance n/2
    return field / np.float32(np.sqrt(WANDER_WAVES / 2.0))


def _contrast(
    image: np.ndarray, reference: np.ndarray, distance: np.ndarray, spacing: Sequence[float]
) -> np.ndarray:
    """The image as 0 = the surroundings' median, 1 = the lesion's edge's, read through a light blur.

    Both medians are taken in bands either side of the edge (:data:`EDGE_BAND_MM`), where
    an observer compares them: the oedema at its front, not the tumour inside it.
    """
    sigma = [0.0, READING_BLUR_MM / spacing[1], READING_BLUR_MM / spacing[2]]
    read = ndimage.gaussian_filter(image.astype(np.float32), sigma)
    near, far = EDGE_BAND_MM
    around = (distance > near) & (distance <= far)
    edge = reference & (distance >= -far)
    lesion = float(np.median(read[edge]))
    surroundings = float(np.median(read[around])) if around.any() else lesion
    if abs(lesion - surroundings) < 1e-6:  # nothing to see: the reference decides
        return reference.astype(np.float32)
    return (read - surroundings) / np.float32(lesion - surroundings)


def _trim_ends(mask: np.ndarray, smallest: float) -> np.ndarray:
    """``mask`` without its first or last slice where that covers less than ``smallest`` of the largest.

    At most one slice at each end: an observer who stops early stops a slice early.
    """
    if smallest <= 0.0 or not mask.any():
        return mask
    areas = mask.sum(axis=(1, 2))
    drawn = np.flatnonzero(areas)
    for end in {int(drawn[0]), int(drawn[-1])} if drawn.size > 2 else ():
        if areas[end] < smallest * areas.max():
            mask[end] = False
    return mask


def observer_outline(
    reference: np.ndarray,
    image: np.ndarray,
    spacing: Sequence[float],
    observer: Observer,
    seed: int,
) -> np.ndarray:
    """The outline ``observer`` draws of the lesion ``reference`` marks on ``image``.

    Parameters
    ----------
    reference : (slices, rows, columns) bool
        The lesion's reference mask.
    image : array of the same shape
        What the observer looks at (CT in HU, MR signal): the lesion must be
        brighter or darker than its surroundings.
    spacing : (3,) float
        Millimetres between slices, rows and columns.
    observer : Observer
    seed : int
        Fixes the wander.

    Examples
    --------
    >>> z, y, x = np.mgrid[:9, :48, :48]
    >>> ball = ((z - 4) * 2.5) ** 2 + ((y - 24) * 0.8) ** 2 + ((x - 24) * 0.8) ** 2 <= 8.0**2
    >>> ct = np.where(ball, 30.0, -850.0)
    >>> generous, tight = (observer_outline(ball, ct, (2.5, 0.8, 0.8), o, 0) for o in OBSERVERS[:2])
    >>> bool(tight.sum() < ball.sum() < generous.sum())
    True
    """
    reference = np.asarray(reference, bool)
    spacing = tuple(float(s) for s in spacing)
    out = np.zeros(reference.shape, bool)
    if not reference.any():
        return out
    margin_mm = max(observer.outside_mm, EDGE_BAND_MM[1]) + 3.0 * observer.wander_mm + 2.0
    box = []
    for axis, (lo, hi) in enumerate(_extent(reference)):
        reach = 0 if axis == 0 else int(np.ceil(margin_mm / spacing[axis]))
        box.append(slice(max(0, lo - reach), min(reference.shape[axis], hi + 1 + reach)))
    box = tuple(box)
    ref = reference[box]
    distance = _slice_distances(ref, spacing)
    contrast = _contrast(np.asarray(image)[box], ref, distance, spacing)
    edge = distance
    if observer.wander_mm > 0.0:
        rng = np.random.default_rng([seed, 0xE8, ord(observer.letter)])
        origin = np.array(ndimage.center_of_mass(ref)) * np.array(spacing)
        edge = distance - observer.wander_mm * _wander(ref.shape, spacing, origin, rng)
    sure = edge <= -observer.inside_mm
    seen = (edge <= observer.outside_mm) & (contrast >= observer.level)
    drawn = (sure | seen) & np.isfinite(distance)  # only on slices where the lesion is
    for k in np.flatnonzero(drawn.any(axis=(1, 2))):
        # an outline is closed: what it surrounds is drawn, unless the reference has a hole
        # there too (the necrotic centre inside an enhancing rim)
        own_hole = ndimage.binary_fill_holes(ref[k]) & ~ref[k]
        drawn[k] |= ndimage.binary_fill_holes(drawn[k]) & ~own_hole
        if observer.rounding_mm > 0.0:
            disk = _disk(observer.rounding_mm, spacing)
            smooth = ndimage.binary_opening(ndimage.binary_closing(drawn[k], disk), disk)
            drawn[k] = smooth & ~own_hole | (drawn[k] & own_hole)
        # one lesion, not the vessel beside it: only pieces that touch the reference
        pieces, _count = ndimage.label(drawn[k])
        touching = np.unique(pieces[ref[k] & drawn[k]])
        drawn[k] = np.isin(pieces, touching[touching > 0])
    out[box] = _trim_ends(drawn, observer.smallest_end)
    return out


def _disk(radius_mm: float, spacing: Sequence[float]) -> np.ndarray:
    """A disk of ``radius_mm`` on the in-plane grid (at least the 3×3 cross)."""
    reach = [max(1, int(radius_mm / s)) for s in spacing[1:]]
    yy, xx = np.mgrid[-reach[0] : reach[0] + 1, -reach[1] : reach[1] + 1]
    inside = (yy * spacing[1]) ** 2 + (xx * spacing[2]) ** 2 <= max(
        radius_mm, max(spacing[1:])
    ) ** 2
    return inside


def _extent(mask: np.ndarray) -> list[tuple[int, int]]:
    return [
        (int(idx[0]), int(idx[-1]))
        for idx in (
            np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
            for axis in range(3)
        )
    ]


def nodule_outlines(
    nodule: np.ndarray, ct_hu: np.ndarray, spacing: Sequence[float], seed: int
) -> dict[str, np.ndarray]:
    """Each observer's outline of a lung nodule on its CT (Hounsfield units), by letter.

    >>> z, y, x = np.mgrid[:9, :48, :48]
    >>> ball = ((z - 4) * 2.5) ** 2 + ((y - 24) * 0.8) ** 2 + ((x - 24) * 0.8) ** 2 <= 8.0**2
    >>> sorted(nodule_outlines(ball, np.where(ball, 30.0, -850.0), (2.5, 0.8, 0.8), 0))
    ['A', 'B', 'C']
    """
    return {o.letter: observer_outline(nodule, ct_hu, spacing, o, seed) for o in OBSERVERS}


def glioma_outlines(
    enhancing: np.ndarray,
    core: np.ndarray,
    oedema: np.ndarray,
    t1c: np.ndarray,
    flair: np.ndarray,
    spacing: Sequence[float],
    seed: int,
) -> dict[str, dict[str, np.ndarray]]:
    """Each observer's enhancing tumour and oedema of a glioma, by letter then segment label.

    As readers of a glioma work: the tumour core (enhancing rim and what it
    encloses) and the enhancing rim on the T1+C, the whole abnormality on the
    FLAIR; the oedema is the whole abnormality less the core, so an
    observer's two segments never overlap. ``core`` is the reference core
    (enhancing and necrosis); ``enhancing`` and ``oedema`` the reference
    segments.
    """
    whole = oedema | core | enhancing
    outlines = {}
    for o in OBSERVERS:
        own_core = observer_outline(core | enhancing, t1c, spacing, o, seed)
        rim = observer_outline(enhancing, t1c, spacing, o, seed) & own_core
        abnormal = observer_outline(whole, flair, spacing, o, seed)
        outlines[o.letter] = {"Enhancing tumour": rim, "Oedema": abnormal & ~own_core}
    return outlines


@dataclass(frozen=True)
class SegmentSpec:
    """One segment of an observer's SEG: its label and codes, as the reference SEG has them."""

    label: str
    category: object
    property_type: object
    tracking_id: str


def write_observer_segs(
    folder: str | os.PathLike[str],
    outlines: Mapping[str, Mapping[str, np.ndarray]],
    source: Sequence[Dataset],
    segments: Sequence[SegmentSpec],
    *,
    stem: str,
    what: str,
    seed: int,
    tag: Sequence[object],
    created: tuple[str, str],
) -> list[Path]:
    """One SEG per observer in ``folder``: ``<stem>-observer-<letter>.dcm``; returns the paths.

    ``outlines`` maps an observer's letter to its masks by segment label (in
    the order of ``segments``), each with the frames of ``source``'s images in
    order (one frame per single-frame image, or the frames of one
    multi-frame image). ``what`` names the target in descriptions ("Nodule").
    UIDs come from ``seed`` and ``tag``; ``created`` (date, time) replaces the
    clock, so the same outlines write the same bytes.
    """
    folder = Path(folder)
    by_letter = {o.letter: o for o in OBSERVERS}
    written = []
    for letter, masks in outlines.items():
        observer = by_letter[letter]
        uid_parts = (*tag, "observer", letter)
        descriptions = []
        for number, spec in enumerate(segments, 1):
            item = hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=spec.label,
                segmented_property_category=spec.category,
                segmented_property_type=spec.property_type,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
                tracking_uid=sample_uid(seed, *uid_parts, "tracking", number),
                tracking_id=spec.tracking_id,
            )
            item.SegmentDescription = (
                f"{spec.label} as {observer.label} outlined it ({observer.style})"
            )
            descriptions.append(item)
        path = write_seg(
            {spec.label: masks[spec.label] for spec in segments},
            list(source),
            folder / f"{stem}-observer-{letter.lower()}.dcm",
            descriptions=descriptions,
            series_uid=sample_uid(seed, *uid_parts, "series"),
            sop_uid=sample_uid(seed, *uid_parts, "instance"),
            series_number=400 + ord(letter) - ord("A"),
            series_description=f"{what}, observer {letter}",
            content_label=f"OBSERVER_{letter}",
            content_creator=observer.person_name,
            content_description=f"{what} outlined by observer {letter}",
            created=created,
        )
        written.append(path)
    return written
