"""Hostile SEG and RTSTRUCT files meet the limits and one-line errors of any file dicomteach reads.

``roi`` opens DICOM through :func:`dicomteach.io.reader.read_object`, the one
path with :mod:`dicomteach.io.safety`'s limits. Each hostile file is built
here from a SEG or RTSTRUCT that ``write_seg`` / ``write_rtstruct`` wrote, and
goes through the real ``dicomteach score`` in a subprocess whose wall time and
peak memory are measured (tests/measured.py).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
import pytest
from measured import assert_bounded, run_cli
from pydicom.uid import ImplicitVRLittleEndian

from dicomteach import io
from dicomteach.io.writer import write_ct_series
from dicomteach.roi import load_structures, write_rtstruct, write_seg
from dicomteach.roi.rtstruct import MAX_CONTOUR_POINTS

SHAPE = (8, 32, 32)


@dataclass(frozen=True)
class Study:
    root: Path
    volume: io.Volume
    seg: Path
    rtstruct: Path


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("hostile-roi")
    write_ct_series(root / "ct", np.zeros(SHAPE), spacing=(2.0, 0.8, 0.8))
    volume = io.load(root / "ct")
    mask = np.zeros(SHAPE, bool)
    mask[2:6, 8:20, 10:22] = True
    (root / "seg").mkdir()
    seg = write_seg({"Tumour": mask}, volume, root / "seg" / "seg.dcm")
    rtstruct = write_rtstruct({"Tumour": mask}, volume, root / "rtstruct.dcm")
    return Study(root, volume, seg, rtstruct)


# --- building hostile files -------------------------------------------------------------------


def _tag(group: int, element: int) -> bytes:
    return struct.pack("<HH", group, element)


def _deep_sequence(depth: int = 5000) -> bytes:
    """Content Sequence items nested ``depth`` deep, undefined lengths (explicit VR LE)."""
    open_level = _tag(0x0040, 0xA730) + b"SQ\0\0" + b"\xff" * 4 + _tag(0xFFFE, 0xE000) + b"\xff" * 4
    close_level = _tag(0xFFFE, 0xE00D) + b"\0" * 4 + _tag(0xFFFE, 0xE0DD) + b"\0" * 4
    return open_level * depth + close_level * depth


def seg_deep(study: Study, d: Path) -> Path:
    data = study.seg.read_bytes()
    at = data.rfind(b"\xe0\x7f\x10\x00OB")  # Pixel Data: the nesting goes just before it
    path = d / "seg-deep.dcm"
    path.write_bytes(data[:at] + _deep_sequence() + data[at:])
    return path


def rtstruct_deep(study: Study, d: Path) -> Path:
    path = d / "rtstruct-deep.dcm"
    path.write_bytes(study.rtstruct.read_bytes() + _deep_sequence())
    return path


def _edited(src: Path, path: Path, edit: Callable[[pydicom.Dataset], None]) -> Path:
    ds = pydicom.dcmread(src)
    edit(ds)
    ds.save_as(path)
    return path


def seg_billion_frames(study: Study, d: Path) -> Path:
    def edit(ds: pydicom.Dataset) -> None:
        ds.NumberOfFrames = 1_000_000_000

    return _edited(study.seg, d / "seg-frames.dcm", edit)


def seg_huge_frames(study: Study, d: Path) -> Path:
    def edit(ds: pydicom.Dataset) -> None:
        ds.Rows = ds.Columns = 65535  # 4 GiB a frame once unpacked, the bits stay 1 KiB

    return _edited(study.seg, d / "seg-rows.dcm", edit)


def _with_contour(study: Study, path: Path, points: int, raw: bytes) -> Path:
    """The RTSTRUCT with its first contour's Contour Data replaced by ``raw`` bytes.

    Implicit VR Little Endian (an explicit VR DS value cannot exceed 64 KiB, PS3.5
    7.1.2), sequences of undefined length so that the bytes can be spliced in:
    pydicom would parse millions of values to write them.
    """
    ds = pydicom.dcmread(study.rtstruct)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds["ROIContourSequence"].is_undefined_length = True
    roi = ds.ROIContourSequence[0]
    roi.is_undefined_length_sequence_item = True
    roi["ContourSequence"].is_undefined_length = True
    contour = roi.ContourSequence[0]
    contour.is_undefined_length_sequence_item = True
    contour.NumberOfContourPoints = points
    placeholder = "\\".join(["1234.56789"] * 3).encode()  # 32 bytes: even, no padding
    contour.ContourData = ["1234.56789"] * 3
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    element = struct.pack("<HHI", 0x3006, 0x0050, len(placeholder)) + placeholder
    at = data.index(element)
    raw += b" " * (len(raw) % 2)
    spliced = struct.pack("<HHI", 0x3006, 0x0050, len(raw)) + raw
    path.write_bytes(data[:at] + spliced + data[at + len(element) :])
    return path


def rtstruct_millions_of_points(study: Study, d: Path) -> Path:
    points = MAX_CONTOUR_POINTS + 1_000_000
    return _with_contour(
        study, d / "rtstruct-points.dcm", points, b"\\".join([b"0\\0\\0"] * points)
    )


def rtstruct_zigzag(study: Study, d: Path) -> Path:
    """Two hundred thousand points, well under the point budget, zigzagging from the top row
    to the bottom of one slice: filling them would cross the rows 6.4 million times."""
    top, bottom = (study.volume.index_to_lps((3, r, 16)) for r in (-0.5, 31.5))
    pair = b"\\".join(f"{x:.4f}".encode() for x in (*top, *bottom))
    points = 200_000
    return _with_contour(
        study, d / "rtstruct-zigzag.dcm", points, b"\\".join([pair] * (points // 2))
    )


@dataclass(frozen=True)
class Case:
    build: Callable[[Study, Path], Path]
    words: str
    """A regular expression the one line must match."""
    image: bool = False
    """The file needs ``--image`` (an RTSTRUCT)."""


CASES = {
    "SEG nested 5000 deep": Case(seg_deep, r"nested"),
    "RTSTRUCT nested 5000 deep": Case(rtstruct_deep, r"nested", image=True),
    "SEG of a billion frames": Case(
        seg_billion_frames, r"NumberOfFrames is 1000000000, over the limit"
    ),
    "SEG of 65535×65535 frames": Case(seg_huge_frames, r"image claims .* GiB of pixels"),
    "RTSTRUCT of millions of points": Case(
        rtstruct_millions_of_points, r"contours hold more than 5,000,000 points", image=True
    ),
    "RTSTRUCT zigzagging across a slice": Case(
        rtstruct_zigzag, r"cross the image's rows more often than any outline", image=True
    ),
}


@pytest.fixture(scope="module")
def hostile(study: Study, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("built")
    return {name: case.build(study, d) for name, case in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_score_says_one_line_and_exits_2_cheaply(name, study, hostile, tmp_path):
    case, path = CASES[name], hostile[name]
    image = ["--image", study.root / "ct"] if case.image else []
    reference = study.rtstruct if case.image else study.seg
    run = run_cli("score", reference, path, *image, tmp=tmp_path)
    assert "Traceback" not in run.stderr + run.stdout
    assert run.code == 2, run.stderr
    (line,) = run.stderr.strip("\n").splitlines()
    assert line.startswith(f"dicomteach: error: {path}: "), line
    assert re.search(case.words, line), line
    assert_bounded(run)


def test_a_link_beside_a_seg_never_leads_the_search_outside_its_folders(study, tmp_path):
    """The SEG's source images are searched in its folder and the parent; a link there to
    images elsewhere is not followed, so the SEG is read on its own grid (its 4 slices)."""
    submission = tmp_path / "class" / "learner"
    submission.mkdir(parents=True)
    seg = submission / "seg.dcm"
    seg.write_bytes(study.seg.read_bytes())
    for k, source in enumerate(sorted((study.root / "ct").iterdir())):
        os.symlink(source, submission / f"image-{k}.dcm")
    run = run_cli("score", seg, seg, tmp=tmp_path)
    assert run.code == 0, run.stderr
    assert "grid        4 × 32 × 32 voxels" in run.stdout, run.stdout
    # the same images copied beside it are found: the SEG lies on the whole series
    for k, source in enumerate(sorted((study.root / "ct").iterdir())):
        (submission / f"image-{k}.dcm").unlink()
        (submission / f"image-{k}.dcm").write_bytes(source.read_bytes())
    assert load_structures(seg).shape == SHAPE
