"""Helpers for the hub tests: a hub on an ephemeral port, a small hall, a WebSocket client.

No tests here; the `test_hub*` files import these.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager

from aiohttp import web
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from halls_contract.hub import decode_pose_batch, parse_server_message
from halls_contract.manifest import Bounds, Doorway, Exhibit, Manifest, Room, Spawn, Text, Theme, dump_manifest
from server.config import ServerConfig, load_config
from server.hub.service import HUB, MANIFEST_LOOKUP, ManifestLookup, add_hub


def box(x0: float, y0: float, x1: float, y1: float) -> Bounds:
    return Bounds(min=(x0, y0, 0.0), max=(x1, y1, 4.0))


def _room(room_id: str, bounds: Bounds) -> Room:
    return Room(id=room_id, title=Text(zh=room_id), shape="room", bounds=bounds)


def _door(room: str, to_room: str | None, to_hall: str | None, position) -> Doorway:
    return Doorway(room=room, to_room=to_room, to_hall=to_hall, position=position, width=2.0, heading=0.0)


def _panel(exhibit_id: str, room: str, position) -> Exhibit:
    return Exhibit(
        id=exhibit_id,
        room=room,
        kind="panel",
        node=f"{room}/exhibit/{exhibit_id}",
        title=Text(zh=exhibit_id),
        text=None,
        position=position,
        radius=2.0,
        assets=(),
    )


# lobby -- east, lobby -- north; far has no doorway to the others.
MANIFEST = dump_manifest(
    Manifest(
        id="alpha",
        title=Text(zh="阿尔法"),
        intro=None,
        order=0,
        theme=Theme(),
        spawn=Spawn(room="lobby", position=(5.0, 5.0, 0.0), heading=0.0),
        rooms=(
            _room("lobby", box(0, 0, 10, 10)),
            _room("east", box(10, 0, 20, 10)),
            _room("north", box(0, 10, 10, 20)),
            _room("far", box(100, 0, 110, 10)),
        ),
        doorways=(
            _door("lobby", "east", None, (10, 5, 0)),
            _door("lobby", "north", None, (5, 10, 0)),
            _door("far", None, "beta", (110, 5, 0)),
        ),
        chunks=(),
        exhibits=(_panel("lamp", "east", (15.0, 5.0, 0.0)), _panel("intro", "lobby", (5.0, 1.0, 0.0))),
        checkpoints=(),
    )
)


def hub_config(**overrides) -> ServerConfig:
    """A config from flat keys (`hub_neighbours=3`) as `halls serve` reads them; fast ticks for tests."""
    return load_config(flags=dict(hub_tick_hz=20, trainer_key="sesame") | overrides)


def build_app(manifests: dict | None = None, **keys) -> web.Application:
    """A bare application with only the hub, as the tests need it; `keys` are config keys."""
    manifests = {"alpha": MANIFEST} if manifests is None else manifests
    app = web.Application()
    lookup: ManifestLookup = manifests.get
    app[MANIFEST_LOOKUP] = lookup
    config = hub_config(**keys)
    add_hub(app, config.hub, redis_url=config.redis_url, trainer_key=config.auth.trainer_key)
    return app


@asynccontextmanager
async def serving(app: web.Application):
    """Serve `app` on 127.0.0.1 with an ephemeral port; yield the ws:// base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"ws://{host}:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_hub(manifests: dict | None = None, **config):
    app = build_app(manifests, **config)
    async with serving(app) as base:
        yield app, base


def stats(app: web.Application) -> dict:
    return app[HUB].stats()


class HubClient:
    """A real WebSocket client speaking the hub protocol."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.welcome: dict = {}
        self.seen: list[dict] = []
        """Every JSON message received, in order."""
        self.inbox: list[dict] = []
        """JSON messages received while waiting for something else, not yet expected."""

    @classmethod
    async def join(cls, base: str, name: str, hall: str = "alpha", **fields) -> HubClient:
        client = await cls.open(base, hall)
        await client.send(type="join", name=name, **fields)
        client.welcome = await client.expect("welcome")
        return client

    @classmethod
    async def open(cls, base: str, hall: str = "alpha", **options) -> HubClient:
        ws = await connect(f"{base}/ws/halls/{hall}", compression=None, open_timeout=5, **options)
        return cls(ws)

    @property
    def id(self) -> int:
        return self.welcome["id"]

    async def send(self, **fields) -> None:
        await self.ws.send(json.dumps({"v": 1, **fields}))

    async def pose(self, room: str, p, q=(0.0, 0.0, 0.0, 1.0), t: int | None = None) -> None:
        fields: dict[str, object] = {"type": "pose", "room": room, "p": list(p), "q": list(q)}
        if t is not None:
            fields["t"] = t
        await self.send(**fields)

    async def expect(self, type_: str, timeout: float = 5.0, **match) -> dict:
        """The first unexpected JSON message of `type_` (with matching fields), waiting for it if need be."""

        def wanted(message: dict) -> bool:
            return message["type"] == type_ and all(message.get(k) == v for k, v in match.items())

        for message in self.inbox:
            if wanted(message):
                self.inbox.remove(message)
                return message
        async with asyncio.timeout(timeout):
            while True:
                data = await self.ws.recv()
                if isinstance(data, bytes):
                    continue
                message = self._note(data)
                if wanted(message):
                    self.inbox.remove(message)
                    return message

    def _note(self, text: str) -> dict:
        message = json.loads(text)
        parse_server_message(message)  # every message the hub sends follows the contract's models
        self.seen.append(message)
        self.inbox.append(message)
        return message

    async def batch(self, timeout: float = 5.0, until=None):
        """The next pose batch as a record array (the first for which `until(records)` holds)."""
        async with asyncio.timeout(timeout):
            while True:
                data = await self.ws.recv()
                if isinstance(data, str):
                    self._note(data)
                    continue
                _, records = decode_pose_batch(data)
                if until is None or until(records):
                    return records

    async def closed(self, timeout: float = 5.0) -> tuple[int | None, str]:
        """Read until the server closes; the close code and reason."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as exc:
            received = exc.rcvd
            return (received.code, received.reason) if received else (None, "")

    async def close(self) -> None:
        """Close, reading what is still queued so the server's close frame gets through."""

        async def drain() -> None:
            try:
                while True:
                    await self.ws.recv()
            except ConnectionClosed:
                pass

        draining = asyncio.create_task(drain())
        await self.ws.close()
        await draining


async def keep_walking(client: HubClient, room: str, p, stop: asyncio.Event, hz: float = 20.0) -> None:
    """Send poses until `stop` is set (a member who keeps moving)."""
    x, y, z = p
    step = 0
    while not stop.is_set():
        step += 1
        await client.pose(room, (x + 0.01 * (step % 10), y, z), t=int(time.monotonic() * 1000) & 0xFFFFFFFF)
        try:
            await asyncio.wait_for(stop.wait(), 1.0 / hz)
        except TimeoutError:
            pass


def run(coro, timeout: float = 60.0):
    """Run one test scenario on a fresh event loop, bounded in time."""

    async def bounded():
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())
