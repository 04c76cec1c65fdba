"""`halls new`: write a starting hall, exhibit or checkpoint as YAML an author then edits.

    halls new hall ID --title 标题 [--en TITLE] [--root .]
    halls new exhibit HALL --kind panel|model|media|diorama|checkpoint --room ROOM --id ID [--title T]
    halls new checkpoint HALL --room ROOM --id ID [--title T]

A new hall is written from a template.  A new exhibit is inserted as text at
the end of the room's `exhibits:` list, so the rest of the file (comments,
quoting, order) stays exactly as it was; it is put at a free spot (on a wall
or on the floor, clear of other exhibits, doorways and the spawn point) and
the hall is checked with the new exhibit before anything is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import json
import logging
import math
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from scenes.diagnostics import AuthorErrors, Diagnostic, did_you_mean
from scenes.layout import CLEARANCE, OPPOSITE, WALL_THICKNESS, Footprint, RoomRect, place_exhibit, place_rooms
from scenes.load import LoadOptions, display_path, load_document
from scenes.model import Checkpoint, Diorama, Hall, Media, Model, Panel
from scenes.validate import ValidateOptions, check_file, validate_hall

log = logging.getLogger("halls")

KINDS = ("panel", "model", "media", "diorama", "checkpoint")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
DEFAULT_TITLES = {"panel": "新展板", "model": "新模型", "media": "新图片", "diorama": "新场景", "checkpoint": "答题点"}
GRID_STEP = 0.25
"""Spacing of the floor positions tried for a free-standing exhibit, metres."""
DOOR_KEEP_CLEAR = 1.5
"""Floor kept free in front of a doorway, metres into the room."""
SPAWN_KEEP_CLEAR = 1.0
"""Half side of the square kept free around the spawn point, metres."""
CANDIDATES_CHECKED = 6
"""How many free spots are tried with the full checker before giving up."""


class ScaffoldError(Exception):
    """A problem the author can fix (unknown hall or room, id taken, ...): exit code 1."""


# --- command line ------------------------------------------------------------------


def add_new_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `hall`, `exhibit` and `checkpoint` to the `halls new` parser."""
    sub = parser.add_subparsers(dest="new_what", metavar="WHAT", required=True)
    hall = sub.add_parser("hall", help="write a new hall file halls/ID.yaml")
    hall.add_argument("id", help="hall id: lowercase letters, digits and '-' (becomes halls/ID.yaml)")
    hall.add_argument("--title", required=True, help="hall title in Chinese")
    hall.add_argument("--en", help="hall title in English (optional)")
    _root_argument(hall)
    exhibit = sub.add_parser("exhibit", help="add an exhibit to a room of a hall, at a free spot")
    _exhibit_arguments(exhibit)
    exhibit.add_argument("--kind", required=True, choices=KINDS, help="what to add")
    exhibit.add_argument("--asset", help="media only: the file under assets/ to show (default: a placeholder)")
    checkpoint = sub.add_parser("checkpoint", help="add a quiz checkpoint to a room of a hall, at a free spot")
    _exhibit_arguments(checkpoint)
    checkpoint.set_defaults(kind="checkpoint", asset=None)


def _exhibit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hall", help="hall id (the file halls/HALL.yaml)")
    parser.add_argument("--room", required=True, help="room id in that hall")
    parser.add_argument("--id", required=True, help="new exhibit id, unique in the hall")
    parser.add_argument("--title", help="title in Chinese (default: a placeholder to edit)")
    _root_argument(parser)


def _root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("."), help="project folder with halls/ (default: .)")


def new_command(args) -> int:
    """Run `halls new ...`; 0 on success, 1 with a message on stderr otherwise."""
    try:
        if args.new_what == "hall":
            path = new_hall(args.root, args.id, args.title, args.en)
            log.info("wrote %s", path)
        else:
            path, spot = new_exhibit(
                args.root, args.hall, args.room, args.id, args.kind, title=args.title, asset=args.asset
            )
            log.info("added %s '%s' to room '%s' of %s (%s)", args.kind, args.id, args.room, path, spot)
    except ScaffoldError as error:
        print(f"halls new: {error}", file=sys.stderr)
        return 1
    return 0


# --- new hall ----------------------------------------------------------------------


