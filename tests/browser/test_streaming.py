"""A slice the learner scrolls to before it has arrived is sent next (ImageWidget._handle_want).

The kernel streams a series a few chunks at a time, as the view acknowledges them,
so that what is left can still be re-ordered. Here the view's acknowledgements are
held in the kernel, as a slow connection would hold them: two slices are in, the
rest waits; the learner presses End; once the acknowledgements go on, the last
slice must come before the rest of the series, with the reference pixels. No
timing: the order is read from what the view counted when it drew.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from dicomteach import io
from dicomteach.imaging import modality_values, window_to_uint8
from dicomteach.io.volume import Window

from .conftest import screenshot_on_failure

pytestmark = pytest.mark.browser

NOTEBOOK = "streaming.ipynb"
N = 60
CELLS = [
    "import numpy as np\n"
    "from dicomteach import io\n"
    "from dicomteach.io.volume import Window\n"
    "from dicomteach.io.writer import write_ct_series\n"
    "from dicomteach.widgets import Viewer\n"
    f"k, r, c = np.mgrid[0:{N}, 0:64, 0:64]\n"
    "write_ct_series('far', (-1000 + 15 * c + 11 * r + 20 * k).astype(float))\n"
    "\n"
    "class SlowLink(Viewer):\n"
    '    """Keeps the view\'s acknowledgements until released, as a slow connection would."""\n'
    "\n"
    "    held = None\n"
    "\n"
    "    def _handle_received(self, content, buffers):\n"
    "        if self.held is None:\n"
    "            super()._handle_received(content, buffers)\n"
    "        else:\n"
    "            self.held.append(content)\n"
    "\n"
    "    def release(self):\n"
    "        held, self.held = self.held, None\n"
    "        for content in held:\n"
    "            super()._handle_received(content, [])\n"
    "\n"
    "viewer = SlowLink(io.load('far'), window=Window(400, 3000))\n"
    "viewer.held = []\n"
    "viewer.chunk_bytes = 64 * 64 * 2  # one slice per message\n"
    "viewer.stream_window = 2 * 64 * 64 * 2  # two in flight\n"
    "viewer",
]
CANVAS = "canvas.dt-viewer-canvas"

# Record, at each redraw, the slice drawn, whether its pixels were in and how many slices
# had arrived; and the pixels of the first redraw that showed `frame` with its pixels.
RECORD = """([canvas, frame]) => {
  const shown = (window.__shown = { draws: [], pixels: null });
  new MutationObserver(() => {
    const d = canvas.dataset;
    shown.draws.push({ frame: Number(d.frame), rendered: d.rendered, loaded: Number(d.loaded) });
    if (shown.pixels === null && Number(d.frame) === frame && d.rendered === '1') {
      const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let s = '';
      for (let i = 0; i < rgba.length; i += 0x8000) {
        s += String.fromCharCode.apply(null, rgba.subarray(i, i + 0x8000));
      }
      shown.pixels = [canvas.height, canvas.width, btoa(s)];
    }
  }).observe(canvas, { attributes: true, attributeFilter: ['data-frame', 'data-rendered', 'data-loaded'] });
}"""


def test_a_slice_scrolled_to_before_it_arrived_comes_before_the_rest_of_the_series(
    page, lab_server, write_notebook, run_in_lab, kernel, artifacts
):
    root = lab_server["root"]
    write_notebook(root / NOTEBOOK, CELLS)
    run_in_lab(NOTEBOOK)
    canvas = page.locator(CANVAS)
    with screenshot_on_failure(page, artifacts / "streaming-timeout.png"):
        # The slice on screen (and the one after it, sent with it); the rest of the
        # series waits for the held messages.
        page.wait_for_selector(f'{CANVAS}[data-rendered="1"]', timeout=60_000)
    middle = int(canvas.get_attribute("data-frame"))
    page.locator(".dt-viewer").focus()
    page.keyboard.press("End")
    page.wait_for_function(
        f"() => document.querySelector('{CANVAS}').dataset.frame !== '{middle}'",
        timeout=10_000,
    )
    far = int(canvas.get_attribute("data-frame"))
    assert abs(far - middle) >= N // 2 - 1
    assert canvas.get_attribute("data-rendered") == "0"  # "Loading…": not here yet
    page.evaluate(RECORD, [canvas.element_handle(), far])
    kernel(page, "viewer.release()")
    with screenshot_on_failure(page, artifacts / "streaming-far-slice.png"):
        page.wait_for_selector(f'{CANVAS}[data-loaded="{N}"][data-rendered="1"]', timeout=60_000)
    shown = page.evaluate("() => window.__shown")
    first = next(d for d in shown["draws"] if d["frame"] == far and d["rendered"] == "1")
    # Drawn as soon as it came, right after the two slices that were in flight: not at
    # the end of the series, where nearest-first order had put it.
    assert first["loaded"] == 3, shown["draws"]
    rows, cols, data = shown["pixels"]
    drawn = np.frombuffer(base64.b64decode(data), np.uint8).reshape(rows, cols, 4)
    volume = io.load(root / "far")
    expected = window_to_uint8(modality_values(volume)[far], Window(400, 3000))
    assert (drawn[..., 3] == 255).all()
    for channel in range(3):
        assert np.array_equal(drawn[..., channel], expected)
