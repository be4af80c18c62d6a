"""A hospital's own model behind find_nodules: a MONAI bundle made here, run by MONAI itself.

The bundle is tiny and its weights are set by hand so that what it must find
is known exactly: one 1×1×1 convolution whose second channel wins where the
CT is denser than -300 HU (ScaleIntensityRanged maps -1000…400 HU to 0…1, so
-300 HU is 0.5). MONAI's own workflow runs it (LoadImaged, the network,
softmax, argmax, SaveImaged), so the test checks what the adapter does on
either side: the CT written as NIfTI with its geometry, the bundle's
segmentation read back onto the CT's voxels the right way round, and the
structures turned into candidates where they are in the patient.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dicomteach import io
from dicomteach.ai import find_nodules
from dicomteach.ai.adapters import MonaiBundle
from dicomteach.ai.errors import MissingDependencyError, ModelError
from dicomteach.ai.grid import hounsfield
from dicomteach.samples.cache import lesson_study

torch = pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("ignite")

THRESHOLD_HU = -300.0

INFERENCE = {
    "imports": ["$import glob", "$import torch"],
    "bundle_root": ".",
    "device": "$torch.device('cpu')",
    "dataset_dir": "/nowhere",
    "output_dir": "$@bundle_root + '/eval'",
    "datalist": "$list(sorted(glob.glob(@dataset_dir + '/*.nii.gz')))",
    "network_def": {
        "_target_": "torch.nn.Conv3d", "in_channels": 1, "out_channels": 2, "kernel_size": 1,
    },
    "network": "$@network_def.to(@device)",
    "preprocessing": {
        "_target_": "Compose",
        "transforms": [
            {"_target_": "LoadImaged", "keys": "image"},
            {"_target_": "EnsureChannelFirstd", "keys": "image"},
            {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": -1000, "a_max": 400,
             "b_min": 0.0, "b_max": 1.0, "clip": True},
        ],
    },
    "dataset": {
        "_target_": "Dataset",
        "data": "$[{'image': i} for i in @datalist]",
        "transform": "@preprocessing",
    },
    "dataloader": {"_target_": "DataLoader", "dataset": "@dataset", "batch_size": 1,
                   "num_workers": 0},
    "inferer": {"_target_": "SimpleInferer"},
    "postprocessing": {
        "_target_": "Compose",
        "transforms": [
            {"_target_": "Activationsd", "keys": "pred", "softmax": True},
            {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
            {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir",
             "output_postfix": "seg", "resample": False, "separate_folder": False},
        ],
    },
    "handlers": [
        {"_target_": "CheckpointLoader", "load_path": "$@bundle_root + '/models/model.pt'",
         "load_dict": {"model": "@network"}, "map_location": "@device"},
    ],
    "evaluator": {
        "_target_": "SupervisedEvaluator", "device": "@device", "val_data_loader": "@dataloader",
        "network": "@network", "inferer": "@inferer", "postprocessing": "@postprocessing",
        "val_handlers": "@handlers", "amp": False,
    },
    "initialize": ["$monai.utils.set_determinism(seed=0)"],
    "run": ["$@evaluator.run()"],
}  # fmt: skip


def make_bundle(folder: Path, spacing: tuple[float, float, float] | None = None) -> Path:
    """The tiny bundle: MONAI's layout, its weights set so that label 1 is "denser than -300 HU".

    With ``spacing`` (mm), it reads the CT resampled to that grid and saves its segmentation
    there, as bundles trained at one resolution do.
    """
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    config = json.loads(json.dumps(INFERENCE))
    if spacing is not None:
        config["preprocessing"]["transforms"].insert(
            2,
            {"_target_": "Spacingd", "keys": "image", "pixdim": list(spacing), "mode": "bilinear"},
        )
    (folder / "configs" / "inference.json").write_text(json.dumps(config, indent=1))
    (folder / "configs" / "metadata.json").write_text(
        json.dumps(
            {
                "version": "0.1.0",
                "name": "dense tissue, for a test",
                "network_data_format": {
                    "inputs": {"image": {"num_channels": 1}},
                    "outputs": {"pred": {"num_channels": 2}},
                },
            }
        )  # fmt: skip
    )
    network = torch.nn.Conv3d(1, 2, 1)
    scaled = (THRESHOLD_HU + 1000.0) / 1400.0
    with torch.no_grad():
        network.weight.zero_()
        network.bias.zero_()
        network.weight[1, 0, 0, 0, 0] = 40.0
        network.bias[1] = -40.0 * scaled
    torch.save(network.state_dict(), folder / "models" / "model.pt")
    return folder


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> MonaiBundle:
    return MonaiBundle(make_bundle(tmp_path_factory.mktemp("bundle") / "dense_tissue"), label=1)


@pytest.fixture(scope="module")
def chest_ct():
    """The lessons' chest CT of seed 1, 256×256×60."""
    return io.load(lesson_study("ct-chest", seed=1, size=256, slices=60) / "baseline" / "ct")


