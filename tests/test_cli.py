"""``dicomteach info``, run as a user runs it: a real subprocess, its stdout and exit status."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut

from dicomteach.io.writer import write_ct_series

REQUIRED_KEYS = {
    "path",
    "modality",
    "manufacturer",
    "rows",
    "columns",
    "frames",
    "spacing_mm",
    "transfer_syntax",
    "photometric",
    "value_range",
}


def info(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dicomteach.cli", "info", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small_jp2klossless.dcm", "US1_J2KR.dcm", "RG3_UNCR.dcm"]
)
def test_json_for_one_file_matches_pydicom(name):
    path = get_testdata_file(name, download=False)
    run = info(path, "--json")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert isinstance(record, dict) and REQUIRED_KEYS <= record.keys()
    ds = pydicom.dcmread(path)
    assert record["path"] == path
    assert record["modality"] == ds.Modality
    assert record["manufacturer"] == ds.get("Manufacturer", "")
    assert (record["rows"], record["columns"]) == (ds.Rows, ds.Columns)
    assert record["frames"] == int(ds.get("NumberOfFrames", 1) or 1)
    assert record["transfer_syntax"] == ds.file_meta.TransferSyntaxUID.name
    assert record["photometric"] == ds.PhotometricInterpretation
    if ds.SamplesPerPixel == 1:
        values = apply_modality_lut(ds.pixel_array, ds)
        assert record["value_range"] == [pytest.approx(values.min()), pytest.approx(values.max())]
    if "PixelSpacing" in ds:
        assert record["spacing_mm"][1:] == [pytest.approx(float(x)) for x in ds.PixelSpacing]


def test_text_summary_of_a_folder_names_the_series_and_its_problems(tmp_path):
    hu = np.full((10, 32, 32), 40.0)
    hu[:, 0, 0] = -1000
    write_ct_series(
        tmp_path / "study" / "ct",
        hu,
        spacing=(2.5, 0.7, 0.7),
        skip=[4],
        series_description="Thorax",
    )
    (tmp_path / "study" / "notes.txt").write_text("not DICOM")
    run = info(str(tmp_path / "study"))
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "[Thorax]" in out and "CT" in out and "SIEMENS" in out
    assert "32 × 32, 9 slices" in out and "slices every 2.5 mm" in out
    assert "-1000 … 40 HU" in out
    assert "40/400 (WINDOW1)" in out
    assert "1 missing slice" in out
    # the stray file is reported, not fatal
    assert "notes.txt" in run.stderr and "skipped" in run.stderr


def test_json_for_a_zip_is_a_list_of_series(tmp_path):
    write_ct_series(tmp_path / "a", np.zeros((3, 16, 16)), series_number=2)
    write_ct_series(tmp_path / "b", np.zeros((4, 16, 16)), series_number=3)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for folder in ("a", "b"):
            for p in (tmp_path / folder).iterdir():
                zf.write(p, f"{folder}/{p.name}")
    run = info(str(archive), "--json")
    assert run.returncode == 0, run.stderr
    records = json.loads(run.stdout)
    assert sorted(r["frames"] for r in records) == [3, 4]
    assert all(REQUIRED_KEYS <= r.keys() for r in records)


def test_a_folder_without_images_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    run = info(str(tmp_path))
    assert run.returncode == 2
    assert "no DICOM image found" in run.stderr and "Traceback" not in run.stderr


def test_a_missing_path_is_an_error():
    run = info("/nonexistent/study")
    assert run.returncode == 2
    assert run.stderr.strip() == "dicomteach: error: /nonexistent/study: no such file or folder"


def test_app_refuses_what_is_not_a_notebook_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    for name in ("notes.txt", "missing.ipynb"):
        run = subprocess.run(
            [sys.executable, "-m", "dicomteach.cli", "app", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2
        assert run.stderr.strip().count("\n") == 0
        assert run.stderr.startswith("dicomteach: error: ") and "not a notebook file" in run.stderr


def test_help_lists_every_command_without_loading_numpy_or_pydicom():
    # each command module owns its parser; building them all must stay quick
    code = (
        "import sys, contextlib, io\n"
        "from dicomteach.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print(out.getvalue())\n"
        "print('loaded:', sorted(m for m in ('numpy', 'pydicom') if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "{info,anonymize,import,sample-data,score,grade-class,author,app,hub}" in run.stdout
    assert "loaded: []" in run.stdout


@pytest.mark.parametrize(
    ("command", "module"),
    [
        ("info", "info"),
        ("anonymize", "deid"),
        ("import", "deid"),
        ("sample-data", "samples"),
        ("score", "score"),
        ("app", "app"),
    ],
)
def test_each_command_runs_the_module_that_owns_its_parser(command, module):
    from dicomteach.cli import build_parser

    args = {
        "info": ["x"],
        "anonymize": ["a", "b"],
        "import": ["a", "b"],
        "sample-data": ["d"],
        "score": ["r", "p"],
        "app": ["n.ipynb"],
    }[command]
    parsed = build_parser().parse_args([command, *args])
    assert parsed.command == command
    assert parsed.run.__module__ == f"dicomteach.commands.{module}"


def test_app_on_a_busy_port_says_which_port_it_serves_on(tmp_path):
    import os
    import signal
    import socket
    import time
    import urllib.request

    pytest.importorskip("voila")
    (tmp_path / "lesson.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "dicomteach.cli", "app", "lesson.ipynb", f"--port={port}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            first = proc.stdout.readline()
            served = proc.stdout.readline()
            assert first.strip().startswith(f"dicomteach: port {port} is in use, using ")
            moved = int(first.rsplit(" ", 1)[1])
            assert f"at http://127.0.0.1:{moved}/" in served
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{moved}/voila/static/voila.js", timeout=2
                    ) as answer:
                        assert answer.status == 200
                        break
                except OSError:
                    assert time.monotonic() < deadline, "the app never answered where it said"
                    time.sleep(0.25)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


def test_info_tells_the_segments_of_one_seg_apart(tmp_path):
    from dicomteach import io, roi

    k, r, c = np.mgrid[0:6, 0:16, 0:16]
    write_ct_series(tmp_path / "ct", np.where(r > 8, 40.0, -1000.0), spacing=(2.0, 1.0, 1.0))
    ct = io.load(tmp_path / "ct")
    roi.write_seg(
        {"Tumour": (k == 2) & (r > 10), "Oedema": (k < 4) & (r > 6)}, ct, tmp_path / "seg.dcm"
    )
    # a folder is read as a study: the SEG's segments are two volumes of one file
    run = info(str(tmp_path))
    assert run.returncode == 0, run.stderr
    titles = [line for line in run.stdout.splitlines() if line.startswith(str(tmp_path / "seg"))]
    assert [t.rsplit("segment ", 1)[1] for t in titles] == ["1 Tumour", "2 Oedema"]
    records = json.loads(info(str(tmp_path), "--json").stdout)
    assert [r["segment"] for r in records if r["modality"] == "SEG"] == ["1 Tumour", "2 Oedema"]
    assert [r["segment"] for r in records if r["modality"] == "CT"] == [""]


def test_run_from_a_notebook_the_command_leaves_the_kernels_warnings_and_logs_alone(
    tmp_path, capsys
):
    import logging
    import warnings

    from dicomteach.cli import main

    write_ct_series(tmp_path / "ct", np.zeros((2, 4, 4)), spacing=(1.0, 1.0, 1.0))
    pydicom_log = logging.getLogger("pydicom")
    handlers, propagate = list(pydicom_log.handlers), pydicom_log.propagate
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert main(["info", str(tmp_path / "ct")]) == 0
        warnings.warn("the learner's next cell warns", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["the learner's next cell warns"]
    assert pydicom_log.handlers == handlers and pydicom_log.propagate == propagate
    assert "2" in capsys.readouterr().out
