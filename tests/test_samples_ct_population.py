"""A population of chest CTs (dicomteach/samples/ct_chest.py, samples/patient.py, io/writer.py).

Patients differ in sex, size, fat and breath; examinations in maker, kernel,
field of view and streaks from the bones; each maker writes its own header habits; a case is the
same bytes every time it is written from its seed.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from dicomteach import io
from dicomteach.io.writer import VENDORS
from dicomteach.samples import ct_chest
from dicomteach.samples import patient as P

#: A small case: enough to read its header and pixels back, quick to write.
SMALL = {"size": 96, "slices": 4}


@pytest.fixture(scope="module")
def cases() -> list[tuple[P.Patient, ct_chest.Examination]]:
    return ct_chest.population(0, 8)


def test_population_differs_in_body_breath_field_of_view_kernel_and_maker(cases) -> None:
    people = [person.habitus for person, _ in cases]
    exams = [exam for _, exam in cases]
    assert {h.sex for h in people} == {"F", "M"}
    assert max(h.size for h in people) - min(h.size for h in people) > 0.06
    assert max(h.inspiration for h in people) - min(h.inspiration for h in people) > 0.15
    assert len({exam.field_of_view for exam in exams}) >= 3
    assert {exam.kernel for exam in exams} == {"soft", "sharp"}
    assert {exam.streaks for exam in exams} == {True, False}
    assert len({exam.habits.manufacturer for exam in exams}) >= 3
    # the field of view takes in the whole body
    for person, exam in cases:
        assert exam.field_of_view >= 2 * person.half_width


def test_the_same_seed_draws_the_same_population() -> None:
    first = [(p.seed, p.habitus, e) for p, e in ct_chest.population(5, 3)]
    again = [(p.seed, p.habitus, e) for p, e in ct_chest.population(5, 3)]
    assert first == again
    assert [p.seed for p, _ in ct_chest.population(6, 3)] != [seed for seed, _, _ in first]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.dcm"))}


def test_a_case_writes_the_same_bytes_from_its_seed(cases, tmp_path: Path) -> None:
    person, exam = cases[1]
    for name in ("a", "b"):
        ct_chest.write(tmp_path / name, seed=person.seed, person=person, examination=exam, **SMALL)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    # and is another study than the library's of the same seed
    ct_chest.write(tmp_path / "library", seed=person.seed, **SMALL)
    mine = pydicom.dcmread(next((tmp_path / "a" / "baseline" / "ct").glob("*.dcm")))
    library = pydicom.dcmread(next((tmp_path / "library" / "baseline" / "ct").glob("*.dcm")))
    assert mine.StudyInstanceUID != library.StudyInstanceUID
    assert mine.PatientID != library.PatientID


@pytest.mark.parametrize(
    ("maker", "kernel", "name", "signed"),
    [
        ("siemens", "sharp", ["I70f", "3"], 0),
        ("ge", "sharp", "LUNG", 1),
        ("ge", "soft", "STANDARD", 1),
        ("philips", "sharp", "YC", 0),
        ("canon", "sharp", "FC51", 0),
    ],
)
def test_each_maker_writes_its_own_header(
    cases, tmp_path: Path, maker: str, kernel: str, name, signed: int
) -> None:
    person, _ = cases[0]
    habits = VENDORS[maker]
    exam = ct_chest.Examination(habits, kernel, 400.0)
    ct_chest.write(tmp_path, seed=person.seed, person=person, examination=exam, **SMALL)
    folder = tmp_path / "baseline" / "ct"
    first = sorted(folder.glob("*.dcm"))[0]
    ds = pydicom.dcmread(first)
    assert ds.Manufacturer == habits.manufacturer
    assert (list(ds.ConvolutionKernel) if habits.kernel_strength else ds.ConvolutionKernel) == name
    assert exam.kernel_name in ds.SeriesDescription
    assert ds.PixelRepresentation == signed
    assert ds.PatientSex == person.habitus.sex
    vol = io.load(folder)
    assert vol.spacing[1] == pytest.approx(400.0 / SMALL["size"], abs=1e-4)
    hu = vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]
    corner = hu[:, 0, 0]
    # outside the reconstructed circle: GE's padding value, air for the others
    assert np.all(corner == (-3024 if habits.padding == -2000 else -1024))
    if shutil.which("dciodvfy"):
        report = subprocess.run(["dciodvfy", str(first)], capture_output=True, text=True)
        errors = [line for line in report.stderr.splitlines() if line.startswith("Error")]
        assert errors == []


def test_an_unknown_kernel_or_field_of_view_is_refused() -> None:
    with pytest.raises(ValueError, match="Argument 'kernel' must be one of"):
        ct_chest.Examination(kernel="bone")
    with pytest.raises(ValueError, match="Argument 'field_of_view' must be 200 to 500 mm"):
        ct_chest.Examination(field_of_view=900.0)
    with pytest.raises(ValueError, match="Argument 'n' must be at least 1"):
        P.population(0, 0)


def test_streaks_from_the_bones_fall_along_their_rays_and_leave_the_air_alone(
    cases, tmp_path: Path
) -> None:
    person, exam = cases[0]
    images = {}
    for flag in (False, True):
        case = dataclasses.replace(exam, streaks=flag)
        ct_chest.write(
            tmp_path / str(flag),
            seed=person.seed,
            person=person,
            examination=case,
            size=256,
            slices=8,
        )
        vol = io.load(tmp_path / str(flag) / "baseline" / "ct")
        images[flag] = vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]
    plain, streaked = images[False], images[True]
    # the same noise, the same anatomy: what differs is the streaks alone
    streak = streaked - plain
    body = ndimage.binary_erosion(plain > -990, iterations=2)
    outside = ~ndimage.binary_dilation(plain > -990, iterations=4)
    assert np.all(streak[outside] == 0)
    bone = plain > 400
    # the scanner reads the hardened beam as less attenuation: bone comes out darker
    assert streak[bone].mean() < -10.0
    # and the error is strongest on the soft tissue next to bone, faint far from it
    near = body & ~bone & ndimage.binary_dilation(bone, iterations=8)
    far = body & ~ndimage.binary_dilation(bone, iterations=30)
    assert far.sum() > 500 and near.sum() > 500
    assert np.abs(streak[near]).mean() > 2.0 * np.abs(streak[far]).mean()
    assert np.abs(streak[far]).mean() > 0.5  # streaks reach across the body, as real ones do


def test_a_lung_kernel_lifts_edges_with_a_dark_rim_outside_and_a_bright_one_inside(
    cases, tmp_path: Path
) -> None:
    person, exam = cases[0]
    images = {}
    for kernel in ("soft", "sharp"):
        case = dataclasses.replace(exam, kernel=kernel)
        ct_chest.write(
            tmp_path / kernel, seed=person.seed, person=person, examination=case, size=256, slices=8
        )
        vol = io.load(tmp_path / kernel / "baseline" / "ct")
        images[kernel] = vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]
    soft = ndimage.gaussian_filter(images["soft"], (0, 1.5, 1.5))
    lung, dense = soft < -500, soft >= -500
    rim_outside = lung & ndimage.binary_dilation(dense, iterations=2)
    rim_inside = dense & ndimage.binary_dilation(lung, iterations=1)
    deep = lung & ~ndimage.binary_dilation(dense, iterations=5)
    sharper = images["sharp"] - images["soft"]
    assert sharper[rim_outside].mean() < -5.0
    assert sharper[rim_inside].mean() > 30.0
    # away from edges the lung keeps its density: only the noise differs there
    assert abs(sharper[deep].mean()) < 3.0
