"""The server's HTTP API described as OpenAPI 3.1, and a page for integrators.

    GET /api/openapi.json                  the description (made once per process)
    GET /api/docs                          Swagger UI over it (from npm: `swagger-ui-dist`)
    GET /vendor/swagger-ui/{path}          the renderer's files, from node_modules only

The description is made from `OPERATIONS`, one declared row per method and
path the app registers, and the pydantic models of what goes in and out:
request bodies and queries are the models the handlers read through
(`server.learning.request_models`), manifests and the catalog come from
`halls_contract`, replies are the `*Reply` models below.  The xAPI
resources of the embedded LRS are described as xAPI 1.0.3 defines them
(statements and documents as plain objects).  `tests/server/test_openapi.py`
checks the table against `app.router.routes()` both ways, and
`tests/server/test_openapi_fuzz.py` sends Schemathesis at a live server,
so neither the routes nor the replies can drift from what this says.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from halls_contract.catalog import Catalog
from halls_contract.manifest import VARIANTS, ChunkModel, Manifest
from server.config import ServerConfig
from server.learning.request_models import (
    IDEMPOTENCY_KEY,
    AttemptBody,
    DeadLettersQuery,
    ExperiencedBody,
    ProgressQuery,
    SessionBody,
    VisitBody,
)
from server.web.viewer import SEGMENT, send_vendor_file

log = logging.getLogger(__name__)

OPENAPI_VERSION = "3.1.0"
XAPI_VERSION = "1.0.3"
SWAGGER_DIR = web.AppKey("swagger_ui_dir", Path)
"""The `swagger-ui-dist` npm package folder the docs page's files come from."""
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
"""The renderer's files the page loads; nothing else of the package is reachable."""


# --- replies ---------------------------------------------------------------------------


class _Reply(BaseModel):
    """A JSON reply of this server: exactly these keys."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


Texts = dict[str, str | None]
"""Text by language (`zh`, `en`)."""


class ErrorReply(_Reply):
    """An error: what went wrong, said for the person who sent it."""

    error: str
    retry_after: int | None = None
    """Seconds until a try may succeed (429; also the `Retry-After` header)."""
    attempts_left: int | None = None
    """0 when a checkpoint refuses more attempts (403)."""


class Member(_Reply):
    id: str
    name: str
    role: Literal["member", "trainer", "admin"]
    """From the server's configuration on every request, never from the token."""
    branch: str | None


class SessionReply(_Reply):
    """A signed session token for `Authorization: Bearer`, and who it names."""

    token: str
    member: Member


class CheckpointProgress(_Reply):
    passed: bool
    attempts: int
    best_score: float | None


class HallProgress(_Reply):
    complete: bool
    checkpoints: dict[str, CheckpointProgress]
    """By checkpoint id."""


class QuestionOption(_Reply):
    id: str
    text: Texts


class PublicQuestion(_Reply):
    """A question as clients see it: no key, no explanation."""

    id: str
    type: Literal["single", "multiple", "true-false"]
    prompt: Texts
    options: list[QuestionOption]


class CheckpointView(_Reply):
    """A checkpoint's questions (no keys) and the member's tries."""

    id: str
    hall: str
    title: Texts
    pass_mark: float
    attempts_allowed: int
    cooldown: float
    """Seconds between attempts."""
    questions: list[PublicQuestion]
    attempts_used: int
    attempts_left: int
    retry_after: int
    passed: bool
    best_score: float | None


class VisitReply(_Reply):
    registration: str
    """Send it with every attempt and diorama time of this visit."""


class Score(_Reply):
    raw: int
    max: int
    scaled: float


class QuestionResult(_Reply):
    question: str
    correct: bool
    explanation: Texts | None = None
    """For right answers; for all once passed or out of attempts."""


class AttemptResult(_Reply):
    """A graded attempt (a replay of a stored one says `Idempotent-Replay: true`)."""

    passed: bool
    score: Score
    results: list[QuestionResult]
    attempts_left: int
    retry_after: int
    hall_complete: bool


class ExperiencedReply(_Reply):
    recorded: Literal[True]
    seconds: float


class ReportCheckpoint(_Reply):
    attempts: int
    best_score: float | None
    last_score: float | None
    passed: bool
    first_passed_at: str | None


class ReportMemberHall(_Reply):
    complete: bool
    completed_at: str | None
    time_spent_s: float
    checkpoints: dict[str, ReportCheckpoint]


class ReportMember(_Reply):
    id: str
    name: str
    branch: str | None
    halls: dict[str, ReportMemberHall]


class ReportHall(_Reply):
    id: str
    title: Texts
    checkpoints: list[str]
    enrolled: int
    started: int
    completed: int
    completion_rate: float | None


