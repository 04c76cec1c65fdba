"""Server test fixtures: a fake published build and a real server on an ephemeral port.

The fake build has the shape `scenes.build` publishes (objects named by
hash, `releases/<id>/` with catalog, manifests and private answer keys,
`current` switched by an atomic rename), so the server is tested without
compiling anything.  The server runs in a thread with its own event loop;
tests talk to it with real HTTP clients.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from halls_contract.catalog import catalog_of, dump_catalog
from halls_contract.manifest import (
    Bounds,
    Chunk,
    Doorway,
    Manifest,
    Room,
    Spawn,
    Text,
    Theme,
    dump_manifest,
    parse_manifest,
)
from server.config import ServerConfig
from tests.serving import RunningServer

SECRET = "ANSWER-KEY-SECRET"


def store_object(build: Path, data: bytes, ext: str) -> dict:
    """Write `data` as a content-addressed object; its manifest entry."""
    digest = hashlib.sha256(data).hexdigest()
    (build / "objects").mkdir(parents=True, exist_ok=True)
    (build / "objects" / f"{digest}.{ext}").write_bytes(data)
    return {"name": f"{digest}.{ext}", "sha256": digest, "size": len(data)}


def room(room_id: str, x: float, y: float = 0.0, size: float = 10.0) -> dict:
    half = size / 2
    bounds = Bounds(min=(x - half, y - half, 0.0), max=(x + half, y + half, 4.0))
    return Room(id=room_id, title=Text(zh=room_id), shape="room", bounds=bounds).model_dump(mode="json")


def doorway(here: str, there: str) -> dict:
    return Doorway(room=here, to_room=there, to_hall=None, position=(0.0, 0.0, 0.0), width=2.0, heading=0.0).model_dump(
        mode="json"
    )


def fake_manifest(
    build: Path,
    hall_id: str,
    rooms: list[dict],
    doors: list[tuple[str, str]],
    salt: str = "",
    salted: set[str] | None = None,
) -> dict:
    """A manifest with one chunk per room; chunk bytes depend on hall, room and `salt` (for `salted` rooms)."""
    chunks = []
    for info in rooms:
        mix = salt if salted is None or info["id"] in salted else ""
        seed = f"{hall_id}/{info['id']}{mix}".encode()
        objects = {
            "glb": store_object(build, b"glTF" + seed * 50, "glb"),
            "glb_meshopt": store_object(build, b"glTF-meshopt" + seed * 10, "glb"),
            "bam": store_object(build, b"x\x9c" + seed * 80, "bam.pz"),
        }
        chunks.append(
            Chunk.model_validate(
                {
                    "id": info["id"],
                    "room": info["id"],
                    "bounds": info["bounds"],
                    "triangles": 12,
                    "draw_calls": 1,
                    "nodes": [f"{info['id']}/shell"],
                    "objects": objects,
                }
            )
        )
    return dump_manifest(
        Manifest(
            id=hall_id,
            title=Text(zh=f"{hall_id}馆", en=hall_id.title()),
            intro=None,
            order=0,
            theme=Theme(primary="#b22222", secondary="#f2c14e"),
            spawn=Spawn(room=rooms[0]["id"], position=(0.0, 0.0, 0.0), heading=0.0),
            rooms=tuple(Room.model_validate(r) for r in rooms),
            doorways=tuple(Doorway.model_validate(doorway(a, b)) for a, b in doors),
            chunks=tuple(chunks),
            exhibits=(),
            checkpoints=(),
        )
    )


def default_halls(build: Path, salt: str = "", salted: set[str] | None = None) -> dict[str, dict]:
    """Hall `alpha`: a row of rooms a-b-c plus `d` north of `a` reached only through `c`; hall `beta`: one room.

    `salt` changes the chunks of the `salted` alpha rooms (all rooms of both halls when None).
    """
    alpha_rooms = [room("a", 0), room("b", 10), room("c", 20), room("d", 0, 10)]
    beta_salt = salt if salted is None else ""
    return {
        "alpha": fake_manifest(build, "alpha", alpha_rooms, [("a", "b"), ("b", "c"), ("c", "d")], salt, salted),
        "beta": fake_manifest(build, "beta", [room("only", 0)], [], beta_salt),
    }


def publish(build: Path, manifests: dict[str, dict], build_id: str) -> Path:
    """Write a release and switch `build/current` to it atomically (as `halls build` does).

    Manifests are read through the contract first, so a fixture that drifts from it fails here.
    """
    release = build / "releases" / build_id
    models = {hall_id: parse_manifest(manifest) for hall_id, manifest in manifests.items()}
    for hall_id, manifest in models.items():
        (release / "halls" / hall_id).mkdir(parents=True, exist_ok=True)
        (release / "halls" / hall_id / "manifest.json").write_text(
            json.dumps(dump_manifest(manifest), ensure_ascii=False)
        )
        (release / "private" / "answers").mkdir(parents=True, exist_ok=True)
        (release / "private" / "answers" / f"{hall_id}.json").write_text(json.dumps({"answer": SECRET}))
    catalog = dump_catalog(catalog_of(models.values(), build_id))
    (release / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False))
    link = build / f".current-{build_id}"
    os.symlink(f"releases/{build_id}", link)
    os.replace(link, build / "current")
    return release


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    """`tmp_path/build` holding a published fake build `b1` with halls alpha and beta."""
    build = tmp_path / "build"
    publish(build, default_halls(build), "b1")
    return build


@pytest.fixture
def config(tmp_path: Path, build_dir: Path) -> ServerConfig:
    return ServerConfig(
        root=tmp_path, build_dir=build_dir, port=0, reload_interval=0.05, web_dir=tmp_path / "no-web", access_log=False
    )


@pytest.fixture
def start_server():
    """Start servers for a test (`start_server(config, prepare=None)`); all are stopped afterwards."""
    servers = []

    def start(config: ServerConfig, prepare=None) -> RunningServer:
        server = RunningServer(config, prepare)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server, config) -> RunningServer:
    return start_server(config)


def with_config(config: ServerConfig, **changes) -> ServerConfig:
    return dataclasses.replace(config, **changes)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


def fetch(port: int, path: str, method: str = "GET", headers: dict | None = None) -> Reply:
    """One real HTTP/1.1 request, the path sent exactly as given (no client-side normalising)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def wait_for(condition, timeout: float = 10.0, what: str = "condition"):
    """Poll `condition()` until it is truthy (for changes on disk the server notices by polling)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class BuildNoticeRecorder:
    """Records what the hub is told of build switches and failures (through the app's build events)."""

    def __init__(self) -> None:
        self.reloads: list[tuple] = []

    async def on_build(self, hub, notice) -> None:
        self.reloads.append((notice.hall_id, list(notice.changed), notice.error))


@pytest.fixture
def fake_hub(monkeypatch) -> BuildNoticeRecorder:
    """Record every build notice the hub receives instead of sending it to clients."""
    recorder = BuildNoticeRecorder()

    async def on_build(hub, notice):
        await recorder.on_build(hub, notice)

    monkeypatch.setattr("server.hub.service.Hub.on_build", on_build)
    return recorder
