"""Validate: a loaded hall document becomes a typed `Hall`, or a list of author errors.

Two passes, each reporting everything it finds.  First the schema
(`Hall.model_validate`), with pydantic's errors rewritten in plain language
at the YAML marks of their paths (`scenes.schema_errors`).  Then, on a
schema-valid hall, the checks the schema cannot express: ids, assets,
geometry (rooms, exhibits, doorways), reachability, quizzes and text fit.
The only disk access is listing `assets/` and reading the assets a hall
refers to, whose size and content `scenes.assets` checks (both skipped when
`ValidateOptions.asset_files` is given).
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from scenes.assets import (
    AUDIO_TYPES,
    IMAGE_TYPES,
    MODEL_TYPES,
    VIDEO_TYPES,
    AssetProblem,
    asset_kind,
    content_problem,
    path_problem,
    read_asset_file,
    references,
)
from scenes.diagnostics import AuthorErrors, Diagnostic, did_you_mean
from scenes.layout import CLEARANCE, OPPOSITE, WALL_THICKNESS, RoomRect, place_exhibit, place_rooms
from scenes.load import Document, LoadOptions, Mark, display_path, load_document
from scenes.model import Checkpoint, Diorama, Figure, Hall, Media, Model, Panel, Prop
from scenes.schema_errors import SLUG_PATTERN, at, describe, num, schema_diagnostics

EPSILON = 1e-6
"""Lengths closer than this (metres) count as equal: rooms may touch, exhibits may abut."""


@dataclass(frozen=True)
class ValidateOptions:
    """Validate settings."""

    root: Path
    """Project folder; asset paths are written relative to it (`assets/lamp.glb`)."""
    assets_dir: Path
    """The assets folder (normally `<root>/assets`)."""
    known_halls: frozenset[str] = frozenset()
    """Ids of all halls, for `hall:<id>` doorways; empty: do not check them."""
    asset_files: frozenset[str] | None = None
    """Asset paths as authors write them (`assets/...`); None: list `assets_dir`, and read the assets a hall
    refers to for their checks of size and content (`scenes.assets`)."""
    max_rooms: int = 40
    """Most rooms in one hall."""
    max_exhibits: int = 400
    """Most exhibits in one hall, all rooms together."""
    max_questions: int = 50
    """Most questions in one checkpoint."""
    max_figures: int = 200
    """Most figures in one diorama, counting each figure of a column."""
    max_doorways: int = 200
    """Most doorways in one hall, all rooms together."""
    max_panel_chars: int = 1500
    """Longest body text of one panel, in characters."""
    max_text_chars: int = 30000
    """Most panel text in one hall, in characters; the fit check takes time in proportion."""


def validate_hall(doc: Document, options: ValidateOptions) -> tuple[Hall | None, list[Diagnostic]]:
    """The hall and its warnings, or None and every problem found."""
    if not isinstance(doc, Document):
        raise TypeError(f"validate: expected a scenes.load.Document, got {type(doc).__name__}")
    if not isinstance(options, ValidateOptions):
        raise TypeError(f"validate: expected ValidateOptions, got {type(options).__name__}")
    try:
        hall = Hall.model_validate(doc.data)
    except ValidationError as error:
        return None, sorted(schema_diagnostics(doc, error), key=Diagnostic.sort_key)
    diagnostics = sorted(set(_HallChecks(doc, hall, options).run()), key=Diagnostic.sort_key)
    failed = any(d.severity == "error" for d in diagnostics)
    return (None if failed else hall), diagnostics


def check_file(
    path: Path, options: ValidateOptions, load_options: LoadOptions | None = None
) -> tuple[Hall | None, list[Diagnostic]]:
    """Load and validate one hall file."""
    try:
        doc = load_document(path, root=options.root, options=load_options or LoadOptions())
    except AuthorErrors as errors:
        return None, errors.diagnostics
    return validate_hall(doc, options)


# --- checks on a schema-valid hall --------------------------------------------------


def _label(exhibit) -> str:
    return f"{exhibit.kind} '{exhibit.id}'"


def _first_at(first: Mark, here: Mark) -> str:
    return f"line {first[1]}" if first[0] == here[0] else f"{first[0]}:{first[1]}"


@dataclass(frozen=True)
class _Opening:
    """A doorway's gap in one room's wall, in hall coordinates along the wall's line."""

    room: int
    wall: str
    low: float
    high: float
    door: tuple[int, int]
    joins: frozenset[str]
    label: str


