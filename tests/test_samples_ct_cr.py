"""The CT chest (baseline + follow-up with nodule SEGs) and CR chest (current + prior) samples."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import date
from pathlib import Path

import cr_realism
import highdicom as hd
import numpy as np
import pydicom
import pytest
from scipy import ndimage

from dicomteach import io
from dicomteach.imaging import presets_for, window_to_uint8
from dicomteach.samples import cr_chest, ct_chest, patient
from dicomteach.samples._shapes import segment_distance
from dicomteach.samples.phantoms import BONE


def _preset(name: str):
    return next(p for p in presets_for("CT") if p.name == name).window


@pytest.fixture(scope="module")
def ct_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("ct-chest")
    ct_chest.write(dest, seed=0)
    return dest


@pytest.fixture(scope="module")
def cr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("cr-chest")
    cr_chest.write(dest, seed=0)
    return dest


@pytest.fixture(scope="module")
def baseline(ct_dir: Path) -> tuple[io.Volume, np.ndarray]:
    vol = io.load(ct_dir / "baseline" / "ct")
    return vol, vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]


def _seg_mask(seg_path: Path, vol: io.Volume) -> np.ndarray:
    """The SEG's frames placed back on the CT volume through the referenced SOP Instance UIDs."""
    seg = hd.seg.segread(seg_path)
    index = {Path(f).name: k for k, (f, _) in enumerate(vol.sources)}
    by_uid = {
        pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: index[Path(f).name]
        for f, _ in vol.sources
    }
    mask = np.zeros(vol.pixels.shape, dtype=bool)
    frames = seg.pixel_array.reshape(-1, vol.rows, vol.columns)
    for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence, strict=True):
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        mask[by_uid[uid]] |= frame.astype(bool)
    return mask


class TestCTGeometry:
    def test_baseline_loads_as_one_hfs_volume_in_hounsfield_units(self, baseline) -> None:
        vol, _ = baseline
        assert vol.pixels.shape == (120, 512, 512)
        assert vol.spacing == (2.5, 0.7, 0.7)
        assert vol.units == "HU"
        assert vol.warnings == []
        assert vol.header.PatientPosition == "HFS"
        assert vol.manufacturer == "SIEMENS"
        assert [w.explanation for w in vol.windows] == ["WINDOW1", "WINDOW2"]

    def test_tissues_have_plausible_hounsfield_units(self, baseline) -> None:
        vol, hu = baseline
        chest = ct_chest.patient.make_patient(0, sex=ct_chest.PATIENT.sex, tree=False)
        lung_point = vol.lps_to_index((-90.0, 0.0, -40.0)).round().astype(int)
        k, i, j = lung_point
        assert -900 < np.median(hu[k, i - 5 : i + 5, j - 5 : j + 5]) < -780
        aorta = chest.great_vessels[0][0][6]  # descending aorta
        k, i, j = vol.lps_to_index(aorta).round().astype(int)
        assert 20 < np.median(hu[k, i - 4 : i + 4, j - 4 : j + 4]) < 70
        assert (hu > 300).sum() > 100_000
        lung_patch = hu[k, i - 5 : i + 5, j - 5 : j + 5]
        assert lung_patch.std() < 40

    def test_compressed_syntaxes_read_back_identically(self, ct_dir: Path) -> None:
        for visit, syntax in (
            ("baseline", "1.2.840.10008.1.2.4.90"),
            ("followup", "1.2.840.10008.1.2.5"),
        ):
            path = ct_dir / visit / "ct" / "IM000060.dcm"
            ds = pydicom.dcmread(path)
            assert ds.file_meta.TransferSyntaxUID == syntax
            vol = io.load(ct_dir / visit / "ct")
            k = [Path(f).name for f, _ in vol.sources].index(path.name)
            assert np.array_equal(vol.pixels[k], ds.pixel_array)

    def test_follow_up_is_a_new_study_six_months_later(self, ct_dir: Path) -> None:
        a = pydicom.dcmread(ct_dir / "baseline" / "ct" / "IM000001.dcm", stop_before_pixels=True)
        b = pydicom.dcmread(ct_dir / "followup" / "ct" / "IM000001.dcm", stop_before_pixels=True)
        assert a.PatientID == b.PatientID
        assert a.StudyInstanceUID != b.StudyInstanceUID
        assert a.FrameOfReferenceUID != b.FrameOfReferenceUID
        days = (date.fromisoformat(_iso(b.StudyDate)) - date.fromisoformat(_iso(a.StudyDate))).days
        assert 175 <= days <= 190


