"""`halls lrs-user add|list|remove` against the database a running server uses; and the forwarder's credentials."""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stdout

from server.lrs.cli import add_lrs_arguments, lrs_command
from server.lrs.service import LRS_STATE, embedded_credentials
from tests.server.lrs_support import LrsClient, basic, lrs, lrs_server, statement  # noqa: F401 - fixtures


def _run(root, *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_lrs_arguments(parser)
    out = io.StringIO()
    with redirect_stdout(out):
        code = lrs_command(parser.parse_args(["--root", str(root), *argv]))
    return code, out.getvalue()


def test_lrs_user_add_list_remove_takes_effect_on_a_running_server(lrs, lrs_server, tmp_path, monkeypatch):
    monkeypatch.setattr("server.lrs.service.CREDENTIAL_TTL", 0.0)
    code, out = _run(tmp_path, "add", "培训中心报表", "--key", "reports", "--scope", "all/read", "--json")
    assert code == 0
    created = json.loads(out)
    assert created["key"] == "reports" and created["scopes"] == ["all/read"] and len(created["secret"]) >= 24
    reports = LrsClient(lrs.port, basic("reports", created["secret"]))
    assert reports.get("/xapi/statements").status == 200
    assert reports.post("/xapi/statements", statement()).status == 403
    code, out = _run(tmp_path, "list", "--json")
    listed = {row["key"]: row for row in json.loads(out)}
    assert listed["reports"]["name"] == "培训中心报表" and "secret" not in listed["reports"]
    assert "secret_hash" not in out
    assert _run(tmp_path, "remove", "reports")[0] == 0
    assert reports.get("/xapi/statements").status == 401
    assert _run(tmp_path, "remove", "reports")[0] == 1


def test_lrs_user_add_refuses_a_taken_key_and_a_bad_key(lrs, tmp_path):
    assert _run(tmp_path, "add", "one", "--key", "dup")[0] == 0
    assert _run(tmp_path, "add", "two", "--key", "dup")[0] == 1
    assert _run(tmp_path, "add", "three", "--key", "has space")[0] == 1


def test_lrs_user_add_reads_a_chosen_secret_from_stdin(lrs, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-chosen-secret\n"))
    assert _run(tmp_path, "add", "chosen", "--key", "chosen", "--secret-stdin")[0] == 0
    assert LrsClient(lrs.port, basic("chosen", "a-long-chosen-secret")).get("/xapi/statements").status == 200


def test_embedded_credentials_are_created_once_and_can_write(lrs, lrs_server):
    first = embedded_credentials(lrs_server.app)
    assert embedded_credentials(lrs_server.app) == first
    forwarder = LrsClient(lrs.port, basic(*first))
    sent = statement()
    assert forwarder.post("/xapi/statements", sent).status == 200
    got = lrs.get("/xapi/statements", {"statementId": sent["id"]}).json()
    assert got["authority"]["account"]["name"] == first[0]
    assert [s["id"] for s in forwarder.get("/xapi/statements").json()["statements"]] == [sent["id"]]
    assert lrs_server.app[LRS_STATE].db_path.stat().st_mode & 0o077 == 0
