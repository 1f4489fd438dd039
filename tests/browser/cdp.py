"""Headless Chromium driven over the DevTools protocol (a small client, no browser library).

Debian's ``chromium`` is started with a fresh profile, no network services of
its own (no sync, component updates, background networking or QUIC) and the
remote-debugging port on loopback; the page is driven through one websocket
(``websocket-client``). Console errors, uncaught exceptions and failed loads
are collected, so a test can assert there were none.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


class Browser:
    """One Chromium process with one page; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 1000) -> None:
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed (apt-get install chromium; .ci/run does)")
        self.profile = Path(tempfile.mkdtemp(prefix="finmlops-chromium-"))
        # stderr to a file: a pipe nobody reads would fill and stall the browser
        self.log = self.profile.parent / f"{self.profile.name}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    CHROMIUM,
                    *FLAGS,
                    f"--user-data-dir={self.profile}",
                    f"--window-size={width},{height}",
                    "about:blank",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.endpoint = self._wait_for_endpoint()
        self.ws = websocket.create_connection(self._page_ws_url(), timeout=60, suppress_origin=True)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _wait_for_endpoint(self) -> str:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            match = re.search(r"DevTools listening on (ws://\S+)", text)
            if match:
                return match.group(1).split("/devtools/")[0].replace("ws://", "http://")
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("chromium did not start its DevTools endpoint:\n" + text[-3000:])

    def _page_ws_url(self) -> str:
        with urllib.request.urlopen(f"{self.endpoint}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")

    # --- protocol -----------------------------------------------------------------------
    def send(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)
        raise TimeoutError(method)

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds`` (console messages arrive asynchronously)."""
        self.ws.settimeout(0.2)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                try:
                    self.events.append(json.loads(self.ws.recv()))
                except websocket.WebSocketTimeoutException:
                    continue
        finally:
            self.ws.settimeout(60)

    def open(self, url: str, settle: float = 1.0) -> None:
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(e.get("method") == "Page.loadEventFired" for e in self.events):
                break
            self.pump(0.5)
        self.pump(settle)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def wait_for_text(self, *needles: str, timeout: float = 60) -> str:
        """The page's visible text once it contains every needle (an SPA renders after load)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.evaluate("document.body ? document.body.innerText : ''") or ""
            if all(n in text for n in needles):
                return text
            self.pump(0.5)
        missing = [n for n in needles if n not in text]
        raise AssertionError(f"page text lacks {missing} after {timeout} s; text:\n{text[:3000]}")

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            height = int(self.evaluate("document.documentElement.scrollHeight") or 1000)
            width = int(self.evaluate("document.documentElement.scrollWidth") or 1280)
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": min(height, 12000), "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, error log entries and failed requests seen so far."""
        found = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(
                    "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Runtime.exceptionThrown":
                found.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"log: {entry.get('text')} {entry.get('url', '')}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                found.append(f"network: {params.get('errorText')}")
        return found

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
            shutil.rmtree(self.profile, ignore_errors=True)
            self.log.unlink(missing_ok=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def non_blank_fraction(png: Path) -> float:
    """Share of pixels that differ from the most common colour (0 for a blank page)."""
    from PIL import Image

    with Image.open(png) as img:
        pixels = img.convert("RGB").resize((320, 320))
        colours = pixels.getcolors(320 * 320) or []
    background = max(colours)[0] if colours else 0
    return 1 - background / (320 * 320)
