"""The MNI152 (ICBM 2009a, symmetric) brain template the sample MR brain is built from.

nilearn ships, inside its wheel, a 1 mm copy of the ICBM 2009a nonlinear
symmetric template: the skull-stripped T1-weighted average and the grey- and
white-matter probability maps, each 197×233×189 voxels, stored as 8-bit
values (``nilearn/datasets/data/mni_icbm152_*_tal_nlin_sym_09a_converted.nii.gz``).
dicomteach reads those three files with nibabel straight from nilearn's
installed folder and never imports nilearn (which would load scikit-learn and
pandas for nothing). Each file's SHA-256 is checked, so a nilearn release that
changed them cannot silently change the sample bytes a seed writes.

The template is © 1993–2009 Louis Collins, McConnell Brain Imaging Centre,
Montreal Neurological Institute, McGill University; its permission notice is
in ``LICENSES/ICBM152-2009.txt`` and must travel with every copy of the
samples (docs/decisions.md, decision 22).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dicomteach.errors import DicomTeachError

#: File name and SHA-256 of each map in nilearn's data folder (the same bytes in nilearn 0.10–0.14).
FILES: dict[str, tuple[str, str]] = {
    "t1": (
        "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
        "421a10e872fd6cadae7f61d358dffbcc1795a497d61ee76c5dda2503e1a1e9e6",
    ),
    "grey": (
        "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
        "97a5ca69bd24db37a9cb7b32525e1733a209af904129bf1cd36da06d24243bed",
    ),
    "white": (
        "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
        "382d92812de4744f9c86c7a0e4f680dc317a0a50e4da1f0153618a6798c7b7db",
    ),
}
#: The template authors' notice, carried in the Image Comments of every image derived from it.
NOTICE = (
    "Brain derived from the ICBM 2009a Nonlinear Symmetric template (MNI152). "
    "Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, Montreal "
    "Neurological Institute, McGill University. Permission to use, copy, modify, and "
    "distribute this software and its documentation for any purpose and without fee is "
    "hereby granted, provided that the above copyright notice appear in all copies. The "
    "authors and McGill University make no representations about the suitability of this "
    'software for any purpose. It is provided "as is" without express or implied warranty.'
)
#: What to install when nilearn is missing: the extra that lists it in pyproject.toml.
INSTALL_HINT = "pip install 'dicomteach[samples]'"


class TemplateMissingError(DicomTeachError):
    """The MNI152 template the sample MR brain needs is not installed, or not the expected one."""


@dataclass(frozen=True)
class Template:
    """The template's maps on its own 1 mm grid, axes (x, y, z) = (right, anterior, superior).

    ``brain`` is the skull-stripped mask (1 inside), ``grey`` and ``white`` the
    tissue probabilities (0…1); the rest of the brain mask is cerebrospinal
    fluid. ``origin`` is the RAS millimetre position of voxel (0, 0, 0).
    """

    brain: np.ndarray
    grey: np.ndarray
    white: np.ndarray
    origin: tuple[float, float, float]


def template_folder() -> Path:
    """The folder of nilearn's installed data files, found without importing nilearn.

    Raises :class:`TemplateMissingError` when nilearn is not installed.

    >>> template_folder().name
    'data'
    """
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise TemplateMissingError(
            "the sample MR brain is built from the MNI152 template that nilearn ships, and "
            f"nilearn is not installed; install it with {INSTALL_HINT}",
            "mr-brain",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def check() -> None:
    """Raise :class:`TemplateMissingError` unless the three template files are there, unchanged.

    >>> check()
    """
    folder = template_folder()
    for name, digest in FILES.values():
        path = folder / name
        if not path.is_file():
            raise TemplateMissingError(
                f"is missing from the installed nilearn; reinstall it with {INSTALL_HINT}", path
            )
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise TemplateMissingError(
                "is not the MNI152 map the sample MR brain was made with (another nilearn "
                f"release?); install the one pyproject.toml names: {INSTALL_HINT}",
                path,
            )


@functools.lru_cache(maxsize=1)
def load_template() -> Template:
    """The template's brain mask and tissue maps as float32 (read once per process).

    >>> template = load_template()
    >>> template.grey.shape, template.origin
    ((197, 233, 189), (-98.0, -134.0, -72.0))
    >>> bool(template.white.max() <= 1.0)
    True
    """
    import nibabel as nib

    check()
    folder = template_folder()
    maps = {}
    origin = (0.0, 0.0, 0.0)
    for key, (name, _digest) in FILES.items():
        image = nib.load(folder / name)
        affine = np.asarray(image.affine)
        if not np.allclose(affine[:3, :3], np.eye(3)):
            raise TemplateMissingError("is not on a 1 mm RAS grid", folder / name)
        origin = tuple(float(v) for v in affine[:3, 3])
        maps[key] = np.asarray(image.dataobj, dtype=np.float32) / np.float32(255.0)
    brain = (maps["t1"] > 0).astype(np.float32)
    return Template(brain=brain, grey=maps["grey"], white=maps["white"], origin=origin)


__all__ = ["FILES", "Template", "TemplateMissingError", "check", "load_template", "template_folder"]
