"""Panda3D client: time to first frame and to fully loaded per hall (cold and warm cache), and chunk load times.

    .venv/bin/python bench/client/run.py [--halls red,lobby] [--reps 3] [--write BENCHMARKS.md]

Needs a build (`halls build`).  Starts the hall server in this process on a
free loopback port and runs the client offscreen (p3tinydisplay, 640x400) in
a child process per visit: first with an empty cache (every chunk over
HTTP), then again with the cache it filled.  Times are the client's own
(seconds since the command started, after Python's imports) plus the whole
process's wall time.  Then, in this one process, each chunk is loaded with
Panda3D's loader (no model cache) as shipped (`.bam.pz`), as a raw `.bam`
(decompressed beforehand) and from its `.glb` through panda3d-gltf: the
median of `--reps` loads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.harness import ROOT, Section, parse_args  # noqa: E402
from halls_contract.catalog import parse_catalog  # noqa: E402
from halls_contract.manifest import parse_manifest  # noqa: E402

log = logging.getLogger("bench.client")
SECTION = Section("client", "Panda3D client")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halls", help="comma-separated hall ids (default: all built halls)")
    parser.add_argument("--reps", type=int, default=3, help="loads per chunk and format (default 3)")
    parser.add_argument("--visits", type=int, default=3, help="cold and warm visits per hall; medians (default 3)")
    args = parse_args(parser, SECTION)
    build = ROOT / "build"
    if not (build / "current" / "catalog.json").is_file():
        log.error("no build: run 'halls build' first")
        return 1
    catalog = parse_catalog((build / "current" / "catalog.json").read_bytes())
    halls = args.halls.split(",") if args.halls else [h.id for h in catalog.halls]
    load_before = os.getloadavg()[0]
    url, stop = start_server(build)
    try:
        visits = {hall: visit_twice(url, hall, args.visits) for hall in halls}
    finally:
        stop()
    loads = {hall: load_times(build, hall, args.reps) for hall in halls}
    load_after = os.getloadavg()[0]
    SECTION.publish(markdown(visits, loads, catalog.build or "", args.visits, (load_before, load_after)), args.write)
    return 0


# --- the server -------------------------------------------------------------------


def start_server(build: Path):
    """The hall server on a free port in a thread: (url, stop)."""
    from aiohttp import web

    from server.app import create_app
    from server.config import ServerConfig
    from server.web import objects

    if not objects.OBJECT_NAME.fullmatch("0" * 64 + ".bam.pz"):  # until the server names .bam.pz objects itself
        log.warning("the server does not serve .bam.pz objects yet: allowing them for this benchmark")
        objects.OBJECT_NAME = re.compile(r"[0-9a-f]{64}\.(glb|bam\.pz|bam|png|jpg|jpeg|ogg|mp3|wav|mp4|webm)")
        objects.CONTENT_TYPES["bam.pz"] = "application/octet-stream"
    loop = asyncio.new_event_loop()
    config = ServerConfig(root=ROOT, build_dir=build, port=0, access_log=False, web_dir=build / "no-web")
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=1.0)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

    return f"http://127.0.0.1:{port}", stop


# --- client visits ----------------------------------------------------------------


def visit_twice(url: str, hall: str, times: int) -> dict:
    """Cold then warm visits of `hall`, `times` each; the median of each figure."""
    runs: dict[str, list[dict]] = {"cold": [], "warm": []}
    for _ in range(times):
        with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
            cache = Path(tmp) / "cache"
            runs["cold"].append(visit(url, hall, cache, Path(tmp) / "cold.json"))
            runs["warm"].append(visit(url, hall, cache, Path(tmp) / "warm.json"))
    result = {kind: {key: statistics.median(r[key] for r in items) for key in items[0]} for kind, items in runs.items()}
    cold, warm = result["cold"], result["warm"]
    log.info(
        "%s: first frame %.2f/%.2f s, loaded %.2f/%.2f s (cold/warm)",
        hall,
        cold["first_frame"],
        warm["first_frame"],
        cold["loaded"],
        warm["loaded"],
    )
    return result


def visit(url: str, hall: str, cache: Path, report: Path) -> dict:
    argv = [
        sys.executable,
        "-m",
        "tools.client",
        url,
        "--hall",
        hall,
        "--offscreen",
        "--size",
        "640x400",
        "--no-presence",
        "--cache",
        str(cache),
        "--report",
        str(report),
    ]
    started = time.perf_counter()
    done = subprocess.run(
        argv, capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"client run for {hall} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    data = json.loads(report.read_text(encoding="utf-8"))
    timeline = data["timeline"]
    return {
        "first_frame": timeline["first_frame"],
        "loaded": timeline["loaded"],
        "wall": wall,
        "network": sum(r["bytes"] for r in data["fetched"] if r["source"] == "network"),
        "chunks": data["total"],
    }


# --- loading one chunk in three forms -----------------------------------------------


def load_times(build: Path, hall: str, reps: int) -> dict:
    """Median seconds to load the hall's chunks (summed) as .bam.pz, raw .bam and .glb."""
    from panda3d.core import Filename, Loader, LoaderOptions, loadPrcFileData

    loadPrcFileData("bench", "model-cache-dir\naudio-library-name null")
    import gltf  # panda3d-gltf, called directly: Panda's loader would pick assimp for .glb

    loader = Loader.getGlobalPtr()
    options = LoaderOptions(LoaderOptions.LF_no_cache | LoaderOptions.LF_report_errors)
    manifest = parse_manifest((build / "current" / "halls" / hall / "manifest.json").read_bytes())
    totals = {"bam.pz": 0.0, "bam": 0.0, "glb": 0.0}
    sizes = {"bam.pz": 0, "bam": 0, "glb": 0}
    with tempfile.TemporaryDirectory(prefix="bench-bam-") as tmp:
        for chunk in manifest.chunks:
            shipped = build / "objects" / chunk.objects.bam.name
            raw = Path(tmp) / f"{chunk.id}.bam"
            data = shipped.read_bytes()
            raw.write_bytes(zlib.decompress(data) if shipped.name.endswith(".pz") else data)
            glb = build / "objects" / chunk.objects.glb.name
            for kind, path in (("bam.pz", shipped), ("bam", raw), ("glb", glb)):
                samples = []
                for _ in range(reps):
                    started = time.perf_counter()
                    if kind == "glb":
                        node = gltf.load_model(str(path))
                    else:
                        node = loader.loadSync(Filename.fromOsSpecific(str(path)), options)
                    samples.append(time.perf_counter() - started)
                    if node is None:
                        raise RuntimeError(f"could not load {path}")
                totals[kind] += statistics.median(samples)
                sizes[kind] += path.stat().st_size
    return {"seconds": totals, "bytes": sizes, "chunks": len(manifest.chunks)}


