"""Trainer reports: who attempted, passed and completed what, and for how long.

`build_report` reads the learning record for a date range and a set of
branches (支部) and returns, per member, per hall and per checkpoint:
attempts, best and last scores, pass and completion status, time spent
(attempt durations plus diorama time); and per hall: members enrolled,
started, completed and the completion rate.  Served as `/api/progress`
(JSON, or CSV with `format=csv`; see `server.learning.routes`) to trainers and
administrators, as a page at `/reports`, and by `halls report` on the
command line.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from aiohttp import web
from multidict import MultiMapping

from server.config import ReportSettings, config_list

log = logging.getLogger(__name__)

CSV_COLUMNS = (
    "member_id",
    "name",
    "branch",
    "hall",
    "checkpoint",
    "attempts",
    "best_score",
    "last_score",
    "passed",
    "first_passed_at",
    "hall_complete",
    "hall_completed_at",
    "hall_time_spent_s",
)


REPORTS: web.AppKey[ReportSettings] = web.AppKey("report_settings", ReportSettings)
"""The app's report settings (`report_*` keys); the branches to choose from are the sign-in's (`branches`)."""


@dataclass(frozen=True)
class HallInfo:
    id: str
    title: dict
    checkpoints: tuple[str, ...]


@dataclass(frozen=True)
class ReportFilter:
    start: float | None = None
    """Earliest activity time counted (epoch seconds), inclusive."""
    end: float | None = None
    """Latest activity time counted, exclusive."""
    branches: tuple[str, ...] = ()
    """Only members of these branches (all when empty)."""


class BadFilter(ValueError):
    """A filter value that cannot be read (the message names it)."""


def parse_filter(
    query: Mapping[str, str] | MultiMapping[str], settings: ReportSettings, branches: Sequence[str] = ()
) -> ReportFilter:
    """`from`, `to` (dates `YYYY-MM-DD`, `to` inclusive, or ISO date-times) and `branch` (repeated or comma-separated).

    A branch must be one of `branches` (the configured ones) unless that is empty.
    """
    start = _moment(query.get("from"), settings.zone, "from", end=False)
    end = _moment(query.get("to"), settings.zone, "to", end=True)
    if start is not None and end is not None and end <= start:
        raise BadFilter("to: must be after from")
    raw = (
        query.getall("branch", [])
        if isinstance(query, MultiMapping)
        else [query.get("branch")]
        if query.get("branch")
        else []
    )
    chosen = tuple(b for value in raw for b in config_list(value))
    unknown = [b for b in chosen if branches and b not in branches]
    if unknown:
        raise BadFilter(f"branch: unknown branch {unknown[0]!r} (one of: {', '.join(branches)})")
    return ReportFilter(start, end, chosen)


def build_report(
    connection: sqlite3.Connection,
    halls: Sequence[HallInfo],
    where: ReportFilter,
    settings: ReportSettings,
    branches: Sequence[str] = (),
    now: float | None = None,
) -> dict:
    """The report for `where` over `halls` (in catalog order); `branches` are the configured ones to choose from."""
    now = time.time() if now is None else now
    members = _members(connection, where)
    known = set(members)
    hall_ids = {hall.id for hall in halls}
    per_member: dict[str, dict[str, dict]] = {m: {} for m in members}

    def hall_entry(member: str, hall: str) -> dict:
        return per_member[member].setdefault(
            hall, {"complete": False, "completed_at": None, "time_spent_s": 0.0, "checkpoints": {}}
        )

    started: dict[str, set[str]] = {hall.id: set() for hall in halls}
    for member, hall, _number, scaled, passed, submitted, duration, checkpoint in _rows(
        connection,
        "SELECT member, hall, number, scaled, passed, submitted, duration, checkpoint FROM attempts",
        "submitted",
        where,
        "ORDER BY member, hall, checkpoint, number",
    ):
        if member not in known or hall not in hall_ids:
            continue
        started[hall].add(member)
        entry = hall_entry(member, hall)
        entry["time_spent_s"] += duration
        cp = entry["checkpoints"].setdefault(
            checkpoint,
            {"attempts": 0, "best_score": None, "last_score": None, "passed": False, "first_passed_at": None},
        )
        cp["attempts"] += 1
        cp["best_score"] = scaled if cp["best_score"] is None else max(cp["best_score"], scaled)
        cp["last_score"] = scaled
        if passed and not cp["passed"]:
            cp["passed"], cp["first_passed_at"] = True, _iso(submitted, settings.zone)
    for member, hall, seconds in _rows(
        connection, "SELECT member, hall, SUM(seconds) FROM experiences", "at", where, "GROUP BY member, hall"
    ):
        if member in known and hall in hall_ids:
            started[hall].add(member)
            hall_entry(member, hall)["time_spent_s"] += seconds
    for member, hall in _rows(connection, "SELECT DISTINCT member, hall FROM visits", "started", where):
        if member in known and hall in hall_ids:
            started[hall].add(member)
    completed: dict[str, set[str]] = {hall.id: set() for hall in halls}
    for member, hall, moment in _rows(
        connection, "SELECT member, hall, completed FROM completions", "completed", where
    ):
        if member in known and hall in hall_ids:
            completed[hall].add(member)
            entry = hall_entry(member, hall)
            entry["complete"], entry["completed_at"] = True, _iso(moment, settings.zone)
    for halls_of_member in per_member.values():
        for entry in halls_of_member.values():
            entry["time_spent_s"] = round(entry["time_spent_s"], 1)
    enrolled = len(members)
    return {
        "from": _iso(where.start, settings.zone),
        "to": _iso(where.end, settings.zone),
        "branches": list(where.branches),
        "branch_choices": list(branches),
        "generated": _iso(now, settings.zone),
        "halls": [
            {
                "id": hall.id,
                "title": hall.title,
                "checkpoints": list(hall.checkpoints),
                "enrolled": enrolled,
                "started": len(started[hall.id]),
                "completed": len(completed[hall.id]),
                "completion_rate": round(len(completed[hall.id]) / enrolled, 4)
                if enrolled and hall.checkpoints
                else None,
            }
            for hall in halls
        ],
        "members": [
            {"id": member_id, "name": name, "branch": branch, "halls": per_member[member_id]}
            for member_id, (name, branch) in members.items()
        ],
    }


def report_csv(report: dict) -> str:
    """One row per member, hall and checkpoint (every checkpoint of every hall, attempted or not)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for member in report["members"]:
        for hall in report["halls"]:
            entry = member["halls"].get(hall["id"], {})
            for checkpoint in hall["checkpoints"]:
                cp = entry.get("checkpoints", {}).get(checkpoint, {})
                writer.writerow(
                    [
                        member["id"],
                        member["name"],
                        member["branch"] or "",
                        hall["id"],
                        checkpoint,
                        cp.get("attempts", 0),
                        _blank(cp.get("best_score")),
                        _blank(cp.get("last_score")),
                        int(bool(cp.get("passed"))),
                        cp.get("first_passed_at") or "",
                        int(bool(entry.get("complete"))),
                        entry.get("completed_at") or "",
                        entry.get("time_spent_s", 0.0),
                    ]
                )
    return out.getvalue()


