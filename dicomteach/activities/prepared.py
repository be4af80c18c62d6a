"""What grading needs of an answer key, read once for a class and kept beside the key.

nbgrader autogrades each submission in a fresh kernel, so every
``grade("name")`` would decode the study's DICOM files (headers, compressed
frames) and the reference's again: more time than grading the answer. The
first grading process to need them keeps them in the course's reference
folder, where only the instructor's processes look
(docs/decisions.md, decisions 4 and 28):

* ``<key folder>/.prepared/study-<digest>/``: the study's Volume as
  :mod:`dicomteach.io.stored` writes it, read back memory-mapped (only the
  slices a feedback picture shows are read from disk);
* ``<key folder>/.prepared/<name>-<digest>/reference.npz``: for a
  :class:`~dicomteach.activities.Delineate`, the reference's masks on that
  image, one per structure;
* ``<key folder>/.prepared/model.candidates-<digest>/candidates.npz``: for an activity
  on the nodule model's marks (:class:`~dicomteach.activities.SecondReader`,
  :class:`~dicomteach.activities.CritiqueAI`), every candidate the model
  found on the study (:func:`dicomteach.ai.find_nodules`), its digest
  covering the study's and the model's (its ONNX file's SHA-256): the model
  runs once for a class, not once per learner (a dot in its name: no activity has one);
* ``<key folder>/.prepared/<name>-<digest>/experts.npz``: for one outlined by
  several experts, each expert's masks and their spread (STAPLE consensus and
  scores, :func:`dicomteach.grading.prepare_experts`), per structure: no
  expert's SEG is decoded, and no STAPLE run, per learner;
* ``<key folder>/.prepared/<name>-<digest>/worklist.npz``: for a
  :class:`~dicomteach.activities.Worklist`, each case's AI score and flag
  (the triage model on a radiograph, the nodule model on a CT) and its
  thumbnail, the digest covering the studies and both models' ONNX files: no
  study is read, and no model run, per learner.

A digest covers what the entry was made from: the formats' versions,
dicomteach's version, the key file's bytes, and the path, size and
modification time of every file of the study and of the reference. A changed
key, study or reference is read again; older entries of the same activity are
removed. The folder can be deleted at any time. Where it cannot be written,
or an entry cannot be read, grading reads the files as before: preparing
never changes a grade, only how long it takes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from dicomteach.activities.base import Activity

__all__ = ["PREPARED_FOLDER", "PREPARED_VERSION", "prepare"]

PREPARED_FOLDER = ".prepared"
"""The folder beside the answer keys where their prepared entries are kept."""

PREPARED_VERSION = 1
"""Version of the entries' layout (the stored volume has its own, in its digest too)."""


def prepare(activity: Activity, folder: str | os.PathLike[str]) -> bool:
    """Give ``activity`` its study, and a delineation's reference masks, from ``folder``.

    Made there from the files on first use (written atomically: a folder
    renamed into place). True when the activity now holds them; False when
    it has nothing to prepare (built in Python, on a Volume) or the files
    could not be read (grading then reads them and says what is wrong).
    Never raises for a folder it cannot write.
    """
    if activity.source is not None and _is_worklist(activity):
        return _prepare_worklist(activity, Path(folder))
    if activity.source is None or activity.study is None:
        return False
    folder = Path(folder)
    study = activity.study.resolve()
    study_digest = _digest(_version(), [study])
    volume = _load_or_make(
        folder / f"study-{study_digest}", lambda entry: _save_study(activity, entry), _load_study
    )
    if volume is None:
        return False
    activity._volume = volume
    if _reads_with_the_model(activity):
        _prepare_candidates(activity, folder, study_digest)
    experts = _expert_files(activity)
    location = None if experts else _reference_file(activity)
    if experts:
        files, attribute, load = experts, "_prepared_experts", _load_experts
        make = lambda target: _save_experts(activity, experts, target)  # noqa: E731
    elif location is not None:
        files, attribute, load = [location], "_prepared_reference", _load_reference
        make = lambda target: _save_reference(activity, location, target)  # noqa: E731
    else:
        return True
    key_digest = _digest(
        study_digest + Path(activity.source).read_bytes().hex(), [*files, activity.source]
    )
    entry = folder / f"{activity.name}-{key_digest}"
    found = _load_or_make(entry, make, load)
    if found is None:
        return False
    setattr(activity, attribute, found)
    _remove_older(folder, activity.name, entry)
    return True


def _is_worklist(activity: Activity) -> bool:
    from dicomteach.activities.worklist import Worklist

    return isinstance(activity, Worklist)


