"""The widgets' Python side: what they send, how they refuse, what they keep (no browser)."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from dicomteach import io
from dicomteach.imaging.resample import resample_to
from dicomteach.io.volume import Volume, Window
from dicomteach.io.writer import write_ct_series
from dicomteach.widgets import Viewer

AXIAL = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def _ct(n=10, rows=16, cols=12) -> Volume:
    k, r, c = np.mgrid[0:n, 0:rows, 0:cols]
    return Volume(
        (k * 100 + r * 10 + c).astype(np.int16),
        (2.5, 0.7, 0.9),
        (-10.0, -20.0, -30.0),
        AXIAL,
        modality="CT",
        units="HU",
        rescale_intercept=np.array([-1024.0]),
    )


class Recorder:
    """Collects what a widget sends instead of a comm."""

    def __init__(self, widget) -> None:
        self.messages: list[tuple[dict, list]] = []
        widget.send = lambda content, buffers=None: self.messages.append((content, buffers))


def test_streaming_sends_every_frame_once_starting_with_the_one_on_screen():
    vol = _ct(n=10)
    viewer = Viewer(vol, frame=7)
    viewer.chunk_bytes = 3 * vol.pixels[0].nbytes
    sent = Recorder(viewer)
    viewer._handle_ready({"type": "ready", "layers": ["image"], "frame": 7}, [])
    chunks = [m for m, _ in sent.messages]
    # The slice on screen alone first, then blocks of three outwards, nearest first.
    assert [(m["start"], m["count"]) for m in chunks] == [(7, 1), (8, 2), (4, 3), (1, 3), (0, 1)]
    received = np.zeros_like(vol.pixels)
    for m, buffers in sent.messages:
        block = np.frombuffer(bytes(buffers[0]), dtype="<i2").reshape(m["count"], 16, 12)
        received[m["start"] : m["start"] + m["count"]] = block
        assert m["generation"] == viewer.layers["image"]["generation"]
    assert np.array_equal(received, vol.pixels)


def _chunks(sent: Recorder) -> list[dict]:
    return [m for m, _ in sent.messages if m["type"] == "chunk"]


def _received(viewer, chunk: dict) -> None:
    """What a view sends once it has a chunk of its stream."""
    viewer._on_message(
        viewer,
        {"type": "received", "stream": chunk["stream"], "layer": "image", "seq": chunk["seq"]},
        [],
    )


def test_a_stream_keeps_a_few_chunks_in_flight_and_sends_more_as_the_view_receives_them():
    vol = _ct(n=10)
    viewer = Viewer(vol, frame=7)
    viewer.chunk_bytes = 2 * vol.pixels[0].nbytes
    viewer.stream_window = 3 * vol.pixels[0].nbytes
    sent = Recorder(viewer)
    viewer._on_message(
        viewer, {"type": "ready", "layers": ["image"], "frame": 7, "stream": "v1"}, []
    )
    # The slice on screen, then as many as the window holds; the rest waits for the view.
    assert [(m["start"], m["count"]) for m in _chunks(sent)] == [(7, 1), (8, 2)]
    assert {m["stream"] for m in _chunks(sent)} == {"v1"}
    # Another view's acknowledgements do not move this stream.
    _received(viewer, {**_chunks(sent)[0], "stream": "other view"})
    assert len(_chunks(sent)) == 2
    acknowledged = 0
    while acknowledged < len(_chunks(sent)):
        _received(viewer, _chunks(sent)[acknowledged])
        acknowledged += 1
        in_flight = sum(m["count"] for m in _chunks(sent)[acknowledged:])
        assert in_flight <= 3 + 2  # the window, and the one chunk that may start inside it
    assert [(m["start"], m["count"]) for m in _chunks(sent)] == [
        (7, 1),
        (8, 2),
        (5, 2),
        (3, 2),
        (1, 2),
        (0, 1),
    ]
    received = np.zeros_like(vol.pixels)
    for m, buffers in sent.messages:
        block = np.frombuffer(bytes(buffers[0]), dtype="<i2").reshape(m["count"], 16, 12)
        received[m["start"] : m["start"] + m["count"]] = block
    assert np.array_equal(received, vol.pixels)


def test_a_slice_wanted_before_it_arrived_is_sent_next_then_the_slices_around_it():
    vol = _ct(n=40)
    viewer = Viewer(vol, frame=20)
    viewer.chunk_bytes = viewer.stream_window = 3 * vol.pixels[0].nbytes
    sent = Recorder(viewer)
    viewer._on_message(
        viewer, {"type": "ready", "layers": ["image"], "frame": 20, "stream": "v"}, []
    )
    assert [(m["start"], m["count"]) for m in _chunks(sent)] == [(20, 1), (21, 3)]
    # The learner pressed End: slice 39 is on screen, not here yet.
    viewer._on_message(viewer, {"type": "want", "stream": "v", "layer": "image", "frame": 39}, [])
    _received(viewer, _chunks(sent)[0])
    _received(viewer, _chunks(sent)[1])
    acknowledged = 2
    while acknowledged < len(_chunks(sent)):
        _received(viewer, _chunks(sent)[acknowledged])
        acknowledged += 1
    later = [(m["start"], m["count"]) for m in _chunks(sent)[2:]]
    # 39 alone, then outwards from it (38..36, 35..33), then on down past what was sent.
    assert later[:4] == [(39, 1), (36, 3), (33, 3), (30, 3)]
    frames = [f for m in _chunks(sent) for f in range(m["start"], m["start"] + m["count"])]
    assert sorted(frames) == list(range(40))
    # A slice that has arrived asks for nothing new.
    count = len(sent.messages)
    viewer._on_message(viewer, {"type": "want", "stream": "v", "layer": "image", "frame": 20}, [])
    assert len(sent.messages) == count


def test_a_stream_of_a_replaced_layer_stops():
    vol = _ct(n=10)
    viewer = Viewer(vol, frame=0)
    viewer.chunk_bytes = viewer.stream_window = vol.pixels[0].nbytes
    sent = Recorder(viewer)
    viewer._on_message(
        viewer, {"type": "ready", "layers": ["image"], "frame": 0, "stream": "v"}, []
    )
    first = _chunks(sent)[0]
    viewer.set_overlay(vol.pixels > 500)  # a new layer alone: the image's stream goes on
    _received(viewer, first)
    assert len(_chunks(sent)) == 2
    viewer._show_volume(_ct(n=10))  # a new image (new generation): its old stream ends
    _received(viewer, _chunks(sent)[1])
    assert len(_chunks(sent)) == 2


def test_unknown_messages_and_layers_are_ignored():
    viewer = Viewer(_ct())
    sent = Recorder(viewer)
    viewer._on_message(viewer, {"type": "nonsense"}, [])
    viewer._on_message(viewer, "not a dict", [])
    viewer._handle_ready({"layers": ["no-such-layer"]}, [])
    assert sent.messages == []


def test_geometry_layouts_letters_and_the_slice_property():
    viewer = Viewer(_ct(), window=Window(40, 400))
    assert viewer.planes == ["axial", "coronal", "sagittal"] and viewer.plane == "axial"
    assert viewer.layouts["axial"]["letters"] == {
        "top": "A",
        "bottom": "P",
        "left": "R",
        "right": "L",
    }
    assert viewer.layouts["coronal"]["rows"] == 10 and viewer.layouts["coronal"]["cols"] == 12
    assert viewer.frame == 5 and viewer.position == [5, 8, 6]
    viewer.frame = 2
    assert viewer.position[0] == 2
    with pytest.raises(ValueError, match="frame must be in 0..9"):
        viewer.frame = 10
    viewer.window = Window(-600, 1500)
    assert (viewer.window_center, viewer.window_width) == (-600.0, 1500.0)


def test_an_image_without_geometry_shows_only_its_plane_and_no_letters():
    cr = io.load(get_testdata_file("RG1_UNCR.dcm", download=False))
    viewer = Viewer(cr)
    assert not cr.geometry_known
    assert len(viewer.planes) == 1 and viewer.layouts[viewer.plane]["letters"] == {}
    assert viewer.layers["image"]["inverted"] is True


def test_presets_include_voi_lut_tables_and_modality_lut_goes_to_the_browser():
    vlut = Viewer(get_testdata_file("vlut_04.dcm", download=False))
    assert {"name": "VOI LUT 1", "voi_table": 0} in vlut.presets
    table = vlut.layers["image"]["voi_luts"][0]
    assert len(table["data"]) == len(
        io.load(get_testdata_file("vlut_04.dcm", download=False)).voi_luts[0].data
    )
    mlut = Viewer(get_testdata_file("mlut_18.dcm", download=False))
    assert mlut.layers["image"]["modality_lut"]["data"]


def test_missing_or_broken_series_give_an_error_state_not_an_exception(tmp_path, caplog):
    assert Viewer().error == "No image"
    with caplog.at_level(logging.WARNING):
        viewer = Viewer(tmp_path / "nothing-here")
    assert viewer.error.startswith("Could not load the image: ") and "nothing-here" in viewer.error
    assert viewer.layers == {} and viewer.volume is None
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    assert Viewer(broken).error.startswith("Could not load the image: ")
    with pytest.raises(ValueError, match="no image to put the overlay on"):
        viewer.set_overlay(np.zeros((1, 1, 1), bool))


def test_overlays_from_masks_labels_and_dicts_are_checked():
    vol = _ct()
    viewer = Viewer(vol, overlay={"a": vol.pixels > 500, "b": vol.pixels < 100})
    labels = viewer._arrays["labels"]
    assert labels.dtype == np.uint8 and set(np.unique(labels)) <= {0, 1, 2}
    assert [item["name"] for item in viewer.label_info] == ["a", "b"]
    assert viewer.label_info[0]["color"] != viewer.label_info[1]["color"]
    with pytest.raises(ValueError, match="shape"):
        viewer.set_overlay(np.zeros((2, 2, 2), bool))
    with pytest.raises(ValueError, match="0..255"):
        viewer.set_overlay(np.full(vol.pixels.shape, 300))
    with pytest.raises(ValueError, match="opacity"):
        viewer.set_overlay(vol.pixels > 0, opacity=2)
    with pytest.raises(ValueError, match="'fill' or 'outline'"):
        viewer.set_overlay(vol.pixels > 0, mode="dots")
    generation = viewer.layers["labels"]["generation"]
    viewer.set_overlay(vol.pixels > 900, mode="outline")
    assert viewer.layers["labels"]["generation"] > generation  # re-streamed, not patched
    viewer.set_overlay(None)
    assert "labels" not in viewer.layers and viewer.label_info == []


def test_a_seg_file_is_drawn_on_the_image_it_references(tmp_path):
    from dicomteach.roi.seg import write_seg

    k, r, c = np.mgrid[0:6, 0:20, 0:20]
    write_ct_series(tmp_path / "ct", (-1000 + 5 * c).astype(float))
    ct = io.load(tmp_path / "ct")
    mask = (k - 3) ** 2 + (r - 10) ** 2 + (c - 10) ** 2 < 9
    paths = sorted((tmp_path / "ct").iterdir())
    write_seg({"nodule": mask}, paths, tmp_path / "seg.dcm")
    viewer = Viewer(ct, overlay=tmp_path / "seg.dcm")
    assert np.array_equal(viewer._arrays["labels"] > 0, mask)
    assert viewer.label_info[0]["name"] == "nodule"


def test_fused_series_is_resampled_onto_the_grid_and_sent_as_16_bits():
    ct = _ct(n=8, rows=20, cols=16)
    kk, rr, cc = np.mgrid[0:4, 0:10, 0:8]
    pet = Volume(
        ((kk + rr + cc) * 100).astype(np.uint16),
        (5.0, 1.4, 1.8),
        ct.origin,
        AXIAL,
        modality="PT",
        units="SUVbw",
        rescale_slope=np.array([0.01]),
    )
    viewer = Viewer(ct, fuse=pet, fuse_window=Window(5, 10))
    info = viewer.layers["fused"]
    assert viewer._arrays["fused"].dtype == np.uint16 and info["units"] == "SUVbw"
    expected = resample_to(pet, ct, order=1, fill=0.0)
    step = info["rescale_slope"][0]
    assert np.abs(viewer.fused_values - expected).max() <= step / 2 + 1e-9
    # A power-of-two step (dicomteach.imaging.quantise): at most twice the finest 16-bit step.
    span = expected.max() - np.floor(expected.min())
    assert step == 2.0 ** np.ceil(np.log2(span / 65535)) and step < span / 32767
    assert len(info["colormap_table"]) == 256 * 3
    viewer.fuse(None)
    assert viewer.fused_values is None


def test_a_fused_series_of_whole_numbers_on_the_same_grid_is_exact():
    """A second CT (whole HU) on this CT's grid: the browser gets every value exactly."""
    ct = _ct(n=6, rows=12, cols=10)
    k, r, c = np.mgrid[0:6, 0:12, 0:10]
    other = Volume(
        (r * 300 - c * 7 + k * 1000 - 1024).astype(np.int16),
        ct.spacing,
        ct.origin,
        AXIAL,
        modality="CT",
        units="HU",
    )
    viewer = Viewer(ct, fuse=other)
    assert viewer.layers["fused"]["rescale_slope"][0] <= 1
    assert np.array_equal(viewer.fused_values, other.pixels.astype(np.float64))


