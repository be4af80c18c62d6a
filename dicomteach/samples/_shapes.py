"""Small numpy helpers the sample studies draw with: ellipsoids, smooth noise, blur.

Everything works on voxel grids given in millimetres so that a shape keeps its
size whatever the matrix; nothing here reads or writes files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft


def grid(shape: Sequence[int], spacing: Sequence[float]) -> tuple[np.ndarray, ...]:
    """Millimetre coordinates of each voxel centre, centred on the middle of the grid.

    >>> z, y, x = grid((3, 4, 4), (2.0, 1.0, 1.0))
    >>> float(z[0, 0, 0]), float(x[0, 0, 0])
    (-2.0, -1.5)
    """
    axes = [
        (np.arange(n, dtype=np.float32) - (n - 1) / 2.0) * float(s)
        for n, s in zip(shape, spacing, strict=True)
    ]
    return tuple(np.meshgrid(*axes, indexing="ij", sparse=True))


def ellipsoid(
    coords: Sequence[np.ndarray], centre: Sequence[float], radii: Sequence[float]
) -> np.ndarray:
    """Normalised radius ``r`` (``r <= 1`` inside) of an axis-aligned ellipsoid or ellipse.

    >>> z, y, x = grid((1, 5, 5), (1.0, 1.0, 1.0))
    >>> int((ellipsoid((z, y, x), (0, 0, 0), (1, 2, 2)) <= 1).sum())
    13
    """
    total = 0.0
    for c, c0, r in zip(coords, centre, radii, strict=True):
        total = total + ((c - c0) / r) ** 2
    return np.sqrt(total)


def smooth_noise(
    shape: Sequence[int], scale_px: float | Sequence[float], rng: np.random.Generator
) -> np.ndarray:
    """Gaussian-filtered white noise with unit standard deviation (filtered in Fourier space).

    ``scale_px`` is the Gaussian sigma in voxels (one, or one per axis): the size of the blobs.

    >>> noise = smooth_noise((32, 32), 3.0, np.random.default_rng(0))
    >>> noise.shape, round(float(noise.std()), 3)
    ((32, 32), 1.0)
    """
    white = rng.standard_normal(tuple(shape)).astype(np.float32)
    out = gaussian_blur(white, scale_px)
    return (out - out.mean()) / (out.std() + 1e-12)


def gaussian_blur(image: np.ndarray, sigma_px: float | Sequence[float]) -> np.ndarray:
    """Gaussian blur with wrap-around edges (FFT), sigma in pixels per axis.

    >>> out = gaussian_blur(np.ones((8, 8)), 2.0)
    >>> bool(np.allclose(out, 1.0))
    True
    """
    sigmas = np.broadcast_to(np.asarray(sigma_px, dtype=float), (image.ndim,))
    spectrum = np.fft.rfftn(image)
    for axis, (n, sigma) in enumerate(zip(image.shape, sigmas, strict=True)):
        freq = np.fft.rfftfreq(n) if axis == image.ndim - 1 else np.fft.fftfreq(n)
        kernel = np.exp(-2.0 * (np.pi * sigma * freq) ** 2)
        shape = [1] * image.ndim
        shape[axis] = kernel.size
        spectrum = spectrum * kernel.reshape(shape)
    return np.fft.irfftn(spectrum, s=image.shape, axes=range(image.ndim)).astype(np.float32)


def segment_distance(
    coords: Sequence[np.ndarray],
    start: Sequence[float],
    end: Sequence[float],
    *,
    slab: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from points to the segment ``start``–``end``, and where along it (``t``, 0…1).

    ``coords`` holds one coordinate array per axis (2D or 3D, broadcast
    together), in the order of ``start`` and ``end``; ``t`` is the position of
    the nearest point of the segment. ``slab``: the thickness of a slice along
    the last axis; an offset within half of it counts as none (what a slice of
    that thickness sees of a thin tube).

    >>> y, x = np.array([3.0]), np.array([-4.0, 0.0, 2.0, 8.0])
    >>> d, t = segment_distance((y, x), (0.0, 0.0), (0.0, 4.0))
    >>> d.tolist(), t.tolist()
    ([5.0, 3.0, 3.0, 5.0], [0.0, 0.0, 0.5, 1.0])
    """
    step = [b - a for a, b in zip(start, end, strict=True)]
    length2 = max(sum(s * s for s in step), 1e-9)
    t = sum((c - a) * s for c, a, s in zip(coords, start, step, strict=True)) / length2
    t = np.clip(t, 0.0, 1.0)
    offsets = [c - (a + t * s) for c, a, s in zip(coords, start, step, strict=True)]
    if slab:
        offsets[-1] = np.maximum(np.abs(offsets[-1]) - slab / 2.0, 0.0)
    if len(offsets) == 2:
        return np.hypot(*offsets), t  # hypot takes two axes only
    return np.sqrt(sum(o * o for o in offsets)), t


