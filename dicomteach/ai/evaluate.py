"""The nodule model on the held-out patients: FROC, Dice of its outlines, and its known errors.

Run::

    nice -n 10 python -m dicomteach.ai.evaluate --cases 24 --size 512 256

Each held-out case (:mod:`dicomteach.ai.cases`: other patients, Philips and
Canon scanners) is written at each matrix of ``--size`` as a teaching file
(DICOM CT, SEG, manifest) once into the sample cache, read back through
:func:`dicomteach.io.load` and
:func:`dicomteach.roi.load.load_structures`, and given to
:func:`~dicomteach.ai.nodules.find_nodules` as a learner's CT would be. Then:

* every candidate is judged against the case's nodules
  (:func:`dicomteach.ai.froc.judge`; a calcified granuloma counts as a
  nodule, a scar does not); sensitivity at 1, 2 and 4 false positives per
  scan (:func:`~dicomteach.ai.froc.sensitivity_at`), and at the operating
  point (probability 0.5, the outline's level);
* each nodule found at the operating point: Dice of the candidate's outline
  with the nodule's SEG segment (:func:`dicomteach.scoring.dice`);
* each false positive at the operating point: what lies there, from the
  patient model the case was made of (a scar's segment, a vessel or airway
  of the patient's trees and how steeply it runs, the tissue);
* the known-error list (:mod:`dicomteach.ai.known_errors`): the most probable
  false positives on vessels seen end-on and on scars, and the missed nodules,
  at the first matrix (the teaching file's 512, which lesson 6 reads).

It writes ``nodule-evaluation.json`` (the figures docs/ai.md shows: those of
the first matrix, and each other's apart under ``other_matrices``) and
``nodule-known-errors.json`` beside the model, and prints the tables.

``--task triage`` judges the radiograph triage model instead::

    nice -n 10 python -m dicomteach.ai.evaluate --task triage --cases 100

Each held-out patient of :mod:`dicomteach.ai.films` (other people, a
flat-panel DX) gives a normal and an abnormal film; each is written as DICOM,
read back by :func:`dicomteach.io.load` and given to
:func:`~dicomteach.ai.triage.triage_radiograph`. The truth is whether a
nodule or mass is in the film (:attr:`~dicomteach.ai.films.Film.holds_lesion`).
Then: the AUC of the score (:func:`auc`) with a 95 % bootstrap interval
(:func:`auc_interval`), sensitivity and specificity at the model's flag
threshold, whether the heat map's peak lies on a lesion, which lesions the
heat map marks by kind and size, and the films worth showing
(:func:`film_examples`). It writes ``triage-evaluation.json`` (every film's
score and findings too) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dicomteach.ai import cases as generated
from dicomteach.ai.froc import DUPLICATE, Mark, Nodule, froc_curve, judge, sensitivity_at
from dicomteach.ai.known_errors import KnownError, held_out_folder, write_known_errors
from dicomteach.ai.nodules import Candidate, find_nodules
from dicomteach.ai.runtime import MODELS, Model, load_model
from dicomteach.samples import patient as anatomy
from dicomteach.samples.phantoms import AIRWAY, VESSEL

#: Probability at which a candidate is shown to a reader (and its outline drawn).
OPERATING_POINT = 0.5
#: False positives per scan the FROC is read at.
RATES = (1.0, 2.0, 4.0)
#: A vessel within this angle (degrees) of the body's long axis is seen end-on on axial slices.
END_ON_DEGREES = 35.0
#: Known errors kept per kind of false positive, and misses.
KEEP = 5


@dataclass
class CaseResult:
    """What the model did on one held-out case."""

    spec: generated.CaseSpec
    nodules: list[dict]
    marks: list[Mark]
    false_positives: list[dict] = field(default_factory=list)
    dice: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _nodules_of(folder: Path, volume) -> tuple[list, list, dict]:
    """The case's findings (manifest), their SEG masks, and the scars' masks."""
    from dicomteach.roi.load import load_structures
    from dicomteach.samples.ct_findings import read_manifest

    manifest = read_manifest(folder)
    structures = load_structures(manifest.seg, volume)
    kinds = {k.value for k in generated.NODULE_KINDS}
    nodules = [e for e in manifest.findings if e.kind in kinds]
    masks = [np.asarray(structures.masks[e.segment], bool) for e in nodules]
    scars = {
        e.label: np.asarray(structures.masks[e.segment], bool)
        for e in manifest.findings
        if e.kind not in kinds
    }
    return nodules, masks, scars


def what_is_there(
    candidate: Candidate,
    person: anatomy.Patient,
    scars: dict[str, np.ndarray],
    findings: list,
    spacing: tuple[float, float, float],
) -> str:
    """What a false positive lies on, in a reader's words, from the patient the case was made of."""
    from scipy import ndimage

    for mask in scars.values():
        near = ndimage.binary_dilation(
            mask[candidate.box], iterations=max(1, int(round(3.0 / spacing[1])))
        )
        if (near & candidate.mask).any():
            return "scar"
    centre = np.asarray(candidate.centre_mm)
    for entry in findings:
        if np.linalg.norm(centre - np.asarray(entry.centre_mm)) <= entry.diameter_mm / 2 + 8.0:
            return f"beside a {entry.kind}"
    tubes = person.tubes
    keep = (tubes.kind == VESSEL) | (tubes.kind == AIRWAY)
    p0, p1 = tubes.p0[keep], tubes.p1[keep]
    radius = np.maximum(tubes.r0[keep], tubes.r1[keep])
    step = p1 - p0
    t = np.clip(((centre - p0) * step).sum(1) / np.maximum((step * step).sum(1), 1e-9), 0.0, 1.0)
    gap = np.linalg.norm(p0 + t[:, None] * step - centre, axis=1) - radius
    nearest = int(np.argmin(gap)) if len(gap) else -1
    if nearest >= 0 and gap[nearest] <= 2.0:
        tube = "bronchus" if tubes.kind[keep][nearest] == AIRWAY else "vessel"
        axis = step[nearest] / max(float(np.linalg.norm(step[nearest])), 1e-9)
        steep = np.degrees(np.arccos(min(abs(float(axis[2])), 1.0))) <= END_ON_DEGREES
        return f"{tube} seen end-on" if steep else f"{tube} along the slice"
    _, label = anatomy.tissue(person, *(np.array([v]) for v in centre))
    name = anatomy.Tissue(int(label[0])).name.lower().replace("_", " ")
    return "lung" if name == "lung" else f"{name} (outside the lung)"


