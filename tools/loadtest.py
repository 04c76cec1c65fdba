"""Load test of the hub: N simulated members walk a hall and report pose delivery.

    python -m tools.loadtest ws://127.0.0.1:8080 --hall lobby --members 250 --rate 10 --seconds 20

Each member joins, walks between random points of its room and through
doorways into adjacent rooms, and sends a pose `--rate` times a second with
its send time in `t` (ms since the tool started).  Every pose batch received
is kept with its arrival time; after the run the tool reports:

- latency: arrival minus send time, on the first receipt of each pose by each
  receiver (p50, p90, p99, max);
- delivered: of the poses a receiver should have seen, the fraction it saw, or
  saw superseded by a newer pose of the same sender, within `--deadline` ms.
  "Should have seen" counts the poses a sender sent while it was in the
  receiver's batches (interest management decides who that is), so members
  beyond the nearest K are not counted as lost;
- exact: the fraction delivered as themselves rather than superseded (the
  hub sends the latest pose once a tick, so a faster sender is coalesced);
- batches: pose batches received per member per second against the tick rate;
- drops: members the server closed, with their close codes.

Against a server without a tick (`tick_hz` 0 in its welcome: a per-pose
fan-out), every pose is owed to every other member, and `delivered` is the
fraction that arrived within the deadline.

The manifest (rooms, doorways) comes from `--manifest FILE` or from
`/api/halls/{hall}` on the same host.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import Frame, Opcode

from halls_contract.body import EYE_HEIGHT
from halls_contract.hub import BATCH_HEADER, POSE_DTYPE
from halls_contract.manifest import Manifest, parse_manifest

log = logging.getLogger("loadtest")

WALK_SPEED = 1.2  # m/s


# --- the hall ----------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    """Rooms as walkable rectangles and the doorways between them."""

    rooms: dict[str, tuple[float, float, float, float]]
    doors: dict[str, list[tuple[str, float, float]]]

    @classmethod
    def from_manifest(cls, manifest: Manifest | dict) -> Floor:
        """From a manifest (typed, or JSON values checked with `parse_manifest`)."""
        if not isinstance(manifest, Manifest):
            manifest = parse_manifest(manifest)
        rooms = {}
        for room in manifest.rooms:
            (x0, y0, _), (x1, y1, _) = room.bounds.min, room.bounds.max
            rooms[room.id] = (x0 + 0.5, y0 + 0.5, max(x0 + 0.5, x1 - 0.5), max(y0 + 0.5, y1 - 0.5))
        doors: dict[str, list] = {room_id: [] for room_id in rooms}
        for door in manifest.doorways:
            a, b = door.room, door.to_room
            if a in rooms and b in rooms:
                x, y = door.position[:2]
                doors[a].append((b, x, y))
                doors[b].append((a, x, y))
        if not rooms:
            raise ValueError("the manifest has no rooms")
        return cls(rooms, doors)

    def random_point(self, rng: random.Random, room: str) -> tuple[float, float]:
        x0, y0, x1, y1 = self.rooms[room]
        return rng.uniform(x0, x1), rng.uniform(y0, y1)


class Walker:
    """One member's walk: waypoints in its room, now and then through a doorway."""

    def __init__(self, floor: Floor, rng: random.Random) -> None:
        self.floor, self.rng = floor, rng
        self.room = rng.choice(sorted(floor.rooms))
        self.x, self.y = floor.random_point(rng, self.room)
        self.heading = rng.uniform(0, 2 * math.pi)
        self.next_room: str | None = None
        """The room beyond the doorway it is walking to, if it is."""
        self._target()

    def _target(self) -> None:
        doors = self.floor.doors[self.room]
        if doors and self.rng.random() < 0.25:
            self.next_room, self.tx, self.ty = self.rng.choice(doors)
        else:
            self.next_room = None
            self.tx, self.ty = self.floor.random_point(self.rng, self.room)

    def step(self, dt: float) -> None:
        dx, dy = self.tx - self.x, self.ty - self.y
        distance = math.hypot(dx, dy)
        stride = WALK_SPEED * dt
        if distance <= stride:
            self.x, self.y = self.tx, self.ty
            if self.next_room is not None:
                self.room = self.next_room
            self._target()
            return
        self.heading = math.atan2(dy, dx)
        self.x += dx / distance * stride
        self.y += dy / distance * stride

    def pose_text(self, t: int) -> str:
        half = self.heading / 2
        return (
            f'{{"v":1,"type":"pose","room":"{self.room}","p":[{self.x:.3f},{self.y:.3f},{EYE_HEIGHT:.2f}],'
            f'"q":[0,0,{math.sin(half):.5f},{math.cos(half):.5f}],"t":{t:d}}}'
        )


