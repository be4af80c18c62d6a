"""Lung nodule candidates on a chest CT: a probability and an outline each, from the shipped model.

:func:`find_nodules` reads a CT ``Volume`` (or a folder of its files) as the
model was trained to read it (:mod:`dicomteach.ai.grid`: Hounsfield units,
the box round the lungs, 2.5 × 1.25 × 1.25 mm), asks the network for the
probability that each voxel is nodule (:mod:`dicomteach.ai.runtime`,
onnxruntime), and turns the map into candidates:

* a candidate is a connected region (26-neighbours) of the map at or above
  the model's detection threshold; its probability is the highest in it;
* its outline is where the map, interpolated back onto the CT's own voxels,
  is at or above the contour threshold (0.5), or half its peak for a
  candidate that never reaches it;
* its centre is the probability-weighted centre of the outline, in CT voxels
  and in patient millimetres (LPS, ``Volume.index_to_lps``).

The model was trained on generated patients (docs/ai.md): it also marks
things that are not nodules, vessels seen end-on and scars among them, and
misses some faint ground-glass nodules. A candidate is a second reader's
suggestion, not a diagnosis.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from dicomteach.ai.errors import ModelInputError
from dicomteach.ai.grid import ModelGrid, hounsfield, lung_box, model_grid
from dicomteach.ai.runtime import Model, load_model
from dicomteach.io.volume import Volume


@dataclass(frozen=True, eq=False)
class Candidate:
    """One place the model takes for a nodule.

    ``box`` is the part of the CT (slices, rows, columns) that ``mask``
    covers; the outline is ``mask`` (True inside), on the CT's own voxels.
    """

    probability: float
    centre_index: tuple[float, float, float]
    centre_mm: tuple[float, float, float]
    box: tuple[slice, slice, slice]
    mask: np.ndarray
    diameter_mm: float
    """Longest diameter (mm) of the outline on an axial slice, as a report measures a nodule."""
    volume_ml: float

    @property
    def slice_index(self) -> int:
        """The CT slice (0-based) where the outline is largest: where to show the candidate."""
        areas = self.mask.sum(axis=(1, 2))
        return int(self.box[0].start + int(np.argmax(areas)))

    def full_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        """The outline as a mask on the whole CT (``shape`` of its pixels).

        >>> c = Candidate(0.9, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0),
        ...               (slice(1, 2), slice(1, 3), slice(0, 2)), np.ones((1, 2, 2), bool), 2.0, 0.0)
        >>> int(c.full_mask((3, 4, 4)).sum()), c.slice_index
        (4, 1)
        """
        out = np.zeros(shape, dtype=bool)
        out[self.box] = self.mask
        return out

    def contours(self) -> dict[int, list[np.ndarray]]:
        """Outlines per CT slice: ``{slice: [(row, column) points, …]}``, pixel coordinates.

        As :func:`dicomteach.roi.polygons.mask_to_contours` traces them (one
        closed outline per region, holes keyholed), shifted to the CT's rows and columns.
        """
        from dicomteach.roi.polygons import mask_to_contours

        corner = np.array([self.box[1].start, self.box[2].start], dtype=float)
        out = {}
        for k in range(self.mask.shape[0]):
            if self.mask[k].any():
                out[self.box[0].start + k] = [o + corner for o in mask_to_contours(self.mask[k])]
        return out


def find_nodules(
    volume: Volume | str | os.PathLike[str],
    *,
    model: Model | None = None,
    threshold: float | None = None,
) -> list[Candidate]:
    """Nodule candidates in a chest CT, most probable first.

    Parameters
    ----------
    volume : Volume, or a path
        An axial CT stack (a file, folder or zip :func:`dicomteach.io.load` reads).
    model : Model or MonaiBundle, optional
        Default: the shipped nodule model (:func:`~dicomteach.ai.runtime.load_model`);
        or a model the hospital has, from :mod:`dicomteach.ai.adapters` (a MONAI
        bundle): its segmentation's structures become the candidates.
    threshold : float, optional
        Lowest probability of a candidate; default the model's detection
        threshold (low, so that the list holds the doubtful ones too).

    Raises
    ------
    ModelInputError
        The image is not an axial CT stack the model can read, or holds no lungs.
    ModelError
        The model's files are missing or damaged.

    Examples
    --------
    >>> import tempfile
    >>> from dicomteach.samples import ct_chest
    >>> folder = tempfile.mkdtemp()
    >>> _ = ct_chest.write(folder, seed=1, size=256, slices=60)  # the lessons' chest CT
    >>> best = find_nodules(f"{folder}/baseline/ct")[0]
    >>> best.probability > 0.5, 5.0 < best.diameter_mm < 40.0
    (True, True)
    """
    if isinstance(volume, (str, os.PathLike)):
        from dicomteach import io

        volume = io.load(volume)
    if model is not None and hasattr(model, "probability_map"):  # another model (ai/adapters.py)
        hu = hounsfield(volume)
        probability = model.probability_map(volume, hu)
        same = ModelGrid(hu, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), tuple(hu.shape))  # type: ignore[arg-type]
        lowest = 0.5 if threshold is None else float(threshold)
        return candidates(probability, same, volume, lowest, 0.5)
    model = model or load_model()
    hu = hounsfield(volume)
    box = lung_box(hu, volume.spacing)
    if box is None:
        where = volume.sources[0][0] if volume.sources else None
        raise ModelInputError("no lungs in this CT: the nodule model reads chest CT", where)
    grid = model_grid(hu, volume.spacing, box, model.description.spacing)
    probability = model.probabilities(grid.hu)
    lowest = model.description.detection_threshold if threshold is None else float(threshold)
    return candidates(probability, grid, volume, lowest, model.description.contour_threshold)


def candidates(
    probability: np.ndarray,
    grid: ModelGrid,
    volume: Volume,
    lowest: float,
    contour: float = 0.5,
) -> list[Candidate]:
    """The candidates of a probability map on ``grid``, outlined on ``volume``'s voxels.

    >>> from dicomteach.io.volume import FrameAxis
    >>> ct = Volume(np.zeros((4, 16, 16), np.int16), (2.5, 0.625, 0.625), (0.0, 0.0, 0.0),
    ...             np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]]), frame_axis=FrameAxis.SLICE)
    >>> grid = ModelGrid(np.zeros((4, 8, 8), np.float32), (0.0, 0.0, 0.0), (1.0, 2.0, 2.0),
    ...                  (4, 16, 16))
    >>> p = np.zeros((4, 8, 8), np.float32)
    >>> p[1:3, 3:5, 3:5] = 0.9  # a blob on the model's grid, two slices of 2.5 mm
    >>> (c,) = candidates(p, grid, ct, lowest=0.1)
    >>> round(c.probability, 2), c.centre_index, c.box[0]
    (0.9, (1.5, 7.0, 7.0), slice(0, 4, None))
    """
    from scipy import ndimage

    labels, count = ndimage.label(probability >= lowest, structure=np.ones((3, 3, 3), bool))
    found = []
    for number, region in enumerate(ndimage.find_objects(labels), start=1):
        if region is None:
            continue
        inside = labels[region] == number
        peak = float(probability[region][inside].max())
        level = min(contour, peak / 2.0)
        mask, box, weights = _outline(probability, labels, number, region, grid, level)
        if not mask.any():
            continue
        found.append(_candidate(peak, mask, box, weights, volume))
    found.sort(key=lambda c: -c.probability)
    return found


def _outline(
    probability: np.ndarray,
    labels: np.ndarray,
    number: int,
    region: tuple[slice, ...],
    grid: ModelGrid,
    level: float,
) -> tuple[np.ndarray, tuple[slice, slice, slice], np.ndarray]:
    """The region's outline on the CT's voxels: the map interpolated there, at ``level``."""
    from scipy import ndimage

    low = grid.to_volume(np.array([r.start - 1 for r in region]))
    high = grid.to_volume(np.array([r.stop for r in region]))
    box = tuple(
        slice(max(int(np.floor(a)), 0), min(int(np.ceil(b)) + 1, n))
        for a, b, n in zip(low, high, grid.shape, strict=True)
    )
    axes = [np.arange(b.start, b.stop, dtype=float) for b in box]
    points = np.meshgrid(*axes, indexing="ij")
    at = grid.to_model(np.stack(points, axis=-1)).reshape(-1, 3).T
    p = ndimage.map_coordinates(probability, at, order=1, mode="nearest")
    own = ndimage.map_coordinates((labels == number).astype(np.float32), at, order=1)
    shape = tuple(b.stop - b.start for b in box)
    p, own = p.reshape(shape), own.reshape(shape)
    mask = (p >= level) & (own >= 0.5)
    return mask, box, np.where(mask, p, 0.0)  # type: ignore[return-value]


def _candidate(
    peak: float,
    mask: np.ndarray,
    box: tuple[slice, slice, slice],
    weights: np.ndarray,
    volume: Volume,
) -> Candidate:
    index = np.argwhere(mask)
    w = weights[mask]
    centre = (index * w[:, None]).sum(0) / max(float(w.sum()), 1e-9)
    centre += np.array([b.start for b in box], dtype=float)
    spacing = np.asarray(volume.spacing, dtype=float)
    widest = max(_widest(index[index[:, 0] == k][:, 1:] * spacing[1:]) for k in set(index[:, 0]))
    widest += float(spacing[1:].mean())  # from pixel centres to pixel edges
    return Candidate(
        probability=peak,
        centre_index=tuple(round(float(v), 2) for v in centre),  # type: ignore[arg-type]
        centre_mm=tuple(round(float(v), 1) for v in volume.index_to_lps(centre)),  # type: ignore[arg-type]
        box=box,
        mask=mask,
        diameter_mm=round(widest, 1),
        volume_ml=round(float(mask.sum() * np.prod(spacing)) / 1000.0, 3),
    )


def _widest(points: np.ndarray) -> float:
    """Largest distance between two of ``points`` (n × 2, mm): between corners of their hull.

    >>> _widest(np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]]))
    5.0
    """
    from scipy.spatial import ConvexHull, QhullError

    if len(points) > 8:
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # all on one line: every point may be an end
            pass
    return float(np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)).max())