def test_css_of_every_widget_starts_with_the_shared_frame():
    from dicomteach.widgets import Compare, Delineator, Hotspot, LabelDrop
    from dicomteach.widgets._base import bundle_css

    frame = bundle_css()
    for widget in (Viewer, Compare, Delineator, Hotspot, LabelDrop):
        assert widget._css.startswith(frame) and len(widget._css) > len(frame), widget


def test_cine_rate_comes_from_frame_time_and_colour_is_sent_as_rgb():
    us = Volume(
        np.zeros((4, 8, 8, 3), np.uint8),
        (1.0, 0.2, 0.2),
        (0.0, 0.0, 0.0),
        AXIAL,
        modality="US",
        photometric="RGB",
        frame_time_ms=40.0,
    )
    viewer = Viewer(us)
    assert viewer.fps == 25.0
    assert viewer.layers["image"]["channels"] == 3 and viewer.layers["image"]["dtype"] == "uint8"
    assert viewer.presets == []
    float_volume = Volume(np.zeros((2, 4, 4), np.float32), (1, 1, 1), (0, 0, 0), AXIAL)
    with pytest.raises(ValueError, match="8- or 16-bit"):
        Viewer(float_volume)


def _two_series_study(root):
    """A folder with two CT series of one study and a SEG on the first."""
    from dicomteach.io.writer import StudyInfo
    from dicomteach.roi.seg import write_seg

    k, r, c = np.mgrid[0:6, 0:20, 0:24]
    study = StudyInfo()
    first = write_ct_series(
        root / "a",
        (-1000 + 40 * c).astype(float),
        study=study,
        series_number=2,
        series_description="Thorax",
    )
    write_ct_series(
        root / "b",
        (200 - 30 * r).astype(float)[:4],
        study=study,
        series_number=3,
        series_description="Thorax bone",
        spacing=(5.0, 0.7, 0.7),
    )
    mask = (k - 3) ** 2 + (r - 10) ** 2 + (c - 12) ** 2 < 9
    write_seg({"nodule": mask}, sorted(first), root / "seg.dcm")
    return mask


