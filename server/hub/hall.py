"""Per-hall presence state: members, the pose table, the tour, the tick's sends."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from halls_contract import hub as msg
from server.hub.connection import BINARY, TEXT, Connection, RateLimit, frame, frame_header
from server.hub.interest import RoomGraph, nearest


@dataclass(eq=False)
class Member:
    """Someone in a hall: local (has a connection) or on another worker (`proc`)."""

    id: int
    name: str
    role: str
    slot: int
    conn: Connection | None = None
    proc: str | None = None
    following: bool = False
    roster_seq: int = 0
    """Roster events up to this one are already known to this member."""
    hall: Hall | None = None
    room_id: str | None = None
    """Room of the latest pose (local members)."""
    poses: RateLimit | None = None
    control: RateLimit | None = None
    pose_flags: int = 0
    """Flags in this member's pose records (trainer, leader)."""

    info: dict = field(init=False)
    """What other members are told about this one."""

    def __post_init__(self) -> None:
        self.info = {"id": self.id, "name": self.name, "role": self.role}

    @property
    def flags(self) -> int:
        return msg.FLAG_TRAINER if self.role == "trainer" else 0


@dataclass(eq=False)
class Tour:
    """The hall's guided tour (one at a time)."""

    leader: int
    leader_name: str
    last: dict | None = None
    """Latest goto or gather cue, replayed to late followers."""
    followers: set[int] = field(default_factory=set)
    """Known on the leader's worker only."""

    def describe(self) -> dict:
        return {"leader": {"id": self.leader, "name": self.leader_name}, "last": self.last}


