"""Tests for tools.client.manifest: reading built manifests, refusing unknown versions."""

from __future__ import annotations

import copy

import pytest

from tests.client.conftest import manifest_of
from tools.client.manifest import HallManifest, ManifestError


def test_parse_reads_a_built_manifest_with_object_urls(built_project):
    data = manifest_of(built_project, "alpha")
    manifest = HallManifest.parse(data, "http://example.test:8080/")
    assert manifest.id == "alpha"
    assert [c.id for c in manifest.chunks] == [c["id"] for c in data["chunks"]]
    first = manifest.chunks[0].bam
    assert first.name == data["chunks"][0]["objects"]["bam"]["name"]
    assert first.url == f"http://example.test:8080/objects/{first.name}"
    assert manifest.spawn.room == "entrance"
    assert {e.node for e in manifest.exhibits} >= {"entrance/exhibit/intro"}
    assert manifest.checkpoints[0].questions[0].id == "q1"
    assert "answer" not in manifest.checkpoints[0].questions[0].model_dump()


def test_parse_prefers_the_servers_model_url(built_project):
    data = copy.deepcopy(manifest_of(built_project, "alpha"))
    chunk = data["chunks"][0]
    bam = chunk["objects"]["bam"]
    chunk["model"] = bam | {"kind": "bam", "url": "https://cdn.test/o/" + bam["name"]}
    manifest = HallManifest.parse(data, "http://example.test/")
    assert manifest.chunks[0].bam.url.startswith("https://cdn.test/o/")


def test_unknown_version_is_refused_with_a_message_to_update(built_project):
    data = manifest_of(built_project, "alpha") | {"version": 2}
    with pytest.raises(ManifestError) as error:
        HallManifest.parse(data)
    assert str(error.value) == (
        "manifest: version 2 is not supported by this client (it reads version 1); update the client"
    )


def test_malformed_manifest_names_the_hall(built_project):
    data = manifest_of(built_project, "alpha")
    del data["spawn"]
    with pytest.raises(ManifestError, match="manifest of hall 'alpha': malformed"):
        HallManifest.parse(data)


def test_chunks_from_a_room_come_nearest_first(built_project):
    manifest = HallManifest.parse(manifest_of(built_project, "alpha"))
    assert [c.room for c in manifest.chunks_from("gallery")][0] == "gallery"
    assert [c.room for c in manifest.chunks_from("entrance")][0] == "entrance"
    with pytest.raises(ManifestError, match="has no room 'attic'"):
        manifest.chunks_from("attic")


def test_room_at_finds_the_room_of_a_point(built_project):
    manifest = HallManifest.parse(manifest_of(built_project, "alpha"))
    assert manifest.room_at((0, 0, 0)).id == "entrance"
    assert manifest.room_at((9, 0, 0)).id == "gallery"
    assert manifest.room_at((100, 0, 0)) is None
