"""Display layouts of axial, coronal and sagittal planes through a volume.

A browser viewer shows a :class:`~dicomteach.io.volume.Volume` in three
planes. For each one, :func:`plane_layout` says which array axis the slider
runs along, which array axes run down and across the screen, whether those
are flipped, and which patient-direction letters sit at the edges of the
image. :func:`extract_slice` is the reference 2D image a viewer must draw for a
slice of that layout; the JavaScript viewer mirrors it and tests compare both.

Rules
-----
* **Axes.** Each patient axis (x: L–R, y: A–P, z: S–I, LPS) is paired with the
  array axis whose direction is most aligned with it, each array axis used
  once: of the six pairings, the one with the largest sum of ``|cos|`` wins
  (the first in ``itertools.permutations`` order on a tie), so oblique
  stacks get a deterministic layout. A plane's slice axis is the array axis
  paired with its normal (axial: z, coronal: y, sagittal: x).
* **Native plane** (slice axis 0, the acquisition plane) is displayed as
  stored: rows down, columns across, no flips; its letters come from the
  direction cosines, so a stack stored upside down shows ``P`` at the top.
* **Reformatted planes** follow the radiological convention: axial —
  screen-right is the patient's left (+x), screen-down posterior (+y);
  coronal — screen-right +x, screen-down inferior (−z); sagittal —
  screen-right posterior (+y), screen-down inferior (−z). Flips make the
  displayed axes point that way.
* The slice index of every plane is the array index along its slice axis
  (never flipped).

Examples
--------
>>> axial_ct = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]  # frames go up (+z), rows to P, columns to L
>>> layout = plane_layout(axial_ct, (2.5, 0.7, 0.7), (120, 512, 512), "coronal")
>>> layout.slice_axis, layout.row_axis, layout.col_axis, layout.flip_rows
(1, 0, 2, True)
>>> layout.letters
{'top': 'S', 'bottom': 'I', 'left': 'R', 'right': 'L'}
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "LABEL_THRESHOLD",
    "PLANES",
    "PlaneLayout",
    "extract_slice",
    "native_plane",
    "orientation_label",
    "plane_layout",
    "slice_index_to_volume",
]

#: The three standard planes, in the order viewers list them.
PLANES = ("axial", "coronal", "sagittal")

LABEL_THRESHOLD = 0.1
"""Direction components smaller than this (about 6° off an axis) get no letter."""

_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))  # (+, −) for x, y, z (LPS)
_NORMAL = {"axial": 2, "coronal": 1, "sagittal": 0}  # patient axis of each plane's normal
# patient axis and sign pointing screen-down and screen-right in a reformatted plane
_SCREEN = {
    "axial": ((1, 1.0), (0, 1.0)),
    "coronal": ((2, -1.0), (0, 1.0)),
    "sagittal": ((2, -1.0), (1, 1.0)),
}


def orientation_label(vector: Sequence[float] | np.ndarray) -> str:
    """The patient-direction letters a direction points to (LPS), largest component first.

    ``+x`` is ``L``, ``−x`` ``R``, ``+y`` ``P``, ``−y`` ``A``, ``+z`` ``S``,
    ``−z`` ``I`` (PS3.3 C.7.6.1.1.1, Patient Orientation). The vector is
    normalised; components whose magnitude is below :data:`LABEL_THRESHOLD`
    are ignored, so a nearly axial direction gets one letter and an oblique
    one two or three, ordered by magnitude (ties: x, then y, then z).

    Parameters
    ----------
    vector : sequence of 3 float
        A direction in LPS coordinates (any non-zero length).

    Returns
    -------
    str
        One to three letters, e.g. ``"L"`` or ``"LP"``.

    Raises
    ------
    ValueError
        If `vector` does not hold three finite numbers or is zero.

    Examples
    --------
    >>> orientation_label([1, 0, 0]), orientation_label([0, 0, -1])
    ('L', 'I')
    >>> orientation_label([0.94, -0.34, 0.0])
    'LA'
    >>> orientation_label([0.999, 0.03, 0.0])
    'L'
    """
    v = np.asarray(vector, dtype=float)
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise ValueError(f"Argument 'vector' must hold 3 finite numbers, not {v.tolist()}")
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise ValueError("Argument 'vector' must not be zero: a zero vector has no direction")
    v = v / norm
    order = sorted(range(3), key=lambda a: -abs(v[a]))  # stable: ties keep x, y, z order
    return "".join(_LETTERS[a][0 if v[a] > 0 else 1] for a in order if abs(v[a]) >= LABEL_THRESHOLD)


@dataclass(frozen=True)
class PlaneLayout:
    """How one plane of a volume is displayed (see the module docstring for the rules).

    The displayed image of slice ``s`` is ``array`` indexed at ``s`` along
    ``slice_axis``, with its remaining axes ordered ``(row_axis, col_axis)``,
    then flipped up–down when ``flip_rows`` and left–right when ``flip_cols``
    (:func:`extract_slice`).
    """

    plane: str
    """One of :data:`PLANES`."""
    native: bool
    """True for the acquisition plane (slice axis 0), displayed as stored."""
    slice_axis: int
    """Array axis (0, 1 or 2) the slice index runs along."""
    row_axis: int
    """Array axis that runs down the screen (before ``flip_rows``)."""
    col_axis: int
    """Array axis that runs across the screen (before ``flip_cols``)."""
    flip_rows: bool
    """Display the rows in reverse order (bottom to top)."""
    flip_cols: bool
    """Display the columns in reverse order (right to left)."""
    n_slices: int
    rows: int
    """Displayed height in pixels."""
    cols: int
    """Displayed width in pixels."""
    row_spacing: float
    """Millimetres between displayed rows (pixel height)."""
    col_spacing: float
    """Millimetres between displayed columns (pixel width)."""
    slice_spacing: float
    """Millimetres between slices of this plane."""
    letters: dict[str, str] = field(default_factory=dict)
    """Patient-direction letters at the ``top``, ``bottom``, ``left`` and ``right`` edges."""

    def as_dict(self) -> dict:
        """JSON-friendly values (plain ``str``, ``bool``, ``int``, ``float``, ``dict``).

        Examples
        --------
        >>> import json
        >>> axial_ct = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
        >>> layout = plane_layout(axial_ct, (3.0, 1.0, 1.0), (10, 20, 30), "axial")
        >>> json.loads(json.dumps(layout.as_dict()))["letters"]["left"]
        'R'
        """
        return {
            "plane": str(self.plane),
            "native": bool(self.native),
            "slice_axis": int(self.slice_axis),
            "row_axis": int(self.row_axis),
            "col_axis": int(self.col_axis),
            "flip_rows": bool(self.flip_rows),
            "flip_cols": bool(self.flip_cols),
            "n_slices": int(self.n_slices),
            "rows": int(self.rows),
            "cols": int(self.cols),
            "row_spacing": float(self.row_spacing),
            "col_spacing": float(self.col_spacing),
            "slice_spacing": float(self.slice_spacing),
            "letters": {k: str(v) for k, v in self.letters.items()},
        }


def _check_direction(direction: object) -> np.ndarray:
    d = np.asarray(direction, dtype=float)
    if d.shape != (3, 3) or not np.all(np.isfinite(d)):
        raise ValueError(f"Argument 'direction' must be a finite 3×3 matrix, not shape {d.shape}")
    norms = np.linalg.norm(d, axis=1)
    if np.any(norms == 0.0):
        raise ValueError(f"Argument 'direction' has a zero row: {d.tolist()}")
    return d / norms[:, None]


def _axis_pairing(direction: np.ndarray) -> tuple[int, int, int]:
    """``pairing[p]``: the array axis paired with patient axis ``p`` (x, y, z)."""
    cosines = np.abs(direction)  # [array axis, patient axis]
    best, best_score = (0, 1, 2), -1.0
    for perm in itertools.permutations(range(3)):
        score = float(sum(cosines[perm[p], p] for p in range(3)))
        if score > best_score + 1e-9:
            best, best_score = perm, score
    return best  # type: ignore[return-value]


def native_plane(direction: Sequence[Sequence[float]] | np.ndarray) -> str:
    """The plane whose slice axis is array axis 0: the plane the images were acquired in.

    Parameters
    ----------
    direction : 3×3 array_like
        ``Volume.direction``: row ``a`` is the LPS unit vector of array axis ``a``.

    Returns
    -------
    str
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.

    Examples
    --------
    >>> native_plane([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    'sagittal'
    """
    pairing = _axis_pairing(_check_direction(direction))
    patient_axis = pairing.index(0)
    return next(p for p, axis in _NORMAL.items() if axis == patient_axis)


def plane_layout(
    direction: Sequence[Sequence[float]] | np.ndarray,
    spacing: Sequence[float],
    shape: Sequence[int],
    plane: str,
) -> PlaneLayout:
    """The display layout of one plane of a volume.

    Parameters
    ----------
    direction : 3×3 array_like
        ``Volume.direction``: row ``a`` is the LPS unit vector of array axis ``a``.
    spacing : sequence of 3 float
        ``Volume.spacing`` (mm, array axis order).
    shape : sequence of int
        ``Volume.pixels.shape``: ``(frames, rows, columns)``, optionally
        followed by a sample axis (colour), which is ignored.
    plane : {"axial", "coronal", "sagittal"}

    Returns
    -------
    PlaneLayout

    Raises
    ------
    ValueError
        For an unknown plane, a malformed direction, spacing or shape, or a
        plane other than the native one of a single-frame image.

    Examples
    --------
    >>> axial_ct = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]  # Volume.direction of an axial CT
    >>> axial = plane_layout(axial_ct, (2.5, 0.7, 0.7), (120, 512, 512), "axial")
    >>> axial.native, axial.letters["left"], axial.letters["top"]
    (True, 'R', 'A')
    >>> sagittal = plane_layout(axial_ct, (2.5, 0.7, 0.7), (120, 512, 512), "sagittal")
    >>> sagittal.row_axis, sagittal.col_axis, sagittal.rows, sagittal.cols
    (0, 1, 120, 512)
    >>> sagittal.letters
    {'top': 'S', 'bottom': 'I', 'left': 'A', 'right': 'P'}
    """
    if plane not in _NORMAL:
        raise ValueError(f"Argument 'plane' must be one of {', '.join(PLANES)}, not {plane!r}")
    d = _check_direction(direction)
    sp = tuple(float(s) for s in spacing)
    if len(sp) != 3 or not all(np.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"Argument 'spacing' must be 3 positive numbers, not {list(spacing)}")
    dims = tuple(int(n) for n in shape)
    if len(dims) not in (3, 4) or min(dims[:3]) < 1:
        raise ValueError(
            f"Argument 'shape' must be (frames, rows, columns[, samples]) ≥ 1, not {dims}"
        )
    pairing = _axis_pairing(d)
    slice_axis = pairing[_NORMAL[plane]]
    native = slice_axis == 0
    if dims[0] == 1 and not native:
        raise ValueError(
            f"A single-frame image has only its native {native_plane(d)} plane, not {plane}"
        )
    if native:
        row_axis, col_axis, flip_rows, flip_cols = 1, 2, False, False
    else:
        (down_axis, down_sign), (right_axis, right_sign) = _SCREEN[plane]
        row_axis, col_axis = pairing[down_axis], pairing[right_axis]
        flip_rows = bool(d[row_axis, down_axis] * down_sign < 0)
        flip_cols = bool(d[col_axis, right_axis] * right_sign < 0)
    down = -d[row_axis] if flip_rows else d[row_axis]
    right = -d[col_axis] if flip_cols else d[col_axis]
    letters = {
        "top": orientation_label(-down),
        "bottom": orientation_label(down),
        "left": orientation_label(-right),
        "right": orientation_label(right),
    }
    return PlaneLayout(
        plane=plane,
        native=native,
        slice_axis=int(slice_axis),
        row_axis=int(row_axis),
        col_axis=int(col_axis),
        flip_rows=flip_rows,
        flip_cols=flip_cols,
        n_slices=dims[slice_axis],
        rows=dims[row_axis],
        cols=dims[col_axis],
        row_spacing=sp[row_axis],
        col_spacing=sp[col_axis],
        slice_spacing=sp[slice_axis],
        letters=letters,
    )


def _index(name: str, value: object, size: int) -> int:
    try:
        i = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"Argument '{name}' must be an integer, not {value!r}") from None
    if not 0 <= i < size:
        raise ValueError(f"Argument '{name}' must be in [0, {size - 1}], not {i}")
    return int(i)


def extract_slice(array: np.ndarray, layout: PlaneLayout, index: int) -> np.ndarray:
    """The 2D image a viewer displays for slice `index` of `layout`.

    Parameters
    ----------
    array : numpy.ndarray
        Values on the volume's grid, ``(frames, rows, columns)`` (stored
        values, modality values or a mask), or ``(frames, rows, columns, 3)``
        for colour (the sample axis stays last).
    layout : PlaneLayout
        From :func:`plane_layout` for this array's shape.
    index : int
        Slice number, ``0 <= index < layout.n_slices`` (no negative indices).

    Returns
    -------
    numpy.ndarray
        ``(layout.rows, layout.cols)`` (``[..., 3]`` for colour): a view of
        `array` where possible; copy it before writing into it.

    Raises
    ------
    ValueError
        If `array` does not have the shape `layout` was made for, or `index`
        is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.arange(3)[:, None, None] * np.ones((3, 2, 4), int)  # value = slice number
    >>> axial_ct = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
    >>> layout = plane_layout(axial_ct, (1.0, 1.0, 1.0), z.shape, "coronal")
    >>> extract_slice(z, layout, 0)  # superior (the last slice) at the top
    array([[2, 2, 2, 2],
           [1, 1, 1, 1],
           [0, 0, 0, 0]])
    """
    arr = np.asarray(array)
    if arr.ndim not in (3, 4):
        raise ValueError(
            f"Argument 'array' must be (frames, rows, columns[, 3]), not shape {arr.shape}"
        )
    expected = [0, 0, 0]
    expected[layout.slice_axis] = layout.n_slices
    expected[layout.row_axis] = layout.rows
    expected[layout.col_axis] = layout.cols
    if list(arr.shape[:3]) != expected:
        raise ValueError(
            f"Argument 'array' has shape {arr.shape[:3]}, but the {layout.plane} layout "
            f"was made for {tuple(expected)}"
        )
    k = _index("index", index, layout.n_slices)
    image = np.take(arr, k, axis=layout.slice_axis)  # remaining axes in ascending order
    if layout.row_axis > layout.col_axis:
        image = np.swapaxes(image, 0, 1)
    if layout.flip_rows:
        image = image[::-1]
    if layout.flip_cols:
        image = image[:, ::-1]
    return image


def slice_index_to_volume(
    layout: PlaneLayout, index: int, row: int, col: int
) -> tuple[int, int, int]:
    """Array indices ``(frame, row, column)`` of displayed pixel ``(row, col)`` of slice `index`.

    The inverse of :func:`extract_slice` for one pixel, for cursor readouts:
    ``extract_slice(a, layout, index)[row, col]`` is
    ``a[slice_index_to_volume(layout, index, row, col)]``.

    Raises
    ------
    ValueError
        If `index`, `row` or `col` is not an integer inside the layout.

    Examples
    --------
    >>> axial_ct = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
    >>> layout = plane_layout(axial_ct, (1.0, 1.0, 1.0), (3, 2, 4), "coronal")
    >>> slice_index_to_volume(layout, 1, 0, 3)
    (2, 1, 3)
    """
    k = _index("index", index, layout.n_slices)
    r = _index("row", row, layout.rows)
    c = _index("col", col, layout.cols)
    out = [0, 0, 0]
    out[layout.slice_axis] = k
    out[layout.row_axis] = layout.rows - 1 - r if layout.flip_rows else r
    out[layout.col_axis] = layout.cols - 1 - c if layout.flip_cols else c
    return (out[0], out[1], out[2])