def test_a_study_folder_shows_its_series_as_thumbnails_and_its_seg_over_the_right_one(tmp_path):
    mask = _two_series_study(tmp_path)
    viewer = Viewer(tmp_path)
    assert [s["index"] for s in viewer.series] == [0, 1]
    assert all(s["thumbnail"].startswith("data:image/png;base64,") for s in viewer.series)
    labels = [s["label"] for s in viewer.series]
    assert "Thorax" in labels[0] and "6 images" in labels[0] and "4 images" in labels[1]
    # The SEG refers to the first series: drawn over it, not offered as a series.
    assert viewer.shape == [6, 20, 24]
    assert np.array_equal(viewer._arrays["labels"] > 0, mask)
    token = viewer.volume_token
    viewer.series_index = 1
    assert viewer.shape == [4, 20, 24] and viewer.volume_token == token + 1
    assert "labels" not in viewer.layers  # that SEG is not about this series
    assert viewer.volume.description == "Thorax bone"
    viewer.series_index = 0
    assert np.array_equal(viewer._arrays["labels"] > 0, mask)


def test_studies_read_results_and_lists_are_accepted_and_other_things_refused(tmp_path):
    _two_series_study(tmp_path)
    result = io.read(tmp_path)
    assert len(Viewer(result).series) == 2
    assert len(Viewer(result.studies[0]).series) == 2
    images = [v for v in result.volumes if v.modality == "CT"]
    assert len(Viewer(images).series) == 2 and Viewer(images[:1]).series == []
    with pytest.raises(ValueError, match="not int"):
        Viewer(3)
    only_seg = tmp_path / "only"
    only_seg.mkdir()
    (tmp_path / "seg.dcm").rename(only_seg / "seg.dcm")
    assert "no image found" in Viewer(only_seg).error


