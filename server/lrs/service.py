"""The embedded learning-record store: xAPI 1.0.3 under `/xapi/`.

    add_lrs(app, settings, var_dir=..., base_url=...)  # mounts the LRS as a sub-application at /xapi/
    embedded_credentials(app)       # (key, secret) for the server's own forwarder, created once
    post_statements_locally(app, body)  # the forwarder's way in: POST /statements without a socket

Resources: statements (PUT, POST, GET/HEAD with every query filter, `more`
paging, voiding, attachments), activities/state, activities/profile,
agents/profile (ETag concurrency), activities, agents, about.  Every
request but `about` needs `X-Experience-API-Version` (1.0 or 1.0.x) and
HTTP Basic credentials (`halls lrs-user add`); every reply carries
`X-Experience-API-Version: 1.0.3`, and statement replies
`X-Experience-API-Consistent-Through`.  Writes are group-committed by one
writer thread; reads use a second connection on a reader thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from server.config import LrsSettings
from server.lrs import documents as lrs_documents
from server.lrs.attachments import attachment_objects, check_attachments, multipart_reply, parse_multipart
from server.lrs.format import (
    accepted_languages,
    as_canonical,
    as_ids,
    person,
    prepare,
    utc_text,
)
from server.lrs.http import (
    API_VERSION,
    CHALLENGE,
    VERSION_HEADER,
    LrsError,
    XapiRequest,
    basic_credentials,
    check_version,
    error_reply,
    http_date,
    json_reply,
    method_not_allowed,
    only_params,
    read_request,
    require_scope,
)
from server.lrs.query import more_link, parse_query, query_sql
from server.lrs.store import Credential, LrsStore, StatementConflict, check_secret
from server.lrs.validate import JsonError, StatementError, is_uuid, parse_json, validate_statement

log = logging.getLogger(__name__)

DB_NAME = "lrs.sqlite3"
FORWARDER_KEY = "halls-forwarder"
SCOPES = (
    "all",
    "all/read",
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "state",
    "profile",
    "define",
)
READ_STATEMENTS = {"all", "all/read", "statements/read", "statements/read/mine"}
WRITE_STATEMENTS = {"all", "statements/write"}
MAX_GROUP = 256
CREDENTIAL_TTL = 2.0


@dataclass
class _WriteJob:
    statements: list[tuple[dict, dict]]
    credential: str | None
    payloads: list[tuple[str, str, bytes]]
    future: asyncio.Future
    stored_us: int


@dataclass
class LrsState:
    """The LRS's open stores, threads, pending writes and credential cache."""

    settings: LrsSettings
    db_path: Path
    """The LRS database (`<var>/lrs.sqlite3`)."""
    base_url: str
    """Public URL of the server (the `homePage` of credential agents), without a trailing `/`."""
    writer: LrsStore | None = None
    reader: LrsStore | None = None
    write_thread: ThreadPoolExecutor | None = None
    read_thread: ThreadPoolExecutor | None = None
    pending: list[_WriteJob] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)
    drain_task: asyncio.Task | None = None
    credentials: dict[str, tuple[float, Credential | None]] = field(default_factory=dict)
    verified: set[tuple[str, str, str]] = field(default_factory=set)
    checking: dict[tuple[str, str, str], asyncio.Future] = field(default_factory=dict)

    def open(self) -> None:
        """Open both connections (idempotent); the database file is private to the server's user."""
        if self.writer is not None:
            return
        path = self.db_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
        self.writer = LrsStore(path, self.settings.synchronous).open()
        self.reader = LrsStore(path, self.settings.synchronous).open()
        self.write_thread = ThreadPoolExecutor(1, thread_name_prefix="lrs-write")
        self.read_thread = ThreadPoolExecutor(1, thread_name_prefix="lrs-read")

    async def close(self) -> None:
        if self.drain_task is not None:
            await asyncio.gather(self.drain_task, return_exceptions=True)
        if self.writer is None:
            return
        for pool in (self.write_thread, self.read_thread):
            if pool is not None:
                pool.shutdown(wait=True)
        for store in (self.writer, self.reader):
            if store is not None:
                store.close()
        self.writer = self.reader = None

    @property
    def read_store(self) -> LrsStore:
        """The reader thread's connection (the LRS is opened on first use)."""
        self.open()
        assert self.reader is not None
        return self.reader

    @property
    def write_store(self) -> LrsStore:
        """The writer thread's connection (the LRS is opened on first use)."""
        self.open()
        assert self.writer is not None
        return self.writer

    async def read(self, function: Callable, *args) -> Any:
        self.open()
        return await asyncio.get_running_loop().run_in_executor(self.read_thread, function, *args)

    async def write(self, function: Callable, *args) -> Any:
        self.open()
        return await asyncio.get_running_loop().run_in_executor(self.write_thread, function, *args)

    def consistent_through(self) -> str:
        """Every statement stored before this instant is visible (in-flight writes hold it back)."""
        if self.in_flight:
            moment = datetime.fromtimestamp((min(self.in_flight) - 1000) / 1e6, UTC)
        else:
            moment = datetime.now(UTC)
        return utc_text(moment)