def new_hall(root: Path, hall_id: str, title: str, title_en: str | None = None) -> Path:
    """Write `halls/<hall_id>.yaml`: two rooms, a preface panel and a checkpoint."""
    root = Path(root)
    _check_slug(hall_id, "hall id")
    if not title.strip():
        raise ScaffoldError("--title must not be empty")
    path = root / "halls" / f"{hall_id}.yaml"
    if path.exists():
        raise ScaffoldError(f"{_shown(path, root)} already exists; choose another id")
    lobby = hall_id != "lobby" and (root / "halls" / "lobby.yaml").is_file()
    text = hall_template(hall_id, title, title_en, link_lobby=lobby)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if lobby:
        log.info("remember: add a doorway {to: 'hall:%s', ...} in halls/lobby.yaml so members can walk here", hall_id)
    return path


def hall_template(hall_id: str, title: str, title_en: str | None, *, link_lobby: bool) -> str:
    """The text of a new hall file."""
    title_yaml = f"{{zh: {yaml_text(title)}, en: {yaml_text(title_en)}}}" if title_en else yaml_text(title)
    lobby_door = '      - {to: "hall:lobby", wall: west}      # 通往序厅（入口大厅）\n' if link_lobby else ""
    checkpoint = "\n".join(_indent(checkpoint_lines(f"{hall_id}-quiz", "答题点", {"at": (0, 0)}), 6))
    return f"""\
# {title}：在这里写这个展馆的说明（以 # 开头的行是注释，不会显示）。
# 编写指南见 docs/authoring.md；改完后运行 halls check 检查。
id: {hall_id}
title: {title_yaml}
intro: 请在这里填写展馆简介。
order: 200
theme:
  primary: "#b22222"     # 主色：横幅、边框
  secondary: "#f2c14e"   # 辅色：装饰、答题点
rooms:
  - id: foyer
    title: 序厅
    size: [12, 10, 4]      # 宽（东西）、深（南北）、高，单位米
    position: [0, 0]
    spawn: [-4, 0]         # 参观者进入展馆时站的位置
    doorways:
{lobby_door}      - {{to: gallery, wall: east}}
    exhibits:
      - kind: panel
        id: preface
        title: 前言
        text: 请在这里填写前言。
        wall: north

  - id: gallery
    title: 展厅
    size: [12, 10, 4]
    position: [12, 0]      # 紧挨序厅的东墙
    exhibits:
{checkpoint}
"""


# --- new exhibit -------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """Where new exhibit text goes in a file."""

    line: int
    """Insert before this line (0-based); the number of lines to append at the end."""
    indent: int
    """Column of the list's '-'."""
    header: str | None = None
    """An `exhibits:` line to write first, when the room has none yet."""
    replace: tuple[int, int, int] | None = None
    """(line, start column, end column) of an empty `[]` to remove."""


def new_exhibit(
    root: Path,
    hall_id: str,
    room_id: str,
    exhibit_id: str,
    kind: str,
    *,
    title: str | None = None,
    asset: str | None = None,
) -> tuple[Path, str]:
    """Append an exhibit of `kind` to a room; return the file and where the exhibit was put."""
    root = Path(root)
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind '{kind}'{did_you_mean(kind, KINDS)}; kinds: {', '.join(KINDS)}")
    _check_slug(exhibit_id, "exhibit id")
    path = _hall_path(root, hall_id)
    hall = _valid_hall(root, path)
    room_index = _room_index(hall, room_id)
    _check_id_free(hall, exhibit_id)
    text = path.read_text(encoding="utf-8")
    slot = exhibits_slot(text, room_id, _shown(path, root))
    placeholder = None
    if kind == "media":
        if not asset:
            asset = placeholder = _placeholder(root, hall_id, exhibit_id)
        else:
            _check_asset(root, asset)
    try:
        lines = functools.partial(exhibit_lines, kind, exhibit_id, title or DEFAULT_TITLES[kind], asset=asset)
        spot = _place(root, path, text, slot, lines, free_spots(hall, room_index, kind), kind, room_id)
    except ScaffoldError:
        if placeholder:
            (root / placeholder).unlink()
        raise
    return path, spot


