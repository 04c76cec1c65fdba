"""Checkpoint quizzes: answer shapes, and the quiz API contract against a real server.

Until the server's quiz API lands, the server under test gets a stand-in for
the agreed contract (`POST /api/session`, `POST .../attempts`) that grades
from the build's private answer keys; once the real routes exist they are
used instead and the same tests hold.
"""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from tests.client.conftest import manifest_of
from tools.client.manifest import HallManifest
from tools.client.quiz import AnswerSheet, QuizApi, QuizError


def contract_stand_in(project):
    """A `prepare(app)` adding the quiz contract's routes when the server has none."""

    def prepare(app: web.Application) -> None:
        if any(getattr(r, "resource", None) and r.resource.canonical == "/api/session" for r in app.router.routes()):
            return
        tokens: dict[str, dict] = {}
        visits: dict[str, set[str]] = {}

        async def visit(request: web.Request) -> web.Response:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in tokens:
                return web.json_response({"error": "no session"}, status=401)
            registration = f"reg-{request.match_info['hall']}-{len(visits[token]) + 1}"
            visits[token].add(registration)
            return web.json_response({"registration": registration}, status=201)

        async def session(request: web.Request) -> web.Response:
            body = await request.json()
            if not body.get("member_id") or not body.get("name"):
                return web.json_response({"error": "member_id and name are required"}, status=400)
            token = f"t-{len(tokens) + 1}"
            visits[token] = set()
            tokens[token] = {"id": body["member_id"], "name": body["name"], "branch": body.get("branch")}
            return web.json_response({"token": token, "member": tokens[token]})

        async def attempt(request: web.Request) -> web.Response:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in tokens:
                return web.json_response({"error": "no session"}, status=401)
            hall, cp = request.match_info["hall"], request.match_info["cp"]
            keys = json.loads((project / "build" / "current" / "private" / "answers" / f"{hall}.json").read_text())
            checkpoint = next(c for c in keys["checkpoints"] if c["id"] == cp)
            body = await request.json()
            if body.get("registration") not in visits[token]:
                return web.json_response({"error": "unknown registration: start a visit first"}, status=400)
            answers = body["answers"]
            results = [{"question": q["id"], "correct": answers.get(q["id"]) == q["answer"]}
                       for q in checkpoint["questions"]]
            raw = sum(r["correct"] for r in results)
            passed = raw / len(results) >= checkpoint["pass_mark"]
            score = {"raw": raw, "max": len(results), "scaled": raw / len(results)}
            return web.json_response({"passed": passed, "score": score, "results": results,
                                      "attempts_left": checkpoint["attempts"] - 1, "retry_after": None,
                                      "hall_complete": passed})

        app.router.add_post("/api/session", session)
        app.router.add_post("/api/halls/{hall}/visits", visit)
        app.router.add_post("/api/halls/{hall}/checkpoints/{cp}/attempts", attempt)

    return prepare


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
    server = start_hall_server(project, prepare=contract_stand_in(project))
    api = QuizApi(server.url)
    session = api.open_session("m-1", "张三", "综采一队")
    assert session["token"] and api.token
    good = api.submit("alpha", checkpoint.id, {"q1": True, "q2": "B"})
    assert good.passed and good.score == 1.0
    assert [r["correct"] for r in good.results] == [True, True]
    assert good.summary().startswith("通过，得分 2/2")
    bad = api.submit("alpha", checkpoint.id, {"q1": False, "q2": "A"}, platform="headset")
    assert not bad.passed and bad.score == 0.0
    assert "未通过" in bad.summary()
    assert list(api.registrations) == ["alpha"]  # one visit, both attempts


def test_quiz_api_errors_carry_the_servers_message(project, start_hall_server):
    server = start_hall_server(project, prepare=contract_stand_in(project))
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

    server = start_hall_server(project, prepare=contract_stand_in(project))
    out = tmp_path / "visit.json"
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "client" / "drive_client.py"), server.url,
                           str(tmp_path / "cache"), str(out)], capture_output=True, text=True, timeout=90, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["panel"] == "前言"
    assert seen["hint"] == "按 Q 开始答题：小测验"
    assert seen["first_question"] == "1/2（判断）屯兰有十个主题展厅。"
    assert seen["quiz"].startswith("通过，得分 2/2")
    assert (seen["hall"], seen["room"], seen["loaded"]) == ("beta", "only", 1)
