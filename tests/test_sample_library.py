"""``dicomteach sample-data DIR``: the whole library, as an instructor gets it on a fresh machine."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pydicom
import pytest

from dicomteach import io
from dicomteach.samples import STUDIES


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    dest = tmp_path_factory.mktemp("library")
    run = subprocess.run(
        [sys.executable, "-m", "dicomteach.cli", "sample-data", str(dest)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return dest, run


def test_command_reports_progress_and_what_it_wrote(library):
    dest, run = library
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("…") == len(STUDIES), "one progress line per study"
    assert "wrote" in run.stdout and "MiB" in run.stdout


def test_every_study_is_there_and_the_library_stays_small(library):
    dest, _ = library
    for folder, _module in STUDIES:
        assert any((dest / folder).rglob("*.dcm")), f"{folder} is empty"
    total = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    assert total < 200 * 2**20


def test_every_file_reads_through_dicomteach(library):
    dest, _ = library
    result = io.read(dest)
    # the one file that is not DICOM: the teaching file's manifest of its findings
    assert [Path(str(e.path)).name for e in result.skipped] == ["findings.json"]
    modalities = Counter(v.modality for v in result.volumes)
    assert {"CT", "CR", "MR", "PT", "NM", "OP", "US", "SEG"} <= set(modalities)
    for vol in result.volumes:
        if vol.modality == "SEG":  # segment frames cover only the slices the structure touches
            continue
        assert not [w for w in vol.warnings if "missing slice" in w or "irregular" in w], vol


def test_the_library_carries_the_compressed_syntaxes_lessons_need(library):
    dest, _ = library
    syntaxes = {
        pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID.name
        for p in dest.rglob("*.dcm")
    }
    for wanted in (
        "JPEG 2000 Image Compression (Lossless Only)",
        "RLE Lossless",
        "JPEG-LS Lossless Image Compression",
        "JPEG Baseline (Process 1)",
    ):
        assert wanted in syntaxes, syntaxes
