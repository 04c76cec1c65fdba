"""Validate: a loaded hall document becomes a typed `Hall`, or a list of author errors.

Two passes, each reporting everything it finds.  First the schema
(`Hall.model_validate`), with pydantic's errors rewritten in plain language
at the YAML marks of their paths.  Then, on a schema-valid hall, the checks
the schema cannot express: ids, assets, geometry (rooms, exhibits, doorways),
reachability, quizzes and text fit.  The only disk access is listing
`assets/` (skipped when `ValidateOptions.asset_files` is given).
"""

from __future__ import annotations

import functools
import os
import re
import types
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Iterator, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from scenes.diagnostics import AuthorErrors, Diagnostic, did_you_mean, format_path
from scenes.layout import CLEARANCE, OPPOSITE, WALL_THICKNESS, RoomRect, place_exhibit, place_rooms
from scenes.load import Document, LoadOptions, Mark, display_path, load_document
from scenes.model import Checkpoint, Colour, Diorama, Exhibit, Hall, Media, Model, Panel, Slug, Text

IMAGE_TYPES = (".png", ".jpg", ".jpeg")
MODEL_TYPES = (".glb", ".gltf", ".obj", ".stl", ".ply")
AUDIO_TYPES = (".ogg", ".mp3", ".wav")
VIDEO_TYPES = (".mp4", ".webm")
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
    """Asset paths as authors write them (`assets/...`); None: list `assets_dir`."""
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


# --- schema errors, in plain language ---------------------------------------------


def schema_diagnostics(doc: Document, error: ValidationError) -> list[Diagnostic]:
    """One diagnostic per problem pydantic found (a union's alternatives merged into one)."""
    by_path: dict[tuple, list[tuple[tuple, dict]]] = {}
    for item in error.errors(include_url=False):
        path, rest = _data_path(doc.data, item["loc"])
        by_path.setdefault(path, []).append((rest, item))
    diagnostics = []
    for path, items in by_path.items():
        if len(items) > 1 and all(rest for rest, _ in items):
            diagnostics.append(_at(doc, path, _union_message(path, items)))
            continue
        for rest, item in items:
            diagnostics.append(_schema_diagnostic(doc, path, rest, item))
    return list(dict.fromkeys(diagnostics))


def _at(doc: Document, path: tuple, message: str, *, key: bool = False, severity: str = "error") -> Diagnostic:
    file, line, column = doc.key_mark(path) if key else doc.mark(path)
    return Diagnostic(file, line, column, format_path(path), message, severity)


def _data_path(data: Any, loc: tuple) -> tuple[tuple, tuple]:
    """Split pydantic's loc into the path present in the data and the rest (tags, union members)."""
    path: list = []
    rest: list = []
    node = data
    for segment in loc:
        if isinstance(node, dict) and isinstance(segment, str) and segment in node:
            node = node[segment]
            path.append(segment)
        elif isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
            node = node[segment]
            path.append(segment)
        else:
            rest.append(segment)
    return tuple(path), tuple(rest)


def _schema_diagnostic(doc: Document, path: tuple, rest: tuple, item: dict) -> Diagnostic:
    kind, loc, ctx = item["type"], item["loc"], item.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        key = str(path[-1])
        return _at(doc, path, f"unknown key '{key}'{did_you_mean(key, model.model_fields if model else [])}", key=True)
    if kind == "missing" and isinstance(loc[-1], int):  # a fixed-length list like [x, y] with too few numbers
        context = _tuple_context(_field_at(loc[:-1]), value_at(doc.data, path))
        return _at(doc, path, _length_message("too_short", context))
    if kind == "missing":
        return _at(doc, path + (loc[-1],), f"missing required field '{loc[-1]}'")
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        message = f"unknown exhibit kind '{tag}'{did_you_mean(tag, EXHIBIT_KINDS)}; kinds: {', '.join(EXHIBIT_KINDS)}"
        return _at(doc, path + ("kind",), message)
    if kind == "union_tag_not_found":
        return _at(doc, path + ("kind",), f"missing required field 'kind' (one of: {', '.join(EXHIBIT_KINDS)})")
    message = _value_message(kind, item["input"], ctx, _field_at(loc)) or _pydantic_message(item["msg"])
    return _at(doc, path, message)


def _pydantic_message(message: str) -> str:
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]


