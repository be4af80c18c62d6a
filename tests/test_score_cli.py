"""``dicomteach score``, run as a user runs it: a real subprocess, its stdout and exit status."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dicomteach import io
from dicomteach.io.writer import write_ct_series
from dicomteach.roi.rtstruct import write_rtstruct
from dicomteach.roi.seg import write_seg
from dicomteach.scoring import score

KEYS = ["dice", "jaccard", "hd_mm", "hd95_mm", "msd_mm", "surface_dice", "volume_diff_pct"]


def run_score(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dicomteach.cli", "score", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(run: subprocess.CompletedProcess, *words: str) -> None:
    assert run.returncode == 2, run.stdout
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dicomteach: error: "), run.stderr
    for word in words:
        assert word in lines[0]


def spheres(shape, centre, radius):
    grid = np.indices(shape).astype(float)
    return sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) <= radius**2


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A CT with a reference and a prediction as SEG (2 segments each) and as RTSTRUCT."""
    root = tmp_path_factory.mktemp("study")
    write_ct_series(root / "ct", np.zeros((8, 32, 32)), spacing=(2.0, 0.8, 0.8))
    vol = io.load(root / "ct")
    reference = {
        "Tumour": spheres(vol.pixels.shape, (4, 15, 15), 6),
        "Node": spheres(vol.pixels.shape, (3, 6, 25), 3),
    }
    prediction = {
        "Tumour": spheres(vol.pixels.shape, (4, 16, 14), 6),
        "Node": spheres(vol.pixels.shape, (3, 7, 25), 3),
    }
    (root / "seg").mkdir()
    write_seg(reference, vol, root / "seg" / "reference.dcm")
    write_seg(prediction, vol, root / "seg" / "prediction.dcm")
    write_rtstruct(reference, vol, root / "reference_rt.dcm")
    write_rtstruct(prediction, vol, root / "prediction_rt.dcm")
    return root, vol, reference, prediction


def test_npz_pair_prints_exactly_the_metrics_of_dicomteach_scoring(tmp_path):
    reference = spheres((10, 24, 24), (5, 12, 12), 5)
    prediction = spheres((10, 24, 24), (5, 13, 11), 4)
    spacing = np.array([2.5, 0.7, 0.7])
    np.savez(tmp_path / "ref.npz", mask=reference, spacing=spacing)
    np.savez(tmp_path / "pred.npz", mask=prediction.astype(np.uint8), spacing=spacing)
    run = run_score(tmp_path / "ref.npz", tmp_path / "pred.npz", "--json", "--tolerance-mm", "1.5")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert list(record) == KEYS
    expected = score(reference, prediction, spacing, tolerance_mm=1.5).as_dict()
    assert record == {key: pytest.approx(expected[key]) for key in KEYS}


def test_empty_prediction_prints_null(tmp_path):
    reference = spheres((12, 12), (6, 6), 3)
    np.savez(tmp_path / "ref.npz", mask=reference, spacing=[0.5, 0.5])
    np.savez(tmp_path / "pred.npz", mask=np.zeros_like(reference), spacing=[0.5, 0.5])
    run = run_score(tmp_path / "ref.npz", tmp_path / "pred.npz", "--json")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["hd_mm"] is None and record["dice"] == 0.0 and record["volume_diff_pct"] == -100


def test_seg_against_seg_one_structure(study):
    root, vol, reference, prediction = study
    run = run_score(
        root / "seg" / "reference.dcm", root / "seg" / "prediction.dcm", "--label", "1", "--json"
    )
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    expected = score(reference["Tumour"], prediction["Tumour"], vol.spacing).as_dict()
    assert record == {key: pytest.approx(expected[key]) for key in KEYS}


def test_seg_against_seg_every_structure(study):
    root, vol, reference, prediction = study
    run = run_score(root / "seg" / "reference.dcm", root / "seg" / "prediction.dcm", "--json")
    assert run.returncode == 0, run.stderr
    structures = json.loads(run.stdout)["structures"]
    assert [s["name"] for s in structures.values()] == ["Tumour", "Node"]
    node = score(reference["Node"], prediction["Node"], vol.spacing).as_dict()
    assert structures["2"]["hd95_mm"] == pytest.approx(node["hd95_mm"])


