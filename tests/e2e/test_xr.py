"""The WebXR path with a scripted XR device (headless Chromium has no immersive-vr)."""

from __future__ import annotations

import math

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
