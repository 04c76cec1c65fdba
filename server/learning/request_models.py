"""What clients send to the learning API, as typed models checked before any rule runs.

    body = await read_body(request, AttemptBody)      # RequestError("registration: expected ...") when it does not fit
    query = read_query(request.query, ProgressQuery)

Every body and query of sign-in, visits, attempts, diorama time, reports and
dead letters has a model here; the handlers in `server.learning.routes`
read through them, and `server.web.openapi` describes the API from them.
A request that does not fit answers 400 `{"error": "<field path>: <what was
expected>"}`: the path names the field (`answers.s1`), the text is the
field's own (`Expected`) or made from the type.  Rules that need the
database or the build (a known hall, the checkpoint's option ids, the
policy) run only on a request that fits.  Unknown body keys are ignored (a
member id in a body never names the member: the token does).
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from multidict import MultiMapping
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from server.learning.auth import MEMBER_ID, NAME_MAX, valid_name

PLATFORMS = ("browser", "headset", "client")
Platform = Literal["browser", "headset", "client"]
MAX_DIORAMA_SECONDS = 4 * 3600.0
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
"""An attempt's `Idempotency-Key` header: the client's id of one submission."""
IDEMPOTENCY_KEY_ERROR = "Idempotency-Key: expected 8-64 letters, digits, _ or - (one new key per submission)"
BODY_ERROR = "body: expected a JSON object"
REGISTRATION_EXPECTED = "expected the string from POST /api/halls/{hall}/visits"
MAX_LETTER_ID = 2**63 - 1
"""SQLite's largest integer."""
M = TypeVar("M", bound=BaseModel)


class RequestError(ValueError):
    """A request that does not fit its model; the message is the 400's `error`."""


@dataclass(frozen=True)
class Expected:
    """What a field's 400 says was expected, whatever check failed (`whole`: the message as it stands, no path)."""

    text: str
    whole: bool = False


class _Body(BaseModel):
    """A JSON body: strict types (no "10" for a number, no 1 for true), unknown keys ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, use_attribute_docstrings=True)


class _Query(BaseModel):
    """A query string: every value arrives as text and is read as the field's type."""

    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True, populate_by_name=True)


def _check_name(value: str) -> str:
    if not valid_name(value):
        raise ValueError("not a name")
    return value


Registration = Annotated[str, Field(min_length=1, max_length=64), Expected(REGISTRATION_EXPECTED)]
"""A visit's registration (`POST /api/halls/{hall}/visits` answers it)."""
Response = Annotated[
    str | list[str] | bool,
    Expected("expected an option id, a list of option ids, or true or false"),
    Field(description="An option id (single choice), a list of option ids (multiple choice) or true/false."),
]


