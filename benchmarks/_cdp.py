"""Chromium driven over the DevTools protocol alone, for what playwright would distort.

Playwright enables the DevTools ``Network`` domain on every page it drives, and
Chromium then reports each websocket frame to it, its payload base64-encoded:
while a 150 MiB series streams in, the page's renderer and the browser process
spend more time copying frames to playwright than receiving them, and the series
takes three times as long as in a browser nobody watches. So ``benchmarks/widgets.py``
times the stream in a Chromium started here, which it only asks to evaluate
JavaScript (``Runtime.evaluate``): no domain is enabled, nothing is reported.

The JupyterLab server and the Chromium flags are the browser tests'
(``tests/browser/lab.py``); ``websocket-client`` comes with jupyter_server.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import websocket

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS


class PlainPage:
    """One tab, spoken to over its own DevTools websocket."""

    def __init__(self, browser: PlainChromium, target: dict) -> None:
        self.browser = browser
        self.id = target["id"]
        self.ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=900, suppress_origin=True
        )
        self._ids = itertools.count(1)

    def send(self, method: str, **params) -> dict:
        """Call a DevTools method; return its result (events, if any, are skipped)."""
        call = next(self._ids)
        self.ws.send(json.dumps({"id": call, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") != call:
                continue
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply["result"]

    def evaluate(self, function: str, arg=None):
        """``function(arg)`` in the page, awaited; its JSON value."""
        result = self.send(
            "Runtime.evaluate",
            expression=f"({function})({json.dumps(arg)})",
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or str(details))
        return result["result"].get("value")

    def wait_for(self, predicate: str, timeout: float = 120) -> None:
        """Poll a JavaScript expression until it is truthy."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"() => Boolean({predicate})"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"not true after {timeout} s: {predicate}")
            time.sleep(0.2)

    def close(self) -> None:
        self.ws.close()
        self.browser.http(f"/json/close/{self.id}")


class PlainChromium:
    """Debian's headless Chromium with a DevTools port and its own profile folder."""

    def __init__(self) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="dicomteach-bench-chromium-"))
        self.proc = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless",
                *CHROMIUM_ARGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                "--window-size=1280,800",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active.exists() and active.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        self.port = int(active.read_text().split()[0])

    def http(self, path: str, method: str = "GET") -> str:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read().decode()

    def new_page(self, url: str) -> PlainPage:
        target = json.loads(self.http(f"/json/new?{urllib.parse.quote(url, safe=':/?=&')}", "PUT"))
        return PlainPage(self, target)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