def test_view3d_shows_a_large_volume_downsampled_with_matching_geometry():
    from dicomteach.widgets.view3d import View3D

    vol = _ct(n=10, rows=16, cols=12)
    view = View3D(vol, {"blob": vol.pixels > 900}, max_voxels=500)
    shown = view.volume
    assert shown.pixels.shape == (5, 8, 6)
    assert shown.spacing == (5.0, 1.4, 1.8) and shown.origin == vol.origin
    # The same patient point under the same voxel: geometry kept.
    assert np.allclose(shown.index_to_lps((2, 3, 4)), vol.index_to_lps((4, 6, 8)))
    assert np.array_equal(shown.pixels, vol.pixels[::2, ::2, ::2])
    assert View3D(vol).volume is vol


def test_the_comm_opens_after_init_with_the_whole_state(monkeypatch):
    """The browser's model is born with the series' state, not the traits' defaults.

    Its module must load within two seconds of that first message or the model drops
    every later one, so nothing of the state may depend on updates sent after it.
    """
    import comm

    opened = []
    real_create_comm = comm.create_comm

    def record(**kwargs):
        opened.append(kwargs["data"]["state"])
        return real_create_comm(**kwargs)

    monkeypatch.setattr(comm, "create_comm", record)
    viewer = Viewer(
        Volume(
            np.zeros((2, 4, 4), np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3)[[2, 1, 0]]
        )
    )
    (state,) = [s for s in opened if "state_complete" in s]  # not its Layout's comm
    assert state["state_complete"] is True
    assert state["shape"] == [2, 4, 4]
    assert state["layouts"] == viewer.layouts and viewer.layouts
    assert viewer.comm is not None


