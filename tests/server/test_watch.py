"""Live reload: rebuild on edits, serve the new build, tell clients; keep the last good build on errors."""

from __future__ import annotations

import json
import shutil

import pytest

from scenes.diagnostics import AuthorErrors, Diagnostic
from server.web.watch import WATCH_STATE, rebuild, snapshot
from tests.server.conftest import default_halls, fetch, publish, wait_for, with_config


class FakeBuilder:
    """Publishes build b<n> with alpha's room `b` changed each time; or raises what it is told to."""

    def __init__(self, build_dir):
        self.build_dir = build_dir
        self.calls = 0
        self.error: Exception | None = None

    def __call__(self, config):
        self.calls += 1
        if self.error is not None:
            raise self.error
        publish(self.build_dir, default_halls(self.build_dir, salt=f"v{self.calls}", salted={"b"}), f"w{self.calls}")


@pytest.fixture
def builder(build_dir):
    return FakeBuilder(build_dir)


@pytest.fixture
def watched(fake_hub, start_server, config, builder, tmp_path):
    (tmp_path / "halls").mkdir()
    (tmp_path / "assets").mkdir()
    (tmp_path / "halls" / "alpha.yaml").write_text("id: alpha\n")
    slow_poll = with_config(config, watch=True, watch_interval=0.05, reload_interval=60)

    def prepare(app):
        app[WATCH_STATE].build = builder

    return start_server(slow_poll, prepare)


def test_rebuild_serves_new_build_and_tells_hub_which_chunks_changed(watched, fake_hub):
    assert watched.call(rebuild(watched.app)) is True
    assert fetch(watched.port, "/api/halls").json()["build"] == "w1"
    assert fake_hub.reloads == [("alpha", ["b"], None)]


def test_failed_rebuild_keeps_last_good_build_and_sends_every_diagnostic(watched, fake_hub, builder):
    builder.error = AuthorErrors(
        [
            Diagnostic("halls/alpha.yaml", 3, 5, "rooms[0].id", "bad room id 'A B'"),
            Diagnostic("halls/beta.yaml", 7, 1, "", "no such asset 'assets/x.png'"),
        ]
    )
    assert watched.call(rebuild(watched.app)) is False
    assert fetch(watched.port, "/api/halls").json()["build"] == "b1"
    assert fake_hub.reloads == [
        (
            None,
            [],
            "halls/alpha.yaml:3:5: rooms[0].id: bad room id 'A B'\nhalls/beta.yaml:7:1: no such asset 'assets/x.png'",
        )
    ]


def test_successful_rebuild_after_a_failure_clears_the_error(watched, fake_hub, builder):
    builder.error = AuthorErrors([Diagnostic("halls/alpha.yaml", 1, 1, "", "broken")])
    watched.call(rebuild(watched.app))
    builder.error = None
    watched.call(rebuild(watched.app))
    assert fake_hub.reloads[1:] == [("alpha", ["b"], None), (None, [], None)]


def test_crashing_build_keeps_serving_and_reports_the_crash(watched, fake_hub, builder):
    builder.error = RuntimeError("gltfpack failed: out of memory")
    assert watched.call(rebuild(watched.app)) is False
    assert fetch(watched.port, "/api/health").json()["build"] == "b1"
    assert fake_hub.reloads == [(None, [], "build failed: gltfpack failed: out of memory")]


def test_edit_in_halls_folder_triggers_one_rebuild(watched, builder, tmp_path):
    (tmp_path / "halls" / "alpha.yaml").write_text("id: alpha\ntitle: changed\n")
    wait_for(lambda: fetch(watched.port, "/api/halls").json()["build"] == "w1", what="rebuild after edit")
    assert builder.calls == 1


def test_new_asset_triggers_a_rebuild(watched, builder, tmp_path):
    (tmp_path / "assets" / "lamp.png").write_bytes(b"\x89PNG")
    wait_for(lambda: builder.calls >= 1, what="rebuild after new asset")
    assert builder.calls == 1


def test_snapshot_ignores_hidden_and_editor_temp_files(tmp_path):
    (tmp_path / "halls").mkdir()
    (tmp_path / "halls" / "red.yaml").write_text("x")
    for name in (".red.yaml.swp", "red.yaml~", "#red.yaml#", ".hidden"):
        (tmp_path / "halls" / name).write_text("x")
    assert [p.rsplit("/", 1)[1] for p in snapshot(tmp_path)] == ["red.yaml"]


# --- with the real compiler ------------------------------------------------------


def test_edit_to_real_hall_is_rebuilt_and_only_its_chunk_reported(fake_hub, start_server, project):
    """`halls serve --watch` end to end: real build, real edit, real rebuild."""
    from server.cli import ensure_build
    from server.config import ServerConfig

    config = ServerConfig(
        root=project,
        port=0,
        watch=True,
        watch_interval=0.05,
        reload_interval=60,
        meshopt=shutil.which("node") is not None,
        web_dir=project / "no-web",
        access_log=False,
    )
    assert ensure_build(config)
    server = start_server(config)
    before = fetch(server.port, "/api/halls/alpha").json()
    assert [c["id"] for c in before["chunks"]] == ["entrance", "gallery"]

    hall = project / "halls" / "alpha.yaml"
    edited = hall.read_text(encoding="utf-8").replace("这是一块测试展板。", "展板内容已修改。")
    hall.write_text(edited, encoding="utf-8")
    wait_for(lambda: fake_hub.reloads, timeout=60, what="live reload after an edit")
    assert fake_hub.reloads == [("alpha", ["entrance"], None)]
    after = fetch(server.port, "/api/halls/alpha").json()
    assert after["chunks"][1]["objects"] == before["chunks"][1]["objects"]
    assert after["chunks"][0]["objects"] != before["chunks"][0]["objects"]
    glb = after["chunks"][0]["objects"]["glb"]
    reply = fetch(server.port, "/objects/" + glb["name"])
    assert reply.status == 200 and reply.body[:4] == b"glTF" and len(reply.body) == glb["size"]

    hall.write_text(
        hall.read_text(encoding="utf-8").replace("size: [10, 8, 4]", "size: [10, 8, oops]"), encoding="utf-8"
    )
    wait_for(lambda: len(fake_hub.reloads) > 1, timeout=60, what="error after a broken edit")
    hall_id, changed, error = fake_hub.reloads[1]
    assert hall_id is None and changed == [] and "halls/alpha.yaml:" in error
    assert fetch(server.port, "/api/halls/alpha").json() == after
    assert (
        json.loads((project / "build/current/catalog.json").read_text())["build"]
        == fetch(server.port, "/api/health").json()["build"]
    )
