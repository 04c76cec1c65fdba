"""The Panda3D client: stream a hall, walk it, meet others, read exhibits, answer checkpoints.

`HallClient(base, store, options)` runs inside a `ShowBase` (windowed,
offscreen or headset).  `open_hall` starts a `HallStream` (fetching on a
worker thread); each frame the client hands fetched chunks to Panda3D's
asynchronous loader, shows them as they come in, builds their collision
solids a few milliseconds at a time (so the member walks as soon as the
first room is there), moves the walker, follows doorways into other halls,
shows exhibit panels, keeps presence and tour cues going, and updates the
status line.  Every step of a frame is guarded: an error is logged and shown,
never raised into the render loop.  `timeline` records when the manifest,
the first chunk, the first frame with a chunk in it and the fully loaded
hall happened (seconds since `started`).
"""

from __future__ import annotations

import logging
import math
import queue
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from panda3d.core import (
    BitMask32,
    ClockObject,
    CollisionHandlerQueue,
    CollisionNode,
    CollisionRay,
    CollisionTraverser,
    Filename,
    PNMImage,
    Quat,
)

from halls_contract.manifest import Checkpoint, Exhibit, text_of
from tools.client.avatars import Avatars
from tools.client.collision import PICK_MASK, CollisionBuilder
from tools.client.fetch import HttpSource, ObjectStore
from tools.client.manifest import HallManifest
from tools.client.panels import ExhibitPanel, Hud, QuizDialog, load_font
from tools.client.presence import PresenceClient
from tools.client.quiz import QuizApi, member_id
from tools.client.scene import HallScene, sky_colour
from tools.client.stream import ChunkFailed, ChunkFetched, HallStream, ManifestFailed, ManifestReady, StreamEnded
from tools.client.walk import Walker, WalkInput, arrival, at_doorway, look_at_heading

log = logging.getLogger(__name__)

NOTICE_SECONDS = 8.0
EVENTS_PER_FRAME = 4
"""Stream events handled per frame at most."""
COLLISION_BUDGET = 0.006
"""Seconds per frame spent turning loaded chunks into collision solids."""
KEYS = {
    "w": "forward",
    "arrow_up": "forward",
    "s": "back",
    "arrow_down": "back",
    "a": "left",
    "d": "right",
    "arrow_left": "turn_left",
    "arrow_right": "turn_right",
    "shift": "run",
}


@dataclass
class ClientOptions:
    hall: str
    name: str = "访客"
    at_room: str | None = None
    """Room to start in (default: the hall's spawn room)."""
    presence: bool = True
    follow_tour: bool = False
    """Follow a trainer's tour as soon as one starts."""
    language: str = "zh"
    member_id: str | None = None
    """Quiz identity (default: an id kept in the cache folder)."""
    branch: str | None = None
    enrolment_code: str | None = None
    platform: str = "client"
    """`client` or `headset`, reported with quiz attempts."""
    trainer_key: str | None = None
    overlay: bool = True
    """Status line, panels and dialogs (off for thumbnails)."""


@dataclass
class Timeline:
    """Seconds since `started` at which loading milestones happened (None: not yet)."""

    started: float
    manifest: float | None = None
    first_chunk: float | None = None
    first_frame: float | None = None
    """The first frame rendered with a chunk attached: the member can look and walk."""
    loaded: float | None = None
    """The first frame rendered with every chunk attached (or the stream ended)."""
    chunks: list[dict] = field(default_factory=list)

    def mark(self, name: str) -> None:
        if getattr(self, name) is None:
            setattr(self, name, round(time.perf_counter() - self.started, 4))

    def as_json(self) -> dict:
        data = asdict(self)
        del data["started"]
        return data


