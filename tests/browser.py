"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe): pointer
moves, scripts and screenshots with no port opened and no package beyond the standard library."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One page in a throwaway profile. Every request the page makes is recorded in `requests`
    (its URL); offline=True cuts the page's network as DevTools' offline mode does."""

    def __init__(self, binary: str, width: int = 1400, height: int = 900, offline: bool = False):
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()
        # the protocol's pipe is the child's fds 3 (commands in) and 4 (answers out); bash, not sh: dash
        # redirects single-digit fds only, and under pytest the pipes are 12 and up
        self.proc = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}',
                binary,
                *FLAGS,
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
            ],
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.profile, "stderr.log"), "w"),
        )
        os.close(to_browser), os.close(from_browser)
        self._buffer, self._next, self.events, self.requests = b"", 0, [], []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        if offline:
            self.call(
                "Network.emulateNetworkConditions",
                session=True,
                offline=True,
                latency=0,
                downloadThroughput=-1,
                uploadThroughput=-1,
            )

    # --- the protocol ---------------------------------------------------------------------
    def _read(self, timeout: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], timeout)
            chunk = os.read(self._from_browser, 1 << 20) if ready else b""
            if not chunk:
                raise BrowserError(
                    (f"Chromium said nothing for {timeout} s" if not ready else "Chromium closed the pipe")
                    + ": "
                    + self.log()[-2000:]
                )
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _note(self, message: dict) -> None:
        if message.get("method") == "Network.requestWillBeSent":
            self.requests.append(message["params"]["request"]["url"])
        self.events.append(message.get("method"))

    def call(self, method: str, session: bool = False, timeout: float = 30, **params) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read(timeout)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._note(answer)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while event not in self.events:
            self._note(self._read(max(0.1, deadline - time.monotonic())))
            if time.monotonic() > deadline:
                raise BrowserError(f"no {event} within {timeout} s")

    def log(self) -> str:
        """What Chromium printed on stderr so far."""
        with open(os.path.join(self.profile, "stderr.log"), errors="replace") as f:
            return f.read()

    # --- what a test does -----------------------------------------------------------------
    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text_with(self, needle: str, timeout: float = 30) -> str:
        """The page's text once it holds needle (a single-page app renders after its load event)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.evaluate("document.body ? document.body.innerText : ''")
            if needle in text or time.monotonic() > deadline:
                return text
            time.sleep(0.25)

    def mouse(self, kind: str, x: float, y: float, button: str = "none") -> None:
        """kind: mouseMoved, mousePressed or mouseReleased, at page coordinates."""
        extra = {"button": button, "clickCount": 1} if button != "none" else {}
        self.call("Input.dispatchMouseEvent", session=True, type=kind, x=x, y=y, **extra)

    def screenshot(self, path: str, full_page: bool = False) -> None:
        params = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            width, height = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        with open(path, "wb") as out:
            out.write(base64.b64decode(self.call("Page.captureScreenshot", session=True, **params)["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser), os.close(self._from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
