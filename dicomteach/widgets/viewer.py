"""``Viewer``: scroll, window, zoom, reformat, measure and overlay a DICOM series.

The stored values travel once, slice by slice, as little-endian buffers; the
browser applies the modality rescale (or table), the VOI window (or table),
the colour map and the overlays with the rules of :mod:`dicomteach.imaging`,
so W/L, zoom, pan and overlay changes never re-send pixels.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dicomteach.imaging.colormaps import colormap as colormap_table
from dicomteach.imaging.presets import default_window
from dicomteach.imaging.quantise import quantise
from dicomteach.io.volume import Volume, Window
from dicomteach.widgets._base import ImageWidget, _volume_of, _window_dict, bundle

__all__ = ["Viewer"]

VIEWER_TOOLS = ["wl", "pan", "zoom", "ruler", "ellipse"]


class Viewer(ImageWidget):
    """Look at a series as a radiologist does, in a notebook or a Voilà app.

    Mouse (OHIF habits): left-drag the active tool (W/L by default), wheel or
    ↑/↓ the slice, right-drag zoom, middle- or shift-drag pan, ctrl-wheel or a
    touchpad pinch zoom. Keys: 1–9 presets, ``a``/``c``/``s`` planes, ``r``
    reset, ``+``/``-`` zoom, space play, Delete removes the last measurement.
    Every action also has a button.

    Parameters
    ----------
    volume_or_path : Volume, path or None
        A volume, or a file, folder or zip :func:`dicomteach.io.load` reads.
        ``None`` or a series that fails to load shows an empty or error state
        in the widget (``viewer.error`` holds the message).
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

    _esm = bundle("core.js", "viewer.js")

    def __init__(
        self,
        volume_or_path: Volume | str | os.PathLike[str] | None = None,
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
        self._show_volume(volume_or_path, window=window, frame=frame, plane=plane, suv=suv)
        if self.volume is None:
            return
        name = colormap or ("hot" if self.volume.modality == "PT" else "gray")
        if name != "gray" and not self.volume.is_color:
            layers = dict(self.layers)
            layers["image"] = {
                **layers["image"],
                "colormap_table": colormap_table(name).ravel().tolist(),
            }
            self.layers = layers
        if overlay is not None:
            self.set_overlay(overlay, opacity=overlay_opacity, mode=overlay_mode)
        if fuse is not None:
            self.fuse(
                fuse, window=fuse_window, opacity=fuse_opacity, colormap=fuse_colormap, suv=suv
            )

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
