"""Forwarding to the embedded LRS (`/xapi/` of the same server) by default, in-process."""

from __future__ import annotations

import base64

import pytest

from server.learning.routes import add_quiz
from server.lrs.service import embedded_credentials
from tests.server.conftest import wait_for
from tests.server.test_quiz_support import Api, quiz_config, statements_in


@pytest.fixture
def served(tmp_path, start_server):
    """A server whose public URL it cannot reach itself (a TLS name behind a proxy): forwarding must not need it."""
    config = quiz_config(tmp_path, base_url="https://halls.mine.invalid", lrs_url=None)
    server = start_server(config, prepare=lambda app: add_quiz(app, config))
    return config, server, Api(server.port)


def test_statements_reach_the_embedded_lrs_and_read_back_unchanged(served):
    config, server, api = served
    member = api.sign_in("m1", "张三")
    registration = api.visit(member)
    assert api.attempt(member, registration, "quiz1").status == 200
    assert api.attempt(member, registration, "quiz2").status == 200
    api.call(
        "POST", "/api/halls/alpha/dioramas/bridge/experienced", {"registration": registration, "seconds": 30}, member
    )
    rows = wait_for(
        lambda: (lambda r: r if r and all(s["_state"] == 1 for s in r) else None)(statements_in(config)),
        what="delivered to the embedded LRS",
    )
    assert len(rows) == 8
    key, secret = server.call(_credentials(server.app))
    auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    for row in rows:
        sent = {k: v for k, v in row.items() if k != "_state"}
        reply = api.call(
            "GET",
            f"/xapi/statements?statementId={sent['id']}",
            headers={"X-Experience-API-Version": "1.0.3", "Authorization": auth},
        )
        assert reply.status == 200, reply.body
        stored = reply.json()
        for added in ("stored", "authority", "version"):
            stored.pop(added, None)
        assert stored == sent


async def _credentials(app):
    return embedded_credentials(app)  # on the server's loop, where the LRS lives
