"""What a live class drew together, without a hub: agreement, consensus, scores, picture, poll.

The layers are made as the front ends make them (edits: a box and its labels
as runs); the results are checked against the project's own STAPLE and
scores run on the whole series, so cropping to where the class drew must
change nothing. The hub's routes to them are tested in ``tests/test_live.py``.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pycrdt import Doc, Map

from dicomteach.grading.render import ANSWER, REFERENCE
from dicomteach.live.agreement import (
    POLL_RADIUS_MM,
    class_agreement,
    class_picture,
    class_scores,
    document_form,
    poll_results,
    runs_of,
)
from dicomteach.live.document import Actor, Guard, Refused, add_participant, new_document
from dicomteach.live.save import apply_edits
from dicomteach.live.series import Boxed, SessionSeries
from dicomteach.scoring import score
from dicomteach.scoring.consensus import staple

SHAPE = (12, 60, 70)
SPACING = (2.5, 0.8, 0.8)


def ball(centre: tuple[int, int, int], radius_mm: float) -> np.ndarray:
    grid = np.indices(SHAPE).astype(float)
    offsets = [(g - c) * s for g, c, s in zip(grid, centre, SPACING, strict=True)]
    return np.sqrt(sum(o * o for o in offsets)) <= radius_mm


def strokes(labels: np.ndarray) -> list[dict]:
    """A layer as a front end sends it: one edit per slice drawn, over that slice's box."""
    edits = []
    for k in np.flatnonzero(labels.any(axis=(1, 2))):
        rows = np.flatnonzero(labels[k].any(axis=1))
        cols = np.flatnonzero(labels[k].any(axis=0))
        box = [[int(k), int(k) + 1], [int(rows[0]), int(rows[-1]) + 1]]
        box.append([int(cols[0]), int(cols[-1]) + 1])
        part = labels[k : k + 1, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        edits.append({"box": box, "runs": runs_of(part), "structure": 1})
    return edits


@pytest.fixture(scope="module")
def drawn() -> dict[str, np.ndarray]:
    """Four learners' outlines of one nodule (label 1), one also of a vessel (label 2)."""
    truth = ball((6, 30, 35), 9.0)
    wide = ball((6, 30, 35), 10.5)
    shifted = ball((6, 31, 37), 9.0)
    small = ball((6, 30, 34), 7.0)
    found = {}
    for name, mask in (("ann", truth), ("bo", wide), ("cy", shifted), ("dee", small)):
        labels = mask.astype(np.uint8)
        found[name] = labels
    found["cy"][5:8, 50:53, 10:13] = 2
    return found


def test_the_agreement_map_counts_who_drew_each_voxel_and_the_consensus_is_staples(drawn):
    layers = {name: {"edits": strokes(labels)} for name, labels in drawn.items()}
    layers["ed"] = {"edits": []}  # joined, drew nothing: not a rater
    found = class_agreement(layers, SHAPE)
    assert sorted(found.labels) == ["ann", "bo", "cy", "dee"]
    nodule, vessel = found.structures
    assert nodule.raters == ("ann", "bo", "cy", "dee") and vessel.raters == ("cy",)
    inside = tuple(slice(a, b) for a, b in found.box)
    masks = [labels == 1 for labels in drawn.values()]
    counts = np.zeros(SHAPE, int)
    counts[inside] = nodule.counts
    assert np.array_equal(counts, np.sum(masks, axis=0))
    # the consensus of the box is STAPLE's on the whole series, raters' estimates included
    whole = staple(masks)
    consensus = np.zeros(SHAPE, bool)
    consensus[inside] = nodule.consensus
    assert np.array_equal(consensus, whole.mask)
    assert nodule.sensitivity == pytest.approx(whole.sensitivity)
    assert nodule.specificity == pytest.approx(whole.specificity)
    # a structure one person drew is their outline
    vessel_mask = np.zeros(SHAPE, bool)
    vessel_mask[inside] = vessel.consensus
    assert np.array_equal(vessel_mask, drawn["cy"] == 2)
    # only some layers, when the presenter chooses
    two = class_agreement(layers, SHAPE, names=["ann", "bo"])
    assert two.structures[0].raters == ("ann", "bo") and len(two.structures) == 1


def test_the_documents_form_gives_the_maps_back_as_edits_do(drawn):
    layers = {name: strokes(labels) for name, labels in drawn.items()}
    found = class_agreement(layers, SHAPE)
    form = document_form(found, by="teacher")
    assert form["by"] == "teacher" and form["raters"] == ["ann", "bo", "cy", "dee"]
    nodule = form["structures"][0]
    assert nodule["label"] == 1 and nodule["raters"] == ["ann", "bo", "cy", "dee"]
    agreement, _ = apply_edits([{"box": nodule["box"], "runs": nodule["agreement"]}], SHAPE)
    assert np.array_equal(agreement, np.sum([m == 1 for m in drawn.values()], axis=0))
    consensus, _ = apply_edits([{"box": nodule["box"], "runs": nodule["consensus"]}], SHAPE)
    assert np.array_equal(consensus == 1, staple([m == 1 for m in drawn.values()]).mask)
    # compact: a box round what was drawn, not the series
    (k0, k1), (r0, r1), (c0, c1) = nodule["box"]
    assert (k1 - k0) * (r1 - r0) * (c1 - c0) < np.prod(SHAPE) / 4


def test_only_the_service_writes_the_consensus_root():
    doc = new_document({"id": "s", "course": "ct101", "presenter": "teacher"})
    for name, role in (("teacher", "instructor"), ("ann", "learner")):
        add_participant(doc, Actor(name, role), name.title(), "#000000")
    guard = Guard(doc)
    copy = Doc()
    copy.apply_update(doc.get_update())
    before = copy.get_state()
    copy.get("consensus", type=Map)["structures"] = []
    forged = copy.get_update(before)
    for who in (Actor("teacher", "instructor"), Actor("ann", "learner")):
        with pytest.raises(Refused, match=rf"{who.name} \({who.role}\) may not change consensus"):
            guard.check(forged, who)
    assert doc.get("consensus", type=Map).to_py() in (None, {})


def _series(reference: np.ndarray | None = None) -> SessionSeries:
    kept = Boxed.of(reference) if reference is not None else None
    return SessionSeries(
        shape=SHAPE,
        spacing=SPACING,
        origin=(0.0, 0.0, 0.0),
        direction=np.eye(3),
        series_uid="1.2.3",
        window=None,
        reference={1: kept} if kept is not None else {},
        reference_names={1: "Lung nodule"} if kept is not None else {},
    )


def test_scores_are_against_the_reference_when_there_is_one_else_the_consensus(drawn):
    layers = {name: strokes(labels) for name, labels in drawn.items()}
    truth = drawn["ann"] == 1
    series = _series(truth)
    found = class_agreement(layers, SHAPE, also=[series.reference[1].box])
    rows = {(r["username"], r["structure"]): r for r in class_scores(found, series)}
    ann = rows["ann", 1]
    assert ann["against"] == "reference" and ann["structure_name"] == "Lung nodule"
    assert ann["dice"] == 1.0 and ann["surface_dice"] == 1.0 and ann["hd95_mm"] == 0.0
    whole = score(truth, drawn["cy"] == 1, SPACING)
    assert rows["cy", 1]["dice"] == pytest.approx(whole.dice, abs=1e-4)
    assert rows["cy", 1]["hd95_mm"] == pytest.approx(whole.hd95_mm, abs=0.01)
    assert rows["bo", 1]["volume_mm3"] == pytest.approx(
        np.count_nonzero(drawn["bo"] == 1) * np.prod(SPACING), abs=0.1
    )
    # the vessel has no reference: judged against the class, here cy alone
    assert rows["cy", 2]["against"] == "consensus" and rows["cy", 2]["dice"] == 1.0
    assert rows["ann", 2]["drew"] is False and rows["ann", 2]["dice"] == 0.0

    no_reference = class_scores(class_agreement(layers, SHAPE), _series())
    against = {(r["username"], r["structure"]): r for r in no_reference}
    consensus = staple([m == 1 for m in drawn.values()])
    assert against["bo", 1]["against"] == "consensus"
    assert against["bo", 1]["dice"] == pytest.approx(
        score(consensus.mask, drawn["bo"] == 1, SPACING).dice, abs=1e-4
    )
    assert against["bo", 1]["sensitivity"] == pytest.approx(consensus.sensitivity[1], abs=1e-4)


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_the_picture_shows_each_outline_against_the_reference(drawn):
    truth = drawn["ann"] == 1
    series = _series(truth)
    layers = {name: strokes(labels) for name, labels in drawn.items()}
    found = class_agreement(layers, SHAPE, also=[series.reference[1].box])
    rows = class_scores(found, series)
    picture = _png(class_picture(found, series, rows=rows, full_names={"ann": "Ann Lee"}))
    assert picture.shape[2] == 3
    for colour in (ANSWER, REFERENCE):
        assert np.all(picture == colour, axis=2).any()
    # seven people fill a second row of panels
    more = dict(layers)
    for extra in ("fay", "gus", "hal"):
        more[extra] = layers["bo"]
    bigger = class_agreement(more, SHAPE, also=[series.reference[1].box])
    taller = _png(class_picture(bigger, series, rows=class_scores(bigger, series)))
    assert taller.shape[0] > picture.shape[0]
    assert class_picture(class_agreement({}, SHAPE), _series()) is None


def test_poll_clicks_are_measured_from_the_answer_or_the_reference():
    truth = ball((6, 30, 35), 6.0)
    clicks = {
        "ann": {"frame": 6, "row": 30, "column": 35},
        "bo": {"frame": 6, "row": 30, "column": 45},  # 8 mm to the side
        "cy": {"frame": 6, "row": 30, "column": 60},  # 20 mm
        "dee": {"frame": "?"},
    }
    poll = {"question": "Where is the nodule?", "answer": {"frame": 6, "row": 30, "column": 35}}
    found = poll_results({**poll, "clicks": clicks}, _series(truth))
    by = {r["username"]: r for r in found["clicks"]}
    assert found["judged_by"] == "answer" and found["radius_mm"] == POLL_RADIUS_MM
    assert sorted(by) == ["ann", "bo", "cy"]
    assert (by["ann"]["distance_mm"], by["bo"]["distance_mm"], by["cy"]["distance_mm"]) == (
        0.0,
        8.0,
        20.0,
    )
    assert [by[n]["hit"] for n in ("ann", "bo", "cy")] == [True, True, False]
    tight = poll_results(
        {**poll, "answer": {**poll["answer"], "radius_mm": 5}, "clicks": clicks}, _series()
    )
    assert {r["username"]: r["hit"] for r in tight["clicks"]} == {
        "ann": True,
        "bo": False,
        "cy": False,
    }
    # no answer point: the reference outline, 5 mm allowed (bo's click is 2 mm outside it)
    against = poll_results({"clicks": clicks}, _series(truth))
    by = {r["username"]: r for r in against["clicks"]}
    assert against["judged_by"] == "reference"
    assert by["ann"]["distance_mm"] == 0.0 and by["bo"]["hit"] and not by["cy"]["hit"]
    unjudged = poll_results({"clicks": clicks}, _series())
    assert unjudged["judged_by"] == "nothing" and unjudged["clicks"][0]["hit"] is None


def test_only_the_clicks_of_the_poll_asked_last_are_measured():
    # the widgets number each poll (asked) and each click names the poll it answers: a click
    # on the first poll is no answer to the second (dicomteach/widgets/static/live/session.js)
    clicks = {
        "ann": {"frame": 6, "row": 30, "column": 35, "asked": 2},
        "bo": {"frame": 6, "row": 30, "column": 45, "asked": 1},  # answered poll 1 only
    }
    poll = {"asked": 2, "answer": {"frame": 6, "row": 30, "column": 35}, "clicks": clicks}
    found = poll_results(poll, _series())
    assert [r["username"] for r in found["clicks"]] == ["ann"]
