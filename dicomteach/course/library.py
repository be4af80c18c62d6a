"""The studies an instructor authors on: the sample library, the course's own imports, thumbnails.

:data:`SAMPLE_STUDIES` names the series of the sample library worth asking a
question on, each written on first use into the sample cache
(:func:`dicomteach.samples.cache.lesson_study`). A course keeps the studies an
instructor imports in ``<course>/studies/<pseudonym>/<study>/<series>/``:
:func:`import_study` de-identifies them first (PS3.15 Annex E,
:func:`dicomteach.io.deid.import_study`) with the course's own key
(:func:`course_key`), so a patient imported twice, or a follow-up imported
months later, keeps one pseudonym and one study; it returns an
:class:`ImportReport` saying what was removed or replaced, so nothing
identifying enters the course folder. :func:`thumbnail_png` draws the
picture a study is chosen by (people would rather look than read).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io as _io
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from dicomteach.activities.spec import Location
from dicomteach.errors import DicomTeachError

__all__ = [
    "SAMPLE_STUDIES",
    "ImportReport",
    "LibraryStudy",
    "StudyFacts",
    "course_key",
    "course_studies",
    "import_study",
    "study_facts",
    "thumbnail_png",
]

STUDIES_FOLDER = "studies"
"""The folder of a course that holds its imported, de-identified studies."""
KEY_FILE = ".deid-key"
"""The course's de-identification key, in the course folder (never released), mode 0600."""

#: Modalities of derived objects (segmentations, structure sets, reports): not a study to show.
_DERIVED = {"SEG", "RTSTRUCT", "SR", "PR", "KO", "REG", "RTPLAN", "RTDOSE"}


@dataclass(frozen=True)
class LibraryStudy:
    """One series an activity can be asked on: a sample study's series or an imported folder."""

    title: str
    location: Location
    """A sample location, or an absolute folder (an imported series)."""
    detail: str = ""
    """A few words under the title (modality, how many images, when it was imported)."""

    @property
    def key(self) -> str:
        """A stable identifier (what the app's buttons carry)."""
        if self.location.sample is not None:
            return f"sample:{self.location.sample}/{self.location.path}"
        return f"folder:{self.location.path}"

    @property
    def is_sample(self) -> bool:
        return self.location.sample is not None

    def resolve(self) -> Path:
        """The series on this machine (a sample is written into the cache on first use)."""
        return self.location.resolve()


def _sample(title: str, study: str, path: str, detail: str, **options: int) -> LibraryStudy:
    return LibraryStudy(title, Location(path, sample=study, options=options), detail)


SAMPLE_STUDIES: tuple[LibraryStudy, ...] = (
    _sample("Chest radiograph", "cr-chest", "current", "CR · PA chest"),
    _sample("Chest radiograph, a year earlier", "cr-chest", "prior", "CR · PA chest, the prior"),
    # the size of the CT nodule assignment's study: one cache entry for both
    _sample(
        "Chest CT, lung nodule", "ct-chest", "baseline/ct", "CT · 60 slices", size=256, slices=60
    ),
    _sample("Chest CT, teaching file", "ct-chest-findings", "ct", "CT · six lung findings"),
    _sample("Brain MR, T1", "mr-brain", "t1", "MR · glioma, before contrast"),
    _sample("Brain MR, T1 with contrast", "mr-brain", "t1c", "MR · glioma"),
    _sample("Brain MR, FLAIR", "mr-brain", "flair", "MR · glioma"),
    _sample("PET-CT, the PET", "pet-ct", "pet", "PT · FDG, lung tumour"),
    _sample("PET-CT, the CT", "pet-ct", "ct", "CT · low dose"),
    _sample("Myocardial perfusion SPECT", "nm-spect", "IM000001.dcm", "NM · rest"),
    _sample("Fundus photograph", "op-fundus", "IM000001.dcm", "OP · colour"),
    _sample("Liver ultrasound cine", "us-cine", "IM000001.dcm", "US · 24 frames"),
)
"""The series of the sample library offered to author on, in the order they are shown."""


def _first_dicom(folder: Path) -> Path | None:
    return next((p for p in sorted(folder.iterdir()) if p.suffix.lower() == ".dcm"), None)


