"""The catalog and the hall viewer in a real browser: loading, rendering, walking, exhibits, quizzes."""

from __future__ import annotations

import io
import json
import math
import urllib.request
import uuid

import pytest
from PIL import Image

from tests.e2e.conftest import HALL_IDS, page_errors, wait_loaded

HIDE_UI = """() => {
  for (const node of document.body.children) if (node.id !== 'view') node.style.visibility = 'hidden';
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}"""


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def manifest(server, hall: str) -> dict:
    return get_json(f"{server.url}/api/halls/{hall}?variant=meshopt")


def canvas_stats(png: bytes) -> tuple[int, float]:
    """(distinct colours, share of the commonest colour) of a screenshot."""
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    colours = image.getcolors(256)
    assert colours is not None, "a 256-colour image has at most 256 colours"
    counts = sorted((count for count, _ in colours), reverse=True)
    return len(counts), counts[0] / sum(counts)


def test_catalog_lists_every_hall_with_its_chinese_title(halls_server, open_page):
    page = open_page(halls_server.url + "/")
    page.wait_for("() => window.__hallsCatalog && window.__hallsCatalog.rendered > 0")
    cards = page.evaluate("""() => [...document.querySelectorAll('.hall-card')].map((card) => ({
        id: card.dataset.hall, title: card.querySelector('.hall-title').textContent,
        href: card.querySelector('a').getAttribute('href'), facts: card.querySelector('.hall-facts').textContent,
        thumb: Boolean(card.querySelector('.thumb')) }))""")
    catalog = get_json(halls_server.url + "/api/halls")
    assert [c["id"] for c in cards] == [h["id"] for h in catalog["halls"]]
    assert sorted(c["id"] for c in cards) == HALL_IDS
    titles = {h["id"]: h["title"]["zh"] for h in catalog["halls"]}
    for card in cards:
        assert card["title"] == titles[card["id"]]
        assert card["href"] == f"/halls/{card['id']}"
        assert "个展厅" in card["facts"] and "MB" in card["facts"] and card["thumb"]
    assert titles["red"] == "红色屯兰" and titles["party-history"] == "党史教育"
    page.click("#lang")
    assert page.text(".catalog-intro").startswith("Ten theme halls")
    page.click("#lang")
    page.click("#signin-button")  # signing in on the catalog shows progress badges (none yet for a new member)
    page.fill("#signin input[name=member_id]", f"CAT-{uuid.uuid4().hex[:8]}")
    page.fill("#signin input[name=name]", "李四")
    page.click("#signin button[type=submit]")
    page.wait_for("() => document.getElementById('member').textContent === '已登录：李四'")
    assert page.evaluate("() => document.querySelectorAll('.badge').length") == 0
    page.goto(f"{halls_server.url}/halls/lobby?name=访客")  # the session, not the typed name, names the member
    page.wait_for("() => window.__hallsViewer?.member")
    assert page.evaluate("() => window.__hallsViewer.member.name") == "李四"
    assert page_errors(page) == []


@pytest.mark.parametrize("hall", HALL_IDS)
def test_hall_streams_renders_and_reports_its_meshes(halls_server, open_page, hall):
    page = open_page(f"{halls_server.url}/halls/{hall}")
    wait_loaded(page)
    expected = manifest(halls_server, hall)
    state = page.evaluate("""() => { const v = window.__hallsViewer; return {
        chunks: v.chunks, meshes: v.meshes, textured: v.textured, first: v.firstFrameMs, loaded: v.loadedMs,
        bytes: v.bytes,
        firstBytes: v.firstFrameBytes, hashes: v.chunkHashes, room: v.room, error: v.error } }""")
    assert state["error"] is None
    assert sorted(state["chunks"]) == sorted(c["id"] for c in expected["chunks"])
    assert state["hashes"] == {c["id"]: c["model"]["sha256"] for c in expected["chunks"]}
    assert state["meshes"] >= len(expected["chunks"])
    assert state["textured"] >= len(expected["exhibits"]) // 2  # text panels carry their pictures once loaded
    assert state["room"] == expected["spawn"]["room"]
    # the first frame with scenery came before the whole hall had arrived
    assert state["first"] <= state["loaded"]
    total = sum(c["model"]["size"] for c in expected["chunks"])
    assert state["bytes"]["total"] == total and 0.99 * total <= state["bytes"]["loaded"] <= total  # padding skipped
    if len(expected["chunks"]) > 1:
        assert state["firstBytes"] < state["bytes"]["total"]
    page.evaluate(HIDE_UI)
    colours, commonest = canvas_stats(page.screenshot())
    assert colours > 40, f"{hall}: the canvas looks blank ({colours} colours)"
    assert commonest < 0.9, f"{hall}: one colour fills {commonest:.0%} of the canvas"
    assert page_errors(page) == []


