"""The quiz and learning-record HTTP API.

    POST /api/session                                     sign in -> {token, member}
                                                          (429 after `signin_failures` refusals)
    GET  /api/me/progress                                 the member's halls and checkpoints
    GET  /api/halls/{hall}/checkpoints/{cp}               questions (no keys) and the member's tries
    POST /api/halls/{hall}/visits                         -> {registration}
    POST /api/halls/{hall}/checkpoints/{cp}/attempts      grade, store, queue statements -> result
    POST /api/halls/{hall}/dioramas/{id}/experienced      time spent in a diorama
    GET  /api/progress[?from=&to=&branch=&format=csv]     trainer reports (`server.learning.progress`)
    GET  /reports                                         the report page
    GET  /api/admin/dead-letters                          statements the LRS refused
    POST /api/admin/dead-letters/{id}/resend

Everything but `/api/session` and `/reports` needs `Authorization: Bearer`;
the member is always the token's, never one named in a body.

An attempt may carry `Idempotency-Key: <8-64 of A-Z a-z 0-9 _ ->`, one new
key per submission, sent again unchanged when the client retries it (the
reply was lost, the member pressed submit again).  The key is stored with
the attempt, unique per member.  A request whose key already has an attempt
is not graded, stored or queued again: it gets `200` with the first reply's
body (the same score, results, explanations, `attempts_left`, `retry_after`
and `hall_complete`, even if the policy would now refuse a new try) and the
header `Idempotent-Replay: true`.  The key with another checkpoint or other
answers is `409`; a malformed key is `400`.  Without the header every
request is a new attempt.

Schema first, then rules: after the token, every header, query and body is
read through its model (`server.learning.request_models`), so a request
that does not fit is a 400 naming the field before any hall, checkpoint or
policy is looked at.  `server.web.openapi` describes these routes.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from server.config import ServerConfig
from server.database import DATABASE, Database
from server.learning import learners, progress
from server.learning.auth import (
    SESSIONS,
    SIGNIN_GUARD,
    EnrolmentRefused,
    Sessions,
    SignInGuard,
    client_address,
    require_role,
)
from server.learning.forwarder import FORWARDER, Forwarder, lrs_target_resolver, outbox_context
from server.learning.learners import LEARNERS_SCHEMA, AttemptRequest, ExperienceRequest, Refusal, StoredAttempt
from server.learning.outbox import OUTBOX_SCHEMA, dead_letters, resend_dead_letter
from server.learning.quiz import AnswerKeys, Checkpoint, InvalidResponses, grade, parse_responses, public_questions
from server.learning.records import BASE_NAME, Vocabulary
from server.learning.request_models import (
    AttemptBody,
    DeadLettersQuery,
    ExperiencedBody,
    ProgressQuery,
    RequestError,
    ResendPath,
    SessionBody,
    VisitBody,
    idempotency_key,
    read_body,
    read_path,
    read_query,
)
from server.web.catalog import CURRENT_BUILD

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class QuizState:
    """What the quiz handlers share: answer keys of the served build and the statement vocabulary."""

    keys: AnswerKeys
    vocabulary: Vocabulary


QUIZ: web.AppKey[QuizState] = web.AppKey("quiz", QuizState)


def add_quiz(app: web.Application, config: ServerConfig) -> None:
    """Register the quiz, records and report routes and the outbox's cleanup context (once per app).

    Reads the `auth`, `forwarding` and `report` sections, the var folder, the public URL and the training base's name.
    """
    if QUIZ in app:
        return
    var_dir = config.var_path
    app[SESSIONS] = Sessions.from_settings(config.auth, var_dir)
    app[SIGNIN_GUARD] = SignInGuard(config.auth.signin_failures, config.auth.signin_window)
    app[QUIZ] = QuizState(AnswerKeys(), Vocabulary(config.public_url, config.training_base_name or BASE_NAME))
    database = app[DATABASE] = Database(var_dir / "halls.sqlite", [OUTBOX_SCHEMA, LEARNERS_SCHEMA])
    app[FORWARDER] = Forwarder(database, config.forwarding, lrs_target_resolver(app, config.forwarding))
    app[progress.REPORTS] = config.report
    app.cleanup_ctx.append(_upgrade_schema)  # before outbox_context opens the database with LEARNERS_SCHEMA
    app.cleanup_ctx.append(outbox_context())
    router = app.router
    router.add_post("/api/session", session_handler)
    router.add_get("/api/me/progress", my_progress_handler)
    router.add_get("/api/halls/{hall_id}/checkpoints/{checkpoint_id}", checkpoint_handler)
    router.add_post("/api/halls/{hall_id}/visits", visit_handler)
    router.add_post("/api/halls/{hall_id}/checkpoints/{checkpoint_id}/attempts", attempt_handler)
    router.add_post("/api/halls/{hall_id}/dioramas/{diorama_id}/experienced", experienced_handler)
    router.add_get("/api/progress", progress_handler)
    router.add_get("/reports", progress.reports_page_handler)
    router.add_get("/api/admin/dead-letters", dead_letters_handler)
    router.add_post("/api/admin/dead-letters/{letter_id}/resend", resend_handler)


# --- handlers ------------------------------------------------------------------


def json_api(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """Errors raised by `require_role` and requests that do not fit their model become JSON answers (headers kept)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RequestError as invalid:
            return error(400, str(invalid))
        except web.HTTPException as failure:
            if failure.status < 400 or failure.content_type != "application/json":
                raise
            headers = {k: v for k, v in failure.headers.items() if k in ("WWW-Authenticate", "Retry-After")}
            return web.Response(
                status=failure.status, text=failure.text, content_type="application/json", headers=headers | NO_STORE
            )

    return wrapped


