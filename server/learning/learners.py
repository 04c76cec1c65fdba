"""The learning record in SQLite: members, visits, attempts, hall completions, diorama time.

Write functions run inside `Database.write` (one transaction each, with the
statements they queue); read functions take the loop thread's connection.
An attempt is checked against the checkpoint's policy inside the same
transaction that stores it, so two racing attempts (or two workers) can
never both take the last try.  Its statements are usually made before, on
the event loop (`read_basis`, `prepare_attempt`), so the single writer only
runs SQL; the transaction re-reads the basis and remakes them on a race.

An attempt may carry the client's submission id (`Idempotency-Key`), kept
unique per member in `attempts.idempotency_key`.  The same transaction looks
it up before the policy: a retried submission finds its stored attempt and
is answered from it (`StoredAttempt`), writing and queueing nothing.
"""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from server.database import Database
from server.learning.outbox import queue_statements
from server.learning.quiz import Checkpoint, Grade
from server.learning.records import Learner, Vocabulary, attempt_statements, experienced_statement, statements_json

MAX_ATTEMPT_SECONDS = 4 * 3600.0
"""Longest time counted for one attempt (a member who left the headset on)."""

LEARNERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    branch TEXT,
    created REAL NOT NULL,
    seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS visits (
    registration TEXT PRIMARY KEY,
    member TEXT NOT NULL,
    hall TEXT NOT NULL,
    platform TEXT NOT NULL,
    started REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_member ON visits(member, hall);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member TEXT NOT NULL,
    hall TEXT NOT NULL,
    checkpoint TEXT NOT NULL,
    number INTEGER NOT NULL,
    registration TEXT NOT NULL,
    platform TEXT NOT NULL,
    submitted REAL NOT NULL,
    duration REAL NOT NULL,
    raw INTEGER NOT NULL,
    max INTEGER NOT NULL,
    scaled REAL NOT NULL,
    passed INTEGER NOT NULL,
    responses TEXT NOT NULL,
    idempotency_key TEXT,  -- the client's submission id (`Idempotency-Key`), when it sent one
    UNIQUE (member, hall, checkpoint, number)
);
CREATE INDEX IF NOT EXISTS attempts_submitted ON attempts(submitted);
CREATE UNIQUE INDEX IF NOT EXISTS attempts_idempotency ON attempts(member, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS checkpoint_status (
    member TEXT NOT NULL,
    hall TEXT NOT NULL,
    checkpoint TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_submitted REAL NOT NULL,
    passed INTEGER NOT NULL,
    best REAL NOT NULL,
    PRIMARY KEY (member, hall, checkpoint)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoint_opens (
    member TEXT NOT NULL,
    hall TEXT NOT NULL,
    checkpoint TEXT NOT NULL,
    opened REAL NOT NULL,
    PRIMARY KEY (member, hall, checkpoint)
);
CREATE TABLE IF NOT EXISTS completions (
    member TEXT NOT NULL,
    hall TEXT NOT NULL,
    registration TEXT NOT NULL,
    completed REAL NOT NULL,
    PRIMARY KEY (member, hall)
);
CREATE TABLE IF NOT EXISTS experiences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member TEXT NOT NULL,
    hall TEXT NOT NULL,
    diorama TEXT NOT NULL,
    registration TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    seconds REAL NOT NULL,
    at REAL NOT NULL,
    UNIQUE (registration, diorama, sequence)
);
CREATE INDEX IF NOT EXISTS experiences_member ON experiences(member, hall);
"""


@dataclass(frozen=True)
class Refusal:
    """An attempt or report the policy refuses (nothing was written)."""

    status: int
    error: str
    retry_after: int = 0


@dataclass(frozen=True)
class CheckpointState:
    used: int
    last_submitted: float | None
    passed: bool
    best_score: float | None


@dataclass(frozen=True)
class AttemptRequest:
    """Everything one graded attempt needs to be stored."""

    member_id: str
    checkpoint: Checkpoint
    grade: Grade
    registration: str
    platform: str | None
    now: float
    hall_checkpoints: frozenset[str]
    vocabulary: Vocabulary
    hall_title: Mapping | None = None
    idempotency_key: str | None = None
    """The client's submission id: a second request with it is answered from the first's attempt."""


@dataclass(frozen=True)
class AttemptBasis:
    """What an attempt's rows and statements are made from (compared to detect a race)."""

    visit_platform: str
    visit_started: float
    state: CheckpointState
    opened: float | None
    name: str | None
    complete: bool
    """The hall was already complete."""
    passed: frozenset[str]
    """Checkpoints of the hall passed before (read only when this attempt passes and may complete it)."""


@dataclass(frozen=True)
class PreparedAttempt:
    basis: AttemptBasis
    number: int
    duration: float
    platform: str
    completes: bool
    statements: tuple[tuple[str, str], ...]
    """`(id, json)` of every statement."""


@dataclass(frozen=True)
class AttemptRecord:
    number: int
    attempts_left: int
    retry_after: int
    hall_complete: bool
    statements: tuple[str, ...]
    """Ids of the statements queued with the attempt."""


@dataclass(frozen=True)
class StoredAttempt:
    """The attempt already stored under the request's idempotency key: its result, as first answered."""

    number: int
    raw: int
    max: int
    scaled: float
    passed: bool
    correct: tuple[tuple[str, bool], ...]
    """`(question id, correct)` in the order they were graded."""
    attempts_left: int
    retry_after: int
    hall_complete: bool


@dataclass(frozen=True)
class ExperienceRequest:
    member_id: str
    hall_id: str
    diorama_id: str
    registration: str
    seconds: float
    now: float
    vocabulary: Vocabulary
    hall_title: Mapping | None = None
    diorama_title: Mapping | None = None


# --- writes (inside Database.write) ---------------------------------------------


def upsert_member(
    connection: sqlite3.Connection, member_id: str, name: str, branch: str | None, now: float
) -> str | None:
    """Record a sign-in (name and, when given, branch); the member's branch afterwards."""
    connection.execute(
        "INSERT INTO members (id, name, branch, created, seen) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET name = excluded.name, branch = COALESCE(excluded.branch, members.branch), "
        "seen = excluded.seen",
        (member_id, name, branch, now, now),
    )
    return connection.execute("SELECT branch FROM members WHERE id = ?", (member_id,)).fetchone()[0]


def start_visit(connection: sqlite3.Connection, member_id: str, hall_id: str, platform: str, now: float) -> str:
    """A new registration (xAPI context) for one visit of a hall."""
    registration = str(uuid.uuid4())
    connection.execute(
        "INSERT INTO visits (registration, member, hall, platform, started) VALUES (?, ?, ?, ?, ?)",
        (registration, member_id, hall_id, platform, now),
    )
    return registration


def note_opened(connection: sqlite3.Connection, member_id: str, hall_id: str, checkpoint_id: str, now: float) -> None:
    """The member opened a checkpoint's questions (the start of the attempt's duration)."""
    connection.execute(
        "INSERT OR REPLACE INTO checkpoint_opens (member, hall, checkpoint, opened) VALUES (?, ?, ?, ?)",
        (member_id, hall_id, checkpoint_id, now),
    )


def read_basis(connection: sqlite3.Connection, request: AttemptRequest) -> AttemptBasis | StoredAttempt | Refusal:
    """What the attempt's rows depend on, or why the policy refuses it (nothing is written).

    A request whose idempotency key is stored already gets that attempt
    (`StoredAttempt`), or a 409 `Refusal` when it was for other answers.
    The key is looked up after the basis: read outside a transaction, an
    attempt committed in between is then seen as stored, not as a used try.
    """
    checkpoint = request.checkpoint
    member, hall = request.member_id, checkpoint.hall
    row = connection.execute(_BASIS_SQL, (request.registration, member, hall, checkpoint.id)).fetchone()
    if request.idempotency_key is not None:
        stored = stored_attempt(connection, request)
        if stored is not None:
            return stored
    if row is None:
        return Refusal(400, f"unknown registration for hall {hall!r}: start a visit first")
    platform, started, used, last, passed_here, best, opened, name, complete = row
    state = (
        CheckpointState(0, None, False, None) if used is None else CheckpointState(used, last, bool(passed_here), best)
    )
    refusal = policy_refusal(checkpoint, state, request.now)
    if refusal is not None:
        return refusal
    passed = (
        frozenset()
        if complete or not request.grade.passed
        else frozenset(
            row[0]
            for row in connection.execute(
                "SELECT checkpoint FROM checkpoint_status WHERE member = ? AND hall = ? AND passed = 1", (member, hall)
            )
        )
    )
    return AttemptBasis(platform, started, state, opened, name, bool(complete), passed)


_BASIS_SQL = """
SELECT v.platform, v.started, s.attempts, s.last_submitted, s.passed, s.best,
       (SELECT opened FROM checkpoint_opens WHERE member = ?2 AND hall = ?3 AND checkpoint = ?4),
       (SELECT name FROM members WHERE id = ?2),
       EXISTS (SELECT 1 FROM completions WHERE member = ?2 AND hall = ?3)
FROM visits AS v
LEFT JOIN checkpoint_status AS s ON s.member = ?2 AND s.hall = ?3 AND s.checkpoint = ?4
WHERE v.registration = ?1 AND v.member = ?2 AND v.hall = ?3
"""
"""?1 registration, ?2 member, ?3 hall, ?4 checkpoint."""


def prepare_attempt(request: AttemptRequest, basis: AttemptBasis) -> PreparedAttempt:
    """The attempt's number, duration and statements (pure: runs outside the transaction when it can)."""
    checkpoint, grade, now = request.checkpoint, request.grade, request.now
    number = basis.state.used + 1
    since = max(basis.opened if basis.opened is not None else basis.visit_started, basis.state.last_submitted or 0.0)
    duration = min(max(0.0, now - since), MAX_ATTEMPT_SECONDS)
    platform = request.platform or basis.visit_platform
    completes = (
        grade.passed
        and not basis.complete
        and bool(request.hall_checkpoints)
        and request.hall_checkpoints <= basis.passed | {checkpoint.id}
    )
    statements = attempt_statements(
        request.vocabulary,
        Learner(request.member_id, basis.name),
        checkpoint,
        grade,
        registration=request.registration,
        attempt=number,
        platform=platform,
        timestamp=now,
        duration=duration,
        hall_title=request.hall_title,
        hall_completed=completes,
    )
    texts = statements_json(statements, request.vocabulary.activities(checkpoint, request.hall_title).fragments)
    return PreparedAttempt(basis, number, duration, platform, completes, tuple(zip((s.id for s in statements), texts)))


def record_attempt(
    connection: sqlite3.Connection, request: AttemptRequest, prepared: PreparedAttempt | None = None
) -> AttemptRecord | StoredAttempt | Refusal:
    """Check the policy, store the attempt, queue its statements (and the hall's `completed`).

    `prepared` was made from a read outside this transaction; it is used
    only if what it was made from is still what the database holds (else
    the statements are made again here, e.g. when two attempts raced).
    """
    checkpoint, grade, now = request.checkpoint, request.grade, request.now
    basis = read_basis(connection, request)
    if isinstance(basis, (Refusal, StoredAttempt)):
        return basis
    if prepared is None or prepared.basis != basis:
        prepared = prepare_attempt(request, basis)
    responses = {r.question.id: {"response": _plain(r.response), "correct": r.correct} for r in grade.results}
    connection.execute(
        "INSERT INTO attempts (member, hall, checkpoint, number, registration, platform, submitted, duration, "
        "raw, max, scaled, passed, responses, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            request.member_id,
            checkpoint.hall,
            checkpoint.id,
            prepared.number,
            request.registration,
            prepared.platform,
            now,
            prepared.duration,
            grade.raw,
            grade.max,
            grade.scaled,
            int(grade.passed),
            json.dumps(responses, ensure_ascii=False),
            request.idempotency_key,
        ),
    )
    connection.execute(
        "INSERT INTO checkpoint_status (member, hall, checkpoint, attempts, last_submitted, passed, best) "
        "VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT DO UPDATE SET attempts = attempts + 1, "
        "last_submitted = excluded.last_submitted, passed = MAX(passed, excluded.passed), "
        "best = MAX(best, excluded.best)",
        (request.member_id, checkpoint.hall, checkpoint.id, now, int(grade.passed), grade.scaled),
    )
    if prepared.completes:
        connection.execute(
            "INSERT INTO completions (member, hall, registration, completed) VALUES (?, ?, ?, ?)",
            (request.member_id, checkpoint.hall, request.registration, now),
        )
    queue_statements(connection, prepared.statements, now)
    left = _left_after(checkpoint, prepared.number, grade.passed)
    return AttemptRecord(
        prepared.number,
        left,
        _cooldown(checkpoint) if left else 0,
        basis.complete or prepared.completes,
        tuple(i for i, _ in prepared.statements),
    )


