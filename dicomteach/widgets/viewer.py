"""``Viewer``: scroll and window a grayscale volume, drawn by the browser.

The stored values travel once as a little-endian buffer with their dtype and
shape; the browser applies the modality rescale and the VOI window with the
rule of :mod:`dicomteach.imaging.voi`, so a W/L change never re-sends pixels.
"""

from __future__ import annotations

import os
import pathlib

import anywidget
import numpy as np
import traitlets

from dicomteach.imaging.presets import default_window, presets_for
from dicomteach.imaging.voi import VOI_LUT_FUNCTIONS
from dicomteach.io.volume import Volume, Window

__all__ = ["Viewer"]

_STATIC = pathlib.Path(__file__).parent / "static"


def _volume_of(volume_or_path: Volume | str | os.PathLike[str]) -> Volume:
    if isinstance(volume_or_path, Volume):
        return volume_or_path
    from dicomteach import io

    return io.load(volume_or_path)


def _stored_buffer(volume: Volume) -> tuple[bytes, str]:
    pixels = np.asarray(volume.pixels)
    if pixels.dtype.kind == "i" and pixels.dtype.itemsize <= 2:
        dtype = np.dtype("<i2")
    elif pixels.dtype.kind in "ub" and pixels.dtype.itemsize <= 2:
        dtype = np.dtype("<u2")
    else:
        raise ValueError(
            f"Viewer draws 8- or 16-bit stored values, not {pixels.dtype} "
            "(convert the volume to int16 or uint16 first)"
        )
    return np.ascontiguousarray(pixels, dtype=dtype).tobytes(), dtype.name


def _per_frame(values: np.ndarray, n_frames: int, name: str) -> list[float]:
    flat = np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel()
    if flat.size not in (1, n_frames):
        raise ValueError(f"Volume.{name} must have 1 or {n_frames} values, not {flat.size}")
    return [float(v) for v in flat]


class Viewer(anywidget.AnyWidget):
    """Scroll (wheel, ↑/↓, slider) and window (left-drag, presets) a volume.

    Parameters
    ----------
    volume_or_path : Volume or path
        A grayscale volume, or a file, folder or zip :func:`dicomteach.io.load` reads.
    window : Window, optional
        The first window; default :func:`~dicomteach.imaging.default_window`.
    frame : int, optional
        The first frame; default the middle one.

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume, Window
    >>> vol = Volume(np.zeros((3, 4, 4), np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0),
    ...              np.eye(3), modality="CT", rescale_intercept=np.array([-1024.0]))
    >>> viewer = Viewer(vol, window=Window(40, 400))
    >>> viewer.window_center, viewer.window_width, viewer.frame, viewer.shape
    (40.0, 400.0, 1, [3, 4, 4])
    """

    _esm = _STATIC / "viewer.js"
    _css = _STATIC / "viewer.css"

    pixels = traitlets.Bytes(b"").tag(sync=True)
    dtype = traitlets.Unicode("int16").tag(sync=True)
    shape = traitlets.List(traitlets.Int(), [0, 0, 0]).tag(sync=True)
    rescale_slope = traitlets.List(traitlets.Float(), [1.0]).tag(sync=True)
    rescale_intercept = traitlets.List(traitlets.Float(), [0.0]).tag(sync=True)
    window_center = traitlets.Float(40.0).tag(sync=True)
    window_width = traitlets.Float(400.0).tag(sync=True)
    voi_function = traitlets.Unicode("LINEAR").tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    inverted = traitlets.Bool(False).tag(sync=True)
    presets = traitlets.List(traitlets.Dict()).tag(sync=True)
    initial_window = traitlets.Dict().tag(sync=True)
    units = traitlets.Unicode("").tag(sync=True)
    modality = traitlets.Unicode("").tag(sync=True)
    spacing = traitlets.List(traitlets.Float(), [1.0, 1.0, 1.0]).tag(sync=True)

    def __init__(
        self,
        volume_or_path: Volume | str | os.PathLike[str],
        *,
        window: Window | None = None,
        frame: int | None = None,
        **kwargs,
    ) -> None:
        volume = _volume_of(volume_or_path)
        if volume.is_color:
            raise ValueError("Viewer shows grayscale volumes; this one is colour")
        if volume.modality_lut is not None:
            raise ValueError("Viewer does not draw Modality LUT tables yet, only slope/intercept")
        n_frames, rows, cols = (int(n) for n in volume.pixels.shape)
        window = window or default_window(volume)
        function = str(window.function).strip().upper()
        if function not in VOI_LUT_FUNCTIONS:
            raise ValueError(
                f"Window function must be one of {VOI_LUT_FUNCTIONS}, not {function!r}"
            )
        frame = n_frames // 2 if frame is None else int(frame)
        if not 0 <= frame < n_frames:
            raise ValueError(f"Argument 'frame' must be in 0..{n_frames - 1}, not {frame}")
        buffer, dtype = _stored_buffer(volume)
        presets = [
            {
                "name": p.name,
                "center": float(p.center),
                "width": float(p.width),
                "function": p.function,
            }
            for p in presets_for(volume.modality, header_windows=volume.windows)
            if p.colormap == "gray"
        ]
        super().__init__(
            pixels=buffer,
            dtype=dtype,
            shape=[n_frames, rows, cols],
            rescale_slope=_per_frame(volume.rescale_slope, n_frames, "rescale_slope"),
            rescale_intercept=_per_frame(volume.rescale_intercept, n_frames, "rescale_intercept"),
            window_center=float(window.center),
            window_width=float(window.width),
            voi_function=function,
            initial_window={
                "center": float(window.center),
                "width": float(window.width),
                "function": function,
            },
            frame=frame,
            inverted=bool(volume.inverted),
            presets=presets,
            units=volume.units,
            modality=volume.modality,
            spacing=[float(s) for s in volume.spacing],
            **kwargs,
        )
        self.volume = volume

    @property
    def window(self) -> Window:
        """The window the browser shows now."""
        return Window(self.window_center, self.window_width, function=self.voi_function)
