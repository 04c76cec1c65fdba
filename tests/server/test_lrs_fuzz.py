"""Property-based fuzzing of the embedded LRS over real HTTP: no input makes it fail.

Hypothesis builds statements from strategies that follow xAPI 1.0.3 (Part 2 section 2), mutates them (a
wrong JSON type at a random path, a required property removed, an unknown one added, huge strings, deep
nesting, bytes that are not UTF-8 or not JSON, repeated keys) and sends them, with documents, query strings
and alternate-syntax forms, to one live embedded LRS.  Every reply must be one the specification allows for
the request (Part 3 3.2: 200, 204, 400, 404, 409, 412, 413; never a 5xx), valid statements must come back
as sent, and the server must log no traceback.

The run is derandomized (the same examples every time, no example database) and bounded for CI; a longer
run on demand:

    HALLS_FUZZ_EXAMPLES=5000 .venv/bin/pytest -q -s tests/server/test_lrs_fuzz.py

`HALLS_FUZZ_EXAMPLES` is the number of examples per test (default 60); with `-s` the statuses seen are
printed at the end.
"""

from __future__ import annotations

import json
import logging
import os
import string
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.config import ServerConfig
from server.lrs.validate import parse_timestamp
from tests.server.conftest import default_halls, publish
from tests.server.lrs_support import LrsClient, basic, mount_lrs
from tests.serving import RunningServer

S = "/xapi/statements"
EXAMPLES = int(os.environ.get("HALLS_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],  # `lrs` checks the log once per test, on purpose
)
ALLOWED = {200, 204, 400, 404, 409, 412, 413}
"""Part 3 3.2: what an LRS may answer an authenticated request it understands (no 5xx)."""
STATUSES: dict[str, Counter] = {}
"""Statuses seen, per test: printed at the end of the module."""


class _Tracebacks(logging.Handler):
    """Collects every record with exception information, or at ERROR and above, from the server's loggers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


WATCHED = ("server", "aiohttp.server", "aiohttp.web", "aiohttp.access")


@pytest.fixture(scope="module")
def tracebacks():
    handler = _Tracebacks()
    for name in WATCHED:
        logging.getLogger(name).addHandler(handler)
    started = time.monotonic()
    yield handler
    for name in WATCHED:
        logging.getLogger(name).removeHandler(handler)
    if STATUSES:
        total = sum(sum(counts.values()) for counts in STATUSES.values())
        elapsed = time.monotonic() - started
        print(f"\nLRS fuzz: {EXAMPLES} examples per test, {total} requests in {elapsed:.0f} s")
        for test, counts in sorted(STATUSES.items()):
            print(f"  {test}: " + ", ".join(f"{status} x{count}" for status, count in sorted(counts.items())))


@pytest.fixture(scope="module")
def fuzz_lrs(tmp_path_factory, tracebacks):
    """One live hall server with the embedded LRS for the whole module (Hypothesis reuses it across examples)."""
    root = tmp_path_factory.mktemp("lrs-fuzz")
    build = root / "build"
    publish(build, default_halls(build), "b1")
    config = ServerConfig(root=root, build_dir=build, port=0, web_dir=root / "no-web", access_log=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("server.lrs.store.HASH_ITERATIONS", 1000)  # the hash's cost is not under test
        server = RunningServer(config, mount_lrs(config))
        try:
            yield LrsClient(server.port)
        finally:
            server.stop()


@pytest.fixture
def lrs(fuzz_lrs, tracebacks):
    """The module's client; after the test, no traceback may have been logged."""
    yield fuzz_lrs
    logged = [f"{record.name}: {record.getMessage()}" for record in tracebacks.records]
    tracebacks.records.clear()
    assert not logged, "the server logged errors:\n" + "\n".join(logged)


def test_the_watch_sees_a_server_error_and_its_traceback(fuzz_lrs, tracebacks, monkeypatch):
    """The fuzz tests' guard works: an exception inside the LRS is a 500 here, and its traceback is caught."""

    def broken(*args, **kwargs):
        raise TypeError("unhashable type: 'dict'")

    monkeypatch.setattr("server.lrs.service.validate_statement", broken)
    reply = fuzz_lrs.post(S, {"actor": {"mbox": "mailto:a@example.com"}})
    caught = [record for record in tracebacks.records if record.exc_info]
    tracebacks.records.clear()
    assert reply.status == 500
    assert caught and "unhashable type" in str(caught[0].exc_info[1])


def _check(test: str, reply, allowed: set[int] = ALLOWED) -> None:
    STATUSES.setdefault(test, Counter())[reply.status] += 1
    assert reply.status in allowed, (reply.status, reply.body[:500])
    if reply.status >= 400 and reply.body:
        assert reply.json()["error"], reply.body[:500]


# --- strategies that follow the specification (Part 2 section 2) ----------------------------------------------

TEXT = st.text(max_size=30)
WORD = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=10)
IRI_PATH = st.text(alphabet=string.ascii_letters + string.digits + "-._~/%!$&'()*+,;=:@" + "展馆安全煤矿", max_size=20)
IRI = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}.example.com/{path}",
    st.sampled_from(["http", "https"]),
    WORD,
    IRI_PATH,
)
IRI |= st.builds(lambda word: f"urn:halls:{word}", WORD)
IRI |= st.builds(lambda word: f"tag:halls.example,2024:{word}", WORD)
LANGUAGE = st.sampled_from(["en-US", "zh-CN", "zh-Hans-CN", "de", "es-419", "x-private", "sr-Latn-RS", "en-GB-oed"])
LANGUAGE_MAP = st.dictionaries(LANGUAGE, TEXT, max_size=3)
UUID = st.uuids().map(str) | st.uuids().map(lambda value: str(value).upper())
JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
EXTENSIONS = st.dictionaries(IRI, JSON_VALUE, max_size=3)
MBOX = st.builds(lambda local, domain: f"mailto:{local}@{domain}.example.com", WORD, WORD)
IFI = st.one_of(
    MBOX.map(lambda mbox: {"mbox": mbox}),
    st.text(alphabet="0123456789abcdef", min_size=40, max_size=40).map(lambda sha1: {"mbox_sha1sum": sha1}),
    IRI.map(lambda iri: {"openid": iri}),
    st.builds(lambda home, name: {"account": {"homePage": home, "name": name}}, IRI, TEXT),
)


