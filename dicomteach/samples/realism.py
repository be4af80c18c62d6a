"""How real a CT looks, in numbers: tissue peaks, noise power spectrum, soft-tissue texture.

The sample studies are checked against real scans nobody here made (the CT
files pydicom and pydicom-data ship) with the same measurements applied to
both, so "looks real" is a figure a test can hold:

* :func:`tissue_peaks`: where the fat and the soft-tissue peaks of the body's
  Hounsfield histogram lie, and how wide they are;
* :func:`soft_tissue_rois`: the most uniform soft-tissue squares of a slice
  (muscle, liver, brain), where noise can be measured without anatomy;
* :func:`noise_power_spectrum`: the radially averaged noise power spectrum of
  those squares, after a second-order polynomial is removed from each (the
  usual detrending, which leaves the noise's own frequencies alone); its peak
  frequency tells a soft reconstruction kernel (about 0.2 to 0.3 cycles/mm)
  from a sharp one, and white noise (peak at the highest frequency);
* :func:`soft_tissue_texture`: the noise's standard deviation and its
  correlation length, the grain a reader sees in muscle or liver;
* :func:`noise_figures`: the figures that tell one kernel's noise from
  another's and from smoothed white noise: where the spectrum peaks, how much
  power it keeps at low frequencies, and how deep the autocorrelation dips
  below zero (the ramp filter of back-projection takes the lowest frequencies
  out, so real CT noise is anticorrelated a millimetre or two away; blurred
  white noise never is).

Pure numpy on Hounsfield arrays and pixel sizes: nothing here reads files.
The MR brain's figures (background statistics, SNR, grey/white contrast,
texture of a masked tissue, histogram entropy) are ``tests/mr_realism.py``'s:
they measure other things on other regions, so the two share no function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class TissuePeaks:
    """Peaks of a body's Hounsfield histogram (HU) and their half widths at half maximum."""

    fat: float
    fat_half_width: float
    soft_tissue: float
    soft_tissue_half_width: float


def body_mask(hu: np.ndarray) -> np.ndarray:
    """The patient's body on a slice or volume: the largest object denser than −400 HU, holes filled.

    The table and clothing, smaller and apart, are left out; lungs and bowel
    gas inside the body are filled in.

    >>> img = np.full((40, 40), -1000.0)
    >>> img[5:35, 5:30] = 40.0
    >>> img[10:20, 10:20] = -850.0  # a lung
    >>> img[37:39, :] = 200.0  # the table
    >>> int(body_mask(img).sum())
    750
    """
    dense = hu > -400.0
    labels, count = ndimage.label(dense)
    if count == 0:
        return dense
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    body = labels == sizes.argmax()
    if body.ndim == 3:
        return np.stack([ndimage.binary_fill_holes(s) for s in body])
    return ndimage.binary_fill_holes(body)


def tissue_peaks(hu: np.ndarray, mask: np.ndarray | None = None) -> TissuePeaks:
    """Fat (−200…−30 HU) and soft-tissue (−20…100 HU) peaks of the histogram inside ``mask``.

    ``mask`` defaults to :func:`body_mask`. The histogram has 2 HU bins,
    smoothed over 5 bins so noise does not split a peak. Raises ValueError
    when either range holds no peak (only the slope of its neighbour's).

    >>> rng = np.random.default_rng(0)
    >>> hu = np.concatenate([rng.normal(-100, 15, 4000), rng.normal(45, 12, 6000)])
    >>> peaks = tissue_peaks(hu, np.ones(hu.shape, bool))
    >>> abs(peaks.fat + 100) < 6, abs(peaks.soft_tissue - 45) < 6
    (True, True)
    """
    mask = body_mask(hu) if mask is None else mask
    values = np.asarray(hu, float)[mask]
    edges = np.arange(-300.0, 202.0, 2.0)
    counts, _ = np.histogram(values, edges)
    smooth = np.convolve(counts, np.ones(5) / 5.0, mode="same")
    centres = 0.5 * (edges[:-1] + edges[1:])

    def peak(lo: float, hi: float, what: str) -> tuple[float, float]:
        inside = np.flatnonzero((centres >= lo) & (centres <= hi))
        top = inside[np.argmax(smooth[inside])]
        if smooth[top] <= 0 or top in (inside[0], inside[-1]):  # a slope, not a peak
            raise ValueError(f"no {what} peak between {lo:g} and {hi:g} HU in the region")
        half = smooth[top] / 2.0
        left = top
        while left > 0 and smooth[left] > half:
            left -= 1
        right = top
        while right < len(smooth) - 1 and smooth[right] > half:
            right += 1
        return float(centres[top]), float(centres[right] - centres[left]) / 2.0

    fat, fat_width = peak(-200.0, -30.0, "fat")
    soft, soft_width = peak(-20.0, 100.0, "soft tissue")
    return TissuePeaks(fat, fat_width, soft, soft_width)


