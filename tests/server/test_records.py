"""xAPI statements (`server.learning.records`): shape, deterministic ids, and validity to two independent validators."""

from __future__ import annotations

import json
import uuid

import pytest

from server.learning.quiz import grade, parse_checkpoints, parse_responses
from server.learning.records import (
    NAMESPACE,
    Learner,
    Vocabulary,
    attempt_statements,
    experienced_statement,
    iso_duration,
    iso_timestamp,
    statement_id,
)
from tests.server.test_quiz_support import QUIZ_ONE

ADL = "http://adlnet.gov/expapi"
BASE = "https://halls.example"
REGISTRATION = "6f1c1b8e-2b7e-4c55-9d4f-0a4c1f7d1e11"
MOMENT = 1_767_225_600.25  # 2026-01-01T00:00:00.250Z


@pytest.fixture
def checkpoint():
    return parse_checkpoints("alpha", {"checkpoints": [QUIZ_ONE]})["quiz1"]


def statements(checkpoint, responses, *, attempt=1, completed=False, vocabulary=None):
    marks = grade(checkpoint, parse_responses(checkpoint, responses))
    made = attempt_statements(
        vocabulary or Vocabulary(BASE),
        Learner("m1", "张三"),
        checkpoint,
        marks,
        registration=REGISTRATION,
        attempt=attempt,
        platform="headset",
        timestamp=MOMENT,
        duration=83.456,
        hall_title={"zh": "红色屯兰", "en": "Red Tunlan"},
        hall_completed=completed,
    )
    return [json.loads(s.to_json()) for s in made]


def test_answered_choice_statement_has_interaction_choices_pattern_and_response(checkpoint):
    answered = statements(checkpoint, {"s1": "A", "m1": ["D", "A"], "t1": False})
    single, multiple, judged = answered[:3]
    assert single["verb"] == {"id": f"{ADL}/verbs/answered", "display": {"en-US": "answered", "zh-CN": "回答"}}
    assert single["object"] == {
        "objectType": "Activity",
        "id": f"{BASE}/halls/alpha/checkpoints/quiz1/questions/s1",
        "definition": {
            "name": {"zh-CN": "单选题"},
            "type": f"{ADL}/activities/cmi.interaction",
            "interactionType": "choice",
            "correctResponsesPattern": ["C"],
            "choices": [
                {"id": "A", "description": {"zh-CN": "甲"}},
                {"id": "B", "description": {"zh-CN": "乙"}},
                {"id": "C", "description": {"zh-CN": "丙"}},
            ],
        },
    }
    assert single["result"] == {"success": False, "response": "A"}
    assert multiple["object"]["definition"]["correctResponsesPattern"] == ["A[,]D"]
    assert multiple["object"]["definition"]["name"] == {"zh-CN": "多选题", "en": "Pick all"}
    assert multiple["result"] == {"success": True, "response": "A[,]D"}
    assert judged["object"]["definition"]["interactionType"] == "true-false"
    assert judged["object"]["definition"]["correctResponsesPattern"] == ["false"]
    assert "choices" not in judged["object"]["definition"]
    assert judged["result"] == {"success": True, "response": "false"}


def test_actor_context_and_timestamp_are_as_agreed(checkpoint):
    first = statements(checkpoint, {"s1": "C"})[0]
    assert first["actor"] == {"objectType": "Agent", "name": "张三", "account": {"homePage": BASE, "name": "m1"}}
    assert first["timestamp"] == "2026-01-01T00:00:00.250Z"
    context = first["context"]
    assert context["registration"] == REGISTRATION and context["platform"] == "headset"
    assert context["language"] == "zh-CN"
    assert context["extensions"] == {f"{BASE}/extensions/attempt": 1}
    assert [a["id"] for a in context["contextActivities"]["parent"]] == [f"{BASE}/halls/alpha/checkpoints/quiz1"]
    assert [a["id"] for a in context["contextActivities"]["grouping"]] == [f"{BASE}/halls/alpha", f"{BASE}/"]
    hall, base = context["contextActivities"]["grouping"]  # context activities: id and type; names go with objects
    assert hall == {
        "objectType": "Activity",
        "id": f"{BASE}/halls/alpha",
        "definition": {"type": f"{ADL}/activities/module"},
    }
    assert base["definition"] == {"type": f"{ADL}/activities/course"}


