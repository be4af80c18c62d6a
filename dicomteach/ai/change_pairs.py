"""Baseline and follow-up pairs whose changes are known, and the change model judged on them.

Run::

    nice -n 10 python -m dicomteach.ai.change_pairs --pairs 12

Each pair is a held-out patient (:func:`dicomteach.ai.cases.case_specs`,
``"held-out"``: other people, Philips and Canon scanners, never seen in
training) with the lung findings their case places
(:func:`~dicomteach.ai.cases.fitted_plan`), imaged twice as the library's
nodule study is (:mod:`dicomteach.samples.ct_chest`): the baseline, then a
follow-up months later with the patient lying differently (a rigid motion of
a few millimetres and degrees, drawn per pair) in which some nodules have
grown, the others are the same, and, in every other pair, one nodule is new
(absent at baseline). The same placed findings are drawn at both dates,
scaled about their centres and moved with the patient (:func:`moved`); the
noise of each date is its own. Both dates are written as DICOM (once, into
the sample cache), read back, and given to
:func:`~dicomteach.ai.changes.find_changes`; nothing of the truth reaches the
model.

The truth of each finding (``truth.json`` beside the two dates) is measured
from its reference segmentation on each date (voxels at least half inside
it), as the model's outlines are measured: its mean diameter and volume.
Then (:func:`summarise`): sensitivity for new and grown nodules, false "new"
and "grown" calls per pair, and the error of the measured growth; written to
``change-evaluation.json`` beside the model (docs/ai.md, "Change between two
dates").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from dicomteach.ai import cases as generated
from dicomteach.ai.changes import GROWTH_MM, GROWTH_VOLUME, Changes, find_changes, measure
from dicomteach.ai.nodules import Candidate
from dicomteach.samples import ct_chest, ct_findings
from dicomteach.samples import patient as anatomy
from dicomteach.samples.findings import Finding, Kind, draw_finding, finding_box
from dicomteach.samples.phantoms import rigid_motion

#: Kinds of nodule that may grow or be new (calcified granulomas and scars stay as they are).
GROWING = frozenset({Kind.SOLID, Kind.PART_SOLID, Kind.GROUND_GLASS, Kind.SPICULATED})
#: A grown nodule's mean diameter rises by at least this (mm): clearly past Lung-RADS' 1.5 mm.
LEAST_GROWTH_MM = 2.5
#: ... from at least this baseline diameter (mm).
SMALLEST_BASELINE_MM = 5.0
#: A reported change lies on a finding within the finding's radius and this margin (mm).
HIT_MARGIN_MM = 3.0


@dataclasses.dataclass(frozen=True)
class PairSpec:
    """One pair: the held-out case, how the patient lay at follow-up, and each finding's fate."""

    case: generated.CaseSpec
    rotation_deg: tuple[float, float]
    shift_mm: tuple[float, float, float]
    growth: tuple[float, ...]
    """Per finding of the case's plan: follow-up diameter over baseline diameter; 0: new."""
    days: int

    @property
    def name(self) -> str:
        return f"pair-{self.case.number:02d}"


def pair_specs(n: int, *, slices: int = generated.SLICES) -> list[PairSpec]:
    """The first ``n`` pairs: held-out cases, each with a motion and its findings' growth.

    >>> (spec,) = pair_specs(1)
    >>> spec.name, 0.0 in spec.growth  # every other pair has a new nodule
    ('pair-00', True)
    """
    return [pair_spec(case, slices=slices) for case in generated.case_specs("held-out", n)]


