"""One WebSocket client of the hub: its socket, bounded sending, rate limits.

Sending is the hub's hot path (one batch per member per tick), so messages
are framed here and written straight to the socket's transport while its
buffer is below the high-water mark: no queue, no task switch.  Only when the
client falls behind do messages wait in a bounded queue, drained by a writer
task once the transport empties; when that queue overflows the client is a
slow consumer and `on_overflow` is called (the hub closes it with 1013), so
nobody else waits for it.  Frames are whole RFC 6455 frames (server frames are
unmasked, compression is off), so they interleave safely with the control
frames aiohttp writes itself (ping, pong, close).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import WebSocketError, WSCloseCode, web

from halls_contract import hub as msg

log = logging.getLogger(__name__)

CLOSE_WAIT = 1.0
"""Seconds a close handshake may take before the socket is aborted."""
DRAIN_POLL = 0.02
"""Seconds between checks of a backed-up transport."""

TEXT, BINARY, PING = 0x81, 0x82, 0x89
"""First byte of a final frame of each kind (FIN + opcode)."""
_LEN16 = struct.Struct("!BBH")
_LEN64 = struct.Struct("!BBQ")


def frame_header(size: int, first: int) -> bytes:
    """The header of an unmasked, unfragmented WebSocket frame with `size` payload bytes."""
    if size < 126:
        return bytes((first, size))
    if size < 65536:
        return _LEN16.pack(first, 126, size)
    return _LEN64.pack(first, 127, size)


def frame(payload: bytes, first: int) -> bytes:
    """An unmasked, unfragmented WebSocket frame."""
    return frame_header(len(payload), first) + payload


class HubSocket(web.WebSocketResponse):
    """aiohttp's WebSocket response, whose own closes say why.

    aiohttp refuses some frames itself, before the hub sees a message: a frame RFC 6455 forbids (1002), a
    text frame or close reason that is not UTF-8 (1007), a message of `max_msg_size` bytes or more (1009).
    It closes those sockets from inside `receive` with an empty reason; this gives them one, from the
    `WebSocketError` being handled there.
    """

    def __init__(self, *, limit: int, **options: Any) -> None:
        super().__init__(**options)
        self.limit = limit
        """The hub's `max_message_bytes` (the socket's own `max_msg_size` is larger)."""
        self.frame_limit: int = options["max_msg_size"]
        self.close_reason = ""
        """The reason this socket was closed with."""

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True) -> bool:
        if not message and code != WSCloseCode.OK and not self.closed:
            message = msg.ProtocolError(code, self._explain(code, sys.exception())).reason_bytes
        if not self.closed:
            self.close_reason = message.decode(errors="replace")
        return await super().close(code=code, message=message, drain=drain)

    def _explain(self, code: int, error: BaseException | None) -> str:
        if code == msg.CLOSE_TOO_BIG:
            return f"message of more than {self.frame_limit - 1} bytes exceeds the limit of {self.limit}"
        if code == msg.CLOSE_INVALID_TEXT:
            return "invalid UTF-8 in a text frame or close reason"
        detail = str(error) if isinstance(error, WebSocketError) and error.code == code else ""
        if code == msg.CLOSE_PROTOCOL_ERROR:
            return f"protocol error: {detail[:1].lower()}{detail[1:]}" if detail else "protocol error"
        return detail or f"closed with {code}"


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
    """A client socket: direct writes while it keeps up, a bounded backlog when it does not."""

    def __init__(
        self,
        ws: HubSocket,
        request: web.Request,
        queue_limit: int,
        send_buffer: int,
        on_overflow: Callable[[Connection], None],
    ) -> None:
        self.ws = ws
        self.transport = request.transport
        self.peer = request.remote
        self.queue_limit = queue_limit
        self.high_water = send_buffer
        self.backlog: list[bytes] = []
        self.on_overflow = on_overflow
        self.closing = False
        self.dead = False
        """Closed for not answering the heartbeat ping."""
        self.last_heard = asyncio.get_running_loop().time()
        self.pinged_at: float | None = None
        self.sent = 0
        self._writer: asyncio.Task | None = None
        self._bound_buffers(send_buffer)

    def _bound_buffers(self, send_buffer: int) -> None:
        # Small kernel and transport buffers make a stalled reader show up as a
        # full backlog within seconds instead of after megabytes.
        if self.transport is None:
            return
        self.transport.set_write_buffer_limits(high=send_buffer)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
            except OSError:  # pragma: no cover - platform without the option
                pass

    @property
    def depth(self) -> int:
        """Messages waiting in the backlog."""
        return len(self.backlog)

    def send(self, item: str | bytes) -> bool:
        """Send a text or binary message now, or queue it; False when closing or overflowed."""
        return self.send_frame(frame(item.encode(), TEXT) if isinstance(item, str) else frame(item, BINARY))

    def send_frame(self, data: bytes) -> bool:
        """Like `send`, for a frame already built with `frame`."""
        transport = self.transport
        if self.closing or self.ws.closed or transport is None:  # (None: the connection was lost already)
            return False
        if not self.backlog and transport.get_write_buffer_size() < self.high_water:
            if transport.is_closing():
                return False
            transport.write(data)
            self.sent += 1
            return True
        if len(self.backlog) >= self.queue_limit:
            self.on_overflow(self)
            return False
        self.backlog.append(data)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name=f"hub-writer {self.peer}")
        return True

    async def _drain(self) -> None:
        """Write the backlog as the transport empties."""
        transport, backlog = self.transport, self.backlog
        while backlog and not self.closing:
            if transport is None or transport.is_closing():
                backlog.clear()
                return
            if transport.get_write_buffer_size() >= self.high_water:
                await asyncio.sleep(DRAIN_POLL)
                continue
            transport.write(backlog.pop(0))
            self.sent += 1

    def stop_writer(self) -> None:
        self.backlog.clear()
        if self._writer is not None:
            self._writer.cancel()

    async def close(self, code: int, reason: bytes) -> None:
        """Close with `code` and `reason`; abort the socket if the handshake stalls."""
        self.closing = True
        self.stop_writer()
        try:
            async with asyncio.timeout(CLOSE_WAIT):
                await self.ws.close(code=code, message=reason)
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        finally:
            transport = self.transport
            if transport is not None and (not transport.is_closing() or transport.get_write_buffer_size()):
                transport.abort()  # still open, or closing but stuck behind unread data