def test_checkpoint_statement_is_an_assessment_with_score_success_and_duration(checkpoint):
    made = statements(checkpoint, {"s1": "C", "m1": ["A", "D"], "t1": True})
    assert len(made) == 4
    outcome = made[-1]
    assert outcome["verb"]["id"] == f"{ADL}/verbs/passed"
    assert outcome["object"]["id"] == f"{BASE}/halls/alpha/checkpoints/quiz1"
    assert outcome["object"]["definition"] == {
        "name": {"zh-CN": "第一站", "en": "Station one"},
        "type": f"{ADL}/activities/assessment",
    }
    assert outcome["result"] == {
        "score": {"scaled": 0.6667, "raw": 2.0, "min": 0.0, "max": 3.0},
        "success": True,
        "completion": True,
        "duration": "PT1M23.46S",
    }
    assert [a["id"] for a in outcome["context"]["contextActivities"]["parent"]] == [f"{BASE}/halls/alpha"]
    failed = statements(checkpoint, {"s1": "A"})[-1]
    assert failed["verb"]["id"] == f"{ADL}/verbs/failed" and failed["result"]["success"] is False


def test_unanswered_questions_have_no_answered_statement(checkpoint):
    made = statements(checkpoint, {"m1": ["A", "D"]})
    assert [s["object"]["id"].rsplit("/", 1)[-1] for s in made] == ["m1", "quiz1"]


def test_completed_statement_is_about_the_hall(checkpoint):
    completed = statements(checkpoint, {"s1": "C", "m1": ["A", "D"], "t1": False}, completed=True)[-1]
    assert completed["verb"]["id"] == f"{ADL}/verbs/completed"
    assert completed["object"] == {
        "objectType": "Activity",
        "id": f"{BASE}/halls/alpha",
        "definition": {"name": {"zh-CN": "红色屯兰", "en": "Red Tunlan"}, "type": f"{ADL}/activities/module"},
    }
    assert completed["result"] == {"success": True, "completion": True}
    assert completed["context"]["contextActivities"]["grouping"][0]["definition"] == {
        "name": {"zh-CN": "屯兰矿党建实训基地"},
        "type": f"{ADL}/activities/course",
    }
    assert "parent" not in completed["context"]["contextActivities"]
    assert completed["id"] == statement_id(REGISTRATION, "alpha", "completed")


def test_experienced_statement_records_diorama_time():
    made = json.loads(
        experienced_statement(
            Vocabulary(BASE),
            Learner("m1"),
            hall_id="red",
            diorama_id="luding",
            registration=REGISTRATION,
            sequence=2,
            platform="browser",
            timestamp=MOMENT,
            seconds=3725.0,
            diorama_title={"zh": "飞夺泸定桥", "en": None},
        ).to_json()
    )
    assert made["verb"]["id"] == f"{ADL}/verbs/experienced"
    assert made["object"] == {
        "objectType": "Activity",
        "id": f"{BASE}/halls/red/dioramas/luding",
        "definition": {"name": {"zh-CN": "飞夺泸定桥"}, "type": f"{ADL}/activities/simulation"},
    }
    assert made["result"] == {"duration": "PT1H2M5S"}
    assert made["actor"] == {"objectType": "Agent", "account": {"homePage": BASE, "name": "m1"}}
    assert made["id"] == statement_id(REGISTRATION, "red", "luding", "2", "experienced")


def test_ids_are_uuid5_of_registration_checkpoint_attempt_verb_and_question(checkpoint):
    made = statements(checkpoint, {"s1": "C", "m1": ["A"], "t1": False}, attempt=2)
    assert made[0]["id"] == str(
        uuid.uuid5(NAMESPACE, "\x1f".join([REGISTRATION, "alpha", "quiz1", "2", "answered", "s1"]))
    )
    assert made[-1]["id"] == str(uuid.uuid5(NAMESPACE, "\x1f".join([REGISTRATION, "alpha", "quiz1", "2", "passed"])))
    assert all(uuid.UUID(s["id"]).version == 5 for s in made)