def reply(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(
        value,
        status=status,
        headers=NO_STORE | dict(headers or {}),
        dumps=functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":")),
    )


def error(status: int, message: str, **extra: Any) -> web.Response:
    headers = {"Retry-After": str(extra["retry_after"])} if extra.get("retry_after") else None
    return reply({"error": message, **extra}, status, headers)


@json_api
async def session_handler(request: web.Request) -> web.Response:
    body = await read_body(request, SessionBody)
    sessions = request.app[SESSIONS]
    member_id, name, branch, code = body.member_id, body.name, body.branch, body.enrolment_code
    if branch is not None and sessions.branches and branch not in sessions.branches:
        return error(400, f"branch: unknown branch (one of: {', '.join(sessions.branches)})")
    guard, address = request.app[SIGNIN_GUARD], client_address(request)
    wait = guard.retry_after(address)
    if wait is not None:
        return error(429, f"too many refused sign-ins from this device; try again in {wait} s", retry_after=wait)
    try:
        sessions.check_enrolment(member_id, code)
    except EnrolmentRefused as refused:
        guard.refused(address)
        log.warning("sign-in refused member=%s address=%s: %s", member_id, address, refused)
        return error(403, str(refused))
    name = name.strip()
    branch = await request.app[DATABASE].write(learners.upsert_member, member_id, name, branch, time.time())
    role = sessions.role_of(member_id)
    log.info("sign-in member=%s role=%s", member_id, role)
    return reply(
        {"token": sessions.issue(member_id), "member": {"id": member_id, "name": name, "role": role, "branch": branch}}
    )


@json_api
async def my_progress_handler(request: web.Request) -> web.Response:
    principal = require_role(request)
    view = request.app[CURRENT_BUILD].view
    keys = request.app[QUIZ].keys
    attempts, completed = learners.member_progress(request.app[DATABASE].reader, principal.member_id)
    halls = {}
    for hall_id in view.manifests:
        checkpoints = keys.hall(view.release, hall_id)
        if not checkpoints:
            continue
        entries = {}
        for checkpoint_id in checkpoints:
            used, passed, best = attempts.get((hall_id, checkpoint_id), (0, False, None))
            entries[checkpoint_id] = {"passed": passed, "attempts": used, "best_score": best}
        halls[hall_id] = {"complete": hall_id in completed, "checkpoints": entries}
    return reply(halls)


@json_api
async def checkpoint_handler(request: web.Request) -> web.Response:
    principal = require_role(request)
    found = _checkpoint(request)
    if isinstance(found, web.Response):
        return found
    checkpoint = found
    now = time.time()
    database = request.app[DATABASE]
    await database.write(learners.note_opened, principal.member_id, checkpoint.hall, checkpoint.id, now)
    state = learners.checkpoint_state(database.reader, principal.member_id, checkpoint.hall, checkpoint.id)
    return reply(
        {
            "id": checkpoint.id,
            "hall": checkpoint.hall,
            "title": dict(checkpoint.title),
            "pass_mark": checkpoint.pass_mark,
            "attempts_allowed": checkpoint.attempts,
            "cooldown": checkpoint.cooldown,
            "questions": public_questions(checkpoint),
            "attempts_used": state.used,
            "attempts_left": learners.attempts_left(checkpoint, state),
            "retry_after": learners.retry_after(checkpoint, state, now),
            "passed": state.passed,
            "best_score": state.best_score,
        }
    )


