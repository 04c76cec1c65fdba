"""The durable outbox: learning records in SQLite (WAL) and a forwarder to the LRS.

`Database` owns `<var>/halls.sqlite`.  Writes go to one writer thread that
commits whatever is waiting as one transaction (group commit, one fsync),
each job inside its own savepoint: a job's rows (an attempt and its
statements) are all committed or none are, and its caller is answered only
after the commit.  Small reads use a connection on the event loop's thread.

The forwarder sends queued statements in batches (`POST statements` with a
list) to the LRS with `X-Experience-API-Version: 1.0.3` and Basic auth:

    200, 204                 delivered
    409                      delivered (the LRS already holds a different statement with that id: an alarm)
    400, 413, 422            the batch is split until the bad statement is alone; it goes to a dead letter
    401, 403                 the batch goes to one dead letter (credentials); re-sendable by an administrator
    429, 5xx, timeouts,      retried with exponential backoff and jitter, at least `Retry-After`
    refused, other           (nothing is marked until the LRS says so)

A statement is marked delivered only after the LRS answered, so a crash or
`kill -9` at any moment resends at most the batch in flight, under the same
ids: the LRS keeps one copy.  With several workers one holds a lease and
forwards; the others wait.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import functools
import inspect
import json
import logging
import os
import random
import re
import secrets
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Sequence

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

XAPI_VERSION = "1.0.3"
MAX_GROUP = 256
"""Most jobs committed in one transaction."""
CHECKPOINT_SECONDS = 1.0
"""How often the WAL is copied into the database file (by its own thread, not at commit)."""
LEASE_SECONDS = 15.0
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
CREATE TABLE IF NOT EXISTS outbox_lease (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
"""

QUEUED, DELIVERED, DEAD = 0, 1, 2
_KEY_REVEALING = frozenset({"correctResponsesPattern", "result", "response", "success"})
_SUCCESS_MEMBER = re.compile(r"""["']success["']\s*:\s*(?:true|false|True|False)""")
_PATTERN_MEMBER = re.compile(  # JSON or a Python repr of it, as LRS error messages echo statements
    r"""["']correctResponsesPattern["']\s*:\s*\[(?:\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*,?)*\s*\]""")


# --- the database ------------------------------------------------------------