def evaluate_case(spec: generated.CaseSpec, folder: Path, model: Model) -> CaseResult:
    """Run the model on one written case and judge what it found."""
    from dicomteach import io
    from dicomteach.samples.ct_findings import read_manifest
    from dicomteach.scoring import dice

    volume = io.load(folder / "ct")
    started = time.perf_counter()
    found = find_nodules(volume, model=model)
    seconds = time.perf_counter() - started
    nodules, masks, scars = _nodules_of(folder, volume)
    references = [Nodule(e.centre_mm, max(e.diameter_mm / 2.0, 3.0)) for e in nodules]
    inside = []
    for c in found:
        k, i, j = (int(round(v)) for v in c.centre_index)
        inside.append([bool(m[k, i, j]) for m in masks])
    verdicts = judge(
        np.array([c.centre_mm for c in found]).reshape(-1, 3),
        [c.probability for c in found],
        references,
        inside,
    )
    marks = [
        Mark(
            spec.name,
            c.probability,
            "duplicate" if v == DUPLICATE else None if v is None else f"{spec.name}/{v}",
        )
        for c, v in zip(found, verdicts, strict=True)
    ]
    result = CaseResult(spec, [], marks, seconds=seconds)
    best: dict[int, float] = {}
    for c, v in zip(found, verdicts, strict=True):
        if v is not None and v != DUPLICATE:
            best[v] = c.probability
            if c.probability >= OPERATING_POINT:
                shape = volume.pixels.shape
                result.dice.append(
                    {
                        "case": spec.name,
                        "kind": nodules[v].kind,
                        "diameter_mm": nodules[v].diameter_mm,
                        "dice": round(float(dice(masks[v], c.full_mask(shape))), 3),
                    }
                )
    for n, entry in enumerate(nodules):
        result.nodules.append(
            {
                "key": f"{spec.name}/{n}",
                "kind": entry.kind,
                "label": entry.label,
                "diameter_mm": entry.diameter_mm,
                "centre_mm": list(entry.centre_mm),
                "slice": int(round(volume.lps_to_index(entry.centre_mm)[0])),
                "probability": round(best.get(n, 0.0), 4),
            }
        )
    person = spec.person()
    findings = list(read_manifest(folder).findings)
    for c, v in zip(found, verdicts, strict=True):
        if v is None and c.probability >= OPERATING_POINT:
            what = what_is_there(c, person, scars, findings, volume.spacing)
            result.false_positives.append(
                {
                    "what": what,
                    "probability": round(c.probability, 4),
                    "centre_mm": list(c.centre_mm),
                    "slice": c.slice_index,
                    "diameter_mm": c.diameter_mm,
                }
            )
    return result


