"""Embedded-LRS test helpers: a real hall server with the LRS mounted, and a small xAPI HTTP client.

    def test_x(lrs): reply = lrs.post("/xapi/statements", statement)

The server is the project's own (`create_app` on an ephemeral port, see
conftest); the LRS is mounted by `add_lrs` unless `create_app` already did.
Credentials with scope `all` are made for the tests.
"""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from server.lrs.service import LRS_STATE, add_lrs

DATA = Path(__file__).parent / "lrs_data"
KEY, SECRET = "tester", "tester-secret-0123456789"
VERSION = {"X-Experience-API-Version": "1.0.3"}


def spec_examples() -> dict:
    return json.loads((DATA / "spec_examples.json").read_text(encoding="utf-8"))


def basic(key: str = KEY, secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def error(self) -> str:
        return self.json()["error"]


class LrsClient:
    """Real HTTP/1.1 requests with the version header and Basic credentials unless told otherwise."""

    def __init__(self, port: int, auth: str | None = None) -> None:
        self.port = port
        self.auth = auth or basic()

    def request(
        self,
        method: str,
        path: str,
        params: dict | None = None,
        body=None,
        headers: dict | None = None,
        version: str | None = "1.0.3",
        auth: str | None | bool = True,
    ) -> Reply:
        if params:
            path = f"{path}?{urlencode(params)}"
        all_headers = {}
        if version is not None:
            all_headers["X-Experience-API-Version"] = version
        if auth is True:
            all_headers["Authorization"] = self.auth
        elif auth:
            all_headers["Authorization"] = auth
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            all_headers["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode()
        all_headers.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def get(self, path: str, params: dict | None = None, **kw) -> Reply:
        return self.request("GET", path, params, **kw)

    def post(self, path: str, body=None, params: dict | None = None, **kw) -> Reply:
        return self.request("POST", path, params, body, **kw)

    def put(self, path: str, body=None, params: dict | None = None, **kw) -> Reply:
        return self.request("PUT", path, params, body, **kw)

    def delete(self, path: str, params: dict | None = None, **kw) -> Reply:
        return self.request("DELETE", path, params, **kw)


def mount_lrs(config):
    """A `prepare` for RunningServer: mount the LRS (unless create_app did) and add test credentials."""

    def prepare(app) -> None:
        if LRS_STATE not in app:
            add_lrs(app, config.lrs, var_dir=config.var_path, base_url=config.public_url)
        state = app[LRS_STATE]
        state.open()
        if state.writer.credential(KEY) is None:
            state.writer.add_credential(KEY, SECRET, "LRS tests", ("all",))

    return prepare


@pytest.fixture
def lrs_server(start_server, config, monkeypatch):
    monkeypatch.setattr("server.lrs.store.HASH_ITERATIONS", 1000)  # the hash's cost is not under test
    return start_server(config, mount_lrs(config))


@pytest.fixture
def lrs(lrs_server) -> LrsClient:
    return LrsClient(lrs_server.port)


def statement(**changes) -> dict:
    """A small valid statement with a fresh id; keyword arguments replace top-level properties."""
    base = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "name": "学员", "mbox": "mailto:learner@example.com"},
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/experienced",
            "display": {"zh-CN": "体验", "en-US": "experienced"},
        },
        "object": {"objectType": "Activity", "id": "https://halls.example/xapi/halls/safety"},
    }
    base.update(changes)
    return base