def test_walking_into_a_wall_is_stopped_and_doorways_let_you_through(halls_server, open_page):
    page = open_page(f"{halls_server.url}/halls/red")
    wait_loaded(page)
    page.evaluate("() => window.__hallsViewer.goTo(-5, 3, 0)")  # facing the north wall (inner face y = 4.8)
    page.evaluate("() => document.getElementById('view').focus()")
    page.key_down("w")
    page.wait_for("() => window.__hallsViewer.position[1] > 4.4")  # reached the wall...
    frames = page.viewer("frames")
    page.wait_for("(n) => window.__hallsViewer.frames > n + 20", frames)  # ...and keeps pushing for 20 frames
    page.key_up("w")
    x, y, _ = page.viewer("position")
    assert y <= 4.8 - 0.25 + 0.01, f"walked to y={y}"
    assert abs(x + 5) < 0.01
    page.evaluate("() => window.__hallsViewer.goTo(5.5, 0, 270)")  # facing east, the doorway to 'brand'
    page.key_down("ArrowUp")
    page.wait_for("() => window.__hallsViewer.position[0] > 7.5")
    page.key_up("ArrowUp")
    assert page.viewer("room") == "brand"
    assert page_errors(page) == []


def test_clicking_or_approaching_an_exhibit_opens_its_chinese_text(halls_server, open_page):
    page = open_page(f"{halls_server.url}/halls/red")
    wait_loaded(page)
    intro = next(e for e in manifest(halls_server, "red")["exhibits"] if e["id"] == "red-intro")
    page.evaluate("() => window.__hallsViewer.goTo(0, 1.5, 0)")  # 3.25 m in front: beyond its radius
    assert page.viewer("panel") is None
    page.mouse_click(400, 250)  # the centre of the view
    panel = page.wait_for("() => window.__hallsViewer.panel")
    assert panel["exhibit"] == "red-intro"
    assert intro["title"]["zh"] in panel["text"] and intro["text"]["zh"][:40] in panel["text"]
    page.press("Escape")
    assert page.viewer("panel") is None
    page.evaluate("() => window.__hallsViewer.goTo(-4.6, 3.2, 0)")  # walk up to 'five-measures'
    panel = page.wait_for("() => window.__hallsViewer.panel")
    assert panel["exhibit"] == "five-measures"
    assert page_errors(page) == []


def test_diorama_narration_starts_on_entering_its_area(halls_server, open_page):
    page = open_page(f"{halls_server.url}/halls/party-history")
    wait_loaded(page)
    luding = next(e for e in manifest(halls_server, "party-history")["exhibits"] if e["id"] == "luding-bridge")
    assert page.viewer("caption") is None
    page.evaluate("() => window.__hallsViewer.goTo(11, 0, 270)")
    caption = page.wait_for("() => window.__hallsViewer.caption")
    assert luding["text"]["zh"][:30] in caption


def test_checkpoint_opens_on_entering_and_shows_the_graded_result(halls_server, halls_project, open_page):
    page = open_page(f"{halls_server.url}/halls/red")
    wait_loaded(page)
    checkpoint = manifest(halls_server, "red")["checkpoints"][0]
    keys = json.loads((halls_project / "build/current/private/answers/red.json").read_text())["checkpoints"][0]
    x, y, _ = checkpoint["position"]
    page.evaluate("([x, y]) => window.__hallsViewer.goTo(x - 2.5, y, 270)", [x, y])
    page.evaluate("() => document.getElementById('view').focus()")
    page.key_down("w")  # walk east into the trigger circle
    quiz = page.wait_for("() => window.__hallsViewer.quiz")
    page.key_up("w")
    assert quiz["checkpoint"] == checkpoint["id"] and "答题前请先登录" in quiz["text"]
    page.fill("#quiz input[name=member_id]", f"TL-{uuid.uuid4().hex[:8]}")
    page.fill("#quiz input[name=name]", "张三")
    page.click("#quiz form.signin button[type=submit]")
    page.wait_for("() => document.querySelector('#quiz form.quiz')")
    text = page.text("#quiz")
    for question in checkpoint["questions"]:
        assert question["prompt"]["zh"] in text
    for question in keys["questions"]:
        answers = question["answer"] if isinstance(question["answer"], list) else [question["answer"]]
        for answer in answers:
            value = json.dumps(answer) if isinstance(answer, bool) else answer
            page.check(f'#quiz fieldset[data-question="{question["id"]}"] input[value="{value}"]')
    page.click("#quiz form.quiz button[type=submit]")
    result = page.wait_for("() => window.__hallsViewer.quiz && window.__hallsViewer.quiz.result")
    assert result["passed"] and result["score"]["raw"] == result["score"]["max"] == len(keys["questions"])
    shown = page.text("#quiz")
    assert "恭喜，通过" in shown and "本展馆学习已全部完成" in shown
    assert page_errors(page) == []
    page.goto(halls_server.url + "/")  # the catalog shows the member's progress
    badge = page.wait_for("() => document.querySelector('[data-hall=red] .badge')?.textContent")
    assert badge == "已完成"
    page.goto(f"{halls_server.url}/halls/red")  # back at the checkpoint: passed, no more attempts
    wait_loaded(page)
    page.evaluate("([x, y]) => window.__hallsViewer.goTo(x, y, 270)", [x, y])
    page.wait_for("() => document.querySelector('#quiz .standing')")
    assert "你已通过本答题点" in page.text("#quiz")
    assert page.evaluate("() => document.querySelector('#quiz form.quiz button[type=submit]').disabled")


