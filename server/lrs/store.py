"""SQLite storage of the embedded LRS: statements, attachments, activities, documents, credentials.

    store = LrsStore(path, synchronous="FULL"); store.open()
    store.insert_batches([[prepared, ...], ...])   -> per batch: ids or an exception (one commit)
    store.statement(id, voided=False), store.query(plan)
    store.document(...), store.put_document(...), store.delete_documents(...)
    store.add_credential(...), store.credential(key), store.remove_credential(key)

Plain blocking methods: callers run them off the event loop (`server.lrs.service`
keeps one writer thread and one reader thread, each with its own
connection; WAL lets them work at once).  A statement whose id is already
stored is compared and either skipped (same statement) or refused with
`StatementConflict`; voiding follows xAPI 1.0.3 Part 2 2.3.2.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.database import use_wal
from server.lrs.format import activity_definitions, index_terms, merge_definition, same_statement
from server.lrs.validate import JsonError, StatementError, parse_json, valid_timestamp

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS statements (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    stored_us INTEGER NOT NULL,
    body TEXT NOT NULL,
    verb TEXT NOT NULL,
    registration TEXT,
    ref_target TEXT,
    voiding_target TEXT,
    voided INTEGER NOT NULL DEFAULT 0,
    credential TEXT
);
CREATE INDEX IF NOT EXISTS statements_verb ON statements (verb, seq);
CREATE INDEX IF NOT EXISTS statements_registration ON statements (registration, seq);
CREATE INDEX IF NOT EXISTS statements_ref ON statements (ref_target);
CREATE INDEX IF NOT EXISTS statements_voiding ON statements (voiding_target);
CREATE INDEX IF NOT EXISTS statements_stored ON statements (stored_us);
CREATE TABLE IF NOT EXISTS statement_agents (
    seq INTEGER NOT NULL, agent TEXT NOT NULL, related INTEGER NOT NULL, PRIMARY KEY (agent, seq, related)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statement_activities (
    seq INTEGER NOT NULL, activity TEXT NOT NULL, related INTEGER NOT NULL, PRIMARY KEY (activity, seq, related)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attachments (
    sha2 TEXT PRIMARY KEY, content_type TEXT NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS activities (
    id TEXT PRIMARY KEY, definition TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL, scope TEXT NOT NULL, doc_id TEXT NOT NULL,
    content_type TEXT NOT NULL, body BLOB NOT NULL, etag TEXT NOT NULL, updated_us INTEGER NOT NULL,
    PRIMARY KEY (kind, scope, doc_id)
);
CREATE TABLE IF NOT EXISTS credentials (
    key TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, name TEXT NOT NULL, scopes TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY, value TEXT NOT NULL
);
"""

HASH_ITERATIONS = 200_000


class StatementConflict(Exception):
    """A statement id already stored with different content (409)."""


class PreconditionFailed(Exception):
    """An If-Match / If-None-Match precondition did not hold (412)."""


class DocumentConflict(Exception):
    """A profile PUT without concurrency headers on an existing document (409)."""


class PreconditionRequired(Exception):
    """A profile PUT with neither If-Match nor If-None-Match for a document that does not exist yet (400)."""


class DocumentNotJson(Exception):
    """A POST merge where either document is not a JSON object (400)."""


@dataclass
class Document:
    content_type: str
    body: bytes
    etag: str
    updated_us: int