def record_experience(connection: sqlite3.Connection, request: ExperienceRequest) -> str | Refusal:
    """Store time spent in a diorama and queue its `experienced` statement; the statement id."""
    visit = _visit(connection, request.registration, request.member_id, request.hall_id)
    if visit is None:
        return Refusal(400, f"unknown registration for hall {request.hall_id!r}: start a visit first")
    sequence = (
        connection.execute(
            "SELECT COUNT(*) FROM experiences WHERE registration = ? AND diorama = ?",
            (request.registration, request.diorama_id),
        ).fetchone()[0]
        + 1
    )
    connection.execute(
        "INSERT INTO experiences (member, hall, diorama, registration, sequence, seconds, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            request.member_id,
            request.hall_id,
            request.diorama_id,
            request.registration,
            sequence,
            request.seconds,
            request.now,
        ),
    )
    statement = experienced_statement(
        request.vocabulary,
        Learner(request.member_id, _name(connection, request.member_id)),
        hall_id=request.hall_id,
        diorama_id=request.diorama_id,
        registration=request.registration,
        sequence=sequence,
        platform=visit["platform"],
        timestamp=request.now,
        seconds=request.seconds,
        hall_title=request.hall_title,
        diorama_title=request.diorama_title,
    )
    queue_statements(connection, [(statement.id, statement.to_json())], request.now)
    return statement.id


