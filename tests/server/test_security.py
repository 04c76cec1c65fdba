"""Claims of docs/security.md that no other test covers: request size limits, and that every test the page
cites exists (so the threat model cannot cite a check that is gone)."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

from tests.server.conftest import fetch

ROOT = Path(__file__).resolve().parents[2]
SECURITY = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")


def _post(port: int, path: str, body: bytes, headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    except (BrokenPipeError, ConnectionResetError):  # the server may stop reading once the limit is passed
        return 413, b""
    finally:
        connection.close()


def test_a_request_body_over_max_body_bytes_is_413_and_the_server_keeps_serving(server, config):
    body = json.dumps({"member_id": "m1", "name": "x" * (config.max_body_bytes + 10)}).encode()
    status, _ = _post(server.port, "/api/session", body)
    assert status == 413
    assert fetch(server.port, "/api/health").status == 200


def test_a_request_just_under_the_limit_is_read_and_answered_on_its_merits(server, config):
    body = json.dumps({"member_id": "m1", "name": "x" * (config.max_body_bytes - 200)}).encode()
    status, reply = _post(server.port, "/api/session", body)
    assert status == 400 and b"name" in reply  # too long a name: refused by the rules, not by the size limit


def test_every_test_the_threat_model_cites_exists():
    cited = set(re.findall(r"`(test_[a-z0-9_]+)`", SECURITY))
    defined = {
        match
        for path in (ROOT / "tests").rglob("test_*.py")
        for match in re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", path.read_text(encoding="utf-8"), re.M)
    }
    assert len(cited) >= 20, "docs/security.md backs its claims with tests: cite them as `test_name`"
    assert cited <= defined, f"docs/security.md cites tests that do not exist: {sorted(cited - defined)}"
