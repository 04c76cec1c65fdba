"""Statement shapes the embedded LRS stores and returns.

    prepare(statement, stored=..., authority=...)  -> the statement as stored
    same_statement(stored, received)               -> the 409 comparison
    agent_keys(agent) / index_terms(statement)     -> what the query filters match on
    as_ids(statement) / as_canonical(statement, definitions, languages)

Statements are stored exactly as received except for the properties the
LRS assigns (id, stored, timestamp, authority, version) and context
activities, which are always returned as arrays (xAPI 1.0.3 Part 2 2.4.6.2).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from server.lrs.validate import IFI_KEYS, VOIDED_VERB, valid_timestamp

VERSION = "1.0.0"


def utc_text(moment: datetime) -> str:
    """A timestamp as returned by the LRS: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prepare(statement: dict, *, stored: datetime, authority: dict) -> dict:
    """The statement to store: LRS-assigned properties set, context activities as arrays."""
    prepared = dict(statement)
    prepared["id"] = statement.get("id") or str(uuid.uuid4())
    prepared["id"] = prepared["id"].lower()
    stamp = valid_timestamp(statement["timestamp"]) if "timestamp" in statement else stored
    prepared["timestamp"] = utc_text(stamp)
    prepared["stored"] = utc_text(stored)
    prepared["authority"] = authority
    prepared.setdefault("version", VERSION)
    _arrays_in_context(prepared)
    if isinstance(prepared["object"], dict) and prepared["object"].get("objectType") == "SubStatement":
        sub = dict(prepared["object"])
        _arrays_in_context(sub)
        prepared["object"] = sub
    return prepared


def _arrays_in_context(statement: dict) -> None:
    context = statement.get("context")
    if not isinstance(context, dict) or "contextActivities" not in context:
        return
    activities = {
        key: value if isinstance(value, list) else [value] for key, value in context["contextActivities"].items()
    }
    statement["context"] = {**context, "contextActivities": activities}


def same_statement(stored: dict, received: dict) -> bool:
    """True when `received` could be `stored` sent again (xAPI 1.0.3 Part 2 2.3.1 comparison rules)."""
    old, new = _comparable(stored), _comparable(received)
    if "timestamp" not in new:  # the LRS assigned the stored one
        old.pop("timestamp", None)
    return old == new


def _comparable(statement: dict) -> Any:
    copy = json.loads(json.dumps(statement))
    for key in ("id", "authority", "stored", "version"):
        copy.pop(key, None)
    if "timestamp" in copy:
        copy["timestamp"] = utc_text(valid_timestamp(copy["timestamp"]))[:23]
    _strip_for_comparison(copy)
    return copy


def _strip_for_comparison(statement: dict) -> None:
    """Drop what is not part of the statement itself: verb display, activity definitions; order groups."""
    statement.get("verb", {}).pop("display", None)
    _arrays_in_context(statement)
    for activity in _activities(statement):
        activity.pop("definition", None)
        activity.setdefault("objectType", "Activity")
    for agent in _agents(statement):
        if "mbox" in agent:
            agent["mbox"] = _mbox(agent["mbox"])
        if "member" in agent:
            for member in agent["member"]:
                if "mbox" in member:
                    member["mbox"] = _mbox(member["mbox"])
            agent["member"] = sorted(agent["member"], key=lambda m: json.dumps(m, sort_keys=True))
    sub = statement.get("object")
    if isinstance(sub, dict) and sub.get("objectType") == "SubStatement":
        if "timestamp" in sub:
            sub["timestamp"] = utc_text(valid_timestamp(sub["timestamp"]))[:23]
        _strip_for_comparison(sub)


def _activities(statement: dict) -> Iterable[dict]:
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity":
        yield obj
    context = statement.get("context") or {}
    for items in (context.get("contextActivities") or {}).values():
        yield from items


def _agents(statement: dict) -> Iterable[dict]:
    yield statement["actor"]
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") in ("Agent", "Group"):
        yield obj
    context = statement.get("context") or {}
    for key in ("instructor", "team"):
        if key in context:
            yield context[key]


