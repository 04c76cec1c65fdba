"""What the browser tests' server needs beyond `tests.serving.RunningServer`: the quiz API and the embedded LRS."""

from __future__ import annotations

from aiohttp import web

from server.config import ServerConfig


def has_route(app: web.Application, path: str) -> bool:
    return any(resource.canonical == path for resource in app.router.resources())


def ensure_quiz(app: web.Application, config: ServerConfig) -> None:
    """The quiz API (`server.learning.routes`) and the embedded LRS it forwards to, unless `create_app` added them."""
    if has_route(app, "/api/session"):
        return
    from server.learning.routes import add_quiz

    add_quiz(app, config)
    if config.lrs.embedded:
        from server.lrs.service import LRS_STATE, add_lrs

        if LRS_STATE not in app:
            add_lrs(app, config.lrs, var_dir=config.var_path, base_url=config.public_url)