# --- schema upgrades ------------------------------------------------------------------


def upgrade_schema(database: Database) -> bool:
    """Add to a database made by older code the columns `CREATE TABLE IF NOT EXISTS` cannot; True if it did.

    Run before `database.open()`, whose `LEARNERS_SCHEMA` indexes the new
    column.  Under `BEGIN IMMEDIATE`, so of two workers starting at once one
    adds the column and the other then finds it.
    """
    if not database.path.exists():
        return False
    connection = database.connect()
    try:
        connection.execute("BEGIN IMMEDIATE")
        columns = {row[1] for row in connection.execute("PRAGMA table_info(attempts)")}
        added = bool(columns) and "idempotency_key" not in columns
        if added:
            connection.execute("ALTER TABLE attempts ADD COLUMN idempotency_key TEXT")
        connection.execute("COMMIT")
    finally:
        connection.close()  # an uncommitted upgrade is rolled back
    return added


# --- reads -------------------------------------------------------------------------


def stored_attempt(connection: sqlite3.Connection, request: AttemptRequest) -> StoredAttempt | Refusal | None:
    """The member's attempt stored under the request's idempotency key, as first answered; None if there is none.

    A key used for another checkpoint or other answers is a 409 `Refusal`.
    `attempts_left`, `retry_after` and `hall_complete` are what the first
    answer said: they follow from the stored attempt alone.
    """
    checkpoint = request.checkpoint
    row = connection.execute(
        "SELECT id, hall, checkpoint, number, raw, max, scaled, passed, responses FROM attempts "
        "WHERE member = ? AND idempotency_key = ?",
        (request.member_id, request.idempotency_key),
    ).fetchone()
    if row is None:
        return None
    attempt_id, hall, checkpoint_id, number, raw, top, scaled, passed, responses = row
    if (hall, checkpoint_id) != (checkpoint.hall, checkpoint.id):
        return Refusal(
            409,
            f"Idempotency-Key was already used for checkpoint {checkpoint_id!r} of hall {hall!r}: "
            "send a new key with each new submission",
        )
    stored = json.loads(responses)
    sent = {r.question.id: _plain(r.response) for r in request.grade.results}
    if {question_id: entry["response"] for question_id, entry in stored.items()} != sent:
        return Refusal(
            409,
            "Idempotency-Key was already used for a submission with other answers: "
            "send a new key with each new submission",
        )
    left = _left_after(checkpoint, number, bool(passed))
    complete = connection.execute(_COMPLETE_AT_SQL, (request.member_id, hall, attempt_id)).fetchone()[0]
    return StoredAttempt(
        number,
        raw,
        top,
        scaled,
        bool(passed),
        tuple((question_id, bool(entry["correct"])) for question_id, entry in stored.items()),
        left,
        _cooldown(checkpoint) if left else 0,
        bool(complete),
    )


