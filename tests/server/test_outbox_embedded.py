"""Forwarding to the embedded LRS (`/xapi/` of the same server) by default, in-process."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading

import pytest
from aiohttp import web

from server.app import create_app
from server.quiz_routes import add_quiz
from tests.server.conftest import wait_for
from tests.server.test_quiz_support import Api, CORRECT, quiz_config, statements_in

pytest.importorskip("server.lrs")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """A server whose public URL it cannot reach itself (a TLS name behind a proxy): forwarding must not need it."""
    port = free_port()
    config = quiz_config(tmp_path, port=port, base_url="https://halls.mine.invalid", lrs_url=None)
    loop = asyncio.new_event_loop()
    app = create_app(config)
    add_quiz(app, config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield config, app, Api(port), loop
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_statements_reach_the_embedded_lrs_and_read_back_unchanged(served):
    from server.lrs import embedded_credentials

    config, app, api, loop = served
    member = api.sign_in("m1", "张三")
    registration = api.visit(member)
    assert api.attempt(member, registration, "quiz1").status == 200
    assert api.attempt(member, registration, "quiz2").status == 200
    api.call("POST", "/api/halls/alpha/dioramas/bridge/experienced", {"registration": registration, "seconds": 30},
             member)
    rows = wait_for(lambda: (lambda r: r if r and all(s["_state"] == 1 for s in r) else None)(statements_in(config)),
                    what="delivered to the embedded LRS")
    assert len(rows) == 8
    key, secret = asyncio.run_coroutine_threadsafe(_credentials(app, embedded_credentials), loop).result(10)
    auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    for row in rows:
        sent = {k: v for k, v in row.items() if k != "_state"}
        reply = api.call("GET", f"/xapi/statements?statementId={sent['id']}",
                         headers={"X-Experience-API-Version": "1.0.3", "Authorization": auth})
        assert reply.status == 200, reply.body
        stored = reply.json()
        for added in ("stored", "authority", "version"):
            stored.pop(added, None)
        assert stored == sent


async def _credentials(app, embedded_credentials):
    return embedded_credentials(app)