def _mbox(mbox: str) -> str:
    name, _, domain = mbox.rpartition("@")
    return f"{name}@{domain.lower()}"


# --- query terms -------------------------------------------------------------


def agent_key(agent: dict) -> str | None:
    """The string an Agent or Identified Group is matched by (its one IFI), or None for anonymous Groups."""
    for key in IFI_KEYS:
        if key in agent:
            value = agent[key]
            if key == "mbox":
                return "mbox " + _mbox(value)
            if key == "mbox_sha1sum":
                return "mbox_sha1sum " + value.lower()
            if key == "account":
                return "account " + json.dumps([value["homePage"], value["name"]], ensure_ascii=False)
            return f"{key} {value}"
    return None


def agent_keys(agent: dict) -> list[str]:
    """The agent's own key and those of its Group members: a Group matches its members too."""
    keys = [key for key in [agent_key(agent)] if key]
    for member in agent.get("member", []) or []:
        key = agent_key(member)
        if key:
            keys.append(key)
    return keys


@dataclass
class IndexTerms:
    """What one statement is found by: (key, related-only) pairs for agents and activities."""

    agents: set[tuple[str, int]] = field(default_factory=set)
    activities: set[tuple[str, int]] = field(default_factory=set)
    verb: str = ""
    registration: str | None = None
    ref_target: str | None = None
    voiding_target: str | None = None


def index_terms(statement: dict) -> IndexTerms:
    """Agents and activities of a (prepared) statement; related=1 marks the broad `related_*` matches."""
    terms = IndexTerms(verb=statement["verb"]["id"])
    obj = statement["object"]
    kind = obj.get("objectType", "Activity")
    for key in agent_keys(statement["actor"]):
        terms.agents.add((key, 0))
    if kind in ("Agent", "Group"):
        for key in agent_keys(obj):
            terms.agents.add((key, 0))
    elif kind == "Activity":
        terms.activities.add((obj["id"], 0))
    elif kind == "StatementRef":
        terms.ref_target = obj["id"].lower()
        if terms.verb == VOIDED_VERB:
            terms.voiding_target = terms.ref_target
    for key in agent_keys(statement.get("authority") or {}):
        terms.agents.add((key, 1))
    _related(statement, terms)
    if kind == "SubStatement":
        for key in agent_keys(obj["actor"]):
            terms.agents.add((key, 1))
        sub_object = obj["object"]
        sub_kind = sub_object.get("objectType", "Activity")
        if sub_kind in ("Agent", "Group"):
            for key in agent_keys(sub_object):
                terms.agents.add((key, 1))
        elif sub_kind == "Activity":
            terms.activities.add((sub_object["id"], 1))
        _related(obj, terms)
    context = statement.get("context") or {}
    terms.registration = context.get("registration", "").lower() or None
    return terms


def _related(statement: dict, terms: IndexTerms) -> None:
    context = statement.get("context") or {}
    for key in ("instructor", "team"):
        for agent in agent_keys(context.get(key) or {}):
            terms.agents.add((agent, 1))
    for items in (context.get("contextActivities") or {}).values():
        for activity in items if isinstance(items, list) else [items]:
            terms.activities.add((activity["id"], 1))


def activity_definitions(statement: dict) -> list[tuple[str, dict]]:
    """(activity id, definition) for every Activity in the statement that carries a definition."""
    found = []
    for source in (statement, statement["object"]):
        if source is statement["object"] and source.get("objectType") != "SubStatement":
            continue
        for activity in _activities(source):
            if "definition" in activity:
                found.append((activity["id"], activity["definition"]))
    return found


def merge_definition(old: dict | None, new: dict) -> dict:
    """The canonical definition after `new` arrives: language maps merged by language, other fields replaced."""
    merged = dict(old or {})
    for key, value in new.items():
        if key in ("name", "description") and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


# --- response formats ---------------------------------------------------------


