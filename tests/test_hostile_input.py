"""Hostile and broken input: every failure is one clear line, exit status 2, bounded cost.

Each hostile file is built here, in ``tmp_path``, from pydicom's own test files
by editing bytes or data sets. Every case runs the real command line in a
subprocess and measures its wall time and peak memory (VmHWM): the requirement is that no input
makes ``dicomteach info`` take more than 10 s or 1 GiB of memory. Those two
numbers are safety bounds from the requirement, not performance targets.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from measured import GiB, Run, assert_bounded, run_cli
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from dicomteach import io
from dicomteach.errors import (
    DicomTeachError,
    HostileInputError,
    InvalidHeaderError,
    MissingPixelDataError,
    NotDicomError,
    PixelDataError,
    TooLargeError,
    TruncatedError,
)


def _testdata(name: str) -> str:
    path = get_testdata_file(name, download=False)
    if path is None:  # pragma: no cover - pydicom / pydicom-data are test requirements
        pytest.skip(f"{name} not installed")
    return str(path)


CT = _testdata("CT_small.dcm")  # explicit VR little endian, 128×128, 16 bits
MR = _testdata("MR_small.dcm")
JPEG = _testdata("SC_rgb_jpeg_dcmtk.dcm")  # JPEG baseline, RGB 100×100
LOSSLESS = _testdata("SC_rgb_jpeg_gdcm.dcm")  # JPEG lossless, RGB 100×100


# --- building hostile files -----------------------------------------------------------------


def _tag(group: int, element: int) -> bytes:
    return struct.pack("<HH", group, element)


def _explicit(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    """One explicit VR little endian element (PS3.5 7.1.2)."""
    if len(value) % 2:
        value += b"\0" if vr == b"UI" else b" "
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return _tag(group, element) + vr + b"\0\0" + struct.pack("<I", len(value)) + value
    return _tag(group, element) + vr + struct.pack("<H", len(value)) + value


def _part10_head(transfer_syntax: str, sop_class: str = SecondaryCaptureImageStorage) -> bytes:
    """Preamble, 'DICM' and a file meta group, as pydicom writes them."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    buf = BytesIO()
    buf.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(buf, meta, enforce_standard=True)
    return buf.getvalue()


def _small_image_elements() -> tuple[bytes, bytes]:
    """(0008–0028 elements of an 8×8 MONOCHROME2 image, its Pixel Data element)."""
    head = b"".join(
        [
            _explicit(0x0008, 0x0016, b"UI", SecondaryCaptureImageStorage.encode()),
            _explicit(0x0008, 0x0018, b"UI", generate_uid().encode()),
            _explicit(0x0008, 0x0060, b"CS", b"OT"),
            _explicit(0x0028, 0x0002, b"US", struct.pack("<H", 1)),
            _explicit(0x0028, 0x0004, b"CS", b"MONOCHROME2"),
            _explicit(0x0028, 0x0010, b"US", struct.pack("<H", 8)),
            _explicit(0x0028, 0x0011, b"US", struct.pack("<H", 8)),
            _explicit(0x0028, 0x0100, b"US", struct.pack("<H", 8)),
            _explicit(0x0028, 0x0101, b"US", struct.pack("<H", 8)),
            _explicit(0x0028, 0x0102, b"US", struct.pack("<H", 7)),
            _explicit(0x0028, 0x0103, b"US", struct.pack("<H", 0)),
        ]
    )
    return head, _explicit(0x7FE0, 0x0010, b"OB", bytes(range(64)))


def _pixel_value_offset(data: bytes) -> int:
    """Offset of the Pixel Data value in an explicit VR little endian file (12-byte header)."""
    at = data.rfind(b"\xe0\x7f\x10\x00")
    assert at > 0 and data[at + 4 : at + 6] in (b"OB", b"OW")
    return at + 12


def empty(d: Path) -> Path:
    p = d / "empty.dcm"
    p.write_bytes(b"")
    return p


def png_renamed(d: Path) -> Path:
    # a valid 1×1 PNG, renamed as people do
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
        b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
        b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    p = d / "photo.dcm"
    p.write_bytes(png)
    return p


def random_bytes(d: Path) -> Path:
    p = d / "noise.dcm"
    p.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(64 * 1024)))
    return p


def truncated_header(d: Path) -> Path:
    data = Path(CT).read_bytes()
    p = d / "truncated_header.dcm"
    p.write_bytes(data[:700])  # cut inside the data set, long before the pixels
    return p


