"""Tests for dicomteach.imaging, checked against pydicom on real files."""

from __future__ import annotations

import copy
import doctest

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut as pydicom_modality_lut
from pydicom.pixels import apply_voi_lut as pydicom_voi_lut
from pydicom.pixels import apply_windowing as pydicom_windowing

import dicomteach.imaging
from dicomteach.imaging import (
    CT_PRESETS,
    PET_SUV_PRESET,
    Colormap,
    Preset,
    apply_modality_lut,
    apply_voi_lut_table,
    apply_window,
    auto_window,
    colormap,
    default_window,
    modality_values,
    presets_for,
    round_to_uint8,
    voi_lut_to_uint8,
    window_to_uint8,
)
from dicomteach.imaging import colormaps as colormaps_module
from dicomteach.imaging import modality as modality_module
from dicomteach.imaging import presets as presets_module
from dicomteach.imaging import voi as voi_module
from dicomteach.io.volume import LutTable, Volume, Window

CR_DICOMDIR = "dicomdirtests/77654033/CR1/6154"  # CR, MONOCHROME1, slope 0.684


# ---------------------------------------------------------------- helpers


def read(name: str) -> pydicom.Dataset:
    """A real test file; never touches the network (download=False)."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"test file {name} is not installed (pydicom-data missing?)")
    return pydicom.dcmread(path)


def lut_table(item: pydicom.Dataset) -> LutTable:
    """A LUT Sequence item as the reader would give it (US LUT Data only)."""
    n_entries, first_mapped, bits = (int(v) for v in item.LUTDescriptor)
    data = np.asarray(item.LUTData, dtype=np.uint16 if bits > 8 else np.uint8)
    assert data.size == (n_entries or 2**16)
    return LutTable(first_mapped=first_mapped, bits=bits, data=data)


def header_windows(ds: pydicom.Dataset) -> list[Window]:
    if "WindowCenter" not in ds:
        return []
    centers = np.atleast_1d(np.asarray(ds.WindowCenter, dtype=float))
    widths = np.atleast_1d(np.asarray(ds.WindowWidth, dtype=float))
    explanations = ds.get("WindowCenterWidthExplanation", "")
    if isinstance(explanations, str):
        explanations = [explanations] * len(centers)
    function = str(ds.get("VOILUTFunction", "LINEAR"))
    return [
        Window(float(c), float(w), str(e), function)
        for c, w, e in zip(centers, widths, explanations, strict=True)
    ]


def rescale(ds: pydicom.Dataset) -> tuple[float, float]:
    return float(ds.get("RescaleSlope", 1.0)), float(ds.get("RescaleIntercept", 0.0))


def volume_of(ds: pydicom.Dataset, **overrides) -> Volume:
    """A Volume built by hand from a real file (the reader is tested elsewhere)."""
    pixels = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames == 1:
        pixels = pixels[np.newaxis]
    slope, intercept = rescale(ds)
    fields = dict(
        pixels=pixels,
        spacing=(1.0, 1.0, 1.0),
        origin=(0.0, 0.0, 0.0),
        direction=np.eye(3),
        modality=str(ds.get("Modality", "")),
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")),
        rescale_slope=np.array([slope]),
        rescale_intercept=np.array([intercept]),
        windows=tuple(header_windows(ds)),
    )
    if "ModalityLUTSequence" in ds:
        fields["modality_lut"] = lut_table(ds.ModalityLUTSequence[0])
    fields.update(overrides)
    return Volume(**fields)


def pydicom_output_range(ds: pydicom.Dataset) -> tuple[float, float]:
    """(y_min, y_max) pydicom's apply_windowing uses for this data set."""
    probe = copy.deepcopy(ds)
    probe.WindowCenter, probe.WindowWidth = 0, 1
    probe.VOILUTFunction = "LINEAR"
    y_min, y_max = pydicom_windowing(np.array([-1e30, 1e30]), probe)
    return float(y_min), float(y_max)


def with_window(ds: pydicom.Dataset, center: float, width: float, function: str):
    out = copy.deepcopy(ds)
    out.WindowCenter, out.WindowWidth, out.VOILUTFunction = center, width, function
    return out


# ---------------------------------------------------------------- modality LUT


