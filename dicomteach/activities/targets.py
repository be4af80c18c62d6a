"""Answer keys of click and label activities: named regions, turned into masks at grading time.

A ``reference`` of a Hotspot or LabelDrop activity is either a file of
structures (a DICOM SEG, an RTSTRUCT or a ``.npz``, each structure one
finding or label, named by its label) or a mapping from names to regions::

    reference:
      mass: {point: [925, 1498], radius_mm: 20}          # row, column (pixels)
      heart: {polygon: [[1500, 900], [1800, 950], …]}      # row, column vertices
      nodule: {point: [140, 201], slice: 23, radius_mm: 6} # slices numbered from 1
      liver: {file: seg-liver.dcm, structure: Liver}       # one structure of a file

Points and polygons are in pixel indices of the activity's image (row,
column, as a viewer's cursor shows them); a point's region is every pixel
whose centre lies within ``radius_mm`` of it, in millimetres. Nothing is read
or drawn until :func:`target_masks` is called, at grading time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dicomteach.activities.spec import Location, SpecProblem, check_number
from dicomteach.io.volume import Volume

__all__ = ["Region", "parse_targets", "target_masks"]

_SHAPES = ("point", "polygon", "file")


@dataclass(frozen=True)
class Region:
    """One named target: a disc round a point, a polygon on a slice, or a structure of a file."""

    name: str
    kind: str
    """``"point"``, ``"polygon"`` or ``"file"``."""
    coordinates: tuple[tuple[float, ...], ...] = ()
    slice: int = 1
    """Numbered from 1, as learners read slices."""
    radius_mm: float = 0.0
    file: Location | None = None
    structure: str | None = None


def _coordinates(value: object, key: str, count: int | None) -> tuple[tuple[float, ...], ...]:
    rows = [value] if count == 1 else value
    if not isinstance(rows, list | tuple) or (count is None and len(rows) < 3):
        what = "[row, column]" if count == 1 else "a list of at least 3 [row, column] vertices"
        raise SpecProblem(key, f"must be {what}, not {value!r:.60}")
    out = []
    for row in rows:
        if (
            not isinstance(row, list | tuple)
            or len(row) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in row)
            or not all(np.isfinite(v) for v in row)
        ):
            raise SpecProblem(key, f"must hold [row, column] pairs of numbers, not {row!r:.40}")
        out.append((float(row[0]), float(row[1])))
    return tuple(out)


def _region(name: str, value: object, key: str, base: Path | None) -> Region:
    if not isinstance(value, Mapping):
        raise SpecProblem(key, f"must be a region ({', '.join(_SHAPES)}), not {value!r:.60}")
    shapes = [s for s in _SHAPES if s in value]
    if len(shapes) != 1:
        raise SpecProblem(key, f"must have exactly one of {', '.join(_SHAPES)}")
    kind = shapes[0]
    allowed = {"point": {"point", "slice", "radius_mm"}, "polygon": {"polygon", "slice"}}.get(
        kind, {"file", "structure"}
    )
    unknown = sorted(set(map(str, value)) - allowed)
    if unknown:
        raise SpecProblem(key, f"has keys a {kind} does not take: {unknown}")
    slice_number = value.get("slice", 1)
    if isinstance(slice_number, bool) or not isinstance(slice_number, int) or slice_number < 1:
        raise SpecProblem(f"{key}.slice", f"must be a slice number from 1, not {slice_number!r}")
    if kind == "point":
        if "radius_mm" not in value:
            raise SpecProblem(key, "needs 'radius_mm' (how large the finding is)")
        radius = check_number(value["radius_mm"], f"{key}.radius_mm", positive=True)
        coords = _coordinates(value["point"], f"{key}.point", 1)
        return Region(name, kind, coords, slice_number, radius)
    if kind == "polygon":
        return Region(
            name, kind, _coordinates(value["polygon"], f"{key}.polygon", None), slice_number
        )
    structure = value.get("structure")
    if structure is not None and not isinstance(structure, str):
        raise SpecProblem(f"{key}.structure", f"must be a structure's name, not {structure!r}")
    return Region(
        name, kind, file=Location.parse(value["file"], f"{key}.file", base), structure=structure
    )


def parse_targets(value: object, key: str, base: Path | None) -> Location | tuple[Region, ...]:
    """A reference of a click or label activity: a file of structures, or named regions.

    >>> regions = parse_targets({"mass": {"point": [40, 50], "radius_mm": 20}}, "reference", None)
    >>> regions[0].name, regions[0].kind, regions[0].coordinates, regions[0].radius_mm
    ('mass', 'point', ((40.0, 50.0),), 20.0)
    >>> parse_targets({"mass": {"point": [40, 50]}}, "reference", None)
    Traceback (most recent call last):
    ...
    dicomteach.activities.spec.SpecProblem: reference.mass: needs 'radius_mm' (how large the finding is)
    """
    if isinstance(value, str | os.PathLike | Location) or (
        isinstance(value, Mapping) and "sample" in value
    ):
        return Location.parse(value, key, base)
    if not isinstance(value, Mapping) or not value:
        raise SpecProblem(key, "must be a file of structures or a mapping of names to regions")
    regions = []
    for name, region in value.items():
        if not isinstance(name, str) or not name.strip():
            raise SpecProblem(key, f"names its regions with non-empty text, not {name!r}")
        regions.append(_region(" ".join(name.split()), region, f"{key}.{name}", base))
    return tuple(regions)


def _disc(volume: Volume, region: Region) -> np.ndarray:
    frames, rows, cols = volume.pixels.shape[:3]
    _, dr, dc = (float(s) for s in volume.spacing)
    (row, col), radius = region.coordinates[0], region.radius_mm
    mask = np.zeros((frames, rows, cols), bool)
    r0, r1 = (
        max(int(np.floor(row - radius / dr)), 0),
        min(int(np.ceil(row + radius / dr)) + 1, rows),
    )
    c0, c1 = (
        max(int(np.floor(col - radius / dc)), 0),
        min(int(np.ceil(col + radius / dc)) + 1, cols),
    )
    rr, cc = np.ogrid[r0:r1, c0:c1]
    mask[region.slice - 1, r0:r1, c0:c1] = ((rr - row) * dr) ** 2 + (
        (cc - col) * dc
    ) ** 2 <= radius**2
    return mask


def target_masks(reference: Location | Sequence[Region], volume: Volume) -> dict[str, np.ndarray]:
    """Each target's mask on ``volume``'s grid, by name (reads files, draws regions).

    Raises ``DicomTeachError`` (a file that does not read) or ``ValueError``
    (a region off the image): problems of the instructor's side, which the
    activities report as grading errors.

    >>> vol = Volume(np.zeros((2, 20, 20), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    >>> key = parse_targets({"spot": {"point": [5, 5], "slice": 2, "radius_mm": 2}}, "r", None)
    >>> mask = target_masks(key, vol)["spot"]
    >>> int(mask.sum()), bool(mask[1, 5, 5]), bool(mask[0].any())
    (13, True, False)
    """
    from dicomteach.roi import load_structures, polygon_to_mask

    shape = tuple(int(n) for n in volume.pixels.shape[:3])
    if isinstance(reference, Location):
        found = load_structures(reference.resolve(), image=volume)
        return {found.names.get(n, str(n)): np.asarray(m, bool) for n, m in found.masks.items()}
    masks: dict[str, np.ndarray] = {}
    files: dict[Path, object] = {}  # one file's structures named by several regions: read once
    for region in reference:
        if region.slice > shape[0]:
            raise ValueError(f"{region.name}: slice {region.slice} is past the image's {shape[0]}")
        if region.kind == "point":
            mask = _disc(volume, region)
        elif region.kind == "polygon":
            mask = np.zeros(shape, bool)
            mask[region.slice - 1] = polygon_to_mask(np.array(region.coordinates), shape[1:])
        else:
            assert region.file is not None
            path = region.file.resolve()
            if path not in files:
                files[path] = load_structures(path, image=volume)
            found = files[path]
            chosen = [
                m
                for n, m in found.masks.items()
                if region.structure is None
                or found.names.get(n, "").strip().casefold() == region.structure.casefold()
            ]
            if len(chosen) != 1:
                raise ValueError(
                    f"{region.name}: {region.file.describe()} holds {len(found.masks)} structures; "
                    f"name the one meant with 'structure'"
                    if region.structure is None
                    else f"{region.name}: no structure {region.structure!r} in {region.file.describe()}"
                )
            mask = np.asarray(chosen[0], bool)
        if not mask.any():
            raise ValueError(f"{region.name}: the region lies outside the image")
        masks[region.name] = mask
    return masks
