"""Streaming plan: the order to fetch a hall's chunks from any room.

Chunks are ordered by doorway-graph distance (hops) from the starting room,
then by straight-line distance between room centres on the floor, then by id
— the same rule the build uses for the manifest's order from the spawn room.
Rooms no doorway leads to come last.  Pure: reads a manifest dict.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass


class UnknownRoom(KeyError):
    """The starting room is not in the hall."""


@dataclass(frozen=True)
class PlanStep:
    """One chunk in fetch order."""

    chunk: str
    room: str
    hops: int | None
    """Doorways to walk through from the starting room; None when unreachable."""
    distance: float
    """Metres between room centres (on the floor plane)."""


def streaming_plan(manifest: Mapping, start: str) -> list[PlanStep]:
    """Chunks of `manifest` in fetch order for a member in room `start`."""
    centres = {room["id"]: _centre(room["bounds"]) for room in manifest["rooms"]}
    if start not in centres:
        raise UnknownRoom(start)
    hops = _hops(start, _neighbours(centres, manifest.get("doorways", ())))
    origin = centres[start]
    steps = []
    for chunk in manifest["chunks"]:
        room = chunk["room"]
        centre = centres.get(room, origin)
        distance = round(math.hypot(centre[0] - origin[0], centre[1] - origin[1]), 3)
        steps.append(PlanStep(chunk["id"], room, hops.get(room), distance))
    return sorted(steps, key=lambda s: (math.inf if s.hops is None else s.hops, s.distance, s.chunk))


def _centre(bounds: Mapping) -> tuple[float, float]:
    low, high = bounds["min"], bounds["max"]
    return ((low[0] + high[0]) / 2, (low[1] + high[1]) / 2)


def _neighbours(rooms: Mapping, doorways) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {room: set() for room in rooms}
    for door in doorways:
        here, there = door.get("room"), door.get("to_room")
        if here in graph and there in graph:
            graph[here].add(there)
            graph[there].add(here)
    return graph


def _hops(start: str, graph: Mapping[str, set[str]]) -> dict[str, int]:
    hops = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for nxt in sorted(graph[current]):
            if nxt not in hops:
                hops[nxt] = hops[current] + 1
                queue.append(nxt)
    return hops