class ProgressReport(_Reply):
    """Who attempted, passed and completed what, and for how long (`server.learning.progress`)."""

    from_: str | None = Field(alias="from")
    to: str | None
    branches: list[str]
    branch_choices: list[str]
    generated: str
    halls: list[ReportHall]
    members: list[ReportMember]


class StatementSummary(_Reply):
    id: str
    verb: str | None
    object: str | None


class DeadLetter(_Reply):
    """Statements the LRS refused, with its answer (keys redacted)."""

    id: int
    created: str | None
    status: int | None
    response: str
    count: int
    resent: str | None
    statements: list[StatementSummary]


class DeadLetters(_Reply):
    dead_letters: list[DeadLetter]


class ResendReply(_Reply):
    id: int
    requeued: int


class Health(_Reply):
    """Build, uptime, open requests, the hub's and the outbox's figures."""

    status: Literal["ok"]
    build: str | None
    halls: int
    uptime_s: float
    pid: int
    requests_in_flight: int
    requests_served: int
    hub: dict[str, Any]
    outbox: dict[str, Any] | None


class PlanChunk(_Reply):
    id: str
    room: str
    hops: int | None
    distance: float
    model: ChunkModel | None


class Plan(_Reply):
    """The order to fetch a hall's chunks from a room."""

    hall: str
    build: str | None
    from_: str = Field(alias="from")
    variant: Literal["meshopt", "plain", "bam"]
    chunks: list[PlanChunk]


class XapiError(_Reply):
    """An error of the embedded LRS."""

    error: str
    status: int


MODELS: tuple[type[BaseModel], ...] = (
    SessionBody, VisitBody, AttemptBody, ExperiencedBody, Catalog, Manifest, ErrorReply, SessionReply,
    HallProgress, CheckpointView, VisitReply, AttemptResult, ExperiencedReply, ProgressReport, DeadLetters,
    ResendReply, Health, Plan, XapiError,
)  # fmt: skip
"""Models that become `components/schemas` (and everything they refer to)."""


# --- the table of operations --------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A query, header or path parameter."""

    name: str
    where: Literal["query", "header", "path"]
    schema: Mapping[str, Any]
    description: str = ""
    required: bool = False
    media_type: str | None = None
    """The value is a document of this type (`agent=` holds JSON): described as `content`, not `schema`."""


@dataclass(frozen=True)
class Reply:
    """A response: media type -> model, JSON Schema or None (any body); headers by name."""

    description: str
    content: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One method on one path, as the app registers it (`{name}` as in aiohttp)."""

    method: str
    path: str
    summary: str
    tag: str
    replies: Mapping[int, Reply]
    description: str = ""
    security: Literal["member", "trainer", "admin", "lrs"] | None = None
    params: tuple[Param, ...] = ()
    query: type[BaseModel] | None = None
    body: type[BaseModel] | Mapping[str, Any] | None = None
    body_types: tuple[str, ...] = ("application/json",)
    body_required: bool = True
    also_head: bool = False
    """aiohttp's `add_get` answers HEAD too: described as its own operation, without bodies."""


def _json(model: Any) -> dict[str, Any]:
    return {"application/json": model}


def _error(description: str, **headers: Mapping[str, Any]) -> Reply:
    return Reply(description, _json(ErrorReply), headers)


STRING = {"type": "string"}
NO_STORE = {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}}}
ETAG = {"ETag": {"schema": STRING, "required": True}}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds to wait."}}
CHALLENGE = {"WWW-Authenticate": {"schema": STRING, "description": '`Bearer realm="tunlan-halls", error=...`'}}
HTML = {"text/html": STRING}
TEXT = {"text/plain": STRING}
BYTES = {"type": "string", "format": "binary"}

BAD_REQUEST = _error("The request does not fit: `<field path>: <what was expected>`")
UNAUTHORIZED = _error("No valid bearer token (missing, malformed, forged or expired)", **CHALLENGE)
FORBIDDEN = _error("The member's role may not do this")
TOO_LARGE = _error("The body is over the server's `max_body_bytes`")
NOT_MODIFIED = Reply("The client's copy (`If-None-Match`) is current", headers=ETAG)
ROUTE_MISS = {"text/plain": STRING, "application/octet-stream": BYTES}
"""aiohttp's own 404 (outside `/api/`), also for a path no route's pattern matches (a `{`, a newline)."""
PLAIN_NOT_FOUND = Reply("Not found", ROUTE_MISS)

HALL_ID = Param("hall_id", "path", {"type": "string", "examples": ["red"]}, "A hall id (`red`, `safety`, ...).")
CHECKPOINT_ID = Param("checkpoint_id", "path", STRING, "A checkpoint id from the hall's manifest.")
VARIANT = Param(
    "variant",
    "query",
    {"type": "string", "enum": list(VARIANTS)},
    "Which kind of client the chunk models are for (also `Accept: application/json; variant=V`).",
)
IF_NONE_MATCH = Param("If-None-Match", "header", STRING, "An ETag from an earlier answer: 304 when it still holds.")
VENDOR_PATH = Param("path", "path", STRING, "A file under the folder (may hold `/`).")