LRS_STATE: web.AppKey[LrsState] = web.AppKey("lrs_state", LrsState)


def add_lrs(app: web.Application, settings: LrsSettings, *, var_dir: Path, base_url: str) -> web.Application:
    """Mount the embedded LRS at `/xapi/`; its database lives in `var_dir`, `base_url` is the server's public URL."""
    state = LrsState(settings, Path(var_dir) / DB_NAME, base_url.rstrip("/"))
    lrs = web.Application(middlewares=[_errors_middleware])
    lrs[LRS_STATE] = state
    app[LRS_STATE] = state
    lrs.cleanup_ctx.append(_lifecycle)
    lrs.on_response_prepare.append(_version_header)
    routes = {
        "/statements": statements_resource,
        "/activities/state": lrs_documents.state_resource,
        "/activities/profile": lrs_documents.activity_profile_resource,
        "/agents/profile": lrs_documents.agent_profile_resource,
        "/activities": activities_resource,
        "/agents": agents_resource,
        "/about": about_resource,
    }
    for path, resource in routes.items():
        lrs.router.add_route("*", path, _entry(resource, public=path == "/about"))
    app.add_subapp("/xapi/", lrs)
    return lrs


def embedded_credentials(app: web.Application) -> tuple[str, str]:
    """The forwarder's own (key, secret), created on first use and kept in the LRS database."""
    state = app[LRS_STATE]
    state.open()  # creates the database file with its private mode
    store = LrsStore(state.db_path, state.settings.synchronous).open()  # own connection: any thread
    try:
        secret = store.setting("forwarder_secret")
        if secret is None or store.credential(FORWARDER_KEY) is None:
            secret = secrets.token_urlsafe(24)
            store.remove_credential(FORWARDER_KEY)
            store.add_credential(
                FORWARDER_KEY, secret, "hall server forwarder", ("statements/write", "statements/read/mine")
            )
            store.set_setting("forwarder_secret", secret)
            state.credentials.pop(FORWARDER_KEY, None)
            log.info("created the embedded LRS credential %r for the forwarder", FORWARDER_KEY)
    finally:
        store.close()
    return FORWARDER_KEY, secret


async def post_statements_locally(app: web.Application, body: bytes, key: str = FORWARDER_KEY) -> tuple[int, str]:
    """`POST /xapi/statements` without a socket, as credential `key`: the forwarder's way in.

    Same validation and storage as over HTTP; answers (status, body) as the resource would.
    """
    state = app[LRS_STATE]
    credential = await state.read(lambda: state.read_store.credential(key))
    if credential is None:
        return 401, f"unknown credentials {key!r}"
    headers = CIMultiDict({VERSION_HEADER: API_VERSION, "Content-Type": "application/json"})
    xreq = XapiRequest("POST", "/statements", {}, headers, body, credential)
    try:
        reply = await post_statements(state, xreq)
    except LrsError as error:
        return error.status, error.message
    return reply.status, reply.text or ""


async def _lifecycle(app: web.Application):
    state = app[LRS_STATE]
    state.open()
    log.info("embedded LRS at /xapi/ (database %s)", state.db_path)
    yield
    await state.close()