def halls_of_build(catalog: dict, release: Path | None, keys) -> list[HallInfo]:
    """The halls of a build in catalog order, with their checkpoint ids (from the answer keys)."""
    halls = []
    for entry in catalog.get("halls", []):
        checkpoints = tuple(keys.hall(release, entry["id"]))
        halls.append(HallInfo(entry["id"], entry.get("title") or {"zh": entry["id"]}, checkpoints))
    return halls


# --- HTTP -------------------------------------------------------------------------


async def reports_page_handler(request: web.Request) -> web.Response:
    """`GET /reports`: a page that signs a trainer in and shows `/api/progress` (it holds no data itself)."""
    return web.Response(
        text=REPORT_PAGE,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
        },
    )


# --- command line -----------------------------------------------------------------


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `halls report`."""
    parser.add_argument("--root", type=Path, default=None, help="project folder (default: .)")
    parser.add_argument("--config", type=Path, default=None, help="config file, TOML or YAML (or $HALLS_CONFIG)")
    parser.add_argument("--from", dest="start", help="first day (YYYY-MM-DD) or ISO date-time")
    parser.add_argument("--to", dest="end", help="last day, inclusive (YYYY-MM-DD) or ISO date-time")
    parser.add_argument("--branch", action="append", default=[], help="only this branch (支部); repeatable")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the full report as JSON")
    output.add_argument("--csv", action="store_true", help="print one CSV row per member, hall and checkpoint")
    parser.add_argument("--out", type=Path, help="write to this file instead of standard output")


def report_command(args: argparse.Namespace) -> int:
    """`halls report`: the progress report from the server's database, as a table, JSON or CSV."""
    from server.config import ConfigError, load_config
    from server.learning.quiz import AnswerKeys
    from server.web.catalog import load_build

    try:
        config = load_config(file=args.config, env=os.environ, flags={"root": args.root})
    except ConfigError as problem:
        print(f"halls report: {problem}", file=sys.stderr)
        return 2
    settings, branches = config.report, config.auth.branches
    query = {"from": args.start, "to": args.end, "branch": ",".join(args.branch)}
    try:
        where = parse_filter({k: v for k, v in query.items() if v}, settings, branches)
    except BadFilter as bad:
        print(f"halls report: {bad}", file=sys.stderr)
        return 2
    database = config.var_path / "halls.sqlite"
    if not database.is_file():
        print(f"halls report: no learning records yet ({database} does not exist)", file=sys.stderr)
        return 1
    view = load_build(config.build_path, config.objects_url)
    halls = halls_of_build(view.catalog.value, view.release, AnswerKeys())
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        report = build_report(connection, halls, where, settings, branches)
    finally:
        connection.close()
    if args.json:
        text = json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    elif args.csv:
        text = report_csv(report)
    else:
        text = report_table(report)
    if args.out:
        args.out.write_text(("\ufeff" if args.csv else "") + text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def report_table(report: dict) -> str:
    """A plain-text summary: completion per hall, then each member's completed halls and time."""
    lines = [
        f"progress {report['from'] or '…'} – {report['to'] or '…'}"
        + (f"  branches: {', '.join(report['branches'])}" if report["branches"] else ""),
        "",
    ]
    lines.append(f"{'hall':<18} {'enrolled':>8} {'started':>8} {'complete':>8} {'rate':>7}")
    for hall in report["halls"]:
        rate = "-" if hall["completion_rate"] is None else f"{hall['completion_rate'] * 100:.1f}%"
        lines.append(f"{hall['id']:<18} {hall['enrolled']:>8} {hall['started']:>8} {hall['completed']:>8} {rate:>7}")
    lines += ["", f"{'member':<16} {'branch':<12} {'halls complete':>14} {'minutes':>8}"]
    for member in report["members"]:
        done = sum(1 for entry in member["halls"].values() if entry["complete"])
        minutes = sum(entry["time_spent_s"] for entry in member["halls"].values()) / 60
        lines.append(f"{member['id']:<16} {(member['branch'] or '-'):<12} {done:>14} {minutes:>8.1f}")
    return "\n".join(lines) + "\n"


# --- private helpers ---------------------------------------------------------------


def _members(connection: sqlite3.Connection, where: ReportFilter) -> dict[str, tuple[str, str | None]]:
    sql = "SELECT id, name, branch FROM members"
    params: list[str | float] = []
    clauses: list[str] = []
    if where.branches:
        clauses.append(f"branch IN ({','.join('?' * len(where.branches))})")
        params += where.branches
    if where.end is not None:
        clauses.append("created < ?")
        params.append(where.end)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    rows = connection.execute(sql + " ORDER BY branch, id", params).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def _rows(connection: sqlite3.Connection, select: str, column: str, where: ReportFilter, tail: str = "") -> Iterable:
    clauses, params = [], []
    if where.start is not None:
        clauses.append(f"{column} >= ?")
        params.append(where.start)
    if where.end is not None:
        clauses.append(f"{column} < ?")
        params.append(where.end)
    sql = select + (" WHERE " + " AND ".join(clauses) if clauses else "") + (" " + tail if tail else "")
    return connection.execute(sql, params)


def _moment(value: str | None, zone: timezone, name: str, *, end: bool) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=zone) + (timedelta(days=1) if end else timedelta())
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        raise BadFilter(f"{name}: expected a date YYYY-MM-DD or an ISO date-time, got {value!r}") from None
    return moment.timestamp()


