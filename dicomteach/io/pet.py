"""SUV body-weight factor of a PET image, from its header.

The PET Image module (PS3.3 C.8.9.4) stores activity concentration; with
Units (0054,1001) ``BQML`` the modality LUT gives Bq/ml. The body-weight
standardised uptake value divides that concentration by the injected dose per
gram of patient, both taken at the same moment::

    SUVbw = (stored * RescaleSlope + RescaleIntercept) * factor
    factor = weight_g / (dose_Bq * 2 ** (-(t_reference - t_injection) / half_life_s))

``t_reference`` is the time the pixel values are decay-corrected to, named by
Decay Correction (0054,1102), PS3.3 C.8.9.1.1.6. How to find it follows the
vendor-neutral pseudo-code of the QIBA FDG-PET profile (the "UW PET SUV"
conventions), including the vendor habits it documents; each habit handled
below carries a comment saying why.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import DA, DT, TM

from dicomteach.errors import InvalidHeaderError

__all__ = ["DecayCorrection", "PetUnits", "suv_bw_factor", "suv_units_note"]


class PetUnits(StrEnum):
    """Units (0054,1001) values this module can turn into SUVbw, PS3.3 C.8.9.1.1.3."""

    BQML = "BQML"
    """Activity concentration in Bq/ml: SUVbw needs weight, dose and decay."""
    GML = "GML"
    """Already SUVbw (g/ml): the scanner did the computation, the factor is 1."""


class DecayCorrection(StrEnum):
    """Decay Correction (0054,1102): the moment pixel values are corrected to, C.8.9.1.1.6."""

    START = "START"
    """Corrected to the acquisition start of the series (the usual clinical case)."""
    ADMIN = "ADMIN"
    """Corrected to the radiopharmaceutical administration: no further decay to apply."""
    NONE = "NONE"
    """Not corrected: each image holds the activity present while it was acquired."""


GE_PET_PRIVATE_CREATOR = "GEMS_PETD_01"
"""Private creator of GE's PET block, whose element (0009,xx0D) is the scan date and time."""

_GE_SCAN_DATETIME_ELEMENT = 0x0D

_KNOWN_HALF_LIVES_S = {
    "F-18": 6586.2,
    "Ga-68": 4062.6,
    "C-11": 1223.4,
    "N-13": 597.9,
    "O-15": 122.24,
    "Rb-82": 76.4,
    "Cu-64": 45720.0,
    "Zr-89": 282_240.0,
}
"""Half-lives (s) used only to name the nuclide in :func:`suv_units_note`."""

_TZ_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")


@dataclass(frozen=True)
class _SuvInputs:
    units: PetUnits
    weight_kg: float = 0.0
    dose_bq: float = 0.0
    half_life_s: float = 0.0
    decay_correction: DecayCorrection = DecayCorrection.START
    decay_seconds: float = 0.0
    reference_name: str = ""

    @property
    def factor(self) -> float:
        if self.units is PetUnits.GML:
            return 1.0
        decayed_dose_bq = self.dose_bq * 2.0 ** (-self.decay_seconds / self.half_life_s)
        return self.weight_kg * 1000.0 / decayed_dose_bq


def suv_bw_factor(
    ds: Dataset,
    *,
    series: Iterable[Dataset] | None = None,
    path: str | None = None,
) -> float:
    """Return the SUVbw factor (g/ml per Bq/ml) of a PET image, PS3.3 C.8.9.4.

    ``SUVbw = (stored * RescaleSlope + RescaleIntercept) * factor``, where the
    factor is the patient's weight in grams over the injected dose in Bq,
    decayed from the injection to the moment the pixel values are
    decay-corrected to. With Units ``GML`` the values already are SUVbw and the
    factor is ``1.0``.

    Parameters
    ----------
    ds
        The header of one PET image (pixel data not needed).
    series
        The headers of the other images of the same series, when the caller has
        them. They are used only when the Series Time cannot be trusted (see
        below) to find the earliest Acquisition Time; without them, this
        image's own Acquisition Time stands in, which for a multi-bed series
        can differ from slice to slice.
    path
        The file the header came from, named in errors.

    Returns
    -------
    float
        The factor; multiply Bq/ml by it to get SUVbw (g/ml).

    Raises
    ------
    dicomteach.errors.InvalidHeaderError
        When the header does not allow SUVbw: Units other than BQML/GML, an
        image not attenuation- or decay-corrected as it claims, a missing or
        zero Patient's Weight, a missing Radiopharmaceutical Information
        Sequence, dose, half-life or injection time, or a Decay Correction
        other than START, ADMIN or NONE.

    Notes
    -----
    Reference time for Decay Correction ``START`` (QIBA pseudo-code): the
    Series Date/Time, unless it lies after the earliest Acquisition Date/Time
    of the series; then GE's private scan date/time (0009,xx0D) of block
    ``GEMS_PETD_01`` if present, else the earliest Acquisition Date/Time.
    ``ADMIN`` needs no decay; ``NONE`` decays to this image's Acquisition
    Date/Time. The injection time is Radiopharmaceutical Start DateTime
    (0018,1078) if present, else Radiopharmaceutical Start Time (0018,1072) on
    the reference date, moved back a day when that would fall after the scan.

    Examples
    --------
    >>> factor = suv_bw_factor(ds, path="pet/IM0001.dcm")  # doctest: +SKIP
    >>> suv = (stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept)) * factor  # doctest: +SKIP
    """
    return _suv_inputs(ds, series, path).factor


