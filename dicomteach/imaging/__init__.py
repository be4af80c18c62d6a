"""Pure numpy imaging: modality LUT, VOI LUT / windowing, presets, colour maps.

The reference implementation of what the browser draws: stored values →
modality values (:func:`apply_modality_lut`) → 8-bit display values
(:func:`window_to_uint8`, :func:`voi_lut_to_uint8`, MONOCHROME1 inverted last)
→ RGB (:func:`colormap`). No widgets, no files.
"""

from __future__ import annotations

from dicomteach.imaging.colormaps import Colormap, colormap
from dicomteach.imaging.modality import apply_modality_lut, modality_values
from dicomteach.imaging.presets import (
    CT_PRESETS,
    CT_SOFT_TISSUE,
    PET_SUV_PRESET,
    Preset,
    auto_window,
    default_window,
    presets_for,
)
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
    "PET_SUV_PRESET",
    "Preset",
    "VOI_LUT_FUNCTIONS",
    "apply_modality_lut",
    "apply_voi_lut_table",
    "apply_window",
    "auto_window",
    "colormap",
    "default_window",
    "modality_values",
    "presets_for",
    "round_to_uint8",
    "voi_lut_to_uint8",
    "window_to_uint8",
]
