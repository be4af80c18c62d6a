"""The Kubernetes deployment's values are what Helm would accept, and say what deploy/README.md says.

Helm merges a values file over the chart's defaults and validates the result
against the chart's JSON schema before it renders anything; these tests do the
same with the schema and defaults of the chart version deploy/README.md pins
(vendored in tests/data/z2jh/), so a misspelt or misplaced key fails here
rather than at ``helm upgrade`` in front of a class.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "z2jh"
VALUES = ROOT / "deploy" / "z2jh" / "values.yaml"
README = ROOT / "deploy" / "README.md"


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def helm_merge(defaults: dict, values: dict) -> dict:
    """``values`` over ``defaults`` as Helm merges them: maps deeply, a null removes the key."""
    merged = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def problems(values: dict) -> list[str]:
    """Where the chart's schema refuses ``values`` merged over its defaults, one line each."""
    schema = _yaml(DATA / "values.schema.yaml")
    validator = jsonschema.Draft7Validator(schema)
    merged = helm_merge(_yaml(DATA / "values.yaml"), values)
    return sorted(
        f"{'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(merged)
    )


@pytest.fixture()
def values() -> dict:
    return _yaml(VALUES)


def test_the_values_file_is_what_the_chart_accepts(values):
    assert problems(values) == []


def test_the_vendored_defaults_are_valid_alone():
    # the check above means something only if the defaults themselves pass
    assert problems({}) == []


@pytest.mark.parametrize(
    ("path", "typo"),
    [
        (("singleuser", "memory"), "limits"),  # the chart's key is "limit"
        (("cull",), "timout"),
        (("hub",), "extraconfig"),
        ((), "singleusers"),
    ],
)
def test_a_misspelt_key_is_refused(values, path, typo):
    broken = copy.deepcopy(values)
    node = broken
    for key in path:
        node = node[key]
    original = next((k for k in node if k.lower().startswith(typo[:4].lower())), None)
    node[typo] = node.pop(original) if original else "1G"
    found = problems(broken)
    assert len(found) == 1
    assert re.search(
        rf"Additional properties are not allowed \('{typo}' was unexpected\)", found[0]
    )


def test_a_value_of_the_wrong_type_is_refused(values):
    broken = copy.deepcopy(values)
    broken["cull"]["timeout"] = "30 minutes"
    assert problems(broken) == ["cull.timeout: '30 minutes' is not of type 'integer', 'null'"]


def test_learners_get_guarantees_and_limits_the_readme_explains(values):
    memory, cpu = values["singleuser"]["memory"], values["singleuser"]["cpu"]
    assert _bytes(memory["guarantee"]) < _bytes(memory["limit"])
    assert 0 < cpu["guarantee"] < cpu["limit"]
    readme = README.read_text(encoding="utf-8")
    for figure in (memory["guarantee"], memory["limit"]):
        assert f"`{figure}`" in readme, f"deploy/README.md does not explain {figure}"


def _bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMG]i?)?", str(size)).groups()
    return int(number) * {None: 1, "K": 10**3, "M": 10**6, "G": 10**9}.get(unit, 1024)


def test_idle_servers_are_culled_and_accounts_kept(values):
    cull = values["cull"]
    assert cull["enabled"] is True and cull["users"] is False
    assert 0 < cull["every"] < cull["timeout"] <= 3600


def test_the_hub_uses_the_one_machine_hubs_authenticator_and_groups(values):
    config = values["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "nativeauthenticator.NativeAuthenticator"
    native = config["NativeAuthenticator"]
    assert native["open_signup"] is False and native["allowed_failed_logins"] == 5
    groups = values["hub"]["extraConfig"]["20-course-groups"]
    assert 'f"formgrade-{course}"' in groups and 'f"nbgrader-{course}"' in groups


def test_the_course_hook_is_python_that_compiles(values):
    for name, code in values["hub"]["extraConfig"].items():
        compile(code, f"hub.extraConfig.{name}", "exec")


def test_the_exchange_is_the_ngshare_service_every_server_is_pointed_at(values):
    service = values["hub"]["services"]["ngshare"]
    nbgrader = values["singleuser"]["extraFiles"]["nbgrader-exchange"]
    assert nbgrader["mountPath"] == "/etc/jupyter/nbgrader_config.py"
    assert f"{service['url']}/services/ngshare" in nbgrader["stringData"]
    compile(nbgrader["stringData"], "nbgrader_config.py", "exec")
    ngshare = _yaml(ROOT / "deploy" / "ngshare" / "values.yaml")
    assert ngshare["deployment"]["replicaCount"] == 1
    assert "hub_api_token" not in ngshare["ngshare"], "tokens are given at install time"
    assert "apiToken" not in service


def test_the_lessons_are_copied_from_where_the_readme_builds_them(values):
    hook = " ".join(values["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"])
    target = re.search(r"cp -rn (/\S+)/notebooks/", hook).group(1)
    assert f"--target-repo-dir {target}" in README.read_text(encoding="utf-8")
    assert values["singleuser"]["defaultUrl"] == "/lab/tree/lessons"


def test_the_readme_pins_the_chart_version_the_schema_comes_from():
    readme = README.read_text(encoding="utf-8")
    pinned = set(re.findall(r"--version (\S+)", readme))
    vendored = re.search(r"at the chart's tag (\S+) ", (DATA / "README.md").read_text("utf-8"))
    assert pinned == {vendored.group(1)}
