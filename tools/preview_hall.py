"""Preview a built hall: pick a room, place a camera inside it, render offscreen to PNG."""

from __future__ import annotations

import json
from pathlib import Path

from tools.preview import render_preview

EYE_HEIGHT = 1.6


THUMBNAIL_SIZE = (480, 300)


def preview_hall(
    root: Path, hall_id: str, out: Path, *, room: str | None = None, size: tuple[int, int] = (960, 600)
) -> Path:
    """Render the published hall `hall_id` from inside `room` (default: the spawn room)."""
    build = Path(root) / "build"
    return render_room(load_manifest(build, hall_id), build / "objects", out, room=room, size=size)


def render_thumbnail(manifest: dict, objects_dir: Path, out: Path) -> Path:
    """The catalog picture: the hall's first diorama room if it has one (the most telling view), else its spawn room."""
    dioramas = [e["room"] for e in manifest["exhibits"] if e["kind"] == "diorama"]
    return render_room(manifest, objects_dir, out, room=dioramas[0] if dioramas else None, size=THUMBNAIL_SIZE)


def render_room(
    manifest: dict, objects_dir: Path, out: Path, *, room: str | None = None, size: tuple[int, int] = (960, 600)
) -> Path:
    """Render a hall's chunks from a camera placed in `room` (default: the spawn room)."""
    room_id = room or manifest["spawn"]["room"]
    rooms = {r["id"]: r for r in manifest["rooms"]}
    if room_id not in rooms:
        raise KeyError(f"hall '{manifest['id']}' has no room '{room_id}' (rooms: {', '.join(rooms)})")
    camera, target = camera_for_room(rooms[room_id])
    if rooms[room_id]["shape"] == "open":
        camera, target = overview_for_room(rooms[room_id])
    bams = [Path(objects_dir) / chunk["objects"]["bam"]["name"] for chunk in manifest["chunks"]]
    return render_preview(bams, camera_pos=camera, look_at=target, theme=manifest["theme"], size=size, out=out)


def load_manifest(build: Path, hall_id: str) -> dict:
    path = build / "current" / "halls" / hall_id / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"no built hall '{hall_id}' in {build} (run 'halls build' first)")
    return json.loads(path.read_text(encoding="utf-8"))


def camera_for_room(room: dict) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Stand in the south-west of the room, a little above eye height, looking north-east across it.

    Off the centre line, so a centred exhibit does not fill the view.
    """
    (x0, y0, _), (x1, y1, z1) = room["bounds"]["min"], room["bounds"]["max"]
    width, depth = x1 - x0, y1 - y0
    eye = min(EYE_HEIGHT + 0.6, z1 - 0.3)
    camera = (x0 + width * 0.3, y0 + 0.5, eye)
    target = (x0 + width * 0.55, y0 + depth * 0.8, EYE_HEIGHT * 0.8)
    return camera, target


def overview_for_room(room: dict) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Open-air rooms hold terrain taller than a person: look down from above the south edge."""
    (x0, y0, _), (x1, y1, z1) = room["bounds"]["min"], room["bounds"]["max"]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    height = max(z1, 6.0) + (y1 - y0) * 0.25
    return (cx, y0 + 0.5, height), (cx, cy + (y1 - y0) * 0.1, 0.0)