def summarise(results: list[CaseResult]) -> dict:
    """The figures of the model card from the cases' results."""
    marks = [m for r in results for m in r.marks]
    nodules = [n for r in results for n in r.nodules]
    scans = len(results)
    at = sensitivity_at(marks, len(nodules), scans, RATES)
    fp, sensitivity, threshold = froc_curve(marks, len(nodules), scans)
    shown = [m for m in marks if m.probability >= OPERATING_POINT and m.nodule != "duplicate"]
    found = {m.nodule for m in shown if m.nodule}
    kinds: dict[str, dict] = {}
    for n in nodules:
        entry = kinds.setdefault(n["kind"], {"nodules": 0, "found": 0, "dice": []})
        entry["nodules"] += 1
        entry["found"] += n["key"] in found
    for d in (d for r in results for d in r.dice):
        kinds[d["kind"]]["dice"].append(d["dice"])
    what: dict[str, int] = {}
    for r in results:
        for f in r.false_positives:
            what[f["what"]] = what.get(f["what"], 0) + 1
    dices = [d["dice"] for r in results for d in r.dice]
    return {
        "scans": scans,
        "nodules": len(nodules),
        "makers": sorted({r.spec.maker for r in results}),
        "sensitivity_at": {
            f"{k:g}": {"sensitivity": v[0], "threshold": v[1]} for k, v in at.items()
        },
        "operating_point": {
            "probability": OPERATING_POINT,
            "sensitivity": round(len(found) / max(len(nodules), 1), 4),
            "false_positives_per_scan": round(sum(m.nodule is None for m in shown) / scans, 3),
        },
        "most_sensitive": {
            "sensitivity": round(float(sensitivity.max()), 4),
            "false_positives_per_scan": round(float(fp[-1]), 2),
        },
        "dice": {
            "nodules": len(dices),
            "mean": round(float(np.mean(dices)), 3) if dices else None,
            "median": round(float(np.median(dices)), 3) if dices else None,
        },
        "by_kind": {
            k: {
                "nodules": v["nodules"],
                "found": v["found"],
                "sensitivity": round(v["found"] / v["nodules"], 3),
                "dice_median": round(float(np.median(v["dice"])), 3) if v["dice"] else None,
            }
            for k, v in sorted(kinds.items())
        },
        "false_positives_on": dict(sorted(what.items(), key=lambda kv: -kv[1])),
        "missed": [
            {k: n[k] for k in ("key", "kind", "diameter_mm", "probability")}
            for n in nodules
            if n["key"] not in found
        ],
        "seconds_per_scan": round(float(np.mean([r.seconds for r in results])), 2),
        "froc": {
            "false_positives_per_scan": [round(float(v), 3) for v in fp],
            "sensitivity": [round(float(v), 4) for v in sensitivity],
            "threshold": [round(float(v), 4) for v in threshold],
        },
    }


