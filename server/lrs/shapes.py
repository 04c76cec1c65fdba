"""The JSON shapes of xAPI 1.0.3 objects, declared as typed dicts and checked before any rule.

    value = parse_json(raw)                          # strict JSON, or JsonError naming the problem
    check_shape(value, STATEMENT_SHAPE, "statement")  # StatementError naming the path, e.g.
        # `statement.object.definition.interactionType: must be a string, got an object`
    check_params(params, adapter, unknown)            # request parameters against a declared schema

xAPI 1.0.3 Part 2 section 2.2 (Formatting Requirements, 2.2.s4.b1): "The LRS MUST reject Statements
with any null values (except inside extensions) ... where the wrong data type is used ... where a key
or value is not allowed by this specification."  The shapes below say which JSON type every property
has (the "Type" column of the specification's tables); a value of the wrong type anywhere is refused
here, before `server.lrs.validate` applies the format and cross-property rules, so those rules only
ever see values of the type they expect.  Where an objectType selects the shape (actor, object,
members, context activities), an objectType the rules reject is let through as a plain object for
the rules to name.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, NotRequired, Required, get_args, get_origin, get_type_hints

from pydantic import ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError, with_config
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict, is_typeddict

MAX_DEPTH = 64
"""Deepest JSON nesting the LRS reads (a statement is about 8 levels; extensions get the rest)."""

_SHAPE = ConfigDict(extra="forbid", strict=True)


class StatementError(ValueError):
    """An invalid statement or parameter; the message names the offending path."""


class JsonError(ValueError):
    """A body or parameter that is not strict JSON (the message says why)."""


LanguageMap = dict[str, str]
"""Part 2 4.2: RFC 5646 language tags to strings (tags are checked by the rules)."""
Extensions = dict[str, Any]
"""Part 2 4.1: IRI keys to any JSON value, null included."""
Loose = dict[str, Any]
"""An object of an objectType the rules refuse with their own message."""


@with_config(_SHAPE)
class Account(TypedDict):
    """Part 2 2.4.2.4."""

    homePage: str
    name: str


@with_config(_SHAPE)
class Agent(TypedDict, total=False):
    """Part 2 2.4.2.1 (also a Group member)."""

    objectType: str
    name: str
    mbox: str
    mbox_sha1sum: str
    openid: str
    account: Account


def _member_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return "group" if value.get("objectType") == "Group" else "agent"  # a Group in a Group: the rules say so


Member = Annotated[
    Annotated[Agent, Tag("agent")] | Annotated[Loose, Tag("group")],
    Discriminator(_member_kind, custom_error_type="object_expected", custom_error_message="object"),
]


@with_config(_SHAPE)
class Group(TypedDict, total=False):
    """Part 2 2.4.2.2: anonymous (members) or identified (one IFI, members optional)."""

    objectType: Required[str]
    name: str
    mbox: str
    mbox_sha1sum: str
    openid: str
    account: Account
    member: list[Member]


def _actor_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("objectType", "Agent")
    if not isinstance(kind, str) or kind == "Agent":
        return "agent"  # a non-string objectType is then reported by Agent.objectType
    return "group" if kind == "Group" else "other"


Actor = Annotated[
    Annotated[Agent, Tag("agent")] | Annotated[Group, Tag("group")] | Annotated[Loose, Tag("other")],
    Discriminator(_actor_kind, custom_error_type="object_expected", custom_error_message="object"),
]
"""An Agent or a Group, chosen by objectType (Agent when absent)."""


@with_config(_SHAPE)
class Verb(TypedDict, total=False):
    """Part 2 2.4.3."""

    id: Required[str]
    display: LanguageMap


@with_config(_SHAPE)
class InteractionComponent(TypedDict, total=False):
    """Part 2 2.4.4.1 (interaction components)."""

    id: Required[str]
    description: LanguageMap


@with_config(_SHAPE)
class ActivityDefinition(TypedDict, total=False):
    """Part 2 2.4.4.1, the interaction properties included."""

    name: LanguageMap
    description: LanguageMap
    type: str
    moreInfo: str
    extensions: Extensions
    interactionType: str
    correctResponsesPattern: list[str]
    choices: list[InteractionComponent]
    scale: list[InteractionComponent]
    source: list[InteractionComponent]
    target: list[InteractionComponent]
    steps: list[InteractionComponent]


@with_config(_SHAPE)
class Activity(TypedDict, total=False):
    """Part 2 2.4.4.1."""

    objectType: str
    id: Required[str]
    definition: ActivityDefinition


@with_config(_SHAPE)
class StatementRef(TypedDict, total=False):
    """Part 2 2.4.4.3."""

    objectType: str
    id: Required[str]


@with_config(_SHAPE)
class Score(TypedDict, total=False):
    """Part 2 2.4.5.1: numbers (a JSON number: never a string, never a boolean)."""

    scaled: float
    raw: float
    min: float
    max: float


@with_config(_SHAPE)
class Result(TypedDict, total=False):
    """Part 2 2.4.5."""

    score: Score
    success: bool
    completion: bool
    response: str
    duration: str
    extensions: Extensions


def _one_or_many(value: Any) -> str:
    return "many" if isinstance(value, list) else "one"


ContextActivity = Annotated[
    Annotated[Activity, Tag("one")] | Annotated[list[Activity], Tag("many")], Discriminator(_one_or_many)
]
"""Part 2 2.4.6.2: an Activity or an array of Activities."""


@with_config(_SHAPE)
class ContextActivities(TypedDict, total=False):
    """Part 2 2.4.6.2."""

    parent: ContextActivity
    grouping: ContextActivity
    category: ContextActivity
    other: ContextActivity


@with_config(_SHAPE)
class Context(TypedDict, total=False):
    """Part 2 2.4.6."""

    registration: str
    instructor: Actor
    team: Actor
    contextActivities: ContextActivities
    revision: str
    platform: str
    language: str
    statement: StatementRef
    extensions: Extensions


@with_config(_SHAPE)
class Attachment(TypedDict):
    """Part 2 2.4.11."""

    usageType: str
    display: LanguageMap
    description: NotRequired[LanguageMap]
    contentType: str
    length: int
    sha2: str
    fileUrl: NotRequired[str]


def _object_kind(value: Any, *, nested: bool) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("objectType", "Activity")
    if not isinstance(kind, str):
        return "Activity"  # Activity.objectType then reports the type
    if kind == "SubStatement" and nested:
        return "other"  # a SubStatement in a SubStatement: the rules say so
    return kind if kind in ("Activity", "Agent", "Group", "StatementRef", "SubStatement") else "other"


def _statement_object_kind(value: Any) -> str | None:
    return _object_kind(value, nested=False)


def _substatement_object_kind(value: Any) -> str | None:
    return _object_kind(value, nested=True)


SubStatementObject = Annotated[
    Annotated[Activity, Tag("Activity")]
    | Annotated[Agent, Tag("Agent")]
    | Annotated[Group, Tag("Group")]
    | Annotated[StatementRef, Tag("StatementRef")]
    | Annotated[Loose, Tag("other")],
    Discriminator(_substatement_object_kind, custom_error_type="object_expected", custom_error_message="object"),
]
"""A SubStatement's object, chosen by objectType (Activity when absent); not a SubStatement."""


