"""Idempotent attempts (`Idempotency-Key`): a retried submission is answered again, never counted again."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from server.database import Database
from server.learning import learners
from server.learning.learners import LEARNERS_SCHEMA
from server.learning.outbox import OUTBOX_SCHEMA
from tests.server.test_quiz_api import WRONG, lrs, quiz  # noqa: F401 (the fixtures are used by name)
from tests.server.test_quiz_support import CORRECT, quiz_config, start_quiz, statements_in

ATTEMPTS = "/api/halls/{hall}/checkpoints/{checkpoint}/attempts"


def submit(api, token, registration, key, checkpoint="quiz1", answers=None, hall="alpha"):
    body = {
        "answers": CORRECT[checkpoint] if answers is None else answers,
        "registration": registration,
        "platform": "headset",
    }
    return api.call(
        "POST",
        ATTEMPTS.format(hall=hall, checkpoint=checkpoint),
        body,
        token,
        headers={"Idempotency-Key": key} if key is not None else None,
    )


def attempt_rows(config) -> list[tuple]:
    with sqlite3.connect(Path(config.var_path) / "halls.sqlite") as connection:
        return connection.execute(
            "SELECT member, checkpoint, number, idempotency_key FROM attempts ORDER BY id"
        ).fetchall()


def used(api, token, checkpoint="quiz1") -> tuple[int, int]:
    state = api.call("GET", f"/api/halls/alpha/checkpoints/{checkpoint}", token=token).json()
    return state["attempts_used"], state["attempts_left"]


def test_the_same_key_twice_stores_one_attempt_and_answers_the_same_body(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    first = submit(api, member, registration, "submission-0001", answers=WRONG["quiz1"])
    count = len(statements_in(config))
    again = submit(api, member, registration, "submission-0001", answers=WRONG["quiz1"])
    assert first.status == again.status == 200
    assert again.body == first.body
    assert first.json()["attempts_left"] == 2 and again.json()["attempts_left"] == 2
    assert "Idempotent-Replay" not in first.headers and again.headers["Idempotent-Replay"] == "true"
    assert again.headers["Cache-Control"] == "no-store"
    assert attempt_rows(config) == [("m1", "quiz1", 1, "submission-0001")]
    assert len(statements_in(config)) == count == 4  # answered x3 + failed, queued once
    assert used(api, member) == (1, 2)


def test_a_new_key_is_a_new_attempt_and_no_key_works_as_before(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    assert submit(api, member, registration, None, answers=WRONG["quiz1"]).json()["attempts_left"] == 2
    assert submit(api, member, registration, None, answers=WRONG["quiz1"]).json()["attempts_left"] == 1
    third = submit(api, member, registration, "third-try-key", answers=WRONG["quiz1"])
    assert third.json()["attempts_left"] == 0 and "Idempotent-Replay" not in third.headers
    assert [row[2:] for row in attempt_rows(config)] == [(1, None), (2, None), (3, "third-try-key")]


def test_keys_are_per_member(quiz):
    config, server, api = quiz
    ann, bo = api.sign_in("ann"), api.sign_in("bo")
    for token in (ann, bo):
        reply = submit(api, token, api.visit(token), "shared-key-1")
        assert reply.status == 200 and "Idempotent-Replay" not in reply.headers
    assert [(row[0], row[3]) for row in attempt_rows(config)] == [("ann", "shared-key-1"), ("bo", "shared-key-1")]


def test_a_replay_after_the_last_try_returns_the_original_result_not_403(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    keys = ["try-one-key", "try-two-key", "try-three-key"]
    replies = [submit(api, member, registration, key, answers=WRONG["quiz1"]) for key in keys]
    assert [r.json()["attempts_left"] for r in replies] == [2, 1, 0]
    assert submit(api, member, registration, "try-four-key", answers=WRONG["quiz1"]).status == 403
    for key, original in zip(keys, replies):
        again = submit(api, member, registration, key, answers=WRONG["quiz1"])
        assert (again.status, again.body) == (200, original.body), key
    # explanations follow the original rule: hidden while tries were left, all shown on the last
    assert all("explanation" not in r for r in replies[0].json()["results"])
    assert [r.get("explanation") is not None for r in replies[2].json()["results"]] == [True, True, False]
    assert used(api, member) == (3, 0) and len(attempt_rows(config)) == 3


def test_a_replay_after_passing_returns_the_pass_with_hall_complete(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    one = submit(api, member, registration, "quiz1-pass-key")
    two = submit(api, member, registration, "quiz2-pass-key", "quiz2")
    assert not one.json()["hall_complete"] and two.json()["hall_complete"]
    count = len(statements_in(config))
    assert submit(api, member, registration, "quiz2-pass-key", "quiz2").body == two.body
    assert submit(api, member, registration, "quiz1-pass-key").body == one.body  # stored before the hall was complete
    assert submit(api, member, registration, "quiz1-new-key").status == 403  # a new key is a new try: passed already
    assert len(statements_in(config)) == count and len(attempt_rows(config)) == 2


def test_a_replay_during_the_cooldown_returns_the_original_result_not_429(quiz):
    config, server, api = quiz  # quiz2: two tries, 30 s apart
    member = api.sign_in("m1")
    registration = api.visit(member)
    first = submit(api, member, registration, "cooling-key-1", "quiz2", WRONG["quiz2"])
    assert (first.json()["attempts_left"], first.json()["retry_after"]) == (1, 30)
    assert submit(api, member, registration, "cooling-key-2", "quiz2", WRONG["quiz2"]).status == 429
    again = submit(api, member, registration, "cooling-key-1", "quiz2", WRONG["quiz2"])
    assert (again.status, again.body) == (200, first.body)
    assert again.headers["Idempotent-Replay"] == "true" and "Retry-After" not in again.headers
    assert used(api, member, "quiz2") == (1, 1)


@pytest.mark.parametrize(
    "checkpoint, answers, message",
    [
        ("quiz1", {"s1": "B", "m1": ["A"], "t1": True}, "a submission with other answers"),
        ("quiz1", {"s1": "A", "m1": ["A"]}, "a submission with other answers"),
        ("quiz2", {"q": "A"}, "checkpoint 'quiz1' of hall 'alpha'"),
    ],
)
def test_the_same_key_with_other_answers_or_checkpoint_is_409(quiz, checkpoint, answers, message):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    assert submit(api, member, registration, "reused-key-1", answers=WRONG["quiz1"]).status == 200
    count = len(statements_in(config))
    reply = submit(api, member, registration, "reused-key-1", checkpoint, answers)
    assert reply.status == 409 and reply.headers["Content-Type"].startswith("application/json")
    assert message in reply.json()["error"] and reply.json()["error"].startswith("Idempotency-Key was already used")
    assert "Idempotent-Replay" not in reply.headers
    assert len(attempt_rows(config)) == 1 and len(statements_in(config)) == count


def test_the_same_answers_in_another_order_or_shape_are_the_same_submission(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    first = submit(api, member, registration, "order-key-1", answers={"s1": "C", "m1": ["D", "A"], "t1": False})
    again = submit(api, member, registration, "order-key-1", answers={"t1": False, "m1": ["A", "D"], "s1": "C"})
    assert again.status == 200 and again.body == first.body


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space1", "semi;colon", "ключ-ключ-ключ", ""])
def test_a_malformed_key_is_400_and_uses_no_try(quiz, key):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    reply = api.call(
        "POST",
        ATTEMPTS.format(hall="alpha", checkpoint="quiz1"),
        {"answers": CORRECT["quiz1"], "registration": registration},
        member,
        headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")},
    )
    assert (reply.status, reply.json()) == (
        400,
        {"error": "Idempotency-Key: expected 8-64 letters, digits, _ or - (one new key per submission)"},
    )
    assert attempt_rows(config) == [] and statements_in(config) == []


def test_a_key_is_checked_after_authentication(quiz):
    config, server, api = quiz
    reply = api.call(
        "POST",
        ATTEMPTS.format(hall="alpha", checkpoint="quiz1"),
        {"answers": CORRECT["quiz1"]},
        headers={"Idempotency-Key": "bad"},
    )
    assert reply.status == 401


def test_concurrent_requests_with_one_key_store_exactly_one_attempt(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    start = threading.Barrier(10)

    def send(_):
        start.wait()  # all ten at once
        return submit(api, member, registration, "racing-key-01", answers=WRONG["quiz1"])

    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(send, range(10)))
    assert [r.status for r in replies] == [200] * 10
    assert len({r.body for r in replies}) == 1
    assert sum(r.headers.get("Idempotent-Replay") == "true" for r in replies) == 9
    assert attempt_rows(config) == [("m1", "quiz1", 1, "racing-key-01")]
    assert len(statements_in(config)) == 4 and used(api, member) == (1, 2)


def test_replays_and_409s_show_no_answer_key(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    submit(api, member, registration, "secret-key-01", "quiz2", WRONG["quiz2"])
    replay = submit(api, member, registration, "secret-key-01", "quiz2", WRONG["quiz2"])
    conflict = submit(api, member, registration, "secret-key-01", "quiz2", CORRECT["quiz2"])
    for reply in (replay, conflict):
        text = reply.body.decode()
        assert '"B"' not in text and "否。" not in text and "answer" not in text.replace("answers", ""), text


# --- the transaction and the schema -----------------------------------------------------------------------------


def old_database(path: Path) -> None:
    """A halls.sqlite as the code before idempotency keys made it (no `idempotency_key`), holding one attempt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        for statement in LEARNERS_SCHEMA.split(";"):
            if "CREATE TABLE IF NOT EXISTS attempts" in statement:
                statement = "\n".join(line for line in statement.splitlines() if "idempotency_key" not in line)
            elif "idempotency_key" in statement:
                continue
            connection.execute(statement)
        connection.execute("INSERT INTO members VALUES ('m1', 'old', NULL, 1, 1)")
        connection.execute(
            "INSERT INTO attempts (member, hall, checkpoint, number, registration, platform, submitted, "
            "duration, raw, max, scaled, passed, responses) VALUES ('m1', 'alpha', 'quiz1', 1, 'r', "
            "'browser', 1, 1, 0, 3, 0, 0, '{}')"
        )
        connection.execute("INSERT INTO checkpoint_status VALUES ('m1', 'alpha', 'quiz1', 1, 1, 0, 0)")


def columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[1] for row in connection.execute("PRAGMA table_info(attempts)")]


def test_old_database_fixture_lacks_the_column(tmp_path):
    old_database(tmp_path / "halls.sqlite")
    assert "idempotency_key" not in columns(tmp_path / "halls.sqlite")
    assert "responses" in columns(tmp_path / "halls.sqlite")


def test_upgrade_schema_adds_the_column_once_and_leaves_new_or_missing_databases_alone(tmp_path):
    missing = Database(tmp_path / "none" / "halls.sqlite", [OUTBOX_SCHEMA, LEARNERS_SCHEMA])
    assert not learners.upgrade_schema(missing) and not missing.path.exists()
    old = Database(tmp_path / "old" / "halls.sqlite", [OUTBOX_SCHEMA, LEARNERS_SCHEMA])
    old_database(old.path)
    assert learners.upgrade_schema(old)
    assert not learners.upgrade_schema(old)
    assert columns(old.path)[-1] == "idempotency_key"
    with sqlite3.connect(old.path) as connection:
        assert connection.execute("SELECT member, idempotency_key FROM attempts").fetchall() == [("m1", None)]


def test_the_server_upgrades_an_existing_database_and_keys_work_on_it(tmp_path, start_server, lrs):
    config = quiz_config(tmp_path, lrs_url=lrs.url)
    path = Path(config.var_path) / "halls.sqlite"
    old_database(path)
    server, api = start_quiz(start_server, config)
    assert "idempotency_key" in columns(path)
    member = api.sign_in("m1")
    assert used(api, member) == (1, 2)  # the attempt stored by the old code still counts
    registration = api.visit(member)
    first = submit(api, member, registration, "after-upgrade-1", answers=WRONG["quiz1"])
    again = submit(api, member, registration, "after-upgrade-1", answers=WRONG["quiz1"])
    assert first.json()["attempts_left"] == 1 and again.body == first.body
    assert [row[2:] for row in attempt_rows(config)] == [(1, None), (2, "after-upgrade-1")]
    with sqlite3.connect(path) as connection:
        indexes = [row[1] for row in connection.execute("PRAGMA index_list(attempts)")]
        plan = " ".join(
            row[-1]
            for row in connection.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM attempts WHERE member = ? AND idempotency_key = ?", ("m1", "k")
            )
        )
    assert "attempts_idempotency" in indexes and "attempts_idempotency" in plan


