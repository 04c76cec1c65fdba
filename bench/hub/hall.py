"""The benchmark hall: a 3 x 3 grid of 24 m rooms joined by doorways."""

from __future__ import annotations

from halls_contract.manifest import Bounds, Doorway, Exhibit, Manifest, Room, Spawn, Text, Theme, dump_manifest

ROOM = 24.0
GRID = 3


def bench_manifest(hall_id: str = "bench") -> dict:
    """The hall's manifest as JSON values (no chunks: the hub and the load tool need rooms, doorways, exhibits)."""
    rooms, doorways, exhibits = [], [], []
    for row in range(GRID):
        for col in range(GRID):
            room_id = f"r{row}{col}"
            x0, y0 = col * ROOM, row * ROOM
            rooms.append(
                Room(
                    id=room_id,
                    title=Text(zh=room_id),
                    shape="room",
                    bounds=Bounds(min=(x0, y0, 0.0), max=(x0 + ROOM, y0 + ROOM, 5.0)),
                )
            )
            exhibits.append(
                Exhibit(
                    id=f"{room_id}-panel",
                    room=room_id,
                    kind="panel",
                    node=f"{room_id}/exhibit/{room_id}-panel",
                    title=Text(zh=f"{room_id} 展板"),
                    text=None,
                    position=(x0 + ROOM / 2, y0 + 1, 0.0),
                    radius=2.0,
                    assets=(),
                )
            )
            if col + 1 < GRID:
                doorways.append(
                    Doorway(
                        room=room_id,
                        to_room=f"r{row}{col + 1}",
                        to_hall=None,
                        position=(x0 + ROOM, y0 + ROOM / 2, 0.0),
                        width=2.0,
                        heading=90.0,
                    )
                )
            if row + 1 < GRID:
                doorways.append(
                    Doorway(
                        room=room_id,
                        to_room=f"r{row + 1}{col}",
                        to_hall=None,
                        position=(x0 + ROOM / 2, y0 + ROOM, 0.0),
                        width=2.0,
                        heading=180.0,
                    )
                )
    return dump_manifest(
        Manifest(
            id=hall_id,
            title=Text(zh="压力测试馆", en="Benchmark hall"),
            intro=None,
            order=0,
            theme=Theme(),
            spawn=Spawn(room="r00", position=(ROOM / 2, ROOM / 2, 0.0), heading=0.0),
            rooms=tuple(rooms),
            doorways=tuple(doorways),
            chunks=(),
            exhibits=tuple(exhibits),
            checkpoints=(),
        )
    )