class TestModalityLUT:
    @pytest.mark.parametrize(
        "name",
        [
            "CT_small.dcm",
            "693_UNCR.dcm",
            "MR_small.dcm",
            "MR2_UNCR.dcm",
            "RG3_UNCR.dcm",
            "emri_small.dcm",
            "rtdose.dcm",
            CR_DICOMDIR,
        ],
    )
    def test_rescale_equals_pydicom_on_real_files(self, name):
        ds = read(name)
        stored = ds.pixel_array
        slope, intercept = rescale(ds)
        ours = apply_modality_lut(stored, slope, intercept)
        assert ours.shape == stored.shape
        assert np.array_equal(ours, pydicom_modality_lut(stored, ds))

    def test_integral_rescale_of_16_bit_stored_values_is_float32(self):
        ds = read("CT_small.dcm")
        hu = apply_modality_lut(ds.pixel_array, *rescale(ds))
        assert hu.dtype == np.float32
        assert hu.min() == ds.pixel_array.min() - 1024

    def test_non_integral_slope_is_float64(self):
        ds = read("MR2_UNCR.dcm")
        assert apply_modality_lut(ds.pixel_array, *rescale(ds)).dtype == np.float64

    def test_32_bit_stored_values_are_float64(self):
        ds = read("rtdose.dcm")
        assert ds.pixel_array.dtype == np.uint32
        assert apply_modality_lut(ds.pixel_array).dtype == np.float64

    def test_large_integral_slope_beyond_float32_precision_is_float64(self):
        stored = np.array([32767], dtype=np.int16)
        out = apply_modality_lut(stored, slope=1000, intercept=1)
        assert out.dtype == np.float64
        assert out[0] == 32767001

    def test_modality_lut_sequence_equals_pydicom(self):
        ds = read("mlut_18.dcm")
        table = lut_table(ds.ModalityLUTSequence[0])
        assert table.first_mapped == -2048
        ours = apply_modality_lut(ds.pixel_array, lut=table)
        expected = pydicom_modality_lut(ds.pixel_array, ds)
        assert np.array_equal(ours, expected)
        assert ours.dtype == np.float32

    def test_modality_lut_clips_values_outside_the_table(self):
        table = LutTable(first_mapped=-2, bits=16, data=np.array([10, 20, 30], np.uint16))
        stored = np.array([-40000, -3, -2, -1, 0, 1, 60000], dtype=np.int32)
        assert apply_modality_lut(stored, lut=table).tolist() == [10, 10, 10, 20, 30, 30, 30]

    def test_modality_lut_on_unsigned_values_with_negative_first_mapped_does_not_wrap(self):
        table = LutTable(first_mapped=-2, bits=16, data=np.arange(5, dtype=np.uint16))
        stored = np.array([0, 1, 2, 65535], dtype=np.uint16)
        assert apply_modality_lut(stored, lut=table).tolist() == [2, 3, 4, 4]

    def test_modality_lut_takes_precedence_over_rescale(self):
        table = LutTable(first_mapped=0, bits=8, data=np.array([7, 8], np.uint8))
        out = apply_modality_lut(np.array([0, 1]), slope=2, intercept=-1024, lut=table)
        assert out.tolist() == [7, 8]

    def test_per_frame_rescale_is_matched_to_axis_0(self):
        ds = read("emri_small.dcm")
        stored = ds.pixel_array
        n = stored.shape[0]
        slopes = np.linspace(0.5, 3.0, n)
        intercepts = np.arange(n) * -100.0
        ours = apply_modality_lut(stored, slopes, intercepts)
        for k in range(n):
            frame_ds = copy.deepcopy(ds)
            frame_ds.RescaleSlope, frame_ds.RescaleIntercept = slopes[k], intercepts[k]
            assert np.array_equal(ours[k], pydicom_modality_lut(stored[k], frame_ds))

    def test_length_1_arrays_act_as_scalars(self):
        ds = read("CT_small.dcm")
        a = apply_modality_lut(ds.pixel_array, np.array([1.0]), np.array([-1024.0]))
        assert np.array_equal(a, apply_modality_lut(ds.pixel_array, 1, -1024))

    def test_per_frame_rescale_of_wrong_length_raises(self):
        stored = np.zeros((3, 2, 2), np.int16)
        with pytest.raises(
            ValueError,
            match=r"Argument 'slope' must be a scalar or have one value per frame, but it has 2 values and the array has 3 frames",
        ):
            apply_modality_lut(stored, slope=[1, 2])

    def test_per_frame_rescale_on_a_single_image_raises(self):
        with pytest.raises(
            ValueError, match=r"Argument 'intercept' .* a 2-D array has no frame axis"
        ):
            apply_modality_lut(np.zeros((2, 2)), intercept=[0, 1])

    def test_non_finite_slope_raises(self):
        with pytest.raises(ValueError, match=r"Argument 'slope' must be finite"):
            apply_modality_lut(np.zeros((2, 2)), slope=float("nan"))

    def test_non_numeric_stored_values_raise(self):
        with pytest.raises(ValueError, match=r"Argument 'stored' must hold numbers"):
            apply_modality_lut(np.array(["a"]))

    def test_empty_table_raises(self):
        empty = LutTable(first_mapped=0, bits=16, data=np.array([], np.uint16))
        with pytest.raises(ValueError, match=r"Argument 'lut' must hold a non-empty 1-D table"):
            apply_modality_lut(np.zeros(2), lut=empty)


