"""Every lesson in notebooks/ runs top to bottom (docs/contributing.md: the gallery is the tests' twin)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_lessons():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        "a kernelspec avoids the kernel dialog"
    )
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    # pictures: PNG outputs (matplotlib), PNGs embedded in HTML (feedback pages), or
    # widgets (what they draw is checked in the browser: tests/browser/test_lessons.py)
    images = sum(
        ("image/png" in o.get("data", {}))
        + o.get("data", {}).get("text/html", "").count("data:image/png")
        + ("application/vnd.jupyter.widget-view+json" in o.get("data", {}))
        for o in outputs
    )
    assert images >= 2, "the lesson shows what it teaches as pictures"
