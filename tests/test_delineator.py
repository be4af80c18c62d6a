"""The Delineator's kernel side, driven with the messages its browser view sends.

Each test calls the ``_handle_*`` methods with the content and buffers
delineator.js sends, then checks the label array, the answer file on disk and
the patches sent back. The browser half is tests/browser/test_delineator.py.
"""

from __future__ import annotations

import warnings
import zipfile

import numpy as np
import pytest

from dicomteach import io
from dicomteach.grading import grade_delineation
from dicomteach.imaging.planes import extract_slice, plane_layout, slice_index_to_volume
from dicomteach.io.volume import Volume
from dicomteach.io.writer import write_ct_series
from dicomteach.roi import interpolate_slices, npz, read_npz, read_seg
from dicomteach.widgets import AnswerFileMovedWarning, Delineator
from dicomteach.widgets import delineator as module
from dicomteach.widgets.delineator import brush_footprint

SHAPE = (7, 20, 24)
SPACING = (2.5, 0.8, 0.6)


@pytest.fixture(scope="module")
def ct(tmp_path_factory) -> Volume:
    folder = tmp_path_factory.mktemp("ct")
    k, r, c = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1], 0 : SHAPE[2]]
    hu = (-200 + 10 * c + 5 * r + k).astype(float)
    write_ct_series(folder, hu, spacing=SPACING)
    return io.load(folder)


class Recorder:
    """Stands in for the comm: keeps what the widget sends to its views."""

    def __init__(self, widget: Delineator):
        self.sent: list[tuple[dict, list]] = []
        widget.send = lambda content, buffers=None: self.sent.append((content, buffers or []))

    def of(self, kind: str) -> list[tuple[dict, list]]:
        return [(c, b) for c, b in self.sent if c.get("type") == kind]


def make(ct: Volume, tmp_path, **kwargs) -> tuple[Delineator, Recorder]:
    kwargs.setdefault("answer", tmp_path / "delineation.npz")
    widget = Delineator(ct, **kwargs)
    return widget, Recorder(widget)


def edit(
    widget: Delineator,
    plane: str,
    index: int,
    top_left: tuple[int, int],
    block: np.ndarray,
    *,
    before: np.ndarray | None = None,
    structure: int = 1,
    seq: int = 1,
    tool: str = "brush",
) -> None:
    """What delineator.js sends when a stroke ends: the changed box of the displayed slice."""
    block = np.asarray(block, np.uint8)
    r0, c0 = top_left
    content = {
        "type": "edit",
        "plane": plane,
        "slice": index,
        "box": [r0, r0 + block.shape[0], c0, c0 + block.shape[1]],
        "structure": structure,
        "tool": tool,
        "origin": "view-test",
        "seq": seq,
    }
    buffers = [block.tobytes()]
    if before is not None:
        buffers.append(np.asarray(before, np.uint8).tobytes())
    widget._on_message(widget, content, buffers)


def layout_of(ct: Volume, plane: str):
    return plane_layout(ct.direction, ct.spacing, ct.pixels.shape, plane)


# ---------------------------------------------------------------- strokes through the layout


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_a_stroke_lands_where_the_displayed_slice_shows_it(ct, tmp_path, plane):
    widget, _ = make(ct, tmp_path)
    layout = layout_of(ct, plane)
    index = layout.n_slices // 2 - 1
    block = np.zeros((3, 4), np.uint8)
    block[0, :] = 1
    block[1:, 1] = 1
    edit(widget, plane, index, (1, 2), block)
    shown = extract_slice(widget.labels, layout, index)
    expected = np.zeros((layout.rows, layout.cols), np.uint8)
    expected[1:4, 2:6] = block
    assert np.array_equal(shown, expected)
    assert widget.labels.sum() == block.sum()  # nothing written on another slice
    # Pixel by pixel, through the core's index rule.
    for r, c in np.argwhere(expected):
        assert widget.labels[slice_index_to_volume(layout, index, int(r), int(c))] == 1


