"""layout: room placement, exhibit placement, openings, streaming order."""

import pytest

from scenes import ir
from scenes.layout import LayoutOptions, layout_hall, place_exhibit, place_rooms
from scenes.model import Hall


def _hall(**overrides) -> Hall:
    data = {
        "id": "demo",
        "title": {"zh": "示范馆", "en": "Demo"},
        "rooms": [
            {
                "id": "entrance",
                "title": "序厅",
                "size": [10, 8, 4],
                "doorways": [{"to": "gallery", "wall": "east"}, {"to": "hall:lobby", "wall": "west"}],
                "exhibits": [
                    {"kind": "panel", "id": "intro", "title": "前言", "text": "欢迎", "wall": "north", "along": 1},
                    {
                        "kind": "checkpoint",
                        "id": "quiz",
                        "title": "小测验",
                        "at": [0, -2],
                        "radius": 1,
                        "questions": [{"id": "q1", "type": "true-false", "prompt": "对吗？", "answer": True}],
                    },
                ],
            },
            {
                "id": "gallery",
                "title": "展厅",
                "size": [12, 8, 4],
                "doorways": [{"to": "annex", "wall": "north", "along": 4}],
            },
            {"id": "annex", "title": "附厅", "size": [6, 6, 4], "position": [16, 7]},
            {"id": "store", "title": "库房", "size": [4, 4, 3], "position": [-20, 0]},
        ],
    }
    data.update(overrides)
    return Hall.model_validate(data)


def test_place_rooms_puts_default_room_east_of_previous_sharing_wall():
    rects = place_rooms(_hall().rooms)
    assert (rects["entrance"].cx, rects["entrance"].cy) == (0, 0)
    assert (rects["gallery"].cx, rects["gallery"].cy) == (11, 0)
    assert rects["entrance"].wall_line("east")[0] == rects["gallery"].wall_line("west")[0] == 5


def test_place_exhibit_hangs_wall_panel_facing_into_room():
    hall = _hall()
    rect = place_rooms(hall.rooms)["entrance"]
    fp = place_exhibit(rect, hall.rooms[0].exhibits[0])
    assert fp.mounted_on == "north"
    assert fp.facing == 180
    assert fp.x == 1
    assert fp.y == pytest.approx(4 - 0.2 - 0.05)


def test_layout_turns_compass_facing_into_counter_clockwise_heading():
    scene = layout_hall(_hall())
    node = next(n for c in scene.chunks for n in c.nodes if n.name == "entrance/exhibit/intro")
    assert node.heading == 180
    portal = next(n for c in scene.chunks for n in c.nodes if n.name == "entrance/portal/lobby")
    assert portal.heading == 270  # on the west wall, facing east: +Y turned clockwise by 90


def test_layout_cuts_room_to_room_doorway_into_both_walls():
    scene = layout_hall(_hall())
    shells = {c.id: c.nodes[0].shapes[0].params for c in scene.chunks}
    assert {"wall": "east", "along": 0.0, "width": 1.6, "height": 2.6} in shells["entrance"]["doorways"]
    assert {"wall": "west", "along": 0.0, "width": 1.6, "height": 2.6} in shells["gallery"]["doorways"]
    # gallery's north wall opening at x=15 lands in annex's south wall (annex centre x=16): along = -1
    assert shells["annex"]["doorways"] == [{"wall": "south", "along": -1.0, "width": 1.6, "height": 2.6}]


def test_layout_orders_chunks_from_spawn_outward_and_unreachable_last():
    scene = layout_hall(_hall())
    assert [c.id for c in scene.chunks] == ["entrance", "gallery", "annex", "store"]
    assert scene.spawn == ir.Spawn("entrance", (0.0, 0.0, 0.0), 0.0)


def test_layout_prints_target_hall_title_on_portal_sign():
    options = LayoutOptions(hall_titles={"lobby": {"zh": "序厅大堂", "en": "Lobby"}})
    scene = layout_hall(_hall(), options)
    portal = next(n for c in scene.chunks for n in c.nodes if n.name == "entrance/portal/lobby")
    assert portal.shapes[0].params["title"] == "序厅大堂"
    assert [d.to_hall for d in scene.doorways if d.to_hall] == ["lobby"]


def test_layout_keeps_answer_keys_in_checkpoint_ir_only():
    scene = layout_hall(_hall())
    [checkpoint] = scene.checkpoints
    assert checkpoint.questions[0]["answer"] is True
    assert "quiz" not in [e.id for e in scene.exhibits]


def test_layout_marches_figure_column_behind_leader():
    hall = _hall(
        rooms=[
            {
                "id": "pass",
                "title": "雪山",
                "shape": "open",
                "size": [20, 20, 6],
                "exhibits": [
                    {
                        "kind": "diorama",
                        "id": "snow",
                        "title": "爬雪山",
                        "narration": "1935年6月",
                        "area": [16, 16],
                        "terrain": {"kind": "snow-mountain"},
                        "figures": [{"at": [0, 0], "pose": "march", "facing": 90, "count": 3, "spacing": 2}],
                    }
                ],
            }
        ]
    )
    node = layout_hall(hall).chunks[0].nodes[1]
    figures = [s for s in node.shapes if s.kind == "figure"]
    assert [s.offset[0] for s in figures] == pytest.approx([0, -2, -4])  # facing east: followers to the west
    assert all(s.params["ground"] for s in figures)
    assert node.shapes[0].kind == "terrain"


def test_layout_spawn_faces_the_authored_direction():
    hall = _hall()
    rooms = [hall.rooms[0].model_copy(update={"spawn": (1.0, -2.0), "spawn_facing": 90.0})] + list(hall.rooms[1:])
    scene = layout_hall(hall.model_copy(update={"rooms": rooms}))
    assert scene.spawn == ir.Spawn("entrance", (1.0, -2.0, 0.0), 270.0)  # facing east = +Y turned clockwise
