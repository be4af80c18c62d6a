"""Series assembly as a PACS viewer does it: group, split, sort by position, check the spacing.

- group instances by Study and Series Instance UID;
- split a series that mixes orientations, image sizes, pixel spacing or
  acquisitions (repeated positions are separated by the first attribute that
  makes them unique: stack, temporal position, echo, b-value, acquisition…);
- sort the frames of a stack by position along the slice normal
  (ImagePositionPatient · (row cosine × column cosine)), never by file name or
  Instance Number;
- take the slice spacing from the positions, not from Slice Thickness, and
  report missing slices, irregular spacing and gantry tilt.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dicomteach.io.frames import FrameInfo
from dicomteach.io.instance import Instance
from dicomteach.io.volume import FrameAxis

#: Positions closer than this along the normal are the same slice (mm).
SAME_POSITION_MM = 0.01
#: Direction cosines equal to this many decimals share an orientation.
ORIENTATION_DECIMALS = 4
#: A step between slices more than this fraction off the median is irregular.
SPACING_TOLERANCE = 0.01
#: Slices sheared by more than this angle (degrees) are reported as gantry tilt.
TILT_DEGREES = 0.05


@dataclass
class Slot:
    """One frame of one instance, as placed in a volume."""

    inst: Instance
    frame: FrameInfo


@dataclass
class Plan:
    """How to build one volume: which frames in which order, with what geometry."""

    slots: list[Slot]
    frame_axis: FrameAxis
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray
    geometry_known: bool
    positions: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    frame_time_ms: float | None = None


def plan_series(instances: list[Instance]) -> list[Plan]:
    """Plans for the volumes of one series, stacks first (in the order a viewer lists them)."""
    plans: list[Plan] = []
    loose = [i for i in instances if not i.layout.positioned]
    positioned = [Slot(i, f) for i in instances if i.layout.positioned for f in i.layout.frames]

    by_geometry: dict[Hashable, list[Slot]] = defaultdict(list)
    for slot in positioned:
        by_geometry[_geometry_key(slot)].append(slot)
    for group in by_geometry.values():
        for part in _split_repeated_positions(group):
            plans.append(_stack_plan(part))
    for inst in sorted(loose, key=_instance_order):
        plans.append(_loose_plan(inst))
    return plans


def _instance_order(inst: Instance) -> tuple[Any, ...]:
    number = inst.ds.get("InstanceNumber")
    try:
        n = int(number)
    except (TypeError, ValueError):
        n = 0
    return (n, inst.name)


def _geometry_key(slot: Slot) -> Hashable:
    f, i = slot.frame, slot.inst
    assert f.orientation is not None
    spacing = tuple(np.round(f.pixel_spacing, 4)) if f.pixel_spacing else None
    return (
        tuple(np.round(f.orientation, ORIENTATION_DECIMALS) + 0.0),
        i.rows,
        i.columns,
        spacing,
        i.is_color,
        # a segmentation's segments are different structures, never one stack
        f.key[4] if len(f.key) > 4 else None,
    )


def _normal(orientation: np.ndarray) -> np.ndarray:
    n = np.cross(orientation[:3], orientation[3:])
    norm = np.linalg.norm(n)
    return n / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def _distances(slots: list[Slot]) -> np.ndarray:
    normal = _normal(slots[0].frame.orientation)  # type: ignore[arg-type]
    return np.array([float(np.dot(s.frame.position, normal)) for s in slots])


def _unique_positions(slots: list[Slot]) -> bool:
    d = np.sort(_distances(slots))
    return bool(np.all(np.diff(d) > SAME_POSITION_MM)) if len(d) > 1 else True


#: Attributes tried, in order, to separate frames that share a position.
_DISCRIMINATORS: tuple[tuple[str, Callable[[Slot], Any]], ...] = (
    ("frame content", lambda s: s.frame.key),
    ("acquisition number", lambda s: str(s.inst.ds.get("AcquisitionNumber", ""))),
    ("temporal position", lambda s: str(s.inst.ds.get("TemporalPositionIdentifier", ""))),
    ("echo number", lambda s: str(s.inst.ds.get("EchoNumbers", ""))),
    ("echo time", lambda s: str(s.inst.ds.get("EchoTime", ""))),
    ("b-value", lambda s: str(s.inst.ds.get("DiffusionBValue", ""))),
    ("trigger time", lambda s: str(s.inst.ds.get("TriggerTime", ""))),
    ("image type", lambda s: str(list(s.inst.ds.get("ImageType", [])))),
    ("acquisition time", lambda s: str(s.inst.ds.get("AcquisitionTime", ""))),
    ("series of origin", lambda s: s.inst.name.rsplit("/", 1)[0]),
)


def _split_repeated_positions(slots: list[Slot]) -> list[list[Slot]]:
    if _unique_positions(slots):
        return [slots]
    for _label, key in _DISCRIMINATORS:
        parts: dict[Any, list[Slot]] = defaultdict(list)
        for s in slots:
            parts[key(s)].append(s)
        if len(parts) > 1 and all(_unique_positions(p) for p in parts.values()):
            return [parts[k] for k in sorted(parts, key=str)]
    # nothing tells the repeats apart: the k-th frame at each position goes to volume k
    d = _distances(slots)
    order = np.lexsort(
        ([_instance_order(s.inst)[0] for s in slots], np.round(d / SAME_POSITION_MM))
    )
    ranks: dict[int, list[Slot]] = defaultdict(list)
    seen: dict[float, int] = defaultdict(int)
    for idx in order:
        pos = round(d[idx] / SAME_POSITION_MM)
        ranks[seen[pos]].append(slots[idx])
        seen[pos] += 1
    out = [ranks[k] for k in sorted(ranks)]
    for part in out:
        part[0].inst.warnings.append(
            "slices repeat at the same position and no attribute tells them apart; "
            "split by Instance Number order"
        )
    return out


def _stack_plan(slots: list[Slot]) -> Plan:
    d = _distances(slots)
    order = np.argsort(d, kind="stable")
    slots = [slots[k] for k in order]
    d = d[order]
    first = slots[0]
    orientation = first.frame.orientation
    assert orientation is not None and first.frame.position is not None
    row_cos, col_cos = orientation[:3], orientation[3:]
    normal = _normal(orientation)
    positions = np.array([s.frame.position for s in slots], dtype=float)
    ps = first.frame.pixel_spacing or first.inst.layout.nominal_spacing
    warnings: list[str] = []
    if ps is None:
        ps = (1.0, 1.0)
        warnings.append("no Pixel Spacing; assumed 1 mm")
    n = len(slots)
    if n == 1:
        thickness = (
            _first_number(first.inst.ds, "SpacingBetweenSlices") or first.frame.slice_thickness
        )
        step = float(thickness) if thickness and thickness > 0 else 1.0
        axis_dir = normal
        axis = FrameAxis.SINGLE
    else:
        steps = np.diff(d)
        step = float(statistics.median(steps.tolist()))  # np.median imports numpy.ma: 10 ms cold
        warnings += _spacing_problems(steps, d, step)
        span = positions[-1] - positions[0]
        axis_dir = span / np.linalg.norm(span)
        tilt = float(np.degrees(np.arccos(np.clip(abs(np.dot(axis_dir, normal)), 0.0, 1.0))))
        if tilt > TILT_DEGREES:
            # the true step between neighbouring slices runs along the table, not the normal
            step = step / float(np.dot(axis_dir, normal))
            header_tilt = _first_number(first.inst.ds, "GantryDetectorTilt")
            said = f" (header: {header_tilt:g}°)" if header_tilt else ""
            warnings.append(
                f"gantry tilt of {tilt:.1f}°{said}: slices are sheared; the volume's slice axis "
                "follows the table, reformats must account for it"
            )
        axis = FrameAxis.SLICE
    direction = np.vstack([axis_dir, col_cos, row_cos]).astype(float)
    for s in slots:
        for w in s.inst.warnings:
            if w not in warnings:
                warnings.append(w)
    return Plan(
        slots=slots,
        frame_axis=axis,
        spacing=(abs(step), float(ps[0]), float(ps[1])),
        origin=tuple(float(x) for x in positions[0]),  # type: ignore[arg-type]
        direction=direction,
        geometry_known=True,
        positions=positions,
        warnings=warnings,
    )


def _spacing_problems(steps: np.ndarray, d: np.ndarray, step: float) -> list[str]:
    problems = []
    if step <= 0:
        return ["slices are not separated along their normal"]
    ratio = steps / step
    off = np.abs(steps - step) > max(SPACING_TOLERANCE * step, 0.005)
    if not off.any():
        return []
    gaps = [
        i for i in np.flatnonzero(off) if ratio[i] > 1.5 and abs(ratio[i] - round(ratio[i])) < 0.1
    ]
    for i in gaps:
        missing = int(round(ratio[i])) - 1
        problems.append(
            f"{missing} missing slice{'s' if missing > 1 else ''} between slice {i + 1} and "
            f"{i + 2} ({d[i]:.2f} → {d[i + 1]:.2f} mm along the normal, spacing {step:g} mm)"
        )
    rest = [i for i in np.flatnonzero(off) if i not in gaps]
    if rest:
        problems.append(
            f"irregular slice spacing: steps from {steps.min():.3g} to {steps.max():.3g} mm "
            f"(median {step:.3g} mm) at {len(rest)} place{'s' if len(rest) > 1 else ''}"
        )
    return problems


def _first_number(ds: Any, keyword: str) -> float | None:
    try:
        value = ds.get(keyword)
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _loose_plan(inst: Instance) -> Plan:
    """An instance without position: a radiograph, a photograph, a cine loop, frames of NM."""
    layout = inst.layout
    ps = layout.nominal_spacing
    warnings = list(inst.warnings)
    if ps is None:
        ps = (1.0, 1.0)
        if not any("spacing" in w for w in warnings):
            warnings.append("no pixel spacing in the header; distances are in pixels")
    direction = np.eye(3)
    if layout.nominal_direction is not None:
        row_cos, col_cos = layout.nominal_direction[:3], layout.nominal_direction[3:]
        direction = np.vstack([_normal(layout.nominal_direction), col_cos, row_cos])
    if layout.axis is FrameAxis.SLICE:
        axis = FrameAxis.FRAMES
    else:
        axis = layout.axis
    return Plan(
        slots=[Slot(inst, f) for f in layout.frames],
        frame_axis=axis,
        spacing=(1.0, float(ps[0]), float(ps[1])),
        origin=(0.0, 0.0, 0.0),
        direction=direction,
        geometry_known=False,
        warnings=warnings,
        frame_time_ms=layout.frame_time_ms,
    )
