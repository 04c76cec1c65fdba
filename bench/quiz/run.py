"""Quiz attempts graded and durably queued per second, and outbox forwarding throughput.

    .venv/bin/python bench/quiz/run.py [--seconds 10] [--connections 64] [--rounds 3] [--write BENCHMARKS.md]

A throw-away project has one hall of 20 checkpoints with four questions each
(single, multiple, true-false, single; pass mark 1.0, so the three-right,
one-wrong responses always fail and attempts never run out).  Cases:

- HTTP: the hall server (`create_app` + `add_quiz`) pinned to CPU 0, `wrk`
  pinned to CPU 1 posting `POST /api/halls/bench/checkpoints/{cp}/attempts`
  for 50 signed-in members.  Each 200 means: graded, and the attempt row with
  its five statements committed to SQLite (WAL, `synchronous=FULL`).  Once
  with the forwarder idle (LRS unreachable: queue only), once with it
  delivering to a null LRS on CPU 1 at the same time, once as two worker
  processes (one per CPU) sharing the database.  Row counts are checked, and
  the server's own CPU time per attempt is read from /proc (a figure that
  other work on the machine disturbs less than the rate).
- in process: the same grading, statements and `record_attempt` transaction
  through `Database.write` from 64 tasks, no HTTP (the pipeline's ceiling).
- forwarding: the server restarted over a queue of N statements, forwarding
  in batches of 100 to a null LRS, the embedded LRS (`server.lrs.service`, FULL) and
  Ralph (filesystem backend, when installed), each on CPU 1; statements/s until
  the queue is empty.
Needs `wrk` and `taskset`.  Only loopback is used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.harness import (  # noqa: E402
    ROOT,
    Section,
    cpu_seconds,
    free_port,
    parse_args,
    pin,
    pinned,
    stop,
    tools_missing,
    wait_for_http,
    wrk,
)
from halls_contract.catalog import catalog_of, dump_catalog  # noqa: E402
from halls_contract.manifest import (  # noqa: E402
    AnswerKeys,
    KeyedCheckpoint,
    Manifest,
    Spawn,
    Text,
    Theme,
    dump_answer_keys,
    dump_manifest,
)

log = logging.getLogger("bench.quiz")
SECTION = Section("quiz", "Quiz and records")

CHECKPOINTS = 20
MEMBERS = 50
STATEMENTS_PER_ATTEMPT = 5
FORWARD_COUNTS = {"null LRS": 20_000, "embedded LRS (FULL)": 10_000, "Ralph 5 (fs backend)": 1_000}
RESPONSES = {"s1": "B", "m1": ["A", "C"], "t1": True, "s2": "A"}  # s2 is wrong: every attempt fails

SERVER = """
import json, logging, sys
from aiohttp import web
from server.app import create_app
from server.config import load_config
from server.learning.routes import add_quiz

logging.basicConfig(level=getattr(logging, sys.argv[3]))
config = load_config(flags=json.loads(sys.argv[1]))
app = create_app(config)
add_quiz(app, config)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None, reuse_port=config.workers > 1)
"""

NULL_LRS = """
import sys
from aiohttp import web

async def statements(request):
    body = await request.json()
    return web.json_response([s["id"] for s in body], headers={"X-Experience-API-Version": "1.0.3"})

app = web.Application(client_max_size=64 * 1024 * 1024)
app.router.add_post("/xapi/statements", statements)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

EMBEDDED_LRS = """
import sys
from pathlib import Path
from aiohttp import web
from server.config import LrsSettings
from server.lrs.service import LRS_STATE, add_lrs

app = web.Application(client_max_size=64 * 1024 * 1024)
add_lrs(app, LrsSettings(synchronous="FULL"), var_dir=Path(sys.argv[1]), base_url="http://127.0.0.1")
state = app[LRS_STATE]
state.open()
if state.writer.credential("bench") is None:
    state.writer.add_credential("bench", "bench-secret-000000", "bench", ("all",))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)
"""

