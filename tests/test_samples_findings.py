"""The chest CT teaching file (samples/findings.py, samples/ct_findings.py): lung findings that read as real ones, each with its SEG."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from dicomteach import io
from dicomteach.roi import read_seg
from dicomteach.samples import ct_findings, findings
from dicomteach.samples import patient as anatomy
from dicomteach.samples.findings import Finding, FindingsError, Kind

DCIODVFY = shutil.which("dciodvfy")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("ct-chest-findings")
    ct_findings.write(dest, seed=0)
    return dest


@pytest.fixture(scope="module")
def ct(study: Path) -> tuple[io.Volume, np.ndarray]:
    vol = io.load(study / "ct")
    return vol, vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]


@pytest.fixture(scope="module")
def segs(study: Path, ct) -> dict[str, np.ndarray]:
    """Each finding's SEG mask on the CT grid, by kind."""
    vol, _ = ct
    read = read_seg(study / ct_findings.SEG_NAME, vol)
    manifest = ct_findings.read_manifest(study)
    return {entry.kind: read.masks[entry.segment] for entry in manifest.findings}


@pytest.fixture(scope="module")
def person() -> anatomy.Patient:
    return anatomy.make_patient(0 + ct_findings.PATIENT_SEED, sex=ct_findings.PATIENT.sex)


def _without_findings(person, vol: io.Volume, mask: np.ndarray, pad: int = 6):
    """The same patient rendered without findings on the box round ``mask`` (noise-free HU).

    Rendered as the study was (the smooth anatomy on a grid twice as coarse, interpolated), on
    a box that starts on an even row and column, so that inside it only the findings differ.
    """
    ks, rows, cols = (np.flatnonzero(mask.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1)))
    r0, c0 = (rows[0] - pad) // 2 * 2, (cols[0] - pad) // 2 * 2
    r1, c1 = r0 + (rows[-1] + pad - r0) // 2 * 2 + 2, c0 + (cols[-1] + pad - c0) // 2 * 2 + 2
    box = (slice(max(ks[0] - 2, 0), ks[-1] + 3), slice(r0, r1), slice(c0, c1))
    z_mm, x_mm = ct_findings.axes(vol.columns, vol.n_frames)
    hu, _ = anatomy.render(person, z_mm[box[0]], x_mm[box[1]], x_mm[box[2]], slab=2.5, coarse=2)
    # the interpolation's edge is clamped: the outermost ring is left out
    inner = (box[0], slice(r0 + 1, r1 - 1), slice(c0 + 1, c1 - 1))
    return inner, hu[:, 1:-1, 1:-1]


def _directions(offsets: np.ndarray, degrees: float) -> int:
    """How many directions, at least ``degrees`` apart, the offsets point in (greedy)."""
    units = offsets / np.linalg.norm(offsets, axis=1, keepdims=True)
    count = 0
    while len(units):
        units = units[units @ units[0] < np.cos(np.radians(degrees))]
        count += 1
    return count


def _centres_mm(vol: io.Volume, mask: np.ndarray) -> np.ndarray:
    """Patient (LPS) millimetres of the voxel centres of ``mask``."""
    return vol.index_to_lps(np.argwhere(mask))


class TestStudy:
    def test_every_kind_is_there_once_with_a_report_like_label(self, study: Path) -> None:
        manifest = ct_findings.read_manifest(study)
        assert sorted(e.kind for e in manifest.findings) == sorted(k.value for k in Kind)
        seg = pydicom.dcmread(study / ct_findings.SEG_NAME)
        labels = {int(item.SegmentNumber): item.SegmentLabel for item in seg.SegmentSequence}
        for entry in manifest.findings:
            assert labels[entry.segment] == entry.label
            assert entry.label == f"{entry.kind} {entry.lobe} {entry.diameter_mm:.0f} mm"
            assert entry.lobe in anatomy.LOBES

    def test_the_ct_is_another_patient_than_the_nodule_study(self, study: Path) -> None:
        ds = pydicom.dcmread(study / "ct" / "IM000001.dcm", stop_before_pixels=True)
        assert (ds.PatientID, ds.PatientSex) == (ct_findings.PATIENT.patient_id, "F")
        assert ds.PatientID != "DTCT0001"  # the nodule study's patient
        assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.90"

    @pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (dicom3tools) not installed")
    def test_seg_and_ct_pass_dciodvfy(self, study: Path) -> None:
        for path in (study / ct_findings.SEG_NAME, study / "ct" / "IM000050.dcm"):
            out = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, check=False)
            errors = [line for line in (out.stdout + out.stderr).splitlines() if "Error" in line]
            assert errors == [], f"{path}: {errors}"

    def test_segs_mark_what_the_ct_shows(self, ct, segs, person) -> None:
        """Where the CT is denser than the same patient without findings is where the SEG is."""
        vol, hu = ct
        for kind, mask in segs.items():
            box, background = _without_findings(person, vol, mask)
            added = ndimage.uniform_filter(hu[box] - background, size=(1, 3, 3))
            inside = mask[box]
            shown = added > 0.5 * np.median(added[inside])
            dice = 2.0 * (shown & inside).sum() / (shown.sum() + inside.sum())
            assert dice > 0.75, (kind, dice)

    def test_findings_lie_in_the_lungs(self, ct, segs, person) -> None:
        vol, _ = ct
        for kind, mask in segs.items():
            points = _centres_mm(vol, mask)
            _, label = anatomy.tissue(person, points[:, 0], points[:, 1], points[:, 2])
            assert (label == anatomy.Tissue.LUNG).mean() > 0.98, kind

    def test_findings_keep_apart(self, segs) -> None:
        grown = [ndimage.binary_dilation(m, iterations=2) for m in segs.values()]
        assert (np.sum(grown, axis=0) <= 1).all()

    def test_same_seed_writes_the_same_bytes(self, tmp_path: Path, study: Path) -> None:
        runs = [ct_findings.write(tmp_path / r, seed=0, size=128) for r in "ab"]
        digests = [[hashlib.sha256(p.read_bytes()).hexdigest() for p in run] for run in runs]
        assert digests[0] == digests[1]
        # the places are the patient's, not the grid's: the small variant holds the same findings
        small = json.loads((tmp_path / "a" / ct_findings.MANIFEST).read_text())["findings"]
        full = json.loads((study / ct_findings.MANIFEST).read_text())["findings"]
        assert [f["centre_mm"] for f in small] == [f["centre_mm"] for f in full]
        other = ct_findings.write(tmp_path / "c", seed=1, size=128)
        assert hashlib.sha256(other[-1].read_bytes()).hexdigest() != digests[0][-1]