_TYPE_MESSAGES = {
    "float_type": "expected a number, got {got}",
    "float_parsing": "expected a number, got {got}",
    "finite_number": "expected a number, got {got}",
    "int_type": "expected a whole number, got {got}",
    "int_parsing": "expected a whole number, got {got}",
    "int_from_float": "expected a whole number, got {got}",
    "bool_type": "expected true or false, got {got}",
    "bool_parsing": "expected true or false, got {got}",
}
_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _value_message(kind: str, value: Any, ctx: dict, field) -> str | None:
    """Plain-language message for an error about a value; None to fall back on pydantic's."""
    got = _describe(value)
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind].format(got=got)
    if kind in _RANGE_ERRORS:
        return f"out of range: {_range_text(field, ctx)}, got {got}"
    if kind == "literal_error":
        return _choice_message(value, str(ctx.get("expected", "")))
    if kind == "string_pattern_mismatch":
        return _pattern_message(str(value), ctx.get("pattern", ""))
    if kind == "string_type":
        return _text_message(value, field)
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if ctx.get("class_name") == "Text" or _model_type(field) is Text:
            return f"expected text, got {got}"
        return f"expected a mapping of keys (like 'id: ...'), got {got}"
    if kind in ("list_type", "tuple_type"):
        return _list_message(value, field)
    if kind in ("too_short", "too_long"):
        return _length_message(kind, ctx)
    if kind == "string_too_short":
        minimum = ctx.get("min_length")
        return "text must not be empty" if minimum == 1 else f"text needs at least {minimum} characters"
    if kind == "string_too_long":
        return f"text is too long: at most {ctx.get('max_length')} characters"
    return None


def _choice_message(value: Any, expected: str) -> str:
    allowed = re.findall(r"'([^']*)'", expected)
    if isinstance(value, str):
        return f"unknown value '{value}'{did_you_mean(value, allowed)}; choose one of: {', '.join(allowed)}"
    return f"expected one of: {', '.join(allowed)}, got {_describe(value)}"


def _text_message(value: Any, field) -> str:
    if value is None and _pattern_of(field) == COLOUR_PATTERN:
        return "the colour is empty: put it in quotes, like '#b22222' (an unquoted '#' starts a comment)"
    if isinstance(value, (bool, int, float)):
        return f"expected text, got {_describe(value)}; put it in quotes: '{_yaml_scalar(value)}'"
    return f"expected text, got {_describe(value)}"


def _union_message(path: tuple, items: list[tuple[tuple, dict]]) -> str:
    value = items[0][1]["input"]
    if path and path[-1] == "answer":
        return f"expected a letter like 'B', a list of letters like [A, C], or true/false, got {_describe(value)}"
    names = {"str": "text", "list[str]": "a list of text", "bool": "true/false", "float": "a number", "int": "a number"}
    choices = list(dict.fromkeys(names.get(str(rest[0]), str(rest[0])) for rest, _ in items))
    options = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
    return f"expected {options}, got {_describe(value)}"


def _pattern_message(value: str, pattern: str) -> str:
    if pattern == SLUG_PATTERN:
        slug = re.sub(r"[^a-z0-9-]+", "-", value.strip().lower()).strip("-")[:48]
        hint = f" (did you mean '{slug}'?)" if slug and slug != value and re.fullmatch(SLUG_PATTERN, slug) else ""
        return f"'{value}' is not a valid id: use lowercase letters a-z, digits and '-', like 'red-hall'{hint}"
    if pattern == COLOUR_PATTERN:
        return f"'{value}' is not a colour: write '#rrggbb' in quotes, like '#b22222'"
    return f"'{value}' does not have the expected form ({pattern})"


def _list_message(value: Any, field) -> str:
    annotation = _strip_optional(_annotation(field))
    if get_origin(annotation) is tuple:
        count = len(get_args(annotation))
        return f"expected a list of {count} numbers, like [{', '.join(['1'] * count)}], got {_describe(value)}"
    if isinstance(value, dict):
        return "expected a list (start each entry with '- '), got a mapping"
    return f"expected a list, got {_describe(value)}"


def value_at(data: Any, path: tuple) -> Any:
    """The value at `path` in loaded data."""
    for segment in path:
        data = data[segment]
    return data


def _tuple_context(field, value: Any) -> dict:
    count = len(get_args(_strip_optional(_annotation(field))))
    return {"field_type": "Tuple", "min_length": count, "actual_length": len(value) if isinstance(value, list) else 0}


def _length_message(kind: str, ctx: dict) -> str:
    actual = ctx.get("actual_length")
    if ctx.get("field_type") == "Tuple":
        expected = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"expected a list of {expected} numbers, got {actual}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} entry" + ("" if ctx.get("min_length") == 1 else "s")
    return f"has {actual} entries; at most {ctx.get('max_length')} are allowed"