def suv_units_note(
    ds: Dataset,
    *,
    series: Iterable[Dataset] | None = None,
    path: str | None = None,
) -> str:
    """Return one line saying what :func:`suv_bw_factor` used for this image.

    Raises the same :class:`~dicomteach.errors.InvalidHeaderError` as
    :func:`suv_bw_factor` when SUVbw cannot be computed.

    Examples
    --------
    >>> suv_units_note(ds)  # doctest: +SKIP
    'SUVbw: weight 72 kg, dose 350 MBq F-18 decay-corrected over 63.2 min from injection to series start'
    """
    inputs = _suv_inputs(ds, series, path)
    if inputs.units is PetUnits.GML:
        return "SUVbw: the scanner stored SUVbw already (Units GML), factor 1"
    head = (
        f"SUVbw: weight {inputs.weight_kg:g} kg, dose {inputs.dose_bq / 1e6:.4g} MBq "
        f"{_nuclide_name(inputs.half_life_s)}"
    )
    if inputs.decay_correction is DecayCorrection.ADMIN:
        return f"{head}, no decay applied (images are decay-corrected to the injection)"
    return (
        f"{head} decay-corrected over {inputs.decay_seconds / 60:.1f} min "
        f"from injection to {inputs.reference_name}"
    )


def _suv_inputs(ds: Dataset, series: Iterable[Dataset] | None, path: str | None) -> _SuvInputs:
    units = _units(ds, path)
    if units is PetUnits.GML:
        return _SuvInputs(units=units)
    _check_corrections(ds, path)
    decay_correction = _decay_correction(ds, path)

    weight_kg = _number(ds, "PatientWeight", "(0010,1030)", path)
    if weight_kg is None or weight_kg <= 0:
        raise InvalidHeaderError(
            "PatientWeight (0010,1030) is missing or zero; SUVbw needs the patient's weight "
            "in kg: set it (e.g. ds.PatientWeight = 72) or read the image in Bq/ml",
            path,
        )

    drug = _radiopharmaceutical(ds, path)
    dose_bq = _number(drug, "RadionuclideTotalDose", "(0018,1074)", path)
    if dose_bq is None or dose_bq <= 0:
        raise InvalidHeaderError(
            "RadionuclideTotalDose (0018,1074) in RadiopharmaceuticalInformationSequence is "
            "missing or zero; SUVbw needs the injected dose in Bq: set it from the injection record",
            path,
        )
    half_life_s = _number(drug, "RadionuclideHalfLife", "(0018,1075)", path)
    if half_life_s is None or half_life_s <= 0:
        raise InvalidHeaderError(
            "RadionuclideHalfLife (0018,1075) in RadiopharmaceuticalInformationSequence is "
            "missing or zero; set it in seconds (6586.2 for F-18)",
            path,
        )

    if decay_correction is DecayCorrection.ADMIN:
        # Pixel values are already corrected back to the administration, where
        # the full dose is the right denominator: no time is needed at all.
        return _SuvInputs(units, weight_kg, dose_bq, half_life_s, decay_correction)

    if decay_correction is DecayCorrection.START:
        reference, reference_name = _series_start(ds, series, path)
    else:
        reference = _acquisition_datetime(ds, path)
        reference_name = "this image's acquisition"
        if reference is None:
            raise InvalidHeaderError(
                "AcquisitionTime (0008,0032) is missing; with DecayCorrection NONE each image "
                "is decayed to its own acquisition time: set it or use the values in Bq/ml",
                path,
            )

    injection = _injection_datetime(drug, reference, ds, path)
    reference, injection = _comparable(reference, injection, ds, path)
    decay_seconds = (reference - injection).total_seconds()
    if decay_seconds < 0:
        raise InvalidHeaderError(
            f"RadiopharmaceuticalStartDateTime (0018,1078) {injection.isoformat()} is after "
            f"the {reference_name} {reference.isoformat()}; correct the injection time",
            path,
        )
    return _SuvInputs(
        units,
        weight_kg,
        dose_bq,
        half_life_s,
        decay_correction,
        decay_seconds,
        reference_name,
    )