def _prepare_worklist(activity: Any, folder: Path) -> bool:
    """A worklist's AI scores and thumbnails, made once per set of studies and models."""
    from dicomteach.ai import load_model

    shas = " ".join(load_model(name).description.onnx_sha256 for name in ("nodule", "triage"))
    studies = [c.resolve() for c in activity.cases]
    digest = _digest(f"{_version()} {shas} worklist", studies)
    entry = folder / f"{activity.name}-{digest}"
    found = _load_or_make(entry, lambda staging: _save_worklist(activity, staging), _load_worklist)
    if found is None:
        return False
    activity._prepared_scores, activity._prepared_thumbnails = found
    _remove_older(folder, activity.name, entry)
    return True


def _save_worklist(activity: Any, staging: Path | None) -> Any:
    scores = activity.scores()
    thumbnails = activity.thumbnails()
    if staging is not None:
        arrays = {f"thumbnail_{n}": t for n, t in enumerate(thumbnails)}
        with open(staging / "worklist.npz", "wb") as fh:
            np.savez_compressed(
                fh,
                score=np.array([s for s, _ in scores], float),
                flagged=np.array([f for _, f in scores], bool),
                **arrays,
            )
    return scores, thumbnails


def _load_worklist(entry: Path) -> Any:
    with np.load(entry / "worklist.npz", allow_pickle=False) as stored:
        scores = [
            (float(s), bool(f)) for s, f in zip(stored["score"], stored["flagged"], strict=True)
        ]
        thumbnails = [stored[f"thumbnail_{n}"] for n in range(len(scores))]
    return scores, thumbnails


def _reads_with_the_model(activity: Activity) -> bool:
    from dicomteach.activities.ai_reading import _ModelMarks

    return isinstance(activity, _ModelMarks)


def _prepare_candidates(activity: Activity, folder: Path, study_digest: str) -> None:
    """The model's candidates on the study, made once per study and model, kept in ``folder``."""
    from dicomteach.ai import load_model

    sha = load_model().description.onnx_sha256
    entry = (
        folder
        / f"model.candidates-{hashlib.sha256(f'{study_digest} {sha}'.encode()).hexdigest()[:16]}"
    )
    found = _load_or_make(
        entry, lambda staging: _save_candidates(activity, staging), _load_candidates
    )
    if found is not None:
        activity._prepared_candidates = found  # type: ignore[attr-defined]


def _save_candidates(activity: Activity, staging: Path | None) -> Any:
    from dicomteach.activities.ai_reading import model_candidates

    found = model_candidates(activity.volume)
    if staging is not None:
        arrays: dict[str, np.ndarray] = {
            "count": np.array(len(found), np.int64),
            "probability": np.array([c.probability for c in found], float),
            "centre_index": np.array([c.centre_index for c in found], float).reshape(-1, 3),
            "centre_mm": np.array([c.centre_mm for c in found], float).reshape(-1, 3),
            "box": np.array([[[b.start, b.stop] for b in c.box] for c in found], np.int64).reshape(
                -1, 3, 2
            ),
            "diameter_mm": np.array([c.diameter_mm for c in found], float),
            "volume_ml": np.array([c.volume_ml for c in found], float),
        }
        for n, c in enumerate(found):
            arrays[f"mask_{n}"] = np.asarray(c.mask, bool)
        with open(staging / "candidates.npz", "wb") as fh:
            np.savez_compressed(fh, **arrays)
    return found


def _load_candidates(entry: Path) -> Any:
    from dicomteach.ai import Candidate

    found = []
    with np.load(entry / "candidates.npz", allow_pickle=False) as stored:
        for n in range(int(stored["count"])):
            found.append(
                Candidate(
                    probability=float(stored["probability"][n]),
                    centre_index=tuple(float(v) for v in stored["centre_index"][n]),  # type: ignore[arg-type]
                    centre_mm=tuple(float(v) for v in stored["centre_mm"][n]),  # type: ignore[arg-type]
                    box=tuple(slice(int(a), int(b)) for a, b in stored["box"][n]),  # type: ignore[arg-type]
                    mask=stored[f"mask_{n}"],
                    diameter_mm=float(stored["diameter_mm"][n]),
                    volume_ml=float(stored["volume_ml"][n]),
                )
            )
    return found


def _version() -> str:
    from dicomteach.io.stored import STORED_VOLUME_VERSION

    try:
        from importlib.metadata import version

        package = version("dicomteach")
    except Exception:  # run from a source tree that was never installed
        package = "unknown"
    return f"prepared {PREPARED_VERSION} stored {STORED_VOLUME_VERSION} dicomteach {package}"


