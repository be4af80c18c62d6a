"""TotalSegmentator behind find_nodules, run by TotalSegmentator itself on tiny models made here.

No TotalSegmentator weights can be downloaded here, so the test writes the two
trained nnU-Net models its ``lung_nodules`` task runs, in the layout and at
the place TotalSegmentator looks for them (``$TOTALSEG_HOME_DIR/nnunet/results``):

- ``Dataset298`` (the ``total`` task at 6 mm, which TotalSegmentator runs
  first to crop the CT to the lungs): here a lung is air, below -500 HU;
- ``Dataset913_lung_nodules``: here the lung is air too, and a nodule
  anything denser than -75 HU (halfway from the phantom's lungs, -850 HU, to
  its calcified nodules, 700 HU: resampling blurs an edge evenly both ways).

Each is a PlainConvUNet of nnU-Net's plans, two stages of two features, with
its weights set by hand so that what it finds is known exactly: the
encoder's first stage computes ``relu(x - t_above)`` and ``relu(t_below - x)``
of the CT (normalised by the plans' intensity properties), the decoder passes
them on, and the segmentation layer makes each a structure's logit against a
small one for the background. TotalSegmentator's own code does everything
else (the crop to the lungs, resampling to 6 and 1.5 mm, nnU-Net's
preprocessing and sliding window, the way back to the CT's grid), so the test
checks what the adapter does on either side and what a user would notice: the
nodules found where they are in the patient, nothing found outside the lungs'
crop, nothing sent to the network.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dicomteach import io
from dicomteach.ai import find_nodules
from dicomteach.ai.errors import MissingDependencyError, ModelError
from dicomteach.ai.grid import hounsfield
from dicomteach.samples.cache import lesson_study

torch = pytest.importorskip("torch")
pytest.importorskip(
    "totalsegmentator.python_api",
    reason="TotalSegmentator and nnU-Net are not installed (scripts/test.sh installs them)",
)
pytest.importorskip("nnunetv2")

from totalsegmentator.map_to_binary import class_map  # noqa: E402

from dicomteach.ai.adapters import TotalSegmentator  # noqa: E402

LUNG_BELOW_HU = -500.0  # the crop model's lungs
NODULE_ABOVE_HU = -75.0  # the nodule model's nodules: halfway from the lungs' air to them
HU_SCALE = 100.0  # the plans' CT normalisation: (HU - 0) / 100
# The trainer class nnU-Net builds the crop model's network with. TotalSegmentator's model was
# trained by nnUNetTrainer_4000epochs_NoMirroring, a subclass that builds the same network; to
# find a subclass, nnU-Net 2.8 imports every trainer module, Primus's among them, which needs timm
# and so torchvision, and no torchvision matching PyTorch's CPU build can be installed here.
CROP_TRAINED_BY = "nnUNetTrainer"


def _plans(dataset: str, spacing: float, patch: list[int]) -> dict:
    return {
        "dataset_name": dataset,
        "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [spacing] * 3,
        "original_median_shape_after_transp": patch,
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {
            "0": {"max": 3000.0, "mean": 0.0, "median": 0.0, "min": -1024.0,
                  "percentile_00_5": -1024.0, "percentile_99_5": 3000.0, "std": HU_SCALE},
        },
        "configurations": {
            "3d_fullres": {
                "data_identifier": "nnUNetPlans_3d_fullres",
                "preprocessor_name": "DefaultPreprocessor",
                "batch_size": 2,
                "patch_size": patch,
                "median_image_size_in_voxels": patch,
                "spacing": [spacing] * 3,
                "normalization_schemes": ["CTNormalization"],
                "use_mask_for_norm": [False],
                "resampling_fn_data": "resample_data_or_seg_to_shape",
                "resampling_fn_seg": "resample_data_or_seg_to_shape",
                "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0,
                                              "force_separate_z": None},
                "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0,
                                             "force_separate_z": None},
                "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
                "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0,
                                                       "force_separate_z": None},
                "architecture": {
                    "network_class_name":
                        "dynamic_network_architectures.architectures.unet.PlainConvUNet",
                    "arch_kwargs": {
                        "n_stages": 2, "features_per_stage": [2, 2],
                        "conv_op": "torch.nn.modules.conv.Conv3d",
                        "kernel_sizes": [[1, 1, 1], [1, 1, 1]],
                        "strides": [[1, 1, 1], [2, 2, 2]],
                        "n_conv_per_stage": [1, 1], "n_conv_per_stage_decoder": [1],
                        "conv_bias": True, "norm_op": None, "norm_op_kwargs": None,
                        "dropout_op": None, "dropout_op_kwargs": None,
                        "nonlin": "torch.nn.ReLU", "nonlin_kwargs": {"inplace": True},
                    },
                    "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
                },
                "batch_dice": False,
            },
        },
    }  # fmt: skip


def make_model(
    results: Path,
    folder: str,
    trainer: str,
    labels: dict[int, str],
    rules: dict[str, tuple[str, float]],
    *,
    spacing: float,
    patch: list[int],
    trained_by: str | None = None,
) -> Path:
    """A trained nnU-Net v2 model that finds each structure of ``rules`` by its density.

    ``rules`` gives at most one structure ``("below", hu)`` and one ``("above", hu)``.
    """
    from dynamic_network_architectures.architectures.unet import PlainConvUNet

    model = results / folder / f"{trainer}__nnUNetPlans__3d_fullres"
    (model / "fold_0").mkdir(parents=True)
    plans = _plans(folder, spacing, patch)
    (model / "plans.json").write_text(json.dumps(plans, indent=1))
    names = {"background": 0} | {name: number for number, name in sorted(labels.items())}
    assert sorted(names.values()) == list(range(len(names)))  # nnU-Net's labels are 0…n-1
    (model / "dataset.json").write_text(
        json.dumps(
            {
                "channel_names": {"0": "CT"},
                "labels": names,
                "numTraining": 1,
                "file_ending": ".nii.gz",
            }
        )  # fmt: skip
    )
    arch = plans["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]
    network = PlainConvUNet(
        input_channels=1,
        num_classes=len(names),
        **{
            key: value for key, value in arch.items() if not key.endswith("_op") and key != "nonlin"
        },
        conv_op=torch.nn.Conv3d,
        nonlin=torch.nn.ReLU,
    )
    with torch.no_grad():
        for p in network.parameters():
            p.zero_()
        first = network.encoder.stages[0][0].convs[0].conv  # feature 0: relu(x - t_above)
        decoder = network.decoder.stages[0].convs[0].conv  # (upsampled 2, skip 2) → 2
        decoder.weight[0, 2] = decoder.weight[1, 3] = 1.0  # passes the skip on
        seg = network.decoder.seg_layers[0]
        seg.bias.fill_(-10.0)  # every other structure: never
        seg.bias[0] = 0.5  # background, unless a structure's feature is above 0.05
        for name, (side, hu) in rules.items():
            feature, sign = (0, 1.0) if side == "above" else (1, -1.0)  # feature 1: relu(t - x)
            first.weight[feature, 0] = sign
            first.bias[feature] = -sign * hu / HU_SCALE
            seg.weight[names[name], feature] = 10.0
            seg.bias[names[name]] = 0.0
    torch.save(
        {
            "network_weights": network.state_dict(),
            "trainer_name": trained_by or trainer,
            "init_args": {"plans": plans, "configuration": "3d_fullres", "fold": 0},
            "inference_allowed_mirroring_axes": None,
        },
        model / "fold_0" / "checkpoint_final.pth",
    )
    return model


def make_weights(
    home: Path, *, nodules: bool = True, crop: bool = True, crop_trained_by: str = CROP_TRAINED_BY
) -> Path:
    """TotalSegmentator's home with the lung_nodules task's two models."""
    results = home / "nnunet" / "results"
    results.mkdir(parents=True)
    # as TotalSegmentator writes it on its first run: usage statistics on
    (home / "config.json").write_text(
        json.dumps({"totalseg_id": "totalseg_test", "send_usage_stats": True,
                    "prediction_counter": 0, "statistics_disclaimer_shown": True})
    )  # fmt: skip
    if crop:  # the whole CT at 6 mm: one patch
        make_model(results, "Dataset298_TotalSegmentator_total_6mm_1559subj",
                   "nnUNetTrainer_4000epochs_NoMirroring", class_map["total"],
                   {"lung_upper_lobe_left": ("below", LUNG_BELOW_HU)}, spacing=6.0,
                   patch=[32, 64, 64], trained_by=crop_trained_by)  # fmt: skip
    if nodules:
        make_model(results, "Dataset913_lung_nodules",
                   "nnUNetTrainer_MOSAIC_1k_QuarterLR_NoMirroring", class_map["lung_nodules"],
                   {"lung": ("below", LUNG_BELOW_HU), "lung_nodules": ("above", NODULE_ABOVE_HU)},
                   spacing=1.5, patch=[64, 64, 64])  # fmt: skip
    return home


@pytest.fixture(scope="module")
def totalseg_home(tmp_path_factory):
    home = make_weights(tmp_path_factory.mktemp("totalseg") / ".totalsegmentator")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOTALSEG_HOME_DIR", str(home))
        patch.delenv("TOTALSEG_WEIGHTS_PATH", raising=False)
        yield home


@pytest.fixture(scope="module")
def chest_ct():
    """The lessons' chest CT of seed 1, 256×256×60: its geometry, for the phantom."""
    return io.load(lesson_study("ct-chest", seed=1, size=256, slices=60) / "baseline" / "ct")


