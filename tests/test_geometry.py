"""Tests for scenes.geometry: shapes become merged, per-material meshes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh
from PIL import Image

from scenes import generators, geometry, ir
from scenes.geometry import GeometryError, GeometryOptions, build_chunk_meshes, load_model

THEME = {"wall": "#f4efe6", "floor": "#8a6d4b", "ceiling": "#fbfaf7", "trim": "#b22222", "sky": "#9cc3e6"}


def shell(width=10.0, depth=8.0, height=4.0, open=False, doorways=()) -> ir.Shape:
    params = {"width": width, "depth": depth, "height": height, "open": open, "doorways": list(doorways)} | THEME
    return ir.Shape("room-shell", params)


def door(wall="east", along=0.0, width=1.6, height=2.6) -> dict:
    return {"wall": wall, "along": along, "width": width, "height": height}


def panel(**changes) -> ir.Shape:
    params = {
        "width": 1.6,
        "height": 1.1,
        "title": "前言",
        "title_en": "Foreword",
        "text": "这是一块测试展板。",
        "text_en": None,
        "image": None,
        "frame": "#b22222",
        "accent": "#f2c14e",
        "mounted": True,
    }
    return ir.Shape("panel", params | changes)


DEFAULTS = GeometryOptions()


def build_node(*shapes: ir.Shape, name="room/exhibit/x", options=DEFAULTS, position=(0.0, 0.0, 0.0)):
    chunk = ir.ChunkIR("room", "room", ir.Bounds((-50, -50, 0), (50, 50, 10)), (ir.Node(name, position, 0.0, shapes),))
    return build_chunk_meshes(chunk, options).nodes[0]


def parts_by_surface(node: ir.NodeMeshes) -> dict[str, ir.Part]:
    return {part.material.name.split("-")[0]: part for part in node.parts}


def positions(node: ir.NodeMeshes, surface: str | None = None) -> np.ndarray:
    parts = [p for p in node.parts if surface is None or p.material.name.startswith(surface + "-")]
    return np.vstack([p.mesh.positions for p in parts])


def ray_hits(mesh: ir.MeshData, origin, direction) -> int:
    """How many triangles a ray crosses (Möller–Trumbore, both faces)."""
    tri = mesh.positions[mesh.indices].astype(float)
    origin, direction = np.asarray(origin, float), np.asarray(direction, float)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    p = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - tri[:, 0]
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    v = (q @ direction) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    return int((ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)).sum())


def glb_box(extents=(1.0, 2.0, 3.0)) -> bytes:
    """A GLB holding one box, in glTF's Y-up frame."""
    box = trimesh.creation.box(extents=extents)
    return trimesh.Scene(box).export(file_type="glb")


# --- the stage -------------------------------------------------------------


def test_unknown_shape_kind_is_rejected_naming_the_node():
    with pytest.raises(GeometryError) as error:
        build_node(ir.Shape("foo", {}), name="entrance/exhibit/x")
    assert str(error.value) == "geometry: unknown shape kind 'foo' in node 'entrance/exhibit/x'"


@pytest.mark.parametrize(
    "shape, message",
    [
        (panel(width="wide"), "geometry: panel: param 'width' must be a number, got 'wide' in node 'n'"),
        (panel(depth=2), "geometry: panel: unknown param 'depth'"),
        (ir.Shape("plinth", {"width": -1}), "geometry: plinth: param 'width' must be between"),
        (ir.Shape("portal-sign", {"width": 2}), "geometry: portal-sign: missing param 'door_height' in node 'n'"),
        (
            shell(doorways=[door(along=4.5)]),
            "geometry: room-shell: doorways[0] (3.70..5.30 m along the east wall) does not fit the 8 m wall",
        ),
    ],
)
def test_bad_params_are_rejected_naming_stage_shape_and_node(shape, message):
    with pytest.raises(GeometryError) as error:
        build_node(shape, name="n")
    assert str(error.value).startswith(message)


def test_duplicate_node_names_are_rejected():
    node = ir.Node("a/b", (0, 0, 0), 0, (ir.Shape("rock", {}),))
    chunk = ir.ChunkIR("c", "c", ir.Bounds((0, 0, 0), (1, 1, 1)), (node, node))
    with pytest.raises(GeometryError, match="duplicate node name 'a/b'"):
        build_chunk_meshes(chunk)