class _HallChecks:
    """The semantic checks of one hall; `run` yields every diagnostic."""

    def __init__(self, doc: Document, hall: Hall, options: ValidateOptions):
        self.doc = doc
        self.hall = hall
        self.options = options
        renamed = [room.model_copy(update={"id": str(index)}) for index, room in enumerate(hall.rooms)]
        placed = place_rooms(renamed)
        self.rects = [placed[str(index)] for index in range(len(hall.rooms))]
        self.room_index: dict[str, int] = {}
        for index, room in enumerate(hall.rooms):
            self.room_index.setdefault(room.id, index)
        self.openings: list[_Opening] = []
        self.links: set[tuple[int, int]] = set()
        self._assets: frozenset[str] | None = options.asset_files
        self._contents: dict[str, str | None] = {}

    def run(self) -> Iterator[Diagnostic]:
        oversized = list(self._size_budgets())
        yield from oversized
        yield from self._hall_id()
        yield from self._duplicate_ids()
        if oversized:
            return  # pairwise checks on a hall this big could take minutes; the author must split it first
        checks = (
            self._content_budgets,
            self._sizes_positive,
            self._assets_exist,
            self._rooms_apart,
            self._doorways,
            self._doorway_overlaps,
            self._reachable,
            self._spawn,
            self._exhibits_in_rooms,
            self._exhibits_apart,
            self._mounted_clear_of_doorways,
            self._diorama_contents,
            self._generator_params,
            self._questions,
            self._text_fits,
        )
        for check in checks:
            yield from check()

    def _error(self, path: tuple, message: str) -> Diagnostic:
        return at(self.doc, path, message)

    def _exhibits(self) -> Iterator[tuple[int, int, Any, tuple]]:
        for r, room in enumerate(self.hall.rooms):
            for e, exhibit in enumerate(room.exhibits):
                yield r, e, exhibit, ("rooms", r, "exhibits", e)

    # ids and budgets

    def _hall_id(self) -> Iterator[Diagnostic]:
        stem = PurePosixPath(self.doc.file).stem
        if self.hall.id != stem:
            name = PurePosixPath(self.doc.file).name
            message = f"hall id '{self.hall.id}' does not match the file name '{name}'; rename one of them"
            yield self._error(("id",), message)

    def _size_budgets(self) -> Iterator[Diagnostic]:
        opts = self.options
        rooms = len(self.hall.rooms)
        if rooms > opts.max_rooms:
            message = f"too many rooms: {rooms} (the limit is {opts.max_rooms} per hall); split the hall"
            yield self._error(("rooms", opts.max_rooms), message)
        exhibits = list(self._exhibits())
        if len(exhibits) > opts.max_exhibits:
            path = exhibits[opts.max_exhibits][3]
            message = (
                f"too many exhibits: {len(exhibits)} in this hall (the limit is {opts.max_exhibits}); "
                "move some to another hall"
            )
            yield self._error(path, message)
        doorways = [
            ("rooms", r, "doorways", d) for r, room in enumerate(self.hall.rooms) for d, _ in enumerate(room.doorways)
        ]
        if len(doorways) > opts.max_doorways:
            message = f"too many doorways: {len(doorways)} in this hall (the limit is {opts.max_doorways})"
            yield self._error(doorways[opts.max_doorways], message)

    def _content_budgets(self) -> Iterator[Diagnostic]:
        opts = self.options
        for _, _, exhibit, path in self._exhibits():
            if isinstance(exhibit, Checkpoint) and len(exhibit.questions) > opts.max_questions:
                count = len(exhibit.questions)
                message = f"too many questions: {count} (the limit is {opts.max_questions} per checkpoint)"
                yield self._error(path + ("questions", opts.max_questions), message)
            if isinstance(exhibit, Diorama):
                figures = sum(figure.count for figure in exhibit.figures)
                if figures > opts.max_figures:
                    message = f"too many figures: {figures} (the limit is {opts.max_figures} per diorama)"
                    yield self._error(path + ("figures",), message)

    def _duplicates(self, items: Iterator[tuple[str, tuple]], what: str) -> Iterator[Diagnostic]:
        first: dict[str, tuple] = {}
        for value, path in items:
            if value in first:
                here = self.doc.mark(path)
                where = _first_at(self.doc.mark(first[value]), here)
                yield self._error(path, f"duplicate {what} id '{value}' (first at {where})")
            else:
                first[value] = path

    def _duplicate_ids(self) -> Iterator[Diagnostic]:
        rooms = ((room.id, ("rooms", r, "id")) for r, room in enumerate(self.hall.rooms))
        yield from self._duplicates(rooms, "room")
        exhibits = ((exhibit.id, path + ("id",)) for _, _, exhibit, path in self._exhibits())
        yield from self._duplicates(exhibits, "exhibit")
        for _, _, exhibit, path in self._exhibits():
            if isinstance(exhibit, Checkpoint):
                questions = ((q.id, path + ("questions", i, "id")) for i, q in enumerate(exhibit.questions))
                yield from self._duplicates(questions, "question")

    # assets

    def _asset_files(self) -> frozenset[str]:
        if self._assets is None:
            self._assets = list_assets(self.options.assets_dir, self.options.root)
        return self._assets

    def _assets_exist(self) -> Iterator[Diagnostic]:
        for _, _, exhibit, path in self._exhibits():
            for name, (what, allowed) in ASSET_FIELDS.get(type(exhibit), {}).items():
                value = getattr(exhibit, name)
                if value is not None:
                    message = self._asset_problem(value, what, allowed)
                    if message:
                        yield self._error(path + (name,), message)

    def _asset_problem(self, value: str, what: str, allowed: tuple[str, ...]) -> str | None:
        prefix = display_path(self.options.assets_dir, self.options.root) + "/"
        problem = path_problem(value, prefix)
        if problem:
            return problem
        relative = PurePosixPath(value)
        if relative.suffix.lower() not in allowed:
            types_ = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
            return f"'{value}' is not {what} file; use {types_}"
        files = self._asset_files()
        on_disk = self.options.asset_files is None
        if value in files:
            return self._asset_content(value) if on_disk else None
        if prefix + value in files:
            return f"asset paths start with '{prefix}': write '{prefix}{value}'"
        if on_disk and posixpath.normpath(value) == value and os.path.lexists(self.options.root / value):
            return self._asset_content(value)  # a link, folder or pipe: reading it says which
        same_type = [f for f in files if PurePosixPath(f).suffix.lower() in allowed]
        hint = did_you_mean(value, same_type) or did_you_mean(value, files)
        return f"no such asset '{value}'{hint}"

    def _asset_content(self, value: str) -> str | None:
        """The first problem with the file at `value` on disk, read once per hall (`scenes.assets`)."""
        if value not in self._contents:
            self._contents[value] = self._read_and_check(value)
        return self._contents[value]

    def _read_and_check(self, value: str) -> str | None:
        try:
            data = self._read(value)
        except AssetProblem as problem:
            return problem.message
        if asset_kind(value) != "model":
            return None
        pending, seen = [(value, data)], {value}
        while pending:  # the files the model uses, and the files they use (an OBJ's materials' textures)
            user, user_data = pending.pop()
            for used in references(user, user_data):
                if used in seen:
                    continue
                seen.add(used)
                try:
                    pending.append((used, self._read(used)))
                except AssetProblem as problem:
                    return f"{problem.message} (used by '{user}')"
        return _model_problem(value, data, self._read)

    def _read(self, value: str) -> bytes:
        """The asset's bytes, checked for where it leads, its size and its content; or AssetProblem."""
        data = read_asset_file(self.options.root, self.options.assets_dir, value)
        problem = content_problem(value, data)
        if problem:
            raise AssetProblem(problem)
        return data

    # rooms and doorways

    def _rooms_apart(self) -> Iterator[Diagnostic]:
        for b, rect_b in enumerate(self.rects):
            for a in range(b):
                if _overlap(_room_box(self.rects[a]), _room_box(rect_b)):
                    first = _first_at(self.doc.mark(("rooms", a)), self.doc.mark(("rooms", b)))
                    other = self.hall.rooms[a].id
                    room = self.hall.rooms[b].id
                    message = f"room '{room}' overlaps room '{other}' ({first}); change 'position' or 'size'"
                    yield self._error(("rooms", b), message)
                    break

    def _doorways(self) -> Iterator[Diagnostic]:
        for r, room in enumerate(self.hall.rooms):
            for d, door in enumerate(room.doorways):
                yield from self._doorway(r, d, door)

    def _doorway(self, r: int, d: int, door) -> Iterator[Diagnostic]:
        path = ("rooms", r, "doorways", d)
        room, rect = self.hall.rooms[r], self.rects[r]
        target, problem = self._doorway_target(r, door.to)
        if problem:
            yield self._error(path + ("to",), problem)
        if target is not None:
            self.links.add((r, target))
        low, high, inner_low, inner_high = _door_span(rect, door.wall, door.along, door.width)
        middle = rect.wall_middle(door.wall)
        if door.width > inner_high - inner_low + EPSILON:
            length = num(inner_high - inner_low)
            message = f"doorway is {num(door.width)} m wide but the {door.wall} wall is only {length} m long inside"
            yield self._error(path + ("width",), message)
            return
        if low < inner_low - EPSILON or high > inner_high + EPSILON:
            span = _along_range(inner_low, inner_high, door.width, middle)
            message = f"doorway runs past the end of the {door.wall} wall; keep 'along' between {span}"
            yield self._error(path + ("along",), message)
            return
        joins = frozenset((room.id, door.to)) if target is not None else frozenset()
        self.openings.append(_Opening(r, door.wall, low, high, (r, d), joins, f"the doorway to '{door.to}'"))
        if target is None:
            return
        field, problem = self._shared_wall_problem(r, target, door, low, high)
        if problem:
            yield self._error(path + (field,), problem)
            return
        label = f"the doorway from '{room.id}'"
        self.openings.append(_Opening(target, OPPOSITE[door.wall], low, high, (r, d), joins, label))

    def _doorway_target(self, r: int, to: str) -> tuple[int | None, str | None]:
        """(index of the target room or None, problem with the target or None)."""
        if to.startswith("hall:"):
            hall_id = to[len("hall:") :]
            if not re.fullmatch(SLUG_PATTERN, hall_id):
                return None, f"'{to}' needs a hall id after 'hall:', like 'hall:lobby'"
            if hall_id == self.hall.id:
                return None, "doorway leads to this same hall; give a room id instead"
            known = self.options.known_halls
            if known and hall_id not in known:
                return None, f"doorway to unknown hall '{hall_id}'{did_you_mean(hall_id, known)}"
            return None, None
        if to == self.hall.rooms[r].id:
            return None, "a doorway cannot lead to its own room"
        if to in self.room_index:
            return self.room_index[to], None
        if to in self.options.known_halls:
            return None, f"doorway to unknown room '{to}'; to lead to the hall '{to}', write 'hall:{to}'"
        return None, f"doorway to unknown room '{to}'{did_you_mean(to, self.room_index)}"

    def _shared_wall_problem(self, r: int, t: int, door, low: float, high: float) -> tuple[str, str | None]:
        """(field to blame, problem) when the two rooms do not share a wall the opening fits."""
        rect, other = self.rects[r], self.rects[t]
        line, start, end = rect.wall_line(door.wall)
        other_line, other_start, other_end = other.wall_line(OPPOSITE[door.wall])
        here, there = self.hall.rooms[r].id, self.hall.rooms[t].id
        if abs(line - other_line) > EPSILON or min(end, other_end) - max(start, other_start) <= EPSILON:
            return "wall", (
                f"rooms '{here}' and '{there}' do not share the {door.wall} wall of '{here}'; "
                "check 'wall' or the rooms' 'position'"
            )
        shared_low = max(start, other_start) + WALL_THICKNESS
        shared_high = min(end, other_end) - WALL_THICKNESS
        if low < shared_low - EPSILON or high > shared_high + EPSILON:
            if door.width > shared_high - shared_low + EPSILON:
                message = f"the wall shared by '{here}' and '{there}' is too short for a {num(door.width)} m doorway"
                return "width", message
            span = _along_range(shared_low, shared_high, door.width, rect.wall_middle(door.wall))
            return "along", f"doorway runs past the wall shared with room '{there}'; keep 'along' between {span}"
        return "", None

    def _doorway_overlaps(self) -> Iterator[Diagnostic]:
        reported: set[tuple] = set()
        for i, first in enumerate(self.openings):
            for second in self.openings[i + 1 :]:
                if (first.room, first.wall) != (second.room, second.wall) or first.door == second.door:
                    continue
                if min(first.high, second.high) - max(first.low, second.low) <= EPSILON:
                    continue
                earlier, later = sorted((first, second), key=lambda o: o.door)
                pair = (earlier.door, later.door)
                if pair in reported:
                    continue
                reported.add(pair)
                yield self._opening_overlap(earlier, later)

    def _opening_overlap(self, earlier: _Opening, later: _Opening) -> Diagnostic:
        r, d = later.door
        path = ("rooms", r, "doorways", d)
        if earlier.joins and earlier.joins == later.joins:
            declared = self.hall.rooms[earlier.door[0]].id
            first = self.doc.mark(("rooms", earlier.door[0], "doorways", earlier.door[1]))
            where = _first_at(first, self.doc.mark(path))
            message = f"this opening is also declared in room '{declared}' ({where}); declare each shared opening once"
            return self._error(path, message)
        room = self.hall.rooms[earlier.room].id
        return self._error(path, f"doorway overlaps {earlier.label} in the {earlier.wall} wall of room '{room}'")

    def _reachable(self) -> Iterator[Diagnostic]:
        neighbours: dict[int, set[int]] = {r: set() for r in range(len(self.hall.rooms))}
        for a, b in self.links:
            neighbours[a].add(b)
            neighbours[b].add(a)
        seen, queue = {0}, deque([0])
        while queue:
            for nxt in neighbours[queue.popleft()] - seen:
                seen.add(nxt)
                queue.append(nxt)
        first = self.hall.rooms[0].id
        for r, room in enumerate(self.hall.rooms):
            if r not in seen and self.room_index[room.id] == r:
                message = f"room '{room.id}' cannot be reached from the first room '{first}'; add a doorway"
                yield self._error(("rooms", r), message)

    def _spawn(self) -> Iterator[Diagnostic]:
        for r, room in enumerate(self.hall.rooms):
            if room.spawn is None:
                continue
            path = ("rooms", r, "spawn")
            if r > 0:
                message = "'spawn' is only used in the first room; members start there"
                yield at(self.doc, path, message, severity="warning")
                continue
            half_x, half_y = _free_half(self.rects[r])
            x, y = room.spawn
            if abs(x) > half_x + EPSILON or abs(y) > half_y + EPSILON:
                yield self._error(path, f"spawn point is outside room '{room.id}'; keep {_xy_range(half_x, half_y)}")

    # exhibits

    def _exhibits_in_rooms(self) -> Iterator[Diagnostic]:
        for r, _, exhibit, path in self._exhibits():
            if not _has_area(exhibit):
                continue
            rect = self.rects[r]
            footprint = place_exhibit(rect, exhibit)
            if footprint.mounted_on is not None:
                problem = _mounted_problem(rect, exhibit, footprint)
                where = path + ("along",)
            else:
                problem = _standing_problem(rect, footprint, self.hall.rooms[r].id)
                where = path + ("at",)
            if problem:
                yield self._error(where, f"{_label(exhibit)} {problem}")

    def _exhibits_apart(self) -> Iterator[Diagnostic]:
        for r, room in enumerate(self.hall.rooms):
            rect = self.rects[r]
            boxes = [(e, exhibit, place_exhibit(rect, exhibit).box()) for e, exhibit in enumerate(room.exhibits)]
            for i, (e, exhibit, box) in enumerate(boxes):
                for f, other, other_box in boxes[:i]:
                    if _overlap(box, other_box):
                        path = ("rooms", r, "exhibits", e)
                        where = _first_at(self.doc.mark(("rooms", r, "exhibits", f)), self.doc.mark(path))
                        message = f"{_label(exhibit)} overlaps {_label(other)} ({where}); move them apart"
                        yield self._error(path, message)
                        break

    def _mounted_clear_of_doorways(self) -> Iterator[Diagnostic]:
        for r, _, exhibit, path in self._exhibits():
            footprint = place_exhibit(self.rects[r], exhibit)
            wall = footprint.mounted_on
            if wall is None:
                continue
            middle = self.rects[r].wall_middle(wall)
            half = footprint.half_w if wall in ("north", "south") else footprint.half_d
            low, high = middle + exhibit.along - half, middle + exhibit.along + half
            for opening in self.openings:
                if (opening.room, opening.wall) != (r, wall):
                    continue
                if min(high, opening.high) - max(low, opening.low) > EPSILON:
                    message = f"{_label(exhibit)} covers {opening.label} in the {wall} wall; move 'along'"
                    yield self._error(path + ("along",), message)
                    break

    def _diorama_contents(self) -> Iterator[Diagnostic]:
        for _, _, exhibit, path in self._exhibits():
            if not isinstance(exhibit, Diorama):
                continue
            half_x, half_y = exhibit.area[0] / 2, exhibit.area[1] / 2
            placed: tuple[tuple[str, Sequence[Figure | Prop]], ...] = (
                ("figures", exhibit.figures),
                ("props", exhibit.props),
            )
            for name, items in placed:
                for i, item in enumerate(items):
                    x, y = item.at
                    if abs(x) > half_x + EPSILON or abs(y) > half_y + EPSILON:
                        area = f"{num(exhibit.area[0])} x {num(exhibit.area[1])} m"
                        message = f"stands outside the diorama's {area} area; keep {_xy_range(half_x, half_y)}"
                        yield self._error(path + (name, i, "at"), message)

    def _generator_params(self) -> Iterator[Diagnostic]:
        from scenes.generators import resolve_params

        for _, _, exhibit, path in self._exhibits():
            if isinstance(exhibit, Model) and exhibit.generator is not None:
                generators = [(path + ("generator", "params"), exhibit.generator)]
            elif isinstance(exhibit, Diorama):
                generators = [
                    (path + ("props", i, "generator", "params"), prop.generator) for i, prop in enumerate(exhibit.props)
                ]
            else:
                continue
            for where, generator in generators:
                try:
                    resolve_params(generator.name, generator.params)
                except ValueError as problem:
                    yield self._error(where, str(problem))

    # quizzes and text

    def _questions(self) -> Iterator[Diagnostic]:
        for _, _, exhibit, path in self._exhibits():
            if not isinstance(exhibit, Checkpoint):
                continue
            if not exhibit.questions:
                yield self._error(path + ("questions",), "a checkpoint needs at least one question")
            for q, question in enumerate(exhibit.questions):
                for where, message in _question_problems(question):
                    yield self._error(path + ("questions", q) + where, message)

    def _sizes_positive(self) -> Iterator[Diagnostic]:
        for _, _, exhibit, path in self._exhibits():
            if not _has_area(exhibit):
                name = SIZE_FIELDS[type(exhibit)]
                yield self._error(path + (name,), f"'{name}' must be more than 0 in both directions")

    def _text_fits(self) -> Iterator[Diagnostic]:
        panels = [(exhibit, path) for _, _, exhibit, path in self._exhibits() if isinstance(exhibit, Panel)]
        total = sum(len(panel.title.zh) + len(panel.text.zh) for panel, _ in panels)
        if total > self.options.max_text_chars:
            limit = self.options.max_text_chars
            message = f"too much panel text: {total} characters in this hall (the limit is {limit})"
            yield self._error(("rooms",), message)
            return
        for panel, path in panels:
            width, height = panel.size
            if len(panel.text.zh) > self.options.max_panel_chars:
                message = (
                    f"text is too long for one panel: {len(panel.text.zh)} characters "
                    f"(the limit is {self.options.max_panel_chars}); split it over several panels"
                )
                yield self._error(path + ("text",), message)
            elif min(width, height) > 0 and not _panel_text_fits(panel):
                message = f"text does not fit on a {num(width)} x {num(height)} m panel; shorten it or enlarge 'size'"
                yield self._error(path + ("text",), message)


