"""Schema first, then rules: every body, query and path of the learning API is read through its model.

A request that does not fit answers 400 `{"error": "<field path>: <what was expected>"}` before any hall,
checkpoint or policy is looked at, and never a 500.
"""

from __future__ import annotations

import pytest

from server.learning.request_models import (
    AttemptBody,
    ExperiencedBody,
    ProgressQuery,
    RequestError,
    SessionBody,
    read_query,
    validate,
)
from tests.server.test_quiz_api import lrs, quiz  # noqa: F401 (the fixtures are used by name)
from tests.server.test_quiz_support import ADMIN_CODE, CORRECT, TRAINER_CODE, statements_in


def message(model, data) -> str:
    with pytest.raises(RequestError) as raised:
        validate(model, data)
    return str(raised.value)


@pytest.mark.parametrize(
    "data, expected",
    [
        (
            {"registration": "r", "answers": {"s1": 5}},
            "answers.s1: expected an option id, a list of option ids, or true or false",
        ),
        (
            {"registration": "r", "answers": {"m1": ["A", 2]}},
            "answers.m1: expected an option id, a list of option ids, or true or false",
        ),
        ({"registration": "r", "answers": {}}, "'answers' must be a non-empty object of question id -> response"),
        (
            {"registration": 7, "answers": {"s1": "A"}},
            "registration: expected the string from POST /api/halls/{hall}/visits",
        ),
        (
            {"registration": "r", "answers": {"s1": "A"}, "platform": 3},
            "platform: expected one of browser, headset, client",
        ),
    ],
)
def test_attempt_body_names_the_field_and_what_was_expected(data, expected):
    assert message(AttemptBody, data) == expected


@pytest.mark.parametrize("seconds", [0, -1, "10", True, None, 14400.5, float("nan"), float("inf")])
def test_experienced_seconds_must_be_a_number_in_range(seconds):
    assert message(ExperiencedBody, {"registration": "r", "seconds": seconds}) == (
        "seconds: expected a number above 0 and at most 14400"
    )


def test_a_whole_number_is_a_number_and_unknown_keys_are_ignored():
    body = validate(ExperiencedBody, {"registration": "r", "seconds": 3, "member_id": "someone else"})
    assert body.seconds == 3.0 and not hasattr(body, "member_id")


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"member_id": 5, "name": "x"}, "member_id: 1-64 letters, digits or . _ @ - (starting with a letter or digit)"),
        (
            {"member_id": "m1\n", "name": "x"},
            "member_id: 1-64 letters, digits or . _ @ - (starting with a letter or digit)",
        ),
        ({"member_id": "m1", "name": ["x"]}, "name: 1-40 characters, no control characters"),
        ({"member_id": "m1", "name": "x" * 41}, "name: 1-40 characters, no control characters"),
        ({"member_id": "m1", "name": "x", "branch": 3}, "branch: expected a branch name (1-64 characters)"),
        ({"member_id": "m1", "name": "x", "branch": "  "}, "branch: expected a branch name (1-64 characters)"),
    ],
)
def test_session_body_keeps_the_messages_members_know(data, expected):
    assert message(SessionBody, data) == expected


def test_query_reads_lists_from_repeated_names_and_refuses_a_repeated_single_value():
    from multidict import MultiDict

    query = read_query(MultiDict([("branch", "一支部"), ("branch", "二支部"), ("format", "CSV")]), ProgressQuery)
    assert query.branch == ["一支部", "二支部"] and query.format == "csv" and query.from_ is None
    with pytest.raises(RequestError, match=r"^from: expected one value, got 2$"):
        read_query(MultiDict([("from", "2026-01-01"), ("from", "2026-02-01")]), ProgressQuery)
    with pytest.raises(RequestError, match=r"^format: expected one of 'json' or 'csv'$"):
        read_query(MultiDict([("format", "xml")]), ProgressQuery)


# --- over HTTP ------------------------------------------------------------------------


