"""Chest radiograph (CR, PA) of the chest CT's patient with its lung nodule, and a prior without it.

Agfa-style computed radiography: MONOCHROME1 (the lowest stored value is
white), 12 bits, 0.15 mm pixels given as Imager Pixel Spacing and Pixel
Spacing, Patient Orientation ``L\\F`` (a PA film hung as if facing the
patient: columns run to the patient's left, rows to the feet), a 35 × 35 cm
plate.

* ``current/IM000001.dcm``: two weeks before the baseline chest CT, with the
  right upper lobe nodule, faint as a 15 mm part-solid nodule is on a film;
  JPEG-LS Lossless;
* ``prior/IM000001.dcm``: a year earlier, no nodule, the patient standing a
  little differently and exposed differently; Explicit VR Little Endian.

The film is a digitally reconstructed radiograph of the 3D patient of
:mod:`dicomteach.samples.patient` (the person the CT sample scans, the same
seed), standing for the film (:func:`upright`): line integrals of a divergent
beam from a focal spot 1.8 m from the plate (:mod:`dicomteach.samples.drr`),
made polyenergetic by a beam-hardening correction, then what the room and the
reader add: scatter that gets through the grid (:func:`scatter`), quantum
noise for the dose, the plate's blur, and Agfa-like processing (log,
multi-scale contrast equalisation as MUSICA does, a sigmoid tone curve:
:func:`musica`). The nodule is the CT's own (the same lesion at the same
place, a little smaller two weeks earlier), drawn in a box of fine voxels and
projected through the same geometry (:func:`nodule_pixel` says where it lands).

High exposure (lungs) is stored high, so it is displayed dark once MONOCHROME1
is inverted.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, JPEGLSLossless
from scipy import ndimage

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.writer import new_instance
from dicomteach.samples import ct_chest, drr, phantoms
from dicomteach.samples import patient as anatomy
from dicomteach.samples._common import patient_module, sample_uid
from dicomteach.samples.patient import HU, Patient, Tissue, make_patient, tissue

#: The patient of both radiographs: the chest CT's.
PATIENT = ct_chest.PATIENT
PIXEL_MM = 0.15
#: A 35 × 35 cm plate at :data:`PIXEL_MM`: wide enough for this chest, the lungs filling it.
ROWS, COLUMNS = 2330, 2330
#: Source to detector (mm), as the header says.
SID = 1800.0
#: The plate's cover and the stand between the chest and the phosphor (mm).
DETECTOR_GAP = 20.0
#: Voxel (mm) of the smooth anatomy, and detector sampling of its and the tubes' integrals.
VOXEL = 2.0
SMOOTH_STEP = 1.0
TUBE_STEP = 0.3
#: Beam hardening: a 125 kV spectrum loses its soft photons first, so thick parts attenuate
#: less per millimetre than thin ones (``L → L / (1 + k·L)``; ~25 % less through the heart).
HARDENING = 0.055
#: Scatter behind a 10:1 grid: ``k · G_σ ⊗ (P·L)``, a scatter-to-primary ratio near 0.25
#: in the lungs and 1.3 to 1.7 over the heart, as measured behind chest grids.
SCATTER = 0.22
SCATTER_SIGMA_MM = 35.0
#: Quanta per mm² the plate records (its DQE included) from the unattenuated beam: about
#: 1.7e4 behind the lungs, a 400-speed CR system's 2.5 µGy at a DQE of a quarter.
QUANTA_PER_MM2 = 5.0e4
#: The plate and reader's blur (mm, Gaussian sigma), on top of the tube integrals' sampling.
PLATE_BLUR_MM = 0.09

#: MUSICA: gain of each detail level (0.15, 0.3, 0.6 … mm), the power that compresses
#: large details against small ones, the share of the coarse residue kept (latitude).
MUSICA_GAINS = (1.0, 1.2, 1.5, 1.8, 1.9, 2.0, 1.9, 1.4, 1.0, 1.0)
MUSICA_POWER = 0.8
LATITUDE = 0.2
TONE_GAMMA = 0.75

F32 = np.float32


@dataclasses.dataclass(frozen=True)
class _Exam:
    name: str
    study_date: date
    study_time: str
    accession: str
    transfer_syntax: str
    nodule: bool
    shift_mm: tuple[float, float]  # where the patient stands relative to the current film (u, v)
    degrees: float  # rotation of the patient in the plane of the film
    dose: float  # relative to the current film's mAs


_EXAMS = (
    _Exam(
        "current",
        ct_chest.BASELINE_DATE - timedelta(days=14),
        "101244",
        "DTA25022401",
        JPEGLSLossless,
        True,
        (0.0, 0.0),
        0.0,
        1.0,
    ),
    _Exam(
        "prior",
        ct_chest.BASELINE_DATE - timedelta(days=14 + 364),
        "083011",
        "DTA24022601",
        ExplicitVRLittleEndian,
        False,
        (3.5, -5.0),
        1.1,
        0.8,
    ),
)


def write(
    dest: str | Path, *, seed: int = 0, rows: int = ROWS, columns: int = COLUMNS
) -> list[Path]:
    """Write the current and the prior PA chest radiograph under ``dest``; returns the files.

    ``rows`` and ``columns`` smaller than a plate give the middle of the film
    (for quick tests), at the same pixel size.
    """
    dest = Path(dest)
    person = make_patient(seed, sex=PATIENT.sex)
    projection = projection_for(person)
    work = _working_grid(rows, columns)
    base = drr.smooth_integrals(
        person, projection, _coarse(work), voxel=VOXEL, posture=upright(person)
    )
    integrals = drr.resample(base, _coarse(work), work) + drr.tube_integrals(
        person, projection, work
    )
    written = []
    for number, exam in enumerate(_EXAMS):
        seen = integrals.copy()
        if exam.nodule:
            _add_nodule(seen, person, projection, work, seed, exam.study_date)
        rng = np.random.default_rng([seed, number, 0xC2])
        image = radiograph(_film_integrals(seen, work, exam, rows, columns), exam.dose, rng)
        ds = _dataset(image, exam, seed)
        if exam.transfer_syntax != ExplicitVRLittleEndian:
            ds.compress(exam.transfer_syntax, image, generate_instance_uid=False)
        written.append(save_dataset_atomically(ds, dest / exam.name / "IM000001.dcm"))
    return written


def projection_for(person: Patient) -> drr.Projection:
    """The PA geometry of this patient's films: chest against the plate, apices 4 cm below its top.

    >>> g = projection_for(make_patient(0, tree=False))
    >>> g.sid, 1.05 < float(g.magnification(0.0)) < 1.1
    (1800.0, True)
    """
    return drr.Projection(
        sid=SID,
        detector_y=-(person.half_depth + DETECTOR_GAP),
        centre_z=person.apex - 120.0,
    )


def nodule(seed: int, on: date) -> phantoms.Lesion:
    """The chest CT's nodule as it was on ``on``: the CT's lesion, grown or shrunk along its course.

    The CT grows it by :data:`~dicomteach.samples.ct_chest.GROWTH` in diameter
    between baseline and follow-up; the same rate holds before and after.

    >>> before = nodule(0, ct_chest.BASELINE_DATE - timedelta(days=14))
    >>> 0.98 < before.radius / nodule(0, ct_chest.BASELINE_DATE).radius < 1.0
    True
    """
    days = (on - ct_chest.BASELINE_DATE).days
    lesion = phantoms.make_nodule(seed)
    return lesion.scaled(float(ct_chest.GROWTH ** (days / ct_chest.FOLLOW_UP_DAYS)))


def nodule_pixel(
    seed: int = 0, exam: str = "current", *, rows: int = ROWS, columns: int = COLUMNS
) -> tuple[float, float]:
    """(row, column) of the nodule's centre on ``exam`` (where it would be on the prior).

    >>> row, col = nodule_pixel(0)
    >>> bool(col < COLUMNS / 2 and row < ROWS / 2)  # the patient's right upper zone
    True
    """
    film = next(e for e in _EXAMS if e.name == exam)
    person = make_patient(seed, sex=PATIENT.sex, tree=False)
    u, v = projection_for(person).project(nodule(seed, film.study_date).centre)
    return _film_pixel(float(u), float(v), film, rows, columns)


def upright(person: Patient) -> drr.Posture:
    """The supine model standing for a PA film: the stomach's gas rises under the left dome.

    Supine, the gas lies along the front of the stomach; standing, it gathers in
    the fundus above a level fluid line, the gastric bubble of every PA film.

    >>> p = make_patient(0, sex="M", tree=False)
    >>> x, y, z = np.array([50.0, 50.0]), np.array([-10.0, -10.0]), np.array([-145.0, -175.0])
    >>> hu, label = tissue(p, x, y, z)
    >>> upright(p)(hu, label, x, y, z).round().tolist()  # gas up high, fluid below
    [-1000.0, 20.0]
    """
    level, centre, radius = _fundus(person)
    fluid = F32(HU[Tissue.STOMACH])

    def stand(hu, label, x, y, z):
        stomach = ((label == Tissue.STOMACH) & (hu < 35.0)) | (label == Tissue.BOWEL_GAS)
        stomach &= z < person.diaphragm(x, y)  # not the oesophagus
        bowl = (z > level) & (
            (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2 < radius**2
        )
        return np.where(stomach, np.where(bowl, F32(HU[Tissue.AIR]), fluid), hu).astype(F32)

    return stand


def _fundus(person: Patient) -> tuple[float, np.ndarray, float]:
    """The stomach's fundus standing: its fluid level (``z``), and the sphere whose cap holds the gas."""
    # the cap of a sphere above the fluid level, its top the dome's underside
    level = float(person.diaphragm(np.array(50.0), np.array(-10.0))) - 25.0
    return level, np.array([50.0, -10.0, level - 18.0]), 32.0


