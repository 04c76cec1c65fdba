"""A real hall server for browser tests: its own event loop in a thread, an ephemeral port, HTTP or HTTPS.

Until the quiz API lands (`POST /api/session`, `POST …/checkpoints/{cp}/attempts`,
`GET /api/me/progress`), `add_quiz_stub` stands in for it with the same
contract, grading against the build's private answer keys; once the real
routes exist the stub adds nothing and the tests run against them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import ssl
import threading
from pathlib import Path

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


def add_quiz_stub(app: web.Application, build_dir: Path) -> bool:
    """Quiz routes with the agreed contract, unless the real ones are registered; True when added."""
    if has_route(app, "/api/session"):
        return False
    sessions: dict[str, dict] = {}
    passed: dict[tuple[str, str], set[str]] = {}

    def answer_keys(hall: str) -> dict:
        path = build_dir / "current" / "private" / "answers" / f"{hall}.json"
        return {c["id"]: c for c in json.loads(path.read_text(encoding="utf-8"))["checkpoints"]}

    def member_of(request: web.Request) -> dict:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if token not in sessions:
            raise web.HTTPUnauthorized(text=json.dumps({"error": "sign in first"}), content_type="application/json")
        return sessions[token]

    async def session(request: web.Request) -> web.Response:
        body = await request.json()
        if not str(body.get("member_id", "")).strip() or not str(body.get("name", "")).strip():
            return web.json_response({"error": "member_id and name are required"}, status=400)
        token = secrets.token_urlsafe(16)
        member = {"member_id": body["member_id"], "name": body["name"], "branch": body.get("branch")}
        sessions[token] = member
        return web.json_response({"token": token, "member": member})

    async def attempt(request: web.Request) -> web.Response:
        member = member_of(request)
        hall, checkpoint_id = request.match_info["hall"], request.match_info["cp"]
        keys = answer_keys(hall)
        if checkpoint_id not in keys:
            return web.json_response({"error": "no such checkpoint"}, status=404)
        checkpoint = keys[checkpoint_id]
        answers = (await request.json()).get("answers", {})
        results = []
        for question in checkpoint["questions"]:
            given = answers.get(question["id"])
            key = question["answer"]
            right = sorted(given or []) == sorted(key) if isinstance(key, list) else given == key
            results.append({"question": question["id"], "correct": right, "explanation": question.get("explanation")})
        raw = sum(r["correct"] for r in results)
        ok = raw / len(results) >= checkpoint["pass_mark"]
        done = passed.setdefault((member["member_id"], hall), set())
        if ok:
            done.add(checkpoint_id)
        return web.json_response({
            "passed": ok, "score": {"raw": raw, "max": len(results), "scaled": raw / len(results)},
            "results": results, "attempts_left": checkpoint["attempts"] - 1, "retry_after": 0,
            "hall_complete": done >= set(keys),
        })

    async def progress(request: web.Request) -> web.Response:
        member = member_of(request)
        halls = {hall: {"complete": True, "passed": len(ids), "total": len(ids)}
                 for (who, hall), ids in passed.items() if who == member["member_id"]}
        return web.json_response({"halls": halls})

    app.router.add_post("/api/session", session)
    app.router.add_post("/api/halls/{hall}/checkpoints/{cp}/attempts", attempt)
    app.router.add_get("/api/me/progress", progress)
    log.info("quiz API stub in use (the real quiz routes are not registered)")
    return True
