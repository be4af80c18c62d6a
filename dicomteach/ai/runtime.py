"""The shipped model files and onnxruntime: load once, check, run on the CPU.

A model is three files in :data:`MODELS` named by the model: ``<name>.onnx``
(the network, exported from PyTorch by :mod:`dicomteach.ai.train`),
``<name>.json`` (:data:`DESCRIPTION_VERSION`: the grid it reads, how its
input is scaled, its thresholds, the digests of the ONNX file and of the
weights it was exported from, and how it was trained) and ``<name>.npz``
(those weights, so that a test can run the same network in PyTorch and
compare). Nothing is fetched: the files ship in the wheel
(docs/decisions.md, decisions 9 and 40).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dicomteach.ai.errors import ModelError, require
from dicomteach.ai.grid import model_input
from dicomteach.io.versioned import read_versioned

#: Folder of the models shipped with dicomteach.
MODELS = Path(__file__).parent / "models"
#: Version of a model's description (``<name>.json``); :func:`load_model` refuses others.
DESCRIPTION_VERSION = 1
#: Slices the network reads at once (onnxruntime's batch).
BATCH_SLICES = 8


@dataclass(frozen=True)
class Description:
    """What ``<name>.json`` says of a model (written by :func:`describe`)."""

    name: str
    spacing: tuple[float, ...]
    """The model's grid (mm): between slices, rows and columns (CT); between rows and columns (film)."""
    context: int
    width: int
    detection_threshold: float
    contour_threshold: float
    onnx_sha256: str
    weights_sha256: str
    training: dict

    @property
    def slices(self) -> int:
        """Slices the network reads for one: the slice and ``context`` either side."""
        return 2 * self.context + 1


def digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, hex.

    >>> digest(model_paths("nodule")["onnx"]) == load_model().description.onnx_sha256
    True
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe(path: str | os.PathLike[str], description: Description) -> Path:
    """Write ``description`` as a model's ``<name>.json`` (the training script calls this)."""
    path = Path(path)
    data = {"version": DESCRIPTION_VERSION, **description.__dict__}
    data["spacing"] = list(description.spacing)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def read_description(path: str | os.PathLike[str]) -> Description:
    """Read a model's ``<name>.json``; :class:`ModelError` naming the file when it cannot.

    >>> description = read_description(model_paths("nodule")["json"])
    >>> description.slices, description.contour_threshold
    (5, 0.5)
    """
    path = Path(path)
    data = read_versioned(
        path,
        what="model description",
        version=DESCRIPTION_VERSION,
        error=ModelError,
        missing=" (reinstall dicomteach, or train)",
    )
    try:
        return Description(
            name=str(data["name"]),
            spacing=tuple(float(v) for v in data["spacing"]),  # type: ignore[arg-type]
            context=int(data["context"]),
            width=int(data["width"]),
            detection_threshold=float(data["detection_threshold"]),
            contour_threshold=float(data["contour_threshold"]),
            onnx_sha256=str(data["onnx_sha256"]),
            weights_sha256=str(data["weights_sha256"]),
            training=dict(data.get("training", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model description lacks or garbles a field ({exc})", path) from None


class Model:
    """A network in onnxruntime with its :class:`Description`: :meth:`probabilities` of a grid."""

    def __init__(self, onnx_path: Path, description: Description) -> None:
        ort = require("onnxruntime", "the AI models", "ai")
        self.path = onnx_path
        self.description = description
        options = ort.SessionOptions()  # type: ignore[attr-defined]
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(  # type: ignore[attr-defined]
                str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail, InvalidProtobuf…
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"onnxruntime cannot load this model ({text})", onnx_path) from None
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """The network's raw output for ``(n, slices, rows, columns)`` (rows, columns ÷ 8)."""
        return self.session.run(None, {self.input_name: batch})[0]

    def probabilities(self, hu: np.ndarray) -> np.ndarray:
        """Probability (0…1) that each voxel of ``hu`` (on the model's grid) is nodule.

        >>> lung = np.full((6, 40, 40), -860.0, np.float32)
        >>> p = load_model().probabilities(lung)
        >>> p.shape, float(p.max()) < 0.1  # clean lung: nothing there
        ((6, 40, 40), True)
        """
        slices, rows, columns = hu.shape
        pad = (0, -rows % 8), (0, -columns % 8)
        padded = np.pad(hu, ((0, 0), *pad), mode="edge")
        out = np.empty((slices, rows, columns), dtype=np.float32)
        context = self.description.context
        for start in range(0, slices, BATCH_SLICES):
            index = np.arange(start, min(start + BATCH_SLICES, slices))
            logits = self.logits(model_input(padded, index, context))[:, 0, :rows, :columns]
            with np.errstate(over="ignore"):  # a very negative logit: exp → inf, probability 0
                out[index] = 1.0 / (1.0 + np.exp(-logits))
        return out


def model_paths(name: str, folder: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """The files of model ``name``: ``onnx``, ``json``, ``npz``, ``log``.

    >>> model_paths("nodule", "/models")["onnx"].as_posix()
    '/models/nodule.onnx'
    """
    base = Path(folder) if folder is not None else MODELS
    return {suffix: base / f"{name}.{suffix}" for suffix in ("onnx", "json", "npz", "log")}


@functools.lru_cache(maxsize=4)
def load_model(name: str = "nodule", folder: str | None = None) -> Model:
    """Model ``name`` from ``folder`` (default: the shipped models), loaded once per process.

    Raises :class:`ModelError` naming the file when a file is missing, is
    not what its description says (its digest differs), or onnxruntime cannot
    load it; :class:`~dicomteach.ai.errors.MissingDependencyError` without
    onnxruntime.

    >>> model = load_model()
    >>> model.description.spacing
    (2.5, 1.25, 1.25)
    >>> load_model("nodule", "/nowhere")
    Traceback (most recent call last):
    ...
    dicomteach.ai.errors.ModelError: /nowhere/nodule.json: no model description here (reinstall dicomteach, or train)
    """
    paths = model_paths(name, folder)
    description = read_description(paths["json"])
    if not paths["onnx"].is_file():
        raise ModelError("no model file here (reinstall dicomteach, or train)", paths["onnx"])
    if digest(paths["onnx"]) != description.onnx_sha256:
        raise ModelError(
            f"not the model {paths['json'].name} describes (its SHA-256 differs)", paths["onnx"]
        )
    return Model(paths["onnx"], description)
