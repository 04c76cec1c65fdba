"""The hall manifest as the client uses it: the contract's manifest, with object URLs resolved and fetch order.

`HallManifest.parse(data, base_url)` accepts the JSON of `GET /api/halls/{id}`
(any variant) or the manifest file the build writes, and reads it through
`halls_contract.manifest`: an unsupported `version` or a malformed manifest
raises `ManifestError` with a message a member can act on.  Rooms, doorways,
exhibits, checkpoints and the spawn are the contract's own models.
Coordinates are Panda3D's own: Z up, metres, +Y north.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from halls_contract.manifest import (
    Bounds,
    Checkpoint,
    Doorway,
    Exhibit,
    Manifest,
    ManifestError,
    Room,
    Spawn,
    Text,
    Theme,
    parse_manifest,
)

__all__ = ["Chunk", "HallManifest", "ManifestError", "ObjectRef"]

OBJECTS_PATH = "/objects/"
"""Where objects live on the server when the manifest gives no URL."""

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class ObjectRef:
    """One immutable object: its file name, hash, size and where to fetch it."""

    name: str
    sha256: str
    size: int
    url: str


@dataclass(frozen=True)
class Chunk:
    """A chunk and the `.bam` object this client loads for it."""

    id: str
    room: str
    bounds: Bounds
    bam: ObjectRef
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class HallManifest:
    """One hall: chunks in streaming order, rooms, doorways, exhibits, checkpoints, spawn."""

    id: str
    title: Text
    theme: Theme
    spawn: Spawn
    rooms: tuple[Room, ...]
    doorways: tuple[Doorway, ...]
    chunks: tuple[Chunk, ...]
    exhibits: tuple[Exhibit, ...]
    checkpoints: tuple[Checkpoint, ...]
    contract: Manifest | None = field(repr=False, compare=False, default=None)
    """The manifest as read."""

    @classmethod
    def parse(cls, data: Any, base_url: str = "") -> HallManifest:
        """Check and read a manifest; `base_url` resolves object URLs (`ManifestError` on bad input)."""
        manifest = parse_manifest(data)
        try:
            chunks = tuple(_chunk(c, base_url) for c in manifest.chunks)
        except ValueError as exc:
            raise ManifestError(f"manifest of hall {manifest.id!r}: malformed ({exc})") from None
        if not chunks:
            raise ManifestError(f"manifest of hall {manifest.id!r}: no chunks")
        return cls(
            manifest.id,
            manifest.title,
            manifest.theme,
            manifest.spawn,
            manifest.rooms,
            manifest.doorways,
            chunks,
            manifest.exhibits,
            manifest.checkpoints,
            manifest,
        )

    def room(self, room_id: str) -> Room:
        for room in self.rooms:
            if room.id == room_id:
                return room
        raise ManifestError(f"hall {self.id!r} has no room {room_id!r} (rooms: {', '.join(r.id for r in self.rooms)})")

    def room_at(self, point: Vec3) -> Room | None:
        """The room whose floor rectangle holds `point`; the nearest one within 0.5 m otherwise."""
        for margin in (0.0, 0.5):
            for room in self.rooms:
                if room.bounds.contains(point, margin):
                    return room
        return None

    def chunks_from(self, room_id: str) -> tuple[Chunk, ...]:
        """Chunks in fetch order for a member starting in `room_id` (doorway hops, then distance)."""
        self.room(room_id)
        hops = _hops(room_id, self.rooms, self.doorways)
        origin = self.room(room_id).bounds.centre
        centres = {r.id: r.bounds.centre for r in self.rooms}

        def key(chunk: Chunk):
            centre = centres.get(chunk.room, origin)
            return (hops.get(chunk.room, math.inf), math.hypot(centre[0] - origin[0], centre[1] - origin[1]), chunk.id)

        return tuple(sorted(self.chunks, key=key))


# --- reading -----------------------------------------------------------------


def _chunk(chunk, base_url: str) -> Chunk:
    entry = chunk.objects.bam
    if not (entry.name.endswith(".bam") or entry.name.endswith(".bam.pz")):
        raise ValueError(f"chunk {chunk.id!r}: not a bam object name: {entry.name!r}")
    model = chunk.model
    url = model.url if model is not None and model.name == entry.name else OBJECTS_PATH + entry.name
    ref = ObjectRef(entry.name, entry.sha256, entry.size, urljoin(base_url, url) if base_url else url)
    return Chunk(chunk.id, chunk.room, chunk.bounds, ref, chunk.nodes)


def _hops(start: str, rooms, doorways) -> dict[str, int]:
    graph: dict[str, set[str]] = {r.id: set() for r in rooms}
    for door in doorways:
        if door.room in graph and door.to_room in graph:
            graph[door.room].add(door.to_room)
            graph[door.to_room].add(door.room)
    hops, frontier = {start: 0}, [start]
    while frontier:
        nxt = []
        for room in frontier:
            for other in sorted(graph[room]):
                if other not in hops:
                    hops[other] = hops[room] + 1
                    nxt.append(other)
        frontier = nxt
    return hops