class Database:
    """SQLite in WAL mode: jobs' SQL on the event loop, grouped; each group's COMMIT (the fsync) in a thread.

    A group is every job that arrived while the previous group committed
    (group commit: one fsync for all).  Running the SQL on the loop avoids
    handing the GIL back and forth with a writer thread on every statement;
    only the COMMIT, which waits for the disk, leaves the loop.
    """

    def __init__(self, path: Path, schemas: Iterable[str] = (), *, synchronous: str = "FULL") -> None:
        self.path = path
        self.schemas = [OUTBOX_SCHEMA, *schemas]
        self.synchronous = synchronous
        self.after_commit: list[Callable[[], None]] = []
        """Called on the loop after a commit that queued statements (the forwarder's wake-up)."""
        self._pending: list[tuple] = []
        self._busy = False
        self._arrived: asyncio.Event | None = None
        self._committer: ThreadPoolExecutor | None = None
        self._task: asyncio.Task | None = None
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self.commits = 0
        self.jobs = 0

    def open(self) -> None:
        """Create the file and tables; start the group committer.  Call on the event loop."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        setup = self.connect()
        try:
            with contextlib.closing(setup.cursor()) as cursor:
                cursor.execute("BEGIN IMMEDIATE")
                for schema in self.schemas:
                    for statement in _split_sql(schema):
                        cursor.execute(statement)
                cursor.execute("COMMIT")
        finally:
            setup.close()
        self._reader = self.connect()
        self._writer = self.connect()
        self._writer.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        self._writer.execute("PRAGMA busy_timeout=0")  # a locked database is waited for in a thread, not here
        self._committer = ThreadPoolExecutor(1, thread_name_prefix=f"sqlite-commit:{self.path.name}")
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._commit_groups(), name=f"sqlite:{self.path.name}")
        self._checkpoints = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpointer_main, name=f"sqlite-checkpoint:{self.path.name}",
                                              daemon=True)
        self._checkpointer.start()

    def connect(self) -> sqlite3.Connection:
        """A new connection with this database's settings (autocommit; explicit transactions).

        Each connection is used by one thread at a time: the loop's, the
        committer's (only while the loop waits for it), or a worker's.
        """
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={self.synchronous}")
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA cache_size=-16000")
        return connection

    @property
    def reader(self) -> sqlite3.Connection:
        """The loop thread's connection, for small indexed reads."""
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    async def write(self, job: Callable[..., Any], *args: Any, queues: bool = False) -> Any:
        """Run `job(connection, *args)` in a transaction; return its result once committed.

        An exception in the job rolls back only its own writes and is raised
        here.  `queues`: the job queued statements (wake the forwarder).
        """
        if self._task is None or self._task.done():
            raise RuntimeError("database is not open")
        future = asyncio.get_running_loop().create_future()
        self._pending.append((job, args, future, queues))
        self._arrived.set()
        return await future

    async def read_in_thread(self, job: Callable[..., Any], *args: Any) -> Any:
        """Run a longer read `job(connection, *args)` on a fresh connection in a worker thread."""

        def run():
            connection = self.connect()
            try:
                return job(connection, *args)
            finally:
                connection.close()

        return await asyncio.get_running_loop().run_in_executor(None, run)

    async def close(self) -> None:
        """Finish queued writes, stop the committer and the checkpointer, close connections."""
        if self._task is not None:
            while self._pending or self._busy:
                await asyncio.sleep(0.005)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._committer.shutdown(wait=True)
            self._checkpoints.set()
            await asyncio.get_running_loop().run_in_executor(None, self._checkpointer.join)
            self._writer.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # group commit

    async def _commit_groups(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._pending:
                group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                self._busy = True
                try:
                    outcomes = await self._run_group(loop, group)
                except Exception as error:  # never leave callers waiting
                    log.exception("sqlite group of %d job(s) failed", len(group))
                    outcomes = [(future, None, error) for _, _, future, _ in group]
                finally:
                    self._busy = False
                self._deliver(outcomes, any(queues for *_, queues in group))

    async def _run_group(self, loop: asyncio.AbstractEventLoop, group: list) -> list:
        connection = self._writer
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # another process writes: wait for the lock off the loop
            await loop.run_in_executor(self._committer, _begin_waiting, connection)
        outcomes = []
        try:
            for job, args, future, queues in group:
                connection.execute("SAVEPOINT job")
                try:
                    result = job(connection, *args)
                except Exception as error:  # the job's own failure: undo its writes only
                    connection.execute("ROLLBACK TO job")
                    connection.execute("RELEASE job")
                    outcomes.append((future, None, error))
                else:
                    connection.execute("RELEASE job")
                    outcomes.append((future, result, None))
            await loop.run_in_executor(self._committer, connection.execute, "COMMIT")
        except sqlite3.Error as error:
            log.error("sqlite commit of %d job(s) failed: %s", len(group), error)
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            return [(future, None, error) for _, _, future, _ in group]
        self.commits += 1
        self.jobs += len(group)
        return outcomes

    def _deliver(self, outcomes: list, woke: bool) -> None:
        for future, result, error in outcomes:
            if future.cancelled():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        if woke:
            for callback in self.after_commit:
                callback()

    def _checkpointer_main(self) -> None:
        """Copy the WAL into the database every `CHECKPOINT_SECONDS`, off the commit path."""
        connection = self.connect()
        try:
            while not self._checkpoints.wait(CHECKPOINT_SECONDS):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as error:
                    log.warning("sqlite checkpoint of %s failed: %s", self.path.name, error)
            with contextlib.suppress(sqlite3.Error):
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            connection.close()


def _begin_waiting(connection: sqlite3.Connection, timeout: float = 30.0) -> None:
    """`BEGIN IMMEDIATE`, retrying while another process holds the write lock."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.02)


# --- outbox rows ---------------------------------------------------------------


def queue_statements(connection: sqlite3.Connection, statements: Sequence[tuple[str, str]], now: float) -> None:
    """Queue `(id, json)` pairs for the LRS (inside the caller's transaction)."""
    connection.executemany("INSERT INTO statements (id, body, created) VALUES (?, ?, ?)",
                           [(statement_id, body, now) for statement_id, body in statements])


def queued_batch(connection: sqlite3.Connection, limit: int) -> list[sqlite3.Row]:
    return connection.execute("SELECT seq, id, body FROM statements WHERE state = 0 ORDER BY seq LIMIT ?",
                              (limit,)).fetchall()


def mark_delivered(connection: sqlite3.Connection, seqs: Sequence[int], now: float) -> None:
    connection.executemany("UPDATE statements SET state = 1, delivered = ?, tries = tries + 1 "
                           "WHERE seq = ? AND state = 0", [(now, seq) for seq in seqs])


def add_dead_letter(connection: sqlite3.Connection, seqs: Sequence[int], status: int | None, response: str,
                    now: float) -> int:
    cursor = connection.execute("INSERT INTO dead_letters (created, status, response, statements) VALUES (?, ?, ?, ?)",
                                (now, status, response[:RESPONSE_KEEP], len(seqs)))
    letter = cursor.lastrowid
    connection.executemany("UPDATE statements SET state = 2, dead_letter = ?, tries = tries + 1 "
                           "WHERE seq = ? AND state = 0", [(letter, seq) for seq in seqs])
    return letter


def resend_dead_letter(connection: sqlite3.Connection, letter: int, now: float) -> int | None:
    """Queue a dead letter's statements again; how many, or None when there is no such open letter."""
    row = connection.execute("SELECT resent FROM dead_letters WHERE id = ?", (letter,)).fetchone()
    if row is None or row["resent"] is not None:
        return None
    count = connection.execute("UPDATE statements SET state = 0, dead_letter = NULL WHERE dead_letter = ? "
                               "AND state = 2", (letter,)).rowcount
    connection.execute("UPDATE dead_letters SET resent = ? WHERE id = ?", (now, letter))
    return count


def dead_letters(connection: sqlite3.Connection, *, include_resent: bool = False, limit: int = 200) -> list[dict]:
    """Dead letters, newest first: the LRS's answer and which statements (id, verb, object); no bodies."""
    where = "" if include_resent else "WHERE resent IS NULL"
    letters = connection.execute(f"SELECT * FROM dead_letters {where} ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    listed = []
    for letter in letters:
        rows = connection.execute("SELECT id, body FROM statements WHERE dead_letter = ? ORDER BY seq LIMIT 100",
                                  (letter["id"],)).fetchall()
        listed.append({
            "id": letter["id"], "created": _iso(letter["created"]), "status": letter["status"],
            "response": redact_keys(letter["response"]), "count": letter["statements"],
            "resent": _iso(letter["resent"]) if letter["resent"] else None,
            "statements": [_summary(row["id"], row["body"]) for row in rows],
        })
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


# --- the forwarder -------------------------------------------------------------


@dataclass(frozen=True)
class LrsTarget:
    """Where statements go: the Statement resource's URL and Basic-auth credentials."""

    statements_url: str
    key: str | None = None
    secret: str | None = None
    post: Callable[[bytes], Awaitable[tuple[int, str]]] | None = None
    """Deliver in this process instead of over HTTP (the embedded LRS): body -> (status, answer)."""

    def headers(self) -> dict[str, str]:
        headers = {"X-Experience-API-Version": XAPI_VERSION, "Content-Type": "application/json"}
        if self.key is not None:
            credentials = base64.b64encode(f"{self.key}:{self.secret or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {credentials}"
        return headers


@dataclass(frozen=True)
class ForwarderSettings:
    batch_size: int = 100
    """Statements per POST."""
    timeout: float = 10.0
    """Seconds an LRS request may take."""
    backoff_base: float = 1.0
    """First retry delay, seconds (doubled per failure, with jitter)."""
    backoff_max: float = 300.0
    """Longest retry delay, seconds (a longer `Retry-After` is honoured up to an hour)."""
    poll_interval: float = 1.0
    """Seconds between looks at the queue when nothing woke the forwarder (other workers' statements)."""

    @classmethod
    def from_config(cls, config: Any) -> "ForwarderSettings":
        defaults = cls()
        return cls(
            batch_size=max(1, int(getattr(config, "lrs_batch_size", defaults.batch_size))),
            timeout=float(getattr(config, "lrs_timeout", defaults.timeout)),
            backoff_base=float(getattr(config, "lrs_backoff_base", defaults.backoff_base)),
            backoff_max=float(getattr(config, "lrs_backoff_max", defaults.backoff_max)),
            poll_interval=float(getattr(config, "lrs_poll_interval", defaults.poll_interval)),
        )


@dataclass
class ForwarderStatus:
    state: str = "starting"
    """starting | idle | sending | backing-off | no-lrs | standby (another worker forwards)."""
    delivered: int = 0
    """Statements delivered by this process."""
    failures: int = 0
    """Consecutive transient failures."""
    last_error: str | None = None
    retry_at: float | None = None
    """`time.time()` of the next retry while backing off."""


class Outcome:
    DELIVERED, CONFLICT, REJECTED, UNAUTHORIZED, TRANSIENT = "delivered", "conflict", "rejected", "unauthorized", "transient"


@dataclass(frozen=True)
class Answer:
    outcome: str
    status: int | None
    body: str = ""
    retry_after: float | None = None


def classify(status: int) -> str:
    """The forwarder's reading of an LRS status code."""
    if status in (200, 204):
        return Outcome.DELIVERED
    if status == 409:
        return Outcome.CONFLICT
    if status in (400, 413, 422):
        return Outcome.REJECTED
    if status in (401, 403):
        return Outcome.UNAUTHORIZED
    return Outcome.TRANSIENT


class Forwarder:
    """Sends queued statements to the LRS until cancelled."""

    def __init__(self, database: Database, settings: ForwarderSettings,
                 resolve_target: Callable[[], Any], *, clock=time.time, rng: random.Random | None = None) -> None:
        self.database = database
        self.settings = settings
        self.resolve_target = resolve_target
        self.clock = clock
        self.rng = rng or random.Random()
        self.status = ForwarderStatus()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._lease_until = 0.0
        database.after_commit.append(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    await self._step(session)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox forwarder step failed; retrying")
                    await self._backoff(None)

    async def release(self) -> None:
        """Give up the lease (on shutdown) so another worker can forward at once."""
        with contextlib.suppress(Exception):
            await self.database.write(_release_lease, self.owner)

    async def _step(self, session: aiohttp.ClientSession) -> None:
        if not await self._hold_lease():
            self.status.state = "standby"
            await self._idle(self.settings.poll_interval * 2)
            return
        self._wake.clear()
        rows = queued_batch(self.database.reader, self.settings.batch_size)
        if not rows:
            self.status.state = "idle"
            await self._idle(self.settings.poll_interval)
            return
        target = self.resolve_target()
        if inspect.isawaitable(target):
            target = await target
        if target is None:
            self.status.state = "no-lrs"
            await self._idle(self.settings.poll_interval * 5)
            return
        self.status.state = "sending"
        failure = await self._deliver(session, target, list(rows))
        if failure is None:
            self.status.failures = 0
            self.status.retry_at = None
        else:
            await self._backoff(failure)

    async def _deliver(self, session: aiohttp.ClientSession, target: LrsTarget, rows: list) -> Answer | None:
        """Send `rows`, splitting batches the LRS refuses; the transient failure that stopped it, if any."""
        pending = [rows]
        while pending:
            batch = pending.pop()
            answer = await self._post(session, target, batch)
            seqs = [row["seq"] for row in batch]
            if answer.outcome == Outcome.TRANSIENT:
                return answer
            if answer.outcome in (Outcome.CONFLICT, Outcome.REJECTED) and len(batch) > 1:
                middle = len(batch) // 2
                pending += [batch[middle:], batch[:middle]]  # the first half is sent first
                continue
            if answer.outcome == Outcome.DELIVERED:
                await self.database.write(mark_delivered, seqs, self.clock())
                self.status.delivered += len(seqs)
            elif answer.outcome == Outcome.CONFLICT:
                log.error("ALARM: the LRS holds a different statement with id %s (409: %s); marked delivered",
                          batch[0]["id"], redact_keys(answer.body)[:300])
                await self.database.write(mark_delivered, seqs, self.clock())
            else:
                letter = await self.database.write(add_dead_letter, seqs, answer.status,
                                                   redact_keys(answer.body), self.clock())
                log.error("LRS refused %d statement(s) with %s; dead letter %d: %s", len(seqs), answer.status,
                          letter, redact_keys(answer.body)[:300])
        return None

    async def _post(self, session: aiohttp.ClientSession, target: LrsTarget, batch: list) -> Answer:
        body = ("[" + ",".join(row["body"] for row in batch) + "]").encode()
        retry_after = None
        try:
            if target.post is not None:
                async with asyncio.timeout(self.settings.timeout):  # not wait_for: on 3.11 it can swallow a cancel
                    status, text = await target.post(body)
            else:
                async with session.post(target.statements_url, data=body, headers=target.headers()) as response:
                    status, text = response.status, await response.text(errors="replace")
                    retry_after = _retry_after(response.headers.get("Retry-After"), self.clock())
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            log.warning("LRS unreachable (%s); %d statement(s) stay queued", reason, len(batch))
            return Answer(Outcome.TRANSIENT, None, reason)
        outcome = classify(status)
        if outcome == Outcome.TRANSIENT:
            log.warning("LRS answered %d to %d statement(s): %s", status, len(batch), text[:200])
        return Answer(outcome, status, text, retry_after)

    async def _backoff(self, failure: Answer | None) -> None:
        self.status.failures += 1
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (self.status.failures - 1))
        delay = self.rng.uniform(ceiling / 2, ceiling)
        if failure is not None and failure.retry_after is not None:
            delay = max(delay, min(failure.retry_after, 3600.0))
        self.status.state = "backing-off"
        self.status.last_error = None if failure is None else (
            f"{failure.status}: {failure.body[:200]}" if failure.status else failure.body[:200])
        self.status.retry_at = self.clock() + delay
        await asyncio.sleep(delay)

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _hold_lease(self) -> bool:
        now = self.clock()
        if now < self._lease_until - LEASE_SECONDS / 2:
            return True
        held = await self.database.write(_take_lease, self.owner, now, LEASE_SECONDS)
        self._lease_until = now + LEASE_SECONDS if held else 0.0
        return held


def _take_lease(connection: sqlite3.Connection, owner: str, now: float, seconds: float) -> bool:
    row = connection.execute("SELECT owner, expires FROM outbox_lease WHERE name = 'forwarder'").fetchone()
    if row is not None and row["owner"] != owner and row["expires"] > now and _owner_alive(row["owner"]):
        return False
    connection.execute("INSERT OR REPLACE INTO outbox_lease (name, owner, expires) VALUES ('forwarder', ?, ?)",
                       (owner, now + seconds))
    return True


def _release_lease(connection: sqlite3.Connection, owner: str) -> None:
    connection.execute("DELETE FROM outbox_lease WHERE name = 'forwarder' AND owner = ?", (owner,))


def _owner_alive(owner: str) -> bool:
    """False when the lease holder was a process on this host that no longer exists (e.g. after kill -9)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- the application's outbox ----------------------------------------------------

DATABASE: web.AppKey[Database] = web.AppKey("learning_database", Database)
"""The learning-record database (members, attempts, statements)."""
FORWARDER: web.AppKey[Forwarder] = web.AppKey("outbox_forwarder", Forwarder)


def outbox_stats(app: web.Application) -> dict | None:
    """Queue depth, age of the oldest unsent statement, dead letters and forwarder state (for `/api/health`)."""
    database = app.get(DATABASE)
    if database is None or database._reader is None:
        return None
    reader = database.reader
    queued, oldest = reader.execute("SELECT COUNT(*), MIN(created) FROM statements WHERE state = 0").fetchone()
    dead = reader.execute("SELECT COUNT(*) FROM statements WHERE state = 2").fetchone()[0]
    letters = reader.execute("SELECT COUNT(*) FROM dead_letters WHERE resent IS NULL").fetchone()[0]
    forwarder = app.get(FORWARDER)
    status = forwarder.status if forwarder is not None else None
    return {
        "queued": queued,
        "oldest_unsent_age_s": round(max(0.0, time.time() - oldest), 3) if oldest is not None else None,
        "dead_letters": letters,
        "dead_letter_statements": dead,
        "forwarder": None if status is None else {
            "state": status.state, "delivered": status.delivered, "failures": status.failures,
            "last_error": status.last_error,
            "retry_in_s": round(max(0.0, status.retry_at - time.time()), 3) if status.retry_at else None,
        },
    }


def lrs_target_resolver(app: web.Application, config: Any) -> Callable[[], LrsTarget | None]:
    """Where to forward: `lrs_url` (+ `lrs_key`, `lrs_secret`), else the embedded LRS of this process.

    The embedded LRS is reached in-process (no socket, so no certificate or port to get right),
    as its forwarder credential (or `lrs_key`).  None (statements stay queued) when neither
    exists (`lrs_embedded = false` and no `lrs_url`).
    """
    url = getattr(config, "lrs_url", None)
    key, secret = getattr(config, "lrs_key", None), getattr(config, "lrs_secret", None)
    if url:
        target = LrsTarget(url.rstrip("/") + "/statements", key, secret)
        return lambda: target

    def embedded() -> LrsTarget | None:
        from server import lrs

        if lrs.LRS_STATE not in app:
            return None
        user = key or lrs.embedded_credentials(app)[0]
        return LrsTarget("embedded:/xapi/statements", user,
                         post=functools.partial(lrs.post_statements_locally, app, key=user))

    found: list[LrsTarget | None] = []
    return lambda: found[0] if found else (found.append(embedded()) or found[0])


def outbox_context():
    """A cleanup context: open `app[DATABASE]`, run `app[FORWARDER]`; on shutdown stop it and close the database."""

    async def context(app: web.Application):
        database, forwarder = app[DATABASE], app[FORWARDER]
        database.open()
        task = asyncio.create_task(forwarder.run(), name="outbox-forwarder")
        yield
        while not task.done():  # again if a cancel was swallowed on the way (a shutdown must never hang)
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if not task.cancelled() and task.exception() is not None:
            log.error("the outbox forwarder failed", exc_info=task.exception())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(forwarder.release(), 5.0)
        await database.close()

    return context


# --- private helpers -------------------------------------------------------------


def _retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds from now (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


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


def _split_sql(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