class TestModalityValues:
    def test_volume_rescale_equals_pydicom(self):
        ds = read("693_UNCR.dcm")
        hu = modality_values(volume_of(ds))
        assert hu.shape == (1, 512, 512)
        assert np.array_equal(hu[0], pydicom_modality_lut(ds.pixel_array, ds))

    def test_volume_with_modality_lut_uses_the_table(self):
        ds = read("mlut_18.dcm")
        values = modality_values(volume_of(ds))
        assert np.array_equal(values[0], pydicom_modality_lut(ds.pixel_array, ds))

    def test_volume_per_frame_rescale_is_applied_per_frame(self):
        ds = read("emri_small.dcm")
        n = ds.pixel_array.shape[0]
        vol = volume_of(ds, rescale_slope=np.full(n, 2.0), rescale_intercept=np.arange(n) * 10.0)
        values = modality_values(vol)
        for k in range(n):
            assert np.array_equal(values[k], ds.pixel_array[k] * 2.0 + 10.0 * k)

    def test_volume_rescale_of_wrong_length_raises(self):
        vol = volume_of(read("emri_small.dcm"), rescale_slope=np.ones(3))
        with pytest.raises(
            ValueError,
            match=r"Volume.rescale_slope must have 1 or 10 values \(one per frame\), not 3",
        ):
            modality_values(vol)

    def test_colour_volume_raises(self):
        vol = volume_of(read("SC_rgb.dcm"))
        assert vol.is_color
        with pytest.raises(ValueError, match=r"colour pixels have no modality LUT"):
            modality_values(vol)


# ---------------------------------------------------------------- windowing

WINDOWS = [
    (40, 400),
    (40, 80),
    (-600, 1500),
    (600, 1600),
    (1000, 1),
    (300, 2),
    (12.5, 3.5),
    (20000, 1),
]
WINDOW_FILES = [
    "CT_small.dcm",
    "693_UNCR.dcm",
    "MR_small.dcm",
    "MR2_UNCR.dcm",
    "RG3_UNCR.dcm",
    "mlut_18.dcm",
]


