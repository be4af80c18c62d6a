"""A chest radiograph's triage score and heat map, from the shipped triage model.

:func:`triage_radiograph` reads a PA chest radiograph (a CR or DX ``Volume``,
a file, or a 2D array with its pixel size) as the model was trained to read
it (:func:`dicomteach.ai.grid.film_pixels` and
:func:`~dicomteach.ai.grid.film_grid`: averaged down to 1.2 mm pixels, dense
parts bright whatever the photometric interpretation, its grey levels scaled
on the middle of the film),
asks the network for the probability that each pixel lies on a nodule or a
mass (:mod:`dicomteach.ai.runtime`, onnxruntime), and returns:

* the **score**: the highest probability of the map once averaged over 3 × 3
  of its pixels (3.6 mm), so that one stray pixel does not flag a film;
* the **heat map**: the probability map brought back to the film's own
  pixels (bilinear), with the place of its peak.

The model was trained on generated films (docs/ai.md): it flags some normal
films (rib crossings, scars, the hila) and misses small or faint nodules,
behind the heart above all. A score orders a worklist; it is not a diagnosis.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from dicomteach.ai.errors import ModelInputError
from dicomteach.ai.grid import check_film, film_grid, film_pixels
from dicomteach.ai.runtime import Model, load_model
from dicomteach.io.volume import Volume

#: Pixels (of the model's grid) the map is averaged over before its peak is the score.
SCORE_POOL = 3


@dataclass(frozen=True, eq=False)
class Triage:
    """What the triage model says of one radiograph.

    ``coarse`` is the probability map on the model's grid (1.2 mm pixels);
    :attr:`heatmap` is the same map on the film's own pixels.
    """

    score: float
    """0…1: how likely the film holds a nodule or a mass (the pooled map's peak)."""
    flagged: bool
    """The score is at or above the model's threshold (0.5)."""
    peak: tuple[float, float]
    """(row, column) of the film where the pooled map is highest."""
    coarse: np.ndarray = field(repr=False)
    shape: tuple[int, int] = field(repr=False)
    _heatmap: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def heatmap(self) -> np.ndarray:
        """Probability (0…1, float32) that each pixel of the film lies on a nodule or mass.

        >>> t = Triage(0.9, True, (1.0, 1.0), np.eye(4, dtype=np.float32), (8, 8))
        >>> t.heatmap.shape, float(t.heatmap[0, 0]) > float(t.heatmap[0, 7])
        ((8, 8), True)
        >>> t
        Triage(score=0.9, flagged=True, peak=(1.0, 1.0))
        """
        if not self._heatmap:
            self._heatmap.append(upsample(self.coarse, self.shape))
        return self._heatmap[0]


def upsample(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``coarse`` (cell-centred, covering the film) bilinear at each of the film's ``shape`` pixels.

    Rows first then columns, each a weighted sum of two neighbours: cheaper
    than a 2D zoom of a 5-megapixel film.
    """
    out = coarse.astype(np.float32)
    for axis, n in enumerate(shape):
        m = out.shape[axis]
        at = np.clip((np.arange(n, dtype=np.float32) + 0.5) * (m / n) - 0.5, 0.0, m - 1.0)
        low = np.floor(at).astype(np.intp)
        high = np.minimum(low + 1, m - 1)
        w = (at - low).astype(np.float32)
        a, b = np.take(out, low, axis=axis), np.take(out, high, axis=axis)
        w = w[:, None] if axis == 0 else w[None, :]
        out = a + (b - a) * w
    return out


def triage_radiograph(
    film: Volume | np.ndarray | str | os.PathLike[str],
    *,
    pixel_mm: float | None = None,
    model: Model | None = None,
) -> Triage:
    """The triage score and heat map of a PA chest radiograph.

    Parameters
    ----------
    film : Volume, 2D array, or a path
        A CR or DX radiograph (a file :func:`dicomteach.io.load` reads), or its
        pixels as a 2D array, dense parts bright (MONOCHROME2 sense).
    pixel_mm : float, optional
        Pixel size of an array (mm); a Volume's own is used.
    model : Model, optional
        Default: the shipped triage model (``load_model("triage")``).

    Raises
    ------
    ModelInputError
        Not one grey radiograph the model can read (another modality, a
        stack of images, colour, too small, empty), in one line.
    ModelError
        The model's files are missing or damaged.

    Examples
    --------
    >>> noise = np.random.default_rng(0).normal(size=(1600, 1400)).astype(np.float32)
    >>> found = triage_radiograph(noise, pixel_mm=0.15)  # no chest: nothing to flag
    >>> found.heatmap.shape, found.flagged
    ((1600, 1400), False)
    >>> triage_radiograph(np.full((1600, 1400), 7.0), pixel_mm=0.15)
    Traceback (most recent call last):
    ...
    dicomteach.ai.errors.ModelInputError: an empty image (every pixel 7): nothing to read
    """
    if isinstance(film, (str, os.PathLike)):
        from dicomteach import io

        film = io.load(film)
    if isinstance(film, np.ndarray):
        if pixel_mm is None:
            raise ModelInputError("an array without its pixel size: give pixel_mm= (mm)")
        values, dense_bright = check_film(np.asarray(film), float(pixel_mm)), True
    else:
        values, pixel_mm, dense_bright = film_pixels(film)
    model = model or load_model("triage")
    grid = film_grid(
        values, float(pixel_mm), float(model.description.spacing[-1]), dense_bright=dense_bright
    )
    rows, columns = grid.shape
    padded = np.pad(grid, ((0, -rows % 8), (0, -columns % 8)), mode="edge")
    logits = model.logits(padded[None, None])[0, 0, :rows, :columns]
    with np.errstate(over="ignore"):
        probability = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    from scipy import ndimage

    pooled = ndimage.uniform_filter(probability, SCORE_POOL, mode="nearest")
    i, j = np.unravel_index(int(np.argmax(pooled)), pooled.shape)
    score = float(pooled[i, j])
    shape = (int(values.shape[0]), int(values.shape[1]))
    # the grid's pixel (i, j) covers the film's rows shape[0]/rows·[i, i+1)
    peak = ((i + 0.5) * shape[0] / rows - 0.5, (j + 0.5) * shape[1] / columns - 0.5)
    return Triage(
        score=round(score, 6),
        flagged=score >= model.description.detection_threshold,
        peak=(float(peak[0]), float(peak[1])),
        coarse=probability,
        shape=shape,
    )
