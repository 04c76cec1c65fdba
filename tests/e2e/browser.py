"""A headless Chromium driven through `driver.mjs` (playwright-core): one process, many pages.

    browser = Browser.start()
    page = browser.new_page()
    page.goto(url)
    page.wait_for("() => window.__hallsViewer && window.__hallsViewer.loaded")
    page.evaluate("(n) => n + 1", 1)

Requests go one at a time as JSON lines; a reader thread hands answers back,
so a dead or hung driver fails the test with a timeout instead of hanging it.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class BrowserError(RuntimeError):
    """The driver answered with an error (a page exception, a timeout, a bad selector)."""


def browser_missing() -> str | None:
    """Why the browser cannot start here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed (npm ci)"
    return None


class Browser:
    def __init__(self, process: subprocess.Popen) -> None:
        assert process.stdin is not None and process.stdout is not None, "the driver is started with pipes"
        self.process = process
        self.to_driver, self.from_driver = process.stdin, process.stdout
        self.answers: queue.Queue = queue.Queue()
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        hello = self._answer(0, 60)
        self.version = hello["version"]

    @classmethod
    def start(cls) -> Browser:
        process = subprocess.Popen(
            ["node", str(HERE / "driver.mjs")],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env={**os.environ, "CHROMIUM": CHROMIUM},
        )
        return cls(process)

    def _read(self) -> None:
        for line in self.from_driver:
            try:
                self.answers.put(json.loads(line))
            except json.JSONDecodeError:
                log.warning("driver said: %s", line.rstrip())
        self.answers.put(None)

    def _answer(self, request_id: int, timeout: float):
        while True:
            try:
                message = self.answers.get(timeout=timeout)
            except queue.Empty:
                raise BrowserError(f"the browser driver did not answer within {timeout} s") from None
            if message is None:
                raise BrowserError("the browser driver exited")
            if message.get("id") != request_id:
                continue
            if not message["ok"]:
                raise BrowserError(message["error"])
            return message["value"]

    def request(self, op: str, timeout: float = 60, **fields):
        with self.lock:
            request_id = next(self.ids)
            self.to_driver.write(json.dumps({"id": request_id, "op": op, **fields}) + "\n")
            self.to_driver.flush()
            return self._answer(request_id, timeout)

    def new_page(
        self, width: int = 800, height: int = 500, https_errors_ok: bool = False, init_scripts: tuple[str, ...] = ()
    ) -> Page:
        page_id = self.request(
            "newPage",
            viewport={"width": width, "height": height},
            ignoreHTTPSErrors=https_errors_ok,
            initScripts=list(init_scripts),
        )
        return Page(self, page_id)

    def close(self) -> None:
        try:
            self.request("quit", timeout=15)
        except BrowserError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Page:
    def __init__(self, browser: Browser, page_id: int) -> None:
        self.browser = browser
        self.id = page_id

    def _do(self, op: str, timeout: float = 60, **fields):
        return self.browser.request(op, timeout=timeout, page=self.id, **fields)

    def goto(self, url: str, wait_until: str = "load") -> int | None:
        return self._do("goto", url=url, waitUntil=wait_until)

    def evaluate(self, fn: str, arg=None):
        """Call the JavaScript function source `fn` with the JSON value `arg` in the page."""
        return self._do("evaluate", fn=fn, arg=arg)

    def wait_for(self, fn: str, arg=None, timeout: float = 20.0):
        """Poll `fn(arg)` in the page until it is truthy; its value."""
        return self._do("waitFor", timeout=timeout + 10, fn=fn, arg=arg, timeoutMs=int(timeout * 1000))

    def viewer(self, expression: str):
        """A value from the page's test hook: `viewer("meshes")` reads `window.__hallsViewer.meshes`."""
        return self.evaluate(f"() => window.__hallsViewer.{expression}")

    def screenshot(self) -> bytes:
        return base64.b64decode(self._do("screenshot"))

    def key_down(self, key: str) -> None:
        self._do("keyDown", key=key)

    def key_up(self, key: str) -> None:
        self._do("keyUp", key=key)

    def press(self, key: str) -> None:
        self._do("press", key=key)

    def mouse_click(self, x: float, y: float) -> None:
        self._do("mouseClick", x=x, y=y)

    def click(self, selector: str) -> None:
        self._do("click", selector=selector)

    def fill(self, selector: str, value: str) -> None:
        self._do("fill", selector=selector, value=value)

    def check(self, selector: str) -> None:
        self._do("check", selector=selector)

    def select(self, selector: str, value: str) -> None:
        self._do("select", selector=selector, value=value)

    def text(self, selector: str) -> str:
        return self._do("text", selector=selector)

    def set_offline(self, offline: bool) -> None:
        """Cut (or restore) the network of this page's context, service workers included."""
        self._do("setOffline", offline=offline)

    def errors(self) -> list[str]:
        """Uncaught exceptions and console errors seen so far."""
        return self._do("errors")

    def console(self) -> list[str]:
        return self._do("console")

    def close(self) -> None:
        self._do("closePage")
