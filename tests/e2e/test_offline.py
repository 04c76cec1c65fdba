"""The installable, offline viewer in a real browser: halls visited or kept open with the network off."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import page_errors, server_config, wait_loaded
from tests.e2e.test_viewer import HIDE_UI, canvas_stats, manifest

WORKER_READY = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return Boolean(registration.active && navigator.serviceWorker.controller);
}"""
STORED_OBJECTS = """async () => (await (await caches.open('halls-objects-v1')).keys())
  .map((request) => new URL(request.url).pathname)"""
CATALOG_DONE = "() => window.__hallsCatalog && window.__hallsCatalog.refreshed"


def assert_rendered(page, hall: str) -> None:
    page.evaluate(HIDE_UI)
    colours, commonest = canvas_stats(page.screenshot())
    assert colours > 40, f"{hall}: the canvas looks blank ({colours} colours)"
    assert commonest < 0.9, f"{hall}: one colour fills {commonest:.0%} of the canvas"


def offline_errors(page) -> list[str]:
    """Page errors other than the network being gone (the hub's socket, failed fetches it expects)."""
    quiet = ("ERR_INTERNET_DISCONNECTED", "WebSocket", "Failed to fetch", "net::ERR", "Failed to load resource")
    return [e for e in page_errors(page) if not any(word in e for word in quiet)]


def keep(page, hall: str, timeout: float = 60.0) -> None:
    page.click(f'[data-hall="{hall}"] .offline-box button.keep')
    page.wait_for(
        f"() => document.querySelector('[data-hall=\"{hall}\"] .offline-box').dataset.state === 'kept'", timeout=timeout
    )


def test_hall_visited_once_reloads_and_renders_offline(halls_server, open_page):
    url = f"{halls_server.url}/halls/red"
    page = open_page(url)
    wait_loaded(page)
    assert page.wait_for(WORKER_READY)
    assert page.evaluate("() => window.__hallsViewer.stored") is True
    assert page.text("#network") == "在线"
    page.set_offline(True)
    page.goto(url)
    wait_loaded(page)
    assert page.viewer("error") is None
    expected = manifest(halls_server, "red")
    assert sorted(page.viewer("chunks")) == sorted(c["id"] for c in expected["chunks"])
    assert page.text("#network") == "离线"
    assert_rendered(page, "red")
    assert offline_errors(page) == []


def test_hall_kept_for_offline_renders_without_ever_being_visited(halls_server, open_page):
    page = open_page(halls_server.url + "/")
    page.wait_for(CATALOG_DONE)
    assert page.wait_for(WORKER_READY)
    assert page.evaluate("() => document.querySelector('[data-hall=safety] .offline-box').dataset.state") == "none"
    keep(page, "safety")
    expected = manifest(halls_server, "safety")
    size = sum(c["model"]["size"] for c in expected["chunks"])
    shown = page.text('[data-hall="safety"] .offline-state')
    assert shown == f"已离线保存 · {size / 1048576:.1f} MB" or shown.startswith("已离线保存 · ")
    assert page.text("#storage").startswith("离线保存：1 个展馆")
    stored = set(page.evaluate(STORED_OBJECTS))
    assert {c["model"]["url"] for c in expected["chunks"]} <= stored
    page.set_offline(True)
    page.goto(halls_server.url + "/")  # the catalog itself opens offline and says which halls can be visited
    page.wait_for("() => window.__hallsCatalog && window.__hallsCatalog.rendered > 0")
    page.wait_for("() => document.querySelector('[data-hall=safety] .offline-box').dataset.state === 'kept'")
    unavailable = "(hall) => document.querySelector(`[data-hall=${hall}]`).classList.contains('unavailable')"
    assert page.evaluate(unavailable, "safety") is False
    assert page.evaluate(unavailable, "law") is True
    page.goto(f"{halls_server.url}/halls/safety")
    wait_loaded(page)
    assert page.viewer("error") is None
    assert sorted(page.viewer("chunks")) == sorted(c["id"] for c in expected["chunks"])
    assert_rendered(page, "safety")
    assert offline_errors(page) == []
    page.set_offline(False)  # removing it takes its objects away
    page.goto(halls_server.url + "/")
    page.wait_for(CATALOG_DONE)
    page.click('[data-hall="safety"] .offline-box button.remove')
    page.wait_for("() => document.querySelector('[data-hall=safety] .offline-box').dataset.state === 'none'")
    assert not {c["model"]["url"] for c in expected["chunks"]} & set(page.evaluate(STORED_OBJECTS))


