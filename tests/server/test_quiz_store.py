"""The attempt transaction (`server.learning.learners`): statements made outside it are used only while still true."""

from __future__ import annotations

import asyncio
import json
import time

from server.database import Database
from server.learning import learners
from server.learning.learners import LEARNERS_SCHEMA, AttemptRequest, Refusal
from server.learning.outbox import OUTBOX_SCHEMA
from server.learning.quiz import grade, parse_checkpoints, parse_responses
from server.learning.records import Vocabulary
from tests.server.test_quiz_support import CORRECT, QUIZ_ONE, QUIZ_TWO

WRONG = {"s1": "A"}


def scenario(tmp_path, body):
    async def run():
        database = Database(tmp_path / "halls.sqlite", [OUTBOX_SCHEMA, LEARNERS_SCHEMA])
        database.open()
        try:
            now = time.time()
            await database.write(learners.upsert_member, "m1", "张三", None, now)
            registration = await database.write(learners.start_visit, "m1", "alpha", "browser", now)
            checkpoints = parse_checkpoints("alpha", {"checkpoints": [QUIZ_ONE, QUIZ_TWO]})

            def attempt(checkpoint_id, responses):
                checkpoint = checkpoints[checkpoint_id]
                return AttemptRequest(
                    "m1",
                    checkpoint,
                    grade(checkpoint, parse_responses(checkpoint, responses)),
                    registration,
                    None,
                    time.time(),
                    frozenset(checkpoints),
                    Vocabulary("https://h"),
                )

            return await body(database, attempt)
        finally:
            await database.close()

    return asyncio.run(run())


def queued(database):
    return [json.loads(body) for (body,) in database.reader.execute("SELECT body FROM statements ORDER BY seq")]


def test_racing_attempts_prepared_from_one_read_get_numbers_one_and_two(tmp_path):
    async def body(database, attempt):
        first, second = attempt("quiz1", WRONG), attempt("quiz1", WRONG)
        basis = learners.read_basis(database.reader, first)
        stale = learners.prepare_attempt(second, learners.read_basis(database.reader, second))
        one = await database.write(learners.record_attempt, first, learners.prepare_attempt(first, basis))
        two = await database.write(learners.record_attempt, second, stale)
        return one, two, stale, queued(database)

    one, two, stale, statements = scenario(tmp_path, body)
    assert (one.number, two.number, stale.number) == (1, 2, 1)
    attempts = [s["context"]["extensions"]["https://h/extensions/attempt"] for s in statements]
    assert attempts == [1, 1, 2, 2]  # answered + failed for each: the stale statements were made again
    assert len({s["id"] for s in statements}) == 4
    assert set(two.statements) == {s["id"] for s in statements[2:]}


def test_completion_seen_by_the_transaction_not_by_the_earlier_read(tmp_path):
    async def body(database, attempt):
        last = attempt("quiz2", CORRECT["quiz2"])
        early = learners.prepare_attempt(last, learners.read_basis(database.reader, last))  # quiz1 not yet passed
        await database.write(learners.record_attempt, attempt("quiz1", CORRECT["quiz1"]))
        record = await database.write(learners.record_attempt, last, early)
        return early, record, queued(database)

    early, record, statements = scenario(tmp_path, body)
    assert not early.completes and record.hall_complete
    assert statements[-1]["verb"]["id"] == "http://adlnet.gov/expapi/verbs/completed"


def test_refusals_write_nothing(tmp_path):
    async def body(database, attempt):
        for _ in range(3):
            await database.write(learners.record_attempt, attempt("quiz1", WRONG))
        refused = await database.write(learners.record_attempt, attempt("quiz1", WRONG))
        return refused, len(queued(database))

    refused, count = scenario(tmp_path, body)
    assert refused == Refusal(403, "no attempts left") and count == 6
