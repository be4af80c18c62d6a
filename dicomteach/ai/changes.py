"""What changed between a baseline chest CT and its follow-up: new, grown, stable, shrunk lesions.

:func:`find_changes` does what a reader does with a prior:

1. aligns the follow-up on the baseline with the rigid registration
   ``Compare`` uses (:func:`dicomteach.imaging.registration.register_followup`);
2. runs the nodule model (:func:`~dicomteach.ai.nodules.find_nodules`) on
   both dates, down to its detection threshold, so that a faint candidate on
   one date still counts as "there";
3. pairs the candidates of the two dates in the baseline's patient space
   (the follow-up's centres carried over by the registration; the closest
   pairs first, within half the larger diameter and 5 mm);
4. says of each lesion shown on either date (probability at or above the
   operating point, 0.5) what happened, in the words of
   :data:`dicomteach.grading.followup.CHANGES`: **new** (no candidate at
   baseline), **resolved** (none at follow-up), **grown**, **shrunk** or
   **stable**, by the Lung-RADS rule (:data:`GROWTH_MM`: the mean diameter,
   the mean of the long axis and the short axis perpendicular to it on one
   axial slice, up by more than 1.5 mm; docs/ai.md, "Change between two
   dates", says why this rule and not a volume change of 25 %).

Each :class:`Change` holds both dates' measures (mean and long diameter,
volume), the change in mm and per cent, and the volume doubling time in days
when both studies give a date. A lesion outside the other date's field of
view is not compared (``Changes.outside``). :func:`change_png` draws one
change, the baseline and the registered follow-up side by side with the
model's outlines, for lessons and docs.

The measures are the model's outlines: its errors (a vessel marked on one
date only, a faint nodule missed at baseline) become false "new" or "grown"
calls, measured in docs/ai.md by :mod:`dicomteach.ai.change_pairs`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from dicomteach.ai.errors import ModelInputError
from dicomteach.ai.nodules import Candidate, find_nodules
from dicomteach.ai.runtime import Model
from dicomteach.grading.followup import CHANGES, longest_diameter
from dicomteach.imaging.registration import Rigid, register_followup
from dicomteach.io.volume import Volume

__all__ = [
    "CHANGES",
    "GROWTH_MM",
    "GROWTH_VOLUME",
    "Change",
    "Changes",
    "Measure",
    "change_png",
    "find_changes",
    "measure",
]

#: Growth (and shrinkage) of the mean diameter (mm) beyond which a lesion has changed: Lung-RADS
#: v2022's "growth: an increase in mean diameter of more than 1.5 mm".
GROWTH_MM = 1.5
#: The volumetric rule (NELSON, the British Thoracic Society): growth is a volume up by 25 % or
#: more. Reported beside each change (``Change.volume_change_percent``), not used to classify.
GROWTH_VOLUME = 0.25
#: Probability at which a candidate is shown (as in the nodule model's evaluation).
OPERATING_POINT = 0.5
#: Pairs are made within half the larger diameter plus this (mm) ...
MATCH_MARGIN_MM = 5.0
#: ... and never farther than this (mm).
MATCH_MAX_MM = 20.0
#: A lesion is compared only this far (mm, and its radius) inside the other date's field of view:
#: the model sees a structure cut by the end of a stack as something else.
EDGE_MM = 5.0
#: At least this share of the baseline's lungs must lie in the follow-up's field of view.
MIN_OVERLAP = 0.3


@dataclass(frozen=True, eq=False)
class Measure:
    """One lesion on one date: the model's candidate and what its outline measures."""

    candidate: Candidate
    long_mm: float
    """Longest diameter on an axial slice (edge to edge, as RECIST measures)."""
    short_mm: float
    """Widest extent perpendicular to it, on the same slice."""
    volume_ml: float

    @property
    def mean_mm(self) -> float:
        """Mean diameter, Lung-RADS': the mean of the long and the short axis."""
        return round((self.long_mm + self.short_mm) / 2.0, 1)

    @property
    def probability(self) -> float:
        return self.candidate.probability