def test_chunk_keeps_node_names_transforms_and_order():
    nodes = (
        ir.Node("r/shell", (1.0, 2.0, 0.0), 0.0, (shell(),)),
        ir.Node("r/exhibit/rock", (3.0, 4.0, 0.0), 90.0, (ir.Shape("rock", {}),), exhibit="rock"),
    )
    meshes = build_chunk_meshes(ir.ChunkIR("r", "r", ir.Bounds((0, 0, 0), (1, 1, 1)), nodes))
    assert meshes.chunk_id == "r"
    assert [(n.name, n.position, n.heading) for n in meshes.nodes] == [
        ("r/shell", (1.0, 2.0, 0.0), 0.0),
        ("r/exhibit/rock", (3.0, 4.0, 0.0), 90.0),
    ]


def test_mesh_data_has_the_ir_types_and_unit_normals():
    node = build_node(shell(doorways=[door()]), panel(), ir.Shape("figure", {}), ir.Shape("grass", {}))
    for part in node.parts:
        mesh = part.mesh
        assert mesh.positions.dtype == np.float32 and mesh.positions.shape[1] == 3
        assert mesh.normals.dtype == np.float32 and mesh.normals.shape == mesh.positions.shape
        assert mesh.indices.dtype == np.uint32 and mesh.indices.shape[1] == 3
        assert mesh.indices.max() < len(mesh.positions)
        assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-5)
        if mesh.uvs is not None:
            assert mesh.uvs.dtype == np.float32 and mesh.uvs.shape == (len(mesh.positions), 2)


def test_faces_are_counter_clockwise_seen_from_the_front():
    node = build_node(shell(), ir.Shape("plinth", {}), panel())
    for part in node.parts:
        tri = part.mesh.positions[part.mesh.indices].astype(float)
        face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        vertex_normals = part.mesh.normals[part.mesh.indices].mean(axis=1)
        assert (np.einsum("ij,ij->i", face_normals, vertex_normals) > 0).all(), part.material.name


def test_room_surfaces_face_into_the_room():
    node = build_node(shell(width=10, depth=8, height=4))
    parts = parts_by_surface(node)

    def normals_at(surface: str, axis: int, value: float) -> np.ndarray:
        """Normals of the faces in the plane coordinate[axis] == value, away from the room's corners."""
        mesh = parts[surface].mesh
        tri = mesh.positions[mesh.indices].astype(float)
        other = 1 - axis if axis < 2 else 0
        limit = 4.5 if other == 0 else 3.5
        on = np.all(np.abs(tri[:, :, axis] - value) < 1e-5, axis=1) & (np.abs(tri[:, :, other].mean(axis=1)) < limit)
        assert on.any()
        n = np.cross(tri[on, 1] - tri[on, 0], tri[on, 2] - tri[on, 0])
        return n / np.linalg.norm(n, axis=1, keepdims=True)

    assert np.allclose(normals_at("floor", 2, 0.0), (0, 0, 1))
    assert np.allclose(normals_at("ceiling", 2, 4.0), (0, 0, -1))
    assert np.allclose(normals_at("wall", 1, 4.0 - geometry.WALL_THICKNESS), (0, -1, 0))
    assert np.allclose(normals_at("wall", 0, -5.0 + geometry.WALL_THICKNESS), (1, 0, 0))


def test_boxes_have_flat_normals_with_split_vertices():
    node = build_node(ir.Shape("plinth", {"width": 1, "depth": 1, "height": 1}))
    (part,) = node.parts
    assert len(part.mesh.positions) == 24
    assert np.allclose(np.abs(part.mesh.normals).max(axis=1), 1.0)


def test_build_is_deterministic():
    shapes = (shell(doorways=[door()]), panel(), ir.Shape("terrain", {"landscape": "hills"}), ir.Shape("figure", {}))
    first, second = build_node(*shapes), build_node(*shapes)
    for a, b in zip(first.parts, second.parts):
        assert a.material == b.material
        assert np.array_equal(a.mesh.positions, b.mesh.positions) and np.array_equal(a.mesh.indices, b.mesh.indices)


# --- merging and materials -------------------------------------------------