class TestDensityAndShape:
    """Each kind's Hounsfield units and shape, in the written CT (noise included)."""

    def test_solid_nodule_is_soft_tissue(self, ct, segs) -> None:
        _, hu = ct
        core = ndimage.binary_erosion(segs["solid nodule"], np.ones((1, 5, 5), bool))
        assert core.sum() > 30
        assert 0.0 < np.median(hu[core]) < 80.0

    def test_part_solid_nodule_is_a_solid_core_in_ground_glass(self, ct, segs) -> None:
        _, hu = ct
        inside = hu[segs["part-solid nodule"]]
        glass = inside[(inside > -800.0) & (inside < -200.0)]
        assert glass.size > 0.5 * inside.size
        assert -700.0 < np.median(glass) < -300.0
        solid = inside[inside > -100.0]
        assert solid.size > 40  # a core of several millimetres
        assert -50.0 < np.median(solid) < 100.0

    def test_ground_glass_nodule_is_faint_and_vessels_stay_visible(self, ct, segs) -> None:
        _, hu = ct
        mask = segs["ground-glass nodule"]
        assert -700.0 < np.median(hu[mask]) < -400.0
        # a vessel crosses it: brighter than the ground glass by far, as it would be in lung
        smooth = ndimage.uniform_filter(hu, size=(1, 3, 3))
        assert smooth[mask].max() > np.median(hu[mask]) + 300.0

    def test_spicules_radiate_beyond_the_segmented_core(self, ct, segs, person, study) -> None:
        """Thin strands of added density outside the SEG, all round (a pleural tag alone is one way)."""
        vol, hu = ct
        manifest = ct_findings.read_manifest(study)
        entry = next(e for e in manifest.findings if e.kind == "spiculated nodule")
        mask = segs["spiculated nodule"]
        box, background = _without_findings(person, vol, mask, pad=16)
        added = ndimage.uniform_filter(hu[box] - background, size=(1, 3, 3))
        outside = ~ndimage.binary_dilation(mask[box], structure=np.ones((1, 5, 5), bool))
        outside &= background < -500.0  # in the lung, off the vessels
        strands = np.zeros(mask.shape, dtype=bool)
        strands[box] = outside & (added > 100.0)
        offsets = _centres_mm(vol, strands) - np.array(entry.centre_mm)
        assert len(offsets) > 80
        assert _directions(offsets, degrees=30.0) >= 5  # the tag alone makes one or two
        assert entry.details["pleural_tag"] is True
        assert -50.0 < np.median(hu[mask]) < 100.0

    def test_calcified_granuloma_is_dense(self, ct, segs) -> None:
        _, hu = ct
        inside = hu[segs["calcified granuloma"]]
        assert (inside > 200.0).sum() >= 10
        assert inside.max() > 400.0

    def test_scar_is_a_band_from_the_pleura(self, ct, segs, person) -> None:
        vol, hu = ct
        points = _centres_mm(vol, segs["scar"])
        spread = np.sqrt(np.linalg.eigvalsh(np.cov(points.T)))
        assert spread[-1] > 3.0 * spread[0]  # long, thin
        # it reaches the pleura: some of it lies within 3 mm of what is not lung
        probe = (points[:, None, :] + 3.0 * findings._DIRECTIONS[None, :, :]).reshape(-1, 3)
        _, label = anatomy.tissue(person, probe[:, 0], probe[:, 1], probe[:, 2])
        assert (label != anatomy.Tissue.LUNG).any()
        assert -400.0 < np.median(hu[segs["scar"]]) < 60.0


