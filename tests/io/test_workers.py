"""Compressed frames decoded in worker processes (dicomteach/io/workers.py).

Every load here runs twice where it matters: with DICOMTEACH_DECODE_WORKERS=2
(frames decoded in two worker processes) and =1 (decoded in this process),
and the two must give the same volume, the same errors and the same pixels as
an independent reference (the uncompressed series, or pydicom's own decode).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from pathlib import Path

import numpy as np
import psutil
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from corpus import data_file
from dicomteach import io
from dicomteach.errors import DicomTeachError, PixelDataError, SeriesError
from dicomteach.io.workers import MAX_WORKERS, MIN_FRAMES, WORKERS_ENV, decode_workers
from dicomteach.io.writer import write_ct_series
from factories import write_enhanced_ct

CODECS = {"RLE": RLELossless, "JPEG-LS": JPEGLSLossless, "JPEG 2000": JPEG2000Lossless}


def _noisy_ct(slices: int, size: int, seed: int = 0) -> np.ndarray:
    """A body of soft tissue with noise (compresses like a real CT) and a square that moves
    with the slice number, so slice order shows in the pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    body = (y - size / 2) ** 2 + (x - size / 2) ** 2 < (0.45 * size) ** 2
    hu = np.where(body, 40.0, -1000.0) + rng.normal(0, 15, (slices, size, size))
    for k in range(slices):
        hu[k, k : k + 8, 8:16] = 500.0 + 10 * k
    return hu


def _load_both(monkeypatch, load):
    """``load()`` with frames decoded in two worker processes, then in this process."""
    results = []
    for workers in ("2", "1"):
        monkeypatch.setenv(WORKERS_ENV, workers)
        results.append(load())
    return results


def _own_children() -> set[int]:
    """This process's forked copies (the decoding workers: same command line), not the
    servers, kernels or Chromium that other tests of this pytest worker left running,
    which start helpers of their own at any time and must never be killed here."""
    me = psutil.Process()
    found = set()
    for child in me.children():
        with contextlib.suppress(psutil.Error):
            if child.cmdline() == me.cmdline():
                found.add(child.pid)
    return found