def test_coronal_rows_run_from_the_last_frame_down(ct, tmp_path):
    widget, _ = make(ct, tmp_path)
    layout = layout_of(ct, "coronal")
    assert (layout.slice_axis, layout.row_axis, layout.flip_rows) == (1, 0, True)
    edit(widget, "coronal", 9, (0, 5), np.ones((1, 3)))  # the top row of the screen
    assert np.argwhere(widget.labels).tolist() == [[SHAPE[0] - 1, 9, c] for c in (5, 6, 7)]


def test_patch_sent_back_is_the_array_box_after_the_edit(ct, tmp_path):
    widget, recorder = make(ct, tmp_path)
    edit(widget, "sagittal", 4, (2, 3), np.full((2, 2), 1), seq=7)
    ((content, buffers),) = recorder.of("patch")
    box = tuple(slice(a, b) for a, b in content["box"])
    assert content["origin"] == "view-test" and content["seq"] == 7 and content["saved"]
    # The base widget's layer patch: the layer and its generation name what the view updates.
    assert content["layer"] == "labels"
    assert content["generation"] == widget.layers["labels"]["generation"]
    assert bytes(buffers[0]) == np.ascontiguousarray(widget.labels[box]).tobytes()
    assert widget.labels[box].sum() == 4


def test_only_pixels_the_stroke_changed_are_written(ct, tmp_path):
    """A view with a stale copy must not undo another view's pixels inside its box."""
    widget, _ = make(ct, tmp_path, structures=("Tumour", "Node"))
    edit(widget, "axial", 3, (5, 5), np.full((1, 1), 2), structure=2)  # another view's Node pixel
    stale_before = np.zeros((3, 3), np.uint8)
    after = stale_before.copy()
    after[0, 0] = 1  # this view painted one pixel; it still thinks (5, 5) is empty
    edit(widget, "axial", 3, (4, 4), after, before=stale_before, seq=2)
    assert widget.labels[3, 5, 5] == 2 and widget.labels[3, 4, 4] == 1
    assert widget.labels.sum() == 3


def test_refused_messages_change_nothing_and_say_why(ct, tmp_path, caplog):
    widget, recorder = make(ct, tmp_path)
    edit(widget, "axial", 3, (0, 0), np.ones((2, 2)))
    before = widget.labels
    bad = {
        "type": "edit",
        "plane": "axial",
        "slice": 3,
        "box": [0, 2, 0, 2],
        "origin": "v",
        "seq": 9,
    }
    widget._on_message(widget, bad, [b"\x01\x01\x01"])  # 3 bytes for 4 pixels
    widget._on_message(widget, {**bad, "plane": "oblique"}, [b"\x01" * 4])
    widget._on_message(widget, {**bad, "slice": 99}, [b"\x01" * 4])
    widget._on_message(widget, bad, [b"\x05" * 4])  # label 5 of 1 structure
    widget._on_message(widget, {**bad, "box": "everything"}, [b"\x01" * 4])
    assert np.array_equal(widget.labels, before)
    acks = [c for c, _ in recorder.of("ack")]
    assert len(acks) == 5 and all(a["problem"] and a["seq"] == 9 for a in acks)
    assert widget.revision == 1


# ---------------------------------------------------------------- the answer file


