"""Presence and tours between real browser pages through the hub."""

from __future__ import annotations

import json
import math
import urllib.request

from tests.e2e.conftest import TRAINER_KEY, page_errors, wait_loaded

SEES = "(name) => window.__hallsViewer.avatars.find((a) => a.name === name && a.position)"


def test_two_pages_see_each_others_avatars_and_movements(halls_server, open_page):
    first = open_page(f"{halls_server.url}/halls/red?name=甲")
    second = open_page(f"{halls_server.url}/halls/red?name=乙")
    wait_loaded(first)
    wait_loaded(second)
    assert first.wait_for(SEES, "乙")["name"] == "乙"
    assert second.wait_for(SEES, "甲")["name"] == "甲"
    second.evaluate("() => window.__hallsViewer.goTo(3, -2, 90)")
    seen = first.wait_for(
        """(name) => { const a = window.__hallsViewer.avatars.find((m) => m.name === name);
        return a && Math.hypot(a.position[0] - 3, a.position[1] + 2) < 0.2 && a.position; }""",
        "乙",
    )
    assert math.isclose(seen[2], 1.6, abs_tol=0.1)  # the head, at eye height
    assert first.evaluate("() => document.getElementById('presence-count').textContent") == "在线 2 人"
    second.close()
    first.wait_for("(name) => !window.__hallsViewer.avatars.some((a) => a.name === name)", "乙")
    assert page_errors(first) == []


def test_a_tour_moves_a_follower_to_the_exhibit_and_gathers_them(halls_server, open_page):
    trainer = open_page(f"{halls_server.url}/halls/red?name=王老师&trainer={TRAINER_KEY}")
    member = open_page(f"{halls_server.url}/halls/red?name=学员")
    wait_loaded(trainer)
    wait_loaded(member)
    assert trainer.evaluate("() => location.search") == "?name=%E7%8E%8B%E8%80%81%E5%B8%88"  # key out of the URL
    trainer.wait_for("() => window.__hallsViewer.tour.role === 'trainer'")
    trainer.click("#tour-start")
    member.wait_for("() => window.__hallsViewer.tour.leader")
    member.click("#tour-follow")
    member.wait_for("() => window.__hallsViewer.tour.following")
    trainer.wait_for("() => window.__hallsViewer.tour.followers === 1")
    with urllib.request.urlopen(f"{halls_server.url}/api/halls/red", timeout=10) as response:
        exhibit = next(e for e in json.load(response)["exhibits"] if e["room"] == "brand")
    trainer.select("#tour-exhibit", exhibit["id"])
    trainer.click("#tour-goto")
    member.wait_for("() => window.__hallsViewer.tour.cues === 1 && !window.__hallsViewer.travelling")
    x, y, _ = member.viewer("position")
    assert math.hypot(x - exhibit["position"][0], y - exhibit["position"][1]) < 2.5
    assert member.viewer("room") == "brand"
    trainer.evaluate("() => window.__hallsViewer.goTo(30, 2, 0)")  # in 'value'
    trainer.click("#tour-gather")
    member.wait_for("() => window.__hallsViewer.tour.cues === 2 && !window.__hallsViewer.travelling")
    x, y, _ = member.viewer("position")
    assert math.hypot(x - 30, y - 2) < 1.6 and member.viewer("room") == "value"
    trainer.click("#tour-end")
    member.wait_for("() => !window.__hallsViewer.tour.leader")
    assert page_errors(trainer) == [] and page_errors(member) == []
