"""Tests for scenes.emit_bam: tiny hand-made chunks, loaded back in a fresh process."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scenes import ir
from scenes.emit_bam import GEOMETRY_NODE, BamOptions, emit_bam
from tests.meshes import box_mesh

REPO = Path(__file__).resolve().parents[1]


# --- fixtures --------------------------------------------------------------


def quad_mesh(width: float, height: float) -> ir.MeshData:
    """An upright quad facing south (-Y), bottom on z=0, glTF UVs (v=0 at the top)."""
    w = width / 2
    positions = np.array([(-w, 0, 0), (w, 0, 0), (w, 0, height), (-w, 0, height)], np.float32)
    normals = np.tile(np.array([0, -1, 0], np.float32), (4, 1))
    uvs = np.array([(0, 1), (1, 1), (1, 0), (0, 0)], np.float32)
    return ir.MeshData(positions, normals, np.array([(0, 1, 2), (0, 2, 3)], np.uint32), uvs)


def two_band_png(top=(240, 200, 0, 255), bottom=(0, 60, 220, 255), size=16) -> bytes:
    """A PNG whose top half is `top` and bottom half `bottom`."""
    image = Image.new("RGBA", (size, size), bottom)
    image.paste(Image.new("RGBA", (size, size // 2), top), (0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def sample_chunk() -> ir.ChunkMeshes:
    """A floor, a turned red box and a textured, double-sided quad."""
    return ir.ChunkMeshes(
        "hall-a/room-1",
        [
            ir.NodeMeshes(
                "room-1/shell",
                (0.0, 0.0, -0.1),
                0.0,
                [ir.Part(box_mesh(10, 10, 0.1), ir.Material("floor", (0.5, 0.5, 0.5, 1.0)))],
            ),
            ir.NodeMeshes(
                "room-1/exhibit/red-box",
                (1.0, 2.0, 0.0),
                30.0,
                [ir.Part(box_mesh(1, 1, 1), ir.Material("red", (0.9, 0.1, 0.1, 1.0)))],
            ),
            ir.NodeMeshes(
                "room-1/exhibit/poster",
                (-2.0, 2.0, 0.0),
                -90.0,
                [
                    ir.Part(
                        quad_mesh(2, 1.5),
                        ir.Material(
                            "poster",
                            (1, 1, 1, 1),
                            texture_png=two_band_png(),
                            double_sided=True,
                            roughness=0.5,
                            metallic=0.25,
                        ),
                    )
                ],
            ),
            ir.NodeMeshes("room-1/empty", (0.0, 0.0, 0.0), 0.0, []),
        ],
    )


def world_bounds(chunk: ir.ChunkMeshes) -> tuple[list[float], list[float]]:
    """Axis-aligned bounds of every vertex, placed by its node's position and heading."""
    points = []
    for node in chunk.nodes:
        h = math.radians(node.heading)
        rot = np.array([[math.cos(h), -math.sin(h), 0], [math.sin(h), math.cos(h), 0], [0, 0, 1]])
        for part in node.parts:
            points.append(part.mesh.positions @ rot.T + np.array(node.position))
    allpoints = np.vstack(points)
    return allpoints.min(axis=0).tolist(), allpoints.max(axis=0).tolist()