SIZE_FIELDS: dict[type, str] = {Panel: "size", Media: "size", Model: "footprint", Diorama: "area"}


def _has_area(exhibit) -> bool:
    name = SIZE_FIELDS.get(type(exhibit))
    return name is None or min(getattr(exhibit, name)) > 0


MIN_CHAR_M = 0.03
"""No panel text is printed smaller than this (metres): a bound to skip hopeless fit checks."""


def _panel_text_fits(panel: Panel) -> bool:
    """Whether the panel's Chinese title and text fit it (`scenes.text.text_fits`, memoised)."""
    width, height = panel.size
    if len(panel.title.zh) + len(panel.text.zh) > 2 * width * height / MIN_CHAR_M**2:
        return False  # more characters than half-width glyphs could cover at the smallest size
    return _text_fits_cached(panel.title.zh, panel.text.zh, width, height, panel.image is not None)


@functools.lru_cache(maxsize=4096)
def _text_fits_cached(title: str, body: str, width: float, height: float, has_image: bool) -> bool:
    from scenes.text import text_fits  # imported late: fonts and Pillow only when a hall has panels

    return text_fits(title, body, width, height, has_image=has_image)


ASSET_FIELDS: dict[type, dict[str, tuple[str, tuple[str, ...]]]] = {
    Panel: {"image": ("an image", IMAGE_TYPES)},
    Model: {"asset": ("a model", MODEL_TYPES)},
    Diorama: {"audio": ("an audio", AUDIO_TYPES)},
    Media: {"asset": ("an image, video or audio", IMAGE_TYPES + VIDEO_TYPES + AUDIO_TYPES)},
}


