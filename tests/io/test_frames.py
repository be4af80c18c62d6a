"""Frames of one header (dicomteach/io/frames.py): LUTs, windows, multi-frame layouts, geometry."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from corpus import data_file
from dicomteach import imaging, io
from dicomteach.io.frames import read_frames
from dicomteach.io.volume import FrameAxis
from dicomteach.io.writer import write_ct_series
from factories import (
    numbered_slices,
    slice_marks,
    write_enhanced_ct,
    write_symbia_spect,
    write_us_cine,
)


class TestLookupTables:
    def test_modality_lut_sequence_is_read(self):
        vol = io.read_file(data_file("mlut_18.dcm"))
        ds = pydicom.dcmread(data_file("mlut_18.dcm"))
        assert vol.modality_lut is not None
        np.testing.assert_array_equal(
            imaging.modality_values(vol)[0], pydicom.pixels.apply_modality_lut(ds.pixel_array, ds)
        )

    def test_voi_lut_sequence_is_read(self):
        vol = io.read_file(data_file("vlut_04.dcm"))
        ds = pydicom.dcmread(data_file("vlut_04.dcm"))
        assert len(vol.voi_luts) == len(ds.VOILUTSequence)
        ours = imaging.apply_voi_lut_table(vol.pixels[0], vol.voi_luts[0])
        theirs = pydicom.pixels.apply_voi_lut(ds.pixel_array, ds, index=0)
        np.testing.assert_array_equal(ours, theirs)

    def test_header_windows_keep_their_explanations(self, tmp_path):
        write_ct_series(tmp_path / "s", np.zeros((2, 8, 8)))
        vol = io.load(tmp_path / "s")
        assert [(w.center, w.width, w.explanation) for w in vol.windows] == [
            (40.0, 400.0, "WINDOW1"),
            (-600.0, 1200.0, "WINDOW2"),
        ]


class TestMultiFrame:
    def test_enhanced_ct_frames_sorted_by_position_with_per_frame_rescale(self, tmp_path):
        hu = numbered_slices(8)
        order = [3, 0, 7, 1, 6, 2, 5, 4]
        rescale = [(1.0, -1024.0) if f % 2 else (2.0, -2048.0) for f in range(8)]
        path = write_enhanced_ct(
            tmp_path / "e.dcm", hu, spacing=(1.5, 0.5, 0.5), frame_order=order, rescale=rescale
        )
        vol = io.read_file(path)
        assert vol.frame_axis is FrameAxis.SLICE
        assert vol.spacing == pytest.approx((1.5, 0.5, 0.5))
        assert [index for _, index in vol.sources] == [order.index(k) for k in range(8)]
        assert len(vol.rescale_slope) == 8
        assert slice_marks(vol) == [10.0 * k for k in range(8)]
        assert vol.windows[0].explanation == "MEDIASTINUM"
        # read() as part of a folder gives the same volume
        same = io.load(tmp_path)
        np.testing.assert_array_equal(same.pixels, vol.pixels)

    def test_nm_spect_reconstruction_is_a_stack(self, tmp_path):
        path = write_symbia_spect(tmp_path / "nm.dcm", frames=16)
        vol = io.read_file(path)
        assert vol.modality == "NM"
        assert vol.frame_axis is FrameAxis.SLICE
        assert vol.spacing == pytest.approx((4.795, 4.795, 4.795))
        assert vol.positions[1] - vol.positions[0] == pytest.approx((0, 0, 4.795))
        assert vol.pixels[:, 32, 32].tolist() == [100 * k for k in range(16)]

    def test_ultrasound_cine_runs_in_time(self, tmp_path):
        path = write_us_cine(tmp_path / "us.dcm", frames=5)
        vol = io.read_file(path)
        assert vol.frame_axis is FrameAxis.TIME
        assert vol.frame_time_ms == pytest.approx(33.3)
        assert vol.is_color and vol.pixels.shape == (5, 48, 64, 3)
        # spacing from the ultrasound region calibration (cm → mm)
        assert vol.spacing[1:] == pytest.approx((0.2, 0.3))


class TestReadFrames:
    """read_frames reads a header and returns what it found; it changes nothing it is given."""

    def test_a_radiograph_without_position_gets_nominal_geometry_and_a_note(self):
        ds = Dataset()
        ds.Modality = "CR"
        ds.ImagerPixelSpacing = ["0.15", "0.15"]
        ds.PatientOrientation = ["L", "F"]
        before = ds.to_json_dict()
        layout = read_frames(ds, 1)
        assert not layout.positioned and layout.axis is FrameAxis.SINGLE
        assert layout.nominal_spacing == pytest.approx((0.15, 0.15))
        # L\F: columns run to the patient's left, rows to the feet
        assert layout.nominal_direction == pytest.approx([1, 0, 0, 0, 0, -1])
        assert layout.warnings == [
            "spacing is Imager Pixel Spacing, measured at the detector "
            "(not corrected for magnification)"
        ]
        assert ds.to_json_dict() == before

    def test_magnification_corrects_the_imager_spacing_without_a_note(self):
        ds = Dataset()
        ds.ImagerPixelSpacing = ["0.15", "0.15"]
        ds.EstimatedRadiographicMagnificationFactor = "1.5"
        layout = read_frames(ds, 1)
        assert layout.nominal_spacing == pytest.approx((0.1, 0.1))
        assert layout.warnings == []

    def test_the_frames_of_a_cine_are_times(self, tmp_path):
        ds = pydicom.dcmread(write_us_cine(tmp_path / "us.dcm", frames=5))
        layout = read_frames(ds, 5)
        assert layout.axis is FrameAxis.TIME and layout.frame_time_ms == pytest.approx(33.3)
        assert [f.index for f in layout.frames] == [0, 1, 2, 3, 4]
        assert layout.nominal_spacing == pytest.approx((0.2, 0.3))

    def test_slice_vector_frames_are_placed_along_the_normal(self, tmp_path):
        ds = pydicom.dcmread(write_symbia_spect(tmp_path / "nm.dcm", frames=3))
        layout = read_frames(ds, 3)
        assert layout.positioned and layout.axis is FrameAxis.SLICE
        assert [f.position[2] for f in layout.frames] == pytest.approx([-100, -95.205, -90.41])
        assert layout.nominal_spacing is None and layout.warnings == []