@with_config(_SHAPE)
class SubStatement(TypedDict, total=False):
    """Part 2 2.4.4.3; id, stored, version and authority are let through for the rules to refuse by name."""

    objectType: Required[str]
    actor: Required[Actor]
    verb: Required[Verb]
    object: Required[SubStatementObject]
    result: Result
    context: Context
    timestamp: str
    attachments: list[Attachment]
    id: Any
    stored: Any
    version: Any
    authority: Any


StatementObject = Annotated[
    Annotated[Activity, Tag("Activity")]
    | Annotated[Agent, Tag("Agent")]
    | Annotated[Group, Tag("Group")]
    | Annotated[StatementRef, Tag("StatementRef")]
    | Annotated[SubStatement, Tag("SubStatement")]
    | Annotated[Loose, Tag("other")],
    Discriminator(_statement_object_kind, custom_error_type="object_expected", custom_error_message="object"),
]
"""A Statement's object, chosen by objectType (Activity when absent)."""


@with_config(_SHAPE)
class Statement(TypedDict, total=False):
    """Part 2 2.4: a Statement as a Learning Record Provider sends it."""

    id: str
    actor: Required[Actor]
    verb: Required[Verb]
    object: Required[StatementObject]
    result: Result
    context: Context
    timestamp: str
    stored: str
    authority: Actor
    version: str
    attachments: list[Attachment]