class HallClient:
    """One member's visit, across halls, inside a ShowBase."""

    def __init__(
        self,
        base,
        store: ObjectStore,
        options: ClientOptions,
        *,
        started: float | None = None,
        interactive: bool = True,
    ) -> None:
        self.base = base
        self.store = store
        self.options = options
        self.interactive = interactive
        self.timeline = Timeline(started if started is not None else time.perf_counter())
        self.world = base.render.attachNewNode("world")
        self.walker = Walker(self.world)
        base.disableMouse()
        base.camera.reparentTo(self.walker.head)
        base.camera.setPosHpr(0, 0, 0, 0, 0, 0)
        base.camLens.setFov(75)
        base.camLens.setNearFar(0.05, 2000.0)
        self.font = load_font(base.loader)
        self.hud = Hud(self.font, base)
        self.panel = ExhibitPanel(self.font, base.aspect2d)
        self.avatars = Avatars(self.world, self.font)
        if not options.overlay:
            base.render2d.hide()
        self.scene: HallScene | None = None
        self.manifest: HallManifest | None = None
        self.stream: HallStream | None = None
        self.reloads: list[HallStream] = []
        self.presence: PresenceClient | None = None
        self.quiz_dialog: QuizDialog | None = None
        self.quiz_api = QuizApi(store.source.base_url) if isinstance(store.source, HttpSource) else None
        self.messages: list[str] = []
        self.failed: list[str] = []
        self.stream_done = False
        self.exit_code: int | None = None
        self.following = False
        self.pinned: Exhibit | None = None
        self.shown: Exhibit | None = None
        self.dismissed: Exhibit | None = None
        """The panel the member closed: it stays closed until they step away from that exhibit."""
        self._notice_until = 0.0
        self._notice = ""
        self._pending_marks: set[str] = set()
        self._door_armed = True
        self._room_id: str | None = None
        self._subtitle_until = 0.0
        self._keys: dict[str, bool] = {}
        self._loading = 0
        self._builds: deque = deque()
        self._mouse_last: tuple[float, float] | None = None
        self._picker: CollisionTraverser | None = None
        base.taskMgr.add(self._frame, "hall-client-frame", sort=10)
        base.taskMgr.add(self._after_render, "hall-client-after-render", sort=60)
        if interactive:
            self._bind_keys()

    # --- halls ----------------------------------------------------------------------

    def open_hall(
        self, hall_id: str, *, from_hall: str | None = None, room: str | None = None, stream: HallStream | None = None
    ) -> None:
        """Stream `hall_id` (or adopt `stream`, started early); the current hall stays until its manifest is in."""
        if self.stream is not None:
            self.stream.cancel()
        self._arrive_from, self._arrive_room = from_hall, room
        self.stream_done = False
        self.stream = stream or HallStream(self.store, hall_id, start_room=room).start()
        self.notice(f"正在打开展馆 {hall_id} …")

    def _on_manifest(self, manifest: HallManifest) -> None:
        if self.scene is not None:
            self.scene.destroy()
        if self.quiz_dialog is not None:
            self.quiz_dialog.destroy()
            self.quiz_dialog = None
        self.panel.hide()
        self.avatars.clear()
        self.manifest = manifest
        self.scene = HallScene(self.world, manifest)
        self.base.setBackgroundColor(*sky_colour(manifest.theme))
        position, heading = self._arrival(manifest, self._arrive_room, self._arrive_from)
        self.walker.place(position, heading, settle=False)
        self._door_armed = self._arrive_from is None
        self.timeline.mark("manifest")
        self.notice(f"欢迎来到{text_of(manifest.title, self.options.language) or manifest.id}")
        self._start_presence(manifest.id)

    def _arrival(self, manifest: HallManifest, room: str | None, from_hall: str | None):
        """Feet position and heading for a member entering the hall."""
        if from_hall is not None:
            for door in manifest.doorways:
                if door.to_hall == from_hall:
                    return arrival(door)
        if room is not None and room != manifest.spawn.room:
            manifest.room(room)  # raises with the list of rooms
            for door in manifest.doorways:
                if door.room == room and door.to_room is not None:
                    return arrival(door, inside=1.2)
                if door.to_room == room:
                    (x, y, z), heading = arrival(door, inside=-1.2)
                    return (x, y, z), (heading + 180) % 360
            centre = manifest.room(room).bounds.centre
            return (centre[0], centre[1], manifest.room(room).bounds.min[2]), 0.0
        return manifest.spawn.position, manifest.spawn.heading

    # --- the frame ------------------------------------------------------------------

    def _frame(self, task):
        dt = ClockObject.getGlobalClock().getDt()
        now = time.monotonic()
        for step in (
            self._drain,
            self._build_collision,
            lambda: self._walk(dt),
            self._doorways,
            self._exhibits,
            lambda: self._presence_tick(dt, now),
            self._dialog_tick,
            lambda: self._hud(now),
        ):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - nothing may stop the render loop
                log.exception("frame step failed")
                self.notice(f"内部错误：{type(exc).__name__}: {exc}")
        return task.cont

    def _after_render(self, task):
        for name in sorted(self._pending_marks):
            self.timeline.mark(name)
        self._pending_marks.clear()
        return task.cont

    @property
    def settled(self) -> bool:
        """The hall's stream ended and everything it delivered is shown and collidable."""
        return self.stream_done and self._loading == 0 and not self._builds

    def _drain(self) -> None:
        streams = ([self.stream] if self.stream is not None else []) + self.reloads
        handled = 0
        for stream in streams:
            while handled < EVENTS_PER_FRAME:
                try:
                    event = stream.events.get_nowait()
                except queue.Empty:
                    break
                handled += 1
                self._handle(stream, event)

    def _handle(self, stream: HallStream, event) -> None:
        """Apply one stream event."""
        reload = stream is not self.stream
        if isinstance(event, ManifestReady):
            if reload:
                self.manifest = event.manifest
                if self.scene is not None:
                    self.scene.manifest = event.manifest
            else:
                self._on_manifest(event.manifest)
            return
        if isinstance(event, ManifestFailed):
            self.notice(event.message, error=True)
            if reload:
                self.reloads.remove(stream)
            else:
                self.stream = None
                self.stream_done = True
                if self.scene is None:
                    self.exit_code = 1
                else:
                    self._door_armed = False  # stay; do not bounce at the doorway again at once
            return
        if self.manifest is None or stream.hall_id != self.manifest.id:
            return
        if isinstance(event, ChunkFetched):
            self._load(event)
        elif isinstance(event, ChunkFailed):
            self.failed.append(event.message)
            self.notice(event.message, error=True)
        elif isinstance(event, StreamEnded):
            if reload:
                self.reloads.remove(stream)
            else:
                self.stream_done = True
            if event.message:
                self.notice(event.message, error=True)
            else:
                log.info("hall %s: %d chunks fetched", event.hall_id, event.fetched)

    def _load(self, event: ChunkFetched) -> None:
        """Load a fetched chunk with Panda3D's asynchronous loader; show it when it is in."""
        assert self.manifest is not None, "_handle passes on chunks of the current manifest's hall only"
        hall_id, chunk = self.manifest.id, event.chunk
        self._loading += 1

        def loaded(model) -> None:
            self._loading -= 1
            try:
                self._show(hall_id, chunk, model, event.seconds)
            except Exception as exc:  # noqa: BLE001 - a callback error must not reach the task manager
                log.exception("chunk %s", chunk.id)
                self.notice(f"chunk {chunk.id!r} skipped: {type(exc).__name__}: {exc}", error=True)

        self.base.loader.loadModel(
            Filename.fromOsSpecific(str(event.path)), noCache=True, okMissing=True, callback=loaded
        )

    def _show(self, hall_id: str, chunk, model, fetch_seconds: float) -> None:
        if self.scene is None or self.manifest is None or self.manifest.id != hall_id:
            if model is not None:
                model.removeNode()
            return
        if model is None:
            message = f"chunk {chunk.id!r} skipped: {chunk.bam.name} is not a readable Panda3D scene"
            self.failed.append(message)
            self.notice(message, error=True)
            return
        self.scene.attach(chunk.id, model)
        self.timeline.mark("first_chunk")
        self._pending_marks.add("first_frame")
        self.timeline.chunks.append(
            {
                "id": chunk.id,
                "fetch_seconds": round(fetch_seconds, 4),
                "at": round(time.perf_counter() - self.timeline.started, 4),
            }
        )
        self._builds.append((hall_id, chunk.id, CollisionBuilder(model)))

    def _build_collision(self) -> None:
        """Spend this frame's budget on collision solids, oldest chunk first."""
        deadline = time.perf_counter() + COLLISION_BUDGET
        while self._builds and time.perf_counter() < deadline:
            hall_id, chunk_id, builder = self._builds[0]
            if self.scene is None or self.manifest is None or self.manifest.id != hall_id:
                self._builds.popleft()
                builder.root.removeNode()
                continue
            if not builder.step(max(0.0, deadline - time.perf_counter())):
                break
            self._builds.popleft()
            if self.scene.attach_solids(chunk_id, builder.root) and self.walker.floor_below() is not None:
                self.walker.place(self.walker.position, self.walker.heading)
        if self.settled and self.scene is not None and self.timeline.loaded is None:
            self._pending_marks.add("loaded")

    # --- walking --------------------------------------------------------------------

    def _bind_keys(self) -> None:
        for key, action in KEYS.items():
            self.base.accept(key, self._keys.__setitem__, [action, True])
            self.base.accept(f"{key}-up", self._keys.__setitem__, [action, False])
        self.base.accept("mouse1", self._click)
        self.base.accept("e", self._toggle_panel)
        self.base.accept("q", self._open_nearest_quiz)
        self.base.accept("f", self.toggle_follow)
        self.base.accept("escape", self._escape)
        for number in range(1, 7):
            self.base.accept(str(number), self._choose_option, [number])

    def _walk(self, dt: float) -> None:
        if self.scene is None:
            return
        keys = self._keys
        if self.quiz_dialog is not None:
            intent = WalkInput()
        else:
            intent = WalkInput(
                forward=keys.get("forward", False) - keys.get("back", False),
                strafe=keys.get("right", False) - keys.get("left", False),
                turn=keys.get("turn_left", False) - keys.get("turn_right", False),
                run=keys.get("run", False),
            )
        self._mouse_look()
        self.walker.update(dt, intent)
        assert self.manifest is not None, "the scene is made from a manifest (_on_manifest sets both)"
        room = self.manifest.room_at(self.walker.position)
        if room is not None:
            self._room_id = room.id

    def _mouse_look(self) -> None:
        watcher = getattr(self.base, "mouseWatcherNode", None)
        if watcher is None or not watcher.hasMouse() or not watcher.isButtonDown("mouse3"):
            self._mouse_last = None
            return
        mouse = (watcher.getMouseX(), watcher.getMouseY())
        if self._mouse_last is not None:
            self.walker.look(-(mouse[0] - self._mouse_last[0]) * 90, (mouse[1] - self._mouse_last[1]) * 60)
        self._mouse_last = mouse

    def _doorways(self) -> None:
        if self.manifest is None or self.scene is None:
            return
        position = self.walker.position
        inside = [d.to_hall for d in self.manifest.doorways if d.to_hall and at_doorway(d, position)]
        if not inside:
            self._door_armed = True
            return
        if self._door_armed and (self.stream is None or self.settled):
            self._door_armed = False
            self.open_hall(inside[0], from_hall=self.manifest.id)

    # --- exhibits and checkpoints ---------------------------------------------------

    def _exhibits(self) -> None:
        if self.manifest is None:
            return
        x, y, _ = self.walker.position
        if self.pinned is not None:
            e = self.pinned
            if math.hypot(e.position[0] - x, e.position[1] - y) > max(4.0, e.radius * 2):
                self.pinned = None
        if self.dismissed is not None:
            e = self.dismissed
            if math.hypot(e.position[0] - x, e.position[1] - y) > e.radius:
                self.dismissed = None
        nearest = None
        best = math.inf
        for exhibit in self.manifest.exhibits:
            d = math.hypot(exhibit.position[0] - x, exhibit.position[1] - y)
            if d <= exhibit.radius and d < best and text_of(exhibit.text) and exhibit is not self.dismissed:
                nearest, best = exhibit, d
        shown = self.pinned or nearest
        self.shown = shown
        if shown is not None:
            self.panel.show(shown, self.options.language)
        elif self.panel.visible:
            self.panel.hide()
        checkpoint = self.nearest_checkpoint()
        if self.quiz_dialog is None and checkpoint is not None:
            self.hud.set_hint(f"按 Q 开始答题：{text_of(checkpoint.title)}")
        else:
            self.hud.set_hint("")

    def nearest_checkpoint(self) -> Checkpoint | None:
        if self.manifest is None:
            return None
        x, y, _ = self.walker.position
        for checkpoint in self.manifest.checkpoints:
            if math.hypot(checkpoint.position[0] - x, checkpoint.position[1] - y) <= checkpoint.radius + 0.5:
                return checkpoint
        return None

    def exhibit_for_node(self, name: str) -> Exhibit | Checkpoint | None:
        if self.manifest is None:
            return None
        for exhibit in self.manifest.exhibits:
            if exhibit.node == name:
                return exhibit
        for checkpoint in self.manifest.checkpoints:
            if name == f"{checkpoint.room}/exhibit/{checkpoint.id}":
                return checkpoint
        return None

    def pick(self, origin, direction) -> bool:
        """Open what a ray from `origin` along `direction` (world) hits first; whether it hit one."""
        if self.scene is None:
            return False
        if self._picker is None:
            node = CollisionNode("pick")
            self._ray = CollisionRay()
            node.addSolid(self._ray)
            node.setFromCollideMask(PICK_MASK)
            node.setIntoCollideMask(BitMask32.allOff())
            self._pick_np = self.world.attachNewNode(node)
            self._pick_hits = CollisionHandlerQueue()
            self._picker = CollisionTraverser("pick")
            self._picker.addCollider(self._pick_np, self._pick_hits)
        self._ray.setOrigin(self.world.getRelativePoint(self.base.render, origin))
        self._ray.setDirection(self.world.getRelativeVector(self.base.render, direction))
        self._picker.traverse(self.scene.root)
        self._pick_hits.sortEntries()
        if self._pick_hits.getNumEntries() == 0:
            return False
        entry = self._pick_hits.getEntry(0)
        if (entry.getSurfacePoint(self.world) - self.walker.head.getPos(self.world)).length() > 8:
            return False  # too far away to read
        target = self.exhibit_for_node(entry.getIntoNodePath().getParent().getName())
        if isinstance(target, Checkpoint):
            self.open_quiz(target)
            return True
        if isinstance(target, Exhibit):
            self.pinned = target
            self.panel.show(target, self.options.language)
            return True
        return False

    def teleport(self, origin, direction) -> None:
        """Stand where a ray from `origin` along `direction` (world) meets a floor, if it does within 10 m."""
        if self.scene is None or direction[2] >= -0.05:
            return
        t = (self.walker.body.getZ(self.base.render) - origin[2]) / direction[2]
        if 0 < t < 10 / max(1e-6, math.hypot(direction[0], direction[1])):
            target = (origin[0] + direction[0] * t, origin[1] + direction[1] * t, self.walker.position[2])
            previous = self.walker.position
            self.walker.place(target, self.walker.heading)
            if self.walker.floor_below() is None:
                self.walker.place(previous, self.walker.heading)

    def _click(self) -> None:
        watcher = getattr(self.base, "mouseWatcherNode", None)
        if self.quiz_dialog is not None or watcher is None or not watcher.hasMouse():
            return
        from panda3d.core import Point3

        near, far = Point3(), Point3()
        self.base.camLens.extrude(watcher.getMouse(), near, far)
        render = self.base.render
        origin = render.getRelativePoint(self.base.cam, near)
        direction = render.getRelativeVector(self.base.cam, far - near)
        self.pick(origin, direction)

    def _toggle_panel(self) -> None:
        """Close the open panel (Esc or E); walking up to another exhibit opens that one."""
        if self.panel.visible:
            self.dismissed = self.shown
            self.pinned = None
            self.panel.hide()

    def _escape(self) -> None:
        if self.quiz_dialog is not None:
            self.quiz_dialog.close()
        elif self.panel.visible:
            self._toggle_panel()
        else:
            self.exit_code = 0
            self.base.taskMgr.stop()

    def _choose_option(self, number: int) -> None:
        if self.quiz_dialog is not None:
            self.quiz_dialog.choose_index(number)

    def _open_nearest_quiz(self) -> None:
        checkpoint = self.nearest_checkpoint()
        if checkpoint is not None:
            self.open_quiz(checkpoint)

    def open_quiz(self, checkpoint: Checkpoint) -> None:
        if self.quiz_dialog is not None:
            return
        api = self.quiz_api
        if api is None:
            self.notice("答题需要连接展馆服务器。", error=True)
            return
        assert self.manifest is not None, "checkpoints come from the current manifest"
        hall_id = self.manifest.id

        def submit(answers: dict):
            if api.token is None:
                api.open_session(
                    self.options.member_id or member_id(self.store.cache.root if self.store.cache else Path(".")),
                    self.options.name,
                    self.options.branch,
                    self.options.enrolment_code,
                )
            return api.submit(hall_id, checkpoint.id, answers, platform=self.options.platform)

        def closed() -> None:
            self.quiz_dialog = None

        self.quiz_dialog = QuizDialog(self.font, self.base.aspect2d, checkpoint, submit, closed)

    def _dialog_tick(self) -> None:
        if self.quiz_dialog is not None:
            self.quiz_dialog.tick()

    # --- presence and tours ---------------------------------------------------------

    def _start_presence(self, hall_id: str) -> None:
        if self.presence is not None:
            self.presence.stop(timeout=1.0)
            self.presence = None
        source = self.store.source
        if not self.options.presence or not isinstance(source, HttpSource):
            return
        role = "trainer" if self.options.trainer_key else "member"
        self.presence = PresenceClient(
            source.base_url, hall_id, self.options.name, role=role, key=self.options.trainer_key
        ).start()

    def _presence_tick(self, dt: float, now: float) -> None:
        presence = self.presence
        if presence is None:
            return
        if self._room_id is not None and self.scene is not None and self.scene.loaded:
            presence.set_pose(
                self._room_id, self.walker.position, head_quaternion(self.walker.head.getQuat(self.world))
            )
        for kind, data in presence.poll():
            if kind in ("welcome", "joined", "left"):
                self.avatars.roster(kind, data)
                if kind == "welcome" and data.get("tour") and self.options.follow_tour:
                    presence.send({"type": "follow", "on": True})
            elif kind == "poses":
                self.avatars.update(data, now)
            elif kind == "tour":
                self._tour(data)
            elif kind == "reload":
                self._reload(data)
            elif kind == "status":
                self.notice(data)
            elif kind == "error":
                self.notice(f"服务器：{data.get('text')}", error=True)
        self.avatars.tick(dt, now)

    def toggle_follow(self) -> None:
        if self.presence is not None:
            self.presence.send({"type": "follow", "on": not self.following})

    def _tour(self, cue: dict) -> None:
        event = cue.get("event")
        leader = (cue.get("leader") or {}) if isinstance(cue.get("leader"), dict) else {}
        if event == "start":
            self.notice(f"{leader.get('name', '讲解员')} 开始导览，按 F 跟随")
            if self.options.follow_tour and self.presence is not None:
                self.presence.send({"type": "follow", "on": True})
        elif event == "following":
            self.following = bool(cue.get("on"))
            self.notice("正在跟随导览" if self.following else "已停止跟随导览")
            if self.following and cue.get("last"):
                self._tour(cue["last"])
        elif event == "goto" and self.following:
            self._go_to_exhibit(cue.get("exhibit"), cue.get("p"))
        elif event == "gather" and self.following and cue.get("p"):
            self.walker.place(tuple(cue["p"]), self.walker.heading)
        elif event == "narrate":
            self.hud.set_subtitle(str(cue.get("text", "")))
            self._subtitle_until = time.monotonic() + 12
        elif event == "end":
            self.following = False
            self.notice("导览结束")

    def _go_to_exhibit(self, exhibit_id: str | None, p) -> None:
        manifest = self.manifest
        assert manifest is not None, "tour cues come from the hub, which is joined once a manifest is in"
        exhibit = next((e for e in manifest.exhibits if e.id == exhibit_id), None)
        if exhibit is None and not p:
            return
        target = exhibit.position if exhibit else tuple(p)
        room = manifest.room(exhibit.room) if exhibit else manifest.room_at(target)
        cx, cy, _ = room.bounds.centre if room else (target[0], target[1] - 2, 0)
        dx, dy = cx - target[0], cy - target[1]
        length = math.hypot(dx, dy) or 1.0
        stand = (target[0] + dx / length * 1.8, target[1] + dy / length * 1.8, target[2])
        self.walker.place(stand, look_at_heading(stand, target))
        if exhibit is not None:
            self.pinned = exhibit

    def _reload(self, data: dict) -> None:
        if self.manifest is None or data.get("hall") not in (None, self.manifest.id):
            return
        changed = set(data.get("chunks") or [])
        self.notice("展馆已更新，正在载入新内容……")
        self.reloads.append(HallStream(self.store, self.manifest.id, only_ids=changed or None).start())

    # --- status ---------------------------------------------------------------------

    def notice(self, text: str, error: bool = False) -> None:
        (log.warning if error else log.info)("%s", text)
        self.messages.append(text)
        self._notice = text
        self._notice_until = time.monotonic() + NOTICE_SECONDS

    def _hud(self, now: float) -> None:
        parts = []
        if self.manifest is not None:
            parts.append(text_of(self.manifest.title, self.options.language) or self.manifest.id)
            if self._room_id is not None:
                try:
                    parts.append(text_of(self.manifest.room(self._room_id).title, self.options.language))
                except ValueError:
                    pass
            loaded = self.scene.loaded if self.scene else 0
            if loaded < len(self.manifest.chunks):
                parts.append(f"已加载 {loaded}/{len(self.manifest.chunks)}")
        line = " · ".join(p for p in parts if p)
        if now < self._notice_until:
            line += f"\n{self._notice}"
        self.hud.set_status(line)
        if self._subtitle_until and now > self._subtitle_until:
            self.hud.set_subtitle("")
            self._subtitle_until = 0.0

    # --- offscreen helpers ----------------------------------------------------------

    def screenshot(self, out: Path) -> Path:
        """Render a frame and write the window or buffer to `out` (PNG)."""
        self.base.graphicsEngine.renderFrame()
        self.base.graphicsEngine.renderFrame()
        image = PNMImage()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not self.base.win.getScreenshot(image) or not image.write(Filename.fromOsSpecific(str(out))):
            raise RuntimeError(f"could not write the screenshot {out}")
        return out

    def report(self) -> dict:
        manifest = self.manifest
        return {
            "hall": manifest.id if manifest else self.options.hall,
            "loaded": self.scene.loaded if self.scene else 0,
            "total": len(manifest.chunks) if manifest else None,
            "room": self._room_id,
            "position": [round(v, 3) for v in self.walker.position],
            "fetched": [asdict(r) for r in self.store.log.snapshot()],
            "failed": self.failed,
            "messages": self.messages,
            "timeline": self.timeline.as_json(),
        }

    def close(self) -> None:
        for stream in [self.stream, *self.reloads]:
            if stream is not None:
                stream.cancel()
        if self.presence is not None:
            self.presence.stop(timeout=1.0)
            self.presence = None
        self.base.taskMgr.remove("hall-client-frame")
        self.base.taskMgr.remove("hall-client-after-render")


def head_quaternion(quat: Quat) -> tuple[float, float, float, float]:
    """Panda3D's (r, i, j, k) as the hub's (x, y, z, w)."""
    return (quat.getI(), quat.getJ(), quat.getK(), quat.getR())