def pair_spec(case: generated.CaseSpec, *, slices: int = generated.SLICES) -> PairSpec:
    """One held-out case's pair: how the patient lay at follow-up, and each finding's fate.

    Drawn from the patient's seed alone, so a pair is the same whichever
    others are made with it; ``slices`` is the number of 2.5 mm slices the
    findings are fitted into (as :func:`write_pair` is given it).
    """
    rng = np.random.default_rng([case.person_seed, 0xC4A])
    person = case.person()
    z_mm, _ = ct_findings.axes(generated.SIZE, slices, field_of_view=case.examination.field_of_view)
    plan = generated.fitted_plan(case, person, z_mm)
    growth = []
    for kind, _, diameter in plan:
        low = max(1.25, diameter / (diameter - LEAST_GROWTH_MM)) if diameter > 3 else 9.0
        if (
            kind in GROWING
            and rng.random() < 0.65
            and low <= min(1.6, diameter / SMALLEST_BASELINE_MM)
        ):
            growth.append(
                round(float(rng.uniform(low, min(1.6, diameter / SMALLEST_BASELINE_MM))), 2)
            )
        else:
            growth.append(1.0)
    growing = [i for i, (kind, _, _) in enumerate(plan) if kind in GROWING]
    if case.number % 2 == 0 and growing:
        growth[growing[int(rng.integers(len(growing)))]] = 0.0  # new at follow-up
    rotation = (float(rng.uniform(-2.5, 2.5)), float(rng.uniform(-2.0, 2.0)))
    shift = (float(rng.uniform(-8, 8)), float(rng.uniform(-8, 8)), float(rng.uniform(-4, 4)))
    days = int(rng.choice([90, 180, 365]))
    return PairSpec(case, rotation, tuple(round(v, 1) for v in shift), tuple(growth), days)  # type: ignore[arg-type]


def lesson_pair(number: int, *, slices: int = 60) -> Path:
    """Held-out pair ``number`` written at ``slices`` slices of 512 × 512 (in the sample cache).

    What a lesson opens: ``baseline/ct``, ``followup/ct`` and ``truth.json``,
    written the first time (10 to 30 s for 60 slices) and reused after.
    Fewer slices than the evaluation's 100 cover less of the chest (from
    the middle), so the findings are fitted into that slab.
    """
    case = generated.case_specs("held-out", number + 1)[number]
    return pair_folder(pair_spec(case, slices=slices), slices=slices)


def moved(finding: Finding, scale: float, rotation: np.ndarray, shift: np.ndarray) -> Finding:
    """``finding`` scaled about its centre by ``scale``, then moved by ``p → rotation·p + shift``.

    Its shape (lobulation, spicules' directions, texture) goes with it: the
    same nodule, larger or smaller, where the patient now lies. A pleural
    tag keeps its pleural end.

    >>> f = Finding(Kind.SOLID, np.array([10.0, 0.0, 0.0]), 4.0, "RUL")
    >>> g = moved(f, 1.5, np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]), np.array([0.0, 0, 5]))
    >>> g.centre.tolist(), g.radius
    ([0.0, 10.0, 5.0], 6.0)
    """
    r, s = np.asarray(rotation, float), np.asarray(shift, float)
    centre = r @ finding.centre + s
    bumps = finding.bumps.copy()
    if len(bumps):
        bumps[:, :3] = bumps[:, :3] @ r.T
    spicules = finding.spicules.copy()
    if len(spicules):
        spicules[:, :3] = spicules[:, :3] @ r.T
        spicules[:, 3] *= scale
    tag = None
    if finding.tag is not None:
        start = finding.centre + (finding.tag[0] - finding.centre) * scale
        tag = np.array([start, finding.tag[1]]) @ r.T + s
    waves = finding.waves.copy()
    if len(waves):
        # cos(k·p + φ) at p = rᵀ(p′ − s): a wave of vector r·k and phase φ − (r·k)·s
        waves[:, :3] = waves[:, :3] @ r.T
        waves[:, 3] = waves[:, 3] - waves[:, :3] @ s
    return dataclasses.replace(
        finding,
        centre=centre,
        radius=finding.radius * scale,
        solid_radius=finding.solid_radius * scale,
        core_offset=r @ (finding.core_offset * scale),
        bumps=bumps,
        spicules=spicules,
        tag=tag,
        axes=None if finding.axes is None else finding.axes @ r.T,
        waves=waves,
    )


