"""The MR, PET/CT, NM, fundus and ultrasound sample studies: geometry, values, references, validity."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from dicomteach import io
from dicomteach.imaging import modality_values
from dicomteach.samples import (
    fundus,
    mni152,
    mr_brain,
    nm_spect,
    pet_ct,
    us_cine,
    write_sample_library,
)
from dicomteach.samples import mr_head as mr_head_module

ROOT = Path(__file__).resolve().parents[1]

SEED = 0


@pytest.fixture(scope="module")
def mr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("mr-brain")
    mr_brain.write(dest, seed=SEED)
    return dest


@pytest.fixture(scope="module")
def mr_head() -> mr_brain.Head:
    return mr_brain.brain_model(SEED)


@pytest.fixture(scope="module")
def petct(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("pet-ct")
    pet_ct.write(dest, seed=SEED)
    return dest


@pytest.fixture(scope="module")
def nm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("nm-spect")
    nm_spect.write(dest, seed=SEED)
    return dest


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("op-fundus")
    fundus.write(dest, seed=SEED)
    return dest


@pytest.fixture(scope="module")
def us(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("us-cine")
    us_cine.write(dest, seed=SEED)
    return dest


def _seg_on_grid(mr: Path, t1c: io.Volume) -> tuple[np.ndarray, np.ndarray]:
    """The SEG's enhancing tumour and oedema on the T1+C grid, placed by their frames' positions."""
    seg = hd.seg.segread(mr / "seg-tumour.dcm")
    volume = seg.get_volume(combine_segments=False)
    masks = np.zeros((2, *t1c.pixels.shape), bool)
    origin = np.asarray(t1c.origin)
    for k in range(volume.spatial_shape[0]):
        position = volume.affine[:3, :3] @ np.array([k, 0, 0]) + volume.affine[:3, 3]
        slice_index = int(round((position[2] - origin[2]) / t1c.spacing[0]))
        for segment in range(2):
            masks[segment, slice_index] |= volume.array[k, :, :, segment] > 0
    return masks[0], masks[1]


def _frame_z(ds: pydicom.Dataset) -> list[float]:
    return [
        float(item.PlanePositionSequence[0].ImagePositionPatient[2])
        for item in ds.PerFrameFunctionalGroupsSequence
    ]


class TestMRBrain:
    @pytest.mark.parametrize("series", ["t1", "t1c", "flair"])
    def test_series_is_a_philips_enhanced_mr_image(self, mr: Path, series: str) -> None:
        ds = pydicom.dcmread(mr / series / "IM000001.dcm", stop_before_pixels=True)
        assert ds.SOPClassUID == pydicom.uid.EnhancedMRImageStorage
        assert ds.file_meta.MediaStorageSOPClassUID == pydicom.uid.EnhancedMRImageStorage
        assert (ds.Manufacturer, ds.ManufacturerModelName) == ("Philips", "Ingenia")
        assert len(ds.ImageType) == 4 and ds.ImageType[:2] == ["ORIGINAL", "PRIMARY"]
        assert ds.NumberOfFrames == mr_brain.SHAPE[0]
        assert ds.private_block(0x2005, mr_brain.PHILIPS_PRIVATE_CREATOR)
        shared = ds.SharedFunctionalGroupsSequence[0]
        for keyword in (
            "PixelMeasuresSequence",
            "PlaneOrientationSequence",
            "MRTimingAndRelatedParametersSequence",
            "MRFOVGeometrySequence",
            "MRReceiveCoilSequence",
        ):
            assert keyword in shared, keyword
        assert len(ds.PerFrameFunctionalGroupsSequence) == mr_brain.SHAPE[0]
        for item in ds.PerFrameFunctionalGroupsSequence:
            for keyword in (
                "FrameContentSequence",
                "PlanePositionSequence",
                "PixelValueTransformationSequence",
                "MRImageFrameTypeSequence",
            ):
                assert keyword in item, keyword
        pointers = [int(item.DimensionIndexPointer) for item in ds.DimensionIndexSequence]
        assert pointers == [0x00209056, 0x00209057]  # Stack ID, In-Stack Position Number

    @pytest.mark.parametrize("series", ["t1", "t1c", "flair"])
    def test_each_image_carries_the_template_authors_notice(self, mr: Path, series: str) -> None:
        """The MNI152 licence asks its copyright notice to appear in all copies."""
        ds = pydicom.dcmread(mr / series / "IM000001.dcm", stop_before_pixels=True)
        notice = " ".join(str(ds.ImageComments).split())
        assert "Copyright (C) 1993-2009 Louis Collins" in notice
        assert "McGill University" in notice and "appear in all copies" in notice
        licence = " ".join((ROOT / "LICENSES" / "ICBM152-2009.txt").read_text().split())
        assert notice.split("MNI152). ", 1)[1] in licence

    def test_frames_are_stored_head_to_foot_in_stack_order(self, mr: Path) -> None:
        ds = pydicom.dcmread(mr / "t1c" / "IM000001.dcm", stop_before_pixels=True)
        z = _frame_z(ds)
        assert np.all(np.diff(z) == pytest.approx(-mr_brain.SPACING[0]))
        content = [item.FrameContentSequence[0] for item in ds.PerFrameFunctionalGroupsSequence]
        assert [c.InStackPositionNumber for c in content] == list(range(1, len(z) + 1))
        assert [list(c.DimensionIndexValues) for c in content][:2] == [[1, 1], [1, 2]]

    @pytest.mark.parametrize("series", ["t1", "t1c", "flair"])
    def test_reader_sorts_frames_foot_to_head_and_applies_the_frame_rescale(
        self, mr: Path, mr_head: mr_brain.Head, series: str
    ) -> None:
        vol = io.read_file(mr / series / "IM000001.dcm")
        assert vol.frame_axis is io.FrameAxis.SLICE
        assert vol.pixels.shape == mr_brain.SHAPE
        assert vol.spacing == pytest.approx(mr_brain.SPACING)
        assert vol.origin[2] == pytest.approx(-53.75)  # most caudal slice first
        np.testing.assert_array_equal(vol.pixels, mr_brain.render(mr_head, series, SEED))
        assert np.all(np.asarray(vol.rescale_slope) == pytest.approx(mr_brain.RESCALE_SLOPE))
        np.testing.assert_allclose(
            modality_values(vol), mr_brain.intensities(mr_head, series, SEED), atol=1e-3
        )

    def test_folder_reads_as_one_slice_volume_per_series(self, mr: Path) -> None:
        volumes = [
            vol
            for study in io.read(mr).studies
            for series in study.series
            for vol in series.volumes
            if vol.modality == "MR"
        ]
        assert len(volumes) == 3
        for vol in volumes:
            assert vol.frame_axis is io.FrameAxis.SLICE
            assert vol.pixels.shape == mr_brain.SHAPE
            assert vol.spacing == pytest.approx(mr_brain.SPACING)

    def test_only_the_t1_after_contrast_shows_the_tumour_rim_bright(
        self, mr: Path, mr_head: mr_brain.Head
    ) -> None:
        """Before and after gadolinium: the rim lights up, the white matter stays as it was."""
        enhancing, _oedema = mr_brain.lesion_masks(mr_head)
        white = mr_head.fractions["white"] > 0.9
        before = io.read_file(mr / "t1" / "IM000001.dcm")
        after = io.read_file(mr / "t1c" / "IM000001.dcm")
        pre, post = modality_values(before), modality_values(after)
        rim_pre = np.median(pre[enhancing]) / np.median(pre[white])
        rim_post = np.median(post[enhancing]) / np.median(post[white])
        # before contrast a glioblastoma's rim is iso- or hypointense to white matter
        assert rim_pre < 1.1
        assert rim_post > 1.4 * rim_pre
        assert np.median(post[white]) == pytest.approx(np.median(pre[white]), rel=0.05)
        pre_series = pydicom.dcmread(mr / "t1" / "IM000001.dcm", stop_before_pixels=True)
        post_series = pydicom.dcmread(mr / "t1c" / "IM000001.dcm", stop_before_pixels=True)
        assert "ContrastBolusAgentSequence" not in pre_series
        assert "ContrastBolusAgentSequence" in post_series
        assert pre_series.SeriesNumber < post_series.SeriesNumber
        assert pre_series.SeriesTime < post_series.SeriesTime

    def test_seg_has_two_segments_referencing_the_t1c(self, mr: Path) -> None:
        seg = hd.seg.segread(mr / "seg-tumour.dcm")
        t1c = pydicom.dcmread(mr / "t1c" / "IM000001.dcm", stop_before_pixels=True)
        assert [s.SegmentLabel for s in seg.SegmentSequence] == ["Enhancing tumour", "Oedema"]
        referenced = {
            item.ReferencedSOPInstanceUID
            for series in seg.ReferencedSeriesSequence
            for item in series.ReferencedInstanceSequence
        }
        assert referenced == {t1c.SOPInstanceUID}

    def test_seg_frames_reference_the_t1c_frame_at_their_position(self, mr: Path) -> None:
        seg = pydicom.dcmread(mr / "seg-tumour.dcm", stop_before_pixels=True)
        t1c = pydicom.dcmread(mr / "t1c" / "IM000001.dcm", stop_before_pixels=True)
        t1c_z = _frame_z(t1c)
        for item, seg_z in zip(seg.PerFrameFunctionalGroupsSequence, _frame_z(seg), strict=True):
            source = item.DerivationImageSequence[0].SourceImageSequence[0]
            assert source.ReferencedSOPInstanceUID == t1c.SOPInstanceUID
            assert t1c_z[int(source.ReferencedFrameNumber) - 1] == pytest.approx(seg_z)

    def test_enhancing_and_oedema_masks_sit_where_the_signal_says(
        self, mr: Path, mr_head: mr_brain.Head
    ) -> None:
        t1c = io.load(mr / "t1c")
        flair = io.load(mr / "flair")
        enhancing, oedema = _seg_on_grid(mr, t1c)
        assert enhancing.sum() > 500 and oedema.sum() > 5000
        t1_values, flair_values = t1c.pixels.astype(float), flair.pixels.astype(float)
        white = (mr_head.fractions["white"] > 0.9) & ~enhancing & ~oedema
        assert t1_values[enhancing].mean() > 1.4 * t1_values[white].mean()
        assert flair_values[oedema].mean() > 1.8 * flair_values[white].mean()
        # the necrotic core inside the rim does not enhance
        core = mr_head.fractions["necrosis"] > 0.9
        assert t1_values[core].mean() < t1_values[white].mean()

    def test_seg_is_exactly_the_rendered_lesion(self, mr: Path, mr_head: mr_brain.Head) -> None:
        enhancing, oedema = _seg_on_grid(mr, io.load(mr / "t1c"))
        expected_enhancing, expected_oedema = mr_brain.lesion_masks(mr_head)
        np.testing.assert_array_equal(enhancing, expected_enhancing)
        np.testing.assert_array_equal(oedema, expected_oedema)

    def test_the_tumour_pushes_the_ventricle_on_its_side_and_not_the_other(
        self, mr_head: mr_brain.Head, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(mr_head_module, "MASS_EFFECT_MM", (0.0, 20.0))
        without = mr_brain.brain_model(SEED)
        # the lateral ventricles' bodies and frontal horns, 3 to 28 mm either side of the midline
        # (LPS: the patient's right, the tumour's side, is −x, the left-hand columns)
        right = np.s_[20:40, 70:140, 100:125]
        left = np.s_[20:40, 70:140, 131:156]

        def csf(head: mr_brain.Head, where) -> float:
            return float(head.fractions["csf"][where].sum())

        assert csf(mr_head, right) < 0.9 * csf(without, right)  # compressed
        assert csf(mr_head, left) > 0.98 * csf(without, left)  # not compressed: pushed into


class TestPetCt:
    def test_ct_and_pet_share_frame_of_reference_and_extent(self, petct: Path) -> None:
        ct = io.load(petct / "ct")
        pet = io.load(petct / "pet")
        assert ct.header.FrameOfReferenceUID == pet.header.FrameOfReferenceUID
        assert ct.manufacturer == pet.manufacturer == pet_ct.MANUFACTURER
        assert ct.units == "HU"
        assert pet.pixels.shape == (pet_ct.N_SLICES, 128, 128)
        assert pet.spacing == pytest.approx((5.0, 4.0, 4.0))
        assert ct.origin[2] == pytest.approx(pet.origin[2])
        assert len(set(np.round(pet.rescale_slope, 12))) > 10  # a slope per slice

    def test_suv_of_lesion_and_liver(self, petct: Path) -> None:
        pet = io.load(petct / "pet", suv=True)
        assert pet.units == "SUVbw"
        suv = modality_values(pet)

        def mean_in_sphere(centre_lps: tuple[float, float, float], radius_mm: float) -> float:
            k, i, j = np.meshgrid(*(np.arange(n) for n in suv.shape), indexing="ij")
            z = pet.origin[2] + k * pet.spacing[0]
            y = pet.origin[1] + i * pet.spacing[1]
            x = pet.origin[0] + j * pet.spacing[2]
            inside = (x - centre_lps[0]) ** 2 + (y - centre_lps[1]) ** 2 + (
                z - centre_lps[2]
            ) ** 2 <= radius_mm**2
            return float(suv[inside].mean())

        assert mean_in_sphere(pet_ct.LESION_CENTRE_MM, 6.0) == pytest.approx(8.0, abs=1.0)
        assert mean_in_sphere((-60.0, -5.0, 360.0), 25.0) == pytest.approx(2.0, abs=0.5)

    def test_physiological_uptake_a_reader_learns_to_look_past(self, petct: Path) -> None:
        """Cortex over white matter, the myocardium around the blood pool, urine in the
        renal pelves, the ureters and the bladder: each as a reader sees it, blurred by
        the scanner's resolution."""
        suv = modality_values(io.load(petct / "pet", suv=True))
        labels = pet_ct.body_labels(SEED)
        # the CT voxel at the centre of each PET voxel (the same slices; 4 mm vs 1.95 mm)
        centre = (np.arange(suv.shape[1]) - (suv.shape[1] - 1) / 2) * pet_ct.PET_MM
        index = np.rint(centre / pet_ct.CT_MM + (pet_ct.CT_PIXELS - 1) / 2)
        index = np.clip(index, 0, pet_ct.CT_PIXELS - 1).astype(int)
        on_pet = labels[:, index][:, :, index]

        def mean(label: int) -> float:
            return float(suv[on_pet == label].mean())

        assert mean(pet_ct.BRAIN) > 1.5 * mean(pet_ct.WHITE_MATTER)
        assert mean(pet_ct.HEART) > 1.8 * mean(pet_ct.BLOOD)
        assert mean(pet_ct.URINE) > 2.5 * mean(pet_ct.KIDNEY)
        assert mean(pet_ct.BLADDER) > 15.0
        assert 1.5 < mean(pet_ct.LIVER) < 2.5
        assert 1.2 < mean(pet_ct.BLOOD) < 2.0
        # a wall around a cavity: the middle of the hot myocardium is not myocardium
        wall = np.argwhere(on_pet == pet_ct.HEART).mean(axis=0)
        assert on_pet[tuple(np.rint(wall).astype(int))] != pet_ct.HEART