_COMPLETE_AT_SQL = """
SELECT EXISTS (
    SELECT 1 FROM completions AS c, attempts AS this
    WHERE c.member = ?1 AND c.hall = ?2 AND this.id = ?3
      AND COALESCE((SELECT MIN(a.id) FROM attempts AS a
                    WHERE a.member = c.member AND a.hall = c.hall AND a.registration = c.registration
                      AND a.submitted = c.completed AND a.passed = 1) <= this.id,
                   c.completed <= this.submitted))
"""
"""Was hall ?2 complete for member ?1 once attempt ?3 was stored?  The completing attempt is the one stored in the
same transaction as the completion (same registration and time); ids follow the order of commits."""


def checkpoint_state(
    connection: sqlite3.Connection, member_id: str, hall_id: str, checkpoint_id: str
) -> CheckpointState:
    row = connection.execute(
        "SELECT attempts, last_submitted, passed, best FROM checkpoint_status "
        "WHERE member = ? AND hall = ? AND checkpoint = ?",
        (member_id, hall_id, checkpoint_id),
    ).fetchone()
    return (
        CheckpointState(0, None, False, None) if row is None else CheckpointState(row[0], row[1], bool(row[2]), row[3])
    )


def policy_refusal(checkpoint: Checkpoint, state: CheckpointState, now: float) -> Refusal | None:
    """Why another attempt is not allowed now (passed, out of attempts, cooling down), or None."""
    if state.passed:
        return Refusal(403, "checkpoint already passed")
    if state.used >= checkpoint.attempts:
        return Refusal(403, "no attempts left")
    wait = retry_after(checkpoint, state, now)
    if wait:
        return Refusal(429, f"cooling down: try again in {wait} s", wait)
    return None


