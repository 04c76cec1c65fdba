"""GET /statements parameters: checked, turned into SQL, and paged with `more` links.

    query = parse_query(params, page_size)     -> StatementQuery (StatementError for a 400)
    sql, args = query_sql(query)
    more_link(path, query, last_seq)

Filters follow xAPI 1.0.3 Part 3 2.1.3: agent (actor or object, Group
members included; everywhere with related_agents), verb, activity (object;
context and SubStatement too with related_activities), registration, since
(exclusive), until (inclusive), limit, ascending.  A statement whose object
is a StatementRef matches when the statement it targets matches (recursively);
time and paging apply to the targeting statement; voided statements never
appear.  `more` carries the query and the last row's sequence number, so a
link keeps working as long as the data does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, with_config
from typing_extensions import TypedDict

from server.lrs.format import agent_key
from server.lrs.validate import (
    ParamError,
    Shape,
    StatementError,
    agent_json_param,
    check_params,
    flag_param,
    iri_param,
    parse_json,
    timestamp_param,
    uuid_param,
)

SINGLE_PARAMS = {"statementId", "voidedStatementId"}
FORMATS = ("exact", "ids", "canonical")
_COUNT = re.compile(r"[0-9]{1,12}\Z")


# --- the parameters' schema: each check converts its string or raises ParamError naming the parameter -----


def _count(value: Any) -> int:
    if not isinstance(value, str) or not _COUNT.match(value):
        raise ParamError(f"limit: must be a non-negative integer, got {value!r}")
    return int(value)


def _format(value: Any) -> str:
    if value not in FORMATS:
        raise ParamError(f"format: must be one of {', '.join(FORMATS)}, got {value!r}")
    return value


@with_config(ConfigDict(extra="forbid", strict=True))
class StatementParams(TypedDict, total=False):
    """GET /statements parameters (xAPI 1.0.3 Part 3 2.1.3, table 2.1.3.s1.table1), checked and converted."""

    statementId: Annotated[str, BeforeValidator(uuid_param("statementId"))]
    """One statement by id (lower-cased)."""
    voidedStatementId: Annotated[str, BeforeValidator(uuid_param("voidedStatementId"))]
    """One voided statement by id (lower-cased)."""
    agent: Annotated[dict, BeforeValidator(agent_json_param("agent"))]
    """Agent or Identified Group Object (JSON)."""
    verb: Annotated[str, BeforeValidator(iri_param("verb"))]
    """Verb id (IRI)."""
    activity: Annotated[str, BeforeValidator(iri_param("activity"))]
    """Activity id (IRI)."""
    registration: Annotated[str, BeforeValidator(uuid_param("registration"))]
    """Registration UUID (lower-cased)."""
    related_activities: Annotated[bool, BeforeValidator(flag_param("related_activities"))]
    related_agents: Annotated[bool, BeforeValidator(flag_param("related_agents"))]
    since: Annotated[int, BeforeValidator(timestamp_param("since"))]
    """Timestamp, as microseconds since the epoch."""
    until: Annotated[int, BeforeValidator(timestamp_param("until"))]
    """Timestamp, as microseconds since the epoch."""
    limit: Annotated[int, BeforeValidator(_count)]
    """Nonnegative integer (0: the page size)."""
    format: Annotated[Literal["exact", "ids", "canonical"], BeforeValidator(_format)]
    attachments: Annotated[bool, BeforeValidator(flag_param("attachments"))]
    ascending: Annotated[bool, BeforeValidator(flag_param("ascending"))]


STATEMENT_PARAMS = Shape(StatementParams)


@dataclass
class StatementQuery:
    """A checked statement query (or a single-statement fetch when `statement_id` is set)."""

    params: dict[str, str] = field(default_factory=dict)
    statement_id: str | None = None
    voided: bool = False
    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since_us: int | None = None
    until_us: int | None = None
    limit: int = 0
    format: str = "exact"
    attachments: bool = False
    ascending: bool = False
    after_seq: int | None = None
    credential: str | None = None
    """Only statements sent with these credentials (the `statements/read/mine` scope)."""


def parse_query(params: Mapping[str, str], page_size: int) -> StatementQuery:
    """Check GET /statements parameters (a `more` token is expanded first) against `StatementParams`."""
    params = dict(params)
    after_seq = None
    if "more" in params:
        if len(params) > 1:
            raise StatementError("'more' cannot be combined with other parameters")
        params, after_seq = _decode_more(params["more"])
    checked = check_params(params, STATEMENT_PARAMS, lambda name: f"unknown parameter {name!r} for GET statements")
    query = StatementQuery(params=params, after_seq=after_seq)
    query.format = checked.get("format", "exact")
    query.attachments = checked.get("attachments", False)
    single = SINGLE_PARAMS & params.keys()
    if single:
        if len(single) == 2:
            raise StatementError("statementId and voidedStatementId cannot be used together")
        name = single.pop()
        others = set(params) - {name, "format", "attachments"}
        if others:
            raise StatementError(
                f"{name} can only be combined with format and attachments, not {', '.join(sorted(others))}"
            )
        query.statement_id = checked[name]
        query.voided = name == "voidedStatementId"
        return query
    if "agent" in checked:
        query.agent = agent_key(checked["agent"])
    query.verb = checked.get("verb")
    query.activity = checked.get("activity")
    query.registration = checked.get("registration")
    query.related_activities = checked.get("related_activities", False)
    query.related_agents = checked.get("related_agents", False)
    query.ascending = checked.get("ascending", False)
    query.since_us = checked.get("since")
    query.until_us = checked.get("until")
    limit = checked.get("limit", 0)
    query.limit = min(limit, page_size) if limit else page_size
    return query


def query_sql(query: StatementQuery) -> tuple[str, list]:
    """SQL returning (seq, body) of one page plus one row (to know whether there is more)."""
    filters, args = [], []
    if query.agent is not None:
        related = "" if query.related_agents else " AND related = 0"
        filters.append(f"s.seq IN (SELECT seq FROM statement_agents WHERE agent = ?{related})")
        args.append(query.agent)
    if query.activity is not None:
        related = "" if query.related_activities else " AND related = 0"
        filters.append(f"s.seq IN (SELECT seq FROM statement_activities WHERE activity = ?{related})")
        args.append(query.activity)
    if query.verb is not None:
        filters.append("s.verb = ?")
        args.append(query.verb)
    if query.registration is not None:
        filters.append("s.registration = ?")
        args.append(query.registration)
    outer: list[str] = ["s.voided = 0"]
    outer_args: list[str | int] = []
    if query.credential is not None:
        outer.append("s.credential = ?")
        outer_args.append(query.credential)
    if query.since_us is not None:
        outer.append("s.stored_us > ?")
        outer_args.append(query.since_us)
    if query.until_us is not None:
        outer.append("s.stored_us <= ?")
        outer_args.append(query.until_us)
    if query.after_seq is not None:
        outer.append("s.seq > ?" if query.ascending else "s.seq < ?")
        outer_args.append(query.after_seq)
    order = "ASC" if query.ascending else "DESC"
    if filters:
        sql = (
            "WITH RECURSIVE hits(id) AS ("
            f" SELECT s.id FROM statements s WHERE {' AND '.join(filters)}"
            " UNION SELECT t.id FROM statements t JOIN hits h ON t.ref_target = h.id)"
            f" SELECT s.seq, s.body FROM statements s WHERE s.id IN (SELECT id FROM hits) AND {' AND '.join(outer)}"
        )
    else:
        sql = f"SELECT s.seq, s.body FROM statements s WHERE {' AND '.join(outer)}"
    sql += f" ORDER BY s.seq {order} LIMIT ?"
    return sql, args + outer_args + [query.limit + 1]


def more_link(path: str, query: StatementQuery, last_seq: int) -> str:
    """The relative IRL of the next page."""
    token = json.dumps({"q": query.params, "c": last_seq}, separators=(",", ":"), ensure_ascii=False)
    return f"{path}?more={base64.urlsafe_b64encode(token.encode()).decode().rstrip('=')}"


def _decode_more(token: str) -> tuple[dict[str, str], int]:
    try:
        data = parse_json(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        params, cursor = data["q"], data["c"]
        if not isinstance(params, dict) or not isinstance(cursor, int) or isinstance(cursor, bool):
            raise ValueError
        return {str(k): str(v) for k, v in params.items()}, cursor
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise StatementError("more: not a link this LRS handed out") from None