XAPI_VERSION_HEADER = Param(
    "X-Experience-API-Version",
    "header",
    {"type": "string", "pattern": r"^1\.0(\.[0-9]+)?$", "examples": ["1.0.3"]},
    "xAPI version of the request: 1.0 or 1.0.x (every reply says 1.0.3).",
    required=True,
)
XAPI_REPLY_HEADERS = {
    "X-Experience-API-Version": {"schema": {"type": "string", "const": XAPI_VERSION}, "required": True}
}
XAPI_ERROR = {"application/json": XapiError, "text/plain": STRING}
XAPI_OBJECT = {"type": "object", "description": "A JSON object as xAPI 1.0.3 defines it."}
UUID = {"type": "string", "format": "uuid"}
IRI = {"type": "string", "format": "uri", "description": "An IRI (described here as a URI)."}
TIMESTAMP = {"type": "string", "format": "date-time"}
AGENT = {
    "type": "object",
    "description": "An Agent with an `mbox` (the other identifiers work too).",
    "properties": {
        "objectType": {"const": "Agent"},
        "name": STRING,
        "mbox": {"type": "string", "pattern": "^mailto:[A-Za-z0-9._-]+@[A-Za-z0-9.-]+$"},
    },
    "required": ["mbox"],
    "additionalProperties": False,
}
XAPI_DOCUMENT = {"type": "string", "format": "binary", "description": "The stored document, as it was sent."}


def _xapi_errors(*statuses: int) -> dict[int, Reply]:
    texts = {
        400: "Malformed request, unknown parameter or unsupported xAPI version",
        401: "No or unknown HTTP Basic credentials",
        403: "The credentials lack the scope",
        404: "No such document",
        405: "The method is not supported here",
        409: "Conflict",
        412: "A precondition (If-Match / If-None-Match) failed",
        413: "The body is too large",
    }
    return {s: Reply(texts[s], XAPI_ERROR, XAPI_REPLY_HEADERS) for s in statuses}


def _xapi_params(*names: str, required: tuple[str, ...] = ()) -> tuple[Param, ...]:
    schemas: dict[str, tuple[Mapping[str, Any], str]] = {
        "statementId": (UUID, "A statement's UUID."),
        "voidedStatementId": (UUID, "A voided statement's UUID."),
        "agent": (AGENT, "An Agent (or Group) as JSON: one identifier (`mbox`, `mbox_sha1sum`, `openid`, `account`)."),
        "verb": (IRI, "A verb IRI."),
        "activity": (IRI, "An activity IRI."),
        "registration": (UUID, "A registration UUID."),
        "related_activities": ({"type": "boolean"}, "Match activities anywhere in the statement."),
        "related_agents": ({"type": "boolean"}, "Match agents anywhere in the statement."),
        "since": (TIMESTAMP, "ISO 8601 timestamp: only what was stored after it."),
        "until": (TIMESTAMP, "ISO 8601 timestamp: only what was stored before it."),
        "limit": ({"type": "integer", "minimum": 0}, "Most statements per page (0: the server's maximum)."),
        "format": ({"type": "string", "enum": ["ids", "exact", "canonical"]}, "How much of agents and activities."),
        "attachments": ({"type": "boolean"}, "Answer multipart/mixed with the attachments' bytes."),
        "ascending": ({"type": "boolean"}, "Oldest first."),
        "activityId": (IRI, "An activity IRI."),
        "stateId": (STRING, "The state document's id."),
        "profileId": (STRING, "The profile document's id."),
    }
    return tuple(
        Param(n, "query", schemas[n][0], schemas[n][1], n in required, "application/json" if n == "agent" else None)
        for n in names
    )


STATEMENT_QUERY = _xapi_params(
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
)
XAPI_DOCS = "See the xAPI 1.0.3 specification, part 3 (Data Processing, Validation, and Security)."
STATEMENT_RESULT = {
    "type": "object",
    "description": "A StatementResult: `statements` and a `more` URL.",
    "properties": {"statements": {"type": "array", "items": XAPI_OBJECT}, "more": STRING},
}


