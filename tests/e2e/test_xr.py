"""The WebXR path with a scripted XR device (headless Chromium has no immersive-vr)."""

from __future__ import annotations

import json
import math
import uuid

from tests.e2e.conftest import FAKE_XR, page_errors, wait_loaded


def test_fake_headset_enters_vr_teleports_snap_turns_and_opens_an_exhibit(halls_server, open_page):
    page = open_page(init_scripts=(FAKE_XR,))
    page.goto(f"{halls_server.url}/halls/red")
    wait_loaded(page)
    page.wait_for("() => window.__hallsViewer.xr.supported")
    assert page.evaluate("() => !document.getElementById('vr-button').hidden")
    assert page.text("#vr-button") == "进入VR"
    page.evaluate("() => window.__hallsViewer.goTo(-5, 0, 0)")  # spawn, facing north
    page.click("#vr-button")
    page.wait_for("() => window.__hallsViewer.xr.presenting && window.__fakeXR.session.frames > 3")
    assert page.text("#vr-button") == "退出VR"
    head = page.viewer("camera")
    assert math.isclose(head[0], -5, abs_tol=0.01) and math.isclose(head[2], 1.6, abs_tol=0.01)

    page.evaluate("() => { window.__fakeXR.connect(); window.__fakeXR.aim(-33); window.__fakeXR.select(); }")
    page.wait_for("() => window.__hallsViewer.xr.teleports === 1")
    x, y, z = page.viewer("camera")  # the head now stands over the floor point the laser hit
    assert math.isclose(x, -4.8, abs_tol=0.15) and 1.8 < y < 2.4 and math.isclose(z, 1.6, abs_tol=0.05)

    heading = page.viewer("heading")
    page.evaluate("() => window.__fakeXR.stick(1)")
    page.wait_for("() => window.__hallsViewer.xr.turns === 1")
    page.evaluate("() => window.__fakeXR.stick(0)")
    assert math.isclose((heading - page.viewer("heading")) % 360, 30, abs_tol=0.01)  # a right snap turn
    page.evaluate("() => window.__fakeXR.stick(-1)")
    page.wait_for("() => window.__hallsViewer.xr.turns === 2")
    page.evaluate("() => window.__fakeXR.stick(0)")

    page.evaluate("() => window.__hallsViewer.goTo(0, 2, 0)")  # the 'red-intro' panel is ahead on the north wall
    page.evaluate("() => { window.__fakeXR.aim(-3, 0, [0, 1.5, 0]); window.__fakeXR.select(); }")
    page.wait_for("() => window.__hallsViewer.xr.panel")
    assert page.viewer("xr.teleports") == 1  # pointing at an exhibit opens it; no teleport

    page.evaluate("() => window.__fakeXR.session.end()")
    page.wait_for("() => !window.__hallsViewer.xr.presenting")
    assert page.text("#vr-button") == "进入VR"
    assert page_errors(page) == []


def test_no_vr_button_without_immersive_vr(halls_server, open_page):
    page = open_page(f"{halls_server.url}/halls/lobby")
    wait_loaded(page)
    assert page.evaluate("() => document.getElementById('vr-button').hidden")
    assert page.viewer("xr.supported") is False


AIM_AT_BUTTON = """(label) => {
  // Point the fake controller from the head at the VR panel's button whose text starts with `label`.
  const viewer = window.__hallsViewer.viewer;
  const panel = viewer.xr.panel;
  const index = panel.labels.findIndex((text) => text.startsWith(label));
  if (index < 0) return null;
  const button = panel.buttons[index];
  const Vector3 = viewer.camera.position.constructor;
  const target = new Vector3(0, (0.5 - (button.y0 + button.y1) / 2 / 768) * 0.9, 0);
  panel.mesh.localToWorld(target);
  const origin = new Vector3(0, 1.5, 0);
  const direction = viewer.rig.worldToLocal(target.clone()).sub(origin).normalize();
  const pitch = Math.asin(direction.y) * 180 / Math.PI;
  const yaw = Math.atan2(-direction.x, -direction.z) * 180 / Math.PI;
  window.__fakeXR.aim(pitch, yaw, [0, 1.5, 0]);
  window.__fakeXR.select();
  return panel.labels;
}"""


def test_checkpoint_questions_are_answered_with_the_laser_in_vr(halls_server, halls_project, open_page):
    keys = json.loads((halls_project / "build/current/private/answers/red.json").read_text())["checkpoints"][0]
    page = open_page(init_scripts=(FAKE_XR,))
    page.goto(f"{halls_server.url}/halls/red")
    wait_loaded(page)
    page.evaluate(
        """async (id) => {
        const r = await fetch('/api/session', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                               body: JSON.stringify({member_id: id, name: '头显学员'})});
        const d = await r.json();
        localStorage.setItem('halls.session', JSON.stringify({token: d.token, member: d.member}));
    }""",
        f"VR-{uuid.uuid4().hex[:8]}",
    )
    page.wait_for("() => window.__hallsViewer.xr.supported")
    page.click("#vr-button")
    page.wait_for("() => window.__hallsViewer.xr.presenting")
    page.evaluate("() => window.__fakeXR.connect()")
    x, y, _ = keys["position"]
    page.evaluate("([x, y]) => window.__hallsViewer.goTo(x - 0.5, y, 270)", [x, y])  # inside the trigger circle
    page.wait_for("() => window.__hallsViewer.xr.panel")
    for question in keys["questions"]:
        answers = question["answer"] if isinstance(question["answer"], list) else [question["answer"]]
        for answer in answers:
            label = {True: "正确", False: "错误"}.get(answer) if isinstance(answer, bool) else f"{answer}."
            page.wait_for(
                "(label) => window.__hallsViewer.viewer.xr.panel.labels.some((t) => t.startsWith(label))", label
            )
            assert page.evaluate(AIM_AT_BUTTON, label) is not None
        last = question is keys["questions"][-1]
        assert page.evaluate(AIM_AT_BUTTON, "提交答案" if last else "下一题") is not None
    result = page.wait_for("() => window.__hallsViewer.quiz && window.__hallsViewer.quiz.result")
    assert result["passed"]
    page.wait_for("() => window.__hallsViewer.viewer.xr.panel.labels.some((t) => t.includes('关闭'))")
    assert page.viewer("xr.teleports") == 0  # every select hit the panel
    assert page_errors(page) == []
