"""Browser viewer: first frame and fully loaded per hall, bytes before the first frame, frame time with 50 avatars.

    .venv/bin/python bench/viewer/run.py [--halls red,lobby] [--visits 3] [--avatars 50] [--write BENCHMARKS.md]

Needs a build (`halls build`), node with playwright-core, and Debian's
chromium.  The hall server runs in this process on a free loopback port; one
headless chromium (software WebGL: swiftshader, no GPU) opens 800x500 pages.

Per hall, `--visits` cold visits (a fresh browser context each: empty cache)
and as many warm ones (the same context again: objects come from the HTTP
cache, they are immutable).  Times are the page's own `performance.now()` at
its first frame with scenery and when every chunk and picture is in, i.e.
milliseconds since navigation started.  "Hall bytes before first frame" is
the chunk bytes the viewer had when it drew that frame, as a share of all
the hall's chunks; "page KB" adds everything else fetched by then (HTML,
three.js, the viewer's modules, the manifest).

Walking: the member walks a circle in the red hall's foyer (W + ←) for
`--seconds`, alone and then with `--avatars` simulated members (hub clients
in this process, walking circles at 10 poses a second in the foyer and the
next room, all within the hub's view).  Frame interval is measured with
requestAnimationFrame in the page; "JS" is the viewer's own per-frame work
(update and render calls).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.harness import ROOT, Section, parse_args  # noqa: E402

log = logging.getLogger("bench.viewer")
SECTION = Section("viewer", "Viewer")
COMMAND = ".venv/bin/python bench/viewer/run.py --write BENCHMARKS.md"
WIDTH, HEIGHT = 800, 500

VISIT_STATS = """() => {
  const v = window.__hallsViewer;
  const first = v.firstFrameMs;
  const before = performance.getEntriesByType('resource').filter((r) => r.responseEnd <= first)
    .reduce((sum, r) => sum + (r.encodedBodySize || 0), 0);
  const nav = performance.getEntriesByType('navigation')[0];
  return { first, loaded: v.loadedMs, chunkBytesFirst: v.firstFrameBytes, chunkBytes: v.bytes.total,
           pageBytesFirst: before + (nav ? nav.encodedBodySize : 0), chunks: v.chunks.length };
}"""

RECORD_FRAMES = """(seconds) => new Promise((resolve) => {
  const viewer = window.__hallsViewer.viewer;
  const intervals = [];
  const costs = [];
  const original = viewer.frame;
  viewer.frame = function (time) {
    const t0 = performance.now();
    original.call(this, time);
    costs.push(performance.now() - t0);
  };
  let last = null;
  const end = performance.now() + seconds * 1000;
  function tick(now) {
    if (last !== null) intervals.push(now - last);
    last = now;
    if (now < end) requestAnimationFrame(tick);
    else {
      viewer.frame = original;
      resolve({ intervals, costs, avatars: window.__hallsViewer.avatars.filter((a) => a.position).length });
    }
  }
  requestAnimationFrame(tick);
})"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "build", help="build folder (default: ./build)")
    parser.add_argument("--halls", help="comma-separated hall ids (default: every built hall)")
    parser.add_argument("--visits", type=int, default=3, help="cold and warm visits per hall; medians (default 3)")
    parser.add_argument("--avatars", type=int, default=50, help="simulated members for the walking test (default 50)")
    parser.add_argument("--seconds", type=float, default=6.0, help="walking time per measurement (default 6)")
    args = parse_args(parser, SECTION)

    from tests.e2e.browser import Browser, browser_missing

    missing = browser_missing()
    if missing:
        log.error("cannot run: %s", missing)
        return 1
    catalog_file = args.build / "current" / "catalog.json"
    if not catalog_file.is_file():
        log.error("no build at %s: run 'halls build' first", args.build)
        return 1
    catalog = json.loads(catalog_file.read_text(encoding="utf-8"))
    halls = args.halls.split(",") if args.halls else [h["id"] for h in catalog["halls"]]
    server = start_server(args.build, neighbours=max(32, args.avatars + 8))
    browser = Browser.start()
    try:
        visits = {}
        for hall in halls:
            visits[hall] = visit(browser, server.url, hall, args.visits)
            log.info("%s: %s", hall, {k: v for k, v in visits[hall].items() if not isinstance(v, list)})
        walking = {0: walk(browser, server, 0, args.seconds)}
        walking[args.avatars] = walk(browser, server, args.avatars, args.seconds)
    finally:
        browser.close()
        server.stop()
    SECTION.publish(render(catalog.get("build"), visits, walking, browser.version, os.getloadavg()), args.write)
    return 0


