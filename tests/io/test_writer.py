"""The CT series dicomteach/io/writer.py writes is valid DICOM, read the same by independent tools."""

from __future__ import annotations

import math
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from dicomteach import imaging, io
from dicomteach.io.volume import Window
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

    @pytest.mark.parametrize(
        ("dcmtk_window", "window"),
        [
            (["+Wi", "1"], None),  # the series' first header window, 40/400
            (["+Wi", "2"], None),  # its second, -600/1200
            (["+Ww", "40.5", "255"], Window(40.5, 255)),
            (["+Ww", "0.25", "1000.5"], Window(0.25, 1000.5)),
            (["+Ww", "-3", "2"], Window(-3, 2)),  # two values wide: 0, 255 and one grey
            (["+Ww", "100", "1"], Window(100, 1)),  # a threshold: nothing in between
        ],
        ids=["header-1", "header-2", "half-center", "fractional", "width-2", "width-1"],
    )
    def test_dcmtk_renders_the_same_hounsfield_image(self, tmp_path, dcmtk_window, window):
        """Equal wherever DCMTK's rule and ours provably agree, one grey level apart
        (ours the brighter) wherever they provably differ.

        Both apply the LINEAR window of PS3.3 C.11.2.1.2.1 onto 0..255:
        ``y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255`` inside the window, 0 at or
        below it, 255 above it. Only the last step differs: dicomteach rounds half
        up, ``floor(y + 0.5)`` (dicomteach/imaging/voi.py), DCMTK truncates its
        float ``y`` to 8 bits, ``floor(y)``. With ``y`` computed exactly
        (fractions), a pixel must therefore be equal where the fraction of ``y``
        is below one half and ours one higher where it is above one half. A
        window off by one value (or half a value) moves pixels across those lines.

        Where ``y`` is exactly an integer (DCMTK's cut) or a half (ours), the
        float64 evaluation of either program may land a hair to either side, so
        there each may be one lower than the exact rule; the test checks that
        these pixels are few and that every other ``y`` lies far (1e-9) from both
        cuts compared with float64's error (about 1e-13 here).
        """
        if not shutil.which("dcm2pnm"):
            pytest.skip("dcmtk not installed (scripts/test.sh installs it)")
        # every value a 12-bit CT slice with intercept -1024 can hold: -1024 .. 3071 HU
        hu = (np.arange(4096) - 1024).reshape(1, 64, 64)
        paths = write_ct_series(tmp_path / "s", hu)
        out = tmp_path / "slice.pgm"
        subprocess.run(["dcm2pnm", *dcmtk_window, "+op", str(paths[0]), str(out)], check=True)
        with Image.open(out) as pgm:
            theirs = np.asarray(pgm).astype(int)
        vol = io.load(tmp_path / "s")
        window = window or vol.windows[int(dcmtk_window[1]) - 1]
        values = imaging.modality_values(vol)[0]
        assert np.array_equal(values, hu[0])
        ours = imaging.window_to_uint8(values, window).astype(int)

        # y exactly, from the standard's formula
        c1, w1 = Fraction(window.center) - Fraction(1, 2), Fraction(window.width) - 1
        exact = np.full(values.shape, Fraction(0), dtype=object)
        grey = np.zeros(values.shape, dtype=bool)
        for index, x in np.ndenumerate(values.astype(int)):
            if x > c1 + w1 / 2:
                exact[index] = Fraction(255)
            elif x > c1 - w1 / 2:
                exact[index] = ((x - c1) / w1 + Fraction(1, 2)) * 255
                grey[index] = True
        floor = np.array([math.floor(y) for y in exact.flat]).reshape(values.shape)
        fraction = exact - floor
        cut = grey & ((fraction == 0) | (fraction == Fraction(1, 2)))
        below_half = ~cut & (fraction < Fraction(1, 2))  # black and white pixels too
        above_half = ~cut & (fraction > Fraction(1, 2))

        np.testing.assert_array_equal(theirs[~cut], floor[~cut])  # DCMTK truncates
        np.testing.assert_array_equal(ours[below_half], theirs[below_half])
        np.testing.assert_array_equal(ours[above_half], theirs[above_half] + 1)
        # on a cut, one lower at most
        assert np.all(np.isin(floor[cut] - theirs[cut], [0, 1]))
        rounded = np.array([math.floor(y + Fraction(1, 2)) for y in exact[cut]], dtype=int)
        assert np.all(np.isin(rounded - ours[cut], [0, 1]))
        assert np.count_nonzero(cut) <= 4
        # ... and everywhere else float64 cannot err across a cut
        margin = [min(f, abs(f - Fraction(1, 2)), 1 - f) for f in fraction[grey & ~cut]]
        assert min(margin, default=1) > 1e-9
        # where the window has greys the image has many on each side of one half
        if window.width > 2:
            assert np.count_nonzero(grey & below_half) > 50
            assert np.count_nonzero(above_half) > 50
