"""Statement validation: the specification's own examples pass; each class of invalid statement names its reason."""

from __future__ import annotations

import copy

import pytest

from server.lrs.validate import (
    StatementError,
    is_duration,
    is_language_tag,
    parse_timestamp,
    validate_statement,
)
from tests.server.lrs_support import spec_examples, statement

EXAMPLES = spec_examples()


def assert_valid(value) -> None:
    """Fails the test with the validator's message when `value` is refused."""
    try:
        validate_statement(value)
    except StatementError as error:
        pytest.fail(f"refused a valid statement: {error}")


@pytest.mark.parametrize("name", sorted(EXAMPLES["statements"]))
def test_validate_accepts_specification_example_statement(name):
    assert_valid(EXAMPLES["statements"][name])


@pytest.mark.parametrize("name", sorted(EXAMPLES["objects"]))
def test_validate_accepts_specification_example_object(name):
    obj = EXAMPLES["objects"][name]
    assert_valid(statement(object=obj))


@pytest.mark.parametrize("kind", sorted(EXAMPLES["interaction_definitions"]))
def test_validate_accepts_specification_interaction_definition(kind):
    definition = EXAMPLES["interaction_definitions"][kind]
    assert_valid(statement(object={"id": f"http://example.com/interactions/{kind}", "definition": definition}))


def _with(path: str, value):
    """A valid statement with the value at a dotted path replaced (`None` value deletes unless told)."""
    result = statement(
        result={"score": {"scaled": 0.5, "raw": 5, "min": 0, "max": 10}, "success": True},
        context={"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7", "platform": "browser", "language": "zh-CN"},
    )
    target = result
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return result


_DELETE = object()

