"""emit_gltf: one chunk's meshes become a binary glTF 2.0 file (`.glb`).

The IR is Z-up (Panda3D); glTF is Y-up, so positions and normals are
mapped `(x, y, z) -> (x, z, -y)` here and nowhere else.  A heading about Z
becomes the same angle about +Y.  Output is deterministic: the same meshes
give the same bytes, which is what content addressing relies on.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

import numpy as np

from scenes import ir

ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
FLOAT = 5126
UNSIGNED_SHORT = 5123
UNSIGNED_INT = 5125
LINEAR = 9729
LINEAR_MIPMAP_LINEAR = 9987
CLAMP_TO_EDGE = 33071


@dataclass(frozen=True)
class GltfOptions:
    """emit_gltf settings."""

    generator: str = "tunlan-halls"
    """Written to `asset.generator`."""


def emit_gltf(chunk: ir.ChunkMeshes, options: GltfOptions = GltfOptions()) -> bytes:
    """Write a chunk as GLB bytes: a root node named after the chunk, one child per IR node."""
    if not chunk.chunk_id:
        raise ValueError("emit_gltf: chunk has no id")
    writer = _GltfWriter(options)
    children = [writer.add_node(node) for node in chunk.nodes]
    root_node: dict = {"name": chunk.chunk_id, "children": children} if children else {"name": chunk.chunk_id}
    root = writer.add_plain_node(root_node)
    return writer.to_glb(root)


def y_up(points: np.ndarray) -> np.ndarray:
    """Map Z-up vectors to glTF's Y-up frame."""
    points = np.asarray(points, dtype=np.float32)
    return np.stack([points[:, 0], points[:, 2], -points[:, 1]], axis=1)


def srgb_to_linear(value: float) -> float:
    """glTF colour factors are linear; the IR's colours are sRGB."""
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


