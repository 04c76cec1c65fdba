"""Tests for tools.client.collision and tools.client.walk on hall alpha's real chunks (no window)."""

from __future__ import annotations

import time

import pytest
from panda3d.core import NodePath

from tests.client.conftest import manifest_of
from tools.client.collision import collision_mesh
from tools.client.manifest import HallManifest
from tools.client.scene import load_chunk
from tools.client.walk import Walker, WalkInput, arrival, at_doorway


@pytest.fixture(scope="module")
def alpha(built_project):
    """(world, manifest): alpha's chunks and their collision solids under one root."""
    manifest = HallManifest.parse(manifest_of(built_project, "alpha"))
    world = NodePath("world")
    for chunk in manifest.chunks:
        model = load_chunk(built_project / "build" / "objects" / chunk.bam.name)
        model.reparentTo(world)
        collision_mesh(model).reparentTo(world)
    return world, manifest


@pytest.fixture
def walker(alpha):
    world, _ = alpha
    walker = Walker(world)
    yield walker
    walker.remove()


def walk(walker: Walker, seconds: float, intent: WalkInput, dt: float = 1 / 30) -> None:
    for _ in range(round(seconds / dt)):
        walker.update(dt, intent)


def test_collision_mesh_groups_polygons_by_scene_node(alpha):
    world, manifest = alpha
    groups = {g.getName() for c in world.getChildren() if c.getName().startswith("collision:") for g in c.getChildren()}
    assert "entrance/shell" in groups and "gallery/exhibit/miner" in groups


def test_walker_stands_on_the_floor_at_eye_height(walker):
    walker.place((0, 0, 0.5), 0)
    assert walker.position[2] == pytest.approx(0.0, abs=0.05)
    assert walker.head.getZ(walker.world) == pytest.approx(1.6, abs=0.05)


def test_walls_stop_the_walker_inside_the_room(walker):
    walker.place((2, 0, 0), 0)  # entrance spans y -4..4 with 0.2 m walls; heading 0 faces north
    walk(walker, 6, WalkInput(forward=1))
    x, y, _ = walker.position
    assert 3.0 < y < 3.8 - 0.25
    walker.place((2, 0, 0), 180)
    walk(walker, 6, WalkInput(forward=1))
    assert -3.8 + 0.25 < walker.position[1] < -3.0


def test_walker_passes_the_doorway_into_the_next_room(walker, alpha):
    _, manifest = alpha
    walker.place((3, 0, 0), -90)  # H=-90 faces east, toward the gallery doorway at x=5
    walk(walker, 3, WalkInput(forward=1))
    assert manifest.room_at(walker.position).id == "gallery"


def test_a_doorway_to_another_hall_is_reached_but_its_void_blocks(walker, alpha):
    _, manifest = alpha
    door = next(d for d in manifest.doorways if d.to_hall == "beta")
    walker.place((-3, 0, 0), 90)  # faces west, toward the doorway to hall beta
    walk(walker, 4, WalkInput(forward=1))
    assert walker.blocked
    assert walker.position[0] > -5.5
    assert at_doorway(door, walker.position)


def test_arrival_stands_a_metre_inside_facing_in(alpha):
    _, manifest = alpha
    door = next(d for d in manifest.doorways if d.to_hall == "beta")
    (x, y, _), heading = arrival(door)
    assert (x, y) == pytest.approx((-4.0, 0.0), abs=1e-6)
    assert heading == door.heading
    assert not at_doorway(door, (x, y, 0))


def test_a_step_of_collision_stays_well_under_a_frame(walker):
    walker.place((0, 0, 0), 0)
    started = time.perf_counter()
    for i in range(200):
        walker.update(1 / 60, WalkInput(forward=1 if i % 40 < 20 else -1))
    assert (time.perf_counter() - started) / 200 < 0.02  # a guard (a frame is 16 ms), not a speed target
