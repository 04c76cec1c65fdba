"""Hall content in the viewer: live reload after an edit, text never parsed as HTML, pictures and audio."""

from __future__ import annotations

import math

from tests.e2e.conftest import page_errors, server_config, wait_loaded


def test_live_reload_swaps_the_edited_chunk_in_place(mini_project, start_server, open_page):
    server = start_server(server_config(mini_project, watch=True, watch_interval=0.1))
    page = open_page(f"{server.url}/halls/mini")
    wait_loaded(page)
    page.wait_for("() => window.__hallsViewer.member")  # joined the hub, which sends the reload notice
    before = page.viewer("chunkHashes")
    page.evaluate("() => { window.__samePage = true; return window.__hallsViewer.goTo(1.5, 1, 30); }")
    hall = mini_project / "halls" / "mini.yaml"
    hall.write_text(hall.read_text(encoding="utf-8").replace("原始说明文字", "修改后的说明"), encoding="utf-8")
    page.wait_for("() => window.__hallsViewer.reloads === 1", timeout=60)
    after = page.viewer("chunkHashes")
    assert after.keys() == before.keys() and after["hall"] != before["hall"]
    assert page.evaluate("() => window.__samePage === true")  # no page reload
    x, y, _ = page.viewer("position")
    assert math.isclose(x, 1.5, abs_tol=0.01) and math.isclose(y, 1, abs_tol=0.01)
    assert page.viewer("chunks") == ["hall"] and page.viewer("meshes") > 0
    page.evaluate("() => window.__hallsViewer.goTo(0, 2.5, 0)")  # walk up to the edited panel
    panel = page.wait_for("() => window.__hallsViewer.panel")
    assert "修改后的说明" in panel["text"] and "原始说明文字" not in panel["text"]
    assert page_errors(page) == []


def test_text_from_yaml_is_shown_as_text_never_as_html(mini_project, start_server, open_page):
    server = start_server(server_config(mini_project))
    page = open_page(f"{server.url}/halls/mini")
    wait_loaded(page)
    page.evaluate("() => window.__hallsViewer.goTo(0, 2.5, 0)")
    panel = page.wait_for("() => window.__hallsViewer.panel")
    assert '<b id="injected">粗体</b><img src=x onerror="window.__pwned=1">' in panel["text"]
    assert page.evaluate("() => document.getElementById('injected') === null && window.__pwned === undefined")
    size = page.wait_for("""() => { const img = document.querySelector('#panel img.exhibit-image');
        return img && img.complete && img.naturalWidth && [img.naturalWidth, img.naturalHeight]; }""")
    assert size == [64, 48]


def test_audio_narration_plays_and_pauses(mini_project, start_server, open_page):
    server = start_server(server_config(mini_project))
    page = open_page(f"{server.url}/halls/mini")
    wait_loaded(page)
    page.evaluate("() => window.__hallsViewer.goTo(0, -2.5, 180)")  # facing the audio piece on the south wall
    panel = page.wait_for("() => window.__hallsViewer.panel")
    assert "讲解录音" in panel["text"]
    assert page.text("#panel button.play") == "▶ 播放解说"
    page.click("#panel button.play")
    page.wait_for("() => document.querySelector('#panel button.play').textContent === '❚❚ 暂停解说'")
    page.click("#panel button.play")
    page.wait_for("() => document.querySelector('#panel button.play').textContent === '▶ 播放解说'")
    assert page_errors(page) == []
