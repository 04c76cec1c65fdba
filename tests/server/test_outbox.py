"""The outbox and its forwarder against a fake LRS answering each class: 200, 204, 409, 400, 401, 5xx, timeouts."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

import pytest

from server.config import ForwardingSettings
from server.database import Database
from server.learning.forwarder import Forwarder, LrsTarget, classify, outbox_stats
from server.learning.outbox import OUTBOX_SCHEMA, queue_statements, redact_keys
from tests.server.conftest import wait_for
from tests.server.test_quiz_support import ADMIN_CODE, FakeLrs, quiz_config, start_quiz, statements_in

DELIVERED, DEAD = 1, 2


@pytest.fixture
def lrs():
    fake = FakeLrs()
    yield fake
    fake.stop()


def run_session(api, attempts=(("quiz1", None),)):
    """Sign in, visit alpha, post attempts; the member's token."""
    token = api.sign_in("m1", "张三")
    registration = api.visit(token)
    for checkpoint, answers in attempts:
        assert api.attempt(token, registration, checkpoint, answers).status == 200
    return token


def all_delivered(config):
    rows = statements_in(config)
    return rows if rows and all(r["_state"] == DELIVERED for r in rows) else None


def stats_of(server):
    async def read():
        return outbox_stats(server.app)

    return server.call(read())


def started(tmp_path, start_server, lrs, **changes):
    config = quiz_config(tmp_path, lrs_url=lrs.url, **changes)
    server, api = start_quiz(start_server, config)
    return config, server, api


@pytest.mark.parametrize("status", [200, 204])
def test_200_and_204_mark_the_batch_delivered(tmp_path, start_server, lrs, status):
    lrs.default = status
    config, server, api = started(tmp_path, start_server, lrs)
    run_session(api)
    rows = wait_for(lambda: all_delivered(config), what="delivered")
    assert len(rows) == 4 and set(lrs.statements) == {r["id"] for r in rows}
    assert len(lrs.requests) == 1 and lrs.requests[0]["version"] == "1.0.3"
    # the forwarder counts a batch just after its commit: wait for the count too
    stats = wait_for(
        lambda: (lambda s: s if s["forwarder"]["delivered"] == 4 else None)(stats_of(server)),
        what="4 delivered in /api/health",
    )
    assert (stats["queued"], stats["dead_letters"], stats["oldest_unsent_age_s"]) == (0, 0, None)


def test_409_for_one_statement_marks_it_delivered_with_an_alarm_and_keeps_the_rest(tmp_path, start_server, lrs, caplog):
    lrs.default = 503  # hold the queue until the LRS has a different statement under one of our ids
    config, server, api = started(tmp_path, start_server, lrs)
    run_session(api)
    ids = [r["id"] for r in statements_in(config)]
    victim = ids[2]
    lrs.statements[victim] = {"id": victim, "different": True}
    lrs.default = 200
    rows = wait_for(lambda: all_delivered(config), what="delivered")
    assert len(rows) == 4
    assert lrs.statements[victim] == {"id": victim, "different": True}
    assert set(lrs.statements) == set(ids) and lrs.conflicts and set(lrs.conflicts) == {victim}
    alarms = [r for r in caplog.records if "ALARM" in r.getMessage()]
    assert len(alarms) == 1 and victim in alarms[0].getMessage() and alarms[0].levelno == logging.ERROR
    assert stats_of(server)["dead_letters"] == 0