@pytest.mark.parametrize("pattern", findings.PATTERNS)
def test_every_calcification_pattern_is_over_200_hu(pattern: str) -> None:
    axis = np.arange(-10.0, 10.0, 0.7, dtype=np.float32)
    z = np.arange(-10.0, 10.0, 2.5, dtype=np.float32)
    hu = np.full((len(z), len(axis), len(axis)), -860.0, dtype=np.float32)
    rng = np.random.default_rng(3)
    granuloma = Finding(
        Kind.CALCIFIED,
        np.zeros(3),
        4.0,
        "RML",
        bumps=findings._random_bumps(rng, 6, 0.07),
        pattern=pattern,
    )
    drawn = findings.draw_finding(hu, hu < 0, granuloma, z, axis, axis, slab=2.5)
    inside = hu[drawn.mask(hu.shape)]
    # the calcium: dense voxels, more than a speck; the rest of the nodule soft tissue or calcium
    assert inside.max() > 400.0, pattern
    assert (inside > 200.0).sum() >= 4, pattern
    assert np.median(inside) > -100.0, pattern


def test_ground_glass_adds_density_to_what_is_there() -> None:
    """Lung darkens less, a vessel not at all: ground glass fills air, it does not paint over."""
    axis = np.arange(-12.0, 12.0, 0.7, dtype=np.float32)
    z = np.arange(-10.0, 10.0, 2.5, dtype=np.float32)
    hu = np.full((len(z), len(axis), len(axis)), -860.0, dtype=np.float32)
    hu[:, np.abs(axis) < 1.2, :] = 40.0  # a vessel through the middle
    before = hu.copy()
    nodule = Finding(Kind.GROUND_GLASS, np.zeros(3), 6.0, "RLL")
    drawn = findings.draw_finding(hu, before < 5000, nodule, z, axis, axis, slab=2.5)
    inside = drawn.mask(hu.shape)
    vessel = inside & (before == 40.0)
    lung = inside & (before == -860.0)
    assert np.abs(hu[vessel] - 40.0).max() < 1.0
    assert -700.0 < np.median(hu[lung]) < -400.0


def test_mimics_are_dots_that_continue_through_the_slices(study: Path, ct, segs) -> None:
    vol, hu = ct
    manifest = ct_findings.read_manifest(study)
    assert len(manifest.mimics) >= 3
    anywhere = np.any(list(segs.values()), axis=0)
    for mimic in manifest.mimics:
        assert mimic.kind == "vessel seen end-on" and mimic.segment is None
        assert mimic.diameter_mm >= findings.MIMIC_DIAMETER
        k, i, j = np.rint(vol.lps_to_index(mimic.centre_mm)).astype(int)
        for kk in (k - 1, k, k + 1):  # scrolling up and down, the dot stays: a vessel
            assert hu[kk, i - 1 : i + 2, j - 1 : j + 2].mean() > -450.0, (mimic.label, kk)
        assert not anywhere[k, i - 14 : i + 15, j - 14 : j + 15].any()  # no finding within 10 mm


def test_a_lung_without_room_is_reported(person) -> None:
    plan = ((Kind.SOLID, ("RUL",), 150.0),)
    with pytest.raises(FindingsError, match="no room in the lungs for a 150 mm solid nodule"):
        findings.place_findings(person, 0, (-200.0, 95.0), plan)


class TestManifest:
    def test_findings_sit_where_the_manifest_says(self, study: Path, ct, segs) -> None:
        vol, _ = ct
        for entry in ct_findings.read_manifest(study).findings:
            mask = segs[entry.kind]
            centres = _centres_mm(vol, mask)
            nearest = np.linalg.norm(centres - np.array(entry.centre_mm), axis=1).min()
            assert nearest < (6.0 if entry.kind == "scar" else 2.0), entry.label
            z = centres[:, 2]
            assert entry.z_range_mm == pytest.approx((z.min(), z.max()), abs=0.01)

    def test_another_version_is_refused_naming_the_file(self, tmp_path: Path, study: Path) -> None:
        data = json.loads((study / ct_findings.MANIFEST).read_text())
        data["version"] = 2
        (tmp_path / ct_findings.MANIFEST).write_text(json.dumps(data))
        with pytest.raises(FindingsError, match=r"findings\.json: findings manifest version 2"):
            ct_findings.read_manifest(tmp_path)

    def test_missing_or_broken_manifests_are_one_line_errors(self, tmp_path: Path) -> None:
        with pytest.raises(FindingsError, match="no findings manifest here"):
            ct_findings.read_manifest(tmp_path)
        (tmp_path / ct_findings.MANIFEST).write_text('{"version": 1, "seed": 0}')
        with pytest.raises(FindingsError, match="lacks or garbles a field"):
            ct_findings.read_manifest(tmp_path)
        (tmp_path / ct_findings.MANIFEST).write_text("{not json")
        with pytest.raises(FindingsError, match="not a findings manifest"):
            ct_findings.read_manifest(tmp_path)