INVALID = [
    ("missing actor", "actor", _DELETE, "statement: missing required property 'actor'"),
    ("missing verb", "verb", _DELETE, "statement: missing required property 'verb'"),
    ("missing object", "object", _DELETE, "statement: missing required property 'object'"),
    (
        "two IFIs",
        "actor",
        {"mbox": "mailto:a@example.com", "openid": "http://a.example.org/"},
        "statement.actor: an Agent must have exactly one inverse functional identifier (mbox, mbox_sha1sum, openid, "
        "account); found 2: mbox, openid",
    ),
    (
        "no IFI",
        "actor",
        {"name": "nobody"},
        "statement.actor: an Agent must have exactly one inverse functional identifier (mbox, mbox_sha1sum, openid, "
        "account); found 0",
    ),
    (
        "mbox without mailto",
        "actor.mbox",
        "learner@example.com",
        "statement.actor.mbox: must be a mailto IRI ('mailto:name@example.com'), got 'learner@example.com'",
    ),
    (
        "bad sha1sum",
        "actor",
        {"mbox_sha1sum": "xyz"},
        "statement.actor.mbox_sha1sum: must be the hex SHA-1 of a mailto IRI (40 hex digits), got 'xyz'",
    ),
    (
        "account without homePage",
        "actor",
        {"account": {"name": "1625378"}},
        "statement.actor.account: missing required property 'homePage'",
    ),
    (
        "bad language tag in verb display",
        "verb.display",
        {"en_US": "experienced"},
        "statement.verb.display: 'en_US' is not an RFC 5646 language tag",
    ),
    (
        "bad language tag in activity name",
        "object.definition",
        {"name": {"zh-CN-": "安全"}},
        "statement.object.definition.name: 'zh-CN-' is not an RFC 5646 language tag",
    ),
    (
        "bad context language",
        "context.language",
        "zh CN",
        "statement.context.language: must be an RFC 5646 language tag, got 'zh CN'",
    ),
    (
        "scaled above 1",
        "result.score.scaled",
        1.5,
        "statement.result.score.scaled: must be between -1 and 1 inclusive, got 1.5",
    ),
    (
        "scaled below -1",
        "result.score.scaled",
        -1.01,
        "statement.result.score.scaled: must be between -1 and 1 inclusive, got -1.01",
    ),
    ("raw above max", "result.score.raw", 11, "statement.result.score.raw: 11 is above max 10"),
    ("raw below min", "result.score.raw", -1, "statement.result.score.raw: -1 is below min 0"),
    ("min not below max", "result.score.min", 10, "statement.result.score: min (10) must be less than max (10)"),
    (
        "bad timestamp",
        "timestamp",
        "2015-13-45T12:17:00Z",
        "statement.timestamp: must be an ISO 8601 timestamp, got '2015-13-45T12:17:00Z'",
    ),
    (
        "timestamp that is not a date",
        "timestamp",
        "yesterday",
        "statement.timestamp: must be an ISO 8601 timestamp, got 'yesterday'",
    ),
    (
        "negative zero offset",
        "timestamp",
        "2015-11-18T12:17:00-00:00",
        "statement.timestamp: must be an ISO 8601 timestamp, got '2015-11-18T12:17:00-00:00'",
    ),
    ("bad UUID id", "id", "not-a-uuid", "statement.id: must be a UUID in standard string form, got 'not-a-uuid'"),
    (
        "UUID without dashes",
        "id",
        "12345678123456781234567812345678",
        "statement.id: must be a UUID in standard string form, got '12345678123456781234567812345678'",
    ),
    ("bad registration", "context.registration", "42", "statement.context.registration: must be a UUID, got '42'"),
    (
        "revision on an Agent object",
        "object",
        {"objectType": "Agent", "mbox": "mailto:ben@example.com"},
        "statement.context.revision: only allowed when the statement's object is an Activity (it is an Agent)",
    ),
    ("unknown top-level property", "verified", True, "statement: unknown property 'verified'"),
    (
        "key in the wrong case",
        "Actor",
        {"mbox": "mailto:a@example.com"},
        "statement: unknown property 'Actor' (did you mean 'actor'?)",
    ),
    (
        "unknown actor property",
        "actor.nickname",
        "x",
        "statement.actor: unknown property 'nickname' (did you mean 'name'?)",
    ),
    (
        "string for a boolean",
        "result.success",
        "true",
        "statement.result.success: must be a boolean (true or false), got 'true'",
    ),
    ("string for a number", "result.score.raw", "5", "statement.result.score.raw: must be a number, got '5'"),
    ("boolean for a number", "result.score.scaled", True, "statement.result.score.scaled: must be a number, got true"),
    ("array actor", "actor", [], "statement.actor: must be a JSON object, got an array"),
    (
        "display not a map",
        "verb.display",
        "experienced",
        "statement.verb.display: must be a JSON object, got string 'experienced'",
    ),
    ("null value", "result.response", None, "statement.result.response: null is not allowed"),
    (
        "verb id without scheme",
        "verb.id",
        "experienced",
        "statement.verb.id: must be an absolute IRI with a scheme, got 'experienced'",
    ),
    ("activity id empty", "object.id", "", "statement.object.id: must be an absolute IRI with a scheme, got ''"),
    ("version 2", "version", "2.0.0", "statement.version: must be a 1.0.x version, got '2.0.0'"),
    (
        "bad duration",
        "result.duration",
        "1 hour",
        "statement.result.duration: must be an ISO 8601 duration, got '1 hour'",
    ),
    (
        "weeks with days",
        "result.duration",
        "P4W1D",
        "statement.result.duration: must be an ISO 8601 duration, got 'P4W1D'",
    ),
    (
        "unknown objectType",
        "object.objectType",
        "Thing",
        "statement.object.objectType: must be one of Activity, Agent, Group, SubStatement, StatementRef; got 'Thing'",
    ),
    (
        "agent object without objectType",
        "object",
        {"mbox": "mailto:ben@example.com"},
        "statement.object: unknown property 'mbox'",
    ),
    (
        "anonymous group without members",
        "actor",
        {"objectType": "Group", "name": "team"},
        "statement.actor: an anonymous Group (no inverse functional identifier) must list 'member'",
    ),
    (
        "group in a group",
        "actor",
        {"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@example.com"}]},
        "statement.actor.member[0]: a Group must not contain Groups",
    ),
    (
        "team that is an agent",
        "context.team",
        {"mbox": "mailto:t@example.com"},
        "statement.context.team: must be a Group (objectType 'Group')",
    ),
    (
        "unknown context activity key",
        "context.contextActivities",
        {"parents": [{"id": "http://example.com/a"}]},
        "statement.context.contextActivities: unknown property 'parents' (did you mean 'parent'?)",
    ),
    (
        "bad interactionType",
        "object.definition",
        {"interactionType": "essay"},
        "statement.object.definition.interactionType: must be one of choice, fill-in, likert, long-fill-in, matching, "
        "numeric, other, performance, sequencing, true-false; got 'essay'",
    ),
    (
        "choices on true-false",
        "object.definition",
        {"interactionType": "true-false", "choices": []},
        "statement.object.definition.choices: not allowed for interactionType 'true-false'",
    ),
    (
        "duplicate choice ids",
        "object.definition",
        {"interactionType": "choice", "choices": [{"id": "a"}, {"id": "a"}]},
        "statement.object.definition.choices[1].id: duplicate interaction component id 'a'",
    ),
    (
        "extension key not an IRI",
        "result.extensions",
        {"score": 1},
        "statement.result.extensions: extension key 'score' must be an absolute IRI",
    ),
    (
        "voided verb with an activity",
        "verb.id",
        "http://adlnet.gov/expapi/verbs/voided",
        "statement.object: a voiding statement's object must be a StatementRef",
    ),
    (
        "attachment without sha2",
        "attachments",
        [{"usageType": "http://example.com/u", "display": {"en": "x"}, "contentType": "text/plain", "length": 1}],
        "statement.attachments[0]: missing required property 'sha2'",
    ),
    (
        "attachment length negative",
        "attachments",
        [
            {
                "usageType": "http://example.com/u",
                "display": {"en": "x"},
                "contentType": "text/plain",
                "length": -1,
                "sha2": "a" * 64,
            }
        ],
        "statement.attachments[0].length: must be a non-negative integer, got -1",
    ),
]


