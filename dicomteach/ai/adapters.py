"""Models a hospital already has, behind the same door as ours: ``find_nodules(ct, model=...)``.

A department that runs a MONAI bundle (MONAI's format for a trained model:
its network, weights and pre- and post-processing in ``configs/``) can show
its own model to learners in place of dicomteach's:

    >>> bundle = MonaiBundle("/data/models/my_lung_nodule_bundle", label=1)  # doctest: +SKIP
    >>> find_nodules(ct, model=bundle)                                       # doctest: +SKIP

:class:`MonaiBundle` runs the bundle's own inference workflow (MONAI's
``ConfigWorkflow``, as ``python -m monai.bundle run`` does) on the CT written
as NIfTI, reads the segmentation it saves, puts it back on the CT's voxels
through both files' geometry, and gives the structure ``label`` as a map
that :func:`~dicomteach.ai.nodules.find_nodules` turns into candidates, each
with a probability (1.0 for a bundle that saves labels, the bundle's own for
one that saves probabilities) and an outline.

:class:`TotalSegmentator` does the same with TotalSegmentator's own Python
API, for a task whose structures include what is to be found (by default
``lung_nodules``, structure ``lung_nodules``), with its usage statistics off
(docs/ai.md: installing it without PyTorch's CUDA build).

Nothing is downloaded (docs/decisions.md, decisions 9 and 40): the bundle's
weights must already be in its folder, TotalSegmentator's in its weights
folder, and a missing package, folder, file or weight is a one-line error
that says what to do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dicomteach.ai.errors import ModelError, ModelInputError, require
from dicomteach.io.volume import Volume

if TYPE_CHECKING:
    import nibabel

__all__ = [
    "MonaiBundle",
    "TotalSegmentator",
    "nifti_affine",
    "nifti_image",
    "on_volume_grid",
    "write_nifti",
]

# NIfTI's world is RAS, DICOM's LPS: the first two axes change sign
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def nifti_affine(volume: Volume) -> np.ndarray:
    """The NIfTI affine (RAS) of ``volume`` stored as ``(columns, rows, slices)``.

    NIfTI's first index runs fastest along a row, so the array is stored
    transposed and the affine's columns are the volume's axes in reverse.

    >>> vol = Volume(np.zeros((3, 4, 5), np.int16), (2.5, 0.5, 0.7), (10.0, 20.0, 30.0),
    ...              np.eye(3)[::-1])
    >>> nifti_affine(vol).round(2).tolist()
    [[-0.7, 0.0, 0.0, -10.0], [0.0, -0.5, 0.0, -20.0], [0.0, 0.0, 2.5, 30.0], [0.0, 0.0, 0.0, 1.0]]
    """
    index_to_lps = volume.affine  # (k, i, j) → LPS
    reverse = np.eye(4)[[2, 1, 0, 3]]  # (x, y, z) = (j, i, k)
    return _LPS_TO_RAS @ index_to_lps @ reverse


def nifti_image(volume: Volume, values: np.ndarray) -> nibabel.Nifti1Image:
    """``values`` (on ``volume``'s voxels) as an in-memory NIfTI image with ``volume``'s geometry.

    >>> vol = Volume(np.zeros((3, 4, 5), np.int16), (2.5, 0.5, 0.7), (10.0, 20.0, 30.0), np.eye(3))
    >>> image = nifti_image(vol, np.zeros((3, 4, 5), np.float32))
    >>> image.shape, image.header.get_xyzt_units()[0]
    ((5, 4, 3), 'mm')
    """
    import nibabel as nib  # a dependency, imported when a model is run: `dicomteach.ai` stays light

    image = nib.Nifti1Image(
        np.ascontiguousarray(np.transpose(values, (2, 1, 0))), nifti_affine(volume)
    )
    image.header.set_xyzt_units("mm")
    return image


def write_nifti(volume: Volume, values: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write ``values`` (on ``volume``'s voxels) as a NIfTI file with ``volume``'s geometry."""
    import nibabel as nib

    path = Path(path)
    nib.save(nifti_image(volume, values), str(path))
    return path


def on_volume_grid(
    data: np.ndarray, affine: np.ndarray, volume: Volume, *, order: int = 0
) -> np.ndarray:
    """A NIfTI array (x, y, z) with its RAS ``affine``, sampled at ``volume``'s voxel centres.

    Nearest neighbour by default (labels); ``order=1`` for probabilities.
    Voxels outside the NIfTI's extent are 0.

    >>> vol = Volume(np.zeros((3, 4, 5), np.int16), (2.5, 0.5, 0.7), (10.0, 20.0, 30.0), np.eye(3))
    >>> values = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    >>> back = on_volume_grid(np.transpose(values, (2, 1, 0)), nifti_affine(vol), vol)
    >>> bool((back == values).all())
    True
    """
    from scipy import ndimage

    to_nifti = np.linalg.inv(affine) @ _LPS_TO_RAS @ volume.affine  # (k, i, j) → (x, y, z)
    if np.allclose(to_nifti, np.eye(4)[[2, 1, 0, 3]], atol=1e-4) and data.shape[::-1] == tuple(
        volume.pixels.shape[:3]
    ):
        return np.ascontiguousarray(np.transpose(data, (2, 1, 0)))  # the same grid: no sampling
    out = np.empty(volume.pixels.shape[:3], dtype=np.float32 if order else data.dtype)
    rows, columns = np.meshgrid(
        np.arange(volume.rows, dtype=float), np.arange(volume.columns, dtype=float), indexing="ij"
    )
    for k in range(volume.n_frames):  # a slice at a time: bounded memory on a large CT
        voxels = np.stack([np.full_like(rows, k), rows, columns, np.ones_like(rows)], axis=-1)
        at = (voxels.reshape(-1, 4) @ to_nifti.T)[:, :3].T
        out[k] = ndimage.map_coordinates(data, at, order=order, mode="constant", cval=0).reshape(
            rows.shape
        )
    return out


class MonaiBundle:
    """A MONAI bundle in a local folder, run on the CPU by its own inference workflow.

    Parameters
    ----------
    folder
        The bundle: ``configs/inference.json`` (or ``.yaml``), usually
        ``configs/metadata.json``, and the weights its configuration loads
        (``models/model.pt`` in MONAI's model zoo).
    label
        The structure to find: its value in the saved segmentation (a label
        map), or its channel (a map of probabilities).
    config
        The inference configuration, relative to the bundle.
    weights
        The weights the configuration loads, relative to the bundle: checked
        before anything runs, as nothing can be downloaded.

    Raises
    ------
    MissingDependencyError
        MONAI (or pytorch-ignite, which MONAI's workflows run on) is not
        installed: ``pip install 'dicomteach[ai-monai]'``.
    ModelError
        The folder, its configuration or its weights are missing.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        label: int = 1,
        config: str = "configs/inference.json",
        weights: str = "models/model.pt",
    ):
        self.folder = Path(folder)
        self.label = int(label)
        if not self.folder.is_dir():
            raise ModelError(
                "no MONAI bundle here: not a folder; copy the bundle there", self.folder
            )
        self.config = self.folder / config
        if not self.config.is_file() and self.config.suffix == ".json":
            yaml = self.config.with_suffix(".yaml")
            self.config = yaml if yaml.is_file() else self.config
        if not self.config.is_file():
            raise ModelError(
                f"this MONAI bundle has no {config}: a bundle's inference configuration",
                self.folder,
            )
        self.weights = self.folder / weights
        if not self.weights.is_file():
            raise ModelError(
                f"this MONAI bundle has no weights ({weights}); copy them into the bundle, "
                "they cannot be downloaded here",
                self.folder,
            )
        metadata = self.folder / "configs" / "metadata.json"
        self.metadata = metadata if metadata.is_file() else None
        self.name = self.folder.name

    def __repr__(self) -> str:
        return f"MonaiBundle({str(self.folder)!r}, label={self.label})"

    def probability_map(self, volume: Volume, values: np.ndarray) -> np.ndarray:
        """The bundle's map of structure ``label`` on ``volume``'s voxels (float32, 0 to 1).

        ``values`` are what the bundle reads: the CT's Hounsfield units.
        """
        require("monai", "a MONAI bundle", "ai-monai")
        require("ignite", "a MONAI bundle's inference workflow", "ai-monai")
        import nibabel as nib
        from monai.bundle import ConfigWorkflow

        with tempfile.TemporaryDirectory(prefix="dicomteach-monai-") as work:
            inputs, outputs = Path(work, "images"), Path(work, "outputs")
            inputs.mkdir()
            outputs.mkdir()
            image = write_nifti(volume, values.astype(np.float32), inputs / "image.nii.gz")
            workflow = ConfigWorkflow(
                config_file=str(self.config),
                meta_file=str(self.metadata) if self.metadata else None,
                logging_file=None,
                workflow_type="infer",
                bundle_root=str(self.folder),
                dataset_dir=str(inputs),
                output_dir=str(outputs),
                device="$torch.device('cpu')",
            )
            workflow.dataset_data = [{"image": str(image)}]  # where the bundle defines it
            workflow.initialize()
            try:
                workflow.run()
            finally:
                workflow.finalize()
            saved = sorted(p for p in outputs.rglob("*.nii*") if p.is_file())
            if not saved:
                raise ModelError(
                    "the MONAI bundle saved no segmentation in its output_dir: its postprocessing "
                    "needs a SaveImaged into @output_dir",
                    self.folder,
                )
            result = nib.load(str(saved[0]))
            data = np.asarray(result.dataobj)
            affine = result.affine
        return self._structure(data, affine, volume)

    def _structure(self, data: np.ndarray, affine: np.ndarray, volume: Volume) -> np.ndarray:
        if data.ndim == 4:  # channels last (x, y, z, c): the bundle saved probabilities
            if self.label >= data.shape[3]:
                raise ModelInputError(
                    f"label {self.label}: the bundle's output has {data.shape[3]} channels",
                    self.folder,
                )
            return on_volume_grid(data[..., self.label].astype(np.float32), affine, volume, order=1)
        if data.ndim != 3:
            raise ModelError(f"the bundle's output has {data.ndim} dimensions", self.folder)
        labels = on_volume_grid(np.rint(data).astype(np.int32), affine, volume)
        return (labels == self.label).astype(np.float32)


def _no_stats(*args, **kwargs) -> None:
    """In place of TotalSegmentator's ``send_usage_stats`` while it runs for dicomteach."""


def _task_ids(configs: dict, task: str) -> list:
    """The nnU-Net datasets a TotalSegmentator task runs (its default mode), in the order it runs
    them: first the model it crops with, as TotalSegmentator's Python API chooses it."""
    raw = configs[task]
    config = {**raw, **raw.get("sub_modes", {}).get("default", {})}
    ids = config["task_id"] if isinstance(config["task_id"], list) else [config["task_id"]]
    crop = config.get("crop")
    before = []
    if crop is not None or config.get("cascade"):
        if config.get("crop_model"):
            before = _task_ids(configs, config["crop_model"])
        elif crop is not None and {"body_trunc", "body_extremities"} & set(crop):
            before = [300]  # the body task at 6 mm
        elif task.endswith("_mr"):
            before = [852]  # total_mr at 3 mm
        else:
            before = [297 if config.get("robust_crop") else 298]  # total at 3 or 6 mm
    after = [305] if task == "vertebrae_pp_refined" else []
    return [*before, *ids, *after]


def _download_commands(folders: list[str], task: str) -> str:
    """What fetches ``folders`` on a machine with network: TotalSegmentator's own command, with
    for each the smallest of its download tasks that holds it (lung_nodules crops with
    ``total_fast``'s 6 mm model, which ``-t lung_nodules`` leaves out)."""
    try:
        from totalsegmentator.bin.totalseg_download_weights import TASK_TO_ID
        from totalsegmentator.map_tasks_config import TASK_ID_WEIGHTS_CONFIGS
    except ImportError:
        return f"totalseg_download_weights -t {task}"
    tasks: list[str] = []
    for i, config in TASK_ID_WEIGHTS_CONFIGS.items():
        if config.get("foldername") in {Path(f).name for f in folders}:
            holding = [t for t, ids in TASK_TO_ID.items() if i in ids]
            best = min(holding, key=lambda t: (t != task, len(TASK_TO_ID[t])), default=task)
            tasks += [] if best in tasks else [best]
    return ", then ".join(f"totalseg_download_weights -t {t}" for t in tasks or [task])


class TotalSegmentator:
    """TotalSegmentator (installed with its weights), one structure of one task, on the CPU.

    Parameters
    ----------
    task
        A TotalSegmentator task (``lung_nodules``, ``total``, …).
    structure
        The structure of that task to give as candidates (its class name).

    Raises
    ------
    MissingDependencyError
        TotalSegmentator is not installed: the ``ai-totalseg`` extra, then
        TotalSegmentator, nnU-Net, dynamic-network-architectures and
        dicom2nifti with ``--no-deps`` (what they declare brings PyTorch's
        CUDA build, VTK and dipy; docs/ai.md), or a module nnU-Net imports
        as it runs is missing.
    ModelError
        The task is unknown, the structure is not one of its classes, or its
        weights (and those of the task it crops with) are not in
        TotalSegmentator's weights folder.
    """

    def __init__(self, task: str = "lung_nodules", structure: str = "lung_nodules"):
        self.task, self.structure = task, structure
        try:
            from totalsegmentator.config import get_weights_dir, has_valid_license_offline
            from totalsegmentator.map_tasks_config import TASK_CONFIGS, TASK_ID_WEIGHTS_CONFIGS
            from totalsegmentator.map_to_binary import class_map
        except ImportError:
            from dicomteach.ai.errors import MissingDependencyError

            raise MissingDependencyError(
                f"TotalSegmentator's {task} needs the totalsegmentator package: "
                "pip install 'dicomteach[ai-totalseg]' && pip install --no-deps TotalSegmentator "
                "nnunetv2 dynamic-network-architectures dicom2nifti (docs/ai.md), its weights "
                "copied in: nothing is downloaded"
            ) from None
        if task not in TASK_CONFIGS or task not in class_map:
            raise ModelError(f"TotalSegmentator has no task {task!r}")
        labels = {name: number for number, name in class_map[task].items()}
        if structure not in labels:
            raise ModelError(f"TotalSegmentator's {task} has no structure {structure!r}")
        self.label = int(labels[structure])
        if TASK_CONFIGS[task].get("commercial") and has_valid_license_offline()[0] != "yes":
            raise ModelError(  # else TotalSegmentator prints where to get one and exits Python
                f"TotalSegmentator's {task} needs a licence: set its number with "
                "totalseg_set_license -l <number>"
            )
        weights = Path(get_weights_dir())

        def folder(i) -> Path:
            config = TASK_ID_WEIGHTS_CONFIGS.get(i, {})
            return Path(config.get("rel_path", ""), config.get("foldername", f"Dataset{i}"))

        missing = [str(folder(i)) for i in _task_ids(TASK_CONFIGS, task)]
        missing = [name for name in missing if not (weights / name).is_dir()]
        if missing:
            raise ModelError(
                f"TotalSegmentator's weights for {task} are not here ({', '.join(missing)}); "
                f"copy them in from a machine with network ({_download_commands(missing, task)}"
                "): they cannot be downloaded here",
                weights,
            )
        self.name = f"TotalSegmentator {task}"

    def __repr__(self) -> str:
        return f"TotalSegmentator(task={self.task!r}, structure={self.structure!r})"

    def probability_map(self, volume: Volume, values: np.ndarray) -> np.ndarray:
        """TotalSegmentator's ``structure`` on ``volume``'s voxels (1.0 inside, 0.0 outside)."""
        from totalsegmentator import python_api

        image = nifti_image(volume, values.astype(np.float32))
        # nothing leaves the machine (docs/decisions.md, decision 9): TotalSegmentator posts each
        # run's task and options to its authors' server unless its config.json says not to
        send_usage_stats, python_api.send_usage_stats = python_api.send_usage_stats, _no_stats
        try:  # one process each to resample and to save (the default is six): a shared CPU
            result = python_api.totalsegmentator(
                image, None, task=self.task, ml=True, device="cpu", quiet=True,
                nr_thr_resamp=1, nr_thr_saving=1,
            )  # fmt: skip
        except ModuleNotFoundError as error:  # nnU-Net imports some of its own only now
            from dicomteach.ai.errors import MissingDependencyError

            raise MissingDependencyError(
                f"TotalSegmentator's {self.task} needs {error.name}, which nnU-Net imports as it "
                f"loads the model: pip install {error.name} (built for this PyTorch; docs/ai.md)"
            ) from None
        finally:
            python_api.send_usage_stats = send_usage_stats
        data = np.asarray(result.dataobj)
        labels = on_volume_grid(np.rint(data).astype(np.int32), result.affine, volume)
        return (labels == self.label).astype(np.float32)