def _documents(path: str, subject: tuple[str, ...], document_id: str, summary: str) -> list[Operation]:
    """The State / Activity Profile / Agent Profile resource: one document by id, or the ids since a time."""
    single = _xapi_params(
        *subject, document_id, *(("registration",) if document_id == "stateId" else ()), required=subject
    )
    listing = _xapi_params(
        *subject, "since", *(("registration",) if document_id == "stateId" else ()), required=subject
    )
    params = tuple({p.name: p for p in single + listing}.values())
    params = tuple(
        Param(
            p.name,
            p.where,
            p.schema,
            p.description + (f" Without `{document_id}`: the ids of the documents." if p.name == "since" else ""),
            p.required,
        )
        for p in params
    )
    common = (XAPI_VERSION_HEADER, *params)
    errors = _xapi_errors(400, 401, 403, 409, 412, 413)
    got = {
        200: Reply(
            f"The document, or (without `{document_id}`) a JSON array of document ids",
            {"application/json": {}, "application/octet-stream": XAPI_DOCUMENT, "*/*": XAPI_DOCUMENT},
            XAPI_REPLY_HEADERS | ETAG,
        ),
        404: _xapi_errors(404)[404],
    }
    stored = {204: Reply("Stored", headers=XAPI_REPLY_HEADERS)}
    body = {"type": "string", "format": "binary", "description": "Any document; JSON objects merge on POST."}
    return [
        Operation("GET", path, f"Read {summary}", "xAPI", got | errors, XAPI_DOCS, "lrs", common, also_head=True),
        Operation(
            "PUT",
            path,
            f"Store {summary}",
            "xAPI",
            stored | errors,
            XAPI_DOCS,
            "lrs",
            (*common, Param("If-Match", "header", STRING), Param("If-None-Match", "header", STRING)),
            body=body,
            body_types=("application/json", "application/octet-stream"),
        ),
        Operation(
            "POST",
            path,
            f"Merge into {summary} (JSON objects)",
            "xAPI",
            stored | errors,
            XAPI_DOCS,
            "lrs",
            (*common, Param("If-Match", "header", STRING), Param("If-None-Match", "header", STRING)),
            body=XAPI_OBJECT,
        ),
        Operation(
            "DELETE",
            path,
            f"Delete {summary} (or, without an id, all of them)",
            "xAPI",
            stored | errors,
            XAPI_DOCS,
            "lrs",
            (*common, Param("If-Match", "header", STRING)),
        ),
    ]


