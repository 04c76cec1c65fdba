"""Layout: a validated `Hall` becomes a `SceneIR` (rooms, chunks, exhibits, checkpoints).

Pure: no disk, no geometry.  Rooms are placed on the hall floor, exhibits are
resolved to hall coordinates, doorways become openings in both rooms' walls,
and chunks are ordered for streaming (spawn room first, then outward).

Author angles (`facing`) are compass degrees, clockwise from north; IR
headings are counter-clockwise about Z (Panda3D's H): `heading = -facing`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import overload

from scenes import ir
from scenes.model import Checkpoint, Diorama, Hall, Media, Model, Panel, Room, Text

WALL_THICKNESS = 0.2
"""Walls lie inside their room's rectangle, so neighbours stand back to back."""
CLEARANCE = 0.3
"""Free-standing exhibits keep this distance from a wall's inner face."""
MOUNTED_DEPTH = 0.1
PLINTH_HEIGHT = 0.8
FIGURE_HEIGHT = 1.7
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
WALL_FACING = {"north": 180.0, "south": 0.0, "east": 270.0, "west": 90.0}
"""Compass direction an exhibit hung on each wall faces (into the room)."""
VIDEO_EXTENSIONS = {".mp4", ".webm"}
AUDIO_EXTENSIONS = {".ogg", ".mp3", ".wav"}


@dataclass(frozen=True)
class RoomRect:
    """A room's place on the hall floor (centre, size)."""

    cx: float
    cy: float
    width: float
    depth: float
    height: float

    def wall_line(self, wall: str) -> tuple[float, float, float]:
        """(fixed coordinate, span start, span end) of a wall's boundary line."""
        hw, hd = self.width / 2, self.depth / 2
        if wall in ("north", "south"):
            y = self.cy + (hd if wall == "north" else -hd)
            return y, self.cx - hw, self.cx + hw
        x = self.cx + (hw if wall == "east" else -hw)
        return x, self.cy - hd, self.cy + hd

    def wall_middle(self, wall: str) -> float:
        return self.cx if wall in ("north", "south") else self.cy


@dataclass(frozen=True)
class Footprint:
    """Where an exhibit stands, in room coordinates, with its axis-aligned floor box."""

    x: float
    y: float
    facing: float
    half_w: float
    half_d: float
    mounted_on: str | None = None

    def box(self) -> tuple[float, float, float, float]:
        return (self.x - self.half_w, self.y - self.half_d, self.x + self.half_w, self.y + self.half_d)


@dataclass(frozen=True)
class LayoutOptions:
    """Layout settings."""

    hall_titles: Mapping[str, dict] = field(default_factory=dict)
    """Titles of other halls (`{"zh": ..., "en": ...}` by id), printed on portal signs."""
    door_height: float = 2.6


def place_rooms(rooms: list[Room]) -> dict[str, RoomRect]:
    """Room rectangles: given positions, or east of the previous room sharing its wall."""
    rects: dict[str, RoomRect] = {}
    previous: RoomRect | None = None
    for room in rooms:
        width, depth, height = room.size
        if room.position is not None:
            cx, cy = room.position
        elif previous is None:
            cx, cy = 0.0, 0.0
        else:
            cx, cy = previous.cx + previous.width / 2 + width / 2, previous.cy
        rect = RoomRect(float(cx), float(cy), float(width), float(depth), float(height))
        rects.setdefault(room.id, rect)
        previous = rect
    return rects


def place_exhibit(rect: RoomRect, exhibit) -> Footprint:
    """Resolve an exhibit's position, facing and floor box in room coordinates."""
    if isinstance(exhibit, Checkpoint):
        x, y = exhibit.at
        return Footprint(x, y, 0.0, exhibit.radius, exhibit.radius)
    if isinstance(exhibit, Diorama):
        x, y = exhibit.at
        return Footprint(x, y, 0.0, exhibit.area[0] / 2, exhibit.area[1] / 2)
    width, depth = _exhibit_size(exhibit)
    if exhibit.wall is not None:
        return _mounted_footprint(rect, exhibit.wall, exhibit.along, width)
    x, y = exhibit.at
    return _rotated_footprint(x, y, exhibit.facing, width, depth)


def door_height(rect: RoomRect, options: LayoutOptions = LayoutOptions()) -> float:
    return min(options.door_height, rect.height - 0.4)


