"""The Document resources of the embedded LRS: State, Activity Profile, Agent Profile.

Each document is addressed by a scope (activity, agent, registration as the
resource needs) and an id.  GET answers the document with a quoted SHA-1
ETag and Last-Modified, or the list of ids (optionally `since`); PUT
replaces, POST merges JSON objects (top-level keys), DELETE removes.
If-Match / If-None-Match are honoured on every write (412 when they fail);
a profile PUT without either header on an existing document is a 409
(xAPI 1.0.3 Part 3 2.2-2.7 and 3.1).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aiohttp import web

from server.lrs.format import agent_key
from server.lrs.http import LrsError, XapiRequest, etag_list, http_date, json_reply, only_params, require_scope
from server.lrs.store import DocumentConflict, DocumentNotJson, PreconditionFailed
from server.lrs.validate import StatementError, is_iri, is_uuid, parse_timestamp, validate_agent

SEP = "\x1f"
STATE_READ = {"all", "all/read", "state"}
STATE_WRITE = {"all", "state"}
PROFILE_READ = {"all", "all/read", "profile"}
PROFILE_WRITE = {"all", "profile"}


async def state_resource(state, xreq: XapiRequest) -> web.StreamResponse:
    """activities/state: documents per activity, agent and (optional) registration."""
    require_scope(xreq, STATE_READ if xreq.method in ("GET", "HEAD") else STATE_WRITE)
    single = "stateId" in xreq.params
    allowed = {"activityId", "agent", "registration", "stateId"}
    if xreq.method in ("GET", "HEAD") and not single:
        allowed.add("since")
    required = {"activityId", "agent"} | ({"stateId"} if xreq.method in ("PUT", "POST") else set())
    only_params(xreq, allowed, required)
    activity = _activity_param(xreq)
    agent = _agent_scope(xreq)
    registration = xreq.params.get("registration", "")
    if registration:
        if not is_uuid(registration):
            raise LrsError(400, f"registration: must be a UUID, got {registration!r}")
        registration = registration.lower()
    scope = SEP.join((activity, agent, registration))
    if single or xreq.method in ("PUT", "POST"):
        return await _document(state, xreq, "state", scope, xreq.params.get("stateId"), require_precondition=False)
    prefix = scope if "registration" in xreq.params else SEP.join((activity, agent, ""))
    return await _many(state, xreq, "state", prefix, exact=False if "registration" not in xreq.params else True)


async def activity_profile_resource(state, xreq: XapiRequest) -> web.StreamResponse:
    """activities/profile: documents per activity."""
    require_scope(xreq, PROFILE_READ if xreq.method in ("GET", "HEAD") else PROFILE_WRITE)
    return await _profile(state, xreq, "activity_profile", "activityId")


async def agent_profile_resource(state, xreq: XapiRequest) -> web.StreamResponse:
    """agents/profile: documents per agent."""
    require_scope(xreq, PROFILE_READ if xreq.method in ("GET", "HEAD") else PROFILE_WRITE)
    return await _profile(state, xreq, "agent_profile", "agent")


async def _profile(state, xreq: XapiRequest, kind: str, subject: str) -> web.StreamResponse:
    single = "profileId" in xreq.params
    allowed = {subject, "profileId"}
    if xreq.method in ("GET", "HEAD") and not single:
        allowed.add("since")
    required = {subject} | ({"profileId"} if xreq.method in ("PUT", "POST", "DELETE") else set())
    only_params(xreq, allowed, required)
    scope = _activity_param(xreq) if subject == "activityId" else _agent_scope(xreq)
    if single:
        return await _document(state, xreq, kind, scope, xreq.params["profileId"], require_precondition=True)
    return await _many(state, xreq, kind, scope, exact=True)


async def _document(state, xreq: XapiRequest, kind: str, scope: str, doc_id: str | None,
                    require_precondition: bool) -> web.StreamResponse:
    store = state.writer
    if xreq.method in ("GET", "HEAD"):
        document = await state.read(state.reader.document, kind, scope, doc_id)
        if document is None:
            raise LrsError(404, f"no document {doc_id!r} here")
        headers = {"ETag": f'"{document.etag}"', "Last-Modified": _modified(document.updated_us)}
        response = web.Response(body=document.body, headers=headers)
        response.headers["Content-Type"] = document.content_type
        return response
    if_match = etag_list(xreq.headers.get("If-Match"))
    if_none_match = etag_list(xreq.headers.get("If-None-Match"))
    try:
        if xreq.method in ("PUT", "POST"):
            content_type = xreq.headers.get("Content-Type") or "application/octet-stream"
            await state.write(lambda: store.put_document(
                kind, scope, doc_id, content_type, xreq.body, merge=xreq.method == "POST", if_match=if_match,
                if_none_match=if_none_match, require_precondition=require_precondition and xreq.method == "PUT"))
        elif xreq.method == "DELETE":
            await state.write(lambda: store.delete_documents(kind, scope, doc_id, if_match=if_match))
        else:
            raise LrsError(405, f"{xreq.method} is not supported here", {"Allow": "GET, HEAD, PUT, POST, DELETE"})
    except PreconditionFailed as error:
        raise LrsError(412, str(error)) from None
    except DocumentConflict as error:
        raise LrsError(409, str(error)) from None
    except DocumentNotJson as error:
        raise LrsError(400, str(error)) from None
    return web.Response(status=204)


async def _many(state, xreq: XapiRequest, kind: str, scope: str, exact: bool) -> web.StreamResponse:
    if xreq.method == "DELETE":
        await state.write(lambda: state.writer.delete_documents(kind, scope, None, prefix=not exact))
        return web.Response(status=204)
    if xreq.method not in ("GET", "HEAD"):
        raise LrsError(405, f"{xreq.method} is not supported here", {"Allow": "GET, HEAD, PUT, POST, DELETE"})
    since_us = None
    if "since" in xreq.params:
        moment = parse_timestamp(xreq.params["since"])
        if moment is None:
            raise LrsError(400, f"since: must be an ISO 8601 timestamp, got {xreq.params['since']!r}")
        since_us = int(moment.timestamp() * 1_000_000)
    if exact:
        ids, latest = await state.read(_exact_ids, state.reader, kind, scope, since_us)
    else:
        ids, latest = await state.read(state.reader.document_ids, kind, scope, since_us)
    headers = {"Last-Modified": _modified(latest)} if latest else {}
    return json_reply(ids, headers=headers, etag=True)


def _exact_ids(store, kind: str, scope: str, since_us: int | None):
    rows = store.select("SELECT doc_id, updated_us FROM documents WHERE kind = ? AND scope = ? AND updated_us > ? "
                        "ORDER BY doc_id", [kind, scope, since_us if since_us is not None else -1])
    return [row[0] for row in rows], max((row[1] for row in rows), default=None)


def agent_param(xreq: XapiRequest) -> dict:
    """The `agent` parameter: JSON of an Agent (not a Group)."""
    try:
        agent = json.loads(xreq.params["agent"])
    except ValueError:
        raise LrsError(400, f"agent: must be JSON, got {xreq.params['agent']!r}") from None
    try:
        validate_agent(agent, "agent", allow_group=False)
    except StatementError as error:
        raise LrsError(400, str(error)) from None
    return agent


def _agent_scope(xreq: XapiRequest) -> str:
    """The key of the `agent` parameter, which documents are stored under."""
    key = agent_key(agent_param(xreq))
    assert key is not None  # agent_param accepts only an Agent, and an Agent has an identifier
    return key


def _activity_param(xreq: XapiRequest) -> str:
    activity = xreq.params["activityId"]
    if not is_iri(activity):
        raise LrsError(400, f"activityId: must be an IRI, got {activity!r}")
    return activity


def _modified(updated_us: int) -> str:
    return http_date(datetime.fromtimestamp(updated_us / 1e6, UTC))
