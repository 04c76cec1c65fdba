"""The hall manifest as the client reads it: typed, checked, with object URLs resolved.

`HallManifest.parse(data, base_url)` accepts the JSON of `GET /api/halls/{id}`
(any variant) or the manifest file the build writes.  Only manifest
`version` 1 is understood; anything else raises `ManifestError` with a
message a member can act on.  Coordinates are Panda3D's own: Z up, metres,
+Y north.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urljoin

FORMAT = "tunlan-hall-manifest"
SUPPORTED_VERSIONS = (1,)
OBJECTS_PATH = "/objects/"
"""Where objects live on the server when the manifest gives no URL."""

Vec3 = tuple[float, float, float]


class ManifestError(ValueError):
    """The manifest cannot be used by this client."""


@dataclass(frozen=True)
class ObjectRef:
    """One immutable object: its file name, hash, size and where to fetch it."""

    name: str
    sha256: str
    size: int
    url: str


@dataclass(frozen=True)
class Bounds:
    low: Vec3
    high: Vec3

    def contains(self, point: Vec3, margin: float = 0.0) -> bool:
        """Whether `point` lies inside on the floor plane (x, y), `margin` metres of slack."""
        return (self.low[0] - margin <= point[0] <= self.high[0] + margin
                and self.low[1] - margin <= point[1] <= self.high[1] + margin)

    @property
    def centre(self) -> Vec3:
        return tuple((a + b) / 2 for a, b in zip(self.low, self.high))


@dataclass(frozen=True)
class Chunk:
    id: str
    room: str
    bounds: Bounds
    bam: ObjectRef
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Room:
    id: str
    title: Mapping[str, str | None]
    bounds: Bounds
    shape: str = "room"


@dataclass(frozen=True)
class Doorway:
    room: str
    to_room: str | None
    to_hall: str | None
    position: Vec3
    width: float
    heading: float
    """Degrees; the direction one walks to pass through, leaving `room`."""


@dataclass(frozen=True)
class Exhibit:
    id: str
    room: str
    kind: str
    node: str
    """Scene node name (`room/exhibit/<id>`); compare with `getName()`, never `find()`."""
    title: Mapping[str, str | None]
    text: Mapping[str, str | None] | None
    position: Vec3
    radius: float


@dataclass(frozen=True)
class Checkpoint:
    id: str
    room: str
    title: Mapping[str, str | None]
    position: Vec3
    radius: float
    questions: tuple[Mapping[str, Any], ...]
    pass_mark: float | None = None
    attempts: int | None = None


@dataclass(frozen=True)
class Spawn:
    room: str
    position: Vec3
    heading: float


@dataclass(frozen=True)
class HallManifest:
    """One hall: chunks in streaming order, rooms, doorways, exhibits, checkpoints, spawn."""

    id: str
    title: Mapping[str, str | None]
    theme: Mapping[str, Any]
    spawn: Spawn
    rooms: tuple[Room, ...]
    doorways: tuple[Doorway, ...]
    chunks: tuple[Chunk, ...]
    exhibits: tuple[Exhibit, ...]
    checkpoints: tuple[Checkpoint, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def parse(cls, data: Any, base_url: str = "") -> "HallManifest":
        """Check and read a manifest; `base_url` resolves object URLs (`ManifestError` on bad input)."""
        return _parse(data, base_url)

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


def text_of(value: Mapping[str, str | None] | str | None, language: str = "zh") -> str:
    """The text in `language`, else the other language, else ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(language) or value.get("zh") or value.get("en") or ""


# --- parsing -----------------------------------------------------------------


def _parse(data: Any, base_url: str) -> HallManifest:
    if not isinstance(data, Mapping):
        raise ManifestError("manifest: not a JSON object")
    if data.get("format") != FORMAT:
        raise ManifestError(f"manifest: format {data.get('format')!r} is not {FORMAT!r}")
    version = data.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise ManifestError(
            f"manifest: version {version!r} is not supported by this client (it reads version "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}); update the client")
    hall = data.get("id", "?")
    try:
        manifest = HallManifest(
            id=data["id"],
            title=data.get("title") or {},
            theme=data.get("theme") or {},
            spawn=_spawn(data["spawn"]),
            rooms=tuple(Room(r["id"], r.get("title") or {}, _bounds(r["bounds"]), r.get("shape", "room"))
                        for r in data["rooms"]),
            doorways=tuple(_doorway(d) for d in data.get("doorways", ())),
            chunks=tuple(_chunk(c, base_url) for c in data["chunks"]),
            exhibits=tuple(_exhibit(e) for e in data.get("exhibits", ())),
            checkpoints=tuple(_checkpoint(c) for c in data.get("checkpoints", ())),
            raw=data,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ManifestError(f"manifest of hall {hall!r}: malformed ({type(exc).__name__}: {exc})") from None
    if not manifest.chunks:
        raise ManifestError(f"manifest of hall {hall!r}: no chunks")
    return manifest


def _vec3(value) -> Vec3:
    x, y, z = (float(v) for v in value)
    if not all(math.isfinite(v) for v in (x, y, z)):
        raise ValueError(f"not finite: {value!r}")
    return (x, y, z)


def _bounds(value) -> Bounds:
    return Bounds(_vec3(value["min"]), _vec3(value["max"]))


def _spawn(value) -> Spawn:
    return Spawn(value["room"], _vec3(value["position"]), float(value.get("heading", 0.0)))


def _doorway(value) -> Doorway:
    return Doorway(value["room"], value.get("to_room"), value.get("to_hall"), _vec3(value["position"]),
                   float(value["width"]), float(value.get("heading", 0.0)))


def _chunk(value, base_url: str) -> Chunk:
    entry = value["objects"]["bam"]
    name = entry["name"]
    if "/" in name or not (name.endswith(".bam") or name.endswith(".bam.pz")):
        raise ValueError(f"chunk {value['id']!r}: not a bam object name: {name!r}")
    sha = str(entry["sha256"]).lower()
    if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
        raise ValueError(f"chunk {value['id']!r}: bad sha256 {sha!r}")
    model = value.get("model")
    url = model["url"] if isinstance(model, Mapping) and model.get("name") == name and model.get("url") else \
        OBJECTS_PATH + name
    ref = ObjectRef(name, sha, int(entry["size"]), urljoin(base_url, url) if base_url else url)
    return Chunk(value["id"], value["room"], _bounds(value["bounds"]), ref, tuple(value.get("nodes", ())))


def _exhibit(value) -> Exhibit:
    return Exhibit(value["id"], value["room"], value.get("kind", "panel"), value["node"], value.get("title") or {},
                   value.get("text"), _vec3(value["position"]), float(value.get("radius", 2.0)))


def _checkpoint(value) -> Checkpoint:
    return Checkpoint(value["id"], value["room"], value.get("title") or {}, _vec3(value["position"]),
                      float(value.get("radius", 1.5)), tuple(value.get("questions", ())),
                      value.get("pass_mark"), value.get("attempts"))


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
