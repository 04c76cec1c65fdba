"""Checkpoint quizzes: the member's answers and the server's quiz API.

    api = QuizApi("http://host:8080")
    api.open_session(member_id="m-42", name="张三")             # POST /api/session
    sheet = AnswerSheet(checkpoint)
    sheet.choose("q1", "A"); sheet.choose("q2", "C"); sheet.choose("q3", True)
    result = api.submit("red", checkpoint.id, sheet.answers(), platform="client")
    # (the first submit in a hall starts a visit: POST /api/halls/red/visits -> registration)

Answers are graded on the server only (the manifest carries no keys).  An
answer is `"A"` (single), a sorted list like `["A", "C"]` (multiple) or a
boolean (true-false).  Errors raise `QuizError` with the server's message.

Each submission carries its own `Idempotency-Key`, so sending it again is
safe: the server answers a key it has seen with the first result and counts
no second try.  `submit` retries once by itself when the connection fails or
times out; if that fails too, the next `submit` of the same answers at the
same checkpoint (the member pressing submit again) reuses the key.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from halls_contract.manifest import Checkpoint, Question

log = logging.getLogger(__name__)


class QuizError(Exception):
    """The quiz API refused or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class QuizUnreachable(QuizError):
    """No answer came (refused, dropped, timed out): the server may or may not have acted on the request."""


@dataclass(frozen=True)
class AttemptResult:
    """The server's grading of one attempt."""

    passed: bool
    score: float
    """Scaled, 0..1."""
    raw: float | None
    max: float | None
    results: list
    """Per question: `{question, correct, explanation?}`."""
    attempts_left: int | None
    retry_after: float | None
    hall_complete: bool

    @classmethod
    def from_json(cls, data: dict) -> AttemptResult:
        score = data.get("score")
        if isinstance(score, dict):  # {raw, max, scaled}
            scaled, raw, top = score.get("scaled"), score.get("raw"), score.get("max")
        else:
            scaled, raw, top = score, None, None
        results = data.get("results")
        if isinstance(results, dict):  # {question id: correct}
            results = [{"question": qid, "correct": bool(ok)} for qid, ok in results.items()]
        return cls(
            bool(data.get("passed")),
            float(scaled or 0.0),
            raw,
            top,
            list(results or []),
            data.get("attempts_left"),
            data.get("retry_after"),
            bool(data.get("hall_complete")),
        )

    def summary(self) -> str:
        """One line in Chinese for the panel."""
        verdict = "通过" if self.passed else "未通过"
        marks = f"{self.raw:g}/{self.max:g}" if self.raw is not None and self.max else f"{self.score * 100:.0f} 分"
        parts = [f"{verdict}，得分 {marks}"]
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

    def question(self, question_id: str) -> Question:
        for question in self.checkpoint.questions:
            if question.id == question_id:
                return question
        raise KeyError(f"checkpoint {self.checkpoint.id!r} has no question {question_id!r}")

    def choose(self, question_id: str, value: Any) -> None:
        """Pick an option: single replaces, multiple toggles, true-false takes a bool."""
        kind = self.question(question_id).type
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
        return all(self.chosen.get(q.id) not in (None, []) for q in self.checkpoint.questions)

    def answers(self) -> dict[str, Any]:
        return {qid: value for qid, value in self.chosen.items() if value not in (None, [])}


class QuizApi:
    """Sessions, visits and checkpoint attempts, with the session's bearer token."""

    def __init__(self, server: str, timeout: float = 10.0, retry_delay: float = 1.0) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.retry_delay = retry_delay
        """Seconds before a submission is sent again after the connection failed."""
        self.token: str | None = None
        self.member: dict | None = None
        self.registrations: dict[str, str] = {}
        """Hall id -> the registration of this visit (one per hall entered)."""
        self.unsettled: dict[tuple[str, str], tuple[str, str]] = {}
        """(hall, checkpoint) -> (answers as JSON, key) of a submission whose reply never came."""

    def open_session(
        self, member_id: str, name: str, branch: str | None = None, enrolment_code: str | None = None
    ) -> dict:
        """`POST /api/session`; keeps the token."""
        body: dict[str, Any] = {"member_id": member_id, "name": name}
        if branch:
            body["branch"] = branch
        if enrolment_code:
            body["enrolment_code"] = enrolment_code
        data = self._post("/api/session", body, auth=False)
        if not isinstance(data, dict) or not data.get("token"):
            raise QuizError("quiz: the server's session answer has no token")
        self.token, self.member = data["token"], data.get("member")
        return data

    def start_visit(self, hall_id: str, platform: str = "client") -> str:
        """`POST /api/halls/{hall}/visits`: the registration that ties this visit's attempts together."""
        try:
            data = self._post(f"/api/halls/{quote(hall_id)}/visits", {"platform": platform}, auth=True)
            registration = data.get("registration") if isinstance(data, dict) else None
        except QuizError as exc:
            if exc.status not in (404, 405):
                raise
            registration = None  # a server without visits: the registration is the client's own
        self.registrations[hall_id] = registration or str(uuid.uuid4())
        return self.registrations[hall_id]

    def submit(
        self, hall_id: str, checkpoint_id: str, answers: dict[str, Any], *, platform: str = "client"
    ) -> AttemptResult:
        """Grade `answers` on the server (a visit is started first when there is none for the hall).

        Sent with an `Idempotency-Key`, and once more with the same key if no
        answer came; the same answers submitted again after that reuse it.
        """
        if self.token is None:
            raise QuizError("quiz: no session (open one first)")
        registration = self.registrations.get(hall_id) or self.start_visit(hall_id, platform)
        body = {"answers": answers, "registration": registration, "platform": platform}
        path = f"/api/halls/{quote(hall_id)}/checkpoints/{quote(checkpoint_id)}/attempts"
        sent = json.dumps(answers, sort_keys=True, ensure_ascii=False)
        earlier = self.unsettled.pop((hall_id, checkpoint_id), None)
        key = earlier[1] if earlier is not None and earlier[0] == sent else uuid.uuid4().hex
        try:
            try:
                data = self._post(path, body, auth=True, headers={"Idempotency-Key": key})
            except QuizUnreachable as lost:
                log.warning("quiz: %s; sending the attempt again", lost)
                time.sleep(self.retry_delay)
                data = self._post(path, body, auth=True, headers={"Idempotency-Key": key})
        except QuizError as failed:
            if isinstance(failed, QuizUnreachable) or (failed.status or 0) >= 500:  # it may have been stored
                self.unsettled[hall_id, checkpoint_id] = (sent, key)
            raise
        return AttemptResult.from_json(data)

    def _post(self, path: str, body: dict, auth: bool, headers: dict[str, str] | None = None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.server + path, data=json.dumps(body, ensure_ascii=False).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise QuizError(f"quiz: {exc.code} {_message(exc)}", exc.code) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise QuizUnreachable(f"quiz: the server is not answering ({getattr(exc, 'reason', exc)!s})") from None
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