def _units(ds: Dataset, path: str | None) -> PetUnits:
    text = _text(ds, "Units", "(0054,1001)", path)
    if text is None:
        raise InvalidHeaderError(
            "Units (0054,1001) is missing, so the pixel values have no known unit; "
            "SUVbw needs BQML (Bq/ml)",
            path,
        )
    try:
        return PetUnits(text.upper())
    except ValueError:
        # Philips writes CNTS with private SUV and Bq/ml scale factors in
        # (7053,xx00)/(7053,xx09); counts are not a concentration, so refuse
        # rather than guess which private factor applies.
        raise InvalidHeaderError(
            f"Units (0054,1001) is {text!r}, not BQML (Bq/ml); SUVbw cannot be computed "
            "from these values: export the series in Bq/ml from the scanner",
            path,
        ) from None


def _check_corrections(ds: Dataset, path: str | None) -> None:
    # Corrected Image (0028,0051) is type 2: when empty, trust Decay Correction.
    # When present it must list attenuation (no quantitative Bq/ml without it:
    # Siemens labels non-attenuation-corrected images BQML too) and, unless
    # Decay Correction is NONE, decay correction (QIBA checks both).
    corrections = _codes(ds, "CorrectedImage")
    if not corrections:
        return
    if "ATTN" not in corrections:
        raise InvalidHeaderError(
            "CorrectedImage (0028,0051) lacks ATTN: the image is not attenuation-corrected, "
            "so its values are not a concentration; use the attenuation-corrected series",
            path,
        )
    declared = _text(ds, "DecayCorrection", "(0054,1102)", path)
    if "DECY" not in corrections and (declared or "").upper() != DecayCorrection.NONE:
        raise InvalidHeaderError(
            f"CorrectedImage (0028,0051) lacks DECY but DecayCorrection (0054,1102) is "
            f"{declared!r}; the header contradicts itself: check the reconstruction settings",
            path,
        )


def _decay_correction(ds: Dataset, path: str | None) -> DecayCorrection:
    text = _text(ds, "DecayCorrection", "(0054,1102)", path)
    try:
        return DecayCorrection((text or "").upper())
    except ValueError:
        raise InvalidHeaderError(
            f"DecayCorrection (0054,1102) is {'missing' if text is None else repr(text)}; "
            "SUVbw needs START, ADMIN or NONE "
            "to know when the values were decay-corrected to",
            path,
        ) from None


def _radiopharmaceutical(ds: Dataset, path: str | None) -> Dataset:
    sequence = ds.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        raise InvalidHeaderError(
            "RadiopharmaceuticalInformationSequence (0054,0016) is missing or empty; SUVbw "
            "needs the injected dose, half-life and injection time recorded there",
            path,
        )
    # A second item means a second tracer (dual-tracer studies); QIBA and the
    # vendors put the one the image is quantified for first.
    return sequence[0]