def _digest(seed: str, paths: list[Path]) -> str:
    """Sixteen hex digits from ``seed`` and the path, size and mtime of every file under ``paths``."""
    digest = hashlib.sha256(seed.encode())
    for path in paths:
        path = Path(path).absolute()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            stat = file.stat()
            digest.update(f"\0{file}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _reference_file(activity: Activity) -> Path | None:
    """The file of a delineation's reference, if the activity is one and has it."""
    from dicomteach.activities.delineate import Delineate, Experts

    if not isinstance(activity, Delineate) or activity.reference is None:
        return None
    if isinstance(activity.reference, Experts):
        return None  # several experts' files: graded from them (their consensus is made then)
    return activity.reference.resolve()


def _expert_files(activity: Activity) -> list[Path]:
    """The experts' files of a delineation graded against several experts, else []."""
    from dicomteach.activities.delineate import Delineate, Experts

    if not isinstance(activity, Delineate) or not isinstance(activity.reference, Experts):
        return []
    return list(activity.reference.resolve())


def _save_experts(activity: Activity, files: list[Path], staging: Path | None) -> Any:
    """Each structure's experts read and their spread computed; stored as plain arrays."""
    from dicomteach.grading import prepare_experts
    from dicomteach.scoring.consensus import spread_arrays

    found = {}
    arrays: dict[str, np.ndarray] = {}
    for number, (name, expert_structure) in enumerate(activity.expert_structures()):
        ready = prepare_experts(
            files,
            image=activity.volume,
            structure=expert_structure,
            tolerance_mm=activity.tolerance_mm,
        )
        found[name] = ready
        arrays[f"s{number}_name"] = np.array(name, dtype=str)
        arrays[f"s{number}_masks"] = np.stack([np.asarray(m, bool) for m in ready.masks])
        arrays[f"s{number}_spacing"] = np.array(ready.spacing_mm, float)
        arrays[f"s{number}_tolerance"] = np.array(ready.tolerance_mm, float)
        for key, value in spread_arrays(ready.spread).items():
            arrays[f"s{number}_{key}"] = value
    if staging is not None:
        with open(staging / "experts.npz", "wb") as fh:
            np.savez_compressed(fh, count=np.array(len(found), np.int64), **arrays)
    return found


def _load_experts(entry: Path) -> Any:
    from dicomteach.grading import PreparedExperts
    from dicomteach.scoring.consensus import spread_from_arrays

    found = {}
    with np.load(entry / "experts.npz", allow_pickle=False) as stored:
        for number in range(int(stored["count"])):
            prefix = f"s{number}_"
            part = {k[len(prefix) :]: stored[k] for k in stored.files if k.startswith(prefix)}
            found[str(part["name"])] = PreparedExperts(
                tuple(part["masks"]),
                tuple(float(s) for s in part["spacing"]),
                float(part["tolerance"]),
                spread_from_arrays(part),
            )
    return found


def _load_or_make(entry: Path, make, load) -> Any:
    """``load(entry)``; when it is missing or unreadable, ``make`` it beside and rename it in."""
    if entry.is_dir():
        try:
            return load(entry)
        except Exception:  # damaged or half-removed: made again below
            shutil.rmtree(entry, ignore_errors=True)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    except OSError:
        staging = None
    try:
        made = make(staging)
    except Exception:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        return None
    if staging is not None:
        try:
            staging.rename(entry)
        except OSError:  # another process made it first, or the folder is read-only
            shutil.rmtree(staging, ignore_errors=True)
    return made


def _save_study(activity: Activity, staging: Path | None) -> Any:
    from dicomteach.io.stored import load_volume, save_volume

    volume = activity.volume  # read from the DICOM files
    if staging is None:
        return volume
    save_volume(volume, staging)
    return load_volume(staging)  # the pages just written, memory-mapped


def _load_study(entry: Path) -> Any:
    from dicomteach.io.stored import load_volume

    return load_volume(entry)


def _save_reference(activity: Activity, location: Path, staging: Path | None) -> Any:
    from dicomteach.roi import load_structures

    found = load_structures(location, image=activity.volume)
    if staging is not None:
        numbers = sorted(found.masks)
        with open(staging / "reference.npz", "wb") as fh:
            np.savez_compressed(
                fh,
                numbers=np.array(numbers, np.int64),
                names=np.array([found.names.get(n, "") for n in numbers], dtype=str),
                spacing=np.array(found.spacing, float),
                **{f"mask_{n}": np.asarray(found.masks[n], bool) for n in numbers},
            )
    return found


def _load_reference(entry: Path) -> Any:
    from dicomteach.roi import Structures

    with np.load(entry / "reference.npz", allow_pickle=False) as stored:
        numbers = [int(n) for n in stored["numbers"]]
        masks = {n: stored[f"mask_{n}"] for n in numbers}
        names = dict(zip(numbers, (str(s) for s in stored["names"]), strict=True))
        spacing = tuple(float(s) for s in stored["spacing"])
    return Structures(masks, names, spacing, str(entry / "reference.npz"))


def _remove_older(folder: Path, name: str, keep: Path) -> None:
    """Remove the other entries of activity ``name`` (``<name>-<16 hex digits>``)."""
    for old in folder.glob(f"{name}-*"):
        tag = old.name[len(name) + 1 :]
        if old != keep and len(tag) == 16 and all(c in "0123456789abcdef" for c in tag):
            with contextlib.suppress(OSError):
                shutil.rmtree(old)
