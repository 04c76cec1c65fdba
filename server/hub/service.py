"""The WebSocket hub: presence, guided tours and live-reload notices, per hall.

`add_hub(app, settings)` registers `GET /ws/halls/{hall_id}`.  Members join with
a name, send poses, and every tick each member gets one binary batch with the
poses of its nearest `hub_neighbours` others in the same or adjacent rooms.
Trainers lead tours.  With `redis_url` set, presence and tours cross worker
processes through Redis pub/sub (`server.hub.redis_backend`); otherwise all state is
in this process.  The protocol is described in `halls_contract.hub`.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from aiohttp import WebSocketError, WSMsgType, web

from halls_contract import hub as msg
from server.config import HubSettings
from server.hub.connection import PING, Connection, HubSocket, RateLimit, frame
from server.hub.hall import Hall, Member, Tour
from server.learning.auth import hub_identity
from server.web.events import BuildNotice

log = logging.getLogger(__name__)

ManifestLookup = Callable[[str], Mapping[str, Any] | None]
Authenticator = Callable[[web.Application, msg.Join], Awaitable["Identity"]]

MANIFEST_LOOKUP: web.AppKey[ManifestLookup] = web.AppKey("hub_manifest_lookup")
"""`lookup(hall_id) -> manifest dict | None`: the current build's manifest; set by the app."""
AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("hub_authenticator")
"""Optional override of `authenticate` (accounts arrive with the quiz issue)."""


TourMessage = msg.TourStart | msg.TourGoto | msg.TourNarrate | msg.TourGather | msg.TourEnd


# --- identity ----------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who a connection is, as the authenticator decided."""

    name: str
    role: Literal["member", "trainer"] = "member"
    account: str | None = None
    """Account id once accounts exist; None for guests."""


class AuthError(Exception):
    """The join was refused; the message becomes the close reason."""


async def authenticate(app: web.Application, join: msg.Join) -> Identity:
    """A session token names the member and role; else trust the name, trainer only with the configured key."""
    token = join.token
    if token:
        try:
            account, name, role = hub_identity(app, token)
        except LookupError as error:
            raise AuthError(str(error)) from None
        return Identity(
            name=name or join.name.strip(), role="member" if role == "member" else "trainer", account=account
        )
    trainer_key = app[HUB].trainer_key
    trainer = (
        join.role == "trainer"
        and trainer_key is not None
        and join.key is not None
        and hmac.compare_digest(join.key.encode(), trainer_key.encode())
    )
    name = join.name.strip()
    if not name:
        raise AuthError("name must not be blank")
    return Identity(name=name, role="trainer" if trainer else "member")


# --- the hub -------------------------------------------------------------------


class LocalBus:
    """No other workers: member ids from a counter, nothing published."""

    name = "local"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def start(self, hub: Hub) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def next_member_id(self) -> int:
        return next(self._ids)

    async def claim_tour(self, hall_id: str, leader: int) -> bool:
        return True

    def release_tour(self, hall_id: str, leader: int) -> None:
        pass

    def publish(self, hall_id: str | None, event: dict) -> None:
        pass

    def publish_poses(self, hall_id: str, records: np.ndarray) -> None:
        pass

    def tick(self, hub: Hub) -> None:
        pass


@dataclass
class HubCounters:
    slow_consumer: int = 0
    protocol: int = 0
    heartbeat: int = 0
    ticks: int = 0
    late_ticks: int = 0
    last_tick_ms: float = 0.0
    max_tick_ms: float = 0.0