class Hall:
    """Presence state of one hall: members, the pose table, the tour."""

    def __init__(self, hall_id: str, manifest: Mapping[str, Any] | None) -> None:
        self.id = hall_id
        self.members: dict[int, Member] = {}
        self.by_slot: list[Member | None] = []
        self.free: list[int] = []
        self.table = np.zeros(0, msg.POSE_DTYPE)
        self.has_pose = np.zeros(0, bool)
        self.local = np.zeros(0, bool)
        self.changed = np.zeros(0, bool)
        self.dirty = False
        self.tour: Tour | None = None
        self.roster_seq = 0
        self.pending: list[tuple[int, str, Any]] = []  # (seq, "joined"|"left", info or id)
        self.manifest: Mapping[str, Any] | None = None
        self.graph = RoomGraph.from_manifest({})
        self.exhibits: dict[str, dict] = {}
        self.refresh(manifest)

    def refresh(self, manifest: Mapping[str, Any] | None) -> None:
        """Take a new build's manifest: rooms, doorways, exhibits."""
        if manifest is self.manifest:
            return
        self.manifest = manifest
        self.graph = RoomGraph.from_manifest(manifest or {})
        self.exhibits = {e["id"]: e for e in (manifest or {}).get("exhibits", ())}
        for member in self.members.values():  # local rooms by name survive a rebuild
            if member.conn is not None and self.has_pose[member.slot] and member.room_id is not None:
                self.table["room"][member.slot] = self.graph.index.get(member.room_id, msg.NO_ROOM)
        self.dirty = True

    # members

    def add(self, member_id: int, name: str, role: str, conn: Connection | None, proc: str | None) -> Member:
        if not self.free:
            self._grow()
        slot = self.free.pop()
        member = Member(member_id, name, role, slot, conn, proc, hall=self)
        member.pose_flags = member.flags
        self.members[member_id] = member
        self.by_slot[slot] = member
        self.table[slot] = 0
        self.table["id"][slot] = member_id
        self.table["flags"][slot] = member.flags
        self.local[slot] = conn is not None
        self.roster_seq += 1
        member.roster_seq = self.roster_seq if conn is not None else 0
        self.pending.append((self.roster_seq, "joined", member))
        self.dirty = True
        return member

    def remove(self, member: Member) -> None:
        if self.members.pop(member.id, None) is None:
            return
        slot = member.slot
        self.by_slot[slot] = None
        self.has_pose[slot] = self.local[slot] = self.changed[slot] = False
        self.free.append(slot)
        self.roster_seq += 1
        self.pending.append((self.roster_seq, "left", member.id))
        self.dirty = True

    def _grow(self) -> None:
        old = len(self.table)
        size = max(16, old * 2)
        self.table = np.resize(self.table, size)
        self.table[old:] = 0
        for name in ("has_pose", "local", "changed"):
            array = np.zeros(size, bool)
            array[:old] = getattr(self, name)
            setattr(self, name, array)
        self.by_slot.extend([None] * (size - old))
        self.free.extend(range(size - 1, old - 1, -1))

    def local_members(self):
        return (m for m in self.members.values() if m.conn is not None)

    def broadcast(self, text: str, *, only: Callable[[Member], bool] | None = None) -> None:
        data = frame(text.encode(), TEXT)  # framed once for everyone
        for member in list(self.local_members()):
            if only is None or only(member):
                member.conn.send_frame(data)

    def set_leader_flag(self, member_id: int, on: bool) -> None:
        member = self.members.get(member_id)
        if member is not None:
            member.pose_flags = member.flags | (msg.FLAG_LEADER if on else 0)
            self.table["flags"][member.slot] = member.pose_flags
            self.changed[member.slot] = True
            self.dirty = True

    # per tick

    def flush_roster(self) -> None:
        """Send the tick's joins and leaves, one `joined` and one `left` per member."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        first = pending[0][0]

        def messages(after: int, me: int) -> list[str]:
            joined = [m.info for seq, kind, m in pending if kind == "joined" and seq > after and m.id != me]
            left = [mid for seq, kind, mid in pending if kind == "left" and seq > after]
            out = [msg.encode("joined", members=joined)] if joined else []
            return out + ([msg.encode("left", ids=left)] if left else [])

        common = [frame(text.encode(), TEXT) for text in messages(first - 1, -1)]
        for member in list(self.local_members()):
            if member.roster_seq < first:
                for data in common:
                    member.conn.send_frame(data)
            else:  # joined during this tick: its welcome already listed some of these
                for text in messages(member.roster_seq, member.id):
                    member.conn.send(text)

    def send_poses(self, tick: int, k: int) -> None:
        """One binary batch per local member: the nearest `k` visible others."""
        self.dirty = False
        active = np.flatnonzero(self.has_pose)
        receivers = np.flatnonzero(self.local[active])
        if not len(receivers) or len(active) < 2:
            return
        rows = self.table[active]
        positions = np.column_stack((rows["x"], rows["y"], rows["z"])).astype(np.float64) * 0.01
        positions -= positions.mean(axis=0)
        order, counts, flat = nearest(positions, self.graph.room_of(rows["room"]), self.graph.visible, receivers, k)
        # Fancy indexing is much faster on plain integers than on a structured dtype.
        words = msg.POSE_DTYPE.itemsize // 8
        payload = memoryview(rows.view(np.uint64).reshape(-1, words)[flat].tobytes())
        size = msg.POSE_DTYPE.itemsize
        start = 0
        by_slot = self.by_slot
        batch_header, join = msg.encode_batch_header, b"".join
        for index, count in zip(active[order].tolist(), counts.tolist()):
            end = start + count * size
            member = by_slot[index]
            if count and member is not None and member.conn is not None:
                head = frame_header(end - start + msg.BATCH_HEADER.size, BINARY)
                member.conn.send_frame(join((head, batch_header(count, tick), payload[start:end])))
            start = end

    def take_changed_local(self) -> np.ndarray:
        """Records of local members whose pose changed since the last call."""
        mask = self.changed & self.local & self.has_pose
        self.changed[:] = False
        return self.table[mask]

    def local_records(self) -> np.ndarray:
        return self.table[self.local & self.has_pose]