def _place(
    root: Path,
    path: Path,
    text: str,
    slot: Slot,
    lines: Callable[[dict], list[str]],
    spots: Iterator[dict],
    kind: str,
    room_id: str,
) -> str:
    """Write the exhibit at the first spot where the hall passes the checker; describe the spot."""
    problems: list[Diagnostic] = []
    for spot in itertools.islice(spots, CANDIDATES_CHECKED):
        candidate = insert_lines(text, slot, lines(spot))
        problems = _problems(root, path, candidate)
        if not problems:
            path.write_text(candidate, encoding="utf-8")
            return describe_spot(spot)
    detail = "".join(f"\n  {d}" for d in problems[:5])
    raise ScaffoldError(
        f"no free spot for a {kind} in room '{room_id}'; enlarge the room ('size') or move exhibits apart{detail}"
    )


def _hall_path(root: Path, hall_id: str) -> Path:
    path = root / "halls" / f"{hall_id}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "halls").glob("*.yaml"))
        listing = f"; halls: {', '.join(known)}" if known else f"; no hall files in {_shown(root / 'halls', root)}"
        raise ScaffoldError(f"unknown hall '{hall_id}'{did_you_mean(hall_id, known)}{listing}")
    return path


def _options(root: Path) -> ValidateOptions:
    known = frozenset(p.stem for p in (root / "halls").glob("*.yaml"))
    return ValidateOptions(root=root, assets_dir=root / "assets", known_halls=known)


def _valid_hall(root: Path, path: Path) -> Hall:
    """The hall as it is now; it must pass the checker before anything is added."""
    hall, diagnostics = check_file(path, _options(root))
    errors = [d for d in diagnostics if d.severity == "error"]
    if hall is None or errors:
        listing = "".join(f"\n  {d}" for d in errors[:10])
        raise ScaffoldError(f"{_shown(path, root)} has errors; fix them first (halls check):{listing}")
    return hall


def _room_index(hall: Hall, room_id: str) -> int:
    ids = [room.id for room in hall.rooms]
    if room_id not in ids:
        raise ScaffoldError(
            f"hall '{hall.id}' has no room '{room_id}'{did_you_mean(room_id, ids)}; rooms: {', '.join(ids)}"
        )
    return ids.index(room_id)


def _check_id_free(hall: Hall, exhibit_id: str) -> None:
    for room in hall.rooms:
        for exhibit in room.exhibits:
            if exhibit.id == exhibit_id:
                raise ScaffoldError(
                    f"id '{exhibit_id}' is taken by the {exhibit.kind} in room '{room.id}'; choose another id"
                )


def _check_slug(value: str, what: str) -> None:
    if not SLUG.match(value):
        raise ScaffoldError(
            f"'{value}' is not a valid {what}: use lowercase letters a-z, digits and '-', like 'red-hall'"
        )


def _problems(root: Path, path: Path, text: str) -> list[Diagnostic]:
    """Errors the checker finds in the hall file if it had `text`."""
    with tempfile.TemporaryDirectory(prefix="halls-new-") as tmp:
        probe = Path(tmp) / path.name
        probe.write_text(text, encoding="utf-8")
        try:
            doc = load_document(probe, root=root, options=LoadOptions(halls_dir=path.parent))
            _, diagnostics = validate_hall(doc, _options(root))
        except AuthorErrors as errors:
            diagnostics = errors.diagnostics
        probe_file = display_path(probe, root)
    shown = _shown(path, root)
    return [
        dataclasses.replace(d, file=shown) if d.file == probe_file else d for d in diagnostics if d.severity == "error"
    ]


def _shown(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _check_asset(root: Path, asset: str) -> None:
    if not asset.startswith("assets/") or not (root / asset).is_file():
        raise ScaffoldError(f"no such asset '{asset}': put the file under assets/ and write 'assets/...'")


def _placeholder(root: Path, hall_id: str, exhibit_id: str) -> str:
    """Write a placeholder picture `assets/<hall>/<id>.png` for a new media exhibit."""
    relative = f"assets/{hall_id}/{exhibit_id}.png"
    target = root / relative
    if target.exists():
        raise ScaffoldError(f"{relative} already exists; pass it with --asset {relative}")
    target.parent.mkdir(parents=True, exist_ok=True)
    _placeholder_png(target)
    log.info("wrote a placeholder picture %s; replace it with the real one", relative)
    return relative


def _placeholder_png(path: Path) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 360), "#d8d2c4")
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, 631, 351), outline="#8a6d4b", width=6)
    draw.line((8, 8, 631, 351), fill="#8a6d4b", width=3)
    draw.line((8, 351, 631, 8), fill="#8a6d4b", width=3)
    image.save(path)