def _series_start(
    ds: Dataset, series: Iterable[Dataset] | None, path: str | None
) -> tuple[datetime.datetime, str]:
    series_date = _date(ds, "SeriesDate", "(0008,0021)", path)
    series_time = _time(ds, "SeriesTime", "(0008,0031)", path)
    if series_time is None:
        raise InvalidHeaderError(
            "SeriesTime (0008,0031) is missing; with DecayCorrection START the values are "
            "decay-corrected to the series start, which SUVbw needs",
            path,
        )
    if series_date is None:
        series_date = _date(ds, "AcquisitionDate", "(0008,0022)", path) or _date(
            ds, "StudyDate", "(0008,0020)", path
        )
    if series_date is None:
        raise InvalidHeaderError(
            "SeriesDate (0008,0021) is missing; SUVbw needs the date of the series start",
            path,
        )
    series_start = datetime.datetime.combine(series_date, series_time)

    earliest = _earliest_acquisition(ds, series)
    if earliest is None:
        return series_start, "series start"
    series_start_cmp, earliest_cmp = _comparable(series_start, earliest, ds, path)
    if series_start_cmp <= earliest_cmp:
        # Siemens, Canon/Toshiba and GE as acquired: Series Time is the scan
        # start, and each bed position (or a late reconstruction window) has
        # a later Acquisition Time. The decay correction refers to Series Time.
        return series_start, "series start"

    # A Series Time after the first acquisition was rewritten: GE sets it
    # anew when images are reprocessed or re-saved, while the decay
    # correction still refers to the original scan start, kept in its
    # private scan date/time.
    ge_scan = _ge_scan_datetime(ds, path)
    if ge_scan is not None:
        return ge_scan, "scan start (GE private scan time)"
    # No private time (other vendors, or the private block stripped by
    # de-identification): the earliest acquisition is the best estimate of
    # the scan start. QIBA's Siemens multi-injection back-computation from
    # Frame Reference Time is not done.
    return earliest, "earliest acquisition"


def _earliest_acquisition(
    ds: Dataset, series: Iterable[Dataset] | None
) -> datetime.datetime | None:
    found = []
    for image in [ds, *(series or ())]:
        try:
            moment = _acquisition_datetime(image, None)
        except InvalidHeaderError:
            # One unreadable neighbour must not block the whole series.
            continue
        if moment is not None:
            found.append(moment)
    if not found:
        return None
    try:
        return min(found)
    except TypeError:
        # Some with a time zone, some without: compare wall-clock times.
        return min(found, key=lambda moment: moment.replace(tzinfo=None))


def _acquisition_datetime(ds: Dataset, path: str | None) -> datetime.datetime | None:
    # Enhanced PET (and some legacy writers) carry Acquisition DateTime
    # instead of, or besides, separate date and time elements.
    combined = _datetime(ds, "AcquisitionDateTime", "(0008,002A)", path)
    if combined is not None:
        return combined
    time = _time(ds, "AcquisitionTime", "(0008,0032)", path)
    if time is None:
        return None
    date = _date(ds, "AcquisitionDate", "(0008,0022)", path) or _date(
        ds, "SeriesDate", "(0008,0021)", path
    )
    if date is None:
        return None
    return datetime.datetime.combine(date, time)


def _ge_scan_datetime(ds: Dataset, path: str | None) -> datetime.datetime | None:
    try:
        block = ds.private_block(0x0009, GE_PET_PRIVATE_CREATOR)
    except KeyError:
        return None
    if _GE_SCAN_DATETIME_ELEMENT not in block:
        return None
    element = block[_GE_SCAN_DATETIME_ELEMENT]
    text = _as_text(element.value)
    if not text:
        return None
    try:
        return _to_datetime(DT(text))
    except ValueError:
        raise InvalidHeaderError(
            f"GE private scan date/time (0009,{block.block_start + 0x0D:04X}) is {text!r}, "
            "not a DICOM DT; correct it or remove the private block",
            path,
        ) from None


def _injection_datetime(
    drug: Dataset, reference: datetime.datetime, ds: Dataset, path: str | None
) -> datetime.datetime:
    # The full DateTime (0018,1078) is preferred: it carries the date, so
    # injections the day before (or days before, for Zr-89) are exact.
    injection = _datetime(drug, "RadiopharmaceuticalStartDateTime", "(0018,1078)", path)
    if injection is not None:
        return injection
    time = _time(drug, "RadiopharmaceuticalStartTime", "(0018,1072)", path)
    if time is None:
        raise InvalidHeaderError(
            "RadiopharmaceuticalStartDateTime (0018,1078) and RadiopharmaceuticalStartTime "
            "(0018,1072) are both missing; SUVbw needs the injection time: set it from the "
            "injection record",
            path,
        )
    # The time alone has no date: QIBA assumes the scan's date. The reference
    # date is used rather than Series Date because a rewritten Series Date (GE
    # reprocessing) may be a later day than the scan itself.
    injection = datetime.datetime.combine(reference.date(), time)
    if injection.replace(tzinfo=None) > reference.replace(tzinfo=None):
        # Injected before midnight, scanned after: the injection was the day before.
        injection -= datetime.timedelta(days=1)
    return injection


