"""The Modality LUT: stored pixel values to modality values, PS3.3 C.11.1.

The modality LUT turns what the file stores into quantities with a meaning:
Hounsfield units for CT, optical density for film digitisers, counts or Bq/ml
for nuclear medicine. It is either a linear rescale (Rescale Slope (0028,1053)
and Rescale Intercept (0028,1052)) or a table (Modality LUT Sequence
(0028,3000)); the two are mutually exclusive, and when a file carries both the
table wins (as in pydicom).

Output type
-----------
The result is always floating point, so that every layer above sees one kind
of array:

* ``float32`` when every value the transform can produce is an integer of
  magnitude at most ``2**24`` (so float32 holds it exactly): an integer stored
  type with integral slopes and intercepts whose range, rescaled, stays within
  ``±2**24`` (int16 CT with slope 1 and intercept -1024, for instance), or a
  table of integer entries (Modality LUT entries have at most 16 bits);
* ``float64`` otherwise (a non-integral slope such as 3.774114, a float or
  32-bit stored type).

The rule depends on types and header values only, never on the pixel values,
so two slices of one series always get the same type. Values are identical to
those of :func:`pydicom.pixels.apply_modality_lut` (which always returns
float64 for a rescale and the table's unsigned type for a table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dicomteach.io.volume import LutTable

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from dicomteach.io.volume import Volume

__all__ = ["apply_modality_lut", "modality_values"]

FLOAT32_EXACT_LIMIT = 2**24
"""Largest integer magnitude below which every integer is exactly a float32."""


def _per_frame(name: str, value: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as float64, scalar-shaped or broadcastable along axis 0 of ``shape``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(
            f"Argument '{name}' must be a scalar or a 1-D array, not an array of shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Argument '{name}' must be finite, not {arr.tolist()}")
    if arr.ndim == 0 or arr.size == 1:
        return arr.reshape(())
    n_frames = shape[0] if len(shape) >= 3 else None
    if arr.size != n_frames:
        frames = (
            f"the array has {n_frames} frames"
            if n_frames is not None
            else f"a {len(shape)}-D array has no frame axis"
        )
        raise ValueError(
            f"Argument '{name}' must be a scalar or have one value per frame, "
            f"but it has {arr.size} values and {frames}"
        )
    return arr.reshape((arr.size,) + (1,) * (len(shape) - 1))


def _is_integral(arr: np.ndarray) -> bool:
    return bool(np.all(arr == np.round(arr)))


def _lookup_index(values: np.ndarray, first_mapped: int, n_entries: int) -> np.ndarray:
    """Table index of each value: ``floor(value - first_mapped)`` clipped to the table."""
    if np.issubdtype(values.dtype, np.integer):
        index = values.astype(np.int64) - int(first_mapped)
    else:
        # pydicom truncates (value - first_mapped) for values >= first_mapped and
        # maps the others to entry 0; floor then clip gives the same indices.
        index = np.floor(values.astype(np.float64) - first_mapped)
        index = np.nan_to_num(index, nan=0.0, posinf=n_entries - 1, neginf=0.0)
    return np.clip(index, 0, n_entries - 1).astype(np.intp)


def check_lut_table(name: str, table: LutTable) -> np.ndarray:
    """The table's entries as a 1-D array; ``ValueError`` naming ``name`` when unusable."""
    if not isinstance(table, LutTable):
        raise ValueError(f"Argument '{name}' must be a LutTable, not {type(table).__name__}")
    data = np.asarray(table.data)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(
            f"Argument '{name}' must hold a non-empty 1-D table, not data of shape {data.shape}"
        )
    if not 1 <= int(table.bits) <= 16:
        raise ValueError(f"Argument '{name}' must have 1 to 16 bits per entry, not {table.bits}")
    return data


