"""The house style is checked, not hoped for: ruff's lint and format rules (pyproject.toml)."""

from __future__ import annotations

import shutil
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


TSC = ROOT / "node_modules" / ".bin" / "tsc"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_widget_modules_type_check():
    """The widgets' ES modules pass TypeScript's checkJs (tsconfig.json: strict, no emit)."""
    assert TSC.exists(), (
        f"{TSC} is missing: install the pinned TypeScript with `npm ci` (scripts/test.sh does it)"
    )
    run = subprocess.run(
        [str(TSC), "-p", "tsconfig.json"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"tsc -p tsconfig.json found problems:\n{run.stdout}{run.stderr}"


def test_the_repository_tracks_no_symbolic_link():
    # a link to a folder of this machine (a worktree's .venv pointing at another checkout's)
    # would replace that folder in every checkout it is merged into
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    links = [line.split("\t", 1)[1] for line in listed if line.startswith("120000 ")]
    assert links == [], f"symbolic links tracked: {links}"