def known_errors(results: list[CaseResult]) -> list[KnownError]:
    """The errors worth teaching: the surest false positives on mimics, then the misses.

    Mimics are vessels and bronchi seen end-on and scars (:data:`KEEP` of
    each, most probable first); misses are nodules no candidate reached 0.5
    on, ground-glass ones first, then the faintest.
    """

    def entry(r: CaseResult, kind: str, what: str, item: dict, label: str) -> KnownError:
        exam = r.spec.examination
        return KnownError(
            kind=kind,
            what=what,
            case=r.spec.name,
            person_seed=r.spec.person_seed,
            maker=r.spec.maker,
            kernel=exam.kernel,
            centre_mm=tuple(float(v) for v in item["centre_mm"]),  # type: ignore[arg-type]
            slice=int(item["slice"]),
            probability=float(item["probability"]),
            label=label,
        )

    out = []
    for what in ("vessel seen end-on", "bronchus seen end-on", "scar"):
        chosen = sorted(
            ((r, f) for r in results for f in r.false_positives if f["what"] == what),
            key=lambda rf: -rf[1]["probability"],
        )[:KEEP]
        out += [
            entry(r, "false positive", what, f, f"{what}, marked {f['diameter_mm']:g} mm")
            for r, f in chosen
        ]
    missed = [(r, n) for r in results for n in r.nodules if n["probability"] < OPERATING_POINT]
    # ground-glass misses first (the teaching point), then the others, faintest first
    missed.sort(key=lambda rn: (rn[1]["kind"] != "ground-glass nodule", rn[1]["probability"]))
    out += [entry(r, "missed nodule", n["kind"], n, n["label"]) for r, n in missed[: 2 * KEEP]]
    return out