def start_server(build: Path, neighbours: int):
    from server.config import HubSettings, ServerConfig
    from tests.serving import RunningServer

    config = ServerConfig(
        root=build.parent, build_dir=build, port=0, access_log=False, hub=HubSettings(neighbours=neighbours)
    )
    return RunningServer(config)


def visit(browser, url: str, hall: str, count: int) -> dict:
    cold: list[dict] = []
    warm: list[dict] = []
    for _ in range(count):
        page = browser.new_page(WIDTH, HEIGHT)
        try:
            for target in (cold, warm):  # the second visit in the same context finds objects in the HTTP cache
                page.goto(f"{url}/halls/{hall}")
                page.wait_for("() => window.__hallsViewer && window.__hallsViewer.loaded", timeout=60)
                target.append(page.evaluate(VISIT_STATS))
        finally:
            page.close()
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    return {
        "chunks": cold[0]["chunks"],
        "hall_bytes": cold[0]["chunkBytes"],
        "first_cold": med(cold, "first"),
        "loaded_cold": med(cold, "loaded"),
        "first_warm": med(warm, "first"),
        "loaded_warm": med(warm, "loaded"),
        "share_first": med(cold, "chunkBytesFirst") / cold[0]["chunkBytes"],
        "page_first": med(cold, "pageBytesFirst"),
        "first_all": [r["first"] for r in cold],
    }


def walk(browser, server, avatars: int, seconds: float) -> dict:
    peers = Peers(server.url.replace("http", "ws") + "/ws/halls/red", avatars) if avatars else None
    page = browser.new_page(
        WIDTH, HEIGHT, init_scripts=("localStorage.setItem('halls.settings', JSON.stringify({voice: false}))",)
    )
    try:
        page.goto(f"{server.url}/halls/red?name=bench")
        page.wait_for("() => window.__hallsViewer && window.__hallsViewer.loaded", timeout=60)
        if avatars:
            page.wait_for(
                "(n) => window.__hallsViewer.avatars.filter((a) => a.position).length >= n", avatars, timeout=60
            )
        page.evaluate("() => window.__hallsViewer.goTo(-3, 0, 0)")
        page.evaluate("() => document.getElementById('view').focus()")
        page.key_down("w")
        page.key_down("ArrowLeft")
        result = page.evaluate(RECORD_FRAMES, seconds)
        page.key_up("ArrowLeft")
        page.key_up("w")
    finally:
        page.close()
        if peers:
            peers.stop()
    intervals = sorted(result["intervals"])
    costs = sorted(result["costs"])
    pick = lambda values, q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return {
        "avatars_seen": result["avatars"],
        "frames": len(intervals),
        "median": statistics.median(intervals),
        "p95": pick(intervals, 0.95),
        "max": intervals[-1],
        "fps": 1000 / statistics.mean(intervals),
        "js_median": statistics.median(costs),
        "js_p95": pick(costs, 0.95),
    }


