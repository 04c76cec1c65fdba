"""First-person walking: eye height, walls, floors, steps and ledges.

`Walker` owns a `body` node (the feet, turned by heading) and a `head` node
at eye height (pitched; the camera hangs there).  Each `update` moves the
body by the member's input, lets a `CollisionHandlerPusher` push two body
spheres out of wall polygons (horizontally only), then casts a ray down onto
floor polygons: the body stands on the highest floor within `step_up` of its
feet.  With no floor below, or a drop deeper than `max_drop`, the move is
undone, so the member can neither walk into the void beyond a doorway nor off
a bridge.  Collision polygons come from `tools.client.collision`; no window
or ShowBase is needed (tests drive a `Walker` directly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from panda3d.core import (
    BitMask32,
    CollisionHandlerPusher,
    CollisionHandlerQueue,
    CollisionNode,
    CollisionRay,
    CollisionSphere,
    CollisionTraverser,
    NodePath,
    Vec3,
)

from halls_contract.body import BODY_RADIUS, EYE_HEIGHT, STEP_UP
from halls_contract.manifest import Doorway
from tools.client.collision import FLOOR_MASK, WALL_MASK


@dataclass(frozen=True)
class WalkSettings:
    eye_height: float = EYE_HEIGHT
    """Metres from the feet to the eyes."""
    radius: float = BODY_RADIUS
    """Body radius: how close the member gets to a wall."""
    step_up: float = STEP_UP
    """Highest step climbed without jumping."""
    max_drop: float = 1.2
    """Deepest drop walked off; deeper ones block like a wall."""
    speed: float = 1.8
    """Walking speed, m/s."""
    run_factor: float = 2.2
    turn_speed: float = 100.0
    """Degrees per second for the turn keys."""
    max_pitch: float = 80.0


@dataclass(frozen=True)
class WalkInput:
    """One frame of intent, each in -1..1."""

    forward: float = 0.0
    strafe: float = 0.0
    """Positive: to the right."""
    turn: float = 0.0
    """Positive: to the left (counter-clockwise, as Panda3D's H)."""
    run: bool = False


class Walker:
    """A member's body in the hall, kept on floors and out of walls."""

    def __init__(self, world: NodePath, settings: WalkSettings = WalkSettings()) -> None:
        self.world = world
        self.settings = settings
        self.body = world.attachNewNode("member")
        self.head = self.body.attachNewNode("head")
        self.head.setZ(settings.eye_height)
        self._walls = CollisionTraverser("walls")
        self._pusher = CollisionHandlerPusher()
        self._pusher.setHorizontal(True)
        spheres = CollisionNode("body")
        for z in (0.45 + settings.radius, 1.35):
            spheres.addSolid(CollisionSphere(0, 0, z, settings.radius))
        spheres.setFromCollideMask(WALL_MASK)
        spheres.setIntoCollideMask(BitMask32.allOff())
        sphere_np = self.body.attachNewNode(spheres)
        self._pusher.addCollider(sphere_np, self.body)
        self._walls.addCollider(sphere_np, self._pusher)
        self._floors = CollisionTraverser("floors")
        self._floor_hits = CollisionHandlerQueue()
        ray = CollisionNode("feet")
        ray.addSolid(CollisionRay(0, 0, settings.step_up + 0.55, 0, 0, -1))
        ray.setFromCollideMask(FLOOR_MASK)
        ray.setIntoCollideMask(BitMask32.allOff())
        self._floors.addCollider(self.body.attachNewNode(ray), self._floor_hits)
        self.blocked = False
        """Whether the last update's move was undone (no floor, a ledge)."""

    # placement

    def place(self, position, heading: float = 0.0, settle: bool = True) -> None:
        """Stand at `position` (feet) facing `heading` (Panda3D H, degrees)."""
        self.body.setPos(*position)
        self.body.setH(heading)
        self.head.setP(0)
        if settle:
            floor = self.floor_below()
            if floor is not None:
                self.body.setZ(floor)

    @property
    def position(self) -> tuple[float, float, float]:
        p = self.body.getPos(self.world)
        return (p.x, p.y, p.z)

    @property
    def heading(self) -> float:
        return self.body.getH(self.world)

    def look(self, d_heading: float, d_pitch: float) -> None:
        """Turn the body and pitch the head (degrees)."""
        self.body.setH(self.body.getH() + d_heading)
        limit = self.settings.max_pitch
        self.head.setP(max(-limit, min(limit, self.head.getP() + d_pitch)))

    # per frame

    def update(self, dt: float, intent: WalkInput) -> None:
        """Move by `intent` for `dt` seconds, respecting walls, floors and ledges."""
        s = self.settings
        dt = min(max(dt, 0.0), 0.1)  # a long hitch must not tunnel through a wall
        if intent.turn:
            self.body.setH(self.body.getH() + intent.turn * s.turn_speed * dt)
        start = self.body.getPos()
        move = Vec3(intent.strafe, intent.forward, 0)
        if move.lengthSquared() > 1:
            move.normalize()
        distance = s.speed * (s.run_factor if intent.run else 1.0) * dt
        if move.lengthSquared() == 0:
            self.blocked = False
            return
        step = self.world.getRelativeVector(self.body, move) * distance
        self.body.setPos(start + Vec3(step.x, step.y, 0))
        self._walls.traverse(self.world)
        floor = self.floor_below()
        if floor is None or floor < start.z - s.max_drop:
            self.body.setPos(start)
            self.blocked = True
            return
        self.body.setZ(floor)
        self.blocked = False

    def floor_below(self) -> float | None:
        """Height of the highest floor under the body within reach of a step, or None."""
        self._floors.traverse(self.world)
        feet = self.body.getZ(self.world)
        best = None
        for i in range(self._floor_hits.getNumEntries()):
            z = self._floor_hits.getEntry(i).getSurfacePoint(self.world).z
            if z <= feet + self.settings.step_up + 1e-4 and (best is None or z > best):
                best = z
        return best

    def remove(self) -> None:
        self.body.removeNode()


# --- doorways ---------------------------------------------------------------------


def forward_of(heading: float) -> tuple[float, float]:
    """Unit floor vector a Panda3D heading faces (H=0: +Y north, H=90: -X west)."""
    rad = math.radians(heading)
    return (-math.sin(rad), math.cos(rad))


def at_doorway(door: Doorway, position, reach: float = 0.45) -> bool:
    """Whether `position` stands in the doorway's opening, within `reach` of its wall line.

    A doorway's heading faces into its room, so leaving means moving against it.
    """
    fx, fy = forward_of(door.heading)
    dx, dy = position[0] - door.position[0], position[1] - door.position[1]
    depth = dx * fx + dy * fy  # metres into the room
    lateral = abs(-dx * fy + dy * fx)
    return -reach <= depth <= reach and lateral <= door.width / 2


def arrival(door: Doorway, inside: float = 1.0) -> tuple[tuple[float, float, float], float]:
    """Where to stand entering through `door`: a metre into its room, facing in."""
    fx, fy = forward_of(door.heading)
    x, y, z = door.position
    return (x + fx * inside, y + fy * inside, z), door.heading


def look_at_heading(origin, target) -> float:
    """Panda3D heading from `origin` toward `target` on the floor plane."""
    dx, dy = target[0] - origin[0], target[1] - origin[1]
    return math.degrees(math.atan2(-dx, dy))
