"""Read files, folders and zips into studies → series → volumes."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from pydicom.dataset import Dataset, FileDataset

from dicomteach.errors import (
    DicomTeachError,
    MissingPixelDataError,
    PixelDataError,
    SeriesError,
    TooLargeError,
    TruncatedError,
    UnsupportedError,
)
from dicomteach.io.assemble import Plan, plan_series
from dicomteach.io.frames import header_windows, lut_table
from dicomteach.io.instance import Instance, read_instance
from dicomteach.io.pixels import (
    EncodedFrame,
    decode,
    encoded_frames,
    read_native_frames,
    splits_into_frames,
)
from dicomteach.io.safety import DEFAULT_LIMITS, Limits, MiB
from dicomteach.io.sources import Source, iter_sources
from dicomteach.io.values import value
from dicomteach.io.volume import FrameAxis, Series, Study, Volume
from dicomteach.io.workers import decode_into, decode_workers

PathLike = str | os.PathLike[str]
Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, what)`` while files are read."""


@dataclass
class ReadResult:
    """Everything a read found: the studies, and the files it skipped with the reason."""

    studies: list[Study] = field(default_factory=list)
    skipped: list[DicomTeachError] = field(default_factory=list)

    @property
    def volumes(self) -> list[Volume]:
        return [v for st in self.studies for se in st.series for v in se.volumes]


def read(
    *inputs: PathLike,
    suv: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
) -> ReadResult:
    """Read files, folders (recursively) and zip archives into studies, series and volumes.

    Files found in folders or archives that are not DICOM, or are broken, are
    skipped and listed in ``ReadResult.skipped``; a file named directly that
    cannot be read raises its :class:`~dicomteach.errors.DicomTeachError`.

    With ``suv=True`` PET volumes are converted to SUV body weight
    (``Volume.units == "SUVbw"``), see :mod:`dicomteach.io.pet`.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> result = read(get_testdata_file("CT_small.dcm", download=False))
    >>> vol = result.volumes[0]
    >>> vol.modality, vol.pixels.shape
    ('CT', (1, 128, 128))
    """
    sources = list(iter_sources(inputs, limits))
    result = ReadResult()
    instances: list[Instance] = []
    for done, source in enumerate(sources, 1):
        if progress is not None:
            progress(done, len(sources), "reading headers")
        try:
            instances.append(read_instance(source, limits))
        except DicomTeachError as exc:
            if source.named:
                raise
            result.skipped.append(exc)
    result.studies = _assemble(
        instances, suv=suv, limits=limits, progress=progress, skipped=result.skipped
    )
    return result


def load(path: PathLike, *, suv: bool = False, limits: Limits = DEFAULT_LIMITS) -> Volume:
    """The one volume in ``path`` (a file, or a folder or zip holding one series).

    Raises :class:`~dicomteach.errors.SeriesError` naming what was found when
    there is more than one volume: use :func:`read` then.
    """
    if is_single_file(path):
        return read_file(path, suv=suv, limits=limits)
    result = read(path, suv=suv, limits=limits)
    volumes = result.volumes
    if len(volumes) == 1:
        return volumes[0]
    if not volumes:
        why = (
            f"; {len(result.skipped)} file(s) skipped, first: {result.skipped[0]}"
            if result.skipped
            else ""
        )
        raise SeriesError(f"no image found{why}", os.fspath(path))
    names = ", ".join(
        f"{v.modality} '{v.description}' {tuple(v.pixels.shape)}" for v in volumes[:4]
    )
    raise SeriesError(
        f"holds {len(volumes)} volumes ({names}{'…' if len(volumes) > 4 else ''}); "
        "use dicomteach.io.read() and pick one",
        os.fspath(path),
    )


def is_single_file(path: PathLike) -> bool:
    """True for a file that is one instance (not a zip archive and not a DICOMDIR)."""
    name = os.path.basename(os.fspath(path))
    return os.path.isfile(path) and not name.lower().endswith(".zip") and name.upper() != "DICOMDIR"


