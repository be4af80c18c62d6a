"""``Delineator``: a learner outlines structures on a series; every change is saved at once.

The learner's label map (uint8, value ``i`` = structure ``i``) is the widget's
``"labels"`` layer. The browser paints into its copy (brush, eraser, a brush
limited to a value range, polygon, freehand outline, flood fill) on any plane
the core shows, and when a stroke ends sends only what changed: the bounding
box of the changed pixels on the displayed slice, in display order, as
``uint8`` buffers. Python writes it into its array through the plane's layout,
keeps the undo history, and writes the answer file atomically beside the
notebook (docs/decisions.md, decision 3), so a kernel restart brings the work back.

Messages (``_handle_<type>``; JS → Python)
-----------------------------------------
``edit``
    ``{plane, slice, box: [r0, r1, c0, c1], structure, tool, origin, seq}``,
    buffers ``[after, before]``: the box's values after and before the stroke
    (``(r1 - r0) × (c1 - c0)`` bytes each, rows of the displayed slice). Only
    pixels that differ between the two are written, so a stale copy in a second
    view cannot revert another view's work. ``before`` may be omitted.
``undo`` / ``redo``
    ``{origin}``: one step of the history (a stroke, an interpolation, a clear).
``interpolate``
    ``{plane, structure, origin}``: shape-based interpolation between the slices
    drawn in that plane (:func:`dicomteach.roi.interpolate_slices`).

Python → JS
-----------
``patch``
    The base widget's layer patch (``ImageWidget._patch_layer``: ``{layer:
    "labels", generation, box: [[k0, k1], [r0, r1], [c0, c1]]}`` with one buffer,
    ``labels[k0:k1, r0:r1, c0:c1]`` in array order) plus ``{origin, seq,
    revision, saved, requested_by}`` (``requested_by``: the view whose undo, redo
    or interpolation it is, else null). Every view applies it (``Layer.patch`` in static/core/layers.js) but
    the one named by ``origin``, which already shows it: for that view it is
    the acknowledgement of its stroke.
``ack``
    ``{origin, seq, revision}``: an edit that changed nothing, or was refused.
``done``
    ``{op, origin, changed, revision}``: after ``undo``, ``redo``, ``interpolate``.

Answer file
-----------
A ``.npz`` whose format has one home, :mod:`dicomteach.roi.npz` (layout,
version, atomic write, hardened read, the check against an image): the label
map, spacing, names, colours, series, origin, revision, and the slices drawn
on, which interpolation starts from. It is what
:func:`dicomteach.roi.read_npz`, :func:`dicomteach.grading.grade_delineation`
and ``dicomteach score`` read.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import traitlets

from dicomteach.errors import DicomTeachError
from dicomteach.io.volume import Volume, Window
from dicomteach.roi.npz import DelineationAnswer, label_values, load_delineation, save_delineation
from dicomteach.widgets._answers import AnswerFileMovedWarning, answer_path, move_aside
from dicomteach.widgets._base import _labels_array, bundle, bundle_css, label_palette
from dicomteach.widgets.live import LiveWidget

__all__ = [
    "Delineator",
    "brush_footprint",
]

log = logging.getLogger(__name__)

MAX_UNDO = 100
"""Steps of history kept for undo (a stroke, an interpolation or a clear is one step)."""

DEFAULT_HU_RANGE = (-100.0, 200.0)
"""Range of the range brush on CT: soft tissue, fat to enhancing tumour (HU)."""

DELINEATOR_TOOLS = ["brush", "eraser", "range", "polygon", "freehand", "fill", "wl", "pan", "zoom"]
"""The tool buttons, in toolbar order (Escape picks the first)."""

_EPSILON_MM2 = 1e-6
"""Pixels this close (mm²) to the brush's edge count as inside: the same in JS."""