def test_parts_are_merged_per_material():
    node = build_node(
        ir.Shape("rock", {"seed": 1}, offset=(-2, 0, 0)),
        ir.Shape("rock", {"seed": 2}, offset=(2, 0, 0)),
        ir.Shape("rock", {"seed": 3, "colour": "#000000"}),
    )
    assert len(node.parts) == 2
    merged = next(p for p in node.parts if p.material.name == "rock-857d72")
    assert merged.mesh.triangle_count == 160
    assert {p.material.name for p in node.parts} == {"rock-857d72", "rock-000000"}


def test_room_shell_costs_one_draw_call_per_material():
    closed = build_node(shell(doorways=[door(), door("north", 2.0)]))
    assert sorted(parts_by_surface(closed)) == ["ceiling", "floor", "trim", "wall"]
    opened = build_node(shell(open=True, doorways=[door()]))
    assert sorted(parts_by_surface(opened)) == ["floor", "rail"]


def test_materials_suit_their_surfaces():
    node = build_node(ir.Shape("chain-bridge", {}), ir.Shape("grass", {}), ir.Shape("flag", {}), panel())
    parts = parts_by_surface(node)
    assert parts["iron"].material.metallic >= 0.8
    assert parts["grass"].material.double_sided and parts["flag"].material.double_sided
    assert not parts["wood"].material.double_sided and not parts["frame"].material.double_sided
    face = parts["face"].material
    assert face.texture_png.startswith(b"\x89PNG") and face.unlit and face.colour == (1.0, 1.0, 1.0, 1.0)
    for part in node.parts:
        assert 0.0 <= part.material.roughness <= 1.0 and len(part.material.colour) == 4


# --- room shell ------------------------------------------------------------


def test_room_shell_leaves_gap_for_doorway():
    node = build_node(shell(width=10, depth=8, height=4, doorways=[door("east", along=1.0, width=1.6, height=2.6)]))
    walls = parts_by_surface(node)
    solid = [walls["wall"].mesh, walls["trim"].mesh]
    through_door = sum(ray_hits(m, (0.0, 1.0, 1.2), (1, 0, 0)) for m in solid)
    through_wall = sum(ray_hits(m, (0.0, -2.0, 1.2), (1, 0, 0)) for m in solid)
    above_door = sum(ray_hits(m, (0.0, 1.0, 3.2), (1, 0, 0)) for m in solid)
    assert through_door == 0
    assert through_wall >= 2 and above_door >= 2  # the wall, and the lintel over the opening


def test_room_shell_doorway_is_as_wide_as_asked():
    node = build_node(shell(doorways=[door("north", along=-2.0, width=1.6)]))
    wall = parts_by_surface(node)["wall"].mesh
    inside = [y for y in np.linspace(-2.75, -1.25, 7) if ray_hits(wall, (y, 0.0, 1.0), (0, 1, 0)) == 0]
    assert len(inside) == 7
    assert ray_hits(wall, (-2.9, 0.0, 1.0), (0, 1, 0)) > 0 and ray_hits(wall, (-1.1, 0.0, 1.0), (0, 1, 0)) > 0


def test_room_shell_walls_lie_inside_the_room_rectangle():
    node = build_node(shell(width=10, depth=8, height=4, doorways=[door()]))
    walls = positions(node, "wall")
    assert walls.min(axis=0) == pytest.approx((-5, -4, 0)) and walls.max(axis=0) == pytest.approx((5, 4, 4))
    floor, ceiling = positions(node, "floor"), positions(node, "ceiling")
    assert floor[:, 2].max() == pytest.approx(0.0) and ceiling[:, 2].min() == pytest.approx(4.0)
    wall_mesh = parts_by_surface(node)["wall"].mesh
    assert ray_hits(wall_mesh, (0, 0, 1), (0, 1, 0)) == 2  # one 0.2 m box: in and out
    assert ray_hits(wall_mesh, (0, 3.85, 1), (0, 1, 0)) == 1  # starting inside it: the wall is 0.2 m thick


def test_open_room_has_rail_with_gap_and_no_walls_or_ceiling():
    node = build_node(shell(width=10, depth=8, open=True, doorways=[door("west", along=0.0, width=2.0)]))
    rail = parts_by_surface(node)["rail"].mesh
    assert rail.positions[:, 2].max() == pytest.approx(geometry.RAIL_HEIGHT)
    assert ray_hits(rail, (0, 0, 0.5), (-1, 0, 0)) == 0  # the doorway gap
    assert ray_hits(rail, (0, 2, 0.88), (-1, 0, 0)) > 0  # the top bar elsewhere