def as_ids(statement: dict) -> dict:
    """The `ids` format: only what identifies agents, groups, activities and verbs."""
    copy = dict(statement)
    copy["actor"] = _agent_ids(statement["actor"])
    copy["verb"] = {"id": statement["verb"]["id"]}
    copy["object"] = _object_ids(statement["object"])
    if "authority" in statement:
        copy["authority"] = _agent_ids(statement["authority"])
    if "context" in statement:
        copy["context"] = _context_ids(statement["context"])
    return copy


def _object_ids(obj: dict) -> dict:
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        return {"objectType": "Activity", "id": obj["id"]}
    if kind in ("Agent", "Group"):
        return _agent_ids(obj)
    if kind == "SubStatement":
        return as_ids(obj)
    return obj


def _agent_ids(agent: dict) -> dict:
    kept = {key: agent[key] for key in ("objectType", *IFI_KEYS) if key in agent}
    if agent.get("objectType") == "Group" and not any(key in agent for key in IFI_KEYS):
        kept["member"] = [_agent_ids(member) for member in agent.get("member", [])]
    return kept


def _context_ids(context: dict) -> dict:
    copy = dict(context)
    for key in ("instructor", "team"):
        if key in context:
            copy[key] = _agent_ids(context[key])
    if "contextActivities" in context:
        copy["contextActivities"] = {
            key: [{"objectType": "Activity", "id": item["id"]} for item in items]
            for key, items in context["contextActivities"].items()
        }
    return copy


def as_canonical(statement: dict, definitions: dict[str, dict], languages: list[str]) -> dict:
    """The `canonical` format: canonical activity definitions and one language per language map."""
    copy = json.loads(json.dumps(statement))
    _canonical_in(copy, definitions, languages)
    obj = copy["object"]
    if obj.get("objectType") == "SubStatement":
        _canonical_in(obj, definitions, languages)
    return copy


def _canonical_in(statement: dict, definitions: dict[str, dict], languages: list[str]) -> None:
    verb = statement["verb"]
    if "display" in verb:
        verb["display"] = pick_language(verb["display"], languages)
    for activity in _activities(statement):
        definition = definitions.get(activity["id"], activity.get("definition"))
        if definition is None:
            continue
        definition = json.loads(json.dumps(definition))
        for key in ("name", "description"):
            if key in definition:
                definition[key] = pick_language(definition[key], languages)
        for key in ("choices", "scale", "source", "target", "steps"):
            for component in definition.get(key, []):
                if "description" in component:
                    component["description"] = pick_language(component["description"], languages)
        activity["definition"] = definition


def accepted_languages(header: str | None) -> list[str]:
    """Language ranges from an Accept-Language header, most preferred first (q=0 dropped)."""
    ranges = []
    for order, part in enumerate((header or "").split(",")):
        pieces = [piece.strip() for piece in part.split(";")]
        if not pieces[0]:
            continue
        quality = 1.0
        for piece in pieces[1:]:
            if piece.startswith("q="):
                try:
                    quality = float(piece[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranges.append((-quality, order, pieces[0].lower()))
    return [language for _, _, language in sorted(ranges)]


def pick_language(language_map: dict, languages: list[str]) -> dict:
    """One entry of a language map, chosen by the RFC 2616 Accept-Language ranges (first entry otherwise)."""
    if not language_map:
        return language_map
    tags = {tag.lower(): tag for tag in language_map}
    for wanted in languages:
        if wanted == "*":
            break
        for lowered, tag in tags.items():
            if lowered == wanted or lowered.startswith(wanted + "-"):
                return {tag: language_map[tag]}
    first = next(iter(language_map))
    return {first: language_map[first]}


def person(agent: dict) -> dict:
    """The Agents resource's Person object for an Agent the LRS knows nothing more about."""
    found: dict[str, Any] = {"objectType": "Person"}
    if "name" in agent:
        found["name"] = [agent["name"]]
    for key in IFI_KEYS:
        if key in agent:
            found[key] = [agent[key]]
    return found
