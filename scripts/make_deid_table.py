"""Regenerate dicomteach/io/deid/table_e1_1.csv: DICOM PS3.15 Table E.1-1 as data.

Two sources, both machine-extracted from the DICOM Standard and published on PyPI:

* ``dicom-anonymizer==2.1.0`` ships ``dicomfields_2026c.py``: every row of Table
  E.1-1 of edition **2026c** with its Basic Profile action (scraped from the
  standard's web edition by that project). Rows and basic actions come from here.
* ``dicom-standard==0.1.0`` (Innolitics) ships ``confidentiality_profile_attributes.json``:
  Table E.1-1 of the **2020** edition with *all* the option columns, parsed from the
  standard's HTML. Option columns come from here, matched by tag. The wildcard rows
  (curves 50xx, overlays 60xx, private attributes) come from here too.

Only data is taken (the standard's table); no code of either project is used at run
time. Rows added to the standard after 2020 carry the basic action and no option
column: the options then fall back to the basic action, which removes more, never less.

Usage::

    .venv/bin/python scripts/make_deid_table.py            # pip-downloads both wheels
    .venv/bin/python scripts/make_deid_table.py A.whl B.whl  # or use wheels at hand
"""

from __future__ import annotations

import ast
import csv
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "dicomteach" / "io" / "deid" / "table_e1_1.csv"
ANONYMIZER = ("dicom-anonymizer", "2.1.0", "dicomfields_2026c.py")
STANDARD = ("dicom-standard", "0.1.0", "confidentiality_profile_attributes.json")
#: Option columns of Table E.1-1, in the standard's order (names as the Innolitics JSON).
OPTION_COLUMNS = [
    "rtnSafePrivOpt",
    "rtnUIDsOpt",
    "rtnDevIdOpt",
    "rtnInstIdOpt",
    "rtnPatCharsOpt",
    "rtnLongFullDatesOpt",
    "rtnLongModifDatesOpt",
    "cleanDescOpt",
    "cleanStructContOpt",
    "cleanGraphOpt",
]
#: Tag patterns of the Innolitics rows → the form the CSV uses.
PATTERNS = {
    "(50XX,XXXX)": "50xx,xxxx",
    "(60XX,4000)": "60xx,4000",
    "(60XX,3000)": "60xx,3000",
    "(GGGG,EEEE) WHERE GGGG IS ODD": "gggg,eeee",
}


def _wheel(name: str, version: str, given: list[str], tmp: str) -> Path:
    for w in given:
        if Path(w).name.replace("_", "-").startswith(f"{name}-{version}"):
            return Path(w)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, f"{name}=={version}"],
        check=True,
    )
    return next(Path(tmp).glob(f"{name.replace('-', '_')}-{version}*.whl"))


def _member(wheel: Path, suffix: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        (path,) = [n for n in zf.namelist() if n.endswith(suffix)]
        return zf.read(path).decode("utf-8")


def basic_rows(source: str) -> dict[str, tuple[str, str]]:
    """tag "GGGG,EEEE" → (name, basic action) from the generated dicomfields module (parsed, not run)."""
    rows: dict[str, tuple[str, str]] = {}
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.List)):
            continue
        target = node.targets[0]
        if not (isinstance(target, ast.Name) and target.id.endswith("_TAGS")):
            continue
        action = target.id[: -len("_TAGS")].replace("_STAR", "*").replace("_", "/")
        for elt in node.value.elts:
            values = [c.value for c in elt.elts]
            comment = lines[elt.end_lineno - 1].split("#", 1)
            name = comment[1].strip() if len(comment) > 1 else ""
            if len(values) == 4:  # (group, element, group mask, element mask): a repeating group
                group, element, gmask, emask = values
                tag = f"{group >> 8:02x}xx," + ("xxxx" if emask == 0 else f"{element:04X}")
            else:
                tag = f"{values[0]:04X},{values[1]:04X}"
            rows[tag] = (name, action)
    return rows


def option_rows(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for row in json.loads(text):
        tag = PATTERNS.get(row["tag"], row["tag"].strip("()"))
        out[tag] = row
    return out


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        anon = _wheel(ANONYMIZER[0], ANONYMIZER[1], argv, tmp)
        std = _wheel(STANDARD[0], STANDARD[1], argv, tmp)
        basic = basic_rows(_member(anon, ANONYMIZER[2]))
        options = option_rows(_member(std, STANDARD[2]))
    for tag, row in options.items():  # wildcard rows and any row the 2026c list lacks
        basic.setdefault(tag, (row["name"], row["basicProfile"]))
    buf = io.StringIO()
    buf.write(
        "# DICOM PS3.15 Table E.1-1 (Application Level Confidentiality Profile Attributes).\n"
        f"# Rows and Basic Profile actions: edition 2026c, via {ANONYMIZER[0]} {ANONYMIZER[1]} "
        f"({ANONYMIZER[2]}).\n"
        f"# Option columns: edition 2020, via {STANDARD[0]} {STANDARD[1]} ({STANDARD[2]}).\n"
        "# Regenerate: scripts/make_deid_table.py. See README.md beside this file.\n"
    )
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["tag", "name", "basicProfile", *OPTION_COLUMNS])
    for tag in sorted(basic, key=lambda t: (t.startswith(("5", "6", "g")) and "x" in t, t)):
        name, action = basic[tag]
        opt = options.get(tag, {})
        writer.writerow([tag, name, action, *(opt.get(c, "") for c in OPTION_COLUMNS)])
    OUT.write_text(buf.getvalue(), encoding="utf-8")
    print(f"wrote {OUT} ({len(basic)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
