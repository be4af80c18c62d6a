"""Models that read images beside the learner: trained here, shipped in the wheel, run offline.

Two models so far, built the same way. The lung nodule model: :func:`find_nodules` gives a chest CT's
nodule candidates, each with a probability and an outline (:class:`Candidate`).
It is a small 2.5D U-Net trained by :mod:`dicomteach.ai.train` on patients the
sample library generates (:mod:`dicomteach.ai.cases`), exported to ONNX and
run by onnxruntime on the CPU (:mod:`dicomteach.ai.runtime`); PyTorch is
needed only to train it. Its model card, with the held-out evaluation
(:mod:`dicomteach.ai.evaluate`) and its known errors
(:mod:`dicomteach.ai.known_errors`), is docs/ai.md; why it is built this way,
docs/decisions.md, decision 40. A model the hospital already has goes behind
the same function: ``find_nodules(ct, model=MonaiBundle(folder))``
(:mod:`dicomteach.ai.adapters`).

The chest radiograph triage model: :func:`triage_radiograph` gives a PA
chest radiograph (CR or DX) a score (0…1: a nodule or mass is there) and a
heat map at the film's size (:class:`Triage`). The same small U-Net with one
channel in, reading the film averaged down to 1.2 mm pixels
(:func:`dicomteach.ai.grid.film_grid`), trained by ``python -m
dicomteach.ai.train --task triage`` on films the sample library makes of its
patients with and without lung findings (:mod:`dicomteach.ai.films`), judged
on other patients filmed by another kind of device (``python -m
dicomteach.ai.evaluate --task triage``: AUC with its bootstrap interval).

This layer sits beside ``grading``: it reads ``Volume``s (``io``, ``imaging``)
and scores with ``scoring``; nothing below it imports it, and it imports no
widget.
"""

from __future__ import annotations

from dicomteach.ai.adapters import MonaiBundle
from dicomteach.ai.changes import Changes, find_changes
from dicomteach.ai.errors import MissingDependencyError, ModelError, ModelInputError
from dicomteach.ai.nodules import Candidate, find_nodules
from dicomteach.ai.runtime import Model, load_model
from dicomteach.ai.triage import Triage, triage_radiograph

__all__ = [
    "Candidate",
    "Changes",
    "MissingDependencyError",
    "Model",
    "ModelError",
    "ModelInputError",
    "MonaiBundle",
    "Triage",
    "find_changes",
    "find_nodules",
    "load_model",
    "triage_radiograph",
]