class TestApplyWindow:
    @pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
    @pytest.mark.parametrize("name", WINDOW_FILES)
    @pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
    @pytest.mark.parametrize("center, width", WINDOWS)
    def test_equals_pydicom_apply_windowing(self, name, function, center, width):
        ds = read(name)
        values = pydicom_modality_lut(ds.pixel_array, ds)
        windowed = with_window(ds, center, width, function)
        expected = pydicom_windowing(values, windowed)
        y_min, y_max = pydicom_output_range(ds)
        ours = apply_window(values, center, width, function, y_min=y_min, y_max=y_max)
        assert ours.dtype == np.float64
        assert np.array_equal(ours, expected)

    @pytest.mark.parametrize(
        "name, index",
        [
            ("MR-SIEMENS-DICOM-WithOverlays.dcm", 0),
            ("MR-SIEMENS-DICOM-WithOverlays.dcm", 1),
            ("J2K_pixelrep_mismatch.dcm", 0),
            ("J2K_pixelrep_mismatch.dcm", 1),
            ("J2K_pixelrep_mismatch.dcm", 2),
            ("RG1_UNCR.dcm", 0),
            ("MR2_UNCR.dcm", 0),
        ],
    )
    def test_header_window_index_equals_pydicom(self, name, index):
        ds = read(name)
        values = pydicom_modality_lut(ds.pixel_array, ds)
        window = header_windows(ds)[index]
        y_min, y_max = pydicom_output_range(ds)
        ours = apply_window(
            values, window.center, window.width, window.function, y_min=y_min, y_max=y_max
        )
        assert np.array_equal(ours, pydicom_windowing(values, ds, index=index))

    def test_header_windows_with_several_values_differ(self):
        ds = read("MR-SIEMENS-DICOM-WithOverlays.dcm")
        first, second = (window_to_uint8(ds.pixel_array, w) for w in header_windows(ds))
        assert not np.array_equal(first, second)

    def test_brain_window_known_values(self):
        # LINEAR, W80 L40: ramp from 0 to 79 (PS3.3 C.11.2.1.2.1 half-unit offsets)
        out = apply_window([-1000, 0, 1, 40, 79, 80], center=40, width=80)
        assert out[[0, 1, 4, 5]].tolist() == [0, 0, 255, 255]
        assert out[2] == pytest.approx(255 / 79)
        assert out[3] == pytest.approx(0.5 / 79 * 255 + 127.5)

    def test_linear_width_1_is_a_threshold_at_center(self):
        out = apply_window([99, 99.5, 99.6, 100, 101], center=100, width=1)
        assert out.tolist() == [0, 0, 255, 255, 255]

    def test_linear_exact_maps_window_edges_to_output_range(self):
        out = apply_window([0, 5, 10], center=5, width=10, function="LINEAR_EXACT")
        assert out.tolist() == [0, 127.5, 255]

    def test_sigmoid_center_is_mid_range_and_extremes_do_not_warn(self):
        with np.errstate(all="raise"):
            out = apply_window([-1e6, 0, 1e6], center=0, width=10, function="SIGMOID")
        assert out.tolist() == [0, 127.5, 255]

    def test_function_name_is_case_insensitive(self):
        a = apply_window([1, 2, 3], 2, 2, "linear_exact")
        assert np.array_equal(a, apply_window([1, 2, 3], 2, 2, "LINEAR_EXACT"))

    @pytest.mark.parametrize("width", [0.999, 0, -5])
    def test_linear_width_below_1_raises(self, width):
        with pytest.raises(ValueError, match=r"Argument 'width' must be >= 1 for LINEAR windows"):
            apply_window([0], center=0, width=width)

    @pytest.mark.parametrize("function", ["LINEAR_EXACT", "SIGMOID"])
    @pytest.mark.parametrize("width", [0, -1])
    def test_non_positive_width_raises(self, function, width):
        with pytest.raises(
            ValueError, match=rf"Argument 'width' must be > 0 for {function} windows"
        ):
            apply_window([0], center=0, width=width, function=function)

    def test_width_below_1_is_allowed_for_linear_exact(self):
        assert apply_window([0.0, 0.25], 0, 0.5, "LINEAR_EXACT").tolist() == [127.5, 255]

    def test_unknown_function_raises(self):
        with pytest.raises(
            ValueError,
            match=r"Argument 'function' must be one of 'LINEAR', 'LINEAR_EXACT' or 'SIGMOID', not 'GAMMA'",
        ):
            apply_window([0], 0, 10, "GAMMA")

    def test_non_finite_center_raises(self):
        with pytest.raises(ValueError, match=r"Arguments 'center' and 'width' must be finite"):
            apply_window([0], float("nan"), 10)

    def test_empty_output_range_raises(self):
        with pytest.raises(ValueError, match=r"Argument 'y_max' must be greater than 'y_min'"):
            apply_window([0], 0, 10, y_min=5, y_max=5)


