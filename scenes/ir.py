"""The scene IR: the one contract between the YAML world and the output formats.

Plain dataclasses.  Coordinates are Panda3D's: metres, Z up, +X east,
+Y north.  Node positions are in hall coordinates; shapes are built around
their node's origin.  Everything here is JSON-serialisable (`to_jsonable`),
which is what the build hashes to decide what must be recompiled.

`layout` makes a `SceneIR`; `geometry` turns each `ChunkIR` into meshes
(`ChunkMeshes`); `emit_gltf` and `emit_bam` write those meshes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Bounds:
    """Axis-aligned box in hall coordinates."""

    min: Vec3
    max: Vec3


@dataclass(frozen=True)
class Shape:
    """Something the geometry stage must build: a shape kind and its parameters.

    `kind` names a builder in `scenes.geometry` (`room-shell`, `panel`,
    `media`, `plinth`, `asset`, `checkpoint-marker`, `portal-sign`, or a
    procedural generator such as `terrain`, `figure`, `chain-bridge`).
    `params` holds only JSON values.  `offset` and `heading` place the shape
    relative to its node.
    """

    kind: str
    params: dict[str, Any]
    offset: Vec3 = (0.0, 0.0, 0.0)
    heading: float = 0.0


@dataclass(frozen=True)
class Node:
    """A named part of a chunk: the room shell, one exhibit, one doorway sign.

    Names are stable and unique within a hall (`<room>/<what>/<id>`); both
    emitters use them, and clients find exhibits by them.
    """

    name: str
    position: Vec3
    heading: float
    """Rotation about Z, degrees, counter-clockwise seen from above (0 = front faces north)."""
    shapes: tuple[Shape, ...]
    exhibit: str | None = None
    """Exhibit id when this node is an exhibit."""


@dataclass(frozen=True)
class ChunkIR:
    """One streamable piece of a hall: a room and everything in it."""

    id: str
    room: str
    bounds: Bounds
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Spawn:
    room: str
    position: Vec3
    heading: float


@dataclass(frozen=True)
class RoomInfo:
    id: str
    title: dict
    shape: str
    bounds: Bounds


@dataclass(frozen=True)
class DoorwayInfo:
    """An opening members can walk through: to a room, or a portal to another hall."""

    room: str
    to_room: str | None
    to_hall: str | None
    position: Vec3
    width: float
    heading: float


@dataclass(frozen=True)
class ExhibitInfo:
    """What a client shows when an exhibit is opened."""

    id: str
    room: str
    kind: str
    node: str
    title: dict
    text: dict | None
    position: Vec3
    radius: float
    assets: tuple[str, ...] = ()
    """Asset paths (under `assets/`) the exhibit plays or shows: images, audio, video."""


@dataclass(frozen=True)
class CheckpointIR:
    """A quiz station, answer keys included (the manifest strips them)."""

    id: str
    room: str
    title: dict
    position: Vec3
    radius: float
    pass_mark: float
    attempts: int
    cooldown: float
    questions: tuple[dict, ...]


@dataclass(frozen=True)
class SceneIR:
    """A laid-out hall."""

    hall_id: str
    title: dict
    intro: dict | None
    theme: dict
    order: int
    spawn: Spawn
    rooms: tuple[RoomInfo, ...]
    chunks: tuple[ChunkIR, ...]
    """In streaming order: the spawn room first, then outward through doorways."""
    doorways: tuple[DoorwayInfo, ...]
    exhibits: tuple[ExhibitInfo, ...]
    checkpoints: tuple[CheckpointIR, ...]


# --- geometry output -------------------------------------------------------


@dataclass(frozen=True)
class Material:
    """A PBR material.  Colours are sRGB 0..1; the texture is PNG bytes."""

    name: str
    colour: tuple[float, float, float, float]
    roughness: float = 0.85
    metallic: float = 0.0
    texture_png: bytes | None = None
    double_sided: bool = False
    unlit: bool = False


@dataclass
class MeshData:
    """Triangles with per-vertex normals and optional texture coordinates."""

    positions: np.ndarray  # (n, 3) float32
    normals: np.ndarray  # (n, 3) float32, unit length
    indices: np.ndarray  # (m, 3) uint32
    uvs: np.ndarray | None = None  # (n, 2) float32, V down from the image's top (glTF convention)

    @property
    def triangle_count(self) -> int:
        return int(len(self.indices))


@dataclass
class Part:
    """One draw call: a mesh with one material."""

    mesh: MeshData
    material: Material


@dataclass
class NodeMeshes:
    """A node's transform and its parts (one draw call each)."""

    name: str
    position: Vec3
    heading: float
    parts: list[Part] = field(default_factory=list)


@dataclass
class ChunkMeshes:
    """The geometry of one chunk, ready for the emitters."""

    chunk_id: str
    nodes: list[NodeMeshes]

    @property
    def triangle_count(self) -> int:
        return sum(p.mesh.triangle_count for n in self.nodes for p in n.parts)

    @property
    def draw_calls(self) -> int:
        return sum(len(n.parts) for n in self.nodes)

    @property
    def texture_bytes(self) -> int:
        """Approximate GPU memory of the textures (RGBA8 with mipmaps), counted once each."""
        import io

        from PIL import Image

        seen: dict[bytes, int] = {}
        for node in self.nodes:
            for part in node.parts:
                png = part.material.texture_png
                if png is not None and png not in seen:
                    with Image.open(io.BytesIO(png)) as img:
                        seen[png] = img.width * img.height * 4 * 4 // 3
        return sum(seen.values())


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples and dicts as plain JSON values (for hashing and manifests)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value