def test_every_message_writes_the_answer_atomically_and_it_reloads(ct, tmp_path, monkeypatch):
    writes = []
    real = npz.write_atomically

    def spy(path, write):
        writes.append(path)
        return real(path, write)

    monkeypatch.setattr(npz, "write_atomically", spy)
    path = tmp_path / "delineation.npz"
    widget, _ = make(ct, tmp_path, structures={"Tumour": (250, 0, 0), "Node": (0, 0, 250)})
    assert not path.exists()  # nothing drawn, nothing written
    edit(widget, "axial", 2, (3, 3), np.ones((4, 5)))
    assert writes == [path]
    edit(widget, "coronal", 6, (1, 1), np.full((2, 2), 2), structure=2, seq=2)
    widget._on_message(widget, {"type": "undo", "origin": "view-test"}, [])
    widget._on_message(widget, {"type": "redo", "origin": "view-test"}, [])
    assert writes == [path] * 4
    assert not list(tmp_path.glob(".dicomteach-*"))  # no temporary file left behind

    with np.load(path, allow_pickle=False) as saved:
        assert np.array_equal(saved["mask"], widget.labels)
        assert saved["mask"].dtype == np.uint8
        assert saved["spacing"].tolist() == list(SPACING)
        assert saved["names"].tolist() == ["Tumour", "Node"]
        assert saved["colors"].tolist() == [[250, 0, 0], [0, 0, 250]]
        assert str(saved["series_uid"]) == ct.series_uid
        assert saved["shape"].tolist() == list(SHAPE)
        assert int(saved["version"]) == npz.DELINEATION_VERSION
        assert int(saved["revision"]) == 4
    # What grading and `dicomteach score` read.
    structures = read_npz(path)
    assert structures.spacing == SPACING
    assert np.array_equal(structures.masks[1], widget.mask("Tumour"))
    assert np.array_equal(structures.masks[2], widget.mask("Node"))
    feedback = grade_delineation(
        path, widget.mask("Tumour"), structure=1, spacing_mm=SPACING, images=False
    )
    assert feedback.points == feedback.max_points

    again = Delineator(ct, {"Tumour": (250, 0, 0), "Node": (0, 0, 250)}, answer=path)
    assert np.array_equal(again.labels, widget.labels)
    assert again.revision == 4 and "Loaded" in again.notice


