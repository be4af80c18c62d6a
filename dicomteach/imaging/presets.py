"""Window presets a learner picks with the keys 1–9, and the window shown first.

Presets are in the units the learner sees after the modality LUT: Hounsfield
units for CT, SUV for PET. Radiologists write windows as width/level
("W80 L40"); :class:`Preset` stores ``center`` (= level) and ``width``.

* CT: :data:`CT_PRESETS` (brain, subdural, stroke, lung, mediastinum, abdomen,
  liver, bone), then the header windows.
* PT: :data:`PET_SUV_PRESET` (SUV 0–10, ``hot``), then the header windows.
* Every other modality (MR, CR, DX, MG, US, XA, NM, …): the header windows,
  or, when there are none, one automatic window from the values
  (:func:`auto_window`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dicomteach.imaging.colormaps import Colormap
from dicomteach.imaging.modality import modality_values
from dicomteach.imaging.voi import _check_function
from dicomteach.io.volume import Window

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from dicomteach.io.volume import Volume

__all__ = [
    "CT_PRESETS",
    "CT_SOFT_TISSUE",
    "PET_SUV_PRESET",
    "Preset",
    "auto_window",
    "default_window",
    "presets_for",
]


@dataclass(frozen=True)
class Preset:
    """A named window for a button or a number key, in modality units.

    ``function`` is the VOI LUT Function the window is applied with
    (``LINEAR`` for the CT presets, as a CT console does; header windows keep
    the function of their header).
    """

    name: str
    center: float
    width: float
    colormap: str = Colormap.GRAY.value
    function: str = "LINEAR"

    def __post_init__(self) -> None:
        function = _check_function(self.function)
        if function == "LINEAR" and not self.width >= 1:
            raise ValueError(
                f"Argument 'width' must be >= 1 for LINEAR windows, not {self.width!r}"
            )
        if function != "LINEAR" and not self.width > 0:
            raise ValueError(
                f"Argument 'width' must be > 0 for {function} windows, not {self.width!r}"
            )
        if self.colormap not in set(Colormap):
            names = " or ".join(repr(c.value) for c in Colormap)
            raise ValueError(f"Argument 'colormap' must be one of {names}, not {self.colormap!r}")

    @property
    def window(self) -> Window:
        """The preset as a :class:`~dicomteach.io.volume.Window` (explanation = name)."""
        return Window(self.center, self.width, explanation=self.name, function=self.function)

    @property
    def label(self) -> str:
        """Button text in the radiologist's notation, e.g. ``Brain W80 L40``."""
        return f"{self.name} W{self.width:g} L{self.center:g}"


CT_PRESETS: tuple[Preset, ...] = (
    Preset("Brain", center=40, width=80),
    Preset("Subdural", center=75, width=200),
    Preset("Stroke", center=40, width=40),
    Preset("Lung", center=-600, width=1500),
    Preset("Mediastinum", center=50, width=350),
    Preset("Abdomen", center=50, width=400),
    Preset("Liver", center=30, width=150),
    Preset("Bone", center=400, width=1800),
)
"""CT presets in Hounsfield units, in key order 1–8 (width/level as usually written)."""

CT_SOFT_TISSUE = Window(center=40, width=400, explanation="Soft tissue")
"""What a CT without a header window is first shown with (W400 L40)."""

PET_SUV_PRESET = Preset(
    "SUV 0-10", center=5, width=10, colormap=Colormap.HOT.value, function="LINEAR_EXACT"
)
"""PET uptake from SUV 0 (black) to SUV 10 (white); LINEAR_EXACT as SUV is continuous."""


def auto_window(values: ArrayLike, low: float = 0.5, high: float = 99.5) -> Window:
    """A window spanning the ``low``–``high`` percentiles of the values.

    Pixels equal to the minimum are left out first (the zero background of MR,
    padding outside a circular field of view), unless every pixel has that
    value. NaN and infinite values are ignored. The window is ``LINEAR_EXACT``,
    so the ``low`` percentile maps exactly to black and ``high`` to white;
    when both percentiles are equal the width is 1.

    Parameters
    ----------
    values : array_like
        Modality values of an image or a volume.
    low, high : float, optional
        Percentiles (0–100) mapped to black and white.

    Returns
    -------
    Window
        Explanation ``"Auto"``, function ``LINEAR_EXACT``.

    Raises
    ------
    ValueError
        If ``not 0 <= low < high <= 100`` or there is no finite value.

    References
    ----------
    DICOM PS3.3 C.11.2.1.3.2 (LINEAR_EXACT). The percentile rule is
    dicomteach's, not the standard's.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((10, 10))
    >>> image[2:8, 2:8] = np.arange(36).reshape(6, 6) + 100
    >>> auto_window(image, low=0, high=100)
    Window(center=117.5, width=35.0, explanation='Auto', function='LINEAR_EXACT')
    """
    if not 0 <= low < high <= 100:
        raise ValueError(
            f"Arguments 'low' and 'high' must satisfy 0 <= low < high <= 100, not {low!r} and {high!r}"
        )
    arr = np.asarray(values, dtype=np.float64).ravel()
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        raise ValueError("Argument 'values' must contain at least one finite value")
    foreground = arr[arr != arr.min()]
    if foreground.size:
        arr = foreground
    lo, hi = (float(p) for p in np.percentile(arr, [low, high]))
    if hi > lo:
        return Window((lo + hi) / 2, hi - lo, explanation="Auto", function="LINEAR_EXACT")
    return Window(lo, 1.0, explanation="Auto", function="LINEAR_EXACT")


