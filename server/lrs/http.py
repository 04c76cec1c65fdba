"""HTTP plumbing of the embedded LRS: one xAPI request whatever its syntax, errors, JSON replies.

    xreq = await read_request(request, max_body)   # normal or "alternate request syntax" (Part 3 1.3)
    check_version(xreq)                              # 400 unless X-Experience-API-Version is 1.0 / 1.0.x
    raise LrsError(400, "why")                        # turned into a reply by the LRS middleware

Every reply of the LRS carries `X-Experience-API-Version: 1.0.3`; errors
are JSON (`{"error": ..., "status": ...}`), or plain text when the client
asks only for text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict

from server.lrs.store import Credential

API_VERSION = "1.0.3"
VERSION_HEADER = "X-Experience-API-Version"
_ACCEPTED_VERSION = re.compile(r"1\.0(\.\d+)?\Z")
FORM_HEADERS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
}
"""Part 3 1.3.s3.b6-b7: form parameters the LRS treats as header parameters."""
CONTENT_HEADERS = {"content-type", "content-length"}
"""Form fields that describe `content`: they replace the request's own headers (which describe the form)."""
ALT_METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE"}


class LrsError(Exception):
    """An error reply: status, a message for the client, extra headers."""

    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class XapiRequest:
    """A request after the alternate syntax is undone: method, parameters, headers, body."""

    method: str
    path: str
    params: dict[str, str]
    headers: CIMultiDict
    body: bytes
    credential: Credential | None = None
    """Who sent it: set by the service once the request is authenticated."""
    extra: dict = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()


async def read_request(request: web.Request, max_body: int) -> XapiRequest:
    """Read and undo the alternate request syntax; 400 for repeated parameters, 413 past `max_body`.

    Part 3 1.3 (every resource, every method): a POST with `?method=M` and a form body becomes request M;
    the form's `content` is the body, its header fields (FORM_HEADERS) are headers and the rest parameters.
    A header field stands in for a header the request lacks; Content-Type and Content-Length describe the
    content and replace the form's own.  Without a Content-Type field the content is taken as
    application/json when it parses as JSON (statements always do), else as UTF-8 text (1.3.s3.b5).
    """
    body = await _read_body(request, max_body)
    headers = CIMultiDict(request.headers)
    method = request.method
    query = _single_params(request.query.items(), "query string")
    media_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if method == "POST" and "method" in query:
        if set(query) != {"method"}:
            raise LrsError(
                400,
                "alternate request syntax: the query string may only hold 'method'; "
                "send the other parameters as form fields",
            )
        if media_type != "application/x-www-form-urlencoded":
            raise LrsError(400, "alternate request syntax needs Content-Type application/x-www-form-urlencoded")
        method = query["method"].upper()
        if method not in ALT_METHODS:
            raise LrsError(400, f"alternate request syntax: unknown method {query['method']!r}")
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise LrsError(400, "alternate request syntax: the form is not UTF-8") from None
        params: list[tuple[str, str]] = []
        body = b""
        form_headers: CIMultiDict[str] = CIMultiDict()
        for name, value in form:
            if name == "content":
                body = value.encode("utf-8")
            elif name.lower() in FORM_HEADERS:
                form_headers[name] = value
            else:
                params.append((name, value))
        for name, value in form_headers.items():
            if name.lower() in CONTENT_HEADERS or name not in headers:
                headers[name] = value
        if "Content-Type" not in form_headers:
            headers.pop("Content-Type", None)
            if "content" in (name for name, _ in form):
                headers["Content-Type"] = _content_type_of(body)
        query = _single_params(params, "form")
    elif method in ("POST", "PUT") and media_type == "application/x-www-form-urlencoded":
        raise LrsError(400, "a form-encoded request must use the alternate request syntax (?method=...)")
    return XapiRequest(method=method, path=request.path, params=query, headers=headers, body=body)


