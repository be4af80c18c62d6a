"""dicomteach.io.stored: a Volume written as numpy arrays and read back whole, pixels mapped."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from corpus import data_file
from dicomteach import io
from dicomteach.io import stored
from dicomteach.io.stored import StoredVolumeError, load_volume, save_volume
from dicomteach.io.writer import write_ct_series


def _same(a, b) -> None:
    for field in dataclasses.fields(io.Volume):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert np.array_equal(np.asarray(x), np.asarray(y)), field.name
            assert np.asarray(x).dtype == np.asarray(y).dtype, field.name
        elif field.name in ("modality_lut", "voi_luts"):
            tables = ([x], [y]) if field.name == "modality_lut" else (list(x), list(y))
            for s, t in zip(*tables, strict=True):
                assert (s is None) == (t is None), field.name
                if s is not None:
                    assert np.array_equal(s.data, t.data) and (s.first_mapped, s.bits) == (
                        t.first_mapped,
                        t.bits,
                    ), field.name
        else:
            assert x == y, field.name


class TestStoredVolume:
    def test_every_field_of_a_volume_has_its_place(self):
        placed = set(stored._ARRAYS) | set(stored._PLAIN) | set(stored._OTHERS)
        assert placed == {f.name for f in dataclasses.fields(io.Volume)}

    @pytest.mark.parametrize(
        "name",
        ["CT_small.dcm", "MR_small.dcm", "emri_small.dcm", "mlut_18.dcm", "vlut_04.dcm"],
    )
    def test_a_volume_comes_back_field_for_field(self, name, tmp_path):
        volume = io.load(data_file(name))
        again = load_volume(save_volume(volume, tmp_path / "stored"))
        _same(volume, again)
        if name == "mlut_18.dcm":
            assert again.modality_lut is not None and again.modality_lut.data.size > 1
        if name == "vlut_04.dcm":
            assert again.voi_luts and again.voi_luts[0].data.size > 1

    def test_a_series_comes_back_with_its_geometry_and_its_pixels_mapped_read_only(self, tmp_path):
        hu = np.arange(4 * 6 * 5, dtype=float).reshape(4, 6, 5) - 60
        write_ct_series(tmp_path / "ct", hu, spacing=(2.5, 0.8, 0.7), skip=[2])
        volume = io.load(tmp_path / "ct")
        again = load_volume(save_volume(volume, tmp_path / "stored"))
        _same(volume, again)
        assert isinstance(again.pixels, np.memmap) and again.warnings == volume.warnings
        with pytest.raises(ValueError, match="read-only"):
            again.pixels[0, 0, 0] = 1

    def test_another_version_or_a_damaged_folder_is_refused_in_one_line(self, tmp_path):
        folder = save_volume(io.load(data_file("CT_small.dcm")), tmp_path / "stored")
        meta = json.loads((folder / "volume.json").read_text())
        (folder / "volume.json").write_text(json.dumps({**meta, "version": 99}))
        with pytest.raises(StoredVolumeError, match="stored: holds a stored volume of version 99"):
            load_volume(folder)
        (folder / "volume.json").write_text(json.dumps(meta))
        (folder / "pixels.npy").write_bytes(b"\x93NUMPY cut")
        with pytest.raises(StoredVolumeError, match="does not hold a whole stored volume"):
            load_volume(folder)
