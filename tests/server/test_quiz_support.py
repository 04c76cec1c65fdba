"""Helpers for the quiz, auth, records, outbox and progress tests (no tests here).

- `publish_quiz_build`: a fake build whose halls have checkpoints, answer keys and dioramas.
- `Api`: a real HTTP client that keeps every response body (to look for leaked keys).
- `FakeLrs`: a tiny conformant-enough LRS on its own port and loop, scripted per request.
- `LossyAttempts`: a middleware that stores attempts but loses their replies (dropped or late).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import http.client
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from halls_contract.manifest import Exhibit, KeyedCheckpoint, Text
from server.config import ServerConfig, load_config
from tests.server.conftest import default_halls, publish

ADMIN_CODE = "admin-code-7f3a"
TRAINER_CODE = "trainer-code-91c2"


# --- the fake build -----------------------------------------------------------

QUIZ_ONE: dict[str, Any] = {
    "id": "quiz1",
    "room": "a",
    "title": {"zh": "第一站", "en": "Station one"},
    "position": [0, 0, 0],
    "radius": 1.5,
    "pass_mark": 0.6,
    "attempts": 3,
    "cooldown": 0,
    "questions": [
        {
            "id": "s1",
            "type": "single",
            "prompt": {"zh": "单选题", "en": None},
            "options": [
                {"id": "A", "text": {"zh": "甲", "en": None}},
                {"id": "B", "text": {"zh": "乙", "en": None}},
                {"id": "C", "text": {"zh": "丙", "en": None}},
            ],
            "answer": "C",
            "explanation": {"zh": "丙是对的。", "en": None},
        },
        {
            "id": "m1",
            "type": "multiple",
            "prompt": {"zh": "多选题", "en": "Pick all"},
            "options": [
                {"id": "A", "text": {"zh": "一", "en": None}},
                {"id": "B", "text": {"zh": "二", "en": None}},
                {"id": "C", "text": {"zh": "三", "en": None}},
                {"id": "D", "text": {"zh": "四", "en": None}},
            ],
            "answer": ["A", "D"],
            "explanation": {"zh": "一和四。", "en": None},
        },
        {
            "id": "t1",
            "type": "true-false",
            "prompt": {"zh": "判断题", "en": None},
            "options": [],
            "answer": False,
            "explanation": None,
        },
    ],
}
QUIZ_TWO: dict[str, Any] = {
    "id": "quiz2",
    "room": "b",
    "title": {"zh": "第二站", "en": None},
    "position": [10, 0, 0],
    "radius": 1.5,
    "pass_mark": 1.0,
    "attempts": 2,
    "cooldown": 30,
    "questions": [
        {
            "id": "q",
            "type": "single",
            "prompt": {"zh": "二选一", "en": None},
            "options": [{"id": "A", "text": {"zh": "是", "en": None}}, {"id": "B", "text": {"zh": "否", "en": None}}],
            "answer": "B",
            "explanation": {"zh": "否。", "en": None},
        },
    ],
}
QUIZ_BETA: dict[str, Any] = {
    "id": "only",
    "room": "only",
    "title": {"zh": "唯一", "en": None},
    "position": [0, 0, 0],
    "radius": 1.5,
    "pass_mark": 0.5,
    "attempts": 5,
    "cooldown": 0,
    "questions": [
        {
            "id": "tf",
            "type": "true-false",
            "prompt": {"zh": "对吗", "en": None},
            "options": [],
            "answer": True,
            "explanation": {"zh": "对。", "en": None},
        }
    ],
}
KEYS = {"alpha": [QUIZ_ONE, QUIZ_TWO], "beta": [QUIZ_BETA]}
CORRECT = {"quiz1": {"s1": "C", "m1": ["A", "D"], "t1": False}, "quiz2": {"q": "B"}, "only": {"tf": True}}
"""The right responses per checkpoint."""


def public(checkpoint: dict) -> dict:
    return KeyedCheckpoint.model_validate(checkpoint).public().model_dump(mode="json")


def publish_quiz_build(build: Path, build_id: str = "q1") -> Path:
    """Publish halls alpha (checkpoints quiz1, quiz2; diorama `bridge`) and beta (checkpoint `only`)."""
    manifests = default_halls(build)
    manifests["alpha"]["checkpoints"] = [public(c) for c in KEYS["alpha"]]
    bridge = Exhibit(
        id="bridge",
        room="c",
        kind="diorama",
        node="c/exhibit/bridge",
        title=Text(zh="飞夺泸定桥"),
        text=None,
        position=(20.0, 0.0, 0.0),
        radius=3.0,
        assets=(),
    )
    manifests["alpha"]["exhibits"] = [bridge.model_dump(mode="json")]
    manifests["beta"]["checkpoints"] = [public(c) for c in KEYS["beta"]]
    release = publish(build, manifests, build_id)
    for hall_id, checkpoints in KEYS.items():
        (release / "private" / "answers" / f"{hall_id}.json").write_text(
            json.dumps({"hall": hall_id, "checkpoints": checkpoints}, ensure_ascii=False)
        )
    return release


def key_fragments() -> list[str]:
    """Ways an answer key could appear in a payload: `"answer": ...` in any spacing, and xAPI's pattern."""
    fragments = ["correctResponsesPattern"]
    for checkpoints in KEYS.values():
        for checkpoint in checkpoints:
            for question in checkpoint["questions"]:
                key = question["answer"]
                for separators in ((",", ":"), (", ", ": ")):
                    fragments.append(json.dumps({"answer": key}, separators=separators)[1:-1])
    return fragments