def attempts_left(checkpoint: Checkpoint, state: CheckpointState) -> int:
    return 0 if state.passed else max(0, checkpoint.attempts - state.used)


def retry_after(checkpoint: Checkpoint, state: CheckpointState, now: float) -> int:
    """Whole seconds until the cool-down after the last attempt ends (0 when free to try)."""
    if state.last_submitted is None or not attempts_left(checkpoint, state):
        return 0
    remaining = state.last_submitted + checkpoint.cooldown - now
    return math.ceil(remaining) if remaining > 0 else 0


def member_progress(connection: sqlite3.Connection, member_id: str) -> tuple[dict, set[str]]:
    """`{(hall, checkpoint): (attempts, passed, best)}` and the halls the member completed."""
    rows = connection.execute(
        "SELECT hall, checkpoint, attempts, passed, best FROM checkpoint_status WHERE member = ?", (member_id,)
    ).fetchall()
    completed = {row[0] for row in connection.execute("SELECT hall FROM completions WHERE member = ?", (member_id,))}
    return {(r[0], r[1]): (r[2], bool(r[3]), r[4]) for r in rows}, completed


def member_name(connection: sqlite3.Connection, member_id: str) -> str | None:
    return _name(connection, member_id)


def is_complete(connection: sqlite3.Connection, member_id: str, hall_id: str) -> bool:
    return _completed(connection, member_id, hall_id)


def visit_of(connection: sqlite3.Connection, registration: str, member_id: str, hall_id: str) -> sqlite3.Row | None:
    return _visit(connection, registration, member_id, hall_id)


# --- private helpers -----------------------------------------------------------------


def _visit(connection: sqlite3.Connection, registration: str, member_id: str, hall_id: str):
    return connection.execute(
        "SELECT platform, started FROM visits WHERE registration = ? AND member = ? AND hall = ?",
        (registration, member_id, hall_id),
    ).fetchone()


def _completed(connection: sqlite3.Connection, member_id: str, hall_id: str) -> bool:
    return (
        connection.execute("SELECT 1 FROM completions WHERE member = ? AND hall = ?", (member_id, hall_id)).fetchone()
        is not None
    )


def _name(connection: sqlite3.Connection, member_id: str) -> str | None:
    row = connection.execute("SELECT name FROM members WHERE id = ?", (member_id,)).fetchone()
    return row[0] if row else None


def _left_after(checkpoint: Checkpoint, number: int, passed: bool) -> int:
    """Attempts left after attempt `number`."""
    return 0 if passed else max(0, checkpoint.attempts - number)


def _cooldown(checkpoint: Checkpoint) -> int:
    return math.ceil(checkpoint.cooldown)


def _plain(response):
    return list(response) if isinstance(response, tuple) else response
