"""Preview a built hall: pick a room, place a camera inside it, render offscreen to PNG."""

from __future__ import annotations

import json
from pathlib import Path

from tools.preview import render_preview

EYE_HEIGHT = 1.6


def preview_hall(root: Path, hall_id: str, out: Path, *, room: str | None = None,
                 size: tuple[int, int] = (960, 600)) -> Path:
    """Render the published hall `hall_id` from inside `room` (default: the spawn room)."""
    build = Path(root) / "build"
    manifest = load_manifest(build, hall_id)
    room_id = room or manifest["spawn"]["room"]
    rooms = {r["id"]: r for r in manifest["rooms"]}
    if room_id not in rooms:
        raise KeyError(f"hall '{hall_id}' has no room '{room_id}' (rooms: {', '.join(rooms)})")
    camera, target = camera_for_room(rooms[room_id])
    bams = [build / "objects" / chunk["objects"]["bam"]["name"] for chunk in manifest["chunks"]]
    return render_preview(bams, camera_pos=camera, look_at=target, theme=manifest["theme"], size=size, out=out)


def load_manifest(build: Path, hall_id: str) -> dict:
    path = build / "current" / "halls" / hall_id / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"no built hall '{hall_id}' in {build} (run 'halls build' first)")
    return json.loads(path.read_text(encoding="utf-8"))


def camera_for_room(room: dict) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Stand near the south wall at eye height, looking north across the room."""
    (x0, y0, _), (x1, y1, z1) = room["bounds"]["min"], room["bounds"]["max"]
    cx = (x0 + x1) / 2
    eye = min(EYE_HEIGHT, z1 - 0.3)
    camera = (cx, y0 + 0.6, eye + 0.4)
    target = (cx, y0 + (y1 - y0) * 0.75, eye * 0.8)
    return camera, target