def table(summary: dict) -> str:
    """The figures as the Markdown docs/ai.md shows."""
    lines = [
        f"Held-out: {summary['scans']} scans"
        + (f" of {summary['matrix']}×{summary['matrix']}" if "matrix" in summary else "")
        + f" ({', '.join(summary['makers'])}), "
        f"{summary['nodules']} nodules.",
        "",
        "| false positives per scan | sensitivity | probability threshold |",
        "|---|---|---|",
    ]
    for rate, v in summary["sensitivity_at"].items():
        lines.append(f"| {rate} | {v['sensitivity']:.2f} | {v['threshold']:.2f} |")
    op = summary["operating_point"]
    lines += [
        "",
        f"At probability {op['probability']}: sensitivity {op['sensitivity']:.2f}, "
        f"{op['false_positives_per_scan']:.2f} false positives per scan. "
        f"Dice of the outlines of the nodules found there: median {summary['dice']['median']}, "
        f"mean {summary['dice']['mean']} ({summary['dice']['nodules']} nodules).",
        "",
        "| kind | nodules | found at 0.5 | sensitivity | median Dice |",
        "|---|---|---|---|---|",
    ]
    for kind, v in summary["by_kind"].items():
        lines.append(
            f"| {kind} | {v['nodules']} | {v['found']} | {v['sensitivity']:.2f} | "
            f"{v['dice_median'] if v['dice_median'] is not None else '—'} |"
        )
    lines += ["", "| false positives at 0.5 lie on | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary["false_positives_on"].items()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# the chest radiograph triage model

#: Resamples of the bootstrap confidence interval of the AUC.
BOOTSTRAP = 2000
#: A heat map marks a lesion when it reaches the model's threshold within this far (mm)
#: beyond the lesion's projected radius; its peak lies on a finding when the finding's
#: shadow (a quarter of its thickest or more) comes this near.
MARK_REACH_MM = 5.0


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the chance an abnormal film scores above a normal one (ties ½).

    >>> auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    0.75
    """
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    positive, negative = scores[labels], scores[~labels]
    if not len(positive) or not len(negative):
        return float("nan")
    above = (positive[:, None] > negative[None, :]).sum()
    ties = (positive[:, None] == negative[None, :]).sum()
    return float((above + 0.5 * ties) / (len(positive) * len(negative)))


def auc_interval(
    scores: np.ndarray, labels: np.ndarray, resamples: int = BOOTSTRAP, seed: int = 0
) -> tuple[float, float]:
    """95 % bootstrap interval of :func:`auc`: films resampled with replacement within each class.

    >>> low, high = auc_interval(np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.2]), np.array([0, 0, 1, 1, 1, 0]))
    >>> 0.0 <= low <= high <= 1.0
    True
    """
    rng = np.random.default_rng(seed)
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    positive, negative = scores[labels], scores[~labels]
    values = [
        auc(
            np.concatenate(
                [rng.choice(positive, len(positive)), rng.choice(negative, len(negative))]
            ),
            np.r_[np.ones(len(positive), bool), np.zeros(len(negative), bool)],
        )
        for _ in range(resamples)
    ]
    low, high = np.percentile(values, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def evaluate_film(film, model: Model, scratch: Path) -> dict:
    """Write ``film`` as DICOM, read it back as a learner's film, triage it, judge its heat map."""
    from dicomteach import io
    from dicomteach.ai.films import LESION_KINDS, write_film
    from dicomteach.ai.triage import triage_radiograph

    path = write_film(film, scratch / f"{film.name}.dcm")
    volume = io.load(path)
    started = time.perf_counter()
    result = triage_radiograph(volume, model=model)
    seconds = time.perf_counter() - started
    path.unlink()
    heat = result.heatmap
    findings = []
    for finding, thickness in zip(film.findings, film.lesion_maps, strict=True):
        row, column = film.lesion_pixel(finding)
        reach = (finding.radius * 1.1 + MARK_REACH_MM) / film.pixel_mm
        r0, c0 = max(int(row - reach), 0), max(int(column - reach), 0)
        window = heat[r0 : int(row + reach) + 1, c0 : int(column + reach) + 1]
        rr, cc = np.ogrid[: window.shape[0], : window.shape[1]]
        near = (rr + r0 - row) ** 2 + (cc + c0 - column) ** 2 <= reach**2
        # the peak lies on the finding when its shadow reaches within MARK_REACH_MM of it
        # (a scar is a band: its thickest point may be far from the peak on it)
        i, j = (int(round(v)) for v in result.peak)
        pad = int(np.ceil(MARK_REACH_MM / film.pixel_mm))
        around = thickness[max(i - pad, 0) : i + pad + 1, max(j - pad, 0) : j + pad + 1]
        findings.append(
            {
                "kind": finding.kind.value,
                "label": finding.label,
                "diameter_mm": finding.diameter_mm,
                "lesion": finding.kind in LESION_KINDS,
                "pixel": [round(row, 1), round(column, 1)],
                "heat": round(float(window[near].max()), 4),
                "under_peak": bool(around.size and around.max() >= 0.25 * thickness.max()),
            }
        )
    return {
        "film": film.name,
        "abnormal": film.holds_lesion,
        "score": round(result.score, 4),
        "peak": [round(v, 1) for v in result.peak],
        "dose": round(film.dose, 3),
        "findings": findings,
        "seconds": round(seconds, 3),
    }