class SessionBody(_Body):
    """`POST /api/session`: who signs in."""

    member_id: Annotated[
        str,
        Field(pattern=rf"^{MEMBER_ID.pattern}$", examples=["m-1024"]),
        Expected("1-64 letters, digits or . _ @ - (starting with a letter or digit)"),
    ]
    """The member's id (工号): 1-64 letters, digits or `. _ @ -`, starting with a letter or digit."""
    name: Annotated[
        str,
        AfterValidator(_check_name),
        Field(pattern=r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$", examples=["张三"]),
        Expected(f"1-{NAME_MAX} characters, no control characters"),
    ]
    """Display name: 1-40 characters once trimmed, no control characters."""
    branch: Annotated[
        str | None,
        Field(min_length=1, max_length=64, pattern=r"\S"),
        Expected("expected a branch name (1-64 characters)"),
    ] = None
    """The member's branch (支部); one of the server's `branches` when it lists any."""
    enrolment_code: Annotated[str | None, Field(max_length=256), Expected("expected a string")] = None
    """The shared or personal enrolment code, when the server asks for one."""


class VisitBody(_Body):
    """`POST /api/halls/{hall}/visits`: a member enters a hall."""

    platform: Annotated[Platform, Expected(f"expected one of {', '.join(PLATFORMS)}")]
    """Where the member is: the browser viewer, a headset, or the desktop client."""


class AttemptBody(_Body):
    """`POST /api/halls/{hall}/checkpoints/{cp}/attempts`: a member's answers to a checkpoint."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "registration": "6eb64d8e-6e33-4611-b114-5a4a1c0cd7c1", "platform": "browser",
        "answers": {"s1": "C", "m1": ["A", "D"], "t1": False}}]})  # fmt: skip

    registration: Registration
    """The visit this attempt belongs to."""
    platform: Annotated[Platform | None, Expected(f"expected one of {', '.join(PLATFORMS)}")] = None
    """Where it was answered; the visit's platform when left out."""
    answers: Annotated[
        dict[str, Response],
        Field(min_length=1),
        Expected("'answers' must be a non-empty object of question id -> response", whole=True),
    ]
    """Question id -> response; a question left out is wrong."""


class ExperiencedBody(_Body):
    """`POST /api/halls/{hall}/dioramas/{id}/experienced`: time a member spent in a diorama."""

    registration: Registration
    """The visit this time belongs to."""
    seconds: Annotated[
        float,
        Field(gt=0, le=MAX_DIORAMA_SECONDS, allow_inf_nan=False),
        Expected(f"expected a number above 0 and at most {MAX_DIORAMA_SECONDS:.0f}"),
    ]
    """Seconds spent, above 0 and at most four hours."""


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class ProgressQuery(_Query):
    """`GET /api/progress`: the report's range, branches and format."""

    from_: Annotated[str | None, Field(alias="from", max_length=40, examples=["2026-03-01"])] = None
    """First day `YYYY-MM-DD` or an ISO date-time (in the report's time zone when it has none)."""
    to: Annotated[str | None, Field(max_length=40, examples=["2026-03-31"])] = None
    """Last day, inclusive, or an ISO date-time (exclusive)."""
    branch: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=8)] = []
    """Only members of these branches: repeated, or comma-separated."""
    format: Annotated[Literal["json", "csv"], BeforeValidator(_lower)] = "json"
    """`json`, or `csv` for a spreadsheet (UTF-8 with a byte-order mark)."""


class DeadLettersQuery(_Query):
    """`GET /api/admin/dead-letters`."""

    all: Annotated[Literal["true", "false", "1", "0", "yes", "no"], BeforeValidator(_lower)] = "false"
    """Also list letters already re-sent (`true`, `1` or `yes`)."""

    @property
    def include_resent(self) -> bool:
        return self.all in ("true", "1", "yes")


class ResendPath(_Query):
    """`POST /api/admin/dead-letters/{letter_id}/resend`."""

    letter_id: Annotated[int, Field(ge=1, le=MAX_LETTER_ID), Expected("expected a dead letter's id (a whole number)")]
    """The dead letter's id, as listed."""


