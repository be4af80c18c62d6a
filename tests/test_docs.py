"""The project's documentation can be followed from a fresh clone, and says what the code does.

Code, tests, scripts and documents cite only files that are in the repository;
the decisions they cite by number exist in ``docs/decisions.md`` and keep their
numbers; the paths and test names ``docs/`` gives exist; and the imports follow
the layer order ``docs/architecture.md`` draws.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DECISIONS = DOCS / "decisions.md"

#: Files whose text may cite documents: code, tests, scripts, configuration, documents.
CITING_SUFFIXES = {".py", ".js", ".md", ".sh", ".toml", ".yml", ".ipynb", ".j2", ".css"}
#: Folders that are not the project's own text (environments, caches, outputs).
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "build",
    "dist",
    "test-artifacts",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
}

#: The layers of docs/architecture.md, from the bottom: a layer imports only from its rank or below.
LAYER_RANK = {
    "errors": 0,
    "io": 1,
    "imaging": 2,
    "roi": 3,
    # the sample library sits beside the layers, built on io and roi (its SEGs): anything
    # above may name a sample study (an activity's ``study: {sample: ct-chest, …}``)
    "samples": 3.5,
    "scoring": 4,
    "grading": 5,
    # models beside grading: they read Volumes and score with scoring, and show nothing
    "ai": 5,
    "widgets": 6,
    "activities": 7,
    "course": 8,
    # the classroom: may use every layer and what sits beside them (apps, voila_app);
    # nothing in the library imports it
    "hub": 20,
    # the live-session service the hub runs, beside it
    "live": 20,
}

#: Decisions other files cite by number: their titles may be reworded, never renumbered.
FIRST_DECISIONS = {
    1: "windowing happens in the browser",
    2: "offline first",
    3: "a learner's work is never lost",
    4: "references never reach learners",
    5: "standard formats out",
    6: "one metric implementation",
    7: "clear errors",
    8: "live state has its own channel",
    9: "models run offline",
}

# Guidance kept outside the repository in the project's early days; a newcomer cannot follow it.
# Issues live in a tracker a clone does not hold: no "the issue" + 's or a colon, no issue + a
# quoted title.
OUTSIDE_GUIDANCE = re.compile(
    r"\b(?:DESIGN|STACK|STYLE)\.md\b|\.\./shared\b|\bDESIGN,? decision"
    r"|\bthe issue(?:'s\b|:)|\bissue \""
)
DOC_REFERENCE = re.compile(r"(?<![\w/.-])((?:\.\.?/)*(?:[\w-]+/)*[\w.-]+\.md)\b")
DECISION_CITATION = re.compile(r"\bdecisions? (\d+(?:(?:, and |, | and )\d+)*)\b", re.IGNORECASE)
DECISION_HEADING = re.compile(r"^## Decision (\d+): (.+)$", re.MULTILINE)


def _project_files() -> list[Path]:
    found = []
    stack = [ROOT]
    while stack:
        folder = stack.pop()
        for entry in sorted(folder.iterdir()):
            if entry.is_dir():
                if entry.name not in SKIPPED_DIRS and not entry.name.endswith(".egg-info"):
                    stack.append(entry)
            elif entry.suffix in CITING_SUFFIXES:
                found.append(entry)
    return found


FILES = _project_files()


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _where(path: Path, text: str, index: int) -> str:
    return f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, index) + 1}"


def test_the_project_has_its_own_docs():
    for name in ("architecture.md", "decisions.md", "contributing.md", "architecture.svg"):
        assert (DOCS / name).is_file(), f"docs/{name} is missing"
    readme = _text(ROOT / "README.md")
    for name in ("docs/architecture.md", "docs/decisions.md", "docs/contributing.md"):
        assert name in readme, f"README.md does not lead to {name}"
    assert "architecture.svg" in _text(DOCS / "architecture.md")


def test_nothing_cites_guidance_kept_outside_the_repository():
    found = [
        f"{_where(path, text, m.start())}: {m.group(0)}"
        for path in FILES
        for text in [_text(path)]
        for m in OUTSIDE_GUIDANCE.finditer(text)
    ]
    assert found == [], "cite docs/decisions.md or docs/contributing.md, or say the reason"


def test_every_cited_document_is_in_the_repository():
    missing = []
    for path in FILES:
        text = _text(path)
        for m in DOC_REFERENCE.finditer(text):
            name = m.group(1)
            if not any((base / name).exists() for base in (path.parent, ROOT, DOCS)):
                missing.append(f"{_where(path, text, m.start())}: {name}")
    assert missing == []


def _decisions() -> dict[int, str]:
    headings = DECISION_HEADING.findall(_text(DECISIONS))
    numbers = [int(n) for n, _ in headings]
    assert numbers == list(range(1, len(numbers) + 1)), f"decisions numbered {numbers}"
    return {int(n): title for n, title in headings}


def test_decisions_keep_their_numbers():
    decisions = _decisions()
    for number, title in FIRST_DECISIONS.items():
        assert decisions[number].lower().startswith(title), (number, decisions[number])


def test_every_cited_decision_exists():
    decisions = _decisions()
    cited = []
    for path in FILES:
        text = _text(path)
        for m in DECISION_CITATION.finditer(text):
            for number in re.findall(r"\d+", m.group(1)):
                if int(number) not in decisions:
                    cited.append(f"{_where(path, text, m.start())}: {m.group(0)}")
    assert cited == []


def test_every_decision_says_why_and_where():
    text = _text(DECISIONS)
    parts = DECISION_HEADING.split(text)[1:]
    for number, title, body in zip(parts[::3], parts[1::3], parts[2::3], strict=True):
        for label in ("**Decision.**", "**Why.**", "**Where.**"):
            assert label in body, f"decision {number} ({title}) lacks {label}"


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("name", ["architecture.md", "decisions.md", "contributing.md"])
def test_links_inside_the_docs_lead_somewhere(name):
    text = _text(DOCS / name)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        file, _, anchor = target.partition("#")
        if re.match(r"[a-z]+:", file):
            continue
        if file:
            assert (DOCS / file).exists(), f"docs/{name} links to {file}, which is missing"
        if anchor and not file:
            assert anchor in anchors, f"docs/{name} links to #{anchor}, which is no heading"


# A repository path in backticks: `dicomteach/io/reader.py`, `io/assemble.py`, `tests/x.py::T::t`
# (relative to the root, to dicomteach/, to dicomteach/widgets/ or to its static/ folder).
CODE_PATH = re.compile(r"`((?:\.ci|[\w-]+)/[\w./-]*?(?:\.\w+|/))(?:::([\w:]+))?`")


def _resolve(path: str) -> Path | None:
    widgets = ROOT / "dicomteach" / "widgets"
    for base in (ROOT, ROOT / "dicomteach", widgets, widgets / "static"):
        if (base / path).exists():
            return base / path
    return None


@pytest.mark.parametrize("name", ["architecture.md", "decisions.md", "contributing.md"])
def test_paths_and_tests_the_docs_name_exist(name):
    text = _text(DOCS / name)
    problems = []
    for m in CODE_PATH.finditer(text):
        path, names = m.group(1), m.group(2)
        found = _resolve(path)
        if found is None:
            problems.append(f"{path} does not exist")
            continue
        if names:
            source = _text(found)
            for part in names.split("::"):
                if not re.search(rf"^\s*(?:def|class) {re.escape(part)}\b", source, re.MULTILINE):
                    problems.append(f"{path} has no {part}")
    assert problems == []


def _layer_of(path: Path) -> str | None:
    parts = path.relative_to(ROOT / "dicomteach").parts
    name = parts[0].removesuffix(".py")
    return name if name in LAYER_RANK else None


def _imported_packages(path: Path) -> set[str]:
    """The ``dicomteach.<package>`` names a module imports, wherever in the module."""
    found = set()
    for node in ast.walk(ast.parse(_text(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "dicomteach":
                names = [f"dicomteach.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "dicomteach" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_imports_point_down_the_layers():
    upward = []
    for path in sorted((ROOT / "dicomteach").rglob("*.py")):
        layer = _layer_of(path)
        if layer is None:
            continue
        for package in _imported_packages(path):
            if LAYER_RANK.get(package, len(LAYER_RANK)) > LAYER_RANK[layer]:
                upward.append(f"{path.relative_to(ROOT)} ({layer}) imports dicomteach.{package}")
    assert upward == []


def test_no_file_keeps_the_marks_of_an_unfinished_merge():
    """A merge resolved by hand leaves no conflict markers in what the repository holds."""
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    marked = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {
            ".py",
            ".md",
            ".txt",
            ".toml",
            ".yml",
            ".yaml",
            ".sh",
            ".js",
            ".css",
            ".json",
            ".ipynb",
            ".j2",
            ".html",
            ".cfg",
            "",
        }:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, 1):
            if (
                line.startswith(("<<<<<<< ", ">>>>>>> "))
                or line == "======="
                and any(other.startswith("<<<<<<< ") for other in lines)
            ):
                marked.append(f"{name}:{number}")
    assert marked == [], f"conflict markers left by a merge: {marked}"