def test_a_download_that_would_not_fit_says_so_before_fetching(halls_server, open_page):
    small = "navigator.storage.estimate = async () => ({ usage: 1000, quota: 1200000 });"
    page = open_page(init_scripts=(small,))
    page.goto(halls_server.url + "/")
    page.wait_for(CATALOG_DONE)
    page.click('[data-hall="red"] .offline-box button.keep')
    state = page.wait_for(
        "() => { const box = document.querySelector('[data-hall=red] .offline-box');"
        " return box.dataset.state === 'error' && box.textContent; }"
    )
    assert state.startswith("空间不足：需要 ") and "只剩 0.1 MB" in state
    assert page.evaluate(STORED_OBJECTS) == []


def test_badge_follows_the_network(halls_server, open_page):
    page = open_page(halls_server.url + "/")
    page.wait_for(CATALOG_DONE)
    assert page.text("#network") == "在线"
    page.set_offline(True)
    page.wait_for("() => document.getElementById('network').textContent === '离线'")
    assert page.evaluate("() => document.getElementById('network').classList.contains('offline')")
    page.click("#lang")
    assert page.text("#network") == "Offline"
    page.click("#lang")
    page.set_offline(False)
    page.wait_for("() => document.getElementById('network').textContent === '在线'")
    page.goto(f"{halls_server.url}/halls/lobby")
    wait_loaded(page)
    assert page.text("#network") == "在线"
    page.set_offline(True)
    page.wait_for("() => document.getElementById('network').textContent === '离线'")
    page.set_offline(False)
    page.wait_for("() => document.getElementById('network').textContent === '在线'")


def store(page, server, how: str) -> None:
    """Keep the mini hall from the catalog (which also brings kept halls up to date), or visit it."""
    if how == "keep":
        page.goto(server.url + "/")
        page.wait_for(CATALOG_DONE, timeout=40)
        if page.evaluate("() => document.querySelector('[data-hall=mini] .offline-box').dataset.state") != "kept":
            keep(page, "mini")
    else:
        page.goto(server.url + "/halls/mini")
        wait_loaded(page)
        assert page.evaluate("() => window.__hallsViewer.stored") is True


@pytest.mark.parametrize("how", ["keep", "visit"])
def test_a_new_build_replaces_what_changed_and_evicts_stale_objects(mini_project, start_server, open_page, how):
    from tests.e2e.conftest import build_project

    server = start_server(server_config(mini_project))
    page = open_page(server.url + "/")
    page.wait_for(CATALOG_DONE)
    assert page.wait_for(WORKER_READY)
    store(page, server, how)
    old = {c["id"]: c["model"]["url"] for c in manifest(server, "mini")["chunks"]}
    assert set(old.values()) <= set(page.evaluate(STORED_OBJECTS))
    yaml = mini_project / "halls" / "mini.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8").replace("size: [10, 8, 4]", "size: [12, 8, 4]"), encoding="utf-8")
    build_project(mini_project)
    deadline = time.monotonic() + 20
    while {c["model"]["url"] for c in manifest(server, "mini")["chunks"]} == set(old.values()):
        assert time.monotonic() < deadline, "the server did not switch to the new build"
        time.sleep(0.1)
    new = {c["id"]: c["model"]["url"] for c in manifest(server, "mini")["chunks"]}
    store(page, server, how)  # the catalog brings kept halls up to date; a visit stores what it loaded
    stored = set(page.evaluate(STORED_OBJECTS))
    assert set(new.values()) <= stored
    assert not (set(old.values()) - set(new.values())) & stored, "a stale object of the old build is still stored"
    page.set_offline(True)  # and the new build is what opens offline
    page.goto(server.url + "/halls/mini")
    wait_loaded(page)
    hashes = page.evaluate("() => Object.values(window.__hallsViewer.chunkHashes)")
    assert sorted(hashes) == sorted(url.split("/")[-1].split(".")[0] for url in new.values())
