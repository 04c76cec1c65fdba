"""Members, roles and signed session tokens.

A member signs in with `POST /api/session {member_id, name, branch?,
enrolment_code?}` and gets a token `v1.<payload>.<signature>`: the payload
names the member and the expiry, the signature is HMAC-SHA256 over it with
the server's secret (`session_secret`, else one generated once into
`<var>/session.key`).  Roles are not in the token: they are read from the
configuration (`trainers`, `admins`) on every request, so a change applies
at once.  Enrolment: with `enrolment_tokens` (a file of `member_id code`
lines) listed members need their personal code; unlisted members need the
shared `enrolment_code` when one is set, and are refused when only the list
is set.  Trainers and administrators always need a personal code.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from server.config import AuthSettings
from server.database import DATABASE
from server.learning import learners

log = logging.getLogger(__name__)

Role = Literal["member", "trainer", "admin"]
TOKEN_PREFIX = "v1."
MEMBER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
NAME = re.compile(r"[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*")
NAME_MAX = 40
ENROLMENT_MODES = ("open", "code", "list")


class AuthFailure(Exception):
    """A token that is missing, malformed, forged or expired (the message says which)."""


class EnrolmentRefused(Exception):
    """Sign-in refused: a wrong or missing enrolment code, or a staff id without a personal code."""


@dataclass(frozen=True)
class Principal:
    """Who a request comes from, as the verified token and the configuration say."""

    member_id: str
    role: Role
    expires: float


class Sessions:
    """Signs and verifies session tokens; knows roles and enrolment rules."""

    def __init__(
        self,
        secret: bytes,
        *,
        ttl: float = AuthSettings.session_ttl,
        trainers: Iterable[str] = (),
        admins: Iterable[str] = (),
        branches: Iterable[str] = (),
        enrolment: str = AuthSettings.enrolment,
        enrolment_code: str | None = None,
        personal_codes: dict[str, str] | None = None,
        clock=time.time,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("auth: session secret must be at least 16 bytes")
        if enrolment not in ENROLMENT_MODES:
            raise ValueError(f"enrolment: expected one of {', '.join(ENROLMENT_MODES)}, got {enrolment!r}")
        if enrolment == "code" and not enrolment_code:
            raise ValueError("enrolment: 'code' needs enrolment_code")
        if enrolment == "list" and personal_codes is None:
            raise ValueError("enrolment: 'list' needs enrolment_tokens")
        self.enrolment = enrolment
        self._secret = secret
        self.ttl = ttl
        self.trainers = frozenset(trainers)
        self.admins = frozenset(admins)
        self.branches = tuple(branches)
        self.enrolment_code = enrolment_code or None
        self.personal_codes = dict(personal_codes or {})
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: AuthSettings, var_dir: Path) -> Sessions:
        """Sessions as configured; without `session_secret` the key is `<var_dir>/session.key`."""
        secret = settings.session_secret
        tokens_file = settings.enrolment_tokens
        return cls(
            secret.encode() if secret else load_or_create_secret(var_dir / "session.key"),
            ttl=settings.session_ttl,
            trainers=settings.trainers,
            admins=settings.admins,
            branches=settings.branches,
            enrolment=settings.enrolment,
            enrolment_code=settings.enrolment_code,
            personal_codes=read_personal_codes(tokens_file) if tokens_file else None,
        )

    def role_of(self, member_id: str) -> Role:
        if member_id in self.admins:
            return "admin"
        if member_id in self.trainers:
            return "trainer"
        return "member"

    def check_enrolment(self, member_id: str, code: str | None) -> None:
        """Raise `EnrolmentRefused` unless `member_id` may sign in with `code`."""
        personal = self.personal_codes.get(member_id)
        if personal is not None:
            if code is None or not _code_matches(personal, code):
                raise EnrolmentRefused("wrong or missing enrolment code")
            return
        if self.role_of(member_id) != "member":
            raise EnrolmentRefused("trainer and admin accounts need a personal enrolment code")
        if self.enrolment == "list":
            raise EnrolmentRefused("member id is not enrolled")
        if self.enrolment == "code":
            assert self.enrolment_code is not None, "the config check refuses enrolment = code without a code"
            if code is None or not hmac.compare_digest(code.encode(), self.enrolment_code.encode()):
                raise EnrolmentRefused("wrong or missing enrolment code")

    def issue(self, member_id: str) -> str:
        """A signed token for `member_id`, valid for `ttl` seconds."""
        now = self.clock()
        payload = {"sub": member_id, "iat": int(now), "exp": int(now + self.ttl), "sid": secrets.token_hex(6)}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{TOKEN_PREFIX}{body}.{self._sign(body)}"

    def verify(self, token: str) -> Principal:
        """The principal a token names; `AuthFailure` when it is malformed, forged or expired."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 512:
            raise AuthFailure("malformed session token")
        body, _, signature = token[len(TOKEN_PREFIX) :].partition(".")
        if not body or not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise AuthFailure("invalid session token")
        try:
            payload = json.loads(_unb64(body))
            member_id, expires = payload["sub"], float(payload["exp"])
        except (ValueError, KeyError, TypeError):
            raise AuthFailure("malformed session token") from None
        if expires <= self.clock():
            raise AuthFailure("session token expired")
        return Principal(member_id, self.role_of(member_id), expires)

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())


SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions", Sessions)
SIGNIN_GUARD: web.AppKey[SignInGuard] = web.AppKey("signin_guard")
"""The application's session signer and role table."""


def require_role(request: web.Request, *roles: Role) -> Principal:
    """The request's principal; 401 without a valid bearer token, 403 when its role is not in `roles`.

    No roles given = any signed-in member.  Errors are JSON `{"error": ...}`.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token", "invalid_request")
    try:
        principal = request.app[SESSIONS].verify(token.strip())
    except AuthFailure as failure:
        raise _unauthorized(str(failure), "invalid_token") from None
    if roles and principal.role not in roles:
        raise _http_error(web.HTTPForbidden, f"{' or '.join(roles)} role required")
    return principal


class SignInGuard:
    """Counts refused sign-ins per client address; after `limit` within `window` seconds, that address waits.

    Only refusals count, so a classroom signing in behind one address is never slowed;
    guessing an enrolment code is.  Memory stays bounded (`MAX_ADDRESSES`).
    """

    MAX_ADDRESSES = 10_000

    def __init__(self, limit: int, window: float, clock=time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._refusals: dict[str, collections.deque[float]] = {}

    def retry_after(self, address: str) -> int | None:
        """Whole seconds until `address` may try again, or None when it may now."""
        recent = self._recent(address)
        if recent is None or len(recent) < self.limit:
            return None
        return max(1, math.ceil(recent[0] + self.window - self.clock()))

    def refused(self, address: str) -> None:
        """Count a refused sign-in from `address`."""
        if len(self._refusals) >= self.MAX_ADDRESSES:
            for address_seen in list(self._refusals):
                self._recent(address_seen)  # forgets addresses whose refusals have aged out
        recent = self._recent(address)
        if recent is None:
            if len(self._refusals) >= self.MAX_ADDRESSES:
                self._refusals.pop(next(iter(self._refusals)))
            recent = self._refusals[address] = collections.deque(maxlen=self.limit)
        recent.append(self.clock())

    def _recent(self, address: str) -> collections.deque[float] | None:
        recent = self._refusals.get(address)
        if recent is not None:
            while recent and recent[0] <= self.clock() - self.window:
                recent.popleft()
            if not recent:
                del self._refusals[address]
                return None
        return recent


def client_address(request: web.Request) -> str:
    """The member's address: the peer, or, behind a proxy on this host, the last `X-Forwarded-For` hop."""
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and peer in ("127.0.0.1", "::1", ""):
        return forwarded.rsplit(",", 1)[-1].strip() or peer
    return peer


def load_or_create_secret(path: Path) -> bytes:
    """The secret in `path`, created once (0600) with 32 random bytes; safe against racing workers."""
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)  # fails if another worker won the race; then its secret is used
        log.info("generated a session secret in %s", path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    return _read_secret(path)


def read_personal_codes(path: Path) -> dict[str, str]:
    """`member_id code` lines (blank lines and `#` comments skipped); a code may be `sha256:<hex>`."""
    codes = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not MEMBER_ID.fullmatch(parts[0]):
            raise ValueError(f"{path}:{number}: expected 'member_id code'")
        codes[parts[0]] = parts[1]
    return codes


def valid_member_id(value: Any) -> bool:
    return isinstance(value, str) and MEMBER_ID.fullmatch(value) is not None


def valid_name(value: Any) -> bool:
    return isinstance(value, str) and len(value.strip()) <= NAME_MAX and NAME.fullmatch(value) is not None


# --- private helpers -------------------------------------------------------


def _read_secret(path: Path) -> bytes:
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < 32:
        raise ValueError(f"{path}: session secret is too short")
    return secret.encode()


def _code_matches(expected: str, given: str) -> bool:
    if expected.startswith("sha256:"):
        return hmac.compare_digest(expected[7:].lower(), hashlib.sha256(given.encode()).hexdigest())
    return hmac.compare_digest(expected.encode(), given.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _http_error(kind: type[web.HTTPException], message: str, headers: dict | None = None) -> web.HTTPException:
    body = json.dumps({"error": message}, ensure_ascii=False)
    return kind(reason=message, text=body, content_type="application/json", headers=headers)


def _unauthorized(message: str, code: str) -> web.HTTPException:
    challenge = f'Bearer realm="tunlan-halls", error="{code}"'
    return _http_error(web.HTTPUnauthorized, message, {"WWW-Authenticate": challenge})


def hub_identity(app: web.Application, token: str) -> tuple[str, str | None, str]:
    """`(member id, display name, role)` of a session token, for WebSocket joins; `LookupError` when refused."""
    sessions = app.get(SESSIONS)
    if sessions is None:
        raise LookupError("session tokens are not enabled on this server")
    try:
        principal = sessions.verify(token)
    except AuthFailure as failure:
        raise LookupError(str(failure)) from None
    database = app.get(DATABASE)
    name = learners.member_name(database.reader, principal.member_id) if database is not None else None
    return principal.member_id, name, principal.role
