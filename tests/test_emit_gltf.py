"""emit_gltf: GLB structure, Y-up conversion, determinism, Khronos validation."""

import io
import json
import math
import struct

import numpy as np
import pytest
from PIL import Image

from scenes import ir
from scenes.emit_gltf import emit_gltf, srgb_to_linear
from tests.gltf_check import validate_glb_files
from tests.meshes import box_mesh


def _png(colour=(200, 30, 30, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (32, 16), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _quad() -> ir.MeshData:
    positions = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]], np.float32)
    normals = np.array([[0, -1, 0]] * 4, np.float32)
    uvs = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)
    return ir.MeshData(positions, normals, np.array([[0, 1, 2], [0, 2, 3]], np.uint32), uvs)


def _chunk() -> ir.ChunkMeshes:
    red = ir.Material("red", (1.0, 0.0, 0.0, 1.0))
    textured = ir.Material("sign", (1.0, 1.0, 1.0, 1.0), texture_png=_png(), double_sided=True)
    return ir.ChunkMeshes(
        "hall-room",
        [
            ir.NodeMeshes(
                "hall-room/exhibit/box",
                (2.0, 3.0, 0.0),
                90.0,
                [ir.Part(box_mesh(1.0, 2.0, 3.0, uvs=False), red), ir.Part(_quad(), textured)],
            ),
            ir.NodeMeshes("hall-room/shell", (0.0, 0.0, 0.0), 0.0, [ir.Part(box_mesh(4, 4, 0.1, uvs=False), red)]),
        ],
    )


def _json_chunk(glb: bytes) -> dict:
    magic, version, length = struct.unpack_from("<4sII", glb)
    assert (magic, version, length) == (b"glTF", 2, len(glb))
    size, kind = struct.unpack_from("<II", glb, 12)
    assert kind == 0x4E4F534A
    return json.loads(glb[20 : 20 + size])


def test_emit_gltf_names_root_after_chunk_and_children_after_nodes():
    doc = _json_chunk(emit_gltf(_chunk()))
    root = doc["nodes"][doc["scenes"][0]["nodes"][0]]
    assert root["name"] == "hall-room"
    assert [doc["nodes"][i]["name"] for i in root["children"]] == ["hall-room/exhibit/box", "hall-room/shell"]


def test_emit_gltf_converts_z_up_to_y_up():
    doc = _json_chunk(emit_gltf(_chunk()))
    node = next(n for n in doc["nodes"] if n["name"] == "hall-room/exhibit/box")
    assert node["translation"] == [2.0, 0.0, -3.0]
    assert node["rotation"] == pytest.approx([0, math.sin(math.pi / 4), 0, math.cos(math.pi / 4)])
    box_positions = doc["accessors"][doc["meshes"][node["mesh"]]["primitives"][0]["attributes"]["POSITION"]]
    # The 3 m tall box stands on the floor: glTF's Y spans 0..3, Z (= -north) spans -1..1.
    assert box_positions["min"] == pytest.approx([-0.5, 0.0, -1.0])
    assert box_positions["max"] == pytest.approx([0.5, 3.0, 1.0])


def test_emit_gltf_shares_materials_and_writes_linear_colour():
    doc = _json_chunk(emit_gltf(_chunk()))
    assert [m["name"] for m in doc["materials"]] == ["red", "sign"]
    assert doc["materials"][1]["doubleSided"] is True
    assert doc["materials"][1]["pbrMetallicRoughness"]["baseColorTexture"] == {"index": 0}
    assert srgb_to_linear(0.5) == pytest.approx(0.214, abs=1e-3)


def test_emit_gltf_is_deterministic():
    assert emit_gltf(_chunk()) == emit_gltf(_chunk())


def test_emit_gltf_output_passes_khronos_validator(tmp_path):
    path = tmp_path / "chunk.glb"
    path.write_bytes(emit_gltf(_chunk()))
    [report] = validate_glb_files([path])
    assert report["errors"] == 0, report["messages"]
    assert report["warnings"] == 0, report["messages"]


def test_emit_gltf_rejects_chunk_without_id():
    with pytest.raises(ValueError, match="emit_gltf: chunk has no id"):
        emit_gltf(ir.ChunkMeshes("", []))