_LOAD_SCRIPT = textwrap.dedent("""
    import json, sys
    from panda3d.core import (Filename, LColor, Loader, LoaderOptions, NodePath, TextureAttrib,
                              loadPrcFileData)
    def pixel(tex, x, y):
        colour = LColor()
        tex.peek().fetchPixel(colour, x, y)
        return list(colour)
    loadPrcFileData("", "model-cache-dir\\nmodel-path .")
    node = Loader.getGlobalPtr().loadSync(Filename.fromOsSpecific(sys.argv[1]),
                                          LoaderOptions(LoaderOptions.LF_no_cache))
    root = NodePath(node)
    report = {"root": root.getName(), "children": [], "bounds": [list(p) for p in root.getTightBounds()]}
    for child in root.getChildren():
        entry = {"name": child.getName(), "pos": list(child.getPos()), "h": child.getH(),
                 "triangles": 0, "textures": []}
        geoms = child.find("geometry")
        if not geoms.isEmpty():
            gnode = geoms.node()
            for i in range(gnode.getNumGeoms()):
                entry["triangles"] += sum(p.getNumPrimitives() for p in gnode.getGeom(i).getPrimitives())
                attrib = gnode.getGeomState(i).getAttrib(TextureAttrib)
                if attrib is not None and attrib.getTexture() is not None:
                    tex = attrib.getTexture()
                    entry["textures"].append({
                        "size": [tex.getXSize(), tex.getYSize()], "ram": tex.hasRamImage(),
                        "filename": str(tex.getFilename()),
                        "top": pixel(tex, 0, tex.getYSize() - 1), "bottom": pixel(tex, 0, 0)})
        report["children"].append(entry)
    print(json.dumps(report))
""")


@pytest.fixture(scope="module")
def chunk() -> ir.ChunkMeshes:
    return sample_chunk()


@pytest.fixture(scope="module")
def bam(chunk) -> bytes:
    return emit_bam(chunk)


@pytest.fixture(scope="module")
def reloaded(bam, tmp_path_factory) -> dict:
    """The bam as a fresh Python process sees it, run in a directory holding only the bam."""
    folder = tmp_path_factory.mktemp("fresh")
    (folder / "chunk.bam").write_bytes(bam)
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT, "chunk.bam"], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_in_process(data: bytes):
    """The root `NodePath` of bam bytes, read in this process."""
    from panda3d.core import BamFile, NodePath, StringStream

    stream = StringStream(data)
    bam_file = BamFile()
    assert bam_file.openRead(stream)
    node = bam_file.readNode()
    assert node is not None and bam_file.resolve()
    return NodePath(node)


def first_geom_state(root, node_name: str):
    child = next(c for c in root.getChildren() if c.getName() == node_name)
    gnode = child.find(GEOMETRY_NODE).node()
    return gnode.getGeom(0), gnode.getGeomState(0)


# --- round trip in a fresh process -----------------------------------------


def test_bam_round_trip_keeps_node_names_and_triangles(chunk, reloaded):
    assert reloaded["root"] == chunk.chunk_id
    assert [c["name"] for c in reloaded["children"]] == [n.name for n in chunk.nodes]
    assert [c["triangles"] for c in reloaded["children"]] == [
        sum(p.mesh.triangle_count for p in n.parts) for n in chunk.nodes
    ]


def test_bam_round_trip_keeps_positions_and_headings(chunk, reloaded):
    for node, child in zip(chunk.nodes, reloaded["children"]):
        assert child["pos"] == pytest.approx(list(node.position), abs=1e-6)
        assert child["h"] == pytest.approx(node.heading, abs=1e-4)


def test_bam_round_trip_keeps_tight_bounds(chunk, reloaded):
    low, high = world_bounds(chunk)
    assert reloaded["bounds"][0] == pytest.approx(low, abs=1e-4)
    assert reloaded["bounds"][1] == pytest.approx(high, abs=1e-4)


def test_bam_embeds_texture_and_loads_without_other_files(reloaded):
    (texture,) = next(c for c in reloaded["children"] if c["name"] == "room-1/exhibit/poster")["textures"]
    assert texture["size"] == [16, 16]
    assert texture["ram"] and texture["filename"] == ""
    # Panda's row 0 is the image's bottom: the PNG's top band must be at the top.
    assert texture["top"] == pytest.approx([240 / 255, 200 / 255, 0, 1], abs=1e-3)
    assert texture["bottom"] == pytest.approx([0, 60 / 255, 220 / 255, 1], abs=1e-3)


# --- determinism -----------------------------------------------------------


