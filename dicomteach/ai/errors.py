"""What goes wrong when a model is asked to read an image: one line each, the file first."""

from __future__ import annotations

from dicomteach.errors import DicomTeachError


class ModelError(DicomTeachError):
    """A model file is missing, unreadable, or not the model this dicomteach expects."""


class ModelInputError(DicomTeachError):
    """The image cannot be read by the model (not an axial CT stack, too few slices, colour…)."""


class MissingDependencyError(DicomTeachError):
    """A package the feature needs is not installed; the message names the extra to install."""


def require(module: str, feature: str, extra: str) -> object:
    """Import ``module`` for ``feature``, or say in one line which extra installs it.

    >>> require("numpy", "arrays", "ai").__name__
    'numpy'
    >>> require("no_such_package_here", "the nodule model", "ai")
    Traceback (most recent call last):
    ...
    dicomteach.ai.errors.MissingDependencyError: the nodule model needs no_such_package_here: pip install 'dicomteach[ai]'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{feature} needs {module}: pip install 'dicomteach[{extra}]'"
        ) from None
