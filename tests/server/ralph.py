"""Ralph as a real external LRS for tests: a process on a free loopback port, stoppable and restartable.

    from tests.server.ralph import ralph, ralph_running, fresh_ralph   # fixtures (skip without Ralph)

    def test_x(ralph_running):                    # shared per module; `fresh_ralph` for an empty one
        ralph_running.url            # "http://127.0.0.1:PORT/xAPI/"  (statements at ralph.url + "statements")
        ralph.key, ralph.secret, ralph.authorization
        ralph.stop(); ralph.start()               # same port, same data: statements survive
        ralph.kill()                              # SIGKILL, for crash tests
        ralph.statements()                        # every stored statement (all pages)

Nothing is installed here: CI installs `ralph-malph[cli,lrs]` (with
`requests`).  Ralph runs with its filesystem backend in a temporary folder
and HTTP Basic credentials written by its own `ralph auth` command.  Its fs
backend's default operation type is CREATE, which makes every write after
the first answer 500; the launcher sets it to APPEND before `ralph.api` is
imported.  Known deviations from xAPI (do not copy them into our LRS): a
re-sent statement answers 204 with no body, invalid statements answer 422,
the version header is neither required nor sent, GET with statementId
answers a StatementResult (`{"statements": [...]}`) instead of the
statement, and only the Statement resource exists.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.serving import free_port

log = logging.getLogger(__name__)

LAUNCHER = r"""
import os, sys
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND
host, port, user, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if not os.path.exists(os.path.join(os.environ["RALPH_APP_DIR"], "auth.json")):
    from ralph.cli import cli
    cli.main(["auth", "-u", user, "-p", secret, "-s", "all", "-M", "mailto:" + user + "@example.com", "-w"],
             standalone_mode=False)
import uvicorn
uvicorn.run("ralph.api:app", host=host, port=port, log_level="warning", access_log=False)
"""


def ralph_available() -> bool:
    """True when Ralph (with its API and uvicorn) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("ralph", "uvicorn", "fastapi"))


class RalphServer:
    """One Ralph LRS process; `stop()` / `start()` keep its port, credentials and stored statements."""

    def __init__(self, folder: Path, port: int | None = None, key: str = "halls", secret: str = "halls-secret-0042"):
        self.folder = Path(folder)
        self.port = port or free_port()
        self.key, self.secret = key, secret
        self.process: subprocess.Popen | None = None
        self.log_path = self.folder / "ralph.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI/"

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()

    def start(self, timeout: float = 30.0) -> RalphServer:
        """Start Ralph and wait until `/__heartbeat__` answers."""
        if self.process is not None and self.process.poll() is None:
            return self
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "RALPH_APP_DIR": str(self.folder / "app"),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_RUNSERVER_AUTH_BACKENDS": "basic",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(data),
            "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(data),
        }
        (self.folder / "app").mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, "127.0.0.1", str(self.port), self.key, self.secret],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Ralph exited with {self.process.returncode}:\n{self.log()}")
            if self._heartbeat():
                log.info("Ralph answers on port %d", self.port)
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"Ralph did not answer within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM); SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Kill at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> RalphServer:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(
        self, method: str, path: str, body: bytes | None = None, params: dict | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        """A plain HTTP request to Ralph with its credentials (path relative to /xAPI/)."""
        target = "/xAPI/" + path + (f"?{urlencode(params)}" if params else "")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                method,
                target,
                body=body,
                headers={
                    "Authorization": self.authorization,
                    "X-Experience-API-Version": "1.0.3",
                    "Content-Type": "application/json",
                    **(headers or {}),
                },
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def statements(self, **params) -> list[dict]:
        """Every statement Ralph returns for a query, following `more` links."""
        found: list[dict] = []
        status, body = self.request("GET", "statements", params={"limit": 500, **params})
        while True:
            if status != 200:
                raise RuntimeError(f"Ralph answered {status}: {body[:300]!r}")
            page = json.loads(body)
            found += page["statements"]
            more = page.get("more")
            if not more:
                return found
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                connection.request(
                    "GET", more, headers={"Authorization": self.authorization, "X-Experience-API-Version": "1.0.3"}
                )
                response = connection.getresponse()
                status, body = response.status, response.read()
            finally:
                connection.close()

    def _heartbeat(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            connection.request("GET", "/__heartbeat__")
            ok = connection.getresponse().status == 200
            connection.close()
            return ok
        except OSError:
            return False


def _started(folder: Path):
    if not ralph_available():
        pytest.skip("Ralph is not installed (pip install 'ralph-malph[cli,lrs]' requests)")
    return RalphServer(folder).start()


@pytest.fixture(scope="module")
def ralph(tmp_path_factory):
    """A running Ralph LRS shared by the tests of one module (Ralph takes ~5 s to start); skipped when missing.

    Tests may stop, kill and start it; it is started again for the next test if left stopped.
    """
    server = _started(tmp_path_factory.mktemp("ralph"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ralph_running(ralph):
    """The module's Ralph, started again first if an earlier test left it stopped."""
    return ralph.start()


@pytest.fixture
def fresh_ralph(tmp_path):
    """A Ralph LRS of its own for one test (empty store), stopped afterwards."""
    server = _started(tmp_path / "ralph")
    try:
        yield server
    finally:
        server.stop()
