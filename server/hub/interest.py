"""Interest management: who sees whom, found with numpy once per tick.

A member sees the nearest `k` others in the same room or a room one doorway
away.  Rooms and doorways come from the hall manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RoomGraph:
    """A hall's rooms and which rooms see each other.

    `visible[a, b]` is True when members in room `a` may see members in room
    `b`.  The last row and column stand for an unknown room (index `unknown`),
    which sees and is seen by every room.
    """

    ids: tuple[str, ...]
    index: dict[str, int]
    visible: np.ndarray

    @property
    def unknown(self) -> int:
        return len(self.ids)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> RoomGraph:
        ids = tuple(room["id"] for room in manifest.get("rooms", ()))
        index = {room_id: i for i, room_id in enumerate(ids)}
        size = len(ids) + 1
        visible = np.eye(size, dtype=bool)
        visible[-1, :] = visible[:, -1] = True
        for door in manifest.get("doorways", ()):
            a, b = index.get(door.get("room")), index.get(door.get("to_room"))
            if a is not None and b is not None:
                visible[a, b] = visible[b, a] = True
        return cls(ids, index, visible)

    def room_of(self, raw: np.ndarray) -> np.ndarray:
        """Room indices from pose records (`NO_ROOM` or stale ones map to `unknown`)."""
        rooms = raw.astype(np.intp)
        rooms[rooms >= self.unknown] = self.unknown
        return rooms


def nearest(
    positions: np.ndarray, rooms: np.ndarray, visible: np.ndarray, receivers: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nearest `k` visible others for each receiver.

    `positions` (n, 3) and `rooms` (n,) describe every member with a pose;
    `receivers` indexes the ones to compute for.  Returns `(order, counts,
    flat)`: receivers in output order, how many neighbours each has, and the
    neighbours' indices, concatenated in that order.
    """
    order_parts, count_parts, flat_parts = [], [], []
    receiver_rooms = rooms[receivers]
    for room in np.unique(receiver_rooms):
        group = receivers[receiver_rooms == room]
        candidates = np.flatnonzero(visible[room][rooms])
        order_parts.append(group)
        if len(candidates) <= k + 1:
            # Everyone visible fits: all candidates but oneself.
            keep = candidates[None, :] != group[:, None]
            count_parts.append(keep.sum(axis=1))
            flat_parts.append(np.broadcast_to(candidates, keep.shape)[keep])
            continue
        here = positions[group].astype(np.float32)
        there = positions[candidates].astype(np.float32)
        distance = (
            np.einsum("ij,ij->i", here, here)[:, None]
            + np.einsum("ij,ij->i", there, there)[None, :]
            - 2.0 * here @ there.T
        )
        distance[np.arange(len(group)), np.searchsorted(candidates, group)] = np.inf
        best = np.argpartition(distance, k - 1, axis=1)[:, :k]
        count_parts.append(np.full(len(group), k))
        flat_parts.append(candidates[best].ravel())
    if not order_parts:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty, empty
    return np.concatenate(order_parts), np.concatenate(count_parts), np.concatenate(flat_parts)