def _iso(seconds: float | None, zone: timezone) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=zone).isoformat(timespec="seconds")


def _blank(value: float | None) -> str | float:
    return "" if value is None else value


REPORT_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>学习记录 · 屯兰VR展厅</title>
<style>
body{font-family:system-ui,"Microsoft YaHei",sans-serif;margin:1.5rem;color:#222}
h1{color:#b22222;font-size:1.4rem} table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left} th{background:#f4efe6}
form{margin:.5rem 0} label{margin-right:.8rem} .error{color:#b22222} .ok{color:#1a7f37}
</style></head><body>
<h1>学习记录 Progress report</h1>
<form id="signin"><label>工号 Member id <input name="member_id" required></label>
<label>姓名 Name <input name="name" required></label>
<label>个人码 Code <input name="enrolment_code" type="password"></label><button>登录 Sign in</button></form>
<form id="filters" hidden><label>从 From <input type="date" name="from"></label>
<label>到 To <input type="date" name="to"></label>
<label>支部 Branch <select name="branch"><option value="">全部 all</option></select></label>
<button>查询 Show</button> <button type="button" id="csv">导出CSV Export CSV</button></form>
<p id="status"></p><div id="halls"></div><div id="members"></div>
<script>
"use strict";
let token = sessionStorage.getItem("halls-token");
const $ = (id) => document.getElementById(id);
function cell(row, text, tag = "td") { const c = document.createElement(tag); c.textContent = text ?? ""; row.append(c); }
function table(headers, rows) {
  const t = document.createElement("table"), head = t.insertRow();
  headers.forEach((h) => cell(head, h, "th"));
  rows.forEach((r) => { const row = t.insertRow(); r.forEach((v) => cell(row, v)); });
  return t;
}
function query() {
  const data = new FormData($("filters")), params = new URLSearchParams();
  for (const [k, v] of data) if (v) params.append(k, v);
  return params;
}
function say(text, bad) { $("status").textContent = text; $("status").className = bad ? "error" : "ok"; }
async function api(path) {
  const response = await fetch(path, {headers: {Authorization: "Bearer " + token}});
  if (!response.ok) { const body = await response.json().catch(() => ({})); throw new Error(body.error || response.statusText); }
  return response;
}
async function show() {
  try {
    const report = await (await api("/api/progress?" + query())).json();
    const select = $("filters").branch;
    if (select.options.length === 1) report.branch_choices.forEach((b) => select.add(new Option(b, b)));
    $("halls").replaceChildren(table(["展厅 Hall", "应学 Enrolled", "已学 Started", "完成 Completed", "完成率 Rate"],
      report.halls.map((h) => [h.title.zh || h.id, h.enrolled, h.started, h.completed,
        h.completion_rate === null ? "-" : (h.completion_rate * 100).toFixed(1) + "%"])));
    const rows = [];
    for (const m of report.members) for (const [hall, e] of Object.entries(m.halls))
      rows.push([m.id, m.name, m.branch, hall, e.complete ? "✔" : "", Math.round(e.time_spent_s / 60),
        Object.entries(e.checkpoints).map(([cp, c]) => `${cp}: ${c.attempts}次 ${c.best_score ?? "-"}${c.passed ? " ✔" : ""}`).join("; ")]);
    $("members").replaceChildren(table(["工号", "姓名", "支部", "展厅", "完成", "分钟", "答题 Checkpoints"], rows));
    say(`${report.members.length} 名党员 members · ${report.generated}`);
  } catch (e) { say(e.message, true); }
}
$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = Object.fromEntries(new FormData(event.target));
  if (!body.enrolment_code) delete body.enrolment_code;
  const response = await fetch("/api/session", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const data = await response.json();
  if (!response.ok) return say(data.error, true);
  if (data.member.role === "member") return say("需要培训师或管理员权限 trainer or admin role required", true);
  token = data.token; sessionStorage.setItem("halls-token", token); start();
});
$("filters").addEventListener("submit", (event) => { event.preventDefault(); show(); });
$("csv").addEventListener("click", async () => {
  try {
    const params = query(); params.set("format", "csv");
    const blob = await (await api("/api/progress?" + params)).blob();
    const link = document.createElement("a"); link.href = URL.createObjectURL(blob); link.download = "progress.csv"; link.click();
  } catch (e) { say(e.message, true); }
});
function start() { $("signin").hidden = true; $("filters").hidden = false; show(); }
if (token) start();
</script></body></html>
"""
