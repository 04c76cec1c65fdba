"""The quiz HTTP API on a real server: grading, policy, completion, and no answer key in any response."""

from __future__ import annotations

import copy
import logging
import re
import threading
import time

import pytest

from server.learning.forwarder import outbox_stats
from tests.server.conftest import wait_for
from tests.server.test_quiz_support import (
    ADMIN_CODE,
    CORRECT,
    KEYS,
    TRAINER_CODE,
    FakeLrs,
    key_fragments,
    quiz_config,
    start_quiz,
    statements_in,
    write_keys,
)

WRONG = {"quiz1": {"s1": "A", "m1": ["A"], "t1": True}, "quiz2": {"q": "A"}, "only": {"tf": False}}


@pytest.fixture
def lrs():
    fake = FakeLrs()
    yield fake
    fake.stop()


@pytest.fixture
def quiz(tmp_path, start_server, lrs):
    config = quiz_config(tmp_path, lrs_url=lrs.url, lrs_key="halls", lrs_secret="s3cret")
    server, api = start_quiz(start_server, config)
    return config, server, api


def test_full_session_never_shows_an_answer_key_in_any_response_or_info_log(tmp_path, start_server, caplog):
    caplog.set_level(logging.INFO)
    lrs = FakeLrs(script=[400], default=200)  # the first batch is refused, with the statement echoed back
    try:
        config = quiz_config(tmp_path, lrs_url=lrs.url, lrs_batch_size=1)
        server, api = start_quiz(start_server, config)
        field_errors = []  # responses that name the request field `answers` (and nothing else)
        member = api.sign_in("m1", "张三", branch="一支部")
        trainer = api.sign_in("t1", "李老师", enrolment_code=TRAINER_CODE)
        admin = api.sign_in("root", "管理员", enrolment_code=ADMIN_CODE)
        for path in (
            "/api/halls",
            "/api/halls/alpha",
            "/api/halls/alpha?variant=plain",
            "/api/halls/beta",
            "/api/halls/alpha/plan",
            "/api/health",
            "/reports",
            "/",
        ):
            api.call("GET", path, token=member)
        registration = api.visit(member)
        for checkpoint in ("quiz1", "quiz2"):
            assert api.call("GET", f"/api/halls/alpha/checkpoints/{checkpoint}", token=member).status == 200
        assert api.attempt(member, registration, "quiz1", WRONG["quiz1"]).status == 200
        assert api.attempt(member, registration, "quiz1").status == 200
        assert api.attempt(member, registration, "quiz1").status == 403
        assert api.attempt(member, registration, "quiz2", WRONG["quiz2"]).status == 200
        assert api.attempt(member, registration, "quiz2").status == 429
        assert api.attempt(member, registration, "quiz2", {"q": "Z"}).status == 400
        assert api.attempt(member, registration, "quiz2", {"nope": "A"}).status == 400
        reply = api.attempt(member, registration, "quiz2", {})
        assert reply.status == 400
        field_errors.append(reply.body)
        beta = api.visit(member, "beta", "headset")
        assert api.attempt(member, beta, "only", WRONG["only"], hall="beta").status == 200
        assert api.attempt(member, beta, "only", hall="beta").status == 200
        api.call(
            "POST",
            "/api/halls/alpha/dioramas/bridge/experienced",
            {"registration": registration, "seconds": 75},
            member,
        )
        api.call("GET", "/api/me/progress", token=member)
        api.call("GET", "/api/progress", token=trainer)
        api.call("GET", "/api/progress?format=csv", token=trainer)
        wait_for(lambda: all(s["_state"] for s in statements_in(config)), what="statements forwarded")
        letters = api.call("GET", "/api/admin/dead-letters?all=1", token=admin)
        assert letters.status == 200 and len(letters.json()["dead_letters"]) == 1
        assert "invalid statement" in letters.json()["dead_letters"][0]["response"]
        api.call("GET", "/api/health", token=admin)
    finally:
        lrs.stop()
    fragments = key_fragments()
    explanations_before_last_try = "否。"  # quiz2 was failed with a try left: its explanation stays hidden
    assert len(api.seen) > 25
    for request, reply in api.seen:
        text = reply.body.decode("utf-8", errors="replace")
        for fragment in fragments:
            assert fragment not in text, f"{request} answered with {fragment!r}"
        if reply.body not in field_errors:  # the xAPI verb `answered` may be named (dead-letter summaries)
            assert not re.search(r"answer(?!ed\b)", text, re.IGNORECASE), f"{request}: {text[:300]}"
        assert explanations_before_last_try not in text, request
    info = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for fragment in fragments:
        assert fragment not in info
    assert "dead letter" in info


