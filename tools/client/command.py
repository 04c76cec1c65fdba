"""`halls client URL --hall ID [...]`: arguments and the command.

Exit status: 0 the hall loaded (and the screenshot was written); 1 the hall
could not be opened or loaded only in part (the message says which); 2 bad
arguments, or `--vr` without its optional package, runtime or headset.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from tools.client.offscreen import DEFAULT_DISPLAY, DISPLAYS

log = logging.getLogger("halls.client")


class UsageError(ValueError):
    """Arguments that do not fit together."""


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """The `halls client` arguments."""
    parser.add_argument(
        "server",
        metavar="URL",
        help="hall server (http://host:8080), a local build folder, or a manifest file with --objects",
    )
    parser.add_argument("--hall", required=True, help="hall id, e.g. red")
    parser.add_argument("--name", default="访客", help="your name as others see it (default 访客)")
    parser.add_argument("--at", dest="at_room", metavar="ROOM", help="start in this room (default: the spawn room)")
    parser.add_argument(
        "--cache", type=Path, metavar="DIR", help="object cache folder (default $XDG_CACHE_HOME/tunlan-halls)"
    )
    parser.add_argument("--no-cache", action="store_true", help="keep no downloaded objects")
    parser.add_argument("--offscreen", action="store_true", help="render without a display (tests, thumbnails)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="with --offscreen: save a PNG once loaded")
    parser.add_argument("--size", default="1280x720", metavar="WxH", help="window or image size (default 1280x720)")
    parser.add_argument(
        "--display",
        choices=DISPLAYS,
        default=DEFAULT_DISPLAY,
        help=f"offscreen display module (default {DEFAULT_DISPLAY})",
    )
    parser.add_argument("--vr", action="store_true", help="render to a headset (needs panda3d-openvr and SteamVR)")
    parser.add_argument("--no-presence", action="store_true", help="do not join the hall's presence hub")
    parser.add_argument("--follow", action="store_true", help="follow a trainer's guided tour when one starts")
    parser.add_argument("--member-id", help="quiz identity (default: an id kept in the cache folder)")
    parser.add_argument("--branch", help="your Party branch, sent with quiz sessions")
    parser.add_argument("--enrolment-code", help="sign-in code, when the server asks for one")
    parser.add_argument("--trainer-key", help="join as a trainer (the server's trainer key)")
    parser.add_argument("--no-overlay", action="store_true", help="no status line or panels (thumbnails)")
    parser.add_argument("--objects", type=Path, metavar="DIR", help="objects folder, when URL is a manifest file")
    parser.add_argument("--report", type=Path, metavar="JSON", help="write fetch log and load timings here")
    parser.add_argument("--timeout", type=float, default=120.0, help="offscreen: seconds to wait for the hall")
    parser.add_argument(
        "--linger", type=float, default=0.0, help="offscreen: keep running this many seconds after loading (presence)"
    )


def client_command(args: argparse.Namespace) -> int:
    """Run the client; the exit status."""
    started = time.perf_counter()
    try:
        size = _size(args.size)
        _check(args)
    except UsageError as exc:
        print(f"halls client: {exc}", file=sys.stderr)
        return 2
    if args.vr:
        from tools.client.vr import VrUnavailable, check_vr

        try:
            check_vr()
        except VrUnavailable as exc:
            print(f"halls client: {exc}", file=sys.stderr)
            return 2
    store = _store(args)
    from tools.client.stream import HallStream

    stream = HallStream(store, args.hall, start_room=args.at_room).start()  # fetching overlaps opening the window
    base = _open_base(args, size)
    if base is None:
        stream.cancel()
        return 1
    from tools.client.app import ClientOptions, HallClient

    options = ClientOptions(
        hall=args.hall,
        name=args.name,
        at_room=args.at_room,
        presence=not args.no_presence,
        follow_tour=args.follow,
        member_id=args.member_id,
        branch=args.branch,
        enrolment_code=args.enrolment_code,
        overlay=not args.no_overlay,
        platform="headset" if args.vr else "client",
        trainer_key=args.trainer_key,
    )
    client = HallClient(base, store, options, started=started, interactive=not args.offscreen)
    client.open_hall(args.hall, room=args.at_room, stream=stream)
    try:
        code = _run(base, client, args)
    finally:
        if args.report is not None:
            args.report.parent.mkdir(parents=True, exist_ok=True)
            args.report.write_text(json.dumps(client.report(), ensure_ascii=False, indent=1), encoding="utf-8")
        client.close()
        base.destroy()
    return code


def _run(base, client, args) -> int:
    if args.offscreen:
        from tools.client.offscreen import run_offscreen

        return run_offscreen(base, client, args.screenshot, args.timeout, args.linger)
    if args.vr:
        from tools.client.vr import VrSession, VrUnavailable

        try:
            VrSession(client.walker.body, client.pick, client.teleport)
        except VrUnavailable as exc:
            print(f"halls client: {exc}", file=sys.stderr)
            return 2
    base.run()
    return client.exit_code or 0


def _check(args) -> None:
    if args.screenshot is not None and not args.offscreen:
        raise UsageError("--screenshot needs --offscreen")
    if args.vr and args.offscreen:
        raise UsageError("--vr and --offscreen exclude each other")
    if args.objects is not None and not Path(args.server).is_file():
        raise UsageError("--objects goes with a manifest file as URL")
    if args.cache is not None and args.no_cache:
        raise UsageError("--cache and --no-cache exclude each other")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size must look like 1280x720, got {text!r}") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise UsageError(f"--size must be within 16..8192 each way, got {text!r}")
    return width, height


def _store(args):
    from tools.client.fetch import BuildFolderSource, HttpSource, ObjectCache, ObjectStore, default_cache_dir

    if args.server.startswith(("http://", "https://")):
        source = HttpSource(args.server)
    elif Path(args.server).is_file():
        source = BuildFolderSource(None, args.objects or Path(args.server).parent, manifest_file=args.server)
    else:
        source = BuildFolderSource(args.server)
    cache = None if args.no_cache else ObjectCache(args.cache or default_cache_dir())
    if cache is None and isinstance(source, HttpSource):
        import tempfile

        cache = ObjectCache(tempfile.mkdtemp(prefix="halls-client-"))  # objects need a place on disk to load from
    return ObjectStore(cache, source)


def _open_base(args, size):
    """A ShowBase for the chosen output, or None (with a message) when no window can open."""
    from panda3d.core import loadPrcFileData

    from tools.client.offscreen import offscreen_prc, window_prc

    loadPrcFileData("halls-client", offscreen_prc(args.display, size) if args.offscreen else window_prc(size))
    from direct.showbase.ShowBase import ShowBase

    try:
        return ShowBase(windowType="offscreen" if args.offscreen else None)
    except Exception as exc:  # noqa: BLE001 - Panda3D raises a bare Exception when no window opens
        hint = "" if args.offscreen else " (no display here? try --offscreen --screenshot out.png)"
        print(f"halls client: could not open a window: {exc}{hint}", file=sys.stderr)
        return None