MODEL_FORMATS = {".glb": "GLB", ".gltf": "glTF", ".obj": "OBJ", ".stl": "STL", ".ply": "PLY"}


def _model_problem(value: str, data: bytes, read: Callable[[str], bytes]) -> str | None:
    """Whether the geometry stage can load the model, tried here so that the build cannot fail on it."""
    from scenes.geometry import GeometryError, load_model  # imported late: trimesh only for halls with models

    try:
        load_model(value, data, read)
    except GeometryError as problem:
        return f"'{value}' is a damaged {MODEL_FORMATS[PurePosixPath(value).suffix.lower()]} model: {problem}"
    return None


def list_assets(assets_dir: Path, root: Path) -> frozenset[str]:
    """Files under `assets_dir` as authors write them (`assets/...`), links leading outside left out."""
    prefix = display_path(assets_dir, root)
    inside = Path(assets_dir).resolve()
    found = set()
    for folder, _, names in os.walk(assets_dir):
        for name in names:
            path = Path(folder, name)
            try:
                usable = path.resolve().is_relative_to(inside) and path.is_file()
            except (OSError, RuntimeError):  # a loop of links: reading it says so
                usable = False
            if usable:
                found.add(f"{prefix}/{PurePosixPath(*path.relative_to(assets_dir).parts).as_posix()}")
    return frozenset(found)


