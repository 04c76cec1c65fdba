"""The server over a build made by the real compiler (`scenes.build.build`) from the tiny two-hall project."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from scenes.build import BuildOptions, build
from server.config import ServerConfig
from tests.server.conftest import fetch

TYPES = {".glb": "model/gltf-binary", ".bam": "application/octet-stream", ".bam.pz": "application/octet-stream"}


@pytest.fixture
def real_server(start_server, project):
    build(BuildOptions(root=project, jobs=1, meshopt=shutil.which("node") is not None))
    config = ServerConfig(root=project, port=0, web_dir=project / "no-web", access_log=False)
    return start_server(config)


def test_real_build_catalog_manifests_and_every_object_are_served(real_server, project):
    catalog = fetch(real_server.port, "/api/halls").json()
    assert [hall["id"] for hall in catalog["halls"]] == ["alpha", "beta"]
    for hall in catalog["halls"]:
        manifest = fetch(real_server.port, hall["url"]).json()
        assert manifest["id"] == hall["id"]
        for chunk in manifest["chunks"]:
            for entry in chunk["objects"].values():
                reply = fetch(real_server.port, "/objects/" + entry["name"])
                assert reply.status == 200 and hashlib.sha256(reply.body).hexdigest() == entry["sha256"]
                assert reply.headers["Content-Type"] == TYPES[entry["name"][64:]]


def test_real_build_plan_from_spawn_room_matches_manifest_order(real_server):
    manifest = fetch(real_server.port, "/api/halls/alpha").json()
    plan = fetch(real_server.port, f"/api/halls/alpha/plan?from={manifest['spawn']['room']}").json()
    assert [c["id"] for c in plan["chunks"]] == [c["id"] for c in manifest["chunks"]]
    reverse = fetch(real_server.port, "/api/halls/alpha/plan?from=gallery").json()
    assert [c["id"] for c in reverse["chunks"]] == ["gallery", "entrance"]


def test_real_build_answer_keys_stay_private(real_server, project):
    assert (project / "build/current/private/answers/alpha.json").exists()
    manifest = fetch(real_server.port, "/api/halls/alpha")
    assert b'"answer"' not in manifest.body
    for path in (
        "/private/answers/alpha.json",
        "/current/private/answers/alpha.json",
        "/objects/..%2fcurrent%2fprivate%2fanswers%2falpha.json",
    ):
        assert fetch(real_server.port, path).status == 404
