"""The embedded LRS's Document resources (State, Activity Profile, Agent Profile), Activities and Agents."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.server.lrs_support import lrs, lrs_server  # noqa: F401 - fixtures

AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:learner@example.com"})
ACTIVITY = "https://halls.example/xapi/halls/safety"
STATE = "/xapi/activities/state"
ACTIVITY_PROFILE = "/xapi/activities/profile"
AGENT_PROFILE = "/xapi/agents/profile"
JSON = {"Content-Type": "application/json"}


def _state(**extra) -> dict:
    return {"activityId": ACTIVITY, "agent": AGENT, **extra}


def _etag(body: bytes) -> str:
    return f'"{hashlib.sha1(body).hexdigest()}"'


def test_state_put_get_with_sha1_etag_and_last_modified(lrs):
    body = b'{"bookmark": "room-3"}'
    assert lrs.put(STATE, body, _state(stateId="resume"), headers=JSON).status == 204
    reply = lrs.get(STATE, _state(stateId="resume"))
    assert reply.status == 200 and reply.body == body
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["ETag"] == _etag(body)
    assert reply.headers["Last-Modified"].endswith("GMT")


def test_state_post_merges_top_level_json_properties(lrs):
    lrs.put(STATE, b'{"x": "foo", "y": "bar"}', _state(stateId="vars"), headers=JSON)
    assert lrs.post(STATE, b'{"x": "bash", "z": "faz"}', _state(stateId="vars"), headers=JSON).status == 204
    assert lrs.get(STATE, _state(stateId="vars")).json() == {"x": "bash", "y": "bar", "z": "faz"}


def test_state_post_merge_with_non_json_is_400_and_keeps_the_document(lrs):
    lrs.put(STATE, b"plain words", _state(stateId="notes"), headers={"Content-Type": "text/plain"})
    reply = lrs.post(STATE, b'{"a": 1}', _state(stateId="notes"), headers=JSON)
    assert reply.status == 400 and "not application/json" in reply.error
    lrs.put(STATE, b'{"a": 1}', _state(stateId="obj"), headers=JSON)
    reply = lrs.post(STATE, b"[1, 2]", _state(stateId="obj"), headers=JSON)
    assert reply.status == 400 and "not a JSON object" in reply.error
    assert lrs.get(STATE, _state(stateId="notes")).body == b"plain words"


def test_state_ids_listing_since_and_registrations(lrs):
    registration = "ec531277-b57b-4c15-8d91-d292c5b2b8f7"
    lrs.put(STATE, b"1", _state(stateId="a"), headers=JSON)
    lrs.put(STATE, b"2", _state(stateId="b", registration=registration), headers=JSON)
    assert sorted(lrs.get(STATE, _state()).json()) == ["a", "b"]
    assert lrs.get(STATE, _state(registration=registration)).json() == ["b"]
    assert lrs.get(STATE, _state(since="2999-01-01T00:00:00Z")).json() == []
    assert lrs.get(STATE, _state(stateId="b")).status == 404
    assert lrs.get(STATE, _state(stateId="b", registration=registration)).body == b"2"


def test_state_delete_one_and_all(lrs):
    for state_id in ("a", "b", "c"):
        lrs.put(STATE, b"{}", _state(stateId=state_id), headers=JSON)
    assert lrs.delete(STATE, _state(stateId="a")).status == 204
    assert sorted(lrs.get(STATE, _state()).json()) == ["b", "c"]
    assert lrs.delete(STATE, _state()).status == 204
    assert lrs.get(STATE, _state()).json() == []


@pytest.mark.parametrize(
    "params, message",
    [
        ({"agent": AGENT, "stateId": "a"}, "missing required parameter 'activityId'"),
        ({"activityId": ACTIVITY, "stateId": "a"}, "missing required parameter 'agent'"),
        ({"activityId": "safety", "agent": AGENT, "stateId": "a"}, "activityId: must be an IRI, got 'safety'"),
        (
            {"activityId": ACTIVITY, "agent": '{"name": "x"}', "stateId": "a"},
            "agent: an Agent must have exactly one inverse functional identifier "
            "(mbox, mbox_sha1sum, openid, account); found 0",
        ),
        (
            {"activityId": ACTIVITY, "agent": AGENT, "stateId": "a", "registration": "1"},
            "registration: must be a UUID, got '1'",
        ),
        (
            {"activityId": ACTIVITY, "agent": AGENT, "stateId": "a", "since": "2020-01-01T00:00:00Z"},
            "unknown parameter 'since' for GET /xapi/activities/state",
        ),
        (
            {"activityId": ACTIVITY, "agent": AGENT, "StateId": "a"},
            "unknown parameter 'StateId' for GET /xapi/activities/state",
        ),
    ],
)
def test_bad_state_parameters_are_400(lrs, params, message):
    reply = lrs.get(STATE, params)
    assert (reply.status, reply.error) == (400, message)


def test_state_put_honours_if_match_and_if_none_match(lrs):
    params = _state(stateId="s")
    lrs.put(STATE, b'{"v": 1}', params, headers=JSON)
    etag = lrs.get(STATE, params).headers["ETag"]
    assert lrs.put(STATE, b'{"v": 2}', params, headers={**JSON, "If-Match": '"0000"'}).status == 412
    assert lrs.put(STATE, b'{"v": 2}', params, headers={**JSON, "If-None-Match": "*"}).status == 412
    assert lrs.put(STATE, b'{"v": 2}', params, headers={**JSON, "If-Match": etag}).status == 204
    assert lrs.put(STATE, b'{"v": 3}', params, headers=JSON).status == 204


@pytest.mark.parametrize(
    "path, subject", [(ACTIVITY_PROFILE, {"activityId": ACTIVITY}), (AGENT_PROFILE, {"agent": AGENT})]
)
def test_profile_concurrency_rules(lrs, path, subject):
    params = {**subject, "profileId": "prefs"}
    assert lrs.put(path, b'{"lang": "zh"}', params, headers={**JSON, "If-None-Match": "*"}).status == 204
    conflict = lrs.put(path, b'{"lang": "en"}', params, headers=JSON)
    assert conflict.status == 409
    assert "If-Match" in conflict.error and "already exists" in conflict.error
    etag = lrs.get(path, params).headers["ETag"]
    assert etag == _etag(b'{"lang": "zh"}')
    assert lrs.put(path, b'{"lang": "en"}', params, headers={**JSON, "If-Match": '"abc"'}).status == 412
    assert lrs.put(path, b'{"lang": "en"}', params, headers={**JSON, "If-None-Match": "*"}).status == 412
    assert lrs.put(path, b'{"lang": "en"}', params, headers={**JSON, "If-Match": etag}).status == 204
    assert lrs.get(path, params).json() == {"lang": "en"}
    created = {**subject, "profileId": "new"}
    assert lrs.put(path, b'{"a": 1}', created, headers={**JSON, "If-None-Match": "*"}).status == 204
    assert (
        lrs.put(path, b'{"a": 1}', {**subject, "profileId": "missing"}, headers={**JSON, "If-Match": etag}).status
        == 412
    )
    assert lrs.post(path, b'{"b": 2}', created, headers={**JSON, "If-Match": '"stale"'}).status == 412
    assert lrs.post(path, b'{"b": 2}', created, headers=JSON).status == 204
    assert lrs.get(path, created).json() == {"a": 1, "b": 2}
    assert sorted(lrs.get(path, subject).json()) == ["new", "prefs"]
    assert lrs.delete(path, created, headers={"If-Match": '"stale"'}).status == 412
    assert lrs.delete(path, created).status == 204
    assert lrs.get(path, created).status == 404


@pytest.mark.parametrize(
    "path, subject", [(ACTIVITY_PROFILE, {"activityId": ACTIVITY}), (AGENT_PROFILE, {"agent": AGENT})]
)
def test_profile_put_without_a_concurrency_header_is_400_when_new_and_409_when_it_exists(lrs, path, subject):
    """xAPI 1.0.3 Part 3 3.1.s3.b1: "A Client making a PUT request to either the Agent Profile Resource or
    Activity Profile Resource MUST include the If-Match header or the If-None-Match header" (a missing
    argument: 400, 3.2.s2.b1); 3.1.s4.b13-15: without either header for a resource that already exists, the
    LRS "MUST return HTTP status 409 Conflict", explain, and not modify the resource."""
    params = {**subject, "profileId": "bare"}
    missing = lrs.put(path, b'{"a": 1}', params, headers=JSON)
    assert missing.status == 400 and "If-Match" in missing.error and "If-None-Match" in missing.error
    assert lrs.get(path, params).status == 404
    assert lrs.put(path, b'{"a": 1}', params, headers={**JSON, "If-None-Match": "*"}).status == 204
    conflict = lrs.put(path, b'{"a": 2}', params, headers=JSON)
    assert conflict.status == 409 and "If-Match" in conflict.error
    assert lrs.get(path, params).json() == {"a": 1}


def test_state_put_needs_no_concurrency_header(lrs):
    """xAPI 1.0.3 Part 3 3.1.s3: "The State Resource will permit PUT, POST and DELETE requests without
    concurrency headers"."""
    assert lrs.put(STATE, b'{"a": 1}', _state(stateId="free"), headers=JSON).status == 204
    assert lrs.put(STATE, b'{"a": 2}', _state(stateId="free"), headers=JSON).status == 204