class TestWindowToUint8:
    @pytest.mark.parametrize(
        "name, window",
        [
            ("CT_small.dcm", Window(40, 80)),
            ("CT_small.dcm", Window(40, 400, function="LINEAR_EXACT")),
            ("693_UNCR.dcm", Window(40, 100)),
            ("MR_small.dcm", Window(600, 1600)),
            ("MR_small.dcm", Window(600, 1600, function="SIGMOID")),
            ("RG3_UNCR.dcm", Window(550, 1024)),
            ("MR2_UNCR.dcm", Window(1000, 2000)),
        ],
    )
    def test_equals_pydicom_windowing_to_0_255_rounded_half_up(self, name, window):
        ds = read(name)
        values = pydicom_modality_lut(ds.pixel_array, ds)
        # 8-bit unsigned, no rescale: pydicom's output range becomes 0..255
        eight_bit = with_window(ds, window.center, window.width, window.function)
        eight_bit.BitsStored, eight_bit.PixelRepresentation = 8, 0
        for keyword in ("RescaleSlope", "RescaleIntercept", "ModalityLUTSequence"):
            if keyword in eight_bit:
                delattr(eight_bit, keyword)
        expected = np.floor(pydicom_windowing(values, eight_bit) + 0.5).astype(np.uint8)
        ours = window_to_uint8(values, window)
        assert ours.dtype == np.uint8
        assert np.array_equal(ours, expected)

    @pytest.mark.parametrize("name", ["RG3_UNCR.dcm", "RG1_UNCR.dcm", CR_DICOMDIR])
    def test_monochrome1_lowest_value_is_white(self, name):
        ds = read(name)
        assert ds.PhotometricInterpretation == "MONOCHROME1"
        values = pydicom_modality_lut(ds.pixel_array, ds)
        window = header_windows(ds)[0]
        shown = window_to_uint8(values, window, invert=True)
        lowest = values == values.min()
        assert np.all(shown[lowest] == 255 - window_to_uint8(values.min(), window))
        assert np.all(shown[lowest] == shown.max())
        assert np.array_equal(shown, 255 - window_to_uint8(values, window))

    def test_monochrome1_inversion_comes_after_rounding(self):
        # 127.5 rounds up to 128, then inverts to 127 (not round(255 - 127.5) = 128)
        w = Window(5, 10, function="LINEAR_EXACT")
        assert window_to_uint8([0, 5, 10], w, invert=True).tolist() == [255, 127, 0]

    def test_lowest_value_of_real_monochrome1_radiograph_is_white(self):
        ds = read("RG3_UNCR.dcm")
        vol = volume_of(ds)
        assert vol.inverted
        shown = window_to_uint8(modality_values(vol), default_window(vol), invert=vol.inverted)
        assert shown.flat[np.argmin(vol.pixels)] == 255
        assert shown.flat[np.argmax(vol.pixels)] == shown.min() < 16

    def test_a_window_without_a_function_is_linear(self):
        values = np.arange(-200, 300, 7)
        np.testing.assert_array_equal(
            window_to_uint8(values, Window(40, 400, function="")),
            window_to_uint8(values, Window(40, 400, function="LINEAR")),
        )

    def test_rejects_a_tuple_for_window(self):
        with pytest.raises(ValueError, match=r"Argument 'window' must be a Window, not tuple"):
            window_to_uint8([0], (40, 400))


class TestRoundToUint8:
    def test_rounds_half_up_not_to_even(self):
        assert round_to_uint8([0.5, 1.5, 2.5, 253.5]).tolist() == [1, 2, 3, 254]

    def test_clips_to_0_255(self):
        assert round_to_uint8([-0.6, -0.4, 254.49, 255.4, 1e9]).tolist() == [0, 0, 254, 255, 255]

    def test_float32_values_are_rounded_in_float64(self):
        # 0.49999997 + 0.5 is 1.0 in float32: the rule adds in float64, as the browser does
        assert round_to_uint8(np.array([0.49999997, 1.4999999], np.float32)).tolist() == [0, 1]