def _range_text(field, ctx: dict) -> str:
    bounds = {}
    for item in (field.metadata if field else []):
        for name in ("gt", "ge", "lt", "le"):
            if getattr(item, name, None) is not None:
                bounds[name] = getattr(item, name)
    bounds = bounds or {k: v for k, v in ctx.items() if k in ("gt", "ge", "lt", "le")}
    parts = []
    if "gt" in bounds:
        parts.append(f"more than {_num(bounds['gt'])}")
    if "ge" in bounds:
        parts.append(f"at least {_num(bounds['ge'])}")
    if "lt" in bounds:
        parts.append(f"less than {_num(bounds['lt'])}")
    if "le" in bounds:
        parts.append(f"at most {_num(bounds['le'])}")
    return "must be " + " and ".join(parts)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _yaml_scalar(value)
    if isinstance(value, str):
        return f"'{value[:40]}...'" if len(value) > 40 else f"'{value}'"
    return "a list" if isinstance(value, list) else "a mapping"


def _yaml_scalar(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# --- walking the schema along a pydantic loc --------------------------------------


def _strip_optional(annotation):
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if get_origin(annotation) in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _is_model(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _step(annotation, segment):
    """The annotation one loc segment further down, or None when it cannot be followed."""
    annotation = _strip_optional(annotation)
    if _is_model(annotation):
        field = annotation.model_fields.get(segment) if isinstance(segment, str) else None
        return field.annotation if field else None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is tuple and args and isinstance(segment, int):
        return args[min(segment, len(args) - 1)]
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (Union, types.UnionType):
        for member in args:
            kind = getattr(member, "model_fields", {}).get("kind")
            if kind is not None and segment in get_args(kind.annotation):
                return member
    return None


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The schema class of the value at `loc`, if it is one."""
    annotation = Hall
    for segment in loc:
        annotation = _step(annotation, segment)
        if annotation is None:
            return None
    annotation = _strip_optional(annotation)
    return annotation if _is_model(annotation) else None


def _field_at(loc: tuple):
    """The pydantic FieldInfo of the deepest model field named in `loc`, if any."""
    for end in range(len(loc), 0, -1):
        model = _model_at(loc[: end - 1])
        if model is not None and isinstance(loc[end - 1], str) and loc[end - 1] in model.model_fields:
            return model.model_fields[loc[end - 1]]
    return None


def _annotation(field):
    return field.annotation if field is not None else None


def _model_type(field):
    return _strip_optional(_annotation(field))


def _pattern_of(field) -> str | None:
    """The string pattern a field must match, looking through Optional and Annotated."""
    if field is None:
        return None
    for item in field.metadata:
        if getattr(item, "pattern", None):
            return item.pattern
    pending = [field.annotation]
    while pending:
        annotation = pending.pop()
        for arg in get_args(annotation):
            for item in getattr(arg, "metadata", []) or []:
                if getattr(item, "pattern", None):
                    return item.pattern
            pending.append(arg)
    return None


def _annotated_pattern(annotated) -> str:
    return next(m.pattern for m in get_args(annotated)[1].metadata if getattr(m, "pattern", None))


SLUG_PATTERN = _annotated_pattern(Slug)
COLOUR_PATTERN = _annotated_pattern(Colour)
EXHIBIT_KINDS = sorted(get_args(member.model_fields["kind"].annotation)[0] for member in get_args(get_args(Exhibit)[0]))


# --- checks on a schema-valid hall --------------------------------------------------


def _num(value: float) -> str:
    return f"{round(float(value), 2) + 0.0:g}"


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

    def run(self) -> Iterator[Diagnostic]:
        oversized = list(self._size_budgets())
        yield from oversized
        yield from self._hall_id()
        yield from self._duplicate_ids()
        if oversized:
            return  # pairwise checks on a hall this big could take minutes; the author must split it first
        checks = (
            self._content_budgets, self._sizes_positive, self._assets_exist, self._rooms_apart, self._doorways,
            self._doorway_overlaps, self._reachable, self._spawn, self._exhibits_in_rooms, self._exhibits_apart,
            self._mounted_clear_of_doorways, self._diorama_contents, self._generator_params, self._questions,
            self._text_fits,
        )
        for check in checks:
            yield from check()

    def _error(self, path: tuple, message: str) -> Diagnostic:
        return _at(self.doc, path, message)

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
        if "\\" in value:
            return f"use '/' in asset paths, not '\\': '{value}'"
        relative = PurePosixPath(value)
        if relative.is_absolute() or re.match(r"^[A-Za-z]:", value):
            return f"asset path '{value}' must be relative to the project folder, like '{prefix}lamp.glb'"
        if ".." in relative.parts:
            return f"asset path '{value}' must not contain '..'"
        if relative.suffix.lower() not in allowed:
            types_ = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
            return f"'{value}' is not {what} file; use {types_}"
        files = self._asset_files()
        if value in files:
            return None
        if prefix + value in files:
            return f"asset paths start with '{prefix}': write '{prefix}{value}'"
        same_type = [f for f in files if PurePosixPath(f).suffix.lower() in allowed]
        hint = did_you_mean(value, same_type) or did_you_mean(value, files)
        return f"no such asset '{value}'{hint}"

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
            length = _num(inner_high - inner_low)
            message = f"doorway is {_num(door.width)} m wide but the {door.wall} wall is only {length} m long inside"
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
            hall_id = to[len("hall:"):]
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
                message = f"the wall shared by '{here}' and '{there}' is too short for a {_num(door.width)} m doorway"
                return "width", message
            span = _along_range(shared_low, shared_high, door.width, rect.wall_middle(door.wall))
            return "along", f"doorway runs past the wall shared with room '{there}'; keep 'along' between {span}"
        return "", None

    def _doorway_overlaps(self) -> Iterator[Diagnostic]:
        reported: set[tuple] = set()
        for i, first in enumerate(self.openings):
            for second in self.openings[i + 1:]:
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
                yield _at(self.doc, path, message, severity="warning")
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
            for name, items in (("figures", exhibit.figures), ("props", exhibit.props)):
                for i, item in enumerate(items):
                    x, y = item.at
                    if abs(x) > half_x + EPSILON or abs(y) > half_y + EPSILON:
                        area = f"{_num(exhibit.area[0])} x {_num(exhibit.area[1])} m"
                        message = f"stands outside the diorama's {area} area; keep {_xy_range(half_x, half_y)}"
                        yield self._error(path + (name, i, "at"), message)

    def _generator_params(self) -> Iterator[Diagnostic]:
        from scenes.generators import resolve_params

        for _, _, exhibit, path in self._exhibits():
            if isinstance(exhibit, Model) and exhibit.generator is not None:
                generators = [(path + ("generator", "params"), exhibit.generator)]
            elif isinstance(exhibit, Diorama):
                generators = [(path + ("props", i, "generator", "params"), prop.generator)
                              for i, prop in enumerate(exhibit.props)]
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
                message = f"text does not fit on a {_num(width)} x {_num(height)} m panel; shorten it or enlarge 'size'"
                yield self._error(path + ("text",), message)


SIZE_FIELDS = {Panel: "size", Media: "size", Model: "footprint", Diorama: "area"}


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


ASSET_FIELDS = {
    Panel: {"image": ("an image", IMAGE_TYPES)},
    Model: {"asset": ("a model", MODEL_TYPES)},
    Diorama: {"audio": ("an audio", AUDIO_TYPES)},
    Media: {"asset": ("an image, video or audio", IMAGE_TYPES + VIDEO_TYPES + AUDIO_TYPES)},
}


def list_assets(assets_dir: Path, root: Path) -> frozenset[str]:
    """Files under `assets_dir` as authors write them (`assets/...`), links leading outside left out."""
    prefix = display_path(assets_dir, root)
    inside = Path(assets_dir).resolve()
    found = set()
    for folder, _, names in os.walk(assets_dir):
        for name in names:
            path = Path(folder, name)
            if path.resolve().is_relative_to(inside) and path.is_file():
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
            yield ("answer",), f"the answer of a true-false question is true or false, got {_describe(answer)}"
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
            got = _describe(answer)
            yield ("answer",), f"the answer of a single-choice question is one letter, like 'B', got {got}"
        elif answer not in letters:
            yield ("answer",), _letter_problem(answer, letters)
        return
    if not isinstance(answer, list) or not answer:
        got = _describe(answer)
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
    return f"x between {_num(-half_x)} and {_num(half_x)}, y between {_num(-half_y)} and {_num(half_y)}"


def _along_range(low: float, high: float, width: float, middle: float) -> str:
    return f"{_num(low + width / 2 - middle)} and {_num(high - width / 2 - middle)}"


def _standing_problem(rect: RoomRect, footprint, room_id: str) -> str | None:
    half_x, half_y = _free_half(rect)
    if footprint.half_w > half_x + EPSILON or footprint.half_d > half_y + EPSILON:
        need = f"{_num(2 * footprint.half_w)} x {_num(2 * footprint.half_d)} m"
        have = f"{_num(max(0.0, 2 * half_x))} x {_num(max(0.0, 2 * half_y))} m"
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
                f"is too close to the {wall} wall of room '{room_id}' (keep {_num(CLEARANCE)} m clear); "
                f"keep its {axis} between {_num(-limit)} and {_num(limit)}"
            )
    return None


def _mounted_problem(rect: RoomRect, exhibit, footprint) -> str | None:
    wall = footprint.mounted_on
    half = footprint.half_w if wall in ("north", "south") else footprint.half_d
    inside = (rect.width if wall in ("north", "south") else rect.depth) / 2 - WALL_THICKNESS
    if half > inside + EPSILON:
        return f"is {_num(2 * half)} m wide but the {wall} wall is only {_num(2 * inside)} m long inside"
    if abs(exhibit.along) + half > inside + EPSILON:
        limit = inside - half
        return f"runs past the end of the {wall} wall; keep 'along' between {_num(-limit)} and {_num(limit)}"
    return None