def _question_problems(question) -> Iterator[tuple[tuple, str]]:
    """(path below the question, message) for each problem with its options and answer."""
    letters = [chr(ord("A") + i) for i in range(len(question.options))]
    answer = question.answer
    if question.type == "true-false":
        if question.options:
            yield ("options",), "a true-false question has no options; remove 'options'"
        if not isinstance(answer, bool):
            yield ("answer",), f"the answer of a true-false question is true or false, got {describe(answer)}"
        return
    noun = "single-choice" if question.type == "single" else "multiple-choice"
    if len(question.options) < 2:
        yield ("options",), f"a {noun} question needs at least 2 options"
        return
    if len(question.options) > 26:
        yield ("options",), "a question has at most 26 options (A to Z)"
        return
    if question.type == "single":
        if not isinstance(answer, str):
            got = describe(answer)
            yield ("answer",), f"the answer of a single-choice question is one letter, like 'B', got {got}"
        elif answer not in letters:
            yield ("answer",), _letter_problem(answer, letters)
        return
    if not isinstance(answer, list) or not answer:
        got = describe(answer)
        yield ("answer",), f"the answer of a multiple-choice question is a list of letters, like [A, C], got {got}"
        return
    seen = set()
    for i, letter in enumerate(answer):
        if letter not in letters:
            yield ("answer", i), _letter_problem(letter, letters)
        elif letter in seen:
            yield ("answer", i), f"answer lists '{letter}' twice"
        seen.add(letter)