# --- finding where the text goes ----------------------------------------------------------


def exhibits_slot(text: str, room_id: str, file: str = "the hall file") -> Slot:
    """Where to insert an exhibit at the end of room `room_id`'s `exhibits:` list."""
    try:
        root_node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise ScaffoldError(f"{file}: cannot read the YAML: {error}") from None
    room = _room_node(root_node, room_id, file)
    lines = text.split("\n")
    exhibits = _value(room, "exhibits")
    if exhibits is None:
        if room.flow_style:
            raise ScaffoldError(f"{file}: room '{room_id}' is written as {{...}}; write it as a block to add exhibits")
        key_column = room.value[0][0].start_mark.column
        end = _last_line(lines, room, key_column)
        return Slot(end + 1, key_column + 2, header=" " * key_column + "exhibits:")
    if not isinstance(exhibits, yaml.SequenceNode):
        raise ScaffoldError(f"{file}: the exhibits of room '{room_id}' are not a list here (an include?); add by hand")
    if exhibits.flow_style:
        if exhibits.value:
            raise ScaffoldError(f"{file}: room '{room_id}' lists its exhibits in [...]; write them as a block list")
        key_column = room.value[0][0].start_mark.column
        opening, closing = exhibits.start_mark, exhibits.end_mark
        return Slot(opening.line + 1, key_column + 2, replace=(opening.line, opening.column, closing.column))
    last = exhibits.value[-1]
    dash = _dash_column(lines, last)
    return Slot(_last_line(lines, last, dash) + 1, dash)


def _room_node(root_node, room_id: str, file: str) -> yaml.MappingNode:
    rooms = _value(root_node, "rooms") if isinstance(root_node, yaml.MappingNode) else None
    if isinstance(rooms, yaml.SequenceNode):
        for item in rooms.value:
            id_node = _value(item, "id") if isinstance(item, yaml.MappingNode) else None
            if isinstance(id_node, yaml.ScalarNode) and id_node.value == room_id:
                return item
    raise ScaffoldError(f"{file}: room '{room_id}' is not written in this file (is it in an include?); add by hand")


def _value(mapping: yaml.MappingNode, key: str):
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def _dash_column(lines: list[str], item) -> int:
    """Column of the '-' that starts a block list item."""
    line = lines[item.start_mark.line]
    dash = line.rfind("-", 0, item.start_mark.column)
    return dash if dash >= 0 else item.start_mark.column


def _leaves(node) -> Iterator:
    """Scalars and flow collections under a node (their end marks are exact)."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        yield node
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield from _leaves(value)
    else:
        for item in node.value:
            yield from _leaves(item)


def _last_line(lines: list[str], node, column: int) -> int:
    """Last line of a block node's text: its content, and comments indented deeper than `column`."""
    end = node.start_mark.line
    for leaf in _leaves(node):
        mark = leaf.end_mark
        end = max(end, mark.line - 1 if mark.column == 0 else mark.line)
    while end > node.start_mark.line and not lines[end].strip():
        end -= 1
    while end + 1 < len(lines):
        following = lines[end + 1]
        stripped = following.lstrip(" ")
        if not stripped.startswith("#") or len(following) - len(stripped) <= column:
            break
        end += 1
    return end


