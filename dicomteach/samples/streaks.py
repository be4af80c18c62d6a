"""Streaks from dense structures: what bone does to a CT image that a perfect scanner would not show.

Two physical effects, both made in the scanner's own terms (its projections)
and carried into the image by filtered back-projection, so they fall along
the rays that cross the bone, as real streaks do:

* **Beam hardening.** Bone takes the soft end of the X-ray spectrum out, so a
  ray through bone comes out harder and the scanner, calibrated on water,
  reads less attenuation than there was. The deficit grows faster than the
  bone's line integral ``P`` (about as ``P²``), so rays crossing two dense
  structures lose most: after back-projection, a dark band joins them (the
  band between the petrous bones, or between the shoulders, in real scans).
* **Photon starvation.** Fewer photons come through a ray that crosses bone
  (``exp(−P)`` of them), so its projection is noisier by ``exp(P/2)``; the
  excess noise, back-projected, draws fine bright and dark lines along those
  rays. The image's ordinary noise (the kernel's, added elsewhere) stays.

Only the bone's excess attenuation over water is projected: the soft tissue
is what the scanner's water calibration already corrects. Projection and
back-projection run on a grid of at most 256 pixels across (the error is
then upsampled to the slice), over 180 views, vectorised over slices: a
120-slice chest takes a few seconds, which is why the examinations of the
library leave it off unless asked (:class:`~dicomteach.samples.ct_chest.Examination`).

Pure numpy; the amplitudes are set so that two cortical-bone cylinders in
water 15 cm apart join with a band some tens of HU dark, as on a scanner
without a bone correction (:func:`bone_streaks`'s example measures it).
"""

from __future__ import annotations

import numpy as np

from dicomteach.samples import _shapes

__all__ = ["bone_streaks"]

#: Attenuation of water at a CT's effective energy (about 70 keV), per mm.
MU_WATER = 0.0195
#: Hounsfield units above which tissue hardens the beam (bone, calcium, contrast).
DENSE_HU = 250.0
#: Views of half a turn, the projections the error is made in.
VIEWS = 180
#: Largest grid (pixels across) the projections are made on.
GRID = 256
#: Beam-hardening deficit of a ray: BETA · P² for a bone line integral P (dimensionless).
BETA = 0.25
#: How much finer than the projections' bins back-projection interpolates them.
_FINER = 4


def bone_streaks(
    hu: np.ndarray,
    pixel_mm: float,
    noise_sd: float,
    rng: np.random.Generator,
    *,
    strength: float = 1.0,
) -> np.ndarray:
    """The streaks (HU) that the dense structures of each slice of ``hu`` cause.

    ``hu`` is ``(slices, rows, columns)`` on square pixels of ``pixel_mm``;
    ``noise_sd`` is the image's ordinary noise (HU), which sets the scale of
    photon starvation's excess noise; ``strength`` scales both effects (0 for
    none). Returns an array of ``hu``'s shape to add to it.

    >>> y, x = np.mgrid[-128:128, -128:128] * 1.0           # 1 mm pixels
    >>> slab = np.where(np.hypot(x, y) < 110, 0.0, -1000.0)  # a water cylinder
    >>> for cx in (-75, 75):                                 # two bones 15 cm apart
    ...     slab[np.hypot(x - cx, y) < 15] = 1200.0
    >>> error = bone_streaks(slab[None], 1.0, 0.0, np.random.default_rng(0))[0]
    >>> between = error[126:130, 100:156].mean()            # on the line joining them
    >>> aside = error[176:180, 100:156].mean()              # 5 cm off it
    >>> bool(between < -20.0 and between < aside - 15.0)
    True
    """
    hu = np.asarray(hu)
    slices, rows, cols = hu.shape
    if strength <= 0.0:
        return np.zeros(hu.shape, dtype=np.float32)
    factor = int(np.ceil(max(rows, cols) / GRID))
    small = _pool(hu, factor)
    pixel = pixel_mm * factor
    n_rows, n_cols = small.shape[1:]
    # the bone's attenuation in excess of water's, per mm, times the path through a pixel
    excess = np.clip(small - DENSE_HU, 0.0, None) * (MU_WATER / 1000.0) * pixel
    y = (np.arange(n_rows) - (n_rows - 1) / 2.0) * pixel
    x = (np.arange(n_cols) - (n_cols - 1) / 2.0) * pixel
    yy, xx = np.meshgrid(y, x, indexing="ij")
    half = float(np.hypot(y[-1], x[-1])) + pixel
    bins = int(np.ceil(2.0 * half / pixel)) + 2
    angles = np.arange(VIEWS) * (np.pi / VIEWS)

    # project only the dense pixels: few of them, so a bincount per view is cheap
    where = excess > 0.0
    which, py, px = np.nonzero(where)
    weight = excess[where]
    sinogram = np.zeros((slices, VIEWS, bins), dtype=np.float64)
    for v, theta in enumerate(angles):
        s = (xx[py, px] * np.cos(theta) + yy[py, px] * np.sin(theta) + half) / pixel
        lo = np.floor(s).astype(np.int64)
        frac = s - lo
        for offset, share in ((0, 1.0 - frac), (1, frac)):
            sinogram[:, v, :] += np.bincount(
                which * bins + lo + offset, weight * share, minlength=slices * bins
            ).reshape(slices, bins)

    # what the scanner reads wrong: a hardened deficit, and photon starvation's excess noise
    error = -BETA * sinogram**2
    calibration = _noise_calibration(bins, pixel)
    sigma = noise_sd * MU_WATER / 1000.0 / calibration
    error += sigma * np.sqrt(np.expm1(sinogram)) * rng.standard_normal(sinogram.shape)
    error *= strength

    filtered = _ramp_filter(error, pixel)
    image = _back_project(filtered, angles, xx, yy, half, pixel)
    streak_hu = (image * (1000.0 / MU_WATER)).astype(np.float32)
    if factor > 1:
        streak_hu = _shapes.upsample_linear(streak_hu, (slices, rows, cols))[
            :, :rows, :cols
        ].astype(np.float32)
    return streak_hu