@dataclass(frozen=True, eq=False)
class Change:
    """One lesion across the two dates, and what happened to it (one of :data:`CHANGES`)."""

    change: str
    centre_mm: tuple[float, float, float]
    """Where it is in the baseline's patient coordinates (LPS, mm)."""
    baseline: Measure | None
    followup: Measure | None
    days: int | None = None
    """Days between the studies, when both headers give a Study Date."""

    @property
    def probability(self) -> float:
        """The model's highest probability for it on either date."""
        return max(m.probability for m in (self.baseline, self.followup) if m is not None)

    @property
    def diameter_change_mm(self) -> float | None:
        """Follow-up minus baseline mean diameter (mm); None unless seen on both dates."""
        if self.baseline is None or self.followup is None:
            return None
        return round(self.followup.mean_mm - self.baseline.mean_mm, 1)

    @property
    def diameter_change_percent(self) -> float | None:
        if self.baseline is None or self.followup is None or self.baseline.mean_mm <= 0:
            return None
        return round(100.0 * (self.followup.mean_mm / self.baseline.mean_mm - 1.0), 1)

    @property
    def volume_change_percent(self) -> float | None:
        if self.baseline is None or self.followup is None or self.baseline.volume_ml <= 0:
            return None
        return round(100.0 * (self.followup.volume_ml / self.baseline.volume_ml - 1.0), 1)

    @property
    def doubling_days(self) -> float | None:
        """Volume doubling time (days): ``days · ln 2 / ln(V₂ / V₁)``; None unless it grew.

        >>> m = lambda v: Measure(None, 10.0, 10.0, v)  # type: ignore[arg-type]
        >>> Change("grown", (0.0, 0.0, 0.0), m(1.0), m(2.0), days=180).doubling_days
        180.0
        """
        if self.days is None or self.baseline is None or self.followup is None:
            return None
        v1, v2 = self.baseline.volume_ml, self.followup.volume_ml
        if v1 <= 0 or v2 <= v1:
            return None
        return round(float(self.days * np.log(2.0) / np.log(v2 / v1)), 0)

    def describe(self) -> str:
        """One line: ``"grown: mean diameter 12.1 → 15.9 mm (+3.8 mm, +31 %), volume …"``."""
        if self.baseline is None:
            assert self.followup is not None
            return (
                f"new: {self.followup.mean_mm:g} mm at follow-up ({self.followup.volume_ml:g} ml)"
            )
        if self.followup is None:
            return f"resolved: {self.baseline.mean_mm:g} mm at baseline, nothing at follow-up"
        text = (
            f"{self.change}: mean diameter {self.baseline.mean_mm:g} → {self.followup.mean_mm:g} mm "
            f"({self.diameter_change_mm:+g} mm, {self.diameter_change_percent:+.0f} %), "
            f"volume {self.baseline.volume_ml:g} → {self.followup.volume_ml:g} ml "
            f"({self.volume_change_percent:+.0f} %)"
        )
        if self.doubling_days is not None:
            text += f", doubling time {self.doubling_days:.0f} days"
        return text


@dataclass(eq=False)
class Changes:
    """What :func:`find_changes` found: the changes, most probable first, and how it got there."""

    changes: list[Change]
    rigid: Rigid
    """Maps baseline LPS points to follow-up LPS points (``register_followup``'s)."""
    baseline: Volume
    followup: Volume
    days: int | None
    outside: int = 0
    """Lesions shown on one date that lie outside the other date's field of view (not compared)."""
    candidates: tuple[list[Candidate], list[Candidate]] = field(default_factory=lambda: ([], []))
    """Every candidate of each date, down to the model's detection threshold."""

    def __iter__(self):
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def of(self, *kinds: str) -> list[Change]:
        """The changes of these kinds (``changes.of("new", "grown")``)."""
        for kind in kinds:
            if kind not in CHANGES:
                raise ValueError(f"Argument 'kinds' must be of {CHANGES}, not {kind!r}")
        return [c for c in self.changes if c.change in kinds]

    def to_baseline(self, point_mm) -> np.ndarray:
        """A follow-up LPS point (mm) in the baseline's patient coordinates."""
        return self.rigid.inverse().apply(np.asarray(point_mm, dtype=float))