def insert_lines(text: str, slot: Slot, exhibit: list[str]) -> str:
    """The file text with an exhibit (lines starting '- kind:') inserted at `slot`."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if slot.replace is not None:
        line, start, end = slot.replace
        lines[line] = (lines[line][:start].rstrip() + " " + lines[line][end:].lstrip()).rstrip()
    added = ([slot.header] if slot.header else []) + _indent(exhibit, slot.indent)
    lines[slot.line : slot.line] = added
    return "\n".join(lines) + "\n"


def _indent(lines: list[str], column: int) -> list[str]:
    return [(" " * column + line) if line else line for line in lines]


# --- free spots --------------------------------------------------------------------


Box = tuple[float, float, float, float]


def free_spots(hall: Hall, room_index: int, kind: str) -> Iterator[dict]:
    """Placements for a new exhibit of `kind`, best first: each a dict of YAML fields."""
    room = hall.rooms[room_index]
    rect = place_rooms(hall.rooms)[room.id]
    taken = [place_exhibit(rect, exhibit).box() for exhibit in room.exhibits]
    openings = _openings(hall, room_index)
    keep_clear = _door_zones(rect, openings) + _spawn_zone(hall, room_index)
    mounted = kind in ("panel", "media")
    seen: set[str] = set()
    for margin in (0.5, 0.0):
        found = [_floor_spots(rect, kind, taken, keep_clear, margin)]
        if mounted:
            walls = _wall_spots(rect, kind, taken, openings, margin)
            found = [walls] + found if room.shape == "room" else found + [walls]
        for spot in itertools.chain(*found):
            key = repr(sorted(spot.items()))
            if key not in seen:
                seen.add(key)
                yield spot


def describe_spot(spot: dict) -> str:
    """`wall north, along 1.5` or `at [2, -1]`, for messages."""
    if "wall" in spot:
        return f"wall {spot['wall']}, along {_num(spot['along'])}"
    return f"at [{_num(spot['at'][0])}, {_num(spot['at'][1])}]"


def _openings(hall: Hall, room_index: int) -> list[tuple[str, float, float]]:
    """(wall, low, high) of every doorway gap in this room's walls, offsets from the wall's middle."""
    rects = place_rooms(hall.rooms)
    here = hall.rooms[room_index]
    found: list[tuple[str, float, float]] = []
    for room in hall.rooms:
        rect = rects[room.id]
        for door in room.doorways:
            centre = rect.wall_middle(door.wall) + door.along
            wall: str
            if room.id == here.id:
                wall = door.wall
            elif door.to == here.id:
                wall = OPPOSITE[door.wall]
            else:
                continue
            offset = centre - rects[here.id].wall_middle(wall)
            found.append((wall, offset - door.width / 2, offset + door.width / 2))
    return found


def _door_zones(rect: RoomRect, openings: list[tuple[str, float, float]]) -> list[Box]:
    """Floor boxes in front of doorways, kept free so members can walk through."""
    hw, hd = rect.width / 2, rect.depth / 2
    zones = []
    for wall, low, high in openings:
        if wall == "north":
            zones.append((low - 0.3, hd - DOOR_KEEP_CLEAR, high + 0.3, hd))
        elif wall == "south":
            zones.append((low - 0.3, -hd, high + 0.3, -hd + DOOR_KEEP_CLEAR))
        elif wall == "east":
            zones.append((hw - DOOR_KEEP_CLEAR, low - 0.3, hw, high + 0.3))
        else:
            zones.append((-hw, low - 0.3, -hw + DOOR_KEEP_CLEAR, high + 0.3))
    return zones


def _spawn_zone(hall: Hall, room_index: int) -> list[Box]:
    if room_index != 0:
        return []
    x, y = hall.rooms[0].spawn or (0.0, 0.0)
    return [(x - SPAWN_KEEP_CLEAR, y - SPAWN_KEEP_CLEAR, x + SPAWN_KEEP_CLEAR, y + SPAWN_KEEP_CLEAR)]


def _overlaps(box: Box, others: list[Box], margin: float) -> bool:
    """Whether `box` comes closer than `margin` to any of `others`."""

    def gap(o: Box, lo: int, hi: int) -> float:
        return max(box[lo], o[lo]) - min(box[hi], o[hi])

    return any(gap(o, 0, 2) < margin - 1e-6 and gap(o, 1, 3) < margin - 1e-6 for o in others)


def _wall_spots(rect: RoomRect, kind: str, taken: list[Box], openings, margin: float) -> Iterator[dict]:
    width = 1.6
    for wall in ("north", "south", "east", "west"):
        inside = (rect.width if wall in ("north", "south") else rect.depth) / 2 - WALL_THICKNESS
        doors = [(low, high) for w, low, high in openings if w == wall]
        for along in _outward(inside - width / 2 - 0.1):
            if any(min(along + width / 2, high) - max(along - width / 2, low) > -0.2 for low, high in doors):
                continue
            fp = place_exhibit(rect, _probe(kind, {"wall": wall, "along": along}))
            if not _overlaps(fp.box(), taken, margin):
                yield {"wall": wall, "along": along}


def _outward(limit: float) -> list[float]:
    """0, then ±0.5, ±1, ... up to ±limit (rounded to half metres)."""
    if limit < 0:
        return []
    steps = [0.0]
    value = 0.5
    while value <= limit + 1e-9:
        steps += [value, -value]
        value += 0.5
    return steps


def _floor_spots(rect: RoomRect, kind: str, taken: list[Box], keep_clear: list[Box], margin: float) -> Iterator[dict]:
    free_x = rect.width / 2 - WALL_THICKNESS - CLEARANCE
    free_y = rect.depth / 2 - WALL_THICKNESS - CLEARANCE
    for size in _sizes(kind):
        for x, y in _grid(free_x, free_y):
            spot = _floor_spot(kind, x, y, size)
            fp = place_exhibit(rect, _probe(kind, spot))
            if not _inside(fp, free_x, free_y):
                continue
            if _overlaps(fp.box(), taken, margin) or _overlaps(fp.box(), keep_clear, 0.0):
                continue
            yield spot


def _sizes(kind: str) -> list:
    if kind == "diorama":
        return [(8, 8), (6, 6), (4, 4), (3, 3)]
    if kind == "checkpoint":
        return [1.5, 1.0, 0.6]
    return [None]


def _floor_spot(kind: str, x: float, y: float, size) -> dict:
    spot: dict = {"at": (x, y)}
    if kind == "diorama":
        spot["area"] = size
    elif kind == "checkpoint":
        spot["radius"] = size
    else:
        spot["facing"] = _facing_centre(x, y)
    return spot


def _grid(free_x: float, free_y: float) -> list[tuple[float, float]]:
    """Floor points on a grid, nearest the room's centre first."""
    nx, ny = int(free_x / GRID_STEP), int(free_y / GRID_STEP)
    points = [(i * GRID_STEP, j * GRID_STEP) for i in range(-nx, nx + 1) for j in range(-ny, ny + 1)]
    return sorted(points, key=lambda p: (round(math.hypot(*p), 6), -p[1], p[0]))