PIPELINE = """
import asyncio, json, sys, time
from pathlib import Path
from server.learning import learners
from server.database import Database
from server.learning.learners import LEARNERS_SCHEMA, AttemptRequest
from server.learning.outbox import OUTBOX_SCHEMA
from server.learning.quiz import AnswerKeys, grade, parse_responses
from server.learning.records import Vocabulary

release, folder, seconds, responses = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])

async def main():
    database = Database(folder / "pipeline.sqlite", [OUTBOX_SCHEMA, LEARNERS_SCHEMA])
    database.open()
    keys, vocabulary = AnswerKeys(), Vocabulary("https://halls.example")
    checkpoints = list(keys.hall(release, "bench").values())
    visits = {}
    for n in range(50):
        await database.write(learners.upsert_member, f"m{n}", f"学员{n}", None, time.time())
        visits[n] = await database.write(learners.start_visit, f"m{n}", "bench", "browser", time.time())
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(k):
        nonlocal done
        i = k
        while time.perf_counter() < deadline:
            checkpoint, member = checkpoints[i % len(checkpoints)], (i // len(checkpoints)) % 50
            marks = grade(checkpoint, parse_responses(checkpoint, responses))
            attempt = AttemptRequest(
                member_id=f"m{member}", checkpoint=checkpoint, grade=marks, registration=visits[member],
                platform="browser", now=time.time(), hall_checkpoints=frozenset(c.id for c in checkpoints),
                vocabulary=vocabulary)
            prepared = learners.prepare_attempt(attempt, learners.read_basis(database.reader, attempt))
            record = await database.write(learners.record_attempt, attempt, prepared, queues=True)
            assert isinstance(record, learners.AttemptRecord), record
            done += 1
            i += 64

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(k) for k in range(64)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"attempts": done, "seconds": elapsed, "cpu": cpu, "commits": database.commits}))
    await database.close()

asyncio.run(main())
"""