def quiz_config(tmp_path: Path, **changes: Any) -> ServerConfig:
    """A config over a fresh quiz build, with trainer `t1` and admin `root` holding personal codes."""
    build = tmp_path / "build"
    if not (build / "current").exists():
        publish_quiz_build(build)
    codes = tmp_path / "codes.txt"
    codes.write_text(f"# personal codes\nt1 {TRAINER_CODE}\nroot {ADMIN_CODE}\n")
    values = dict(
        root=tmp_path,
        build_dir=build,
        port=0,
        reload_interval=0.05,
        web_dir=tmp_path / "no-web",
        access_log=False,
        base_url="https://halls.example",
        trainers="t1",
        admins="root",
        branches="一支部,二支部,机电支部",
        enrolment_tokens=codes,
        lrs_url="http://127.0.0.1:9/xapi/",
        lrs_backoff_base=0.05,
        lrs_backoff_max=0.2,
        lrs_poll_interval=0.05,
    )
    values.update(changes)
    return load_config(flags=values)


# --- a recording HTTP client ------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Api:
    """Real HTTP/1.1 requests to the server; every response is kept in `seen`."""

    port: int
    seen: list[tuple[str, Reply]] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            sent = dict(headers or {})
            data = raw
            if body is not None:
                data = json.dumps(body, ensure_ascii=False).encode()
                sent["Content-Type"] = "application/json"
            if token is not None:
                sent["Authorization"] = f"Bearer {token}"
            connection.request(method, urllib.parse.quote(path, safe="/?=&%:+,;@"), body=data, headers=sent)
            response = connection.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        finally:
            connection.close()
        self.seen.append((f"{method} {path}", reply))
        return reply

    def sign_in(self, member_id: str, name: str | None = None, **extra: Any) -> str:
        reply = self.call("POST", "/api/session", {"member_id": member_id, "name": name or member_id, **extra})
        assert reply.status == 200, reply.body
        return reply.json()["token"]

    def visit(self, token: str, hall: str = "alpha", platform: str = "browser") -> str:
        reply = self.call("POST", f"/api/halls/{hall}/visits", {"platform": platform}, token)
        assert reply.status == 201, reply.body
        return reply.json()["registration"]

    def attempt(
        self,
        token: str,
        registration: str,
        checkpoint: str = "quiz1",
        answers: dict | None = None,
        hall: str = "alpha",
        platform: str = "browser",
    ) -> Reply:
        return self.call(
            "POST",
            f"/api/halls/{hall}/checkpoints/{checkpoint}/attempts",
            {
                "answers": CORRECT[checkpoint] if answers is None else answers,
                "registration": registration,
                "platform": platform,
            },
            token,
        )


# --- a fake LRS ----------------------------------------------------------------------