@json_api
async def visit_handler(request: web.Request) -> web.Response:
    principal = require_role(request)
    body = await read_body(request, VisitBody)
    hall_id = request.match_info["hall_id"]
    if request.app[CURRENT_BUILD].view.manifest(hall_id) is None:
        return error(404, f"unknown hall {hall_id!r}")
    registration = await request.app[DATABASE].write(
        learners.start_visit, principal.member_id, hall_id, body.platform, time.time()
    )
    return reply({"registration": registration}, 201)


@json_api
async def attempt_handler(request: web.Request) -> web.Response:
    principal = require_role(request)
    key = idempotency_key(request.headers)
    body = await read_body(request, AttemptBody)
    registration, platform = body.registration, body.platform
    found = _checkpoint(request)
    if isinstance(found, web.Response):
        return found
    checkpoint = found
    try:
        responses = parse_responses(checkpoint, body.answers)
    except InvalidResponses as invalid:
        return error(400, str(invalid))
    marks = grade(checkpoint, responses)
    app = request.app
    view = app[CURRENT_BUILD].view
    database = app[DATABASE]
    attempt = AttemptRequest(
        member_id=principal.member_id,
        checkpoint=checkpoint,
        grade=marks,
        registration=registration,
        platform=platform,
        now=time.time(),
        hall_checkpoints=frozenset(app[QUIZ].keys.hall(view.release, checkpoint.hall)),
        vocabulary=app[QUIZ].vocabulary,
        hall_title=_hall_title(view, checkpoint.hall),
        idempotency_key=key,
    )
    basis = learners.read_basis(database.reader, attempt)
    if isinstance(basis, (Refusal, StoredAttempt)):
        record = basis
    else:
        prepared = learners.prepare_attempt(attempt, basis)
        record = await database.write(learners.record_attempt, attempt, prepared, queues=True)
    if isinstance(record, Refusal):
        extra = {"retry_after": record.retry_after} if record.status == 429 else {}
        if record.status == 403:
            extra = {"attempts_left": 0}
        return error(record.status, record.error, **extra)
    if isinstance(record, StoredAttempt):
        log.info(
            "attempt replayed member=%s hall=%s checkpoint=%s number=%d",
            principal.member_id,
            checkpoint.hall,
            checkpoint.id,
            record.number,
        )
        return reply(
            _attempt_result(
                checkpoint,
                record.passed,
                record.raw,
                record.max,
                record.scaled,
                record.correct,
                record.attempts_left,
                record.retry_after,
                record.hall_complete,
            ),
            headers={"Idempotent-Replay": "true"},
        )
    log.debug(
        "attempt member=%s hall=%s checkpoint=%s number=%d score=%d/%d passed=%s",
        principal.member_id,
        checkpoint.hall,
        checkpoint.id,
        record.number,
        marks.raw,
        marks.max,
        marks.passed,
    )
    return reply(
        _attempt_result(
            checkpoint,
            marks.passed,
            marks.raw,
            marks.max,
            marks.scaled,
            [(r.question.id, r.correct) for r in marks.results],
            record.attempts_left,
            record.retry_after,
            record.hall_complete,
        )
    )


@json_api
async def experienced_handler(request: web.Request) -> web.Response:
    principal = require_role(request)
    body = await read_body(request, ExperiencedBody)
    hall_id, diorama_id = request.match_info["hall_id"], request.match_info["diorama_id"]
    view = request.app[CURRENT_BUILD].view
    manifest = view.manifest(hall_id)
    if manifest is None:
        return error(404, f"unknown hall {hall_id!r}")
    diorama = next(
        (e for e in manifest.get("exhibits", []) if e.get("kind") == "diorama" and e.get("id") == diorama_id), None
    )
    if diorama is None:
        return error(404, f"unknown diorama {diorama_id!r} in hall {hall_id!r}")
    registration, seconds = body.registration, body.seconds
    outcome = await request.app[DATABASE].write(
        learners.record_experience,
        ExperienceRequest(
            member_id=principal.member_id,
            hall_id=hall_id,
            diorama_id=diorama_id,
            registration=registration,
            seconds=float(seconds),
            now=time.time(),
            vocabulary=request.app[QUIZ].vocabulary,
            hall_title=_hall_title(view, hall_id),
            diorama_title=diorama.get("title"),
        ),
        queues=True,
    )
    if isinstance(outcome, Refusal):
        return error(outcome.status, outcome.error)
    return reply({"recorded": True, "seconds": float(seconds)}, 201)


