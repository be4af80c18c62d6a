"""Conda users and Binder install what pip users install, and Binder's image can serve the lessons.

``environment.yml`` (conda users) and ``binder/environment.yml`` (repo2docker)
must list every dependency of ``pyproject.toml`` that a learner's or an
instructor's environment needs (the library, and the extras in ``EXTRAS``) with
the same version bounds, from conda-forge or in the pip section, and nothing
pyproject.toml does not know. repo2docker itself needs Docker, which the test
machine lacks; what it would run is checked here: the files ``binder/postBuild``
uses exist, the scripts are executable, the studies it prepares are those the
lessons open, and the README's Binder links name lessons that exist.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"

#: The extras an environment for the course holds.
EXTRAS = ("samples", "course", "lab", "hub", "live")
#: conda-forge's names where they differ from PyPI's (matplotlib without a GUI toolkit).
CONDA_NAMES = {"matplotlib": "matplotlib-base"}
#: What an environment file has that is no dependency: the interpreter and its installer.
TOOLS = {"python", "pip"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def required(pyproject: dict) -> dict[str, SpecifierSet]:
    """pyproject's dependencies and those of ``EXTRAS``, by canonical name."""
    project = pyproject["project"]
    extras = project.get("optional-dependencies", {})
    wanted, lines, seen = [e for e in EXTRAS if e in extras], list(project["dependencies"]), set()
    while wanted:
        extra = wanted.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in extras[extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == "dicomteach":
                wanted.extend(requirement.extras)
            else:
                lines.append(line)
    found: dict[str, SpecifierSet] = {}
    for line in lines:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        found[name] = found.get(name, SpecifierSet()) & requirement.specifier
    return found


def known(pyproject: dict) -> set[str]:
    """Every package pyproject.toml names, in any extra."""
    project = pyproject["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return {canonicalize_name(Requirement(line).name) for line in lines}


def listed(environment: Path) -> tuple[dict[str, SpecifierSet], dict[str, SpecifierSet]]:
    """An environment file's conda-forge packages and pip requirements, by canonical name."""
    document = yaml.safe_load(environment.read_text(encoding="utf-8"))
    assert document["channels"] == ["conda-forge"], f"{environment.name}: conda-forge only"
    pypi_names = {conda: pypi for pypi, conda in CONDA_NAMES.items()}
    conda: dict[str, SpecifierSet] = {}
    pip: dict[str, SpecifierSet] = {}
    for entry in document["dependencies"]:
        if isinstance(entry, dict):
            for line in entry["pip"]:
                if line.startswith("-"):  # -e .[lab]: the project itself
                    continue
                requirement = Requirement(line)
                pip[canonicalize_name(requirement.name)] = requirement.specifier
            continue
        name, _, spec = entry.partition(" ")
        if "=" in name and " " not in entry:  # python=3.11
            name, spec = name.split("=", 1)[0], ""
        if name in TOOLS:
            continue
        conda[canonicalize_name(pypi_names.get(name, name))] = SpecifierSet(spec.replace(" ", ""))
    return conda, pip


def disagreements(pyproject: dict, environment: Path) -> list[str]:
    """What an environment file gets wrong about pyproject.toml, one line each."""
    conda, pip = listed(environment)
    problems = [f"{name} is both a conda-forge and a pip entry" for name in set(conda) & set(pip)]
    for name, specifier in sorted(required(pyproject).items()):
        where = conda if name in conda else pip if name in pip else None
        if where is None:
            problems.append(f"{name}{specifier} (pyproject.toml) is missing")
        elif where[name] != specifier:
            problems.append(f"{name}{where[name]} but pyproject.toml says {name}{specifier}")
    for name in sorted((set(conda) | set(pip)) - known(pyproject)):
        problems.append(f"{name} is not in pyproject.toml")
    label = environment.relative_to(ROOT) if environment.is_relative_to(ROOT) else environment.name
    return [f"{label}: {p}" for p in problems]


@pytest.mark.parametrize("environment", ["environment.yml", "binder/environment.yml"])
def test_the_environment_installs_what_pyproject_requires(environment):
    assert disagreements(_pyproject(), ROOT / environment) == []


def test_binder_and_conda_users_get_the_same_packages():
    assert listed(BINDER / "environment.yml") == listed(ROOT / "environment.yml")


def test_a_dependency_added_to_pyproject_only_is_caught():
    pyproject = _pyproject()
    pyproject["project"]["dependencies"].append("pooch>=1.8")
    assert disagreements(pyproject, ROOT / "environment.yml") == [
        "environment.yml: pooch>=1.8 (pyproject.toml) is missing"
    ]


def test_a_bound_changed_in_pyproject_only_is_caught():
    pyproject = _pyproject()
    deps = pyproject["project"]["dependencies"]
    deps[:] = ["pydicom>=3.1,<4" if d.startswith("pydicom") else d for d in deps]
    assert disagreements(pyproject, ROOT / "environment.yml") == [
        "environment.yml: pydicom<4,>=3.0.2 but pyproject.toml says pydicom<4,>=3.1"
    ]


def test_a_dependency_added_to_the_environment_only_is_caught(tmp_path):
    environment = (ROOT / "environment.yml").read_text(encoding="utf-8")
    changed = tmp_path / "environment.yml"
    changed.write_text(environment.replace("  - pip\n", "  - pip\n  - pooch >=1.8\n", 1))
    assert disagreements(_pyproject(), changed) == [
        "environment.yml: pooch is not in pyproject.toml"
    ]


# --- binder/ as repo2docker would run it


def _post_build() -> str:
    return (BINDER / "postBuild").read_text(encoding="utf-8")


@pytest.mark.parametrize("script", ["postBuild", "start"])
def test_binder_scripts_are_executable_bash(script):
    path = BINDER / script
    assert path.stat().st_mode & stat.S_IXUSR, f"binder/{script} is not executable"
    assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_post_build_installs_only_from_the_repository():
    text = _post_build()
    installs = re.findall(r"pip install ([^\n]*)", text)
    # dependencies come from environment.yml; postBuild adds the project, and the exchange
    # the Kubernetes deployment names (pinned, as deploy/ngshare/check_exchange.sh ran it)
    assert installs == [
        "--no-deps --no-cache-dir .",
        "--no-deps --no-cache-dir ngshare-exchange==0.5.3 rapidfuzz==3.14.6",
    ]
    check = (ROOT / "deploy" / "ngshare" / "check_exchange.sh").read_text(encoding="utf-8")
    assert '"ngshare-exchange==0.5.3" "rapidfuzz==3.14.6"' in check
    for path in re.findall(r"(?<![\w$/.-])((?:binder|jupyter-config|notebooks)/[\w./-]+)", text):
        assert (ROOT / path).exists(), f"binder/postBuild uses {path}, which is missing"


def test_start_points_the_lessons_at_the_studies_post_build_wrote():
    start = (BINDER / "start").read_text(encoding="utf-8")
    written = re.search(r"DICOMTEACH_CACHE=(\S+) python binder/prepare_studies.py", _post_build())
    read = re.search(r'DICOMTEACH_CACHE="\$\{DICOMTEACH_CACHE:-(\S+)\}"', start)
    assert written and read and written.group(1).strip('"') == read.group(1)
    assert start.rstrip().endswith('exec "$@"'), "start must hand over to the server"


def test_start_hands_over_to_the_server_with_the_cache_set(tmp_path):
    env = {**os.environ, "NB_PYTHON_PREFIX": str(tmp_path)}
    env.pop("DICOMTEACH_CACHE", None)
    shown = subprocess.run(
        [str(BINDER / "start"), "sh", "-c", "echo $DICOMTEACH_CACHE $DICOMTEACH_DECODE_WORKERS"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == [f"{tmp_path}/share/dicomteach/cache", "1"]


def _lesson_calls() -> set[str]:
    names = set()
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        names |= set(re.findall(r'lesson_study\(\\"([\w-]+)\\"', notebook.read_text("utf-8")))
    return names


def test_the_image_prepares_every_study_the_lessons_open():
    listing = subprocess.run(
        [sys.executable, str(BINDER / "prepare_studies.py"), "--list"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout.splitlines()
    prepared = {line.split()[0] for line in listing}
    assert _lesson_calls() <= prepared
    assert "ct-chest-findings" in prepared and "mr-brain" in prepared


def test_prepare_studies_writes_what_a_lesson_then_finds(tmp_path, monkeypatch):
    sys.path.insert(0, str(BINDER))
    try:
        import prepare_studies
    finally:
        sys.path.remove(str(BINDER))
    monkeypatch.setattr(
        prepare_studies, "lesson_studies", lambda: [("op-fundus", {}), ("nm-spect", {})]
    )
    monkeypatch.setenv("DICOMTEACH_CACHE", str(tmp_path))
    assert prepare_studies.main([]) == 0
    from dicomteach.samples.cache import lesson_study

    before = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert lesson_study("op-fundus").parent == tmp_path / "samples"
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == before  # nothing new
    assert len(before) == 2


BINDER_LINK = re.compile(r"https://mybinder\.org/v2/gh/[^)\s]+")


def test_readme_binder_links_open_lessons_that_exist():
    links = BINDER_LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert links, "README.md has no Binder link"
    voila = [link for link in links if "urlpath=voila" in link]
    lab = [link for link in links if "urlpath=lab" in link]
    assert voila and lab
    for link in links:
        target = re.search(r"urlpath=(?:voila/render|lab/tree)/([^&)\s]+)", link)
        assert target, f"{link}: no lesson or folder in urlpath"
        assert (ROOT / target.group(1)).exists(), f"{link} opens {target.group(1)}: missing"