def brush_footprint(
    points: Sequence[Sequence[int]],
    radius_mm: float,
    spacing: Sequence[float],
    shape: Sequence[int],
) -> np.ndarray:
    """Pixels a brush stroke covers: the reference of the browser's brush.

    The brush is a disc of ``radius_mm`` millimetres centred on the pixel under
    the cursor; a drag covers every pixel whose centre lies within
    ``radius_mm`` (plus :data:`_EPSILON_MM2`) of the polyline joining the pixel
    centres the cursor passed (a union of capsules), measured in mm, so the
    disc stays round on anisotropic pixels.

    Parameters
    ----------
    points : sequence of (row, column)
        Pixel indices of the cursor along the stroke (displayed slice).
    radius_mm : float
    spacing : (row spacing, column spacing)
        Millimetres between displayed rows and between columns.
    shape : (rows, columns)

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``

    Examples
    --------
    >>> brush_footprint([(2, 2)], 1.0, (1.0, 1.0), (5, 5)).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 0, 1, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 1, 0, 0],
           [0, 0, 0, 0, 0]])
    >>> brush_footprint([(2, 1), (2, 3)], 1.0, (2.0, 0.5), (5, 6)).astype(int)
    array([[0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0],
           [1, 1, 1, 1, 1, 1],
           [0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0]])
    """
    rows, cols = (int(n) for n in shape)
    row_mm, col_mm = (float(s) for s in spacing)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros((rows, cols), bool)
    if len(pts) == 1:
        pts = np.vstack([pts, pts])
    r, c = np.mgrid[0:rows, 0:cols].astype(float)
    limit = float(radius_mm) * float(radius_mm) + _EPSILON_MM2
    out = np.zeros((rows, cols), bool)
    for (ra, ca), (rb, cb) in zip(pts[:-1], pts[1:], strict=True):
        # The same operations, in the same order, as capsulePixels in static/delineator/raster.js.
        ey, ex = (rb - ra) * row_mm, (cb - ca) * col_mm
        ee = ey * ey + ex * ex
        py, px = (r - ra) * row_mm, (c - ca) * col_mm
        t = np.clip((py * ey + px * ex) / ee, 0.0, 1.0) if ee > 0 else np.zeros_like(py)
        qy, qx = py - t * ey, px - t * ex
        out |= qy * qy + qx * qx <= limit
    return out


@dataclass(frozen=True)
class _Structure:
    name: str
    color: tuple[int, int, int]


@dataclass
class _Change:
    """One step of the history: a box of the label array before and after."""

    box: tuple[slice, slice, slice]
    before: np.ndarray
    after: np.ndarray
    what: str
    drawn_added: frozenset = field(default_factory=frozenset)
    drawn_removed: frozenset = field(default_factory=frozenset)


