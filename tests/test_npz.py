"""The delineation ``.npz`` (dicomteach/roi/npz.py): one home for its layout, and hostile files
refused before they cost anything.

Hostile files are built here, in ``tmp_path``, byte by byte where numpy would
not write them. Each one goes through the real ``dicomteach score`` and
through ``grade_delineation``, both in subprocesses whose wall time and peak
memory (VmHWM) are measured (tests/measured.py): one line naming the problem
or 0 points and a reason, never a traceback, under 10 s and 1 GiB.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from measured import assert_bounded, run_cli, run_measured

from dicomteach.grading import Status, grade_delineation
from dicomteach.io.volume import Volume
from dicomteach.roi import GridMismatchError, RoiError, load_structures, read_npz
from dicomteach.roi.npz import (
    DELINEATION_VERSION,
    MAX_MEMBERS,
    DelineationAnswer,
    LabelMasks,
    load_delineation,
    save_delineation,
)
from dicomteach.scoring import score
from dicomteach.widgets import Delineator

DATA = Path(__file__).parent / "data"
GRID = (4, 5, 5)
SPACING = np.array([2.0, 0.8, 0.8])
REFERENCE = np.zeros(GRID, bool)
REFERENCE[1:3, 1:4, 1:4] = True
GiB = 1024**3


# --- building files numpy would not write ----------------------------------------------------


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    """A .npy magic and header declaring ``shape`` of ``descr``, without the data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_2_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def write_zip(
    path: Path,
    members: dict[str, bytes | Callable[[], bytes]],
    method: int = zipfile.ZIP_STORED,
    zeros: dict[str, int] | None = None,
) -> Path:
    """A zip of ``name.npy`` members; ``zeros[name]`` more bytes of zeros are streamed
    after a member's bytes (a zip bomb without holding it in memory)."""
    with zipfile.ZipFile(path, "w", method, compresslevel=9 if method else None) as archive:
        for key, data in members.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                member.write(data() if callable(data) else data)
                left = (zeros or {}).get(key, 0)
                chunk = bytes(1 << 24)
                while left > 0:
                    member.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
    return path


def spacing_member() -> bytes:
    return npy(SPACING)


# --- hostile and broken files: (builder, what the one line says) ------------------------------


def header_of_3_6_tib(d: Path) -> Path:
    # a member whose header declares a 3.6 TiB array
    return write_zip(
        d / "huge.npz",
        {"mask": npy_header((1_000_000, 2000, 2000)) + bytes(64), "spacing": spacing_member()},
    )


def zip_bomb_of_2_gib(d: Path) -> Path:
    # 2 GiB of zeros, a few MB on disk
    return write_zip(
        d / "bomb.npz",
        {"mask": npy_header((2048, 1024, 1024)), "spacing": spacing_member()},
        zipfile.ZIP_DEFLATED,
        zeros={"mask": 2 * GiB},
    )


def bomb_behind_a_small_header(d: Path) -> Path:
    # the header declares the reference's grid; 2 GiB of zeros follow the 100 bytes it needs
    return write_zip(
        d / "bomb-behind.npz",
        {"mask": npy_header(GRID), "spacing": spacing_member()},
        zipfile.ZIP_DEFLATED,
        zeros={"mask": 2 * GiB},
    )


def pickled_mask(d: Path) -> Path:
    mask = np.empty(GRID, dtype=object)
    mask[...] = 0
    return write_zip(d / "pickled-mask.npz", {"mask": npy(mask), "spacing": spacing_member()})


def pickle_beside(d: Path) -> Path:
    extra = np.array([{"run": "anything"}], dtype=object)
    members = {"mask": npy(REFERENCE), "spacing": spacing_member(), "notes": npy(extra)}
    return write_zip(d / "pickle-beside.npz", members)


def too_many_members(d: Path) -> Path:
    members: dict[str, bytes | Callable[[], bytes]] = {
        f"m{k}": npy(np.zeros(1)) for k in range(MAX_MEMBERS + 44)
    }
    members.update({"mask": npy(REFERENCE), "spacing": spacing_member()})
    return write_zip(d / "many.npz", members)


