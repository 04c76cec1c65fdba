"""`kill -9` while forwarding (and while members submit): after a restart the LRS has every statement, once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from tests.server.conftest import wait_for
from tests.server.test_quiz_support import Api, FakeLrs, quiz_config
from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVER = """
import logging, sys
from pathlib import Path
from aiohttp import web
from server.app import create_app
from server.learning.routes import add_quiz
from tests.server.test_quiz_support import quiz_config

logging.basicConfig(level=logging.WARNING)
tmp, lrs_url, port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
config = quiz_config(tmp, lrs_url=lrs_url, port=port, lrs_batch_size=5, lrs_timeout=10, lrs_backoff_base=0.05,
                     lrs_backoff_max=0.2, lrs_poll_interval=0.05)
app = create_app(config)
add_quiz(app, config)
web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
"""


def start(tmp_path: Path, lrs: FakeLrs, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path), lrs.url, str(port)],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    api = Api(port)

    def up():
        try:
            return api.call("GET", "/api/health").status == 200
        except OSError:
            assert process.poll() is None, "server exited"
            return False

    wait_for(up, timeout=30, what="server up")
    return process


def outbox(tmp_path: Path) -> dict[str, int]:
    connection = sqlite3.connect(tmp_path / "var" / "halls.sqlite")
    try:
        return dict(connection.execute("SELECT id, state FROM statements"))
    finally:
        connection.close()


def attempts_stored(tmp_path: Path) -> set[tuple[str, str]]:
    connection = sqlite3.connect(tmp_path / "var" / "halls.sqlite")
    try:
        return set(connection.execute("SELECT member, checkpoint FROM attempts"))
    finally:
        connection.close()


def test_kill_9_mid_forwarding_loses_nothing_and_duplicates_nothing(tmp_path):
    lrs = FakeLrs(default="slow", delay=0.3)  # stores a batch on arrival, acknowledges 0.3 s later
    quiz_config(tmp_path)  # publish the build and codes before the server processes start
    port = free_port()
    process = start(tmp_path, lrs, port)
    acknowledged: set[tuple[str, str]] = set()
    stop = threading.Event()
    try:
        api = Api(port)

        def members(first: int, count: int):
            for n in range(first, first + count):
                if stop.is_set():
                    return
                try:
                    member = f"m{n}"
                    token = api.sign_in(member)
                    registration = api.visit(token)
                    for checkpoint in ("quiz1", "quiz2"):
                        if api.attempt(token, registration, checkpoint).status == 200:
                            acknowledged.add((member, checkpoint))
                except (OSError, AssertionError):
                    return  # the server was killed under us

        writers = [threading.Thread(target=members, args=(k * 100, 40)) for k in range(3)]
        for writer in writers:
            writer.start()
        wait_for(lambda: len(lrs.requests) >= 3 and len(acknowledged) >= 30, timeout=30, what="forwarding under way")
        lrs.received.clear()
        lrs.received.wait(5)  # a batch just arrived and is stored; its acknowledgement is 0.3 s away
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        stop.set()
        for writer in writers:
            writer.join(20)
        in_flight = set(lrs.requests[-1]["ids"])
        queued_at_kill = [i for i, state in outbox(tmp_path).items() if state == 0]
        assert queued_at_kill, "the kill should leave statements queued"
        # the dangerous case: the LRS stored the batch in flight, the server had not marked it delivered
        assert in_flight <= set(queued_at_kill) and in_flight <= set(lrs.statements)

        lrs.default = 200
        process = start(tmp_path, lrs, port)
        wait_for(lambda: all(state == 1 for state in outbox(tmp_path).values()), timeout=60, what="outbox drained")
    finally:
        stop.set()
        if process.poll() is None:
            process.terminate()
            process.wait(10)
        lrs.stop()

    stored = outbox(tmp_path)
    assert acknowledged <= attempts_stored(tmp_path)  # every attempt a member was told about survived
    assert set(lrs.statements) == set(stored)  # nothing lost
    assert lrs.conflicts == []  # a resend carried the same content under the same id
    received = [i for r in lrs.requests for i in r["ids"]]
    repeated = {i for i in received if received.count(i) > 1}
    assert repeated <= in_flight  # only the batch in flight at the kill was sent twice; the LRS kept one copy
    assert len(acknowledged) >= 30 and len(stored) >= 30 * 3
