"""``Viewer``: scroll, window, zoom, reformat, measure and overlay a DICOM series.

The stored values travel once, slice by slice, as little-endian buffers; the
browser applies the modality rescale (or table), the VOI window (or table),
the colour map and the overlays with the rules of :mod:`dicomteach.imaging`,
so W/L, zoom, pan and overlay changes never re-send pixels.
"""

from __future__ import annotations

import base64
import io as _bytes_io
import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets

from dicomteach.errors import DicomTeachError
from dicomteach.imaging.colormaps import colormap as colormap_table
from dicomteach.imaging.modality import apply_modality_lut
from dicomteach.imaging.presets import default_window
from dicomteach.imaging.quantise import quantise
from dicomteach.imaging.voi import window_to_uint8
from dicomteach.io.volume import Study, Volume, Window
from dicomteach.widgets._base import _per_frame, _volume_of, _window_dict, bundle
from dicomteach.widgets.live import LiveWidget

log = logging.getLogger(__name__)

__all__ = ["Viewer"]

VIEWER_TOOLS = ["wl", "pan", "zoom", "ruler", "ellipse"]

THUMBNAIL_PX = 72
"""Longest side of a series thumbnail, in pixels."""

# Objects that are not pictures of the patient: shown over their series, not as one.
_NOT_IMAGES = {"SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "SR", "KO", "PR"}


def _thumbnail(volume: Volume) -> str:
    """The middle frame at its default window, at most THUMBNAIL_PX, as a PNG data URI."""
    from PIL import Image

    frame = volume.pixels.shape[0] // 2
    if volume.is_color:
        picture = np.asarray(volume.pixels[frame], dtype=np.uint8)
    else:
        # The one frame only: a study's series may be hundreds of megabytes.
        n = volume.pixels.shape[0]
        slopes = _per_frame(volume.rescale_slope, n, "rescale_slope")
        intercepts = _per_frame(volume.rescale_intercept, n, "rescale_intercept")
        values = apply_modality_lut(
            volume.pixels[frame],
            slope=slopes[frame if len(slopes) > 1 else 0],
            intercept=intercepts[frame if len(intercepts) > 1 else 0],
            lut=volume.modality_lut,
        )
        picture = window_to_uint8(values, default_window(volume), invert=volume.inverted)
    rows, cols = picture.shape[:2]
    step = max(1, int(np.ceil(max(rows, cols) / THUMBNAIL_PX)))
    small = np.ascontiguousarray(picture[::step, ::step])
    buffer = _bytes_io.BytesIO()
    Image.fromarray(small).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _label(volume: Volume) -> str:
    number = volume.header.get("SeriesNumber", "")
    what = volume.description or volume.modality or "series"
    frames = volume.pixels.shape[0]
    label = f"{volume.modality} {number} · {what} · {frames} image{'s' if frames != 1 else ''}"
    # A prior and a current look alike: the date tells them apart.
    date = str(volume.header.get("StudyDate", "") or volume.header.get("SeriesDate", ""))
    if len(date) == 8 and date.isdigit():
        label += f" · {date[:4]}-{date[4:6]}-{date[6:]}"
    return label.strip()


class Viewer(LiveWidget):
    """Look at a series as a radiologist does, in a notebook or a Voilà app.

    Mouse (OHIF habits): left-drag the active tool (W/L by default), wheel or
    ↑/↓ the slice, right-drag zoom, middle- or shift-drag pan, ctrl-wheel or a
    touchpad pinch zoom. Keys: 1–9 presets, ``a``/``c``/``s`` planes, ``r``
    reset, ``+``/``-`` zoom, space play, Delete removes the last measurement.
    Every action also has a button. On the classroom hub a class can look at
    it together (:meth:`go_live`, :meth:`join`: docs/live.md).

    Parameters
    ----------
    volume_or_path : Volume, Study, list of volumes, path or None
        A volume; or a file, folder, zip or DICOMDIR (:func:`dicomteach.io.read`);
        or a study. With several series the widget shows a thumbnail of each to
        switch between (``viewer.series_index``), and a DICOM SEG of the study
        is drawn over the series it refers to. ``None`` or a series that fails
        to load shows an empty or error state in the widget (``viewer.error``
        holds the message).
    window : Window, optional
        The first window; default :func:`~dicomteach.imaging.default_window`.
    frame : int, optional
        The first acquired slice; default the middle one.
    plane : {"axial", "coronal", "sagittal"}, optional
        The first plane; default the acquisition plane.
    overlay : mask, label array, dict of masks, or SEG path, optional
        Drawn over the image (see :meth:`set_overlay`).
    fuse : Volume or path, optional
        A second series (e.g. PET on CT), resampled onto this one's grid in
        patient coordinates and drawn over it with ``fuse_colormap``.
    colormap : {"gray", "hot"}, optional
        Default ``hot`` for PET, ``gray`` otherwise.
    suv : bool
        Load PET paths in SUVbw (:func:`dicomteach.io.load`).

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume, Window
    >>> vol = Volume(np.zeros((3, 4, 4), np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0),
    ...              np.eye(3), modality="CT", rescale_intercept=np.array([-1024.0]))
    >>> viewer = Viewer(vol, window=Window(40, 400))
    >>> viewer.window_center, viewer.window_width, viewer.frame, viewer.shape
    (40.0, 400.0, 1, [3, 4, 4])
    >>> viewer.planes
    ['axial', 'coronal', 'sagittal']
    """

    _esm = bundle("viewer.js")

    # A study or folder of several series: one thumbnail button each.
    series = traitlets.List(traitlets.Dict()).tag(sync=True)
    series_index = traitlets.Int(0).tag(sync=True)
    # Bumped when another series is shown: the browser rebuilds its controls.
    volume_token = traitlets.Int(0).tag(sync=True)

    def __init__(
        self,
        volume_or_path: Volume | Study | Sequence[Volume] | str | os.PathLike[str] | None = None,
        *,
        window: Window | None = None,
        frame: int | None = None,
        plane: str | None = None,
        overlay: Any = None,
        overlay_opacity: float | None = None,
        overlay_mode: str | None = None,
        fuse: Volume | str | os.PathLike[str] | None = None,
        fuse_window: Window | None = None,
        fuse_opacity: float = 0.5,
        fuse_colormap: str = "hot",
        colormap: str | None = None,
        suv: bool = False,
        tools: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(tools=list(tools or VIEWER_TOOLS), **kwargs)
        self._colormap = colormap
        self._suv = suv
        self._volumes, self._objects, problem = self._collect(volume_or_path, suv)
        if problem:
            self._show_nothing(problem)
            return
        if len(self._volumes) > 1:
            self.series = [
                {"index": i, "label": _label(v), "thumbnail": _thumbnail(v), "uid": v.series_uid}
                for i, v in enumerate(self._volumes)
            ]
        first = self._volumes[0] if self._volumes else volume_or_path
        self._show_volume(first, window=window, frame=frame, plane=plane, suv=suv)
        if self.volume is None:
            return
        self._after_show(overlay is None)
        self.observe(self._on_series_index, names="series_index")
        if overlay is not None:
            self.set_overlay(overlay, opacity=overlay_opacity, mode=overlay_mode)
        if fuse is not None:
            self.fuse(
                fuse, window=fuse_window, opacity=fuse_opacity, colormap=fuse_colormap, suv=suv
            )

    @staticmethod
    def _collect(source: Any, suv: bool) -> tuple[list[Volume], list[Volume], str]:
        """Image volumes to browse, other objects (SEG…) and a problem to show instead."""
        if source is None or isinstance(source, Volume):
            return (
                ([source] if source is not None else []),
                [],
                "" if source is not None else "No image",
            )
        if isinstance(source, (str, os.PathLike)):
            from dicomteach import io

            if io.is_single_file(source):
                return [], [], ""  # _show_volume loads it (and shows its error)
            try:
                found = io.read(source, suv=suv).volumes
            except DicomTeachError as exc:
                log.warning("%s", exc)
                return [], [], f"Could not load the image: {exc}"
        elif isinstance(source, Study):
            found = [v for series in source.series for v in series.volumes]
        elif hasattr(source, "volumes") and not isinstance(source, (list, tuple)):
            found = list(source.volumes)  # a ReadResult
        elif isinstance(source, Sequence) and all(isinstance(v, Volume) for v in source):
            found = list(source)
        else:
            raise ValueError(
                "Viewer shows a Volume, a Study, a list of volumes or a path, "
                f"not {type(source).__name__}"
            )
        images = [v for v in found if v.modality not in _NOT_IMAGES]
        objects = [v for v in found if v.modality in _NOT_IMAGES]
        if not images:
            what = f" ({len(objects)} non-image object(s))" if objects else ""
            return [], objects, f"Could not load the image: no image found{what}"
        return images, objects, ""

    def _after_show(self, auto_overlay: bool) -> None:
        """Colour map and the SEG of this study that refers to the series on screen."""
        volume = self.volume
        name = self._colormap or ("hot" if volume.modality == "PT" else "gray")
        if name != "gray" and not volume.is_color:
            layers = dict(self.layers)
            layers["image"] = {
                **layers["image"],
                "colormap_table": colormap_table(name).ravel().tolist(),
            }
            self.layers = layers
        if not auto_overlay:
            return
        self.set_overlay(None)
        from dicomteach.roi.load import referenced_series  # highdicom: only for a study

        for obj in self._objects:
            if obj.modality == "SEG" and volume.series_uid in referenced_series(obj.header):
                try:
                    self.set_overlay(obj.sources[0][0])
                except (DicomTeachError, ValueError) as exc:
                    log.warning("%s", exc)
                return

    def _show_series(self, uid: str) -> bool:
        """Show the series ``uid`` of this study (a live session is on it); False if absent."""
        for index, volume in enumerate(self._volumes):
            if uid and volume.series_uid == uid:
                self.series_index = index
                return True
        return False

    def _on_series_index(self, change: dict) -> None:
        index = int(change["new"])
        if not 0 <= index < len(self._volumes) or self._volumes[index] is self.volume:
            return
        self._show_volume(self._volumes[index], suv=self._suv)
        self._after_show(True)
        self.volume_token += 1

    def fuse(
        self,
        volume_or_path: Volume | str | os.PathLike[str] | None,
        *,
        window: Window | None = None,
        opacity: float = 0.5,
        colormap: str = "hot",
        transform: np.ndarray | None = None,
        suv: bool = True,
    ) -> None:
        """Draw a second series (PET, a map) over this one, or remove it with ``None``.

        It is resampled (trilinear) onto this image's grid in patient
        coordinates (``transform`` maps this image's LPS points to the other's,
        e.g. from :func:`dicomteach.imaging.register_rigid`), then sent once as
        16-bit values with a power-of-two slope (:func:`dicomteach.imaging.quantise`:
        exact to half the slope, whole numbers exact). Its window and colour map
        apply in the browser.
        """
        if volume_or_path is None:
            self._set_layer("fused", None)
            return
        if self.volume is None:
            raise ValueError("There is no image to fuse onto")
        if not 0 <= opacity <= 1:
            raise ValueError(f"Argument 'opacity' must be in 0..1, not {opacity}")
        from dicomteach.imaging.resample import resample_to

        other = _volume_of(volume_or_path, suv=suv)
        if other.is_color:
            raise ValueError("Only grayscale series can be fused")
        values = resample_to(other, self.volume, transform=transform, order=1, fill=0.0)
        stored, slope, intercept = quantise(values)
        window = window or default_window(other)
        w = _window_dict(window)
        self._set_layer(
            "fused",
            stored,
            {
                "rescale_slope": [slope],
                "rescale_intercept": [intercept],
                "window_center": w["center"],
                "window_width": w["width"],
                "voi_function": w["function"],
                "colormap_table": colormap_table(colormap).ravel().tolist(),
                "opacity": float(opacity),
                "units": other.units or "",
                "name": other.description or other.modality,
            },
        )

    @property
    def fused_values(self) -> np.ndarray | None:
        """The fused series on this image's grid, as the browser has it (modality units)."""
        array = self._arrays.get("fused")
        if array is None:
            return None
        info = self.layers["fused"]
        return array * info["rescale_slope"][0] + info["rescale_intercept"][0]