def _comparable(
    first: datetime.datetime, second: datetime.datetime, ds: Dataset, path: str | None
) -> tuple[datetime.datetime, datetime.datetime]:
    """Give two moments the same kind of time zone so that they can be subtracted.

    DICOM DA/TM are local wall-clock times; a DT may carry a UTC offset. A
    naive time takes the Timezone Offset From UTC (0008,0201) when the header
    has one, else the offset of the other moment: the scanner writes both in
    the same local time.
    """
    if (first.tzinfo is None) == (second.tzinfo is None):
        return first, second
    local = _timezone(ds, path) or first.tzinfo or second.tzinfo
    if first.tzinfo is None:
        first = first.replace(tzinfo=local)
    if second.tzinfo is None:
        second = second.replace(tzinfo=local)
    return first, second


def _timezone(ds: Dataset, path: str | None) -> datetime.timezone | None:
    text = _text(ds, "TimezoneOffsetFromUTC", "(0008,0201)", path)
    if text is None:
        return None
    match = _TZ_OFFSET.match(text)
    if match is None:
        raise InvalidHeaderError(
            f"TimezoneOffsetFromUTC (0008,0201) is {text!r}, not of the form +HHMM or -HHMM",
            path,
        )
    sign = -1 if match.group(1) == "-" else 1
    offset = datetime.timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return datetime.timezone(sign * offset)


def _nuclide_name(half_life_s: float) -> str:
    for name, known in _KNOWN_HALF_LIVES_S.items():
        if abs(half_life_s - known) <= 0.01 * known:
            return name
    return f"(half-life {half_life_s / 60:.4g} min)"


# -- defensive readers: missing, empty, bytes (UN), DS strings, odd spellings --


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    text = str(value).strip(" \x00")
    return text or None


def _text(ds: Dataset, keyword: str, tag: str, path: str | None) -> str | None:
    value = ds.get(keyword)
    if isinstance(value, MultiValue | list):
        if not value:
            return None
        if len(value) > 1:
            raise InvalidHeaderError(
                f"{keyword} {tag} has {len(value)} values where one is expected; correct it",
                path,
            )
        value = value[0]
    return _as_text(value)


def _codes(ds: Dataset, keyword: str) -> set[str]:
    value = ds.get(keyword)
    if value is None:
        return set()
    values = value if isinstance(value, MultiValue | list | tuple) else [value]
    return {text.upper() for text in map(_as_text, values) if text}


def _number(ds: Dataset, keyword: str, tag: str, path: str | None) -> float | None:
    text = _text(ds, keyword, tag, path)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise InvalidHeaderError(f"{keyword} {tag} is {text!r}, not a number; correct it", path)
    return number


def _date(ds: Dataset, keyword: str, tag: str, path: str | None) -> datetime.date | None:
    value = ds.get(keyword)
    if isinstance(value, datetime.date):  # pydicom's datetime_conversion is on
        return datetime.date(value.year, value.month, value.day)
    text = _text(ds, keyword, tag, path)
    if text is None:
        return None
    try:
        parsed = DA(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidHeaderError(f"{keyword} {tag} is {text!r}, not a date YYYYMMDD", path)
    return datetime.date(parsed.year, parsed.month, parsed.day)


def _time(ds: Dataset, keyword: str, tag: str, path: str | None) -> datetime.time | None:
    value = ds.get(keyword)
    if isinstance(value, datetime.time):  # pydicom's datetime_conversion is on
        return value.replace(tzinfo=None)
    text = _text(ds, keyword, tag, path)
    if text is None:
        return None
    # ACR-NEMA era writers (and some gateways) still put colons in times.
    cleaned = text.replace(":", "")
    try:
        parsed = TM(cleaned)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidHeaderError(f"{keyword} {tag} is {text!r}, not a time HHMMSS.FFFFFF", path)
    return datetime.time(parsed.hour, parsed.minute, parsed.second, parsed.microsecond)


def _datetime(ds: Dataset, keyword: str, tag: str, path: str | None) -> datetime.datetime | None:
    value = ds.get(keyword)
    if isinstance(value, datetime.datetime):  # pydicom's datetime_conversion is on
        return _to_datetime(value)
    text = _text(ds, keyword, tag, path)
    if text is None:
        return None
    try:
        parsed = DT(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidHeaderError(
            f"{keyword} {tag} is {text!r}, not a date-time YYYYMMDDHHMMSS.FFFFFF&ZZXX", path
        )
    return _to_datetime(parsed)


def _to_datetime(value: datetime.datetime) -> datetime.datetime:
    # Plain datetime, not pydicom's DT subclass, so arithmetic and repr stay simple.
    return datetime.datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=value.tzinfo,
    )
