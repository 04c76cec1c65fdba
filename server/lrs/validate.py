"""xAPI 1.0.3 statement validation for the embedded LRS: declared JSON shapes first, then the rules.

    value = parse_json(raw)                          # strict JSON, or JsonError naming the problem
    validate_statement(value, path="statement")      # raises StatementError naming the path
    validate_agent(value, path, ...)                 # the same for an `agent` parameter
    check_params(params, shape, unknown)             # request parameters against a declared schema

xAPI 1.0.3 Part 2 section 2.2 (Formatting Requirements, 2.2.s4.b1): "The LRS MUST reject Statements
with any null values (except inside extensions) ... where the wrong data type is used ... where a key
or value is not allowed by this specification."  The shapes (typed dicts, checked by pydantic in strict
mode) say which JSON type every property has, the "Type" column of the specification's tables; a value
of the wrong type anywhere is refused with its path, e.g. `statement.object.definition.interactionType:
must be a string, got an object`, never with an exception.  Where an objectType selects the shape
(actor, object, members, context activities), an objectType the rules reject is let through as a plain
object for the rules to name.

The rules then see only values of the type they expect.  Every rule follows a MUST (or a SHOULD* the
LRS is asked to enforce) of xAPI 1.0.3 Part 2 section 2 and Part 3; the first problem found is
reported with the JSON path of the value, e.g. `statement.actor: an Agent must have exactly one
inverse functional identifier (mbox, mbox_sha1sum, openid, account); found 2: mbox, openid`.
Formats (IRIs, UUIDs, timestamps, durations, RFC 5646 language tags, mailto IRIs) are checked here
too, so request parameters use the same rules (`uuid_param`, `iri_param`, ... are the checks of the
parameters' schemas).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, NotRequired, Required, get_args, get_origin, get_type_hints

from pydantic import ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError, with_config
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict, is_typeddict

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
INTERACTION_TYPES = {
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
    "other",
}
COMPONENT_LISTS = {
    "choice": {"choices"},
    "sequencing": {"choices"},
    "likert": {"scale"},
    "matching": {"source", "target"},
    "performance": {"steps"},
}
ALL_COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
CONTEXT_ACTIVITY_KEYS = ("parent", "grouping", "category", "other")

STATEMENT_KEYS = {
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
}
SUBSTATEMENT_KEYS = {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
AGENT_KEYS = {"objectType", "name", *IFI_KEYS}
GROUP_KEYS = AGENT_KEYS | {"member"}
ACTIVITY_KEYS = {"objectType", "id", "definition"}
DEFINITION_KEYS = {
    "name",
    "description",
    "type",
    "moreInfo",
    "extensions",
    "interactionType",
    "correctResponsesPattern",
    *ALL_COMPONENT_LISTS,
}
RESULT_KEYS = {"score", "success", "completion", "response", "duration", "extensions"}
SCORE_KEYS = {"scaled", "raw", "min", "max"}
CONTEXT_KEYS = {
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
}
ATTACHMENT_KEYS = {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_IRI_FORBIDDEN = re.compile(r"[\s<>\"{}|\\^`\x00-\x1f\x7f]")
_MAILTO = re.compile(r"mailto:[^@\s:/?#]+@[^@\s/?#]+\.?[^@\s/?#]*\Z", re.IGNORECASE)
_SHA1 = re.compile(r"[0-9a-fA-F]{40}\Z")
_SHA2 = re.compile(r"(?:[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})\Z")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+(\s*;.*)?\Z", re.DOTALL)
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+\-]\d{2}(?::?\d{2})?)?\Z"
)
_NUM = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"P(?:{_NUM}W|(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?)\Z"
)
_SECONDS_ONLY_DURATION = re.compile(rf"P{_NUM}S\Z")  # the specification's own example `P16559.14S`
_VERSION = re.compile(r"1\.0(?:\.\d+)?\Z")
"""Part 2 2.4.10.s2.b1: formatted as the version header (Part 3 3.3.s3.b3: `1.0` is taken as `1.0.0`)."""

# RFC 5646 section 2.1: the well-formed language tag grammar.
_ALNUM = "[A-Za-z0-9]"
_LANGTAG = re.compile(
    r"(?:"
    r"(?P<language>[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4}|[A-Za-z]{5,8})"
    r"(?:-(?P<script>[A-Za-z]{4}))?"
    r"(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    rf"(?P<variants>(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*)"
    rf"(?P<extensions>(?:-[0-9A-WYZa-wyz](?:-{_ALNUM}{{2,8}})+)*)"
    rf"(?:-[xX](?:-{_ALNUM}{{1,8}})+)?"
    rf"|[xX](?:-{_ALNUM}{{1,8}})+"
    r")\Z"
)
_GRANDFATHERED = {
    tag.lower()
    for tag in (
        "en-GB-oed",
        "i-ami",
        "i-bnn",
        "i-default",
        "i-enochian",
        "i-hak",
        "i-klingon",
        "i-lux",
        "i-mingo",
        "i-navajo",
        "i-pwn",
        "i-tao",
        "i-tay",
        "i-tsu",
        "sgn-BE-FR",
        "sgn-BE-NL",
        "sgn-CH-DE",
        "art-lojban",
        "cel-gaulish",
        "no-bok",
        "no-nyn",
        "zh-guoyu",
        "zh-hakka",
        "zh-min",
        "zh-min-nan",
        "zh-xiang",
    )
}


# --- the declared shapes (Part 2 2.2.s4.b1) ------------------------------------------

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


# --- checking the shapes ------------------------------------------------------------------


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
        return f"{container}: unknown property {_show(key)}{_suggest(key, _keys(container_type))}"
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
        return f"{where}: must be {expected[kind]}, got {_kind(value)}"
    if kind == "bool_type":
        return f"{where}: must be a boolean (true or false), got {_show(value)}"
    if kind in ("float_type", "finite_number"):
        return f"{where}: must be a number, got {_show(value)}"
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


# --- formats ------------------------------------------------------------------


def is_uuid(value: Any) -> bool:
    """A UUID in the standard 8-4-4-4-12 hex string form."""
    return isinstance(value, str) and bool(_UUID.match(value))


def is_iri(value: Any) -> bool:
    """Best-effort absolute IRI check: a scheme, something after it, no spaces or forbidden characters."""
    if not isinstance(value, str) or _IRI_FORBIDDEN.search(value):
        return False
    match = _SCHEME.match(value)
    return match is not None and len(value) > match.end()


def is_language_tag(tag: Any) -> bool:
    """A well-formed RFC 5646 language tag (no repeated variants or extension singletons)."""
    if not isinstance(tag, str):
        return False
    if tag.lower() in _GRANDFATHERED:
        return True
    match = _LANGTAG.match(tag)
    if not match:
        return False
    if match.group("language") is None:  # private use only
        return True
    variants = [v.lower() for v in (match.group("variants") or "").split("-") if v]
    if len(variants) != len(set(variants)):
        return False
    singletons = [part.lower() for part in (match.group("extensions") or "").split("-") if len(part) == 1]
    return len(singletons) == len(set(singletons))


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 combined date and time as an aware datetime (UTC when no zone is given); None if invalid."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction, zone = match.group(7), match.group(8)
    if zone and zone[0] == "-" and not zone[1:].replace(":", "").strip("0"):
        return None  # "-00:00" is RFC 3339's unknown offset, not ISO 8601
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        if zone in (None, "Z", "z"):
            tz = UTC
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
            if hours > 23 or minutes > 59:
                return None
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        if second == 60:  # a leap second: keep the instant valid
            second = 59
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None


def valid_timestamp(value: Any) -> datetime:
    """`parse_timestamp` of a timestamp validation has accepted; a ValueError if it is not valid after all."""
    moment = parse_timestamp(value)
    if moment is None:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    return moment


def is_duration(value: Any) -> bool:
    """An ISO 8601 duration (`PT1H0M0S`, `P3Y`, `P4W`); the alternative format is refused."""
    if not isinstance(value, str) or value in ("P", "PT") or value.endswith("T"):
        return False
    return bool(_DURATION.match(value) or _SECONDS_ONLY_DURATION.match(value))


def is_mailto(value: Any) -> bool:
    return isinstance(value, str) and bool(_MAILTO.match(value)) and value.startswith("mailto:")


# --- request parameters: checks for a parameters' schema (`check_params`) -------------------------------


def uuid_param(name: str) -> Callable[[Any], str]:
    """A UUID parameter, answered lower-cased."""

    def check(value: Any) -> str:
        if not is_uuid(value):
            raise ParamError(f"{name}: must be a UUID, got {value!r}")
        return value.lower()

    return check


def iri_param(name: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not is_iri(value):
            raise ParamError(f"{name}: must be an IRI, got {value!r}")
        return value

    return check


def flag_param(name: str) -> Callable[[Any], bool]:
    """A boolean parameter: exactly `true` or `false`."""

    def check(value: Any) -> bool:
        if value not in ("true", "false"):
            raise ParamError(f"{name}: must be true or false, got {value!r}")
        return value == "true"

    return check


def timestamp_param(name: str) -> Callable[[Any], int]:
    """An ISO 8601 timestamp parameter, answered as microseconds since the epoch."""

    def check(value: Any) -> int:
        moment = parse_timestamp(value)
        if moment is None:
            raise ParamError(f"{name}: must be an ISO 8601 timestamp, got {value!r}")
        return int(moment.timestamp() * 1_000_000)

    return check


def agent_json_param(name: str, *, allow_group: bool = True) -> Callable[[Any], dict]:
    """An Agent (or Identified Group) given as JSON, answered as the object."""

    def check(value: Any) -> dict:
        try:
            agent = parse_json(value)
        except JsonError:
            raise ParamError(f"{name}: must be JSON, got {value!r}") from None
        try:
            validate_agent(agent, name, allow_group=allow_group)
        except StatementError as error:
            raise ParamError(str(error)) from None
        return agent

    return check


# --- the validator -------------------------------------------------------------


def validate_statement(value: Any, path: str = "statement") -> None:
    """Raise StatementError naming the first problem in `value` as an xAPI 1.0.3 Statement.

    The JSON types are checked first against the declared shape (`Statement`), then the rules.
    """
    check_shape(value, STATEMENT_SHAPE, path)
    _statement(value, path, substatement=False)


def validate_agent(value: Any, path: str = "agent", *, allow_group: bool = True, need_ifi: bool = True) -> None:
    """Check an Agent (or Identified Group) given as a request parameter."""
    check_shape(value, ACTOR_SHAPE, path)
    _obj(value, path)
    kind = value.get("objectType", "Agent")
    if kind == "Group":
        if not allow_group:
            raise StatementError(f"{path}: must be an Agent, not a Group")
        _group(value, path)
        if need_ifi and not any(key in value for key in IFI_KEYS):
            raise StatementError(
                f"{path}: an anonymous Group cannot be used here; an inverse functional identifier is required"
            )
    else:
        _agent(value, path)


def validate_activity(value: Any, path: str) -> None:
    check_shape(value, ACTIVITY_SHAPE, path)
    _activity(value, path)


def _statement(value: Any, path: str, substatement: bool) -> None:
    allowed = SUBSTATEMENT_KEYS if substatement else STATEMENT_KEYS
    if substatement and isinstance(value, dict):
        for key in ("id", "stored", "version", "authority"):
            if key in value:
                raise StatementError(f"{path}.{key}: a SubStatement must not have '{key}'")
    _obj(value, path, allowed)
    if substatement and value.get("objectType") != "SubStatement":
        raise StatementError(f"{path}.objectType: must be 'SubStatement'")
    for key in ("actor", "verb", "object"):
        if key not in value:
            raise StatementError(f"{path}: missing required property '{key}'")
    if "id" in value and not is_uuid(value["id"]):
        raise StatementError(f"{path}.id: must be a UUID in standard string form, got {_show(value['id'])}")
    _actor(value["actor"], f"{path}.actor")
    _verb(value["verb"], f"{path}.verb")
    object_type = _object(value["object"], f"{path}.object", substatement)
    if isinstance(value["verb"], dict) and value["verb"].get("id") == VOIDED_VERB and object_type != "StatementRef":
        raise StatementError(f"{path}.object: a voiding statement's object must be a StatementRef")
    if "result" in value:
        _result(value["result"], f"{path}.result")
    if "context" in value:
        _context(value["context"], f"{path}.context", object_type)
    for key in ("timestamp", "stored"):
        if key in value and parse_timestamp(value[key]) is None:
            raise StatementError(f"{path}.{key}: must be an ISO 8601 timestamp, got {_show(value[key])}")
    if "authority" in value:
        _authority(value["authority"], f"{path}.authority")
    if "version" in value:
        version = value["version"]
        if not isinstance(version, str) or not _VERSION.match(version):
            raise StatementError(f"{path}.version: must be a 1.0.x version, got {_show(version)}")
    if "attachments" in value:
        attachments = _array(value["attachments"], f"{path}.attachments")
        for index, attachment in enumerate(attachments):
            _attachment(attachment, f"{path}.attachments[{index}]")


def _actor(value: Any, path: str) -> None:
    _obj(value, path)
    kind = value.get("objectType", "Agent")
    if kind == "Agent":
        _agent(value, path)
    elif kind == "Group":
        _group(value, path)
    else:
        raise StatementError(f"{path}.objectType: must be 'Agent' or 'Group', got {_show(kind)}")


def _agent(value: Any, path: str) -> None:
    _obj(value, path, AGENT_KEYS)
    if value.get("objectType", "Agent") != "Agent":
        raise StatementError(f"{path}.objectType: must be 'Agent', got {_show(value.get('objectType'))}")
    if "name" in value:
        _string(value["name"], f"{path}.name")
    found = [key for key in IFI_KEYS if key in value]
    if len(found) != 1:
        detail = f"found {len(found)}" + (f": {', '.join(found)}" if found else "")
        raise StatementError(
            f"{path}: an Agent must have exactly one inverse functional identifier "
            f"(mbox, mbox_sha1sum, openid, account); {detail}"
        )
    _ifi(value, found[0], path)


def _group(value: Any, path: str) -> None:
    _obj(value, path, GROUP_KEYS)
    if value.get("objectType") != "Group":
        raise StatementError(f"{path}.objectType: a Group must have objectType 'Group'")
    if "name" in value:
        _string(value["name"], f"{path}.name")
    found = [key for key in IFI_KEYS if key in value]
    if len(found) > 1:
        raise StatementError(
            f"{path}: an Identified Group must have exactly one inverse functional identifier; "
            f"found {len(found)}: {', '.join(found)}"
        )
    if found:
        _ifi(value, found[0], path)
    elif "member" not in value:
        raise StatementError(f"{path}: an anonymous Group (no inverse functional identifier) must list 'member'")
    if "member" in value:
        members = _array(value["member"], f"{path}.member")
        for index, member in enumerate(members):
            member_path = f"{path}.member[{index}]"
            _obj(member, member_path)
            if member.get("objectType") == "Group":
                raise StatementError(f"{member_path}: a Group must not contain Groups")
            _agent(member, member_path)


def _ifi(value: dict, key: str, path: str) -> None:
    ifi = value[key]
    where = f"{path}.{key}"
    if key == "mbox":
        if not is_mailto(ifi):
            raise StatementError(f"{where}: must be a mailto IRI ('mailto:name@example.com'), got {_show(ifi)}")
    elif key == "mbox_sha1sum":
        if not isinstance(ifi, str) or not _SHA1.match(ifi):
            raise StatementError(f"{where}: must be the hex SHA-1 of a mailto IRI (40 hex digits), got {_show(ifi)}")
    elif key == "openid":
        if not is_iri(ifi):
            raise StatementError(f"{where}: must be a URI, got {_show(ifi)}")
    else:
        _obj(ifi, where, {"homePage", "name"})
        for field in ("homePage", "name"):
            if field not in ifi:
                raise StatementError(f"{where}: missing required property '{field}'")
        if not is_iri(ifi["homePage"]):
            raise StatementError(f"{where}.homePage: must be an IRL, got {_show(ifi['homePage'])}")
        _string(ifi["name"], f"{where}.name")


def _verb(value: Any, path: str) -> None:
    _obj(value, path, {"id", "display"})
    if "id" not in value:
        raise StatementError(f"{path}: missing required property 'id'")
    _iri(value["id"], f"{path}.id")
    if "display" in value:
        _language_map(value["display"], f"{path}.display")


def _object(value: Any, path: str, in_substatement: bool) -> str:
    _obj(value, path)
    kind = value.get("objectType", "Activity")
    if kind == "Activity":
        _activity(value, path)
    elif kind == "Agent":
        _agent(value, path)
    elif kind == "Group":
        _group(value, path)
    elif kind == "StatementRef":
        _statement_ref(value, path)
    elif kind == "SubStatement":
        if in_substatement:
            raise StatementError(f"{path}: a SubStatement must not contain a SubStatement")
        _statement(value, path, substatement=True)
    else:
        raise StatementError(
            f"{path}.objectType: must be one of Activity, Agent, Group, SubStatement, StatementRef; got {_show(kind)}"
        )
    return kind


def _statement_ref(value: Any, path: str) -> None:
    _obj(value, path, {"objectType", "id"})
    if value.get("objectType") != "StatementRef":
        raise StatementError(f"{path}.objectType: must be 'StatementRef'")
    if "id" not in value:
        raise StatementError(f"{path}: missing required property 'id'")
    if not is_uuid(value["id"]):
        raise StatementError(f"{path}.id: must be a UUID in standard string form, got {_show(value['id'])}")


def _activity(value: Any, path: str) -> None:
    _obj(value, path, ACTIVITY_KEYS)
    if value.get("objectType", "Activity") != "Activity":
        raise StatementError(f"{path}.objectType: must be 'Activity'")
    if "id" not in value:
        raise StatementError(f"{path}: missing required property 'id'")
    _iri(value["id"], f"{path}.id")
    if "definition" in value:
        _definition(value["definition"], f"{path}.definition")


def _definition(value: Any, path: str) -> None:
    _obj(value, path, DEFINITION_KEYS)
    for key in ("name", "description"):
        if key in value:
            _language_map(value[key], f"{path}.{key}")
    if "type" in value:
        _iri(value["type"], f"{path}.type")
    if "moreInfo" in value:
        _iri(value["moreInfo"], f"{path}.moreInfo", "IRL")
    if "extensions" in value:
        _extensions(value["extensions"], f"{path}.extensions")
    interaction = value.get("interactionType")
    if "interactionType" in value and interaction not in INTERACTION_TYPES:
        raise StatementError(
            f"{path}.interactionType: must be one of {', '.join(sorted(INTERACTION_TYPES))}; got {_show(interaction)}"
        )
    if "correctResponsesPattern" in value:
        if interaction is None:
            raise StatementError(f"{path}: 'correctResponsesPattern' needs an 'interactionType'")
        patterns = _array(value["correctResponsesPattern"], f"{path}.correctResponsesPattern")
        for index, pattern in enumerate(patterns):
            _string(pattern, f"{path}.correctResponsesPattern[{index}]")
    for key in ALL_COMPONENT_LISTS:
        if key not in value:
            continue
        if key not in COMPONENT_LISTS.get(interaction, set()):
            kind = f"interactionType {_show(interaction)}" if interaction else "an Activity without interactionType"
            raise StatementError(f"{path}.{key}: not allowed for {kind}")
        components = _array(value[key], f"{path}.{key}")
        seen: set[str] = set()
        for index, component in enumerate(components):
            where = f"{path}.{key}[{index}]"
            _obj(component, where, {"id", "description"})
            if "id" not in component:
                raise StatementError(f"{where}: missing required property 'id'")
            _string(component["id"], f"{where}.id")
            if component["id"] in seen:
                raise StatementError(f"{where}.id: duplicate interaction component id {_show(component['id'])}")
            seen.add(component["id"])
            if "description" in component:
                _language_map(component["description"], f"{where}.description")


def _result(value: Any, path: str) -> None:
    _obj(value, path, RESULT_KEYS)
    if "score" in value:
        _score(value["score"], f"{path}.score")
    for key in ("success", "completion"):
        if key in value and not isinstance(value[key], bool):
            raise StatementError(f"{path}.{key}: must be a boolean (true or false), got {_show(value[key])}")
    if "response" in value:
        _string(value["response"], f"{path}.response")
    if "duration" in value and not is_duration(value["duration"]):
        raise StatementError(f"{path}.duration: must be an ISO 8601 duration, got {_show(value['duration'])}")
    if "extensions" in value:
        _extensions(value["extensions"], f"{path}.extensions")


def _score(value: Any, path: str) -> None:
    _obj(value, path, SCORE_KEYS)
    for key in SCORE_KEYS:
        if key in value and (isinstance(value[key], bool) or not isinstance(value[key], (int, float))):
            raise StatementError(f"{path}.{key}: must be a number, got {_show(value[key])}")
    scaled, raw, low, high = (value.get(key) for key in ("scaled", "raw", "min", "max"))
    if scaled is not None and not -1 <= scaled <= 1:
        raise StatementError(f"{path}.scaled: must be between -1 and 1 inclusive, got {_show(scaled)}")
    if low is not None and high is not None and not low < high:
        raise StatementError(f"{path}: min ({_show(low)}) must be less than max ({_show(high)})")
    if raw is not None:
        if low is not None and raw < low:
            raise StatementError(f"{path}.raw: {_show(raw)} is below min {_show(low)}")
        if high is not None and raw > high:
            raise StatementError(f"{path}.raw: {_show(raw)} is above max {_show(high)}")


def _context(value: Any, path: str, object_type: str) -> None:
    _obj(value, path, CONTEXT_KEYS)
    if "registration" in value and not is_uuid(value["registration"]):
        raise StatementError(f"{path}.registration: must be a UUID, got {_show(value['registration'])}")
    if "instructor" in value:
        _actor(value["instructor"], f"{path}.instructor")
    if "team" in value:
        _obj(value["team"], f"{path}.team")
        if value["team"].get("objectType") != "Group":
            raise StatementError(f"{path}.team: must be a Group (objectType 'Group')")
        _group(value["team"], f"{path}.team")
    if "contextActivities" in value:
        activities = value["contextActivities"]
        _obj(activities, f"{path}.contextActivities", set(CONTEXT_ACTIVITY_KEYS))
        for key, item in activities.items():
            where = f"{path}.contextActivities.{key}"
            if isinstance(item, list):
                for index, activity in enumerate(item):
                    _activity(activity, f"{where}[{index}]")
            else:
                _activity(item, where)
    for key in ("revision", "platform"):
        if key in value:
            if object_type != "Activity":
                raise StatementError(
                    f"{path}.{key}: only allowed when the statement's object is an Activity "
                    f"(it is {_article(object_type)})"
                )
            _string(value[key], f"{path}.{key}")
    if "language" in value and not is_language_tag(value["language"]):
        raise StatementError(f"{path}.language: must be an RFC 5646 language tag, got {_show(value['language'])}")
    if "statement" in value:
        _statement_ref(value["statement"], f"{path}.statement")
    if "extensions" in value:
        _extensions(value["extensions"], f"{path}.extensions")


def _authority(value: Any, path: str) -> None:
    """Part 2 2.4.9.s3.b1: an Agent, or in 3-legged OAuth an anonymous Group of exactly two Agents (the
    application and the user), where (2.4.9.s7.b2) the Agent of the OAuth consumer is identified by account."""
    _obj(value, path)
    if value.get("objectType") != "Group":
        _agent(value, path)
        return
    found = [key for key in IFI_KEYS if key in value]
    if found:
        raise StatementError(
            f"{path}: a Group authority must be an anonymous Group (the OAuth consumer and user), "
            f"not one identified by {found[0]}"
        )
    _group(value, path)
    members = value["member"]
    if len(members) != 2:
        raise StatementError(
            f"{path}: a Group authority must have exactly two Agents (OAuth consumer and user); found {len(members)}"
        )
    if not any("account" in member for member in members):
        raise StatementError(f"{path}.member: one of the two Agents must be the OAuth consumer, identified by account")


def _attachment(value: Any, path: str) -> None:
    _obj(value, path, ATTACHMENT_KEYS)
    for key in ("usageType", "display", "contentType", "length", "sha2"):
        if key not in value:
            raise StatementError(f"{path}: missing required property '{key}'")
    _iri(value["usageType"], f"{path}.usageType")
    _language_map(value["display"], f"{path}.display")
    if "description" in value:
        _language_map(value["description"], f"{path}.description")
    content_type = value["contentType"]
    if not isinstance(content_type, str) or not _MEDIA_TYPE.match(content_type):
        raise StatementError(f"{path}.contentType: must be an Internet Media Type, got {_show(content_type)}")
    length = value["length"]
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise StatementError(f"{path}.length: must be a non-negative integer, got {_show(length)}")
    if not isinstance(value["sha2"], str) or not _SHA2.match(value["sha2"]):
        raise StatementError(f"{path}.sha2: must be a hex SHA-2 digest, got {_show(value['sha2'])}")
    if "fileUrl" in value:
        _iri(value["fileUrl"], f"{path}.fileUrl", "IRL")


# --- small shapes --------------------------------------------------------------


def _obj(value: Any, path: str, allowed: set[str] | None = None) -> None:
    if not isinstance(value, dict):
        raise StatementError(f"{path}: must be a JSON object, got {_kind(value)}")
    for key, item in value.items():
        if allowed is not None and key not in allowed:
            raise StatementError(f"{path}: unknown property {_show(key)}{_suggest(key, allowed)}")
        if item is None:
            raise StatementError(f"{path}.{key}: null is not allowed")


def _array(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise StatementError(f"{path}: must be an array, got {_kind(value)}")
    for index, item in enumerate(value):
        if item is None:
            raise StatementError(f"{path}[{index}]: null is not allowed")
    return value


def _string(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise StatementError(f"{path}: must be a string, got {_kind(value)}")


def _iri(value: Any, path: str, kind: str = "IRI") -> None:
    if not is_iri(value):
        raise StatementError(f"{path}: must be an absolute {kind} with a scheme, got {_show(value)}")


def _language_map(value: Any, path: str) -> None:
    _obj(value, path)
    for tag, text in value.items():
        if not is_language_tag(tag):
            raise StatementError(f"{path}: {_show(tag)} is not an RFC 5646 language tag")
        _string(text, f"{path}.{tag}")


def _extensions(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise StatementError(f"{path}: must be a JSON object, got {_kind(value)}")
    for key in value:
        if not is_iri(key):
            raise StatementError(f"{path}: extension key {_show(key)} must be an absolute IRI")


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "AEIOU" else f"a {word}"


# --- message helpers -----------------------------------------------------------------


def _kind(value: Any) -> str:
    """A JSON value's type for a message, with the value when it is short: `string 'x'`, `an array`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {_show(value)}"
    return "an array" if isinstance(value, list) else "an object"


def _show(value: Any) -> str:
    """A JSON value for a message (long strings cut)."""
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:77] + "..."
        return repr(text)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return repr(value) if isinstance(value, (int, float)) else _kind(value)


def _suggest(key: str, allowed: set[str]) -> str:
    """` (did you mean 'name'?)` for a misspelt or miscased key, else nothing."""
    lowered = {name.lower(): name for name in allowed}
    if key.lower() in lowered:
        return f" (did you mean {lowered[key.lower()]!r}?)"
    close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _path(root: str, parts: list[str | int]) -> str:
    return root + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)
