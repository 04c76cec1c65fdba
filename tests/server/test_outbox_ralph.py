"""The forwarder against Ralph, a real external LRS: every statement arrives exactly once, across Ralph's outage."""

from __future__ import annotations

import pytest

from tests.server.conftest import wait_for
from tests.server.ralph import fresh_ralph, ralph_available  # noqa: F401  (fixture)
from tests.server.test_quiz_support import Api, quiz_config, statements_in

pytestmark = pytest.mark.skipif(not ralph_available(), reason="Ralph (ralph-malph) is not installed")


@pytest.fixture
def served_to(tmp_path, start_server):
    """Start a hall server forwarding to the given LRS (`start(url, key, secret) -> (config, api)`)."""

    def start(lrs_url: str, key: str, secret: str):
        config = quiz_config(tmp_path, lrs_url=lrs_url, lrs_key=key, lrs_secret=secret, lrs_embedded=False)
        server = start_server(config)
        return config, Api(server.port)

    return start


def _delivered(config):
    rows = statements_in(config)
    return rows if rows and all(row["_state"] == 1 for row in rows) else None


def test_statements_reach_ralph_exactly_once_even_when_ralph_is_down_for_a_while(fresh_ralph, served_to):
    config, api = served_to(fresh_ralph.url, fresh_ralph.key, fresh_ralph.secret)
    member = api.sign_in("m1", "张三")
    registration = api.visit(member)
    assert api.attempt(member, registration, "quiz1").status == 200
    wait_for(lambda: _delivered(config), timeout=30, what="first statements delivered to Ralph")

    fresh_ralph.stop()
    assert api.attempt(member, registration, "quiz2").status == 200  # graded and queued while Ralph is down
    assert any(row["_state"] != 1 for row in statements_in(config))
    fresh_ralph.start()

    rows = wait_for(lambda: _delivered(config), timeout=60, what="queued statements delivered after Ralph restarts")
    sent = sorted(row["id"] for row in rows)
    received = sorted(statement["id"] for statement in fresh_ralph.statements())
    assert received == sent  # every statement, none twice
