"""A small Chrome DevTools Protocol client over ``--remote-debugging-pipe``, for the docs tests.

Why this and not Playwright or Selenium: Debian's ``chromium`` speaks CDP over a pair of pipes
(fd 3 in, fd 4 out, NUL-separated JSON), so the standard library is enough. No browser download,
no driver binary whose version must match the browser, no websocket package, no open port.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio", "--window-size=1280,900",
)


class CDPError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


class Browser:
    """One headless chromium, driven over pipes. Use as a context manager."""

    def __init__(self, executable: str, profile: Path, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._next = 0
        self._buf = b""
        self.events: list[dict[str, Any]] = []
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()

        def wire() -> None:  # in the child: the pipes become fds 3 and 4, inheritable
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = open(profile.parent / f"{profile.name}.log", "wb")
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, preexec_fn=wire, pass_fds=(3, 4))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._w, self._r = to_browser_w, from_browser_r

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (CDPError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise CDPError(f"no answer from chromium within {self.timeout} s")
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise CDPError(f"chromium closed the pipe (exit code {self.proc.poll()})")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Run one command and return its result; events that arrive meanwhile are kept in ``events``."""
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._next:
                if "error" in m:
                    raise CDPError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """Wait for an event (one already received counts) and consume it."""
        deadline = time.monotonic() + self.timeout
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method and e.get("sessionId") == session:
                    return self.events.pop(i)
            m = self._read_message(deadline)
            if "method" in m:
                self.events.append(m)

    def new_page(self) -> Page:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        return page


class Page:
    """One tab: navigate, evaluate, type, click, screenshot, and the errors its console reported."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.b, self.s = browser, session

    def goto(self, url: str) -> None:
        self.b.send("Page.navigate", self.s, url=url)
        self.b.wait_for("Page.loadEventFired", self.s)

    def eval(self, expression: str) -> Any:
        r = self.b.send("Runtime.evaluate", self.s, expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise CDPError(f"{expression!r} threw: {r['exceptionDetails']}")
        return r["result"].get("value")

    def type(self, selector: str, text: str) -> None:
        """Focus the element and type ``text`` into it as keyboard input (fires 'input' events)."""
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        for ch in text:
            self.b.send("Input.insertText", self.s, text=ch)

    def click(self, selector: str, navigates: bool = False) -> None:
        """A real mouse click at the centre of the first element matching ``selector``; with
        ``navigates``, waits until the page it opens has loaded."""
        x, y = self.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        self.b.events = [e for e in self.b.events
                         if not (e["method"] == "Page.loadEventFired" and e.get("sessionId") == self.s)]
        for kind in ("mousePressed", "mouseReleased"):
            self.b.send("Input.dispatchMouseEvent", self.s, type=kind, x=x, y=y, button="left", clickCount=1)
        if navigates:
            self.b.wait_for("Page.loadEventFired", self.s)

    def screenshot(self, path: Path) -> Path:
        data = self.b.send("Page.captureScreenshot", self.s, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads reported so far for this tab."""
        out = []
        for e in self.b.events:
            if e.get("sessionId") != self.s:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                details = p["exceptionDetails"]
                out.append(f"exception: {details.get('text')} {details.get('exception', {})}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
            elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out
