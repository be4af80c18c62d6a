"""Resampling one volume onto another's grid (fusion, before/after comparison).

:func:`resample_to` gives the modality values of a *moving* volume (a PET, a
follow-up CT) at the voxel centres of a *reference* volume, in patient
coordinates (LPS, mm), optionally through a rigid or affine ``transform``
from :func:`dicomteach.imaging.registration.register_rigid`.

Edges
-----
A voxel covers half a voxel on each side of its centre, so points up to half a
voxel outside the outermost voxel centres take the edge value (what a viewer
shows there); points farther out get ``fill``. A single-frame image (shape
``(1, rows, columns)``) is therefore sampled within half its slice spacing
(``Volume.spacing[0]``) of its plane.
"""

from __future__ import annotations

import numpy as np

from dicomteach.imaging.modality import modality_values
from dicomteach.io.volume import Volume

__all__ = ["resample_to"]

_SPLINE_PAD = 12
"""Voxels of edge padding before a spline prefilter (as ``scipy.ndimage`` does for 'nearest')."""


def _check_transform(transform: object) -> np.ndarray:
    if transform is None:
        return np.eye(4)
    m = np.asarray(transform, dtype=float)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise ValueError(f"Argument 'transform' must be a finite 4×4 matrix, not shape {m.shape}")
    if not np.allclose(m[3], (0.0, 0.0, 0.0, 1.0), atol=1e-9):
        raise ValueError(
            f"Argument 'transform' must have a last row of (0, 0, 0, 1), not {m[3].tolist()}"
        )
    return m


def resample_to(
    moving: Volume,
    reference: Volume,
    *,
    transform: np.ndarray | None = None,
    order: int = 1,
    fill: float | None = None,
) -> np.ndarray:
    """The moving volume's modality values sampled at the reference volume's voxel centres.

    Parameters
    ----------
    moving : Volume
        A grayscale volume; its modality values (:func:`modality_values`)
        are interpolated.
    reference : Volume
        The grid to sample on (only its shape and geometry are used).
    transform : 4×4 array_like, optional
        Maps reference LPS points (mm) to moving LPS points, e.g.
        ``register_rigid(reference, moving).matrix``. ``None`` (identity)
        when both volumes share a Frame of Reference.
    order : int, optional
        Spline order, 0 (nearest neighbour, for label maps) to 5; 1 is
        trilinear. Orders above 1 prefilter the moving volume once (a float32
        copy of it, padded).
    fill : float, optional
        Value outside the moving volume; default its minimum modality value
        (air on CT, 0 on PET).

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``reference.pixels.shape``.

    Raises
    ------
    ValueError
        If a volume is colour, `transform` is not a 4×4 affine matrix, or
        `order` is not an integer from 0 to 5.

    Notes
    -----
    Computed one reference frame at a time with
    :func:`scipy.ndimage.map_coordinates`, so memory stays at the moving
    volume's values plus a few reference slices. Edge handling is in the
    module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume
    >>> axial = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float)
    >>> fine = Volume(np.zeros((1, 4, 6), np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), axial)
    >>> coarse = Volume(
    ...     np.array([[[0, 10], [20, 30]]], np.int16), (1.0, 2.0, 2.0), (1.0, 1.0, 0.0), axial
    ... )
    >>> resample_to(coarse, fine, fill=-1)  # half a coarse voxel beyond its centres: edge values
    array([[[ 0.,  0.,  5., 10., 10., -1.],
            [ 0.,  0.,  5., 10., 10., -1.],
            [10., 10., 15., 20., 20., -1.],
            [20., 20., 25., 30., 30., -1.]]], dtype=float32)
    """
    from scipy import ndimage  # here, not at the top: it costs ~0.5 s to import

    if isinstance(order, bool) or not isinstance(order, int | np.integer) or not 0 <= order <= 5:
        raise ValueError(f"Argument 'order' must be an integer from 0 to 5, not {order!r}")
    if reference.is_color:
        raise ValueError("Argument 'reference' must be grayscale, not a colour volume")
    matrix = _check_transform(transform)
    values = np.asarray(modality_values(moving), dtype=np.float32)
    if fill is None:
        fill = float(values.min()) if values.size else 0.0
    # reference voxel index → reference LPS → moving LPS → moving voxel index
    to_index = np.linalg.inv(moving.affine) @ matrix @ reference.affine
    sizes = np.array(values.shape, dtype=float)[:, None, None]

    offset = np.zeros((3, 1, 1))
    if order > 1:
        pad = [(0, 0) if n == 1 else (_SPLINE_PAD, _SPLINE_PAD) for n in values.shape]
        offset[:, 0, 0] = [p[0] for p in pad]
        values = ndimage.spline_filter(
            np.pad(values, pad, mode="edge"), order=order, output=np.float32, mode="nearest"
        )

    _, n_rows, n_cols = reference.pixels.shape[:3]
    rows, cols = np.meshgrid(
        np.arange(n_rows, dtype=float), np.arange(n_cols, dtype=float), indexing="ij"
    )
    in_plane = (to_index[:3, 1, None, None] * rows + to_index[:3, 2, None, None] * cols) + to_index[
        :3, 3, None, None
    ]
    out = np.empty(reference.pixels.shape[:3], dtype=np.float32)
    for k in range(out.shape[0]):
        coords = in_plane + to_index[:3, 0, None, None] * k
        outside = np.any((coords < -0.5) | (coords > sizes - 0.5), axis=0)
        np.clip(coords, 0.0, sizes - 1.0, out=coords)
        coords += offset
        out[k] = ndimage.map_coordinates(
            values, coords, order=order, mode="nearest", prefilter=False, output=np.float32
        )
        out[k][outside] = fill
    return out
