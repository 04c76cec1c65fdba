"""The embedded LRS against the xAPI 1.0.3 requirements the ADL conformance suite found it failing.

Each test quotes the MUST it checks (Part 2 "Data", Part 3 "Communication" of xAPI 1.0.3): wrong JSON
types anywhere are a 400 naming the path, never a 500; Group authorities; the statement version `1.0`;
the alternate request syntax on every resource; attachment parts' Content-Transfer-Encoding; the `ids`
format; request parameters checked by their declared schema.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from urllib.parse import urlencode

import pytest

from server.config import LrsSettings
from tests.server.conftest import with_config
from tests.server.lrs_support import (  # noqa: F401 - fixtures
    LrsClient,
    basic,
    lrs,
    lrs_server,
    mount_lrs,
    statement,
)

S = "/xapi/statements"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SUB = {
    "objectType": "SubStatement",
    "actor": {"mbox": "mailto:sub@example.com"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
    "object": {"id": "http://example.com/q/1"},
}
CONSUMER = {"account": {"homePage": "http://example.com/xAPI/OAuth/Token", "name": "oauth_consumer_x75db"}}
USER = {"mbox": "mailto:bob@example.com"}


def _set(value: dict, path: str, item) -> dict:
    """A copy of `value` with `item` at a dotted path (numbers index arrays)."""
    copy = json.loads(json.dumps(value))
    target = copy
    keys = [int(key) if key.isdigit() else key for key in path.split(".")]
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = item
    return copy


# --- 1. wrong JSON types: Part 2 2.2.s4.b1 ------------------------------------------------------


def test_interaction_type_that_is_an_object_is_400_in_a_statement_and_a_substatement(lrs):
    """Part 2 2.4.4.1.s8.table1.row1: interactionType is a String; 2.2.s4.b1: "The LRS MUST reject
    Statements ... where the wrong data type is used"."""
    definition = {"interactionType": {"choice": True}}
    reply = lrs.post(S, statement(object={"id": "http://example.com/q/1", "definition": definition}))
    assert (reply.status, reply.error) == (
        400,
        "statement.object.definition.interactionType: must be a string, got an object",
    )
    sub = _set(SUB, "object", {"id": "http://example.com/q/1", "definition": definition})
    reply = lrs.post(S, statement(object=sub))
    assert (reply.status, reply.error) == (
        400,
        "statement.object.object.definition.interactionType: must be a string, got an object",
    )


WRONG_TYPES = [
    ("actor.mbox", ["mailto:a@example.com"], "statement.actor.mbox: must be a string, got an array"),
    ("actor.name", {"zh": "学员"}, "statement.actor.name: must be a string, got an object"),
    ("actor.account", "learner", "statement.actor.account: must be a JSON object, got string 'learner'"),
    ("verb", ["http://adlnet.gov/expapi/verbs/experienced"], "statement.verb: must be a JSON object, got an array"),
    ("verb.id", 42, "statement.verb.id: must be a string, got number 42"),
    ("verb.display.en-US", ["experienced"], "statement.verb.display.en-US: must be a string, got an array"),
    ("object.objectType", {"type": "Activity"}, "statement.object.objectType: must be a string, got an object"),
    ("object.definition", [], "statement.object.definition: must be a JSON object, got an array"),
    ("object.definition.choices", {"id": "a"}, "statement.object.definition.choices: must be an array, got an object"),
    (
        "object.definition.correctResponsesPattern",
        [1, 2],
        "statement.object.definition.correctResponsesPattern[0]: must be a string, got number 1",
    ),
    ("result.score.raw", "100", "statement.result.score.raw: must be a number, got '100'"),
    ("result.score.max", "one hundred", "statement.result.score.max: must be a number, got 'one hundred'"),
    ("result.success", "true", "statement.result.success: must be a boolean (true or false), got 'true'"),
    ("result.completion", 1, "statement.result.completion: must be a boolean (true or false), got 1"),
    ("result.response", None, "statement.result.response: null is not allowed"),
    ("context.instructor", "teacher", "statement.context.instructor: must be a JSON object, got string 'teacher'"),
    (
        "context.contextActivities.parent.0",
        "http://example.com/a",
        "statement.context.contextActivities.parent[0]: must be a JSON object, got string 'http://example.com/a'",
    ),
    ("context.statement.id", 7, "statement.context.statement.id: must be a string, got number 7"),
    ("context.registration", None, "statement.context.registration: null is not allowed"),
    ("timestamp", 1700000000, "statement.timestamp: must be a string, got number 1700000000"),
    ("version", 1.0, "statement.version: must be a string, got number 1.0"),
    ("attachments", {"usageType": "http://example.com/u"}, "statement.attachments: must be an array, got an object"),
    ("id", None, "statement.id: null is not allowed"),
]