def _iso(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:]}"


class TestNodule:
    def test_seg_references_the_ct_instances(self, ct_dir: Path) -> None:
        seg = hd.seg.segread(ct_dir / "baseline" / "seg-nodule.dcm")
        ct_uids = {
            pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
            for p in (ct_dir / "baseline" / "ct").glob("*.dcm")
        }
        referenced = {uid for _, _, uid in seg.get_source_image_uids()}
        assert referenced == ct_uids
        assert seg.SegmentSequence[0].SegmentLabel == "Lung nodule"
        assert seg.SegmentationType == "BINARY"

    def test_nodule_is_obvious_on_lung_window_and_only_a_faint_core_on_mediastinal(
        self, ct_dir, baseline
    ) -> None:
        vol, hu = baseline
        mask = _seg_mask(ct_dir / "baseline" / "seg-nodule.dcm", vol)
        assert mask.sum() > 500
        inside = hu[mask]
        # the solid component is soft tissue
        solid = inside[inside > -300]
        assert solid.size > 50
        assert -100 < np.median(solid) < 100
        # surrounding lung: a shell around the nodule
        shell = _dilate(mask, 6) & ~_dilate(mask, 2)
        lung = np.median(hu[shell])
        assert lung < -700
        lung_window = _preset("Lung")
        contrast = (
            window_to_uint8(inside, lung_window).mean()
            - window_to_uint8(hu[shell], lung_window).mean()
        )
        # 45, not 60: the lung round the nodule now holds its share of vessels
        assert contrast > 45
        mediastinal = window_to_uint8(inside, _preset("Mediastinum"))
        assert np.median(mediastinal) < 30  # the ground glass is black
        assert np.percentile(mediastinal, 99) > 60  # the solid core a faint density

    def test_follow_up_nodule_grew_thirty_percent_in_diameter(self, ct_dir: Path) -> None:
        volumes = []
        for visit in ("baseline", "followup"):
            seg = hd.seg.segread(ct_dir / visit / "seg-nodule.dcm")
            volumes.append(int(seg.pixel_array.sum()))
        ratio = volumes[1] / volumes[0]
        assert ratio == pytest.approx(ct_chest.GROWTH**3, rel=0.10)

    def test_ribs_show_on_the_bone_window(self, baseline) -> None:
        vol, hu = baseline
        rendered = window_to_uint8(hu[60], _preset("Bone"))
        # bright bone pixels away from the midline (spine, sternum): ribs
        lateral = np.abs(np.arange(512) - 255.5) * 0.7 > 60
        assert (rendered[:, lateral] > 160).sum() > 200


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        for axis in (1, 2):
            grown |= np.roll(out, 1, axis) | np.roll(out, -1, axis)
        out = grown
    return out