def test_400_isolates_the_bad_statement_in_a_dead_letter_that_an_admin_can_resend(tmp_path, start_server, lrs):
    lrs.default = 503
    config, server, api = started(tmp_path, start_server, lrs)
    run_session(api)
    ids = [r["id"] for r in statements_in(config)]
    lrs.poison = {ids[1]}
    lrs.default = 200
    wait_for(
        lambda: [r for r in statements_in(config) if r["_state"] == DEAD] and stats_of(server)["queued"] == 0,
        what="a dead letter",
    )
    states = {r["id"]: r["_state"] for r in statements_in(config)}
    assert states == {i: DEAD if i == ids[1] else DELIVERED for i in ids}
    assert set(lrs.statements) == set(ids) - {ids[1]}
    admin = api.sign_in("root", enrolment_code=ADMIN_CODE)
    letters = api.call("GET", "/api/admin/dead-letters", token=admin).json()["dead_letters"]
    assert len(letters) == 1
    letter = letters[0]
    assert (letter["status"], letter["count"], letter["resent"]) == (400, 1, None)
    assert letter["statements"] == [
        {"id": ids[1], "verb": "answered", "object": "https://halls.example/halls/alpha/checkpoints/quiz1/questions/m1"}
    ]
    assert "invalid statement" in letter["response"] and "correctResponsesPattern" not in letter["response"]
    stats = stats_of(server)
    assert (stats["dead_letters"], stats["dead_letter_statements"]) == (1, 1)
    lrs.poison = set()
    member = api.sign_in("m1")
    assert api.call("POST", f"/api/admin/dead-letters/{letter['id']}/resend", token=member).status == 403
    resent = api.call("POST", f"/api/admin/dead-letters/{letter['id']}/resend", token=admin)
    assert (resent.status, resent.json()) == (200, {"id": letter["id"], "requeued": 1})
    wait_for(lambda: all_delivered(config), what="resent statement delivered")
    assert set(lrs.statements) == set(ids)
    again = api.call("POST", f"/api/admin/dead-letters/{letter['id']}/resend", token=admin)
    assert (again.status, again.json()) == (404, {"error": f"no open dead letter {letter['id']}"})
    assert api.call("GET", "/api/admin/dead-letters", token=admin).json() == {"dead_letters": []}
    history = api.call("GET", "/api/admin/dead-letters?all=1", token=admin).json()["dead_letters"]
    assert history[0]["resent"] is not None
    sent = [i for r in lrs.requests for i in r["ids"] if r["behaviour"] == 200]
    assert sorted(set(sent)) == sorted(ids)  # every statement accepted exactly once


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_dead_letter_the_whole_batch_for_resending_after_the_credentials_are_fixed(
    tmp_path, start_server, lrs, status
):
    lrs.script = [status]
    config, server, api = started(tmp_path, start_server, lrs)
    run_session(api)
    wait_for(lambda: stats_of(server)["dead_letters"] == 1 and stats_of(server)["queued"] == 0, what="dead letter")
    admin = api.sign_in("root", enrolment_code=ADMIN_CODE)
    [letter] = api.call("GET", "/api/admin/dead-letters", token=admin).json()["dead_letters"]
    assert (letter["status"], letter["count"]) == (status, 4)
    api.call("POST", f"/api/admin/dead-letters/{letter['id']}/resend", token=admin)
    rows = wait_for(lambda: all_delivered(config), what="delivered after resend")
    assert set(lrs.statements) == {r["id"] for r in rows}


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_is_honoured_beyond_the_backoff_ceiling(tmp_path, start_server, lrs, status):
    lrs.script = [("retry", status, 1)]
    config, server, api = started(tmp_path, start_server, lrs, lrs_backoff_max=0.1)
    run_session(api)
    wait_for(lambda: all_delivered(config), what="delivered")
    first, second = lrs.requests[:2]
    assert first["ids"] == second["ids"]
    assert second["at"] - first["at"] >= 0.95
    assert len(lrs.statements) == 4


def test_5xx_backs_off_exponentially_and_nothing_is_lost(tmp_path, start_server, lrs):
    lrs.script = [500, 502, 500, 503]
    config, server, api = started(tmp_path, start_server, lrs, lrs_backoff_base=0.05, lrs_backoff_max=10)
    run_session(api)
    wait_for(lambda: all_delivered(config), what="delivered")
    times = [r["at"] for r in lrs.requests]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(lrs.requests) == 5
    ceilings = [0.05, 0.1, 0.2, 0.4]  # base * 2**n; jitter picks from [ceiling / 2, ceiling]
    for gap, ceiling in zip(gaps, ceilings):
        assert gap >= ceiling / 2 * 0.9
    assert len(lrs.statements) == 4


def test_timeout_is_retried_and_the_lrs_keeps_one_copy(tmp_path, start_server, lrs):
    lrs.script = ["timeout"]
    lrs.hang = 1.5
    config, server, api = started(tmp_path, start_server, lrs, lrs_timeout=0.3)
    run_session(api)
    rows = wait_for(lambda: all_delivered(config), what="delivered")
    assert len(lrs.requests) >= 2 and lrs.requests[0]["ids"] == lrs.requests[1]["ids"]
    assert set(lrs.statements) == {r["id"] for r in rows}