def _letter_problem(letter: str, letters: list[str]) -> str:
    hint = f" (did you mean '{letter.upper()}'?)" if letter.upper() in letters else ""
    return f"answer '{letter}' is not one of the options {letters[0]} to {letters[-1]}{hint}"


# --- geometry helpers ---------------------------------------------------------------


def _room_box(rect: RoomRect) -> tuple[float, float, float, float]:
    return (rect.cx - rect.width / 2, rect.cy - rect.depth / 2, rect.cx + rect.width / 2, rect.cy + rect.depth / 2)


def _overlap(a: tuple, b: tuple) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > EPSILON and min(a[3], b[3]) - max(a[1], b[1]) > EPSILON


def _free_half(rect: RoomRect) -> tuple[float, float]:
    """Half extents of the floor a free-standing exhibit may use (inside walls and clearance)."""
    return rect.width / 2 - WALL_THICKNESS - CLEARANCE, rect.depth / 2 - WALL_THICKNESS - CLEARANCE


def _door_span(rect: RoomRect, wall: str, along: float, width: float) -> tuple[float, float, float, float]:
    """(opening low, opening high, wall inside low, wall inside high) along the wall's line."""
    _, start, end = rect.wall_line(wall)
    centre = rect.wall_middle(wall) + along
    return centre - width / 2, centre + width / 2, start + WALL_THICKNESS, end - WALL_THICKNESS