class TestVOILUTTable:
    def test_values_that_are_not_numbers_are_refused(self):
        table = LutTable(first_mapped=0, bits=8, data=np.array([0, 255], np.uint8))
        with pytest.raises(ValueError, match="'values' must hold numbers, not values of type <U"):
            apply_voi_lut_table(np.array(["1", "2"]), table)

    def test_vlut_04_equals_pydicom_apply_voi_lut(self):
        ds = read("vlut_04.dcm")
        table = lut_table(ds.VOILUTSequence[0])
        ours = apply_voi_lut_table(ds.pixel_array, table)
        assert np.array_equal(ours, pydicom_voi_lut(ds.pixel_array, ds))
        assert ours.dtype == table.data.dtype

    def test_table_with_negative_first_mapped_equals_pydicom(self):
        # mlut_18's 4096-entry table, first mapped -2048, used as a VOI LUT
        ds = read("mlut_18.dcm")
        ds.VOILUTSequence = copy.deepcopy(ds.ModalityLUTSequence)
        del ds.ModalityLUTSequence
        table = lut_table(ds.VOILUTSequence[0])
        ours = apply_voi_lut_table(ds.pixel_array, table)
        assert np.array_equal(ours, pydicom_voi_lut(ds.pixel_array, ds))

    def test_values_outside_the_table_take_the_end_entries(self):
        table = LutTable(first_mapped=10, bits=8, data=np.array([1, 2, 3], np.uint8))
        assert apply_voi_lut_table(np.array([-5, 10, 12, 13, 999]), table).tolist() == [
            1,
            1,
            3,
            3,
            3,
        ]

    def test_float_values_use_the_entry_below(self):
        table = LutTable(first_mapped=0, bits=8, data=np.array([1, 2, 3], np.uint8))
        assert apply_voi_lut_table(np.array([-0.5, 0.9, 1.0, 1.99, 2.5]), table).tolist() == [
            1,
            1,
            2,
            2,
            3,
        ]

    def test_to_uint8_scales_16_bit_table_to_0_255(self):
        ds = read("vlut_04.dcm")
        table = lut_table(ds.VOILUTSequence[0])
        assert table.bits == 16
        entries = pydicom_voi_lut(ds.pixel_array, ds).astype(np.float64)
        expected = np.floor(entries * 255 / 65535 + 0.5)
        ours = voi_lut_to_uint8(ds.pixel_array, table)
        assert ours.dtype == np.uint8
        assert np.array_equal(ours, expected)

    def test_to_uint8_keeps_an_8_bit_table(self):
        table = LutTable(first_mapped=0, bits=8, data=np.array([0, 17, 255], np.uint8))
        assert voi_lut_to_uint8(np.array([0, 1, 2]), table).tolist() == [0, 17, 255]

    def test_to_uint8_inverts_monochrome1_last(self):
        ds = read("vlut_04.dcm")
        table = lut_table(ds.VOILUTSequence[0])
        shown = voi_lut_to_uint8(ds.pixel_array, table)
        assert np.array_equal(voi_lut_to_uint8(ds.pixel_array, table, invert=True), 255 - shown)

    def test_bits_out_of_range_raise(self):
        bad = LutTable(first_mapped=0, bits=0, data=np.zeros(3, np.uint16))
        with pytest.raises(
            ValueError, match=r"Argument 'table' must have 1 to 16 bits per entry, not 0"
        ):
            apply_voi_lut_table(np.zeros(2), bad)

    def test_two_dimensional_table_raises(self):
        bad = LutTable(first_mapped=0, bits=8, data=np.zeros((2, 2), np.uint8))
        with pytest.raises(
            ValueError,
            match=r"Argument 'table' must hold a non-empty 1-D table, not data of shape \(2, 2\)",
        ):
            voi_lut_to_uint8(np.zeros(2), bad)

    def test_not_a_table_raises(self):
        with pytest.raises(ValueError, match=r"Argument 'table' must be a LutTable, not list"):
            apply_voi_lut_table(np.zeros(2), [0, 1])


# ---------------------------------------------------------------- presets