def measure(candidate: Candidate, spacing: tuple[float, float, float]) -> Measure:
    """A candidate's long and short axis (one axial slice) and volume, from its outline.

    >>> rows, cols = np.ogrid[:30, :30]
    >>> ellipse = ((rows - 15) / 10.0) ** 2 + ((cols - 15) / 5.0) ** 2 <= 1.0
    >>> c = Candidate(0.9, (0.0, 15.0, 15.0), (0.0, 0.0, 0.0),
    ...               (slice(0, 1), slice(0, 30), slice(0, 30)), ellipse[None], 0.0, 0.1)
    >>> m = measure(c, (2.5, 0.5, 0.5))
    >>> m.long_mm, m.short_mm, m.mean_mm
    (10.5, 5.5, 8.0)
    """
    spacing = tuple(float(s) for s in spacing)
    long = longest_diameter(candidate.mask, spacing)
    if long is None:
        return Measure(candidate, 0.0, 0.0, 0.0)
    plane = candidate.mask[long.slice]
    scale = np.asarray(spacing[1:])
    (r0, c0), (r1, c1) = long.ends
    axis = np.array([r1 - r0, c1 - c0]) * scale
    axis /= max(float(np.linalg.norm(axis)), 1e-9)
    across = np.array([-axis[1], axis[0]])
    points = np.argwhere(plane) * scale
    along_across = points @ across
    # edge to edge: a pixel's extent across, as the long axis's ends go to the pixels' edges
    extent = float(np.abs(across) @ scale)
    short = float(along_across.max() - along_across.min()) + extent
    volume = float(candidate.mask.sum() * np.prod(spacing)) / 1000.0
    return Measure(candidate, round(long.length_mm, 1), round(short, 1), round(volume, 3))


def _study_date(volume: Volume) -> date | None:
    text = str(volume.header.get("StudyDate", "") or "").strip()
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except (ValueError, IndexError):
        return None


def _where(volume: Volume) -> str | None:
    return volume.sources[0][0] if volume.sources else None


def _check(baseline: Volume, followup: Volume) -> int | None:
    """One line for a pair that cannot be compared; the days between them otherwise."""
    for name, volume in (("baseline", baseline), ("follow-up", followup)):
        if volume.modality != "CT":
            raise ModelInputError(
                f"the {name} is {volume.modality or 'of no modality'}, not CT: "
                "find_changes compares two chest CTs",
                _where(volume),
            )
    ids = [str(v.header.get("PatientID", "") or "").strip() for v in (baseline, followup)]
    if all(ids) and ids[0] != ids[1]:
        raise ModelInputError(
            f"different patients: the baseline's Patient ID is {ids[0]!r}, the follow-up's "
            f"{ids[1]!r}; compare two studies of one patient",
            _where(followup),
        )
    dates = [_study_date(v) for v in (baseline, followup)]
    if dates[0] is None or dates[1] is None:
        return None
    days = (dates[1] - dates[0]).days
    if days < 0:
        raise ModelInputError(
            f"the follow-up ({dates[1]}) is older than the baseline ({dates[0]}): swap them",
            _where(followup),
        )
    return days


def _inside(volume: Volume, points_mm: np.ndarray, margin_mm: float = 0.0) -> np.ndarray:
    """Which LPS points lie in the volume's voxels, ``margin_mm`` in from its edges."""
    index = np.atleast_2d(volume.lps_to_index(points_mm))
    shape = np.array(volume.pixels.shape[:3], dtype=float)
    margin = margin_mm / np.asarray(volume.spacing, dtype=float)
    return np.all((index >= -0.5 + margin) & (index <= shape - 0.5 - margin), axis=-1)