# --- reading ---------------------------------------------------------------------------


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as `model`; `RequestError` when it is not JSON, not an object, or does not fit."""
    raw = await request.read()
    try:
        data = json.loads(raw.decode("utf-8"))
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # unpaired surrogates (`"\ud800"`) cannot be stored
    except (ValueError, UnicodeError, RecursionError):
        raise RequestError(BODY_ERROR) from None
    if not isinstance(data, dict):
        raise RequestError(BODY_ERROR)
    return validate(model, data)


def read_query(query: MultiMapping[str], model: type[M]) -> M:
    """The query string as `model`: a list field takes every value of its name, any other field exactly one."""
    fields = _fields_by_name(model)
    data: dict[str, Any] = {}
    for name in dict.fromkeys(query.keys()):
        field = fields.get(name)
        if field is None:
            continue
        values = query.getall(name)
        if _origin(field.annotation) is list:
            data[name] = values
        elif len(values) > 1:
            raise RequestError(f"{name}: expected one value, got {len(values)}")
        else:
            data[name] = values[0]
    return validate(model, data)


def read_path(match_info: Mapping[str, str], model: type[M]) -> M:
    """Path parameters as `model`."""
    return validate(model, {name: value for name, value in match_info.items() if name in _fields_by_name(model)})


def validate(model: type[M], data: Mapping[str, Any]) -> M:
    """`data` as `model`; `RequestError` naming the first field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RequestError(explain(error, model, data)) from None


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The `Idempotency-Key` header, None when absent; `RequestError` when malformed."""
    key = headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise RequestError(IDEMPOTENCY_KEY_ERROR)
    return key


def explain(error: ValidationError, model: type[BaseModel], data: Any) -> str:
    """`<field path>: <what was expected>` for the first field of `data` that does not fit `model`."""
    errors = error.errors(include_url=False)
    path = _path(errors[0], data)
    if not path:
        return BODY_ERROR
    dotted = ".".join(str(part) for part in path)
    expected = _expected(model, path)
    if expected is not None:
        return expected.text if expected.whole else f"{dotted}: {expected.text}"
    texts = [_describe(e) for e in errors if _path(e, data) == path]
    if "required" in texts:
        return f"{dotted}: required"
    return f"{dotted}: expected {' or '.join(dict.fromkeys(texts))}"


# --- private helpers -------------------------------------------------------------------


def _fields_by_name(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _origin(annotation: Any) -> Any:
    """`list` for `list[X]`, `list[X] | None` and their `Annotated` forms."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _origin(inner[0]) if len(inner) == 1 else origin
    return origin


def _path(error: Mapping[str, Any], data: Any) -> list[str | int]:
    """The error's location as far as it names parts of `data` (pydantic's union-branch tags dropped)."""
    path: list[str | int] = []
    current = data
    location = error["loc"]
    for index, part in enumerate(location):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif (
            isinstance(current, Sequence)
            and not isinstance(current, str)
            and isinstance(part, int)
            and 0 <= part < len(current)
        ):
            current = current[part]
        elif index == len(location) - 1 and error["type"] == "missing":
            pass
        else:
            break
        path.append(part)
    return path


def _expected(model: type[BaseModel], path: Sequence[str | int]) -> Expected | None:
    """The `Expected` declared for exactly `path` (on the field, or on a list item or object value type)."""
    field = _fields_by_name(model).get(str(path[0]))
    if field is None:
        return None
    found = next((m for m in field.metadata if isinstance(m, Expected)), None)
    annotation = field.annotation
    for _ in path[1:]:
        found, annotation = None, _unwrap_optional(annotation)
        args = typing.get_args(annotation)
        origin = typing.get_origin(annotation)
        if origin is dict:
            annotation = args[1]
        elif origin in (list, tuple):
            annotation = args[0]
        else:
            return None
        while typing.get_origin(annotation) is Annotated:
            found = next((m for m in annotation.__metadata__ if isinstance(m, Expected)), found)
            annotation = typing.get_args(annotation)[0]
    return found


def _unwrap_optional(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is not None and len(args) == 1 and type(None) in typing.get_args(annotation):
        return args[0]
    return annotation


_TYPES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "none_required": "null",
}


def _describe(error: Mapping[str, Any]) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "required"
    if kind in _TYPES:
        return _TYPES[kind]
    if kind == "literal_error":
        return f"one of {context['expected']}"
    if kind == "string_too_short":
        return f"at least {context['min_length']} characters"
    if kind == "string_too_long":
        return f"at most {context['max_length']} characters"
    if kind == "too_short":
        return f"at least {context['min_length']} items"
    if kind == "too_long":
        return f"at most {context['max_length']} items"
    if kind == "string_pattern_mismatch":
        return f"text matching {context['pattern']}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {
            "greater_than": "above",
            "greater_than_equal": "at least",
            "less_than": "below",
            "less_than_equal": "at most",
        }[kind]
        bound = next(iter(context.values()))
        return f"a number {words} {bound}"
    return str(error["msg"]).lower()