@pytest.mark.parametrize("path, value, message", WRONG_TYPES, ids=[case[0] for case in WRONG_TYPES])
def test_a_wrong_json_type_anywhere_is_400_naming_the_path(lrs, path, value, message):
    """Part 2 2.2.s4.b1: the LRS MUST reject Statements "with any null values (except inside extensions)"
    and "where the wrong data type is used"; Part 3 3.2.s2.b1: 400 for invalid Object structures."""
    base = statement(
        result={"score": {"raw": 5, "max": 10}, "success": True, "completion": True, "response": "A"},
        context={
            "registration": str(uuid.uuid4()),
            "instructor": {"mbox": "mailto:t@example.com"},
            "contextActivities": {"parent": [{"id": "http://example.com/p"}]},
            "statement": {"objectType": "StatementRef", "id": str(uuid.uuid4())},
        },
        object={
            "id": "http://example.com/q/1",
            "definition": {"interactionType": "choice", "correctResponsesPattern": ["a"], "choices": [{"id": "a"}]},
        },
    )
    reply = lrs.post(S, _set(base, path, value))
    assert (reply.status, reply.error) == (400, message)


def test_nulls_inside_extensions_are_kept(lrs):
    """Part 2 2.2.s4.b1: null values are refused "except inside extensions"."""
    sent = statement(result={"extensions": {"http://example.com/ext": None}})
    assert lrs.post(S, sent).status == 200
    assert lrs.get(S, {"statementId": sent["id"]}).json()["result"]["extensions"] == {"http://example.com/ext": None}


@pytest.mark.parametrize(
    "body, reason",
    [
        (b'{"actor": {"mbox": "mailto:a@example.com"}, "score": NaN}', "NaN is not a JSON number"),
        (b'{"result": {"score": {"raw": 1e400}}}', "is too large"),
        (b'{"actor": {"name": "\\ud800"}}', "unpaired UTF-16 surrogate"),
        (b'{"actor": {"name": "\xff"}}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 levels deep"),
        (b'{"a": ' * 70 + b"1" + b"}" * 70, "nested more than 64 levels deep"),
        (b'{"id": 1, "id": 2}', "appears twice"),
    ],
)
def test_bodies_that_are_not_strict_json_are_400(lrs, body, reason):
    """Part 3 1.4.s1.b1: "All strings MUST be encoded and interpreted as UTF-8"; 3.2.s2.b1: malformed JSON is
    an invalid argument (400).  Never a 500, however deep or odd the text."""
    reply = lrs.post(S, body, headers={"Content-Type": "application/json"})
    assert reply.status == 400 and reason in reply.error, reply.body[:300]


# --- 2. authority: Part 2 2.4.9 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "ifi",
    [
        {"mbox": "mailto:team@example.com"},
        {"mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"},
        {"openid": "http://openid.example.org/12345"},
        {"account": {"homePage": "http://www.example.com", "name": "xAPI account name"}},
    ],
    ids=["mbox", "mbox_sha1sum", "openid", "account"],
)
def test_identified_group_authority_is_400(lrs, ifi):
    """Part 2 2.4.9.s3.b1: "Authority MUST be an Agent, except in 3-legged OAuth, where it MUST be a Group with
    two Agents" (the application and the user: an anonymous Group)."""
    authority = {"objectType": "Group", "member": [CONSUMER, USER], **ifi}
    reply = lrs.post(S, statement(authority=authority))
    assert reply.status == 400
    assert reply.error.startswith("statement.authority: a Group authority must be an anonymous Group")


@pytest.mark.parametrize("members", [[USER], [CONSUMER, USER, {"mbox": "mailto:james@example.com"}], []])
def test_group_authority_without_exactly_two_agents_is_400(lrs, members):
    """Part 2 2.4.9.s3.b1: a Group authority has two Agents."""
    reply = lrs.post(S, statement(authority={"objectType": "Group", "member": members}))
    assert (reply.status, reply.error) == (
        400,
        "statement.authority: a Group authority must have exactly two Agents "
        f"(OAuth consumer and user); found {len(members)}",
    )


