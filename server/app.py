"""The hall server's application factory.

    create_app(config) -> web.Application

Routes: the JSON API (`server.web.catalog`), immutable objects (`server.web.objects`),
`/api/health`, the WebSocket hub (`server.hub`), the embedded LRS (`server.lrs`),
sign-in, quizzes and records (`server.learning`), and the browser viewer's files
from `server/web/static/` at `/` (or a small index page listing the halls).
This factory wires every subsystem explicitly: the hub hears of build
switches through the app's `BuildEvents`, never by finding the catalog.
State lives in typed app keys; background work runs in cleanup contexts;
`halls serve --watch` adds the source watcher.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from server.config import CONFIG, ServerConfig
from server.hub.service import MANIFEST_LOOKUP, ManifestLookup, add_hub, hub_stats
from server.learning.forwarder import outbox_stats
from server.learning.routes import add_quiz
from server.lrs.service import add_lrs
from server.web.catalog import (
    BUILD_LOCK,
    CURRENT_BUILD,
    CurrentBuild,
    add_catalog_routes,
    empty_view,
    follow_builds,
    json_error,
)
from server.web.events import BUILD_EVENTS, BuildEvents
from server.web.objects import add_object_routes
from server.web.openapi import add_api_docs
from server.web.viewer import add_web_routes
from server.web.watch import add_watcher

__all__ = ["create_app", "CONFIG", "CURRENT_BUILD", "SERVER_STATE", "ServerState"]

log = logging.getLogger(__name__)
access_log = logging.getLogger("server.access")


@dataclass
class ServerState:
    """Counters for `/api/health`."""

    started: float
    """`time.monotonic()` at start-up."""
    in_flight: int = 0
    """HTTP requests being answered (WebSocket sessions included)."""
    served: int = 0


SERVER_STATE: web.AppKey[ServerState] = web.AppKey("server_state", ServerState)


def create_app(config: ServerConfig) -> web.Application:
    """A hall server for `config`; nothing starts until the application is run."""
    app = web.Application(
        middlewares=[_request_log_middleware(config.access_log), _api_errors_middleware],
        client_max_size=config.max_body_bytes,
    )
    app[CONFIG] = config
    app[CURRENT_BUILD] = CurrentBuild(empty_view())
    app[BUILD_LOCK] = asyncio.Lock()
    app[SERVER_STATE] = ServerState(started=time.monotonic())
    events = app[BUILD_EVENTS] = BuildEvents()
    app.cleanup_ctx.append(follow_builds)
    add_catalog_routes(app)
    add_object_routes(app)
    app.router.add_get("/api/health", health_handler)
    # the hub reads manifests of the current build and hears of every build switch
    lookup: ManifestLookup = functools.partial(_current_manifest, app)
    app[MANIFEST_LOOKUP] = lookup
    hub = add_hub(app, config.hub, redis_url=config.redis_url, trainer_key=config.auth.trainer_key)
    events.connect(hub.on_build)
    if config.lrs.embedded:
        add_lrs(app, config.lrs, var_dir=config.var_path, base_url=config.public_url)
    add_quiz(app, config)
    if config.watch:
        add_watcher(app)
    add_web_routes(app, config)  # the browser viewer: /halls/{id}, /vendor/three/
    add_api_docs(app, config)  # /api/openapi.json (checked against these routes by a test), /api/docs
    _add_viewer_files(app, config)
    return app


def _current_manifest(app: web.Application, hall_id: str) -> Mapping[str, Any] | None:
    return app[CURRENT_BUILD].view.manifest(hall_id)


async def health_handler(request: web.Request) -> web.Response:
    """Build id, uptime, open requests and the hub's own figures."""
    app = request.app
    view = app[CURRENT_BUILD].view
    state = app[SERVER_STATE]
    health = {
        "status": "ok",
        "build": view.build_id,
        "halls": len(view.manifests),
        "uptime_s": round(time.monotonic() - state.started, 3),
        "pid": os.getpid(),
        "requests_in_flight": state.in_flight,
        "requests_served": state.served,
        "hub": hub_stats(app),
        "outbox": outbox_stats(app),
    }
    return web.json_response(health, headers={"Cache-Control": "no-store"})


# --- viewer files ----------------------------------------------------------


def _add_viewer_files(app: web.Application, config: ServerConfig) -> None:
    web_dir = config.web_path
    index = web_dir / "index.html"
    if index.is_file():

        async def viewer_index(request: web.Request) -> web.FileResponse:
            return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

        app.router.add_get("/", viewer_index)
        app.router.add_static("/", web_dir, follow_symlinks=False, append_version=False)
    else:
        app.router.add_get("/", index_page_handler)


async def index_page_handler(request: web.Request) -> web.Response:
    """A plain page listing the halls, until the browser viewer lands."""
    view = request.app[CURRENT_BUILD].view
    items = []
    for hall in view.catalog.value["halls"]:
        title = hall.get("title") or {}
        label = html.escape(title.get("zh") or hall["id"])
        english = html.escape(title.get("en") or "")
        items.append(f'<li><a href="/api/halls/{html.escape(hall["id"])}">{label}</a> {english}</li>')
    body = (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>屯兰VR展厅</title></head><body>'
        f"<h1>屯兰VR展厅</h1><p>build {html.escape(str(view.build_id))}</p><ul>{''.join(items)}</ul></body></html>"
    )
    return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-cache"})


# --- middlewares -----------------------------------------------------------


def _request_log_middleware(enabled: bool):
    @web.middleware
    async def request_log(request: web.Request, handler):
        state = request.app[SERVER_STATE]
        started = time.perf_counter()
        state.in_flight += 1
        status = 500
        response = None
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            state.in_flight -= 1
            state.served += 1
            if enabled:
                length = getattr(response, "content_length", None) if response is not None else None
                fields = {
                    "method": request.method,
                    "path": request.path_qs,
                    "status": status,
                    "bytes": length,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "remote": request.remote,
                }
                access_log.info(
                    "method=%s path=%s status=%d bytes=%s ms=%.1f remote=%s",
                    fields["method"],
                    fields["path"],
                    status,
                    "-" if length is None else length,
                    fields["ms"],
                    fields["remote"],
                    extra={"fields": fields},
                )

    return request_log


@web.middleware
async def _api_errors_middleware(request: web.Request, handler):
    """Errors under `/api/` answer JSON (`{"error": ...}`), like the handlers' own."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if not request.path.startswith("/api/") or error.status < 400:
            raise
        response = json_error(error.status, error.reason.lower())
        if "Allow" in error.headers:  # a 405 must say what is allowed
            response.headers["Allow"] = error.headers["Allow"]
        return response
