"""From opening a lesson as an app to its first image (goal: ≤ 5 s), against plain Voilà.

Each lesson in ``notebooks/`` is served the way ``dicomteach app`` serves it
(``apps.voila_command``: our template, progressive rendering); Chromium opens it and
the clock runs from the navigation to the lesson's first picture: a widget canvas
holding its image (``data-rendered="1"``) or a figure in a cell's output. The peer is the least a Voilà app can cost here: plain
``voila`` on a notebook that shows one CT slice of the same lesson study with
matplotlib, timed to that picture. Sample studies come from the lesson cache
(warmed by a first, untimed load); each load is a new page with its own kernel.

    .venv/bin/python benchmarks/app_first_image.py [--repeats 3] [--lesson 02]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dicomteach.apps import voila_command, voila_env  # noqa: E402
from tests.browser.lab import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    SWIFTSHADER,
    free_port,
    isolated_env,
    stop_server,
    wait_ready,
    write_notebook,
)

GOAL_S = 5.0
PEER_CELLS = [
    "import matplotlib.pyplot as plt\n"
    "from dicomteach import imaging, io\n"
    "from dicomteach.samples.cache import lesson_study\n"
    "library = lesson_study('ct-chest', size=256, slices=60)\n"
    "ct = next(v for v in io.read(library / 'baseline').volumes if v.modality == 'CT')\n"
    "plt.imshow(imaging.window_to_uint8(imaging.modality_values(ct)[30],"
    " imaging.presets_for('CT')[0].window), cmap='gray')\n"
    "plt.axis('off')\n"
    "plt.show()",
]
# the first picture a learner sees: a widget's image drawn, or a figure in an output
OURS_READY = (
    "document.querySelector('canvas.dt-viewer-canvas[data-rendered=\"1\"]')"
    " || document.querySelector('.jp-OutputArea-output img')"
)
PEER_READY = "document.querySelector('.jp-OutputArea-output img')"


def serve(notebook: Path, tmp: Path, *, plain: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    if plain:  # Voilà as installed: its own module and template
        cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}"]
    else:
        cmd = voila_command(notebook, port=port)
    env = voila_env(isolated_env(tmp))  # the user's warm sample cache, as a second visit
    log = tmp / "voila.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=notebook.parent
        )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/voila/static/voila.js", proc, log, name="Voilà")
    return proc, url


def time_to(browser, url: str, ready: str) -> float:
    """Seconds from navigation to ``ready`` (a JS expression) being true, on a new page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url, wait_until="commit", timeout=180_000)
        page.wait_for_function(f"() => {ready}", polling="raf", timeout=180_000)
        return page.evaluate("performance.now()") / 1000.0
    finally:
        context.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lesson", default="", help="only lessons whose name starts with this")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    lessons = sorted(p for p in (ROOT / "notebooks").glob(f"{args.lesson}*.ipynb"))
    tmp = Path(tempfile.mkdtemp(prefix="dicomteach-app-bench-"))
    print(f"load average {os.getloadavg()[0]:.1f}; {args.repeats} loads each, medians")
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + SWIFTSHADER)
        peer_dir = tmp / "peer"
        peer_dir.mkdir()
        write_notebook(peer_dir / "peer.ipynb", PEER_CELLS)
        targets = [("plain Voilà, one image (peer)", peer_dir / "peer.ipynb", True, PEER_READY)]
        for lesson in lessons:
            folder = tmp / lesson.stem
            folder.mkdir()
            copy = folder / lesson.name
            copy.write_bytes(lesson.read_bytes())
            targets.append((lesson.stem, copy, False, OURS_READY))
        for name, notebook, plain, ready in targets:
            proc, url = serve(notebook, notebook.parent, plain=plain)
            try:
                time_to(browser, url, ready)  # warms the sample cache and the OS file cache
                times = [time_to(browser, url, ready) for _ in range(args.repeats)]
            finally:
                stop_server(proc)
            rows.append((name, statistics.median(times), times))
        browser.close()
    peer = rows[0][1]
    print(f"{'app':<36}{'first image s':>14}{'× peer':>8}{'goal':>8}{'met':>5}")
    for name, median, times in rows:
        met = "" if name == rows[0][0] else ("yes" if median <= GOAL_S else "NO")
        goal = "" if name == rows[0][0] else f"≤ {GOAL_S:.0f} s"
        print(f"{name:<36}{median:>14.1f}{median / peer:>8.2f}{goal:>8}{met:>5}")
        print(f"{'':<36}{' '.join(f'{t:.1f}' for t in times):>14}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