def _optional(**strategies) -> st.SearchStrategy[dict]:
    """A dict holding any subset of the given keys."""
    return st.fixed_dictionaries({}, optional=strategies)


AGENT = st.builds(lambda ifi, extra: {**extra, **ifi}, IFI, _optional(objectType=st.just("Agent"), name=TEXT))
ANONYMOUS_GROUP = st.builds(
    lambda members, extra: {"objectType": "Group", "member": members, **extra},
    st.lists(AGENT, min_size=1, max_size=3),
    _optional(name=TEXT),
)
IDENTIFIED_GROUP = st.builds(
    lambda ifi, extra: {"objectType": "Group", **ifi, **extra},
    IFI,
    _optional(name=TEXT, member=st.lists(AGENT, max_size=2)),
)
GROUP = ANONYMOUS_GROUP | IDENTIFIED_GROUP
ACTOR = AGENT | GROUP
AGENT_OBJECT = AGENT.map(lambda agent: {**agent, "objectType": "Agent"})
"""An Agent as a statement's object: objectType is required there (Part 2 2.4.4.2)."""
VERB = st.builds(lambda iri, extra: {"id": iri, **extra}, IRI, _optional(display=LANGUAGE_MAP))


def _components(min_size: int = 0) -> st.SearchStrategy[list]:
    return st.lists(
        st.builds(lambda ident, extra: {"id": ident, **extra}, TEXT, _optional(description=LANGUAGE_MAP)),
        min_size=min_size,
        max_size=4,
        unique_by=lambda component: component["id"],
    )