WRK_SCRIPT = """
local requests = {}
local counter = 0
function init(args)
  for line in io.lines(args[1]) do
    local path, token, body = line:match("([^\\t]*)\\t([^\\t]*)\\t(.*)")
    table.insert(requests, wrk.format("POST", path,
      {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body))
  end
end
function request()
  counter = counter % #requests + 1
  return requests[counter]
end
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk duration per HTTP round (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="HTTP rounds per case; medians are reported (default 3)")
    parser.add_argument("--log-level", default="WARNING", help="the server's log level (default WARNING)")
    args = parse_args(parser, SECTION)
    if tools_missing("wrk", "taskset"):
        return 1
    with tempfile.TemporaryDirectory(prefix="halls-bench-quiz-") as tmp:
        bench = Bench(Path(tmp), args)
        http_rows = bench.http_cases()
        pipeline = bench.pipeline()
        forward_rows = bench.forwarding()
    SECTION.publish(_report(http_rows, pipeline, forward_rows, args), args.write)
    return 0


class Bench:
    def __init__(self, root: Path, args: argparse.Namespace) -> None:
        self.root, self.args = root, args
        self.release = _publish(root / "build")
        self.var = root / "var"

    # HTTP

    def http_cases(self) -> list[dict]:
        rows = []
        null_port = free_port()
        null_lrs = pinned(1, [sys.executable, "-c", NULL_LRS, str(null_port)])
        try:
            wait_for_http(null_port, "/xapi/statements", method="POST", expect=(200, 400, 500))
            cases = [
                ("queue only (LRS unreachable)", "http://127.0.0.1:9/xapi/", 1),
                ("queue + forward to a null LRS", f"http://127.0.0.1:{null_port}/xapi/", 1),
                ("2 workers on both CPUs (wrk shares CPU 1), queue only", "http://127.0.0.1:9/xapi/", 2),
            ]
            results: dict[str, list[dict]] = {name: [] for name, _, _ in cases}
            for round_ in range(self.args.rounds):
                for name, lrs_url, workers in cases:
                    results[name].append(self._http_round(lrs_url, workers))
                    log.info("round %d %s: %.0f attempts/s", round_ + 1, name, results[name][-1]["rps"])
            for name, _, _ in cases:
                runs = results[name]
                rows.append(
                    {
                        "case": name,
                        **{
                            k: statistics.median(r[k] for r in runs)
                            for k in ("rps", "p50", "p99", "errors", "checked", "cpu_us")
                        },
                        "runs": [round(r["rps"]) for r in runs],
                    }
                )
        finally:
            stop(null_lrs)
        return rows

    def _http_round(self, lrs_url: str, workers: int = 1) -> dict:
        shutil.rmtree(self.var, ignore_errors=True)
        port = free_port()
        servers = [self._server(port, lrs_url, poll=0.05, cpu=n, workers=workers) for n in range(workers)]
        try:
            lines = self._sign_in(port)
            requests = self.root / "requests.tsv"
            requests.write_text("".join(lines), encoding="utf-8")
            script = self.root / "attempts.lua"
            script.write_text(WRK_SCRIPT)
            cpu_before = sum(cpu_seconds(p.pid) for p in servers)
            load = wrk(
                f"http://127.0.0.1:{port}",
                self.args.seconds,
                self.args.connections,
                "--latency",
                "-s",
                str(script),
                script_args=(str(requests),),
            )
            cpu = sum(cpu_seconds(p.pid) for p in servers) - cpu_before
        finally:
            for process in servers:
                stop(process)
        errors = load.non2xx + load.socket_errors
        attempts, statements = _counts(self.var / "halls.sqlite")
        # wrk counts requests whose responses arrived; every 200 must be a stored attempt with its statements
        checked = attempts >= load.completed - errors and statements == attempts * STATEMENTS_PER_ATTEMPT
        return {
            "rps": load.requests_s,
            "p50": load.p50_ms,
            "p99": load.p99_ms,
            "completed": load.completed,
            "errors": errors,
            "cpu_us": cpu / max(1, load.completed) * 1e6,
            "checked": int(checked),
        }

    def _sign_in(self, port: int) -> list[str]:
        lines = []
        for n in range(MEMBERS):
            token = _post(port, "/api/session", {"member_id": f"m{n}", "name": f"学员{n}"})["token"]
            registration = _post(port, "/api/halls/bench/visits", {"platform": "browser"}, token)["registration"]
            body = json.dumps({"answers": RESPONSES, "registration": registration, "platform": "browser"})
            for c in range(CHECKPOINTS):
                lines.append(f"/api/halls/bench/checkpoints/cp{c}/attempts\t{token}\t{body}\n")
        lines.sort(key=lambda line: hash(line) % 997)  # interleave members and checkpoints
        return lines

    def _server(self, port: int, lrs_url: str, poll: float = 1.0, cpu: int = 0, **extra) -> subprocess.Popen:
        values = {
            "root": str(self.root),
            "build_dir": str(self.root / "build"),
            "var_dir": str(self.var),
            "web_dir": str(self.root / "no-web"),
            "port": port,
            "access_log": False,
            "base_url": "https://halls.example",
            "lrs_url": lrs_url,
            "lrs_poll_interval": poll,
            "lrs_backoff_base": 0.2,
            "lrs_backoff_max": 1.0,
            **extra,
        }
        process = pinned(cpu, [sys.executable, "-c", SERVER, json.dumps(values), str(port), self.args.log_level])
        wait_for_http(port, "/api/health")
        return process

    # in process

    def pipeline(self) -> dict:
        runs, cpus = [], []
        for _ in range(self.args.rounds):
            folder = Path(tempfile.mkdtemp(dir=self.root))
            output = subprocess.run(
                [
                    "taskset",
                    "-c",
                    "0",
                    sys.executable,
                    "-c",
                    PIPELINE,
                    str(self.release),
                    str(folder),
                    "5",
                    json.dumps(RESPONSES),
                ],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(output)
            runs.append(result["attempts"] / result["seconds"])
            cpus.append(result["cpu"] / result["attempts"] * 1e6)
            log.info(
                "in process: %.0f attempts/s, %.0f us CPU each (%d attempts, %d commits)",
                runs[-1],
                cpus[-1],
                result["attempts"],
                result["commits"],
            )
        return {"rps": statistics.median(runs), "cpu_us": statistics.median(cpus), "runs": [round(r) for r in runs]}

    # forwarding

    def forwarding(self) -> list[dict]:
        source = self._fill_queue(max(FORWARD_COUNTS.values()))
        rows = []
        null_port = free_port()
        embedded_port = free_port()

        def null_lrs() -> _Started:
            process = pinned(1, [sys.executable, "-c", NULL_LRS, str(null_port)])
            return lambda: stop(process), f"http://127.0.0.1:{null_port}/xapi/", None, None

        def embedded_lrs() -> _Started:
            process = pinned(1, [sys.executable, "-c", EMBEDDED_LRS, str(self.root / "lrs-var"), str(embedded_port)])
            return lambda: stop(process), f"http://127.0.0.1:{embedded_port}/xapi/", "bench", "bench-secret-000000"

        targets: list[tuple[str, _Start]] = [("null LRS", null_lrs), ("embedded LRS (FULL)", embedded_lrs)]
        ralph = _ralph(self.root / "ralph")
        if ralph is not None:
            targets.append(("Ralph 5 (fs backend)", ralph))
        for name, start in targets:
            count = FORWARD_COUNTS[name]
            halt, url, key, secret = start()
            try:
                wait_for_http(
                    int(url.split(":")[2].split("/")[0]),
                    "/xapi/statements",
                    method="POST",
                    expect=(200, 204, 400, 401, 404, 405, 500),
                )
                shutil.rmtree(self.var, ignore_errors=True)
                self.var.mkdir()
                _copy_queue(source, self.var / "halls.sqlite", count)
                port = free_port()
                started = time.perf_counter()
                server = self._server(port, url, poll=0.05, lrs_key=key, lrs_secret=secret)
                try:
                    while _queued(self.var / "halls.sqlite") > 0:
                        if time.perf_counter() - started > 600:
                            raise RuntimeError(f"{name}: queue not drained in 10 minutes")
                        time.sleep(0.05)
                    elapsed = time.perf_counter() - started
                finally:
                    stop(server)
                dead = _dead(self.var / "halls.sqlite")
                rows.append(
                    {"case": name, "statements": count, "seconds": elapsed, "rate": count / elapsed, "dead": dead}
                )
                log.info("forward to %s: %d statements in %.1f s (%.0f/s)", name, count, elapsed, count / elapsed)
            finally:
                halt()
        return rows

    def _fill_queue(self, statements: int) -> Path:
        """A database whose queue holds at least `statements` statements (posted with the LRS unreachable)."""
        shutil.rmtree(self.var, ignore_errors=True)
        port = free_port()
        server = self._server(port, "http://127.0.0.1:9/xapi/")
        try:
            lines = self._sign_in(port)
            needed = statements // STATEMENTS_PER_ATTEMPT + 1
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for n in range(needed):
                path, token, body = lines[n % len(lines)].rstrip("\n").split("\t")
                connection.request(
                    "POST",
                    path,
                    body=body.encode(),
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                )
                reply = connection.getresponse()
                reply.read()
                if reply.status != 200:
                    raise RuntimeError(f"attempt answered {reply.status}")
            connection.close()
        finally:
            stop(server)
        source = self.root / "queue.sqlite"
        with sqlite3.connect(self.var / "halls.sqlite") as db, sqlite3.connect(source) as copy:
            db.backup(copy)
        return source


# --- helpers ---------------------------------------------------------------------


def _publish(build: Path) -> Path:
    """A release with hall `bench`: CHECKPOINTS checkpoints of four questions each."""
    release = build / "releases" / "bench"
    (release / "halls" / "bench").mkdir(parents=True)
    (release / "private" / "answers").mkdir(parents=True)
    options = [{"id": letter, "text": {"zh": f"选项{letter}", "en": None}} for letter in "ABCD"]
    questions = [
        {
            "id": "s1",
            "type": "single",
            "prompt": {"zh": "“两个务必”是在哪次会议上提出的？", "en": None},
            "options": options,
            "answer": "B",
            "explanation": {"zh": "七届二中全会。", "en": None},
        },
        {
            "id": "m1",
            "type": "multiple",
            "prompt": {"zh": "哪些属于“四风”？", "en": None},
            "options": options,
            "answer": ["A", "C"],
            "explanation": None,
        },
        {
            "id": "t1",
            "type": "true-false",
            "prompt": {"zh": "于成龙被誉为“天下廉吏第一”。", "en": None},
            "options": [],
            "answer": True,
            "explanation": None,
        },
        {
            "id": "s2",
            "type": "single",
            "prompt": {"zh": "在狱中写下《清贫》的是谁？", "en": None},
            "options": options,
            "answer": "C",
            "explanation": None,
        },
    ]
    checkpoints = tuple(
        KeyedCheckpoint.model_validate(
            {
                "id": f"cp{c}",
                "room": "hall",
                "title": {"zh": f"答题{c}"},
                "position": [0.0, 0.0, 0.0],
                "radius": 1.5,
                "pass_mark": 1.0,
                "attempts": 1000,
                "cooldown": 0,
                "questions": questions,
            }
        )
        for c in range(CHECKPOINTS)
    )
    manifest = Manifest(
        id="bench",
        title=Text(zh="测试馆"),
        intro=None,
        order=0,
        theme=Theme(),
        spawn=Spawn(room="hall", position=(0.0, 0.0, 0.0), heading=0.0),
        rooms=(),
        doorways=(),
        chunks=(),
        exhibits=(),
        checkpoints=tuple(c.public() for c in checkpoints),
    )
    (release / "halls" / "bench" / "manifest.json").write_text(json.dumps(dump_manifest(manifest), ensure_ascii=False))
    (release / "private" / "answers" / "bench.json").write_text(
        json.dumps(dump_answer_keys(AnswerKeys(hall="bench", checkpoints=checkpoints)), ensure_ascii=False)
    )
    catalog = catalog_of([manifest], "bench")
    (release / "catalog.json").write_text(json.dumps(dump_catalog(catalog), ensure_ascii=False))
    os.symlink("releases/bench", build / "current")
    return release


_Started = tuple[Callable[[], None], str, str | None, str | None]
"""A started LRS: how to stop it, its xAPI URL, and the key and secret the server sends it (or None)."""
_Start = Callable[[], _Started]


def _ralph(folder: Path) -> _Start | None:
    try:
        from tests.server.ralph import RalphServer, ralph_available
    except ImportError:
        return None
    if not ralph_available():
        log.warning("Ralph is not installed: forwarding to Ralph is not measured")
        return None

    def start() -> _Started:
        ralph = RalphServer(folder).start()
        assert ralph.process is not None  # start() returns once the process answers
        pin(ralph.process.pid, 1)
        return ralph.stop, ralph.url.replace("/xAPI/", "/xAPI/"), ralph.key, ralph.secret

    return start


def _copy_queue(source: Path, target: Path, count: int) -> None:
    with sqlite3.connect(source) as db, sqlite3.connect(target) as copy:
        db.backup(copy)
    with sqlite3.connect(target) as copy:
        copy.execute("UPDATE statements SET state = 1 WHERE seq > (SELECT MIN(seq) FROM statements) + ? - 1", (count,))
        copy.execute("DELETE FROM outbox_lease")


def _counts(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as db:
        return (
            db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0],
            db.execute("SELECT COUNT(*) FROM statements").fetchone()[0],
        )


def _queued(path: Path) -> int:
    with sqlite3.connect(path, timeout=30) as db:
        return db.execute("SELECT COUNT(*) FROM statements WHERE state = 0").fetchone()[0]


def _dead(path: Path) -> int:
    with sqlite3.connect(path, timeout=30) as db:
        return db.execute("SELECT COUNT(*) FROM statements WHERE state = 2").fetchone()[0]


def _post(port: int, path: str, body: dict, token: str | None = None) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
    reply = connection.getresponse()
    data = json.loads(reply.read())
    connection.close()
    if reply.status not in (200, 201):
        raise RuntimeError(f"{path}: {reply.status} {data}")
    return data


def _report(http_rows: list[dict], pipeline: dict, forward_rows: list[dict], args: argparse.Namespace) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"Quiz attempts, {args.connections} connections, {args.seconds:g} s x {args.rounds} rounds (medians); server "
        f"pinned to CPU 0, wrk and the LRS on CPU 1 (CPython {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at the end). Each attempt: 4 questions graded, the attempt row and 5 statements "
        f"committed (SQLite WAL, synchronous=FULL) before the answer. `bench/quiz/run.py`.",
        "",
        "| case | attempts/s | statements queued/s | server CPU µs per attempt | attempts/s per free core "
        "| p50 ms | p99 ms | non-2xx | rows checked | rounds (attempts/s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | --- |",
    ]
    for row in http_rows:
        lines.append(
            f"| HTTP: {row['case']} | {row['rps']:,.0f} | {row['rps'] * STATEMENTS_PER_ATTEMPT:,.0f} | "
            f"{row['cpu_us']:,.0f} | {1e6 / row['cpu_us']:,.0f} | {row['p50']:.1f} | {row['p99']:.1f} | "
            f"{row['errors']:.0f} | {'yes' if row['checked'] else 'NO'} "
            f"| {', '.join(map(str, row['runs']))} |"
        )
    lines.append(
        f"| in process (no HTTP), 64 tasks | {pipeline['rps']:,.0f} | "
        f"{pipeline['rps'] * STATEMENTS_PER_ATTEMPT:,.0f} | {pipeline['cpu_us']:,.0f} | "
        f"{1e6 / pipeline['cpu_us']:,.0f} | | | | | {', '.join(map(str, pipeline['runs']))} |"
    )
    lines += [
        "",
        "Forwarding a queue of statements in batches of 100 (forwarder in the server on CPU 0, LRS on CPU 1):",
        "",
        "| LRS | statements | seconds | statements/s | dead letters |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in forward_rows:
        lines.append(
            f"| {row['case']} | {row['statements']:,} | {row['seconds']:.1f} | {row['rate']:,.0f} | {row['dead']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
