"""Redis backend of the hub: presence and tours shared by several worker processes.

Each worker publishes on `{prefix}:hall:{hall_id}`: JSON events (joined, left,
tour cues, follow) and, every tick, one binary frame with its members' changed
poses (all of them once a second).  `{prefix}:all` carries reload notices and
a roster heartbeat every second from each worker; a worker silent for
`GONE_AFTER` seconds is taken as dead and its members leave.  Member ids come
from `INCR {prefix}:member-ids`; the tour of a hall is claimed with
`SET {prefix}:tour:{hall_id} NX EX`.  Everything published goes through one
queue and one task, so other workers see a worker's events in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
import uuid
from typing import Any

import numpy as np
import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from halls_contract import hub as msg

log = logging.getLogger(__name__)

HEARTBEAT = 1.0
"""Seconds between roster heartbeats."""
GONE_AFTER = 3.5
"""Seconds of silence after which a worker's members leave."""
TOUR_CLAIM_TTL = 10
"""Seconds a tour claim lives unless the leader's worker refreshes it."""
KEYFRAME_TICKS = 10
"""Every this many ticks a worker publishes all its members' poses, changed or not."""
OUTBOX_LIMIT = 10_000

POSE_FRAME = struct.Struct("<BB16sH")
"""kind (2), version (1), worker id (16 ASCII bytes), count; then `POSE_DTYPE` records."""
POSE_FRAME_KIND = 2