INTERACTION = st.one_of(
    st.fixed_dictionaries(
        {"interactionType": st.sampled_from(["true-false", "fill-in", "long-fill-in", "numeric", "other"])}
    ),
    st.fixed_dictionaries({"interactionType": st.sampled_from(["choice", "sequencing"]), "choices": _components()}),
    st.fixed_dictionaries({"interactionType": st.just("likert"), "scale": _components()}),
    st.fixed_dictionaries({"interactionType": st.just("matching"), "source": _components(), "target": _components()}),
    st.fixed_dictionaries({"interactionType": st.just("performance"), "steps": _components()}),
).flatmap(
    lambda base: st.builds(
        lambda extra: {**base, **extra}, _optional(correctResponsesPattern=st.lists(TEXT, max_size=3))
    )
)
DEFINITION = st.builds(
    lambda plain, interaction: {**plain, **interaction},
    _optional(name=LANGUAGE_MAP, description=LANGUAGE_MAP, type=IRI, moreInfo=IRI, extensions=EXTENSIONS),
    st.just({}) | INTERACTION,
)
ACTIVITY = st.builds(
    lambda iri, extra: {"id": iri, **extra}, IRI, _optional(objectType=st.just("Activity"), definition=DEFINITION)
)
STATEMENT_REF = st.builds(lambda ident: {"objectType": "StatementRef", "id": ident}, UUID)
DURATION = st.sampled_from(["PT4H35M59.14S", "P16559.14S", "P3Y1M29DT4H35M59.14S", "P3Y", "P4W", "PT0S", "PT1,5S"])
SCORE = st.builds(
    lambda low, span, place, scaled: {"min": low, "max": low + span, "raw": low + span * place, "scaled": scaled},
    st.integers(-1000, 1000),
    st.integers(1, 1000),
    st.floats(0, 1),
    st.floats(-1, 1),
).flatmap(lambda score: st.sets(st.sampled_from(sorted(score))).map(lambda keys: {k: score[k] for k in keys}))
RESULT = _optional(
    score=SCORE,
    success=st.booleans(),
    completion=st.booleans(),
    response=TEXT,
    duration=DURATION,
    extensions=EXTENSIONS,
)
TIMESTAMP = st.builds(
    lambda moment, minutes, form: form(moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))),
    st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1)),
    st.integers(-720, 840).map(lambda m: m - m % 15),
    st.sampled_from([datetime.isoformat, lambda moment: moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")]),
)
ACTIVITIES = st.lists(ACTIVITY, min_size=1, max_size=2) | ACTIVITY


def _context(object_is_activity: bool) -> st.SearchStrategy[dict]:
    extra = {"revision": TEXT, "platform": TEXT} if object_is_activity else {}
    return _optional(
        registration=UUID,
        instructor=ACTOR,
        team=GROUP,
        language=LANGUAGE,
        statement=STATEMENT_REF,
        extensions=EXTENSIONS,
        contextActivities=_optional(parent=ACTIVITIES, grouping=ACTIVITIES, category=ACTIVITIES, other=ACTIVITIES),
        **extra,
    )


def _with_context(obj: dict) -> st.SearchStrategy[dict]:
    is_activity = obj.get("objectType", "Activity") == "Activity"
    return st.builds(lambda extra: extra, _optional(result=RESULT, context=_context(is_activity), timestamp=TIMESTAMP))


SUB_OBJECT = ACTIVITY | AGENT_OBJECT | GROUP | STATEMENT_REF
SUBSTATEMENT = st.builds(
    lambda actor, verb, obj: {"objectType": "SubStatement", "actor": actor, "verb": verb, "object": obj},
    ACTOR,
    VERB,
    SUB_OBJECT,
).flatmap(lambda sub: _with_context(sub["object"]).map(lambda extra: {**sub, **extra}))
ATTACHMENT = st.builds(
    lambda usage, display, sha2, length, url, extra: {
        "usageType": usage,
        "display": display,
        "contentType": "text/plain",
        "length": length,
        "sha2": sha2,
        "fileUrl": url,
        **extra,
    },
    IRI,
    LANGUAGE_MAP,
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.integers(0, 10**9),
    IRI,
    _optional(description=LANGUAGE_MAP),
)
STATEMENT = st.builds(
    lambda ident, actor, verb, obj: {"id": ident, "actor": actor, "verb": verb, "object": obj},
    UUID,
    ACTOR,
    VERB,
    ACTIVITY | AGENT_OBJECT | GROUP | STATEMENT_REF | SUBSTATEMENT,
).flatmap(
    lambda statement: st.builds(
        lambda extra, more: {**statement, **extra, **more},
        _with_context(statement["object"]),
        _optional(version=st.sampled_from(["1.0.0", "1.0", "1.0.3"]), attachments=st.lists(ATTACHMENT, max_size=2)),
    )
)


# --- what the LRS returns for a statement sent ------------------------------------------------------------


def _fresh(statement: dict, upper: bool = False) -> dict:
    """The statement with a new id (examples repeat; a repeated id with other content is rightly a 409)."""
    ident = str(uuid.uuid4())
    return {**statement, "id": ident.upper() if upper else ident}


def _expected(sent: dict) -> dict:
    """The statement as the LRS must return it (format exact): assigned properties aside, context activities
    as arrays (Part 2 2.4.6.2), the id lower-cased."""
    expected = json.loads(json.dumps(sent))
    expected["id"] = expected["id"].lower()
    expected.setdefault("version", "1.0.0")
    for holder in (expected, expected["object"] if expected["object"].get("objectType") == "SubStatement" else {}):
        activities = (holder.get("context") or {}).get("contextActivities")
        if activities:
            for key, value in activities.items():
                activities[key] = value if isinstance(value, list) else [value]
    return expected


def _assert_round_trip(sent: dict, got: dict) -> None:
    expected = _expected(sent)
    for key in ("stored", "authority"):
        assert key in got
    if "timestamp" in sent:
        sent_moment = parse_timestamp(sent["timestamp"])
        got_moment = parse_timestamp(got["timestamp"])
        assert sent_moment is not None and got_moment is not None
        assert got_moment == sent_moment.replace(microsecond=sent_moment.microsecond // 1000 * 1000)
    comparable = {key: value for key, value in got.items() if key not in ("stored", "authority", "timestamp")}
    expected.pop("timestamp", None)
    assert comparable == expected


# --- valid statements -------------------------------------------------------------------------------------


@FUZZ
@given(drawn=st.lists(STATEMENT, min_size=1, max_size=3), upper=st.booleans())
def test_valid_statements_are_stored_and_come_back_as_sent(lrs, drawn, upper):
    statements = [_fresh(item, upper) for item in drawn]
    reply = lrs.post(S, statements)
    _check("valid statements", reply, {200})
    assert reply.json() == [item["id"].lower() for item in statements]
    for sent in statements:
        got = lrs.get(S, {"statementId": sent["id"]})
        _check("valid statements", got, {200})
        _assert_round_trip(sent, got.json())
    again = lrs.post(S, statements)  # the same statements again: accepted, nothing changes (Part 3 2.1.2.s2.b4)
    _check("valid statements", again, {200})


@FUZZ
@given(drawn=STATEMENT)
def test_valid_statement_put_round_trips_in_every_format(lrs, drawn):
    sent = _fresh(drawn)
    reply = lrs.put(S, sent, {"statementId": sent["id"]})
    _check("valid statement PUT", reply, {204})
    for form in ("exact", "ids", "canonical"):
        got = lrs.get(S, {"statementId": sent["id"], "format": form})
        _check("valid statement PUT", got, {200})
        if form == "exact":
            _assert_round_trip(sent, got.json())


# --- mutated statements -------------------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON value (the root included)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _replace(value: Any, path: tuple, change) -> Any:
    """A copy of `value` with `change(old)` at `path` (`change` returns _DROP to remove the entry)."""
    if not path:
        return change(value)
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        new = _replace(value[head], rest, change)
        if new is _DROP:
            del copy[head]
        else:
            copy[head] = new
        return copy
    copy_list = list(value)
    new = _replace(value[head], rest, change)
    if new is _DROP:
        del copy_list[head]
    else:
        copy_list[head] = new
    return copy_list


_DROP = object()
OTHER_TYPES = st.sampled_from([{}, [], "", "text", 0, 1.5, -7, True, False, None, {"id": 1}, ["a"], "1.0", "true"])


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


MUTATIONS = st.one_of(
    OTHER_TYPES.map(lambda other: ("type", lambda old: other)),
    st.just(("drop", lambda old: _DROP)),
    st.tuples(TEXT, JSON_VALUE).map(
        lambda pair: ("unknown key", lambda old: {**old, pair[0] or "x": pair[1]} if isinstance(old, dict) else old)
    ),
    st.integers(10_000, 300_000).map(lambda size: ("huge string", lambda old: "界" * size)),
    st.integers(30, 200).map(lambda depth: ("deep nesting", lambda old: _deep(depth))),
    st.sampled_from(["Agent", "Group", "SubStatement", "StatementRef", "Activity", "Thing", "agent"]).map(
        lambda kind: ("objectType", lambda old: {**old, "objectType": kind} if isinstance(old, dict) else old)
    ),
)


@FUZZ
@given(sent=STATEMENT, data=st.data())
def test_mutated_statements_are_answered_without_a_server_error(lrs, sent, data):
    paths = _paths(sent)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(paths), label="path")
        kind, change = data.draw(MUTATIONS, label="mutation")
        if kind == "drop" and not path:
            continue
        sent = _replace(sent, path, change)
        paths = _paths(sent)
    reply = (
        lrs.post(S, sent)
        if data.draw(st.booleans(), label="post")
        else lrs.put(S, sent, {"statementId": str(uuid.uuid4())})
    )
    _check("mutated statements", reply, {200, 204, 400, 409, 413})


def _duplicate_key(text: str) -> str:
    """The JSON text with its first object's first property repeated."""
    start = text.find("{")
    end = text.find(",", start)
    if start < 0 or end < 0:
        return text
    return text[: end + 1] + text[start + 1 : end] + "," + text[end + 1 :]


RAW_EDITS = st.one_of(
    st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=8)).map(
        lambda edit: lambda body: body[: edit[0]] + edit[1] + body[edit[0] :]
    ),
    st.integers(0, 10_000).map(lambda cut: lambda body: body[:cut]),
    st.just(lambda body: _duplicate_key(body.decode("utf-8", "replace")).encode()),
    st.just(lambda body: body.replace(b'"id"', b'"id": NaN, "x"', 1)),
    st.just(lambda body: body.replace(b'"', b'"\\ud83d', 1)),
    st.just(lambda body: body.decode("utf-8", "replace").encode("utf-16")),
    st.just(lambda body: b"\xef\xbb\xbf" + body),
    st.binary(max_size=200).map(lambda junk: lambda body: junk),
)