@dataclass(frozen=True)
class StudyFacts:
    """What a study list shows of a series, from its first file's header."""

    patient: str
    """The patient's name as stored (a pseudonym for an import), or the Patient ID."""
    date: str
    """The study date as ``YYYY-MM-DD`` (shifted for an import), or ``""``."""
    modality: str
    description: str

    def line(self) -> str:
        """One line of a study list: patient · date · modality.

        >>> StudyFacts("Doe^Jane", "2024-03-01", "CR", "PA chest").line()
        'Doe^Jane · 2024-03-01 · CR'
        """
        return " · ".join(v for v in (self.patient, self.date, self.modality) if v)


def _shown_name(name) -> str:
    """A DICOM person name as a study list shows it: family name, given names.

    >>> from pydicom.valuerep import PersonName
    >>> _shown_name(PersonName("TEACHING^NODULE")), _shown_name(PersonName("Anonymous"))
    ('TEACHING, NODULE', 'Anonymous')
    >>> _shown_name(None)
    ''
    """
    if not name:
        return ""
    parts = [name.family_name, " ".join(p for p in (name.given_name, name.middle_name) if p)]
    return ", ".join(p for p in parts if p) or str(name)


def study_facts(study: LibraryStudy) -> StudyFacts:
    """The patient, date, modality and description of ``study`` (a sample is written on
    first use). Raises ``DicomTeachError`` when the series holds no readable DICOM file.

    >>> import os, tempfile
    >>> os.environ["DICOMTEACH_CACHE"] = tempfile.mkdtemp()
    >>> fundus = next(s for s in SAMPLE_STUDIES if s.location.sample == "op-fundus")
    >>> study_facts(fundus).modality
    'OP'
    >>> del os.environ["DICOMTEACH_CACHE"]
    """
    import pydicom

    path = study.resolve()
    first = _first_dicom(path) if path.is_dir() else path
    if first is None:
        raise DicomTeachError("holds no DICOM file", path)
    try:
        ds = pydicom.dcmread(first, stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001 - any damage: one line
        raise DicomTeachError(f"cannot be read as DICOM ({exc})", first) from None
    raw = str(ds.get("StudyDate", "") or "")
    date = f"{raw[:4]}-{raw[4:6]}-{raw[6:8]}" if len(raw) == 8 and raw.isdigit() else ""
    return StudyFacts(
        _shown_name(ds.get("PatientName")) or str(ds.get("PatientID", "") or ""),
        date,
        str(ds.get("Modality", "") or ""),
        str(ds.get("SeriesDescription", "") or ds.get("StudyDescription", "") or ""),
    )


def course_studies(course: str | os.PathLike[str]) -> list[LibraryStudy]:
    """The imported series of a course (``<course>/studies/``), newest import first.

    A series is a folder of ``.dcm`` files as :func:`import_study` writes them;
    segmentations and structure sets are not listed (they are references, not studies).
    """
    import pydicom

    root = Path(course) / STUDIES_FOLDER
    if not root.is_dir():
        return []
    found = []
    studies = [
        study
        for patient in root.iterdir()
        if patient.is_dir() and not patient.name.startswith(".")
        for study in patient.iterdir()
        if study.is_dir()
    ]
    # newest import first: a study's folder is made (or refilled) when it is imported
    for imported in sorted(studies, key=lambda p: (p.stat().st_mtime, p.name), reverse=True):
        for folder in sorted(p for p in imported.rglob("*") if p.is_dir()):
            first = _first_dicom(folder)
            if first is None:
                continue
            try:
                ds = pydicom.dcmread(first, stop_before_pixels=True)
            except Exception:  # noqa: BLE001 - a damaged file: the series is not offered
                continue
            modality = str(ds.get("Modality", "") or "OT")
            if modality in _DERIVED:
                continue
            count = sum(1 for p in folder.iterdir() if p.suffix.lower() == ".dcm")
            description = str(ds.get("SeriesDescription", "") or "") or f"{modality} series"
            study = f"{imported.parent.name}, {imported.name.split('-')[0]}"  # pseudonym, date
            detail = f"{modality} · {count} image{'s' if count != 1 else ''} · {study}"
            found.append(LibraryStudy(description, Location(str(folder.resolve())), detail))
    return found


# ---------------------------------------------------------------------- thumbnails


def _frame_image(volume, frame: int):  # noqa: ANN001, ANN202 - a Volume in, a PIL image out
    import numpy as np
    from PIL import Image

    from dicomteach.imaging import default_window, modality_values, window_to_uint8

    if volume.is_color:
        return Image.fromarray(np.asarray(volume.pixels[frame], np.uint8), "RGB")

    def one(values: np.ndarray) -> np.ndarray:
        return values[frame : frame + 1] if len(values) > 1 else values

    single = replace(
        volume,
        pixels=volume.pixels[frame : frame + 1],
        rescale_slope=one(np.atleast_1d(volume.rescale_slope)),
        rescale_intercept=one(np.atleast_1d(volume.rescale_intercept)),
    )
    values = modality_values(single)[0]
    grey = window_to_uint8(values, default_window(volume), invert=volume.inverted)
    return Image.fromarray(grey, "L")


def _thumbnail_cache(study: LibraryStudy, path: Path, size: int) -> Path:
    from dicomteach.samples.cache import cache_root

    stamp = "" if study.is_sample else str(path.stat().st_mtime_ns)
    digest = hashlib.sha256(f"{path.resolve()}|{stamp}|{size}".encode()).hexdigest()[:20]
    return cache_root() / "thumbnails" / f"{digest}.png"


def thumbnail_png(study: LibraryStudy, size: int = 160) -> bytes:
    """A ``size``-pixel picture of the study's middle slice at its first window (PNG bytes).

    Made once and kept in the sample cache (``thumbnails/``); a sample study is
    written on first use. Raises ``DicomTeachError`` when the series does not load.

    >>> import os, tempfile
    >>> os.environ["DICOMTEACH_CACHE"] = tempfile.mkdtemp()
    >>> fundus = next(s for s in SAMPLE_STUDIES if s.location.sample == "op-fundus")
    >>> thumbnail_png(fundus)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    >>> del os.environ["DICOMTEACH_CACHE"]
    """
    from PIL import Image

    from dicomteach import io
    from dicomteach.io.atomic import write_atomically

    path = study.resolve()
    cached = _thumbnail_cache(study, path, size)
    if cached.is_file():
        return cached.read_bytes()
    volume = io.load(path)
    picture = _frame_image(volume, volume.n_frames // 2)
    _, row_mm, column_mm = (float(s) or 1.0 for s in volume.spacing)
    height, width = volume.rows * row_mm, volume.columns * column_mm
    scale = size / max(height, width)
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    picture = picture.resize(shape, Image.Resampling.LANCZOS)
    buffer = _io.BytesIO()
    picture.save(buffer, format="PNG")
    data = buffer.getvalue()
    with contextlib.suppress(OSError):  # a read-only cache: the picture is made again next time
        write_atomically(cached, lambda fh: fh.write(data))
    return data


# ---------------------------------------------------------------------- import


@dataclass
class ImportReport:
    """What an import wrote and what de-identification changed."""

    folder: Path
    """Where the de-identified study now is (``<course>/studies/<pseudonym>/<study>``;
    the pseudonym's folder when the import held several studies)."""
    files: int
    skipped: int
    changes: list[tuple[str, str, int]] = field(default_factory=list)
    """``(attribute, action, files)``: removed, replaced, shifted, emptied or cleaned."""
    studies: list[LibraryStudy] = field(default_factory=list)
    """The series the import brought, ready to author on."""

    def summary(self) -> str:
        """One line: how many files, and how many attributes were changed."""
        removed = sum(1 for _, action, _ in self.changes if action == "removed")
        return (
            f"{self.files} file{'s' if self.files != 1 else ''} de-identified"
            + (f" ({self.skipped} not DICOM, skipped)" if self.skipped else "")
            + f": {len(self.changes)} attributes changed, {removed} of them removed; "
            f"{len(self.studies)} series to choose from."
        )

    def to_html(self) -> str:
        """The summary and the table of what was changed, for the app."""
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{action}</td><td>{files}</td></tr>"
            for name, action, files in self.changes
        )
        return (
            f"<p>{html.escape(self.summary())}</p>"
            '<div class="dt-author-report"><table><thead><tr><th>attribute</th><th>what was done</th>'
            f"<th>files</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )


def course_key(course: str | os.PathLike[str]) -> bytes:
    """The course's de-identification key: made (random, 32 bytes) on first use.

    Pseudonyms, new UIDs and the date shift derive from it, so every import into
    the course agrees: the same patient keeps one pseudonym, the same study one
    Study Instance UID. It is kept in ``<course>/.deid-key``, readable by its owner
    only, outside every folder nbgrader releases; whoever holds it can check a
    guessed patient ID against a pseudonym, so it never goes to learners, and the
    course folder's ``.gitignore`` names it, so a course kept in git keeps it out.

    Examples
    --------
    >>> import tempfile
    >>> course = tempfile.mkdtemp()
    >>> course_key(course) == course_key(course), len(course_key(course))
    (True, 32)
    """
    path = Path(course) / KEY_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"the course's de-identification key cannot be read ({exc})"
        raise DicomTeachError(problem, path) from exc
    if text:
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < 16:
            raise DicomTeachError(
                "is not a de-identification key (64 hex digits); restore it from a backup, "
                "or delete it to start new pseudonyms",
                path,
            )
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made at the same moment by another import: use that one
        return course_key(course)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    _keep_out_of_git(path)
    return key


def _keep_out_of_git(key: Path) -> None:
    """Name the key in its folder's ``.gitignore``: a course kept in git keeps it out."""
    ignore = key.parent / ".gitignore"
    try:
        lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
        if key.name in lines:
            return
        with ignore.open("a", encoding="utf-8") as f:
            if lines and lines[-1]:
                f.write("\n")
            f.write(
                f"# the course's de-identification key: a secret, never committed\n{key.name}\n"
            )
    except OSError:  # a read-only course folder: the key still works, unprotected from git
        pass


def import_study(
    course: str | os.PathLike[str],
    source: str | os.PathLike[str],
    *,
    accept_burned_in: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> ImportReport:
    """De-identify a file, folder or zip into ``<course>/studies/``; say what was changed.

    Nothing is written into the course unless de-identification succeeded: the
    files go to a hidden folder first and are moved into place at the end. The
    course's key (:func:`course_key`) makes the pseudonym, the UIDs and the date
    shift, so importing the same study again refills the same folder (no second
    copy) and a patient's later study joins the first under one pseudonym.
    ``accept_burned_in``: the instructor looked at the images and no name is
    burned into their pixels.

    Raises ``DicomTeachError`` (one line): no such path, no DICOM file in it,
    an image whose pixels may carry a name.

    Examples
    --------
    >>> import tempfile
    >>> from pydicom.data import get_testdata_file
    >>> course = tempfile.mkdtemp()
    >>> ct = get_testdata_file("CT_small.dcm", download=False)
    >>> report = import_study(course, ct)
    >>> report.files, ("Patient's Name", "replaced", 1) in report.changes
    (1, True)
    >>> import_study(course, ct).folder == report.folder  # the same study: the same folder
    True
    >>> import_study(course, tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dicomteach.errors.DicomTeachError: /...: holds no DICOM file to import
    """
    from dicomteach.io.deid import import_study as deidentify_into

    source = Path(source).expanduser()
    if not str(source).strip() or not source.exists():
        raise DicomTeachError("no such file or folder", source)
    key = course_key(course)
    root = Path(course) / STUDIES_FOLDER
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
    try:
        result = deidentify_into(
            source, staging, key=key, accept_burned_in=accept_burned_in, progress=progress
        )
        if not result.written:
            first = result.skipped[0] if result.skipped else None
            why = f" ({Path(first.path or '').name}: {first.problem})" if first else ""
            raise DicomTeachError(f"holds no DICOM file to import{why}", source)
        studies = sorted({p.relative_to(staging).parts[:2] for p in result.written})
        for written in result.written:
            target = root / written.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(written, target)  # the same instance again: the same name, replaced
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for parts in studies:
        os.utime(root.joinpath(*parts))  # listed first, as the newest import
    patients = {parts[0] for parts in studies}
    if len(studies) == 1:
        final = root.joinpath(*studies[0])
    elif len(patients) == 1:
        final = root / studies[0][0]
    else:
        final = root
    final = final.resolve()
    folders = [root.joinpath(*parts).resolve() for parts in studies]
    imported = [
        s
        for s in course_studies(course)
        if any(Path(s.location.path).is_relative_to(f) for f in folders)
    ]
    return ImportReport(
        final, len(result.written), len(result.skipped), result.changes.rows(), imported
    )