def _header_name(window: Window, number: int) -> str:
    """A header window's button name: its explanation, unless that says nothing.

    Scanners fill Window Center & Width Explanation with placeholders
    ("WINDOW1", "WINDOW2"); those, and an empty one, become the window as a
    console writes it, width/level.

    >>> _header_name(Window(40, 400, explanation="WINDOW1"), 1)
    'Header 400/40'
    >>> _header_name(Window(-600, 1500, explanation="Lung"), 2)
    'Lung'
    """
    text = window.explanation.strip()
    if text and not re.fullmatch(r"(?i)(window|w)\s*\d*", text):
        return text
    return f"Header {float(window.width):g}/{float(window.center):g}"


def _header_presets(header_windows: Iterable[Window], colormap: str) -> list[Preset]:
    presets = []
    for i, window in enumerate(header_windows, start=1):
        if not isinstance(window, Window):
            raise ValueError(
                f"Argument 'header_windows' must hold Window objects, not {type(window).__name__}"
            )
        presets.append(
            Preset(
                _header_name(window, i),
                center=float(window.center),
                width=float(window.width),
                colormap=colormap,
                function=(window.function or "LINEAR").strip().upper(),
            )
        )
    return presets


def presets_for(
    modality: str,
    values: ArrayLike | None = None,
    header_windows: Iterable[Window] = (),
) -> list[Preset]:
    """The window presets offered for a modality, in key order.

    Parameters
    ----------
    modality : str
        Modality (0008,0060), e.g. ``"CT"``, ``"PT"``, ``"MR"`` (case ignored).
    values : array_like, optional
        Modality values, used for the automatic window when there is no
        header window (never for CT).
    header_windows : iterable of Window, optional
        The windows of the header (``Volume.windows``); each becomes a preset
        named by its explanation, or ``"Header 1"``, ``"Header 2"``…

    Returns
    -------
    list of Preset
        CT: :data:`CT_PRESETS` then the header windows. PT:
        :data:`PET_SUV_PRESET` then the header windows (all ``hot``), then
        ``Auto`` when there is no header window and `values` is given. Other
        modalities: the header windows, else ``Auto`` when `values` is given,
        else an empty list.

    References
    ----------
    DICOM PS3.3 C.11.2.1.2 (Window Center and Window Width).

    Examples
    --------
    >>> [p.label for p in presets_for("CT")][:3]
    ['Brain W80 L40', 'Subdural W200 L75', 'Stroke W40 L40']
    >>> from dicomteach.io.volume import Window
    >>> presets_for("MR", header_windows=[Window(600, 1600)])
    [Preset(name='Header 1600/600', center=600.0, width=1600.0, colormap='gray', function='LINEAR')]
    """
    key = str(modality).strip().upper()
    if key == "CT":
        return [*CT_PRESETS, *_header_presets(header_windows, Colormap.GRAY.value)]
    if key == "PT":
        header = _header_presets(header_windows, Colormap.HOT.value)
        presets = [PET_SUV_PRESET, *header]
        if not header and values is not None:
            auto = auto_window(values)
            presets.append(
                Preset("Auto", auto.center, auto.width, Colormap.HOT.value, auto.function)
            )
        return presets
    header = _header_presets(header_windows, Colormap.GRAY.value)
    if header or values is None:
        return header
    auto = auto_window(values)
    return [Preset("Auto", auto.center, auto.width, Colormap.GRAY.value, auto.function)]


def default_window(volume: Volume) -> Window:
    """The window a viewer shows a volume with first.

    In order: the first header window (``volume.windows[0]``); for CT,
    :data:`CT_SOFT_TISSUE` (W400 L40); for PT in SUV units, SUV 0–10; else
    :func:`auto_window` of the modality values. Colour volumes get the
    identity window (center 128, width 256: 0..255 drawn as stored).

    Parameters
    ----------
    volume : Volume
        The volume to display.

    Returns
    -------
    Window
        In modality units.

    References
    ----------
    DICOM PS3.3 C.11.2 (VOI LUT Module).

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume
    >>> ct = Volume(np.zeros((1, 2, 2), np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0),
    ...             np.eye(3), modality="CT")
    >>> default_window(ct)
    Window(center=40, width=400, explanation='Soft tissue', function='LINEAR')
    """
    if volume.is_color:
        # LINEAR with center 128, width 256 maps every 8-bit value to itself.
        return Window(center=128, width=256, explanation="As stored")
    if volume.windows:
        return volume.windows[0]
    modality = volume.modality.strip().upper()
    if modality == "CT":
        return CT_SOFT_TISSUE
    if modality == "PT" and volume.units.strip().upper().startswith("SUV"):
        return PET_SUV_PRESET.window
    return auto_window(modality_values(volume))
