"""Statement POST throughput: the embedded LRS vs Ralph (filesystem backend), in one run.

    .venv/bin/python bench/lrs/run.py [--seconds 5] [--connections 16] [--write BENCHMARKS.md]

Each LRS runs as its own process pinned to CPU 0 (`taskset`); the load (an
aiohttp client in this process) runs on CPU 1.  Cases: one statement per
POST, and batches of 10 per POST.  The embedded LRS is measured with
SQLite `synchronous=FULL` (its default: every acknowledged statement is on
disk) and `NORMAL`.  Ralph is started as in the tests (tests/server/ralph.py);
it is skipped when not installed.  Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.harness import Section, free_port, parse_args, pin, pinned, stop, tools_missing, wait_for_http  # noqa: E402
from tests.server.ralph import RalphServer, ralph_available  # noqa: E402

log = logging.getLogger("bench.lrs")
SECTION = Section("lrs", "LRS")

EMBEDDED_APP = """
import logging, sys
from pathlib import Path
from aiohttp import web
from server.config import LrsSettings
from server.lrs.service import LRS_STATE, add_lrs

app = web.Application()
add_lrs(app, LrsSettings(synchronous=sys.argv[3]), var_dir=Path(sys.argv[1]), base_url="http://127.0.0.1")
state = app[LRS_STATE]
state.open()
if state.writer.credential("bench") is None:
    state.writer.add_credential("bench", "bench-secret-000000", "bench", ("all",))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each case (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    args = parse_args(parser, SECTION)
    if tools_missing("taskset"):
        return 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="halls-bench-lrs-") as tmp:
        for synchronous in ("FULL", "NORMAL"):
            port = free_port()
            process = pinned(
                0, [sys.executable, "-c", EMBEDDED_APP, str(Path(tmp) / f"var-{synchronous}"), str(port), synchronous]
            )
            try:
                wait_for_http(port, "/xapi/about")
                target = Target(
                    f"embedded LRS (synchronous={synchronous})",
                    f"http://127.0.0.1:{port}/xapi/",
                    ("bench", "bench-secret-000000"),
                )
                rows += _measure(target, args)
            finally:
                stop(process)
        if ralph_available():
            ralph = RalphServer(Path(tmp) / "ralph").start()
            assert ralph.process is not None  # start() returns once the process answers
            pin(ralph.process.pid, 0)
            try:
                rows += _measure(Target("Ralph 5 (fs backend)", ralph.url, (ralph.key, ralph.secret)), args)
            finally:
                ralph.stop()
        else:
            log.warning("Ralph is not installed: only the embedded LRS was measured")
    SECTION.publish(_table(rows, args), args.write)
    return 0


class Target:
    def __init__(self, name: str, url: str, credentials: tuple[str, str]) -> None:
        self.name, self.url, self.credentials = name, url, credentials


def _statement(index: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "name": "学员",
            "account": {"homePage": "https://halls.example", "name": f"m-{index % 500}"},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"zh-CN": "回答"}},
        "object": {
            "objectType": "Activity",
            "id": f"https://halls.example/xapi/checkpoints/safety-1/q{index % 7}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "interactionType": "choice",
                "correctResponsesPattern": ["B"],
                "choices": [{"id": "A"}, {"id": "B"}],
            },
        },
        "result": {"response": "B", "success": True},
        "context": {
            "registration": str(uuid.uuid4()),
            "platform": "browser",
            "language": "zh-CN",
            "contextActivities": {"parent": [{"id": "https://halls.example/xapi/checkpoints/safety-1"}]},
        },
        "timestamp": "2026-03-01T08:00:00.000Z",
    }


def _measure(target: Target, args) -> list[dict]:
    os.sched_setaffinity(0, {1})
    rows = []
    for batch in (1, 10):
        log.info("%s: %d statement(s) per POST for %.0f s", target.name, batch, args.seconds)
        rows.append({"target": target.name, "batch": batch, **asyncio.run(_load(target, batch, args))})
    return rows


async def _load(target: Target, batch: int, args) -> dict:
    headers = {
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
        "Authorization": aiohttp.encode_basic_auth(*target.credentials),
    }
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(10**9))
    deadline = time.perf_counter() + args.seconds
    connector = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                body = [_statement(next(counter)) for _ in range(batch)]
                data = json.dumps(body if batch > 1 else body[0]).encode()
                started = time.perf_counter()
                async with session.post(target.url + "statements", data=data) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        async with session.post(target.url + "statements", data=json.dumps(_statement(0)).encode()) as response:
            await response.read()  # warm-up: the credential check is paid once, outside the timing
        deadline = time.perf_counter() + args.seconds
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.connections)))
        elapsed = time.perf_counter() - started
    ok = sum(count for status, count in statuses.items() if status in (200, 204))
    latencies.sort()
    return {
        "requests_s": ok / elapsed,
        "statements_s": ok * batch / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0,
        "errors": sum(count for status, count in statuses.items() if status not in (200, 204)),
    }


def _table(rows: list[dict], args) -> str:
    lines = [
        f"Statement POSTs, {args.connections} connections, {args.seconds:.0f} s per case; LRS pinned to CPU 0, "
        f"load on CPU 1 ({platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end: other work on the machine "
        "skews absolute numbers; compare rows of one run). `bench/lrs/run.py`.",
        "",
        "| LRS | statements per POST | POSTs/s | statements/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['target']} | {row['batch']} | {row['requests_s']:,.0f} | {row['statements_s']:,.0f} | "
            f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