def _margin(m: Measure) -> float:
    """How far (mm) a lesion must lie inside the other date's field of view to be compared there."""
    return EDGE_MM + m.long_mm / 2.0


def _overlap(baseline: Volume, followup: Volume, rigid: Rigid) -> float:
    """The share of the baseline's lungs (below −400 HU inside the body) the follow-up covers."""
    from dicomteach.ai.grid import hounsfield, lung_box

    hu = hounsfield(baseline)
    box = lung_box(hu, baseline.spacing)
    if box is None:
        raise ModelInputError(
            "no lungs in the baseline: find_changes compares two chest CTs", _where(baseline)
        )
    axes = [np.linspace(b.start, b.stop - 1, 9) for b in box]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    points = baseline.index_to_lps(grid)
    return float(_inside(followup, rigid.apply(points)).mean())


def _pairs(
    base: list[Measure], follow: list[Measure], follow_at_base: np.ndarray
) -> list[tuple[int, int]]:
    """Baseline and follow-up lesions paired, the closest first, within the gate."""
    if not base or not follow:
        return []
    a = np.array([m.candidate.centre_mm for m in base], dtype=float)
    d = np.linalg.norm(a[:, None, :] - follow_at_base[None, :, :], axis=-1)
    sizes = np.array([[max(b.long_mm, f.long_mm) for f in follow] for b in base])
    gate = np.minimum(sizes / 2.0 + MATCH_MARGIN_MM, MATCH_MAX_MM)
    pairs, used_b, used_f = [], set(), set()
    for i, j in zip(*np.unravel_index(np.argsort(d, axis=None), d.shape), strict=True):
        if d[i, j] > gate[i, j]:
            continue
        if i in used_b or j in used_f:
            continue
        pairs.append((int(i), int(j)))
        used_b.add(int(i))
        used_f.add(int(j))
    return pairs


def classify(baseline: Measure | None, followup: Measure | None) -> str:
    """What happened to a lesion, by the Lung-RADS rule on the mean diameter (:data:`GROWTH_MM`).

    >>> m = lambda d: Measure(None, d, d, 0.1)  # type: ignore[arg-type]
    >>> classify(m(8.0), m(9.6)), classify(m(8.0), m(9.4)), classify(m(8.0), m(6.0))
    ('grown', 'stable', 'shrunk')
    >>> classify(None, m(5.0)), classify(m(5.0), None)
    ('new', 'resolved')
    """
    if baseline is None:
        return "new"
    if followup is None:
        return "resolved"
    change = followup.mean_mm - baseline.mean_mm
    if change > GROWTH_MM:
        return "grown"
    if change < -GROWTH_MM:
        return "shrunk"
    return "stable"


def _load(volume: Volume | str | os.PathLike[str]) -> Volume:
    if isinstance(volume, (str, os.PathLike)):
        from dicomteach import io

        return io.load(volume)
    return volume


