"""``View3D``: a volume rendering of a CT/MR volume with its segments, for anatomy lessons.

Built on ipyniivue's ``NiiVue`` widget (WebGL2, its script ships in the wheel,
nothing is fetched at run time). The volume goes to the browser once, as an
in-memory NIfTI-1 image of its modality values with its real geometry; the
segments as a second, label image drawn in colour inside the rendering.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import ipyniivue
import nibabel as nib
import numpy as np
from ipyniivue import LUT, NiiVue, SliceType
from ipyniivue import Volume as NiiVolume

from dicomteach.imaging.modality import modality_values
from dicomteach.imaging.presets import default_window
from dicomteach.io.volume import FrameAxis, Volume, Window
from dicomteach.widgets._base import _volume_of
from dicomteach.widgets._bundle import bundle

__all__ = ["SEGMENT_COLORS", "View3D"]

SEGMENT_COLORS: tuple[tuple[int, int, int], ...] = (
    (128, 174, 128),  # tissue
    (241, 214, 145),  # bone
    (177, 122, 101),  # skin
    (111, 184, 210),  # connective tissue
    (216, 101, 79),  # blood
    (220, 245, 20),  # foreign object
    (0, 151, 206),  # vein
    (183, 156, 220),  # capillary
    (230, 220, 70),  # fat
)
"""Default segment colours, in order: distinct entries of 3D Slicer's GenericAnatomyColors."""

_MODES = {
    "render": SliceType.RENDER,
    "multiplanar": SliceType.MULTIPLANAR,
    "axial": SliceType.AXIAL,
    "coronal": SliceType.CORONAL,
    "sagittal": SliceType.SAGITTAL,
}
# LPS (DICOM) -> RAS (NIfTI): flip x and y.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
# Anterior view, head up (niivue's camera: azimuth 180, elevation 0).
_ANTERIOR = (180.0, 0.0)


MAX_VOXELS = 32_000_000
"""Larger volumes are shown every ``step``-th voxel (ipyniivue keeps a copy in the browser
and echoes one back to the kernel): a 512×512×300 CT becomes 256×256×150."""


_NIIVUE_EXPORT = re.compile(r"export\s*\{\s*([A-Za-z_$][\w$]*)\s+as\s+default\s*\}\s*;?\s*$")


@functools.cache
def _module_every_view_draws(niivue_module: Path) -> str:
    """ipyniivue's ES module with its default export wrapped so that every view draws.

    ipyniivue draws a widget in one place and moves it to the newest view;
    ``static/view3d.js`` gives each view after the first its own instance. A
    module whose last statement is not ``export{X as default}`` is returned
    as it is (one view draws, as ipyniivue itself does).

    >>> import ipyniivue, pathlib
    >>> module = pathlib.Path(ipyniivue.__file__).parent / "static" / "widget.js"
    >>> text = _module_every_view_draws(module)
    >>> text.rstrip().endswith(".default(Ih);"), "renderInstance" in text
    (True, True)
    """
    text = niivue_module.read_text(encoding="utf-8")
    found = _NIIVUE_EXPORT.search(text)
    if found is None:
        return text
    wrapper, _, last = bundle("view3d.js").rstrip().rpartition("\n")
    variable = last.removeprefix("export default ").removesuffix(";")
    return f"{text[: found.start()]}\n{wrapper}\nexport default {variable}({found.group(1)});\n"