def test_group_authority_needs_the_oauth_consumer_identified_by_account(lrs):
    """Part 2 2.4.9.s7.b2: "The Agent representing the OAuth consumer MUST be identified by account"."""
    reply = lrs.post(S, statement(authority={"objectType": "Group", "member": [USER, {"mbox": "mailto:x@e.com"}]}))
    assert reply.status == 400 and "identified by account" in reply.error
    assert lrs.post(S, statement(authority={"objectType": "Group", "member": [CONSUMER, USER]})).status == 200


# --- 3. version: Part 2 2.4.10 ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "1.0.0", "1.0.3", "1.0.9"])
def test_statement_version_1_0_and_1_0_x_is_accepted_and_retained(lrs, version):
    """Part 2 2.4.10.s2.b1: the version is formatted as the version header, and Part 3 3.3.s3.b3 accepts `1.0`
    as `1.0.0`; 2.4.10.s3.b1 "MUST accept all Statements where their version starts with 1.0." and
    2.4.10.s3.b3 "MUST retain the version they are accepted with"."""
    sent = statement(version=version)
    assert lrs.post(S, sent).status == 200
    assert lrs.get(S, {"statementId": sent["id"]}).json()["version"] == version


@pytest.mark.parametrize("version", ["1.1.0", "0.95", "2.0.0", "1.0.", "1", "v1.0.0"])
def test_other_statement_versions_are_400(lrs, version):
    """Part 2 2.4.10.s3.b2: "MUST reject all Statements with a version specified that does not start with 1.0."."""
    reply = lrs.post(S, statement(version=version))
    assert (reply.status, reply.error) == (400, f"statement.version: must be a 1.0.x version, got {version!r}")


# --- 4. alternate request syntax: Part 3 1.3 ----------------------------------------------------------


def _alt(lrs: LrsClient, path: str, method: str, fields: dict, *, headers: dict | None = None):
    """A request in the alternate syntax: POST ?method=..., everything else as form fields."""
    form = {"Authorization": basic(), "X-Experience-API-Version": "1.0.3", **fields}
    return lrs.post(
        f"{path}?method={method}", urlencode(form), headers={**FORM, **(headers or {})}, version=None, auth=None
    )


def test_alternate_syntax_put_of_a_statement_without_a_content_type_field(lrs):
    """Part 3 1.3.s3.b15 "The LRS MUST support the syntax above"; the Content-Type field is only a SHOULD*
    (1.3.s3.b10), so a statement sent as `content` alone is read as the JSON it is."""
    sent = statement()
    reply = _alt(lrs, S, "PUT", {"statementId": sent["id"], "content": json.dumps(sent)})
    assert reply.status == 204, reply.body
    assert lrs.get(S, {"statementId": sent["id"]}).json()["actor"] == sent["actor"]


def test_alternate_syntax_form_fields_stand_in_only_for_missing_headers(lrs):
    """Part 3 1.3.s3.b7: form parameters are treated as headers; a request that has the real header keeps it."""
    sent = statement()
    form = urlencode({"statementId": sent["id"], "X-Experience-API-Version": "0.8", "content": json.dumps(sent)})
    reply = lrs.post(f"{S}?method=PUT", form, headers=FORM)
    assert reply.status == 204, reply.body
    alone = urlencode(
        {
            "statementId": str(uuid.uuid4()),
            "Authorization": basic(),
            "X-Experience-API-Version": "0.8",
            "content": json.dumps(statement()),
        }
    )
    assert lrs.post(f"{S}?method=PUT", alone, headers=FORM, version=None, auth=None).status == 400


def test_alternate_syntax_post_and_get_of_statements(lrs):
    """Part 3 2.1.2.s2.b2-b3: GET Statements MAY be called using POST and form parameters."""
    sent = statement()
    reply = _alt(lrs, S, "POST", {"content": json.dumps([sent]), "Content-Type": "application/json"})
    assert reply.status == 200 and reply.json() == [sent["id"]]
    got = _alt(lrs, S, "GET", {"statementId": sent["id"]})
    assert got.status == 200 and got.json()["id"] == sent["id"]
    listed = _alt(lrs, S, "GET", {"limit": "1"})
    assert listed.status == 200 and set(listed.json()) == {"statements", "more"}