def test_default_answer_is_delineation_npz_in_the_current_folder(ct, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    widget = Delineator(ct)
    Recorder(widget)
    assert widget.answer_path == tmp_path / "delineation.npz"
    edit(widget, "axial", 1, (0, 0), np.ones((1, 1)))
    assert read_npz(tmp_path / "delineation.npz").masks[1].sum() == 1


def test_an_answer_for_another_grid_is_moved_aside_not_overwritten(ct, tmp_path):
    path = tmp_path / "delineation.npz"
    np.savez(path, mask=np.ones((3, 3, 3), np.uint8), spacing=np.array([1.0, 1.0, 1.0]))
    original = path.read_bytes()
    with pytest.warns(AnswerFileMovedWarning, match="shape"):
        widget, _ = make(ct, tmp_path)
    kept = list(tmp_path.glob("delineation.moved-*.npz"))
    assert len(kept) == 1 and kept[0].read_bytes() == original
    assert not path.exists() and widget.labels.sum() == 0
    assert "moved aside" in widget.notice
    edit(widget, "axial", 1, (0, 0), np.ones((2, 2)))
    assert read_npz(path).masks[1].sum() == 4
    assert kept[0].read_bytes() == original


def test_an_answer_from_another_series_of_the_same_size_is_moved_aside(ct, tmp_path):
    path = tmp_path / "delineation.npz"
    first, _ = make(ct, tmp_path)
    edit(first, "axial", 1, (0, 0), np.ones((2, 2)))
    other = Volume(
        ct.pixels.copy(), ct.spacing, ct.origin, ct.direction, modality="CT", header=ct.header
    )
    other.header = other.header.copy()
    other.header.SeriesInstanceUID = "1.2.3.4"
    with pytest.warns(AnswerFileMovedWarning, match="series"):
        second = Delineator(other, answer=path)
    assert second.labels.sum() == 0
    assert len(list(tmp_path.glob("delineation.moved-*.npz"))) == 1


def test_an_answer_declaring_terabytes_is_moved_aside_before_it_is_read(ct, tmp_path):
    # the header of a 3.6 TiB 'mask' and no data: refused from the header, nothing allocated
    path = tmp_path / "delineation.npz"
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("mask.npy", "w") as member:
            header = {"descr": "|u1", "fortran_order": False, "shape": (1_000_000, 2000, 2000)}
            np.lib.format.write_array_header_2_0(member, header)
        with archive.open("spacing.npy", "w") as member:
            np.lib.format.write_array(member, np.array(SPACING))
    with pytest.warns(AnswerFileMovedWarning, match="shape 1000000×2000×2000, not on the 7×20×24"):
        widget, _ = make(ct, tmp_path)
    assert widget.labels.sum() == 0 and len(list(tmp_path.glob("delineation.moved-*.npz"))) == 1


@pytest.mark.parametrize(
    "content",
    [b"not a zip at all", b"PK\x03\x04broken", b""],
    ids=["garbage", "broken-zip", "empty"],
)
def test_an_unreadable_answer_is_kept_aside_and_the_learner_starts_empty(ct, tmp_path, content):
    path = tmp_path / "delineation.npz"
    path.write_bytes(content)
    with pytest.warns(AnswerFileMovedWarning, match="cannot be read"):
        widget, _ = make(ct, tmp_path)
    assert widget.labels.sum() == 0
    (kept,) = tmp_path.glob("delineation.moved-*.npz")
    assert kept.read_bytes() == content


def test_a_file_that_cannot_be_moved_is_left_alone_and_work_goes_elsewhere(
    ct, tmp_path, monkeypatch
):
    path = tmp_path / "delineation.npz"
    path.write_bytes(b"junk")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(module.os, "replace", refuse)
    with pytest.warns(AnswerFileMovedWarning, match="left untouched"):
        widget, _ = make(ct, tmp_path)
    monkeypatch.undo()
    assert path.read_bytes() == b"junk"
    assert widget.answer_path != path and widget.answer_path.suffix == ".npz"
    assert (
        widget.answer_path.name.startswith("delineation.new-") and not widget.answer_path.exists()
    )
    assert widget.answer_file == widget.answer_path.name and "left untouched" in widget.notice
    edit(widget, "axial", 1, (0, 0), np.ones((1, 1)))
    assert path.read_bytes() == b"junk" and read_npz(widget.answer_path).masks[1].sum() == 1


def test_one_warning_class_for_every_answer_widget(ct, tmp_path):
    # a notebook filtering the question widgets' warning class silences the delineator's too
    (tmp_path / "delineation.npz").write_bytes(b"junk")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make(ct, tmp_path)
    assert [w.category for w in caught] == [AnswerFileMovedWarning]
    assert issubclass(AnswerFileMovedWarning, UserWarning)


def test_a_save_that_fails_keeps_the_work_and_says_so(ct, tmp_path, monkeypatch):
    widget, recorder = make(ct, tmp_path)

    def full(path, write):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(npz, "write_atomically", full)
    with pytest.warns(AnswerFileMovedWarning, match="No space left"):
        edit(widget, "axial", 1, (0, 0), np.ones((1, 1)))
    assert widget.labels.sum() == 1 and "Could not save" in widget.notice
    assert recorder.of("patch")[-1][0]["saved"] is False
    monkeypatch.undo()
    edit(widget, "axial", 1, (1, 1), np.ones((1, 1)), seq=2)
    assert read_npz(widget.answer_path).masks[1].sum() == 2


# ---------------------------------------------------------------- history


def test_undo_reverts_each_stroke_and_redo_brings_it_back(ct, tmp_path):
    widget, recorder = make(ct, tmp_path)
    states = [widget.labels]
    for n in range(60):  # more than the 50 steps asked for
        k, r, c = divmod(n, 20)[0] % SHAPE[0], n % SHAPE[1], n % SHAPE[2]
        edit(widget, "axial", k, (r, c), np.ones((1, 1)), seq=n + 1)
        states.append(widget.labels)
    assert widget.can_undo == 60
    for n in range(60, 5, -1):
        widget._on_message(widget, {"type": "undo", "origin": "view-test"}, [])
        assert np.array_equal(widget.labels, states[n - 1])
    assert np.array_equal(read_npz(widget.answer_path).masks[1], states[5] == 1)
    done = recorder.of("done")[-1][0]
    assert done == {
        "type": "done",
        "op": "undo",
        "origin": "view-test",
        "changed": True,
        "revision": widget.revision,
    }
    # The undo reaches every view, the one that asked included (origin None).
    assert recorder.of("patch")[-1][0]["origin"] is None
    widget._on_message(widget, {"type": "redo", "origin": "view-test"}, [])
    assert np.array_equal(widget.labels, states[6])
    edit(widget, "axial", 0, (0, 10), np.ones((1, 1)), seq=99)
    assert widget.can_redo == 0  # a new stroke forgets what was undone
    while widget.undo():
        pass
    assert widget.labels.sum() == 0
    widget._on_message(widget, {"type": "undo", "origin": "view-test"}, [])
    assert recorder.of("done")[-1][0]["changed"] is False


def test_history_keeps_a_hundred_steps(ct, tmp_path):
    widget, _ = make(ct, tmp_path, answer=None)
    for n in range(120):
        edit(widget, "axial", n % SHAPE[0], (n // SHAPE[0], 0), np.ones((1, 1)), seq=n)
    assert widget.can_undo == module.MAX_UNDO
    while widget.undo():
        pass
    assert widget.labels.sum() == 120 - module.MAX_UNDO


# ---------------------------------------------------------------- interpolation


def test_interpolate_fills_the_slices_between_the_drawn_ones(ct, tmp_path):
    widget, recorder = make(ct, tmp_path, structures=("Tumour", "Node"))
    layout = layout_of(ct, "axial")
    small = brush_footprint([(10, 12)], 2.0, (layout.row_spacing, layout.col_spacing), SHAPE[1:])
    large = brush_footprint([(10, 12)], 5.0, (layout.row_spacing, layout.col_spacing), SHAPE[1:])
    edit(widget, "axial", 1, (0, 0), small)
    edit(widget, "axial", 5, (0, 0), large, seq=2)
    edit(widget, "axial", 3, (0, 0), np.full((1, 1), 2), structure=2, seq=3)  # Node inside
    drawn = widget.mask("Tumour")
    widget._on_message(
        widget, {"type": "interpolate", "plane": "axial", "structure": 1, "origin": "v"}, []
    )
    expected = interpolate_slices(drawn, [1, 5], axis=0, spacing=SPACING)
    expected[3, 0, 0] = False  # the Node pixel stays Node
    assert np.array_equal(widget.mask("Tumour"), expected)
    assert widget.labels[3, 0, 0] == 2
    sizes = widget.mask("Tumour").sum(axis=(1, 2))
    assert sizes[0] == 0 and sizes[6] == 0 and sizes[1] < sizes[2] < sizes[3] < sizes[4] < sizes[5]
    assert recorder.of("done")[-1][0]["changed"] is True
    assert "3 axial slices" in widget.notice
    assert read_npz(widget.answer_path).masks[1].sum() == expected.sum()
    widget.undo()
    assert np.array_equal(widget.mask("Tumour"), drawn)


def test_interpolate_in_a_reformatted_plane_uses_its_slices(ct, tmp_path):
    widget, _ = make(ct, tmp_path)
    edit(widget, "coronal", 4, (2, 5), np.ones((3, 6)))
    edit(widget, "coronal", 10, (2, 5), np.ones((3, 6)), seq=2)
    assert widget.interpolate(plane="coronal") == 5
    filled = widget.mask()
    assert filled[:, 4:11].any(axis=(0, 2)).all() and not filled[:, :4].any()
    assert filled.sum() == 7 * 18


def test_interpolate_needs_two_drawn_slices(ct, tmp_path):
    widget, recorder = make(ct, tmp_path)
    edit(widget, "axial", 2, (0, 0), np.ones((2, 2)))
    widget._on_message(widget, {"type": "interpolate", "plane": "axial", "origin": "v"}, [])
    assert recorder.of("done")[-1][0]["changed"] is False
    assert "at least two" in widget.notice and widget.can_undo == 1


def test_an_erased_slice_ends_the_structure_for_interpolation(ct, tmp_path):
    widget, _ = make(ct, tmp_path)
    edit(widget, "axial", 1, (0, 0), np.ones((3, 3)))
    edit(widget, "axial", 3, (0, 0), np.ones((3, 3)), seq=2)
    edit(widget, "axial", 3, (0, 0), np.zeros((3, 3)), before=np.ones((3, 3)), seq=3)  # erased
    edit(widget, "axial", 5, (0, 0), np.ones((3, 3)), seq=4)
    assert widget.interpolate() == 2
    assert widget.mask()[[2, 3, 4]].sum() == 0


# ---------------------------------------------------------------- Python API


def test_masks_clear_and_labels(ct, tmp_path):
    widget, recorder = make(ct, tmp_path, structures=("Tumour", "Node"))
    labels = np.zeros(SHAPE, np.uint8)
    labels[2, 3:6, 3:6] = 1
    labels[4, 8:10, 8:10] = 2
    widget.labels = labels
    assert np.array_equal(widget.labels, labels)
    assert (
        widget.mask("Node").sum() == 4 and widget.mask(1).sum() == 9 and widget.mask().sum() == 13
    )
    assert recorder.of("patch")[-1][0]["box"] == [[2, 5], [3, 10], [3, 10]]
    assert widget.clear("Tumour") is True
    assert widget.mask("Tumour").sum() == 0 and widget.mask("Node").sum() == 4
    assert widget.clear("Tumour") is False
    widget.undo()
    assert widget.mask("Tumour").sum() == 9
    widget.labels = labels > 0  # a bool mask is structure 1
    assert widget.labels.max() == 1
    saved = read_npz(widget.answer_path)
    assert np.array_equal(saved.masks[1], labels > 0)


def test_to_seg_writes_a_seg_roi_reads_back_equal(ct, tmp_path):
    widget, _ = make(ct, tmp_path, structures=("Tumour", "Node"))
    edit(widget, "axial", 2, (4, 4), np.ones((5, 6)))
    edit(widget, "sagittal", 12, (1, 3), np.full((2, 4), 2), structure=2, seq=2)
    seg = widget.to_seg(tmp_path / "seg.dcm")
    found = read_seg(seg, ct)
    assert found.names == {1: "Tumour", 2: "Node"}
    assert np.array_equal(found.masks[1], widget.mask("Tumour"))
    assert np.array_equal(found.masks[2], widget.mask("Node"))


def test_to_seg_of_nothing_says_so(ct, tmp_path):
    widget, _ = make(ct, tmp_path)
    with pytest.raises(ValueError, match="Nothing to export"):
        widget.to_seg(tmp_path / "seg.dcm")


def test_the_label_map_is_not_synced_as_a_trait(ct, tmp_path):
    widget, _ = make(ct, tmp_path)
    assert "labels" not in widget.keys and "structures" in widget.keys
    assert set(widget.layers) == {"image", "labels"}
    assert widget.layers["labels"]["dtype"] == "uint8"
    assert widget._arrays["labels"] is widget._labels  # streamed to new views as it is now


def test_reference_is_streamed_as_its_own_layer(ct, tmp_path):
    reference = np.zeros(SHAPE, bool)
    reference[3, 5:9, 5:9] = True
    widget, _ = make(ct, tmp_path, reference=reference)
    assert set(widget.layers) == {"image", "labels", "reference"}
    assert np.array_equal(widget._arrays["reference"], reference.astype(np.uint8))
    assert widget.labels.sum() == 0


def test_range_brush_defaults_to_soft_tissue_on_ct(ct, tmp_path):
    widget, _ = make(ct, tmp_path, answer=None)
    assert widget.hu_range == [-100.0, 200.0]
    widget.set_hu_range(-50, 80)
    assert widget.hu_range == [-50.0, 80.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"structures": ()}, "at least one"),
        ({"structures": ("A", "A")}, "twice"),
        ({"structures": {"A": (300, 0, 0)}}, "colour of 'A'"),
        ({"structures": ("",)}, "non-empty"),
        ({"answer": "answer.json"}, "must name a .npz file"),
        ({"answer": 3}, "must be the path of a .npz file"),
        ({"hu_range": (1, 2, 3)}, "hu_range"),
        ({"brush_mm": 0}, "brush_mm"),
        ({"tools": ["brush", "lasso"]}, "lasso"),
        ({"plane": "oblique"}, "plane"),
        ({"reference": np.zeros((2, 2, 2), bool)}, "shape"),
    ],
)
def test_bad_arguments_raise_one_line(ct, tmp_path, kwargs, match):
    kwargs.setdefault("answer", tmp_path / "a.npz")
    with pytest.raises(ValueError, match=match) as info:
        Delineator(ct, **kwargs)
    assert "\n" not in str(info.value)