# --- the run -----------------------------------------------------------------------


@dataclass
class MemberLog:
    """What one simulated member sent and received."""

    id: int = 0
    sent: list[int] = field(default_factory=list)
    batches: list[tuple[float, bytes]] = field(default_factory=list)
    closed: int | None = None
    reason: str = ""


@dataclass
class Run:
    url: str
    members: int
    rate: float
    seconds: float
    warmup: float
    floor: Floor
    connect_rate: float = 200.0
    seed: int = 1
    epoch: float = field(default_factory=time.monotonic)
    tick_hz: float = 0.0
    logs: list[MemberLog] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)
    """Measurement window, ms since `epoch`."""

    def now_ms(self) -> float:
        return (time.monotonic() - self.epoch) * 1000.0


@dataclass(eq=False)
class Simulated:
    """A joined member: its socket, its walk, its log, when it sends next."""

    ws: Any
    walker: Walker
    log: MemberLog
    next_at: float


class TimedConnection(ClientConnection):
    """A client connection that keeps pose batches with their arrival time as they are parsed.

    Timing frames here, not when a reader task gets to them, keeps the load
    tool's own scheduling out of the latency, and skips recv() for the bulk
    of the traffic.
    """

    run: Run | None = None
    batches: list[tuple[float, bytes]] | None = None

    def process_event(self, event) -> None:
        batches = self.batches
        if batches is not None and isinstance(event, Frame) and event.opcode is Opcode.BINARY and event.fin:
            run = self.run
            assert run is not None, "_member sets run and batches together"
            arrived = run.now_ms()
            if arrived >= run.window[0]:
                batches.append((arrived, bytes(event.data)))
            return
        super().process_event(event)


async def _member(run: Run, index: int, walking: list[Simulated], stop: asyncio.Event, joined: list[int]) -> None:
    """Connect and join, hand the member to the pacer, then read until the socket closes."""
    entry = MemberLog()
    run.logs.append(entry)
    rng = random.Random(run.seed * 100_003 + index)
    try:
        async with connect(
            run.url,
            compression=None,
            proxy=None,
            open_timeout=60,
            max_size=2**22,
            max_queue=64,
            ping_interval=None,
            create_connection=TimedConnection,
        ) as ws:
            await ws.send(json.dumps({"v": 1, "type": "join", "name": f"sim-{index:04d}"}))
            while True:
                first = await ws.recv()
                if isinstance(first, str) and json.loads(first)["type"] == "welcome":
                    welcome = json.loads(first)
                    break
            entry.id = welcome["id"]
            run.tick_hz = float(welcome.get("tick_hz") or 0.0)
            loop = asyncio.get_running_loop()
            assert isinstance(ws, TimedConnection), "connect() makes it with create_connection=TimedConnection"
            ws.run, ws.batches = run, entry.batches
            walking.append(Simulated(ws, Walker(run.floor, rng), entry, loop.time() + rng.uniform(0, 1 / run.rate)))
            joined.append(index)
            await _read(ws, entry, stop)
    except ConnectionClosed as exc:
        if not stop.is_set():
            entry.closed = exc.rcvd.code if exc.rcvd else 1006
            entry.reason = exc.rcvd.reason if exc.rcvd else "connection lost"
    except (TimeoutError, OSError, InvalidHandshake) as exc:
        entry.closed, entry.reason = -1, f"connect failed: {exc}"
        joined.append(index)


async def _pace(run: Run, walking: list[Simulated], stop: asyncio.Event) -> None:
    """One task sends every member's poses on time (cheaper than a timer per member)."""
    period = 1.0 / run.rate
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        now = loop.time()
        soonest = now + period
        for member in walking:
            if member.next_at > now:
                soonest = min(soonest, member.next_at)
                continue
            if member.log.closed is not None:
                continue
            member.next_at = max(member.next_at + period, now)
            member.walker.step(period)
            t = int(run.now_ms()) & 0xFFFFFFFF
            try:
                await member.ws.send(member.walker.pose_text(t))
            except ConnectionClosed:
                continue
            member.log.sent.append(t)
        await asyncio.sleep(max(0.0, soonest - loop.time()))