def truncated_pixels(d: Path) -> Path:
    data = Path(CT).read_bytes()
    at = _pixel_value_offset(data)
    p = d / "truncated_pixels.dcm"
    p.write_bytes(data[: at + (len(data) - at) // 2])  # half the pixels, header intact
    return p


def _edited(src: str, name: str, d: Path, edit: Callable[[Dataset], None]) -> Path:
    ds = pydicom.dcmread(src)
    edit(ds)
    p = d / name
    ds.save_as(p)
    return p


def pixels_shorter(d: Path) -> Path:
    # the header claims 256 rows, the data holds 128: nothing is cut, the header lies
    return _edited(CT, "pixels_shorter.dcm", d, lambda ds: setattr(ds, "Rows", 256))


def pixels_longer(d: Path) -> Path:
    return _edited(CT, "pixels_longer.dcm", d, lambda ds: setattr(ds, "Rows", 64))


def pixels_short_frames(d: Path) -> Path:
    return _edited(CT, "pixels_frames.dcm", d, lambda ds: setattr(ds, "NumberOfFrames", 3))


def bits_allocated_7(d: Path) -> Path:
    def edit(ds: Dataset) -> None:
        ds.BitsAllocated = 7
        ds.BitsStored = 7
        ds.HighBit = 6

    return _edited(CT, "bits7.dcm", d, edit)


def bits_allocated_0(d: Path) -> Path:
    return _edited(MR, "bits0.dcm", d, lambda ds: setattr(ds, "BitsAllocated", 0))


def no_pixel_data(d: Path) -> Path:
    return _edited(CT, "no_pixels.dcm", d, lambda ds: ds.__delattr__("PixelData"))


def _jpeg_markers(data: bytes) -> tuple[int, int]:
    """Offsets of the start-of-frame (SOF0–SOF3) and start-of-scan markers."""
    sof = re.search(rb"\xff[\xc0-\xc3]", data)
    sos = data.find(b"\xff\xda")
    assert sof is not None and sos > sof.start()
    return sof.start(), sos


def corrupt_jpeg(d: Path) -> Path:
    """Noise in the middle of a baseline JPEG's entropy-coded scan."""
    data = bytearray(Path(JPEG).read_bytes())
    _, sos = _jpeg_markers(data)
    data[sos + 20 : sos + 400] = bytes((i * 37) % 256 for i in range(380))
    p = d / "corrupt_jpeg.dcm"
    p.write_bytes(bytes(data))
    return p


def corrupt_jpeg_lossless(d: Path) -> Path:
    """A lossless JPEG whose start-of-frame segment is overwritten."""
    data = bytearray(Path(LOSSLESS).read_bytes())
    sof, _ = _jpeg_markers(data)
    data[sof + 2 : sof + 200] = b"\xa5" * 198
    p = d / "corrupt_jpeg_lossless.dcm"
    p.write_bytes(bytes(data))
    return p


def jpeg_dimensions_lie(d: Path) -> Path:
    """The DICOM header says 100×100, the JPEG frame header 65535×65535 (12 GiB to decode)."""
    data = bytearray(Path(JPEG).read_bytes())
    sof, _ = _jpeg_markers(data)
    data[sof + 5 : sof + 9] = b"\xff\xff\xff\xff"
    p = d / "jpeg_dimensions.dcm"
    p.write_bytes(bytes(data))
    return p


def truncated_jpeg(d: Path) -> Path:
    """A JPEG file cut in the middle of its only fragment."""
    data = Path(JPEG).read_bytes()
    _, sos = _jpeg_markers(data)
    p = d / "truncated_jpeg.dcm"
    p.write_bytes(data[: sos + 300])
    return p


DEPTH = 5000


def deep_undefined(d: Path) -> Path:
    """Content Sequence items nested DEPTH deep, all undefined length (delimiters at the end)."""
    head, pixels = _small_image_elements()
    open_level = _tag(0x0040, 0xA730) + b"SQ\0\0" + b"\xff" * 4 + _tag(0xFFFE, 0xE000) + b"\xff" * 4
    close_level = _tag(0xFFFE, 0xE00D) + b"\0" * 4 + _tag(0xFFFE, 0xE0DD) + b"\0" * 4
    p = d / "deep_undefined.dcm"
    p.write_bytes(
        _part10_head(ExplicitVRLittleEndian)
        + head
        + open_level * DEPTH
        + close_level * DEPTH
        + pixels
    )
    return p


def deep_defined(d: Path) -> Path:
    """The same nesting with explicit lengths, computed from the innermost level out."""
    head, pixels = _small_image_elements()
    lengths = []
    inner = 0
    for _ in range(DEPTH):
        item = 8 + inner  # item header + contents
        lengths.append(item)
        inner = 12 + item  # SQ header (explicit VR, 4-byte length) + one item
    opens = [
        _tag(0x0040, 0xA730)
        + b"SQ\0\0"
        + struct.pack("<I", item)
        + _tag(0xFFFE, 0xE000)
        + struct.pack("<I", item - 8)
        for item in reversed(lengths)
    ]
    p = d / "deep_defined.dcm"
    p.write_bytes(_part10_head(ExplicitVRLittleEndian) + head + b"".join(opens) + pixels)
    return p


def deflate_bomb(d: Path, gib: int = 4, name: str = "deflate_bomb.dcm") -> Path:
    """Deflated Explicit VR Little Endian whose data set inflates to ``gib`` GiB.

    The inflated stream is a small valid header, then an OB element of zeros.
    After a full flush, deflate encodes each MiB of zeros to the same bytes, so
    the file is written by repeating one compressed block: a few MB on disk,
    built without ever holding the inflated bytes.
    """
    head, _ = _small_image_elements()
    huge = gib * GiB - 64
    prefix = head + _tag(0x0009, 0x1010) + b"OB\0\0" + struct.pack("<I", min(huge, 0xFFFFFFFE))
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    p = d / name
    with open(p, "wb") as fh:
        fh.write(_part10_head(DeflatedExplicitVRLittleEndian))
        fh.write(comp.compress(prefix) + comp.flush(zlib.Z_FULL_FLUSH))
        block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
        again = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
        assert block == again  # the repeat trick holds for this zlib
        fh.write(block * (gib * 1024 - 1))
        fh.write(comp.flush())
    return p


def dicomdir_bomb(d: Path) -> Path:
    """A DICOMDIR named on the command line that inflates to gigabytes."""
    folder = d / "bomb"
    folder.mkdir()
    return deflate_bomb(folder, name="DICOMDIR")


def terabytes_native(d: Path) -> Path:
    def edit(ds: Dataset) -> None:
        ds.Rows = ds.Columns = 65535
        ds.NumberOfFrames = 100_000

    return _edited(CT, "terabytes_native.dcm", d, edit)


def terabytes_jpeg(d: Path) -> Path:
    def edit(ds: Dataset) -> None:
        ds.Rows = ds.Columns = 65535
        ds.NumberOfFrames = 1000

    return _edited(JPEG, "terabytes_jpeg.dcm", d, edit)


def many_tiny_frames(d: Path) -> Path:
    """150 million frames of one pixel: 450 MB of pixels, within the pixel limit, not the frame one."""

    def edit(ds: Dataset) -> None:
        ds.Rows = ds.Columns = 1
        ds.NumberOfFrames = 150_000_000

    return _edited(JPEG, "many_frames.dcm", d, edit)


def _dicomdir(folder: Path, file_ids: list[list[str]]) -> Path:
    """A DICOMDIR (PS3.3 F.3) whose image records reference ``file_ids``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # '..' is not a valid CS value: that is the point
        return _write_dicomdir(folder, file_ids)


def _write_dicomdir(folder: Path, file_ids: list[list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ds = Dataset()
    ds.FileSetID = "HOSTILE"
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.FileSetConsistencyFlag = 0
    records = []
    for fid in file_ids:
        rec = Dataset()
        rec.OffsetOfTheNextDirectoryRecord = 0
        rec.RecordInUseFlag = 0xFFFF
        rec.OffsetOfReferencedLowerLevelDirectoryEntity = 0
        rec.DirectoryRecordType = "IMAGE"
        rec.ReferencedFileID = fid
        rec.ReferencedSOPClassUIDInFile = pydicom.uid.CTImageStorage
        rec.ReferencedSOPInstanceUIDInFile = generate_uid()
        rec.ReferencedTransferSyntaxUIDInFile = ExplicitVRLittleEndian
        records.append(rec)
    ds.DirectoryRecordSequence = records
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.MediaStorageDirectoryStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    p = folder / "DICOMDIR"
    ds.save_as(p, enforce_file_format=True)
    return p


def dicomdir_dotdot(d: Path) -> Path:
    folder = d / "dotdot"
    folder.mkdir()
    shutil.copy(CT, folder / "IM0")
    return _dicomdir(folder, [["IM0"], ["..", "..", "etc", "passwd"]])


def dicomdir_symlink(d: Path) -> Path:
    folder = d / "symlink"
    folder.mkdir()
    outside = d / "outside.dcm"
    shutil.copy(CT, outside)
    (folder / "IM0").symlink_to(outside)
    return _dicomdir(folder, [["IM0"]])


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], Path]
    error: type[DicomTeachError]
    words: str
    """A regular expression the message must match (case-insensitive)."""


CASES = {
    "empty": Case(empty, NotDicomError, r"empty"),
    "png": Case(png_renamed, NotDicomError, r"PNG image, not DICOM"),
    "random": Case(random_bytes, NotDicomError, r"not DICOM"),
    "truncated-header": Case(
        truncated_header, TruncatedError, r"truncated.*ends inside the header"
    ),
    "truncated-pixels": Case(truncated_pixels, TruncatedError, r"cut short"),
    "pixels-shorter": Case(pixels_shorter, PixelDataError, r"needs 65536.*header"),
    "pixels-longer": Case(pixels_longer, PixelDataError, r"holds 32768 bytes.*gives 16384"),
    "pixels-fewer-frames": Case(pixels_short_frames, PixelDataError, r"needs 98304"),
    "bits-allocated-7": Case(bits_allocated_7, InvalidHeaderError, r"BitsAllocated is 7"),
    "bits-allocated-0": Case(bits_allocated_0, InvalidHeaderError, r"BitsAllocated is 0"),
    "no-pixel-data": Case(no_pixel_data, MissingPixelDataError, r"no Pixel Data"),
    "corrupt-jpeg": Case(corrupt_jpeg, PixelDataError, r"cannot decode the JPEG"),
    "corrupt-jpeg-lossless": Case(corrupt_jpeg_lossless, PixelDataError, r"JPEG"),
    "jpeg-dimensions-lie": Case(jpeg_dimensions_lie, PixelDataError, r"65535.*100"),
    "truncated-jpeg": Case(truncated_jpeg, TruncatedError, r"pixel data is cut short"),
    "deep-undefined": Case(deep_undefined, HostileInputError, r"nested"),
    "deep-defined": Case(deep_defined, HostileInputError, r"nested"),
    "deflate-bomb": Case(deflate_bomb, HostileInputError, r"inflates"),
    "terabytes-native": Case(terabytes_native, TooLargeError, r"TiB.*limit"),
    "terabytes-jpeg": Case(terabytes_jpeg, TooLargeError, r"TiB.*limit"),
    "many-tiny-frames": Case(many_tiny_frames, TooLargeError, r"NumberOfFrames.*limit"),
    "dicomdir-dotdot": Case(dicomdir_dotdot, HostileInputError, r"outside its folder"),
    "dicomdir-symlink": Case(dicomdir_symlink, HostileInputError, r"outside its folder"),
    "dicomdir-bomb": Case(dicomdir_bomb, HostileInputError, r"inflates"),
}


# --- running the command line, measured ------------------------------------------------------


def run_info(*paths: Path | str, tmp: Path) -> Run:
    """``dicomteach info PATH…`` in a subprocess, with its wall time and peak memory."""
    return run_cli("info", *paths, tmp=tmp)


# --- the tests ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every hostile file, built once per module (the bomb takes a moment)."""
    d = tmp_path_factory.mktemp("hostile")
    return {name: case.build(d) for name, case in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_cli_reports_one_line_and_exits_2(
    name: str, hostile: dict[str, Path], tmp_path: Path
) -> None:
    path = hostile[name]
    run = run_info(path, tmp=tmp_path)
    assert "Traceback" not in run.stderr + run.stdout
    assert run.code == 2, run.stderr
    lines = run.stderr.strip("\n").splitlines()
    assert len(lines) == 1, run.stderr
    line = lines[0]
    assert line.startswith("dicomteach: error: ")
    assert str(path) in line, line
    assert re.search(CASES[name].words, line, re.IGNORECASE), line
    assert_bounded(run)


@pytest.mark.parametrize("name", list(CASES))
def test_read_file_raises_the_right_error(name: str, hostile: dict[str, Path]) -> None:
    case = CASES[name]
    path = hostile[name]
    with pytest.raises(case.error, match=f"(?i){case.words}") as info:
        if name.startswith("dicomdir"):
            io.read(path)  # a DICOMDIR is followed by read(), not read_file()
        else:
            io.read_file(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message


@pytest.mark.parametrize("src", [CT, JPEG], ids=["native", "jpeg"])
def test_every_cut_is_reported_as_truncated(src: str, tmp_path: Path) -> None:
    """A file cut anywhere after 'DICM' is reported as cut short, never as something else."""
    data = Path(src).read_bytes()
    at = _pixel_value_offset(data) if src == CT else len(data)
    cut_file = tmp_path / "cut.dcm"
    for cut in [*range(132, min(at, 2000)), *range(at, len(data) - 160, 397)]:
        cut_file.write_bytes(data[:cut])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing may reach the console but the one line
            with pytest.raises(DicomTeachError) as info:
                io.read_file(cut_file)
        error = info.value
        assert isinstance(error, TruncatedError) or (
            isinstance(error, MissingPixelDataError) and "cut short" in str(error)
        ), f"cut at {cut}: {error!r}"


#: Damage only a decoder can see: found while the series is assembled, after every header is read.
DECODE_TIME = {"corrupt-jpeg"}


def test_folder_keeps_good_files_and_lists_bad_ones(
    hostile: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(CT, folder / "good.dcm")
    bad = {
        name: path
        for name, path in hostile.items()
        if not name.startswith("dicomdir") and name not in DECODE_TIME
    }
    for name, path in bad.items():
        shutil.copy(path, folder / f"{name}.dcm")
    shutil.copy(hostile["dicomdir-dotdot"], folder / "DICOMDIR")  # met in a walk: not followed

    result = io.read(folder)
    assert [v.modality for v in result.volumes] == ["CT"]
    assert result.volumes[0].pixels.shape == (1, 128, 128)
    skipped = {Path(e.path).stem for e in result.skipped}
    assert skipped == set(bad)
    assert all(isinstance(e, CASES[Path(e.path).stem].error) for e in result.skipped)

    run = run_info(folder, tmp=tmp_path)
    assert "Traceback" not in run.stderr + run.stdout
    assert run.code == 0, run.stderr
    assert "CT" in run.stdout and "128 × 128" in run.stdout
    lines = run.stderr.strip("\n").splitlines()
    assert len(lines) == len(bad)
    assert all(line.startswith("dicomteach: skipped ") for line in lines)
    assert_bounded(run)


@pytest.mark.parametrize("name", sorted(DECODE_TIME))
def test_folder_skips_files_that_fail_to_decode(
    name: str, hostile: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(CT, folder / "good.dcm")
    shutil.copy(hostile[name], folder / "bad.dcm")
    result = io.read(folder)
    assert [v.modality for v in result.volumes] == ["CT"]
    assert [Path(e.path).name for e in result.skipped] == ["bad.dcm"]


def test_zip_of_large_members_is_read_one_member_at_a_time(tmp_path: Path) -> None:
    """Members are extracted when read, not all up front: 3 × 300 MiB of zeros beside a CT."""
    archive = tmp_path / "bomb.zip"
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.write(CT, "study/good.dcm")
        for k in range(3):
            with zf.open(f"study/zeros{k}.dcm", "w", force_zip64=True) as fh:
                for _ in range(300):
                    fh.write(zeros)
    assert archive.stat().st_size < 8 * 2**20

    run = run_info(archive, tmp=tmp_path)
    assert "Traceback" not in run.stderr + run.stdout
    assert run.code == 0, run.stderr
    assert "CT" in run.stdout
    lines = run.stderr.strip("\n").splitlines()
    assert len(lines) == 3 and all("not DICOM" in line and "zeros" in line for line in lines)
    assert_bounded(run)


def test_bare_data_set_reads_with_a_warning(tmp_path: Path) -> None:
    """No preamble, no file meta (old modalities, some PACS exports): read, and say so."""
    ds = pydicom.dcmread(CT)
    del ds.file_meta
    ds.preamble = None
    bare = tmp_path / "bare.dcm"
    ds.save_as(bare, enforce_file_format=False, implicit_vr=False, little_endian=True)
    assert bare.read_bytes()[128:132] != b"DICM"

    vol = io.read_file(bare)
    assert vol.pixels.shape == (1, 128, 128)
    assert any("preamble" in w for w in vol.warnings), vol.warnings

    run = run_info(bare, tmp=tmp_path)
    assert run.code == 0, run.stderr
    assert "preamble" in run.stdout
    assert_bounded(run)


def test_folder_with_a_broken_link_and_a_pipe_reads_the_rest(tmp_path: Path) -> None:
    """A pipe would block a naive reader forever; a dangling link would raise: both are skipped."""
    folder = tmp_path / "odd"
    folder.mkdir()
    shutil.copy(CT, folder / "good.dcm")
    (folder / "dangling.dcm").symlink_to(tmp_path / "gone.dcm")
    os.mkfifo(folder / "pipe.dcm")
    result = io.read(folder)
    assert [v.modality for v in result.volumes] == ["CT"]
    reasons = {Path(e.path).name: e.problem for e in result.skipped}
    assert reasons.keys() == {"dangling.dcm", "pipe.dcm"}
    assert "cannot read the file" in reasons["dangling.dcm"]
    assert "not a regular file" in reasons["pipe.dcm"]
    run = run_info(folder, tmp=tmp_path)
    assert run.code == 0 and "Traceback" not in run.stderr
    assert_bounded(run)
