"""Quiz checkpoints: answer keys from the build, validation of a member's responses, grading.

The build publishes `private/answers/<hall>.json` beside the manifests: every
checkpoint with its questions, keys, explanations, pass mark, attempts and
cool-down.  `AnswerKeys` reads them for the release being served; the rest
are pure functions.  Keys stay in this module's objects: `public_questions`
is the only view of a checkpoint that leaves the server, and nothing here
logs a key.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

QuestionType = Literal["single", "multiple", "true-false"]
Response = str | tuple[str, ...] | bool
"""A validated response: an option id, a sorted tuple of option ids, or true/false."""


class InvalidResponses(ValueError):
    """The posted responses do not fit the checkpoint (the message names the question)."""


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    prompt: Mapping[str, str | None]
    options: tuple[tuple[str, Mapping[str, str | None]], ...]
    """(option id, text) in order."""
    key: Response = ""
    explanation: Mapping[str, str | None] | None = None

    def __repr__(self) -> str:  # keep keys out of tracebacks and debug logs
        return f"Question({self.id!r}, {self.type!r})"

    @property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(option_id for option_id, _ in self.options)


@dataclass(frozen=True, eq=False)
class Checkpoint:
    hall: str
    id: str
    title: Mapping[str, str | None]
    pass_mark: float
    attempts: int
    cooldown: float
    questions: tuple[Question, ...]

    def __repr__(self) -> str:
        return f"Checkpoint({self.hall!r}, {self.id!r})"

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    response: Response | None
    """None when the member left the question out."""
    correct: bool


@dataclass(frozen=True)
class Grade:
    results: tuple[QuestionResult, ...]
    raw: int
    max: int
    passed: bool

    @property
    def scaled(self) -> float:
        return round(self.raw / self.max, 4) if self.max else 0.0


def parse_checkpoints(hall_id: str, document: Mapping) -> dict[str, Checkpoint]:
    """Checkpoints of one hall's answer-key file, by id."""
    checkpoints = {}
    for entry in document.get("checkpoints", []):
        questions = tuple(_question(q) for q in entry["questions"])
        if not questions:
            raise ValueError(f"checkpoint {entry['id']!r} has no questions")
        checkpoints[entry["id"]] = Checkpoint(
            hall=hall_id,
            id=entry["id"],
            title=entry.get("title") or {"zh": entry["id"]},
            pass_mark=float(entry.get("pass_mark", 0.6)),
            attempts=int(entry.get("attempts", 3)),
            cooldown=float(entry.get("cooldown", 0)),
            questions=questions,
        )
    return checkpoints


class AnswerKeys:
    """Answer keys of the release being served, read per hall on first use."""

    def __init__(self) -> None:
        self._release: Path | None = None
        self._halls: dict[str, dict[str, Checkpoint]] = {}

    def hall(self, release: Path | None, hall_id: str) -> dict[str, Checkpoint]:
        """Checkpoints of `hall_id` in `release` (empty when the hall has none or no keys were published)."""
        if release != self._release:
            self._release, self._halls = release, {}
        cached = self._halls.get(hall_id)
        if cached is None:
            cached = self._halls[hall_id] = _read_hall(release, hall_id)
        return cached

    def checkpoint(self, release: Path | None, hall_id: str, checkpoint_id: str) -> Checkpoint | None:
        return self.hall(release, hall_id).get(checkpoint_id)


def public_questions(checkpoint: Checkpoint) -> list[dict]:
    """The questions as clients see them: id, type, prompt, options; no keys, no explanations."""
    return [
        {
            "id": q.id,
            "type": q.type,
            "prompt": dict(q.prompt),
            "options": [{"id": option_id, "text": dict(text)} for option_id, text in q.options],
        }
        for q in checkpoint.questions
    ]


def parse_responses(checkpoint: Checkpoint, raw: Any) -> dict[str, Response]:
    """Validate posted responses (`{question id: "A" | ["A", "C"] | true}`) against the checkpoint."""
    if not isinstance(raw, dict) or not raw:
        raise InvalidResponses("'answers' must be a non-empty object of question id -> response")
    parsed: dict[str, Response] = {}
    for question_id, value in raw.items():
        question = checkpoint.question(question_id)
        if question is None:
            raise InvalidResponses(f"unknown question id {question_id!r} in checkpoint {checkpoint.id!r}")
        parsed[question_id] = _response(question, value)
    return parsed


def grade(checkpoint: Checkpoint, responses: Mapping[str, Response]) -> Grade:
    """Mark every question (left out = wrong) and apply the pass mark."""
    results = []
    for question in checkpoint.questions:
        response = responses.get(question.id)
        results.append(QuestionResult(question, response, response is not None and _is_correct(question, response)))
    raw = sum(r.correct for r in results)
    total = len(results)
    passed = total > 0 and raw >= math.ceil(checkpoint.pass_mark * total - 1e-9)
    return Grade(tuple(results), raw, total, passed)


# --- private helpers -------------------------------------------------------


def _read_hall(release: Path | None, hall_id: str) -> dict[str, Checkpoint]:
    if release is None:
        return {}
    path = release / "private" / "answers" / f"{hall_id}.json"
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        log.error("cannot read answer keys of hall %s: %s", hall_id, error)
        return {}
    try:
        return parse_checkpoints(hall_id, document)
    except (KeyError, TypeError, ValueError) as error:
        log.error("answer keys of hall %s are malformed: %s", hall_id, type(error).__name__)
        return {}


def _question(entry: Mapping) -> Question:
    kind = entry["type"]
    if kind not in ("single", "multiple", "true-false"):
        raise ValueError(f"unknown question type {kind!r}")
    options = tuple((o["id"], o.get("text") or {}) for o in entry.get("options", []))
    key = entry["answer"]
    if kind == "multiple":
        key = tuple(sorted(key if isinstance(key, list) else [key]))
    elif kind == "true-false" and not isinstance(key, bool):
        raise ValueError("true-false key must be true or false")
    return Question(entry["id"], kind, entry.get("prompt") or {}, options, key, entry.get("explanation"))


def _response(question: Question, value: Any) -> Response:
    where = f"question {question.id!r}"
    ids = question.option_ids
    if question.type == "true-false":
        if not isinstance(value, bool):
            raise InvalidResponses(f"{where}: expected true or false, got {json.dumps(value, ensure_ascii=False)}")
        return value
    if question.type == "single":
        if not isinstance(value, str) or value not in ids:
            raise InvalidResponses(
                f"{where}: expected one option id ({', '.join(ids)}), got {json.dumps(value, ensure_ascii=False)}"
            )
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidResponses(
            f"{where}: expected a list of option ids ({', '.join(ids)}), got {json.dumps(value, ensure_ascii=False)}"
        )
    unknown = [v for v in value if v not in ids]
    if unknown:
        raise InvalidResponses(f"{where}: unknown option id {unknown[0]!r} (choose from {', '.join(ids)})")
    if len(set(value)) != len(value):
        raise InvalidResponses(f"{where}: an option id is repeated")
    return tuple(sorted(value))


def _is_correct(question: Question, response: Response) -> bool:
    if question.type == "true-false":
        return response is question.key
    return response == question.key