def gastric_bubble(person: Patient) -> np.ndarray:
    """The centre (LPS mm) of the gas the stomach holds when the patient stands (:func:`upright`).

    The gas voxels of the standing patient, 2 mm apart round the fundus, averaged.

    >>> p = make_patient(0, sex="M", tree=False)
    >>> x, y, z = gastric_bubble(p)
    >>> bool(x > 0), bool(z < p.dome_left)  # the patient's left, under the left dome
    (True, True)
    """
    level, centre, radius = _fundus(person)
    axes = [np.arange(c - radius, c + radius + 2.0, 2.0) for c in centre[:2]]
    axes.append(np.arange(level, centre[2] + radius + 2.0, 2.0))
    x, y, z = (a.astype(F32) for a in np.meshgrid(*axes, indexing="ij"))
    hu, label = tissue(person, x, y, z)
    stomach = (label == Tissue.STOMACH) | (label == Tissue.BOWEL_GAS)
    gas = stomach & (upright(person)(hu, label, x, y, z) <= HU[Tissue.AIR] + 1.0)
    gas &= z < person.diaphragm(x, y)  # not the oesophagus
    return np.array([float(a[gas].mean()) for a in (x, y, z)])


#: What :func:`landmark_pixels` places: the patient's landmarks
#: (:data:`dicomteach.samples.patient.LANDMARKS`) and the gastric bubble.
LANDMARKS = (*anatomy.LANDMARKS, "gastric bubble")


