"""The embedded LRS's Statement resource over real HTTP: storing, conflicts, queries, paging, voiding, headers."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from urllib.parse import urlencode

import pytest

from server.lrs.validate import parse_timestamp
from tests.server.lrs_support import (  # noqa: F401 - fixtures
    LrsClient,
    basic,
    lrs,
    lrs_server,
    spec_examples,
    statement,
)

EXAMPLES = spec_examples()
S = "/xapi/statements"


def _ids(reply) -> list[str]:
    return [item["id"] for item in reply.json()["statements"]]


# --- version header and authentication -------------------------------------------


def test_request_without_version_header_is_400_with_reason(lrs):
    reply = lrs.get(S, version=None)
    assert reply.status == 400
    assert reply.error == "missing X-Experience-API-Version header (this LRS speaks xAPI 1.0.3)"
    assert reply.headers["X-Experience-API-Version"] == "1.0.3"


@pytest.mark.parametrize(
    "version, status",
    [
        ("1.0", 200),
        ("1.0.0", 200),
        ("1.0.3", 200),
        ("1.0.9", 200),
        ("0.95", 400),
        ("1.1.0", 400),
        ("2.0.0", 400),
        ("latest", 400),
    ],
)
def test_version_header_accepts_only_1_0_x(lrs, version, status):
    assert lrs.get(S, version=version).status == status


def test_every_response_carries_the_version_header(lrs):
    replies = [
        lrs.get("/xapi/about", version=None),
        lrs.get(S),
        lrs.get(S, auth=None),
        lrs.get("/xapi/nothing"),
        lrs.request("PATCH", S),
        lrs.post(S, b"{", headers={"Content-Type": "application/json"}),
        lrs.get(S, version="9.9"),
    ]
    assert [reply.status for reply in replies] == [200, 200, 401, 404, 405, 400, 400]
    assert all(reply.headers["X-Experience-API-Version"] == "1.0.3" for reply in replies)


def test_about_lists_the_version_without_credentials(lrs):
    reply = lrs.get("/xapi/about", version=None, auth=None)
    assert reply.status == 200
    assert "1.0.3" in reply.json()["version"] and "1.0.0" in reply.json()["version"]


def test_missing_or_wrong_credentials_are_401_with_a_challenge(lrs):
    missing = lrs.get(S, auth=None)
    assert missing.status == 401 and missing.headers["WWW-Authenticate"] == 'Basic realm="xAPI"'
    assert lrs.get(S, auth=basic("tester", "wrong")).status == 401
    assert lrs.get(S, auth=basic("nobody", "x")).status == 401
    assert lrs.get(S, auth="Bearer abc").status == 401


def test_write_only_credentials_read_only_their_own_statements(lrs, lrs_server):
    from server.lrs.service import LRS_STATE

    state = lrs_server.app[LRS_STATE]
    state.writer.add_credential("writer", "writer-secret-123456", "writer", ("statements/write",))
    state.writer.add_credential("mine", "mine-secret-1234567", "mine", ("statements/write", "statements/read/mine"))
    writer = LrsClient(lrs.port, basic("writer", "writer-secret-123456"))
    mine = LrsClient(lrs.port, basic("mine", "mine-secret-1234567"))
    assert writer.post(S, statement()).status == 200
    assert writer.get(S).status == 403
    own = statement()
    assert mine.post(S, own).status == 200
    assert lrs.post(S, statement()).status == 200
    assert _ids(mine.get(S)) == [own["id"]]
    assert len(_ids(lrs.get(S))) == 3
    assert writer.get("/xapi/activities/state", {"activityId": "http://e.com/a", "agent": "{}"}).status == 403


# --- PUT and POST ------------------------------------------------------------------


def test_put_stores_with_204_and_identical_reput_is_204(lrs):
    sent = statement()
    assert lrs.put(S, sent, {"statementId": sent["id"]}).status == 204
    assert lrs.put(S, sent, {"statementId": sent["id"]}).status == 204
    assert len(_ids(lrs.get(S))) == 1


def test_put_with_same_id_and_different_content_is_409_and_changes_nothing(lrs):
    sent = statement()
    assert lrs.put(S, sent, {"statementId": sent["id"]}).status == 204
    other = {**sent, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}
    reply = lrs.put(S, other, {"statementId": sent["id"]})
    assert reply.status == 409
    assert reply.error == f"statement {sent['id']} is already stored with different content"
    stored = lrs.get(S, {"statementId": sent["id"]}).json()
    assert stored["verb"] == sent["verb"]


def test_reput_differing_only_in_lrs_assigned_properties_is_not_a_conflict(lrs):
    sent = statement(timestamp="2024-05-01T08:00:00+08:00")
    assert lrs.put(S, sent, {"statementId": sent["id"]}).status == 204
    again = {
        **sent,
        "timestamp": "2024-05-01T00:00:00.000Z",
        "version": "1.0.0",
        "verb": {"id": sent["verb"]["id"]},
        "id": sent["id"].upper(),
    }
    assert lrs.put(S, again, {"statementId": sent["id"]}).status == 204


@pytest.mark.parametrize(
    "params, body, message",
    [
        ({}, statement(), "missing required parameter 'statementId'"),
        ({"statementId": "abc"}, statement(), "statementId: must be a UUID, got 'abc'"),
        (
            {"statementId": str(uuid.UUID(int=7))},
            statement(id=str(uuid.UUID(int=8))),
            f"the statement's id {uuid.UUID(int=8)} differs from statementId {uuid.UUID(int=7)}",
        ),
        ({"statementId": str(uuid.UUID(int=7))}, [statement()], "PUT takes one statement, not an array (POST batches)"),
        (
            {"statementId": str(uuid.UUID(int=7)), "extra": "1"},
            statement(),
            "unknown parameter 'extra' for PUT /xapi/statements",
        ),
    ],
)
def test_bad_put_is_400_with_reason(lrs, params, body, message):
    reply = lrs.put(S, body, params)
    assert (reply.status, reply.error) == (400, message)


def test_post_answers_ids_in_order_and_assigns_missing_ids(lrs):
    first, second = statement(), statement()
    del second["id"]
    reply = lrs.post(S, [first, second])
    assert reply.status == 200
    ids = reply.json()
    assert ids[0] == first["id"] and uuid.UUID(ids[1])
    assert sorted(_ids(lrs.get(S))) == sorted(ids)


def test_post_batch_is_all_or_nothing(lrs):
    good = statement()
    reply = lrs.post(S, [good, statement(verb={"id": "experienced"})])
    assert (reply.status, reply.error) == (
        400,
        "statements[1].verb.id: must be an absolute IRI with a scheme, got 'experienced'",
    )
    stored = statement()
    assert lrs.post(S, stored).status == 200
    conflict = lrs.post(S, [statement(), {**stored, "result": {"success": False}}])
    assert conflict.status == 409
    assert _ids(lrs.get(S)) == [stored["id"]]


def test_post_batch_with_a_repeated_id_is_400(lrs):
    one = statement()
    reply = lrs.post(S, [one, dict(one)])
    assert (reply.status, reply.error) == (400, f"statements[1].id: {one['id']} appears twice in the batch")


def test_post_resending_the_same_statement_is_accepted_and_stored_once(lrs):
    sent = statement()
    assert lrs.post(S, sent).json() == [sent["id"]]
    assert lrs.post(S, [sent]).json() == [sent["id"]]
    assert _ids(lrs.get(S)) == [sent["id"]]


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        (b"{", "application/json", "the body is not valid JSON"),
        (b"42", "application/json", "the body must be a statement or an array of statements"),
        (b'{"actor": {}, "actor": {}}', "application/json", "property 'actor' appears twice in one object"),
        (b"{}", "text/plain", "statements must be sent as application/json or multipart/mixed, not text/plain"),
    ],
)
def test_malformed_statement_bodies_are_400(lrs, body, content_type, message):
    reply = lrs.post(S, body, headers={"Content-Type": content_type})
    assert reply.status == 400 and message in reply.error


def test_invalid_statements_are_400_never_422(lrs):
    for bad in (
        statement(actor={"mbox": "a@example.com"}),
        statement(result={"score": {"scaled": 2}}),
        statement(verb={"id": "http://e.com/v", "display": {"en_US": "x"}}),
        statement(id="nope"),
    ):
        assert lrs.post(S, bad).status == 400


@pytest.mark.parametrize("name", sorted(EXAMPLES["statements"]))
def test_specification_example_round_trips(lrs, name):
    sent = EXAMPLES["statements"][name]
    reply = lrs.post(S, sent)
    assert reply.status == 200, reply.body
    got = lrs.get(S, {"statementId": reply.json()[0]}).json()
    for key in ("actor", "verb", "result"):
        if key in sent:
            assert got[key] == sent[key]
    if "context" in sent:
        assert got["context"]["contextActivities"] == sent["context"]["contextActivities"]
    assert got["authority"]["account"]["name"] == "tester"
    assert got["version"] == "1.0.0"
    assert parse_timestamp(got["stored"]) is not None


def test_single_context_activity_comes_back_as_an_array(lrs):
    sent = statement(context={"contextActivities": {"parent": {"id": "http://e.com/parent"}}})
    lrs.post(S, sent)
    got = lrs.get(S, {"statementId": sent["id"]}).json()
    assert got["context"]["contextActivities"]["parent"] == [{"id": "http://e.com/parent"}]


# --- GET ---------------------------------------------------------------------------


def test_get_single_statement_has_last_modified_and_etag(lrs):
    sent = statement()
    lrs.post(S, sent)
    reply = lrs.get(S, {"statementId": sent["id"]})
    assert reply.status == 200
    assert reply.headers["Last-Modified"].endswith("GMT")
    assert reply.headers["ETag"] == f'"{hashlib.sha1(reply.body).hexdigest()}"'
    head = lrs.request("HEAD", S, {"statementId": sent["id"]})
    assert head.status == 200 and head.body == b"" and head.headers["ETag"] == reply.headers["ETag"]


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"statementId": str(uuid.UUID(int=1)), "voidedStatementId": str(uuid.UUID(int=2))},
            "statementId and voidedStatementId cannot be used together",
        ),
        (
            {"statementId": str(uuid.UUID(int=1)), "verb": "http://e.com/v"},
            "statementId can only be combined with format and attachments, not verb",
        ),
        ({"StatementId": str(uuid.UUID(int=1))}, "unknown parameter 'StatementId' for GET statements"),
        ({"verb": "experienced"}, "verb: must be an IRI, got 'experienced'"),
        ({"agent": '{"mbox": "x"}'}, "agent.mbox: must be a mailto IRI ('mailto:name@example.com'), got 'x'"),
        ({"agent": "mailto:a@example.com"}, "agent: must be JSON, got 'mailto:a@example.com'"),
        ({"limit": "-1"}, "limit: must be a non-negative integer, got '-1'"),
        ({"ascending": "yes"}, "ascending: must be true or false, got 'yes'"),
        ({"format": "full"}, "format: must be one of exact, ids, canonical, got 'full'"),
        ({"since": "last week"}, "since: must be an ISO 8601 timestamp, got 'last week'"),
        ({"registration": "r1"}, "registration: must be a UUID, got 'r1'"),
    ],
)
def test_bad_statement_queries_are_400_with_reason(lrs, params, message):
    reply = lrs.get(S, params)
    assert (reply.status, reply.error) == (400, message)


def test_repeated_query_parameter_is_400(lrs):
    reply = lrs.get(S + "?verb=http://e.com/a&verb=http://e.com/b")
    assert (reply.status, reply.error) == (400, "parameter 'verb' appears more than once in the query string")


def test_unknown_statement_is_404(lrs):
    assert lrs.get(S, {"statementId": str(uuid.uuid4())}).status == 404


def test_empty_query_answers_an_empty_result_and_consistent_through(lrs):
    before = time.time()
    reply = lrs.get(S)
    assert reply.json() == {"statements": [], "more": ""}
    through = parse_timestamp(reply.headers["X-Experience-API-Consistent-Through"]).timestamp()
    assert before - 1 <= through <= time.time() + 1


def _seed(lrs) -> dict[str, dict]:
    learner = {"objectType": "Agent", "mbox": "mailto:learner@example.com"}
    trainer = {"objectType": "Agent", "account": {"homePage": "https://halls.example", "name": "trainer-1"}}
    team = {"objectType": "Group", "name": "一班", "member": [learner, {"mbox": "mailto:other@example.com"}]}
    registration = "ec531277-b57b-4c15-8d91-d292c5b2b8f7"
    safety, hall = "https://halls.example/xapi/checkpoints/safety-1", "https://halls.example/xapi/halls/safety"
    made = {
        "answered": statement(
            actor=learner,
            verb={"id": "http://adlnet.gov/expapi/verbs/answered"},
            object={"id": safety + "/q1"},
            context={
                "registration": registration,
                "contextActivities": {"parent": [{"id": safety}], "grouping": [{"id": hall}]},
                "instructor": trainer,
            },
        ),
        "passed": statement(
            actor=learner,
            verb={"id": "http://adlnet.gov/expapi/verbs/passed"},
            object={"id": safety},
            context={"registration": registration, "contextActivities": {"parent": [{"id": hall}]}},
        ),
        "team": statement(actor=team, verb={"id": "http://adlnet.gov/expapi/verbs/attended"}, object={"id": hall}),
        "mentored": statement(actor=trainer, verb={"id": "http://id.tincanapi.com/verb/mentored"}, object=learner),
        "other": statement(actor={"mbox": "mailto:someone@example.com"}, object={"id": "http://e.com/elsewhere"}),
    }
    for item in made.values():
        assert lrs.post(S, item).status == 200
    return made


def _query(lrs, **params) -> set[str]:
    reply = lrs.get(S, params)
    assert reply.status == 200, reply.body
    return set(_ids(reply))


def test_query_filters_match_the_specified_statements(lrs):
    made = _seed(lrs)
    ids = {name: item["id"] for name, item in made.items()}
    learner = json.dumps({"mbox": "mailto:learner@example.com"})
    trainer = json.dumps({"account": {"homePage": "https://halls.example", "name": "trainer-1"}})
    assert _query(lrs, agent=learner) == {ids["answered"], ids["passed"], ids["team"], ids["mentored"]}
    assert _query(lrs, agent=trainer) == {ids["mentored"]}
    assert _query(lrs, agent=trainer, related_agents="true") == {ids["mentored"], ids["answered"]}
    assert _query(lrs, verb="http://adlnet.gov/expapi/verbs/passed") == {ids["passed"]}
    assert _query(lrs, activity="https://halls.example/xapi/halls/safety") == {ids["team"]}
    assert _query(lrs, activity="https://halls.example/xapi/halls/safety", related_activities="true") == {
        ids["team"],
        ids["answered"],
        ids["passed"],
    }
    assert _query(lrs, registration="EC531277-B57B-4C15-8D91-D292C5B2B8F7") == {ids["answered"], ids["passed"]}
    assert _query(lrs, agent=learner, verb="http://adlnet.gov/expapi/verbs/answered") == {ids["answered"]}
    assert _query(lrs, agent=json.dumps({"mbox": "mailto:LEARNER@EXAMPLE.COM"})) == set()
    assert _query(lrs, agent=json.dumps({"mbox": "mailto:learner@EXAMPLE.com"})) == _query(lrs, agent=learner)


def test_query_since_until_limit_and_ascending(lrs):
    made = [statement() for _ in range(3)]
    stored = []
    for item in made:
        lrs.post(S, item)
        stored.append(lrs.get(S, {"statementId": item["id"]}).json()["stored"])
        time.sleep(0.003)
    ids = [item["id"] for item in made]
    assert _ids(lrs.get(S)) == ids[::-1]
    assert _ids(lrs.get(S, {"ascending": "true"})) == ids
    assert _ids(lrs.get(S, {"since": stored[0]})) == ids[:0:-1]
    assert _ids(lrs.get(S, {"until": stored[1]})) == ids[1::-1]
    assert _ids(lrs.get(S, {"since": stored[0], "until": stored[1]})) == [ids[1]]
    limited = lrs.get(S, {"limit": "2"}).json()
    assert [s["id"] for s in limited["statements"]] == ids[:0:-1] and limited["more"]


def test_more_links_page_through_every_statement_once(lrs):
    made = [statement() for _ in range(7)]
    assert lrs.post(S, made).status == 200
    for ascending in ("false", "true"):
        seen, reply = [], lrs.get(S, {"limit": "3", "ascending": ascending}).json()
        pages = 1
        while reply["more"]:
            seen += [s["id"] for s in reply["statements"]]
            assert reply["more"].startswith("/xapi/statements?")
            reply = lrs.get(reply["more"]).json()
            pages += 1
        seen += [s["id"] for s in reply["statements"]]
        assert pages == 3
        expected = [item["id"] for item in made]
        assert seen == (expected if ascending == "true" else expected[::-1])


def test_more_link_with_a_foreign_token_is_400(lrs):
    assert lrs.get(S + "?more=bm90LWEtdG9rZW4").status == 400


def test_ids_format_keeps_only_identifiers(lrs):
    sent = EXAMPLES["statements"]["long (Part 2 Appendix A)"]
    lrs.post(S, sent)
    got = lrs.get(S, {"statementId": sent["id"], "format": "ids"}).json()
    assert got["verb"] == {"id": "http://adlnet.gov/expapi/verbs/attended"}
    assert got["actor"] == {"objectType": "Group", "mbox": "mailto:teampb@example.com"}
    assert got["object"] == {"objectType": "Activity", "id": "http://www.example.com/meetings/occurances/34534"}
    assert "definition" not in got["context"]["contextActivities"]["category"][0]


def test_canonical_format_uses_the_latest_definition_and_one_language(lrs):
    activity = "http://e.com/activities/exhibit-1"
    first = statement(object={"id": activity, "definition": {"name": {"en-US": "Lamp", "zh-CN": "矿灯"}}})
    second = statement(object={"id": activity, "definition": {"name": {"en-US": "Miner's lamp"}}})
    lrs.post(S, first)
    lrs.post(S, second)
    got = lrs.get(
        S, {"statementId": first["id"], "format": "canonical"}, headers={"Accept-Language": "en-US;q=0.8, zh"}
    ).json()
    assert got["object"]["definition"]["name"] == {"zh-CN": "矿灯"}
    got = lrs.get(S, {"statementId": first["id"], "format": "canonical"}, headers={"Accept-Language": "en"}).json()
    assert got["object"]["definition"]["name"] == {"en-US": "Miner's lamp"}
    assert got["verb"]["display"] == {"en-US": "experienced"}
    exact = lrs.get(S, {"statementId": first["id"]}).json()
    assert exact["object"]["definition"]["name"] == {"en-US": "Lamp", "zh-CN": "矿灯"}
    activity_reply = lrs.get("/xapi/activities", {"activityId": activity}).json()
    assert activity_reply["definition"]["name"] == {"en-US": "Miner's lamp", "zh-CN": "矿灯"}


# --- voiding -----------------------------------------------------------------------


def _void(target_id: str) -> dict:
    return statement(
        verb={"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": target_id},
    )


def test_voided_statement_is_only_found_by_voided_statement_id(lrs):
    target, voiding = statement(), None
    lrs.post(S, target)
    voiding = _void(target["id"])
    assert lrs.post(S, voiding).status == 200
    assert lrs.get(S, {"statementId": target["id"]}).status == 404
    assert lrs.get(S, {"voidedStatementId": target["id"]}).json()["id"] == target["id"]
    assert lrs.get(S, {"voidedStatementId": voiding["id"]}).status == 404
    assert _ids(lrs.get(S)) == [voiding["id"]]
    learner = json.dumps({"mbox": "mailto:learner@example.com"})
    assert voiding["id"] in _ids(lrs.get(S, {"activity": target["object"]["id"]}))
    assert _ids(lrs.get(S, {"agent": learner, "verb": target["verb"]["id"]})) == [voiding["id"]]


def test_voiding_a_voiding_statement_is_400(lrs):
    target = statement()
    lrs.post(S, target)
    voiding = _void(target["id"])
    lrs.post(S, voiding)
    reply = lrs.post(S, _void(voiding["id"]))
    assert reply.status == 400
    assert reply.error == (
        f"statements[0].object: statement {voiding['id']} is a voiding statement and cannot be voided"
    )
    assert lrs.get(S, {"statementId": voiding["id"]}).status == 200


def test_voiding_before_the_target_arrives_voids_it_on_arrival(lrs):
    target = statement()
    assert lrs.post(S, _void(target["id"])).status == 200
    lrs.post(S, target)
    assert lrs.get(S, {"statementId": target["id"]}).status == 404
    assert lrs.get(S, {"voidedStatementId": target["id"]}).status == 200


def test_statement_ref_targets_match_filters_recursively(lrs):
    made = _seed(lrs)
    comment = statement(
        actor={"mbox": "mailto:reviewer@example.com"},
        verb={"id": "http://e.com/commented"},
        object={"objectType": "StatementRef", "id": made["passed"]["id"]},
    )
    reply = statement(
        actor={"mbox": "mailto:reviewer2@example.com"},
        verb={"id": "http://e.com/replied"},
        object={"objectType": "StatementRef", "id": comment["id"]},
    )
    lrs.post(S, [comment, reply])
    found = _query(lrs, verb="http://adlnet.gov/expapi/verbs/passed")
    assert found == {made["passed"]["id"], comment["id"], reply["id"]}


# --- attachments and alternate syntax ---------------------------------------------------


def _multipart(parts: list[tuple[dict, bytes]], boundary: str) -> bytes:
    chunks = []
    for headers, data in parts:
        head = "".join(f"{name}:{value}\r\n" for name, value in headers.items())
        chunks.append(f"--{boundary}\r\n{head}\r\n".encode() + data + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--".encode()


def test_multipart_example_from_the_specification_is_stored_with_its_attachment(lrs):
    example = EXAMPLES["multipart_example"]
    boundary, data = example["boundary"], example["attachment"].encode()
    body = _multipart(
        [
            ({"Content-Type": "application/json"}, json.dumps(example["statement"]).encode()),
            (
                {
                    "Content-Type": "text/plain",
                    "Content-Transfer-Encoding": "binary",
                    "X-Experience-API-Hash": hashlib.sha256(data).hexdigest(),
                },
                data,
            ),
        ],
        boundary,
    )
    reply = lrs.post(S, body, headers={"Content-Type": f'multipart/mixed; boundary="{boundary}"'})
    assert reply.status == 200, reply.body
    statement_id = reply.json()[0]
    got = lrs.get(S, {"statementId": statement_id, "attachments": "true"})
    assert got.headers["Content-Type"].startswith("multipart/mixed")
    assert b"here is a simple attachment" in got.body
    assert f'"id":"{statement_id}"'.encode() in got.body
    plain = lrs.get(S, {"statementId": statement_id})
    assert plain.headers["Content-Type"].startswith("application/json") and b"here is" not in plain.body


def test_attachment_without_data_or_file_url_is_400(lrs):
    attachment = dict(EXAMPLES["multipart_example"]["statement"]["attachments"][0])
    reply = lrs.post(S, statement(attachments=[attachment]))
    assert reply.status == 400
    assert "no fileUrl and no matching part" in reply.error
    with_url = statement(attachments=[{**attachment, "fileUrl": "https://files.example/a.txt"}])
    assert lrs.post(S, with_url).status == 200


def test_multipart_part_with_a_wrong_hash_is_400(lrs):
    example = EXAMPLES["multipart_example"]
    body = _multipart(
        [
            ({"Content-Type": "application/json"}, json.dumps(example["statement"]).encode()),
            (
                {
                    "Content-Type": "text/plain",
                    "Content-Transfer-Encoding": "binary",
                    "X-Experience-API-Hash": example["statement"]["attachments"][0]["sha2"],
                },
                b"something else",
            ),
        ],
        "b0undary",
    )
    reply = lrs.post(S, body, headers={"Content-Type": "multipart/mixed; boundary=b0undary"})
    assert reply.status == 400 and "does not match its X-Experience-API-Hash" in reply.error


def test_malformed_signature_attachment_is_400(lrs):
    jws = b"not-a-jws"
    sent = statement(
        attachments=[
            {
                "usageType": "http://adlnet.gov/expapi/attachments/signature",
                "display": {"en-US": "Signature"},
                "contentType": "application/octet-stream",
                "length": len(jws),
                "sha2": hashlib.sha256(jws).hexdigest(),
            }
        ]
    )
    body = _multipart(
        [
            ({"Content-Type": "application/json"}, json.dumps(sent).encode()),
            (
                {
                    "Content-Type": "application/octet-stream",
                    "Content-Transfer-Encoding": "binary",
                    "X-Experience-API-Hash": hashlib.sha256(jws).hexdigest(),
                },
                jws,
            ),
        ],
        "sig",
    )
    reply = lrs.post(S, body, headers={"Content-Type": "multipart/mixed; boundary=sig"})
    assert (reply.status, reply.error) == (400, "signature attachment: not a JWS in compact serialization")


def test_signed_statement_with_a_valid_rs256_signature_is_accepted(lrs):
    crypto = pytest.importorskip("cryptography")
    assert crypto
    from tests.server.test_lrs_signatures import signed_statement_body

    body, content_type, statement_id = signed_statement_body(tamper=False)
    reply = lrs.post(S, body, headers={"Content-Type": content_type})
    assert reply.status == 200, reply.body
    body, content_type, _ = signed_statement_body(tamper=True)
    reply = lrs.post(S, body, headers={"Content-Type": content_type})
    assert (reply.status, reply.error) == (400, "signature attachment: the signed payload differs from the statement")


def test_alternate_request_syntax_from_the_specification(lrs):
    content = json.dumps(EXAMPLES["statements"]["cross-domain content (Part 3 Appendix C)"], separators=(",", ":"))
    statement_id = "c70c2b85-c294-464f-baca-cebd4fb9b348"
    form = urlencode(
        {
            "statementId": statement_id,
            "Authorization": basic(),
            "X-Experience-API-Version": "1.0.3",
            "Content-Type": "application/json",
            "Content-Length": str(len(content)),
            "content": content,
        }
    )
    reply = lrs.post(
        S + "?method=PUT", form, headers={"Content-Type": "application/x-www-form-urlencoded"}, version=None, auth=None
    )
    assert reply.status == 204, reply.body
    form = urlencode({"statementId": statement_id, "Authorization": basic(), "X-Experience-API-Version": "1.0.3"})
    got = lrs.post(
        S + "?method=GET", form, headers={"Content-Type": "application/x-www-form-urlencoded"}, version=None, auth=None
    )
    assert got.status == 200 and got.json()["id"] == statement_id


def test_alternate_syntax_with_query_parameters_or_without_method_is_400(lrs):
    form = urlencode({"X-Experience-API-Version": "1.0.3", "Authorization": basic()})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    reply = lrs.post(S + "?method=GET&limit=1", form, headers=headers)
    assert reply.status == 400 and "may only hold 'method'" in reply.error
    reply = lrs.post(S, form, headers=headers)
    assert reply.status == 400 and "must use the alternate request syntax" in reply.error