# --- report -----------------------------------------------------------------------


def markdown(visits: dict, loads: dict, build_id: str, times: int, load_average: tuple[float, float]) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        f"Build `{build_id}`, {len(visits)} halls; {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        "no GPU: p3tinydisplay offscreen at 640x400, server on loopback in the benchmark's process. "
        f"Load average {load_average[0]:.1f} before and {load_average[1]:.1f} after (other work shared the cores).",
        f"Command: `.venv/bin/python bench/client/run.py {' '.join(sys.argv[1:])}`.",
        "",
        f"Visits (median of {times}): seconds from the client command's start (after imports) to the first frame "
        "with a chunk in it and to the frame with every chunk; `wall` is the whole child process (imports, window, "
        "exit).",
        "",
        "| hall | chunks | MB over HTTP (cold) | first frame cold | first frame warm | loaded cold | loaded warm "
        "| wall cold | wall warm |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for hall, v in visits.items():
        cold, warm = v["cold"], v["warm"]
        lines.append(
            f"| {hall} | {cold['chunks']:.0f} | {cold['network'] / 1e6:.2f} | {cold['first_frame']:.2f} | "
            f"{warm['first_frame']:.2f} | {cold['loaded']:.2f} | {warm['loaded']:.2f} | "
            f"{cold['wall']:.2f} | {warm['wall']:.2f} |"
        )
    lines += [
        "",
        "Chunk loads in one process (Panda3D loader, no model cache; median per chunk, summed per hall):",
        "",
        "| hall | chunks | .bam.pz ms | .bam ms | .glb (panda3d-gltf) ms | .bam.pz MB | .bam MB | .glb MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    total = {"bam.pz": 0.0, "bam": 0.0, "glb": 0.0}
    for hall, load in loads.items():
        s, b = load["seconds"], load["bytes"]
        for key in total:
            total[key] += s[key]
        lines.append(
            f"| {hall} | {load['chunks']} | {s['bam.pz'] * 1000:.0f} | {s['bam'] * 1000:.0f} | "
            f"{s['glb'] * 1000:.0f} | {b['bam.pz'] / 1e6:.2f} | {b['bam'] / 1e6:.2f} | {b['glb'] / 1e6:.2f} |"
        )
    lines.append(
        f"| **all** | | **{total['bam.pz'] * 1000:.0f}** | **{total['bam'] * 1000:.0f}** | "
        f"**{total['glb'] * 1000:.0f}** | | | |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