@FUZZ
@given(
    sent=STATEMENT,
    edits=st.lists(RAW_EDITS, min_size=1, max_size=3),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "multipart/mixed; boundary=b",
            "multipart/mixed",
            "",
            "application/JSON",
        ]
    ),
)
def test_bodies_that_are_not_json_are_answered_without_a_server_error(lrs, sent, edits, content_type):
    body = json.dumps(sent, ensure_ascii=False).encode()
    for edit in edits:
        body = edit(body)
    reply = lrs.post(S, body, headers={"Content-Type": content_type})
    _check("raw bodies", reply, {200, 400, 409, 413})


@FUZZ
@given(
    statement=STATEMENT,
    data=st.binary(max_size=64),
    hash_header=st.sampled_from(["good", "bad", "none"]),
    encoding=st.sampled_from(["binary", "Binary", "base64", None]),
    extra_part=st.booleans(),
)
def test_multipart_bodies_are_answered_without_a_server_error(lrs, statement, data, hash_header, encoding, extra_part):
    import hashlib

    sha2 = hashlib.sha256(data).hexdigest()
    statement = {
        **_fresh(statement),
        "attachments": [
            {
                "usageType": "http://example.com/u",
                "display": {"en": "a"},
                "contentType": "application/octet-stream",
                "length": len(data),
                "sha2": sha2,
            }
        ],
    }
    head = {"good": f"X-Experience-API-Hash: {sha2}\r\n", "bad": f"X-Experience-API-Hash: {'0' * 64}\r\n", "none": ""}[
        hash_header
    ]
    if encoding:
        head += f"Content-Transfer-Encoding: {encoding}\r\n"
    body = (
        b"--b\r\nContent-Type: application/json\r\n\r\n"
        + json.dumps(statement).encode()
        + b"\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        + head.encode()
        + b"\r\n"
        + data
    )
    if extra_part:
        body += b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nstray"
    body += b"\r\n--b--"
    reply = lrs.post(S, body, headers={"Content-Type": "multipart/mixed; boundary=b"})
    _check("multipart", reply, {200, 400, 409})


