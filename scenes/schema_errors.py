"""Schema errors: pydantic's validation errors as diagnostics a trainer can read.

Each error becomes a plain-language message at the YAML line/column of the
offending key or value (a union's alternatives merged into one); what a field
expects is found by walking the schema along pydantic's loc.  `scenes.validate`
runs this as its first pass and shares `at`, `describe` and `num` with its
later checks.
"""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from scenes.diagnostics import Diagnostic, Severity, did_you_mean, format_path
from scenes.load import Document
from scenes.model import Colour, Exhibit, Hall, Slug, Text

# --- schema errors, in plain language ---------------------------------------------


def schema_diagnostics(doc: Document, error: ValidationError) -> list[Diagnostic]:
    """One diagnostic per problem pydantic found (a union's alternatives merged into one)."""
    by_path: dict[tuple, list[tuple[tuple, ErrorDetails]]] = {}
    for item in error.errors(include_url=False):
        path, rest = _data_path(doc.data, item["loc"])
        by_path.setdefault(path, []).append((rest, item))
    diagnostics = []
    for path, items in by_path.items():
        if len(items) > 1 and all(rest for rest, _ in items):
            diagnostics.append(at(doc, path, _union_message(path, items)))
            continue
        for rest, item in items:
            diagnostics.append(_schema_diagnostic(doc, path, rest, item))
    return list(dict.fromkeys(diagnostics))


def at(doc: Document, path: tuple, message: str, *, key: bool = False, severity: Severity = "error") -> Diagnostic:
    """A diagnostic at the YAML mark of `path` (of its key when `key`)."""
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


def _schema_diagnostic(doc: Document, path: tuple, rest: tuple, item: ErrorDetails) -> Diagnostic:
    kind, loc, ctx = item["type"], item["loc"], item.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        key = str(path[-1])
        return at(doc, path, f"unknown key '{key}'{did_you_mean(key, model.model_fields if model else [])}", key=True)
    if kind == "missing" and isinstance(loc[-1], int):  # a fixed-length list like [x, y] with too few numbers
        context = _tuple_context(_field_at(loc[:-1]), value_at(doc.data, path))
        return at(doc, path, _length_message("too_short", context))
    if kind == "missing":
        return at(doc, path + (loc[-1],), f"missing required field '{loc[-1]}'")
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        message = f"unknown exhibit kind '{tag}'{did_you_mean(tag, EXHIBIT_KINDS)}; kinds: {', '.join(EXHIBIT_KINDS)}"
        return at(doc, path + ("kind",), message)
    if kind == "union_tag_not_found":
        return at(doc, path + ("kind",), f"missing required field 'kind' (one of: {', '.join(EXHIBIT_KINDS)})")
    message = _value_message(kind, item["input"], ctx, _field_at(loc)) or _pydantic_message(item["msg"])
    return at(doc, path, message)


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
    got = describe(value)
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
    return f"expected one of: {', '.join(allowed)}, got {describe(value)}"


def _text_message(value: Any, field) -> str:
    if value is None and _pattern_of(field) == COLOUR_PATTERN:
        return "the colour is empty: put it in quotes, like '#b22222' (an unquoted '#' starts a comment)"
    if isinstance(value, (bool, int, float)):
        return f"expected text, got {describe(value)}; put it in quotes: '{_yaml_scalar(value)}'"
    return f"expected text, got {describe(value)}"


def _union_message(path: tuple, items: list[tuple[tuple, ErrorDetails]]) -> str:
    value = items[0][1]["input"]
    if path and path[-1] == "answer":
        return f"expected a letter like 'B', a list of letters like [A, C], or true/false, got {describe(value)}"
    names = {"str": "text", "list[str]": "a list of text", "bool": "true/false", "float": "a number", "int": "a number"}
    choices = list(dict.fromkeys(names.get(str(rest[0]), str(rest[0])) for rest, _ in items))
    options = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
    return f"expected {options}, got {describe(value)}"


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
        return f"expected a list of {count} numbers, like [{', '.join(['1'] * count)}], got {describe(value)}"
    if isinstance(value, dict):
        return "expected a list (start each entry with '- '), got a mapping"
    return f"expected a list, got {describe(value)}"


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
    for item in field.metadata if field else []:
        for name in ("gt", "ge", "lt", "le"):
            if getattr(item, name, None) is not None:
                bounds[name] = getattr(item, name)
    bounds = bounds or {k: v for k, v in ctx.items() if k in ("gt", "ge", "lt", "le")}
    parts = []
    if "gt" in bounds:
        parts.append(f"more than {num(bounds['gt'])}")
    if "ge" in bounds:
        parts.append(f"at least {num(bounds['ge'])}")
    if "lt" in bounds:
        parts.append(f"less than {num(bounds['lt'])}")
    if "le" in bounds:
        parts.append(f"at most {num(bounds['le'])}")
    return "must be " + " and ".join(parts)


def describe(value: Any) -> str:
    """A value as a trainer wrote it, for "got ..." in messages."""
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


def num(value: float) -> str:
    """A number for messages: at most two decimals, no trailing zeros."""
    return f"{round(float(value), 2) + 0.0:g}"


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