AGENT = json.dumps(
    {"objectType": "Agent", "account": {"homePage": "http://www.example.com/agentId/1", "name": "Rick James"}}
)
ACTIVITY = "http://www.example.com/activityId/hashset"


def test_alternate_syntax_on_the_state_resource(lrs):
    """Part 3 1.3 applies to every resource: PUT, POST (merge), GET and DELETE of a State document."""
    scope = {"activityId": ACTIVITY, "agent": AGENT, "stateId": "alt"}
    assert _alt(lrs, "/xapi/activities/state", "PUT", {**scope, "content": '{"x": 1}'}).status == 204
    assert (
        _alt(
            lrs, "/xapi/activities/state", "POST", {**scope, "content": '{"y": 2}', "Content-Type": "application/json"}
        ).status
        == 204
    )
    got = _alt(lrs, "/xapi/activities/state", "GET", scope)
    assert got.status == 200 and got.json() == {"x": 1, "y": 2}
    assert got.headers["Content-Type"].startswith("application/json")
    assert _alt(lrs, "/xapi/activities/state", "DELETE", scope).status == 204
    assert lrs.get("/xapi/activities/state", scope).status == 404


@pytest.mark.parametrize(
    "path, subject",
    [("/xapi/activities/profile", {"activityId": ACTIVITY}), ("/xapi/agents/profile", {"agent": AGENT})],
)
def test_alternate_syntax_on_the_profile_resources_with_concurrency_fields(lrs, path, subject):
    """Part 3 1.3.s3.b6: If-Match and If-None-Match may be form fields; profile PUTs need one (3.1.s3.b1)."""
    scope = {**subject, "profileId": "alt"}
    assert _alt(lrs, path, "PUT", {**scope, "content": "plain words"}).status == 400
    assert _alt(lrs, path, "PUT", {**scope, "content": "plain words", "If-None-Match": "*"}).status == 204
    got = _alt(lrs, path, "GET", scope)
    assert got.status == 200 and got.body == b"plain words"
    assert got.headers["Content-Type"].startswith("text/plain")
    changed = {**scope, "content": "new words", "Content-Type": "text/plain", "If-Match": got.headers["ETag"]}
    assert _alt(lrs, path, "PUT", changed).status == 204
    assert lrs.get(path, scope).body == b"new words"
    assert _alt(lrs, path, "GET", subject).json() == ["alt"]
    assert _alt(lrs, path, "DELETE", scope).status == 204


def test_alternate_syntax_on_activities_agents_and_about(lrs):
    assert _alt(lrs, "/xapi/activities", "GET", {"activityId": ACTIVITY}).json()["id"] == ACTIVITY
    assert _alt(lrs, "/xapi/agents", "GET", {"agent": AGENT}).json()["objectType"] == "Person"
    assert "1.0.3" in _alt(lrs, "/xapi/about", "GET", {}).json()["version"]


# --- 5. attachment parts: Part 3 1.5.2 ------------------------------------------------------------------


