"""One instance's header (dicomteach/io/instance.py): how it is parsed and what it keeps."""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.uid import ComputedRadiographyImageStorage, generate_uid

from corpus import data_file
from dicomteach import io
from dicomteach.io.instance import read_instance
from dicomteach.io.sources import Source
from dicomteach.io.volume import FrameAxis
from dicomteach.io.writer import new_instance, write_ct_series
from factories import numbered_slices, slice_marks


def test_file_without_preamble_reads_with_a_warning():
    vol = io.read_file(data_file("OT-PAL-8-face.dcm"))
    assert any("no DICOM preamble" in w for w in vol.warnings)


def test_native_series_take_the_fast_header_scan_and_direct_pixel_reads(tmp_path, monkeypatch):
    """Speed guard: a plain CT series never falls back to pydicom's general reader or decoder."""
    from dicomteach.io import instance, reader

    def refuse(*args, **kwargs):
        raise AssertionError("fell back to the slow path")

    monkeypatch.setattr(instance, "parse", refuse)
    monkeypatch.setattr(reader, "decode", refuse)
    write_ct_series(tmp_path / "s", numbered_slices(4))
    for implicit in (False, True):
        if implicit:  # the same series in Implicit VR Little Endian
            for p in (tmp_path / "s").iterdir():
                ds = pydicom.dcmread(p)
                ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
                ds.save_as(p, enforce_file_format=True)
        vol = io.load(tmp_path / "s")
        assert slice_marks(vol) == [0.0, 10.0, 20.0, 30.0]


def test_an_instance_keeps_its_frame_layout_and_its_notes_once(tmp_path):
    ds = new_instance(ComputedRadiographyImageStorage, generate_uid())
    ds.Modality = "CR"
    ds.ImagerPixelSpacing = ["0.15", "0.15"]  # at the detector: read_frames adds a note
    ds.PatientOrientation = ["L", "F"]
    ds.Rows, ds.Columns = 4, 6
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.arange(24, dtype=np.uint16).tobytes()
    path = str(tmp_path / "cr.dcm")
    ds.save_as(path, enforce_file_format=True)
    inst = read_instance(Source(path, path=path, named=True))
    assert inst.has_pixels and not inst.layout.positioned
    assert inst.layout.axis is FrameAxis.SINGLE and len(inst.layout.frames) == 1
    assert inst.layout.nominal_spacing == (0.15, 0.15)
    assert inst.warnings == inst.layout.warnings
    assert inst.warnings == [
        "spacing is Imager Pixel Spacing, measured at the detector "
        "(not corrected for magnification)"
    ]
