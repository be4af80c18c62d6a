"""De-identify DICOM files: PS3.15 Annex E Basic Application Level Confidentiality Profile.

Every attribute gets the action Table E.1-1 (``table_e1_1.csv``) gives it under
the options chosen, at every depth of every sequence. Attributes the table does
not list are handled by their VR, to be safe with objects the table's authors
never saw: UIDs (UI) are mapped like the listed ones unless they name a class
(SOP class, transfer syntax, coding scheme), person names (PN) are emptied, dates
(DA, DT) are shifted or removed like the listed dates, free text whose keyword
says it is a description or a comment (e.g. Content Description (0070,0081), which
the table does not list) is cleaned like a Clean Descriptors attribute (scrubbed,
or emptied for long text), and public elements of unknown VR (UN) are removed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRBigEndian, ExplicitVRLittleEndian

from dicomteach.errors import DicomTeachError, NotDicomError
from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.deid import clean, dates, uids
from dicomteach.io.deid.pixels import BurnedInAnnotationError, Region, blank_regions, burned_in_risk
from dicomteach.io.deid.private import safe_private_vr
from dicomteach.io.deid.profile import (
    BASIC_PROFILE_CODE,
    CLEAN_PIXEL_CODE,
    Option,
    Row,
    resolve,
    row_for,
)
from dicomteach.io.deid.report import ChangeTable, compare, snapshot
from dicomteach.io.instance import read_instance
from dicomteach.io.safety import DEFAULT_LIMITS, Limits
from dicomteach.io.sources import Source, iter_sources

PathLike = str | os.PathLike[str]
Progress = Callable[[int, int, str], None]

#: The options dicomteach applies by default: what a teaching file needs.
TEACHING_OPTIONS = frozenset(Option)
#: Dummy values (action D) by VR; UIDs are mapped and sequences cleaned instead.
DUMMY = {
    "AE": "ANONYMIZED",
    "AS": "000Y",
    "CS": "ANONYMIZED",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "DS": "0",
    "IS": "0",
    "LO": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "PN": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "UC": "ANONYMIZED",
    "UR": "",
    "UT": "ANONYMIZED",
}
_NUMBERS = {"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"}
_LONG_TEXT = {"ST", "LT", "UT"}
_FREE_TEXT = {"SH", "LO", "ST", "LT", "UT", "UC"}
_FREE_TEXT_WORDS = ("Description", "Comment", "Remark", "Note", "Reason")
#: Keywords whose values, besides every person name, are dropped from cleaned descriptors.
_IDENTIFYING = (
    "PatientID",
    "OtherPatientIDs",
    "IssuerOfPatientID",
    "AccessionNumber",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "StudyID",
    "RequestedProcedureID",
    "DeviceSerialNumber",
)


@dataclass(frozen=True)
class Settings:
    """How one run de-identifies."""

    key: bytes
    dates: str = "shift"
    """``"shift"``: Retain Longitudinal Temporal Information with Modified Dates; ``"remove"``."""
    blank: tuple[Region, ...] = ()
    accept_burned_in: bool = False

    @property
    def options(self) -> frozenset[Option]:
        if self.dates == "shift":
            return TEACHING_OPTIONS
        return TEACHING_OPTIONS - {Option.RETAIN_MODIFIED_DATES}


@dataclass
class AnonymizeResult:
    """What a run wrote and what it skipped."""

    written: list[Path] = field(default_factory=list)
    skipped: list[DicomTeachError] = field(default_factory=list)
    studies: set[str] = field(default_factory=set)
    """De-identified Study Instance UIDs written."""
    patients: set[str] = field(default_factory=set)
    """Pseudonyms written."""
    blanked: list[Path] = field(default_factory=list)
    recompressed: list[Path] = field(default_factory=list)
    """Outputs written uncompressed (Explicit VR Little Endian) because their pixels were blanked."""
    reproducible: bool = True
    """False when no key was given: another run maps the same input to other UIDs."""
    changes: ChangeTable = field(default_factory=ChangeTable)
    """What was removed, replaced, shifted or emptied, per attribute, over the files written."""


@dataclass
class _Context:
    settings: Settings
    name: str
    offset: int
    identifying: frozenset[str]

    @property
    def key(self) -> bytes:
        return self.settings.key


def patient_key(ds: Dataset) -> str:
    """What pseudonym and date offset derive from: Patient ID, else name, else the study."""
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID"):
        value = str(ds.get(keyword, "") or "").strip()
        if value:
            return f"{keyword}:{value}"
    return "unknown"


def deidentify(ds: Dataset, settings: Settings, name: str = "") -> Dataset:
    """De-identify ``ds`` in place (header only; see :func:`blank_regions` for pixels).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> import pydicom
    >>> ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    >>> out = deidentify(ds, Settings(key=b"course"))
    >>> str(out.PatientIdentityRemoved), str(out.PatientName).startswith("DT")
    ('YES', True)
    """
    pkey = patient_key(ds)
    ctx = _Context(
        settings=settings,
        name=name,
        offset=uids.date_offset_days(settings.key, pkey),
        identifying=_identifying_words(ds),
    )
    _clean_dataset(ds, ctx)
    alias = uids.pseudonym(settings.key, pkey)
    ds.PatientName = alias
    ds.PatientID = alias
    ds.PatientIdentityRemoved = "YES"
    options = sorted(settings.options, key=lambda o: o.code)
    ds.DeidentificationMethod = ["DICOMTEACH PS3.15 E BASIC PROFILE"] + [
        o.meaning.upper()[:64] for o in options
    ]
    codes = [BASIC_PROFILE_CODE] + [(o.code, o.meaning) for o in options]
    ds.DeidentificationMethodCodeSequence = DicomSequence([_code(*c) for c in codes])
    ds.LongitudinalTemporalInformationModified = (
        "MODIFIED" if Option.RETAIN_MODIFIED_DATES in settings.options else "REMOVED"
    )
    meta = FileMetaDataset()
    old_meta = getattr(ds, "file_meta", None)
    ts = old_meta.get("TransferSyntaxUID") if old_meta is not None else None
    meta.MediaStorageSOPClassUID = ds.get("SOPClassUID") or (
        old_meta.get("MediaStorageSOPClassUID") if old_meta is not None else None
    )
    meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID") or uids.map_uid(
        settings.key, str(old_meta.get("MediaStorageSOPInstanceUID", name))
    )
    meta.TransferSyntaxUID = ts or ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "DICOMTEACH"
    ds.file_meta = meta
    return ds


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _identifying_words(ds: Dataset) -> frozenset[str]:
    values: list[str] = []

    def visit(d: Dataset) -> None:
        for elem in d:
            if elem.VR == "SQ":
                for item in elem.value or ():
                    visit(item)
            elif elem.VR == "PN" or elem.keyword in _IDENTIFYING:
                values.extend(str(v) for v in _values(elem.value))

    visit(ds)
    return clean.identifying_words(values)


def _values(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def _clean_dataset(ds: Dataset, ctx: _Context) -> None:
    removed_overlays = {
        elem.tag.group
        for elem in ds
        if 0x6000 <= elem.tag.group <= 0x60FF and elem.tag.element == 0x3000
    }
    kept_private_blocks: set[tuple[int, int]] = set()
    creators: list[int] = []
    for elem in list(ds):
        tag = elem.tag
        if tag.element == 0x0000:  # group lengths: pydicom writes none, stale ones mislead
            del ds[tag]
            continue
        if tag.group in removed_overlays or (0x5000 <= tag.group <= 0x50FF and not tag.group % 2):
            del ds[tag]  # an overlay without its data, or a retired curve: the whole group goes
            continue
        if tag.is_private:
            if tag.is_private_creator:
                creators.append(tag)
            elif _keep_private(ds, elem, ctx):
                kept_private_blocks.add((tag.group, (tag.element >> 8) & 0xFF))
            else:
                del ds[tag]
            continue
        row = row_for(tag)
        if row is None:
            _fallback(ds, elem, ctx)
            continue
        action = resolve(row, ctx.settings.options, elem.VR)
        column = None
        if action == "C":
            for option in (Option.RETAIN_MODIFIED_DATES, Option.CLEAN_DESCRIPTORS):
                if option in ctx.settings.options and row.options.get(option.column) == "C":
                    column = option
                    break
        _apply(ds, elem, action, column, row.basic, ctx)
    for tag in creators:
        if (tag >> 16, tag & 0xFF) not in kept_private_blocks:
            del ds[tag]


def _keep_private(ds: Dataset, elem: DataElement, ctx: _Context) -> bool:
    if Option.RETAIN_SAFE_PRIVATE not in ctx.settings.options:
        return False
    tag = elem.tag
    creator_tag = (tag.group << 16) | ((tag.element >> 8) & 0xFF)
    creator = ds.get(creator_tag)
    if creator is None or elem.VR == "SQ":
        return False
    vr = safe_private_vr(str(creator.value or ""), int(tag), elem.VR, elem.value)
    return vr is not None


def _fallback(ds: Dataset, elem: DataElement, ctx: _Context) -> None:
    """Attributes Table E.1-1 does not list: judged by VR (see the module docstring)."""
    vr = elem.VR
    if vr == "SQ":
        for item in elem.value or ():
            _clean_dataset(item, ctx)
    elif vr == "UI":
        if not uids.is_well_known(elem.keyword, str(_values(elem.value)[0]) if elem.value else ""):
            _map_uids(elem, ctx)
    elif vr == "PN":
        elem.value = None
    elif vr in ("DA", "DT"):
        if Option.RETAIN_MODIFIED_DATES in ctx.settings.options:
            _shift(elem, ctx)
        else:
            del ds[elem.tag]
    elif vr == "UN":
        del ds[elem.tag]
    elif vr in _FREE_TEXT and any(w in elem.keyword for w in _FREE_TEXT_WORDS):
        column = (
            Option.CLEAN_DESCRIPTORS if Option.CLEAN_DESCRIPTORS in ctx.settings.options else None
        )
        _apply(ds, elem, "C" if column else "Z", column, "Z", ctx)


def _apply(
    ds: Dataset,
    elem: DataElement,
    action: str,
    column: Option | None,
    basic: str,
    ctx: _Context,
) -> None:
    vr = elem.VR
    if action == "C" and column is Option.CLEAN_DESCRIPTORS:
        if vr == "SQ":  # coded descriptors: dicomteach does not clean inside, it applies the basic
            action, column = resolve(_basic_row(basic), frozenset(), vr), None
        elif vr in _LONG_TEXT:
            action = "X" if "X" in basic else "Z"
        else:
            cleaned = [clean.scrub(str(v), ctx.identifying) for v in _values(elem.value)]
            cleaned = [c for c in cleaned if c]
            if cleaned:
                elem.value = cleaned if len(cleaned) > 1 else cleaned[0]
                return
            action = "X" if "X" in basic else "Z"
    if action == "C" and column is Option.RETAIN_MODIFIED_DATES:
        if vr in ("DA", "DT"):
            _shift(elem, ctx)
        elif vr == "SQ":
            for item in elem.value or ():
                _clean_dataset(item, ctx)
        return  # TM and the rest: a shift by whole days leaves them as they are
    if action == "C":  # an option's C dicomteach does not implement: the basic action
        action = resolve(_basic_row(basic), frozenset(), vr)
    if action == "K":
        if vr == "SQ":
            for item in elem.value or ():
                _clean_dataset(item, ctx)
    elif action == "X":
        del ds[elem.tag]
    elif action == "Z":
        elem.value = DicomSequence() if vr == "SQ" else None
    elif action == "U":
        if vr == "UI":
            _map_uids(elem, ctx)
        elif vr == "SQ":  # X/Z/U* on a sequence: keep its items, their UIDs replaced
            for item in elem.value or ():
                _clean_dataset(item, ctx)
        else:
            elem.value = None
    elif action == "D":
        if vr == "SQ":
            for item in elem.value or ():
                _clean_dataset(item, ctx)
        elif vr == "UI":
            _map_uids(elem, ctx)
        elif vr in _NUMBERS:
            elem.value = 0
        elif vr in DUMMY:
            elem.value = DUMMY[vr]
        else:
            elem.value = b"" if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN") else None
    else:
        raise DicomTeachError(f"unknown de-identification action '{action}'", ctx.name)


def _basic_row(basic: str) -> Row:
    return Row("", "", basic, {})


def _map_uids(elem: DataElement, ctx: _Context) -> None:
    values = [
        v if uids.is_well_known(elem.keyword, str(v)) else uids.map_uid(ctx.key, str(v))
        for v in _values(elem.value)
    ]
    elem.value = values if len(values) > 1 else (values[0] if values else None)


def _shift(elem: DataElement, ctx: _Context) -> None:
    shift = dates.shift_da if elem.VR == "DA" else dates.shift_dt
    values = [shift(str(v), ctx.offset) for v in _values(elem.value)]
    values = [v for v in values if v]
    elem.value = values if len(values) > 1 else (values[0] if values else None)


# --- files ---------------------------------------------------------------------------------


def _as_key(key: bytes | str | None) -> tuple[bytes, bool]:
    if key is None:
        return secrets.token_bytes(32), False
    data = key.encode() if isinstance(key, str) else bytes(key)
    if not data:
        raise DicomTeachError("the de-identification key is empty")
    return data, True


def _short(uid: str, n: int = 10) -> str:
    return hashlib.sha256(uid.encode()).hexdigest()[:n]


def _series_folder(ds: Dataset) -> str:
    number = ds.get("SeriesNumber")
    modality = "".join(c for c in str(ds.get("Modality", "") or "OT") if c.isalnum()) or "OT"
    series = _short(str(ds.get("SeriesInstanceUID", "")), 6)
    num = f"{int(number):03d}" if number not in (None, "") else "000"
    return f"{num}-{modality}-{series}"


def _file_name(ds: Dataset) -> str:
    number = ds.get("InstanceNumber")
    num = f"{int(number):05d}" if number not in (None, "") else "00000"
    return f"{num}-{_short(str(ds.get('SOPInstanceUID', '')), 12)}.dcm"


@dataclass
class _Planned:
    source: Source
    risky: str | None
    study_uid: str
    modality: str


def _plan(
    inputs: Sequence[PathLike],
    dest: Path,
    settings: Settings,
    limits: Limits,
    result: AnonymizeResult,
    progress: Progress | None,
) -> list[_Planned]:
    """Check every input before anything is written: unreadable files are skipped, and
    an image that may show burned-in text stops the run."""
    for item in inputs:
        if Path(item).is_dir() and dest.resolve().is_relative_to(Path(item).resolve()):
            raise DicomTeachError(
                "the output folder lies inside the input folder; choose one outside it", dest
            )
    sources = list(iter_sources(inputs, limits))
    planned = []
    for done, source in enumerate(sources, 1):
        if progress is not None:
            progress(done, len(sources), "checking")
        try:
            inst = read_instance(source, limits)
        except DicomTeachError as exc:
            if source.named:
                raise
            result.skipped.append(exc)
            continue
        risky = burned_in_risk(inst.ds)
        if risky and not settings.blank and not settings.accept_burned_in:
            raise BurnedInAnnotationError(
                f"{risky}: its pixels may show the patient's name; look at it, then rerun with "
                "--blank x,y,w,h (repeatable; blank= in Python) over the text, or "
                "--accept-burned-in if there is none",
                source.name,
            )
        study_uid = str(inst.ds.get("StudyInstanceUID", "") or "")
        modality = str(inst.ds.get("Modality", "") or "OT")
        planned.append(_Planned(source, risky, study_uid, modality))
    return planned


def _study_modalities(planned: list[_Planned], key: bytes) -> dict[str, str]:
    """New Study Instance UID → the modality its library folder is named after (its images',
    not its segmentations')."""
    seen: dict[str, set[str]] = {}
    for item in planned:
        seen.setdefault(item.study_uid, set()).add(item.modality)
    out = {}
    for uid, mods in seen.items():
        images = sorted(m for m in mods if m not in _DERIVED) or sorted(mods)
        name = "".join(c for c in images[0] if c.isalnum()) or "OT"
        out[uids.map_uid(key, uid) if uid else ""] = name
    return out


def _read_full(source: Source) -> Dataset:
    try:
        with source.open() as fp:
            return pydicom.dcmread(fp, force=True)
    except Exception as exc:  # noqa: BLE001 - it passed read_instance: name what failed
        raise NotDicomError(f"cannot read the whole file ({exc})", source.name) from None


def _run(
    inputs: Sequence[PathLike],
    dest: PathLike,
    *,
    key: bytes | str | None,
    dates_mode: str,
    blank: Iterable[Region | str],
    accept_burned_in: bool,
    progress: Progress | None,
    limits: Limits,
    place: Callable[[Dataset, dict[str, str]], Path],
) -> AnonymizeResult:
    if dates_mode not in ("shift", "remove"):
        raise ValueError(f"Argument 'dates' must be 'shift' or 'remove', not '{dates_mode}'.")
    key_bytes, reproducible = _as_key(key)
    regions = tuple(r if isinstance(r, Region) else Region.parse(r) for r in blank)
    settings = Settings(key_bytes, dates_mode, regions, accept_burned_in)
    dest = Path(dest)
    result = AnonymizeResult(reproducible=reproducible)
    planned = _plan(inputs, dest, settings, limits, result, progress)
    study_modality = _study_modalities(planned, key_bytes)
    for done, item in enumerate(planned, 1):
        if progress is not None:
            progress(done, len(planned), "de-identifying")
        try:
            ds, recompressed, path, changes = _process(item, settings, place, study_modality, dest)
        except DicomTeachError as exc:
            if item.source.named:
                raise
            result.skipped.append(exc)
            continue
        result.written.append(path)
        result.changes.add(changes)
        if item.risky and settings.blank:
            result.blanked.append(path)
        if recompressed:
            result.recompressed.append(path)
        result.studies.add(str(ds.get("StudyInstanceUID", "")))
        result.patients.add(str(ds.PatientID))
    return result


def _process(
    item: _Planned,
    settings: Settings,
    place: Callable[[Dataset, dict[str, str]], Path],
    study_modality: dict[str, str],
    dest: Path,
) -> tuple[Dataset, bool, Path, list]:
    name = item.source.name
    ds = _read_full(item.source)
    try:
        before = snapshot(ds)
        recompressed = False
        if item.risky and settings.blank:
            recompressed = blank_regions(ds, list(settings.blank), name)
        _little_endian(ds)
        deidentify(ds, settings, name)
        if item.risky and settings.blank:
            ds.BurnedInAnnotation = "NO"
            ds.DeidentificationMethodCodeSequence.append(_code(*CLEAN_PIXEL_CODE))
            ds.DeidentificationMethod = [*ds.DeidentificationMethod, "CLEAN PIXEL DATA OPTION"]
        elif item.risky:
            ds.DeidentificationMethod = [
                *ds.DeidentificationMethod,
                "BURNED IN ANNOTATION ACCEPTED BY INSTRUCTOR",
            ]
        path = dest / place(ds, study_modality)
        changes = compare(before, ds)
    except DicomTeachError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged value pydicom meets while cleaning
        raise DicomTeachError(
            f"cannot de-identify it ({type(exc).__name__}: {exc})", name
        ) from None
    try:
        save_dataset_atomically(ds, path)
    except OSError as exc:
        raise DicomTeachError(f"cannot write {path} ({exc.strerror or exc})", name) from None
    except Exception as exc:  # noqa: BLE001 - pydicom refuses a value it cannot encode
        raise DicomTeachError(f"cannot write it ({type(exc).__name__}: {exc})", name) from None
    return ds, recompressed, path, changes


def _little_endian(ds: Dataset) -> None:
    """Big endian (retired in PS3.5) is written as Explicit VR Little Endian."""
    meta = getattr(ds, "file_meta", None)
    big = meta is not None and meta.get("TransferSyntaxUID") == ExplicitVRBigEndian
    if not big and getattr(ds, "original_encoding", (None, True))[1] is not False:
        return
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    if "PixelData" in ds:
        arr = ds.pixel_array
        ds.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.set_original_encoding(False, True)


def anonymize(
    src: PathLike | Sequence[PathLike],
    dest: PathLike,
    *,
    key: bytes | str | None = None,
    dates: str = "shift",
    blank: Iterable[Region | str] = (),
    accept_burned_in: bool = False,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> AnonymizeResult:
    """De-identify files, folders or zips into folder ``dest`` (PS3.15 Annex E).

    Options applied: Basic Profile, Retain Longitudinal Temporal Information with
    Modified Dates (``dates="shift"``; ``"remove"`` drops them instead), Clean
    Descriptors and Retain Safe Private. UIDs, the patient pseudonym and the date
    shift derive from ``key``: runs with the same key agree. Without a key a
    random one is used (``result.reproducible`` is then False).

    Output: ``dest/<study>/<series number>-<modality>-<series>/<instance number>-<hash>.dcm``,
    names derived from the new UIDs only. Inputs are never modified.

    Examples
    --------
    >>> import tempfile
    >>> from pydicom.data import get_testdata_file
    >>> out = anonymize(get_testdata_file("CT_small.dcm", download=False), tempfile.mkdtemp(),
    ...                 key="course")
    >>> len(out.written), len(out.patients)
    (1, 1)
    """
    inputs = [src] if isinstance(src, str | os.PathLike) else list(src)

    def place(ds: Dataset, study_modality: dict[str, str]) -> Path:
        study = _short(str(ds.get("StudyInstanceUID", "")))
        return Path(study) / _series_folder(ds) / _file_name(ds)

    return _run(
        inputs,
        dest,
        key=key,
        dates_mode=dates,
        blank=blank,
        accept_burned_in=accept_burned_in,
        progress=progress,
        limits=limits,
        place=place,
    )


#: Modalities of derived objects: a study's folder is named after its images instead.
_DERIVED = {"SEG", "RTSTRUCT", "SR", "PR", "KO", "REG", "RTPLAN", "RTDOSE", "RWV", "DOC"}


def import_study(
    src: PathLike | Sequence[PathLike],
    dest: PathLike,
    *,
    key: bytes | str,
    dates: str = "shift",
    blank: Iterable[Region | str] = (),
    accept_burned_in: bool = False,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> AnonymizeResult:
    """De-identify ``src`` and file it into a course's study library at ``dest``.

    Layout: ``dest/<pseudonym>/<shifted study date>-<modality>-<study>/<series>/<file>``,
    with the same options as :func:`anonymize`. The course's ``key`` is required: it
    keeps one patient's studies under one pseudonym, imported months apart.

    Examples
    --------
    >>> import tempfile
    >>> from pydicom.data import get_testdata_file
    >>> out = import_study(get_testdata_file("CT_small.dcm", download=False), tempfile.mkdtemp(),
    ...                    key="course")
    >>> out.written[0].parent.parent.name.split("-")[1]
    'CT'
    """
    if key is None:
        raise DicomTeachError("import_study needs the course's key (key=...)")
    inputs = [src] if isinstance(src, str | os.PathLike) else list(src)

    def place(ds: Dataset, study_modality: dict[str, str]) -> Path:
        study_uid = str(ds.get("StudyInstanceUID", ""))
        date = str(ds.get("StudyDate", "") or "") or "undated"
        modality = study_modality.get(study_uid, "OT")
        folder = f"{date}-{modality}-{_short(study_uid, 8)}"
        return Path(str(ds.PatientID)) / folder / _series_folder(ds) / _file_name(ds)

    return _run(
        inputs,
        dest,
        key=key,
        dates_mode=dates,
        blank=blank,
        accept_burned_in=accept_burned_in,
        progress=progress,
        limits=limits,
        place=place,
    )