def _pool(hu: np.ndarray, factor: int) -> np.ndarray:
    """``hu`` averaged over ``factor``×``factor`` blocks (padded with air to a multiple)."""
    if factor == 1:
        return hu.astype(np.float64)
    slices, rows, cols = hu.shape
    pr, pc = -rows % factor, -cols % factor
    padded = np.pad(hu, ((0, 0), (0, pr), (0, pc)), constant_values=-1000.0)
    shape = (slices, padded.shape[1] // factor, factor, padded.shape[2] // factor, factor)
    return padded.reshape(shape).mean(axis=(2, 4), dtype=np.float64)


def _ramp_filter(sinogram: np.ndarray, pixel: float) -> np.ndarray:
    """Each projection convolved with the ramp filter (Hann-apodised), as filtered back-projection does."""
    bins = sinogram.shape[-1]
    size = int(2 ** np.ceil(np.log2(2 * bins)))
    f = np.fft.rfftfreq(size, d=pixel)
    ramp = np.abs(f) * (0.5 + 0.5 * np.cos(np.pi * f / f[-1]))
    spectrum = np.fft.rfft(sinogram, n=size, axis=-1) * ramp
    return np.fft.irfft(spectrum, n=size, axis=-1)[..., :bins]


def _back_project(
    filtered: np.ndarray,
    angles: np.ndarray,
    xx: np.ndarray,
    yy: np.ndarray,
    half: float,
    pixel: float,
) -> np.ndarray:
    """Filtered projections smeared back along their rays.

    Each projection is first interpolated onto bins four times finer, so
    that a pixel then takes its nearest bin (one gather per view, not two and
    a blend); slices sit last and go in chunks of eight, so the image being
    summed stays in the processor's cache through the 180 views.
    """
    slices, views, bins = filtered.shape
    fine = np.linspace(0.0, bins - 1.0, (bins - 1) * _FINER + 1)
    lo = np.minimum(fine.astype(np.int64), bins - 2)
    frac = (fine - lo).astype(np.float32)
    data = filtered.astype(np.float32)
    fine_rows = data[..., lo] * (1.0 - frac) + data[..., lo + 1] * frac  # slices, views, fine bins
    fine_rows = np.ascontiguousarray(fine_rows.transpose(1, 2, 0))  # views, fine bins, slices
    flat_x, flat_y = xx.ravel(), yy.ravel()
    nearest = [
        np.clip(
            np.rint((flat_x * np.cos(theta) + flat_y * np.sin(theta) + half) / pixel * _FINER),
            0,
            fine.size - 1,
        ).astype(np.intp)
        for theta in angles
    ]
    image = np.empty((xx.size, slices), dtype=np.float32)
    for k0 in range(0, slices, 8):
        part = np.zeros((xx.size, min(8, slices - k0)), dtype=np.float32)
        for v in range(views):
            part += fine_rows[v, :, k0 : k0 + 8][nearest[v]]
        image[:, k0 : k0 + 8] = part
    # dθ = π / views for the half-turn integral of filtered back-projection
    image *= np.float32(np.pi / len(angles))
    return image.T.reshape(slices, *xx.shape)


def _noise_calibration(bins: int, pixel: float) -> float:
    """Image standard deviation that unit white noise in every projection back-projects to.

    Worked out once from the filter alone: the back-projection of independent
    noise in each view adds in quadrature, ``σ² = Σ_views (dθ)² Σ_bins h²``
    for the discrete ramp kernel ``h`` (with linear interpolation's loss
    neglected), so the excess noise can be set in the image's own terms.
    """
    impulse = np.zeros((1, 1, bins))
    impulse[0, 0, bins // 2] = 1.0
    kernel = _ramp_filter(impulse, pixel)[0, 0]
    return float(np.sqrt(VIEWS) * (np.pi / VIEWS) * np.sqrt(np.sum(kernel**2)))
