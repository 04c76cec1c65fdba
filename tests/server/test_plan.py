"""Streaming plan: chunk order from any room (doorway hops, then distance)."""

from __future__ import annotations

import pytest

from server.web.plan import UnknownRoom, streaming_plan
from tests.server.conftest import doorway, fetch, room


def _manifest(rooms, doors):
    return {
        "rooms": rooms,
        "doorways": [doorway(a, b) for a, b in doors],
        "chunks": [{"id": f"chunk-{r['id']}", "room": r["id"]} for r in rooms],
    }


ROW = _manifest([room("a", 0), room("b", 10), room("c", 20), room("d", 0, 10)], [("a", "b"), ("b", "c"), ("c", "d")])


def test_plan_orders_chunks_by_doorway_hops_before_distance():
    # d is 10 m from a but three doorways away: it comes after c (20 m, two doorways).
    steps = streaming_plan(ROW, "a")
    assert [s.chunk for s in steps] == ["chunk-a", "chunk-b", "chunk-c", "chunk-d"]
    assert [s.hops for s in steps] == [0, 1, 2, 3]
    assert steps[3].distance == 10.0


def test_plan_breaks_equal_hops_by_straight_line_distance():
    # From c, b (10 m) and d (22.4 m) are both one doorway away: the nearer comes first.
    steps = streaming_plan(ROW, "c")
    assert [(s.room, s.hops) for s in steps] == [("c", 0), ("b", 1), ("d", 1), ("a", 2)]
    assert steps[2].distance == pytest.approx(22.361, abs=1e-3)


def test_plan_puts_rooms_no_doorway_reaches_last_with_no_hops():
    manifest = _manifest([room("a", 0), room("island", 5), room("b", 30)], [("a", "b")])
    steps = streaming_plan(manifest, "a")
    assert [(s.room, s.hops) for s in steps] == [("a", 0), ("b", 1), ("island", None)]


def test_plan_from_unknown_room_raises_unknown_room():
    with pytest.raises(UnknownRoom):
        streaming_plan(ROW, "zz")


def test_plan_endpoint_answers_order_from_given_room(server):
    reply = fetch(server.port, "/api/halls/alpha/plan?from=c")
    assert reply.status == 200
    plan = reply.json()
    assert plan["hall"] == "alpha" and plan["from"] == "c" and plan["build"] == "b1"
    assert [c["id"] for c in plan["chunks"]] == ["c", "b", "d", "a"]
    assert [c["hops"] for c in plan["chunks"]] == [0, 1, 1, 2]
    assert all(c["model"]["kind"] == "glb" for c in plan["chunks"])
    assert "ETag" in reply.headers


def test_plan_endpoint_without_from_starts_in_spawn_room(server):
    plan = fetch(server.port, "/api/halls/alpha/plan").json()
    assert plan["from"] == "a" and [c["id"] for c in plan["chunks"]] == ["a", "b", "c", "d"]


def test_plan_endpoint_gives_models_of_requested_variant(server):
    plan = fetch(server.port, "/api/halls/alpha/plan?from=b&variant=bam").json()
    assert plan["variant"] == "bam"
    assert all(c["model"]["kind"] == "bam" and c["model"]["url"].endswith(".bam.pz") for c in plan["chunks"])


def test_plan_endpoint_unknown_room_answers_404_json_error(server):
    reply = fetch(server.port, "/api/halls/alpha/plan?from=zz")
    assert reply.status == 404
    assert reply.json() == {"error": "unknown room 'zz' in hall 'alpha'"}


def test_plan_endpoint_unknown_hall_answers_404_json_error(server):
    reply = fetch(server.port, "/api/halls/nope/plan?from=a")
    assert reply.status == 404 and reply.json() == {"error": "unknown hall 'nope'"}
