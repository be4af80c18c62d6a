"""The house style is checked, not hoped for: ruff's lint and format rules (pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [("check", "--output-format", "concise", "."), ("format", "--check", ".")],
    ids=["lint", "format"],
)
def test_ruff_finds_nothing(args: tuple[str, ...]):
    run = _ruff(*args)
    assert run.returncode == 0, (
        f"`ruff {' '.join(args)}` failed; fix it, or run `ruff {args[0]} --fix .` "
        f"/ `ruff format .`:\n{run.stdout}{run.stderr}"
    )