def soft_tissue_rois(
    image: np.ndarray,
    *,
    size: int = 32,
    count: int = 8,
    low: float = -40.0,
    high: float = 140.0,
    stride: int | None = None,
) -> list[np.ndarray]:
    """The ``count`` most uniform ``size``×``size`` squares of soft tissue of a slice or a volume.

    ``image`` is a 2D slice or a volume (slices first), its slices searched
    together. Each slice is tiled into squares ``stride`` pixels apart
    (``size``: they do not overlap); a square counts as soft tissue when its
    blurred values all lie within ``low``…``high`` HU; among those, the ones
    whose blurred values vary least (the least anatomy in them) come first,
    and a square overlapping one already chosen on its slice is left out.

    >>> rng = np.random.default_rng(0)
    >>> img = np.full((128, 128), -1000.0)
    >>> img[16:112, 16:112] = 45.0 + rng.normal(0, 10, (96, 96))
    >>> len(soft_tissue_rois(img, size=32)), len(soft_tissue_rois(np.stack([img, img]), size=32))
    (4, 8)
    """
    volume = np.asarray(image, float)
    volume = volume[None] if volume.ndim == 2 else volume
    step = stride or size
    found: list[tuple[float, int, int, int]] = []
    for k, img in enumerate(volume):
        blurred = ndimage.gaussian_filter(img, 2.0)
        for r in range(0, img.shape[0] - size + 1, step):
            for c in range(0, img.shape[1] - size + 1, step):
                b = blurred[r : r + size, c : c + size]
                if b.min() >= low and b.max() <= high:
                    found.append((float(b.std()), k, r, c))
    found.sort()
    chosen: list[tuple[int, int, int]] = []
    for _, k, r, c in found:
        if len(chosen) == count:
            break
        if all(k != k2 or abs(r - r2) >= size or abs(c - c2) >= size for k2, r2, c2 in chosen):
            chosen.append((k, r, c))
    return [volume[k, r : r + size, c : c + size] for k, r, c in chosen]


def _detrended(roi: np.ndarray) -> np.ndarray:
    """The ROI minus its best second-order polynomial surface (the anatomy's slow change)."""
    n, m = roi.shape
    yy, xx = np.mgrid[0:n, 0:m]
    yy = (yy - n / 2.0) / n
    xx = (xx - m / 2.0) / m
    basis = np.stack([np.ones_like(xx), xx, yy, xx * xx, yy * yy, xx * yy], -1).reshape(-1, 6)
    coef, *_ = np.linalg.lstsq(basis, roi.reshape(-1), rcond=None)
    return roi - (basis @ coef).reshape(n, m)


