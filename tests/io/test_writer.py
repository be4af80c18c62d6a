"""The CT series dicomteach/io/writer.py writes is valid DICOM, read the same by independent tools."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from dicomteach import imaging, io
from dicomteach.io.writer import write_ct_series


class TestWriterIsValidDicom:
    """The CT series dicomteach writes is read the same by independent tools."""

    def test_ct_slices_pass_dciodvfy_and_dcmdump(self, tmp_path):
        if not (shutil.which("dciodvfy") and shutil.which("dcmdump")):
            pytest.skip("dicom3tools/dcmtk not installed (scripts/test.sh installs them)")
        paths = write_ct_series(tmp_path / "s", np.zeros((2, 16, 16)))
        check = subprocess.run(["dciodvfy", str(paths[0])], capture_output=True, text=True)
        errors = [
            line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")
        ]
        assert errors == []
        dump = subprocess.run(
            ["dcmdump", str(paths[0])], capture_output=True, text=True, check=True
        )
        assert "(0028,1052) DS [-1024]" in dump.stdout

    def test_dcmtk_renders_the_same_hounsfield_image(self, tmp_path):
        if not shutil.which("dcm2pnm"):
            pytest.skip("dcmtk not installed (scripts/test.sh installs it)")
        hu = np.tile(np.linspace(-1000, 1000, 32), (32, 1))[None]
        paths = write_ct_series(tmp_path / "s", hu)
        out = tmp_path / "slice.pgm"
        # DCMTK applies the first header window (40/400) and writes 8-bit PGM
        subprocess.run(["dcm2pnm", "+Wi", "1", "+ob", str(paths[0]), str(out)], check=True)
        theirs = np.frombuffer(out.read_bytes()[-32 * 32 :], dtype=np.uint8).reshape(32, 32)
        vol = io.load(tmp_path / "s")
        ours = imaging.window_to_uint8(imaging.modality_values(vol)[0], vol.windows[0])
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
