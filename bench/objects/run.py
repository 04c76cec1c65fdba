"""Object serving throughput: the hall server vs nginx (and aiohttp's own static files) in one run.

    .venv/bin/python bench/objects/run.py [--seconds 5] [--connections 16] [--write BENCHMARKS.md]

Makes a throw-away build folder of random objects (5 MB and 1 MB hall
chunks, 100 KB and 10 KB small objects), starts each server pinned to CPU 0
and `wrk` pinned to CPU 1, and measures requests/s and MB/s for full GETs
and for 304 revalidations (If-None-Match with the hash).  Needs `wrk` and
`nginx` (Debian packages) and `taskset` (util-linux).  Only loopback is used.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.harness import Section, find_tool, free_port, parse_args, pinned, stop, tools_missing, wait_for_port, wrk  # noqa: E402
from server.config import ServerConfig  # noqa: E402
from server.web.nginx import NginxOptions, nginx_config  # noqa: E402

log = logging.getLogger("bench.objects")
SECTION = Section("objects", "Objects")

SIZES = {"5 MB chunk": 5_000_000, "1 MB chunk": 1_000_000, "100 KB object": 100_000, "10 KB object": 10_000}
FILE_RESPONSE_APP = """
import sys
from aiohttp import web
app = web.Application()
app.router.add_static("/objects/", sys.argv[1])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per case (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported (default 3)")
    args = parse_args(parser, SECTION)
    if tools_missing("wrk", "nginx", "taskset"):
        return 1
    with tempfile.TemporaryDirectory(prefix="halls-bench-") as tmp:
        root = Path(tmp)
        objects = _make_objects(root / "build" / "objects")
        servers = {"halls serve": _start_halls(root), "nginx": _start_nginx(root), "aiohttp FileResponse": None}
        servers["aiohttp FileResponse"] = _start_file_response(root)
        try:
            rows = _measure(servers, objects, args)
        finally:
            for _, process in servers.values():
                stop(process)
    SECTION.publish(_table(rows, args), args.write)
    return 0


def _make_objects(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True)
    names = {}
    for label, size in SIZES.items():
        data = os.urandom(size)
        name = hashlib.sha256(data).hexdigest() + ".glb"
        (folder / name).write_bytes(data)
        names[label] = name
    release = folder.parent / "releases" / "bench"  # an empty published build, so the server starts at once
    release.mkdir(parents=True)
    empty_catalog = '{"format": "tunlan-hall-catalog", "version": 1, "build": "bench", "halls": []}'
    (release / "catalog.json").write_text(empty_catalog)
    (folder.parent / "current").symlink_to("releases/bench")
    return names


def _start_halls(root: Path):
    port = free_port()
    process = pinned(
        0,
        [sys.executable, "-m", "server.cli", "--root", str(root), "--port", str(port)],
        env={"HALLS_ACCESS_LOG": "false"},
    )
    return _ready(port, process)


def _start_nginx(root: Path):
    port = free_port()
    prefix = root / "nginx"
    prefix.mkdir()
    config = ServerConfig(root=root, port=1)
    options = NginxOptions(
        listen=f"127.0.0.1:{port}", upstream="127.0.0.1:1", full=True, prefix=prefix, foreground=True, access_log=False
    )
    (prefix / "nginx.conf").write_text(nginx_config(config, options))
    nginx = find_tool("nginx")
    assert nginx is not None  # main() stops first when nginx is missing
    process = pinned(0, [nginx, "-c", str(prefix / "nginx.conf"), "-p", str(prefix), "-e", "stderr"])
    return _ready(port, process)


def _start_file_response(root: Path):
    port = free_port()
    process = pinned(0, [sys.executable, "-c", FILE_RESPONSE_APP, str(root / "build" / "objects"), str(port)])
    return _ready(port, process)


def _ready(port: int, process):
    wait_for_port(port, process)
    return port, process


def _measure(servers: dict, objects: dict[str, str], args) -> list[tuple[str, dict[str, tuple[float, float]]]]:
    """Each case on each server, interleaved over `rounds` so background load hits all alike; medians."""
    cases: list[tuple[str, str, str | None]] = [(f"GET {label}", name, None) for label, name in objects.items()]
    name = objects["1 MB chunk"]
    cases.append(("304 revalidation", name, f'If-None-Match: "{name[:64]}"'))
    rows = []
    for label, name, header in cases:
        samples: dict[str, list[tuple[float, float]]] = {server: [] for server in servers}
        for port, _ in servers.values():
            _wrk(f"http://127.0.0.1:{port}/objects/{name}", header, 1, args.connections)  # warm up
        for _ in range(args.rounds):
            for server, (port, _) in servers.items():
                samples[server].append(
                    _wrk(f"http://127.0.0.1:{port}/objects/{name}", header, args.seconds, args.connections)
                )
        results = {server: tuple(statistics.median(v) for v in zip(*runs)) for server, runs in samples.items()}
        for server, (rate, mbps) in results.items():
            log.info("%-18s %-22s %10.0f req/s %9.1f MB/s", label, server, rate, mbps)
        rows.append((label, results))
    return rows


def _wrk(url: str, header: str | None, seconds: int, connections: int) -> tuple[float, float]:
    """(requests/s, MB/s) of full or conditional GETs of `url`; any non-2xx/3xx answer is an error."""
    result = wrk(url, seconds, connections, *(["-H", header] if header else []))
    if result.non2xx:
        raise RuntimeError(f"{result.non2xx} non-2xx/3xx answers from {url}")
    return result.requests_s, result.mb_s


def _table(rows, args) -> str:
    lines = [
        "| case | halls serve req/s | nginx req/s | ratio | aiohttp FileResponse req/s | ratio "
        "| halls MB/s | nginx MB/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, results in rows:
        halls, nginx, plain = results["halls serve"], results["nginx"], results["aiohttp FileResponse"]
        lines.append(
            f"| {label} | {halls[0]:,.0f} | {nginx[0]:,.0f} | {halls[0] / nginx[0]:.2f}x | {plain[0]:,.0f} "
            f"| {plain[0] / nginx[0]:.2f}x | {halls[1]:,.0f} | {nginx[1]:,.0f} |"
        )
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(lines) + (
        f"\n\nMedians of {args.rounds} interleaved rounds of wrk -t1 -c{args.connections} -d{args.seconds}s on CPU 1; "
        f"each server alone on CPU 0 (one process; nginx with one worker, sendfile on; access logs off); "
        f"{machine}; load average at the end {load}."
    )


if __name__ == "__main__":
    sys.exit(main())
