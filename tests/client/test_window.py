"""The client in its default mode: a real window on an X display, walked with the keyboard.

Xvfb is the display (it picks a free display number itself, `-displayfd`),
the client is `python -m tools.cli client URL --hall alpha` with no
`--offscreen` (Panda3D's default pandagl, on Mesa's software GLX), and
xdotool focuses its window and holds `W` the way a member would.  What the
member does is checked the way another member notices it: a WebSocket peer in
the same hall sees the avatar 窗口 walk north from the spawn point until the
entrance's north wall stops it, and then stays inside the room.  A screenshot
of the window at the end shows the hall drawn (the wall ahead, not sky).

Needs the Debian packages xvfb and xdotool (tools/setup-system.sh installs
them): skipped without them, but failed under `CI=true`.
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.client.conftest import manifest_of
from tests.client.test_presence import Peer, is_pose_at
from tests.conftest import ROOT
from tools.client.manifest import HallManifest
from tools.client.scene import sky_colour

TOOLS = (("Xvfb", "xvfb"), ("xdotool", "xdotool"))
WALK_TIMEOUT = 20.0
"""Seconds `W` may take to carry the member 3 m north (about 1.7 s at walking speed)."""
PUSH_SECONDS = 1.0
"""`W` stays held this long against the north wall, which must hold."""


def _require_tools() -> None:
    missing = [f"{binary} (Debian package {package})" for binary, package in TOOLS if shutil.which(binary) is None]
    if not missing:
        return
    reason = f"the windowed client test needs {', '.join(missing)}: run tools/setup-system.sh"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def x_display(tmp_path):
    """A fresh Xvfb display (":N"), stopped afterwards; Xvfb writes N to a pipe once it accepts clients."""
    _require_tools()
    read, write = os.pipe()
    with open(tmp_path / "xvfb.log", "wb") as log:
        process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    os.close(write)
    try:
        number = b""
        deadline = time.monotonic() + 10
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(read, 16) if ready else b""
            if not chunk:
                pytest.fail(f"Xvfb did not start:\n{(tmp_path / 'xvfb.log').read_text(errors='replace')}")
            number += chunk
        yield f":{int(number)}"
    finally:
        os.close(read)
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def xdotool(display: str, *args: str, check: bool = True) -> str:
    """Run `xdotool ARGS` on `display`; its output.  `check`: fail the test on a non-zero exit."""
    done = subprocess.run(
        ["xdotool", *args], capture_output=True, text=True, timeout=10, env={**os.environ, "DISPLAY": display}
    )
    if check and done.returncode != 0:
        pytest.fail(f"xdotool {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.strip()


async def client_window(display: str, client: subprocess.Popen, log: Path, timeout: float = 30.0) -> str:
    """The id of the client's X window (found by its `_NET_WM_PID`), once it is mapped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = xdotool(display, "search", "--onlyvisible", "--pid", str(client.pid), check=False)
        if found:
            return found.split()[0]
        if client.poll() is not None:
            break
        await asyncio.sleep(0.1)
    pytest.fail(f"no client window on {display} (client exit {client.poll()}):\n{log.read_text(errors='replace')}")


def screen(display: str, window: str):
    """The window's pixels as an X client sees them (Pillow reads the display through XCB)."""
    from PIL import ImageGrab

    geometry = dict(line.split("=") for line in xdotool(display, "getwindowgeometry", "--shell", window).splitlines())
    x, y, width, height = (int(geometry[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    return ImageGrab.grab(bbox=(x, y, x + width, y + height), xdisplay=display)


async def last_pose(peer: Peer, member: int, quiet: float = 1.0):
    """The member's latest pose once the peer has heard nothing new about it for `quiet` seconds."""
    count = -1
    while True:
        mine = [r for r in peer.poses if int(r["id"]) == member]
        if len(mine) == count:
            return mine[-1]
        count = len(mine)
        try:
            await peer.expect(lambda r: False, timeout=quiet)  # records what arrives meanwhile
        except (AssertionError, TimeoutError):
            pass


def north_of(member: int, y: float):
    return lambda r: not isinstance(r, dict) and int(r["id"]) == member and r["y"] / 100 >= y


def sky_share(image, theme) -> float:
    """The share of the image's pixels in the hall's sky colour (what shows where no hall is drawn)."""
    sky = [round(c * 255) for c in sky_colour(theme)[:3]]
    colours = image.getcolors(image.width * image.height)
    near = sum(n for n, rgb in colours if all(abs(a - b) <= 3 for a, b in zip(rgb, sky)))
    return near / (image.width * image.height)


def test_windowed_client_walks_while_w_is_held_and_the_wall_stops_it(project, start_hall_server, x_display, tmp_path):
    server = start_hall_server(project)
    alpha = HallManifest.parse(manifest_of(project, "alpha"))
    entrance = alpha.room("entrance").bounds  # x -5..5, y -4..4 with 0.2 m walls; spawn (0, 0) faces north
    log = tmp_path / "client.log"

    async def scenario():
        peer = await Peer.join(server.url)
        with open(log, "wb") as output:
            client = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tools.cli",
                    "client",
                    server.url,
                    "--hall",
                    "alpha",
                    "--name",
                    "窗口",
                    "--size",
                    "640x400",
                    "--cache",
                    str(tmp_path / "cache"),
                ],
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "DISPLAY": x_display, "PYTHONPATH": str(ROOT)},
            )
        try:
            joined = await peer.expect(
                lambda m: isinstance(m, dict) and m.get("type") == "joined" and m["members"][0]["name"] == "窗口",
                timeout=60,
            )  # a slow start under load
            member = joined["members"][0]["id"]
            await peer.expect(is_pose_at(member, 0.0, 0.0), timeout=30)  # in the hall, at the spawn point
            window = await client_window(x_display, client, log)
            xdotool(x_display, "windowfocus", "--sync", window)
            xdotool(x_display, "keydown", "w")
            try:
                await peer.expect(north_of(member, 3.0), timeout=WALK_TIMEOUT)
                await asyncio.sleep(PUSH_SECONDS)
            except (AssertionError, TimeoutError):
                seen = [round(float(r["y"]) / 100, 2) for r in peer.poses if int(r["id"]) == member]
                pytest.fail(
                    f"W held {WALK_TIMEOUT:.0f} s: the member's y went {seen}\n{log.read_text(errors='replace')}"
                )
            finally:
                xdotool(x_display, "keyup", "w")
            end = await last_pose(peer, member)
            shot = screen(x_display, window)
            assert client.poll() is None, f"the client quit:\n{log.read_text(errors='replace')}"
            return end, shot
        finally:
            _stop(client)
            await peer.close()

    end, shot = asyncio.run(scenario())
    shot.save(tmp_path / "window.png")
    x, y = float(end["x"]) / 100, float(end["y"]) / 100
    assert abs(x) < 0.3, f"walked sideways to x={x}"
    assert y > 3.0, f"the member ended at y={y}, short of the north wall"
    assert entrance.contains((x, y, 0.0), margin=-0.45), f"({x}, {y}) is in or beyond the entrance's north wall"
    assert len(shot.getcolors(shot.width * shot.height)) > 16, "the window shows (almost) a single colour"
    assert sky_share(shot, alpha.theme) < 0.5, "the window shows sky where the entrance's north wall should be"