# --- query strings, documents, alternate syntax ---------------------------------------------------------------

PARAM_NAMES = st.sampled_from(
    [
        "statementId",
        "voidedStatementId",
        "agent",
        "verb",
        "activity",
        "registration",
        "related_activities",
        "related_agents",
        "since",
        "until",
        "limit",
        "format",
        "attachments",
        "ascending",
        "more",
        "Agent",
        "method",
        "content",
        "stateId",
    ]
)
PARAM_VALUES = st.one_of(
    TEXT,
    UUID,
    IRI,
    st.sampled_from(
        [
            "true",
            "false",
            "1",
            "0",
            "-1",
            "99999999999999999999",
            "²",
            "ids",
            "exact",
            "canonical",
            "2024-05-01T00:00:00Z",
            "1e400",
            "NaN",
            "null",
            "[]",
            "{}",
        ]
    ),
    ACTOR.map(json.dumps),
    JSON_VALUE.map(json.dumps),
    st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=200),
)


FLAG = st.sampled_from(["true", "false"])
VALID_QUERY = _optional(
    agent=(AGENT | IDENTIFIED_GROUP).map(json.dumps),
    verb=IRI,
    activity=IRI,
    registration=UUID,
    related_activities=FLAG,
    related_agents=FLAG,
    since=TIMESTAMP,
    until=TIMESTAMP,
    limit=st.integers(0, 500).map(str),
    format=st.sampled_from(["exact", "ids", "canonical"]),
    attachments=FLAG,
    ascending=FLAG,
)
SINGLE_QUERY = st.builds(
    lambda name, ident, extra: {name: ident, **extra},
    st.sampled_from(["statementId", "voidedStatementId"]),
    UUID,
    _optional(format=st.sampled_from(["exact", "ids", "canonical"]), attachments=FLAG),
)


