"""``Compare``: a baseline and its follow-up, aligned, side by side, swiped, flickered…

The follow-up (``after``) is brought onto the baseline's (``before``) grid:
a rigid registration (:func:`~dicomteach.imaging.registration.register_followup`, on copies
reduced to a few millimetres per voxel so it takes a second or two), then
trilinear resampling (:func:`~dicomteach.imaging.resample_to`). The result is
sent once, as a second 16-bit layer with a power-of-two rescale slope, beside
the baseline's stored values. Every mode is drawn in the browser from those two
layers (docs/decisions.md, decision 1): side by side (two linked viewports), swipe,
flicker, checkerboard and difference (after − before, windowed on its own).

The pure rules the browser follows for the difference and the checkerboard
are :func:`difference_display` and :func:`checkerboard_mask`; the browser
tests compare the canvases with them pixel for pixel.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import traitlets

from dicomteach.errors import DicomTeachError
from dicomteach.imaging.modality import modality_values
from dicomteach.imaging.quantise import quantise
from dicomteach.imaging.registration import Rigid, register_followup
from dicomteach.imaging.resample import resample_to
from dicomteach.imaging.voi import window_to_uint8
from dicomteach.io.volume import Volume, Window
from dicomteach.widgets._base import ImageWidget, _volume_of, _window_dict, bundle, bundle_css

__all__ = [
    "COMPARE_MODES",
    "Compare",
    "checkerboard_mask",
    "difference_display",
    "diverging_table",
]

COMPARE_MODES = ("side-by-side", "swipe", "flicker", "checkerboard", "difference")
"""The ways :class:`Compare` shows the two images (``Compare.mode``)."""

DIFFERENCE_STYLES = ("signed", "absolute")
"""``signed``: after − before in a diverging colour map; ``absolute``: |after − before|."""

COMPARE_TOOLS = ["wl", "pan", "zoom", "ruler", "ellipse"]

# Projection radiographs are comparable whatever the detector (a CR prior, a DX current).
_MODALITY_FAMILIES = {"CR": "XR", "DX": "XR", "DR": "XR", "RG": "XR", "PX": "XR"}


def diverging_table() -> np.ndarray:
    """The ``(256, 3)`` uint8 colour map of a signed difference, black at 0.

    The 8-bit value ``v`` of the windowed difference (128 is a difference of 0
    with the default window centred on 0) is drawn as: ``t = v - 128``; for
    ``t >= 0`` (the follow-up is brighter, e.g. a growing nodule)
    ``s = t * 255 // 127`` and red → yellow ``(min(255, 2s), max(0, 2s - 255), 0)``;
    for ``t < 0`` ``s = -t * 255 // 128`` and blue → cyan
    ``(0, max(0, 2s - 255), min(255, 2s))``. Integer formulas: the browser
    receives this table, so both sides draw the same colours.

    >>> table = diverging_table()
    >>> table[[0, 127, 128, 192, 255]].tolist()
    [[0, 255, 255], [0, 0, 2], [0, 0, 0], [255, 1, 0], [255, 255, 0]]
    """
    t = np.arange(256, dtype=np.int64) - 128
    s = np.where(t >= 0, t * 255 // 127, -t * 255 // 128)
    hi = np.minimum(255, 2 * s)
    mid = np.clip(2 * s - 255, 0, 255)
    zero = np.zeros_like(s)
    rgb = np.where((t >= 0)[:, None], np.stack([hi, mid, zero], 1), np.stack([zero, mid, hi], 1))
    return rgb.astype(np.uint8)


def difference_display(
    before_values: np.ndarray,
    after_values: np.ndarray,
    window: Window,
    *,
    absolute: bool = False,
    invert: bool = False,
) -> np.ndarray:
    """The RGB picture of ``after − before`` the browser draws in difference mode.

    The difference is computed in float64 from the modality values; ``signed``
    (default) windows it and colours it with :func:`diverging_table`;
    ``absolute=True`` windows ``|after − before|`` and draws it in grey.
    The window follows :func:`~dicomteach.imaging.window_to_uint8`; the widget
    uses ``LINEAR_EXACT`` (:attr:`Compare.difference_window`), which maps a
    difference equal to the center to 127.5, drawn 128: black in the signed map.
    ``invert`` (MONOCHROME1 images, where higher values are drawn darker)
    takes ``255 - v`` of the signed map's 8-bit value, so red still means
    brighter on the screen; ``|Δ|`` is never inverted (black is no change).

    >>> before = np.array([[0.0, 10.0, 20.0]])
    >>> after = np.array([[0.0, 30.0, 0.0]])
    >>> difference_display(before, after, Window(0, 40, function="LINEAR_EXACT"))[0].tolist()
    [[0, 0, 0], [255, 255, 0], [0, 255, 255]]
    >>> window = Window(10, 20, function="LINEAR_EXACT")
    >>> difference_display(before, after, window, absolute=True)[0, :, 0].tolist()
    [0, 255, 255]
    """
    d = np.asarray(after_values, np.float64) - np.asarray(before_values, np.float64)
    if absolute:
        v = window_to_uint8(np.abs(d), window)
        return np.repeat(v[..., None], 3, axis=-1)
    return diverging_table()[window_to_uint8(d, window, invert=invert)]


def checkerboard_mask(
    rows: int, cols: int, row_spacing: float, col_spacing: float, size_mm: float
) -> np.ndarray:
    """Where the checkerboard shows the follow-up: squares of ``size_mm``, after on odd squares.

    Pixel ``(r, c)`` of the displayed plane lies in square
    ``(floor((r + 0.5) * row_spacing / size_mm), floor((c + 0.5) * col_spacing / size_mm))``
    (its centre, in mm from the top-left corner); the top-left square shows
    the baseline. Squares are in mm so they stay square on anisotropic reformats.

    >>> checkerboard_mask(4, 6, 1.0, 1.0, 2.0).astype(int)
    array([[0, 0, 1, 1, 0, 0],
           [0, 0, 1, 1, 0, 0],
           [1, 1, 0, 0, 1, 1],
           [1, 1, 0, 0, 1, 1]])
    """
    sr = np.floor((np.arange(rows) + 0.5) * float(row_spacing) / float(size_mm)).astype(np.int64)
    sc = np.floor((np.arange(cols) + 0.5) * float(col_spacing) / float(size_mm)).astype(np.int64)
    return (sr[:, None] + sc[None, :]) % 2 == 1


def _background(volume: Volume) -> float:
    """The median of a volume's outermost voxels: what lies beyond it (air on a CT).

    It fills the baseline's grid outside the follow-up's field of view, so the
    difference there is about 0 rather than an edge of "minimum value" bands.
    """
    values = modality_values(volume)
    edges = [values[:, 0, :], values[:, -1, :], values[:, :, 0], values[:, :, -1]]
    if values.shape[0] > 1:
        edges += [values[0], values[-1]]
    return float(np.median(np.concatenate([e.ravel() for e in edges])))


def _check_pair(before: Volume, after: Volume) -> None:
    for name, volume in (("before", before), ("after", after)):
        if volume.is_color:
            raise ValueError(
                f"Argument '{name}' is a colour image: Compare shows grayscale images only"
            )
    if (before.n_frames == 1) != (after.n_frames == 1):
        raise ValueError(
            "Arguments 'before' and 'after' must both be volumes or both single images, "
            f"not shapes {tuple(before.pixels.shape)} and {tuple(after.pixels.shape)}"
        )
    families = [_MODALITY_FAMILIES.get(v.modality, v.modality) for v in (before, after)]
    if all(families) and families[0] != families[1]:
        raise ValueError(
            f"Arguments 'before' ({before.modality}) and 'after' ({after.modality}) must be "
            "of one modality: Compare shows them in one window (use Viewer.fuse for others)"
        )
    if before.units and after.units and before.units != after.units:
        raise ValueError(
            f"Arguments 'before' and 'after' must be in the same units, "
            f"not {before.units!r} and {after.units!r}"
        )


def _transform(register: Any, before: Volume, after: Volume) -> Rigid | None:
    """The Rigid (fixed = before) to use, or None for the patient coordinates as they are."""
    if register is True:
        try:
            return register_followup(before, after)
        except ValueError as error:
            raise ValueError(f"{error}; pass register=False or a 4×4 matrix") from error
    if register is False or register is None:
        return None
    if isinstance(register, Rigid):
        return register
    try:
        matrix = np.asarray(register, dtype=float)
    except (TypeError, ValueError):
        matrix = np.empty(0)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError(
            "Argument 'register' must be True, False, a Rigid or a finite 4×4 matrix, "
            f"not {type(register).__name__}"
        )
    if not np.allclose(matrix[3], (0.0, 0.0, 0.0, 1.0), atol=1e-9):
        raise ValueError(
            f"Argument 'register' must have a last row of (0, 0, 0, 1), not {matrix[3].tolist()}"
        )
    return Rigid(matrix, float("nan"), 0)


def _motion_at(rigid: Rigid, volume: Volume) -> tuple[float, float]:
    """How far (mm) the transform moves the centre of ``volume``, and its angle (degrees)."""
    centre = volume.index_to_lps((np.array(volume.pixels.shape[:3]) - 1) / 2.0)
    return float(np.linalg.norm(rigid.apply(centre) - centre)), rigid.rotation_degrees


def _nice_mm(value: float) -> float:
    """1, 2 or 5 times a power of ten, nearest ``value`` from below."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= value)