def bzip2_member(d: Path) -> Path:
    return write_zip(
        d / "bzip2.npz", {"mask": npy(REFERENCE), "spacing": spacing_member()}, zipfile.ZIP_BZIP2
    )


def negative_shape(d: Path) -> Path:
    members = {"mask": npy_header((-4, 5, 5)) + bytes(100), "spacing": spacing_member()}
    return write_zip(d / "negative.npz", members)


def huge_names(d: Path) -> Path:
    members = {
        "mask": npy(REFERENCE),
        "spacing": spacing_member(),
        "names": npy_header((10**9,), "<U64"),
    }
    return write_zip(d / "names.npz", members)


def cut_short(d: Path) -> Path:
    good = d / "good.npz"
    save_delineation(DelineationAnswer(REFERENCE.astype(np.uint8), tuple(SPACING)), good)
    data = good.read_bytes()
    path = d / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    return path


def not_a_zip(d: Path) -> Path:
    path = d / "noise.npz"
    path.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(4096)))
    return path


def float_mask(d: Path) -> Path:
    members = {"mask": npy(REFERENCE.astype(float)), "spacing": spacing_member()}
    return write_zip(d / "float.npz", members)


def no_mask(d: Path) -> Path:
    return write_zip(d / "no-mask.npz", {"spacing": spacing_member(), "labels": npy(REFERENCE)})


def newer_version(d: Path) -> Path:
    members = {"mask": npy(REFERENCE), "spacing": spacing_member(), "version": npy(np.array(99))}
    return write_zip(d / "newer.npz", members)


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], Path]
    words: str
    """A regular expression the one line must match."""


