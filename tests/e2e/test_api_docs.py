"""The API docs page in a real browser: Swagger UI from node_modules renders every operation, CSP intact."""

from __future__ import annotations

from server.web.openapi import OPERATIONS
from tests.e2e.conftest import page_errors, server_config

RENDERED = "() => document.querySelectorAll('.opblock').length"


def test_docs_page_shows_every_operation_without_errors(tmp_path, start_server, open_page):
    server = start_server(server_config(tmp_path))  # no build needed: the description is the page
    page = open_page(f"{server.url}/api/docs", width=1280, height=900)
    operations = sum(2 if op.also_head else 1 for op in OPERATIONS)
    shown = page.wait_for(f"() => {RENDERED[6:]} >= {operations} && {RENDERED[6:]}", timeout=30)
    assert shown == operations
    paths = page.evaluate("() => [...document.querySelectorAll('.opblock-summary-path')].map((e) => e.textContent)")
    for path in (
        "/api/halls/{hall_id}/checkpoints/{checkpoint_id}/attempts",
        "/api/session",
        "/xapi/statements",
        "/api/admin/dead-letters/{letter_id}/resend",
        "/api/health",
        "/objects/{name}",
    ):
        assert any(p.replace("\u200b", "") == path for p in paths), path
    title = page.text(".info .title")
    assert "Tunlan Halls API" in title and "3.1" in title
    assert page_errors(page) == []  # a CSP violation would be a console error