def _truth_measure(drawn, shape, spacing) -> dict:
    mask = np.zeros(shape, bool)
    mask[drawn.box] = drawn.occupancy >= 0.5
    box = tuple(slice(b.start, b.stop) for b in drawn.box)
    m = measure(Candidate(1.0, (0, 0, 0), (0, 0, 0), box, mask[box], 0.0, 0.0), spacing)  # type: ignore[arg-type]
    return {"mean_mm": m.mean_mm, "long_mm": m.long_mm, "volume_ml": m.volume_ml}


def write_pair(
    spec: PairSpec, dest: str | Path, *, size: int = generated.SIZE, slices: int = generated.SLICES
) -> Path:
    """Write the pair: ``baseline/ct``, ``followup/ct`` (DICOM) and ``truth.json``; returns ``dest``."""
    from pydicom.uid import JPEG2000Lossless

    dest = Path(dest)
    case = spec.case
    person = case.person()
    exam = case.examination
    z_mm, x_mm = ct_findings.axes(size, slices, field_of_view=exam.field_of_view)
    plan = generated.fitted_plan(case, person, z_mm)
    from dicomteach.samples.findings import place_findings

    placed = place_findings(person, case.person_seed, (float(z_mm.min()), float(z_mm.max())), plan)
    growth = spec.growth[: len(placed)]
    header = ct_chest._header_patient(person, case.person_seed)
    pixel = float(abs(x_mm[1] - x_mm[0]))
    spacing = (ct_chest.SLICE_SPACING, pixel, pixel)
    truth = [
        {
            "kind": f.kind.value,
            "label": f.label,
            "centre_mm": [round(float(v), 2) for v in f.centre],
            "growth": g,
            "change": "new" if g == 0 else "grown" if g > 1 else "stable",
        }
        for f, g in zip(placed, growth, strict=True)
    ]
    for number, name in enumerate(("baseline", "followup")):
        later = number == 1
        rotation = rigid_motion(*spec.rotation_deg) if later else np.eye(3)
        shift = np.array(spec.shift_mm if later else (0.0, 0.0, 0.0))
        hu, label = anatomy.render(
            person, z_mm, x_mm, x_mm, rotation=rotation, shift=shift,
            slab=ct_chest.SLICE_SPACING, coarse=2 if pixel < 1.0 else 1,
        )  # fmt: skip
        lung = label == anatomy.Tissue.LUNG
        for finding, g, entry in zip(placed, growth, truth, strict=True):
            if g == 0 and not later:
                entry["baseline"] = None
                continue
            scale = 1.0 if later else 1.0 / g
            f = moved(finding, scale, rotation, shift)
            box = finding_box(f, z_mm, x_mm, x_mm)
            zz, yy, xx = np.meshgrid(z_mm[box[0]], x_mm[box[1]], x_mm[box[2]], indexing="ij")
            p = np.stack([xx, yy, zz], axis=-1) - shift
            p = p @ rotation  # rotationᵀ applied to each point
            lung[box] = (
                anatomy.tissue(person, p[..., 0], p[..., 1], p[..., 2])[1] == anatomy.Tissue.LUNG
            )
            drawn = draw_finding(hu, lung, f, z_mm, x_mm, x_mm, slab=ct_chest.SLICE_SPACING)
            entry[name] = _truth_measure(drawn, hu.shape, spacing)
            entry[f"{name}_centre_mm"] = [round(float(v), 2) for v in f.centre]
        visit = ct_chest._Visit(
            name,
            ct_findings.STUDY_DATE + timedelta(days=spec.days if later else 0),
            "101500",
            f"DTC{case.number:02d}{number}",
            JPEG2000Lossless,
            spec.rotation_deg if later else (0.0, 0.0),
            spec.shift_mm if later else (0.0, 0.0, 0.0),
            1.0,
        )
        tag = ("ai-change-pair", case.name, repr(spec), name)
        plan_ = ct_chest._Plan(person, exam, header, visit, case.person_seed, number, tag)
        ct_chest.write_series(dest / name, hu, z_mm, x_mm, plan_)
    text = json.dumps({"pair": spec.name, "days": spec.days, "findings": truth}, indent=1)
    (dest / "truth.json").write_text(text + "\n", "utf-8")
    return dest


