"""Client test fixtures: the two-hall project built once, a real server over it, the client in a subprocess.

The build (`scenes.build.build` on the `tests/conftest.py` halls alpha and
beta) is made once per session and copied when a test changes it.  Servers
run in a thread on an ephemeral port (`tests.serving.RunningServer`)
and record every request path.  The client itself runs as
`python -m tools.client` in a child process, because ShowBase is one per
process; it writes a JSON report (fetch log, timings) the tests read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from scenes.build import BuildOptions, build
from server.config import load_config
from tests.conftest import ALPHA, BETA, ROOT
from tests.serving import RunningServer

TRAINER_KEY = "trainer-secret"


@pytest.fixture(scope="session")
def built_project(tmp_path_factory) -> Path:
    """A project folder with halls alpha and beta, built (no meshopt variants)."""
    root = tmp_path_factory.mktemp("client-project")
    (root / "halls").mkdir()
    (root / "assets").mkdir()
    (root / "halls" / "alpha.yaml").write_text(ALPHA, encoding="utf-8")
    (root / "halls" / "beta.yaml").write_text(BETA, encoding="utf-8")
    build(BuildOptions(root=root, jobs=1, meshopt=False))
    return root


@pytest.fixture
def project(built_project: Path, tmp_path: Path) -> Path:
    """A private copy of the built project (tests may damage its objects)."""
    copy = tmp_path / "project"
    shutil.copytree(built_project, copy, symlinks=True)
    return copy


def manifest_of(project: Path, hall: str) -> dict:
    return json.loads((project / "build" / "current" / "halls" / hall / "manifest.json").read_text(encoding="utf-8"))


@dataclass
class HallServer:
    """A running hall server and the paths it was asked for."""

    server: RunningServer
    requests: list[str] = field(default_factory=list)
    stopped: bool = False

    @property
    def url(self) -> str:
        return self.server.url

    def objects_requested(self) -> list[str]:
        return [p.rsplit("/", 1)[1] for p in self.requests if p.startswith("/objects/")]

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.server.stop()


def _serve_compressed_bams(monkeypatch) -> None:
    """Until the server lists `.bam.pz` among object names, let this test server serve them."""
    import re

    from server.web import objects

    if objects.OBJECT_NAME.fullmatch("0" * 64 + ".bam.pz"):
        return
    monkeypatch.setattr(
        objects, "OBJECT_NAME", re.compile(r"[0-9a-f]{64}\.(glb|bam\.pz|bam|png|jpg|jpeg|ogg|mp3|wav|mp4|webm)")
    )
    monkeypatch.setitem(objects.CONTENT_TYPES, "bam.pz", "application/octet-stream")


@pytest.fixture
def start_hall_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., HallServer]]:
    """`start(project, **config)` -> HallServer; all are stopped afterwards."""
    _serve_compressed_bams(monkeypatch)
    servers: list[HallServer] = []

    def start(project: Path, prepare=None, **changes) -> HallServer:
        keys = dict(
            root=project,
            build_dir=project / "build",
            port=0,
            reload_interval=0.05,
            web_dir=project / "no-web",
            access_log=False,
            trainer_key=TRAINER_KEY,
        )
        config = load_config(flags=keys | changes)
        requests: list[str] = []  # filled from the first response on, so made before the server

        def setup(app: web.Application) -> None:
            async def record(request, response):
                requests.append(request.path)

            app.on_response_prepare.append(record)
            if prepare is not None:
                prepare(app)

        hall_server = HallServer(RunningServer(config, setup), requests)
        servers.append(hall_server)
        return hall_server

    yield start
    for hall_server in servers:
        hall_server.stop()


@dataclass
class ClientRun:
    code: int
    stdout: str
    stderr: str
    report: dict | None
    screenshot: Path | None


def run_client(
    url: str,
    hall: str,
    tmp: Path,
    *args: str,
    cache: Path | None = None,
    timeout: float = 60.0,
    screenshot: bool = True,
    name: str = "run",
) -> ClientRun:
    """`python -m tools.client URL --hall HALL --offscreen ...` in a child process."""
    report = tmp / f"{name}.json"
    shot = tmp / f"{name}.png" if screenshot else None
    argv = [
        sys.executable,
        "-m",
        "tools.client",
        url,
        "--hall",
        hall,
        "--offscreen",
        "--size",
        "480x300",
        "--report",
        str(report),
        "--timeout",
        "30",
        *args,
    ]
    if shot is not None:
        argv += ["--screenshot", str(shot)]
    if cache is not None:
        argv += ["--cache", str(cache)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp / "xdg-cache")}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
    return ClientRun(done.returncode, done.stdout, done.stderr, data, shot if shot and shot.is_file() else None)