CASES = {
    "3.6 TiB header": Case(header_of_3_6_tib, r"shape 1000000×2000×2000, not on the 4×5×5 grid"),
    "2 GiB zip bomb": Case(zip_bomb_of_2_gib, r"shape 2048×1024×1024, not on the 4×5×5 grid"),
    "bomb behind a header": Case(bomb_behind_a_small_header, r"more bytes than its header"),
    "pickled mask": Case(pickled_mask, r"Python objects in its 'mask' \(a pickle\)"),
    "pickle beside": Case(pickle_beside, r"Python objects in its 'notes' \(a pickle\)"),
    "too many members": Case(too_many_members, r"lists 302 files"),
    "bzip2 member": Case(bzip2_member, r"compressed with zip method 12"),
    "negative shape": Case(negative_shape, r"'mask' has shape \(-4, 5, 5\)"),
    "huge names": Case(huge_names, r"declares a 238 GiB 'names'"),
    "cut short": Case(cut_short, r"cannot be read as a \.npz"),
    "not a zip": Case(not_a_zip, r"no zip directory"),
    "float mask": Case(float_mask, r"float64 'mask'; it must be bool or integer"),
    "no mask": Case(no_mask, r"lacks 'mask' \(it holds labels, spacing\)"),
    "newer version": Case(
        newer_version, r"newer dicomteach \(version 99; this one reads version 1\)"
    ),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile-npz")
    return {name: case.build(d) for name, case in CASES.items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reference") / "reference.npz"
    np.savez(path, mask=REFERENCE, spacing=SPACING)
    return path


class TestHostileFiles:
    @pytest.mark.parametrize("name", list(CASES))
    def test_score_says_one_line_and_exits_2_cheaply(self, name, hostile, reference, tmp_path):
        path = hostile[name]
        run = run_cli("score", reference, path, tmp=tmp_path)
        assert "Traceback" not in run.stderr + run.stdout
        assert run.code == 2, run.stderr
        (line,) = run.stderr.strip("\n").splitlines()
        assert line.startswith(f"dicomteach: error: {path}: "), line
        assert re.search(CASES[name].words, line), line
        assert_bounded(run)

    def test_grading_gives_zero_points_and_a_reason_cheaply(self, hostile, reference, tmp_path):
        # every case in one process: the bound holds for the worst of them
        code = (
            "import json, sys\n"
            "from dicomteach.grading import grade_delineation\n"
            "out = {}\n"
            "for path in sys.argv[2:]:\n"
            "    f = grade_delineation(path, sys.argv[1], 10, images=False)\n"
            "    out[path] = [f.points, f.status.value, f.lines]\n"
            "print(json.dumps(out))\n"
        )
        run = run_measured(code, reference, *hostile.values(), tmp=tmp_path)
        assert run.code == 0 and "Traceback" not in run.stderr, run.stderr
        graded = json.loads(run.stdout)
        for name, path in hostile.items():
            points, status, lines = graded[str(path)]
            assert points == 0 and status == Status.INVALID_ANSWER.value, (name, lines)
            (line,) = lines
            assert path.name in line and re.search(CASES[name].words, line), (name, line)
        assert_bounded(run)

    def test_the_3_6_tib_header_is_refused_without_a_grid_too(self, hostile, reference, tmp_path):
        # read first, a file has no grid to be compared with: the absolute limit applies
        run = run_cli("score", hostile["3.6 TiB header"], reference, tmp=tmp_path)
        assert run.code == 2 and "declares a 3.64 TiB 'mask'" in run.stderr, run.stderr
        assert_bounded(run)

    def test_a_label_map_of_255_structures_makes_one_mask_at_a_time(self, tmp_path):
        # eager masks would be 255 × 16 MiB = 4 GiB
        labels = np.tile(np.arange(256, dtype=np.uint8), 16 * 1024 * 1024 // 256)
        path = tmp_path / "labels.npz"
        np.savez(path, mask=labels.reshape(16, 1024, 1024), spacing=np.ones(3))
        code = (
            "import sys\n"
            "from dicomteach.roi import read_npz\n"
            "found = read_npz(sys.argv[1])\n"
            "print(len(found.masks), sum(int(m.sum()) for m in found.masks.values()))\n"
        )
        run = run_measured(code, path, tmp=tmp_path)
        assert run.code == 0, run.stderr
        assert run.stdout.split() == ["255", str(labels.size - labels.size // 256)]
        assert_bounded(run)


# --- the layout -----------------------------------------------------------------------------


@pytest.fixture
def ct() -> Volume:
    header = pydicom.Dataset()
    header.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    return Volume(
        np.zeros((3, 4, 5), np.int16),
        (2.5, 0.8, 0.6),
        (-10.0, 20.0, 30.0),
        np.eye(3)[[2, 1, 0]],
        modality="CT",
        header=header,
    )


class TestLayout:
    def test_a_file_written_before_the_format_moved_reads_back_whole(self, ct, tmp_path):
        # tests/data/delineation-v1.npz: written by the Delineator as it was before
        # dicomteach/roi/npz.py existed, on the volume of the ``ct`` fixture
        found = load_delineation(DATA / "delineation-v1.npz")
        expected = np.zeros((3, 4, 5), np.uint8)
        expected[0, 1:3, 1:4] = 1
        expected[2, 0, 0:2] = 2
        assert np.array_equal(found.mask, expected)
        assert found.names == ("Tumour", "Node") and found.spacing == (2.5, 0.8, 0.6)
        assert found.colors.tolist() == [[250, 0, 0], [0, 0, 250]]
        assert found.series_uid == ct.series_uid and found.origin == (-10.0, 20.0, 30.0)
        assert found.drawn.tolist() == [[1, 0, 0], [2, 0, 2]] and found.revision == 1
        assert found.version == DELINEATION_VERSION
        found.check_against(ct)
        copy = tmp_path / "delineation.npz"
        copy.write_bytes((DATA / "delineation-v1.npz").read_bytes())
        widget = Delineator(ct, ("Tumour", "Node"), answer=copy)
        assert np.array_equal(widget.labels, expected) and widget.revision == 1

    def test_what_is_written_has_the_members_and_types_of_version_1(self, ct, tmp_path):
        labels = np.zeros((3, 4, 5), np.uint8)
        labels[0, 1:3, 1:4] = 1
        labels[2, 0, 0:2] = 2
        answer = DelineationAnswer(
            labels,
            (2.5, 0.8, 0.6),
            ("Tumour", "Node"),
            np.array([[250, 0, 0], [0, 0, 250]]),
            ct.series_uid,
            (-10.0, 20.0, 30.0),
            revision=1,
            drawn=np.array([[1, 0, 0], [2, 0, 2]]),
        )
        path = save_delineation(answer, tmp_path / "delineation.npz")
        with np.load(DATA / "delineation-v1.npz") as old, np.load(path) as new:
            assert new.files == old.files
            for key in old.files:
                assert new[key].dtype == old[key].dtype and new[key].shape == old[key].shape, key
                assert np.array_equal(new[key], old[key]), key
        with zipfile.ZipFile(path) as archive:
            assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}
        assert not list(tmp_path.glob(".dicomteach-*"))  # written through a temporary file

    def test_a_plain_numpy_savez_file_reads(self, tmp_path):
        np.savez_compressed(tmp_path / "a.npz", mask=REFERENCE, spacing=[2, 0.8, 0.8])
        found = read_npz(tmp_path / "a.npz", shape=GRID)
        assert found.spacing == (2.0, 0.8, 0.8) and np.array_equal(found.masks[1], REFERENCE)

    def test_a_fortran_ordered_big_endian_label_map_reads(self, tmp_path):
        labels = np.asfortranarray(np.arange(60).reshape(3, 4, 5) % 3, dtype=">u2")
        np.savez(tmp_path / "a.npz", mask=labels, spacing=np.ones(3))
        found = read_npz(tmp_path / "a.npz")
        assert isinstance(found.masks, LabelMasks) and sorted(found.masks) == [1, 2]
        assert np.array_equal(found.masks[2], labels == 2) and found.shape == (3, 4, 5)

    def test_a_file_of_another_grid_is_refused_before_its_data_are_read(self, tmp_path):
        np.savez(tmp_path / "a.npz", mask=REFERENCE, spacing=SPACING)
        with pytest.raises(GridMismatchError, match=r"shape 4×5×5, not on the 4×5×6 grid"):
            load_structures(tmp_path / "a.npz", shape=(4, 5, 6))

    def test_check_against_names_what_differs(self, ct):
        def answer(**changes):
            fields = {"mask": np.zeros((3, 4, 5), np.uint8), "spacing": ct.spacing}
            fields.update(changes)
            return DelineationAnswer(**fields, series_uid=ct.series_uid)

        answer().check_against(ct)
        answer(spacing=(2.5, 0.8005, 0.6)).check_against(ct)  # within the grid tolerance
        with pytest.raises(GridMismatchError, match=r"shape 3×4×4, this one is 3×4×5"):
            answer(mask=np.zeros((3, 4, 4), np.uint8)).check_against(ct)
        with pytest.raises(GridMismatchError, match=r"\[2\.5, 0\.81, 0\.6\] mm voxels"):
            answer(spacing=(2.5, 0.81, 0.6)).check_against(ct)
        with pytest.raises(RoiError, match="not labels 0..255"):
            answer(mask=np.full((3, 4, 5), 300)).check_against(ct)
        other = DelineationAnswer(np.zeros((3, 4, 5), np.uint8), ct.spacing, series_uid="1.2.3")
        with pytest.raises(GridMismatchError, match="belongs to series 1.2.3"):
            other.check_against(ct)

    def test_read_npz_gives_the_scores_of_the_arrays(self, tmp_path):
        prediction = np.roll(REFERENCE, 1, axis=2)
        np.savez(tmp_path / "p.npz", mask=prediction, spacing=SPACING)
        found = read_npz(tmp_path / "p.npz", shape=GRID)
        expected = score(REFERENCE, prediction, SPACING)
        assert score(REFERENCE, found.masks[1], found.spacing) == expected
        graded = grade_delineation(tmp_path / "p.npz", REFERENCE, spacing_mm=SPACING)
        assert graded.scores == expected
