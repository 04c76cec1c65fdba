"""Several hub workers sharing presence and tours through a real redis-server."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.server.test_hub_support import HubClient, build_app, run, serving, stats
from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout is not None else ""
            raise RuntimeError(f"{what} exited with {process.returncode}: {output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


@pytest.fixture(scope="module")
def redis_url():
    """A throw-away redis-server on a free loopback port."""
    pytest.importorskip("redis", reason="the redis package (redis-py) is not installed")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, process, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


async def until(condition, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def test_two_workers_in_one_process_share_presence_and_a_tour(redis_url):
    async def scenario():
        async with AsyncExitStack() as stack:
            one = build_app(redis_url=redis_url, hub_redis_prefix="t1")
            two = build_app(redis_url=redis_url, hub_redis_prefix="t1")
            base_one = await stack.enter_async_context(serving(one))
            base_two = await stack.enter_async_context(serving(two))

            guide = await HubClient.join(base_one, "Guide", role="trainer", key="sesame")
            fei = await HubClient.join(base_two, "Fei")
            # the roster crosses workers: the guide hears of Fei; ids are unique across workers
            assert (await guide.expect("joined"))["members"] == [{"id": fei.id, "name": "Fei", "role": "member"}]
            assert guide.id != fei.id
            await until(lambda: stats(two)["members"] == {"alpha": 2}, what="worker two to know the guide")
            assert stats(one)["backend"] == "redis"

            # poses cross workers: each sees the other in its batches
            await guide.pose("lobby", (1, 1, 0), t=11)
            await fei.pose("lobby", (2, 1, 0), t=22)
            seen_by_fei = await fei.batch(until=lambda r: guide.id in r["id"])
            assert seen_by_fei["t"].tolist() == [11] and seen_by_fei["x"].tolist() == [100]
            seen_by_guide = await guide.batch(until=lambda r: fei.id in r["id"])
            assert seen_by_guide["t"].tolist() == [22]

            # the tour: start, follow, goto, narrate, gather, end
            await guide.send(type="tour-start")
            assert (await fei.expect("tour", event="start"))["leader"] == {"id": guide.id, "name": "Guide"}
            await fei.send(type="follow", on=True)
            await fei.expect("tour", event="following")
            assert (await guide.expect("tour", event="follower"))["followers"] == 1
            await guide.send(type="tour-goto", exhibit="lamp")
            assert (await fei.expect("tour", event="goto"))["exhibit"] == "lamp"
            await guide.send(type="tour-narrate", text="请看这盏矿灯。")
            assert (await fei.expect("tour", event="narrate"))["text"] == "请看这盏矿灯。"
            await guide.send(type="tour-gather", room="east", p=[12, 5, 0])
            assert (await fei.expect("tour", event="gather"))["room"] == "east"

            # a trainer on the other worker cannot start a second tour in the hall
            rival = await HubClient.join(base_two, "Rival", role="trainer", key="sesame")
            await rival.send(type="tour-start")
            assert (await rival.expect("error"))["code"] == "tour-active"

            await guide.send(type="tour-end")
            await fei.expect("tour", event="end")
            await rival.send(type="tour-start")  # the claim was released
            await guide.expect("tour", event="start", leader={"id": rival.id, "name": "Rival"})

            # leaving crosses workers too
            await fei.close()
            assert (await guide.expect("left"))["ids"] == [fei.id]
            await guide.close()
            await rival.close()

    run(scenario())


def test_reload_reaches_members_on_every_worker(redis_url):
    async def scenario():
        from server.hub.service import broadcast_reload

        async with AsyncExitStack() as stack:
            one = build_app(redis_url=redis_url, hub_redis_prefix="t2")
            two = build_app(redis_url=redis_url, hub_redis_prefix="t2")
            base_one = await stack.enter_async_context(serving(one))
            base_two = await stack.enter_async_context(serving(two))
            here = await HubClient.join(base_one, "Here")
            there = await HubClient.join(base_two, "There", role="trainer", key="sesame")
            await until(lambda: stats(one)["members"] == {"alpha": 2}, what="the roster")
            await broadcast_reload(one, "alpha", ["alpha/east"], None)
            for client in (here, there):
                assert (await client.expect("reload"))["chunks"] == ["alpha/east"]
            await broadcast_reload(one, "alpha", [], "halls/alpha.yaml:1:1: broken")
            assert (await there.expect("build-error"))["text"] == "halls/alpha.yaml:1:1: broken"
            await here.close()
            await there.close()

    run(scenario())


WORKER = """
import logging, sys
from aiohttp import web
from tests.server.test_hub_support import build_app
logging.basicConfig(level=logging.WARNING)
web.run_app(build_app(redis_url=sys.argv[1], hub_redis_prefix="t3"), host="127.0.0.1", port=int(sys.argv[2]),
            print=None, handle_signals=True)
"""


def start_worker(redis_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, redis_url, str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_port(port, process, "hub worker")
    return process, f"ws://127.0.0.1:{port}"


def test_two_server_processes_share_members_and_a_tour_and_forget_a_dead_one(redis_url):
    first, base_one = start_worker(redis_url)
    second, base_two = start_worker(redis_url)
    try:

        async def scenario():
            guide = await HubClient.join(base_one, "Guide", role="trainer", key="sesame")
            fei = await HubClient.join(base_two, "Fei")
            await guide.pose("lobby", (1, 1, 0))
            await fei.pose("lobby", (2, 1, 0))
            assert fei.id in (await guide.batch(until=lambda r: fei.id in r["id"]))["id"]
            assert guide.id in (await fei.batch(until=lambda r: guide.id in r["id"]))["id"]

            await guide.send(type="tour-start")
            await fei.expect("tour", event="start")
            await fei.send(type="follow", on=True)
            await guide.expect("tour", event="follower")
            await guide.send(type="tour-goto", exhibit="intro")
            assert (await fei.expect("tour", event="goto"))["room"] == "lobby"

            # the second process dies without a word: its member leaves after the heartbeat timeout
            second.send_signal(signal.SIGKILL)
            assert (await guide.expect("left", timeout=8))["ids"] == [fei.id]
            await guide.close()

        run(scenario())
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.terminate()
            process.wait(10)
