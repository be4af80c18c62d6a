"""Delineations in standard formats: masks ⇄ polygons, DICOM SEG, RTSTRUCT, JSON and ``.npz`` answers.

One rasterisation rule everywhere (:mod:`dicomteach.roi.polygons`): a pixel
belongs to a polygon when its centre is inside, even-odd, with top-left ties.
SEG and RTSTRUCT are read onto a :class:`~dicomteach.io.Volume`'s grid, so
``masks[k]`` lies on ``Volume.pixels[k]``; what is written references the
source images and passes ``dciodvfy``.

>>> import numpy as np
>>> from dicomteach import roi
>>> mask = np.zeros((5, 5), bool); mask[1:4, 1:3] = True
>>> bool(np.array_equal(roi.polygons_to_mask(roi.mask_to_polygons(mask), mask.shape), mask))
True
"""

from __future__ import annotations

from dicomteach.roi.answers import (
    ANSWER_VERSION,
    Answer,
    Point,
    answer_from_points,
    load_answer,
    point_at,
    save_answer,
)
from dicomteach.roi.errors import AnswerError, GridMismatchError, RoiError
from dicomteach.roi.grid import GRID_TOLERANCE_MM
from dicomteach.roi.interpolate import interpolate_slices
from dicomteach.roi.load import check_same_grid, load_structures
from dicomteach.roi.npz import (
    DELINEATION_VERSION,
    DelineationAnswer,
    load_delineation,
    read_npz,
    save_delineation,
)
from dicomteach.roi.polygons import mask_to_polygons, polygon_to_mask, polygons_to_mask
from dicomteach.roi.rtstruct import read_rtstruct, read_rtstruct_structures, write_rtstruct
from dicomteach.roi.seg import SegmentInfo, Structures, read_seg, write_seg

__all__ = [
    "ANSWER_VERSION",
    "DELINEATION_VERSION",
    "GRID_TOLERANCE_MM",
    "Answer",
    "AnswerError",
    "DelineationAnswer",
    "GridMismatchError",
    "Point",
    "RoiError",
    "SegmentInfo",
    "Structures",
    "answer_from_points",
    "check_same_grid",
    "interpolate_slices",
    "load_answer",
    "load_delineation",
    "load_structures",
    "mask_to_polygons",
    "point_at",
    "polygon_to_mask",
    "polygons_to_mask",
    "read_npz",
    "read_rtstruct",
    "read_rtstruct_structures",
    "read_seg",
    "save_answer",
    "save_delineation",
    "write_rtstruct",
    "write_seg",
]