def _weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, picked with the given weights."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda index: table[index])


def _spoiled(params: st.SearchStrategy[Any]) -> st.SearchStrategy[dict]:
    """Valid parameters, one time in four with one of them replaced or added with any value."""
    spoiled = st.builds(lambda valid, name, value: {**valid, name: value}, params, PARAM_NAMES, PARAM_VALUES)
    return _weighted((3, params), (1, spoiled))


@FUZZ
@given(params=_spoiled(VALID_QUERY | SINGLE_QUERY))
def test_statement_queries_are_answered_without_a_server_error(lrs, params):
    reply = lrs.get(S, params)
    _check("statement queries", reply, {200, 400, 404})
    if reply.status == 200 and "statementId" not in params and "voidedStatementId" not in params:
        body = reply.json() if params.get("attachments") != "true" else None
        if body and body["more"]:
            _check("statement queries", lrs.get(body["more"]), {200})


@FUZZ
@given(raw=st.text(alphabet=string.printable.strip() + "%", max_size=80))
def test_raw_query_strings_are_answered_without_a_server_error(lrs, raw):
    reply = lrs.get(S + "?" + raw.replace(" ", "%20").replace("#", "%23"))
    _check("raw query strings", reply, {200, 400, 404})


ACTIVITY_IDS = st.sampled_from(["http://example.com/a/1", "http://example.com/a/2"]) | IRI
KNOWN_AGENTS: st.SearchStrategy[dict] = st.sampled_from(
    [{"mbox": "mailto:a@example.com"}, {"objectType": "Agent", "openid": "http://o.example"}]
)
AGENT_PARAMS = (KNOWN_AGENTS | AGENT).map(json.dumps)
DOC_IDS = st.sampled_from(["a", "b", "设置"]) | TEXT
RESOURCE_PARAMS: dict[str, st.SearchStrategy[dict]] = {
    "/xapi/activities/state": st.fixed_dictionaries(
        {"activityId": ACTIVITY_IDS, "agent": AGENT_PARAMS, "stateId": DOC_IDS}, optional={"registration": UUID}
    ),
    "/xapi/activities/profile": st.fixed_dictionaries({"activityId": ACTIVITY_IDS, "profileId": DOC_IDS}),
    "/xapi/agents/profile": st.fixed_dictionaries({"agent": AGENT_PARAMS, "profileId": DOC_IDS}),
    "/xapi/activities": st.fixed_dictionaries({"activityId": ACTIVITY_IDS}),
    "/xapi/agents": st.fixed_dictionaries({"agent": AGENT_PARAMS}),
    "/xapi/about": st.just({}),
}
DOCUMENTS = ("/xapi/activities/state", "/xapi/activities/profile", "/xapi/agents/profile")
RESOURCES = st.sampled_from([*DOCUMENTS, *DOCUMENTS, "/xapi/activities", "/xapi/agents"])
ETAGS = st.sampled_from([None, None, None, None, "*", '"0000"', 'W/"abc"', "", '"unterminated'])
DOC_BODIES = st.one_of(
    JSON_VALUE.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=100),
    st.dictionaries(TEXT, JSON_VALUE, max_size=3).map(lambda doc: json.dumps(doc).encode()),
    st.just(b'{"a": 1, "a": 2}'),
    st.just(b"[" * 5000),
    st.just(b'{"n": NaN}'),
)


