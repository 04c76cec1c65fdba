"""Other members as simple avatars: a coloured body, a head, a name label that faces the viewer.

`Avatars.update(records, now)` takes a hub pose batch (`POSE_DTYPE`) and
moves, adds or hides avatars; `roster` events give names.  Positions glide
toward the latest pose so 10 Hz updates look smooth.  Trainers are red, the
tour leader gold, members blue.
"""

from __future__ import annotations

import math

import numpy as np
from panda3d.core import (
    BillboardEffect,
    Geom,
    GeomNode,
    GeomTriangles,
    GeomVertexData,
    GeomVertexFormat,
    GeomVertexWriter,
    NodePath,
    Point3,
    Quat,
    TextNode,
)

from halls_contract.hub import FLAG_LEADER, FLAG_TRAINER

MEMBER = (0.22, 0.45, 0.85, 1.0)
TRAINER = (0.75, 0.15, 0.15, 1.0)
LEADER = (0.95, 0.75, 0.2, 1.0)
STALE = 5.0
"""Seconds without a pose after which an avatar is hidden."""
GLIDE = 10.0
"""How fast an avatar closes the gap to its latest pose (1/s)."""


def _box(name: str, sx: float, sy: float, sz: float, colour) -> NodePath:
    """An unlit box of size (sx, sy, sz), its base centred on the origin."""
    vdata = GeomVertexData(name, GeomVertexFormat.getV3(), Geom.UHStatic)
    vdata.setNumRows(8)
    writer = GeomVertexWriter(vdata, "vertex")
    for z in (0.0, sz):
        for x, y in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            writer.addData3(x * sx / 2, y * sy / 2, z)
    triangles = GeomTriangles(Geom.UHStatic)
    for a, b, c, d in ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)):
        triangles.addVertices(a, b, c)
        triangles.addVertices(a, c, d)
    geom = Geom(vdata)
    geom.addPrimitive(triangles)
    node = GeomNode(name)
    node.addGeom(geom)
    box = NodePath(node)
    box.setColor(colour)
    box.setLightOff()
    return box


class Avatar:
    def __init__(self, parent: NodePath, member_id: int, name: str, font) -> None:
        self.id = member_id
        self.root = parent.attachNewNode(f"avatar:{member_id}")
        self.body = _box("body", 0.45, 0.3, 1.25, MEMBER)
        self.body.reparentTo(self.root)
        self.head = _box("head", 0.26, 0.26, 0.26, (0.95, 0.85, 0.75, 1.0))
        self.head.reparentTo(self.root)
        self.head.setZ(1.32)
        nose = _box("nose", 0.08, 0.12, 0.08, (0.1, 0.1, 0.1, 1.0))
        nose.reparentTo(self.head)
        nose.setPos(0, 0.14, 0.12)
        self.label = TextNode(f"name:{member_id}")
        if font is not None:
            self.label.setFont(font)
        self.label.setAlign(TextNode.ACenter)
        self.label.setTextColor(1, 1, 1, 1)
        self.label.setCardColor(0, 0, 0, 0.55)
        self.label.setCardAsMargin(0.15, 0.15, 0.08, 0.08)
        self.label.setCardDecal(True)
        label_np = self.root.attachNewNode(self.label)
        label_np.setScale(0.22)
        label_np.setZ(1.85)
        label_np.setEffect(BillboardEffect.makePointEye())
        label_np.setLightOff()
        self.set_name(name)
        self.target = None
        self.target_h = 0.0
        self.seen = 0.0
        self.flags = -1

    def set_name(self, name: str) -> None:
        self.label.setText(name)

    def set_flags(self, flags: int) -> None:
        if flags != self.flags:
            self.flags = flags
            colour = LEADER if flags & FLAG_LEADER else TRAINER if flags & FLAG_TRAINER else MEMBER
            self.body.setColor(colour)

    def glide(self, dt: float) -> None:
        if self.target is None:
            return
        alpha = 1.0 - math.exp(-GLIDE * dt)
        pos = self.root.getPos()
        self.root.setPos(pos + (self.target - pos) * alpha)
        dh = ((self.target_h - self.root.getH() + 180) % 360) - 180
        self.root.setH(self.root.getH() + dh * alpha)


class Avatars:
    """Every other member in the hall, by hub member id."""

    def __init__(self, parent: NodePath, font=None) -> None:
        self.root = parent.attachNewNode("avatars")
        self.font = font
        self.names: dict[int, str] = {}
        self.avatars: dict[int, Avatar] = {}
        self.self_id: int | None = None

    def roster(self, kind: str, data: dict) -> None:
        """Apply `welcome`, `joined` or `left`."""
        if kind == "welcome":
            self.self_id = data.get("id")
            members = data.get("members") or []
        elif kind == "joined":
            members = data.get("members") or []
        else:
            for member_id in data.get("ids") or []:
                self.names.pop(member_id, None)
                avatar = self.avatars.pop(member_id, None)
                if avatar is not None:
                    avatar.root.removeNode()
            return
        for info in members:
            self.names[info["id"]] = info.get("name", "?")
            if info["id"] in self.avatars:
                self.avatars[info["id"]].set_name(self.names[info["id"]])

    def update(self, records: np.ndarray, now: float) -> None:
        """Take a pose batch: positions in centimetres, int16 quaternions (x, y, z, w)."""
        for record in records:
            member_id = int(record["id"])
            if member_id == self.self_id:
                continue
            avatar = self.avatars.get(member_id)
            target = (record["x"] / 100.0, record["y"] / 100.0, record["z"] / 100.0)
            if avatar is None:
                avatar = self.avatars[member_id] = Avatar(
                    self.root, member_id, self.names.get(member_id, f"#{member_id}"), self.font
                )
                avatar.root.setPos(*target)
            q = Quat(record["qw"] / 32767.0, record["qx"] / 32767.0, record["qy"] / 32767.0, record["qz"] / 32767.0)
            avatar.target = Point3(*target)
            avatar.target_h = q.getHpr()[0]
            avatar.set_flags(int(record["flags"]))
            avatar.seen = now
            avatar.root.show()

    def tick(self, dt: float, now: float) -> None:
        for avatar in self.avatars.values():
            if now - avatar.seen > STALE:
                avatar.root.hide()
            else:
                avatar.glide(dt)

    def clear(self) -> None:
        for avatar in self.avatars.values():
            avatar.root.removeNode()
        self.avatars.clear()
        self.names.clear()

    def destroy(self) -> None:
        self.clear()
        self.root.removeNode()
