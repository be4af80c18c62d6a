"""RTSTRUCTs exchanged with plastimatch 1.9.4 (Debian's ``plastimatch``), voxel for voxel, both ways.

plastimatch fills each contour of a slice on its own and ORs them, so a hole
written as a contour of its own comes back filled; dicomteach applies
even-odd across contours. ``write_rtstruct`` writes each region with its
holes joined by keyhole cuts (:func:`dicomteach.roi.polygons.mask_to_contours`),
which both kinds of reader fill the same way, and ``read_rtstruct`` reads
plastimatch's own convention (a hole as a second contour) as well.
scripts/test.sh installs plastimatch; without it these tests are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from dicomteach import io
from dicomteach.io.writer import write_ct_series
from dicomteach.roi import read_rtstruct, write_rtstruct

pytestmark = pytest.mark.skipif(
    shutil.which("plastimatch") is None, reason="plastimatch not installed"
)

SHAPE = (5, 64, 80)


def _ellipse(centre: tuple[float, float], radii: tuple[float, float]) -> np.ndarray:
    k, r, c = np.indices(SHAPE)
    inside = ((r - centre[0]) / radii[0]) ** 2 + ((c - centre[1]) / radii[1]) ** 2 <= 1
    return inside & (k >= 1) & (k <= 3)


def _masks() -> dict[str, np.ndarray]:
    return {
        "solid": _ellipse((30, 40), (20, 25)),
        # off-centre hole: the ring is thicker on one side
        "ring": _ellipse((32, 40), (22, 30)) & ~_ellipse((32, 42), (10, 12)),
        "islands": _ellipse((12, 15), (6, 8)) | _ellipse((50, 65), (7, 9)),
        # a ring with an island in its hole, and a second hole
        "nested": (_ellipse((32, 40), (26, 36)) & ~_ellipse((30, 34), (12, 14)))
        & ~_ellipse((48, 66), (4, 5))
        | _ellipse((30, 34), (5, 6)),
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, io.Volume]:
    root = tmp_path_factory.mktemp("plastimatch")
    write_ct_series(root / "ct", np.zeros(SHAPE), spacing=(2.0, 0.8, 0.7))
    return root / "ct", io.load(root / "ct")


def plastimatch_convert(*args: Path | str) -> None:
    run = subprocess.run(
        ["plastimatch", "convert", *map(str, args)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _image(mask: np.ndarray, volume: io.Volume) -> sitk.Image:
    """``mask`` as an ITK image on the volume's grid (ITK axes: column, row, slice)."""
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetOrigin(tuple(float(x) for x in volume.origin))
    image.SetSpacing(tuple(float(s) for s in volume.spacing[::-1]))
    axes = np.column_stack([volume.direction[2], volume.direction[1], volume.direction[0]])
    image.SetDirection(tuple(float(x) for x in axes.ravel()))
    return image


def test_plastimatch_reads_what_write_rtstruct_writes(study, tmp_path):
    ct, volume = study
    masks = _masks()
    rtstruct = write_rtstruct(masks, volume, tmp_path / "rtstruct.dcm")
    plastimatch_convert(
        "--input", rtstruct, "--referenced-ct", ct, "--output-prefix", tmp_path / "masks",
        "--prefix-format", "nrrd",
    )  # fmt: skip
    for name, mask in masks.items():
        image = sitk.ReadImage(str(tmp_path / "masks" / f"{name}.nrrd"))
        assert image.GetOrigin() == pytest.approx(volume.origin, abs=1e-3)
        assert image.GetSpacing() == pytest.approx(volume.spacing[::-1], abs=1e-5)
        found = sitk.GetArrayFromImage(image).astype(bool)
        assert found.sum() == mask.sum() and np.array_equal(found, mask), name


def test_we_read_what_plastimatch_writes(study, tmp_path):
    ct, volume = study
    masks = _masks()
    (tmp_path / "masks").mkdir()
    for name, mask in masks.items():
        sitk.WriteImage(_image(mask, volume), str(tmp_path / "masks" / f"{name}.nrrd"))
    plastimatch_convert(
        "--input-prefix", tmp_path / "masks", "--output-dicom", tmp_path / "dicom",
        "--referenced-ct", ct,
    )  # fmt: skip
    (rtstruct,) = (tmp_path / "dicom").glob("rtss_*.dcm")
    found = read_rtstruct(rtstruct, volume)
    for name, mask in masks.items():
        assert found[name].sum() == mask.sum() and np.array_equal(found[name], mask), name
    # plastimatch writes the ring's hole as a contour of its own: the other convention
    ds = pydicom.dcmread(rtstruct)
    number = next(r.ROINumber for r in ds.StructureSetROISequence if r.ROIName == "ring")
    (ring,) = (c for c in ds.ROIContourSequence if c.ReferencedROINumber == number)
    assert len(ring.ContourSequence) == 2 * 3  # 3 slices, an outline and a hole on each
