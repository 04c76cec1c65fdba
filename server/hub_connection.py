"""One WebSocket client of the hub: a bounded send queue, its writer task, rate limits."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Callable

from aiohttp import web

log = logging.getLogger(__name__)

CLOSE_WAIT = 1.0
"""Seconds a close handshake may take before the socket is aborted."""


class RateLimit:
    """A token bucket: `rate` messages a second, bursts up to `burst`."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, now

    def allow(self, now: float) -> bool:
        tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if tokens < 1.0:
            self.tokens = tokens
            return False
        self.tokens = tokens - 1.0
        return True


class Connection:
    """A client socket with a bounded queue drained by its own writer task.

    `send` never waits: when the queue is full the client is too slow, and
    `on_overflow` is called (the hub closes it with 1013) so that nobody
    else waits for it.
    """

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, queue_limit: int,
                 send_buffer: int, on_overflow: Callable[["Connection"], None]) -> None:
        self.ws = ws
        self.transport = request.transport
        self.peer = request.remote
        self.queue: asyncio.Queue[str | bytes] = asyncio.Queue(queue_limit)
        self.on_overflow = on_overflow
        self.closing = False
        self.sent = 0
        self._writer: asyncio.Task | None = None
        self._bound_buffers(send_buffer)

    def _bound_buffers(self, send_buffer: int) -> None:
        # Small kernel and transport buffers make a stalled reader show up as a
        # full queue within seconds instead of after megabytes of backlog.
        if self.transport is None:
            return
        self.transport.set_write_buffer_limits(high=send_buffer)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
            except OSError:  # pragma: no cover - platform without the option
                pass

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"hub-writer {self.peer}")

    def send(self, item: str | bytes) -> bool:
        """Queue a text or binary message; False when the connection is closing or overflowed."""
        if self.closing:
            return False
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.on_overflow(self)
            return False
        return True

    async def _write(self) -> None:
        ws, queue = self.ws, self.queue
        try:
            while True:
                item = await queue.get()
                if isinstance(item, bytes):
                    await ws.send_bytes(item)
                else:
                    await ws.send_str(item)
                self.sent += 1
        except (ConnectionError, RuntimeError) as exc:
            log.debug("hub writer stopped peer=%s: %s", self.peer, exc)

    def stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()

    async def close(self, code: int, reason: bytes) -> None:
        """Close with `code` and `reason`; abort the socket if the handshake stalls."""
        self.closing = True
        self.stop_writer()
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason), CLOSE_WAIT)
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            pass
        finally:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.abort()
            elif self.transport is not None and self.transport.get_write_buffer_size():
                self.transport.abort()  # closing, but stuck behind unread data