class _GltfWriter:
    """Accumulates glTF JSON and one binary buffer."""

    def __init__(self, options: GltfOptions):
        self.doc: dict = {
            "asset": {"version": "2.0", "generator": options.generator},
            "scene": 0,
            "scenes": [],
            "nodes": [],
            "meshes": [],
            "materials": [],
            "textures": [],
            "images": [],
            "samplers": [],
            "accessors": [],
            "bufferViews": [],
            "buffers": [],
        }
        self.binary = bytearray()
        self.material_index: dict[ir.Material, int] = {}
        self.image_index: dict[bytes, int] = {}
        self.uses_unlit = False

    def add_plain_node(self, node: dict) -> int:
        self.doc["nodes"].append(node)
        return len(self.doc["nodes"]) - 1

    def add_node(self, node: ir.NodeMeshes) -> int:
        x, y, z = node.position
        half = math.radians(node.heading) / 2
        entry: dict = {"name": node.name}
        if (x, y, z) != (0, 0, 0):
            entry["translation"] = [float(x), float(z), float(-y)]
        if node.heading % 360:
            entry["rotation"] = [0.0, math.sin(half), 0.0, math.cos(half)]
        primitives = [self._primitive(part) for part in node.parts if part.mesh.triangle_count]
        if primitives:
            self.doc["meshes"].append({"name": node.name, "primitives": primitives})
            entry["mesh"] = len(self.doc["meshes"]) - 1
        return self.add_plain_node(entry)

    def _primitive(self, part: ir.Part) -> dict:
        mesh = part.mesh
        positions = y_up(mesh.positions)
        attributes = {
            "POSITION": self._accessor(positions, "VEC3", ARRAY_BUFFER, with_bounds=True),
            "NORMAL": self._accessor(_unit(y_up(mesh.normals)), "VEC3", ARRAY_BUFFER),
        }
        if mesh.uvs is not None:
            attributes["TEXCOORD_0"] = self._accessor(np.asarray(mesh.uvs, np.float32), "VEC2", ARRAY_BUFFER)
        index_type = np.uint16 if len(positions) < 65536 else np.uint32
        indices = np.asarray(mesh.indices).astype(index_type).reshape(-1)
        return {
            "attributes": attributes,
            "indices": self._accessor(indices, "SCALAR", ELEMENT_ARRAY_BUFFER),
            "material": self._material(part.material),
            "mode": 4,
        }

    def _buffer_view(self, data: bytes, target: int | None) -> int:
        self._align()
        view = {"buffer": 0, "byteOffset": len(self.binary), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.binary += data
        self.doc["bufferViews"].append(view)
        return len(self.doc["bufferViews"]) - 1

    def _accessor(self, array: np.ndarray, kind: str, target: int, with_bounds: bool = False) -> int:
        component = {np.float32: FLOAT, np.uint16: UNSIGNED_SHORT, np.uint32: UNSIGNED_INT}[array.dtype.type]
        accessor = {
            "bufferView": self._buffer_view(np.ascontiguousarray(array).tobytes(), target),
            "componentType": component,
            "count": int(len(array)),
            "type": kind,
        }
        if with_bounds:
            accessor["min"] = [float(v) for v in array.min(axis=0)]
            accessor["max"] = [float(v) for v in array.max(axis=0)]
        self.doc["accessors"].append(accessor)
        return len(self.doc["accessors"]) - 1

    def _material(self, material: ir.Material) -> int:
        if material in self.material_index:
            return self.material_index[material]
        r, g, b, a = material.colour
        pbr: dict = {
            "baseColorFactor": [srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b), float(a)],
            "metallicFactor": float(material.metallic),
            "roughnessFactor": float(material.roughness),
        }
        if material.texture_png is not None:
            pbr["baseColorTexture"] = {"index": self._texture(material.texture_png)}
        entry: dict = {"name": material.name, "pbrMetallicRoughness": pbr}
        if material.double_sided:
            entry["doubleSided"] = True
        if a < 1.0:
            entry["alphaMode"] = "BLEND"
        if material.unlit:
            entry["extensions"] = {"KHR_materials_unlit": {}}
            self.uses_unlit = True
        self.doc["materials"].append(entry)
        self.material_index[material] = len(self.doc["materials"]) - 1
        return self.material_index[material]

    def _texture(self, png: bytes) -> int:
        if png not in self.image_index:
            view = self._buffer_view(png, None)
            self.doc["images"].append({"bufferView": view, "mimeType": "image/png"})
            if not self.doc["samplers"]:
                self.doc["samplers"].append(
                    {
                        "magFilter": LINEAR,
                        "minFilter": LINEAR_MIPMAP_LINEAR,
                        "wrapS": CLAMP_TO_EDGE,
                        "wrapT": CLAMP_TO_EDGE,
                    }
                )
            self.doc["textures"].append({"sampler": 0, "source": len(self.doc["images"]) - 1})
            self.image_index[png] = len(self.doc["textures"]) - 1
        return self.image_index[png]

    def _align(self) -> None:
        self.binary += b"\x00" * (-len(self.binary) % 4)

    def to_glb(self, root: int) -> bytes:
        self.doc["scenes"] = [{"nodes": [root]}]
        self._align()
        if self.binary:
            self.doc["buffers"] = [{"byteLength": len(self.binary)}]
        if self.uses_unlit:
            self.doc["extensionsUsed"] = ["KHR_materials_unlit"]
        doc = {key: value for key, value in self.doc.items() if value != []}
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        text += b" " * (-len(text) % 4)
        chunks = struct.pack("<II", len(text), 0x4E4F534A) + text
        if self.binary:
            chunks += struct.pack("<II", len(self.binary), 0x004E4942) + bytes(self.binary)
        return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Normals must be unit length for the validator; degenerate ones point up."""
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    safe = np.where(lengths > 1e-8, vectors / np.maximum(lengths, 1e-8), np.array([0, 1, 0], np.float32))
    return safe.astype(np.float32)