def _content_type_of(content: bytes) -> str:
    """The type of a `content` form field sent without a Content-Type field: JSON when it parses as JSON."""
    try:
        json.loads(content)
    except (ValueError, RecursionError):
        return "text/plain; charset=utf-8"
    return "application/json"


async def _read_body(request: web.Request, max_body: int) -> bytes:
    if request.content_length is not None and request.content_length > max_body:
        raise LrsError(413, f"request body over the {max_body} byte limit")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > max_body:
            raise LrsError(413, f"request body over the {max_body} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _single_params(items, where: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in items:
        if name in params:
            raise LrsError(400, f"parameter {name!r} appears more than once in the {where}")
        params[name] = value
    return params


def check_version(xreq: XapiRequest) -> None:
    """Part 3 3.3: 1.0 and 1.0.x are accepted, anything else (or nothing) is a 400."""
    value = xreq.headers.get(VERSION_HEADER)
    if value is None:
        raise LrsError(400, f"missing {VERSION_HEADER} header (this LRS speaks xAPI {API_VERSION})")
    if not _ACCEPTED_VERSION.match(value.strip()):
        raise LrsError(400, f"{VERSION_HEADER} {value!r} is not supported (this LRS speaks xAPI {API_VERSION})")


def basic_credentials(xreq: XapiRequest) -> tuple[str, str] | None:
    """(key, secret) from an `Authorization: Basic` header, None when there is none."""
    value = xreq.headers.get("Authorization")
    if not value:
        return None
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise LrsError(401, "only HTTP Basic authentication is supported", _CHALLENGE)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise LrsError(401, "malformed Basic credentials", _CHALLENGE) from None
    key, sep, secret = decoded.partition(":")
    if not sep:
        raise LrsError(401, "malformed Basic credentials", _CHALLENGE)
    return key, secret


_CHALLENGE = {"WWW-Authenticate": 'Basic realm="xAPI"'}
CHALLENGE = _CHALLENGE


def json_reply(
    value, status: int = 200, headers: dict | None = None, *, etag: bool = False, text: str | None = None
) -> web.Response:
    """A JSON reply (`text` when already serialised); with `etag`, a quoted SHA-1 ETag of the body."""
    body = (text if text is not None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))).encode()
    all_headers = dict(headers or {})
    if etag:
        all_headers["ETag"] = f'"{hashlib.sha1(body).hexdigest()}"'
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8", headers=all_headers)


def error_reply(request: web.Request, status: int, message: str, headers: dict | None = None) -> web.Response:
    """An error in the format the client prefers (JSON unless it asks for text only)."""
    accept = request.headers.get("Accept", "")
    if accept and "json" not in accept and "*/*" not in accept and "text/plain" in accept:
        return web.Response(text=f"{status} {message}\n", status=status, headers=headers)
    return json_reply({"error": message, "status": status}, status=status, headers=headers)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def etag_list(value: str | None) -> list[str] | None:
    """ETags of an If-Match / If-None-Match header (`*` kept), unquoted."""
    if value is None:
        return None
    tags = []
    for part in value.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tags.append(tag.strip('"'))
    return [tag for tag in tags if tag]


def require_scope(xreq: XapiRequest, allowed: set[str]) -> None:
    credential = xreq.credential
    assert credential is not None  # the service authenticates a request before any handler runs
    if not allowed & set(credential.scopes):
        raise LrsError(
            403,
            f"these credentials ({credential.key}) may not do this; "
            f"it needs one of the scopes {', '.join(sorted(allowed))}",
        )


def only_params(xreq: XapiRequest, allowed: set[str], required: AbstractSet[str] = frozenset()) -> None:
    for name in xreq.params:
        if name not in allowed:
            raise LrsError(400, f"unknown parameter {name!r} for {xreq.method} {xreq.path}")
    for name in sorted(required):
        if name not in xreq.params:
            raise LrsError(400, f"missing required parameter {name!r}")


def method_not_allowed(xreq: XapiRequest, allowed: str) -> LrsError:
    return LrsError(405, f"{xreq.method} is not supported here", {"Allow": allowed})