# (slice, row, column) on the 256×256×60 grid, 2.5 × 1.4 × 1.4 mm
LUNGS = {"right": (30, 128, 80), "left": (30, 128, 176)}
NODULES = {"right lung, high": (40, 110, 75), "left lung, low": (20, 150, 180)}
OUTSIDE = (30, 20, 128)  # in front of the lungs: outside the crop TotalSegmentator reads


def ball(shape, centre, radius_mm: float) -> np.ndarray:
    k, i, j = np.indices(shape)
    squared = ((k - centre[0]) * 2.5) ** 2 + ((i - centre[1]) * 1.4) ** 2
    return squared + ((j - centre[2]) * 1.4) ** 2 <= radius_mm**2


@pytest.fixture(scope="module")
def phantom(chest_ct):
    """A chest of fat (-100 HU) with two lungs of air (-850 HU), a calcified 16 mm nodule
    (700 HU) in each, and a third such ball in the fat in front of them."""
    k, i, j = np.indices(chest_ct.pixels.shape)
    hu = np.full(chest_ct.pixels.shape, -100, np.int16)
    for c in LUNGS.values():
        inside = ((k - c[0]) * 2.5 / 50) ** 2 + ((i - c[1]) * 1.4 / 70) ** 2
        hu[inside + ((j - c[2]) * 1.4 / 45) ** 2 <= 1] = -850
    for c in [*NODULES.values(), OUTSIDE]:
        hu[ball(hu.shape, c, 8.0)] = 700
    stored = (hu - chest_ct.rescale_intercept[0]) / chest_ct.rescale_slope[0]
    return replace(chest_ct, pixels=stored.astype(chest_ct.pixels.dtype))


