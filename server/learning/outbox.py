"""The durable outbox: xAPI statements queued in SQLite until the LRS has them.

Statements are queued (`queue_statements`) in the same transaction as the
learning record they describe, so both are committed or neither is.  A
statement is marked delivered only after the LRS answered (`mark_delivered`),
so a crash or `kill -9` at any moment resends at most the batch in flight,
under the same ids: the LRS keeps one copy.  What the LRS refuses goes to a
dead letter, which an administrator can list and queue again.  The sending
is `server.learning.forwarder`'s.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

RESPONSE_KEEP = 4096
"""Characters of an LRS error answer kept with a dead letter."""

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS statements (
    seq INTEGER PRIMARY KEY,                -- rows are never deleted, so seq only grows
    id TEXT NOT NULL,                       -- unique by construction: one attempt, visit or completion per id
    body TEXT NOT NULL,
    created REAL NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,      -- 0 queued, 1 delivered, 2 dead letter
    delivered REAL,
    tries INTEGER NOT NULL DEFAULT 0,
    dead_letter INTEGER
);
CREATE INDEX IF NOT EXISTS statements_queued ON statements(seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS statements_dead ON statements(dead_letter) WHERE dead_letter IS NOT NULL;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    status INTEGER,
    response TEXT NOT NULL,
    statements INTEGER NOT NULL,
    resent REAL
);
CREATE TABLE IF NOT EXISTS outbox_lease (     -- which worker forwards (server.learning.forwarder)
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
"""

QUEUED, DELIVERED, DEAD = 0, 1, 2
_KEY_REVEALING = frozenset({"correctResponsesPattern", "result", "response", "success"})
_SUCCESS_MEMBER = re.compile(r"""["']success["']\s*:\s*(?:true|false|True|False)""")
_PATTERN_MEMBER = re.compile(  # JSON or a Python repr of it, as LRS error messages echo statements
    r"""["']correctResponsesPattern["']\s*:\s*\[(?:\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*,?)*\s*\]"""
)


def queue_statements(connection: sqlite3.Connection, statements: Sequence[tuple[str, str]], now: float) -> None:
    """Queue `(id, json)` pairs for the LRS (inside the caller's transaction)."""
    connection.executemany(
        "INSERT INTO statements (id, body, created) VALUES (?, ?, ?)",
        [(statement_id, body, now) for statement_id, body in statements],
    )


def queued_batch(connection: sqlite3.Connection, limit: int) -> list[sqlite3.Row]:
    return connection.execute(
        "SELECT seq, id, body FROM statements WHERE state = 0 ORDER BY seq LIMIT ?", (limit,)
    ).fetchall()


def mark_delivered(connection: sqlite3.Connection, seqs: Sequence[int], now: float) -> None:
    connection.executemany(
        "UPDATE statements SET state = 1, delivered = ?, tries = tries + 1 WHERE seq = ? AND state = 0",
        [(now, seq) for seq in seqs],
    )


def add_dead_letter(
    connection: sqlite3.Connection, seqs: Sequence[int], status: int | None, response: str, now: float
) -> int:
    cursor = connection.execute(
        "INSERT INTO dead_letters (created, status, response, statements) VALUES (?, ?, ?, ?)",
        (now, status, response[:RESPONSE_KEEP], len(seqs)),
    )
    letter = cursor.lastrowid
    assert letter is not None  # an INSERT always sets it
    connection.executemany(
        "UPDATE statements SET state = 2, dead_letter = ?, tries = tries + 1 WHERE seq = ? AND state = 0",
        [(letter, seq) for seq in seqs],
    )
    return letter


def resend_dead_letter(connection: sqlite3.Connection, letter: int, now: float) -> int | None:
    """Queue a dead letter's statements again; how many, or None when there is no such open letter."""
    row = connection.execute("SELECT resent FROM dead_letters WHERE id = ?", (letter,)).fetchone()
    if row is None or row["resent"] is not None:
        return None
    count = connection.execute(
        "UPDATE statements SET state = 0, dead_letter = NULL WHERE dead_letter = ? AND state = 2", (letter,)
    ).rowcount
    connection.execute("UPDATE dead_letters SET resent = ? WHERE id = ?", (now, letter))
    return count


def dead_letters(connection: sqlite3.Connection, *, include_resent: bool = False, limit: int = 200) -> list[dict]:
    """Dead letters, newest first: the LRS's answer and which statements (id, verb, object); no bodies."""
    where = "" if include_resent else "WHERE resent IS NULL"
    letters = connection.execute(f"SELECT * FROM dead_letters {where} ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    listed = []
    for letter in letters:
        rows = connection.execute(
            "SELECT id, body FROM statements WHERE dead_letter = ? ORDER BY seq LIMIT 100", (letter["id"],)
        ).fetchall()
        listed.append(
            {
                "id": letter["id"],
                "created": _iso(letter["created"]),
                "status": letter["status"],
                "response": redact_keys(letter["response"]),
                "count": letter["statements"],
                "resent": _iso(letter["resent"]) if letter["resent"] else None,
                "statements": [_summary(row["id"], row["body"]) for row in rows],
            }
        )
    return listed


def redact_keys(text: str) -> str:
    """An LRS answer without the parts of echoed statements that give keys away.

    `correctResponsesPattern` is a key; `result` (a response with its
    `success`) reveals one.  JSON answers lose those members wherever they
    are; other text loses what the patterns recognise.
    """
    try:
        document = json.loads(text)
    except ValueError:
        return _SUCCESS_MEMBER.sub('"redacted": true', _PATTERN_MEMBER.sub('"redacted": true', text))
    return json.dumps(_without_keys(document), ensure_ascii=False)


def _without_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_keys(v) for k, v in value.items() if k not in _KEY_REVEALING}
    if isinstance(value, list):
        return [_without_keys(item) for item in value]
    return value


def queue_stats(connection: sqlite3.Connection) -> dict:
    """Queue depth, age of the oldest unsent statement and dead letters (for `/api/health`)."""
    queued, oldest = connection.execute("SELECT COUNT(*), MIN(created) FROM statements WHERE state = 0").fetchone()
    dead = connection.execute("SELECT COUNT(*) FROM statements WHERE state = 2").fetchone()[0]
    letters = connection.execute("SELECT COUNT(*) FROM dead_letters WHERE resent IS NULL").fetchone()[0]
    return {
        "queued": queued,
        "oldest_unsent_age_s": round(max(0.0, time.time() - oldest), 3) if oldest is not None else None,
        "dead_letters": letters,
        "dead_letter_statements": dead,
    }


def _summary(statement_id: str, body: str) -> dict:
    try:
        document = json.loads(body)
        verb = document["verb"]["id"].rsplit("/", 1)[-1]
        target = document["object"]["id"]
    except (ValueError, KeyError, TypeError, AttributeError):
        verb = target = None
    return {"id": statement_id, "verb": verb, "object": target}


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