def landmark_pixels(
    seed: int = 0, exam: str = "current", *, rows: int = ROWS, columns: int = COLUMNS
) -> dict[str, tuple[float, float]]:
    """(row, column) of each of :data:`LANDMARKS` on ``exam``, projected from the 3D patient.

    The patient's own landmarks (:func:`dicomteach.samples.patient.landmarks`:
    each hilum, the heart's centre, the top of each dome) and the centre of
    the gastric bubble (:func:`gastric_bubble`), through the film's geometry
    (:func:`projection_for`), as :func:`nodule_pixel` places the nodule: the
    answer key of a labelling question on this film comes from the model, not
    from an eye.

    >>> where = landmark_pixels(0)
    >>> bool(where["right hilum"][1] < COLUMNS / 2 < where["left hilum"][1])  # hung as seen
    True
    >>> bool(where["heart"][0] < where["gastric bubble"][0])  # the bubble lies below the heart
    True
    """
    film = next(e for e in _EXAMS if e.name == exam)
    person = make_patient(seed, sex=PATIENT.sex, tree=False)
    projection = projection_for(person)
    points = {**anatomy.landmarks(person), "gastric bubble": gastric_bubble(person)}
    out = {}
    for name in LANDMARKS:
        u, v = projection.project(points[name])
        out[name] = _film_pixel(float(u), float(v), film, rows, columns)
    return out


# ---------------------------------------------------------------------------
# where the films' pixels are


def _film_axes(rows: int, columns: int) -> tuple[float, float]:
    return (rows - 1) / 2.0, (columns - 1) / 2.0


