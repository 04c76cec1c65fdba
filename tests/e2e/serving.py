"""A real hall server for browser tests: its own event loop in a thread, an ephemeral port, HTTP or HTTPS."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading

from aiohttp import web

from server.app import create_app
from server.config import ServerConfig

log = logging.getLogger(__name__)


class LiveServer:
    def __init__(self, config: ServerConfig, ssl_context: ssl.SSLContext | None = None, prepare=None) -> None:
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
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def has_route(app: web.Application, path: str) -> bool:
    return any(resource.canonical == path for resource in app.router.resources())


def ensure_quiz(app: web.Application, config: ServerConfig) -> None:
    """The quiz API (`server.quiz_routes`) and the embedded LRS it forwards to, unless `create_app` added them."""
    if has_route(app, "/api/session"):
        return
    from server.quiz_routes import add_quiz

    add_quiz(app, config)
    if getattr(config, "lrs_embedded", False):
        from server.lrs import LRS_STATE, add_lrs

        if LRS_STATE not in app:
            add_lrs(app, config)