def test_unknown_structures_and_wrong_shapes_raise_one_line(ct, tmp_path):
    widget, _ = make(ct, tmp_path, structures=("Tumour", "Node"))
    for call in (
        lambda: widget.mask("Liver"),
        lambda: widget.clear("Liver"),
        lambda: widget.select("Liver"),
        lambda: widget.select(3),
        lambda: widget.interpolate("Liver"),
    ):
        with pytest.raises(ValueError, match="Unknown structure 'Liver'|Unknown structure 3"):
            call()
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        widget.labels = np.zeros((2, 2), np.uint8)
    with pytest.raises(ValueError, match="0..2"):
        widget.labels = np.full(SHAPE, 3, np.uint8)
    with pytest.raises(ValueError, match="grayscale"):
        rgb = Volume(np.zeros((1, 4, 4, 3), np.uint8), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
        Delineator(rgb, answer=None)


def test_an_image_that_fails_to_load_shows_an_error_and_writes_nothing(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        widget = Delineator(tmp_path / "missing", answer=tmp_path / "a.npz")
    assert widget.error.startswith("Could not load the image")
    with pytest.raises(ValueError, match="no image"):
        widget.mask()
    widget._on_message(widget, {"type": "undo", "origin": "v"}, [])
    assert not (tmp_path / "a.npz").exists()


def test_an_answer_with_unknown_structures_keeps_them(ct, tmp_path):
    path = tmp_path / "delineation.npz"
    first = Delineator(ct, ("Tumour", "Node"), answer=path)
    Recorder(first)
    edit(first, "axial", 2, (0, 0), np.full((1, 2), 2), structure=2)
    second = Delineator(ct, ("Tumour",), answer=path)  # the notebook now asks for one structure
    assert second.names == ["Tumour", "Node"]
    assert second.mask("Node").sum() == 2


def test_brush_footprint_is_a_disc_in_millimetres():
    rows, cols = 31, 41
    spacing = (0.8, 0.5)
    disc = brush_footprint([(15, 20)], 4.0, spacing, (rows, cols))
    r, c = np.mgrid[0:rows, 0:cols]
    assert np.array_equal(disc, ((r - 15) * 0.8) ** 2 + ((c - 20) * 0.5) ** 2 <= 16 + 1e-6)
    assert disc[15].sum() == 17 and disc[:, 20].sum() == 11  # 4/0.5 = 8 and 4/0.8 = 5 each side
    line = brush_footprint([(15, 10), (15, 30)], 2.0, spacing, (rows, cols))
    assert line.any(axis=1).nonzero()[0].tolist() == [13, 14, 15, 16, 17]
    assert line[15].nonzero()[0].tolist() == list(range(6, 35))


def test_every_patch_names_its_box_in_whole_numbers(ct, tmp_path):
    widget, recorder = make(ct, tmp_path)
    edit(widget, "axial", 1, (0, 0), np.ones((3, 3)))
    edit(widget, "axial", 5, (0, 0), np.ones((3, 3)), seq=2)
    widget.interpolate()
    widget.clear("Tumour")
    widget.undo()
    for content, buffers in recorder.of("patch"):
        (k0, k1), (r0, r1), (c0, c1) = content["box"]
        assert all(isinstance(v, int) for v in (k0, k1, r0, r1, c0, c1)), content
        assert len(bytes(buffers[0])) == (k1 - k0) * (r1 - r0) * (c1 - c0)