def test_rtstruct_against_seg_with_the_image(study):
    root, vol, reference, prediction = study
    run = run_score(
        root / "reference_rt.dcm",
        root / "seg" / "prediction.dcm",
        "--image",
        root / "ct",
        "--label",
        "1",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    expected = score(reference["Tumour"], prediction["Tumour"], vol.spacing).as_dict()
    assert json.loads(run.stdout)["dice"] == pytest.approx(expected["dice"])


def test_readable_table_by_default(study):
    root, *_ = study
    run = run_score(root / "seg" / "reference.dcm", root / "seg" / "reference.dcm", "--label", "2")
    assert run.returncode == 0, run.stderr
    assert "Node (2)" in run.stdout and "dice             1.0000" in run.stdout


def test_rtstruct_without_image_is_one_line_error(study):
    root, *_ = study
    assert_one_line_error(
        run_score(root / "reference_rt.dcm", root / "prediction_rt.dcm"), "--image"
    )


def test_mismatched_grids_exit_2_naming_both(tmp_path):
    np.savez(tmp_path / "ref.npz", mask=np.ones((4, 5, 5), bool), spacing=[1, 1, 1])
    np.savez(tmp_path / "pred.npz", mask=np.ones((4, 5, 5), bool), spacing=[1, 1, 1.5])
    run = run_score(tmp_path / "ref.npz", tmp_path / "pred.npz", "--json")
    assert_one_line_error(run, "ref.npz", "pred.npz", "grids differ")


def test_missing_file_exits_2(tmp_path):
    np.savez(tmp_path / "ref.npz", mask=np.ones((4, 5), bool), spacing=[1, 1])
    assert_one_line_error(
        run_score(tmp_path / "ref.npz", tmp_path / "absent.npz"), "absent.npz", "no such file"
    )


def test_unreadable_file_exits_2(tmp_path):
    (tmp_path / "junk.dcm").write_bytes(b"not dicom at all")
    np.savez(tmp_path / "ref.npz", mask=np.ones((4, 5), bool), spacing=[1, 1])
    assert_one_line_error(run_score(tmp_path / "ref.npz", tmp_path / "junk.dcm"), "junk.dcm")


def test_npz_without_spacing_exits_2(tmp_path):
    np.savez(tmp_path / "ref.npz", mask=np.ones((4, 5), bool))
    assert_one_line_error(run_score(tmp_path / "ref.npz", tmp_path / "ref.npz"), "'spacing'")


def test_seg_without_its_images_uses_its_own_grid_and_refuses_another_start(tmp_path, study):
    _, vol, *_ = study
    alone = tmp_path / "no" / "images" / "here"  # the CT is not within two folders
    for name, frame in (("ref", 2), ("pred", 5)):
        box = np.zeros(vol.pixels.shape, bool)
        box[frame, 4:12, 4:12] = True
        write_seg({"Box": box}, vol, alone / f"{name}.dcm")
    run = run_score(alone / "ref.dcm", alone / "pred.dcm", "--json")
    assert_one_line_error(run, "grids differ", "ref.dcm", "pred.dcm")


def test_seg_finds_its_images_beside_it(study):
    root, vol, *_ = study
    for name, frame in (("ref", 2), ("pred", 5)):
        box = np.zeros(vol.pixels.shape, bool)
        box[frame, 4:12, 4:12] = True
        write_seg({"Box": box}, vol, root / "seg" / f"{name}_box.dcm")
    run = run_score(root / "seg" / "ref_box.dcm", root / "seg" / "pred_box.dcm", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["dice"] == 0.0


def test_a_file_vanishing_during_the_source_search_does_not_stop_it(study, monkeypatch):
    """Found in CI: a SEG in a busy folder (/tmp) where another program deletes files
    between the listing and the check; the search must just skip them."""
    from dicomteach.roi import load

    root, vol, reference, _ = study
    listed = load._candidates

    def with_a_ghost(seg):
        return [str(root / "vanished.dcm"), *listed(seg)]

    monkeypatch.setattr(load, "_candidates", with_a_ghost)
    found = load.load_structures(root / "seg" / "reference.dcm")
    assert found.shape == vol.pixels.shape
    assert np.array_equal(found.masks[1], reference["Tumour"])


@pytest.mark.parametrize(("offset_mm", "one_grid"), [(5e-4, True), (2e-3, False)])
def test_score_and_grading_agree_on_one_grid_tolerance(tmp_path, offset_mm, one_grid):
    """5e-4 mm lies between the tolerances the two paths had (1e-4 mm for score, 1e-3 mm
    for grading), where they disagreed; 2e-3 mm is beyond both."""
    from dicomteach.grading import grade_delineation
    from dicomteach.roi import GRID_TOLERANCE_MM

    assert offset_mm < GRID_TOLERANCE_MM if one_grid else offset_mm > GRID_TOLERANCE_MM
    mask = spheres((6, 16, 16), (3, 8, 8), 4)
    np.savez(tmp_path / "ref.npz", mask=mask, spacing=[2.0, 0.8, 0.8])
    np.savez(tmp_path / "answer.npz", mask=mask, spacing=[2.0, 0.8 + offset_mm, 0.8])
    run = run_score(tmp_path / "ref.npz", tmp_path / "answer.npz", "--json")
    graded = grade_delineation(tmp_path / "answer.npz", tmp_path / "ref.npz", 10, images=False)
    if one_grid:
        assert run.returncode == 0 and json.loads(run.stdout)["dice"] == 1.0, run.stderr
        assert graded.points == 10
    else:
        assert_one_line_error(run, "grids differ")
        assert graded.points == 0 and "has voxels of 2×0.802×0.8 mm" in graded.lines[0]


def test_the_images_are_read_once_for_both_outlines(study, monkeypatch, capsys):
    """A 120-slice compressed CT costs seconds to decode: not twice per score."""
    from dicomteach import io as dicomteach_io
    from dicomteach.cli import main

    root, vol, reference, prediction = study
    reads = []
    real_read = dicomteach_io.read
    monkeypatch.setattr(
        dicomteach_io, "read", lambda *a, **k: reads.append(a) or real_read(*a, **k)
    )
    args = [str(root / "reference_rt.dcm"), str(root / "prediction_rt.dcm"), "--image"]
    assert main(["score", *args, str(root / "ct"), "--label", "1", "--json"]) == 0
    assert len(reads) == 1
    expected = score(reference["Tumour"], prediction["Tumour"], vol.spacing).as_dict()
    assert json.loads(capsys.readouterr().out)["dice"] == pytest.approx(expected["dice"])
