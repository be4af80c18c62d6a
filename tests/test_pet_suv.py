"""SUV body-weight factor from PET headers shaped as Canon, Siemens and GE write them.

Every expected value is computed here from first principles:
``weight_g / (dose_Bq * 2 ** (-elapsed_s / half_life_s))``.
"""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomteach.errors import InvalidHeaderError
from dicomteach.io.pet import suv_bw_factor, suv_units_note

F18_HALF_LIFE_S = 6586.2

VENDORS = {
    "canon": ("CANON_MEC", "Celesteion"),
    "toshiba": ("TOSHIBA", "Celesteion"),
    "siemens": ("SIEMENS", "Biograph Vision 600"),
    "ge": ("GE MEDICAL SYSTEMS", "Discovery MI"),
}


def expected_factor(weight_kg: float, dose_bq: float, elapsed_s: float) -> float:
    decayed_dose_bq = dose_bq * 2 ** (-elapsed_s / F18_HALF_LIFE_S)
    return weight_kg * 1000 / decayed_dose_bq


def pet_header(
    vendor: str = "siemens",
    *,
    series_date: str = "20240612",
    series_time: str = "093000.000000",
    acquisition_time: str = "093000.000000",
    injection_time: str | None = "083000.000000",
    injection_datetime: str | None = None,
    weight: str | None = "70",
    dose: str | None = "370000000",
    half_life: str | None = "6586.2",
    units: str = "BQML",
    decay_correction: str = "START",
) -> Dataset:
    """One PET image header; values are strings, as pydicom reads DS/TM/DT from files."""
    manufacturer, model = VENDORS[vendor]
    ds = Dataset()
    ds.Modality = "PT"
    ds.Manufacturer = manufacturer
    ds.ManufacturerModelName = model
    ds.SeriesDate = series_date
    ds.SeriesTime = series_time
    ds.AcquisitionDate = series_date
    ds.AcquisitionTime = acquisition_time
    ds.Units = units
    ds.DecayCorrection = decay_correction
    ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
    ds.RescaleSlope = "0.5"
    ds.RescaleIntercept = "0"
    if weight is not None:
        ds.PatientWeight = weight
    drug = Dataset()
    drug.Radiopharmaceutical = "Fluorodeoxyglucose"
    if dose is not None:
        drug.RadionuclideTotalDose = dose
    if half_life is not None:
        drug.RadionuclideHalfLife = half_life
    if injection_time is not None:
        drug.RadiopharmaceuticalStartTime = injection_time
    if injection_datetime is not None:
        drug.RadiopharmaceuticalStartDateTime = injection_datetime
    ds.RadiopharmaceuticalInformationSequence = Sequence([drug])
    return ds


def add_ge_scan_datetime(ds: Dataset, value: str) -> None:
    block = ds.private_block(0x0009, "GEMS_PETD_01", create=True)
    block.add_new(0x0D, "DT", value)