def test_same_event_gives_the_same_ids_and_bytes_other_attempts_other_ids(checkpoint):
    responses = {"s1": "C", "m1": ["A"], "t1": False}
    once, twice = statements(checkpoint, responses), statements(checkpoint, responses)
    assert once == twice
    fresh_vocabulary = statements(checkpoint, responses, vocabulary=Vocabulary(BASE))
    assert [s["id"] for s in fresh_vocabulary] == [s["id"] for s in once]
    other = statements(checkpoint, responses, attempt=2)
    assert not {s["id"] for s in once} & {s["id"] for s in other}
    assert len({s["id"] for s in once}) == len(once)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "PT0S"),
        (0.004, "PT0S"),
        (12.345, "PT12.35S"),
        (60, "PT1M0S"),
        (3600, "PT1H0S"),
        (3661.5, "PT1H1M1.50S"),
        (-4, "PT0S"),
    ],
)
def test_durations_are_iso_8601(seconds, text):
    assert iso_duration(seconds) == text


def test_timestamps_are_utc_with_milliseconds():
    assert iso_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert iso_timestamp(MOMENT) == "2026-01-01T00:00:00.250Z"


def all_kinds(checkpoint) -> list[dict]:
    made = statements(checkpoint, {"s1": "C", "m1": ["A", "D"], "t1": True}, completed=True)
    made += statements(checkpoint, {"s1": "B"}, attempt=2)
    made.append(
        json.loads(
            experienced_statement(
                Vocabulary(BASE),
                Learner("m1", "张三"),
                hall_id="alpha",
                diorama_id="bridge",
                registration=REGISTRATION,
                sequence=1,
                platform="client",
                timestamp=MOMENT,
                seconds=42,
            ).to_json()
        )
    )
    return made


def test_every_kind_of_statement_passes_the_embedded_lrs_validator(checkpoint):
    validator = pytest.importorskip("server.lrs.validate")
    for statement in all_kinds(checkpoint):
        validator.validate_statement(statement)


def test_every_kind_of_statement_passes_ralphs_xapi_model(checkpoint):
    ralph = pytest.importorskip("ralph.models.xapi.base.statements")
    for statement in all_kinds(checkpoint):
        ralph.BaseXapiStatement.model_validate(statement)


def test_statements_json_writes_the_same_bytes_as_to_json(checkpoint):
    from server.learning.records import statements_json

    vocabulary = Vocabulary(BASE)
    marks = grade(checkpoint, parse_responses(checkpoint, {"s1": "C", "m1": ["A", "D"], "t1": True}))
    for attempt in (1, 2):
        made = attempt_statements(
            vocabulary,
            Learner("m1", '张"三'),
            checkpoint,
            marks,
            registration=REGISTRATION,
            attempt=attempt,
            platform="browser",
            timestamp=MOMENT,
            duration=1.5,
            hall_completed=True,
        )
        fragments = vocabulary.activities(checkpoint).fragments
        assert statements_json(made, fragments) == [s.to_json() for s in made]
        assert statements_json(made) == [s.to_json() for s in made]


def test_statement_ids_must_be_uuids():
    from pydantic import ValidationError

    from server.learning.records import Statement

    good = json.loads(
        experienced_statement(
            Vocabulary(BASE),
            Learner("m1"),
            hall_id="red",
            diorama_id="d",
            registration=REGISTRATION,
            sequence=1,
            platform="browser",
            timestamp=MOMENT,
            seconds=1,
        ).to_json()
    )
    with pytest.raises(ValidationError):
        Statement.model_validate(good | {"id": 'not-a-uuid", "x": "'})


@pytest.mark.parametrize("seconds", [0.0, 0.0005, 0.9994, 0.9996, 1_767_225_600.999, 1_767_225_600.9999, 12.345678])
def test_timestamps_match_datetime_formatting(seconds):
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(seconds, tz=UTC)
    assert iso_timestamp(seconds) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
