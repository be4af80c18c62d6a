"""A CT as the nodule model reads it: Hounsfield units on the model's grid, cropped to the lungs.

The model was trained on one grid (:data:`MODEL_SPACING`: 2.5 mm slices,
1.25 mm pixels) whatever the scanner's field of view, so a CT is resampled to
it first (trilinear, :func:`model_grid`) and read only inside the box round
its lungs, plus a margin (:func:`lung_box`). A :class:`ModelGrid` remembers
where that grid lies in the CT, so that what the model finds goes back to the
CT's own voxels and patient millimetres (``Volume.index_to_lps``).

Everything here is numpy and scipy: the same function prepares the training
cases (:mod:`dicomteach.ai.cases`) and the CT a learner opens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dicomteach.ai.errors import ModelInputError
from dicomteach.imaging.modality import modality_values
from dicomteach.io.volume import FrameAxis, Volume

#: The model's grid (mm): between slices, between rows, between columns.
MODEL_SPACING = (2.5, 1.25, 1.25)
#: Below this (HU) a voxel is air or lung when the lungs are looked for.
AIR_HU = -400.0
#: Air regions smaller than this (mL) are not lung (bowel gas, a bubble in the oesophagus).
LUNG_MIN_ML = 30.0
#: Margin (mm) kept round the lungs in-plane, and along the body's axis.
MARGIN_MM = (5.0, 10.0, 10.0)
#: The fewest slices the model reads (it sees two either side of each).
MIN_SLICES = 5


@dataclass(frozen=True)
class ModelGrid:
    """Where the model's grid lies in a CT: model voxel ``m`` is CT voxel ``offset + m·step``.

    ``hu`` holds the CT's Hounsfield units on that grid (float32, slices ×
    rows × columns), ``shape`` is the CT's own.
    """

    hu: np.ndarray
    offset: tuple[float, float, float]
    step: tuple[float, float, float]
    shape: tuple[int, int, int]

    def to_volume(self, index: np.ndarray) -> np.ndarray:
        """CT voxel indices (fractional) of model voxel indices ``(..., 3)``.

        >>> grid = ModelGrid(np.zeros((2, 2, 2), np.float32), (3.0, 10.0, 20.0), (1.0, 2.0, 2.0),
        ...                  (9, 64, 64))
        >>> grid.to_volume(np.array([1, 1, 0])).tolist()
        [4.0, 12.0, 20.0]
        """
        return np.asarray(self.offset) + np.asarray(index, dtype=float) * np.asarray(self.step)

    def to_model(self, index: np.ndarray) -> np.ndarray:
        """Model voxel indices (fractional) of CT voxel indices ``(..., 3)``."""
        return (np.asarray(index, dtype=float) - np.asarray(self.offset)) / np.asarray(self.step)


def hounsfield(volume: Volume) -> np.ndarray:
    """The Hounsfield units of an axial CT stack, checked for what the model can read.

    Raises :class:`ModelInputError` (one line, naming the series' first file)
    for a colour image, a single image or a cine loop, fewer than
    :data:`MIN_SLICES` slices, another modality than CT, or slices that are
    not axial.

    >>> vol = Volume(np.zeros((2, 8, 8), np.int16), (2.5, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3),
    ...              modality="CT", frame_axis=FrameAxis.SLICE)
    >>> hounsfield(vol)
    Traceback (most recent call last):
    ...
    dicomteach.ai.errors.ModelInputError: 2 slices: the nodule model needs at least 5 slices of a chest CT
    """
    if not isinstance(volume, Volume):
        raise ModelInputError(
            f"the nodule model reads a CT Volume (dicomteach.io.load), not {type(volume).__name__}"
        )
    where = volume.sources[0][0] if volume.sources else None
    if volume.is_color or volume.pixels.ndim != 3:
        raise ModelInputError(
            f"pixels of shape {tuple(volume.pixels.shape)}: the nodule model needs grey slices",
            where,
        )
    if volume.modality and volume.modality != "CT":
        raise ModelInputError(f"a {volume.modality} image: the nodule model reads CT", where)
    if volume.frame_axis not in (FrameAxis.SLICE,) or volume.n_frames < MIN_SLICES:
        what = f"{volume.n_frames} slices" if volume.n_frames > 1 else "one image"
        raise ModelInputError(
            f"{what}: the nodule model needs at least {MIN_SLICES} slices of a chest CT", where
        )
    normal = np.asarray(volume.direction, dtype=float)[0]
    if abs(normal[2]) < 0.95:
        raise ModelInputError(
            "slices are not axial (their normal is "
            f"{np.round(normal, 2).tolist()}): the nodule model reads axial CT",
            where,
        )
    if volume.rows < 32 or volume.columns < 32:
        raise ModelInputError(
            f"slices of {volume.rows}×{volume.columns} pixels: too small for a chest CT", where
        )
    return modality_values(volume).astype(np.float32, copy=False)


def lung_box(
    hu: np.ndarray, spacing: tuple[float, float, float]
) -> tuple[slice, slice, slice] | None:
    """The box (slices, rows, columns) round the lungs of a CT in HU, with :data:`MARGIN_MM`.

    The lungs are the air inside the body: regions below :data:`AIR_HU` that
    do not reach the edge of the slice (the room's air, the table's foam,
    the padding outside the reconstructed circle all do) and hold at least
    :data:`LUNG_MIN_ML`. Found on every fourth pixel, so it costs little.
    None when there is no such air (a CT of the head, an empty image).

    >>> hu = np.full((20, 64, 64), -1000.0, np.float32)
    >>> hu[:, 8:56, 8:56] = 40.0
    >>> hu[4:16, 16:48, 12:30] = -850.0  # a lung
    >>> lung_box(hu, (2.5, 2.0, 2.0))
    (slice(2, 18, None), slice(11, 53, None), slice(7, 35, None))
    """
    from scipy import ndimage

    stride = max(1, int(4.0 // max(spacing[1], 1e-3)))
    coarse = hu[:, ::stride, ::stride] < AIR_HU
    labels, count = ndimage.label(coarse)
    if count == 0:
        return None
    edge = np.unique(
        np.concatenate(
            [labels[:, 0, :].ravel(), labels[:, -1, :].ravel()]
            + [labels[:, :, 0].ravel(), labels[:, :, -1].ravel()]
        )
    )
    sizes = np.bincount(labels.ravel(), minlength=count + 1).astype(float)
    voxel_ml = spacing[0] * (spacing[1] * stride) * (spacing[2] * stride) / 1000.0
    keep = sizes * voxel_ml >= LUNG_MIN_ML
    keep[0] = False
    keep[edge] = False
    if not keep.any():
        return None
    found = keep[labels]
    box = []
    for axis, (step, margin, size) in enumerate(
        zip((1, stride, stride), MARGIN_MM, hu.shape, strict=True)
    ):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(found.any(axis=other))
        pad = int(np.ceil(margin / spacing[axis]))
        low = max(int(hits[0]) * step - pad, 0)
        high = min(int(hits[-1]) * step + step + pad, size)
        box.append(slice(low, high))
    return tuple(box)  # type: ignore[return-value]


def model_grid(
    hu: np.ndarray,
    spacing: tuple[float, float, float],
    box: tuple[slice, slice, slice] | None = None,
    model_spacing: tuple[float, float, float] = MODEL_SPACING,
) -> ModelGrid:
    """``hu`` (or its ``box``) resampled trilinearly to the model's grid.

    The first voxel of the box is the first of the grid; the grid goes on in
    steps of ``model_spacing`` as far as the box reaches.

    >>> hu = np.arange(4 * 8 * 8, dtype=np.float32).reshape(4, 8, 8)
    >>> grid = model_grid(hu, (2.5, 0.625, 0.625))
    >>> grid.hu.shape, grid.step
    ((4, 4, 4), (1.0, 2.0, 2.0))
    >>> float(grid.hu[1, 2, 3]) == float(hu[1, 4, 6])
    True
    """
    from scipy import ndimage

    box = box or (slice(0, hu.shape[0]), slice(0, hu.shape[1]), slice(0, hu.shape[2]))
    step = tuple(float(m) / float(s) for m, s in zip(model_spacing, spacing, strict=True))
    offset = tuple(float(b.start) for b in box)
    extent = [b.stop - b.start for b in box]
    shape = tuple(int(np.floor((n - 1) / f + 1e-6)) + 1 for n, f in zip(extent, step, strict=True))
    region = hu[box]
    if all(abs(f - 1.0) < 1e-6 for f in step):
        out = np.ascontiguousarray(region, dtype=np.float32)
    elif abs(step[0] - 1.0) < 1e-6:
        # slices kept: each is zoomed on its own, which is cheaper than a 3D transform
        out = np.empty(shape, dtype=np.float32)
        for k in range(shape[0]):
            ndimage.affine_transform(
                region[k],
                np.array(step[1:]),
                output_shape=shape[1:],
                output=out[k],
                order=1,
                mode="nearest",
            )
    else:
        out = ndimage.affine_transform(
            region.astype(np.float32, copy=False),
            np.array(step),
            output_shape=shape,
            order=1,
            mode="nearest",
            output=np.float32,
        )
    return ModelGrid(out, offset, step, tuple(int(n) for n in hu.shape))  # type: ignore[arg-type]


def model_input(hu: np.ndarray, index: np.ndarray, context: int) -> np.ndarray:
    """The model's input for slices ``index`` of ``hu`` (model grid): each with ``context`` either side.

    Returns ``(len(index), 2·context + 1, rows, columns)`` float32, scaled by
    :func:`normalise`; slices beyond the ends repeat the end slice.

    >>> hu = np.stack([np.full((2, 2), v, np.float32) for v in (-1000, -300, 200)])
    >>> [round(float(v), 2) for v in model_input(hu, np.array([0]), 1)[0, :, 0, 0]]
    [-1.4, -1.4, 0.0]
    """
    k = np.clip(
        np.asarray(index)[:, None] + np.arange(-context, context + 1)[None, :], 0, len(hu) - 1
    )
    return normalise(hu[k])


def normalise(hu: np.ndarray) -> np.ndarray:
    """Hounsfield units scaled for the network: −1000 (air) → −1.4, −300 → 0, 200 → 1.

    Values are clipped to −1100…600 HU first: lung, ground glass, soft tissue
    and the first of calcium and bone keep their contrast, metal does not
    dominate.
    """
    return ((np.clip(hu, -1100.0, 600.0) + 300.0) / 500.0).astype(np.float32)


# ---------------------------------------------------------------------------
# a chest radiograph as the triage model reads it

#: The triage model's pixel (mm): a film's pixels are averaged down to it.
FILM_PIXEL_MM = 1.2
#: Modalities of a radiograph the triage model reads.
FILM_MODALITIES = ("CR", "DX")
#: The smallest film (mm on each side) that can hold a chest.
FILM_MIN_MM = 150.0


def film_pixels(volume: Volume) -> tuple[np.ndarray, float, bool]:
    """A chest radiograph's stored pixels (2D, not copied), their size (mm), and their sense, checked.

    The sense is True when dense parts (bone, soft tissue) are stored high
    (MONOCHROME2), False for MONOCHROME1 films (the lowest value white):
    :func:`film_grid` turns those round, so that the network sees the same
    whatever the device. Raises :class:`ModelInputError` (one line, naming the
    file) for what is not one grey radiograph: another modality, colour, a
    stack or a cine loop, an image too small for a chest, or one with a single
    value everywhere.

    >>> film = Volume(np.full((1, 8, 8), 7, np.uint16), (1.0, 0.15, 0.15), (0.0, 0.0, 0.0),
    ...               np.eye(3), modality="CR")
    >>> film_pixels(film)
    Traceback (most recent call last):
    ...
    dicomteach.ai.errors.ModelInputError: a film of 1.2 × 1.2 mm: too small for a chest radiograph
    """
    if not isinstance(volume, Volume):
        raise ModelInputError(
            "the triage model reads a radiograph Volume (dicomteach.io.load) or a 2D array, "
            f"not {type(volume).__name__}"
        )
    where = volume.sources[0][0] if volume.sources else None
    if volume.is_color:
        raise ModelInputError("a colour image: the triage model reads grey radiographs", where)
    if volume.modality and volume.modality not in FILM_MODALITIES:
        raise ModelInputError(
            f"a {volume.modality} image: the triage model reads chest radiographs (CR or DX)", where
        )
    if volume.n_frames != 1:
        raise ModelInputError(
            f"{volume.n_frames} images: the triage model reads one radiograph at a time", where
        )
    pixels = np.asarray(volume.pixels).reshape(volume.pixels.shape[-2:])
    pixel_mm = float(volume.spacing[1])
    return check_film(pixels, pixel_mm, where), pixel_mm, volume.photometric != "MONOCHROME1"


def check_film(image: np.ndarray, pixel_mm: float, where=None) -> np.ndarray:
    """``image`` if it can be a chest radiograph of ``pixel_mm`` pixels, else :class:`ModelInputError`.

    >>> check_film(np.zeros((2000, 2000), np.float32), 0.15)
    Traceback (most recent call last):
    ...
    dicomteach.ai.errors.ModelInputError: an empty image (every pixel 0): nothing to read
    """
    if image.ndim != 2:
        raise ModelInputError(
            f"pixels of shape {tuple(image.shape)}: the triage model reads one 2D radiograph", where
        )
    if not pixel_mm > 0:
        raise ModelInputError(f"pixel size {pixel_mm!r} mm: give the film's pixel size", where)
    rows, columns = image.shape
    if min(rows, columns) * pixel_mm < FILM_MIN_MM:
        raise ModelInputError(
            f"a film of {rows * pixel_mm:.3g} × {columns * pixel_mm:.3g} mm: too small for a chest "
            "radiograph",
            where,
        )
    low, high = float(image.min()), float(image.max())
    if not np.isfinite(low) or not np.isfinite(high):
        raise ModelInputError("pixels that are not numbers (NaN or infinity)", where)
    if low == high:
        raise ModelInputError(f"an empty image (every pixel {low:g}): nothing to read", where)
    return image


def film_grid(
    image: np.ndarray,
    pixel_mm: float,
    model_pixel: float = FILM_PIXEL_MM,
    *,
    dense_bright: bool = True,
) -> np.ndarray:
    """A film averaged down to ``model_pixel`` and scaled for the network, dense parts bright.

    The film is averaged over blocks of whole pixels (summed in integers when
    it is stored so: a 5-megapixel film in a few milliseconds), turned round
    unless ``dense_bright``, then zoomed (bilinear) the rest of the way; its
    values are scaled so that the 1st and 99th percentiles of the middle of
    the film (where the chest is) become −2 and 2 (:func:`scale_film`).
    Returns float32 rows × columns of the model's grid.

    >>> film = np.tile(np.arange(16, dtype=np.uint16), (16, 1))
    >>> grid = film_grid(film, 0.3, 1.2)
    >>> grid.shape, bool(grid[0, 0] < grid[0, 3])
    ((4, 4), True)
    >>> bool(film_grid(film, 0.3, 1.2, dense_bright=False)[0, 0] > 0)
    True
    """
    from scipy import ndimage

    factor = model_pixel / pixel_mm
    k = max(int(np.floor(factor + 1e-6)), 1)
    rows, columns = (n // k * k for n in image.shape)
    total = np.float32 if image.dtype.kind == "f" else np.int64
    # rows of blocks first (contiguous), then the columns within them
    small = image[:rows, :columns].reshape(rows // k, k, columns).sum(axis=1, dtype=total)
    small = small.reshape(rows // k, columns // k, k).sum(axis=-1).astype(np.float32)
    small *= np.float32((1.0 if dense_bright else -1.0) / (k * k))
    rest = k / factor
    if abs(rest - 1.0) > 1e-3:
        small = ndimage.zoom(small, rest, order=1, mode="nearest", grid_mode=True)
    return scale_film(small)


def scale_film(image: np.ndarray) -> np.ndarray:
    """Values scaled: the 1st and 99th percentiles of the middle three-quarters → −2 and 2.

    >>> scaled = scale_film(np.linspace(0, 1, 10000, dtype=np.float32).reshape(100, 100))
    >>> bool(abs(scaled[50, 50]) < 0.05), bool(scaled.min() < -2.0 < 2.0 < scaled.max())
    (True, True)
    """
    rows, columns = image.shape
    middle = image[rows // 8 : rows - rows // 8, columns // 8 : columns - columns // 8]
    low, high = np.percentile(middle, [1.0, 99.0])
    return ((image - low) / max(float(high - low), 1e-6) * 4.0 - 2.0).astype(np.float32)