class TestPresets:
    def test_ct_presets_have_the_standard_width_and_level(self):
        got = {p.name: (p.width, p.center) for p in CT_PRESETS}
        assert got == {
            "Brain": (80, 40),
            "Subdural": (200, 75),
            "Stroke": (40, 40),
            "Lung": (1500, -600),
            "Mediastinum": (350, 50),
            "Abdomen": (400, 50),
            "Liver": (150, 30),
            "Bone": (1800, 400),
        }
        assert all(p.colormap == "gray" and p.function == "LINEAR" for p in CT_PRESETS)

    def test_ct_presets_come_first_in_key_order_then_header_windows(self):
        ds = read("693_UNCR.dcm")
        presets = presets_for("CT", header_windows=header_windows(ds))
        assert presets[:8] == list(CT_PRESETS)
        assert (presets[8].name, presets[8].center, presets[8].width) == ("Header 100/40", 40, 100)
        assert len(presets) <= 9  # number keys 1-9

    def test_ct_presets_ignore_values(self):
        assert presets_for("ct", values=np.arange(10)) == list(CT_PRESETS)

    def test_pet_suv_preset_is_hot_from_0_to_10(self):
        presets = presets_for("PT")
        assert presets == [PET_SUV_PRESET]
        suv = presets[0]
        assert (suv.center, suv.width, suv.colormap) == (5, 10, "hot")
        assert window_to_uint8([0, 5, 10, 20], suv.window).tolist() == [0, 128, 255, 255]

    def test_pet_without_header_window_adds_a_hot_auto_preset(self):
        presets = presets_for("PT", values=np.linspace(0, 1000, 100))
        assert [p.name for p in presets] == ["SUV 0-10", "Auto"]
        assert presets[1].colormap == "hot"

    def test_mr_header_windows_become_presets_named_by_explanation(self):
        ds = read("MR-SIEMENS-DICOM-WithOverlays.dcm")
        presets = presets_for("MR", ds.pixel_array, header_windows(ds))
        assert [(p.name, p.center, p.width) for p in presets] == [
            # the scanner's placeholder names say nothing: the window as a console writes it
            ("Header 790/450", 450, 790),
            ("Header 443/200", 200, 443),
        ]

    def test_unnamed_header_windows_are_named_by_width_and_level(self):
        ds = read("J2K_pixelrep_mismatch.dcm")
        windows = header_windows(ds)
        presets = presets_for("DX", header_windows=windows)
        assert [p.name for p in presets] == [f"Header {w.width:g}/{w.center:g}" for w in windows]
        assert len(presets) == 3

    def test_a_meaningful_explanation_is_kept(self):
        named = presets_for("CT", header_windows=[Window(-600, 1500, explanation="LUNG")])
        assert named[-1].name == "LUNG"

    def test_header_window_keeps_its_voi_lut_function(self):
        presets = presets_for("MR", header_windows=[Window(10, 0.5, "x", "sigmoid")])
        assert presets[0].function == "SIGMOID"

    @pytest.mark.parametrize("modality", ["MR", "CR", "DX", "MG", "US", "XA", "NM", "OT"])
    def test_without_header_window_an_auto_preset_is_offered(self, modality):
        values = modality_values(volume_of(read("emri_small.dcm")))
        presets = presets_for(modality, values)
        assert [p.name for p in presets] == ["Auto"]
        assert presets[0].window == auto_window(values)

    def test_without_header_window_or_values_there_is_no_preset(self):
        assert presets_for("MR") == []

    def test_label_uses_width_and_level(self):
        assert [p.label for p in CT_PRESETS[:4]] == [
            "Brain W80 L40",
            "Subdural W200 L75",
            "Stroke W40 L40",
            "Lung W1500 L-600",
        ]

    def test_window_of_a_preset(self):
        assert CT_PRESETS[0].window == Window(40, 80, "Brain", "LINEAR")

    def test_preset_with_linear_width_below_1_raises(self):
        with pytest.raises(
            ValueError, match=r"Argument 'width' must be >= 1 for LINEAR windows, not 0.5"
        ):
            Preset("bad", 0, 0.5)

    def test_preset_with_unknown_colormap_raises(self):
        with pytest.raises(
            ValueError, match=r"Argument 'colormap' must be one of 'gray' or 'hot', not 'jet'"
        ):
            Preset("bad", 0, 10, colormap="jet")

    def test_header_windows_must_be_windows(self):
        with pytest.raises(
            ValueError, match=r"Argument 'header_windows' must hold Window objects, not tuple"
        ):
            presets_for("MR", header_windows=[(40, 400)])


class TestAutoWindow:
    @pytest.mark.parametrize(
        "name", ["MR-SIEMENS-DICOM-WithOverlays.dcm", "MR_small.dcm", "emri_small.dcm"]
    )
    def test_window_covers_the_tissue_of_a_real_mr(self, name):
        values = modality_values(volume_of(read(name)))
        window = auto_window(values)
        low, high = window.center - window.width / 2, window.center + window.width / 2
        tissue = values[values > values.min()]
        assert low <= np.percentile(tissue, 5)
        assert high >= np.percentile(tissue, 95)
        shown = window_to_uint8(values, window)
        assert np.mean(shown[values > values.min()] == 255) <= 0.01  # few tissue pixels burnt out
        assert len(np.unique(shown)) > 100  # the grey scale is used

    def test_zero_background_is_ignored(self):
        image = np.zeros((100, 100))
        image[40:60, 40:60] = np.linspace(500, 600, 400).reshape(20, 20)
        window = auto_window(image, low=0, high=100)
        assert (window.center, window.width) == (550, 100)

    def test_percentiles_of_real_mr_match_numpy(self):
        ds = read("MR_small.dcm")
        values = ds.pixel_array.astype(float)
        window = auto_window(values, low=2, high=98)
        lo, hi = np.percentile(values[values > values.min()], [2, 98])
        assert window == Window((lo + hi) / 2, hi - lo, "Auto", "LINEAR_EXACT")

    def test_constant_image_gets_width_1(self):
        assert auto_window(np.full((4, 4), 7.0)) == Window(7.0, 1.0, "Auto", "LINEAR_EXACT")

    def test_nan_values_are_ignored(self):
        window = auto_window(np.array([np.nan, 0, 10, 20, np.inf]), low=0, high=100)
        assert (window.center, window.width) == (15, 10)

    @pytest.mark.parametrize("low, high", [(-1, 50), (50, 50), (60, 40), (0, 101)])
    def test_bad_percentiles_raise(self, low, high):
        with pytest.raises(
            ValueError, match=r"Arguments 'low' and 'high' must satisfy 0 <= low < high <= 100"
        ):
            auto_window(np.arange(10), low, high)

    def test_no_finite_value_raises(self):
        with pytest.raises(
            ValueError, match=r"Argument 'values' must contain at least one finite value"
        ):
            auto_window(np.array([np.nan]))