@pytest.mark.parametrize("case, path, value, message", INVALID, ids=[case[0] for case in INVALID])
def test_validate_rejects_invalid_statement_with_reason(case, path, value, message):
    bad = _with(path, value)
    if case == "revision on an Agent object":
        bad["context"]["revision"] = "2"
        bad["context"].pop("registration")
    with pytest.raises(StatementError) as caught:
        validate_statement(bad)
    assert str(caught.value) == message


def test_validate_rejects_substatement_with_id_and_nesting():
    sub = copy.deepcopy(EXAMPLES["objects"]["SubStatement (Part 2 Appendix B)"])
    with pytest.raises(StatementError, match=r"statement.object.id: a SubStatement must not have 'id'"):
        validate_statement(statement(object={**sub, "id": "9e13cefd-53d3-4eac-b5ed-2cf6693903bb"}))
    nested = {**sub, "object": copy.deepcopy(sub)}
    message = r"statement.object.object: a SubStatement must not contain a SubStatement"
    with pytest.raises(StatementError, match=message):
        validate_statement(statement(object=nested))


def test_validate_rejects_revision_inside_substatement_about_an_agent():
    sub = {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": "http://e.com/v"},
        "object": {"objectType": "Agent", "mbox": "mailto:b@example.com"},
        "context": {"revision": "1"},
    }
    with pytest.raises(StatementError) as caught:
        validate_statement(statement(object=sub))
    assert str(caught.value) == (
        "statement.object.context.revision: only allowed when the statement's object is an Activity (it is an Agent)"
    )


@pytest.mark.parametrize(
    "tag",
    [
        "en-US",
        "zh-CN",
        "zh-Hans-CN",
        "tlh",
        "es",
        "de-CH-1901",
        "sr-Latn-RS",
        "x-private",
        "i-klingon",
        "en-a-bbb-x-a-ccc",
        "es-419",
        "EN-us",
    ],
)
def test_language_tag_accepts_well_formed_rfc5646_tags(tag):
    assert is_language_tag(tag)


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "en_US",
        "e",
        "en--US",
        "abcdefghi",
        "de-419-DE",
        "en-US-x",
        "zh-CN-a",
        "de-1901-1901",
        "12",
        "en-a-aa-a-bb",
        " en",
    ],
)
def test_language_tag_rejects_malformed_tags(tag):
    assert not is_language_tag(tag)


@pytest.mark.parametrize(
    "text",
    [
        "2013-05-18T05:32:34.804+00:00",
        "2013-04-01T12:00:00Z",
        "2014-12-29T12:09:37.468Z",
        "2015-11-18T12:17:00+08:00",
        "2015-11-18T12:17:00",
        "2015-11-18T12:17:00.1234567Z",
    ],
)
def test_timestamp_accepts_iso8601(text):
    assert parse_timestamp(text) is not None


@pytest.mark.parametrize("text", ["PT4H35M59.14S", "P16559.14S", "P3Y1M29DT4H35M59.14S", "P3Y", "P4W", "PT1234S"])
def test_duration_accepts_the_specification_examples(text):
    assert is_duration(text)
