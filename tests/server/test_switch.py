"""Switching builds: atomic, without dropping connections, noticed when another process publishes."""

from __future__ import annotations

import hashlib
import http.client
import os

from server.web.catalog import CURRENT_BUILD, changed_chunks, load_build, reload_current
from tests.server.conftest import default_halls, fetch, publish, store_object, wait_for


def test_new_build_published_by_another_process_is_served_within_poll_interval(server, build_dir):
    publish(build_dir, default_halls(build_dir, salt="v2"), "b2")
    wait_for(lambda: fetch(server.port, "/api/health").json()["build"] == "b2", what="build b2 to be served")
    assert fetch(server.port, "/api/halls").json()["build"] == "b2"


def test_request_in_flight_during_switch_completes_and_connection_stays_open(server, build_dir):
    big = os.urandom(8 * 1024 * 1024)
    entry = store_object(build_dir, big, "glb")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", f"/objects/{entry['name']}")
    response = connection.getresponse()
    first = response.read(64 * 1024)

    publish(build_dir, default_halls(build_dir, salt="v2"), "b2")
    assert server.call(reload_current(server.app)) is True

    rest = response.read()
    assert hashlib.sha256(first + rest).hexdigest() == entry["sha256"]
    connection.request("GET", "/api/halls")  # same keep-alive connection, now the new build
    after = connection.getresponse()
    assert after.status == 200 and b'"build":"b2"' in after.read()
    connection.close()


def test_manifest_from_old_build_stays_complete_while_switching(server, build_dir):
    old = fetch(server.port, "/api/halls/alpha").json()
    publish(build_dir, default_halls(build_dir, salt="v2"), "b2")
    server.call(reload_current(server.app))
    new = fetch(server.port, "/api/halls/alpha").json()
    assert old["chunks"][0]["objects"] != new["chunks"][0]["objects"]
    for manifest in (old, new):  # objects of both builds stay fetchable: clients mid-switch never 404
        for chunk in manifest["chunks"]:
            assert fetch(server.port, "/objects/" + chunk["objects"]["glb"]["name"], method="HEAD").status == 200


def test_broken_release_is_not_served_and_last_good_build_stays(server, build_dir):
    broken = build_dir / "releases" / "broken"
    broken.mkdir(parents=True)
    os.symlink("releases/broken", build_dir / ".current-broken")
    os.replace(build_dir / ".current-broken", build_dir / "current")
    try:
        server.call(reload_current(server.app))
    except OSError:
        pass
    assert fetch(server.port, "/api/halls").json()["build"] == "b1"
    publish(build_dir, default_halls(build_dir, salt="v3"), "b3")
    wait_for(lambda: fetch(server.port, "/api/halls").json()["build"] == "b3", what="build b3")


def test_switch_tells_hub_which_chunks_of_which_halls_changed(fake_hub, server, build_dir):
    publish(build_dir, default_halls(build_dir, salt="v2", salted={"b", "d"}), "b2")
    assert server.call(reload_current(server.app)) is True
    assert fake_hub.reloads == [("alpha", ["b", "d"], None)]


def test_reloading_the_same_build_changes_nothing(fake_hub, server):
    assert server.call(reload_current(server.app)) is False
    assert fake_hub.reloads == []
    assert server.app[CURRENT_BUILD].view.build_id == "b1"


def test_changed_chunks_reports_added_and_removed_halls(build_dir, tmp_path):
    before = load_build(build_dir)
    halls = default_halls(build_dir)
    halls["gamma"] = halls.pop("beta") | {"id": "gamma"}
    publish(build_dir, halls, "b2")
    after = load_build(build_dir)
    assert changed_chunks(before, after) == {"beta": ["only"], "gamma": ["only"]}
