"""Offline viewer: bytes and time to keep each hall for offline, and a visit from the cache against the network.

    .venv/bin/python bench/offline/run.py [--halls red,lobby] [--visits 2] [--write BENCHMARKS.md]

Needs a build (`halls build`), node with playwright-core, and Debian's chromium; the hall server runs in
this process on a loopback port, the browser is headless with software WebGL (800x500).

Per hall, in a fresh browser context each time: the catalog page, its service worker active, then
"离线保存 · Keep for offline" clicked; "keep" is the time from the click until the card says the hall
is kept (manifest, plan and every object of the meshopt variant downloaded, hashed and stored) and the
bytes are the objects stored.  Then the hall is opened three ways: from the network in a new context
(no worker, no HTTP cache: a first visit), from the worker's cache with the network on, and with the
network off (playwright's `setOffline`).  Times are the page's first frame with scenery and fully
loaded (every chunk and picture), in ms since navigation started; medians of `--visits`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.harness import ROOT, Section, parse_args  # noqa: E402

log = logging.getLogger("bench.offline")
SECTION = Section("offline", "Offline viewer")
COMMAND = ".venv/bin/python bench/offline/run.py --write BENCHMARKS.md"
WORKER_READY = "async () => Boolean((await navigator.serviceWorker.ready).active && navigator.serviceWorker.controller)"
CATALOG_DONE = "() => window.__hallsCatalog && window.__hallsCatalog.refreshed"
LOADED = "() => window.__hallsViewer && window.__hallsViewer.loaded"
TIMES = "() => ({ first: window.__hallsViewer.firstFrameMs, loaded: window.__hallsViewer.loadedMs })"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "build", help="build folder (default: ./build)")
    parser.add_argument("--halls", help="comma-separated hall ids (default: every built hall)")
    parser.add_argument("--visits", type=int, default=2, help="runs per hall; medians (default 2)")
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
    server = start_server(args.build)
    browser = Browser.start()
    try:
        results = {}
        for hall in halls:
            runs = [measure(browser, server.url, hall) for _ in range(args.visits)]
            results[hall] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            log.info("%s: %s", hall, results[hall])
    finally:
        browser.close()
        server.stop()
    SECTION.publish(render(catalog.get("build"), results, browser.version, args.visits, os.getloadavg()), args.write)
    return 0


def start_server(build: Path):
    from server.config import ServerConfig
    from tests.serving import RunningServer

    return RunningServer(ServerConfig(root=build.parent, build_dir=build, port=0, access_log=False))


def measure(browser, url: str, hall: str) -> dict:
    result: dict = {}
    page = browser.new_page()
    try:
        page.goto(f"{url}/")
        page.wait_for(CATALOG_DONE, timeout=60)
        page.wait_for(WORKER_READY, timeout=60)
        started = time.monotonic()
        page.click(f'[data-hall="{hall}"] .offline-box button.keep')
        page.wait_for(
            f"() => document.querySelector('[data-hall=\"{hall}\"] .offline-box').dataset.state === 'kept'", timeout=300
        )
        result["keep_ms"] = (time.monotonic() - started) * 1000
        result["kept_bytes"] = page.evaluate("(h) => window.__hallsCatalog.stored.halls[h].bytes", hall)
        for key, offline in (("cache", False), ("offline", True)):
            page.set_offline(offline)
            page.goto(f"{url}/halls/{hall}")
            page.wait_for(LOADED, timeout=120)
            times = page.evaluate(TIMES)
            result[f"{key}_first"], result[f"{key}_loaded"] = times["first"], times["loaded"]
    finally:
        page.close()
    page = browser.new_page()
    try:
        page.goto(f"{url}/halls/{hall}")
        page.wait_for(LOADED, timeout=120)
        times = page.evaluate(TIMES)
        result["network_first"], result["network_loaded"] = times["first"], times["loaded"]
    finally:
        page.close()
    return result


def render(build_id, results: dict, chromium: str, visits: int, load: tuple) -> str:
    rows = [
        "| hall | kept | keep s | MB/s | first frame ms: network / cache / offline "
        "| loaded ms: network / cache / offline |",
        "|---|---|---|---|---|---|",
    ]
    for hall, r in results.items():
        rate = r["kept_bytes"] / 1048576 / (r["keep_ms"] / 1000) if r["keep_ms"] else 0
        rows.append(
            f"| {hall} | {r['kept_bytes'] / 1048576:.2f} MB | {r['keep_ms'] / 1000:.2f} | {rate:.1f} | "
            f"{r['network_first']:.0f} / {r['cache_first']:.0f} / {r['offline_first']:.0f} | "
            f"{r['network_loaded']:.0f} / {r['cache_loaded']:.0f} / {r['offline_loaded']:.0f} |"
        )
    total = sum(r["kept_bytes"] for r in results.values())
    keep = sum(r["keep_ms"] for r in results.values()) / 1000
    return "\n".join(
        [
            f"Command: `{COMMAND}` (build {build_id}; medians of {visits} runs per hall; Chromium {chromium}, "
            f"swiftshader, 800x500; {platform.machine()}, {os.cpu_count()} cores, load {load[0]:.2f} at the end).",
            "",
            *rows,
            "",
            f"- All {len(results)} halls kept: {total / 1048576:.1f} MB in {keep:.1f} s "
            "(one hall at a time, loopback).",
            "- network: a first visit in a new context (no service worker yet, nothing cached); cache: the same hall "
            "again once kept, network on (objects cache-first, page and manifest network-first); offline: the network "
            "cut with `setOffline`.",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