def test_agent_profile_refuses_a_group_agent(lrs):
    group = json.dumps({"objectType": "Group", "mbox": "mailto:team@example.com"})
    reply = lrs.get(AGENT_PROFILE, {"agent": group})
    assert (reply.status, reply.error) == (400, "agent: must be an Agent, not a Group")


def test_profile_delete_needs_a_profile_id(lrs):
    reply = lrs.delete(ACTIVITY_PROFILE, {"activityId": ACTIVITY})
    assert (reply.status, reply.error) == (400, "missing required parameter 'profileId'")


def test_activities_resource_answers_an_activity_even_when_unknown(lrs):
    reply = lrs.get("/xapi/activities", {"activityId": "http://e.com/unknown"})
    assert reply.status == 200 and reply.json() == {"objectType": "Activity", "id": "http://e.com/unknown"}
    assert reply.headers["ETag"] == _etag(reply.body)


def test_agents_resource_answers_a_person(lrs):
    agent = json.dumps({"name": "学员", "mbox": "mailto:learner@example.com"})
    reply = lrs.get("/xapi/agents", {"agent": agent})
    assert reply.json() == {"objectType": "Person", "name": ["学员"], "mbox": ["mailto:learner@example.com"]}


def test_document_resources_need_version_and_credentials(lrs):
    assert lrs.get(STATE, _state(stateId="x"), version=None).status == 400
    assert lrs.get(STATE, _state(stateId="x"), auth=None).status == 401
    assert lrs.request("PATCH", STATE, _state(stateId="x")).status == 405