async def _version_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[VERSION_HEADER] = API_VERSION
    if request.path.endswith("/statements"):
        response.headers["X-Experience-API-Consistent-Through"] = request.app[LRS_STATE].consistent_through()


@web.middleware
async def _errors_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except LrsError as error:
        if error.status >= 500:
            log.error("LRS error %d: %s", error.status, error.message)
        return error_reply(request, error.status, error.message, error.headers)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        return error_reply(request, error.status, error.reason.lower(), headers)


def _entry(resource: Callable, public: bool):
    async def handler(request: web.Request) -> web.StreamResponse:
        state = request.app[LRS_STATE]
        xreq = await read_request(request, state.settings.max_body_bytes)
        if not public:
            check_version(xreq)
            xreq.credential = await _authenticate(state, xreq)
        xreq.extra["request"] = request
        return await resource(state, xreq)

    return handler


async def _authenticate(state: LrsState, xreq: XapiRequest) -> Credential:
    given = basic_credentials(xreq)
    if given is None:
        raise LrsError(401, "authentication required (HTTP Basic)", CHALLENGE)
    key, secret = given
    now = time.monotonic()
    cached = state.credentials.get(key)
    if cached is None or now - cached[0] > CREDENTIAL_TTL:
        cached = (now, await state.read(state.read_store.credential, key))
        state.credentials[key] = cached
    credential = cached[1]
    if credential is None:
        raise LrsError(401, "unknown credentials", CHALLENGE)
    token = (key, hashlib.sha256(secret.encode()).hexdigest(), credential.secret_hash)
    if token not in state.verified:
        checking = state.checking.get(token)
        if checking is None:  # one slow hash check per secret, however many requests wait for it
            checking = asyncio.get_running_loop().run_in_executor(None, check_secret, secret, credential.secret_hash)
            state.checking[token] = checking
            checking.add_done_callback(lambda _: state.checking.pop(token, None))
        if not await asyncio.shield(checking):
            raise LrsError(401, "unknown credentials", CHALLENGE)
        if len(state.verified) > 10_000:
            state.verified.clear()
        state.verified.add(token)
    return credential


def _credential(xreq: XapiRequest) -> Credential:
    """Who sent a request the service has authenticated."""
    assert xreq.credential is not None  # `_entry` authenticates every request but `about`'s
    return xreq.credential


def authority(state: LrsState, credential: Credential) -> dict:
    """The Agent the LRS records as the authority of statements sent with these credentials."""
    return {
        "objectType": "Agent",
        "name": credential.name,
        "account": {"homePage": state.base_url, "name": credential.key},
    }


# --- statements ----------------------------------------------------------------


async def statements_resource(state: LrsState, xreq: XapiRequest) -> web.StreamResponse:
    if xreq.method in ("GET", "HEAD"):
        return await get_statements(state, xreq)
    if xreq.method == "PUT":
        return await put_statement(state, xreq)
    if xreq.method == "POST":
        return await post_statements(state, xreq)
    raise method_not_allowed(xreq, "GET, HEAD, PUT, POST")


async def put_statement(state: LrsState, xreq: XapiRequest) -> web.Response:
    require_scope(xreq, WRITE_STATEMENTS)
    only_params(xreq, {"statementId"}, {"statementId"})
    statement_id = xreq.params["statementId"]
    statements, parts = _statements_body(xreq)
    if isinstance(statements, list):
        raise LrsError(400, "PUT takes one statement, not an array (POST batches)")
    _validate(statements, "statement")
    if not is_uuid(statement_id):
        raise LrsError(400, f"statementId: must be a UUID, got {statement_id!r}")
    if "id" in statements and statements["id"].lower() != statement_id.lower():
        raise LrsError(400, f"the statement's id {statements['id']} differs from statementId {statement_id}")
    statements = {**statements, "id": statement_id}
    await _store(state, xreq, [statements], parts)
    return web.Response(status=204)


