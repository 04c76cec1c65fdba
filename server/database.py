"""SQLite in WAL mode for the server's own data, with group commit.

`Database` owns one file (the app's is `<var>/halls.sqlite`).  Writes are
jobs `job(connection, *args)`: the jobs waiting are run as one transaction
(group commit, one fsync), each inside its own savepoint, so a job's rows
are all committed or none are, and its caller is answered only after the
commit.  Small reads use a connection on the event loop's thread; the WAL
is checkpointed by a thread of its own.  The tables are the callers': they
pass their schemas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

_Outcome = tuple[asyncio.Future, Any, BaseException | None]
"""A job's future, its result and its error (None when it succeeded)."""

MAX_GROUP = 256
"""Most jobs committed in one transaction."""
CHECKPOINT_SECONDS = 1.0
"""How often the WAL is copied into the database file (by its own thread, not at commit)."""


class Database:
    """SQLite in WAL mode: jobs' SQL on the event loop, grouped; each group's COMMIT (the fsync) in a thread.

    A group is every job that arrived while the previous group committed
    (group commit: one fsync for all).  Running the SQL on the loop avoids
    handing the GIL back and forth with a writer thread on every statement;
    only the COMMIT, which waits for the disk, leaves the loop.
    """

    def __init__(self, path: Path, schemas: Iterable[str] = (), *, synchronous: str = "FULL") -> None:
        self.path = path
        self.schemas = list(schemas)
        """SQL scripts run at `open()`, in order (`CREATE ... IF NOT EXISTS`)."""
        self.synchronous = synchronous
        self.after_commit: list[Callable[[], None]] = []
        """Called on the loop after a commit that held a `queues` job (e.g. a forwarder's wake-up)."""
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
        writer = self._writer = self.connect()
        writer.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        writer.execute("PRAGMA busy_timeout=0")  # a locked database is waited for in a thread, not here
        committer = self._committer = ThreadPoolExecutor(1, thread_name_prefix=f"sqlite-commit:{self.path.name}")
        arrived = self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._commit_groups(arrived, writer, committer), name=f"sqlite:{self.path.name}"
        )
        self._checkpoints = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpointer_main, name=f"sqlite-checkpoint:{self.path.name}", daemon=True
        )
        self._checkpointer.start()

    def connect(self) -> sqlite3.Connection:
        """A new connection with this database's settings (autocommit; explicit transactions).

        Each connection is used by one thread at a time: the loop's, the
        committer's (only while the loop waits for it), or a worker's.
        """
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        use_wal(connection)
        connection.execute(f"PRAGMA synchronous={self.synchronous}")
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA cache_size=-16000")
        return connection

    @property
    def is_open(self) -> bool:
        """Between `open()` and `close()`."""
        return self._reader is not None

    @property
    def reader(self) -> sqlite3.Connection:
        """The loop thread's connection, for small indexed reads."""
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    async def write(self, job: Callable[..., Any], *args: Any, queues: bool = False) -> Any:
        """Run `job(connection, *args)` in a transaction; return its result once committed.

        An exception in the job rolls back only its own writes and is raised
        here.  `queues`: call `after_commit` once the job is committed.
        """
        if self._task is None or self._task.done():
            raise RuntimeError("database is not open")
        assert self._arrived is not None  # open() sets it together with the task
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
            assert self._committer is not None and self._writer is not None  # open() sets them with the task
            self._committer.shutdown(wait=True)
            self._checkpoints.set()
            await asyncio.get_running_loop().run_in_executor(None, self._checkpointer.join)
            self._writer.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # group commit

    async def _commit_groups(
        self, arrived: asyncio.Event, writer: sqlite3.Connection, committer: ThreadPoolExecutor
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await arrived.wait()
            arrived.clear()
            while self._pending:
                group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                self._busy = True
                try:
                    outcomes = await self._run_group(loop, group, writer, committer)
                except Exception as error:  # never leave callers waiting
                    log.exception("sqlite group of %d job(s) failed", len(group))
                    outcomes = [(future, None, error) for _, _, future, _ in group]
                finally:
                    self._busy = False
                self._deliver(outcomes, any(queues for *_, queues in group))

    async def _run_group(
        self,
        loop: asyncio.AbstractEventLoop,
        group: list,
        connection: sqlite3.Connection,
        committer: ThreadPoolExecutor,
    ) -> list[_Outcome]:
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # another process writes: wait for the lock off the loop
            await loop.run_in_executor(committer, _begin_waiting, connection)
        outcomes: list[_Outcome] = []
        try:
            for job, args, future, _queues in group:
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
            await loop.run_in_executor(committer, connection.execute, "COMMIT")
        except sqlite3.Error as error:
            log.error("sqlite commit of %d job(s) failed: %s", len(group), error)
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            return [(future, None, error) for _, _, future, _ in group]
        self.commits += 1
        self.jobs += len(group)
        return outcomes

    def _deliver(self, outcomes: list[_Outcome], woke: bool) -> None:
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


def use_wal(connection: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Put the connection's database in WAL mode, waiting while another process opens it too.

    SQLite answers "database is locked" at once, without its busy handler, when
    two connections switch a new file's journal mode together (two workers starting).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


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


DATABASE: web.AppKey[Database] = web.AppKey("learning_database", Database)
"""The application's database (`<var>/halls.sqlite`: learning records and the outbox)."""


def _split_sql(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
