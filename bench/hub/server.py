"""A benchmark server: the real hub, or a naive per-pose fan-out for comparison.

    python -m bench.hub.server --mode hub|naive --port 8765

Both serve `GET /ws/halls/bench`, `GET /api/halls/bench` (the benchmark hall)
and `GET /api/health`.  The naive mode forwards every pose to every other
member the moment it arrives, one send per receiver per pose, in the hub's
binary batch format (one record), so the same load tool measures both.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os

import numpy as np
from aiohttp import WSMsgType, web

from bench.hub.hall import bench_manifest
from halls_contract import hub as msg
from server.config import HubSettings
from server.hub.service import MANIFEST_LOOKUP, ManifestLookup, add_hub, hub_stats

MANIFESTS = web.AppKey("manifests", dict)


async def manifest(request: web.Request) -> web.Response:
    found = request.app[MANIFESTS].get(request.match_info["hall_id"])
    if found is None:
        raise web.HTTPNotFound()
    return web.json_response(found)


async def health(request: web.Request) -> web.Response:
    times = os.times()
    stats = hub_stats(request.app) if request.app.get(NAIVE) is None else request.app[NAIVE].stats()
    return web.json_response({"cpu_s": times.user + times.system, "hub": stats})


class NaiveFanout:
    """Every pose to every other member, immediately: the baseline the hub replaces."""

    def __init__(self, manifest: dict) -> None:
        self.rooms = {room["id"]: i for i, room in enumerate(manifest["rooms"])}
        self.sockets: dict[int, web.WebSocketResponse] = {}
        self.ids = itertools.count(1)
        self.sent = 0

    def stats(self) -> dict:
        return {"connections": len(self.sockets), "sent": self.sent}

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, heartbeat=20)
        await ws.prepare(request)
        member_id = next(self.ids)
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                if data["type"] == "join":
                    self.sockets[member_id] = ws
                    await ws.send_str(
                        msg.encode(
                            "welcome",
                            id=member_id,
                            name=data["name"],
                            role="member",
                            hall="bench",
                            tick_hz=0,
                            neighbours=None,
                            members=[],
                            tour=None,
                        )
                    )
                elif data["type"] == "pose":
                    record = msg.pose_record(
                        member_id, data.get("t", 0), data["p"], data["q"], self.rooms.get(data["room"], msg.NO_ROOM), 0
                    )
                    frame = msg.encode_batch_header(1, 0) + np.array([record], msg.POSE_DTYPE).tobytes()
                    for other_id, other in list(self.sockets.items()):
                        if other_id != member_id and not other.closed:
                            try:
                                await other.send_bytes(frame)
                                self.sent += 1
                            except ConnectionError:
                                pass
        finally:
            self.sockets.pop(member_id, None)
        return ws


NAIVE = web.AppKey("naive", NaiveFanout)


def make_app(mode: str, settings: HubSettings, redis_url: str | None = None) -> web.Application:
    app = web.Application()
    manifests = {"bench": bench_manifest()}
    app[MANIFESTS] = manifests
    app.router.add_get("/api/halls/{hall_id}", manifest)
    app.router.add_get("/api/health", health)
    if mode == "hub":
        lookup: ManifestLookup = manifests.get
        app[MANIFEST_LOOKUP] = lookup
        add_hub(app, settings, redis_url=redis_url)
    else:
        naive = app[NAIVE] = NaiveFanout(manifests["bench"])
        app.router.add_get("/ws/halls/{hall_id}", naive.handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("hub", "naive"), default="hub")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tick-hz", type=float, default=10.0)
    parser.add_argument("--neighbours", type=int, default=32)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = HubSettings(tick_hz=args.tick_hz, neighbours=args.neighbours)
    web.run_app(
        make_app(args.mode, settings, args.redis_url),
        host="127.0.0.1",
        port=args.port,
        print=None,
        backlog=2048,
        access_log=None,
    )


if __name__ == "__main__":
    main()