async def _read(ws, entry: MemberLog, stop: asyncio.Event) -> None:
    """Read text messages (roster, notices) until the socket closes; batches never get here."""
    try:
        async for _ in ws:
            pass
    except ConnectionClosed as exc:
        if not stop.is_set():
            entry.closed = exc.rcvd.code if exc.rcvd else 1006
            entry.reason = exc.rcvd.reason if exc.rcvd else "connection lost"


async def execute(run: Run) -> dict:
    """Connect everyone, walk, measure `seconds` after `warmup`, then analyse."""
    stop = asyncio.Event()
    joined: list[int] = []
    walking: list[Simulated] = []
    run.window = (math.inf, math.inf)
    pacer = asyncio.create_task(_pace(run, walking, stop))
    tasks = []
    for index in range(run.members):
        tasks.append(asyncio.create_task(_member(run, index, walking, stop, joined)))
        await asyncio.sleep(1.0 / run.connect_rate)
    async with asyncio.timeout(120):
        while len(joined) < run.members:
            await asyncio.sleep(0.05)
    log.info("%d members joined; warming up %.1f s", len(walking), run.warmup)
    start = run.now_ms() + run.warmup * 1000
    run.window = (start, start + run.seconds * 1000)
    await asyncio.sleep(run.warmup)
    cpu_start = os.times()
    await asyncio.sleep(run.seconds)
    cpu_end = os.times()
    stop.set()
    await pacer
    await asyncio.sleep(0.5)  # the last batches in flight
    await asyncio.gather(*(member.ws.close() for member in walking), return_exceptions=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    tool_cpu = (cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system) / run.seconds
    report = summarise(run.logs, run.window, run.tick_hz)
    wall = time.time() - (time.monotonic() - run.epoch)  # wall clock at the epoch
    report.update(
        members=run.members,
        rate_hz=run.rate,
        seconds=run.seconds,
        tool_cpu=round(tool_cpu, 3),
        window_unix=[round(wall + start / 1000, 3), round(wall + (start / 1000 + run.seconds), 3)],
    )
    return report


# --- the analysis --------------------------------------------------------------------


def summarise(
    logs: list[MemberLog],
    window: tuple[float, float],
    tick_hz: float,
    deadline_ms: float = 1000.0,
    gap_ms: float = 1000.0,
) -> dict:
    """Latency percentiles, delivered and exact fractions, batches, drops (see the module doc)."""
    start, end = window
    ids = np.array(sorted(e.id for e in logs if e.id), dtype=np.int64)
    # every pose sent, as one sorted key per (sender index, t)
    keys = []
    for entry in logs:
        if entry.id and entry.sent:
            row = np.searchsorted(ids, entry.id)
            keys.append(row * 2**32 + np.asarray(entry.sent, dtype=np.int64))
    sent = np.sort(np.concatenate(keys)) if keys else np.empty(0, np.int64)

    latencies, covered, on_time, exact, batch_rates = [], 0, 0, 0, []
    for entry in logs:
        in_window = [(a, d) for a, d in entry.batches if start <= a < end]
        if tick_hz and entry.closed is None and in_window:  # members with nobody in view get no batches
            batch_rates.append(len(in_window) / ((end - start) / 1000.0))
        if not entry.batches:
            continue
        counts = [BATCH_HEADER.unpack_from(d)[2] for _, d in entry.batches]
        records = np.frombuffer(b"".join(d[BATCH_HEADER.size :] for _, d in entry.batches), POSE_DTYPE)
        arrived = np.repeat(np.array([a for a, _ in entry.batches]), counts)
        known = np.isin(records["id"], ids)
        sender = np.searchsorted(ids, records["id"][known]).astype(np.int64)
        t = records["t"][known].astype(np.int64)
        arrived = arrived[known]
        keep = (t >= start) & (t < end)
        sender, t, arrived = sender[keep], t[keep], arrived[keep]
        if not len(t):
            continue
        # first receipt of each (sender, t)
        order = np.lexsort((arrived, t, sender))
        sender, t, arrived = sender[order], t[order], arrived[order]
        first = np.ones(len(t), bool)
        first[1:] = (sender[1:] != sender[:-1]) | (t[1:] != t[:-1])
        sender, t, arrived = sender[first], t[first], arrived[first]
        latencies.append(arrived - t)
        exact += len(t)
        # the poses each receipt covers: those sent since the previous receipt from that sender
        previous = np.empty_like(t)
        previous[1:] = t[:-1]
        continuing = np.zeros(len(t), bool)
        continuing[1:] = (sender[1:] == sender[:-1]) & (t[1:] - t[:-1] <= gap_ms)
        key = sender * 2**32
        hi = np.searchsorted(sent, key + t, "right")
        lo = np.where(continuing, np.searchsorted(sent, key + previous, "right"), hi - 1)
        late_before = np.ceil(arrived - deadline_ms).astype(np.int64) - 1
        lo_on_time = np.maximum(lo, np.searchsorted(sent, key + np.maximum(previous, late_before), "right"))
        lo_on_time = np.where(continuing, lo_on_time, np.where(arrived - t <= deadline_ms, hi - 1, hi))
        covered += int((hi - lo).sum())
        on_time += int((hi - lo_on_time).sum())

    latency = np.concatenate(latencies) if latencies else np.empty(0)
    if not tick_hz:
        # No tick: a per-pose fan-out owes every pose to every other member, seen or not.
        members = sum(1 for e in logs if e.id)
        covered = sum(1 for e in logs for t in e.sent if start <= t < end) * max(0, members - 1)
        on_time = exact = int((latency <= deadline_ms).sum())
    closed: dict[str, int] = {}
    for entry in logs:
        if entry.closed is not None:
            closed[str(entry.closed)] = closed.get(str(entry.closed), 0) + 1

    def pct(q: float) -> float | None:
        return round(float(np.percentile(latency, q)), 1) if len(latency) else None

    return {
        "latency_ms": {
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "max": round(float(latency.max()), 1) if len(latency) else None,
        },
        "receipts": int(len(latency)),
        "delivered": round(on_time / covered, 5) if covered else None,
        "exact": round(exact / covered, 5) if covered else None,
        "batches_per_s": round(float(np.mean(batch_rates)), 2) if batch_rates else None,
        "tick_hz": tick_hz,
        "poses_sent": int(sum(1 for e in logs for t in e.sent if start <= t < end)),
        "drops": {"closed": closed, "members_closed": sum(closed.values())},
    }


# --- command line --------------------------------------------------------------------


def hub_url(url: str, hall: str) -> str:
    parts = urlsplit(url)
    if "/ws/halls/" in parts.path:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + f"/ws/halls/{hall}", "", ""))