class FakeLrs:
    """An LRS on 127.0.0.1 in its own thread.

    `script` is consumed one entry per POST, then `default` applies.  An entry is
    a status (200, 204, 409, 400, 500, ...), `("retry", status, seconds)` for a
    `Retry-After` answer, `"timeout"` (sleep longer than the client waits),
    or `"slow"` (store, then answer 200 after `delay`).  Statements are kept by
    id, as an LRS would: a repeated id with the same content is not stored
    again, a different content answers 409.  A batch holding an id in
    `poison` answers 400 (with the statement echoed, as some LRSs do).
    """

    def __init__(self, script: list | None = None, default: Any = 200, delay: float = 0.0, hang: float = 5.0) -> None:
        self.script = list(script or [])
        self.default = default
        self.delay = delay
        self.hang = hang
        self.statements: dict[str, dict] = {}
        self.poison: set[str] = set()
        self.requests: list[dict] = []
        self.conflicts: list[str] = []
        self.received = threading.Event()
        self.loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/xapi/statements", self._post)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}/xapi/"
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _post(self, request: web.Request) -> web.Response:
        behaviour = self.script.pop(0) if self.script else self.default
        body = await request.json()
        ids = [s["id"] for s in body]
        auth = request.headers.get("Authorization", "")
        self.requests.append(
            {
                "ids": ids,
                "version": request.headers.get("X-Experience-API-Version"),
                "auth": base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else None,
                "behaviour": behaviour,
                "at": time.monotonic(),
            }
        )
        self.received.set()
        headers = {"X-Experience-API-Version": "1.0.3"}
        if behaviour == "timeout":
            await asyncio.sleep(self.hang)
            return web.json_response(ids, headers=headers)
        if isinstance(behaviour, tuple):
            _, status, seconds = behaviour
            return web.json_response({"error": "busy"}, status=status, headers=headers | {"Retry-After": str(seconds)})
        bad = [s for s in body if s["id"] in self.poison]
        if bad and behaviour in (200, 204, "slow"):
            return web.json_response({"error": "invalid statement", "statement": bad[0]}, status=400, headers=headers)
        if behaviour in (200, 204, "slow"):
            conflict = self._store(body)
            if behaviour == "slow":
                await asyncio.sleep(self.delay)
            if conflict:
                return web.json_response({"error": f"conflict {conflict}"}, status=409, headers=headers)
            if behaviour == 204:
                return web.Response(status=204, headers=headers)
            return web.json_response(ids, headers=headers)
        if behaviour == 400:
            return web.json_response({"error": "invalid statement", "statement": body[0]}, status=400, headers=headers)
        return web.json_response({"error": f"fake {behaviour}"}, status=int(behaviour), headers=headers)

    def _store(self, body: list[dict]) -> str | None:
        for statement in body:
            existing = self.statements.get(statement["id"])
            if existing is not None and existing != statement:
                self.conflicts.append(statement["id"])
                return statement["id"]
        for statement in body:
            self.statements.setdefault(statement["id"], statement)
        return None


# --- lost replies -------------------------------------------------------------------


class LossyAttempts:
    """A middleware: attempts are handled (graded, stored) but the first `lose` replies never reach the client.

    `mode` "drop" closes the connection instead of answering; "stall" answers
    only after `stall` seconds (past the client's timeout).
    """

    def __init__(self, lose: int = 1, mode: str = "drop", stall: float = 1.5) -> None:
        self.lose, self.mode, self.stall = lose, mode, stall
        self.keys: list[str | None] = []

    def install(self, app: web.Application) -> None:
        app.middlewares.append(self.middleware)

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        response = await handler(request)
        if request.method != "POST" or not request.path.endswith("/attempts"):
            return response
        self.keys.append(request.headers.get("Idempotency-Key"))
        if self.lose > 0:
            self.lose -= 1
            if self.mode == "drop":
                transport = request.transport
                assert transport is not None  # the connection is open while its request is handled
                transport.close()  # stored and committed; the reply is lost on the way
            else:
                await asyncio.sleep(self.stall)
        return response


def replace(config: ServerConfig, **changes: Any) -> ServerConfig:
    return dataclasses.replace(config, **changes)


def start_quiz(start_server, config: ServerConfig):
    """A real server with the quiz routes (added here until `create_app` adds them itself); `(server, Api)`."""
    from server.learning.routes import add_quiz

    server = start_server(config, prepare=lambda app: add_quiz(app, config))
    return server, Api(server.port)


def statements_in(config: ServerConfig) -> list[dict]:
    """Every statement in the server's outbox, in queue order, with its state."""
    import sqlite3

    connection = sqlite3.connect(Path(config.var_path) / "halls.sqlite")
    try:
        rows = connection.execute("SELECT body, state FROM statements ORDER BY seq").fetchall()
    finally:
        connection.close()
    return [json.loads(body) | {"_state": state} for body, state in rows]


def write_keys(config: ServerConfig, hall: str, checkpoints: list[dict]) -> None:
    """Replace a hall's answer keys in the current release (before the server reads them)."""
    path = config.build_path / "current" / "private" / "answers" / f"{hall}.json"
    path.write_text(json.dumps({"hall": hall, "checkpoints": checkpoints}, ensure_ascii=False))