class TestNmSpect:
    def test_reconstruction_stacks_as_slices(self, nm: Path) -> None:
        vol = io.read_file(nm / "IM000001.dcm")
        assert vol.modality == "NM"
        assert vol.frame_axis is io.FrameAxis.SLICE
        assert vol.pixels.shape == (64, 64, 64)
        assert vol.spacing == pytest.approx((nm_spect.VOXEL_MM,) * 3, abs=1e-3)
        assert vol.manufacturer == "SIEMENS NM"
        assert vol.header.ImageType[2] == "RECON TOMO"


class TestFundus:
    def test_single_rgb_photograph_with_laterality(self, op: Path) -> None:
        vol = io.read_file(op / "IM000001.dcm")
        assert vol.modality == "OP"
        assert vol.frame_axis is io.FrameAxis.SINGLE
        assert vol.is_color and vol.pixels.shape == (1, fundus.SIZE, fundus.SIZE, 3)
        assert vol.header.ImageLaterality == "R"
        red, green = vol.pixels[0, ..., 0].astype(float), vol.pixels[0, ..., 1].astype(float)
        centre = slice(fundus.SIZE // 4, 3 * fundus.SIZE // 4)
        assert red[centre, centre].mean() > 1.8 * green[centre, centre].mean()  # orange-red
        col, row = (int(v) for v in fundus.DISC)
        assert vol.pixels[0, row, col].mean() > vol.pixels[0, row, col - 250].mean()


class TestUltrasoundCine:
    def test_jpeg_ybr_frames_decode_to_moving_rgb(self, us: Path) -> None:
        vol = io.read_file(us / "IM000001.dcm")
        assert vol.transfer_syntax == pydicom.uid.JPEGBaseline8Bit
        assert vol.photometric == "YBR_FULL_422"
        assert vol.is_color and vol.pixels.shape == (us_cine.N_FRAMES, 480, 640, 3)
        assert vol.frame_axis is io.FrameAxis.TIME
        assert vol.frame_time_ms == pytest.approx(us_cine.FRAME_TIME_MS, rel=1e-3)
        assert vol.spacing[1:] == pytest.approx((0.3, 0.3))
        # grey stays grey after YBR → RGB, and the chamber wall moves between frames
        image = vol.pixels.astype(int)
        assert np.abs(image[0, 200:400, 200:450, 0] - image[0, 200:400, 200:450, 2]).mean() < 4
        assert np.abs(image[0] - image[len(image) // 2]).mean() > 1.0

    def test_burned_in_annotation_is_declared(self, us: Path) -> None:
        ds = pydicom.dcmread(us / "IM000001.dcm", stop_before_pixels=True)
        assert ds.BurnedInAnnotation == "YES"


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")
@pytest.mark.parametrize(
    ("study", "relative"),
    [
        ("mr", "t1c/IM000001.dcm"),
        ("mr", "flair/IM000001.dcm"),
        ("mr", "seg-tumour.dcm"),
        ("petct", "ct/IM000001.dcm"),
        ("petct", "pet/IM000001.dcm"),
        ("nm", "IM000001.dcm"),
        ("op", "IM000001.dcm"),
        ("us", "IM000001.dcm"),
    ],
)
def test_dciodvfy_reports_no_error(
    study: str, relative: str, request: pytest.FixtureRequest
) -> None:
    path = request.getfixturevalue(study) / relative
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    errors = [
        line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")
    ]
    assert errors == []


def test_same_seed_writes_identical_bytes(tmp_path: Path, mr: Path) -> None:
    again = tmp_path / "again"
    mr_brain.write(again, seed=SEED)
    observers = [f"experts/seg-tumour-observer-{x}.dcm" for x in "abc"]
    for relative in ("t1c/IM000001.dcm", "flair/IM000001.dcm", "seg-tumour.dcm", *observers):
        first = hashlib.sha256((mr / relative).read_bytes()).hexdigest()
        second = hashlib.sha256((again / relative).read_bytes()).hexdigest()
        assert first == second, relative


class TestTemplate:
    def test_without_nilearn_the_library_says_what_to_install_and_writes_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        find_spec = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *args: None if name == "nilearn" else find_spec(name, *args),
        )
        with pytest.raises(
            mni152.TemplateMissingError, match=r"pip install 'dicomteach\[samples\]'"
        ):
            write_sample_library(tmp_path / "library", seed=SEED)
        assert not (tmp_path / "library").exists()

    def test_a_changed_template_file_is_refused_by_name(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        name, _digest = mni152.FILES["grey"]
        monkeypatch.setitem(mni152.FILES, "grey", (name, "0" * 64))
        with pytest.raises(mni152.TemplateMissingError, match=rf"{name}: is not the MNI152 map"):
            mni152.check()

    def test_the_template_is_read_without_importing_nilearn(self) -> None:
        code = (
            "import sys; from dicomteach.samples import mni152; mni152.load_template(); "
            "print('nilearn' in sys.modules, 'sklearn' in sys.modules)"
        )
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert run.stdout.split() == ["False", "False"], run.stderr