def _multipart(statement_body: dict, data: bytes, part_headers: dict) -> tuple[bytes, dict]:
    boundary = "xapi-boundary-0123"
    head = "".join(f"{name}:{value}\r\n" for name, value in part_headers.items())
    body = (
        (
            f"--{boundary}\r\nContent-Type:application/json\r\n\r\n{json.dumps(statement_body)}\r\n"
            f"--{boundary}\r\n{head}\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--".encode()
    )
    return body, {"Content-Type": f"multipart/mixed; boundary={boundary}"}


@pytest.mark.parametrize("encoding, status", [(None, 400), ("base64", 400), ("binary", 200), ("Binary", 200)])
def test_attachment_part_needs_content_transfer_encoding_binary(lrs, encoding, status):
    """Part 3 1.5.2.s2.b2.b4: each part after the first "MUST include a Content-Transfer-Encoding parameter with
    a value of binary"."""
    data = b"here is a simple attachment"
    sha2 = hashlib.sha256(data).hexdigest()
    sent = statement(
        attachments=[
            {
                "usageType": "http://example.com/attachment-usage/test",
                "display": {"en-US": "A test attachment"},
                "contentType": "text/plain",
                "length": len(data),
                "sha2": sha2,
            }
        ]
    )
    part = {"Content-Type": "text/plain", "X-Experience-API-Hash": sha2}
    if encoding is not None:
        part["Content-Transfer-Encoding"] = encoding
    body, headers = _multipart(sent, data, part)
    reply = lrs.post(S, body, headers=headers)
    assert reply.status == status, reply.body
    if status == 400:
        assert reply.error.startswith("multipart part 2: Content-Transfer-Encoding must be binary")


# --- 6. format=ids: Part 3 2.1.3.s1.table1.row12 ------------------------------------------------------------


def _named(**ifi) -> dict:
    return {"objectType": "Agent", "name": "有名字", **ifi}


def test_ids_format_keeps_only_identifiers_of_agents_and_groups_everywhere(lrs):
    """Part 3 2.1.3 `format`: "If ids, only include minimum information necessary in Agent, Activity, Verb and
    Group Objects to identify them. For Anonymous Groups this means including the minimum information needed
    to identify each member"."""
    anonymous = {
        "objectType": "Group",
        "name": "班组",
        "member": [_named(mbox="mailto:m1@example.com"), _named(openid="http://openid.example.com/m2")],
    }
    identified = {
        "objectType": "Group",
        "name": "支部",
        "mbox": "mailto:team@example.com",
        "member": [_named(mbox="mailto:m3@example.com")],
    }
    sub = {
        **SUB,
        "actor": _named(mbox_sha1sum="cd9b00a5611f94eaa7b1661edab976068e364975"),
        "object": _named(account={"homePage": "http://example.com", "name": "a1"}),
        "context": {"instructor": anonymous, "team": identified},
    }
    sent = statement(
        actor=anonymous,
        object=sub,
        context={
            "instructor": _named(mbox="mailto:teacher@example.com"),
            "team": identified,
            "contextActivities": {"parent": {"id": "http://example.com/p", "definition": {"name": {"en": "P"}}}},
        },
    )
    assert lrs.post(S, sent).status == 200
    anonymous_ids = {
        "objectType": "Group",
        "member": [
            {"objectType": "Agent", "mbox": "mailto:m1@example.com"},
            {"objectType": "Agent", "openid": "http://openid.example.com/m2"},
        ],
    }
    identified_ids = {"objectType": "Group", "mbox": "mailto:team@example.com"}
    for reply in (
        lrs.get(S, {"statementId": sent["id"], "format": "ids"}),
        lrs.get(S, {"format": "ids", "agent": json.dumps({"mbox": "mailto:m1@example.com"})}),
    ):
        got = reply.json() if "id" in reply.json() else reply.json()["statements"][0]
        assert got["actor"] == anonymous_ids
        assert got["verb"] == {"id": sent["verb"]["id"]}
        assert got["authority"] == {"objectType": "Agent", "account": got["authority"]["account"]}
        assert got["context"]["instructor"] == {"objectType": "Agent", "mbox": "mailto:teacher@example.com"}
        assert got["context"]["team"] == identified_ids
        assert got["context"]["contextActivities"]["parent"] == [
            {"objectType": "Activity", "id": "http://example.com/p"}
        ]
        inner = got["object"]
        assert inner["actor"] == {"objectType": "Agent", "mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"}
        assert inner["object"] == {"objectType": "Agent", "account": {"homePage": "http://example.com", "name": "a1"}}
        assert inner["context"] == {"instructor": anonymous_ids, "team": identified_ids}


# --- parameters, by their declared schema -----------------------------------------------------------------


@pytest.mark.parametrize(
    "params, message",
    [
        ({"limit": "abc"}, "limit: must be a non-negative integer, got 'abc'"),
        ({"limit": "²"}, "limit: must be a non-negative integer, got '²'"),
        ({"limit": "1.5"}, "limit: must be a non-negative integer, got '1.5'"),
        ({"ascending": "1"}, "ascending: must be true or false, got '1'"),
        ({"related_agents": "True"}, "related_agents: must be true or false, got 'True'"),
        ({"agent": '{"mbox": 5}'}, "agent.mbox: must be a string, got number 5"),
        ({"agent": '["mailto:a@example.com"]'}, "agent: must be a JSON object, got an array"),
        (
            {"agent": '{"mbox": "mailto:a@example.com", "mbox": "mailto:b@example.com"}'},
            'agent: must be JSON, got \'{"mbox": "mailto:a@example.com", "mbox": "mailto:b@example.com"}\'',
        ),
        ({"until": "12"}, "until: must be an ISO 8601 timestamp, got '12'"),
        ({"statementId": "{}"}, "statementId: must be a UUID, got '{}'"),
        ({"attachments": "yes"}, "attachments: must be true or false, got 'yes'"),
        ({"more": "W1tbW1tbW1tbW1tbXV1dXV1dXV1dXV1d"}, "more: not a link this LRS handed out"),
        ({"more": "e30"}, "more: not a link this LRS handed out"),
    ],
)
def test_statement_query_parameters_of_the_wrong_type_are_400_naming_the_parameter(lrs, params, message):
    """Part 3 2.1.3.s1.table1 (the parameters' types); 3.2.s2.b1: 400 for an invalid argument."""
    reply = lrs.get(S, params)
    assert (reply.status, reply.error) == (400, message)


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"activityId": ACTIVITY, "agent": '{"objectType": "Agent", "mbox": ["x"]}', "stateId": "s"},
            "agent.mbox: must be a string, got an array",
        ),
        (
            {"activityId": ACTIVITY, "agent": '"mailto:a@example.com"', "stateId": "s"},
            "agent: must be a JSON object, got string 'mailto:a@example.com'",
        ),
        ({"activityId": ACTIVITY, "agent": AGENT, "registration": "[]"}, "registration: must be a UUID, got '[]'"),
        ({"activityId": ACTIVITY, "agent": AGENT, "since": "1"}, "since: must be an ISO 8601 timestamp, got '1'"),
    ],
)
def test_document_parameters_of_the_wrong_type_are_400_naming_the_parameter(lrs, params, message):
    reply = lrs.get("/xapi/activities/state", params)
    assert (reply.status, reply.error) == (400, message)