def noise_power_spectrum(rois: list[np.ndarray], pixel_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged noise power spectrum (HU²·mm²) of equal square ROIs, by frequency (cycles/mm).

    Each ROI is detrended (:func:`_detrended`), Fourier transformed, and
    ``|F|²·Δx²/N²`` averaged over ROIs, then over rings one frequency bin wide.

    >>> rng = np.random.default_rng(0)
    >>> rois = [rng.normal(0, 10, (32, 32)) for _ in range(20)]
    >>> f, nps = noise_power_spectrum(rois, 0.5)
    >>> float(f[-1]), bool(abs(nps[5:].mean() / (100 * 0.25) - 1) < 0.1)  # white: flat at σ²Δx²
    (1.0, True)
    """
    if not rois:
        raise ValueError("no soft-tissue region to measure noise in")
    n = rois[0].shape[0]
    power = np.zeros((n, n))
    for roi in rois:
        power += np.abs(np.fft.fft2(_detrended(np.asarray(roi, float)))) ** 2
    power *= pixel_mm * pixel_mm / (n * n * len(rois))
    freq = np.fft.fftfreq(n, d=pixel_mm)
    radius = np.hypot(*np.meshgrid(freq, freq, indexing="ij"))
    step = 1.0 / (n * pixel_mm)
    ring = np.rint(radius / step).astype(int)
    keep = ring <= n // 2
    totals = np.bincount(ring[keep], power[keep])
    counts = np.bincount(ring[keep])
    return np.arange(len(totals)) * step, totals / np.maximum(counts, 1)


def nps_peak_frequency(rois: list[np.ndarray], pixel_mm: float) -> float:
    """Frequency (cycles/mm) where the noise power spectrum peaks (the DC ring left out).

    >>> rng = np.random.default_rng(1)
    >>> def band(sigma):  # noise between two blurs: a band-pass spectrum
    ...     white = rng.normal(0, 10, (32, 32))
    ...     return ndimage.gaussian_filter(white, sigma) - ndimage.gaussian_filter(white, 2 * sigma)
    >>> coarse = nps_peak_frequency([band(2.0) for _ in range(30)], 0.7)
    >>> fine = nps_peak_frequency([band(0.7) for _ in range(30)], 0.7)
    >>> coarse < 0.2 < fine
    True
    """
    freq, nps = noise_power_spectrum(rois, pixel_mm)
    smooth = np.convolve(nps, np.ones(3) / 3.0, mode="same")
    return float(freq[1 + np.argmax(smooth[1:-1])])


def autocorrelation(rois: list[np.ndarray], pixel_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Lags (mm) and the noise's autocorrelation there, along rows and columns, 1 at lag 0.

    The inverse transform of the detrended ROIs' summed power spectra, the
    row and column profiles averaged, out to half the ROI.

    >>> rng = np.random.default_rng(3)
    >>> lags, acf = autocorrelation([rng.normal(0, 5, (16, 16)) for _ in range(40)], 0.5)
    >>> float(lags[1]), float(acf[0]), bool(abs(acf[1]) < 0.1)  # white noise: uncorrelated
    (0.5, 1.0, True)
    """
    if not rois:
        raise ValueError("no soft-tissue region to measure noise in")
    flat = [_detrended(np.asarray(r, float)) for r in rois]
    power = sum(np.abs(np.fft.fft2(f)) ** 2 for f in flat)
    acf = np.real(np.fft.ifft2(power))
    acf /= acf[0, 0]
    profile = 0.5 * (acf[0, : acf.shape[1] // 2] + acf[: acf.shape[0] // 2, 0])
    return np.arange(len(profile)) * pixel_mm, profile


@dataclass(frozen=True)
class Texture:
    """The grain of soft tissue: noise SD (HU) and the lag (mm) where its autocorrelation halves."""

    sd_hu: float
    correlation_mm: float


def soft_tissue_texture(rois: list[np.ndarray], pixel_mm: float) -> Texture:
    """Noise standard deviation and correlation length of detrended soft-tissue ROIs.

    The correlation length is where the :func:`autocorrelation` first falls
    to one half, interpolated between lags.

    >>> rng = np.random.default_rng(2)
    >>> t = soft_tissue_texture([rng.normal(0, 12, (32, 32)) for _ in range(10)], 0.7)
    >>> abs(t.sd_hu - 12) < 1.5, t.correlation_mm < 0.7
    (True, True)
    """
    if not rois:
        raise ValueError("no soft-tissue region to measure texture in")
    flat = [_detrended(np.asarray(r, float)) for r in rois]
    sd = float(np.sqrt(np.mean([f.var() for f in flat])))
    _, profile = autocorrelation(rois, pixel_mm)
    below = np.flatnonzero(profile < 0.5)
    if not len(below):
        return Texture(sd, float(len(profile) * pixel_mm))
    k = below[0]
    frac = (profile[k - 1] - 0.5) / (profile[k - 1] - profile[k])
    return Texture(sd, float((k - 1 + frac) * pixel_mm))


#: Frequencies (cycles/mm) up to which :func:`noise_figures` counts power as low.
LOW_FREQUENCY = 0.15
#: Lags (mm) within which :func:`noise_figures` looks for the autocorrelation's trough.
TROUGH_WITHIN = 3.0


@dataclass(frozen=True)
class NoiseFigures:
    """What a kernel leaves in CT noise (see :func:`noise_figures`)."""

    peak_per_mm: float
    low_to_peak: float
    trough: float
    correlation_mm: float
    sd_hu: float


def noise_figures(rois: list[np.ndarray], pixel_mm: float) -> NoiseFigures:
    """The figures of noise ROIs that tell a reconstruction kernel (and blurred white noise) apart.

    ``peak_per_mm``: where the noise power spectrum peaks
    (:func:`nps_peak_frequency`); ``low_to_peak``: its mean power up to
    :data:`LOW_FREQUENCY` over its peak power (small for back-projected noise,
    near 1 for blurred white noise, whose power is highest at the lowest
    frequencies); ``trough``: the lowest :func:`autocorrelation` within
    :data:`TROUGH_WITHIN` mm (negative for back-projected noise, about 0 for
    blurred white noise); and the grain of :func:`soft_tissue_texture`.

    >>> rng = np.random.default_rng(4)
    >>> white = rng.normal(0, 20, (60, 34, 34))
    >>> box = [(w[:32, :32] + w[1:33, :32] + w[:32, 1:33] + w[1:33, 1:33]) / 4 for w in white]
    >>> blurred = noise_figures(box, 0.7)
    >>> blurred.low_to_peak > 0.7, blurred.trough > -0.05
    (True, True)
    """
    freq, nps = noise_power_spectrum(rois, pixel_mm)
    low = nps[(freq > 0) & (freq <= LOW_FREQUENCY)]
    lags, profile = autocorrelation(rois, pixel_mm)
    texture = soft_tissue_texture(rois, pixel_mm)
    return NoiseFigures(
        peak_per_mm=nps_peak_frequency(rois, pixel_mm),
        low_to_peak=float(low.mean() / nps[1:].max()) if low.size else float("nan"),
        trough=float(profile[lags <= TROUGH_WITHIN].min()),
        correlation_mm=texture.correlation_mm,
        sd_hu=texture.sd_hu,
    )