class Shape:
    """A declared type and the pydantic adapter that checks JSON values against it."""

    def __init__(self, declared: Any) -> None:
        self.declared = declared
        self.adapter: TypeAdapter[Any] = TypeAdapter(declared)


STATEMENT_SHAPE = Shape(Statement)
ACTOR_SHAPE = Shape(Actor)
ACTIVITY_SHAPE = Shape(Activity)


# --- checking ------------------------------------------------------------------


def check_shape(value: Any, shape: Shape, path: str) -> None:
    """Raise StatementError for the first place where `value` does not have `shape`'s JSON types."""
    try:
        shape.adapter.validate_python(value)
    except ValidationError as error:
        raise StatementError(_first_problem(error, shape, path)) from None


def _first_problem(error: ValidationError, shape: Shape, root: str) -> str:
    """The problem the rules would meet first: outer objects before inner ones, unknown keys before missing ones."""
    found = []
    for index, detail in enumerate(error.errors()):
        parts, container_type = _resolve(shape, detail["loc"])
        kind = detail["type"]
        if kind in ("missing", "extra_forbidden"):
            rank = 1 if kind == "missing" else 0
        else:
            rank = 0 if detail.get("input") is None else 2
        found.append(((len(parts) - 1, rank, index), _describe(detail, root, parts, container_type)))
    return min(found)[1]


def _describe(detail: ErrorDetails, root: str, parts: list[str | int], container_type: Any) -> str:
    kind, value = detail["type"], detail.get("input")
    where = _path(root, parts)
    if kind in ("missing", "extra_forbidden"):
        container, key = _path(root, parts[:-1]), str(parts[-1])
        if kind == "missing":
            return f"{container}: missing required property '{key}'"
        return f"{container}: unknown property {show(key)}{suggest(key, _keys(container_type))}"
    if value is None:
        return f"{where}: null is not allowed"
    expected = {
        "string_type": "a string",
        "dict_type": "a JSON object",
        "object_expected": "a JSON object",
        "list_type": "an array",
        "int_type": "an integer",
    }
    if kind in expected:
        return f"{where}: must be {expected[kind]}, got {kind_of(value)}"
    if kind == "bool_type":
        return f"{where}: must be a boolean (true or false), got {show(value)}"
    if kind in ("float_type", "finite_number"):
        return f"{where}: must be a number, got {show(value)}"
    return f"{where}: {detail['msg'].lower()}"


def _resolve(shape: Shape, loc: tuple[int | str, ...]) -> tuple[list[str | int], Any]:
    """The JSON path of an error location (union tags dropped) and the type of the object holding its last part."""
    current: Any = shape.declared
    parts: list[str | int] = []
    holder: Any = None
    for step in loc:
        current = _plain(current)
        tagged = _tagged_members(current)
        if tagged is not None:
            current = _plain(tagged.get(str(step), Any))
            continue
        holder = current
        parts.append(step)
        if is_typeddict(current):
            current = get_type_hints(current, include_extras=True).get(str(step), Any)
        elif get_origin(current) is list:
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            current = Any
    return parts, holder