def read_file(path: PathLike, *, suv: bool = False, limits: Limits = DEFAULT_LIMITS) -> Volume:
    """One file as one volume, every frame kept.

    Frames forming one regular stack are sorted along the slice normal;
    frames that do not (several stacks, echoes, segments) stay in file order
    with a warning (:func:`read` splits them into volumes instead).
    ``Volume.sources`` gives each frame's index in the file.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> vol = read_file(get_testdata_file("eCT_Supplemental.dcm", download=False))
    >>> vol.frame_axis.value, vol.pixels.shape
    ('slice', (2, 512, 512))

    This enhanced CT stores its frames against the slice normal; sorted, the
    second stored frame comes first:

    >>> [index for _, index in vol.sources]
    [1, 0]
    """
    name = os.fspath(path)
    inst = read_instance(Source(name, path=name, named=True), limits)
    if not inst.has_pixels:
        sop = getattr(inst.ds.get("SOPClassUID"), "name", "") or "object"
        raise MissingPixelDataError(f"no Pixel Data (7FE0,0010): this {sop} holds no image", name)
    plans = plan_series([inst])
    if len(plans) != 1:
        from dicomteach.io.assemble import Slot, _loose_plan

        plan = _loose_plan(inst)
        plan.frame_axis = FrameAxis.FRAMES
        plan.slots = [Slot(inst, f) for f in inst.layout.frames]
        in_plane = inst.layout.frames[0].pixel_spacing
        if in_plane:
            plan.spacing = (1.0, float(in_plane[0]), float(in_plane[1]))
            plan.warnings = [w for w in plan.warnings if "pixel spacing" not in w]
        plan.warnings.append(
            f"frames form {len(plans)} stacks (orientations, echoes, segments…); kept in file "
            "order: use dicomteach.io.read() to split them"
        )
        plans = [plan]
    return build_volume(plans[0], suv=suv, limits=limits)


def read_object(path: PathLike, *, limits: Limits = DEFAULT_LIMITS) -> Instance:
    """One DICOM file, whatever it holds (a SEG, an RTSTRUCT, an image), through the checks
    every file read gets.

    File size, what the bytes are, deflate bombs, sequence nesting, frame
    counts and pixel data lengths are checked before anything is decoded, and
    each failure is a one-line :class:`~dicomteach.errors.DicomTeachError`
    naming the file. Large values are read when first used; the pixels are
    decoded by :func:`stored_frames`. This is how :mod:`dicomteach.roi` opens
    the SEGs and RTSTRUCTs it reads.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> found = read_object(get_testdata_file("rtstruct.dcm", download=False))
    >>> found.ds.Modality, found.has_pixels
    ('RTSTRUCT', False)
    """
    name = os.fspath(path)
    return read_instance(Source(name, path=name, named=True), limits)


def stored_frames(inst: Instance) -> np.ndarray:
    """Every frame of ``inst`` as stored, ``(frames, rows, columns[, 3])``, no palette applied.

    A label map SEG stores labels that its palette only colours, so they are
    kept as they are (PS3.3 C.8.20.2.1: the values are segment numbers).
    """
    if not inst.has_pixels:
        raise MissingPixelDataError("no Pixel Data (7FE0,0010) to decode", inst.name)
    return decode(inst, palette=False)


def _assemble(
    instances: list[Instance],
    *,
    suv: bool,
    limits: Limits,
    progress: Progress | None,
    skipped: list[DicomTeachError],
) -> list[Study]:
    studies: dict[str, Study] = {}
    by_series: dict[tuple[str, str], list[Instance]] = defaultdict(list)
    for inst in instances:
        ds = inst.ds
        study_uid = str(value(ds, "StudyInstanceUID", "") or f"unknown-study:{inst.name}")
        if study_uid not in studies:
            studies[study_uid] = Study(
                study_uid=study_uid,
                description=str(ds.get("StudyDescription", "") or ""),
                date=str(ds.get("StudyDate", "") or ""),
                patient_id=str(ds.get("PatientID", "") or ""),
            )
        if not inst.has_pixels:
            studies[study_uid].others.append((inst.name, ds))
            continue
        series_uid = str(value(ds, "SeriesInstanceUID", "") or f"unknown-series:{inst.name}")
        by_series[(study_uid, series_uid)].append(inst)
    total = sum(len(v) for v in by_series.values())
    done = 0
    for (study_uid, series_uid), members in by_series.items():
        first = members[0].ds
        try:
            number = int(first.get("SeriesNumber"))
        except (TypeError, ValueError):
            number = None
        series = Series(
            series_uid=series_uid,
            modality=str(first.get("Modality", "") or ""),
            description=str(first.get("SeriesDescription", "") or ""),
            number=number,
        )
        series.volumes = _build_series(members, suv=suv, limits=limits, skipped=skipped)
        done += len(members)
        if progress is not None:
            progress(done, total, "loading pixels")
        studies[study_uid].series.append(series)
    for study in studies.values():
        study.series = [s for s in study.series if s.volumes]
        study.series.sort(key=lambda s: (s.number is None, s.number or 0, s.description))
    return [s for s in studies.values() if s.series or s.others]


