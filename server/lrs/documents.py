"""The Document resources of the embedded LRS: State, Activity Profile, Agent Profile.

Each document is addressed by a scope (activity, agent, registration as the
resource needs) and an id.  GET answers the document with a quoted SHA-1
ETag and Last-Modified, or the list of ids (optionally `since`); PUT
replaces, POST merges JSON objects (top-level keys), DELETE removes.
If-Match / If-None-Match are honoured on every write (412 when they fail).
A profile PUT must carry one of them (Part 3 3.1.s3.b1): without either it
is a 409 when the document exists (3.1.s4.b13) and a 400 when it does not
(a missing argument, 3.2.s2.b1).  The State resource needs neither (3.1.s3).
Parameters are checked against the declared `DocumentParams` schema.
(xAPI 1.0.3 Part 3 2.2-2.7 and 3.1.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import BeforeValidator, ConfigDict, with_config
from typing_extensions import TypedDict

from server.lrs.format import agent_key
from server.lrs.http import LrsError, XapiRequest, etag_list, http_date, json_reply, only_params, require_scope
from server.lrs.store import DocumentConflict, DocumentNotJson, PreconditionFailed, PreconditionRequired
from server.lrs.validate import (
    Shape,
    StatementError,
    agent_json_param,
    check_params,
    iri_param,
    timestamp_param,
    uuid_param,
)

SEP = "\x1f"
STATE_READ = {"all", "all/read", "state"}
STATE_WRITE = {"all", "state"}
PROFILE_READ = {"all", "all/read", "profile"}
PROFILE_WRITE = {"all", "profile"}


@with_config(ConfigDict(extra="forbid", strict=True))
class DocumentParams(TypedDict, total=False):
    """Parameters of the Document resources, Activities and Agents (Part 3 2.3-2.7), checked and converted.

    Which of them a request may or must carry depends on the resource and method (`only_params`).
    """

    activityId: Annotated[str, BeforeValidator(iri_param("activityId"))]
    """The Activity id (IRI)."""
    agent: Annotated[dict, BeforeValidator(agent_json_param("agent", allow_group=False))]
    """An Agent Object as JSON (not a Group)."""
    registration: Annotated[str, BeforeValidator(uuid_param("registration"))]
    """A registration UUID, lower-cased."""
    stateId: str
    profileId: str
    since: Annotated[int, BeforeValidator(timestamp_param("since"))]
    """Only documents stored after this timestamp (microseconds since the epoch)."""


DOCUMENT_PARAMS = Shape(DocumentParams)


def document_params(xreq: XapiRequest) -> dict:
    """The request's parameters checked against `DocumentParams` (after `only_params`): 400 for the first problem."""
    try:
        return check_params(
            xreq.params, DOCUMENT_PARAMS, lambda name: f"unknown parameter {name!r} for {xreq.method} {xreq.path}"
        )
    except StatementError as error:
        raise LrsError(400, str(error)) from None


async def state_resource(state, xreq: XapiRequest) -> web.StreamResponse:
    """activities/state: documents per activity, agent and (optional) registration."""
    require_scope(xreq, STATE_READ if xreq.method in ("GET", "HEAD") else STATE_WRITE)
    single = "stateId" in xreq.params
    allowed = {"activityId", "agent", "registration", "stateId"}
    if xreq.method in ("GET", "HEAD") and not single:
        allowed.add("since")
    required = {"activityId", "agent"} | ({"stateId"} if xreq.method in ("PUT", "POST") else set())
    only_params(xreq, allowed, required)
    params = document_params(xreq)
    activity = params["activityId"]
    agent = _agent_key(params["agent"])
    registration = params.get("registration", "")
    scope = SEP.join((activity, agent, registration))
    if single or xreq.method in ("PUT", "POST"):
        return await _document(state, xreq, "state", scope, params.get("stateId"), require_precondition=False)
    prefix = scope if "registration" in params else SEP.join((activity, agent, ""))
    return await _many(state, xreq, "state", prefix, params.get("since"), exact="registration" in params)


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
    params = document_params(xreq)
    scope = params["activityId"] if subject == "activityId" else _agent_key(params["agent"])
    if single:
        return await _document(state, xreq, kind, scope, params["profileId"], require_precondition=True)
    return await _many(state, xreq, kind, scope, params.get("since"), exact=True)


async def _document(
    state, xreq: XapiRequest, kind: str, scope: str, doc_id: str | None, require_precondition: bool
) -> web.StreamResponse:
    if xreq.method in ("GET", "HEAD"):
        document = await state.read(state.read_store.document, kind, scope, doc_id)
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
            await state.write(
                lambda: state.write_store.put_document(
                    kind,
                    scope,
                    doc_id,
                    content_type,
                    xreq.body,
                    merge=xreq.method == "POST",
                    if_match=if_match,
                    if_none_match=if_none_match,
                    require_precondition=require_precondition and xreq.method == "PUT",
                )
            )
        elif xreq.method == "DELETE":
            await state.write(lambda: state.write_store.delete_documents(kind, scope, doc_id, if_match=if_match))
        else:
            raise LrsError(405, f"{xreq.method} is not supported here", {"Allow": "GET, HEAD, PUT, POST, DELETE"})
    except PreconditionFailed as error:
        raise LrsError(412, str(error)) from None
    except DocumentConflict as error:
        raise LrsError(409, str(error)) from None
    except PreconditionRequired as error:
        raise LrsError(400, str(error)) from None
    except DocumentNotJson as error:
        raise LrsError(400, str(error)) from None
    return web.Response(status=204)


async def _many(
    state, xreq: XapiRequest, kind: str, scope: str, since_us: int | None, exact: bool
) -> web.StreamResponse:
    if xreq.method == "DELETE":
        await state.write(lambda: state.write_store.delete_documents(kind, scope, None, prefix=not exact))
        return web.Response(status=204)
    if xreq.method not in ("GET", "HEAD"):
        raise LrsError(405, f"{xreq.method} is not supported here", {"Allow": "GET, HEAD, PUT, POST, DELETE"})
    if exact:
        ids, latest = await state.read(_exact_ids, state.read_store, kind, scope, since_us)
    else:
        ids, latest = await state.read(state.read_store.document_ids, kind, scope, since_us)
    headers = {"Last-Modified": _modified(latest)} if latest else {}
    return json_reply(ids, headers=headers, etag=True)


def _exact_ids(store, kind: str, scope: str, since_us: int | None):
    rows = store.select(
        "SELECT doc_id, updated_us FROM documents WHERE kind = ? AND scope = ? AND updated_us > ? ORDER BY doc_id",
        [kind, scope, since_us if since_us is not None else -1],
    )
    return [row[0] for row in rows], max((row[1] for row in rows), default=None)


def agent_param(xreq: XapiRequest) -> dict:
    """The `agent` parameter: JSON of an Agent (not a Group)."""
    return document_params(xreq)["agent"]


def _agent_key(agent: dict) -> str:
    """The key of an `agent` parameter, which documents are stored under."""
    key = agent_key(agent)
    assert key is not None  # the schema accepts only an Agent, and an Agent has an identifier
    return key


def _modified(updated_us: int) -> str:
    return http_date(datetime.fromtimestamp(updated_us / 1e6, UTC))