def test_refused_connection_keeps_statements_queued_and_shows_it_in_health(tmp_path, start_server):
    config = quiz_config(tmp_path, lrs_url="http://127.0.0.1:9/xapi/")
    server, api = start_quiz(start_server, config)
    run_session(api)

    def backing_off_after_failures():
        stats = stats_of(server)
        forwarder = stats["forwarder"]
        return stats if forwarder["failures"] >= 2 and forwarder["state"] == "backing-off" else None

    stats = wait_for(backing_off_after_failures, what="failures while backing off")
    assert stats["queued"] == 4 and stats["oldest_unsent_age_s"] >= 0
    assert "Connect" in stats["forwarder"]["last_error"]
    assert all(r["_state"] == 0 for r in statements_in(config))


# --- the database and the forwarder without a server ------------------------------


def test_only_the_lease_holder_forwards_when_two_workers_share_the_database(tmp_path, lrs):
    async def scenario():
        first, second = [Database(tmp_path / "db.sqlite", [OUTBOX_SCHEMA]) for _ in range(2)]
        first.open()
        second.open()
        settings = ForwardingSettings(batch_size=3, poll_interval=0.02, backoff_base=0.05, backoff_max=0.1)
        target = LrsTarget(lrs.url + "statements")
        forwarders = [Forwarder(db, settings, lambda: target) for db in (first, second)]
        tasks = [asyncio.create_task(f.run()) for f in forwarders]
        for n in range(20):
            await (first if n % 2 else second).write(queue_statements, [(f"s-{n}", f'{{"id": "s-{n}"}}')], time.time())
        for _ in range(1000):  # until the forwarders report all 20 (the commit lands just before the count)
            queued = first.reader.execute("SELECT COUNT(*) FROM statements WHERE state = 0").fetchone()[0]
            if queued == 0 and sum(f.status.delivered for f in forwarders) == 20:
                break
            await asyncio.sleep(0.02)
        states = sorted(f.status.state for f in forwarders)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for forwarder in forwarders:
            await forwarder.release()
        await first.close()
        await second.close()
        return states, [f.status.delivered for f in forwarders]

    states, delivered = asyncio.run(scenario())
    assert "standby" in states and sorted(delivered) == [0, 20]
    sent = [i for r in lrs.requests for i in r["ids"]]
    assert len(sent) == len(set(sent)) == 20


@pytest.mark.parametrize(
    "status, outcome",
    [
        (200, "delivered"),
        (204, "delivered"),
        (409, "conflict"),
        (400, "rejected"),
        (413, "rejected"),
        (422, "rejected"),
        (401, "unauthorized"),
        (403, "unauthorized"),
        (404, "transient"),
        (429, "transient"),
        (500, "transient"),
        (503, "transient"),
    ],
)
def test_status_classes(status, outcome):
    assert classify(status) == outcome


def test_redaction_removes_key_revealing_parts_of_echoed_statements():
    echoed = (
        '{"error": "bad", "statement": {"object": {"definition": {"correctResponsesPattern": ["A[,]C"]}},'
        ' "result": {"response": "A[,]C", "success": true}}}'
    )
    assert redact_keys(echoed) == '{"error": "bad", "statement": {"object": {"definition": {}}}}'
    text = "bad input {'correctResponsesPattern': ['true'], 'success': True}"
    assert redact_keys(text) == 'bad input {"redacted": true, "redacted": true}'


def test_outbox_rows_survive_reopening(tmp_path):
    async def write_then_close():
        database = Database(tmp_path / "db.sqlite", [OUTBOX_SCHEMA])
        database.open()
        await database.write(queue_statements, [("a", "{}"), ("b", "{}")], 1.0)
        await database.close()

    asyncio.run(write_then_close())
    connection = sqlite3.connect(tmp_path / "db.sqlite")
    assert connection.execute("SELECT id, state FROM statements ORDER BY seq").fetchall() == [("a", 0), ("b", 0)]
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


def test_without_an_lrs_statements_stay_queued_and_health_says_so(tmp_path, start_server):
    config = quiz_config(tmp_path, lrs_url=None, lrs_embedded=False)
    server, api = start_quiz(start_server, config)
    run_session(api)
    stats = wait_for(
        lambda: (lambda s: s if s["forwarder"]["state"] == "no-lrs" else None)(stats_of(server)), what="no-lrs"
    )
    assert stats["queued"] == 4 and stats["forwarder"]["failures"] == 0
