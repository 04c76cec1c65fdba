"""Tests for tools.client.fetch and tools.client.stream against a real server."""

from __future__ import annotations

import queue

import pytest

from tests.client.conftest import manifest_of
from tools.client.fetch import (
    BuildFolderSource,
    HttpSource,
    ObjectCache,
    ObjectRejected,
    ObjectStore,
    ServerUnreachable,
    load_manifest,
)
from tools.client.stream import ChunkFailed, ChunkFetched, HallStream, ManifestFailed, ManifestReady, StreamEnded


def bam_names(project, hall: str) -> list[str]:
    return [c["objects"]["bam"]["name"] for c in manifest_of(project, hall)["chunks"]]


def drain(stream: HallStream, timeout: float = 20.0) -> list:
    events: list = []
    while True:
        try:
            event = stream.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the stream stalled after {events}") from None
        events.append(event)
        if isinstance(event, (StreamEnded, ManifestFailed)):
            return events


def test_store_downloads_each_listed_object_once_then_serves_the_cache(project, start_hall_server, tmp_path):
    server = start_hall_server(project)
    cache = ObjectCache(tmp_path / "cache")
    store = ObjectStore(cache, HttpSource(server.url))
    manifest = load_manifest(store, "alpha")
    for chunk in manifest.chunks:
        assert store.fetch(chunk.bam).read_bytes() == (project / "build" / "objects" / chunk.bam.name).read_bytes()
    assert sorted(store.log.downloaded()) == sorted(bam_names(project, "alpha"))
    assert sorted(server.objects_requested()) == sorted(bam_names(project, "alpha"))

    again = ObjectStore(cache, HttpSource(server.url))
    for chunk in load_manifest(again, "alpha").chunks:
        again.fetch(chunk.bam)
    assert again.log.downloaded() == []
    assert {r.source for r in again.log.snapshot()} == {"cache"}
    assert len(server.objects_requested()) == len(manifest.chunks)


def test_corrupt_object_is_rejected_by_its_hash_and_not_cached(project, start_hall_server, tmp_path):
    name = bam_names(project, "alpha")[0]
    path = project / "build" / "objects" / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    server = start_hall_server(project)
    store = ObjectStore(ObjectCache(tmp_path / "cache"), HttpSource(server.url))
    manifest = load_manifest(store, "alpha")
    with pytest.raises(ObjectRejected, match=r"sha256 .* does not match the manifest's .*\(corrupt\); discarded"):
        store.fetch(manifest.chunks[0].bam)
    assert not (tmp_path / "cache" / "objects" / name).exists()


def test_truncated_object_is_rejected_by_its_size(project, start_hall_server, tmp_path):
    name = bam_names(project, "alpha")[0]
    path = project / "build" / "objects" / name
    path.write_bytes(path.read_bytes()[:100])
    server = start_hall_server(project)
    store = ObjectStore(ObjectCache(tmp_path / "cache"), HttpSource(server.url))
    with pytest.raises(ObjectRejected, match="truncated"):
        store.fetch(load_manifest(store, "alpha").chunks[0].bam)


def test_damaged_cache_entry_is_fetched_again(project, start_hall_server, tmp_path):
    server = start_hall_server(project)
    cache = ObjectCache(tmp_path / "cache")
    store = ObjectStore(cache, HttpSource(server.url))
    ref = load_manifest(store, "alpha").chunks[0].bam
    store.fetch(ref)
    (cache.objects / ref.name).write_bytes(b"rotten")
    again = ObjectStore(cache, HttpSource(server.url))
    assert again.fetch(ref).read_bytes() == (project / "build" / "objects" / ref.name).read_bytes()
    assert again.log.downloaded() == [ref.name]


def test_unreachable_server_falls_back_to_the_cached_manifest(project, start_hall_server, tmp_path):
    server = start_hall_server(project)
    cache = ObjectCache(tmp_path / "cache")
    url = server.url
    load_manifest(ObjectStore(cache, HttpSource(url)), "alpha")
    server.stop()
    offline = ObjectStore(cache, HttpSource(url, timeout=2, retries=0))
    assert load_manifest(offline, "alpha").id == "alpha"
    with pytest.raises(ServerUnreachable, match="is not answering"):
        load_manifest(ObjectStore(ObjectCache(tmp_path / "empty"), HttpSource(url, timeout=2, retries=0)), "alpha")


def test_stream_delivers_manifest_then_chunks_in_order(project, start_hall_server, tmp_path):
    from tools.client.collision import collision_mesh
    from tools.client.scene import load_chunk

    server = start_hall_server(project)
    store = ObjectStore(ObjectCache(tmp_path / "cache"), HttpSource(server.url))
    events = drain(HallStream(store, "alpha").start())
    assert isinstance(events[0], ManifestReady)
    fetched = [e for e in events if isinstance(e, ChunkFetched)]
    assert [e.chunk.id for e in fetched] == [c["id"] for c in manifest_of(project, "alpha")["chunks"]]
    assert events[-1] == StreamEnded("alpha", len(fetched), len(fetched), None)
    for event in fetched:
        model = load_chunk(event.path)
        assert model.getName() == event.chunk.id and collision_mesh(model).getNumChildren() > 0


def test_server_going_away_mid_stream_ends_it_keeping_the_first_chunks(project, start_hall_server, tmp_path):
    server = start_hall_server(project)
    source = HttpSource(server.url, timeout=2, retries=0)
    fetch_object = source.object_bytes

    def then_vanish(ref):
        data = fetch_object(ref)
        server.stop()  # the first object arrives, then the server is gone
        return data

    source.object_bytes = then_vanish
    events = drain(HallStream(ObjectStore(ObjectCache(tmp_path / "cache"), source), "alpha").start())
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ManifestReady", "ChunkFetched", "ChunkFailed", "StreamEnded"]
    assert events[-1].fetched == 1
    assert events[-1].message.startswith("the server went away after 1 of 2 chunks of hall 'alpha'")
    assert events[-1].message.endswith("keeping what was loaded")


def test_stream_skips_a_corrupt_chunk_and_loads_the_rest(project, start_hall_server, tmp_path):
    name = bam_names(project, "alpha")[0]
    path = project / "build" / "objects" / name
    path.write_bytes(path.read_bytes()[::-1])
    server = start_hall_server(project)
    events = drain(HallStream(ObjectStore(ObjectCache(tmp_path / "c"), HttpSource(server.url)), "alpha").start())
    failed = [e for e in events if isinstance(e, ChunkFailed)]
    assert len(failed) == 1 and "does not match the manifest" in failed[0].message
    assert events[-1].fetched == 1 and events[-1].message == "1 of 2 chunks of hall 'alpha' could not be loaded"


def test_unknown_manifest_version_fails_the_stream_with_the_reason(project, tmp_path):
    """A build made by a newer compiler (this version's server would refuse to serve it, so read it directly)."""
    import json

    release = (project / "build" / "current").resolve()
    path = release / "halls" / "alpha" / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")) | {"version": 7}), encoding="utf-8")
    source = BuildFolderSource(project / "build")
    events = drain(HallStream(ObjectStore(ObjectCache(tmp_path / "c"), source), "alpha").start())
    assert len(events) == 1 and isinstance(events[0], ManifestFailed)
    assert "version 7 is not supported by this client" in events[0].message
