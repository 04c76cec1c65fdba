"""Trainer reports: `/api/progress` (JSON and CSV), filters, the `/reports` page and `halls report`."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.config import ReportSettings
from server.learning.progress import BadFilter, add_report_arguments, parse_filter, report_command
from tests.server.test_quiz_support import TRAINER_CODE, FakeLrs, quiz_config, start_quiz

CHINA = timezone(timedelta(hours=8))
WRONG1 = {"s1": "A", "m1": ["A"], "t1": True}


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA).timestamp()


@pytest.fixture
def reported(tmp_path, start_server):
    """Three members: ann (一支部) completes alpha, bo (二支部) fails quiz1 once, cy (一支部) does nothing."""
    lrs = FakeLrs()
    config = quiz_config(tmp_path, lrs_url=lrs.url)
    server, api = start_quiz(start_server, config)
    ann = api.sign_in("ann", "安", branch="一支部")
    bo = api.sign_in("bo", "博", branch="二支部")
    api.sign_in("cy", "晨", branch="一支部")
    visit = api.visit(ann)
    api.attempt(ann, visit, "quiz1", WRONG1)
    api.attempt(ann, visit, "quiz1")
    api.attempt(ann, visit, "quiz2")
    api.call("POST", "/api/halls/alpha/dioramas/bridge/experienced", {"registration": visit, "seconds": 120}, ann)
    api.attempt(bo, api.visit(bo), "quiz1", WRONG1)
    # move the records to known days (China time): ann's first try and bo's on 10 March, the rest on 12 March
    connection = sqlite3.connect(tmp_path / "var" / "halls.sqlite")
    with connection:
        connection.execute("UPDATE members SET created = ?", (at("2026-03-01T09:00:00"),))
        connection.execute(
            "UPDATE attempts SET submitted = ?, duration = 60 WHERE number = 1 AND checkpoint = 'quiz1'",
            (at("2026-03-10T23:30:00"),),
        )
        connection.execute(
            "UPDATE attempts SET submitted = ?, duration = 30 WHERE NOT (number = 1 AND checkpoint = 'quiz1')",
            (at("2026-03-12T08:00:00"),),
        )
        connection.execute("UPDATE completions SET completed = ?", (at("2026-03-12T08:00:00"),))
        connection.execute("UPDATE experiences SET at = ?", (at("2026-03-12T09:00:00"),))
        connection.execute("UPDATE visits SET started = ?", (at("2026-03-10T23:00:00"),))
    connection.close()
    trainer = api.sign_in("t1", "李老师", enrolment_code=TRAINER_CODE)
    yield config, api, trainer
    lrs.stop()


def members_by_id(report):
    return {m["id"]: m for m in report["members"]}


def test_progress_lists_members_halls_checkpoints_and_completion_rates(reported):
    config, api, trainer = reported
    reply = api.call("GET", "/api/progress?branch=一支部,二支部", token=trainer)
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-store"
    report = reply.json()
    assert report["branches"] == ["一支部", "二支部"] and report["branch_choices"] == ["一支部", "二支部", "机电支部"]
    alpha, beta = report["halls"]
    assert alpha == {
        "id": "alpha",
        "title": {"zh": "alpha馆", "en": "Alpha"},
        "checkpoints": ["quiz1", "quiz2"],
        "enrolled": 3,
        "started": 2,
        "completed": 1,
        "completion_rate": 0.3333,
    }
    assert (beta["started"], beta["completed"], beta["completion_rate"]) == (0, 0, 0.0)
    members = members_by_id(report)
    assert list(members) == ["ann", "cy", "bo"]  # by branch, then id
    ann = members["ann"]
    assert (ann["name"], ann["branch"]) == ("安", "一支部")
    assert ann["halls"]["alpha"] == {
        "complete": True,
        "completed_at": "2026-03-12T08:00:00+08:00",
        "time_spent_s": 60 + 30 + 30 + 120,
        "checkpoints": {
            "quiz1": {
                "attempts": 2,
                "best_score": 1.0,
                "last_score": 1.0,
                "passed": True,
                "first_passed_at": "2026-03-12T08:00:00+08:00",
            },
            "quiz2": {
                "attempts": 1,
                "best_score": 1.0,
                "last_score": 1.0,
                "passed": True,
                "first_passed_at": "2026-03-12T08:00:00+08:00",
            },
        },
    }
    assert members["bo"]["halls"]["alpha"]["checkpoints"]["quiz1"] == {
        "attempts": 1,
        "best_score": 0.0,
        "last_score": 0.0,
        "passed": False,
        "first_passed_at": None,
    }
    assert members["cy"]["halls"] == {}


def test_branch_filter_keeps_only_that_branchs_members(reported):
    config, api, trainer = reported
    report = api.call("GET", "/api/progress?branch=二支部", token=trainer).json()
    assert list(members_by_id(report)) == ["bo"]
    assert report["halls"][0] | {} == report["halls"][0]
    assert (report["halls"][0]["enrolled"], report["halls"][0]["completed"]) == (1, 0)
    repeated = api.call("GET", "/api/progress?branch=一支部&branch=二支部", token=trainer).json()
    assert set(members_by_id(repeated)) == {"ann", "bo", "cy"}


def test_date_range_counts_whole_days_in_china_time(reported):
    config, api, trainer = reported
    tenth = api.call("GET", "/api/progress?from=2026-03-10&to=2026-03-10", token=trainer).json()
    assert tenth["from"] == "2026-03-10T00:00:00+08:00" and tenth["to"] == "2026-03-11T00:00:00+08:00"
    ann = members_by_id(tenth)["ann"]["halls"]["alpha"]
    assert ann["complete"] is False and ann["checkpoints"]["quiz1"]["attempts"] == 1
    assert "quiz2" not in ann["checkpoints"] and ann["time_spent_s"] == 60
    assert tenth["halls"][0]["completed"] == 0
    twelfth = api.call("GET", "/api/progress?from=2026-03-12&to=2026-03-12", token=trainer).json()
    assert twelfth["halls"][0]["completed"] == 1
    assert members_by_id(twelfth)["ann"]["halls"]["alpha"]["time_spent_s"] == 30 + 30 + 120
    assert "alpha" not in members_by_id(twelfth)["bo"]["halls"]
    before = api.call("GET", "/api/progress?to=2026-02-28", token=trainer).json()
    assert before["members"] == [] and before["halls"][0]["completion_rate"] is None
    moment = api.call("GET", "/api/progress?from=2026-03-12T08:30:00%2B08:00", token=trainer).json()
    assert members_by_id(moment)["ann"]["halls"]["alpha"]["time_spent_s"] == 120


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=yesterday", "from: expected a date YYYY-MM-DD or an ISO date-time, got 'yesterday'"),
        ("to=2026-13-01", "to: expected a date YYYY-MM-DD or an ISO date-time, got '2026-13-01'"),
        ("from=2026-03-12&to=2026-03-10", "to: must be after from"),
        ("branch=火星支部", "branch: unknown branch '火星支部' (one of: 一支部, 二支部, 机电支部)"),
    ],
)
def test_bad_filters_answer_400(reported, query, message):
    config, api, trainer = reported
    reply = api.call("GET", "/api/progress?" + query, token=trainer)
    assert (reply.status, reply.json()) == (400, {"error": message})


def test_csv_export_has_a_row_per_member_hall_and_checkpoint(reported):
    config, api, trainer = reported
    reply = api.call("GET", "/api/progress?format=csv", token=trainer)
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert reply.headers["Content-Disposition"] == 'attachment; filename="progress.csv"'
    text = reply.body.decode("utf-8")
    assert text.startswith("\ufeffmember_id,name,branch,hall,checkpoint,")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 4 * 3  # members ann, cy, bo, t1 x checkpoints quiz1, quiz2, only
    ann_quiz1 = next(r for r in rows if r["member_id"] == "ann" and r["checkpoint"] == "quiz1")
    assert ann_quiz1 == {
        "member_id": "ann",
        "name": "安",
        "branch": "一支部",
        "hall": "alpha",
        "checkpoint": "quiz1",
        "attempts": "2",
        "best_score": "1.0",
        "last_score": "1.0",
        "passed": "1",
        "first_passed_at": "2026-03-12T08:00:00+08:00",
        "hall_complete": "1",
        "hall_completed_at": "2026-03-12T08:00:00+08:00",
        "hall_time_spent_s": "240.0",
    }
    idle = next(r for r in rows if r["member_id"] == "cy" and r["checkpoint"] == "only")
    assert (idle["attempts"], idle["best_score"], idle["passed"]) == ("0", "", "0")


def test_reports_page_is_served_without_data_and_signs_trainers_in(reported):
    config, api, trainer = reported
    page = api.call("GET", "/reports")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.body.decode()
    assert "/api/progress" in text and "/api/session" in text and "安" not in text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def run_cli(*argv) -> tuple[int, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="halls report")
    add_report_arguments(parser)
    args = parser.parse_args(list(argv))
    return report_command(args), args


def test_halls_report_prints_a_table_json_and_csv(reported, capsys, tmp_path):
    config, api, trainer = reported
    code, _ = run_cli("--root", str(config.root))
    table = capsys.readouterr().out
    assert code == 0
    assert "alpha" in table and "25.0%" in table and "ann" in table  # ann, bo, cy and the trainer t1
    code, _ = run_cli("--root", str(config.root), "--json", "--branch", "二支部", "--from", "2026-03-10")
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and [m["id"] for m in report["members"]] == ["bo"]
    out = tmp_path / "progress.csv"
    code, _ = run_cli("--root", str(config.root), "--csv", "--to", "2026-03-10", "--out", str(out))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8").lstrip("\ufeff"))))
    assert next(r for r in rows if r["member_id"] == "ann" and r["checkpoint"] == "quiz1")["attempts"] == "1"


def test_halls_report_explains_a_bad_filter_or_missing_records(tmp_path, capsys):
    code, _ = run_cli("--root", str(tmp_path), "--from", "soon")
    assert code == 2 and "halls report: from: expected a date" in capsys.readouterr().err
    code, _ = run_cli("--root", str(tmp_path))
    assert code == 1 and "no learning records yet" in capsys.readouterr().err


def test_parse_filter_reads_dates_in_the_configured_offset():
    utc = ReportSettings(utc_offset=0)
    where = parse_filter({"from": "2026-03-10", "to": "2026-03-10"}, utc)
    assert (where.start, where.end) == (
        datetime(2026, 3, 10, tzinfo=UTC).timestamp(),
        datetime(2026, 3, 11, tzinfo=UTC).timestamp(),
    )
    assert parse_filter({}, utc) == parse_filter({"branch": ""}, utc)
    with pytest.raises(BadFilter):
        parse_filter({"from": "2026-03-10T25:00"}, utc)