# --- boards ----------------------------------------------------------------


def test_mounted_panel_hangs_with_its_back_on_local_y0_centred_at_1_55():
    node = build_node(panel(mounted=True, width=1.6, height=1.1))
    frame = positions(node, "frame")
    assert frame[:, 1].min() == pytest.approx(0.0) and frame[:, 1].max() == pytest.approx(0.05)
    assert (frame[:, 2].min() + frame[:, 2].max()) / 2 == pytest.approx(1.55)
    assert np.ptp(frame[:, 0]) == pytest.approx(1.6)


def test_free_standing_panel_has_its_bottom_edge_at_0_7_and_legs():
    node = build_node(panel(mounted=False, width=1.6, height=1.1))
    face = positions(node, "face")
    assert face[:, 2].min() == pytest.approx(0.7) and face[:, 2].max() == pytest.approx(1.8)
    assert positions(node, "frame")[:, 2].min() == pytest.approx(0.0)  # legs reach the floor


def test_panel_face_texture_reads_left_to_right_from_the_front():
    node = build_node(panel())
    face = parts_by_surface(node)["face"].mesh
    assert np.allclose(face.normals, (0, 1, 0))
    top_left = face.positions[np.argmin(np.abs(face.uvs - (0, 0)).sum(axis=1))]
    bottom_right = face.positions[np.argmin(np.abs(face.uvs - (1, 1)).sum(axis=1))]
    # seen from the front (+Y, looking south), the viewer's left is +X
    assert top_left[0] > 0 and top_left[2] > bottom_right[2] and bottom_right[0] < 0


def test_panel_image_is_read_through_read_asset():
    asked = []

    def read_asset(path: str) -> bytes:
        asked.append(path)
        out = io.BytesIO()
        Image.new("RGB", (32, 32), (0, 0, 255)).save(out, format="PNG")
        return out.getvalue()

    plain = parts_by_surface(build_node(panel()))["face"].material
    pictured = parts_by_surface(build_node(panel(image="assets/a.png"), options=GeometryOptions(read_asset=read_asset)))
    assert asked == ["assets/a.png"] and pictured["face"].material.texture_png != plain.texture_png


def test_missing_asset_reader_reports_the_path():
    with pytest.raises(GeometryError, match="cannot read 'assets/a.png'"):
        build_node(panel(image="assets/a.png"))


def test_unreadable_asset_is_reported_naming_the_node():
    def read_asset(path):
        raise FileNotFoundError(path)

    with pytest.raises(GeometryError, match=r"cannot read asset 'assets/x.png' .* in node 'n'"):
        build_node(panel(image="assets/x.png"), name="n", options=GeometryOptions(read_asset=read_asset))


@pytest.mark.parametrize("media", ["video", "audio"])
def test_media_poster_shows_a_textured_face_inside_the_frame(media):
    params = {k: v for k, v in panel().params.items() if k != "image"} | {"media": media, "asset": "assets/a.mp4"}
    node = build_node(ir.Shape("media", params))
    face, frame = positions(node, "face"), positions(node, "frame")
    assert np.ptp(face[:, 0]) == pytest.approx(1.6 - 2 * geometry.MEDIA_BORDER)
    assert np.ptp(frame[:, 0]) == pytest.approx(1.6)


def test_checkpoint_marker_ring_has_the_trigger_radius_and_a_two_sided_sign():
    params = {"radius": 1.5, "title": "测验", "title_en": None, "colour": "#f2c14e"}
    node = build_node(ir.Shape("checkpoint-marker", params))
    parts = parts_by_surface(node)
    ring = parts["marker"].mesh.positions
    radii = np.linalg.norm(ring[:, :2], axis=1)
    assert radii.min() == pytest.approx(1.46, abs=1e-3) and radii.max() == pytest.approx(1.54, abs=1e-3)
    assert ring[:, 2].max() < 0.02 and parts["marker"].material.unlit
    face_normals = parts["face"].mesh.normals
    assert (face_normals[:, 1] > 0.99).any() and (face_normals[:, 1] < -0.99).any()