def _plain(tp: Any) -> Any:
    """The type inside Required/NotRequired markers, and inside Annotated unless it carries a Discriminator."""
    while True:
        origin = get_origin(tp)
        if origin in (Required, NotRequired):
            tp = get_args(tp)[0]
        elif origin is Annotated and not any(isinstance(meta, Discriminator) for meta in tp.__metadata__):
            tp = get_args(tp)[0]
        else:
            return tp


def _tagged_members(tp: Any) -> dict[str, Any] | None:
    """{tag: member type} of a discriminated union, None for any other type."""
    if get_origin(tp) is not Annotated:
        return None
    members = {}
    for member in get_args(get_args(tp)[0]):
        inner, *meta = get_args(member)
        for item in meta:
            if isinstance(item, Tag):
                members[item.tag] = inner
    return members


def _keys(tp: Any) -> set[str]:
    return set(get_type_hints(tp)) if is_typeddict(tp) else set()


# --- request parameters -----------------------------------------------------------


class ParamError(ValueError):
    """Raised by a parameter's check; the message is the whole client-facing text."""


def check_params(params: Mapping[str, str], shape: Shape, unknown: Callable[[str], str]) -> dict:
    """`params` checked (and converted) by a schema of typed parameters; StatementError for the first problem.

    Each parameter's check raises ParamError with its full message; `unknown(name)` words an unknown one.
    """
    try:
        return shape.adapter.validate_python(dict(params))
    except ValidationError as error:
        problems = error.errors()
        first = next((item for item in problems if item["type"] == "extra_forbidden"), problems[0])
        if first["type"] == "extra_forbidden":
            raise StatementError(unknown(str(first["loc"][0]))) from None
        cause = (first.get("ctx") or {}).get("error")
        text = str(cause) if isinstance(cause, ParamError) else f"{first['loc'][0]}: {first['msg'].lower()}"
        raise StatementError(text) from None


# --- strict JSON ------------------------------------------------------------------

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json(raw: bytes | str) -> Any:
    """JSON as xAPI needs it (Part 3 1.4: UTF-8): no repeated keys, no NaN or infinities, at most MAX_DEPTH deep.

    JsonError says what is wrong; nothing else escapes, whatever the bytes.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise JsonError(f"not UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise JsonError(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:  # json.JSONDecodeError, a repeated key, a constant, an int of 4,300+ digits
        raise JsonError(str(error)) from None
    _check_tree(value, check_text=bool(_SURROGATE_ESCAPE.search(text)))
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"property {key!r} appears twice in one object")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is too large")
    return number


def _check_tree(value: Any, *, check_text: bool) -> None:
    """Depth limit, and (when the text escapes a surrogate) strings that cannot be UTF-8."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            if check_text and isinstance(item, str):
                _utf8(item)
            continue
        if depth > MAX_DEPTH:
            raise JsonError(f"nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in children)


def _utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonError("a string holds an unpaired UTF-16 surrogate (\\ud800-\\udfff): not UTF-8") from None


# --- message helpers (shared with the rules in `server.lrs.validate`) ---------------------


def kind_of(value: Any) -> str:
    """A JSON value's type for a message, with the value when it is short: `string 'x'`, `an array`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {show(value)}"
    return "an array" if isinstance(value, list) else "an object"


def show(value: Any) -> str:
    """A JSON value for a message (long strings cut)."""
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:77] + "..."
        return repr(text)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return repr(value) if isinstance(value, (int, float)) else kind_of(value)


def suggest(key: str, allowed: set[str]) -> str:
    """` (did you mean 'name'?)` for a misspelt or miscased key, else nothing."""
    lowered = {name.lower(): name for name in allowed}
    if key.lower() in lowered:
        return f" (did you mean {lowered[key.lower()]!r}?)"
    close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _path(root: str, parts: list[str | int]) -> str:
    return root + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)