def _corrupt_tile(path: Path) -> None:
    """Overwrite a JPEG 2000 tile-part header (after its SOT marker): the frame's size
    still reads right, but no decoder can decode it."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\xff\x90")
    assert at > 0
    data[at + 2 : at + 42] = b"\xa5" * 40
    path.write_bytes(bytes(data))


class TestSameVolume:
    @pytest.mark.parametrize("codec", CODECS)
    def test_compressed_series_loads_as_its_uncompressed_twin(self, tmp_path, monkeypatch, codec):
        hu = _noisy_ct(MIN_FRAMES + 4, 64)
        write_ct_series(tmp_path / "native", hu, file_names="uid")
        write_ct_series(tmp_path / "packed", hu, file_names="uid", transfer_syntax=CODECS[codec])
        reference = io.load(tmp_path / "native")
        parallel, sequential = _load_both(monkeypatch, lambda: io.load(tmp_path / "packed"))
        for vol in (parallel, sequential):
            assert pydicom.uid.UID(vol.transfer_syntax) == CODECS[codec]
            np.testing.assert_array_equal(vol.pixels, reference.pixels)
            assert vol.pixels.dtype == reference.pixels.dtype
            assert vol.spacing == reference.spacing and vol.origin == reference.origin
            np.testing.assert_array_equal(vol.direction, reference.direction)
            np.testing.assert_array_equal(vol.rescale_intercept, reference.rescale_intercept)
            assert vol.windows == reference.windows and vol.warnings == reference.warnings
        assert parallel.sources == sequential.sources

    @pytest.mark.parametrize(
        "name",
        [
            "emri_small_jpeg_2k_lossless.dcm",
            "emri_small_RLE.dcm",
            "emri_small_jpeg_ls_lossless.dcm",
        ],
    )
    def test_multi_frame_file_decodes_frame_by_frame_to_its_native_twin(self, monkeypatch, name):
        reference = io.read_file(data_file("emri_small.dcm"))
        for vol in _load_both(monkeypatch, lambda: io.read_file(data_file(name))):
            assert vol.n_frames == 10
            np.testing.assert_array_equal(vol.pixels, reference.pixels)

    @pytest.mark.parametrize(
        "name",
        [
            "color3d_jpeg_baseline.dcm",  # 120 YBR_FULL_422 frames, pydicom-data
            "examples_ybr_color.dcm",
            "SC_rgb_rle_2frame.dcm",
            "SC_rgb_rle_16bit_2frame.dcm",
        ],
    )
    def test_colour_frames_match_pydicom(self, monkeypatch, name):
        path = data_file(name)
        expected = pydicom.pixels.pixel_array(path)  # RGB, YBR converted
        for vol in _load_both(monkeypatch, lambda: io.read_file(path)):
            np.testing.assert_array_equal(vol.pixels, expected)

    def test_enhanced_ct_frames_stored_out_of_order_land_in_slice_order(
        self, tmp_path, monkeypatch
    ):
        hu = _noisy_ct(MIN_FRAMES + 2, 64)
        order = [9, 3, 0, 7, 1, 8, 2, 6, 4, 5]
        path = write_enhanced_ct(tmp_path / "native.dcm", hu, frame_order=order)
        reference = io.read_file(path)
        ds = pydicom.dcmread(path)
        ds.compress(JPEG2000Lossless, generate_instance_uid=False)
        ds.save_as(tmp_path / "j2k.dcm")
        parallel, sequential = _load_both(monkeypatch, lambda: io.read_file(tmp_path / "j2k.dcm"))
        for vol in (parallel, sequential):
            np.testing.assert_array_equal(vol.pixels, reference.pixels)
            assert [f for _, f in vol.sources] == [order.index(k) for k in range(len(order))]


class TestErrors:
    def test_a_corrupt_slice_mid_series_is_skipped_by_name_as_in_the_kernel(
        self, tmp_path, monkeypatch
    ):
        paths = write_ct_series(
            tmp_path / "s", _noisy_ct(MIN_FRAMES + 4, 64), transfer_syntax=JPEG2000Lossless
        )
        _corrupt_tile(paths[5])
        before = _own_children()
        parallel, sequential = _load_both(monkeypatch, lambda: io.read(tmp_path / "s"))
        for result in (parallel, sequential):
            (vol,) = result.volumes
            assert vol.n_frames == len(paths) - 1
            assert any("1 missing slice between slice 5 and 6" in w for w in vol.warnings)
            (error,) = result.skipped
            assert isinstance(error, PixelDataError) and error.path == str(paths[5])
            assert "cannot decode the JPEG 2000" in str(error) and "\n" not in str(error)
        assert str(parallel.skipped[0]) == str(sequential.skipped[0])
        assert _own_children() <= before  # the workers are gone

    def test_a_corrupt_frame_mid_file_names_the_file(self, tmp_path, monkeypatch):
        path = write_enhanced_ct(tmp_path / "native.dcm", _noisy_ct(MIN_FRAMES + 4, 64))
        ds = pydicom.dcmread(path)
        ds.compress(JPEG2000Lossless, generate_instance_uid=False)
        ds.save_as(tmp_path / "j2k.dcm")
        data = bytearray((tmp_path / "j2k.dcm").read_bytes())
        seventh = [i for i in range(len(data)) if data.startswith(b"\xff\x90", i)][6]
        data[seventh + 2 : seventh + 42] = b"\xa5" * 40
        (tmp_path / "j2k.dcm").write_bytes(bytes(data))
        messages = []
        for workers in ("2", "1"):
            monkeypatch.setenv(WORKERS_ENV, workers)
            with pytest.raises(
                PixelDataError, match=r"j2k\.dcm: cannot decode the JPEG 2000"
            ) as caught:
                io.read_file(tmp_path / "j2k.dcm")
            messages.append(str(caught.value))
        assert messages[0] == messages[1] and "\n" not in messages[0]

    def test_a_worker_killed_mid_load_fails_the_series_in_one_line(self, tmp_path, monkeypatch):
        # 512×512 noisy JPEG 2000 slices take tens of milliseconds each: long enough to catch
        write_ct_series(tmp_path / "s", _noisy_ct(16, 512), transfer_syntax=JPEG2000Lossless)
        monkeypatch.setenv(WORKERS_ENV, "2")
        before = _own_children()
        finished = threading.Event()
        killed: list[int] = []

        def kill_a_worker():
            while not finished.is_set() and not killed:
                for pid in _own_children() - before:
                    os.kill(pid, signal.SIGKILL)  # as the out-of-memory killer would
                    killed.append(pid)
                    break

        killer = threading.Thread(target=kill_a_worker)
        killer.start()
        try:
            with pytest.raises(SeriesError, match="stopped unexpectedly") as caught:
                io.load(tmp_path / "s")
        finally:
            finished.set()
            killer.join()
        assert killed and "\n" not in str(caught.value)
        assert "the decoder crashed, or the system killed it" in str(caught.value)
        # nothing is left behind, and the next load works
        assert not (_own_children() - before)
        assert io.load(tmp_path / "s").n_frames == 16


def _shape_of(folder: str) -> tuple[int, ...]:
    return tuple(io.load(folder).pixels.shape)


class TestWorkerCount:
    def test_small_and_rle_series_stay_in_the_kernel(self, monkeypatch):
        monkeypatch.delenv(WORKERS_ENV, raising=False)
        assert decode_workers(MIN_FRAMES - 1, {JPEG2000Lossless}) == 1
        assert decode_workers(300, {RLELossless}) == 1
        cpus = len(os.sched_getaffinity(0))
        assert decode_workers(300, {JPEG2000Lossless}) == min(cpus, MAX_WORKERS)
        assert decode_workers(300, {RLELossless, JPEGLSLossless}) == min(cpus, MAX_WORKERS)

    def test_the_environment_sets_the_count(self, monkeypatch):
        monkeypatch.setenv(WORKERS_ENV, "3")
        assert decode_workers(300, {RLELossless}) == 3
        assert decode_workers(2, {JPEG2000Lossless}) == 2
        monkeypatch.setenv(WORKERS_ENV, "1")
        assert decode_workers(300, {JPEG2000Lossless}) == 1

    @pytest.mark.parametrize("setting", ["0", "two", "-2"])
    def test_a_bad_setting_is_refused_by_name(self, monkeypatch, setting):
        monkeypatch.setenv(WORKERS_ENV, setting)
        with pytest.raises(DicomTeachError, match=f"{WORKERS_ENV} must be a whole number >= 1"):
            decode_workers(300, {JPEG2000Lossless})

    def test_a_daemonic_process_decodes_itself(self, tmp_path, monkeypatch):
        # a multiprocessing.Pool worker may not start processes of its own
        write_ct_series(tmp_path / "s", _noisy_ct(MIN_FRAMES, 32), transfer_syntax=JPEG2000Lossless)
        monkeypatch.setenv(WORKERS_ENV, "2")
        with multiprocessing.get_context("fork").Pool(1) as pool:
            shape = pool.apply(_shape_of, (str(tmp_path / "s"),))
        assert shape == (MIN_FRAMES, 32, 32)