def _film_pixel(u: float, v: float, film: _Exam, rows: int, columns: int) -> tuple[float, float]:
    """(row, column) of detector point ``(u, v)`` (the current film's frame) on ``film``."""
    a = np.radians(film.degrees)
    du, dv = u - film.shift_mm[0], v - film.shift_mm[1]
    uf = np.cos(a) * du + np.sin(a) * dv
    vf = -np.sin(a) * du + np.cos(a) * dv
    r0, c0 = _film_axes(rows, columns)
    return float(r0 - vf / PIXEL_MM), float(c0 + uf / PIXEL_MM)


def _working_grid(rows: int, columns: int) -> drr.Grid:
    """The current film's field, with room for the prior's shift and rotation, at :data:`TUBE_STEP`."""
    half_u = (columns - 1) / 2.0 * PIXEL_MM + 12.0
    half_v = (rows - 1) / 2.0 * PIXEL_MM + 12.0
    return drr.Grid.covering(-half_u, half_u, -half_v, half_v, TUBE_STEP)


def _coarse(work: drr.Grid) -> drr.Grid:
    half_u = (work.columns - 1) * work.step / 2.0
    half_v = (work.rows - 1) * work.step / 2.0
    return drr.Grid.covering(-half_u, half_u, -half_v, half_v, SMOOTH_STEP)


def _film_integrals(
    integrals: np.ndarray, work: drr.Grid, film: _Exam, rows: int, columns: int
) -> np.ndarray:
    """The integrals at the film's own pixels: the patient shifted and turned as ``film`` says."""
    a = np.radians(film.degrees)
    k = PIXEL_MM / work.step
    r0, c0 = _film_axes(rows, columns)
    cos, sin = np.cos(a) * k, np.sin(a) * k
    # film (row, column) → working grid (row, column), through the detector's (u, v)
    matrix = np.array([[cos, -sin], [sin, cos]])
    offset = np.array(
        [
            (work.v0 - film.shift_mm[1]) / work.step - cos * r0 + sin * c0,
            (film.shift_mm[0] - work.u0) / work.step - sin * r0 - cos * c0,
        ]
    )
    return ndimage.affine_transform(
        integrals, matrix, offset=offset, output_shape=(rows, columns), order=1, mode="nearest"
    ).astype(F32)


def _add_nodule(
    integrals: np.ndarray,
    person: Patient,
    projection: drr.Projection,
    work: drr.Grid,
    seed: int,
    on: date,
) -> None:
    """The nodule's own attenuation, over the lung it replaces, added to the integrals."""
    lesion = nodule(seed, on)
    voxel = 0.5
    reach = 2.4 * lesion.radius + 2.0  # spicules reach 2.3 radii out
    axes = [np.arange(c - reach, c + reach + voxel, voxel) for c in lesion.centre[::-1]]
    # the lesion replaces the lung round it: the lung's own density at its centre
    background, _ = tissue(person, *(np.array([c], dtype=F32) for c in lesion.centre))
    before = np.full([len(a) for a in axes], background[0], dtype=F32)
    after = before.copy()
    lung = np.ones(before.shape, dtype=bool)
    z_mm, y_mm, x_mm = axes
    phantoms.draw_tubes(after, lung, lesion.spicule_tubes(), z_mm, y_mm, x_mm, voxel)
    phantoms.draw_lesion(
        after, lung, lesion, (np.eye(3), np.zeros(3)), z_mm, y_mm, x_mm, np.random.default_rng(7)
    )
    delta = drr.attenuation(after) - drr.attenuation(before)
    corners = np.array(
        [[x, y, z] for x in x_mm[[0, -1]] for y in y_mm[[0, -1]] for z in z_mm[[0, -1]]]
    )
    u, v = projection.project(corners)
    window = work.window(u.min() - 1, u.max() + 1, v.min() - 1, v.max() + 1)
    if window is not None:
        sub, box = window
        integrals[box] += drr.project_volume(delta, (z_mm, y_mm, x_mm), projection, sub)


# ---------------------------------------------------------------------------
# the room and the reader