def test_a_monai_bundles_segmentation_comes_back_on_the_cts_own_voxels(bundle, chest_ct):
    hu = hounsfield(chest_ct)
    found = bundle.probability_map(chest_ct, hu)
    expected = hu > THRESHOLD_HU
    assert found.shape == hu.shape
    # voxel for voxel (a few voxels within rounding of -300 HU may differ): any flip of an
    # axis, a swapped row and column or a shift of one voxel would break thousands
    disagree = int(((found > 0.5) != expected).sum())
    near = int((np.abs(hu - THRESHOLD_HU) <= 1.5).sum())
    assert disagree <= near, (disagree, near)
    assert expected.sum() > 100_000  # the body, the heart, the bones: a real segmentation


def test_a_bundle_that_reads_a_coarser_grid_is_sampled_back_onto_the_ct(tmp_path, chest_ct):
    coarse = MonaiBundle(make_bundle(tmp_path / "coarse", spacing=(2.8, 2.8, 5.0)))
    hu = hounsfield(chest_ct)
    found = coarse.probability_map(chest_ct, hu) > 0.5
    expected = hu > THRESHOLD_HU

    def dice(a):
        return 2 * (a & expected).sum() / (a.sum() + expected.sum())

    # edges differ by a coarse voxel (and vessels finer than one are lost), but the outline lies
    # where the CT's does: moved by two voxels along any axis, it agrees less
    assert dice(found) > 0.9, dice(found)
    for axis in range(3):
        for shift in (-2, 2):
            assert dice(found) > dice(np.roll(found, shift, axis=axis)) + 0.01, (axis, shift)


def test_the_nifti_written_for_a_bundle_has_the_geometry_simpleitk_gives_it(tmp_path, chest_ct):
    import nibabel
    import SimpleITK as sitk

    from dicomteach.ai.adapters import write_nifti

    folder = Path(chest_ct.sources[0][0]).parent
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    sitk.WriteImage(reader.Execute(), str(tmp_path / "itk.nii.gz"))
    ours = write_nifti(chest_ct, hounsfield(chest_ct), tmp_path / "ours.nii.gz")
    theirs, mine = nibabel.load(tmp_path / "itk.nii.gz"), nibabel.load(ours)
    np.testing.assert_allclose(mine.affine, theirs.affine, atol=1e-3)
    np.testing.assert_allclose(np.asarray(mine.dataobj), np.asarray(theirs.dataobj), atol=0.5)


def test_find_nodules_takes_a_bundle_and_gives_its_structures_where_they_are(bundle, chest_ct):
    # a CT of air with two dense balls, one high on the right and one low on the left: the
    # bundle's structures come back as two candidates at those places in the patient (LPS)
    pixels = np.full(chest_ct.pixels.shape, -1000, np.int16)
    k, i, j = np.indices(pixels.shape)
    centres = {"right, high": (45, 90, 80), "left, low": (15, 150, 170)}
    for c in centres.values():
        ball = ((k - c[0]) * 2.5) ** 2 + ((i - c[1]) * 1.4) ** 2 + ((j - c[2]) * 1.4) ** 2
        pixels[ball <= 8.0**2] = 40
    stored = ((pixels - chest_ct.rescale_intercept[0]) / chest_ct.rescale_slope[0]).astype(
        chest_ct.pixels.dtype
    )
    from dataclasses import replace

    phantom = replace(chest_ct, pixels=stored)
    found = find_nodules(phantom, model=bundle)
    assert len(found) == 2
    for candidate in found:
        nearest = min(
            np.linalg.norm(np.asarray(candidate.centre_mm) - phantom.index_to_lps(c))
            for c in centres.values()
        )
        assert nearest < 1.0, (candidate.centre_index, centres)
        assert candidate.probability == 1.0
        assert 14.0 < candidate.diameter_mm < 18.0


def test_a_bundle_without_its_weights_says_so_in_one_line(tmp_path):
    folder = make_bundle(tmp_path / "no_weights")
    (folder / "models" / "model.pt").unlink()
    with pytest.raises(ModelError) as error:
        MonaiBundle(folder)
    assert "no weights (models/model.pt)" in str(error.value)
    assert "cannot be downloaded" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ModelError, match="not a folder"):
        MonaiBundle(tmp_path / "nothing here")
    (folder / "configs" / "inference.json").unlink()
    with pytest.raises(ModelError, match="no configs/inference.json"):
        MonaiBundle(folder)


def test_without_monai_the_error_names_the_extra(bundle, chest_ct, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "monai", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'dicomteach\[ai-monai\]'"):
        find_nodules(chest_ct, model=bundle)


def test_totalsegmentator_missing_says_what_to_install(monkeypatch):
    import sys

    from dicomteach.ai.adapters import TotalSegmentator

    # its modules too: another test may have imported them (tests/test_ai_totalsegmentator.py)
    for name in [n for n in sys.modules if n.startswith("totalsegmentator.")] + [
        "totalsegmentator"
    ]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError) as error:
        TotalSegmentator("lung_nodules")
    assert "pip install 'dicomteach[ai-totalseg]'" in str(error.value)
    assert "pip install --no-deps TotalSegmentator nnunetv2" in str(error.value)
    assert "nothing is downloaded" in str(error.value)
