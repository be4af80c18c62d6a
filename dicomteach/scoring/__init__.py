"""Pure numpy metrics for scoring delineations against a reference.

Overlap (:func:`dice`, :func:`jaccard`), volume (:func:`volume_difference_pct`)
and surface metrics (:func:`hausdorff`, :func:`hausdorff95`,
:func:`mean_surface_distance`, :func:`surface_dice`) defined as in DeepMind's
``surface-distance`` (Nikolov et al. 2021) and tested against it; surface
metrics take one :func:`surface_distances` result, computed once.
:func:`score` gives every metric of one structure, :func:`score_structures`
every structure of a label map. 2D and 3D, with anisotropic spacing. No
widgets, no files. :func:`signed_distance_map` tells where an outline is too
large or too small, for feedback.

The empty-mask policy is in :mod:`dicomteach.scoring.metrics`.
"""

from __future__ import annotations

from dicomteach.scoring.distances import SurfaceDistances, surface_distances
from dicomteach.scoring.metrics import (
    Scores,
    dice,
    hausdorff,
    hausdorff95,
    jaccard,
    mean_surface_distance,
    score,
    score_structures,
    surface_dice,
    volume_difference_pct,
)
from dicomteach.scoring.signed import (
    SignedDistanceMap,
    signed_distance_map,
    surface_voxels,
    too_large,
    too_small,
)
from dicomteach.scoring.surfels import neighbour_codes, surfel_area_table

__all__ = [
    "Scores",
    "SignedDistanceMap",
    "SurfaceDistances",
    "dice",
    "hausdorff",
    "hausdorff95",
    "jaccard",
    "mean_surface_distance",
    "neighbour_codes",
    "score",
    "score_structures",
    "signed_distance_map",
    "surface_dice",
    "surface_distances",
    "surface_voxels",
    "surfel_area_table",
    "too_large",
    "too_small",
    "volume_difference_pct",
]
