"""How a Volume presents itself where a learner sees it: notebooks and Voilà apps."""

from __future__ import annotations

import dataclasses

import numpy as np
from pydicom.data import get_testdata_file

from dicomteach import io
from dicomteach.io.writer import write_ct_series


def test_a_series_says_its_slices_spacing_and_what_is_missing(tmp_path):
    write_ct_series(tmp_path / "ct", np.zeros((6, 8, 10)), spacing=(2.5, 0.8, 0.7), skip=[3])
    summary = dict(io.load(tmp_path / "ct").summary())
    assert summary["Size"] == "5 slices of 8 × 10 pixels"
    assert summary["Pixel spacing"] == "0.8 × 0.7 mm, slices 2.5 mm apart"
    assert "missing slice" in summary["Note"]


def test_a_monochrome1_radiograph_says_it_is_shown_inverted():
    cr = io.load(get_testdata_file("RG1_UNCR.dcm", download=False))
    summary = dict(cr.summary())
    assert summary["Image"].startswith("CR from Philips")
    assert summary["Values"].endswith("MONOCHROME1: low values are shown white")


def test_the_html_table_is_escaped_and_holds_no_python():
    ct = io.load(get_testdata_file("CT_small.dcm", download=False))
    odd = dataclasses.replace(ct, manufacturer="<b>ACME</b> & Co")
    table = odd._repr_html_()
    assert "&lt;b&gt;ACME&lt;/b&gt; &amp; Co" in table and "<b>" not in table
    assert "Volume(" not in table and "shape=" not in table
    assert table.count("<tr>") == len(odd.summary())
