"""Checkpoint quizzes: answer shapes, and the client's quiz API calls against a real server's grading."""

from __future__ import annotations

import json

import pytest

from tests.client.conftest import manifest_of
from tools.client.manifest import HallManifest
from tools.client.quiz import AnswerSheet, QuizApi, QuizError


@pytest.fixture
def checkpoint(built_project):
    return HallManifest.parse(manifest_of(built_project, "alpha")).checkpoints[0]


def test_answer_sheet_gives_the_api_shapes(checkpoint):
    sheet = AnswerSheet(checkpoint)
    assert not sheet.complete()
    sheet.choose("q1", True)
    sheet.choose("q2", "A")
    sheet.choose("q2", "B")
    assert sheet.complete()
    assert sheet.answers() == {"q1": True, "q2": "B"}


def test_multiple_choice_toggles_and_sorts(checkpoint):
    question = {"id": "m", "type": "multiple", "prompt": {"zh": "?"}, "options": []}
    sheet = AnswerSheet(checkpoint.__class__(**{**checkpoint.__dict__, "questions": (question,)}))
    for value in ("C", "A", "D", "D"):
        sheet.choose("m", value)
    assert sheet.answers() == {"m": ["A", "C"]}


def test_quiz_api_grades_right_and_wrong_answers(project, start_hall_server, checkpoint):
    server = start_hall_server(project)
    api = QuizApi(server.url)
    session = api.open_session("m-1", "张三", "综采一队")
    assert session["token"] and api.token
    bad = api.submit("alpha", checkpoint.id, {"q1": False, "q2": "A"}, platform="headset")
    assert not bad.passed and bad.score == 0.0
    assert "未通过" in bad.summary()
    good = api.submit("alpha", checkpoint.id, {"q1": True, "q2": "B"})
    assert good.passed and good.score == 1.0
    assert [r["correct"] for r in good.results] == [True, True]
    assert good.summary().startswith("通过，得分 2/2")
    assert list(api.registrations) == ["alpha"]  # one visit, both attempts
    with pytest.raises(QuizError, match="already passed") as again:
        api.submit("alpha", checkpoint.id, {"q1": True, "q2": "B"})
    assert again.value.status == 403


def test_quiz_api_errors_carry_the_servers_message(project, start_hall_server):
    server = start_hall_server(project)
    api = QuizApi(server.url)
    with pytest.raises(QuizError, match="no session"):
        api.submit("alpha", "quiz", {})
    api.token = "forged"
    with pytest.raises(QuizError) as error:
        api.submit("alpha", "quiz", {"q1": True})
    assert error.value.status == 401


def test_a_visit_reads_a_panel_answers_the_quiz_and_walks_into_the_next_hall(project, start_hall_server, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    server = start_hall_server(project)
    out = tmp_path / "visit.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "client" / "drive_client.py"),
            server.url,
            str(tmp_path / "cache"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["panel"] == "前言"
    assert (seen["panel_after_escape"], seen["running_after_escape"]) == (False, True)
    assert seen["hint"] == "按 Q 开始答题：小测验"
    assert seen["first_question"] == "1/2（判断）屯兰有十个主题展厅。"
    assert seen["quiz"].startswith("通过，得分 2/2")
    assert (seen["hall"], seen["room"], seen["loaded"]) == ("beta", "only", 1)