OPERATIONS: tuple[Operation, ...] = (
    # --- the published build
    Operation("GET", "/api/halls", "The catalog: every hall of the served build", "catalog", {
        200: Reply("The catalog", _json(Catalog), ETAG), 304: NOT_MODIFIED,
    }, params=(IF_NONE_MATCH,), also_head=True),
    Operation("GET", "/api/halls/{hall_id}", "A hall's manifest (the contract `halls_contract.manifest`)", "catalog", {
        200: Reply("The manifest, with a `model` per chunk for the variant", _json(Manifest), ETAG),
        304: NOT_MODIFIED, 400: _error("Unknown variant"), 404: _error("Unknown hall"),
    }, params=(HALL_ID, VARIANT, IF_NONE_MATCH), also_head=True),
    Operation("GET", "/api/halls/{hall_id}/plan", "The order to fetch a hall's chunks from a room", "catalog", {
        200: Reply("The plan", _json(Plan), ETAG), 304: NOT_MODIFIED,
        400: _error("Unknown variant"), 404: _error("Unknown hall or room"),
    }, params=(HALL_ID, Param("from", "query", STRING, "The member's room (default: the spawn room)."), VARIANT,
               IF_NONE_MATCH), also_head=True),
    *(Operation(method, "/objects/{name}", "An immutable object, named by the SHA-256 of its bytes", "catalog", {
        200: Reply("The object", {"*/*": BYTES}, ETAG | {"Cache-Control": {"schema": STRING}}),
        206: Reply("The range asked for", {"*/*": BYTES}, {"Content-Range": {"schema": STRING, "required": True}}),
        304: NOT_MODIFIED, 404: PLAIN_NOT_FOUND, 412: Reply("If-Match names another object"),
        416: Reply("The range is outside the object", headers={"Content-Range": {"schema": STRING}}),
    }, "Cached forever (`Cache-Control: immutable`); one `bytes=` range (`Range`, `If-Range`).", params=(
        Param("name", "path", {"type": "string", "pattern": r"^[0-9a-f]{64}\.[a-z0-9.]+$"},
              "`<sha256>.<ext>` (glb, bam, bam.pz, png, jpg, jpeg, ogg, mp3, wav, mp4, webm)."),
        IF_NONE_MATCH, Param("If-Match", "header", STRING), Param("Range", "header", STRING),
        Param("If-Range", "header", STRING))) for method in ("GET", "HEAD")),
    Operation("GET", "/api/health", "Build, uptime, open requests, hub and outbox figures", "server", {
        200: Reply("The server is up", _json(Health)),
    }, also_head=True),
    # --- sign-in and the quiz
    Operation("POST", "/api/session", "Sign in: a member id and a name (and a code where asked)", "session", {
        200: Reply("Signed in", _json(SessionReply), NO_STORE), 400: BAD_REQUEST,
        403: _error("Wrong or missing enrolment code"), 413: TOO_LARGE,
        429: _error("Too many refused sign-ins from this address", **RETRY_AFTER),
    }, "The token goes in `Authorization: Bearer <token>`; roles are read from the server's configuration.",
        body=SessionBody),
    Operation("GET", "/api/me/progress", "The member's halls and checkpoints", "quiz", {
        200: Reply("By hall id", _json({"type": "object", "additionalProperties": {
            "$ref": "#/components/schemas/HallProgress"}}), NO_STORE), 401: UNAUTHORIZED,
    }, security="member", also_head=True),
    Operation("GET", "/api/halls/{hall_id}/checkpoints/{checkpoint_id}", "A checkpoint's questions (no keys)", "quiz", {
        200: Reply("The questions and the member's tries", _json(CheckpointView), NO_STORE), 401: UNAUTHORIZED,
        404: _error("Unknown hall or checkpoint"),
    }, security="member", params=(HALL_ID, CHECKPOINT_ID), also_head=True),
    Operation("POST", "/api/halls/{hall_id}/visits", "Start a visit: the registration of the member's attempts",
              "quiz", {
        201: Reply("Started", _json(VisitReply), NO_STORE), 400: BAD_REQUEST, 401: UNAUTHORIZED,
        404: _error("Unknown hall"), 413: TOO_LARGE,
    }, security="member", params=(HALL_ID,), body=VisitBody),
    Operation("POST", "/api/halls/{hall_id}/checkpoints/{checkpoint_id}/attempts", "Answer a checkpoint", "quiz", {
        200: Reply("Graded (or, with `Idempotent-Replay: true`, the first reply to this key again)",
                   _json(AttemptResult), NO_STORE | {"Idempotent-Replay": {
                       "schema": {"type": "string", "const": "true"},
                       "description": "This key was answered before: nothing was graded, stored or sent again."}}),
        400: BAD_REQUEST, 401: UNAUTHORIZED,
        403: _error("Passed already, or no attempts left (`attempts_left: 0`)"),
        404: _error("Unknown hall or checkpoint"),
        409: _error("The Idempotency-Key was used for another checkpoint or other answers"), 413: TOO_LARGE,
        429: _error("Cooling down between attempts (`retry_after`)", **RETRY_AFTER),
    }, "Send a new `Idempotency-Key` with each submission and the same one when retrying it: a retried "
       "submission is answered again (`Idempotent-Replay: true`), never counted again.", security="member",
        params=(HALL_ID, CHECKPOINT_ID, Param(
            "Idempotency-Key", "header", {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"},
            "The client's id of this submission: 8-64 letters, digits, `_` or `-`.")), body=AttemptBody),
    Operation("POST", "/api/halls/{hall_id}/dioramas/{diorama_id}/experienced", "Time spent in a diorama", "quiz", {
        201: Reply("Recorded", _json(ExperiencedReply), NO_STORE), 400: BAD_REQUEST, 401: UNAUTHORIZED,
        404: _error("Unknown hall or diorama"), 413: TOO_LARGE,
    }, security="member", params=(HALL_ID, Param("diorama_id", "path", STRING, "An exhibit of kind `diorama`.")),
        body=ExperiencedBody),
    Operation("GET", "/api/progress", "The trainers' progress report", "progress", {
        200: Reply("The report (`format=csv`: one row per member, hall and checkpoint)",
                   {"application/json": ProgressReport, "text/csv": STRING}, NO_STORE),
        400: BAD_REQUEST, 401: UNAUTHORIZED, 403: FORBIDDEN,
    }, security="trainer", query=ProgressQuery, also_head=True),
    Operation("GET", "/reports", "The report page (signs a trainer in, then shows /api/progress)", "progress", {
        200: Reply("The page", HTML),
    }, also_head=True),
    Operation("GET", "/api/admin/dead-letters", "Statements the LRS refused", "dead letters", {
        200: Reply("Newest first", _json(DeadLetters), NO_STORE), 400: BAD_REQUEST, 401: UNAUTHORIZED,
        403: FORBIDDEN,
    }, security="admin", query=DeadLettersQuery, also_head=True),
    Operation("POST", "/api/admin/dead-letters/{letter_id}/resend", "Queue a dead letter's statements again",
              "dead letters", {
        200: Reply("Queued again", _json(ResendReply), NO_STORE), 400: BAD_REQUEST, 401: UNAUTHORIZED,
        403: FORBIDDEN, 404: _error("No open dead letter with this id"),
    }, security="admin", params=(Param("letter_id", "path", {"type": "integer", "minimum": 1,
                                                             "maximum": 2**63 - 1}),)),
    # --- live presence
    Operation("GET", "/ws/halls/{hall_id}", "The hub: presence, tours and live reload (WebSocket)", "hub", {
        101: Reply("Switching to the WebSocket protocol (`halls_contract.hub`)"),
        400: Reply("Not a WebSocket handshake", TEXT),
        404: Reply("Unknown hall", {"application/json": ErrorReply, **ROUTE_MISS}),
    }, "Send `join` first; messages are described by the contract's JSON Schemas "
       "(`python -m halls_contract.schema`).", params=(HALL_ID,), also_head=True),
    # --- pages and their files
    Operation("GET", "/", "The catalog page", "viewer", {200: Reply("The page", HTML)}, also_head=True),
    Operation("GET", "/halls/{hall_id}", "The viewer page for a hall", "viewer", {
        200: Reply("The page (with a Content-Security-Policy)", HTML),
        404: Reply("No such hall", {**HTML, **ROUTE_MISS}),
    }, params=(HALL_ID,), also_head=True),
    *(Operation("GET", f"/vendor/three/{part}/{{path}}", f"three.js files (`node_modules/three/{part}/`)", "viewer", {
        200: Reply("The file", {"text/javascript": STRING, "application/wasm": BYTES, "application/json": {},
                                "text/css": STRING}),
        304: NOT_MODIFIED, 404: PLAIN_NOT_FOUND,
    }, params=(VENDOR_PATH, IF_NONE_MATCH), also_head=True) for part in ("build", "examples/jsm")),
    Operation("GET", "/{path}", "The viewer's own files (`server/web/static/`)", "viewer", {
        200: Reply("The file", {"*/*": BYTES}), 403: Reply("Not a file", TEXT),
        404: PLAIN_NOT_FOUND,
    }, "Present when the web folder has an `index.html`.", params=(VENDOR_PATH,), also_head=True),
    Operation("GET", "/api/openapi.json", "This description (OpenAPI 3.1)", "docs", {
        200: Reply("The description", _json({"type": "object"})),
    }, also_head=True),
    Operation("GET", "/api/docs", "This description as a page (Swagger UI)", "docs", {
        200: Reply("The page", HTML),
    }, also_head=True),
    Operation("GET", "/vendor/swagger-ui/{path}", "Swagger UI's files (`node_modules/swagger-ui-dist/`)", "docs", {
        200: Reply("The file", {"text/javascript": STRING, "text/css": STRING}), 304: NOT_MODIFIED,
        404: PLAIN_NOT_FOUND,
    }, params=(Param("path", "path", {"type": "string", "enum": list(SWAGGER_FILES)}), IF_NONE_MATCH),
        also_head=True),
    # --- the embedded LRS (xAPI 1.0.3)
    Operation("GET", "/xapi/statements", "Statements: one by id, or those matching the filters", "xAPI", {
        200: Reply("One Statement, or a StatementResult", {"application/json": {"anyOf": [XAPI_OBJECT,
                   STATEMENT_RESULT]}, "multipart/mixed": BYTES}, XAPI_REPLY_HEADERS | {
                   "X-Experience-API-Consistent-Through": {"schema": STRING, "required": True}}),
        404: _xapi_errors(404)[404], **_xapi_errors(400, 401, 403),
    }, XAPI_DOCS, "lrs", (XAPI_VERSION_HEADER, *STATEMENT_QUERY), also_head=True),
    Operation("PUT", "/xapi/statements", "Store one statement under the given id", "xAPI", {
        204: Reply("Stored", headers=XAPI_REPLY_HEADERS), **_xapi_errors(400, 401, 403, 409, 413),
    }, XAPI_DOCS, "lrs", (XAPI_VERSION_HEADER, *_xapi_params("statementId", required=("statementId",))),
        body=XAPI_OBJECT, body_types=("application/json", "multipart/mixed")),
    Operation("POST", "/xapi/statements", "Store statements (one or an array); their ids", "xAPI", {
        200: Reply("The ids, in order", _json({"type": "array", "items": STRING}), XAPI_REPLY_HEADERS),
        **_xapi_errors(400, 401, 403, 409, 413),
    }, XAPI_DOCS + " Also the alternate request syntax (`?method=GET|PUT|POST|DELETE`, form-encoded).", "lrs",
        (XAPI_VERSION_HEADER, Param("method", "query", {"type": "string", "enum": ["GET", "HEAD", "PUT", "POST",
                                                                                   "DELETE"]},
                                    "Alternate request syntax: the method meant (the body is then a form)")),
        body={"oneOf": [XAPI_OBJECT, {"type": "array", "items": XAPI_OBJECT}]},
        body_types=("application/json", "multipart/mixed")),
    *_documents("/xapi/activities/state", ("activityId", "agent"), "stateId", "a state document"),
    *_documents("/xapi/activities/profile", ("activityId",), "profileId", "an activity profile"),
    *_documents("/xapi/agents/profile", ("agent",), "profileId", "an agent profile"),
    Operation("GET", "/xapi/activities", "An activity with its definition as the LRS knows it", "xAPI", {
        200: Reply("The Activity", _json(XAPI_OBJECT), XAPI_REPLY_HEADERS), **_xapi_errors(400, 401, 403),
    }, XAPI_DOCS, "lrs", (XAPI_VERSION_HEADER, *_xapi_params("activityId", required=("activityId",))),
        also_head=True),
    Operation("GET", "/xapi/agents", "A Person object: everything the LRS knows of an agent", "xAPI", {
        200: Reply("The Person", _json(XAPI_OBJECT), XAPI_REPLY_HEADERS), **_xapi_errors(400, 401, 403),
    }, XAPI_DOCS, "lrs", (XAPI_VERSION_HEADER, *_xapi_params("agent", required=("agent",))), also_head=True),
    Operation("GET", "/xapi/about", "The xAPI versions this LRS speaks (no credentials needed)", "xAPI", {
        200: Reply("`{\"version\": [...]}`", _json(XAPI_OBJECT), XAPI_REPLY_HEADERS), **_xapi_errors(400),
    }, XAPI_DOCS, also_head=True),
)  # fmt: skip


def operations() -> list[tuple[str, str, Operation]]:
    """(method, path, operation) for every described operation, HEAD included."""
    listed = []
    for op in OPERATIONS:
        listed.append((op.method, op.path, op))
        if op.also_head:
            listed.append(("HEAD", op.path, op))
    return listed


# --- the description -----------------------------------------------------------------------


def describe() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the server's HTTP API.

    Its server is `/`: paths are relative to wherever the description was fetched from, behind any proxy.
    """
    schemas = _component_schemas()
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op in operations():
        paths.setdefault(path, {})[method.lower()] = _operation(op, method)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Tunlan Halls API · 屯兰VR展厅接口",
            "version": _version(),
            "description": (
                "The hall server's HTTP API: the published build (catalog, manifests, streaming plans, immutable "
                "objects), sign-in, checkpoints and attempts, visits and diorama time, trainers' reports, dead "
                "letters, health, the WebSocket hub, and the embedded learning-record store (xAPI 1.0.3 under "
                '`/xapi/`). Errors of `/api/` are JSON `{"error": "..."}`; a request that does not fit its '
                "schema is a 400 naming the field (`answers.s1: expected ...`)."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer", "description": "The token from `POST /api/session`."},
                "lrs": {"type": "http", "scheme": "basic", "description": "LRS credentials (`halls lrs-user add`)."},
            },
        },
    }
    return document


TAGS = {
    "catalog": "The published build: catalog, manifests, streaming plans and immutable objects.",
    "server": "The server itself.",
    "session": "Sign-in: a signed token for `Authorization: Bearer`.",
    "quiz": "Checkpoints, attempts (with `Idempotency-Key`), visits and diorama time.",
    "progress": "Trainers' reports.",
    "dead letters": "Statements the LRS refused (administrators).",
    "hub": "Live presence, tours and reload notices.",
    "viewer": "The browser viewer's pages and files.",
    "docs": "This description.",
    "xAPI": "The embedded learning-record store, as xAPI 1.0.3 defines it.",
}


def _component_schemas() -> dict[str, Any]:
    ref = "#/components/schemas/{model}"
    _, top = models_json_schema([(m, "validation") for m in MODELS], ref_template=ref)
    return copy.deepcopy(top.get("$defs", {}))


def _operation(op: Operation, method: str) -> dict[str, Any]:
    head = method == "HEAD"
    result: dict[str, Any] = {
        "operationId": _operation_id(method, op.path),
        "summary": op.summary + (" (headers only)" if head else ""),
        "tags": [op.tag],
    }
    if op.description:
        result["description"] = op.description
    if op.security in ("member", "trainer", "admin"):
        result["security"] = [{"session": []}]
        if op.security != "member":
            result["description"] = (
                result.get("description", "")
                + f" Needs the {op.security} role"
                + (" (or admin)." if op.security == "trainer" else ".")
            ).strip()
    elif op.security == "lrs":
        result["security"] = [{"lrs": []}]
    else:
        result["security"] = []
    parameters = [_parameter(p) for p in op.params]
    declared = {p.name for p in op.params}
    for name in re.findall(r"{(\w+)}", op.path):
        if name not in declared:
            parameters.append(_parameter(Param(name, "path", STRING)))
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if parameters:
        result["parameters"] = parameters
    if op.body is not None:
        schema = _schema(op.body)
        result["requestBody"] = {
            "required": op.body_required,
            "content": {media: {"schema": schema} for media in op.body_types},
        }
    responses = {}
    for status, reply in sorted(op.replies.items()):
        entry: dict[str, Any] = {"description": reply.description}
        if reply.content and not head and status not in (204, 304):
            entry["content"] = {media: {"schema": _schema(schema)} for media, schema in reply.content.items()}
        if reply.headers:
            entry["headers"] = {name: dict(spec) for name, spec in reply.headers.items()}
        responses[str(status)] = entry
    result["responses"] = responses
    return result


def _operation_id(method: str, path: str) -> str:
    """`getApiHallsHallIdPlan` for `GET /api/halls/{hall_id}/plan`."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", path) if w]
    return method.lower() + "".join(w[:1].upper() + w[1:] for w in words or ["root"])