def find_changes(
    baseline: Volume | str | os.PathLike[str],
    followup: Volume | str | os.PathLike[str],
    *,
    model: Model | None = None,
    threshold: float = OPERATING_POINT,
) -> Changes:
    """The lesions that are new, grown, stable, shrunk or resolved between two chest CTs.

    Parameters
    ----------
    baseline, followup : Volume, or a path
        Two axial chest CTs of one patient (a file, folder or zip
        :func:`dicomteach.io.load` reads), the older first.
    model : Model, optional
        The nodule model (default: the shipped one), or a hospital's
        (:mod:`dicomteach.ai.adapters`).
    threshold : float, optional
        A lesion is reported when the model gives it this probability on at
        least one date (default 0.5, the model card's operating point).

    Raises
    ------
    ModelInputError
        Not CT, different patients (Patient ID), the follow-up older than the
        baseline, no lungs, the registration failing or the two fields of
        view barely overlapping: one line each.

    Examples
    --------
    The library's nodule study (tests/test_ai_changes.py runs this on it):

    >>> from dicomteach.samples.cache import lesson_study
    >>> pair = lesson_study("ct-chest", seed=1, size=256, slices=60)  # doctest: +SKIP
    >>> changes = find_changes(pair / "baseline/ct", pair / "followup/ct")  # doctest: +SKIP
    >>> changes.changes[0].describe()  # doctest: +SKIP
    'grown: mean diameter 19.5 → 23.6 mm (+4.1 mm, +21 %), volume 2.842 → 5.155 ml (+81 %), doubling time 212 days'
    """
    baseline, followup = _load(baseline), _load(followup)
    days = _check(baseline, followup)
    try:
        rigid = register_followup(baseline, followup)
    except ValueError as error:
        raise ModelInputError(
            f"cannot align the follow-up on the baseline ({error}): are they the same chest?",
            _where(followup),
        ) from None
    covered = _overlap(baseline, followup, rigid)
    if covered < MIN_OVERLAP:
        raise ModelInputError(
            f"the follow-up covers {covered:.0%} of the baseline's lungs once aligned: "
            "compare two CTs of the same chest",
            _where(followup),
        )
    # down to the model's detection threshold: a faint candidate on one date is still "there"
    found = (find_nodules(baseline, model=model), find_nodules(followup, model=model))
    base = [measure(c, baseline.spacing) for c in found[0]]
    follow = [measure(c, followup.spacing) for c in found[1]]
    back = rigid.inverse()
    follow_at_base = (
        back.apply(np.array([m.candidate.centre_mm for m in follow], dtype=float))
        if follow
        else np.zeros((0, 3))
    )
    pairs = _pairs(base, follow, follow_at_base)
    paired_b, paired_f = {i for i, _ in pairs}, {j for _, j in pairs}
    changes: list[Change] = []
    outside = 0
    for i, j in pairs:
        b, f = base[i], follow[j]
        if max(b.probability, f.probability) >= threshold:
            centre = tuple(round(float(v), 1) for v in b.candidate.centre_mm)
            changes.append(Change(classify(b, f), centre, b, f, days))  # type: ignore[arg-type]
    for i, b in enumerate(base):
        if i in paired_b or b.probability < threshold:
            continue
        point = np.asarray(b.candidate.centre_mm, dtype=float)
        if not _inside(followup, rigid.apply(point)[None], _margin(b))[0]:
            outside += 1
            continue
        centre = tuple(round(float(v), 1) for v in point)
        changes.append(Change("resolved", centre, b, None, days))  # type: ignore[arg-type]
    for j, f in enumerate(follow):
        if j in paired_f or f.probability < threshold:
            continue
        point = follow_at_base[j]
        if not _inside(baseline, point[None], _margin(f))[0]:
            outside += 1
            continue
        centre = tuple(round(float(v), 1) for v in point)
        changes.append(Change("new", centre, None, f, days))  # type: ignore[arg-type]
    changes.sort(key=lambda c: -c.probability)
    return Changes(changes, rigid, baseline, followup, days, outside, found)


# ---------------------------------------------------------------------------
# a picture of one change


#: Lung window (centre, width) of the pictures.
LUNG_WINDOW = (-600.0, 1500.0)
BASELINE_COLOUR = (80, 200, 255)
FOLLOWUP_COLOUR = (255, 200, 40)