def apply_modality_lut(
    stored: ArrayLike,
    slope: float | ArrayLike = 1.0,
    intercept: float | ArrayLike = 0.0,
    lut: LutTable | None = None,
) -> np.ndarray:
    """Apply the Modality LUT (rescale or table) to stored pixel values.

    Parameters
    ----------
    stored : array_like
        Stored pixel values, ``(rows, columns)`` or ``(frames, rows, columns)``.
    slope, intercept : float or array_like, optional
        Rescale Slope (0028,1053) and Rescale Intercept (0028,1052). Either
        scalars (or length-1 arrays) or 1-D arrays with one value per frame,
        matched to axis 0 of a ``(frames, rows, columns)`` array (enhanced
        multi-frame files rescale each frame separately). Ignored when `lut` is
        given. Output is ``stored * slope + intercept``.
    lut : LutTable, optional
        The first item of the Modality LUT Sequence (0028,3000). Stored values
        below ``lut.first_mapped`` map to ``lut.data[0]``, values at or beyond
        ``first_mapped + len(data) - 1`` map to ``lut.data[-1]``. Non-integer
        inputs use the entry at ``floor(value - first_mapped)``.

    Returns
    -------
    numpy.ndarray
        Modality values (e.g. Hounsfield units), same shape as `stored`:
        ``float32`` when exact, else ``float64`` (see the module docstring).

    Raises
    ------
    ValueError
        If per-frame `slope` or `intercept` do not match the number of frames,
        are not finite, or `lut` holds no 1-D table.

    References
    ----------
    DICOM PS3.3 C.11.1 (Modality LUT Module) and C.11.1.1.2 (Modality LUT and
    Rescale Type).

    Examples
    --------
    >>> import numpy as np
    >>> ct = np.array([[0, 1024, 2024]], dtype=np.int16)
    >>> apply_modality_lut(ct, slope=1, intercept=-1024)
    array([[-1024.,     0.,  1000.]], dtype=float32)
    >>> from dicomteach.io.volume import LutTable
    >>> table = LutTable(first_mapped=-2, bits=16, data=np.array([10, 20, 30]))
    >>> apply_modality_lut(np.array([-5, -2, -1, 0, 7]), lut=table)
    array([10., 10., 20., 30., 30.], dtype=float32)
    """
    arr = np.asarray(stored)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"Argument 'stored' must hold numbers, not values of type {arr.dtype}")

    if lut is not None:
        data = check_lut_table("lut", lut)
        exact = (
            np.issubdtype(data.dtype, np.integer)
            and np.abs(data.astype(np.int64)).max() <= FLOAT32_EXACT_LIMIT
        )
        table = data.astype(np.float32 if exact else np.float64)
        return table[_lookup_index(arr, lut.first_mapped, table.size)]

    slopes = _per_frame("slope", slope, arr.shape)
    intercepts = _per_frame("intercept", intercept, arr.shape)
    exact = False
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        info = np.iinfo(arr.dtype) if arr.dtype != np.bool_ else np.iinfo(np.uint8)
        largest_stored = max(abs(int(info.min)), abs(int(info.max)))
        largest = largest_stored * float(np.abs(slopes).max()) + float(np.abs(intercepts).max())
        exact = _is_integral(slopes) and _is_integral(intercepts) and largest <= FLOAT32_EXACT_LIMIT
    if exact:
        # Every product and sum is an integer below 2**24: float32 arithmetic is exact.
        out = arr.astype(np.float32)
        out *= slopes.astype(np.float32)
        out += intercepts.astype(np.float32)
        return out
    # Same operations, in the same order, as pydicom (bit-identical results).
    out = arr.astype(np.float64)
    out = out * slopes
    out += intercepts
    return out


def modality_values(volume: Volume) -> np.ndarray:
    """Modality values of a grayscale :class:`~dicomteach.io.volume.Volume`.

    Applies :func:`apply_modality_lut` with the volume's Modality LUT table
    when it has one, else with its per-frame ``rescale_slope`` and
    ``rescale_intercept`` (length ``volume.n_frames`` or 1).

    Parameters
    ----------
    volume : Volume
        A grayscale volume, pixels ``(frames, rows, columns)``.

    Returns
    -------
    numpy.ndarray
        ``(frames, rows, columns)`` modality values (Hounsfield units for CT),
        ``float32`` when exact, else ``float64``.

    Raises
    ------
    ValueError
        If the volume is colour (RGB has no modality LUT) or its rescale arrays
        do not have one value per frame.

    References
    ----------
    DICOM PS3.3 C.11.1 (Modality LUT Module).

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume
    >>> vol = Volume(
    ...     pixels=np.array([[[0, 1024]], [[0, 1024]]], dtype=np.int16),
    ...     spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=np.eye(3),
    ...     modality="CT", rescale_intercept=np.array([-1024.0, -1000.0]),
    ... )
    >>> modality_values(vol)
    array([[[-1024.,     0.]],
    <BLANKLINE>
           [[-1000.,    24.]]], dtype=float32)
    """
    if volume.is_color:
        raise ValueError("Argument 'volume' must be grayscale: colour pixels have no modality LUT")
    if volume.modality_lut is not None:
        return apply_modality_lut(volume.pixels, lut=volume.modality_lut)
    slope = np.atleast_1d(np.asarray(volume.rescale_slope, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(volume.rescale_intercept, dtype=np.float64))
    for name, values in (("rescale_slope", slope), ("rescale_intercept", intercept)):
        if values.size not in (1, volume.n_frames):
            raise ValueError(
                f"Volume.{name} must have 1 or {volume.n_frames} values (one per frame), "
                f"not {values.size}"
            )
    return apply_modality_lut(volume.pixels, slope=slope, intercept=intercept)