class TestSuvBodyWeight:
    @pytest.mark.parametrize("vendor", sorted(VENDORS))
    def test_factor_is_weight_over_dose_decayed_to_series_start(self, vendor):
        ds = pet_header(vendor)  # 70 kg, 370 MBq, injected 60 min before series start

        assert suv_bw_factor(ds) == pytest.approx(expected_factor(70, 370e6, 3600), rel=1e-12)

    def test_seventy_kg_370_mbq_after_one_hour_gives_2_76e_4(self):
        # 370 MBq decays to 253.3 MBq in 60 min; 70 000 g / 253.3e6 Bq
        assert suv_bw_factor(pet_header()) == pytest.approx(2.7634e-4, rel=1e-4)

    def test_uniform_uptake_has_suv_one(self):
        ds = pet_header("ge")
        uniform_bq_per_ml = 370e6 * 2 ** (-3600 / F18_HALF_LIFE_S) / 70_000
        stored = uniform_bq_per_ml / float(ds.RescaleSlope)

        suv = (stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept)) * suv_bw_factor(ds)

        assert suv == pytest.approx(1.0, rel=1e-12)

    def test_fractional_seconds_and_ds_spellings_are_read(self):
        ds = pet_header(
            series_time="093000.5",
            acquisition_time="093000.5",
            injection_time="0830",
            weight=" 70.0 ",
            dose="3.7E+08",
        )

        assert suv_bw_factor(ds) == pytest.approx(expected_factor(70, 370e6, 3600.5), rel=1e-12)

    def test_start_datetime_is_preferred_over_start_time(self):
        # The time disagrees (a typing error at the console); the DateTime wins.
        ds = pet_header(injection_time="080000", injection_datetime="20240612083000.000000")

        assert suv_bw_factor(ds) == pytest.approx(expected_factor(70, 370e6, 3600), rel=1e-12)

    def test_start_time_before_midnight_with_scan_after_midnight_is_the_day_before(self):
        ds = pet_header(
            series_date="20240613",
            series_time="003000",
            acquisition_time="003000",
            injection_time="233000",
        )

        assert suv_bw_factor(ds) == pytest.approx(expected_factor(70, 370e6, 3600), rel=1e-12)

    def test_start_datetime_the_day_before_is_used_as_written(self):
        ds = pet_header(
            series_date="20240613",
            series_time="003000",
            acquisition_time="003000",
            injection_time=None,
            injection_datetime="20240612233000",
        )

        assert suv_bw_factor(ds) == pytest.approx(expected_factor(70, 370e6, 3600), rel=1e-12)

    def test_start_datetime_offset_is_honoured_against_local_series_time(self):
        # Injected 07:30 UTC = 09:30 local (+0200); series at 10:30 local.
        ds = pet_header(
            series_time="103000",
            acquisition_time="103000",
            injection_time=None,
            injection_datetime="20240612073000+0000",
        )
        ds.TimezoneOffsetFromUTC = "+0200"

        assert suv_bw_factor(ds) == pytest.approx(expected_factor(70, 370e6, 3600), rel=1e-12)

    def test_siemens_bed_acquired_after_series_start_keeps_series_start(self):
        # Third bed position: acquired 6 min after the series start it is decay-corrected to.
        ds = pet_header("siemens", acquisition_time="093600")

        assert suv_bw_factor(ds) == pytest.approx(expected_factor(70, 370e6, 3600), rel=1e-12)

    def test_ge_private_scan_time_replaces_rewritten_series_time(self):
        # Reprocessed at 14:00: GE rewrote SeriesTime; the scan started at 09:30.
        ds = pet_header("ge", series_time="140000", acquisition_time="093000")
        add_ge_scan_datetime(ds, "20240612093000.00")

        assert suv_bw_factor(ds) == pytest.approx(expected_factor(70, 370e6, 3600), rel=1e-12)
        assert "GE private scan time" in suv_units_note(ds)

    def test_earliest_acquisition_of_the_series_replaces_rewritten_series_time(self):
        beds = [
            pet_header("ge", series_time="140000", acquisition_time=time)
            for time in ("094000", "093000", "093500")
        ]

        factor = suv_bw_factor(beds[0], series=beds)

        assert factor == pytest.approx(expected_factor(70, 370e6, 3600), rel=1e-12)

    def test_admin_decay_correction_applies_no_decay(self):
        ds = pet_header(decay_correction="ADMIN", injection_time=None)

        assert suv_bw_factor(ds) == pytest.approx(70_000 / 370e6, rel=1e-12)

    def test_no_decay_correction_decays_to_the_image_acquisition(self):
        ds = pet_header(decay_correction="NONE", acquisition_time="094500")
        ds.CorrectedImage = ["NORM", "ATTN", "SCAT"]

        assert suv_bw_factor(ds) == pytest.approx(expected_factor(70, 370e6, 4500), rel=1e-12)

    def test_gml_units_are_already_suv(self):
        ds = pet_header(units="GML", weight=None, dose=None, injection_time=None)

        assert suv_bw_factor(ds) == 1.0
        assert "GML" in suv_units_note(ds)

    @pytest.mark.parametrize("weight", [None, "", "0"])
    def test_missing_or_zero_weight_is_refused_naming_patient_weight(self, weight):
        ds = pet_header(weight=weight)

        with pytest.raises(InvalidHeaderError, match=r"PatientWeight \(0010,1030\)") as caught:
            suv_bw_factor(ds, path="pet/IM0001.dcm")
        assert str(caught.value).startswith("pet/IM0001.dcm: ")
        assert "\n" not in str(caught.value)

    @pytest.mark.parametrize("units", ["CNTS", "PROPCNTS", ""])
    def test_units_other_than_bqml_are_refused(self, units):
        with pytest.raises(InvalidHeaderError, match=r"Units \(0054,1001\)"):
            suv_bw_factor(pet_header(units=units))

    def test_missing_radiopharmaceutical_sequence_is_refused(self):
        ds = pet_header()
        del ds.RadiopharmaceuticalInformationSequence

        with pytest.raises(InvalidHeaderError, match="RadiopharmaceuticalInformationSequence"):
            suv_bw_factor(ds)

    @pytest.mark.parametrize(
        ("missing", "named"),
        [("dose", "RadionuclideTotalDose"), ("half_life", "RadionuclideHalfLife")],
    )
    def test_missing_dose_or_half_life_is_refused(self, missing, named):
        with pytest.raises(InvalidHeaderError, match=named):
            suv_bw_factor(pet_header(**{missing: None}))

    def test_missing_injection_time_is_refused(self):
        with pytest.raises(InvalidHeaderError, match="RadiopharmaceuticalStartTime"):
            suv_bw_factor(pet_header(injection_time=None))

    def test_injection_after_scan_start_is_refused(self):
        ds = pet_header(injection_time=None, injection_datetime="20240612100000")

        with pytest.raises(InvalidHeaderError, match="after the series start"):
            suv_bw_factor(ds)

    @pytest.mark.parametrize("decay_correction", ["", "END", "DECAY"])
    def test_unknown_decay_correction_is_refused(self, decay_correction):
        with pytest.raises(InvalidHeaderError, match=r"DecayCorrection \(0054,1102\)"):
            suv_bw_factor(pet_header(decay_correction=decay_correction))

    def test_image_without_attenuation_correction_is_refused(self):
        ds = pet_header()
        ds.CorrectedImage = ["NORM", "DTIM", "DECY"]

        with pytest.raises(InvalidHeaderError, match="ATTN"):
            suv_bw_factor(ds)

    def test_unreadable_series_time_is_refused(self):
        with pytest.warns(UserWarning, match="Invalid value for VR TM"):
            ds = pet_header(series_time="9h30")  # pydicom keeps the text and warns

        with pytest.raises(InvalidHeaderError, match=r"SeriesTime \(0008,0031\) is '9h30'"):
            suv_bw_factor(ds)

    def test_note_names_weight_dose_nuclide_and_uptake_time(self):
        note = suv_units_note(
            pet_header(
                weight="72", dose="350000000", series_time="093312", acquisition_time="093312"
            )
        )

        assert note == (
            "SUVbw: weight 72 kg, dose 350 MBq F-18 decay-corrected over 63.2 min "
            "from injection to series start"
        )