def _crop_grid(volume: Volume, centre_mm, half_mm: float) -> tuple[Volume, int]:
    """A one-slice grid on ``volume``'s voxels round ``centre_mm`` (its slice, ``half_mm`` each way)."""
    k, i, j = np.round(volume.lps_to_index(np.asarray(centre_mm, float))).astype(int)
    k = int(np.clip(k, 0, volume.pixels.shape[0] - 1))
    n = int(round(half_mm / float(volume.spacing[1])))
    origin = volume.index_to_lps(np.array([k, i - n, j - n], dtype=float))
    grid = Volume(
        np.zeros((1, 2 * n + 1, 2 * n + 1), np.int16),
        volume.spacing,
        tuple(float(v) for v in origin),  # type: ignore[arg-type]
        np.asarray(volume.direction, float),
        modality="CT",
    )
    return grid, k


def _mask_volume(volume: Volume, candidate: Candidate) -> Volume:
    """A candidate's outline as a small volume of 0/1 where it lies in ``volume``."""
    start = np.array([b.start for b in candidate.box], dtype=float)
    return Volume(
        candidate.mask.astype(np.float32),
        volume.spacing,
        tuple(float(v) for v in volume.index_to_lps(start)),  # type: ignore[arg-type]
        np.asarray(volume.direction, float),
    )


def _panel(values: np.ndarray, outline: np.ndarray | None, colour, scale: int) -> np.ndarray:
    from scipy import ndimage

    level, width = LUNG_WINDOW
    grey = np.clip((values - (level - width / 2.0)) / width * 255.0, 0, 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    rgb = rgb.repeat(scale, 0).repeat(scale, 1)
    if outline is not None and outline.any():
        big = outline.repeat(scale, 0).repeat(scale, 1)
        edge = big & ~ndimage.binary_erosion(big, iterations=max(1, scale // 2))
        rgb[edge] = colour
    return rgb


def change_png(changes: Changes, change: Change, *, half_mm: float = 30.0, scale: int = 4) -> bytes:
    """One change as a PNG: the baseline and the registered follow-up side by side, outlined.

    Both panels are the baseline's slice through the lesion, ``2 · half_mm``
    square at the lung window: on the left the baseline with the model's
    outline there (blue), on the right the follow-up resampled onto the
    baseline's grid through the registration, with the model's follow-up
    outline carried over the same way (yellow). A caption gives
    :meth:`Change.describe`.
    """
    from PIL import Image, ImageDraw

    from dicomteach.imaging.resample import resample_to

    base, follow = changes.baseline, changes.followup
    grid, k = _crop_grid(base, change.centre_mm, half_mm)
    left = resample_to(base, grid, fill=-1000.0)[0]
    right = resample_to(follow, grid, transform=changes.rigid.matrix, fill=-1000.0)[0]
    outlines = []
    for volume, m, transform in (
        (base, change.baseline, None),
        (follow, change.followup, changes.rigid.matrix),
    ):
        if m is None:
            outlines.append(None)
            continue
        mask = resample_to(_mask_volume(volume, m.candidate), grid, transform=transform, fill=0.0)
        outlines.append(mask[0] >= 0.5)
    panels = [
        _panel(left, outlines[0], BASELINE_COLOUR, scale),
        _panel(right, outlines[1], FOLLOWUP_COLOUR, scale),
    ]
    gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
    image = np.concatenate([panels[0], gap, panels[1]], axis=1)
    words = change.describe().replace("→", "to")
    lines = words.split(", volume ")
    if len(lines) == 2:
        lines[1] = "volume " + lines[1]
    caption = 16 + 14 * len(lines)
    canvas = Image.new("RGB", (image.shape[1], image.shape[0] + caption), (255, 255, 255))
    canvas.paste(Image.fromarray(image), (0, caption))
    draw = ImageDraw.Draw(canvas)
    later = "follow-up, registered"
    if changes.days is not None:
        later = f"follow-up {changes.days} days later, registered"
    draw.text((4, 2), f"baseline (slice {k + 1})", fill=(0, 0, 0))
    draw.text((panels[0].shape[1] + 10, 2), later, fill=(0, 0, 0))
    for n, line in enumerate(lines):
        draw.text((4, 16 + 14 * n), line, fill=(0, 0, 0))
    import io

    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
