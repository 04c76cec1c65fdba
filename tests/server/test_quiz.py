"""Grading and answer keys (`server.learning.quiz`), without a server."""

from __future__ import annotations

import json
import logging

import pytest

from server.learning.quiz import (
    AnswerKeys,
    InvalidResponses,
    grade,
    parse_checkpoints,
    parse_responses,
    public_questions,
)
from tests.server.test_quiz_support import KEYS, QUIZ_ONE, QUIZ_TWO, publish_quiz_build


@pytest.fixture
def quiz1():
    return parse_checkpoints("alpha", {"checkpoints": [QUIZ_ONE]})["quiz1"]


def marks(checkpoint, responses):
    return grade(checkpoint, parse_responses(checkpoint, responses))


def test_single_choice_is_right_only_with_the_key(quiz1):
    assert marks(quiz1, {"s1": "C"}).results[0].correct
    assert not marks(quiz1, {"s1": "A"}).results[0].correct


def test_multiple_choice_needs_the_exact_set_in_any_order(quiz1):
    assert marks(quiz1, {"m1": ["D", "A"]}).results[1].correct
    assert not marks(quiz1, {"m1": ["A"]}).results[1].correct
    assert not marks(quiz1, {"m1": ["A", "B", "D"]}).results[1].correct
    assert not marks(quiz1, {"m1": []}).results[1].correct


def test_true_false_compares_booleans(quiz1):
    assert marks(quiz1, {"t1": False}).results[2].correct
    assert not marks(quiz1, {"t1": True}).results[2].correct


def test_left_out_questions_count_as_wrong(quiz1):
    result = marks(quiz1, {"s1": "C"})
    assert (result.raw, result.max, result.passed) == (1, 3, False)
    assert result.results[1].response is None and not result.results[1].correct


def test_pass_mark_is_a_fraction_of_questions_rounded_up(quiz1):
    # pass_mark 0.6 of 3 questions: 1.8 -> 2 right needed
    assert marks(quiz1, {"s1": "C", "m1": ["A", "D"], "t1": True}).passed
    assert not marks(quiz1, {"s1": "C", "m1": ["A"], "t1": True}).passed
    full = marks(quiz1, {"s1": "C", "m1": ["A", "D"], "t1": False})
    assert (full.raw, full.max, full.scaled, full.passed) == (3, 3, 1.0, True)


def test_pass_mark_of_one_needs_every_question():
    checkpoint = parse_checkpoints("alpha", {"checkpoints": [QUIZ_TWO]})["quiz2"]
    assert marks(checkpoint, {"q": "B"}).passed
    assert not marks(checkpoint, {"q": "A"}).passed


def test_scaled_score_is_rounded_to_four_places(quiz1):
    assert marks(quiz1, {"s1": "C"}).scaled == 0.3333


@pytest.mark.parametrize(
    "responses, message",
    [
        (None, "'answers' must be a non-empty object of question id -> response"),
        ({}, "'answers' must be a non-empty object of question id -> response"),
        (["C"], "'answers' must be a non-empty object of question id -> response"),
        ({"zz": "A"}, "unknown question id 'zz' in checkpoint 'quiz1'"),
        ({"s1": "D"}, "question 's1': expected one option id (A, B, C), got \"D\""),
        ({"s1": ["C"]}, "question 's1': expected one option id (A, B, C), got [\"C\"]"),
        ({"s1": 3}, "question 's1': expected one option id (A, B, C), got 3"),
        ({"m1": "A"}, "question 'm1': expected a list of option ids (A, B, C, D), got \"A\""),
        ({"m1": ["A", "E"]}, "question 'm1': unknown option id 'E' (choose from A, B, C, D)"),
        ({"m1": ["A", "A"]}, "question 'm1': an option id is repeated"),
        ({"m1": [1]}, "question 'm1': expected a list of option ids (A, B, C, D), got [1]"),
        ({"t1": "false"}, "question 't1': expected true or false, got \"false\""),
        ({"t1": 0}, "question 't1': expected true or false, got 0"),
    ],
)
def test_malformed_responses_are_refused_with_the_question_named(quiz1, responses, message):
    with pytest.raises(InvalidResponses) as refused:
        parse_responses(quiz1, responses)
    assert str(refused.value) == message


def test_public_questions_carry_no_keys_or_explanations(quiz1):
    text = json.dumps(public_questions(quiz1), ensure_ascii=False)
    assert "answer" not in text and "explanation" not in text and "丙是对的" not in text
    assert [q["id"] for q in public_questions(quiz1)] == ["s1", "m1", "t1"]


def test_checkpoints_and_questions_do_not_show_keys_in_repr_or_logs(quiz1, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").debug("checkpoint %r questions %r", quiz1, quiz1.questions)
    assert "'C'" not in caplog.text and "A', 'D" not in caplog.text and "False" not in caplog.text


def test_answer_keys_are_read_per_release_and_follow_a_new_build(tmp_path):
    build = tmp_path / "build"
    first = publish_quiz_build(build, "one")
    keys = AnswerKeys()
    assert sorted(keys.hall(first, "alpha")) == ["quiz1", "quiz2"]
    assert keys.checkpoint(first, "beta", "only").attempts == 5
    changed = json.loads(json.dumps(KEYS["beta"]))
    changed[0]["attempts"] = 9
    second = publish_quiz_build(build, "two")
    (second / "private" / "answers" / "beta.json").write_text(json.dumps({"hall": "beta", "checkpoints": changed}))
    assert keys.checkpoint(second, "beta", "only").attempts == 9
    assert keys.hall(second, "nowhere") == {}
    assert keys.hall(None, "alpha") == {}


def test_malformed_answer_key_file_gives_no_checkpoints_and_an_error_log(tmp_path, caplog):
    release = publish_quiz_build(tmp_path / "build")
    (release / "private" / "answers" / "alpha.json").write_text('{"checkpoints": [{"id": "x"}]}')
    assert AnswerKeys().hall(release, "alpha") == {}
    assert "answer keys of hall alpha are malformed" in caplog.text