def test_wrong_types_answer_400_naming_the_field_before_any_rule(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    registration = api.visit(member)
    cases = [
        (
            "POST",
            "/api/session",
            {"member_id": "m2", "name": "x", "enrolment_code": ["a"]},
            "enrolment_code: expected a string",
        ),
        # the hall is unknown too, but the body is read first
        ("POST", "/api/halls/nowhere/visits", {"platform": 1}, "platform: expected one of browser, headset, client"),
        (
            "POST",
            "/api/halls/nowhere/checkpoints/nope/attempts",
            {"registration": registration, "answers": {"s1": {}}},
            "answers.s1: expected an option id, a list of option ids, or true or false",
        ),
        (
            "POST",
            "/api/halls/alpha/dioramas/nope/experienced",
            {"registration": registration, "seconds": "9"},
            "seconds: expected a number above 0 and at most 14400",
        ),
    ]
    for method, path, body, expected in cases:
        reply = api.call(method, path, body, member)
        assert (reply.status, reply.json()) == (400, {"error": expected}), path
    assert statements_in(config) == []


@pytest.mark.parametrize(
    "raw, content_type",
    [
        (b"[" * 20_000 + b"]" * 20_000, "application/json"),
        (b'{"platform": "\\ud800"}', "application/json"),
        (b"\xff\xfe{}", "application/json"),
    ],
)
def test_bodies_that_are_not_json_objects_answer_400_never_500(quiz, raw, content_type):
    config, server, api = quiz
    member = api.sign_in("m1")
    reply = api.call("POST", "/api/halls/alpha/visits", token=member, raw=raw, headers={"Content-Type": content_type})
    assert (reply.status, reply.json()) == (400, {"error": "body: expected a JSON object"})


def test_json_is_read_as_utf_8_whatever_charset_the_content_type_names(quiz):
    config, server, api = quiz
    member = api.sign_in("m1")
    headers = {"Content-Type": "application/json; charset=no-such-charset"}
    reply = api.call("POST", "/api/halls/alpha/visits", token=member, raw=b'{"platform": "browser"}', headers=headers)
    assert reply.status == 201


def test_queries_and_path_ids_are_read_through_their_models(quiz):
    config, server, api = quiz
    trainer = api.sign_in("t1", enrolment_code=TRAINER_CODE)
    admin = api.sign_in("root", enrolment_code=ADMIN_CODE)
    cases = [
        (trainer, "GET", "/api/progress?format=xml", "format: expected one of 'json' or 'csv'"),
        (trainer, "GET", "/api/progress?to=2026-01-01&to=2026-02-01", "to: expected one value, got 2"),
        (
            admin,
            "GET",
            "/api/admin/dead-letters?all=maybe",
            "all: expected one of 'true', 'false', '1', '0', 'yes' or 'no'",
        ),
        (admin, "GET", "/api/admin/dead-letters?all=", "all: expected one of 'true', 'false', '1', '0', 'yes' or 'no'"),
        (
            admin,
            "POST",
            "/api/admin/dead-letters/abc/resend",
            "letter_id: expected a dead letter's id (a whole number)",
        ),
        (
            admin,
            "POST",
            "/api/admin/dead-letters/99999999999999999999/resend",
            "letter_id: expected a dead letter's id (a whole number)",
        ),
    ]
    for token, method, path, expected in cases:
        reply = api.call(method, path, token=token)
        assert (reply.status, reply.json()) == (400, {"error": expected}), path
    assert api.call("GET", "/api/admin/dead-letters?all=TRUE", token=admin).status == 200
    assert api.call("POST", "/api/admin/dead-letters/12/resend", token=admin).json() == {
        "error": "no open dead letter 12"
    }


def test_authentication_still_comes_before_the_body(quiz):
    config, server, api = quiz
    reply = api.call("POST", "/api/halls/alpha/checkpoints/quiz1/attempts", {"answers": 5})
    assert reply.status == 401
    member = api.sign_in("m1")
    registration = api.visit(member)
    assert api.attempt(member, registration, "quiz1", CORRECT["quiz1"]).status == 200