def test_keyboard_only_room_jump_language_switch_and_snap_turns(halls_server, open_page):
    page = open_page(
        init_scripts=("localStorage.setItem('halls.settings', JSON.stringify({reducedMotion: true, voice: false}))",)
    )
    page.goto(f"{halls_server.url}/halls/red")
    wait_loaded(page)
    page.evaluate("() => document.getElementById('view').focus()")
    page.press("m")
    assert page.evaluate("() => document.activeElement.dataset.room") == "foyer"
    page.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.room") == "brand"
    page.press("Enter")
    assert page.viewer("room") == "brand"  # reduced motion: no glide, at once
    assert page.evaluate("() => document.getElementById('room-list').hidden")
    heading = page.viewer("heading")
    page.press("ArrowLeft")
    turned = (page.viewer("heading") - heading) % 360
    assert abs(turned - 30) < 0.01
    page.click("#lang")
    assert page.text("#rooms-button") == "Rooms" and page.text("#back") == "All halls"
    page.click("#lang")
    assert page.text("#rooms-button") == "房间"


def test_fly_mode_rises_passes_walls_and_lands_back_on_a_floor(halls_server, open_page):
    page = open_page(f"{halls_server.url}/halls/red")
    wait_loaded(page)
    page.evaluate("() => window.__hallsViewer.goTo(-5, 3, 0)")
    page.evaluate("() => document.getElementById('view').focus()")
    page.press("f")
    assert page.viewer("fly") and page.text("#fly-button") == "行走"
    page.key_down("Space")
    page.wait_for("() => window.__hallsViewer.position[2] > 0.5")
    page.key_up("Space")
    page.press("f")  # back to walking: down onto the floor below
    x, y, z = page.viewer("position")
    assert not page.viewer("fly") and abs(z) < 0.05 and math.isclose(x, -5, abs_tol=0.01)
    page.press("f")
    page.key_down("w")
    page.wait_for("() => window.__hallsViewer.position[1] > 5.3")  # through the north wall, out of the hall
    page.key_up("w")
    page.press("f")  # nothing to stand on out there: back where flying began
    x, y, z = page.viewer("position")
    assert math.isclose(y, 3, abs_tol=0.01) and abs(z) < 0.05


def test_walking_through_a_doorway_to_another_hall_opens_that_hall(halls_server, open_page):
    page = open_page(f"{halls_server.url}/halls/red")
    wait_loaded(page)
    portal = next(d for d in manifest(halls_server, "red")["doorways"] if d["to_hall"])
    x, y, _ = portal["position"]
    page.evaluate("([x, y]) => window.__hallsViewer.goTo(x + 1, y, 90)", [x, y])  # facing west, out through it
    page.evaluate("() => document.getElementById('view').focus()")
    page.key_down("w")
    page.wait_for("(hall) => location.pathname === `/halls/${hall}`", portal["to_hall"])
    page.key_up("w")
    wait_loaded(page)
    assert page.viewer("hall") == portal["to_hall"]


def test_touch_joystick_walks_and_drag_looks_around(halls_server, open_page):
    page = open_page(f"{halls_server.url}/halls/red", width=390, height=700)
    wait_loaded(page)
    page.evaluate("() => window.__hallsViewer.goTo(-5, 0, 0)")
    touch = """([selector, type, dx, dy]) => {
      const node = document.querySelector(selector);
      const box = node.getBoundingClientRect();
      node.dispatchEvent(new PointerEvent(type, { pointerId: 7, pointerType: 'touch', bubbles: true,
        clientX: box.left + box.width / 2 + dx, clientY: box.top + box.height / 2 + dy }));
    }"""
    page.evaluate("() => document.body.classList.add('touch')")
    assert page.evaluate("() => getComputedStyle(document.getElementById('joystick')).display") == "block"
    page.evaluate(touch, ["#joystick", "pointerdown", 0, -50])  # stick pushed forward
    page.wait_for("() => window.__hallsViewer.position[1] > 1")
    page.evaluate(touch, ["#joystick", "pointerup", 0, -50])
    heading = page.viewer("heading")
    page.evaluate(touch, ["#view", "pointerdown", 0, 0])
    page.evaluate(touch, ["#view", "pointermove", 60, 0])
    page.evaluate(touch, ["#view", "pointerup", 60, 0])
    page.wait_for("(h) => Math.abs(window.__hallsViewer.heading - h) > 10", heading)