async def post_statements(state: LrsState, xreq: XapiRequest) -> web.Response:
    require_scope(xreq, WRITE_STATEMENTS)
    only_params(xreq, set())
    body, parts = _statements_body(xreq)
    statements = body if isinstance(body, list) else [body]
    for index, statement in enumerate(statements):
        _validate(statement, f"statements[{index}]" if isinstance(body, list) else "statement")
    ids = await _store(state, xreq, statements, parts)
    return json_reply(ids)


def _statements_body(xreq: XapiRequest):
    media = xreq.media_type
    parts = None
    raw = xreq.body
    if media == "multipart/mixed":
        try:
            raw, parts = parse_multipart(xreq.body, xreq.content_type)
        except StatementError as error:
            raise LrsError(400, str(error)) from None
    elif media != "application/json":
        raise LrsError(400, f"statements must be sent as application/json or multipart/mixed, not {media or 'untyped'}")
    try:
        value = parse_json(raw)
    except JsonError as error:
        raise LrsError(400, f"the body is not valid JSON: {error}") from None
    if not isinstance(value, (dict, list)):
        raise LrsError(400, "the body must be a statement or an array of statements")
    return value, parts


def _validate(statement, path: str) -> None:
    try:
        validate_statement(statement, path)
    except StatementError as error:
        raise LrsError(400, str(error)) from None


async def _store(state: LrsState, xreq: XapiRequest, statements: list[dict], parts) -> list[str]:
    try:
        payloads = check_attachments(statements, parts)
    except StatementError as error:
        raise LrsError(400, str(error)) from None
    seen = set()
    for index, statement in enumerate(statements):
        statement_id = statement.get("id", "").lower()
        if statement_id and statement_id in seen:
            raise LrsError(400, f"statements[{index}].id: {statement_id} appears twice in the batch")
        seen.add(statement_id)
    state.open()
    stored_us = state.write_store.now_us()
    stored = datetime.fromtimestamp(stored_us / 1e6, UTC)
    credential = _credential(xreq)
    agent = authority(state, credential)
    prepared = [(prepare(statement, stored=stored, authority=agent), statement) for statement in statements]
    future = asyncio.get_running_loop().create_future()
    state.pending.append(_WriteJob(prepared, credential.key, payloads, future, stored_us))
    state.in_flight.append(stored_us)
    if state.drain_task is None or state.drain_task.done():
        state.drain_task = asyncio.get_running_loop().create_task(_drain(state))
    try:
        result = await future
    finally:
        state.in_flight.remove(stored_us)
    if isinstance(result, StatementConflict):
        raise LrsError(409, str(result))
    if isinstance(result, StatementError):
        raise LrsError(400, str(result))
    return result


async def _drain(state: LrsState) -> None:
    """Commit waiting writes in groups: one transaction (and one fsync) for many requests."""
    while state.pending:
        group, state.pending = state.pending[:MAX_GROUP], state.pending[MAX_GROUP:]
        try:
            results = await state.write(_insert_group, state.write_store, group)
        except Exception as error:  # noqa: BLE001 - every waiting request must hear about it
            log.exception("LRS write failed")
            results = [LrsError(500, f"the LRS could not store the statements: {error}")] * len(group)
        for job, result in zip(group, results):
            if job.future.done():
                continue
            if isinstance(result, LrsError):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)


def _insert_group(store: LrsStore, group: list[_WriteJob]) -> list:
    batches = [[(prepared, received, job.credential) for prepared, received in job.statements] for job in group]
    results = store.insert_batches(batches)
    payloads = [p for job, result in zip(group, results) if isinstance(result, list) for p in job.payloads]
    if payloads:
        store.put_attachments(payloads)
    return results