def test_portal_sign_hangs_above_the_door_in_front_of_the_wall():
    params = {"width": 1.6, "door_height": 2.6, "title": "红色屯兰", "title_en": "Red", "colour": "#b22222"}
    node = build_node(ir.Shape("portal-sign", params))
    sign = positions(node)
    assert sign[:, 2].min() > 2.6 and sign[:, 1].min() > geometry.WALL_THICKNESS
    assert np.ptp(sign[:, 0]) > 1.6


# --- placement and ground --------------------------------------------------


def test_shape_offset_and_heading_place_the_shape_in_its_node():
    plinth = ir.Shape("plinth", {"width": 2.0, "depth": 1.0, "height": 0.5}, offset=(3.0, 1.0, 0.2), heading=90.0)
    node = build_node(plinth)
    box = positions(node)
    assert box.min(axis=0) == pytest.approx((2.5, 0.0, 0.2)) and box.max(axis=0) == pytest.approx((3.5, 2.0, 0.7))


def test_ground_true_lifts_shapes_onto_the_terrain():
    terrain = ir.Shape("terrain", {"landscape": "hills", "width": 10, "depth": 10, "relief": 3, "seed": 2})
    rock = ir.Shape("rock", {"ground": True}, offset=(1.0, -1.0, 0.0))
    node = build_node(terrain, rock)
    expected = float(generators.terrain_height(terrain.params, 1.0, -1.0))
    rock_points = positions(node, "rock")
    assert expected > 0.5
    assert rock_points[:, 2].min() == pytest.approx(expected - 0.06 * 0.8, abs=0.01)


def test_shape_without_ground_stays_at_its_offset():
    terrain = ir.Shape("terrain", {"landscape": "hills", "relief": 3})
    node = build_node(terrain, ir.Shape("plinth", {}, offset=(0.5, 0.5, 0.0)))
    assert positions(node, "plinth")[:, 2].min() == pytest.approx(0.0)


def test_figure_on_a_bridge_stands_on_its_deck_not_in_the_gorge():
    terrain = ir.Shape("terrain", {"landscape": "gorge", "width": 12, "depth": 12, "relief": 4, "seed": 7})
    bridge = ir.Shape("chain-bridge", {"length": 10, "planks": "all", "ground": True})
    figure = ir.Shape("figure", {"pose": "stand", "ground": True}, offset=(0.0, 0.5, 0.0))
    node = build_node(terrain, bridge, figure)
    boots = positions(node, "boots")
    wood = positions(node, "wood")
    near = wood[np.abs(wood[:, 1] - 0.5) < 0.3]
    assert float(generators.terrain_height(terrain.params, 0.0, 0.5)) < 0.5
    assert boots[:, 2].min() == pytest.approx(near[:, 2].max(), abs=0.05)


def test_bridge_rests_on_the_higher_bank():
    terrain = ir.Shape("terrain", {"landscape": "gorge", "width": 12, "depth": 12, "relief": 4, "seed": 7})
    node = build_node(terrain, ir.Shape("chain-bridge", {"length": 10, "ground": True}))
    banks = generators.terrain_height(terrain.params, np.zeros(2), np.array([-5.0, 5.0]))
    assert positions(node, "stone")[:, 2].min() == pytest.approx(banks.max())


def test_grass_follows_the_terrain_surface():
    terrain = ir.Shape("terrain", {"landscape": "hills", "width": 10, "depth": 10, "relief": 3, "seed": 2})
    node = build_node(terrain, ir.Shape("grass", {"radius": 3, "count": 30, "ground": True}, offset=(1, 1, 0)))
    bases = positions(node, "grass")[0::3]
    under = generators.terrain_height(terrain.params, bases[:, 0], bases[:, 1])
    assert np.allclose(bases[:, 2], under, atol=0.1)


# --- assets ----------------------------------------------------------------


def test_asset_glb_is_turned_z_up_scaled_centred_and_set_on_its_base():
    data = glb_box((1.0, 2.0, 3.0))  # Y-up: 2 m tall, 3 m deep
    asked = []
    options = GeometryOptions(read_asset=lambda path: asked.append(path) or data)
    shape = ir.Shape("asset", {"path": "assets/box.glb", "scale": 2.0, "colour": "#336699", "base": 0.8})
    node = build_node(shape, options=options)
    points = positions(node)
    assert asked == ["assets/box.glb"]
    assert points.min(axis=0) == pytest.approx((-1.0, -3.0, 0.8), abs=1e-5)
    assert points.max(axis=0) == pytest.approx((1.0, 3.0, 4.8), abs=1e-5)
    (part,) = node.parts
    assert part.material.colour[:3] == pytest.approx((0x33 / 255, 0x66 / 255, 0x99 / 255))