def scatter(primary: np.ndarray, integrals: np.ndarray, pixel_mm: float) -> np.ndarray:
    """Scattered radiation reaching the plate behind the grid: :data:`SCATTER` · G ⊗ (P·L).

    Each part of the patient scatters in proportion to the primary beam through
    it and to its thickness (``L``), spread widely (:data:`SCATTER_SIGMA_MM`);
    computed on a grid 16 times coarser.

    >>> p = np.full((64, 64), 0.2, dtype=np.float32)
    >>> s = scatter(p, np.full((64, 64), 1.6, dtype=np.float32), 1.0)
    >>> round(float(s[32, 32] / p[32, 32]), 2)  # scatter-to-primary ratio of a uniform lung
    0.35
    """
    factor = 16
    source = (primary * integrals).astype(F32)
    rows, cols = source.shape
    pr, pc = (-rows) % factor, (-cols) % factor
    padded = np.pad(source, ((0, pr), (0, pc)), mode="edge")
    coarse = padded.reshape(padded.shape[0] // factor, factor, -1, factor).mean(axis=(1, 3))
    coarse = ndimage.gaussian_filter(coarse, SCATTER_SIGMA_MM / (pixel_mm * factor), mode="nearest")
    fine = ndimage.zoom(coarse, factor, order=1, grid_mode=True, mode="nearest")
    return (SCATTER * fine[:rows, :cols]).astype(F32)


def radiograph(integrals: np.ndarray, dose: float, rng: np.random.Generator) -> np.ndarray:
    """Stored values (uint16, 12 bits, MONOCHROME1 sense) of a processed film from its line integrals.

    >>> flat = np.full((256, 256), 2.0, dtype=np.float32)
    >>> flat[:, 128:] = 5.0  # a lung beside the mediastinum
    >>> stored = radiograph(flat, 1.0, np.random.default_rng(0))
    >>> bool(stored[128, 64] > stored[128, 192])  # more exposure, stored higher
    True
    """
    hardened = integrals / (1 + F32(HARDENING) * integrals)
    primary = np.exp(-hardened)
    signal = primary + scatter(primary, hardened, PIXEL_MM)
    quanta = QUANTA_PER_MM2 * PIXEL_MM**2 * dose
    signal += np.sqrt(signal / F32(quanta)) * rng.standard_normal(signal.shape, dtype=F32)
    signal = ndimage.gaussian_filter(signal, PLATE_BLUR_MM / PIXEL_MM, mode="nearest")
    log = -np.log(np.maximum(signal, F32(1e-4)))
    return _tone(musica(log), log > 0.5)


def musica(log: np.ndarray, levels: int = 8) -> np.ndarray:
    """Multi-scale contrast equalisation of a log image, the way Agfa's MUSICA works.

    The image is split into a Laplacian pyramid (detail at 0.15, 0.3, … mm and a
    coarse residue); small details are amplified more than large ones (each
    level through ``x·(1 + |x|/x₀)^(p−1)``), middle scales (vessels, ribs,
    nodules) gain most, and the residue is compressed so the lungs and the
    mediastinum both fit the display.

    >>> step = np.zeros((64, 64), dtype=np.float32)
    >>> step[:, 32:] = 1.0
    >>> out = musica(step, levels=4)
    >>> bool(out[:, 36].mean() - out[:, 28].mean() > 0.5)  # the edge keeps its sense
    True
    """
    gains = MUSICA_GAINS
    details = []
    current = log.astype(F32)
    for _ in range(levels):
        low = ndimage.gaussian_filter(current, 1.0, mode="nearest")[::2, ::2]
        details.append(current - _expand(low, current.shape))
        current = low
    out = current * F32(LATITUDE) + F32(1 - LATITUDE) * float(np.median(current))
    for k in range(levels - 1, -1, -1):
        detail = details[k]
        scale = float(np.percentile(np.abs(detail[::4, ::4]), 90)) + 1e-6
        shaped = detail * (1 + np.abs(detail) / F32(scale)) ** F32(MUSICA_POWER - 1)
        out = _expand(out, detail.shape) + F32(gains[k]) * shaped
    return out.astype(F32)


def _expand(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear ×2 of a cell-centred grid, cut to ``shape``."""
    out = image
    for axis in (0, 1):
        n = out.shape[axis]
        prev = np.take(out, np.r_[0, : n - 1], axis=axis)
        nxt = np.take(out, np.r_[1:n, n - 1], axis=axis)
        even, odd = 0.75 * out + 0.25 * prev, 0.75 * out + 0.25 * nxt
        both = np.stack([even, odd], axis=axis + 1)
        out = both.reshape(out.shape[:axis] + (2 * n,) + out.shape[axis + 1 :])
    return out[: shape[0], : shape[1]].astype(F32)


def _tone(processed: np.ndarray, patient: np.ndarray) -> np.ndarray:
    """The sigmoid tone curve to 12 bits, ranged on the patient's histogram; collimator edges unexposed.

    Like a CR reader's histogram analysis, the range is the patient's
    (``patient``: where the beam went through the body), not the direct
    beam's: the lungs land dark grey, the mediastinum light, the air beyond black.
    """
    rows, cols = processed.shape
    inner = np.zeros(processed.shape, dtype=bool)
    inner[rows // 8 : rows - rows // 8, cols // 8 : cols - cols // 8] = True
    values = processed[inner & patient]
    if values.size < 100:
        values = processed.ravel()
    lo, hi = np.percentile(values[::7], [1.0, 99.7])
    t = (processed - lo) / max(hi - lo, 1e-6)  # 0: least attenuation in the patient
    t = np.sign(t) * np.abs(t) ** TONE_GAMMA
    density = 0.08 + 0.86 * (0.5 + 0.5 * np.tanh(1.6 * (t - 0.5)) / np.tanh(0.8))
    stored = np.clip(np.rint(200.0 + 3800.0 * (1.0 - density)), 0, 4095).astype(np.uint16)
    edge = int(round(4.5 / PIXEL_MM))
    for view in (stored[:edge], stored[-edge:], stored[:, :edge], stored[:, -edge:]):
        view[...] = 180
    return stored


def _dataset(image: np.ndarray, exam: _Exam, seed: int) -> Dataset:
    tag = ("cr-chest", exam.name)
    sop_uid = sample_uid(seed, *tag, "instance")
    ds = new_instance(ComputedRadiographyImageStorage, sop_uid)
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    day = exam.study_date.strftime("%Y%m%d")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = day
    ds.StudyTime = ds.SeriesTime = exam.study_time
    ds.ContentTime = ds.AcquisitionTime = exam.study_time
    ds.AccessionNumber = exam.accession
    ds.Modality = "CR"
    ds.Manufacturer = "Agfa"
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.ReferringPhysicianName = ""
    ds.StationName = "ADC_5146"
    ds.StudyDescription = "CHEST PA"
    ds.SeriesDescription = "Thorax PA"
    ds.ManufacturerModelName = "CR 85-X"
    patient_module(ds, PATIENT)
    ds.PatientAge = _age(PATIENT.birth_date, exam.study_date)
    ds.BodyPartExamined = "CHEST"
    ds.KVP = "125"
    ds.DistanceSourceToDetector = f"{SID:g}"
    ds.ExposureTime = "12"
    ds.XRayTubeCurrent = 320
    ds.Exposure = int(round(4 * exam.dose))
    ds.ImagerPixelSpacing = [f"{PIXEL_MM:g}", f"{PIXEL_MM:g}"]
    ds.SoftwareVersions = "NX 3.0"
    ds.PlateType = "MD40"
    ds.ViewPosition = "PA"
    ds.StudyInstanceUID = sample_uid(seed, *tag, "study")
    ds.SeriesInstanceUID = sample_uid(seed, *tag, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ["L", "F"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.Rows, ds.Columns = (int(n) for n in image.shape)
    ds.PixelSpacing = [f"{PIXEL_MM:g}", f"{PIXEL_MM:g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    body = image[
        image.shape[0] // 5 : -image.shape[0] // 5, image.shape[1] // 5 : -image.shape[1] // 5
    ]
    low, high = np.percentile(body, [0.1, 99.9])
    ds.WindowCenter = f"{round((low + high) / 2)}"
    ds.WindowWidth = f"{round(high - low)}"
    ds.WindowCenterWidthExplanation = "NORMAL"
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.LossyImageCompression = "00"
    block = ds.private_block(0x0019, "AGFA", create=True)
    block.add_new(0x10, "LO", "Thorax PA")  # examination, as Agfa NX writes it
    block.add_new(0x11, "LO", "MUSICA2")  # image processing
    ds.PixelData = np.ascontiguousarray(image, dtype=np.uint16).tobytes()
    return ds


def _age(birth_date: str, on: date) -> str:
    born = date(int(birth_date[:4]), int(birth_date[4:6]), int(birth_date[6:]))
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return f"{years:03d}Y"