def layout_hall(hall: Hall, options: LayoutOptions = LayoutOptions()) -> ir.SceneIR:
    """Lay out a validated hall as scene IR."""
    if not hall.rooms:
        raise ValueError("layout: hall has no rooms")
    rects = place_rooms(hall.rooms)
    openings = _openings(hall.rooms, rects)
    theme = hall.theme.model_dump()
    doorways = tuple(_doorway_infos(hall.rooms, rects))
    chunks = {room.id: _chunk(room, rects[room.id], openings[room.id], theme, options) for room in hall.rooms}
    order = streaming_order(hall, rects, hall.rooms[0].id)
    first = hall.rooms[0]
    spawn_x, spawn_y = first.spawn or (0.0, 0.0)
    first_rect = rects[first.id]
    return ir.SceneIR(
        hall_id=hall.id,
        title=_text(hall.title),
        intro=_text(hall.intro),
        theme=theme,
        order=hall.order,
        spawn=ir.Spawn(first.id, (first_rect.cx + spawn_x, first_rect.cy + spawn_y, 0.0), _heading(first.spawn_facing)),
        rooms=tuple(
            ir.RoomInfo(room.id, _text(room.title), room.shape, _room_bounds(rects[room.id])) for room in hall.rooms
        ),
        chunks=tuple(chunks[room_id] for room_id in order),
        doorways=doorways,
        exhibits=tuple(_exhibit_infos(hall.rooms, rects)),
        checkpoints=tuple(_checkpoints(hall.rooms, rects)),
    )


def streaming_order(hall: Hall, rects: Mapping[str, RoomRect], start: str) -> list[str]:
    """Rooms by doorway distance from `start`, ties broken by straight-line distance."""
    neighbours: dict[str, set[str]] = {room.id: set() for room in hall.rooms}
    for room in hall.rooms:
        for door in room.doorways:
            if door.to in neighbours:
                neighbours[room.id].add(door.to)
                neighbours[door.to].add(room.id)
    hops = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for nxt in sorted(neighbours[current]):
            if nxt not in hops:
                hops[nxt] = hops[current] + 1
                queue.append(nxt)
    origin = rects[start]

    def key(room_id: str):
        rect = rects[room_id]
        return (hops.get(room_id, math.inf), math.hypot(rect.cx - origin.cx, rect.cy - origin.cy), room_id)

    return sorted(neighbours, key=key)


# --- private helpers -------------------------------------------------------


@overload
def _text(value: Text) -> dict: ...
@overload
def _text(value: Text | None) -> dict | None: ...
def _text(value: Text | None) -> dict | None:
    return None if value is None else {"zh": value.zh, "en": value.en}


def _heading(facing: float) -> float:
    return float((-facing) % 360.0)


def _exhibit_size(exhibit) -> tuple[float, float]:
    if isinstance(exhibit, (Panel, Media)):
        return exhibit.size[0], 0.3
    return exhibit.footprint


def _mounted_footprint(rect: RoomRect, wall: str, along: float, width: float) -> Footprint:
    inner = (rect.depth if wall in ("north", "south") else rect.width) / 2 - WALL_THICKNESS
    sign = 1.0 if wall in ("north", "east") else -1.0
    centre = sign * (inner - MOUNTED_DEPTH / 2)
    if wall in ("north", "south"):
        fp = Footprint(along, centre, WALL_FACING[wall], width / 2, MOUNTED_DEPTH / 2, wall)
    else:
        fp = Footprint(centre, along, WALL_FACING[wall], MOUNTED_DEPTH / 2, width / 2, wall)
    return fp


def _rotated_footprint(x: float, y: float, facing: float, width: float, depth: float) -> Footprint:
    angle = math.radians(facing)
    c, s = abs(math.cos(angle)), abs(math.sin(angle))
    return Footprint(x, y, facing, (width * c + depth * s) / 2, (width * s + depth * c) / 2)


def _room_bounds(rect: RoomRect) -> ir.Bounds:
    return ir.Bounds(
        (rect.cx - rect.width / 2, rect.cy - rect.depth / 2, 0.0),
        (rect.cx + rect.width / 2, rect.cy + rect.depth / 2, rect.height),
    )


def _openings(rooms: list[Room], rects: Mapping[str, RoomRect]) -> dict[str, list[dict]]:
    """Wall openings per room; a room-to-room doorway opens both rooms' walls."""
    openings: dict[str, list[dict]] = {room.id: [] for room in rooms}
    for room in rooms:
        rect = rects[room.id]
        height = door_height(rect)
        for door in room.doorways:
            openings[room.id].append({"wall": door.wall, "along": door.along, "width": door.width, "height": height})
            other = rects.get(door.to)
            if other is not None and door.to in openings:
                centre = rect.wall_middle(door.wall) + door.along
                openings[door.to].append(
                    {
                        "wall": OPPOSITE[door.wall],
                        "along": round(centre - other.wall_middle(OPPOSITE[door.wall]), 6),
                        "width": door.width,
                        "height": min(height, door_height(other)),
                    }
                )
    return openings


