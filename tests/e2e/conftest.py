"""Browser tests: one headless Chromium for the session, the real halls built once, real servers.

The fifteen halls are copied into a temporary project and built once per
session (about a minute); every viewer test reads that build through one
server.  Tests that edit halls (live reload, escaping) use a one-hall
project of their own that builds in a second or two.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import time
import wave
from pathlib import Path

import pytest

from server.config import ServerConfig, load_config
from tests.e2e.browser import Browser, browser_missing
from tests.e2e.serving import ensure_quiz
from tests.serving import RunningServer

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
HALL_IDS = sorted(p.stem for p in (ROOT / "halls").glob("*.yaml"))
TRAINER_KEY = "trainer-key-for-tests"
FAKE_XR = (Path(__file__).parent / "fake_xr.js").read_text(encoding="utf-8")
LOADED = "() => window.__hallsViewer && window.__hallsViewer.loaded"

MINI_HALL = """\
id: mini
title: {zh: 测试馆, en: Test Hall}
rooms:
  - id: hall
    title: 展厅
    size: [10, 8, 4]
    exhibits:
      - kind: panel
        id: notice
        title: 说明
        text: 原始说明文字。<b id="injected">粗体</b><img src=x onerror="window.__pwned=1">
        wall: north
        image: assets/picture.png
      - kind: media
        id: song
        title: 讲解录音
        asset: assets/narration.wav
        wall: south
"""


def pytest_collection_modifyitems(items):
    """Browser tests need node, Chromium and playwright-core; skip them (with the reason) when absent."""
    reason = browser_missing()
    if reason is None:
        return
    for item in items:
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.skip(reason=f"browser tests: {reason}"))


@pytest.fixture(scope="session")
def browser():
    started = time.monotonic()
    instance = Browser.start()
    log.info("chromium %s ready in %.1f s", instance.version, time.monotonic() - started)
    yield instance
    instance.close()


def _project(target: Path, halls: Path | None = None) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    if halls is not None:
        shutil.copytree(halls, target / "halls")
        shutil.copytree(ROOT / "assets", target / "assets")
    (target / "node_modules").symlink_to(ROOT / "node_modules")
    return target


def build_project(root: Path) -> None:
    from scenes.build import BuildOptions, build

    started = time.monotonic()
    meshopt = (ROOT / "node_modules" / "gltfpack").is_dir() and shutil.which("node") is not None
    result = build(BuildOptions(root=root, out=root / "build", jobs=2, meshopt=meshopt))
    log.info("built %d halls for the browser tests in %.1f s", len(result.halls), time.monotonic() - started)


@pytest.fixture(scope="session")
def halls_project(request) -> Path:
    """The real halls built once for the session (shared with tests/test_halls.py), or `$HALLS_E2E_PROJECT`."""
    prebuilt = os.environ.get("HALLS_E2E_PROJECT")
    if prebuilt:
        return Path(prebuilt)
    return request.getfixturevalue("built_halls").root


def server_config(root: Path, **changes) -> ServerConfig:
    values = dict(
        root=root, build_dir=root / "build", port=0, access_log=False, reload_interval=0.1, trainer_key=TRAINER_KEY
    )
    return load_config(flags=values | changes)


@pytest.fixture(scope="session")
def halls_server(halls_project):
    config = server_config(halls_project)
    server = RunningServer(config, prepare=lambda app: ensure_quiz(app, config))
    yield server
    server.stop()


@pytest.fixture
def open_page(browser):
    """`open_page(url=None, **options)`: a fresh page (own storage); closed after the test."""
    pages = []

    def open_(url: str | None = None, **options):
        page = browser.new_page(**options)
        pages.append(page)
        if url is not None:
            page.goto(url)
        return page

    yield open_
    for page in pages:
        page.close()


@pytest.fixture
def mini_project(tmp_path) -> Path:
    """A one-hall project (panel with an image and HTML-like text, an audio piece), built."""
    root = _project(tmp_path / "mini")
    (root / "halls").mkdir()
    (root / "assets").mkdir()
    (root / "halls" / "mini.yaml").write_text(MINI_HALL, encoding="utf-8")
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 40, 40)).save(root / "assets" / "picture.png")
    with wave.open(str(root / "assets" / "narration.wav"), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"".join(struct.pack("<h", (i * 37) % 8000 - 4000) for i in range(16000)))
    build_project(root)
    return root


@pytest.fixture
def start_server():
    """`start_server(config, ssl_context=None, prepare=None)`; servers stop after the test."""
    servers = []

    def start(config: ServerConfig, ssl_context=None, prepare=None) -> RunningServer:
        server = RunningServer(config, prepare, ssl_context)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def wait_loaded(page, timeout: float = 45.0) -> None:
    page.wait_for(LOADED, timeout=timeout)


def page_errors(page) -> list[str]:
    """Uncaught errors and console errors, minus the browser's own GPU chatter."""
    return [e for e in page.errors() if "GL Driver Message" not in e]