def _shown(path: Path) -> tuple[io.Volume, np.ndarray]:
    """A CR film as displayed (MONOCHROME1 inverted), averaged over 4×4 blocks: 0.6 mm pixels."""
    vol = io.load(path)
    img = window_to_uint8(vol.pixels[0].astype(float), vol.windows[0], invert=vol.inverted)
    r, c = (n // 4 * 4 for n in img.shape)
    return vol, img[:r, :c].astype(float).reshape(r // 4, 4, c // 4, 4).mean(axis=(1, 3))


_CR_MM = 0.6  # pixel size of the block-averaged films


def _cr_regions(shown: np.ndarray) -> tuple[float, float, float]:
    """Displayed right lung, mediastinum and (right) subdiaphragmatic medians of a film."""
    rows, cols = shown.shape
    mid = slice(int(rows * 0.35), int(rows * 0.5))
    lung = np.median(shown[mid, int(cols * 0.15) : int(cols * 0.3)])
    mediastinum = np.median(shown[mid, int(cols * 0.48) : int(cols * 0.52)])
    abdomen = np.median(
        shown[int(rows * 0.85) : int(rows * 0.92), int(cols * 0.2) : int(cols * 0.35)]
    )
    return lung, mediastinum, abdomen


def _dome_row(shown: np.ndarray, x_mm: float) -> int:
    """Row of the steepest turn to white going down a column ``x_mm`` from the centre.

    Looked for between 45 % and 90 % of the film's height: the top of a
    hemidiaphragm, where the beam leaves the lung for the liver or the spleen.
    """
    rows, cols = shown.shape
    col = int(round(cols / 2 + x_mm / _CR_MM))
    profile = ndimage.gaussian_filter1d(shown[:, col - 3 : col + 4].mean(axis=1), 2 / _CR_MM)
    top, bottom = int(rows * 0.45), int(rows * 0.9)
    return top + int(np.argmax(np.gradient(profile)[top:bottom]))


class TestCR:
    def test_cr_is_monochrome1_and_lungs_display_dark(self, cr_dir: Path) -> None:
        for exam in ("current", "prior"):
            vol, shown = _shown(cr_dir / exam / "IM000001.dcm")
            assert vol.photometric == "MONOCHROME1" and vol.inverted
            assert vol.header.BitsStored == 12
            assert vol.spacing[1:] == (0.15, 0.15)
            assert vol.header.PatientOrientation == ["L", "F"]
            # high stored values are exposure: the lungs are stored high and shown dark
            assert np.median(vol.pixels[0][800:1200, 300:600]) > np.median(
                vol.pixels[0][800:1200, 960:1040]
            )
            lung, mediastinum, abdomen = _cr_regions(shown)
            assert lung + 60 < mediastinum
            assert lung + 60 < abdomen

    def test_current_is_jpeg_ls_and_shows_the_nodule_the_prior_does_not(self, cr_dir: Path) -> None:
        current = pydicom.dcmread(cr_dir / "current" / "IM000001.dcm")
        assert current.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80"
        excess = {}
        for exam in ("current", "prior"):
            _, shown = _shown(cr_dir / exam / "IM000001.dcm")
            row, col = (v / 4 for v in cr_chest.nodule_pixel(0, exam))
            rr, cc = np.mgrid[: shown.shape[0], : shown.shape[1]]
            dist = np.hypot(rr - row, cc - col) * _CR_MM
            excess[exam] = np.median(shown[dist < 4]) - np.median(shown[(dist > 16) & (dist < 26)])
        # a 15 mm part-solid nodule is faint on a film, as on a real one: whiter than the lung
        # round it, where the same lung a year before was not
        assert excess["current"] > 10
        assert excess["current"] > excess["prior"] + 12
        # it is the nodule that differs, not the whole film: the lung elsewhere looks alike
        lungs = [
            _cr_regions(_shown(cr_dir / e / "IM000001.dcm")[1])[0] for e in ("current", "prior")
        ]
        assert abs(lungs[0] - lungs[1]) < 25

    def test_the_nodule_lies_where_the_ct_nodule_projects(self, ct_dir, cr_dir, baseline) -> None:
        """The SEG's nodule, projected from the header's focal spot, is where the film changed."""
        vol, _ = baseline
        mask = _seg_mask(ct_dir / "baseline" / "seg-nodule.dcm", vol)
        centre = vol.index_to_lps(np.argwhere(mask).mean(axis=0))
        header = pydicom.dcmread(cr_dir / "current" / "IM000001.dcm", stop_before_pixels=True)
        sid = float(header.DistanceSourceToDetector)
        stance = cr_chest.projection_for(patient.make_patient(0, sex=header.PatientSex, tree=False))
        m = sid / (stance.detector_y + sid - centre[1])
        u, v = centre[0] * m, (centre[2] - stance.centre_z) * m
        spacing = float(header.ImagerPixelSpacing[0])
        row = ((header.Rows - 1) / 2 - v / spacing) / 4
        col = ((header.Columns - 1) / 2 + u / spacing) / 4
        _, current = _shown(cr_dir / "current" / "IM000001.dcm")
        _, prior = _shown(cr_dir / "prior" / "IM000001.dcm")
        # the prior, moved onto the current over 6 cm round the nodule, subtracted from it
        half, reach = 50, 20
        r0, c0 = int(round(row)) - half, int(round(col)) - half
        here = current[r0 : r0 + 2 * half, c0 : c0 + 2 * half]

        def before(dy: int, dx: int) -> np.ndarray:
            return prior[r0 + dy : r0 + dy + 2 * half, c0 + dx : c0 + dx + 2 * half]

        shifts = [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)]
        best = min(shifts, key=lambda s: np.var(here - before(*s)))
        change = ndimage.gaussian_filter(here - before(*best), 3 / _CR_MM)
        i, j = np.unravel_index(change.argmax(), change.shape)
        assert np.hypot(r0 + i - row, c0 + j - col) * _CR_MM < 3.0

    def test_each_rib_of_the_patient_casts_its_shadow_where_it_projects(self, cr_dir: Path) -> None:
        header = pydicom.dcmread(cr_dir / "current" / "IM000001.dcm", stop_before_pixels=True)
        person = patient.make_patient(0, sex=header.PatientSex, tree=False)
        stance = cr_chest.projection_for(person)
        sid = float(header.DistanceSourceToDetector)
        _, shown = _shown(cr_dir / "current" / "IM000001.dcm")
        rows, cols = shown.shape
        v_mm = ((header.Rows - 1) / 2 - (np.arange(rows) * 4 + 1.5)) * 0.15
        u_mm = ((np.arange(cols) * 4 + 1.5) - (header.Columns - 1) / 2) * 0.15
        uu, vv = np.meshgrid(u_mm, v_mm)
        ribs = np.zeros(shown.shape, dtype=bool)
        tubes = person.tubes
        bone = tubes.kind == BONE
        for p0, p1, r in zip(tubes.p0[bone], tubes.p1[bone], tubes.r0[bone], strict=True):
            m = sid / (stance.detector_y + sid - (p0[1] + p1[1]) / 2)
            d, _ = segment_distance(
                (uu, vv),
                (p0[0] * m, (p0[2] - stance.centre_z) * m),
                (p1[0] * m, (p1[2] - stance.centre_z) * m),
            )
            ribs |= d < r * m
        detail = shown - ndimage.gaussian_filter(shown, 6 / _CR_MM)
        lungs = (np.abs(uu) > 40) & (np.abs(uu) < 130) & (vv > -60) & (vv < 120)
        assert np.corrcoef(ribs[lungs], detail[lungs])[0, 1] > 0.22

    def test_hemidiaphragms_right_higher_by_about_two_centimetres(self, cr_dir: Path) -> None:
        for exam in ("current", "prior"):
            _, shown = _shown(cr_dir / exam / "IM000001.dcm")
            right = _dome_row(shown, -85.0)  # the patient's right: image left
            left = _dome_row(shown, 85.0)
            assert 10 < (left - right) * _CR_MM < 35

    def test_each_landmark_lies_on_its_structure_on_the_film(self, cr_dir: Path) -> None:
        """cr_chest.landmark_pixels places them from the 3D patient (a labelling quiz's key):
        each lands on what a reader names there on the film itself."""
        _, shown = _shown(cr_dir / "current" / "IM000001.dcm")
        where = {name: (r / 4, c / 4) for name, (r, c) in cr_chest.landmark_pixels(0).items()}
        rr, cc = np.mgrid[: shown.shape[0], : shown.shape[1]]

        def disc(name: str, mm: float, down_mm: float = 0.0, out_mm: float = 0.0) -> float:
            row, col = where[name]
            side = -1.0 if name.startswith("right") else 1.0  # the patient's right: image left
            dist = np.hypot(rr - row - down_mm / _CR_MM, cc - col - side * out_mm / _CR_MM)
            return float(shown[dist * _CR_MM < mm].mean())

        for dome in ("right hemidiaphragm", "left hemidiaphragm"):
            # the top of each dome: where its column turns from lung to liver or spleen
            row, col = where[dome]
            edge = _dome_row(shown, (col - shown.shape[1] / 2) * _CR_MM)
            assert abs(row - edge) * _CR_MM < 3.0, dome
        lung, _, _ = _cr_regions(shown)
        assert disc("heart", 10) > lung + 50  # in the white of the heart
        # gas: darker than the stomach's fluid under it and the lung over the dome
        assert disc("gastric bubble", 3) < disc("gastric bubble", 3, down_mm=12) - 50
        assert disc("gastric bubble", 3) < disc("gastric bubble", 3, down_mm=-15) - 10
        for hilum in ("right hilum", "left hilum"):
            # the lung's root: its vessels denser than the lung 5 cm further out
            assert disc(hilum, 15) > disc(hilum, 15, out_mm=50) + 10, hilum

    def test_the_left_heart_border_is_where_the_patients_heart_projects(self, cr_dir: Path) -> None:
        """The film's heart is the 3D patient's: its left border, at its widest, within 5 mm."""
        path = cr_dir / "current" / "IM000001.dcm"
        header = pydicom.dcmread(path, stop_before_pixels=True)
        sid = float(header.DistanceSourceToDetector)
        person = patient.make_patient(0, sex=header.PatientSex, tree=False)
        stance = cr_chest.projection_for(person)
        x, y, z = np.meshgrid(
            np.arange(-80.0, 120.0, 2.0),
            np.arange(-100.0, 60.0, 2.0),
            np.arange(-130.0, -10.0, 2.0),
            indexing="ij",
        )
        _, label = patient.tissue(person, x, y, z)
        heart = label == patient.Tissue.MYOCARDIUM
        m = sid / (stance.detector_y + sid - y[heart])
        u, level = x[heart] * m, np.round((z[heart] - stance.centre_z) * m / 3.0)
        widest = max(np.unique(level), key=lambda b: np.ptp(u[level == b]))
        # the film's border is where the lung begins, beyond the pericardium and its fat
        k = np.flatnonzero(level == widest)[np.argmax(u[level == widest])]
        xs = x[heart][k] + np.arange(0.0, 20.0, 0.25)
        ys, zs = np.full_like(xs, y[heart][k]), np.full_like(xs, z[heart][k])
        _, beyond = patient.tissue(person, xs, ys, zs)
        border = xs[np.argmax(beyond == patient.Tissue.LUNG)] * m[k]
        _, shown = _shown(path)
        row = int(round(((header.Rows - 1) / 2 - widest * 3.0 / 0.15) / 4))
        profile = ndimage.gaussian_filter1d(shown[row - 5 : row + 6].mean(axis=0), 1.5)
        u_film = ((np.arange(shown.shape[1]) * 4 + 1.5) - (header.Columns - 1) / 2) * 0.15
        near = np.abs(u_film - border) < 25
        # going to the patient's left the film turns dark where the heart ends
        found = u_film[near][np.argmin(np.gradient(profile)[near])]
        assert abs(found - border) < 5.0


@pytest.fixture(scope="module")
def cr_figures(cr_dir: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Figures of tests/cr_realism.py: the sample's current film, and pydicom-data's real CR."""
    film = cr_realism.display(cr_dir / "current" / "IM000001.dcm")
    real = cr_realism.display(cr_realism.real_film())
    return (
        cr_realism.figures(film, cr_realism.REGIONS["sample"]),
        cr_realism.figures(real, cr_realism.REGIONS["real"]),
    )


class TestCRRealism:
    """The film against pydicom-data's real chest CR (RG1_UNCR.dcm, Philips)."""

    def test_lungs_and_mediastinum_are_printed_as_dark_and_as_white_as_on_a_real_film(
        self, cr_figures
    ) -> None:
        sample, real = cr_figures
        assert abs(sample["lung_level"] - real["lung_level"]) < 0.1
        assert abs(sample["mediastinum_level"] - real["mediastinum_level"]) < 0.05

    def test_lung_texture_is_of_the_real_films_order(self, cr_figures) -> None:
        sample, real = cr_figures
        # about half: the model's lungs are clean between their vessels and its ribs are
        # narrow round tubes, where the real zone holds broad ribs (docs/samples.md)
        assert 0.4 < sample["lung_texture"] / real["lung_texture"] < 2.5


DCIODVFY = shutil.which("dciodvfy")


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (dicom3tools) not installed")
def test_every_object_type_passes_dciodvfy(ct_dir: Path, cr_dir: Path) -> None:
    files = [
        ct_dir / "baseline" / "ct" / "IM000001.dcm",
        ct_dir / "followup" / "ct" / "IM000060.dcm",
        ct_dir / "baseline" / "seg-nodule.dcm",
        ct_dir / "followup" / "seg-nodule.dcm",
        cr_dir / "current" / "IM000001.dcm",
        cr_dir / "prior" / "IM000001.dcm",
    ]
    for path in files:
        out = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, check=False)
        errors = [
            line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")
        ]
        assert errors == [], f"{path}: {errors}"


def _digest(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_same_seed_writes_the_same_bytes(tmp_path: Path, ct_dir: Path) -> None:
    # a small variant runs every code path of the full-size study (the thin vessels are
    # splatted, the thick ones drawn exactly); rewriting the real 245 files (two series, two
    # reference SEGs, three observers' SEGs) cost ~20 s
    assert len(list(ct_dir.rglob("*.dcm"))) == 245
    small = [ct_chest.write(tmp_path / run, seed=3, size=128, slices=40) for run in ("a", "b")]
    assert _digest(small[0]) == _digest(small[1])
    crs = [
        cr_chest.write(tmp_path / f"cr{run}", seed=3, rows=500, columns=400) for run in ("a", "b")
    ]
    assert _digest(crs[0]) == _digest(crs[1])