def _door_point(rect: RoomRect, wall: str, along: float) -> tuple[float, float]:
    line, _, _ = rect.wall_line(wall)
    if wall in ("north", "south"):
        return rect.cx + along, line
    return line, rect.cy + along


def _doorway_infos(rooms: list[Room], rects: Mapping[str, RoomRect]):
    for room in rooms:
        rect = rects[room.id]
        for door in room.doorways:
            x, y = _door_point(rect, door.wall, door.along)
            to_hall = door.to[len("hall:") :] if door.to.startswith("hall:") else None
            yield ir.DoorwayInfo(
                room=room.id,
                to_room=None if to_hall else door.to,
                to_hall=to_hall,
                position=(x, y, 0.0),
                width=door.width,
                heading=_heading(WALL_FACING[door.wall]),
            )


def _chunk(room: Room, rect: RoomRect, openings: list[dict], theme: dict, options: LayoutOptions) -> ir.ChunkIR:
    nodes = [_shell_node(room, rect, openings, theme)]
    nodes += [_exhibit_node(room.id, rect, exhibit, theme) for exhibit in room.exhibits]
    nodes += _portal_nodes(room, rect, theme, options)
    return ir.ChunkIR(id=room.id, room=room.id, bounds=_room_bounds(rect), nodes=tuple(nodes))


def _shell_node(room: Room, rect: RoomRect, openings: list[dict], theme: dict) -> ir.Node:
    params = {
        "width": rect.width,
        "depth": rect.depth,
        "height": rect.height,
        "open": room.shape == "open",
        "doorways": openings,
        "wall": theme["wall"],
        "floor": theme["floor"],
        "ceiling": theme["ceiling"],
        "trim": theme["primary"],
        "sky": theme["sky"],
    }
    return ir.Node(f"{room.id}/shell", (rect.cx, rect.cy, 0.0), 0.0, (ir.Shape("room-shell", params),))


def _portal_nodes(room: Room, rect: RoomRect, theme: dict, options: LayoutOptions) -> list[ir.Node]:
    nodes = []
    for door in room.doorways:
        if not door.to.startswith("hall:"):
            continue
        hall_id = door.to[len("hall:") :]
        title = options.hall_titles.get(hall_id) or {"zh": hall_id, "en": None}
        x, y = _door_point(rect, door.wall, door.along)
        params = {
            "width": door.width,
            "door_height": door_height(rect),
            "title": title["zh"],
            "title_en": title.get("en"),
            "colour": theme["primary"],
        }
        heading = _heading(WALL_FACING[door.wall])
        nodes.append(ir.Node(f"{room.id}/portal/{hall_id}", (x, y, 0.0), heading, (ir.Shape("portal-sign", params),)))
    return nodes


def _exhibit_node(room_id: str, rect: RoomRect, exhibit, theme: dict) -> ir.Node:
    fp = place_exhibit(rect, exhibit)
    position = (rect.cx + fp.x, rect.cy + fp.y, 0.0)
    name = f"{room_id}/exhibit/{exhibit.id}"
    return ir.Node(name, position, _heading(fp.facing), tuple(_exhibit_shapes(exhibit, fp, theme)), exhibit.id)


def _exhibit_shapes(exhibit, fp: Footprint, theme: dict) -> list[ir.Shape]:
    if isinstance(exhibit, Panel):
        return [ir.Shape("panel", _board_params(exhibit, theme, fp) | {"image": exhibit.image})]
    if isinstance(exhibit, Media):
        params = _board_params(exhibit, theme, fp) | {"media": _media_kind(exhibit.asset), "asset": exhibit.asset}
        return [ir.Shape("media", params)]
    if isinstance(exhibit, Model):
        return _model_shapes(exhibit, theme)
    if isinstance(exhibit, Diorama):
        return _diorama_shapes(exhibit)
    if isinstance(exhibit, Checkpoint):
        params = {"radius": exhibit.radius, "title": exhibit.title.zh, "title_en": exhibit.title.en}
        return [ir.Shape("checkpoint-marker", params | {"colour": theme["secondary"]})]
    raise ValueError(f"layout: unknown exhibit kind {type(exhibit).__name__}")


def _board_params(exhibit, theme: dict, fp: Footprint) -> dict:
    text = exhibit.text
    return {
        "width": exhibit.size[0],
        "height": exhibit.size[1],
        "title": exhibit.title.zh,
        "title_en": exhibit.title.en,
        "text": text.zh if text else "",
        "text_en": text.en if text else None,
        "frame": theme["primary"],
        "accent": theme["secondary"],
        "mounted": fp.mounted_on is not None,
    }