def _color(name: str, value: object) -> tuple[int, int, int]:
    try:
        rgb = tuple(int(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        rgb = ()
    if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise ValueError(
            f"Argument 'structures': the colour of {name!r} must be 3 integers 0..255, not {value!r}"
        )
    return rgb  # type: ignore[return-value]


def _structure_specs(structures: object) -> list[_Structure]:
    """Names and colours from ``"Tumour"``, ``("Tumour", "Node")`` or ``{name: (r, g, b)}``."""
    if isinstance(structures, str):
        structures = (structures,)
    if isinstance(structures, Mapping):
        items = list(structures.items())
    elif isinstance(structures, Iterable):
        items = [(name, None) for name in structures]
    else:
        raise ValueError(
            f"Argument 'structures' must be names or a dict name -> colour, not {structures!r}"
        )
    if not items:
        raise ValueError("Argument 'structures' must name at least one structure")
    if len(items) > 255:
        raise ValueError(
            f"Argument 'structures' holds {len(items)} names; at most 255 fit in uint8"
        )
    palette = label_palette(len(items))
    out, seen = [], set()
    for (name, color), default in zip(items, palette, strict=True):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"Argument 'structures': names must be non-empty text, not {name!r}")
        if name in seen:
            raise ValueError(f"Argument 'structures' names {name!r} twice")
        seen.add(name)
        out.append(_Structure(name, default if color is None else _color(name, color)))
    return out


def _box_of(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    """The smallest box holding every true voxel, or None."""
    if not mask.any():
        return None
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        box.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(box)  # type: ignore[return-value]


class Delineator(LiveWidget):
    """Delineate structures on a DICOM series, in a notebook or a Voilà app.

    Left-drag uses the active tool: **brush** (a disc of ``brush_mm``
    millimetres; ``[`` / ``]`` or the *Brush* field change it), **eraser**
    (removes the active structure), **range brush** (paints only pixels whose
    value, in the image's units, lies in ``hu_range``), **polygon** (click the
    vertices; double-click, Enter or a click on the first vertex closes; Esc
    cancels; Backspace removes the last vertex), **freehand outline** (drag
    round the region; release fills it), **fill** (the connected region of one
    label value under the click, on this slice). Polygon and outline vertices
    and the brush's centre sit on the centre of the pixel under the cursor, and
    outlines fill the pixels whose centre is inside
    (:func:`dicomteach.roi.polygon_to_mask`'s rule). W/L, zoom and pan stay on
    right-drag (zoom), middle- or shift-drag (pan) and the W/L tool.

    Keys: B brush, E eraser, T range brush, P polygon, O outline, F fill, W
    window, I interpolate, shift+1…9 choose a structure, ctrl-z undo,
    ctrl-shift-z or ctrl-y redo, plus the Viewer's keys. Every action also has
    a button. On the classroom hub a class delineates together, each on their
    own layer (:meth:`go_live`, :meth:`join`: docs/live.md).

    Every change (a finished stroke, an undo, an interpolation) is written at
    once to ``answer``, atomically; a Delineator made on the same series finds
    it and carries on. A file for another image is moved aside to
    ``<answer stem>.moved-<time>.npz`` (still an answer file ``read_npz`` opens)
    with an :class:`~dicomteach.widgets.AnswerFileMovedWarning`, never overwritten.

    Parameters
    ----------
    volume_or_path : Volume, path or None
        The image (grayscale), or a file, folder or zip :func:`dicomteach.io.load`
        reads. One that fails to load shows an error state.
    structures : str, sequence of str, or dict name -> (r, g, b)
        The structures to draw; label value ``i`` is the ``i``-th (from 1).
    answer : path or None
        The ``.npz`` answer file; default ``delineation.npz`` in the current
        folder (beside the notebook). ``None`` keeps the work in memory only.
    window, frame, plane
        As for :class:`~dicomteach.widgets.Viewer`.
    reference : mask, label array, dict of masks, or path, optional
        Shown as an outline the learner cannot edit (feedback after grading,
        instructor review). Never pass a reference in a released assignment
        (docs/decisions.md, decision 4).
    brush_mm : float
        Brush radius in mm.
    hu_range : (low, high), optional
        Range of the range brush in the image's units; default −100…200 HU on
        CT, the initial window's range otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume
    >>> vol = Volume(np.zeros((3, 4, 5), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0),
    ...              np.eye(3)[[2, 1, 0]], modality="CT")
    >>> d = Delineator(vol, {"Tumour": (255, 0, 0), "Node": (0, 0, 255)}, answer=None)
    >>> d.labels.shape, d.labels.dtype.name, [s["name"] for s in d.structures]
    ((3, 4, 5), 'uint8', ['Tumour', 'Node'])
    >>> d.select("Node"); d.active
    2
    >>> d.mask("Tumour").any()
    np.False_
    """

    _esm = bundle("delineator.js")
    _css = bundle_css("delineator.css", "live.css")

    # [{"value", "name", "color": [r, g, b], "visible"}]; value i is label i.
    structures = traitlets.List(traitlets.Dict()).tag(sync=True)
    active = traitlets.Int(1).tag(sync=True)
    brush_mm = traitlets.Float(5.0).tag(sync=True)
    hu_range = traitlets.List(traitlets.Float(), [-100.0, 200.0]).tag(sync=True)
    can_undo = traitlets.Int(0).tag(sync=True)
    can_redo = traitlets.Int(0).tag(sync=True)
    revision = traitlets.Int(0).tag(sync=True)
    notice = traitlets.Unicode("").tag(sync=True)
    answer_file = traitlets.Unicode("").tag(sync=True)
    show_reference = traitlets.Bool(True).tag(sync=True)

    _requester: str | None = None

    def __init__(
        self,
        volume_or_path: Volume | str | os.PathLike[str] | None = None,
        structures: str | Sequence[str] | Mapping[str, Any] = ("Tumour",),
        *,
        answer: str | os.PathLike[str] | None = "delineation.npz",
        window: Window | None = None,
        frame: int | None = None,
        plane: str | None = None,
        reference: Any = None,
        brush_mm: float = 5.0,
        hu_range: Sequence[float] | None = None,
        tools: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        specs = _structure_specs(structures)
        path = answer_path(answer, ".npz", optional=True)
        tools = list(tools or DELINEATOR_TOOLS)
        unknown = [t for t in tools if t not in DELINEATOR_TOOLS]
        if unknown:
            raise ValueError(f"Argument 'tools' must be among {DELINEATOR_TOOLS}, not {unknown}")
        if not (isinstance(brush_mm, int | float) and np.isfinite(brush_mm) and brush_mm > 0):
            raise ValueError(f"Argument 'brush_mm' must be a positive number, not {brush_mm!r}")
        super().__init__(tools=tools, tool=tools[0], **kwargs)
        self._specs = specs
        self._answer = path
        self._labels: np.ndarray | None = None
        self._undo: list[_Change] = []
        self._redo: list[_Change] = []
        self._drawn: set[tuple[int, int, int]] = set()
        self.first_labels: np.ndarray | None = None
        """The label map as it was when a second reader's outline was asked for
        (:meth:`keep_first_outline`), saved in the answer as ``first_mask``; None before."""
        self._save_problem = ""
        self.answer_file = path.name if path else ""
        self.brush_mm = float(brush_mm)
        self._show_volume(volume_or_path, window=window, frame=frame, plane=plane)
        self._publish_structures()
        if self.volume is None:
            return
        if self.volume.is_color:
            raise ValueError("A Delineator draws on grayscale images, not colour ones")
        if hu_range is None:
            if self.units == "HU" or self.modality == "CT":
                hu_range = DEFAULT_HU_RANGE
            else:
                c, w = self.window_center, self.window_width
                hu_range = (c - w / 2, c + w / 2)
        values = [float(v) for v in hu_range]
        if len(values) != 2:
            raise ValueError(f"Argument 'hu_range' must be (low, high), not {hu_range!r}")
        self.set_hu_range(*values)
        labels = np.zeros(tuple(self.shape), np.uint8)
        if path is not None:
            self._load_answer(path, labels)
        self._set_layer("labels", labels)
        self._labels = self._arrays["labels"]
        self._publish_structures()
        if reference is not None:
            self.set_reference(reference)

    # ------------------------------------------------------------------ structures

    def _publish_structures(self) -> None:
        old = {s["name"]: s for s in self.structures}
        self.structures = [
            {
                "value": value,
                "name": spec.name,
                "color": list(spec.color),
                "visible": bool(old.get(spec.name, {}).get("visible", True)),
            }
            for value, spec in enumerate(self._specs, start=1)
        ]
        if not 1 <= self.active <= len(self._specs):
            self.active = 1

    @traitlets.validate("active")
    def _valid_active(self, proposal: Any) -> int:
        value = int(proposal["value"])
        n = len(getattr(self, "_specs", ())) or 1
        if not 1 <= value <= n:
            raise traitlets.TraitError(f"active must be a structure number 1..{n}, not {value}")
        return value

    @traitlets.validate("brush_mm")
    def _valid_brush(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not np.isfinite(value) or value <= 0:
            raise traitlets.TraitError(f"brush_mm must be a positive number, not {value}")
        return min(value, 500.0)

    @traitlets.validate("hu_range")
    def _valid_range(self, proposal: Any) -> list[float]:
        values = [float(v) for v in proposal["value"]]
        if len(values) != 2 or not all(np.isfinite(values)):
            raise traitlets.TraitError(f"hu_range must be two finite numbers, not {values}")
        return sorted(values)

    def set_hu_range(self, low: float, high: float) -> None:
        """The range brush paints pixels whose value (image units) lies in ``[low, high]``."""
        if not (np.isfinite(low) and np.isfinite(high)) or low > high:
            raise ValueError(f"Argument 'hu_range' must be finite low <= high, not {low}, {high}")
        self.hu_range = [float(low), float(high)]

    @property
    def names(self) -> list[str]:
        """The structures' names; label value ``i`` is ``names[i - 1]``."""
        return [s.name for s in self._specs]

    def _value(self, name: str | int | None) -> int:
        if name is None:
            return int(self.active)
        if isinstance(name, int | np.integer) and not isinstance(name, bool):
            if 1 <= int(name) <= len(self._specs):
                return int(name)
        elif isinstance(name, str) and name in self.names:
            return self.names.index(name) + 1
        known = ", ".join(repr(n) for n in self.names)
        raise ValueError(f"Unknown structure {name!r}: this Delineator has {known}")

    def select(self, name: str | int) -> None:
        """Make ``name`` (or structure number) the structure the tools draw."""
        self.active = self._value(name)

    # ------------------------------------------------------------------ the learner's labels

    def _require_image(self) -> np.ndarray:
        if self._labels is None:
            raise ValueError("This Delineator has no image (it failed to load)")
        return self._labels

    @property
    def labels(self) -> np.ndarray:
        """A copy of the label map: uint8, the image's shape, value ``i`` = structure ``i``."""
        return self._require_image().copy()

    @labels.setter
    def labels(self, value: Any) -> None:
        labels = self._require_image()
        array = np.asarray(value)
        if array.shape != labels.shape:
            raise ValueError(f"Labels have shape {array.shape}, the image {labels.shape}")
        if array.dtype == bool:
            array = array.astype(np.uint8)
        n = len(self._specs)
        if array.dtype.kind not in "iu" or array.min(initial=0) < 0 or array.max(initial=0) > n:
            raise ValueError(f"Labels must be integers 0..{n} (one per structure)")
        array = array.astype(np.uint8)
        box = _box_of(array != labels)
        if box is not None:
            self._commit(box, array[box], what="set labels")

    answer_trait = "revision"
    """The trait that changes with the answer (what :class:`CheckAnswer` watches)."""

    @property
    def answered(self) -> bool:
        """True once something is drawn (in any structure)."""
        return self._labels is not None and bool(self._labels.any())

    def mask(self, name: str | int | None = None) -> np.ndarray:
        """The bool mask of one structure (by name or number), or of all when ``None``."""
        labels = self._require_image()
        if name is None:
            return labels > 0
        return labels == self._value(name)

    def clear(self, name: str | int) -> bool:
        """Erase one structure everywhere (one undoable step); False if it was empty."""
        labels = self._require_image()
        value = self._value(name)
        box = _box_of(labels == value)
        removed = {key for key in self._drawn if key[0] == value}
        if box is None and not removed:
            return False
        if box is None:
            box = (slice(0, 1), slice(0, 1), slice(0, 1))
        after = labels[box].copy()
        after[after == value] = 0
        return self._commit(
            box, after, what=f"clear {self.names[value - 1]}", drawn_removed=removed
        )

    # ------------------------------------------------------------------ history

    def undo(self) -> bool:
        """Take back the last change (stroke, interpolation, clear); False if there is none."""
        if not self._undo or self._labels is None:
            return False
        change = self._undo.pop()
        self._labels[change.box] = change.before
        self._drawn -= change.drawn_added
        self._drawn |= change.drawn_removed
        self._redo.append(change)
        self._changed(change.box, f"Undid {change.what}")
        return True

    def redo(self) -> bool:
        """Do again the last change undone; False if there is none."""
        if not self._redo or self._labels is None:
            return False
        change = self._redo.pop()
        self._labels[change.box] = change.after
        self._drawn |= change.drawn_added
        self._drawn -= change.drawn_removed
        self._undo.append(change)
        self._changed(change.box, f"Redid {change.what}")
        return True

    def _commit(
        self,
        box: tuple[slice, slice, slice],
        after: np.ndarray,
        *,
        what: str,
        drawn_added: Iterable[tuple[int, int, int]] = (),
        drawn_removed: Iterable[tuple[int, int, int]] = (),
        origin: str | None = None,
        seq: int | None = None,
    ) -> bool:
        """Write ``after`` into ``box`` as one step of history, save, tell every view."""
        labels = self._require_image()
        box = tuple(  # type: ignore[assignment]
            slice(*s.indices(n)[:2]) for s, n in zip(box, labels.shape, strict=True)
        )
        before = labels[box].copy()
        added = frozenset(drawn_added) - self._drawn
        removed = frozenset(drawn_removed) & self._drawn
        if np.array_equal(before, after) and not added and not removed:
            self._ack(origin, seq)
            return False
        labels[box] = after
        self._drawn |= added
        self._drawn -= removed
        self._undo.append(_Change(box, before, np.array(after, np.uint8), what, added, removed))
        del self._undo[:-MAX_UNDO]
        self._redo.clear()
        self._changed(box, "", origin=origin, seq=seq)
        return True

    def _changed(
        self,
        box: tuple[slice, slice, slice],
        message: str,
        *,
        origin: str | None = None,
        seq: int | None = None,
    ) -> None:
        with self.hold_sync():
            self.revision += 1
            saved = self.save()
            self.can_undo = len(self._undo)
            self.can_redo = len(self._redo)
            if saved:
                self.notice = message or f"Saved to {self._answer.name}"  # type: ignore[union-attr]
            elif self._answer is None:
                self.notice = message or "Not saved: this Delineator has no answer file"
        self._patch_layer(
            "labels", box, origin=origin, seq=seq, revision=self.revision, saved=saved,
            requested_by=self._requester,
        )  # fmt: skip

    def _ack(self, origin: str | None, seq: int | None, problem: str = "") -> None:
        if origin is not None:
            self.send(
                {
                    "type": "ack",
                    "origin": origin,
                    "seq": seq,
                    "revision": self.revision,
                    "problem": problem,
                }
            )

    # ------------------------------------------------------------------ interpolation

    def interpolate(self, name: str | int | None = None, *, plane: str | None = None) -> int:
        """Fill the slices between the slices drawn in ``plane`` (default: the one on
        screen) for one structure (default: the active one), by shape-based
        interpolation (:func:`dicomteach.roi.interpolate_slices`). Pixels of
        other structures are left alone. One undoable step.

        Returns
        -------
        int
            The number of slices filled in.
        """
        from dicomteach.roi.interpolate import interpolate_slices

        labels = self._require_image()
        value = self._value(name)
        plane = plane or self.plane
        if plane not in self.layouts:
            raise ValueError(
                f"Argument 'plane' must be one of {sorted(self.layouts)}, not {plane!r}"
            )
        axis = int(self.layouts[plane]["slice_axis"])
        name_text = self.names[value - 1]
        mask = labels == value
        drawn = sorted(k for v, a, k in self._drawn if v == value and a == axis)
        if len(drawn) < 2:  # labels set from Python or an older file: the non-empty slices
            other = tuple(a for a in range(3) if a != axis)
            drawn = sorted(set(drawn) | set(np.flatnonzero(mask.any(axis=other)).tolist()))
        if len(drawn) < 2:
            self.notice = f"Draw {name_text} on at least two {plane} slices, then interpolate."
            return 0
        lo, hi = drawn[0], drawn[-1]
        between = [k for k in range(lo + 1, hi) if k not in drawn]
        if not between:
            self.notice = f"No {plane} slice lies between the slices drawn for {name_text}."
            return 0
        filled = interpolate_slices(
            mask, drawn, axis=axis, spacing=tuple(float(s) for s in self.spacing)
        )
        box = [slice(None)] * 3
        box[axis] = slice(lo + 1, hi)
        box_t = tuple(box)
        sub, inside = labels[box_t], filled[box_t]
        after = sub.copy()
        after[(sub == value) & ~inside] = 0
        after[inside & (sub == 0)] = value
        self._commit(box_t, after, what=f"interpolation of {name_text}")  # type: ignore[arg-type]
        self.notice = (
            f"Interpolated {name_text} on {len(between)} {plane} slices between "
            f"{len(drawn)} drawn ones."
        )
        return len(between)

    # ------------------------------------------------------------------ answer file

    def _delineation(self) -> DelineationAnswer:
        labels = self._require_image()
        return DelineationAnswer(
            mask=labels,
            spacing=tuple(float(s) for s in self.spacing),
            names=tuple(self.names),
            colors=np.array([s.color for s in self._specs], dtype=np.uint8).reshape(-1, 3),
            series_uid=self.volume.series_uid if self.volume else "",
            origin=tuple(float(x) for x in self.origin),
            revision=self.revision,
            drawn=np.array(sorted(self._drawn), dtype=np.int32).reshape(-1, 3),
            first_mask=self.first_labels,
        )

    def keep_first_outline(self) -> None:
        """Keep the outline as it is now as the first reading, and save.

        What a second reader's "Show me the AI" does before the AI's outline is
        drawn (:meth:`set_other_reader`): the learner may revise after, and both
        outlines are in the answer file. Kept once: a second call changes nothing.
        """
        if self.first_labels is None:
            self.first_labels = self._require_image().copy()
            self.save()

    def set_other_reader(self, outline: Any) -> None:
        """Show another reader's outline (an AI's: a mask, label map or dict of masks) in
        cyan, apart from the reference and never part of the answer; ``None`` removes it."""
        if outline is None:
            self._set_layer("other", None)
            return
        self._require_image()
        array, _names = _labels_array(outline, tuple(self.shape))
        self._set_layer("other", array)

    def save(self) -> bool:
        """Write the answer file now (atomically); False, with a notice, if it failed."""
        if self._answer is None or self._labels is None:
            return False
        try:
            save_delineation(self._delineation(), self._answer)
        except OSError as exc:
            problem = (
                f"Could not save {self._answer}: {exc.strerror or exc}. Your work is kept here."
            )
            if problem != self._save_problem:
                warnings.warn(problem, AnswerFileMovedWarning, stacklevel=2)
            self._save_problem = problem
            self.notice = problem
            return False
        if self._save_problem:
            self._save_problem = ""
            self.notice = f"Saved to {self._answer.name}"
        return True

    @property
    def answer_path(self) -> Path | None:
        """Where the answer is saved (absolute), or None."""
        return self._answer

    def _move_aside(self, path: Path, why: str) -> None:
        moved = move_aside(path, f"it {why}", stacklevel=4)  # warned at the learner's cell
        self._answer = moved.answer
        self.answer_file = moved.answer.name
        self.notice = moved.notice

    def _load_answer(self, path: Path, labels: np.ndarray) -> None:
        """Fill ``labels`` from the answer file if it fits this image; else move it aside."""
        if not path.exists():
            return
        try:
            found = load_delineation(path, shape=labels.shape)
            found.check_against(self.volume)  # type: ignore[arg-type]
        except DicomTeachError as exc:  # damaged, hostile, or for another image
            self._move_aside(path, exc.problem)
            return
        except Exception as exc:  # any other damage: keep the file, start empty
            self._move_aside(path, f"cannot be read ({type(exc).__name__}: {exc})")
            return
        mask = found.mask.astype(np.uint8, copy=False)  # check_against: labels 0..255
        names, colors = found.names, found.colors
        present = [v for v in label_values(mask) if v != 0]
        # File value -> our value, by name; structures we were not told about are appended.
        mapping: dict[int, int] = {}
        for v in sorted(set(present) | set(range(1, len(names) + 1))):
            name = names[v - 1] if v - 1 < len(names) else None
            if name is None:
                name = self.names[v - 1] if v <= len(self._specs) else f"label {v}"
            if name not in self.names:
                color = (
                    tuple(int(x) for x in colors[v - 1])
                    if v - 1 < len(colors)
                    else label_palette(len(self._specs) + 1)[-1]
                )
                self._specs.append(_Structure(name, color))  # type: ignore[arg-type]
            mapping[v] = self.names.index(name) + 1
        if len(self._specs) > 255:
            self._move_aside(path, "holds more than 255 structures")
            return
        lut = np.zeros(256, np.uint8)
        for v, ours in mapping.items():
            lut[v] = ours
        if all(v == ours for v, ours in mapping.items()):
            labels[...] = mask
        else:
            labels[...] = lut[mask]
        if found.first_mask is not None:
            self.first_labels = lut[np.asarray(found.first_mask).astype(np.uint8, copy=False)]
        self._drawn = {
            (mapping[int(v)], int(a), int(k))
            for v, a, k in found.drawn
            if int(v) in mapping and 0 <= int(a) < 3 and 0 <= int(k) < labels.shape[int(a)]
        }
        self.revision = found.revision
        self.notice = f"Loaded your delineation from {path.name}"

    # ------------------------------------------------------------------ export

    def to_seg(self, path: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Write the structures as a DICOM SEG referencing the source images.

        Goes through :func:`dicomteach.roi.write_seg` (keywords are passed on);
        segment ``i`` is structure ``i``, labelled with its name. The image must
        have been read from DICOM files.
        """
        from dicomteach.roi.seg import write_seg

        labels = self._require_image()
        if not labels.any():
            raise ValueError("Nothing to export: every structure is empty")
        masks = {name: labels == value for value, name in enumerate(self.names, start=1)}
        return write_seg(masks, self.volume, path, **kwargs)

    # ------------------------------------------------------------------ reference

    def set_reference(self, reference: Any) -> None:
        """Show a mask, label map, dict of masks or SEG/RTSTRUCT/.npz path as an
        outline the learner cannot edit, or remove it with ``None``."""
        if reference is None:
            self._set_layer("reference", None)
            return
        self._require_image()
        if isinstance(reference, str | os.PathLike):
            from dicomteach.roi import load_structures

            found = load_structures(reference)
            reference = {found.names.get(n, str(n)): m for n, m in found.masks.items()}
        array, _names = _labels_array(reference, tuple(self.shape))
        self._set_layer("reference", array)

    def set_overlay(self, overlay: Any, **_kwargs: Any) -> None:
        """A Delineator's overlay is the learner's labels: see ``labels`` and ``reference``."""
        raise ValueError(
            "A Delineator shows the learner's labels; set them with .labels = … "
            "or show a fixed outline with reference=…"
        )

    # ------------------------------------------------------------------ messages from the browser

    def _layout_of(self, plane: object) -> dict:
        layout = self.layouts.get(plane) if isinstance(plane, str) else None
        if layout is None:
            raise ValueError(f"unknown plane {plane!r}")
        return layout

    def _display_box(
        self, layout: dict, s: int, r0: int, r1: int, c0: int, c1: int
    ) -> tuple[tuple[slice, slice, slice], Any]:
        """The array box of a displayed box, and a function from display blocks to array blocks."""
        rows, cols = int(layout["rows"]), int(layout["cols"])
        flip_r, flip_c = bool(layout["flip_rows"]), bool(layout["flip_cols"])
        axes = (int(layout["slice_axis"]), int(layout["row_axis"]), int(layout["col_axis"]))
        box: list[slice] = [slice(0)] * 3
        box[axes[0]] = slice(s, s + 1)
        box[axes[1]] = slice(rows - r1, rows - r0) if flip_r else slice(r0, r1)
        box[axes[2]] = slice(cols - c1, cols - c0) if flip_c else slice(c0, c1)
        order = np.argsort(axes)

        def to_array(block: np.ndarray) -> np.ndarray:
            if flip_r:
                block = block[::-1]
            if flip_c:
                block = block[:, ::-1]
            return np.transpose(block[None], order)

        return tuple(box), to_array  # type: ignore[return-value]

    def _handle_edit(self, content: dict, buffers: list) -> None:
        """A finished stroke: the changed box of one displayed slice (module docstring)."""
        origin, seq = content.get("origin"), content.get("seq")
        try:
            labels = self._require_image()
            layout = self._layout_of(content.get("plane"))
            s = int(content["slice"])
            r0, r1, c0, c1 = (int(v) for v in content["box"])
            if not 0 <= s < int(layout["n_slices"]):
                raise ValueError(f"slice {s} outside 0..{layout['n_slices'] - 1}")
            if not (0 <= r0 < r1 <= layout["rows"] and 0 <= c0 < c1 <= layout["cols"]):
                raise ValueError(f"box {[r0, r1, c0, c1]} outside the {layout['plane']} slice")
            size = (r1 - r0) * (c1 - c0)
            blocks = [np.frombuffer(b, dtype=np.uint8) for b in buffers[:2]]
            if not blocks or any(b.size != size for b in blocks):
                raise ValueError(f"buffers of {[b.size for b in blocks]} bytes for a box of {size}")
            if int(blocks[0].max(initial=0)) > len(self._specs):
                raise ValueError(f"label {int(blocks[0].max())} but {len(self._specs)} structures")
            structure = int(content.get("structure", self.active))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("Delineator: refused an edit message: %s", exc)
            self._ack(origin if isinstance(origin, str) else None, seq, str(exc))
            return
        box, to_array = self._display_box(layout, s, r0, r1, c0, c1)
        after = to_array(blocks[0].reshape(r1 - r0, c1 - c0))
        if len(blocks) > 1:  # write only what the stroke changed
            before = to_array(blocks[1].reshape(r1 - r0, c1 - c0))
            after = np.where(after != before, after, labels[box])
        tool = str(content.get("tool", "edit"))
        self._commit(
            box,
            after,
            what=f"{tool} stroke",
            drawn_added={(structure, int(layout["slice_axis"]), s)},
            origin=origin if isinstance(origin, str) else None,
            seq=seq if isinstance(seq, int) else None,
        )

    def _done(self, op: str, content: dict, changed: bool) -> None:
        self.send(
            {
                "type": "done",
                "op": op,
                "origin": content.get("origin"),
                "changed": bool(changed),
                "revision": self.revision,
            }
        )

    @contextmanager
    def _requested(self, content: dict) -> Iterator[None]:
        # the patches of a view's undo, redo or interpolation name it (requested_by): that
        # view, in a live session, writes them to its person's layer (static/live/layers.js)
        origin = content.get("origin")
        self._requester = origin if isinstance(origin, str) else None
        try:
            yield
        finally:
            self._requester = None

    def _handle_undo(self, content: dict, _buffers: list) -> None:
        with self._requested(content):
            self._done("undo", content, self._labels is not None and self.undo())

    def _handle_redo(self, content: dict, _buffers: list) -> None:
        with self._requested(content):
            self._done("redo", content, self._labels is not None and self.redo())

    def _handle_interpolate(self, content: dict, _buffers: list) -> None:
        changed = False
        with self._requested(content):
            try:
                plane = content.get("plane") or self.plane
                changed = self.interpolate(content.get("structure"), plane=plane) > 0
            except ValueError as exc:
                self.notice = str(exc)
        self._done("interpolate", content, changed)
