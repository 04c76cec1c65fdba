"""Presence and tours: the client's hub traffic as a WebSocket test peer sees it."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time

import websockets

from halls_contract.hub import decode_pose_batch
from tests.client.conftest import TRAINER_KEY
from tests.conftest import ROOT
from tools.client.presence import PresenceClient, hub_url


class Peer:
    """A test member on the hub: joins, sends a pose so it receives batches, records everything."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.texts: list[dict] = []
        self.poses: list = []

    @classmethod
    async def join(cls, server_url: str, name: str = "peer", **extra) -> Peer:
        ws = await websockets.connect(hub_url(server_url, "alpha"))
        await ws.send(json.dumps({"v": 1, "type": "join", "name": name, **extra}))
        peer = cls(ws)
        await peer.expect(lambda m: m.get("type") == "welcome")
        await ws.send(json.dumps({"v": 1, "type": "pose", "room": "entrance", "p": [0, -3, 0], "q": [0, 0, 0, 1]}))
        return peer

    async def expect(self, match, timeout: float = 20.0):
        """The first text message (dict) or pose record (numpy row) for which `match` is true."""
        deadline = time.monotonic() + timeout
        for seen in (*self.texts, *self.poses):
            if match(seen):
                return seen
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"peer saw no match; texts={self.texts[-5:]}")
            try:
                message = await asyncio.wait_for(self.ws.recv(), left)
            except TimeoutError:
                raise AssertionError(f"peer saw no match in {timeout} s; texts={self.texts[-5:]}") from None
            if isinstance(message, bytes):
                _, records = decode_pose_batch(message)
                for record in records:
                    self.poses.append(record)
                    if match(record):
                        return record
            else:
                data = json.loads(message)
                self.texts.append(data)
                if match(data):
                    return data

    async def close(self) -> None:
        await self.ws.close()


def is_pose_at(member_id: int, x: float, y: float):
    return lambda r: (
        not isinstance(r, dict)
        and int(r["id"]) == member_id
        and math.isclose(r["x"] / 100, x, abs_tol=0.02)
        and math.isclose(r["y"] / 100, y, abs_tol=0.02)
    )


def test_presence_client_joins_and_its_poses_reach_a_peer(project, start_hall_server):
    server = start_hall_server(project)

    async def scenario():
        peer = await Peer.join(server.url)
        client = PresenceClient(server.url, "alpha", "测试员").start()
        try:
            joined = await peer.expect(lambda m: isinstance(m, dict) and m.get("type") == "joined")
            (info,) = joined["members"]
            assert info["name"] == "测试员"
            client.set_pose("entrance", (1.5, 2.0, 0.0), (0, 0, 0, 1))
            record = await peer.expect(is_pose_at(info["id"], 1.5, 2.0))
            assert int(record["qw"]) == 32767
            kinds = [kind for kind, _ in client.poll()]
            assert "welcome" in kinds and client.member_id == info["id"]
        finally:
            await asyncio.get_running_loop().run_in_executor(None, client.stop)
            left = await peer.expect(lambda m: isinstance(m, dict) and m.get("type") == "left")
            assert left["ids"] == [info["id"]]
            await peer.close()

    asyncio.run(scenario())


def test_presence_client_reports_a_lost_hub_and_keeps_retrying(project, start_hall_server):
    server = start_hall_server(project)
    client = PresenceClient(server.url, "alpha", "测试员", retry_max=0.2).start()
    deadline = time.monotonic() + 10
    events = []
    while not any(k == "welcome" for k, _ in events) and time.monotonic() < deadline:
        events += client.poll()
        time.sleep(0.02)
    server.stop()
    while not any(k == "status" and "retrying" in d for k, d in events) and time.monotonic() < deadline:
        events += client.poll()
        time.sleep(0.02)
    client.stop()
    assert any(k == "status" and "presence: connection lost" in d for k, d in events), events


def run_client_async(url: str, tmp, *args: str):
    report = tmp / "presence.json"
    argv = [
        sys.executable,
        "-m",
        "tools.client",
        url,
        "--hall",
        "alpha",
        "--offscreen",
        "--size",
        "320x200",
        "--report",
        str(report),
        "--cache",
        str(tmp / "cache"),
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return report, asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


def test_offscreen_client_appears_to_a_peer_with_name_and_pose(project, start_hall_server, tmp_path):
    server = start_hall_server(project)

    async def scenario():
        peer = await Peer.join(server.url)
        report, starting = run_client_async(server.url, tmp_path, "--name", "李明", "--linger", "2.5")
        process = await starting
        try:
            joined = await peer.expect(
                lambda m: isinstance(m, dict) and m.get("type") == "joined" and m["members"][0]["name"] == "李明"
            )
            member = joined["members"][0]["id"]
            await peer.expect(is_pose_at(member, 0.0, 0.0))  # alpha's spawn point
        finally:
            await process.communicate()
            await peer.close()
        assert process.returncode == 0

    asyncio.run(scenario())


def test_offscreen_client_follows_a_trainers_tour_to_an_exhibit(project, start_hall_server, tmp_path):
    server = start_hall_server(project)

    async def scenario():
        trainer = await Peer.join(server.url, "讲解员", role="trainer", key=TRAINER_KEY)
        await trainer.ws.send(json.dumps({"v": 1, "type": "tour-start"}))
        await trainer.expect(lambda m: isinstance(m, dict) and m.get("event") == "start")
        await trainer.ws.send(json.dumps({"v": 1, "type": "tour-goto", "exhibit": "miner"}))
        report, starting = run_client_async(server.url, tmp_path, "--follow", "--linger", "2")
        process = await starting
        follower = await trainer.expect(lambda m: isinstance(m, dict) and m.get("event") == "follower")
        assert follower["on"] is True
        _, stderr = await process.communicate()
        await trainer.close()
        assert process.returncode == 0, stderr.decode()
        return json.loads(report.read_text(encoding="utf-8"))

    data = asyncio.run(scenario())
    assert data["room"] == "gallery"
    miner = (9.0, 0.0)  # the gallery's centre, where the miner figure stands
    assert math.dist(data["position"][:2], miner) < 2.5
    assert "正在跟随导览" in data["messages"]