def _step_for(shape: Sequence[int], max_voxels: int) -> int:
    """The smallest whole stride that brings ``shape`` under ``max_voxels``.

    >>> _step_for((300, 512, 512), 32_000_000), _step_for((120, 512, 512), 32_000_000)
    (2, 1)
    """
    step = 1
    while int(np.prod([-(-n // step) for n in shape])) > max_voxels:
        step += 1
    return step


def _downsampled(volume: Volume, step: int) -> Volume:
    """Every ``step``-th voxel along each axis, with the geometry and rescale to match."""
    if step == 1:
        return volume

    def per_frame(values):
        values = np.atleast_1d(np.asarray(values))
        return values if values.size == 1 else values[::step]

    return dataclasses.replace(
        volume,
        pixels=np.ascontiguousarray(volume.pixels[::step, ::step, ::step]),
        spacing=tuple(float(s) * step for s in volume.spacing),
        rescale_slope=per_frame(volume.rescale_slope),
        rescale_intercept=per_frame(volume.rescale_intercept),
        positions=None if volume.positions is None else volume.positions[::step],
        sources=tuple(volume.sources[::step]),
    )


def _nifti_bytes(values: np.ndarray, volume: Volume) -> bytes:
    """NIfTI-1 bytes of ``(frames, rows, columns)`` values, voxel axes (column, row, frame)."""
    affine = _LPS_TO_RAS @ volume.affine[:, [2, 1, 0, 3]]
    image = nib.Nifti1Image(values.transpose(2, 1, 0), affine)
    image.set_sform(affine, code=1)  # scanner coordinates
    image.set_qform(affine, code=1)
    return image.to_bytes()


def _compact(values: np.ndarray) -> np.ndarray:
    """int16 when the values are integers that fit (CT), else float32."""
    if values.size and np.all(np.isfinite(values)) and values.min() >= -32768:
        if values.max() <= 32767 and np.array_equal(values, np.round(values)):
            return values.astype(np.int16)
    return values.astype(np.float32)


def _rgb(color, name: str) -> tuple[int, int, int]:
    if isinstance(color, str) and color.startswith("#") and len(color) == 7:
        return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    rgb = tuple(color) if not isinstance(color, str) else ()
    if len(rgb) != 3 or not all(isinstance(c, int | np.integer) and 0 <= c <= 255 for c in rgb):
        raise ValueError(f"colour of segment {name!r} must be (r, g, b) in 0..255 or '#rrggbb'")
    return tuple(int(c) for c in rgb)


def _labels_of(segments, shape: tuple[int, ...]) -> tuple[np.ndarray, dict[int, str]]:
    """A label array (0 = background) and the name of each label, in order."""
    if isinstance(segments, Mapping):
        labels = np.zeros(shape, np.uint8 if len(segments) < 256 else np.uint16)
        for value, (name, mask) in enumerate(segments.items(), start=1):
            mask = np.asarray(mask)
            if mask.shape != shape:
                raise ValueError(f"segment {name!r} has shape {mask.shape}, the volume {shape}")
            labels[mask != 0] = value  # a later segment wins where they overlap
        return labels, {value: str(name) for value, name in enumerate(segments, start=1)}
    array = np.asarray(segments)
    if array.shape != shape:
        raise ValueError(f"segments have shape {array.shape}, the volume {shape}")
    if array.dtype == bool:
        return array.astype(np.uint8), {1: "Segment 1"}
    if array.dtype.kind not in "iu":
        raise ValueError(f"segments must be integer labels or bool masks, not {array.dtype}")
    values = np.unique(array)
    if values.size and (values[0] < 0 or values[-1] > 65535):
        raise ValueError("segment labels must be in 0..65535 (0 = background)")
    labels = array.astype(np.uint8 if values.size and values[-1] < 256 else np.uint16)
    return labels, {int(v): f"Segment {v}" for v in values if v != 0}


def _label_layer(
    labels: np.ndarray,
    names: dict[int, str],
    colors: dict[str, tuple[int, int, int]],
    volume: Volume,
    opacity: float,
) -> NiiVolume:
    top = max(names, default=0)
    lut = [0] * (4 * (top + 1))
    label_names = [""] * (top + 1)
    for value, name in names.items():
        lut[4 * value : 4 * value + 4] = [*colors[name], 255]
        label_names[value] = name
    return NiiVolume(
        data=_nifti_bytes(labels, volume),
        name="segments.nii",
        opacity=float(opacity),
        colormap_label=LUT(lut=lut, min=0, max=top, labels=label_names),
    )


def _colors_of(names: dict[int, str], colors) -> dict[str, tuple[int, int, int]]:
    """Each segment's colour: from ``colors`` (in order, or by name or label), else the palette."""
    if colors is not None and not isinstance(colors, Mapping) and len(colors) < len(names):
        raise ValueError(f"colors gives {len(colors)} colours for {len(names)} segments")
    chosen = {}
    for i, (value, name) in enumerate(names.items()):
        if colors is None:
            color = SEGMENT_COLORS[(value - 1) % len(SEGMENT_COLORS)]
        elif not isinstance(colors, Mapping):
            color = colors[i]
        elif name in colors or value in colors:
            color = colors[name] if name in colors else colors[value]
        else:
            raise ValueError(f"colors gives no colour for segment {name!r}")
        chosen[name] = _rgb(color, name)
    return chosen


class View3D(NiiVue):
    """Turn around a volume rendering of a volume and its coloured segments (ipyniivue).

    Opens on an anterior view, head up, as anatomy atlases do. Left-drag rotates,
    the wheel zooms; ``mode`` also gives niivue's slice views. After display,
    ``view.set_volume_render_illumination(0.5)`` adds surface shading.

    Every view draws: displayed twice, or again in JupyterLab's "Create New View
    for Output", each view turns its own picture of the same volume, and closing
    one leaves the others drawn (ipyniivue alone draws a widget in its newest view
    only; ``static/view3d.js``). Each view holds its own copy of the volume in the
    browser's graphics memory.

    Parameters
    ----------
    volume_or_path : Volume or path
        A grayscale stack of slices, or a file, folder or zip :func:`dicomteach.io.load` reads.
    segments : array or dict, optional
        A label array (ints, 0 = background), a bool mask, or a dict name → mask,
        each the shape of ``volume.pixels``; where dict masks overlap, the later wins.
    window : Window, optional
        The grey ramp (transparent below, opaque above), in modality units; default
        :func:`~dicomteach.imaging.default_window`. Drawn linearly whatever its function.
    colors : sequence or dict, optional
        ``(r, g, b)`` 0..255 or ``'#rrggbb'``: one per segment in order, or keyed by
        segment name (dict segments) or label value; default :data:`SEGMENT_COLORS`.
    volume_opacity : float, optional
        Opacity of the grey rendering: default 1, or 0.6 with segments so that
        segments deep inside the body show through.
    segment_opacity : float
        Opacity of the segments.
    mode : str
        ``"render"`` (default), ``"multiplanar"``, ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    height : int
        Height in CSS pixels.
    max_voxels : int
        Above this, every ``step``-th voxel is shown (``view.volume`` is then the
        downsampled volume): a 3D overview does not need every voxel, and the
        browser and the kernel each hold a copy.
    **options
        More :class:`ipyniivue.config_options.ConfigOptions` (e.g. ``is_orient_cube=True``).

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import FrameAxis, Volume, Window
    >>> vol = Volume(np.zeros((4, 6, 6), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0),
    ...              np.eye(3), modality="CT", rescale_intercept=np.array([-1024.0]),
    ...              frame_axis=FrameAxis.SLICE)
    >>> mask = np.zeros((4, 6, 6), bool)
    >>> mask[1:3, 2:4, 2:4] = True
    >>> view = View3D(vol, {"tumour": mask}, window=Window(300, 1500))
    >>> view.segment_colors
    {'tumour': (128, 174, 128)}
    >>> view.volumes[0].cal_min, view.volumes[0].cal_max
    (-450.0, 1050.0)
    >>> View3D(vol, mask[:2])
    Traceback (most recent call last):
    ...
    ValueError: segments have shape (2, 6, 6), the volume (4, 6, 6)
    """

    _esm = _module_every_view_draws(Path(ipyniivue.__file__).parent / "static" / "widget.js")

    def __init__(
        self,
        volume_or_path: Volume | str | os.PathLike[str],
        segments: np.ndarray | Mapping[str, np.ndarray] | None = None,
        *,
        window: Window | None = None,
        colors: Sequence | Mapping | None = None,
        volume_opacity: float | None = None,
        segment_opacity: float = 1.0,
        mode: str = "render",
        height: int = 480,
        max_voxels: int = MAX_VOXELS,
        **options,
    ) -> None:
        volume = _volume_of(volume_or_path)
        if volume.is_color:
            raise ValueError("View3D shows grayscale volumes; this one is colour (RGB)")
        if volume.n_frames < 2 or volume.frame_axis is FrameAxis.TIME:
            what = "a cine loop" if volume.frame_axis is FrameAxis.TIME else "a single 2D image"
            raise ValueError(f"View3D needs a stack of slices; this volume is {what}")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {sorted(_MODES)}, not {mode!r}")
        labels, names = (None, {})
        if segments is not None:
            labels, names = _labels_of(segments, tuple(volume.pixels.shape))
        step = _step_for(volume.pixels.shape, max_voxels)
        volume = _downsampled(volume, step)
        if labels is not None:
            labels = np.ascontiguousarray(labels[::step, ::step, ::step])
        segment_colors = _colors_of(names, colors)
        window = window or default_window(volume)
        if volume_opacity is None:
            volume_opacity = 0.6 if names else 1.0
        layers = [
            NiiVolume(
                data=_nifti_bytes(_compact(modality_values(volume)), volume),
                name="volume.nii",
                colormap="gray",
                opacity=float(volume_opacity),
                cal_min=float(window.center - window.width / 2),
                cal_max=float(window.center + window.width / 2),
            )
        ]
        if labels is not None:
            layers.append(_label_layer(labels, names, segment_colors, volume, segment_opacity))
        options.setdefault("back_color", (0.0, 0.0, 0.0, 1.0))
        super().__init__(height=height, slice_type=_MODES[mode], **options)
        self.volume = volume
        self.window = window
        self.segment_colors = segment_colors
        """Each segment's name and its ``(r, g, b)`` colour."""
        self.scene.render_azimuth, self.scene.render_elevation = _ANTERIOR
        self.volumes = layers