def _media_kind(asset: str) -> str:
    suffix = PurePosixPath(asset).suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    return "image"


def _model_shapes(model: Model, theme: dict) -> list[ir.Shape]:
    colour = model.colour or theme["primary"]
    base = PLINTH_HEIGHT if model.plinth else 0.0
    shapes = []
    if model.plinth:
        width, depth = model.footprint
        plinth = {"width": width * 0.8, "depth": depth * 0.8, "height": PLINTH_HEIGHT, "colour": theme["wall"]}
        shapes.append(ir.Shape("plinth", plinth))
    if model.asset is not None:
        shapes.append(ir.Shape("asset", {"path": model.asset, "scale": model.scale, "colour": colour, "base": base}))
    else:
        generator = model.generator
        assert generator is not None  # the schema requires exactly one of 'asset' and 'generator'
        params = dict(generator.params) | {"colour": colour}
        if model.scale != 1.0:
            params["scale"] = model.scale
        shapes.append(ir.Shape(generator.name, params, offset=(0.0, 0.0, base)))
    return shapes


def _diorama_shapes(diorama: Diorama) -> list[ir.Shape]:
    terrain = diorama.terrain
    shapes = [
        ir.Shape(
            "terrain",
            {
                "landscape": terrain.kind,
                "width": diorama.area[0],
                "depth": diorama.area[1],
                "relief": terrain.relief,
                "seed": terrain.seed,
                "colour": terrain.colour,
            },
        )
    ]
    for figure in diorama.figures:
        step_x = -math.sin(math.radians(figure.facing)) * figure.spacing
        step_y = -math.cos(math.radians(figure.facing)) * figure.spacing
        for i in range(figure.count):
            offset = (figure.at[0] + i * step_x, figure.at[1] + i * step_y, 0.0)
            params = {"pose": figure.pose, "colour": figure.colour, "height": FIGURE_HEIGHT, "ground": True}
            shapes.append(ir.Shape("figure", params, offset=offset, heading=_heading(figure.facing)))
    for prop in diorama.props:
        prop_params = dict(prop.generator.params) | {"ground": True}
        if prop.colour:
            prop_params["colour"] = prop.colour
        offset = (prop.at[0], prop.at[1], 0.0)
        shapes.append(ir.Shape(prop.generator.name, prop_params, offset=offset, heading=_heading(prop.facing)))
    return shapes


def _exhibit_infos(rooms: list[Room], rects: Mapping[str, RoomRect]):
    for room in rooms:
        rect = rects[room.id]
        for exhibit in room.exhibits:
            if isinstance(exhibit, Checkpoint):
                continue
            fp = place_exhibit(rect, exhibit)
            text: Text | None
            if isinstance(exhibit, Diorama):
                text, assets, radius = exhibit.narration, (exhibit.audio,), max(exhibit.area) / 2
            else:
                text, radius = exhibit.text, 2.0
                assets = (getattr(exhibit, "image", None) or getattr(exhibit, "asset", None),)
            yield ir.ExhibitInfo(
                id=exhibit.id,
                room=room.id,
                kind=exhibit.kind,
                node=f"{room.id}/exhibit/{exhibit.id}",
                title=_text(exhibit.title),
                text=_text(text),
                position=(rect.cx + fp.x, rect.cy + fp.y, 0.0),
                radius=radius,
                assets=tuple(a for a in assets if a and not a.endswith((".glb", ".gltf", ".obj", ".stl", ".ply"))),
            )


def _checkpoints(rooms: list[Room], rects: Mapping[str, RoomRect]):
    for room in rooms:
        rect = rects[room.id]
        for exhibit in room.exhibits:
            if not isinstance(exhibit, Checkpoint):
                continue
            questions = tuple(_question(q) for q in exhibit.questions)
            yield ir.CheckpointIR(
                id=exhibit.id,
                room=room.id,
                title=_text(exhibit.title),
                position=(rect.cx + exhibit.at[0], rect.cy + exhibit.at[1], 0.0),
                radius=exhibit.radius,
                pass_mark=exhibit.pass_mark,
                attempts=exhibit.attempts,
                cooldown=exhibit.cooldown,
                questions=questions,
            )


def _question(question) -> dict:
    return {
        "id": question.id,
        "type": question.type,
        "prompt": _text(question.prompt),
        "options": [{"id": chr(ord("A") + i), "text": _text(o)} for i, o in enumerate(question.options)],
        "answer": question.answer,
        "explanation": _text(question.explanation),
    }