class Recording:
    """The adapter, keeping the map it gave: one run of TotalSegmentator serves two tests."""

    def __init__(self, model):
        self.model, self.maps = model, []

    def probability_map(self, volume, values):
        self.maps.append(self.model.probability_map(volume, values))
        return self.maps[-1]


@pytest.fixture(scope="module")
def run(totalseg_home, phantom):
    """find_nodules with TotalSegmentator on the phantom, and what it sent to the network."""
    import requests

    sent = []
    with pytest.MonkeyPatch.context() as patch:
        for verb in ("get", "post"):
            patch.setattr(requests, verb, lambda *args, **kwargs: sent.append(args))
        model = Recording(TotalSegmentator("lung_nodules"))
        found = find_nodules(phantom, model=model)
    return found, model.maps[0], sent


def test_find_nodules_takes_totalsegmentator_and_gives_the_nodules_where_they_are(run, phantom):
    found, _, sent = run
    centres = [phantom.index_to_lps(c) for c in NODULES.values()]
    assert len(found) == 2, [c.centre_index for c in found]  # not the ball outside the lungs
    for candidate in found:
        nearest = min(np.linalg.norm(np.asarray(candidate.centre_mm) - c) for c in centres)
        assert nearest < 1.0, (candidate.centre_index, NODULES)
        assert candidate.probability == 1.0
        assert 14.0 < candidate.diameter_mm < 18.0
    assert sent == []  # no usage statistics posted, nothing downloaded


