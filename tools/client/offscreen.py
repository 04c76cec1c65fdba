"""Rendering without a display: PRC settings, the offscreen run, and hall thumbnails.

`offscreen_prc` configures Panda3D for an offscreen buffer on
`p3tinydisplay` (software, fixed-function, same pixels every run: the bams
are display-referred, see `scenes.emit_bam`) or `p3headlessgl` (Mesa EGL;
shaders and sRGB).  `run_offscreen` steps the client until the hall is fully
streamed (or a timeout), lingers if asked (presence), and saves a screenshot.

`render_hall_thumbnail(manifest, objects_dir, out)` is the catalog's
thumbnail: the same client, in a child process (ShowBase is one per
process), reading objects from a folder instead of a server, seen from the
hall's spawn point.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

DISPLAYS = ("p3tinydisplay", "p3headlessgl")
DEFAULT_DISPLAY = "p3tinydisplay"
THUMBNAIL_SIZE = (480, 300)
SETTLE_FRAMES = 3
"""Frames rendered after loading before the screenshot (text and lights settle)."""


def offscreen_prc(display: str = DEFAULT_DISPLAY, size: tuple[int, int] = (1280, 720)) -> str:
    """PRC lines for an offscreen ShowBase on `display`."""
    if display not in DISPLAYS:
        raise ValueError(f"offscreen: display must be one of {', '.join(DISPLAYS)}, got {display!r}")
    return "\n".join(
        [
            "window-type offscreen",
            f"load-display {display}",
            "aux-display",
            "audio-library-name null",
            f"win-size {size[0]} {size[1]}",
            "sync-video false",
            "model-cache-dir",
            "notify-level-display error",
            "notify-level-glgsg error",
            "framebuffer-srgb false",
        ]
    )


def window_prc(size: tuple[int, int]) -> str:
    """PRC lines for a desktop window."""
    return "\n".join(
        [
            f"win-size {size[0]} {size[1]}",
            "window-title 屯兰VR展厅",
            "audio-library-name null",
            "model-cache-dir",
            "sync-video true",
        ]
    )


def run_offscreen(base, client, screenshot: Path | None, timeout: float, linger: float = 0.0) -> int:
    """Step frames until the hall is streamed; linger; save `screenshot`.  The exit status."""
    deadline = time.monotonic() + timeout
    while not client.settled and client.exit_code is None:
        if time.monotonic() > deadline:
            client.notice(f"the hall was not fully loaded within {timeout:.0f} s", error=True)
            break
        base.taskMgr.step()
    if client.exit_code is not None:
        return client.exit_code
    for _ in range(SETTLE_FRAMES):
        base.taskMgr.step()
    end = time.monotonic() + linger
    while time.monotonic() < end:
        base.taskMgr.step()
        time.sleep(0.01)
    if screenshot is not None:
        if client.scene is None or not client.scene.loaded:
            client.notice("nothing was loaded: no screenshot written", error=True)
            return 1
        path = client.screenshot(screenshot)
        log.info("wrote %s", path)
    complete = client.manifest is not None and client.scene.loaded == len(client.manifest.chunks)
    return 0 if complete else 1


def render_hall_thumbnail(
    manifest: Mapping | Path,
    objects_dir: Path,
    out: Path,
    *,
    size: tuple[int, int] = THUMBNAIL_SIZE,
    display: str = DEFAULT_DISPLAY,
    timeout: float = 120.0,
) -> Path:
    """Render a hall (manifest dict or file; chunks from `objects_dir`) from its spawn point to PNG `out`.

    Raises `RuntimeError` with the renderer's last messages when it fails.
    """
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="thumbnail-") as tmp:
        if isinstance(manifest, Mapping):
            manifest_path = Path(tmp) / "manifest.json"
            manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
            hall_id = manifest["id"]
        else:
            manifest_path = Path(manifest).resolve()
            hall_id = json.loads(manifest_path.read_text(encoding="utf-8"))["id"]
        argv = [
            sys.executable,
            "-m",
            "tools.client",
            str(manifest_path),
            "--hall",
            hall_id,
            "--objects",
            str(Path(objects_dir).resolve()),
            "--offscreen",
            "--screenshot",
            str(out),
            "--size",
            f"{size[0]}x{size[1]}",
            "--display",
            display,
            "--no-presence",
            "--no-cache",
            "--no-overlay",
        ]
        repo = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=repo)
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"thumbnail of hall {hall_id!r}: the renderer took longer than {timeout:.0f} s"
            ) from None
    if done.returncode != 0 or not out.is_file():
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise RuntimeError(f"thumbnail of hall {hall_id!r}: the renderer failed (exit {done.returncode}):\n{tail}")
    return out