def test_merging_a_document_that_is_not_strict_json_is_400(lrs):
    """Part 3 2.2: POST merges JSON objects; anything else is a 400 (never a 500)."""
    scope = {"activityId": ACTIVITY, "agent": AGENT, "stateId": "strict"}
    json_type = {"Content-Type": "application/json"}
    assert lrs.put("/xapi/activities/state", b'{"a": 1}', scope, headers=json_type).status == 204
    for body in (b'{"b": NaN}', b"[" * 50_000, b'{"b": 1, "b": 2}', b'{"b": "\\udfff"}'):
        reply = lrs.post("/xapi/activities/state", body, scope, headers=json_type)
        assert reply.status == 400 and "not valid JSON" in reply.error
    assert lrs.get("/xapi/activities/state", scope).json() == {"a": 1}


def test_a_request_over_the_size_limit_is_413(start_server, config, monkeypatch):
    """Part 3 3.2.s3.b11: "The LRS MUST reject with 413 Request Entity Too Large status any request rejected by
    the LRS where the size of the Attachment, Statement or document is larger than the maximum allowed"."""
    monkeypatch.setattr("server.lrs.store.HASH_ITERATIONS", 1000)
    small = with_config(config, lrs=LrsSettings(max_body_bytes=1000))
    client = LrsClient(start_server(small, mount_lrs(small)).port)
    reply = client.post(S, [statement() for _ in range(10)])
    assert reply.status == 413 and "over the 1000 byte limit" in reply.error
    assert client.post(S, statement()).status == 200


@pytest.mark.parametrize("x5c", [{"0": "MIIB"}, True, "MIIB", [7], [{"der": "MIIB"}]])
def test_a_signature_whose_x5c_is_not_a_certificate_list_is_400(lrs, x5c):
    """Part 2 2.6.s5.b1: "The LRS MUST reject requests to store Statements that contain malformed signatures,
    with 400 Bad Request" (here the JWS header's x5c, which RFC 7515 makes an array of base64 DER strings)."""
    import base64

    def b64url(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    sent = statement()
    jws = f"{b64url({'alg': 'RS256', 'x5c': x5c})}.{b64url(sent)}.c2ln".encode()
    sha2 = hashlib.sha256(jws).hexdigest()
    signed = {
        **sent,
        "attachments": [
            {
                "usageType": "http://adlnet.gov/expapi/attachments/signature",
                "display": {"en-US": "Signature"},
                "contentType": "application/octet-stream",
                "length": len(jws),
                "sha2": sha2,
            }
        ],
    }
    body, headers = _multipart(
        signed,
        jws,
        {
            "Content-Type": "application/octet-stream",
            "Content-Transfer-Encoding": "binary",
            "X-Experience-API-Hash": sha2,
        },
    )
    reply = lrs.post(S, body, headers=headers)
    assert (reply.status, reply.error) == (400, "signature attachment: the x5c certificate cannot be read")