def fetch_manifest(url: str, hall: str) -> Manifest:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    with urllib.request.urlopen(urlunsplit((scheme, parts.netloc, f"/api/halls/{hall}", "", "")), timeout=10) as r:
        return parse_manifest(r.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.loadtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="server, e.g. ws://127.0.0.1:8080 (or a full /ws/halls/ID URL)")
    parser.add_argument("--hall", required=True, help="hall id")
    parser.add_argument("--members", type=int, default=24, help="simulated members (default 24)")
    parser.add_argument("--rate", type=float, default=10.0, help="poses per second per member (default 10)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds walked before measuring (default 3)")
    parser.add_argument("--connect-rate", type=float, default=200.0, help="new connections per second (default 200)")
    parser.add_argument("--manifest", help="hall manifest JSON file (default: GET /api/halls/HALL)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the walks")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.members < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error("--members, --rate and --seconds must be positive")
    try:
        if args.manifest:
            with open(args.manifest, "rb") as f:
                manifest = parse_manifest(f.read())
        else:
            manifest = fetch_manifest(args.url, args.hall)
        floor = Floor.from_manifest(manifest)
    except (OSError, ValueError, KeyError) as exc:
        parser.exit(1, f"loadtest: no usable manifest for hall {args.hall!r}: {exc}\n")
    run = Run(
        hub_url(args.url, args.hall),
        args.members,
        args.rate,
        args.seconds,
        args.warmup,
        floor,
        args.connect_rate,
        args.seed,
    )
    report = asyncio.run(execute(run))
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(format_report(report))
    return 0


def format_report(report: dict) -> str:
    latency = report["latency_ms"]
    drops = report["drops"]
    return (
        f"members {report['members']}  rate {report['rate_hz']:g} Hz  measured {report['seconds']:g} s\n"
        f"latency ms  p50 {latency['p50']}  p90 {latency['p90']}  p99 {latency['p99']}  max {latency['max']}\n"
        f"delivered {report['delivered']}  exact {report['exact']}  receipts {report['receipts']}\n"
        f"batches/s per member {report['batches_per_s']} (tick {report['tick_hz']:g} Hz)\n"
        f"drops: {drops['members_closed']} members closed {drops['closed']}\n"
        f"load tool CPU {report['tool_cpu']:.0%} of one core\n"
    )


if __name__ == "__main__":
    sys.exit(main())
