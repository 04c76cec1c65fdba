"""A real hall server for tests: its own event loop in a thread, 127.0.0.1 and an ephemeral port, HTTP or HTTPS."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading

from aiohttp import web

from server.app import create_app
from server.config import ServerConfig


class RunningServer:
    """`create_app(config)` (then `prepare(app)`, if given) serving until `stop()`.

    Tests talk to it over real sockets.
    """

    def __init__(self, config: ServerConfig, prepare=None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = create_app(config)
        if prepare is not None:
            prepare(self.app)
        self.runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ssl_context)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name=f"halls-server-{self.port}")
        self.thread.start()

    def call(self, coroutine, timeout: float = 30.0):
        """Run a coroutine on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def free_port() -> int:
    """A loopback port nobody listens on now (for servers started as separate processes)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