def pair_folder(spec: PairSpec, root: str | Path | None = None, **options) -> Path:
    """Where a pair is written (the first time) in the sample cache (``ai-change-pairs/``)."""
    from dicomteach.samples.cache import cache_root, written_once

    base = Path(root) if root is not None else cache_root() / "ai-change-pairs"
    import hashlib
    import inspect

    # the pair, and the code that draws it (not the evaluation's)
    code = inspect.getsource(write_pair) + inspect.getsource(moved) + repr(options)
    what = hashlib.sha256((repr(spec) + code).encode()).hexdigest()
    key = f"{spec.name}-{spec.case.person_seed}-{generated.generator_digest()}-{what[:8]}"
    if options:
        key += "-" + "-".join(f"{k}{v}" for k, v in sorted(options.items()))
    return written_once(base / key, lambda staging: write_pair(spec, staging, **options))


def judge(changes: Changes, truth: list[dict]) -> dict:
    """Each true finding's call, and the calls on no finding, for one pair."""
    calls = list(changes.changes)
    used: set[int] = set()
    findings = []
    for entry in truth:
        sizes = [entry[d]["mean_mm"] for d in ("baseline", "followup") if entry.get(d)]
        reach = max(sizes) / 2.0 + HIT_MARGIN_MM
        centre = np.array(entry["centre_mm"])
        near = [
            (float(np.linalg.norm(np.array(c.centre_mm) - centre)), i)
            for i, c in enumerate(calls)
            if i not in used
        ]
        near = [(d, i) for d, i in near if d <= reach]
        result = dict(entry, called=None)
        if near:
            _, i = min(near)
            used.add(i)
            c = calls[i]
            result["called"] = c.change
            result["probability"] = round(c.probability, 3)
            if c.baseline is not None and c.followup is not None and entry.get("baseline"):
                truth_change = entry["followup"]["mean_mm"] - entry["baseline"]["mean_mm"]
                result["measured_change_mm"] = c.diameter_change_mm
                result["true_change_mm"] = round(truth_change, 1)
                result["measured_volume_change"] = c.volume_change_percent
                true_volume = entry["followup"]["volume_ml"] / max(
                    entry["baseline"]["volume_ml"], 1e-6
                )
                result["true_volume_change"] = round(100.0 * (true_volume - 1.0), 1)
        findings.append(result)
    others = [calls[i].change for i in range(len(calls)) if i not in used]
    return {"findings": findings, "others": others}


def summarise(results: list[dict]) -> dict:
    """The change model's figures over the pairs (what docs/ai.md shows)."""
    nodule_kinds = {k.value for k in generated.NODULE_KINDS}
    rows = [f for r in results for f in r["findings"] if f["kind"] in nodule_kinds]
    pairs = len(results)

    def share(wanted: str, called: set[str]) -> dict:
        chosen = [f for f in rows if f["change"] == wanted]
        hits = sum(f["called"] in called for f in chosen)
        return {
            "nodules": len(chosen),
            "found": hits,
            "sensitivity": round(hits / max(len(chosen), 1), 3),
        }

    confusion: dict[str, dict[str, int]] = {}
    for f in rows:
        entry = confusion.setdefault(f["change"], {})
        key = f["called"] or "not reported"
        entry[key] = entry.get(key, 0) + 1
    scars = [f for r in results for f in r["findings"] if f["kind"] not in nodule_kinds]
    false = {}
    for call in ("new", "grown", "resolved", "shrunk"):
        wrong = sum(o == call for r in results for o in r["others"])
        wrong += sum(f["called"] == call and f["change"] != call for f in rows)
        wrong += sum(f["called"] == call for f in scars)
        false[call] = {"calls": wrong, "per_pair": round(wrong / max(pairs, 1), 2)}
    measured = [f for f in rows if "measured_change_mm" in f]
    errors = np.array([f["measured_change_mm"] - f["true_change_mm"] for f in measured])
    grown = [f for f in measured if f["change"] == "grown"]
    stable = [f for f in measured if f["change"] == "stable"]

    def rule(f: dict, which: str) -> bool:
        if which == "diameter":
            return f["measured_change_mm"] > GROWTH_MM
        return (
            f["measured_volume_change"] is not None
            and f["measured_volume_change"] >= 100 * GROWTH_VOLUME
        )

    rules = {
        which: {
            "grown_called_grown": sum(rule(f, which) for f in grown),
            "grown": len(grown),
            "stable_called_grown": sum(rule(f, which) for f in stable),
            "stable": len(stable),
        }
        for which in ("diameter", "volume")
    }
    percent = [
        (f["measured_change_mm"], f["true_change_mm"], f["baseline"]["mean_mm"]) for f in grown
    ]
    return {
        "pairs": pairs,
        "nodules": len(rows),
        "makers": sorted({r["maker"] for r in results}),
        "new": share("new", {"new"}),
        "grown": share("grown", {"grown"}),
        "stable_called_stable": share("stable", {"stable"}),
        "false_calls": false,
        "confusion": confusion,
        "growth_error_mm": {
            "nodules": len(measured),
            "mean": round(float(errors.mean()), 2) if len(errors) else None,
            "median_absolute": round(float(np.median(np.abs(errors))), 2) if len(errors) else None,
            "largest_absolute": round(float(np.abs(errors).max()), 2) if len(errors) else None,
        },
        "grown_measured_vs_true_mm": [[m, t] for m, t, _ in percent],
        "rules": rules,
        "seconds_per_pair": round(float(np.mean([r["seconds"] for r in results])), 1),
    }