def test_textured_asset_keeps_its_texture_with_v_measured_from_the_top():
    from trimesh.visual import TextureVisuals
    from trimesh.visual.material import PBRMaterial

    quad = trimesh.Trimesh(
        vertices=[[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], faces=[[0, 1, 2], [0, 2, 3]], process=False
    )
    image = Image.new("RGB", (8, 4), (0, 200, 0))
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)  # trimesh: V up from the bottom
    quad.visual = TextureVisuals(uv=uv, material=PBRMaterial(baseColorTexture=image))
    data = trimesh.Scene(quad).export(file_type="glb")
    node = build_node(ir.Shape("asset", {"path": "assets/q.glb"}), options=GeometryOptions(read_asset=lambda p: data))
    (part,) = node.parts
    assert part.material.texture_png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(part.material.texture_png)) as texture:
        assert texture.size == (8, 4)
    lowest = np.argmin(part.mesh.positions[:, 2])
    assert part.mesh.uvs[lowest][1] == pytest.approx(1.0)  # the bottom of the picture is V = 1


def test_asset_stl_is_taken_as_z_up():
    stl = trimesh.creation.box(extents=(1.0, 2.0, 3.0)).export(file_type="stl")
    node = build_node(ir.Shape("asset", {"path": "assets/b.stl"}), options=GeometryOptions(read_asset=lambda p: stl))
    assert np.ptp(positions(node), axis=0) == pytest.approx((1.0, 2.0, 3.0), abs=1e-5)


def test_asset_whose_faces_point_past_its_vertices_is_rejected_not_crashed_on():
    obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n"  # trimesh fails with an IndexError
    options = GeometryOptions(read_asset=lambda p: obj)
    with pytest.raises(GeometryError, match=r"^geometry: asset: asset 'assets/a.obj': it cannot be loaded \(Index"):
        build_node(ir.Shape("asset", {"path": "assets/a.obj"}), name="n", options=options)


def test_load_model_gives_plain_reasons_for_broken_and_empty_models():
    with pytest.raises(GeometryError, match=r"^it cannot be loaded \("):
        load_model("assets/a.glb", b"glTF\x02\0\0\0junk", lambda path: b"")
    with pytest.raises(GeometryError, match=r"^it has no triangles$"):
        load_model("assets/a.obj", b"v 0 0 0\n", lambda path: b"")


def test_asset_that_is_not_a_mesh_is_rejected():
    with pytest.raises(GeometryError, match=r"geometry: asset: asset 'assets/a.png' is not a mesh"):
        build_node(ir.Shape("asset", {"path": "assets/a.png"}))


# --- budgets ---------------------------------------------------------------


def test_diorama_room_stays_within_headset_budget():
    shapes = [ir.Shape("terrain", {"landscape": "gorge", "width": 18, "depth": 14, "relief": 5})]
    shapes.append(ir.Shape("chain-bridge", {"length": 12, "width": 2.8, "planks": "half", "ground": True}))
    shapes += [
        ir.Shape("figure", {"pose": "climb", "ground": True}, offset=(0.0, y, 0.0)) for y in np.linspace(0, 4, 22)
    ]
    shapes += [
        ir.Shape("grass", {"count": 60, "seed": i, "ground": True}, offset=(-5.0 + i, -5.0, 0)) for i in range(5)
    ]
    shapes += [ir.Shape("mountain", {"ground": True}, offset=(-6.0, 5.0, 0)), ir.Shape("flag", {"ground": True})]
    chunk = ir.ChunkIR(
        "d",
        "d",
        ir.Bounds((0, 0, 0), (1, 1, 1)),
        (
            ir.Node("d/shell", (0, 0, 0), 0, (shell(width=22, depth=18, open=True),)),
            ir.Node("d/exhibit/scene", (0, 0, 0), 0, tuple(shapes)),
        ),
    )
    meshes = build_chunk_meshes(chunk)
    assert meshes.draw_calls <= 20 and meshes.triangle_count < 750_000