async def get_statements(state: LrsState, xreq: XapiRequest) -> web.Response:
    require_scope(xreq, READ_STATEMENTS)
    try:
        query = parse_query(xreq.params, state.settings.page_size)
    except StatementError as error:
        raise LrsError(400, str(error)) from None
    credential = _credential(xreq)
    mine = None if {"all", "all/read", "statements/read"} & set(credential.scopes) else credential.key
    languages = accepted_languages(xreq.headers.get("Accept-Language"))
    if query.statement_id is not None:
        row = await state.read(_single, state.read_store, query.statement_id, query.voided, mine)
        if row is None:
            kind = "voided statement" if query.voided else "statement"
            raise LrsError(404, f"no {kind} {query.statement_id}")
        statement = json.loads(row)
        shaped = await _shape(state, [statement], query.format, languages)
        text = json.dumps(shaped[0], ensure_ascii=False, separators=(",", ":"))
        headers = {"Last-Modified": http_date(datetime.fromisoformat(statement["stored"].replace("Z", "+00:00")))}
        return await _statement_reply(state, text, shaped, query.attachments, headers)
    query.credential = mine
    sql, args = query_sql(query)
    rows = await state.read(state.read_store.select, sql, args)
    more = ""
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        more = more_link(xreq.path, query, rows[-1][0])
    if query.format == "exact" and not query.attachments:
        text = '{"statements":[' + ",".join(row[1] for row in rows) + '],"more":' + json.dumps(more) + "}"
        return json_reply(None, text=text, etag=True)
    statements = [json.loads(row[1]) for row in rows]
    shaped = await _shape(state, statements, query.format, languages)
    text = json.dumps({"statements": shaped, "more": more}, ensure_ascii=False, separators=(",", ":"))
    return await _statement_reply(state, text, shaped, query.attachments, {})


def _single(store: LrsStore, statement_id: str, voided: bool, mine: str | None):
    row = store.select(
        "SELECT body FROM statements WHERE id = ? AND voided = ?" + (" AND credential = ?" if mine else ""),
        [statement_id, int(voided)] + ([mine] if mine else []),
    )
    return row[0][0] if row else None


async def _shape(state: LrsState, statements: list[dict], form: str, languages: list[str]) -> list[dict]:
    if form == "ids":
        return [as_ids(statement) for statement in statements]
    if form == "canonical":
        ids = [activity_id for statement in statements for activity_id in _activity_ids(statement)]
        definitions = await state.read(state.read_store.definitions, ids)
        return [as_canonical(statement, definitions, languages) for statement in statements]
    return statements


def _activity_ids(statement: dict) -> list[str]:
    found = []
    for source in (statement, statement["object"]):
        obj = source.get("object", {}) if source is statement else source
        if source is statement["object"] and source.get("objectType") != "SubStatement":
            continue
        if isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity" and "id" in obj:
            found.append(obj["id"])
        for items in ((source.get("context") or {}).get("contextActivities") or {}).values():
            found.extend(item["id"] for item in items)
    return found


async def _statement_reply(
    state: LrsState, text: str, statements: list[dict], attachments: bool, headers: dict
) -> web.Response:
    if not attachments:
        return json_reply(None, text=text, headers=headers, etag=True)
    hashes = [attachment["sha2"].lower() for _, attachment in attachment_objects(statements)]
    payloads = await state.read(state.read_store.attachments, hashes)
    body, content_type = multipart_reply(text, payloads)
    response = web.Response(body=body, headers=headers)
    response.headers["Content-Type"] = content_type
    return response


# --- activities, agents, about ---------------------------------------------------


async def activities_resource(state: LrsState, xreq: XapiRequest) -> web.Response:
    if xreq.method not in ("GET", "HEAD"):
        raise method_not_allowed(xreq, "GET, HEAD")
    only_params(xreq, {"activityId"}, {"activityId"})
    activity_id = lrs_documents.document_params(xreq)["activityId"]
    definition = await state.read(state.read_store.activity, activity_id)
    activity = {"objectType": "Activity", "id": activity_id}
    if definition:
        activity["definition"] = definition
    return json_reply(activity, etag=True)


async def agents_resource(state: LrsState, xreq: XapiRequest) -> web.Response:
    if xreq.method not in ("GET", "HEAD"):
        raise method_not_allowed(xreq, "GET, HEAD")
    only_params(xreq, {"agent"}, {"agent"})
    agent = lrs_documents.agent_param(xreq)
    return json_reply(person(agent), etag=True)


async def about_resource(state: LrsState, xreq: XapiRequest) -> web.Response:
    if xreq.method not in ("GET", "HEAD"):
        raise method_not_allowed(xreq, "GET, HEAD")
    only_params(xreq, set())
    return json_reply({"version": ["1.0.0", API_VERSION]}, etag=True)