def test_the_index_refuses_a_second_attempt_with_one_key_even_outside_the_handler(tmp_path):
    async def run():
        database = Database(tmp_path / "halls.sqlite", [OUTBOX_SCHEMA, LEARNERS_SCHEMA])
        database.open()
        try:
            insert = (
                "INSERT INTO attempts (member, hall, checkpoint, number, registration, platform, submitted, "
                "duration, raw, max, scaled, passed, responses, idempotency_key) "
                "VALUES ('m1', 'alpha', 'quiz1', ?, 'r', 'browser', 1, 1, 0, 3, 0, 0, '{}', ?)"
            )
            for number, key in ((1, None), (2, None), (3, "k-00000001")):
                await database.write(lambda connection, n=number, k=key: connection.execute(insert, (n, k)))
            with pytest.raises(sqlite3.IntegrityError):
                await database.write(lambda connection: connection.execute(insert, (4, "k-00000001")))
        finally:
            await database.close()

    asyncio.run(run())


def test_timing_of_a_keyed_attempt_is_the_first_request_s(quiz):
    """The stored attempt is the first one: a replay later does not move `submitted` (the cool-down's start)."""
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    submit(api, member, registration, "timing-key-01", answers=WRONG["quiz1"])
    with sqlite3.connect(Path(config.var_path) / "halls.sqlite") as connection:
        before = connection.execute("SELECT submitted, last_submitted FROM attempts, checkpoint_status").fetchall()
    time.sleep(0.05)
    submit(api, member, registration, "timing-key-01", answers=WRONG["quiz1"])
    with sqlite3.connect(Path(config.var_path) / "halls.sqlite") as connection:
        after = connection.execute("SELECT submitted, last_submitted FROM attempts, checkpoint_status").fetchall()
    assert before == after
