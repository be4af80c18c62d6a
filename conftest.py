"""The docstring examples of modules whose optional packages are missing are not collected.

``pytest`` runs every module's examples (``--doctest-modules``); a module that
imports PyTorch (training and export, ``pip install 'dicomteach[ai-train]'``)
or onnxruntime (``dicomteach[ai]``) at its top cannot even be imported
without it, so its examples are left out, as the tests that need them skip.
"""

from __future__ import annotations

import importlib.util

#: Modules (relative to this folder) and the package each needs.
NEEDS = {
    "dicomteach/ai/network.py": "torch",
    "dicomteach/ai/runtime.py": "onnxruntime",
    "dicomteach/ai/nodules.py": "onnxruntime",
    "dicomteach/ai/triage.py": "onnxruntime",
}

collect_ignore = [
    path for path, package in NEEDS.items() if importlib.util.find_spec(package) is None
]
