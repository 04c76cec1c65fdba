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
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from server.lrs.format import agent_key
from server.lrs.validate import StatementError, is_iri, is_uuid, parse_timestamp, validate_agent

SINGLE_PARAMS = {"statementId", "voidedStatementId"}
QUERY_PARAMS = {"agent", "verb", "activity", "registration", "related_activities", "related_agents", "since",
                "until", "limit", "format", "attachments", "ascending"}
GET_PARAMS = SINGLE_PARAMS | QUERY_PARAMS | {"more"}
FORMATS = ("exact", "ids", "canonical")


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
    """Check GET /statements parameters (a `more` token is expanded first)."""
    params = dict(params)
    after_seq = None
    if "more" in params:
        if len(params) > 1:
            raise StatementError("'more' cannot be combined with other parameters")
        params, after_seq = _decode_more(params["more"])
    for name in params:
        if name not in GET_PARAMS or name == "more":
            raise StatementError(f"unknown parameter {name!r} for GET statements")
    query = StatementQuery(params=params, after_seq=after_seq)
    query.format = params.get("format", "exact")
    if query.format not in FORMATS:
        raise StatementError(f"format: must be one of {', '.join(FORMATS)}, got {query.format!r}")
    query.attachments = _boolean(params, "attachments")
    single = SINGLE_PARAMS & params.keys()
    if single:
        if len(single) == 2:
            raise StatementError("statementId and voidedStatementId cannot be used together")
        name = single.pop()
        others = set(params) - {name, "format", "attachments"}
        if others:
            raise StatementError(f"{name} can only be combined with format and attachments, "
                                 f"not {', '.join(sorted(others))}")
        if not is_uuid(params[name]):
            raise StatementError(f"{name}: must be a UUID, got {params[name]!r}")
        query.statement_id = params[name].lower()
        query.voided = name == "voidedStatementId"
        return query
    if "agent" in params:
        agent = _json_param(params, "agent")
        validate_agent(agent, "agent")
        query.agent = agent_key(agent)
    if "verb" in params:
        query.verb = _iri_param(params, "verb")
    if "activity" in params:
        query.activity = _iri_param(params, "activity")
    if "registration" in params:
        if not is_uuid(params["registration"]):
            raise StatementError(f"registration: must be a UUID, got {params['registration']!r}")
        query.registration = params["registration"].lower()
    query.related_activities = _boolean(params, "related_activities")
    query.related_agents = _boolean(params, "related_agents")
    query.ascending = _boolean(params, "ascending")
    query.since_us = _time_param(params, "since")
    query.until_us = _time_param(params, "until")
    limit = params.get("limit", "0")
    if not limit.isdigit():
        raise StatementError(f"limit: must be a non-negative integer, got {limit!r}")
    query.limit = min(int(limit), page_size) if int(limit) else page_size
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
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        params, cursor = data["q"], data["c"]
        if not isinstance(params, dict) or not isinstance(cursor, int):
            raise ValueError
        return {str(k): str(v) for k, v in params.items()}, cursor
    except (ValueError, KeyError, TypeError):
        raise StatementError("more: not a link this LRS handed out") from None


def _boolean(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "false")
    if value not in ("true", "false"):
        raise StatementError(f"{name}: must be true or false, got {value!r}")
    return value == "true"


def _json_param(params: Mapping[str, str], name: str):
    try:
        return json.loads(params[name])
    except ValueError:
        raise StatementError(f"{name}: must be JSON, got {params[name]!r}") from None


def _iri_param(params: Mapping[str, str], name: str) -> str:
    if not is_iri(params[name]):
        raise StatementError(f"{name}: must be an IRI, got {params[name]!r}")
    return params[name]


def _time_param(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    moment = parse_timestamp(params[name])
    if moment is None:
        raise StatementError(f"{name}: must be an ISO 8601 timestamp, got {params[name]!r}")
    return int(moment.timestamp() * 1_000_000)