@json_api
async def progress_handler(request: web.Request) -> web.Response:
    require_role(request, "trainer", "admin")
    query = read_query(request.query, ProgressQuery)
    settings, branches = request.app[progress.REPORTS], request.app[SESSIONS].branches
    filters = {"from": query.from_, "to": query.to, "branch": ",".join(query.branch)}
    try:
        where = progress.parse_filter({k: v for k, v in filters.items() if v}, settings, branches)
    except progress.BadFilter as bad:
        return error(400, str(bad))
    view = request.app[CURRENT_BUILD].view
    halls = progress.halls_of_build(view.catalog.value, view.release, request.app[QUIZ].keys)
    report = await request.app[DATABASE].read_in_thread(progress.build_report, halls, where, settings, branches)
    if query.format == "csv":
        body = "\ufeff" + progress.report_csv(report)  # the BOM tells spreadsheet programs it is UTF-8
        return web.Response(
            text=body,
            content_type="text/csv",
            charset="utf-8",
            headers=NO_STORE | {"Content-Disposition": 'attachment; filename="progress.csv"'},
        )
    return reply(report)


@json_api
async def dead_letters_handler(request: web.Request) -> web.Response:
    require_role(request, "admin")
    query = read_query(request.query, DeadLettersQuery)
    listing = functools.partial(dead_letters, include_resent=query.include_resent)
    letters = await request.app[DATABASE].read_in_thread(listing)
    return reply({"dead_letters": letters})


@json_api
async def resend_handler(request: web.Request) -> web.Response:
    principal = require_role(request, "admin")
    letter = read_path(request.match_info, ResendPath).letter_id
    count = await request.app[DATABASE].write(resend_dead_letter, letter, time.time(), queues=True)
    if count is None:
        return error(404, f"no open dead letter {letter}")
    log.warning("dead letter %d re-queued by %s (%d statements)", letter, principal.member_id, count)
    return reply({"id": letter, "requeued": count})


# --- private helpers -------------------------------------------------------------


def _attempt_result(
    checkpoint: Checkpoint,
    passed: bool,
    raw: int,
    top: int,
    scaled: float,
    correct: Sequence[tuple[str, bool]],
    attempts_left: int,
    retry_after: int,
    hall_complete: bool,
) -> dict:
    """An attempt's reply body: explanations of right answers, of all once passed or out of tries."""
    reveal = passed or attempts_left == 0
    results = []
    for question_id, right in correct:
        entry: dict[str, Any] = {"question": question_id, "correct": right}
        question = checkpoint.question(question_id)
        if question is not None and question.explanation and (right or reveal):
            entry["explanation"] = dict(question.explanation)
        results.append(entry)
    return {
        "passed": passed,
        "score": {"raw": raw, "max": top, "scaled": scaled},
        "results": results,
        "attempts_left": attempts_left,
        "retry_after": retry_after,
        "hall_complete": hall_complete,
    }


async def _upgrade_schema(app: web.Application):
    """A cleanup context: add what an older `halls.sqlite` lacks (`learners.upgrade_schema`) before it opens."""
    database = app[DATABASE]
    if learners.upgrade_schema(database):
        log.info("%s upgraded: attempts.idempotency_key added", database.path.name)
    yield


def _checkpoint(request: web.Request) -> Checkpoint | web.Response:
    hall_id, checkpoint_id = request.match_info["hall_id"], request.match_info["checkpoint_id"]
    view = request.app[CURRENT_BUILD].view
    if view.manifest(hall_id) is None:
        return error(404, f"unknown hall {hall_id!r}")
    checkpoint = request.app[QUIZ].keys.checkpoint(view.release, hall_id, checkpoint_id)
    if checkpoint is None:
        return error(404, f"unknown checkpoint {checkpoint_id!r} in hall {hall_id!r}")
    return checkpoint


def _hall_title(view, hall_id: str) -> Mapping | None:
    manifest = view.manifest(hall_id)
    return manifest.get("title") if manifest else None