def test_a_view_that_lost_updates_gets_the_whole_state_again():
    """A view built while its updates were lost asks for the state; the kernel sends all of
    it, then names the ask."""
    from dicomteach.io.volume import Volume
    from dicomteach.widgets import Viewer

    viewer = Viewer(
        Volume(
            np.zeros((2, 4, 4), np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3)[[2, 1, 0]]
        )
    )
    assert viewer.state_complete  # set after __init__, the last update the view waits for
    sent = []
    viewer.comm.send = lambda data=None, metadata=None, buffers=None: sent.append(data)
    viewer._on_message(viewer, {"type": "state"}, [])
    (update,) = sent
    assert update["method"] == "update"
    assert update["state"]["state_complete"] is True
    assert update["state"]["layouts"] == viewer.layouts and viewer.layouts

    # a named ask: the whole state, then the ask's name, which tells the view it arrived
    # (until then its own changes are newer: static/core/sync.js, askState)
    sent.clear()
    viewer._on_message(viewer, {"type": "state", "reply": "state-1"}, [])
    whole, named = sent
    assert whole["state"]["position"] == viewer.position and whole["state"]["state_reply"] == ""
    assert named == {"method": "update", "state": {"state_reply": "state-1"}, "buffer_paths": []}


def test_the_3d_view_loads_its_libraries_only_when_a_lesson_uses_it():
    """nibabel and ipyniivue cost a lesson's app 0.4 s of start-up; most lessons have no 3D."""
    code = (
        "import sys\n"
        "from dicomteach.widgets import Viewer\n"
        "print(sorted(m for m in ('nibabel', 'ipyniivue') if m in sys.modules))\n"
        "from dicomteach.widgets import View3D\n"
        "print(View3D.__name__, 'nibabel' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split("\n")[:2] == ["[]", "View3D True"]


def test_a_seg_overlay_goes_on_the_image_shown_without_reading_its_series_again(
    tmp_path, monkeypatch
):
    from dicomteach.roi import write_seg

    write_ct_series(tmp_path / "ct", np.zeros((6, 12, 12)), spacing=(2.0, 1.0, 1.0))
    ct = io.load(tmp_path / "ct")
    lesion = np.zeros(ct.pixels.shape, bool)
    lesion[2:4, 3:7, 4:8] = True
    write_seg({"Lesion": lesion}, ct, tmp_path / "seg.dcm")

    def no_second_read(*args, **kwargs):
        raise AssertionError("the series shown was read again for its overlay")

    monkeypatch.setattr(io, "read", no_second_read)
    monkeypatch.setattr(io, "read_file", no_second_read)
    viewer = Viewer(ct, overlay=str(tmp_path / "seg.dcm"))
    assert [s["name"] for s in viewer.label_info] == ["Lesion"]
    assert np.array_equal(viewer._arrays["labels"] > 0, lesion)