class Peers:
    """`count` hub clients walking circles in the red hall's foyer and brand rooms, 10 poses a second."""

    def __init__(self, ws_url: str, count: int) -> None:
        self.url = ws_url
        self.count = count
        self.loop = asyncio.new_event_loop()
        self.joined = threading.Event()
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.run(),), daemon=True)
        self.thread.start()
        if not self.joined.wait(30):
            raise RuntimeError("simulated members did not join")

    async def run(self) -> None:
        import aiohttp

        self.stopping = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(self.url) for _ in range(self.count)]
            for n, ws in enumerate(sockets):
                await ws.send_str(json.dumps({"v": 1, "type": "join", "name": f"学员{n + 1:02d}"}))
                while (await ws.receive()).type.name == "BINARY":
                    pass
            self.joined.set()
            tasks = [asyncio.create_task(self.walk(n, ws)) for n, ws in enumerate(sockets)]
            tasks += [asyncio.create_task(self.drain(ws)) for ws in sockets]
            await self.stopping.wait()
            for task in tasks:
                task.cancel()
            for ws in sockets:
                await ws.close()

    async def walk(self, n: int, ws) -> None:
        in_foyer = n < self.count * 0.7
        if in_foyer:
            centre = (-2.0 + (n % 5) * 1.6, -3.0 + (n // 5 % 5) * 1.5)
        else:
            centre = (10.0 + (n % 6) * 2.0, -4.0 + (n % 4) * 2.5)
        room = "foyer" if in_foyer else "brand"
        started = time.monotonic()
        while True:
            a = (time.monotonic() - started) * 0.8 + n
            x, y = centre[0] + 0.5 * math.cos(a), centre[1] + 0.5 * math.sin(a)
            h = a + math.pi
            pose = {
                "v": 1,
                "type": "pose",
                "room": room,
                "p": [round(x, 3), round(y, 3), 1.6],
                "q": [0, 0, round(math.sin(h / 2), 4), round(math.cos(h / 2), 4)],
            }
            await ws.send_str(json.dumps(pose))
            await asyncio.sleep(0.1)

    async def drain(self, ws) -> None:
        async for _ in ws:
            pass

    def stop(self) -> None:
        assert self.stopping is not None  # run() makes it before the members join, and __init__ waits for that
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(10)


def render(build_id, visits: dict, walking: dict, chromium: str, load: tuple) -> str:
    lines = [
        f"Build `{build_id}`, {len(visits)} halls; {os.cpu_count()} cores ({platform.machine()}), no GPU: "
        f"headless Chromium {chromium}, software WebGL (swiftshader), {WIDTH}x{HEIGHT}; server on loopback in "
        f"the benchmark's process; load average at the end {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}.",
        f"Command: `{COMMAND}`.",
        "",
        "Visits: milliseconds from navigation to the first frame with scenery and to fully loaded (every chunk and "
        "picture); medians of cold visits (empty cache) and warm ones (objects from the HTTP cache).",
        "",
        "| hall | chunks | hall MB | first frame cold | loaded cold | first frame warm | loaded warm "
        "| hall bytes before first frame | page KB before first frame |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for hall, v in visits.items():
        lines.append(
            f"| {hall} | {v['chunks']} | {v['hall_bytes'] / 1e6:.2f} | {v['first_cold']:.0f} | {v['loaded_cold']:.0f} "
            f"| {v['first_warm']:.0f} | {v['loaded_warm']:.0f} | {v['share_first']:.0%} "
            f"| {v['page_first'] / 1024:.0f} |"
        )
    firsts = [v["first_cold"] for v in visits.values()]
    shares = [v["share_first"] for v in visits.values()]
    lines += [
        "",
        f"All halls: first frame cold median {statistics.median(firsts):.0f} ms (max {max(firsts):.0f}); "
        f"{sum(f < 1000 for f in firsts)} of {len(firsts)} under 1 s; hall bytes before the first frame "
        f"median {statistics.median(shares):.0%} (max {max(shares):.0%}).",
        "",
        "Walking a circle in the red hall (W + ←), frame interval by requestAnimationFrame and the viewer's own "
        "per-frame JavaScript:",
        "",
        "| others present | frames | interval median ms | p95 ms | max ms | fps | JS median ms | JS p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in walking.values():
        lines.append(
            f"| {w['avatars_seen']} | {w['frames']} | {w['median']:.1f} | {w['p95']:.1f} | {w['max']:.1f} "
            f"| {w['fps']:.1f} | {w['js_median']:.2f} | {w['js_p95']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