def _parameter(param: Param) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": param.name, "in": param.where}
    if param.media_type:
        entry["content"] = {param.media_type: {"schema": dict(param.schema)}}
    else:
        entry["schema"] = dict(param.schema)
    if param.description:
        entry["description"] = param.description
    if param.required or param.where == "path":
        entry["required"] = True
    return entry


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One query parameter per field of `model` (a list field repeats its name: `branch=a&branch=b`)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    parameters = []
    for name, field_schema in schema.get("properties", {}).items():
        field_schema = {k: v for k, v in field_schema.items() if k not in ("title", "description")}
        description = field_schema.pop("description", None) or _field_doc(model, name)
        entry: dict[str, Any] = {"name": name, "in": "query", "schema": field_schema}
        if description:
            entry["description"] = description
        if name in required:
            entry["required"] = True
        if field_schema.get("type") == "array":
            entry["style"], entry["explode"] = "form", True
        parameters.append(entry)
    return parameters


def _field_doc(model: type[BaseModel], name: str) -> str | None:
    for attribute, info in model.model_fields.items():
        if (info.alias or attribute) == name:
            return info.description
    return None


def _schema(value: Any) -> dict[str, Any]:
    if isinstance(value, type) and issubclass(value, BaseModel):
        return {"$ref": f"#/components/schemas/{value.__name__}"}
    return copy.deepcopy(dict(value))


