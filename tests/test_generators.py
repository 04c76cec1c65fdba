"""Tests for scenes.generators: procedural shapes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scenes import generators


def by_surface(pieces) -> dict[str, generators.Piece]:
    return {piece.surface: piece for piece in pieces}


def all_vertices(pieces) -> np.ndarray:
    return np.vstack([np.asarray(piece.mesh.vertices) for piece in pieces])


# --- params ----------------------------------------------------------------


def test_resolve_params_fills_defaults_and_keeps_given_values():
    params = generators.resolve_params("rock", {"size": 2})
    assert params["size"] == 2.0 and params["seed"] == 1 and params["scale"] == 1.0


@pytest.mark.parametrize(
    "kind, params, message",
    [
        ("rock", {"weight": 3}, "rock: unknown param 'weight'"),
        ("rock", {"size": "big"}, "rock: param 'size' must be a number, got 'big'"),
        ("figure", {"pose": "dance"}, "figure: param 'pose' must be one of stand, march"),
        ("flag", {"colour": "red"}, "flag: param 'colour' must be a colour '#rrggbb', got 'red'"),
        ("grass", {"count": 2.5}, "grass: param 'count' must be a whole number, got 2.5"),
        ("terrain", {"relief": 99}, "terrain: param 'relief' must be between 0 and 30, got 99"),
        ("mountain", {"snow": 1}, "mountain: param 'snow' must be true or false, got 1"),
        ("dragon", {}, "unknown generator 'dragon'"),
    ],
)
def test_resolve_params_rejects_bad_params_naming_them(kind, params, message):
    with pytest.raises(ValueError) as error:
        generators.resolve_params(kind, params)
    assert str(error.value).startswith(message)


# --- determinism and budgets -----------------------------------------------


@pytest.mark.parametrize("kind", sorted(generators.DEFAULTS))
def test_generator_gives_identical_meshes_for_same_params(kind):
    first, second = generators.generate(kind, {}), generators.generate(kind, {})
    assert [p.surface for p in first] == [p.surface for p in second]
    for a, b in zip(first, second):
        assert np.array_equal(a.mesh.vertices, b.mesh.vertices)
        assert np.array_equal(a.mesh.faces, b.mesh.faces)


@pytest.mark.parametrize("kind", ["terrain", "mountain", "rock", "grass"])
def test_seed_changes_the_shape(kind):
    params = {"landscape": "hills"} if kind == "terrain" else {}
    one = all_vertices(generators.generate(kind, params | {"seed": 1}))
    two = all_vertices(generators.generate(kind, params | {"seed": 2}))
    assert one.shape != two.shape or not np.allclose(one, two)


@pytest.mark.parametrize(
    "kind, params, limit",
    [
        ("terrain", {"width": 200, "depth": 200, "landscape": "gorge"}, 10_000),
        ("figure", {}, 500),
        ("chain-bridge", {"length": 30}, 120_000),
        ("mountain", {}, 1_000),
        ("rock", {}, 200),
        ("grass", {"count": 100}, 400),
    ],
)
def test_triangle_counts_stay_within_headset_budget(kind, params, limit):
    assert sum(len(p.mesh.faces) for p in generators.generate(kind, params)) <= limit


def test_scale_param_scales_the_shape():
    plain = all_vertices(generators.generate("plinth", {}))
    double = all_vertices(generators.generate("plinth", {"scale": 2.0}))
    assert np.allclose(double, plain * 2)


# --- primitives ------------------------------------------------------------


def test_box_has_flat_outward_faces():
    box = generators.box((0, 0, 0), (1, 2, 3))
    assert len(box.vertices) == 24 and box.volume == pytest.approx(6.0)
    normals = generators.vertex_normals(box.vertices, box.faces)
    assert np.allclose(np.abs(normals).max(axis=1), 1.0)  # every vertex normal is a face's axis


def test_solid_shapes_are_wound_outward():
    solids = (
        generators.cylinder(0.5, 0, 1),
        generators.sphere(1.0),
        generators.segment_box((0, 0, 0), (1, 1, 1), 0.2, 0.1),
    )
    for m in solids:
        assert m.volume > 0
    rock = generators.generate("rock", {})[0].mesh
    assert rock.volume > 0


# --- terrain ---------------------------------------------------------------


@pytest.mark.parametrize("landscape", generators.CHOICES["landscape"])
def test_terrain_edges_come_down_to_zero(landscape):
    params = {"landscape": landscape, "width": 10, "depth": 6, "relief": 4}
    edge = np.linspace(-5, 5, 41)
    edges = ((edge, np.full_like(edge, -3)), (edge, np.full_like(edge, 3)), (np.full(7, 5.0), np.linspace(-3, 3, 7)))
    for x, y in edges:
        assert np.allclose(generators.terrain_height(params, x, y), 0.0)
    assert generators.terrain_height(params, 0.0, 0.0) >= 0.0


def test_terrain_height_matches_the_mesh_surface():
    params = {"landscape": "hills", "relief": 3, "seed": 4}
    ground = by_surface(generators.generate("terrain", params))["ground"].mesh
    vertices = np.asarray(ground.vertices)
    assert np.allclose(generators.terrain_height(params, vertices[:, 0], vertices[:, 1]), vertices[:, 2])


def test_terrain_snow_mountain_has_snow_material_above_snowline():
    params = {"landscape": "snow-mountain", "relief": 5, "seed": 2}
    pieces = by_surface(generators.generate("terrain", params))
    line = generators.snow_line(params)
    snow = pieces["snow"].mesh
    ground = pieces["ground"].mesh
    assert snow.triangles_center[:, 2].min() > line
    assert ground.triangles_center[:, 2].max() <= line
    assert pieces["snow"].colour == generators.SNOW


def test_terrain_marsh_has_flat_water_in_the_hollows():
    params = {"landscape": "marsh", "relief": 0.6, "seed": 5}
    water = by_surface(generators.generate("terrain", params))["water"].mesh
    level = generators.water_level(params)
    assert np.allclose(water.vertices[:, 2], level)
    centres = water.triangles_center
    under = generators.terrain_height(params, centres[:, 0], centres[:, 1])
    assert (under < level).mean() > 0.5  # mostly over ground lower than the water


def test_terrain_gorge_runs_along_x_low_in_the_middle():
    params = {"landscape": "gorge", "width": 12, "depth": 12, "relief": 5, "seed": 7}
    xs = np.linspace(-3, 3, 7)
    middle = generators.terrain_height(params, xs, np.zeros_like(xs))
    banks = generators.terrain_height(params, xs, np.full_like(xs, 3.5))
    assert middle.max() < 1.0 and banks.min() > 3.5
    assert "water" in by_surface(generators.generate("terrain", params))


def test_terrain_cliff_puts_rock_on_the_drop():
    params = {"landscape": "cliff", "width": 10, "depth": 10, "relief": 4}
    pieces = by_surface(generators.generate("terrain", params))
    inner = lambda m: m.triangles_center[(np.abs(m.triangles_center[:, :2]) < 3.5).all(axis=1)]  # noqa: E731  off the edges
    rock, ground = inner(pieces["rock"].mesh), inner(pieces["ground"].mesh)
    assert np.abs(rock[:, 1]).max() < 1.0  # the drop runs across the middle
    assert rock[:, 2].min() < 1.0 and rock[:, 2].max() > 3.0  # from the low ground up to the plateau
    assert (ground[:, 1] > 0).any() and (ground[:, 1] < 0).any()


# --- figures ---------------------------------------------------------------


def test_figure_poses_differ():
    shapes = {pose: all_vertices(generators.generate("figure", {"pose": pose})) for pose in generators.POSES}
    for (a, va), (b, vb) in itertools.combinations(shapes.items(), 2):
        assert np.abs(va - vb).max() > 0.15, f"{a} and {b} look alike"


def test_standing_figure_stands_on_z0_at_its_height_facing_plus_y():
    pieces = by_surface(generators.generate("figure", {"pose": "stand", "height": 1.8}))
    vertices = all_vertices(pieces.values())
    assert vertices[:, 2].min() == pytest.approx(0.0, abs=1e-9)
    assert vertices[:, 2].max() == pytest.approx(1.8, rel=0.05)
    assert pieces["star"].mesh.vertices[:, 1].min() > 0.05  # the cap badge is at the front
    assert pieces["boots"].mesh.vertices[:, 1].max() > 0.15  # toes point forward


def test_fallen_figure_lies_on_the_ground():
    vertices = all_vertices(generators.generate("figure", {"pose": "fallen"}))
    assert vertices[:, 2].min() == pytest.approx(0.0, abs=1e-9)
    assert vertices[:, 2].max() < 0.7 and np.ptp(vertices[:, 1]) > 1.3


def test_figure_uses_clothing_colour():
    pieces = by_surface(generators.generate("figure", {"colour": "#123456"}))
    assert pieces["cloth"].colour == "#123456" and set(pieces) == {"cloth", "skin", "boots", "star"}


# --- bridge, flag, grass ---------------------------------------------------


def test_chain_bridge_half_planks_only_on_near_half():
    pieces = by_surface(generators.generate("chain-bridge", {"length": 10, "planks": "half"}))
    wood = pieces["wood"].mesh
    assert wood.vertices[:, 1].max() < 0.2 and wood.vertices[:, 1].min() < -4.0
    iron = pieces["iron"].mesh
    assert iron.vertices[:, 1].min() < -4.5 and iron.vertices[:, 1].max() > 4.5  # chains span the length


def test_chain_bridge_without_planks_is_iron_and_stone():
    assert set(by_surface(generators.generate("chain-bridge", {"planks": "none"}))) == {"iron", "stone"}


def test_chain_bridge_deck_is_higher_on_planks_and_nan_off_the_bridge():
    params = {"length": 10, "width": 2, "planks": "half"}
    deck = generators.bridge_deck_height(params, np.array([0.0, 0.0, 0.0, 3.0]), np.array([-1.0, 1.0, 6.0, 0.0]))
    assert deck[0] > deck[1]  # planks on the near half, bare chains beyond
    assert np.isnan(deck[2]) and np.isnan(deck[3])
    wood = by_surface(generators.generate("chain-bridge", params))["wood"].mesh
    near = wood.vertices[np.abs(wood.vertices[:, 1] + 1.0) < 0.1]
    assert deck[0] == pytest.approx(near[:, 2].max(), abs=0.02)


def test_flag_cloth_hangs_at_the_top_of_the_pole():
    pieces = by_surface(generators.generate("flag", {"width": 1.2, "height": 0.8, "pole": 3.0}))
    cloth = pieces["flag"].mesh.vertices
    assert cloth[:, 2].max() <= 3.0 and cloth[:, 2].min() > 2.0
    assert np.ptp(cloth[:, 0]) == pytest.approx(1.2, abs=0.01)
    assert pieces["pole"].mesh.vertices[:, 2].max() == pytest.approx(3.0)


def test_grass_drapes_over_the_given_ground():
    flat = all_vertices(generators.generate("grass", {"count": 50}))
    draped = all_vertices(generators.generate("grass", {"count": 50}, height_at=lambda x, y: np.asarray(x) * 0.5))
    bases = draped[0::3]
    assert np.allclose(bases[:, 2], bases[:, 0] * 0.5, atol=0.05)
    assert not np.allclose(flat, draped)


def test_grass_normals_lean_towards_the_sky():
    piece = generators.generate("grass", {"count": 20})[0]
    assert piece.normals is not None and (piece.normals[:, 2] > 0.5).all()