class Hub:
    """All halls of this worker, their members and the tick that feeds them."""

    def __init__(self, app: web.Application, settings: HubSettings, bus: Any, trainer_key: str | None = None) -> None:
        self.app = app
        self.settings = settings
        self.bus = bus
        self.halls: dict[str, Hall] = {}
        self.trainer_key = trainer_key
        """Key that grants the trainer role to a join without a session token; None grants it to nobody."""
        self.connections: set[Connection] = set()
        self.counters = HubCounters()
        self.tick_no = 0
        self._tasks: set[asyncio.Task] = set()

    # lifecycle

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run_ticks(self) -> None:
        """Tick at a fixed rate; a tick that overruns skips ahead instead of bunching."""
        loop = asyncio.get_running_loop()
        period = 1.0 / self.settings.tick_hz
        deadline = loop.time()
        while True:
            deadline += period
            delay = deadline - loop.time()
            if delay < 0:
                self.counters.late_ticks += 1
                deadline = loop.time()
            else:
                await asyncio.sleep(delay)
            started = time.perf_counter()
            try:
                self.tick()
            except Exception:  # one bad tick must not stop presence for everyone
                log.exception("hub tick failed")
            spent = (time.perf_counter() - started) * 1000
            self.counters.last_tick_ms = spent
            self.counters.max_tick_ms = max(self.counters.max_tick_ms, spent)

    async def run_heartbeats(self) -> None:
        """Ping sockets silent for `heartbeat` seconds; abort those that stay silent half as long again.

        The hub's own heartbeat rather than aiohttp's `heartbeat=`, which
        schedules a callback for every received chunk (~6% of a core at
        1,000 members sending 10 poses a second).
        """
        interval = self.settings.heartbeat
        if not interval:
            return
        loop = asyncio.get_running_loop()
        ping = frame(b"", PING)
        while True:
            await asyncio.sleep(interval / 4)
            now = loop.time()
            for conn in list(self.connections):
                if conn.pinged_at is not None and conn.last_heard >= conn.pinged_at:
                    conn.pinged_at = None
                if conn.pinged_at is None:
                    if now - conn.last_heard >= interval:
                        conn.pinged_at = now
                        conn.send_frame(ping)
                elif now - conn.pinged_at >= interval / 2 and not conn.dead:
                    conn.dead = conn.closing = True
                    if conn.transport is not None:
                        conn.transport.abort()

    def tick(self) -> None:
        self.tick_no += 1
        self.counters.ticks += 1
        lookup = self.app.get(MANIFEST_LOOKUP)
        k = self.settings.neighbours
        for hall in list(self.halls.values()):
            if lookup is not None:
                hall.refresh(lookup(hall.id))
            hall.flush_roster()
            if hall.dirty:
                hall.send_poses(self.tick_no, k)
            if not hall.members and hall.tour is None:
                del self.halls[hall.id]
        self.bus.tick(self)

    async def shutdown(self) -> None:
        """Close every socket with 1001 (going away)."""
        closing = [conn.close(msg.CLOSE_GOING_AWAY, b"server shutting down") for conn in list(self.connections)]
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()

    # halls

    def hall(self, hall_id: str) -> Hall:
        hall = self.halls.get(hall_id)
        if hall is None:
            lookup = self.app.get(MANIFEST_LOOKUP)
            hall = self.halls[hall_id] = Hall(hall_id, lookup(hall_id) if lookup else None)
        return hall

    # one connection

    async def serve(self, request: web.Request, hall_id: str) -> web.StreamResponse:
        settings = self.settings
        ws = HubSocket(
            limit=settings.max_message_bytes,
            autoping=False,
            timeout=2.0,
            compress=False,
            max_msg_size=4 * settings.max_message_bytes,
            writer_limit=max(1024, settings.send_buffer // 4),
        )
        try:
            await ws.prepare(request)
        except ConnectionError:  # the client left during the handshake: there is no one to answer
            return web.Response(status=400, text="the client left during the WebSocket handshake")
        conn = Connection(ws, request, settings.queue_limit, settings.send_buffer, self._overflow)
        self.connections.add(conn)
        member: Member | None = None
        try:
            join = await self._receive_join(conn)
            identity = await self.app.get(AUTHENTICATOR, authenticate)(self.app, join)
            member = await self._admit(conn, hall_id, identity)
            await self._receive(conn, member)
        except msg.ProtocolError as exc:
            self.counters.protocol += 1
            log.info(
                "hub close peer=%s member=%s code=%d reason=%s",
                conn.peer,
                member.id if member else None,
                exc.code,
                exc.reason,
            )
            await conn.close(exc.code, exc.reason_bytes)
        except AuthError as exc:
            self.counters.protocol += 1
            await conn.close(msg.CLOSE_POLICY, msg.ProtocolError(msg.CLOSE_POLICY, f"join: {exc}").reason_bytes)
        finally:
            self.connections.discard(conn)
            conn.stop_writer()
            if member is not None:
                self._leave(member)
            if conn.dead:
                self.counters.heartbeat += 1
                log.info("hub heartbeat lost peer=%s member=%s", conn.peer, member.id if member else None)
        return ws

    async def _next_text(self, conn: Connection) -> str | None:
        """The next text frame, None once the socket closed; protocol errors raise."""
        ws, clock = conn.ws, asyncio.get_running_loop().time
        while True:
            message = await ws.receive()
            conn.last_heard = clock()
            if message.type is WSMsgType.PING:
                try:
                    await ws.pong(message.data)
                except ConnectionError:  # the client left with pings still unanswered
                    return None
            elif message.type is not WSMsgType.PONG:
                break
        if message.type is WSMsgType.TEXT:
            data = message.data
            limit = self.settings.max_message_bytes
            if len(data) > limit // 4 and len(data.encode()) > limit:
                raise msg.ProtocolError(
                    msg.CLOSE_TOO_BIG, f"message of {len(data.encode())} bytes exceeds the limit of {limit}"
                )
            return data
        if message.type is WSMsgType.BINARY:
            raise msg.ProtocolError(msg.CLOSE_UNSUPPORTED, "binary frames are not accepted: send JSON text")
        if message.type is WSMsgType.ERROR:
            if isinstance(message.data, WebSocketError):  # aiohttp refused a frame and closed, saying why
                raise msg.ProtocolError(message.data.code, ws.close_reason)
            log.info("hub socket error peer=%s: %s", conn.peer, message.data)
        return None

    async def _receive_join(self, conn: Connection) -> msg.Join:
        try:
            async with asyncio.timeout(self.settings.join_timeout):
                text = await self._next_text(conn)
        except TimeoutError:
            raise msg.ProtocolError(msg.CLOSE_POLICY, "join: no join message in time") from None
        if text is None:
            raise msg.ProtocolError(msg.CLOSE_POLICY, "join: closed before joining")
        first = msg.parse_client_message(text)
        if not isinstance(first, msg.Join):
            raise msg.ProtocolError(msg.CLOSE_POLICY, f"{first.type}: send join first")
        return first

    async def _admit(self, conn: Connection, hall_id: str, identity: Identity) -> Member:
        member_id = await self.bus.next_member_id()
        hall = self.hall(hall_id)
        others = [m.info for m in hall.members.values()]
        member = hall.add(member_id, identity.name, identity.role, conn, None)
        loop = asyncio.get_running_loop()
        burst = self.settings.rate_burst
        member.poses = RateLimit(self.settings.max_rate_hz, burst * self.settings.max_rate_hz, loop.time())
        member.control = RateLimit(self.settings.control_rate_hz, burst * self.settings.control_rate_hz, loop.time())
        conn.send(
            msg.encode(
                "welcome",
                id=member.id,
                name=member.name,
                role=member.role,
                hall=hall_id,
                tick_hz=self.settings.tick_hz,
                neighbours=self.settings.neighbours,
                members=others,
                tour=hall.tour.describe() if hall.tour else None,
                limits={
                    "max_rate_hz": self.settings.max_rate_hz,
                    "control_rate_hz": self.settings.control_rate_hz,
                    "max_message_bytes": self.settings.max_message_bytes,
                },
            )
        )
        self.bus.publish(hall_id, {"kind": "joined", "members": [member.info]})
        log.info("hub join hall=%s member=%d role=%s peer=%s", hall_id, member.id, member.role, conn.peer)
        return member

    async def _receive(self, conn: Connection, member: Member) -> None:
        hall, poses, control = member.hall, member.poses, member.control
        assert hall is not None and poses is not None and control is not None  # set by `_admit`
        loop = asyncio.get_running_loop()
        parse, Pose = msg.parse_client_message, msg.Pose
        while not conn.closing:
            text = await self._next_text(conn)
            if text is None:
                return
            message = parse(text)
            if type(message) is Pose:
                if not poses.allow(loop.time()):
                    raise msg.ProtocolError(
                        msg.CLOSE_POLICY, f"rate limit: more than {self.settings.max_rate_hz:g} poses a second"
                    )
                self._pose(hall, member, message, loop)
                continue
            if not control.allow(loop.time()):
                raise msg.ProtocolError(
                    msg.CLOSE_POLICY, f"rate limit: more than {self.settings.control_rate_hz:g} messages a second"
                )
            await self._dispatch(hall, member, message)

    def _pose(self, hall: Hall, member: Member, pose: msg.Pose, loop) -> None:
        room = hall.graph.index.get(pose.room)
        if room is None:
            raise msg.ProtocolError(msg.CLOSE_POLICY, f"pose.room: no room {pose.room!r} in hall {hall.id!r}")
        q = msg.check_quaternion(pose.q)
        t = pose.t if pose.t is not None else int(loop.time() * 1000) & 0xFFFFFFFF
        slot = member.slot
        hall.table[slot] = msg.pose_record(member.id, t, pose.p, q, room, member.pose_flags)
        member.room_id = pose.room
        hall.has_pose[slot] = hall.changed[slot] = True
        hall.dirty = True

    async def _dispatch(self, hall: Hall, member: Member, message: msg.AnyClientMessage) -> None:
        if isinstance(message, msg.Ping):
            self._tell(member, msg.encode("pong", t=message.t))
        elif isinstance(message, msg.Follow):
            self._follow(hall, member, message.on)
        elif isinstance(message, msg.Join):
            raise msg.ProtocolError(msg.CLOSE_POLICY, "join: already joined")
        elif not isinstance(message, msg.Pose):
            await self._tour_command(hall, member, message)

    @staticmethod
    def _tell(member: Member, text: str) -> None:
        if member.conn is not None:
            member.conn.send(text)

    # tours

    def _error(self, member: Member, code: str, text: str, ref: str) -> None:
        self._tell(member, msg.encode("error", code=code, text=text, ref=ref))

    async def _tour_command(self, hall: Hall, member: Member, message: TourMessage) -> None:
        kind = message.type
        if member.role != "trainer":
            return self._error(member, "forbidden", "only trainers may lead tours", kind)
        if isinstance(message, msg.TourStart):
            if hall.tour is not None:
                if hall.tour.leader != member.id:
                    return self._error(member, "tour-active", f"{hall.tour.leader_name} is leading a tour", kind)
                return self._tell(member, msg.encode("tour", event="start", **hall.tour.describe()))
            if not await self.bus.claim_tour(hall.id, member.id) or hall.tour is not None:
                return self._error(member, "tour-active", "another trainer is leading a tour", kind)
            if member.id not in hall.members:  # left while claiming
                return self.bus.release_tour(hall.id, member.id)
            return self._cue(hall, {"event": "start", "leader": {"id": member.id, "name": member.name}})
        if hall.tour is None or hall.tour.leader != member.id:
            return self._error(member, "not-leader", "start a tour first", kind)
        if isinstance(message, msg.TourGoto):
            exhibit = hall.exhibits.get(message.exhibit)
            if exhibit is None:
                return self._error(member, "unknown-exhibit", f"no exhibit {message.exhibit!r} in this hall", kind)
            self._cue(
                hall,
                {"event": "goto", "exhibit": exhibit["id"], "room": exhibit.get("room"), "p": exhibit.get("position")},
            )
        elif isinstance(message, msg.TourNarrate):
            self._cue(hall, {"event": "narrate", "text": message.text})
        elif isinstance(message, msg.TourGather):
            if message.room not in hall.graph.index:
                return self._error(member, "unknown-room", f"no room {message.room!r} in this hall", kind)
            self._cue(hall, {"event": "gather", "room": message.room, "p": list(message.p)})
        elif isinstance(message, msg.TourEnd):
            self._cue(hall, {"event": "end", "reason": "leader-ended"})

    def _cue(self, hall: Hall, cue: dict) -> None:
        """Apply a tour cue from this worker and share it with the others."""
        if hall.tour is not None:
            cue.setdefault("leader", hall.tour.leader)
        self.apply_cue(hall, cue)
        self.bus.publish(hall.id, {"kind": "tour", "cue": cue})
        if cue["event"] == "end":
            self.bus.release_tour(hall.id, cue["leader"])

    def apply_cue(self, hall: Hall, cue: dict) -> None:
        """Change the tour state and tell local members (start/end: everyone; others: followers)."""
        event = cue["event"]
        if event == "start":
            leader = cue["leader"]
            hall.tour = Tour(leader["id"], leader["name"])
            hall.set_leader_flag(leader["id"], True)
            hall.broadcast(msg.encode("tour", **cue))
            return
        tour = hall.tour
        if tour is None:
            return
        text = msg.encode("tour", **cue)
        if event == "end":
            hall.broadcast(text)
            hall.set_leader_flag(tour.leader, False)
            for member in hall.local_members():
                member.following = False
            hall.tour = None
            return
        if event in ("goto", "gather"):
            tour.last = cue
        hall.broadcast(text, only=lambda m: m.following)

    def _follow(self, hall: Hall, member: Member, on: bool) -> None:
        tour = hall.tour
        if tour is None:
            return self._error(member, "no-tour", "no tour is running in this hall", "follow")
        member.following = on
        self._tell(member, msg.encode("tour", event="following", on=on, **tour.describe()))
        self.apply_follow(hall, tour.leader, member.info, on)
        self.bus.publish(hall.id, {"kind": "follow", "leader": tour.leader, "member": member.info, "on": on})

    def apply_follow(self, hall: Hall, leader: int, who: dict, on: bool) -> None:
        """Tell the leader (if here) that someone started or stopped following."""
        tour = hall.tour
        lead = hall.members.get(leader)
        if tour is None or tour.leader != leader or lead is None or lead.conn is None:
            return
        (tour.followers.add if on else tour.followers.discard)(who["id"])
        lead.conn.send(msg.encode("tour", event="follower", member=who, on=on, followers=len(tour.followers)))

    # leaving

    def _leave(self, member: Member) -> None:
        hall = member.hall
        assert hall is not None  # every member belongs to the hall that added it
        if hall.tour is not None and hall.tour.leader == member.id:
            self._cue(hall, {"event": "end", "reason": "leader-left", "leader": member.id})
        elif member.following and hall.tour is not None:
            self.apply_follow(hall, hall.tour.leader, member.info, False)
            self.bus.publish(
                hall.id, {"kind": "follow", "leader": hall.tour.leader, "member": member.info, "on": False}
            )
        hall.remove(member)
        self.bus.publish(hall.id, {"kind": "left", "ids": [member.id]})
        log.info("hub leave hall=%s member=%d", hall.id, member.id)

    def _overflow(self, conn: Connection) -> None:
        if conn.closing:
            return
        conn.closing = True
        self.counters.slow_consumer += 1
        log.warning("hub slow consumer dropped peer=%s queue=%d", conn.peer, conn.depth)
        self.spawn(conn.close(msg.CLOSE_TRY_AGAIN, b"send queue full: slow consumer"))

    # from other workers

    def remote_joined(self, hall_id: str, proc: str, members: list[dict]) -> None:
        hall = self.hall(hall_id)
        for info in members:
            if info["id"] not in hall.members:
                hall.add(info["id"], info["name"], info["role"], None, proc)

    def remote_left(self, hall_id: str, ids: list[int]) -> None:
        hall = self.halls.get(hall_id)
        if hall is None:
            return
        for member_id in ids:
            member = hall.members.get(member_id)
            if member is not None and member.conn is None:
                if hall.tour is not None and hall.tour.leader == member_id:
                    self.apply_cue(hall, {"event": "end", "reason": "leader-left", "leader": member_id})
                hall.remove(member)

    def remote_poses(self, hall_id: str, records: np.ndarray) -> None:
        hall = self.halls.get(hall_id)
        if hall is None:
            return
        members = hall.members
        slots = []
        keep = []
        for index, member_id in enumerate(records["id"].tolist()):
            member = members.get(member_id)
            if member is not None and member.conn is None:
                slots.append(member.slot)
                keep.append(index)
        if slots:
            hall.table[slots] = records[keep]
            hall.has_pose[slots] = True
            hall.dirty = True

    def remote_cue(self, hall_id: str, cue: dict) -> None:
        hall = self.halls.get(hall_id)
        if hall is None and cue["event"] != "start":
            return
        self.apply_cue(hall or self.hall(hall_id), cue)

    def remote_follow(self, hall_id: str, leader: int, who: dict, on: bool) -> None:
        hall = self.halls.get(hall_id)
        if hall is not None:
            self.apply_follow(hall, leader, who, on)

    def remote_roster(self, proc: str, halls: dict[str, dict]) -> None:
        """Reconcile with another worker's full roster (sent every second)."""
        for hall_id, state in halls.items():
            self.remote_joined(hall_id, proc, state["members"])
            hall = self.halls[hall_id]
            listed = {info["id"] for info in state["members"]}
            gone = [m.id for m in hall.members.values() if m.proc == proc and m.id not in listed]
            self.remote_left(hall_id, gone)
            tour = state.get("tour")
            if tour is not None and hall.tour is None:
                self.apply_cue(hall, {"event": "start", "leader": tour["leader"]})
                started = self.halls[hall_id].tour  # just set by the cue
                if started is not None:
                    started.last = tour.get("last")
        for hall in list(self.halls.values()):
            if hall.id not in halls:
                self.remote_left(hall.id, [m.id for m in hall.members.values() if m.proc == proc])

    def remote_gone(self, proc: str) -> None:
        """Another worker stopped answering: its members leave."""
        for hall in list(self.halls.values()):
            self.remote_left(hall.id, [m.id for m in hall.members.values() if m.proc == proc])

    def local_roster(self) -> dict[str, dict]:
        roster = {}
        for hall in self.halls.values():
            members = [m.info for m in hall.local_members()]
            if not members:
                continue
            state: dict[str, Any] = {"members": members}
            tour = hall.tour
            if tour is not None and tour.leader in hall.members and hall.members[tour.leader].conn is not None:
                state["tour"] = tour.describe()
            roster[hall.id] = state
        return roster

    # live reload

    async def on_build(self, notice: BuildNotice) -> None:
        """Receiver of the app's build events: tell this worker's clients (and others', when shared)."""
        self.deliver_reload(notice.hall_id, list(notice.changed), notice.error)
        if notice.share:
            self.publish_reload(notice.hall_id, list(notice.changed), notice.error)

    def publish_reload(self, hall_id: str | None, changed: list[str], error: str | None) -> None:
        self.bus.publish(None, {"kind": "reload", "hall": hall_id, "changed": list(changed), "error": error})

    def deliver_reload(self, hall_id: str | None, changed: list[str], error: str | None) -> None:
        if hall_id is None:
            halls = list(self.halls.values())
        else:
            halls = [self.halls[hall_id]] if hall_id in self.halls else []
        for hall in halls:
            if error is not None:
                hall.broadcast(msg.encode("build-error", hall=hall_id, text=error), only=lambda m: m.role == "trainer")
            else:
                hall.broadcast(msg.encode("reload", hall=hall.id, chunks=list(changed)))

    # health

    def stats(self) -> dict:
        depths = [conn.depth for conn in self.connections]
        counters = self.counters
        return {
            "backend": self.bus.name,
            "backend_dropped": getattr(self.bus, "dropped", 0),
            "connections": len(self.connections),
            "members": {h.id: len(h.members) for h in self.halls.values()},
            "local_members": {h.id: sum(1 for _ in h.local_members()) for h in self.halls.values()},
            "tours": {h.id: h.tour.leader for h in self.halls.values() if h.tour is not None},
            "queue_depth": {"max": max(depths, default=0), "total": sum(depths)},
            "dropped": {
                "slow_consumer": counters.slow_consumer,
                "protocol": counters.protocol,
                "heartbeat": counters.heartbeat,
            },
            "ticks": {
                "count": counters.ticks,
                "late": counters.late_ticks,
                "last_ms": round(counters.last_tick_ms, 2),
                "max_ms": round(counters.max_tick_ms, 2),
            },
        }


HUB = web.AppKey("hub", Hub)
"""This app's hub (set by `add_hub`)."""


# --- the interface the HTTP side calls -------------------------------------------


def add_hub(
    app: web.Application, settings: HubSettings, *, redis_url: str | None = None, trainer_key: str | None = None
) -> Hub:
    """Register `GET /ws/halls/{hall_id}`, the tick task and clean shutdown; the hub, for the app to wire.

    With `redis_url` the hub shares presence and tours with other workers; `trainer_key` grants
    the trainer role to joins without a session token.
    """
    if redis_url:
        from server.hub.redis_backend import RedisBus

        bus: Any = RedisBus(redis_url, settings.redis_prefix)
    else:
        bus = LocalBus()
    hub = Hub(app, settings, bus, trainer_key)
    app[HUB] = hub

    async def websocket(request: web.Request) -> web.StreamResponse:
        hall_id = request.match_info["hall_id"]
        lookup = request.app.get(MANIFEST_LOOKUP)
        if lookup is None or lookup(hall_id) is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no such hall {hall_id!r}"}), content_type="application/json"
            )
        if request.method != "GET":  # `add_get` answers HEAD too; aiohttp would upgrade it (RFC 6455 4.1: GET)
            raise web.HTTPBadRequest(text="a WebSocket handshake is a GET request")
        return await hub.serve(request, hall_id)

    async def hub_context(app: web.Application):
        await bus.start(hub)
        tasks = [
            asyncio.create_task(hub.run_ticks(), name="hub-tick"),
            asyncio.create_task(hub.run_heartbeats(), name="hub-heartbeat"),
        ]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.stop()

    async def close_sockets(app: web.Application) -> None:
        await hub.shutdown()

    app.router.add_get("/ws/halls/{hall_id}", websocket, name="hub")
    app.cleanup_ctx.append(hub_context)
    app.on_shutdown.append(close_sockets)
    return hub


def hub_stats(app: web.Application) -> dict:
    """Connections, members per hall, queue depths and drop counts, for /api/health."""
    hub = app.get(HUB)
    return hub.stats() if hub is not None else {}


async def broadcast_reload(
    app: web.Application, hall_id: str | None, changed: list[str], error: str | None, *, share: bool = True
) -> None:
    """Tell clients a rebuild replaced `changed` chunks, or tell trainers it failed.

    With `hall_id` None the notice goes to every hall.  `share` also sends it
    to the other workers through Redis; call it from one worker only (the one
    that watched and rebuilt).
    """
    await app[HUB].on_build(BuildNotice(hall_id, tuple(changed), error, share))