def upsample_linear(coarse: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Linear interpolation of a coarse grid onto a finer one covering the same extent.

    Both grids have their first and last samples on the same points. Two
    gathers and a blend per axis (no matrix product: BLAS threads fight over
    a busy machine's cores).

    >>> upsample_linear(np.array([0.0, 2.0]), (5,)).tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    out = np.asarray(coarse, dtype=np.float32)
    for axis, n in enumerate(shape):
        m = out.shape[axis]
        position = np.linspace(0.0, m - 1.0, int(n))
        low = np.clip(np.floor(position).astype(np.intp), 0, max(m - 2, 0))
        high = np.minimum(low + 1, m - 1)
        frac = (position - low).astype(np.float32)
        frac = frac.reshape([-1 if a == axis else 1 for a in range(out.ndim)])
        below, above = np.take(out, low, axis=axis), np.take(out, high, axis=axis)
        out = below + (above - below) * frac
    return np.ascontiguousarray(out, dtype=np.float32)


def smooth_field(
    shape: Sequence[int],
    spacing: Sequence[float],
    scale_mm: float,
    rng: np.random.Generator,
    *,
    step_mm: float = 4.0,
) -> np.ndarray:
    """Smooth random field with unit standard deviation and blobs of ``scale_mm``, cheap at any size.

    Drawn on a coarse grid (``step_mm`` apart), blurred there, then
    interpolated onto ``shape``; fine for features several steps wide.

    >>> field = smooth_field((10, 64, 64), (2.5, 1.0, 1.0), 12.0, np.random.default_rng(0))
    >>> field.shape, bool(abs(float(field.std()) - 1.0) < 0.3)
    ((10, 64, 64), True)
    """
    coarse_shape = [
        max(2, int(np.ceil((n - 1) * s / step_mm)) + 1) for n, s in zip(shape, spacing, strict=True)
    ]
    coarse = smooth_noise(coarse_shape, scale_mm / step_mm, rng)
    return upsample_linear(coarse, shape)


#: Exponent of the kernel's apodisation in :func:`kernel_noise`'s noise power spectrum.
_ROLL_OFF = 2.5


def kernel_noise(
    shape: Sequence[int],
    pixel_mm: float,
    sd: float,
    peak_per_mm: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """CT noise of one reconstruction kernel: white noise shaped to a ramp × Gaussian spectrum.

    Filtered back-projection leaves noise whose power spectrum rises with
    frequency (the ramp filter) until the kernel's apodisation rolls it off:
    ``NPS(f) ∝ f·exp(−(f/c)^2.5)`` peaks at ``peak_per_mm`` cycles/mm (about
    0.3 for a soft body kernel, 0.6 and beyond for a sharp lung one); the
    exponent 2.5 follows the roll-off of a Siemens B30s image's spectrum
    (pydicom's ``bad_sequence.dcm``), steeper than a Gaussian. Each 2D
    slice (the last two axes) has that spectrum and the standard deviation
    ``sd``, set by the filter's power over the whole spectrum (Parseval), the
    same for every slice, so a slice's noise level varies as a real one does.

    Two slices come out of one inverse transform: complex white noise, drawn
    straight in the frequency domain and filtered, gives two independent real
    fields (its real and imaginary parts) for one FFT.

    >>> noise = kernel_noise((4, 64, 64), 0.7, 12.0, 0.3, np.random.default_rng(0))
    >>> noise.shape, bool(abs(float(noise.std()) - 12.0) < 0.3)
    ((4, 64, 64), True)
    """
    shape = tuple(int(n) for n in shape)
    rows, cols = shape[-2], shape[-1]
    count = int(np.prod(shape[:-2], dtype=np.int64))
    f = np.hypot(
        np.fft.fftfreq(rows, d=pixel_mm)[:, None], np.fft.fftfreq(cols, d=pixel_mm)[None, :]
    )
    # f·exp(−(f/c)^n) peaks where f = c·(1/n)^(1/n)
    cutoff = peak_per_mm * _ROLL_OFF ** (1.0 / _ROLL_OFF)
    power = f * np.exp(-((f / cutoff) ** _ROLL_OFF))
    amplitude = (np.sqrt(power / power.mean() * (rows * cols)) * sd).astype(np.float32)
    out = np.empty((count, rows, cols), dtype=np.float32)
    for k in range(0, count, 2):
        white = rng.standard_normal((2, rows, cols), dtype=np.float32)
        field = scipy.fft.ifft2((white[0] + 1j * white[1]).astype(np.complex64) * amplitude)
        out[k] = field.real
        if k + 1 < count:
            out[k + 1] = field.imag
    return out.reshape(shape)