class TestDefaultWindow:
    def test_header_window_comes_first(self):
        vol = volume_of(read("MR-SIEMENS-DICOM-WithOverlays.dcm"))
        assert default_window(vol) == Window(450, 790, "WINDOW1", "LINEAR")

    def test_ct_without_header_window_is_soft_tissue(self):
        vol = volume_of(read("CT_small.dcm"))
        assert vol.windows == ()
        window = default_window(vol)
        assert (window.center, window.width) == (40, 400)

    def test_mr_without_header_window_is_automatic(self):
        vol = volume_of(read("emri_small.dcm"))
        assert default_window(vol) == auto_window(modality_values(vol))

    def test_pet_in_suv_is_suv_0_to_10(self):
        vol = volume_of(read("emri_small.dcm"), modality="PT", units="SUVbw")
        assert default_window(vol) == PET_SUV_PRESET.window

    @pytest.mark.parametrize("name", ["SC_rgb.dcm", "US1_UNCR.dcm"])
    def test_colour_is_drawn_as_stored(self, name):
        vol = volume_of(read(name))
        assert vol.is_color
        levels = np.arange(256, dtype=np.uint8)
        assert np.array_equal(window_to_uint8(levels, default_window(vol)), levels)


# ---------------------------------------------------------------- colour maps


class TestColormap:
    def test_hot_goes_black_red_yellow_white(self):
        hot = colormap("hot")
        assert hot[0].tolist() == [0, 0, 0]
        assert hot[85].tolist() == [255, 0, 0]
        assert hot[170].tolist() == [255, 255, 0]
        assert hot[255].tolist() == [255, 255, 255]

    def test_hot_follows_the_documented_integer_formula(self):
        v = np.arange(256)
        expected = np.stack(
            [np.minimum(255, 3 * v), np.clip(3 * v - 255, 0, 255), np.clip(3 * v - 510, 0, 255)],
            axis=1,
        )
        assert np.array_equal(colormap("hot"), expected)

    def test_hot_channels_never_decrease(self):
        assert np.all(np.diff(colormap("hot").astype(int), axis=0) >= 0)

    def test_gray_is_the_identity(self):
        gray = colormap(Colormap.GRAY)
        assert gray.shape == (256, 3) and gray.dtype == np.uint8
        assert np.array_equal(gray, np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1))

    def test_name_is_case_insensitive_and_result_is_a_fresh_copy(self):
        a = colormap("HOT")
        a[:] = 0
        assert colormap("hot")[255].tolist() == [255, 255, 255]

    def test_unknown_name_raises(self):
        with pytest.raises(
            ValueError, match=r"Argument 'name' must be one of 'gray' or 'hot', not 'jet'"
        ):
            colormap("jet")


# ---------------------------------------------------------------- docs


class TestDocstringExamples:
    @pytest.mark.parametrize(
        "module",
        [modality_module, voi_module, presets_module, colormaps_module, dicomteach.imaging],
    )
    def test_examples_run(self, module):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0

    def test_every_public_function_has_an_example(self):
        for name in dicomteach.imaging.__all__:
            obj = getattr(dicomteach.imaging, name)
            if callable(obj) and not isinstance(obj, type):
                assert ">>>" in (obj.__doc__ or ""), name