def test_bam_bytes_are_identical_across_calls_and_processes(bam):
    assert emit_bam(sample_chunk()) == bam
    script = (
        "import hashlib, sys; sys.path[:0] = sys.argv[1:3];"
        f"from {Path(__file__).stem} import sample_chunk; from scenes.emit_bam import emit_bam;"
        "print(hashlib.sha256(emit_bam(sample_chunk())).hexdigest())"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(REPO)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == hashlib.sha256(bam).hexdigest()


# --- geometry details ------------------------------------------------------


def test_bam_flips_v_for_panda_texture_coordinates(bam):
    from panda3d.core import GeomVertexReader

    geom, _ = first_geom_state(load_in_process(bam), "room-1/exhibit/poster")
    reader = GeomVertexReader(geom.getVertexData(), "texcoord")
    uvs = [tuple(reader.getData2()) for _ in range(4)]
    assert uvs == [(0, 0), (1, 0), (1, 1), (0, 1)]  # glTF (0,1),(1,1),(1,0),(0,0)


def test_bam_without_uvs_has_no_texcoord_column():
    mesh = box_mesh(1, 1, 1)
    mesh.uvs = None
    chunk = ir.ChunkMeshes("c", [ir.NodeMeshes("n", (0, 0, 0), 0, [ir.Part(mesh, ir.Material("m", (1, 1, 1, 1)))])])
    geom, _ = first_geom_state(load_in_process(emit_bam(chunk)), "n")
    assert not geom.getVertexData().getFormat().hasColumn("texcoord")
    assert geom.getVertexData().getFormat().hasColumn("normal")


def test_bam_uses_32_bit_indices_when_vertices_exceed_65535():
    from panda3d.core import GeomEnums

    count = 70_000
    positions = np.random.default_rng(1).random((count, 3), dtype=np.float32)
    normals = np.tile(np.array([0, 0, 1], np.float32), (count, 1))
    indices = np.array([(0, 1, count - 1), (2, 3, 4)], np.uint32)
    mesh = ir.MeshData(positions, normals, indices)
    chunk = ir.ChunkMeshes("c", [ir.NodeMeshes("big", (0, 0, 0), 0, [ir.Part(mesh, ir.Material("m", (1, 1, 1, 1)))])])
    geom, _ = first_geom_state(load_in_process(emit_bam(chunk)), "big")
    prim = geom.getPrimitive(0)
    assert prim.getIndexType() == GeomEnums.NT_uint32
    assert [prim.getVertex(i) for i in range(6)] == [0, 1, count - 1, 2, 3, 4]


# --- render state ----------------------------------------------------------


def test_bam_material_keeps_colour_roughness_and_metallic(bam):
    from panda3d.core import MaterialAttrib

    _, state = first_geom_state(load_in_process(bam), "room-1/exhibit/poster")
    material = state.getAttrib(MaterialAttrib).getMaterial()
    assert tuple(material.getBaseColor()) == pytest.approx((1, 1, 1, 1))
    assert material.getRoughness() == pytest.approx(0.5)
    assert material.getMetallic() == pytest.approx(0.25)


def test_bam_linear_workflow_linearises_colour_and_marks_textures_srgb(chunk):
    from panda3d.core import MaterialAttrib, Texture, TextureAttrib

    root = load_in_process(emit_bam(chunk, BamOptions(linear_workflow=True)))
    _, red = first_geom_state(root, "room-1/exhibit/red-box")
    assert tuple(red.getAttrib(MaterialAttrib).getMaterial().getBaseColor()) == pytest.approx(
        (0.7874, 0.0100, 0.0100, 1.0), abs=1e-3
    )
    _, poster = first_geom_state(root, "room-1/exhibit/poster")
    assert poster.getAttrib(TextureAttrib).getTexture().getFormat() == Texture.F_srgb_alpha


def test_bam_double_sided_part_disables_back_face_culling(bam):
    from panda3d.core import CullFaceAttrib

    root = load_in_process(bam)
    _, poster = first_geom_state(root, "room-1/exhibit/poster")
    _, red = first_geom_state(root, "room-1/exhibit/red-box")
    assert poster.getAttrib(CullFaceAttrib).getActualMode() == CullFaceAttrib.M_cull_none
    assert red.getAttrib(CullFaceAttrib) is None


def test_bam_translucent_colour_turns_on_alpha_blending():
    from panda3d.core import TransparencyAttrib

    glass = ir.Material("glass", (0.8, 0.9, 1.0, 0.4))
    chunk = ir.ChunkMeshes("c", [ir.NodeMeshes("n", (0, 0, 0), 0, [ir.Part(box_mesh(1, 1, 1), glass)])])
    _, state = first_geom_state(load_in_process(emit_bam(chunk)), "n")
    assert state.getAttrib(TransparencyAttrib).getMode() == TransparencyAttrib.M_alpha


def test_bam_unlit_part_turns_lighting_off_and_uses_flat_colour():
    from panda3d.core import ColorAttrib, LightAttrib, MaterialAttrib

    sign = ir.Material("sign", (0.2, 0.4, 0.6, 1.0), unlit=True)
    chunk = ir.ChunkMeshes("c", [ir.NodeMeshes("n", (0, 0, 0), 0, [ir.Part(box_mesh(1, 1, 1), sign)])])
    _, state = first_geom_state(load_in_process(emit_bam(chunk)), "n")
    assert state.getAttrib(LightAttrib).hasAllOff()
    assert tuple(state.getAttrib(ColorAttrib).getColor()) == pytest.approx((0.2, 0.4, 0.6, 1.0), abs=1e-3)
    assert state.getAttrib(MaterialAttrib) is None


def test_bam_shares_one_texture_between_parts_with_the_same_png():
    from panda3d.core import TextureAttrib

    png = two_band_png()
    parts = [ir.Part(quad_mesh(1, 1), ir.Material(name, (1, 1, 1, 1), texture_png=png)) for name in "ab"]
    chunk = ir.ChunkMeshes("c", [ir.NodeMeshes("n", (0, 0, 0), 0, parts)])
    gnode = load_in_process(emit_bam(chunk)).find("n/" + GEOMETRY_NODE).node()
    textures = {gnode.getGeomState(i).getAttrib(TextureAttrib).getTexture() for i in range(2)}
    assert len(textures) == 1


# --- argument checks -------------------------------------------------------


def test_emit_bam_rejects_out_of_range_indices_naming_stage_node_and_part():
    mesh = quad_mesh(1, 1)
    mesh.indices = np.array([(0, 1, 4)], np.uint32)
    chunk = ir.ChunkMeshes("c", [ir.NodeMeshes("n", (0, 0, 0), 0, [ir.Part(mesh, ir.Material("m", (1, 1, 1, 1)))])])
    with pytest.raises(ValueError) as info:
        emit_bam(chunk)
    assert str(info.value) == "emit_bam: chunk 'c': node 'n': parts[0]: indices must lie in 0..3"


def test_emit_bam_rejects_duplicate_node_names():
    chunk = ir.ChunkMeshes("c", [ir.NodeMeshes("n", (0, 0, 0), 0), ir.NodeMeshes("n", (1, 0, 0), 0)])
    with pytest.raises(ValueError) as info:
        emit_bam(chunk)
    assert str(info.value) == "emit_bam: chunk 'c': node 'n': duplicate node name"


def test_emit_bam_rejects_colour_out_of_range():
    bad = ir.Material("hot", (1.5, 0, 0, 1))
    chunk = ir.ChunkMeshes("c", [ir.NodeMeshes("n", (0, 0, 0), 0, [ir.Part(quad_mesh(1, 1), bad)])])
    with pytest.raises(ValueError) as info:
        emit_bam(chunk)
    assert str(info.value) == "emit_bam: chunk 'c': node 'n': parts[0]: material 'hot': colour must be 4 values in 0..1"


def test_emit_bam_rejects_unreadable_texture():
    bad = ir.Material("broken", (1, 1, 1, 1), texture_png=b"not a png")
    chunk = ir.ChunkMeshes("c", [ir.NodeMeshes("n", (0, 0, 0), 0, [ir.Part(quad_mesh(1, 1), bad)])])
    with pytest.raises(ValueError) as info:
        emit_bam(chunk)
    assert str(info.value) == "emit_bam: material 'broken': texture_png is not a readable PNG"