def _inside(fp: Footprint, free_x: float, free_y: float) -> bool:
    return abs(fp.x) + fp.half_w <= free_x + 1e-6 and abs(fp.y) + fp.half_d <= free_y + 1e-6


def _facing_centre(x: float, y: float) -> float:
    """Compass direction from a point toward the room's centre (south at the centre itself)."""
    if abs(x) < 1e-9 and abs(y) < 1e-9:
        return 180.0
    if abs(y) >= abs(x):
        return 180.0 if y > 0 else 0.0
    return 270.0 if x > 0 else 90.0


def _probe(kind: str, spot: dict) -> Panel | Media | Model | Diorama | Checkpoint:
    """A typed exhibit with the template's size at `spot`, for its footprint."""
    common = {"id": "probe", "title": "t", **spot}
    if kind == "panel":
        return Panel.model_validate({"kind": "panel", "text": "t", **common})
    if kind == "media":
        return Media.model_validate({"kind": "media", "asset": "assets/x.png", **common})
    if kind == "model":
        return Model.model_validate({"kind": "model", "generator": {"name": "figure"}, **common})
    if kind == "diorama":
        return Diorama.model_validate({"kind": "diorama", "narration": "t", **common})
    return Checkpoint.model_validate({"kind": "checkpoint", "questions": [], **common})


# --- exhibit templates ---------------------------------------------------------------


def exhibit_lines(kind: str, exhibit_id: str, title: str, spot: dict, *, asset: str | None = None) -> list[str]:
    """The YAML lines of a new exhibit (a list item, not indented)."""
    builders = {"panel": panel_lines, "model": model_lines, "diorama": diorama_lines, "checkpoint": checkpoint_lines}
    if kind == "media":
        return media_lines(exhibit_id, title, spot, asset or "assets/placeholder.png")
    return builders[kind](exhibit_id, title, spot)


def _placement_lines(spot: dict) -> list[str]:
    if "wall" in spot:
        return [_note(f"wall: {spot['wall']}", "挂在北/南/东/西墙上，面向室内"), f"along: {_num(spot['along'])}"]
    lines = [_note(f"at: [{_num(spot['at'][0])}, {_num(spot['at'][1])}]", "以展厅中心为原点：x 向东，y 向北（米）")]
    if "facing" in spot:
        lines.append(_note(f"facing: {_num(spot['facing'])}", "正面朝向：0 北、90 东、180 南、270 西"))
    return lines