def _version() -> str:
    try:
        return metadata.version("tunlan-halls")
    except metadata.PackageNotFoundError:
        return "0"


# --- HTTP ---------------------------------------------------------------------------------------


def add_api_docs(app: web.Application, config: ServerConfig) -> None:
    """Register `/api/openapi.json`, `/api/docs` and the renderer's files."""
    app[SWAGGER_DIR] = find_swagger_ui(config.root) or Path(config.root) / "node_modules" / "swagger-ui-dist"
    app.router.add_get("/api/openapi.json", openapi_handler)
    app.router.add_get("/api/docs", docs_page_handler)
    app.router.add_get("/vendor/swagger-ui/{path}", swagger_file_handler)


def find_swagger_ui(root: Path) -> Path | None:
    """`node_modules/swagger-ui-dist` of the project, else of this checkout."""
    for base in (Path(root), Path(__file__).resolve().parents[2]):
        candidate = base / "node_modules" / "swagger-ui-dist"
        if (candidate / SWAGGER_FILES[0]).is_file():
            return candidate
    return None


@functools.cache
def description_json() -> bytes:
    """`describe()` as served: made once per process (it depends on nothing but this code)."""
    return json.dumps(describe(), ensure_ascii=False).encode()


async def openapi_handler(request: web.Request) -> web.Response:
    return web.Response(
        body=description_json(),
        content_type="application/json",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
    )