@dataclass
class Credential:
    key: str
    secret_hash: str
    name: str
    scopes: tuple[str, ...]
    created: str


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """`pbkdf2_sha256$iterations$salt$digest` for a secret."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, HASH_ITERATIONS)
    return f"pbkdf2_sha256${HASH_ITERATIONS}${salt.hex()}${digest.hex()}"


def check_secret(secret: str, stored: str) -> bool:
    try:
        _, iterations, salt, digest = stored.split("$")
        computed = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return secrets.compare_digest(computed.hex(), digest)


class LrsStore:
    """One SQLite connection to the LRS database (use one instance per thread)."""

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"lrs_synchronous: must be FULL, NORMAL or EXTRA, got {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous
        self._db: sqlite3.Connection | None = None
        self._last_stored_us = 0
        self._lock = threading.Lock()

    def open(self) -> LrsStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        use_wal(db)
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA busy_timeout=10000")
        db.executescript(SCHEMA)
        return self

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, between `open()` and `close()`."""
        if self._db is None:
            raise RuntimeError("LRS store is not open")
        return self._db

    # --- statements ------------------------------------------------------------

    def now_us(self) -> int:
        """Stored time in microseconds (whole milliseconds), never earlier than the last one handed out."""
        with self._lock:
            now = int(time.time() * 1000) * 1000
            self._last_stored_us = max(now, self._last_stored_us)
            return self._last_stored_us

    def insert_batches(self, batches: list[list[tuple[dict, dict, str | None]]]) -> list[Any]:
        """Store several requests' statements in one transaction; each item is its ids or its exception.

        A batch is a list of (prepared statement, statement as received, credential key).
        """
        results: list[Any] = []
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for number, batch in enumerate(batches):
                db.execute(f"SAVEPOINT batch{number}")
                try:
                    results.append(self._insert(batch))
                    db.execute(f"RELEASE batch{number}")
                except (StatementConflict, StatementError) as error:
                    db.execute(f"ROLLBACK TO batch{number}")
                    db.execute(f"RELEASE batch{number}")
                    results.append(error)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return results

    def _insert(self, batch: list[tuple[dict, dict, str | None]]) -> list[str]:
        db = self.db
        ids = []
        voiding_in_batch = {}
        for prepared, _, _ in batch:
            terms = index_terms(prepared)
            voiding_in_batch[prepared["id"]] = terms.voiding_target is not None
        for index, (prepared, received, credential) in enumerate(batch):
            statement_id = prepared["id"]
            ids.append(statement_id)
            row = db.execute("SELECT body FROM statements WHERE id = ?", (statement_id,)).fetchone()
            if row is not None:
                if same_statement(json.loads(row[0]), received):
                    continue
                raise StatementConflict(f"statement {statement_id} is already stored with different content")
            terms = index_terms(prepared)
            if terms.voiding_target:
                target = db.execute(
                    "SELECT voiding_target FROM statements WHERE id = ?", (terms.voiding_target,)
                ).fetchone()
                if (target is not None and target[0]) or voiding_in_batch.get(terms.voiding_target):
                    raise StatementError(
                        f"statements[{index}].object: statement {terms.voiding_target} is a "
                        "voiding statement and cannot be voided"
                    )
            voided = 0
            if not terms.voiding_target:
                voided = int(
                    db.execute("SELECT 1 FROM statements WHERE voiding_target = ? LIMIT 1", (statement_id,)).fetchone()
                    is not None
                )
            body = json.dumps(prepared, ensure_ascii=False, separators=(",", ":"))
            stored_us = _stored_us(prepared["stored"])
            cursor = db.execute(
                "INSERT INTO statements (id, stored_us, body, verb, registration, ref_target, voiding_target, "
                "voided, credential) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    statement_id,
                    stored_us,
                    body,
                    terms.verb,
                    terms.registration,
                    terms.ref_target,
                    terms.voiding_target,
                    voided,
                    credential,
                ),
            )
            seq = cursor.lastrowid
            db.executemany(
                "INSERT OR IGNORE INTO statement_agents (seq, agent, related) VALUES (?, ?, ?)",
                [(seq, agent, related) for agent, related in terms.agents],
            )
            db.executemany(
                "INSERT OR IGNORE INTO statement_activities (seq, activity, related) VALUES (?, ?, ?)",
                [(seq, activity, related) for activity, related in terms.activities],
            )
            if terms.voiding_target:
                db.execute(
                    "UPDATE statements SET voided = 1 WHERE id = ? AND voiding_target IS NULL", (terms.voiding_target,)
                )
            for activity_id, definition in activity_definitions(prepared):
                old = db.execute("SELECT definition FROM activities WHERE id = ?", (activity_id,)).fetchone()
                merged = merge_definition(json.loads(old[0]) if old else None, definition)
                db.execute(
                    "INSERT OR REPLACE INTO activities (id, definition) VALUES (?, ?)",
                    (activity_id, json.dumps(merged, ensure_ascii=False)),
                )
        return ids

    def put_attachments(self, parts: Iterable[tuple[str, str, bytes]]) -> None:
        """Store attachment payloads (sha2, content type, data); identical payloads are kept once."""
        with self._transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO attachments (sha2, content_type, data) VALUES (?, ?, ?)", list(parts)
            )

    def attachments(self, hashes: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        found = {}
        for sha2 in set(hashes):
            row = self.db.execute("SELECT content_type, data FROM attachments WHERE sha2 = ?", (sha2,)).fetchone()
            if row:
                found[sha2] = (row[0], bytes(row[1]))
        return found

    def statement(self, statement_id: str, voided: bool) -> str | None:
        """The stored JSON text of a statement: only a voided one when `voided`, else only a live one."""
        row = self.db.execute(
            "SELECT body FROM statements WHERE id = ? AND voided = ?", (statement_id.lower(), int(voided))
        ).fetchone()
        return row[0] if row else None

    def select(self, sql: str, args: list) -> list[tuple]:
        return self.db.execute(sql, args).fetchall()

    def activity(self, activity_id: str) -> dict | None:
        row = self.db.execute("SELECT definition FROM activities WHERE id = ?", (activity_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def definitions(self, activity_ids: Iterable[str]) -> dict[str, dict]:
        found = {}
        for activity_id in set(activity_ids):
            definition = self.activity(activity_id)
            if definition is not None:
                found[activity_id] = definition
        return found

    # --- documents -----------------------------------------------------------

    def document(self, kind: str, scope: str, doc_id: str) -> Document | None:
        row = self.db.execute(
            "SELECT content_type, body, etag, updated_us FROM documents WHERE kind = ? AND scope = ? AND doc_id = ?",
            (kind, scope, doc_id),
        ).fetchone()
        return Document(row[0], bytes(row[1]), row[2], row[3]) if row else None

    def document_ids(self, kind: str, scope_prefix: str, since_us: int | None) -> tuple[list[str], int | None]:
        """Ids of the documents in a scope (prefix match), changed after `since_us`; and the latest change."""
        rows = self.db.execute(
            "SELECT doc_id, updated_us FROM documents WHERE kind = ? AND scope >= ? AND scope < ? "
            "AND updated_us > ? ORDER BY doc_id",
            (kind, scope_prefix, scope_prefix + "\uffff", since_us if since_us is not None else -1),
        ).fetchall()
        return [row[0] for row in rows], max((row[1] for row in rows), default=None)

    def put_document(
        self,
        kind: str,
        scope: str,
        doc_id: str,
        content_type: str,
        body: bytes,
        *,
        merge: bool,
        if_match: list[str] | None,
        if_none_match: list[str] | None,
        require_precondition: bool,
    ) -> None:
        """Create, replace (PUT) or merge (POST) a document after checking its ETag preconditions."""
        with self._transaction():
            current = self.document(kind, scope, doc_id)
            _check_preconditions(current, if_match, if_none_match)
            if require_precondition and if_match is None and if_none_match is None:
                if current is not None:
                    raise DocumentConflict(
                        "the document already exists: fetch it, then send If-Match with its "
                        "ETag (or If-None-Match: * to create only)"
                    )
                raise PreconditionRequired(
                    "a PUT of a profile document needs If-Match (with the ETag of the "
                    "document it replaces) or If-None-Match: * (to create it)"
                )
            if merge and current is not None:
                body, content_type = _merged(current, content_type, body), current.content_type
            elif merge:
                _json_object(body, content_type, "posted")
            etag = hashlib.sha1(body).hexdigest()
            self.db.execute(
                "INSERT OR REPLACE INTO documents (kind, scope, doc_id, content_type, body, etag, updated_us) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, scope, doc_id, content_type, body, etag, self.now_us()),
            )

    def delete_documents(
        self, kind: str, scope: str, doc_id: str | None, *, if_match: list[str] | None = None, prefix: bool = False
    ) -> None:
        """Delete one document (after its If-Match check) or every document of a scope."""
        with self._transaction():
            if doc_id is None:
                if prefix:
                    self.db.execute(
                        "DELETE FROM documents WHERE kind = ? AND scope >= ? AND scope < ?",
                        (kind, scope, scope + "\uffff"),
                    )
                else:
                    self.db.execute("DELETE FROM documents WHERE kind = ? AND scope = ?", (kind, scope))
                return
            current = self.document(kind, scope, doc_id)
            _check_preconditions(current, if_match, None)
            self.db.execute("DELETE FROM documents WHERE kind = ? AND scope = ? AND doc_id = ?", (kind, scope, doc_id))

    # --- credentials and settings ----------------------------------------------------

    def add_credential(self, key: str, secret: str, name: str, scopes: Iterable[str]) -> Credential:
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        credential = Credential(key, hash_secret(secret), name, tuple(scopes), created)
        with self._transaction():
            self.db.execute(
                "INSERT INTO credentials (key, secret_hash, name, scopes, created) VALUES (?, ?, ?, ?, ?)",
                (key, credential.secret_hash, name, " ".join(credential.scopes), created),
            )
        return credential

    def credential(self, key: str) -> Credential | None:
        row = self.db.execute(
            "SELECT key, secret_hash, name, scopes, created FROM credentials WHERE key = ?", (key,)
        ).fetchone()
        return Credential(row[0], row[1], row[2], tuple(row[3].split()), row[4]) if row else None

    def credentials(self) -> list[Credential]:
        rows = self.db.execute("SELECT key, secret_hash, name, scopes, created FROM credentials ORDER BY key")
        return [Credential(r[0], r[1], r[2], tuple(r[3].split()), r[4]) for r in rows]

    def remove_credential(self, key: str) -> bool:
        with self._transaction():
            return self.db.execute("DELETE FROM credentials WHERE key = ?", (key,)).rowcount > 0

    def setting(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    def _transaction(self):
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, error, trace):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


def _stored_us(text: str) -> int:
    return int(valid_timestamp(text).timestamp() * 1000) * 1000


def _check_preconditions(current: Document | None, if_match: list[str] | None, if_none_match: list[str] | None) -> None:
    if if_match is not None:
        if current is None or ("*" not in if_match and current.etag not in if_match):
            raise PreconditionFailed("If-Match does not match the document's current ETag")
    if if_none_match is not None and current is not None:
        if "*" in if_none_match or current.etag in if_none_match:
            raise PreconditionFailed("If-None-Match: the document already exists")


def _is_json_type(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/json"


def _json_object(body: bytes, content_type: str, which: str) -> dict:
    if not _is_json_type(content_type):
        raise DocumentNotJson(
            f"cannot merge: the {which} document is {content_type or 'untyped'}, not application/json"
        )
    try:
        value = parse_json(body)
    except JsonError as error:
        raise DocumentNotJson(f"cannot merge: the {which} document is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise DocumentNotJson(f"cannot merge: the {which} document is not a JSON object")
    return value


def _merged(current: Document, content_type: str, body: bytes) -> bytes:
    old = _json_object(current.body, current.content_type, "stored")
    new = _json_object(body, content_type, "posted")
    return json.dumps({**old, **new}, ensure_ascii=False, separators=(",", ":")).encode()