def table(summary: dict) -> str:
    s = summary
    lines = [
        f"{s['pairs']} pairs ({', '.join(s['makers'])}), {s['nodules']} nodules.",
        f"new: {s['new']['found']}/{s['new']['nodules']} called new; "
        f"grown: {s['grown']['found']}/{s['grown']['nodules']} called grown; "
        f"stable: {s['stable_called_stable']['found']}/{s['stable_called_stable']['nodules']} called stable.",
        "false calls per pair: "
        + ", ".join(f"{k} {v['per_pair']}" for k, v in s["false_calls"].items()),
        f"growth error (mm, mean diameter, model − reference): {s['growth_error_mm']}",
        f"rules: {s['rules']}",
        "| truth | "
        + " | ".join(("new", "grown", "stable", "shrunk", "resolved", "not reported"))
        + " |",
        "|---|---|---|---|---|---|---|",
    ]
    for truth, calls in s["confusion"].items():
        cells = [
            str(calls.get(k, 0))
            for k in ("new", "grown", "stable", "shrunk", "resolved", "not reported")
        ]
        lines.append(f"| {truth} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from dicomteach.ai.runtime import MODELS, load_model

    parser = argparse.ArgumentParser(
        prog="python -m dicomteach.ai.change_pairs", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--pairs", type=int, default=12, help="held-out patients, a pair each")
    parser.add_argument("--folder", default=None, help="where the pairs are written")
    parser.add_argument("--out", default=str(MODELS), help="where change-evaluation.json goes")
    args = parser.parse_args(argv)
    model = load_model("nodule")
    results = []
    for spec in pair_specs(args.pairs):
        folder = pair_folder(spec, args.folder)
        truth = json.loads((folder / "truth.json").read_text("utf-8"))["findings"]
        started = time.perf_counter()
        changes = find_changes(folder / "baseline" / "ct", folder / "followup" / "ct", model=model)
        seconds = time.perf_counter() - started
        result = judge(changes, truth)
        result.update(pair=spec.name, maker=spec.case.maker, seconds=seconds)
        results.append(result)
        called = ", ".join(f"{f['label']} {f['change']}→{f['called']}" for f in result["findings"])
        print(
            f"{spec.name} {spec.case.maker}: {called}; others {result['others']} ({seconds:.1f} s)",
            flush=True,
        )
    summary = summarise(results)
    summary["model_sha256"] = model.description.onnx_sha256
    summary["command"] = "python -m dicomteach.ai.change_pairs " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    summary["results"] = results
    Path(args.out, "change-evaluation.json").write_text(
        json.dumps(summary, indent=1) + "\n", "utf-8"
    )
    print(table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