def test_wrong_then_right_attempt_passes_with_scores_and_attempts_left(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    first = api.attempt(member, registration, "quiz1", {"s1": "C", "m1": ["A"], "t1": True}).json()
    assert first == {
        "passed": False,
        "score": {"raw": 1, "max": 3, "scaled": 0.3333},
        "results": [
            {"question": "s1", "correct": True, "explanation": {"zh": "丙是对的。", "en": None}},
            {"question": "m1", "correct": False},
            {"question": "t1", "correct": False},
        ],
        "attempts_left": 2,
        "retry_after": 0,
        "hall_complete": False,
    }
    second = api.attempt(member, registration, "quiz1").json()
    assert second["passed"] and second["score"] == {"raw": 3, "max": 3, "scaled": 1.0}
    assert second["attempts_left"] == 0 and second["retry_after"] == 0
    assert second["results"][1] == {"question": "m1", "correct": True, "explanation": {"zh": "一和四。", "en": None}}
    again = api.attempt(member, registration, "quiz1")
    assert again.status == 403 and again.json() == {"error": "checkpoint already passed", "attempts_left": 0}


def test_attempts_run_out_with_403_and_the_last_try_shows_every_explanation(tmp_path, start_server, lrs):
    config = quiz_config(tmp_path, lrs_url=lrs.url)
    server, api = start_quiz(start_server, config)
    member = api.sign_in("m1")
    registration = api.visit(member)
    for left in (2, 1):
        reply = api.attempt(member, registration, "quiz1", WRONG["quiz1"]).json()
        assert reply["attempts_left"] == left and all("explanation" not in r for r in reply["results"])
    last = api.attempt(member, registration, "quiz1", WRONG["quiz1"]).json()
    assert last["attempts_left"] == 0 and not last["passed"]
    assert [r.get("explanation") for r in last["results"]] == [
        {"zh": "丙是对的。", "en": None},
        {"zh": "一和四。", "en": None},
        None,
    ]
    refused = api.attempt(member, registration, "quiz1")
    assert refused.status == 403 and refused.json() == {"error": "no attempts left", "attempts_left": 0}
    assert len([s for s in statements_in(config) if s["verb"]["id"].endswith("/failed")]) == 3
    state = api.call("GET", "/api/halls/alpha/checkpoints/quiz1", token=member).json()
    assert (state["attempts_used"], state["attempts_left"], state["retry_after"], state["passed"]) == (3, 0, 0, False)


def test_cooldown_answers_429_with_retry_after_until_it_ends(tmp_path, start_server, lrs):
    config = quiz_config(tmp_path, lrs_url=lrs.url)
    quick = copy.deepcopy(KEYS["alpha"])
    quick[1]["cooldown"] = 1.2
    write_keys(config, "alpha", quick)
    server, api = start_quiz(start_server, config)
    member = api.sign_in("m1")
    registration = api.visit(member)
    first = api.attempt(member, registration, "quiz2", WRONG["quiz2"]).json()
    assert (first["attempts_left"], first["retry_after"]) == (1, 2)
    early = api.attempt(member, registration, "quiz2")
    assert early.status == 429 and early.headers["Retry-After"] == early.json()["retry_after"].__str__()
    assert early.json()["retry_after"] in (1, 2) and early.json()["error"].startswith("cooling down: try again in ")
    state = api.call("GET", "/api/halls/alpha/checkpoints/quiz2", token=member).json()
    assert state["retry_after"] in (1, 2) and state["attempts_left"] == 1
    time.sleep(1.3)
    assert api.attempt(member, registration, "quiz2").json()["passed"]


def test_hall_is_complete_when_every_checkpoint_is_passed_and_completed_is_sent_once(quiz):
    config, server, api = quiz
    member = api.sign_in("m1", "张三")
    registration = api.visit(member)
    assert not api.attempt(member, registration, "quiz1").json()["hall_complete"]
    assert api.call("GET", "/api/me/progress", token=member).json()["alpha"]["complete"] is False
    assert api.attempt(member, registration, "quiz2").json()["hall_complete"]
    progress = api.call("GET", "/api/me/progress", token=member).json()
    assert progress == {
        "alpha": {
            "complete": True,
            "checkpoints": {
                "quiz1": {"passed": True, "attempts": 1, "best_score": 1.0},
                "quiz2": {"passed": True, "attempts": 1, "best_score": 1.0},
            },
        },
        "beta": {"complete": False, "checkpoints": {"only": {"passed": False, "attempts": 0, "best_score": None}}},
    }
    completed = [s for s in statements_in(config) if s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/completed"]
    assert len(completed) == 1
    assert completed[0]["object"]["id"] == "https://halls.example/halls/alpha"
    assert completed[0]["context"]["registration"] == registration
    assert completed[0]["result"] == {"success": True, "completion": True}


@pytest.mark.parametrize(
    "body, message",
    [
        ({"answers": {"s1": "C"}}, "registration: expected the string from POST /api/halls/{hall}/visits"),
        (
            {"answers": {"s1": "C"}, "registration": "REG", "platform": "phone"},
            "platform: expected one of browser, headset, client",
        ),
        ({"answers": {"zz": "C"}, "registration": "REG"}, "unknown question id 'zz' in checkpoint 'quiz1'"),
        ({"answers": {"s1": "E"}, "registration": "REG"}, "question 's1': expected one option id (A, B, C), got \"E\""),
        ({"answers": {"t1": "yes"}, "registration": "REG"}, "question 't1': expected true or false, got \"yes\""),
        ({"answers": ["C"], "registration": "REG"}, "'answers' must be a non-empty object of question id -> response"),
        (
            {"answers": {"s1": "C"}, "registration": "not-a-visit"},
            "unknown registration for hall 'alpha': start a visit first",
        ),
        ([1, 2], "body: expected a JSON object"),
    ],
)
def test_malformed_attempts_answer_400_with_a_clear_json_error_and_use_no_try(quiz, body, message):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    if isinstance(body, dict) and body.get("registration") == "REG":
        body["registration"] = registration
    reply = api.call("POST", "/api/halls/alpha/checkpoints/quiz1/attempts", body, member)
    assert (reply.status, reply.json()) == (400, {"error": message})
    assert reply.headers["Content-Type"].startswith("application/json")
    state = api.call("GET", "/api/halls/alpha/checkpoints/quiz1", token=member).json()
    assert state["attempts_used"] == 0 and statements_in(config) == []


def test_not_json_body_answers_400(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    reply = api.call(
        "POST",
        "/api/halls/alpha/checkpoints/quiz1/attempts",
        token=member,
        raw=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert (reply.status, reply.json()) == (400, {"error": "body: expected a JSON object"})


def test_registration_of_another_member_or_hall_is_refused(quiz):
    config, server, api = quiz
    ann, bo = api.sign_in("ann"), api.sign_in("bo")
    anns_visit, anns_beta_visit = api.visit(ann), api.visit(ann, "beta")
    other_member = api.attempt(bo, anns_visit)
    assert other_member.status == 400
    other_hall = api.attempt(ann, anns_beta_visit)
    assert (other_hall.status, other_hall.json()["error"]) == (
        400,
        "unknown registration for hall 'alpha': start a visit first",
    )


def test_member_id_in_a_body_is_ignored(quiz):
    config, server, api = quiz
    ann, bo = api.sign_in("ann", "安"), api.sign_in("bo", "博")
    registration = api.visit(ann)
    reply = api.call(
        "POST",
        "/api/halls/alpha/checkpoints/quiz1/attempts",
        {"answers": CORRECT["quiz1"], "registration": registration, "member_id": "bo", "member": "bo", "actor": "bo"},
        ann,
    )
    assert reply.status == 200
    actors = {s["actor"]["account"]["name"] for s in statements_in(config)}
    assert actors == {"ann"}
    assert api.call("GET", "/api/me/progress", token=bo).json()["alpha"]["checkpoints"]["quiz1"]["attempts"] == 0


def test_unknown_hall_checkpoint_or_diorama_answers_404(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    cases = [
        ("GET", "/api/halls/nowhere/checkpoints/quiz1", None, "unknown hall 'nowhere'"),
        ("GET", "/api/halls/alpha/checkpoints/nope", None, "unknown checkpoint 'nope' in hall 'alpha'"),
        (
            "POST",
            "/api/halls/alpha/checkpoints/nope/attempts",
            {"answers": {"x": "A"}, "registration": registration},
            "unknown checkpoint 'nope' in hall 'alpha'",
        ),
        ("POST", "/api/halls/nowhere/visits", {"platform": "browser"}, "unknown hall 'nowhere'"),
        (
            "POST",
            "/api/halls/alpha/dioramas/nope/experienced",
            {"registration": registration, "seconds": 3},
            "unknown diorama 'nope' in hall 'alpha'",
        ),
    ]
    for method, path, body, message in cases:
        reply = api.call(method, path, body, member)
        assert (reply.status, reply.json()) == (404, {"error": message}), path


def test_racing_attempts_never_use_more_tries_than_allowed(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    statuses = []
    lock = threading.Lock()

    def attempt():
        reply = api.attempt(member, registration, "quiz1", WRONG["quiz1"])
        with lock:
            statuses.append(reply.status)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 3 + [403] * 9
    numbers = [
        s["context"]["extensions"]["https://halls.example/extensions/attempt"]
        for s in statements_in(config)
        if s["verb"]["id"].endswith("/failed")
    ]
    assert sorted(numbers) == [1, 2, 3]


def test_checkpoint_view_has_questions_and_the_members_state(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    view = api.call("GET", "/api/halls/alpha/checkpoints/quiz1", token=member)
    assert view.status == 200 and view.headers["Cache-Control"] == "no-store"
    body = view.json()
    assert body == {
        "id": "quiz1",
        "hall": "alpha",
        "title": {"zh": "第一站", "en": "Station one"},
        "pass_mark": 0.6,
        "attempts_allowed": 3,
        "cooldown": 0.0,
        "questions": [{k: q[k] for k in ("id", "type", "prompt", "options")} for q in KEYS["alpha"][0]["questions"]],
        "attempts_used": 0,
        "attempts_left": 3,
        "retry_after": 0,
        "passed": False,
        "best_score": None,
    }


def test_experienced_records_diorama_time_and_checks_seconds(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member, platform="headset")
    ok = api.call(
        "POST", "/api/halls/alpha/dioramas/bridge/experienced", {"registration": registration, "seconds": 92.5}, member
    )
    assert (ok.status, ok.json()) == (201, {"recorded": True, "seconds": 92.5})
    for seconds in (0, -3, "10", True, 99999):
        bad = api.call(
            "POST",
            "/api/halls/alpha/dioramas/bridge/experienced",
            {"registration": registration, "seconds": seconds},
            member,
        )
        assert (bad.status, bad.json()) == (400, {"error": "seconds: expected a number above 0 and at most 14400"})
    [statement] = statements_in(config)
    assert statement["verb"]["id"] == "http://adlnet.gov/expapi/verbs/experienced"
    assert statement["object"]["id"] == "https://halls.example/halls/alpha/dioramas/bridge"
    assert statement["object"]["definition"]["name"] == {"zh-CN": "飞夺泸定桥"}
    assert statement["result"] == {"duration": "PT1M32.50S"}
    assert statement["context"]["platform"] == "headset"


def test_visit_needs_a_known_platform(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    reply = api.call("POST", "/api/halls/alpha/visits", {"platform": "vr"}, member)
    assert (reply.status, reply.json()) == (400, {"error": "platform: expected one of browser, headset, client"})
    ok = api.call("POST", "/api/halls/alpha/visits", {"platform": "client"}, member)
    assert ok.status == 201 and len(ok.json()["registration"]) == 36


def test_statements_reach_the_lrs_once_with_version_header_and_basic_auth(quiz, lrs):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    api.attempt(member, registration, "quiz1")
    api.attempt(member, registration, "quiz2")
    # quiz1: 3 answered + passed; quiz2: answered + passed + the hall's completed
    wait_for(lambda: len(lrs.statements) == 7, what="7 statements at the LRS")
    assert {r["version"] for r in lrs.requests} == {"1.0.3"}
    assert {r["auth"] for r in lrs.requests} == {"halls:s3cret"}
    sent = [i for r in lrs.requests for i in r["ids"]]
    assert len(sent) == len(set(sent)) == 7
    # the forwarder counts a batch just after its commit: wait for both
    stats = wait_for(
        lambda: (lambda s: s if s["queued"] == 0 and s["forwarder"]["delivered"] == 7 else None)(
            server.call(_stats(server.app))
        ),
        what="the queue empty and 7 delivered in /api/health",
    )
    assert stats["dead_letters"] == 0 and stats["oldest_unsent_age_s"] is None


async def _stats(app):
    return outbox_stats(app)