def summarise_films(results: list[dict], threshold: float) -> dict:
    """The triage model's figures: AUC with its interval, the operating point, lesions by kind."""
    scores = np.array([r["score"] for r in results])
    labels = np.array([r["abnormal"] for r in results])
    flagged = scores >= threshold
    lesions = [f | {"film": r["film"]} for r in results for f in r["findings"] if f["lesion"]]
    kinds: dict[str, dict] = {}
    for f in lesions:
        entry = kinds.setdefault(f["kind"], {"lesions": 0, "marked": 0})
        entry["lesions"] += 1
        entry["marked"] += f["heat"] >= threshold
    sizes: dict[str, dict] = {}
    for f in lesions:
        band = (
            "< 10 mm"
            if f["diameter_mm"] < 10
            else "10-19 mm"
            if f["diameter_mm"] < 20
            else "20-29 mm"
            if f["diameter_mm"] < 30
            else ">= 30 mm (mass)"
        )
        entry = sizes.setdefault(band, {"lesions": 0, "marked": 0})
        entry["lesions"] += 1
        entry["marked"] += f["heat"] >= threshold
    normal = [r for r in results if not r["abnormal"]]
    abnormal = [r for r in results if r["abnormal"]]
    return {
        "films": len(results),
        "abnormal": int(labels.sum()),
        "auc": round(auc(scores, labels), 4),
        "auc_95ci": list(auc_interval(scores, labels)),
        "operating_point": {
            "score": threshold,
            "sensitivity": round(float(flagged[labels].mean()), 4),
            "specificity": round(float((~flagged[~labels]).mean()), 4),
            "flagged_abnormal_with_peak_on_a_lesion": sum(
                1
                for r in abnormal
                if r["score"] >= threshold
                and any(f["lesion"] and f["under_peak"] for f in r["findings"])
            ),
            "flagged_abnormal": int(flagged[labels].sum()),
        },
        "lesions_marked_by_kind": {
            k: v | {"share": round(v["marked"] / v["lesions"], 3)} for k, v in sorted(kinds.items())
        },
        "lesions_marked_by_size": {
            k: v | {"share": round(v["marked"] / v["lesions"], 3)} for k, v in sorted(sizes.items())
        },
        "false_positives_on_scars": sum(
            1
            for r in normal
            if r["score"] >= threshold
            and any(f["kind"] == "scar" and f["under_peak"] for f in r["findings"])
        ),
        "false_positives": int(flagged[~labels].sum()),
        "seconds_per_film": round(float(np.mean([r["seconds"] for r in results])), 3),
        "examples": film_examples(results, threshold),
    }


def film_examples(results: list[dict], threshold: float) -> dict[str, list[str]]:
    """Films to show (docs/ai.md's picture, a lesson): sure true positives, misses, false positives.

    True positives: flagged abnormal films whose peak lies on a lesion, the
    lowest-scoring of them first (the instructive ones, not the 5 cm masses);
    misses: abnormal films scored lowest; false positives: normal films scored highest.
    """
    hits = [
        r
        for r in results
        if r["abnormal"]
        and r["score"] >= threshold
        and any(f["lesion"] and f["under_peak"] for f in r["findings"])
    ]
    misses = [r for r in results if r["abnormal"] and r["score"] < threshold]
    false = [r for r in results if not r["abnormal"] and r["score"] >= threshold]
    return {
        "true_positive": [r["film"] for r in sorted(hits, key=lambda r: r["score"])][:KEEP],
        "missed": [r["film"] for r in sorted(misses, key=lambda r: r["score"])][:KEEP],
        "false_positive": [r["film"] for r in sorted(false, key=lambda r: -r["score"])][:KEEP],
    }


def film_table(summary: dict) -> str:
    """The triage figures as the Markdown docs/ai.md shows."""
    op = summary["operating_point"]
    low, high = summary["auc_95ci"]
    lines = [
        f"Held-out: {summary['films']} films ({summary['abnormal']} with a nodule or mass).",
        "",
        f"AUC {summary['auc']:.3f} (95 % bootstrap interval {low:.3f}–{high:.3f}). "
        f"At score {op['score']}: sensitivity {op['sensitivity']:.2f}, specificity "
        f"{op['specificity']:.2f}; of the {op['flagged_abnormal']} abnormal films flagged, "
        f"{op['flagged_abnormal_with_peak_on_a_lesion']} have the heat map's peak on a lesion.",
        "",
        "| lesion | lesions | heat map ≥ 0.5 on it | share |",
        "|---|---|---|---|",
    ]
    for group in ("lesions_marked_by_kind", "lesions_marked_by_size"):
        for k, v in summary[group].items():
            lines.append(f"| {k} | {v['lesions']} | {v['marked']} | {v['share']:.2f} |")
    return "\n".join(lines)


