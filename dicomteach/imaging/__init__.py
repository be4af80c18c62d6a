"""Pure numpy imaging: modality LUT, VOI LUT / windowing, presets, colour maps.

The reference implementation of what the browser draws: stored values →
modality values (:func:`apply_modality_lut`) → 8-bit display values
(:func:`window_to_uint8`, :func:`voi_lut_to_uint8`, MONOCHROME1 inverted last)
→ RGB (:func:`colormap`). No widgets, no files.
"""

from __future__ import annotations

from dicomteach.imaging.colormaps import Colormap, colormap
from dicomteach.imaging.modality import apply_modality_lut, modality_values
from dicomteach.imaging.planes import (
    LABEL_THRESHOLD,
    PLANES,
    PlaneLayout,
    extract_slice,
    native_plane,
    orientation_label,
    plane_layout,
    slice_index_to_volume,
)
from dicomteach.imaging.presets import (
    CT_PRESETS,
    CT_SOFT_TISSUE,
    PET_SUV_PRESET,
    Preset,
    auto_window,
    default_window,
    presets_for,
)
from dicomteach.imaging.quantise import quantise
from dicomteach.imaging.registration import INITIALISATIONS, Rigid, register_rigid
from dicomteach.imaging.resample import resample_to
from dicomteach.imaging.voi import (
    VOI_LUT_FUNCTIONS,
    apply_voi_lut_table,
    apply_window,
    round_to_uint8,
    voi_lut_to_uint8,
    window_to_uint8,
)

__all__ = [
    "CT_PRESETS",
    "CT_SOFT_TISSUE",
    "Colormap",
    "INITIALISATIONS",
    "LABEL_THRESHOLD",
    "PET_SUV_PRESET",
    "PLANES",
    "PlaneLayout",
    "Preset",
    "Rigid",
    "VOI_LUT_FUNCTIONS",
    "apply_modality_lut",
    "apply_voi_lut_table",
    "apply_window",
    "auto_window",
    "colormap",
    "default_window",
    "extract_slice",
    "modality_values",
    "native_plane",
    "orientation_label",
    "plane_layout",
    "presets_for",
    "quantise",
    "register_rigid",
    "resample_to",
    "round_to_uint8",
    "slice_index_to_volume",
    "voi_lut_to_uint8",
    "window_to_uint8",
]
