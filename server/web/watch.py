"""Live rebuild for authors: `halls serve --watch`.

Polls the modification times of `halls/` and `assets/` (no extra
dependency), waits until a change has settled (editors write in steps), then
runs the incremental build in a thread, serves the new build and tells open
clients which chunks were replaced.  A failed build keeps the last good one
and sends every diagnostic to the clients instead.

Hub contract (`server.hub.service.broadcast_reload(app, hall_id, changed, error=None)`):
    hall_id, [chunk ids]  -> that hall's manifest changed; refetch these chunks
    None, [], error=text  -> the rebuild failed; the last good build is still served
    None, [], error=None  -> a rebuild succeeded after a failure; clear the error
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from server.config import CONFIG, ServerConfig
from server.web.catalog import BUILD_LOCK, load_build, notify_reload, switch_build

log = logging.getLogger(__name__)

WATCHED = ("halls", "assets")
Snapshot = dict[str, tuple[int, int]]


def build_sources(config: ServerConfig):
    """Run the incremental build for `config` (blocking: call it from a thread)."""
    from scenes.build import BuildOptions, build

    return build(BuildOptions(root=config.root, out=config.build_path, jobs=1, meshopt=config.meshopt))


@dataclass
class WatchState:
    """The watcher's settings and memory, one per application."""

    build: Callable[[ServerConfig], object] = build_sources
    """The blocking build function (tests pass a fake)."""
    failed: bool = False
    """The last rebuild failed (clients are showing its error)."""
    rebuilds: int = 0


WATCH_STATE: web.AppKey[WatchState] = web.AppKey("watch_state", WatchState)


def snapshot(root: Path) -> Snapshot:
    """(mtime, size) of every file under the watched folders, skipping hidden and editor temp files."""
    found: Snapshot = {}
    for folder in WATCHED:
        for directory, subdirs, files in os.walk(root / folder):
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            for name in files:
                if name.startswith((".", "#")) or name.endswith(("~", ".swp", ".tmp")):
                    continue
                path = os.path.join(directory, name)
                with contextlib.suppress(OSError):
                    info = os.stat(path)
                    found[path] = (info.st_mtime_ns, info.st_size)
    return found


def add_watcher(app: web.Application, state: WatchState | None = None) -> None:
    """Rebuild on source changes for the life of `app` (call before it starts)."""
    app[WATCH_STATE] = state or WatchState()
    app.cleanup_ctx.append(watch_sources)


async def watch_sources(app: web.Application):
    """Cleanup context: the watcher task for the life of the application."""
    config = app[CONFIG]
    baseline = await asyncio.get_running_loop().run_in_executor(None, snapshot, config.root)
    log.info("watching %s for changes", ", ".join(str(config.root / f) for f in WATCHED))
    task = asyncio.create_task(_watch(app, baseline), name="watch-sources")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _watch(app: web.Application, last: Snapshot) -> None:
    config = app[CONFIG]
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(config.watch_interval)
        now = await loop.run_in_executor(None, snapshot, config.root)
        if now == last:
            continue
        while True:  # let the edit settle: two scans in a row must agree
            await asyncio.sleep(config.watch_interval)
            again = await loop.run_in_executor(None, snapshot, config.root)
            if again == now:
                break
            now = again
        last = now
        await rebuild(app)


async def rebuild(app: web.Application) -> bool:
    """Build, then serve the result and notify clients; on failure keep serving and report. True if built."""
    from scenes.diagnostics import AuthorErrors

    config = app[CONFIG]
    state = app[WATCH_STATE]
    loop = asyncio.get_running_loop()
    async with app[BUILD_LOCK]:
        log.info("sources changed; rebuilding")
        state.rebuilds += 1
        try:
            await loop.run_in_executor(None, state.build, config)
            view = await loop.run_in_executor(None, load_build, config.build_path, config.objects_url)
        except AuthorErrors as errors:
            text = "\n".join(str(d) for d in errors.diagnostics)
            log.error("rebuild failed; still serving the last good build:\n%s", text)
            state.failed = True
            await notify_reload(app, None, [], error=text, share=True)
            return False
        except Exception as error:  # a compiler bug must not stop the server
            log.exception("rebuild crashed; still serving the last good build")
            state.failed = True
            await notify_reload(app, None, [], error=f"build failed: {error}", share=True)
            return False
        switched = await switch_build(app, view)
        if state.failed:
            state.failed = False
            await notify_reload(app, None, [], error=None, share=True)
        log.info("rebuild done (%s)", "new build served" if switched else "nothing changed")
        return True