_RELEASE_TOUR = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisBus:
    """Shares this worker's hub events with the other workers through Redis pub/sub."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "tunlan:hub") -> None:
        self.url = url
        self.prefix = prefix
        self.proc = uuid.uuid4().hex[:16]
        self.hub: Any = None
        self.redis: redis.Redis | None = None
        self.pubsub: PubSub | None = None
        self.outbox: asyncio.Queue[tuple] = asyncio.Queue(OUTBOX_LIMIT)
        self.heard: dict[str, float] = {}
        self.dropped = 0
        self._tasks: list[asyncio.Task] = []
        self._hall_prefix = f"{prefix}:hall:".encode()
        self._all = f"{prefix}:all"

    # lifecycle

    async def start(self, hub: Any) -> None:
        self.hub = hub
        self.redis = redis.from_url(self.url)
        await self.redis.ping()
        pubsub = self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.psubscribe(f"{self.prefix}:hall:*")
        await pubsub.subscribe(self._all)
        self._tasks = [
            asyncio.create_task(self._read(), name="hub-redis-read"),
            asyncio.create_task(self._write(), name="hub-redis-write"),
            asyncio.create_task(self._heartbeat(), name="hub-redis-heartbeat"),
        ]
        self.publish(None, {"kind": "hello"})
        log.info("hub redis backend worker=%s url=%s", self.proc, self.url)

    async def stop(self) -> None:
        """Say goodbye, flush what is queued, close the connections."""
        self.publish(None, {"kind": "bye"})
        try:
            async with asyncio.timeout(2.0):
                while not self.outbox.empty():
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)  # the last pipeline in flight
        except TimeoutError:
            log.warning("hub redis: %d events not published at shutdown", self.outbox.qsize())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.pubsub is not None:
            await self.pubsub.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    @property
    def client(self) -> redis.Redis:
        assert self.redis is not None, "start() connects before the hub or the tasks use the bus"
        return self.redis

    # what the hub calls

    async def next_member_id(self) -> int:
        value = await self.client.incr(f"{self.prefix}:member-ids")
        return (value - 1) % 0xFFFFFFFF + 1

    async def claim_tour(self, hall_id: str, leader: int) -> bool:
        return bool(await self.client.set(self._tour_key(hall_id), leader, nx=True, ex=TOUR_CLAIM_TTL))

    def release_tour(self, hall_id: str, leader: int) -> None:
        self._enqueue(("eval", _RELEASE_TOUR, 1, self._tour_key(hall_id), leader))

    def publish(self, hall_id: str | None, event: dict) -> None:
        channel = self._all if hall_id is None else f"{self.prefix}:hall:{hall_id}"
        body = json.dumps({**event, "proc": self.proc}, separators=(",", ":"), ensure_ascii=False)
        self._enqueue(("publish", channel, body.encode()))

    def publish_poses(self, hall_id: str, records: np.ndarray) -> None:
        header = POSE_FRAME.pack(POSE_FRAME_KIND, msg.PROTOCOL_VERSION, self.proc.encode(), len(records))
        self._enqueue(("publish", f"{self.prefix}:hall:{hall_id}", header + records.tobytes()))

    def tick(self, hub: Any) -> None:
        keyframe = hub.tick_no % KEYFRAME_TICKS == 0
        for hall in hub.halls.values():
            changed = hall.take_changed_local()
            records = hall.local_records() if keyframe else changed
            if len(records):
                self.publish_poses(hall.id, records)

    # internals

    def _tour_key(self, hall_id: str) -> str:
        return f"{self.prefix}:tour:{hall_id}"

    def _enqueue(self, command: tuple) -> None:
        try:
            self.outbox.put_nowait(command)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("hub redis outbox full: %d events dropped", self.dropped)

    async def _write(self) -> None:
        """Publish queued commands in pipelines, in order."""
        while True:
            batch = [await self.outbox.get()]
            while not self.outbox.empty() and len(batch) < 512:
                batch.append(self.outbox.get_nowait())
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for command, *args in batch:
                        getattr(pipe, command)(*args)
                    await pipe.execute()
            except RedisError as exc:
                self.dropped += len(batch)
                log.warning("hub redis publish failed (%d events lost): %s", len(batch), exc)
                await asyncio.sleep(0.5)

    async def _read(self) -> None:
        pubsub = self.pubsub
        assert pubsub is not None, "start() subscribes before it starts reading"
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except RedisError as exc:
                log.warning("hub redis subscription failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            try:
                self._receive(message["channel"], message["data"])
            except Exception:  # a bad message from a peer must not stop the reader
                log.exception("hub redis: cannot apply a message on %r", message.get("channel"))

    def _receive(self, channel: bytes, data: bytes) -> None:
        hub = self.hub
        hall_id = channel[len(self._hall_prefix) :].decode() if channel.startswith(self._hall_prefix) else None
        if data[:1] == bytes([POSE_FRAME_KIND]):
            _, _, proc, count = POSE_FRAME.unpack_from(data)
            proc = proc.decode()
            if proc != self.proc and hall_id is not None:
                self.heard[proc] = time.monotonic()
                hub.remote_poses(hall_id, np.frombuffer(data, msg.POSE_DTYPE, count, POSE_FRAME.size))
            return
        event = json.loads(data)
        proc = event.pop("proc")
        if proc == self.proc:
            return
        self.heard[proc] = time.monotonic()
        kind = event["kind"]
        if kind == "joined":
            hub.remote_joined(hall_id, proc, event["members"])
        elif kind == "left":
            hub.remote_left(hall_id, event["ids"])
        elif kind == "tour":
            hub.remote_cue(hall_id, event["cue"])
        elif kind == "follow":
            hub.remote_follow(hall_id, event["leader"], event["member"], event["on"])
        elif kind == "alive":
            hub.remote_roster(proc, event["halls"])
        elif kind == "hello":
            self._send_roster()
        elif kind == "bye":
            self.heard.pop(proc, None)
            hub.remote_gone(proc)
        elif kind == "reload":
            hub.deliver_reload(event["hall"], event["changed"], event["error"])

    def _send_roster(self) -> None:
        self.publish(None, {"kind": "alive", "halls": self.hub.local_roster()})

    async def _heartbeat(self) -> None:
        """Every second: our roster, our tour claims refreshed, silent workers reaped."""
        while True:
            await asyncio.sleep(HEARTBEAT)
            roster = self.hub.local_roster()
            self.publish(None, {"kind": "alive", "halls": roster})
            for hall_id, state in roster.items():
                if "tour" in state:
                    self._enqueue(("expire", self._tour_key(hall_id), TOUR_CLAIM_TTL))
            now = time.monotonic()
            for proc, heard in list(self.heard.items()):
                if now - heard > GONE_AFTER:
                    log.warning("hub redis: worker %s silent for %.1f s, its members leave", proc, now - heard)
                    del self.heard[proc]
                    self.hub.remote_gone(proc)