def main_triage(args: argparse.Namespace) -> int:
    """Triage the held-out films and write ``triage-evaluation.json``."""
    import tempfile

    from dicomteach.ai.films import film_specs, render_films

    model = load_model("triage", args.model)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for spec in film_specs("held-out", args.cases):
            for film in render_films(spec):
                results.append(evaluate_film(film, model, Path(scratch)))
                r = results[-1]
                print(
                    f"{r['film']}: score {r['score']:.3f} "
                    f"{[f['label'] + (' marked' if f['heat'] >= 0.5 else '') for f in r['findings']]} "
                    f"({r['seconds']:.2f} s)",
                    flush=True,
                )
    summary = summarise_films(results, model.description.detection_threshold)
    summary["model_sha256"] = model.description.onnx_sha256
    summary["command"] = "python -m dicomteach.ai.evaluate " + " ".join(args.argv)
    summary["results"] = results
    out = Path(args.out)
    (out / "triage-evaluation.json").write_text(json.dumps(summary, indent=1) + "\n", "utf-8")
    print(film_table(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dicomteach.ai.evaluate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--task", choices=("nodule", "triage"), default="nodule", help="which model to evaluate"
    )
    parser.add_argument("--cases", type=int, default=24, help="held-out patients")
    parser.add_argument(
        "--size",
        type=int,
        nargs="+",
        default=list(generated.SIZES),
        help="matrices each held-out CT is written at, each judged apart (the first: known errors)",
    )
    parser.add_argument("--folder", default=None, help="where the held-out cases are written")
    parser.add_argument("--model", default=None, help="folder of the model (default: shipped)")
    parser.add_argument("--out", default=str(MODELS), help="where the results are written")
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else sys.argv[1:]
    if args.task == "triage":
        return main_triage(args)
    model = load_model("nodule", args.model)
    summaries, first = {}, []
    for size in args.size:
        results = []
        for spec in generated.case_specs("held-out", args.cases):
            folder = held_out_folder(spec, args.folder, size)
            result = evaluate_case(spec, folder, model)
            results.append(result)
            hits = sum(1 for m in result.marks if m.nodule not in (None, "duplicate"))
            print(
                f"{spec.name} {size}×{size} {spec.maker} {spec.examination.kernel}: "
                f"{len(result.nodules)} nodules, {len(result.marks)} candidates, {hits} on "
                f"nodules, {len(result.false_positives)} false positives at {OPERATING_POINT} "
                f"({result.seconds:.1f} s)",
                flush=True,
            )
        summaries[size] = {"matrix": size} | summarise(results)
        first = first or results
    summary = summaries[args.size[0]]
    summary["other_matrices"] = {f"{k}": v for k, v in summaries.items() if k != args.size[0]}
    summary["model_sha256"] = model.description.onnx_sha256
    summary["command"] = "python -m dicomteach.ai.evaluate " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    out = Path(args.out)
    (out / "nodule-evaluation.json").write_text(json.dumps(summary, indent=1) + "\n", "utf-8")
    write_known_errors(
        out / "nodule-known-errors.json", known_errors(first), model.description.onnx_sha256
    )
    for each in summaries.values():
        print(f"\n{each['matrix']}×{each['matrix']}:\n" + table(each))
    return 0


def run(argv: list[str] | None = None) -> int:
    """:func:`main`, with a :class:`~dicomteach.errors.DicomTeachError` as one line and status 2."""
    from dicomteach.errors import DicomTeachError

    try:
        return main(argv)
    except DicomTeachError as exc:
        print(f"dicomteach: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