def test_totalsegmentators_nodules_come_back_on_the_cts_own_voxels(run, phantom):
    found = run[1] > 0.5
    hu = hounsfield(phantom)
    assert found.shape == hu.shape
    outside = ball(hu.shape, OUTSIDE, 10.0)
    assert not found[outside].any()  # cropped to the lungs: the ball in front is not read
    expected = (hu > NODULE_ABOVE_HU) & ~outside

    def dice(a):
        return 2 * (a & expected).sum() / (a.sum() + expected.sum())

    # resampled to 1.5 mm and back, edges move by a voxel; moved by two along any axis, less so
    assert dice(found) > 0.85, dice(found)
    for axis in range(3):
        for shift in (-2, 2):
            assert dice(found) > dice(np.roll(found, shift, axis=axis)) + 0.05, (axis, shift)


def test_totalsegmentator_without_its_weights_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("TOTALSEG_WEIGHTS_PATH", raising=False)
    with pytest.raises(ModelError) as error:
        TotalSegmentator("lung_nodules")
    message = str(error.value)
    assert "Dataset913_lung_nodules" in message and "cannot be downloaded" in message
    assert "totalseg_download_weights -t lung_nodules" in message and "\n" not in message
    # the nodule model alone is not enough: lung_nodules crops with the total task's 6 mm model
    home = make_weights(tmp_path / "nodules_only", crop=False)
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(home))
    with pytest.raises(ModelError) as error:
        TotalSegmentator("lung_nodules")
    message = str(error.value)
    assert "(Dataset298_TotalSegmentator_total_6mm_1559subj)" in message
    assert "totalseg_download_weights -t total_fast)" in message
    with pytest.raises(ModelError, match="has no structure 'liver'"):
        TotalSegmentator("lung_nodules", structure="liver")
    with pytest.raises(ModelError, match="needs a licence"):
        TotalSegmentator("heartchambers_highres", structure="heart_myocardium")


def test_a_trainer_nnunet_cannot_import_is_named_in_one_line(tmp_path, monkeypatch, phantom):
    import importlib.util

    if importlib.util.find_spec("timm") is not None:
        pytest.skip("timm is installed here: nnU-Net finds every trainer")
    # the crop model as TotalSegmentator ships it: trained by nnUNetTrainer_4000epochs_NoMirroring
    real = "nnUNetTrainer_4000epochs_NoMirroring"
    home = make_weights(tmp_path / ".totalsegmentator", crop_trained_by=real)
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(home))
    with pytest.raises(MissingDependencyError) as error:
        TotalSegmentator("lung_nodules").probability_map(phantom, hounsfield(phantom))
    assert "needs timm" in str(error.value) and "pip install timm" in str(error.value)
    assert "\n" not in str(error.value)
