"""The forwarder: queued statements (`server.learning.outbox`) to the LRS, in batches.

Batches are sent as `POST statements` with a list, `X-Experience-API-Version:
1.0.3` and Basic auth, to `lrs_url` or to the embedded LRS in-process:

    200, 204                 delivered
    409                      delivered (the LRS already holds a different statement with that id: an alarm)
    400, 413, 422            the batch is split until the bad statement is alone; it goes to a dead letter
    401, 403                 the batch goes to one dead letter (credentials); re-sendable by an administrator
    429, 5xx, timeouts,      retried with exponential backoff and jitter, at least `Retry-After`
    refused, other           (nothing is marked until the LRS says so)

With several workers one holds a lease and forwards; the others wait.
`outbox_context` runs the database and the forwarder for the app, and
`outbox_stats` reports both for `/api/health`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import functools
import logging
import os
import random
import secrets
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from server.config import ForwardingSettings
from server.database import DATABASE, Database
from server.learning.outbox import add_dead_letter, mark_delivered, queue_stats, queued_batch, redact_keys

log = logging.getLogger(__name__)

XAPI_VERSION = "1.0.3"
LEASE_SECONDS = 15.0


@dataclass(frozen=True)
class LrsTarget:
    """Where statements go: the Statement resource's URL and Basic-auth credentials."""

    statements_url: str
    key: str | None = None
    secret: str | None = None
    post: Callable[[bytes], Awaitable[tuple[int, str]]] | None = None
    """Deliver in this process instead of over HTTP (the embedded LRS): body -> (status, answer)."""

    def headers(self) -> dict[str, str]:
        headers = {"X-Experience-API-Version": XAPI_VERSION, "Content-Type": "application/json"}
        if self.key is not None:
            credentials = base64.b64encode(f"{self.key}:{self.secret or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {credentials}"
        return headers


@dataclass
class ForwarderStatus:
    state: str = "starting"
    """starting | idle | sending | backing-off | no-lrs | standby (another worker forwards)."""
    delivered: int = 0
    """Statements delivered by this process."""
    failures: int = 0
    """Consecutive transient failures."""
    last_error: str | None = None
    retry_at: float | None = None
    """`time.time()` of the next retry while backing off."""


class Outcome:
    DELIVERED, CONFLICT, REJECTED, UNAUTHORIZED, TRANSIENT = (
        "delivered",
        "conflict",
        "rejected",
        "unauthorized",
        "transient",
    )


@dataclass(frozen=True)
class Answer:
    outcome: str
    status: int | None
    body: str = ""
    retry_after: float | None = None


def classify(status: int) -> str:
    """The forwarder's reading of an LRS status code."""
    if status in (200, 204):
        return Outcome.DELIVERED
    if status == 409:
        return Outcome.CONFLICT
    if status in (400, 413, 422):
        return Outcome.REJECTED
    if status in (401, 403):
        return Outcome.UNAUTHORIZED
    return Outcome.TRANSIENT


class Forwarder:
    """Sends queued statements to the LRS until cancelled."""

    def __init__(
        self,
        database: Database,
        settings: ForwardingSettings,
        resolve_target: Callable[[], LrsTarget | None],
        *,
        clock=time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.resolve_target = resolve_target
        self.clock = clock
        self.rng = rng or random.Random()
        self.status = ForwarderStatus()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._lease_until = 0.0
        database.after_commit.append(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    await self._step(session)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox forwarder step failed; retrying")
                    await self._backoff(None)

    async def release(self) -> None:
        """Give up the lease (on shutdown) so another worker can forward at once."""
        with contextlib.suppress(Exception):
            await self.database.write(_release_lease, self.owner)

    async def _step(self, session: aiohttp.ClientSession) -> None:
        if not await self._hold_lease():
            self.status.state = "standby"
            await self._idle(self.settings.poll_interval * 2)
            return
        self._wake.clear()
        rows = queued_batch(self.database.reader, self.settings.batch_size)
        if not rows:
            self.status.state = "idle"
            await self._idle(self.settings.poll_interval)
            return
        target = self.resolve_target()
        if target is None:
            self.status.state = "no-lrs"
            await self._idle(self.settings.poll_interval * 5)
            return
        self.status.state = "sending"
        failure = await self._deliver(session, target, list(rows))
        if failure is None:
            self.status.failures = 0
            self.status.retry_at = None
        else:
            await self._backoff(failure)

    async def _deliver(self, session: aiohttp.ClientSession, target: LrsTarget, rows: list) -> Answer | None:
        """Send `rows`, splitting batches the LRS refuses; the transient failure that stopped it, if any."""
        pending = [rows]
        while pending:
            batch = pending.pop()
            answer = await self._post(session, target, batch)
            seqs = [row["seq"] for row in batch]
            if answer.outcome == Outcome.TRANSIENT:
                return answer
            if answer.outcome in (Outcome.CONFLICT, Outcome.REJECTED) and len(batch) > 1:
                middle = len(batch) // 2
                pending += [batch[middle:], batch[:middle]]  # the first half is sent first
                continue
            if answer.outcome == Outcome.DELIVERED:
                await self.database.write(mark_delivered, seqs, self.clock())
                self.status.delivered += len(seqs)
            elif answer.outcome == Outcome.CONFLICT:
                log.error(
                    "ALARM: the LRS holds a different statement with id %s (409: %s); marked delivered",
                    batch[0]["id"],
                    redact_keys(answer.body)[:300],
                )
                await self.database.write(mark_delivered, seqs, self.clock())
            else:
                letter = await self.database.write(
                    add_dead_letter, seqs, answer.status, redact_keys(answer.body), self.clock()
                )
                log.error(
                    "LRS refused %d statement(s) with %s; dead letter %d: %s",
                    len(seqs),
                    answer.status,
                    letter,
                    redact_keys(answer.body)[:300],
                )
        return None

    async def _post(self, session: aiohttp.ClientSession, target: LrsTarget, batch: list) -> Answer:
        body = ("[" + ",".join(row["body"] for row in batch) + "]").encode()
        retry_after = None
        try:
            if target.post is not None:
                async with asyncio.timeout(self.settings.timeout):  # not wait_for: on 3.11 it can swallow a cancel
                    status, text = await target.post(body)
            else:
                async with session.post(target.statements_url, data=body, headers=target.headers()) as response:
                    status, text = response.status, await response.text(errors="replace")
                    retry_after = _retry_after(response.headers.get("Retry-After"), self.clock())
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            log.warning("LRS unreachable (%s); %d statement(s) stay queued", reason, len(batch))
            return Answer(Outcome.TRANSIENT, None, reason)
        outcome = classify(status)
        if outcome == Outcome.TRANSIENT:
            log.warning("LRS answered %d to %d statement(s): %s", status, len(batch), text[:200])
        return Answer(outcome, status, text, retry_after)

    async def _backoff(self, failure: Answer | None) -> None:
        self.status.failures += 1
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (self.status.failures - 1))
        delay = self.rng.uniform(ceiling / 2, ceiling)
        if failure is not None and failure.retry_after is not None:
            delay = max(delay, min(failure.retry_after, 3600.0))
        self.status.state = "backing-off"
        self.status.last_error = (
            None
            if failure is None
            else (f"{failure.status}: {failure.body[:200]}" if failure.status else failure.body[:200])
        )
        self.status.retry_at = self.clock() + delay
        await asyncio.sleep(delay)

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _hold_lease(self) -> bool:
        now = self.clock()
        if now < self._lease_until - LEASE_SECONDS / 2:
            return True
        held = await self.database.write(_take_lease, self.owner, now, LEASE_SECONDS)
        self._lease_until = now + LEASE_SECONDS if held else 0.0
        return held


def _take_lease(connection: sqlite3.Connection, owner: str, now: float, seconds: float) -> bool:
    row = connection.execute("SELECT owner, expires FROM outbox_lease WHERE name = 'forwarder'").fetchone()
    if row is not None and row["owner"] != owner and row["expires"] > now and _owner_alive(row["owner"]):
        return False
    connection.execute(
        "INSERT OR REPLACE INTO outbox_lease (name, owner, expires) VALUES ('forwarder', ?, ?)", (owner, now + seconds)
    )
    return True


def _release_lease(connection: sqlite3.Connection, owner: str) -> None:
    connection.execute("DELETE FROM outbox_lease WHERE name = 'forwarder' AND owner = ?", (owner,))


def _owner_alive(owner: str) -> bool:
    """False when the lease holder was a process on this host that no longer exists (e.g. after kill -9)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- the application's forwarder -------------------------------------------------

FORWARDER: web.AppKey[Forwarder] = web.AppKey("outbox_forwarder", Forwarder)


def outbox_stats(app: web.Application) -> dict | None:
    """The outbox's `queue_stats` and the forwarder's state (for `/api/health`)."""
    database = app.get(DATABASE)
    if database is None or not database.is_open:
        return None
    stats = queue_stats(database.reader)
    forwarder = app.get(FORWARDER)
    status = forwarder.status if forwarder is not None else None
    return {
        **stats,
        "forwarder": None
        if status is None
        else {
            "state": status.state,
            "delivered": status.delivered,
            "failures": status.failures,
            "last_error": status.last_error,
            "retry_in_s": round(max(0.0, status.retry_at - time.time()), 3) if status.retry_at else None,
        },
    }


def lrs_target_resolver(app: web.Application, settings: ForwardingSettings) -> Callable[[], LrsTarget | None]:
    """Where to forward: `lrs_url` (+ `lrs_key`, `lrs_secret`), else the embedded LRS of this process.

    The embedded LRS is reached in-process (no socket, so no certificate or port to get right),
    as its forwarder credential (or `lrs_key`).  None (statements stay queued) when neither
    exists (`lrs_embedded = false` and no `lrs_url`).
    """
    key = settings.key
    if settings.url:
        target = LrsTarget(settings.url.rstrip("/") + "/statements", key, settings.secret)
        return lambda: target

    def embedded() -> LrsTarget | None:
        from server.lrs import service as lrs

        if lrs.LRS_STATE not in app:
            return None
        user = key or lrs.embedded_credentials(app)[0]
        return LrsTarget(
            "embedded:/xapi/statements", user, post=functools.partial(lrs.post_statements_locally, app, key=user)
        )

    return functools.cache(embedded)  # the credential is looked up once, on first use


def outbox_context():
    """A cleanup context: open `app[DATABASE]`, run `app[FORWARDER]`; on shutdown stop it and close the database."""

    async def context(app: web.Application):
        database, forwarder = app[DATABASE], app[FORWARDER]
        database.open()
        task = asyncio.create_task(forwarder.run(), name="outbox-forwarder")
        yield
        while not task.done():  # again if a cancel was swallowed on the way (a shutdown must never hang)
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if not task.cancelled() and task.exception() is not None:
            log.error("the outbox forwarder failed", exc_info=task.exception())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(forwarder.release(), 5.0)
        await database.close()

    return context


def _retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds from now (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)