class Compare(ImageWidget):
    """A baseline and a follow-up (or a prior and a current film), aligned, to compare.

    Modes (buttons, or keys ``b`` side by side, ``w`` swipe, ``f`` flicker,
    ``k`` checkerboard, ``d`` difference, ``m`` the next one):

    * side by side: two viewports linked in slice, zoom, pan, window and plane;
    * swipe: the follow-up over the baseline right of a divider (drag it, or
      ←/→ with the widget focused; shift moves it further);
    * flicker: the two alternate ``flicker_rate`` times a second; space
      pauses, ``f`` flips by hand;
    * checkerboard: squares of ``checker_mm`` from each (``[``/``]`` resize);
    * difference: after − before in a diverging colour map centred on 0 (red:
      brighter on screen, also on MONOCHROME1 films), or ``|after − before|``
      in grey (``g`` toggles), with its own window (left-drag W/L in this
      mode changes it; see :func:`difference_display`).

    Everything the :class:`~dicomteach.widgets.Viewer` does works on each
    side: reformats, presets, zoom, pan, letters, cursor value (of both
    images at once). A ruler or ellipse shows on both sides, tagged with the
    side it was drawn on (``"before"``, ``"after"``, or ``"difference"``); an
    ellipse reports its mean and SD on each image. So a learner measures the
    nodule on the left, then on the right, and compares the two lengths.

    Parameters
    ----------
    before, after : Volume or path
        Two grayscale volumes, or two single images (chest radiographs), of
        one modality (radiographs: CR, DX… together). ``after`` is aligned
        to ``before`` and resampled onto its grid (trilinear; outside its
        field of view, the median of its outermost voxels, e.g. air), then
        sent as 16-bit values exact to half a power-of-two slope
        (:func:`~dicomteach.imaging.quantise`: 1/64 HU on a CT).
    register : True, False, Rigid or 4×4 matrix
        ``True``: a rigid registration by mutual information, on copies
        reduced to ~4 mm voxels (1.5 mm pixels for single images), starting
        from the patient coordinates when both share a Frame of Reference,
        else from the image centres. ``False``: the patient coordinates as
        they are. A :class:`~dicomteach.imaging.Rigid` or matrix maps
        ``before`` LPS points to ``after`` LPS points.
    window : Window, optional
        The window of both images; default the baseline's default window.
    labels : (str, str)
        Names of the two images in the captions and readouts.
    mode : str
        One of :data:`COMPARE_MODES`.
    difference_window : Window, optional
        Window of the difference; default centred on 0, half the image window wide.
    frame, plane, tools
        As for :class:`~dicomteach.widgets.Viewer`.

    Attributes
    ----------
    registration : Rigid or None
        The transform used (``None`` when ``register=False``).
    measurements : list of dict
        Rulers and ellipses from the browser, each with ``side`` and, for an
        ellipse, ``stats`` (``mean``, ``sd``, ``n``) on ``before`` and ``after``.

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume, Window
    >>> axial = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])
    >>> hu = np.zeros((4, 16, 16), np.int16); hu[1:3, 5:9, 5:9] = 100
    >>> grown = np.zeros((4, 16, 16), np.int16); grown[1:3, 4:10, 4:10] = 100
    >>> before = Volume(hu, (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), axial, modality="CT")
    >>> after = Volume(grown, (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), axial, modality="CT")
    >>> compare = Compare(before, after, register=False, window=Window(50, 100))
    >>> compare.mode, compare.alignment
    ('side-by-side', 'Follow-up shown in its own patient coordinates (not registered)')
    >>> float((compare.after_values - before.pixels).sum() / 100)  # 20 more voxels per slice × 2
    40.0
    """

    _esm = bundle("compare.js")
    _css = bundle_css("compare.css")

    mode = traitlets.Enum(COMPARE_MODES, "side-by-side").tag(sync=True)
    series_labels = traitlets.List(traitlets.Unicode(), ["Baseline", "Follow-up"]).tag(sync=True)
    alignment = traitlets.Unicode("").tag(sync=True)
    swipe = traitlets.Float(0.5).tag(sync=True)
    flicker_rate = traitlets.Float(2.0).tag(sync=True)
    flicker_playing = traitlets.Bool(True).tag(sync=True)
    checker_mm = traitlets.Float(10.0).tag(sync=True)
    difference_center = traitlets.Float(0.0).tag(sync=True)
    difference_width = traitlets.Float(200.0).tag(sync=True)
    difference_style = traitlets.Enum(DIFFERENCE_STYLES, "signed").tag(sync=True)
    difference_table = traitlets.List(traitlets.Int()).tag(sync=True)

    def __init__(
        self,
        before: Volume | str | os.PathLike[str] | None,
        after: Volume | str | os.PathLike[str] | None,
        *,
        register: Any = True,
        window: Window | None = None,
        labels: tuple[str, str] = ("Baseline", "Follow-up"),
        mode: str = "side-by-side",
        difference_window: Window | None = None,
        frame: int | None = None,
        plane: str | None = None,
        tools: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if mode not in COMPARE_MODES:
            raise ValueError(
                f"Argument 'mode' must be one of {', '.join(COMPARE_MODES)}, not {mode!r}"
            )
        if (
            isinstance(labels, str)
            or len(labels) != 2
            or not all(isinstance(s, str) and s.strip() for s in labels)
        ):
            raise ValueError(f"Argument 'labels' must be two non-empty strings, not {labels!r}")
        super().__init__(tools=list(tools or COMPARE_TOOLS), **kwargs)
        self.registration: Rigid | None = None
        self.after_volume: Volume | None = None
        self.series_labels = [str(s) for s in labels]
        self.difference_table = [int(v) for v in diverging_table().ravel()]
        self.mode = mode
        self._show_volume(before, window=window, frame=frame, plane=plane)
        if self.volume is None:
            return
        if after is None:
            self._show_nothing(f"No {labels[1].lower()} image to compare with")
            return
        try:
            after_volume = _volume_of(after)
        except DicomTeachError as exc:
            self._show_nothing(f"Could not load the {labels[1].lower()} image: {exc}")
            return
        _check_pair(self.volume, after_volume)
        self.registration = _transform(register, self.volume, after_volume)
        self.after_volume = after_volume
        matrix = None if self.registration is None else self.registration.matrix
        values = resample_to(
            after_volume, self.volume, transform=matrix, order=1, fill=_background(after_volume)
        )
        stored, slope, intercept = quantise(values)
        layout = self.layouts[self.plane]
        fov = min(layout["rows"] * layout["row_spacing"], layout["cols"] * layout["col_spacing"])
        diff = difference_window or Window(0.0, max(self.window_width / 2.0, 1.0))
        d = _window_dict(diff)
        with self.hold_sync():
            self.alignment = self._alignment_text()
            self.checker_mm = _nice_mm(fov / 8.0)
            self.difference_center = d["center"]
            self.difference_width = d["width"]
            self._set_layer(
                "after",
                stored,
                {
                    "rescale_slope": [slope],
                    "rescale_intercept": [intercept],
                    "inverted": bool(after_volume.inverted),
                    "name": str(labels[1]),
                },
            )

    def _alignment_text(self) -> str:
        before, after = self.series_labels
        if self.registration is None:
            return f"{after} shown in its own patient coordinates (not registered)"
        moved, degrees = _motion_at(self.registration, self.volume)
        return f"{after} aligned to {before}: moved {moved:.1f} mm, rotated {degrees:.1f}°"

    @traitlets.observe("difference_style")
    def _style_changed(self, change: Any) -> None:
        # |difference| starts black at 0; the signed map is centred on 0
        if change["new"] == "absolute":
            self.difference_center = self.difference_width / 2.0
        else:
            self.difference_center = 0.0

    @traitlets.validate("swipe")
    def _valid_swipe(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"swipe must be in 0..1 (a fraction of the width), not {value}")
        return value

    @traitlets.validate("flicker_rate")
    def _valid_rate(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not 0.1 <= value <= 20.0:
            raise ValueError(f"flicker_rate must be in 0.1..20 images per second, not {value}")
        return value

    @traitlets.validate("checker_mm", "difference_width")
    def _valid_positive(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not value > 0:
            raise ValueError(f"{proposal['trait'].name} must be positive, not {value}")
        return value

    # ------------------------------------------------------------------ python API

    @property
    def after_values(self) -> np.ndarray | None:
        """The follow-up on the baseline's grid, as the browser has it (modality units, float64)."""
        array = self._arrays.get("after")
        if array is None:
            return None
        info = self.layers["after"]
        return array * info["rescale_slope"][0] + info["rescale_intercept"][0]

    @property
    def before_values(self) -> np.ndarray | None:
        """The baseline's modality values (float64), as the browser computes them."""
        if self.volume is None:
            return None
        return np.asarray(modality_values(self.volume), np.float64)

    @property
    def difference_window(self) -> Window:
        """The window of the difference image (``LINEAR_EXACT``: see :func:`difference_display`)."""
        return Window(self.difference_center, self.difference_width, function="LINEAR_EXACT")

    @difference_window.setter
    def difference_window(self, window: Window) -> None:
        w = _window_dict(window)
        with self.hold_sync():
            self.difference_center = w["center"]
            self.difference_width = w["width"]

    def followup_index(self, index: Any) -> np.ndarray:
        """Where points of the follow-up as shown lie in the follow-up's own series.

        The follow-up is shown on the baseline's grid, so a ruler drawn on it
        has its ends in the baseline's array indices; this maps ``(frame, row,
        column)`` points (any leading shape) through the registration to the
        follow-up's array indices, where its own outlines are (lengths in mm
        are the same: the transform is rigid).

        >>> import numpy as np
        >>> from dicomteach.io.volume import Volume
        >>> vol = Volume(np.zeros((4, 16, 16), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0),
        ...              np.eye(3), modality="CT")
        >>> shift = np.eye(4); shift[:3, 3] = (4.0, 3.0, 0.0)  # the follow-up's anatomy, 2 slices on
        >>> Compare(vol, vol, register=shift).followup_index([1, 5, 5]).tolist()
        [3.0, 8.0, 5.0]
        """
        if self.volume is None or self.after_volume is None:
            raise ValueError("There is no follow-up to map points onto")
        lps = self.volume.index_to_lps(np.asarray(index, dtype=float))
        if self.registration is not None:
            lps = self.registration.apply(lps)
        return self.after_volume.lps_to_index(lps)

    def lengths_mm(self, side: str) -> list[float]:
        """Lengths of the rulers drawn on one side (``"before"``, ``"after"``), in order.

        The learner's measurements of a lesion on each image, to compare::

            before, after = compare.lengths_mm("before")[-1], compare.lengths_mm("after")[-1]
        """
        if side not in ("before", "after", "difference"):
            raise ValueError(
                f"Argument 'side' must be 'before', 'after' or 'difference', not {side!r}"
            )
        return [
            float(m["length_mm"])
            for m in self.measurements
            if m.get("kind") == "ruler" and m.get("side") == side
        ]