@FUZZ
@given(
    path_and_params=RESOURCES.flatmap(lambda path: st.tuples(st.just(path), _spoiled(RESOURCE_PARAMS[path]))),
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]),
    body=DOC_BODIES,
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/octet-stream", "application/json; charset=utf-8", None]
    ),
    if_match=ETAGS,
    if_none_match=ETAGS,
    since=_weighted((2, st.none()), (1, TIMESTAMP)),
)
def test_document_requests_are_answered_without_a_server_error(
    lrs, path_and_params, method, body, content_type, if_match, if_none_match, since
):
    path, params = path_and_params
    if since is not None and path in DOCUMENTS and method in ("GET", "HEAD", "DELETE"):
        params = {key: value for key, value in params.items() if key not in ("stateId", "profileId")}
        if method != "DELETE":
            params["since"] = since  # a listing of ids (or, for DELETE, every state document of the scope)
    headers = {
        name: value
        for name, value in (("Content-Type", content_type), ("If-Match", if_match), ("If-None-Match", if_none_match))
        if value is not None
    }
    reply = lrs.request(method, path, params, body if method in ("PUT", "POST") else None, headers=headers)
    allowed = {200, 204, 400, 404, 409, 412} | ({405} if path in ("/xapi/activities", "/xapi/agents") else set())
    _check("documents", reply, allowed)


ALT_PATHS = st.sampled_from([S, *sorted(RESOURCE_PARAMS)])


def _alt_fields(path: str) -> st.SearchStrategy[dict]:
    fields = VALID_QUERY | SINGLE_QUERY if path == S else RESOURCE_PARAMS[path]
    headers = _optional(
        **{
            "Content-Type": st.sampled_from(["application/json", "text/plain"]),
            "If-Match": ETAGS.filter(bool),
            "If-None-Match": st.just("*"),
        }
    )
    return st.builds(lambda base, extra: {**base, **extra}, _spoiled(fields), headers)


@FUZZ
@given(
    path_and_fields=ALT_PATHS.flatmap(lambda path: st.tuples(st.just(path), _alt_fields(path))),
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "put", "PATCH", ""]),
    content=st.none()
    | STATEMENT.map(lambda drawn: json.dumps(_fresh(drawn)))
    | TEXT
    | st.dictionaries(TEXT, JSON_VALUE, max_size=3).map(json.dumps),
)
def test_alternate_syntax_requests_are_answered_without_a_server_error(lrs, path_and_fields, method, content):
    path, fields = path_and_fields
    if method == "PUT" and path == S:
        fields = {**fields, "statementId": str(uuid.uuid4())}
    form = {"Authorization": basic(), "X-Experience-API-Version": "1.0.3", **fields}
    if content is not None:
        form["content"] = content
    reply = lrs.post(
        f"{path}?method={method}",
        urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        version=None,
        auth=None,
    )
    _check("alternate syntax", reply, {200, 204, 400, 404, 405, 409, 412})
