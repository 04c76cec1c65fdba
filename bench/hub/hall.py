"""The benchmark hall: a 3 x 3 grid of 24 m rooms joined by doorways."""

from __future__ import annotations

ROOM = 24.0
GRID = 3


def bench_manifest(hall_id: str = "bench") -> dict:
    """A manifest with the fields the hub and the load tool read."""
    rooms, doorways, exhibits = [], [], []
    for row in range(GRID):
        for col in range(GRID):
            room_id = f"r{row}{col}"
            x0, y0 = col * ROOM, row * ROOM
            rooms.append({"id": room_id, "bounds": {"min": [x0, y0, 0.0], "max": [x0 + ROOM, y0 + ROOM, 5.0]}})
            exhibits.append({"id": f"{room_id}-panel", "room": room_id, "position": [x0 + ROOM / 2, y0 + 1, 0.0]})
            if col + 1 < GRID:
                doorways.append({"room": room_id, "to_room": f"r{row}{col + 1}", "to_hall": None,
                                 "position": [x0 + ROOM, y0 + ROOM / 2, 0.0]})
            if row + 1 < GRID:
                doorways.append({"room": room_id, "to_room": f"r{row + 1}{col}", "to_hall": None,
                                 "position": [x0 + ROOM / 2, y0 + ROOM, 0.0]})
    return {"id": hall_id, "rooms": rooms, "doorways": doorways, "exhibits": exhibits}
