"""Checkpoint quizzes: the member's answers and the server's quiz API.

    api = QuizApi("http://host:8080")
    api.open_session(member_id="m-42", name="张三")             # POST /api/session
    sheet = AnswerSheet(checkpoint)
    sheet.choose("q1", "A"); sheet.choose("q2", "C"); sheet.choose("q3", True)
    result = api.submit("red", checkpoint.id, sheet.answers(), platform="client")

Answers are graded on the server only (the manifest carries no keys).  An
answer is `"A"` (single), a sorted list like `["A", "C"]` (multiple) or a
boolean (true-false).  Errors raise `QuizError` with the server's message.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tools.client.manifest import Checkpoint

log = logging.getLogger(__name__)


class QuizError(Exception):
    """The quiz API refused or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AttemptResult:
    """The server's grading of one attempt."""

    passed: bool
    score: float
    results: Any
    attempts_left: int | None
    retry_after: float | None
    hall_complete: bool

    @classmethod
    def from_json(cls, data: dict) -> "AttemptResult":
        return cls(bool(data.get("passed")), float(data.get("score") or 0.0), data.get("results"),
                   data.get("attempts_left"), data.get("retry_after"), bool(data.get("hall_complete")))

    def summary(self) -> str:
        """One line in Chinese for the panel."""
        verdict = "通过" if self.passed else "未通过"
        parts = [f"{verdict}，得分 {self.score * 100:.0f}" if self.score <= 1 else f"{verdict}，得分 {self.score:g}"]
        if not self.passed and self.attempts_left is not None:
            parts.append(f"剩余 {self.attempts_left} 次机会")
        if self.retry_after:
            parts.append(f"{self.retry_after:.0f} 秒后可重试")
        if self.hall_complete:
            parts.append("本馆学习已完成")
        return "；".join(parts)


@dataclass
class AnswerSheet:
    """A member's choices for one checkpoint, in the API's answer shapes."""

    checkpoint: Checkpoint
    chosen: dict[str, Any] = field(default_factory=dict)

    def question(self, question_id: str) -> dict:
        for question in self.checkpoint.questions:
            if question["id"] == question_id:
                return question
        raise KeyError(f"checkpoint {self.checkpoint.id!r} has no question {question_id!r}")

    def choose(self, question_id: str, value: Any) -> None:
        """Pick an option: single replaces, multiple toggles, true-false takes a bool."""
        kind = self.question(question_id).get("type")
        if kind == "multiple":
            picked = set(self.chosen.get(question_id, ()))
            picked ^= {value}
            self.chosen[question_id] = sorted(picked)
        elif kind == "true-false":
            self.chosen[question_id] = bool(value)
        else:
            self.chosen[question_id] = str(value)

    def is_chosen(self, question_id: str, value: Any) -> bool:
        current = self.chosen.get(question_id)
        return value in current if isinstance(current, list) else current == value

    def complete(self) -> bool:
        return all(self.chosen.get(q["id"]) not in (None, []) for q in self.checkpoint.questions)

    def answers(self) -> dict[str, Any]:
        return {qid: value for qid, value in self.chosen.items() if value not in (None, [])}


class QuizApi:
    """`POST /api/session` and checkpoint attempts, with the session's bearer token."""

    def __init__(self, server: str, timeout: float = 10.0) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.token: str | None = None
        self.member: dict | None = None

    def open_session(self, member_id: str, name: str, branch: str | None = None) -> dict:
        body: dict[str, Any] = {"member_id": member_id, "name": name}
        if branch:
            body["branch"] = branch
        data = self._post("/api/session", body, auth=False)
        if not isinstance(data, dict) or not data.get("token"):
            raise QuizError("quiz: the server's session answer has no token")
        self.token, self.member = data["token"], data.get("member")
        return data

    def submit(self, hall_id: str, checkpoint_id: str, answers: dict[str, Any], *, platform: str = "client",
               registration: str | None = None) -> AttemptResult:
        if self.token is None:
            raise QuizError("quiz: no session (open one first)")
        body = {"answers": answers, "registration": registration or str(uuid.uuid4()), "platform": platform}
        path = f"/api/halls/{quote(hall_id)}/checkpoints/{quote(checkpoint_id)}/attempts"
        return AttemptResult.from_json(self._post(path, body, auth=True))

    def _post(self, path: str, body: dict, auth: bool) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.server + path, data=json.dumps(body, ensure_ascii=False).encode(),
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise QuizError(f"quiz: {path}: {exc.code} {_message(exc)}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise QuizError(f"quiz: the server is not answering ({getattr(exc, 'reason', exc)})") from None
        except ValueError:
            raise QuizError(f"quiz: {path}: the answer is not JSON") from None


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        data = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return exc.reason
    return (data.get("error") if isinstance(data, dict) else None) or exc.reason


def member_id(cache_dir: Path) -> str:
    """A stable id for this installation (kept in the cache folder)."""
    path = Path(cache_dir) / "member-id"
    try:
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    except OSError:
        pass
    value = f"client-{uuid.uuid4().hex[:12]}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value, encoding="utf-8")
    except OSError as exc:
        log.warning("quiz: could not keep the member id in %s: %s", path, exc)
    return value
