"""The SQLite databases' shared set-up (`server.database`)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from server.database import Database, use_wal
from server.learning.outbox import OUTBOX_SCHEMA, queue_statements


def test_many_connections_switching_a_new_file_to_wal_at_once_all_succeed(tmp_path):
    # Two workers starting together open the same new databases; plain `PRAGMA journal_mode=WAL` then
    # fails with "database is locked" in about one try in five (SQLite skips its busy handler there).
    for trial in range(20):
        path = tmp_path / f"new-{trial}.sqlite"
        barrier, errors, modes = threading.Barrier(6), [], []

        def open_it(path, barrier, modes, errors):
            connection = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
            barrier.wait()
            try:
                use_wal(connection)
                modes.append(connection.execute("PRAGMA journal_mode").fetchone()[0])
            except sqlite3.Error as error:
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=open_it, args=(path, barrier, modes, errors)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and modes == ["wal"] * 6


def test_a_failing_job_rolls_back_only_its_own_writes_in_a_group_commit(tmp_path):
    async def scenario():
        database = Database(tmp_path / "db.sqlite", [OUTBOX_SCHEMA])
        database.open()

        def good(connection, n):
            queue_statements(connection, [(f"id-{n}", "{}")], 0.0)
            return n

        def bad(connection):
            queue_statements(connection, [("id-bad", "{}")], 0.0)
            raise ValueError("no")

        results = await asyncio.gather(
            database.write(good, 1), database.write(bad), database.write(good, 2), return_exceptions=True
        )
        ids = [row[0] for row in database.reader.execute("SELECT id FROM statements ORDER BY seq")]
        commits = database.commits
        await database.close()
        return results, ids, commits

    results, ids, commits = asyncio.run(scenario())
    assert results[0] == 1 and results[2] == 2 and isinstance(results[1], ValueError)
    assert ids == ["id-1", "id-2"] and commits == 1
