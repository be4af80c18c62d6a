"""What every image widget shares: a volume streamed once to the browser, drawn there.

``ImageWidget`` holds the arrays (the image's stored values, an optional fused
image resampled onto the same grid, an optional label map) and streams them to
each view that asks, slice by slice, starting at the slice on screen, so a
large series shows its first image before the rest arrives. A view acknowledges
each chunk and the kernel keeps only a few in flight (:class:`_Stream`), so the
rest of a series waits in a queue here that the view can re-order: a slice the
learner scrolls to before it has arrived is sent next. The browser keeps
the arrays and applies rescale, window, colour map and overlays itself
(``static/core/``: ``layers.js`` receives, ``scene.js`` keeps the state,
``viewport.js`` draws): W/L, zoom, pan and overlays never re-send pixels. When
the kernel changes part of an array (a learner's labels after an undo), it
sends only that box (:meth:`ImageWidget._patch_layer`).

Every widget's script is its entry module in ``static/`` joined with the
modules it imports (:func:`bundle`, in ``_bundle.py``), its style
``viewer.css`` joined with its own (:func:`bundle_css`).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

import anywidget
import numpy as np
import traitlets

from dicomteach.errors import DicomTeachError
from dicomteach.imaging.planes import PLANES, plane_layout
from dicomteach.imaging.presets import default_window, presets_for
from dicomteach.imaging.voi import VOI_LUT_FUNCTIONS
from dicomteach.io.volume import LutTable, Volume, Window
from dicomteach.widgets._bundle import bundle, bundle_css

__all__ = ["ImageWidget", "bundle", "bundle_css", "label_palette"]

log = logging.getLogger(__name__)

CHUNK_BYTES = 4 << 20
"""About this many bytes per streamed message (whole slices, at least one)."""

STREAM_WINDOW = 3 * CHUNK_BYTES
"""Bytes a stream may have sent and not yet had acknowledged by its view: enough to keep
the way to the browser busy, few enough that a slice asked for jumps the queue soon."""

_MAX_STREAMS = 16
"""Streams kept per widget; a view that went away without a word (a page reloaded, an
output cleared) leaves one behind, and the oldest are forgotten first."""

# Colours of Slicer's generic anatomy table, in order: distinct on grey images.
_PALETTE = [
    (128, 174, 128),
    (241, 214, 145),
    (177, 122, 101),
    (111, 184, 210),
    (216, 101, 79),
    (221, 130, 101),
    (144, 238, 144),
    (192, 104, 88),
    (220, 245, 20),
    (78, 63, 0),
]
_FIRST_COLOURS = [(255, 64, 64), (64, 160, 255), (255, 208, 0), (0, 220, 120)]


def label_palette(n: int) -> list[tuple[int, int, int]]:
    """``n`` distinct RGB colours for label values 1..n (vivid first, then Slicer's).

    >>> label_palette(2)
    [(255, 64, 64), (64, 160, 255)]
    """
    colours = _FIRST_COLOURS + _PALETTE
    return [colours[i % len(colours)] for i in range(n)]


def _volume_of(volume_or_path: Volume | str | os.PathLike[str], suv: bool = False) -> Volume:
    if isinstance(volume_or_path, Volume):
        return volume_or_path
    from dicomteach import io

    return io.load(volume_or_path, suv=suv)


def _stored(volume: Volume) -> np.ndarray:
    """The stored values as a little-endian array the browser can view without copying."""
    pixels = np.asarray(volume.pixels)
    if volume.is_color:
        if pixels.dtype != np.uint8:
            raise ValueError(f"colour images must be 8-bit RGB, not {pixels.dtype}")
        return np.ascontiguousarray(pixels)
    if pixels.dtype.kind == "b":
        return np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.dtype.kind in "iu" and pixels.dtype.itemsize == 1:
        return np.ascontiguousarray(pixels)
    if pixels.dtype.kind == "i" and pixels.dtype.itemsize <= 2:
        return np.ascontiguousarray(pixels, dtype="<i2")
    if pixels.dtype.kind == "u" and pixels.dtype.itemsize <= 2:
        return np.ascontiguousarray(pixels, dtype="<u2")
    raise ValueError(
        f"widgets draw 8- or 16-bit stored values, not {pixels.dtype} "
        "(convert the volume to int16 or uint16 first)"
    )


def _per_frame(values: Any, n_frames: int, name: str) -> list[float]:
    flat = np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel()
    if flat.size not in (1, n_frames):
        raise ValueError(f"Volume.{name} must have 1 or {n_frames} values, not {flat.size}")
    return [float(v) for v in flat]


def _table(table: LutTable, name: str = "") -> dict:
    return {
        "name": name,
        "first": int(table.first_mapped),
        "bits": int(table.bits),
        "data": [float(v) for v in np.asarray(table.data).ravel()],
    }


def _window_dict(window: Window) -> dict:
    function = str(window.function or "LINEAR").strip().upper()
    if function not in VOI_LUT_FUNCTIONS:
        raise ValueError(f"Window function must be one of {VOI_LUT_FUNCTIONS}, not {function!r}")
    return {"center": float(window.center), "width": float(window.width), "function": function}


def _layouts(volume: Volume) -> dict[str, dict]:
    """Display layouts of the planes the volume can show (only the acquired one
    when the header gives no geometry, and then without orientation letters)."""
    shape = tuple(int(n) for n in volume.pixels.shape[:3])
    layouts = {}
    for plane in PLANES:
        try:
            layouts[plane] = plane_layout(volume.direction, volume.spacing, shape, plane).as_dict()
        except ValueError:
            continue
    if not volume.geometry_known:
        layouts = {k: {**v, "letters": {}} for k, v in layouts.items() if v["native"]}
    return layouts


def _labels_array(labels: Any, shape: tuple[int, int, int]) -> tuple[np.ndarray, list[str]]:
    """A uint8 label map and the names of values 1..n from a mask, labels or dict of masks."""
    if isinstance(labels, Mapping):
        out = np.zeros(shape, np.uint8)
        names = []
        for value, (name, mask) in enumerate(labels.items(), start=1):
            mask = np.asarray(mask)
            if mask.shape != shape:
                raise ValueError(f"Structure {name!r} has shape {mask.shape}, the image {shape}")
            out[mask.astype(bool)] = value
            names.append(str(name))
        return out, names
    array = np.asarray(labels)
    if array.shape != shape:
        raise ValueError(f"Overlay has shape {array.shape}, the image {shape}")
    if array.dtype == bool:
        return array.astype(np.uint8), ["mask"]
    if array.dtype.kind not in "iu" or array.min(initial=0) < 0 or array.max(initial=0) > 255:
        raise ValueError("Overlay must be a boolean mask or integer labels 0..255")
    top = int(array.max(initial=0))
    return array.astype(np.uint8), [f"label {v}" for v in range(1, top + 1)]


def _structures_on(path: str | os.PathLike[str], volume: Volume) -> dict[str, np.ndarray]:
    """The masks of a SEG / RTSTRUCT / .npz on the grid of ``volume``, the image shown
    (given as it is: its files are not read and decoded a second time)."""
    from dicomteach.roi import load_structures

    structures = load_structures(path, volume)
    masks = {structures.names.get(n, f"structure {n}"): m for n, m in structures.masks.items()}
    for name, mask in masks.items():
        if mask.shape != tuple(volume.pixels.shape[:3]):
            raise ValueError(
                f"{os.fspath(path)}: structure {name!r} has shape {mask.shape}, "
                f"the image {tuple(volume.pixels.shape[:3])} (a SEG of another series?)"
            )
    return masks


def _chunk_order(n: int, frame_bytes: int, frame: int, chunk_bytes: int) -> list[tuple[int, int]]:
    """``(start, count)`` messages covering frames 0..n-1: the frame on screen alone
    first (the first image waits for one slice only), then blocks of about
    ``chunk_bytes`` going outwards from it, nearest first.

    >>> _chunk_order(10, 100, 4, 300)
    [(4, 1), (5, 3), (1, 3), (8, 2), (0, 1)]
    """
    if n <= 0:
        return []
    frame = min(max(int(frame), 0), n - 1)
    per = max(1, int(chunk_bytes) // max(1, int(frame_bytes)))
    after = [(s, min(per, n - s)) for s in range(frame + 1, n, per)]
    before = [(max(0, e - per), e - max(0, e - per)) for e in range(frame, 0, -per)]
    out = [(frame, 1)]
    for i in range(max(len(after), len(before))):
        out += after[i : i + 1] + before[i : i + 1]
    return out


def _pending_order(
    unsent: np.ndarray, frame: int, frame_bytes: int, chunk_bytes: int
) -> list[tuple[int, int]]:
    """The order of :func:`_chunk_order` around ``frame``, keeping only the frames still
    to send (``unsent[k]`` true), each block split where frames were sent already.

    >>> unsent = np.ones(10, bool)
    >>> unsent[[4, 5, 6, 8]] = False  # sent: the frame first on screen and a block after it
    >>> _pending_order(unsent, 9, 100, 300)
    [(9, 1), (7, 1), (3, 1), (0, 3)]
    """
    out = []
    for start, count in _chunk_order(len(unsent), frame_bytes, frame, chunk_bytes):
        k, end = start, start + count
        while k < end:
            if not unsent[k]:
                k += 1
                continue
            run = k
            while k < end and unsent[k]:
                k += 1
            out.append((run, k - run))
    return out


class _Stream:
    """One layer on its way to one view: what is left to send, in order, and what is
    in flight (sent, not yet acknowledged by the view's ``received`` message)."""

    def __init__(self, layer: str, generation: int, n_frames: int, frame_bytes: int) -> None:
        self.layer = layer
        self.generation = generation
        self.frame_bytes = max(1, frame_bytes)
        self.unsent = np.ones(n_frames, bool)
        self.order: list[tuple[int, int]] = []
        self.in_flight: dict[int, int] = {}

    def plan(self, frame: int, chunk_bytes: int) -> None:
        """Send ``frame`` (if still to send) next, then outwards from it, nearest first."""
        frame = min(max(int(frame), 0), len(self.unsent) - 1)
        self.order = _pending_order(self.unsent, frame, self.frame_bytes, chunk_bytes)

    def next_chunk(self, window: int) -> tuple[int, int] | None:
        """The next block to send, or None when all is sent or the window is full."""
        if not self.order or sum(self.in_flight.values()) >= window:
            return None
        start, count = self.order.pop(0)
        self.unsent[start : start + count] = False
        return start, count


class _StateCompleteAfterInit(type(anywidget.AnyWidget)):
    """Opens a widget's comm only once the most-derived ``__init__`` has run.

    ipywidgets opens the comm as soon as ``Widget.__init__`` runs, with the traits'
    defaults, and everything ``__init__`` sets afterwards (the series' layouts,
    presets, the follow-up of a Compare...) would follow as updates. The browser
    creates the model on that first message and gives its module two seconds to
    load (anywidget's runtime); past that, the model drops every later message from
    the kernel, updates and streamed slices alike. So the comm opens here, after
    ``__init__``, carrying the whole state (``state_complete`` true) in one message,
    and a Compare's registration no longer runs inside those two seconds.
    A view that finds ``state_complete`` false asks for the whole state again
    (``_handle_state``) and waits for it (``stateComplete`` in static/core/sync.js).

    The comm's id is chosen here and synced as ``own_model_id``, so that a view can
    find its own model in the page's widget manager and keep it hearing the kernel
    even when the browser missed that two-second budget (``hearKernel`` in
    static/core/sync.js; docs/decisions.md, decision 19).
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        widget = super().__call__(*args, **kwargs)
        if widget._model_id is None:
            widget._model_id = uuid.uuid4().hex
        widget.own_model_id = widget._model_id
        widget.state_complete = True
        widget._may_open = True
        widget.open()
        return widget


class ImageWidget(anywidget.AnyWidget, metaclass=_StateCompleteAfterInit):
    """Base of the image widgets: state the browser and Python share, and streaming."""

    _css = bundle_css()

    state_complete = traitlets.Bool(False).tag(sync=True)
    """True once the widget's ``__init__`` has set everything (the view waits for it)."""
    own_model_id = traitlets.Unicode("").tag(sync=True)
    """The id the browser's widget manager knows this widget's model by (its comm's id)."""
    state_reply = traitlets.Unicode("").tag(sync=True)
    """The last view's ask for the whole state that was answered (``_handle_state``)."""

    chunk_bytes: int = CHUNK_BYTES
    """Bytes per streamed message (whole frames, at least one); set before display."""
    stream_window: int = STREAM_WINDOW
    """Bytes sent to a view and not yet acknowledged, at most (one message at least)."""

    # Geometry of the image (array order: frame, row, column; LPS mm).
    shape = traitlets.List(traitlets.Int(), [1, 1, 1]).tag(sync=True)
    spacing = traitlets.List(traitlets.Float(), [1.0, 1.0, 1.0]).tag(sync=True)
    origin = traitlets.List(traitlets.Float(), [0.0, 0.0, 0.0]).tag(sync=True)
    direction = traitlets.List(traitlets.Float(), list(np.eye(3).ravel())).tag(sync=True)
    geometry_known = traitlets.Bool(False).tag(sync=True)
    layouts = traitlets.Dict().tag(sync=True)
    planes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    modality = traitlets.Unicode("").tag(sync=True)
    units = traitlets.Unicode("").tag(sync=True)
    description = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    # The streamed arrays: name -> dtype, channels, rescale, tables, generation.
    layers = traitlets.Dict().tag(sync=True)

    # What the learner sees, changed from either side.
    plane = traitlets.Unicode("axial").tag(sync=True)
    position = traitlets.List(traitlets.Int(), [0, 0, 0]).tag(sync=True)
    initial_position = traitlets.List(traitlets.Int(), [0, 0, 0]).tag(sync=True)
    window_center = traitlets.Float(40.0).tag(sync=True)
    window_width = traitlets.Float(400.0).tag(sync=True)
    voi_function = traitlets.Unicode("LINEAR").tag(sync=True)
    voi_table = traitlets.Int(None, allow_none=True).tag(sync=True)
    initial_window = traitlets.Dict().tag(sync=True)
    presets = traitlets.List(traitlets.Dict()).tag(sync=True)
    zoom = traitlets.Float(1.0).tag(sync=True)
    pan = traitlets.List(traitlets.Float(), [0.0, 0.0]).tag(sync=True)
    tools = traitlets.List(traitlets.Unicode(), ["wl", "pan", "zoom"]).tag(sync=True)
    tool = traitlets.Unicode("wl").tag(sync=True)
    measurements = traitlets.List(traitlets.Dict()).tag(sync=True)
    fps = traitlets.Float(0.0).tag(sync=True)
    # What the "labels" overlay layer shows: [{"value", "name", "color": [r, g, b], "visible"}].
    label_info = traitlets.List(traitlets.Dict()).tag(sync=True)
    overlay_opacity = traitlets.Float(0.4).tag(sync=True)
    overlay_mode = traitlets.Unicode("fill").tag(sync=True)
    overlay_visible = traitlets.Bool(True).tag(sync=True)

    _may_open = False
    """False while ``__init__`` runs: the comm opens after it (_StateCompleteAfterInit)."""

    def open(self) -> None:
        """Open the comm, but not before ``__init__`` has set the whole state."""
        if self._may_open:
            super().open()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._arrays: dict[str, np.ndarray] = {}
        self._generation = 0
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._chunk_seq = 0
        self.volume: Volume | None = None
        self.on_msg(self._on_message)

    # ------------------------------------------------------------------ set-up

    def _show_volume(
        self,
        volume_or_path: Volume | str | os.PathLike[str] | None,
        *,
        window: Window | None = None,
        frame: int | None = None,
        plane: str | None = None,
        suv: bool = False,
    ) -> None:
        """Load and show a volume; a DICOM problem becomes the widget's error state."""
        if volume_or_path is None:
            self._show_nothing("No image")
            return
        try:
            volume = _volume_of(volume_or_path, suv=suv)
        except DicomTeachError as exc:
            self._show_nothing(f"Could not load the image: {exc}")
            log.warning("%s", exc)
            return
        n_frames, rows, cols = (int(n) for n in volume.pixels.shape[:3])
        stored = _stored(volume)
        layouts = _layouts(volume)
        native = next(name for name, lay in layouts.items() if lay["native"])
        plane = native if plane is None else plane
        if plane not in layouts:
            raise ValueError(f"Argument 'plane' must be one of {sorted(layouts)}, not {plane!r}")
        frame = n_frames // 2 if frame is None else int(frame)
        if not 0 <= frame < n_frames:
            raise ValueError(f"Argument 'frame' must be in 0..{n_frames - 1}, not {frame}")
        position = [frame, rows // 2, cols // 2]
        info: dict[str, Any] = {
            "dtype": stored.dtype.name,
            "channels": 3 if volume.is_color else 1,
            "inverted": bool(volume.inverted),
            # W/L drag sensitivity, known before the last slice arrives.
            "stored_range": [float(stored.min(initial=0)), float(stored.max(initial=0))],
        }
        presets: list[dict] = []
        if volume.is_color:
            # Brightness/contrast per channel; the default leaves the colours as stored.
            window = window or Window(127.5, 255, function="LINEAR_EXACT")
        else:
            info["rescale_slope"] = _per_frame(volume.rescale_slope, n_frames, "rescale_slope")
            info["rescale_intercept"] = _per_frame(
                volume.rescale_intercept, n_frames, "rescale_intercept"
            )
            if volume.modality_lut is not None:
                info["modality_lut"] = _table(volume.modality_lut)
            luts = [_table(t, f"VOI LUT {i + 1}") for i, t in enumerate(volume.voi_luts or [])]
            if luts:
                info["voi_luts"] = luts
            window = window or default_window(volume)
            for p in presets_for(volume.modality, header_windows=volume.windows):
                if p.colormap == "gray":
                    presets.append(
                        {
                            "name": p.name,
                            "center": float(p.center),
                            "width": float(p.width),
                            "function": p.function,
                        }
                    )
            presets += [{"name": t["name"], "voi_table": i} for i, t in enumerate(luts)]
        initial = _window_dict(window)
        fps = 0.0
        if n_frames > 1 and volume.frame_time_ms:
            fps = 1000.0 / float(volume.frame_time_ms)
        with self.hold_sync():
            self.volume = volume
            self._arrays = {"image": stored}
            self.shape = [n_frames, rows, cols]
            self.spacing = [float(s) for s in volume.spacing]
            self.origin = [float(s) for s in volume.origin]
            self.direction = [float(v) for v in np.asarray(volume.direction, float).ravel()]
            self.geometry_known = bool(volume.geometry_known)
            self.layouts = layouts
            self.planes = [p for p in PLANES if p in layouts]
            self.modality = volume.modality or ""
            self.units = volume.units or ""
            self.description = volume.description or ""
            self.error = ""
            self.plane = plane
            self.position = position
            self.initial_position = list(position)
            self.window_center = initial["center"]
            self.window_width = initial["width"]
            self.voi_function = initial["function"]
            self.voi_table = None
            self.initial_window = initial
            self.presets = presets
            self.zoom = 1.0
            self.pan = [0.0, 0.0]
            self.measurements = []
            self.fps = fps if self.fps == 0 else self.fps
            self.layers = {"image": self._layer_info(info)}

    def _show_nothing(self, message: str) -> None:
        axial = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
        layout = plane_layout(axial, (1.0, 1.0, 1.0), (1, 1, 1), "axial").as_dict()
        with self.hold_sync():
            self.volume = None
            self._arrays = {}
            self.shape = [1, 1, 1]
            self.layouts = {"axial": layout}
            self.planes = ["axial"]
            self.plane = "axial"
            self.position = [0, 0, 0]
            self.initial_position = [0, 0, 0]
            self.error = message
            self.layers = {}

    def _layer_info(self, info: dict) -> dict:
        self._generation += 1
        return {**info, "generation": self._generation}

    def _set_layer(self, name: str, array: np.ndarray | None, info: dict | None = None) -> None:
        """Add, replace (new generation, re-streamed) or remove one streamed array."""
        layers = dict(self.layers)
        if array is None:
            self._arrays.pop(name, None)
            layers.pop(name, None)
        else:
            if tuple(array.shape[:3]) != tuple(self.shape):
                raise ValueError(f"Layer {name!r} has shape {array.shape}, the image {self.shape}")
            self._arrays[name] = array = np.ascontiguousarray(array)
            info = {"dtype": array.dtype.name, "channels": 1, **(info or {})}
            if array.dtype.itemsize == 2 and "stored_range" not in info:
                # The browser computes its display table over this range only.
                info["stored_range"] = [float(array.min(initial=0)), float(array.max(initial=0))]
            layers[name] = self._layer_info(info)
        self.layers = layers

    def _patch_layer(self, name: str, box: tuple[slice, slice, slice], **content: Any) -> None:
        """Send every view the new values of one box of a streamed array (``Layer.patch``).

        ``box`` is in array order; ``content`` goes with it (e.g. the ``origin`` of the
        edit: that view already shows it). A view holding another generation ignores it.
        """
        array = self._arrays[name]
        box = tuple(  # type: ignore[assignment]
            slice(*s.indices(n)[:2]) for s, n in zip(box, array.shape[:3], strict=True)
        )
        self.send(
            {
                **content,
                "type": "patch",
                "layer": name,
                "generation": self.layers[name]["generation"],
                "box": [[s.start, s.stop] for s in box],
            },
            buffers=[memoryview(np.ascontiguousarray(array[box])).cast("B")],
        )

    # ------------------------------------------------------------------ overlays

    def set_overlay(
        self,
        overlay: Any,
        *,
        colors: Mapping[str, tuple[int, int, int]] | None = None,
        opacity: float | None = None,
        mode: str | None = None,
    ) -> None:
        """Show a mask, a label map, a dict ``name -> mask``, or a DICOM SEG on the image.

        ``mode`` is ``"fill"`` (filled at ``opacity`` with a solid edge) or
        ``"outline"``; ``None`` removes the overlay.
        """
        if overlay is None:
            self._set_layer("labels", None)
            self.label_info = []
            return
        if self.volume is None:
            raise ValueError("There is no image to put the overlay on")
        if isinstance(overlay, (str, os.PathLike)):
            overlay = _structures_on(overlay, self.volume)
        array, names = _labels_array(overlay, tuple(self.shape))
        palette = label_palette(len(names))
        colors = dict(colors or {})
        label_info = [
            {
                "value": value,
                "name": name,
                "color": [int(c) for c in colors.get(name, palette[value - 1])],
                "visible": True,
            }
            for value, name in enumerate(names, start=1)
        ]
        with self.hold_sync():
            if opacity is not None:
                if not 0 <= opacity <= 1:
                    raise ValueError(f"Argument 'opacity' must be in 0..1, not {opacity}")
                self.overlay_opacity = float(opacity)
            if mode is not None:
                if mode not in ("fill", "outline"):
                    raise ValueError(f"Argument 'mode' must be 'fill' or 'outline', not {mode!r}")
                self.overlay_mode = mode
            self.label_info = label_info
            self._set_layer("labels", array)

    # ------------------------------------------------------------------ streaming

    def _on_message(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        handler = getattr(self, f"_handle_{kind}", None) if isinstance(kind, str) else None
        if handler is None:
            log.debug("ignored widget message %r", kind)
            return
        handler(content, buffers)

    def _handle_state(self, content: dict, _buffers: list) -> None:
        """A view found the state incomplete, or may have missed updates (lost in a race):
        send all of it again, then the ask's name (``reply``) in ``state_reply``, so that
        the view knows when this state has arrived: until then, what it changed itself is
        newer than the values it receives (``askState`` in static/core/sync.js)."""
        self.send_state()
        reply = content.get("reply")
        if isinstance(reply, str):
            self.state_reply = reply[:100]

    def _handle_ready(self, content: dict, _buffers: list) -> None:
        """A view wants arrays: stream them, nearest the slice on screen first.

        The view names its stream (``stream``); the kernel sends a few chunks and the
        rest as the view acknowledges them (``_handle_received``), so a ``want`` can
        still re-order what is left.
        """
        names = content.get("layers") or list(self._arrays)
        frame = content.get("frame", self.position[0] if self.position else 0)
        frame = frame if isinstance(frame, int) else 0
        stream_id = str(content.get("stream", ""))
        for name in names:
            if name not in self._arrays:
                continue
            array = self._arrays[name]
            stream = _Stream(
                name,
                self.layers[name]["generation"],
                array.shape[0],
                array[0].nbytes if array.shape[0] else 1,
            )
            stream.plan(frame, self.chunk_bytes)
            key = (stream_id, name)
            self._streams.pop(key, None)
            self._streams[key] = stream
            while len(self._streams) > _MAX_STREAMS:
                del self._streams[next(iter(self._streams))]
            self._pump(key)

    def _handle_received(self, content: dict, _buffers: list) -> None:
        """A view has a chunk of its stream: send it the next ones."""
        key = (str(content.get("stream", "")), str(content.get("layer", "")))
        stream = self._streams.get(key)
        if stream is None:
            return
        stream.in_flight.pop(content.get("seq"), None)
        self._pump(key)

    def _handle_want(self, content: dict, _buffers: list) -> None:
        """The learner is on a slice that has not arrived: send it next, then around it."""
        key = (str(content.get("stream", "")), str(content.get("layer", "")))
        stream = self._streams.get(key)
        frame = content.get("frame")
        if stream is None or not isinstance(frame, int):
            return
        stream.plan(frame, self.chunk_bytes)
        self._pump(key)

    def _pump(self, key: tuple[str, str]) -> None:
        """Send a stream's next chunks while its window has room; forget it once done or
        once its layer has changed."""
        stream = self._streams[key]
        array = self._arrays.get(stream.layer)
        info = self.layers.get(stream.layer)
        if array is None or info is None or info["generation"] != stream.generation:
            del self._streams[key]
            return
        while (block := stream.next_chunk(self.stream_window)) is not None:
            start, count = block
            self._chunk_seq += 1
            stream.in_flight[self._chunk_seq] = count * stream.frame_bytes
            self.send(
                {
                    "type": "chunk",
                    "layer": stream.layer,
                    "generation": stream.generation,
                    "start": start,
                    "count": count,
                    "stream": key[0],
                    "seq": self._chunk_seq,
                },
                # A view of the array, not a copy: the message goes out as it is.
                buffers=[memoryview(array[start : start + count]).cast("B")],
            )
        if not stream.order and not stream.in_flight:
            del self._streams[key]

    # ------------------------------------------------------------------ python API

    @property
    def frame(self) -> int:
        """The acquired slice on screen (array axis 0)."""
        return int(self.position[0])

    @frame.setter
    def frame(self, value: int) -> None:
        n = self.shape[0]
        if not 0 <= int(value) < n:
            raise ValueError(f"frame must be in 0..{n - 1}, not {value}")
        self.position = [int(value)] + list(self.position[1:])

    @property
    def window(self) -> Window:
        """The window the browser shows now."""
        return Window(self.window_center, self.window_width, function=self.voi_function)

    @window.setter
    def window(self, window: Window) -> None:
        w = _window_dict(window)
        with self.hold_sync():
            self.window_center = w["center"]
            self.window_width = w["width"]
            self.voi_function = w["function"]
            self.voi_table = None