async def docs_page_handler(request: web.Request) -> web.Response:
    return web.Response(
        text=DOCS_PAGE,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": DOCS_POLICY},
    )


async def swagger_file_handler(request: web.Request) -> web.StreamResponse:
    name = request.match_info["path"]
    if name not in SWAGGER_FILES or not SEGMENT.fullmatch(name):
        raise web.HTTPNotFound()
    target = request.app[SWAGGER_DIR] / name
    if not target.is_file():
        log.warning("swagger-ui-dist is not installed (run `npm ci`); /api/docs cannot render")
        raise web.HTTPNotFound()
    return send_vendor_file(request, target)


DOCS_SCRIPT = """
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json", dom_id: "#api", deepLinking: true, docExpansion: "list",
    defaultModelsExpandDepth: 0, displayRequestDuration: true, tryItOutEnabled: false,
  });
});
"""
DOCS_PAGE = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>接口文档 · Tunlan Halls API</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
</head><body>
<noscript>This page needs JavaScript; the description itself is at <a href="/api/openapi.json">/api/openapi.json</a>.
</noscript>
<div id="api"></div>
<script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script>{DOCS_SCRIPT}</script>
</body></html>
"""
DOCS_POLICY = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' 'sha256-{base64.b64encode(hashlib.sha256(DOCS_SCRIPT.encode()).digest()).decode()}'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    ]
)
"""As the viewer's: only this server's scripts (and the page's one inline script, by hash) run."""
