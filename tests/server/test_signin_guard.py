"""Guessing an enrolment code is slowed; a classroom signing in is not."""

from __future__ import annotations

from server.learning.auth import SignInGuard
from tests.server.test_quiz_support import ADMIN_CODE, quiz_config, start_quiz


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_waits_after_too_many_refusals_until_the_oldest_ages_out():
    clock = Clock()
    guard = SignInGuard(limit=3, window=60.0, clock=clock)
    for _ in range(2):
        guard.refused("10.0.0.5")
        clock.now += 10
    assert guard.retry_after("10.0.0.5") is None
    guard.refused("10.0.0.5")  # the third refusal, 20 s after the first
    assert guard.retry_after("10.0.0.5") == 40
    assert guard.retry_after("10.0.0.6") is None  # other headsets are not affected
    clock.now += 40
    assert guard.retry_after("10.0.0.5") is None


def test_memory_stays_bounded_under_many_addresses():
    clock = Clock()
    guard = SignInGuard(limit=2, window=60.0, clock=clock)
    guard.MAX_ADDRESSES = 100
    for n in range(1000):
        guard.refused(f"10.1.{n // 256}.{n % 256}")
    assert len(guard._refusals) <= 100
    clock.now += 61
    guard.refused("10.9.9.9")  # aged-out addresses are forgotten first
    assert list(guard._refusals) == ["10.9.9.9"]


def test_guessing_a_code_gets_429_while_other_devices_still_sign_in(tmp_path, start_server):
    config = quiz_config(tmp_path, signin_failures=3)
    server, api = start_quiz(start_server, config)
    guess = {"member_id": "root", "name": "x", "enrolment_code": "guess"}
    assert [api.call("POST", "/api/session", guess).status for _ in range(3)] == [403, 403, 403]
    locked = api.call("POST", "/api/session", {**guess, "enrolment_code": ADMIN_CODE})  # even the right code waits
    assert locked.status == 429 and locked.json()["error"].startswith("too many refused sign-ins from this device")
    assert 590 <= int(locked.headers["Retry-After"]) <= 600
    # behind nginx on the same host, the member's own address is the last X-Forwarded-For hop
    other = api.call(
        "POST", "/api/session", {"member_id": "m1", "name": "张三"}, headers={"X-Forwarded-For": "10.0.0.7"}
    )
    assert other.status == 200
    proxied = {"X-Forwarded-For": "10.0.0.8"}
    assert [api.call("POST", "/api/session", guess, headers=proxied).status for _ in range(4)] == [403, 403, 403, 429]