def _xy_range(half_x: float, half_y: float) -> str:
    return f"x between {num(-half_x)} and {num(half_x)}, y between {num(-half_y)} and {num(half_y)}"


def _along_range(low: float, high: float, width: float, middle: float) -> str:
    return f"{num(low + width / 2 - middle)} and {num(high - width / 2 - middle)}"


def _standing_problem(rect: RoomRect, footprint, room_id: str) -> str | None:
    half_x, half_y = _free_half(rect)
    if footprint.half_w > half_x + EPSILON or footprint.half_d > half_y + EPSILON:
        need = f"{num(2 * footprint.half_w)} x {num(2 * footprint.half_d)} m"
        have = f"{num(max(0.0, 2 * half_x))} x {num(max(0.0, 2 * half_y))} m"
        return f"is too big for room '{room_id}': it needs {need} of floor, the room has {have} clear of its walls"
    checks = (
        ("east", "x", footprint.x + footprint.half_w > half_x + EPSILON, half_x - footprint.half_w),
        ("west", "x", footprint.x - footprint.half_w < -half_x - EPSILON, half_x - footprint.half_w),
        ("north", "y", footprint.y + footprint.half_d > half_y + EPSILON, half_y - footprint.half_d),
        ("south", "y", footprint.y - footprint.half_d < -half_y - EPSILON, half_y - footprint.half_d),
    )
    for wall, axis, outside, limit in checks:
        if outside:
            return (
                f"is too close to the {wall} wall of room '{room_id}' (keep {num(CLEARANCE)} m clear); "
                f"keep its {axis} between {num(-limit)} and {num(limit)}"
            )
    return None


def _mounted_problem(rect: RoomRect, exhibit, footprint) -> str | None:
    wall = footprint.mounted_on
    half = footprint.half_w if wall in ("north", "south") else footprint.half_d
    inside = (rect.width if wall in ("north", "south") else rect.depth) / 2 - WALL_THICKNESS
    if half > inside + EPSILON:
        return f"is {num(2 * half)} m wide but the {wall} wall is only {num(2 * inside)} m long inside"
    if abs(exhibit.along) + half > inside + EPSILON:
        limit = inside - half
        return f"runs past the end of the {wall} wall; keep 'along' between {num(-limit)} and {num(limit)}"
    return None