#: Errors that belong to one file's pixels: that file is left out and its series built without it.
_FILE_ERRORS = (PixelDataError, TruncatedError, UnsupportedError)


def _build_series(
    members: list[Instance], *, suv: bool, limits: Limits, skipped: list[DicomTeachError]
) -> list[Volume]:
    """The series' volumes; a file whose pixels fail is skipped (and reported), not the series.

    What stays is assembled again, so a slice lost this way shows up as a
    missing slice in the volume's warnings, as it would in a PACS viewer.
    """
    remaining = list(members)
    while remaining:
        try:
            return [build_volume(plan, suv=suv, limits=limits) for plan in plan_series(remaining)]
        except _FILE_ERRORS as exc:
            skipped.append(exc)
            kept = [i for i in remaining if i.name != exc.path]
            if len(kept) == len(remaining):
                return []
            remaining = kept
        except DicomTeachError as exc:  # about the series as a whole (size, SUV header…)
            skipped.append(exc)
            return []
    return []


def build_volume(plan: Plan, *, suv: bool = False, limits: Limits = DEFAULT_LIMITS) -> Volume:
    """Allocate the volume once and fill it frame by frame: native frames read in place,
    compressed frames decoded one at a time and copied in, by worker processes
    when that pays (:mod:`dicomteach.io.workers`)."""
    slots = plan.slots
    first = slots[0].inst
    dtype = np.result_type(*{s.inst.dtype for s in slots})
    shape = (len(slots), first.rows, first.columns) + ((3,) if first.is_color else ())
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes > limits.max_volume_bytes:
        raise TooLargeError(
            f"series would take {nbytes // MiB} MiB, over the {limits.max_volume_bytes // MiB} MiB limit",
            first.name,
        )
    pixels = np.empty(shape, dtype=dtype)
    # group the frames by instance: each file is opened (or decoded) once
    per_instance: dict[int, list[tuple[int, int]]] = defaultdict(list)
    owners: dict[int, Instance] = {}
    for k, slot in enumerate(slots):
        per_instance[id(slot.inst)].append((k, slot.frame.index))
        owners[id(slot.inst)] = slot.inst
    for key, pairs in per_instance.items():
        # one thread: copies from the page cache are bound by memory, threads only contend
        if owners[key].pixel_offset is not None:
            read_native_frames(owners[key], [f for _, f in pairs], [pixels[k] for k, _ in pairs])
    # compressed frames, one by one, possibly in worker processes (io/workers.py)
    jobs: list[tuple[int, EncodedFrame]] = []
    for key, pairs in per_instance.items():
        inst = owners[key]
        if inst.pixel_offset is not None:
            continue
        frames = encoded_frames(inst) if splits_into_frames(inst) else None
        if frames is not None:
            jobs += [(k, frames[f]) for k, f in pairs]
            continue
        decoded = decode(inst)
        for k, f in pairs:
            pixels[k] = decoded[f]
        del decoded
    if jobs:
        syntaxes = {frame.transfer_syntax for _, frame in jobs}
        decode_into(pixels, jobs, decode_workers(len(jobs), syntaxes))
    slope = np.array([s.frame.slope for s in slots], dtype=float)
    intercept = np.array([s.frame.intercept for s in slots], dtype=float)
    if np.all(slope == slope[0]) and np.all(intercept == intercept[0]):
        slope, intercept = slope[:1], intercept[:1]
    ds = first.ds
    modality = str(ds.get("Modality", "") or "")
    modality_lut = None
    mlut_seq = ds.get("ModalityLUTSequence")
    if mlut_seq and not first.is_color:
        modality_lut = lut_table(mlut_seq[0], first.pixel_representation, modality=True)
    voi_luts = tuple(
        t
        for t in (
            lut_table(item, first.pixel_representation) for item in (ds.get("VOILUTSequence") or [])
        )
        if t is not None
    )
    units = _units(ds, modality, modality_lut.lut_type if modality_lut else "")
    warnings = list(plan.warnings)
    windows = slots[0].frame.windows
    if windows is None:
        windows = header_windows(ds)
    if suv and modality == "PT":
        from dicomteach.io.pet import suv_bw_factor, suv_units_note

        factor = suv_bw_factor(ds, series=[s.inst.ds for s in slots], path=first.name)
        slope = slope * factor
        intercept = intercept * factor
        units = "SUVbw"
        # header windows are in Bq/ml: carry them into SUV so they still frame the same values
        windows = tuple(
            replace(w, center=w.center * factor, width=w.width * factor) for w in windows
        )
        warnings.append(suv_units_note(ds, series=[s.inst.ds for s in slots]))
    header = _without_pixels(ds)
    return Volume(
        pixels=pixels,
        spacing=plan.spacing,
        origin=plan.origin,
        direction=plan.direction,
        modality=modality,
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        photometric=first.photometric,
        rescale_slope=slope,
        rescale_intercept=intercept,
        modality_lut=modality_lut,
        units=units,
        windows=windows,
        voi_luts=voi_luts,
        header=header,
        frame_axis=plan.frame_axis,
        frame_time_ms=plan.frame_time_ms,
        sources=tuple((s.inst.name, s.frame.index) for s in slots),
        warnings=warnings,
        geometry_known=plan.geometry_known,
        bits_stored=first.bits_stored,
        pixel_representation=first.pixel_representation,
        transfer_syntax=str(first.transfer_syntax),
        positions=plan.positions,
    )