def panel_lines(exhibit_id: str, title: str, spot: dict) -> list[str]:
    body = [
        "kind: panel",
        f"id: {exhibit_id}",
        f"title: {yaml_text(title)}",
        "text: 请在这里填写展板正文。文字多时把 size 调大，例如改成 [2.4, 1.5]。",
    ]
    return _item(body + _placement_lines(spot))


def media_lines(exhibit_id: str, title: str, spot: dict, asset: str) -> list[str]:
    body = [
        "kind: media",
        f"id: {exhibit_id}",
        f"title: {yaml_text(title)}",
        _note(f"asset: {yaml_text(asset)}", "图片 PNG/JPEG、视频 MP4/WebM 或音频 OGG/MP3/WAV，放在 assets/ 下"),
        "text: 请在这里填写说明。",
    ]
    return _item(body + _placement_lines(spot))


def model_lines(exhibit_id: str, title: str, spot: dict) -> list[str]:
    body = [
        "kind: model",
        f"id: {exhibit_id}",
        f"title: {yaml_text(title)}",
        "text: 请在这里填写模型说明。",
        "# 程序生成的形状（见指南的生成器表）；也可以改用 asset: assets/模型.glb",
        "generator: {name: figure, params: {pose: salute}}",
        "footprint: [1.0, 1.0]",
    ]
    return _item(body + _placement_lines(spot))


def diorama_lines(exhibit_id: str, title: str, spot: dict) -> list[str]:
    width, depth = spot["area"]
    qx, qy = _num(width / 4), _num(depth / 4)
    body = [
        "kind: diorama",
        f"id: {exhibit_id}",
        f"title: {yaml_text(title)}",
        "narration: 请在这里填写解说词，参观者走进场景时显示。",
        _note("# audio: assets/audio/解说.ogg", "解说音频（可选）"),
        *_placement_lines(spot),
        _note(f"area: [{_num(width)}, {_num(depth)}]", "场景占地：宽、深（米）"),
        "terrain: {kind: hills, relief: 0.8, seed: 1}",
        "figures:",
        "  - {at: [0, 1], pose: march, facing: 0, count: 3, spacing: 1.0}",
        "props:",
        f"  - {{generator: {{name: flag, params: {{width: 1.0, height: 0.7, pole: 2.4}}}}, at: [{qx}, {qy}], "
        'colour: "#c8102e"}',
    ]
    return _item(body)


def checkpoint_lines(exhibit_id: str, title: str, spot: dict) -> list[str]:
    radius = spot.get("radius", 1.5)
    body = [
        "kind: checkpoint",
        f"id: {exhibit_id}",
        f"title: {yaml_text(title)}",
        *_placement_lines(spot),
        _note(f"radius: {_num(radius)}", "走进这个半径（米）的圆圈就开始答题"),
        _note("pass_mark: 0.6", "答对 60% 即通过"),
        _note("attempts: 3", "最多答 3 次"),
        _note("cooldown: 0", "两次作答之间等待的秒数"),
        _note("questions:", "把下面三道示例题改成本展馆的内容"),
        "  - id: q1",
        "    type: single",
        "    prompt: 示例单选题：请把这里改成问题？",
        "    options: [选项一, 选项二, 选项三]",
        "    answer: A",
        "    explanation: 答案解析（可选）。",
        "  - id: q2",
        "    type: multiple",
        "    prompt: 示例多选题：请把这里改成问题？",
        "    options: [选项一, 选项二, 选项三, 选项四]",
        "    answer: [A, C]",
        "  - id: q3",
        "    type: true-false",
        "    prompt: 示例判断题：请把这里改成一句需要判断对错的话。",
        "    answer: true",
    ]
    return _item(body)


def _note(line: str, comment: str) -> str:
    """A line with a comment lined up at column 24."""
    return f"{line:<23} # {comment}"


def _item(body: list[str]) -> list[str]:
    return ["- " + body[0]] + ["  " + line for line in body[1:]]


def _num(value: float) -> str:
    return f"{round(float(value), 2) + 0.0:g}"


_PLAIN = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^:#,\[\]{}]*$")


def yaml_text(value: str) -> str:
    """`value` as a YAML scalar: plain when that reads back as the same text, else double-quoted."""
    if _PLAIN.match(value) and not value.endswith(" "):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)
