"""Sessions and roles: tokens, enrolment, and the role check on every protected endpoint."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
import time

import pytest

from server.learning.auth import AuthFailure, EnrolmentRefused, Sessions, load_or_create_secret, read_personal_codes
from tests.server.test_hub_support import HubClient, run
from tests.server.test_quiz_support import ADMIN_CODE, CORRECT, TRAINER_CODE, quiz_config, start_quiz

SECRET = b"0123456789abcdef0123456789abcdef"


def sessions(**options) -> Sessions:
    return Sessions(SECRET, trainers=["t1"], admins=["root"], **options)


# --- tokens -----------------------------------------------------------------


def test_token_names_member_and_role_from_config_not_from_the_token():
    signer = sessions()
    token = signer.issue("t1")
    assert token.startswith("v1.") and len(token) < 256
    assert (signer.verify(token).member_id, signer.verify(token).role) == ("t1", "trainer")
    demoted = Sessions(SECRET, trainers=[], admins=["root"])
    assert demoted.verify(token).role == "member"
    longest = signer.issue("m" * 64)  # fits the hub's join `key` (256 characters) until `join.token` exists
    assert len(longest) <= 256 and signer.verify(longest).member_id == "m" * 64


def test_token_with_a_changed_payload_is_refused():
    signer = sessions()
    prefix, body, signature = signer.issue("m1").split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["sub"] = "root"
    forged_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthFailure, match="^invalid session token$"):
        signer.verify(f"{prefix}.{forged_body}.{signature}")


def test_token_signed_with_another_secret_is_refused():
    other = Sessions(b"another secret, also 32 bytes ok")
    with pytest.raises(AuthFailure, match="^invalid session token$"):
        sessions().verify(other.issue("root"))


def test_expired_token_is_refused():
    signer = sessions(ttl=60, clock=lambda: 1_000_000.0)
    token = signer.issue("m1")
    later = sessions(clock=lambda: 1_000_061.0)
    with pytest.raises(AuthFailure, match="^session token expired$"):
        later.verify(token)
    assert sessions(clock=lambda: 1_000_059.0).verify(token).member_id == "m1"


@pytest.mark.parametrize("token", ["", "v1.", "v2.abc.def", "v1.abc", "v1.!!!.xyz", "x" * 600])
def test_malformed_tokens_are_refused(token):
    with pytest.raises(AuthFailure):
        sessions().verify(token)


def test_secret_is_generated_once_private_and_shared_by_racing_workers(tmp_path):
    path = tmp_path / "var" / "session.key"
    found = []
    threads = [threading.Thread(target=lambda: found.append(load_or_create_secret(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found[0]) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(path) == found[0]
    assert [p.name for p in path.parent.iterdir()] == ["session.key"]


# --- enrolment ---------------------------------------------------------------


def test_open_enrolment_admits_members_but_staff_need_their_personal_code():
    signer = sessions(personal_codes={"t1": "tc", "root": "sha256:" + __import__("hashlib").sha256(b"rc").hexdigest()})
    signer.check_enrolment("anyone", None)
    signer.check_enrolment("t1", "tc")
    signer.check_enrolment("root", "rc")
    for member_id, code in (("t1", None), ("t1", "wrong"), ("root", "sha256:x"), ("root", None)):
        with pytest.raises(EnrolmentRefused, match="^wrong or missing enrolment code$"):
            signer.check_enrolment(member_id, code)
    unlisted_staff = sessions(personal_codes={})
    with pytest.raises(EnrolmentRefused, match="^trainer and admin accounts need a personal enrolment code$"):
        unlisted_staff.check_enrolment("t1", "anything")


def test_code_enrolment_needs_the_shared_code():
    signer = sessions(enrolment="code", enrolment_code="红旗2024")
    signer.check_enrolment("m1", "红旗2024")
    for code in (None, "", "红旗2025"):
        with pytest.raises(EnrolmentRefused, match="^wrong or missing enrolment code$"):
            signer.check_enrolment("m1", code)


def test_list_enrolment_admits_only_listed_members_with_their_code(tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text("# roster\nm1 aaa\nm2 bbb  # second\n\n")
    signer = sessions(enrolment="list", personal_codes=read_personal_codes(codes))
    signer.check_enrolment("m1", "aaa")
    with pytest.raises(EnrolmentRefused, match="^wrong or missing enrolment code$"):
        signer.check_enrolment("m2", "aaa")
    with pytest.raises(EnrolmentRefused, match="^member id is not enrolled$"):
        signer.check_enrolment("m3", "aaa")


def test_bad_enrolment_settings_are_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="enrolment: 'code' needs enrolment_code"):
        sessions(enrolment="code")
    with pytest.raises(ValueError, match="enrolment: 'list' needs enrolment_tokens"):
        sessions(enrolment="list")
    with pytest.raises(ValueError, match="enrolment: expected one of open, code, list"):
        sessions(enrolment="closed")
    bad = tmp_path / "codes.txt"
    bad.write_text("m1\n")
    with pytest.raises(ValueError, match=r"codes.txt:1: expected 'member_id code'"):
        read_personal_codes(bad)


# --- over HTTP ---------------------------------------------------------------------


@pytest.fixture
def quiz(tmp_path, start_server):
    config = quiz_config(tmp_path, session_secret=SECRET.decode())
    server, api = start_quiz(start_server, config)
    return config, server, api


def test_session_answers_token_and_member_with_role_and_branch(quiz):
    config, server, api = quiz
    reply = api.call("POST", "/api/session", {"member_id": "m1", "name": " 张三 ", "branch": "机电支部"})
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-store"
    body = reply.json()
    assert body["member"] == {"id": "m1", "name": "张三", "role": "member", "branch": "机电支部"}
    again = api.call("POST", "/api/session", {"member_id": "m1", "name": "张三丰"}).json()
    assert again["member"] == {"id": "m1", "name": "张三丰", "role": "member", "branch": "机电支部"}
    staff = api.call("POST", "/api/session", {"member_id": "root", "name": "管理员", "enrolment_code": ADMIN_CODE})
    assert staff.json()["member"]["role"] == "admin"


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"name": "x"}, 400, "member_id: 1-64 letters, digits or . _ @ - (starting with a letter or digit)"),
        (
            {"member_id": "a b", "name": "x"},
            400,
            "member_id: 1-64 letters, digits or . _ @ - (starting with a letter or digit)",
        ),
        ({"member_id": "m1"}, 400, "name: 1-40 characters, no control characters"),
        ({"member_id": "m1", "name": "   "}, 400, "name: 1-40 characters, no control characters"),
        ({"member_id": "m1", "name": "a\nb"}, 400, "name: 1-40 characters, no control characters"),
        (
            {"member_id": "m1", "name": "x", "branch": "火星支部"},
            400,
            "branch: unknown branch (one of: 一支部, 二支部, 机电支部)",
        ),
        ({"member_id": "m1", "name": "x", "enrolment_code": 5}, 400, "enrolment_code: expected a string"),
        ({"member_id": "root", "name": "x"}, 403, "wrong or missing enrolment code"),
        ({"member_id": "t1", "name": "x", "enrolment_code": "guess"}, 403, "wrong or missing enrolment code"),
    ],
)
def test_bad_sign_ins_are_refused_with_a_clear_error(quiz, body, status, message):
    config, server, api = quiz
    reply = api.call("POST", "/api/session", body)
    assert (reply.status, reply.json()) == (status, {"error": message})


PROTECTED = [
    # (method, path, body, lowest role)
    ("GET", "/api/me/progress", None, "member"),
    ("GET", "/api/halls/alpha/checkpoints/quiz1", None, "member"),
    ("POST", "/api/halls/alpha/visits", {"platform": "browser"}, "member"),
    ("POST", "/api/halls/alpha/checkpoints/quiz1/attempts", "ATTEMPT", "member"),
    ("POST", "/api/halls/alpha/dioramas/bridge/experienced", "EXPERIENCE", "member"),
    ("GET", "/api/progress", None, "trainer"),
    ("GET", "/api/progress?format=csv", None, "trainer"),
    ("GET", "/api/admin/dead-letters", None, "admin"),
    ("POST", "/api/admin/dead-letters/1/resend", None, "admin"),
]
RANK = {"member": 0, "trainer": 1, "admin": 2}


def test_every_protected_endpoint_checks_the_token_and_the_role(quiz):
    config, server, api = quiz
    tokens = {
        "member": api.sign_in("m1"),
        "trainer": api.sign_in("t1", enrolment_code=TRAINER_CODE),
        "admin": api.sign_in("root", enrolment_code=ADMIN_CODE),
    }
    registrations = {role: api.visit(token) for role, token in tokens.items()}
    good = Sessions(SECRET)
    prefix, body, signature = tokens["member"].split(".")
    admin_body = tokens["admin"].split(".")[1]
    bad_tokens = {
        "missing": None,
        "forged": f"{prefix}.{admin_body}.{signature}",
        "other secret": Sessions(b"not the server's secret, 32 byte").issue("root"),
        "expired": Sessions(SECRET, ttl=1, clock=lambda: time.time() - 10).issue("root"),
        "malformed": "Bearer-ish",
    }
    assert good.verify(tokens["admin"]).role == "member"  # roles come from the server's config, not the token
    for method, path, body, lowest in PROTECTED:
        for case, token in bad_tokens.items():
            reply = api.call(method, path, _body(body, registrations["member"]), token)
            assert reply.status == 401, (path, case)
            assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="tunlan-halls"'), (path, case)
            assert set(reply.json()) == {"error"}, (path, case)
        for role, token in tokens.items():
            reply = api.call(method, path, _body(body, registrations[role]), token)
            if RANK[role] < RANK[lowest]:
                expected = "trainer or admin role required" if lowest == "trainer" else "admin role required"
                assert (reply.status, reply.json()) == (403, {"error": expected}), (path, role)
            else:
                assert reply.status in (200, 201, 404), (path, role, reply.status, reply.body)
                assert reply.status != 404 or path.endswith("/resend"), (path, role)


def test_authorization_header_must_use_the_bearer_scheme(quiz):
    config, server, api = quiz
    token = api.sign_in("m1")
    reply = api.call("GET", "/api/me/progress", headers={"Authorization": f"Basic {token}"})
    assert (reply.status, reply.json()) == (401, {"error": "missing bearer token"})
    assert api.call("GET", "/api/me/progress", headers={"Authorization": f"bearer {token}"}).status == 200


def _body(body, registration):
    if body == "ATTEMPT":
        return {"answers": CORRECT["quiz1"], "registration": registration, "platform": "browser"}
    if body == "EXPERIENCE":
        return {"registration": registration, "seconds": 5}
    return body


# --- WebSocket joins -----------------------------------------------------------------


def test_hub_join_with_a_session_token_takes_name_and_role_from_the_session(quiz):
    config, server, api = quiz
    trainer = api.sign_in("t1", "李老师", enrolment_code=TRAINER_CODE)
    member = api.sign_in("m1", "张三")
    base = f"ws://127.0.0.1:{server.port}"

    async def scenario():
        guide = await HubClient.join(base, "anything", token=trainer)
        assert (guide.welcome["name"], guide.welcome["role"]) == ("李老师", "trainer")
        walker = await HubClient.join(base, "pretending", role="trainer", token=member)
        assert (walker.welcome["name"], walker.welcome["role"]) == ("张三", "member")
        forged = await HubClient.open(base)
        await forged.send(type="join", name="x", token=trainer[:-4] + "AAAA")
        assert await forged.closed() == (1008, "join: invalid session token")
        expired = await HubClient.open(base)
        await expired.send(type="join", name="x", token=Sessions(SECRET, ttl=1, clock=lambda: 0.0).issue("t1"))
        assert await expired.closed() == (1008, "join: session token expired")
        for client in (guide, walker):
            await client.close()

    run(scenario())