def _without_pixels(ds: Dataset) -> Dataset:
    """A copy of the header without its pixel elements; ``ds`` itself stays whole.

    The same instance can feed several volumes (a SEG's segments, a file's
    stacks), so its pixels must stay readable until every volume is built.
    """
    kept = {t: e for t, e in ds._dict.items() if t not in (0x7FE00010, 0x7FE00008, 0x7FE00009)}  # noqa: SLF001
    implicit, little = ds.original_encoding
    header = FileDataset(
        "",
        kept,
        preamble=getattr(ds, "preamble", None),
        file_meta=getattr(ds, "file_meta", None),
        is_implicit_VR=bool(implicit),
        is_little_endian=bool(little),
    )
    header.filename = getattr(ds, "filename", None)
    header.fileobj_type = getattr(ds, "fileobj_type", None)
    header.set_original_encoding(implicit, little, ds.original_character_set)
    return header


def _units(ds, modality: str, lut_type: str) -> str:
    rescale_type = str(ds.get("RescaleType", "") or "").strip()
    if modality == "CT" and rescale_type in ("", "HU"):
        return "HU"
    if modality == "PT":
        return str(ds.get("Units", "") or "").strip()
    units = rescale_type or lut_type
    # "US" is the standard's code for unspecified (PS3.3 C.11.1.1.2), not ultrasound:
    # a radiograph's values have no unit to show.
    return "" if units.upper() == "US" else units


def iter_files(inputs: Iterable[PathLike], limits: Limits = DEFAULT_LIMITS):
    """Each candidate file of ``inputs`` with its parsed header or the error that stopped it."""
    for source in iter_sources(inputs, limits):
        try:
            yield source, read_instance(source, limits), None
        except DicomTeachError as exc:
            yield source, None, exc


__all__ = [
    "ReadResult",
    "build_volume",
    "is_single_file",
    "iter_files",
    "load",
    "read",
    "read_file",
    "read_object",
    "stored_frames",
]
