"""Presence over the hub's WebSocket, on its own thread: join, own pose out, others in.

    presence = PresenceClient("http://host:8080", "red", "张三").start()
    presence.set_pose("foyer", (x, y, z), (qx, qy, qz, qw))   # any rate; sent at most `rate_hz`
    presence.send({"type": "follow", "on": True})
    for event in presence.poll(): ...                           # main thread, each frame
    presence.stop()

Events are plain tuples `(kind, data)`: `welcome` (the server's welcome),
`joined` / `left` (member lists / ids), `poses` (a `POSE_DTYPE` array of the
nearest others), `tour` (a tour cue), `reload`, `error`, `status` (a message
for the member: connected, lost, retrying).  The wire format is
`halls_contract.hub` (protocol v1); a lost connection is retried with
back-off until `stop()`.  No Panda3D here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
import time
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from halls_contract.hub import POSE_KEEPALIVE_S, POSE_RATE_HZ, PROTOCOL_VERSION, decode_pose_batch

log = logging.getLogger(__name__)

DEFAULT_RATE_HZ = POSE_RATE_HZ
MAX_RATE_HZ = 20.0
"""The hub closes connections that send more poses a second than this."""
KEEPALIVE = POSE_KEEPALIVE_S
"""Seconds after which an unchanged pose is sent again (others see the member stay)."""


def hub_url(server: str, hall_id: str) -> str:
    """`ws(s)://host/ws/halls/<hall>` for an `http(s)://host` server URL."""
    base = server.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}/ws/halls/{hall_id}"


class PresenceClient:
    """A hub connection kept alive on a daemon thread with its own event loop."""

    def __init__(
        self,
        server: str,
        hall_id: str,
        name: str,
        *,
        role: str = "member",
        key: str | None = None,
        rate_hz: float = DEFAULT_RATE_HZ,
        retry_max: float = 30.0,
    ) -> None:
        self.url = hub_url(server, hall_id)
        self.hall_id = hall_id
        self.name = name
        self.role = role
        self.key = key
        self.period = 1.0 / min(max(rate_hz, 0.5), MAX_RATE_HZ)
        self.retry_max = retry_max
        self.member_id: int | None = None
        self.sent_poses = 0
        self._inbox: queue.Queue = queue.Queue()
        self._pose: tuple | None = None
        self._pose_version = 0
        self._lock = threading.Lock()
        self._outbox: list[dict] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"presence-{hall_id}", daemon=True)

    # main-thread side

    def start(self) -> PresenceClient:
        self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        self._stop_requested.set()
        loop = self._loop
        if loop is not None and not loop.is_closed() and self._stopping is not None:
            try:
                loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:  # the loop ended on its own
                pass
        self._thread.join(timeout)

    def set_pose(self, room: str, position, quaternion) -> None:
        """The member's latest pose: room id, feet or head position (m), unit quaternion (x, y, z, w)."""
        pose = (room, tuple(round(float(v), 3) for v in position), tuple(round(float(v), 4) for v in quaternion))
        with self._lock:
            if pose != self._pose:
                self._pose = pose
                self._pose_version += 1

    def send(self, message: dict) -> None:
        """Queue a control message (`type` plus fields; `v` is added)."""
        with self._lock:
            self._outbox.append({"v": PROTOCOL_VERSION, **message})
        self._poke()

    def poll(self, limit: int = 200) -> list[tuple[str, Any]]:
        """Events received since the last call (main thread)."""
        events: list[tuple[str, Any]] = []
        while len(events) < limit:
            try:
                events.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return events

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:
                pass

    # network thread

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except Exception:  # never let the thread die silently
            log.exception("presence thread failed")
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        if self._stop_requested.is_set():
            return
        delay = 1.0
        while not self._stopping.is_set():
            try:
                async with websockets.connect(
                    self.url, open_timeout=10, close_timeout=2, max_size=1 << 20, compression=None
                ) as ws:
                    delay = 1.0
                    await self._session(ws)
            except InvalidStatus as exc:
                status = exc.response.status_code
                self._emit("status", f"presence: the hub refused the connection ({status})")
                if status in (400, 403, 404):
                    return
            except (TimeoutError, OSError, InvalidHandshake, ConnectionClosed) as exc:
                self._emit(
                    "status", f"presence: connection lost ({type(exc).__name__}: {exc}); retrying in {delay:.0f} s"
                )
            if self._stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):  # not wait_for: on 3.11 it can swallow a cancel
                    await self._stopping.wait()
            delay = min(delay * 2, self.retry_max)

    async def _session(self, ws) -> None:
        stopping = self._stopping
        assert stopping is not None, "_main makes the events before the first session"
        join: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": "join", "name": self.name, "role": self.role}
        if self.key:
            join["key"] = self.key
        await ws.send(json.dumps(join, ensure_ascii=False))
        receiver = asyncio.create_task(self._receive(ws))
        stopper = asyncio.create_task(stopping.wait())
        sender = asyncio.create_task(self._send_loop(ws))
        done, pending = await asyncio.wait({receiver, stopper, sender}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if stopper in done:
            await ws.close(1000, "leaving")
            return
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
        if ws.close_code not in (None, 1000):
            self._emit("status", f"presence: the hub closed the connection ({ws.close_code} {ws.close_reason})")
            if ws.close_code == 1008:  # a policy close is final: retrying would repeat it
                stopping.set()

    async def _send_loop(self, ws) -> None:
        wake = self._wake
        assert wake is not None, "_main makes the events before the first session"
        sent_version, sent_at = -1, 0.0
        while True:
            with self._lock:
                outbox, self._outbox = self._outbox, []
                pose, version = self._pose, self._pose_version
            for message in outbox:
                await ws.send(json.dumps(message, ensure_ascii=False))
            now = time.monotonic()
            if (
                pose is not None
                and self.member_id is not None
                and (version != sent_version or now - sent_at >= KEEPALIVE)
                and now - sent_at >= self.period
            ):
                room, p, q = pose
                await ws.send(
                    json.dumps(
                        {
                            "v": PROTOCOL_VERSION,
                            "type": "pose",
                            "room": room,
                            "p": list(p),
                            "q": list(q),
                            "t": int(now * 1000) & 0xFFFFFFFF,
                        }
                    )
                )
                sent_version, sent_at = version, now
                self.sent_poses += 1
            wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.period):
                    await wake.wait()

    async def _receive(self, ws) -> None:
        async for message in ws:
            if isinstance(message, bytes):
                try:
                    _, records = decode_pose_batch(message)
                except Exception as exc:  # noqa: BLE001 - a bad frame is logged, not fatal
                    log.warning("presence: bad pose batch: %s", exc)
                    continue
                self._emit("poses", records.copy())
                continue
            try:
                data = json.loads(message)
            except ValueError:
                log.warning("presence: a text frame that is not JSON")
                continue
            kind = data.get("type")
            if kind == "welcome":
                self.member_id = data.get("id")
                self._emit("status", f"presence: joined hall {self.hall_id!r} as {data.get('name')!r}")
                self._poke()
            self._emit(kind or "unknown", data)

    def _emit(self, kind: str, data: Any) -> None:
        if kind == "status":
            log.info("%s", data)
        self._inbox.put((kind, data))
