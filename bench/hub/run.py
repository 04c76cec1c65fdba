"""Hub benchmark: the hub and a naive per-pose fan-out under 24, 250 and 1,000 walking members.

    .venv/bin/python -m bench.hub [--sizes 24,250,1000] [--seconds 20] [--json results.json]

For each size, both servers run in turn (`bench.hub.server`, pinned to CPU 0
with taskset) while `tools.loadtest` (pinned to CPU 1) walks the members at
10 poses a second.  Both run at raised priority (nice -10) so that other work
on a shared machine skews the numbers less; the time the server still spent
waiting for its CPU is reported beside its CPU use.  Server CPU is read from
/proc over the load tool's measured window.  Prints a Markdown table for
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.harness import ROOT, cpu_seconds, free_port, stop, wait_for_port
from bench.hub.hall import bench_manifest

log = logging.getLogger("bench.hub")


def cpu_use(pid: int) -> tuple[float, float]:
    """CPU seconds used, and seconds spent runnable but waiting for a CPU (other processes' load)."""
    waited = int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    return cpu_seconds(pid), waited


def idle_fraction(seconds: float = 1.0) -> float:
    """How idle the machine is, measured over `seconds` (other benchmarks skew the numbers)."""

    def sample():
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return values[3] + values[4], sum(values)

    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def wait_until_quiet(patience: float, idle: float = 0.9) -> float:
    """Wait (up to `patience` seconds) until the machine is mostly idle; the idle fraction last seen."""
    deadline = time.monotonic() + patience
    while True:
        seen = idle_fraction(2.0)
        if seen >= idle or time.monotonic() > deadline:
            if seen < idle:
                log.warning("machine still busy (%.0f%% idle): numbers will be pessimistic", seen * 100)
            return seen
        log.info("machine busy (%.0f%% idle), waiting", seen * 100)


class CpuSampler(threading.Thread):
    """Samples a process's CPU seconds against wall time."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.running = pid, True
        self.samples: list[tuple[float, tuple[float, float]]] = []
        """(wall time, `cpu_use`) every 0.1 s."""

    def run(self) -> None:
        while self.running:
            try:
                self.samples.append((time.time(), cpu_use(self.pid)))
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.1)

    def between(self, start: float, end: float) -> tuple[float, float] | None:
        """(CPU used, time waiting for a CPU) as fractions of the wall time between `start` and `end`."""
        inside = [(t, c) for t, c in self.samples if start <= t <= end]
        if len(inside) < 2:
            return None
        (t0, (c0, w0)), (t1, (c1, w1)) = inside[0], inside[-1]
        return (c1 - c0) / (t1 - t0), (w1 - w0) / (t1 - t0)


def pinned(cpu: int, nice: int) -> list[str]:
    """Command prefix: pin to `cpu` (taskset) and raise priority (nice, needs root for < 0)."""
    prefix = ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else []
    if nice and (nice > 0 or os.geteuid() == 0):
        prefix = ["nice", "-n", str(nice), *prefix]
    return prefix


def one_run(mode: str, members: int, seconds: float, manifest: Path, timeout: float, nice: int) -> dict:
    port = free_port()
    server = subprocess.Popen(
        [*pinned(0, nice), sys.executable, "-m", "bench.hub.server", "--mode", mode, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, server, timeout=15)
        sampler = CpuSampler(server.pid)
        sampler.start()
        command = [
            *pinned(1, nice),
            sys.executable,
            "-m",
            "tools.loadtest",
            f"ws://127.0.0.1:{port}",
            "--hall",
            "bench",
            "--manifest",
            str(manifest),
            "--members",
            str(members),
            "--rate",
            "10",
            "--seconds",
            str(seconds),
            "--json",
        ]
        try:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"mode": mode, "members": members, "failed": f"load tool did not finish in {timeout:.0f} s"}
        sampler.running = False
        if done.returncode != 0:
            return {"mode": mode, "members": members, "failed": done.stderr.strip().splitlines()[-1:]}
        report = json.loads(done.stdout)
        report["mode"] = mode
        report["server_cpu"], report["server_cpu_wait"] = sampler.between(*report["window_unix"]) or (None, None)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=30) as response:
                report["server"] = json.load(response)["hub"]
        except OSError as exc:  # a collapsed server may not answer
            report["server"] = {"unreachable": str(exc)}
        return report
    finally:
        stop(server, timeout=10)


def row(report: dict) -> str:
    name = "hub (nearest 32, 10 Hz tick)" if report["mode"] == "hub" else "naive per-pose fan-out"
    if "failed" in report:
        return f"| {report['members']} | {name} | collapsed: {report['failed']} | | | | | |"
    latency, drops = report["latency_ms"], report["drops"]["members_closed"]
    delivered = f"{report['delivered']:.2%}" if report.get("delivered") is not None else "–"
    cpu = f"{report['server_cpu']:.0%}" if report.get("server_cpu") is not None else "?"
    if report.get("server_cpu_wait"):
        cpu += f" (+{report['server_cpu_wait']:.0%} waiting)"
    late = report["server"].get("ticks", {}).get("late") if report["mode"] == "hub" else None
    batches = f"{report['batches_per_s']:.2f}" if report.get("batches_per_s") is not None else "–"
    return (
        f"| {report['members']} | {name} | {latency['p50']} | {latency['p99']} | {delivered} "
        f"| {batches} | {cpu} | {report['tool_cpu']:.0%} | {drops}"
        f"{'' if late is None else f' / {late} late ticks'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="24,250,1000")
    parser.add_argument("--modes", default="hub,naive")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="runs per case; the one where the server waited least for its CPU is kept (default 1)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw reports here")
    parser.add_argument(
        "--patience", type=float, default=60.0, help="seconds to wait for a quiet machine before each run (default 60)"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="niceness of server and load tool, so other work on a shared machine skews less (default -10 when root)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    reports = []
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        manifest = Path(tmp) / "bench.json"
        manifest.write_text(json.dumps(bench_manifest()))
        for members in [int(n) for n in args.sizes.split(",")]:
            for mode in args.modes.split(","):
                tries = []
                for _ in range(args.runs):
                    idle = wait_until_quiet(args.patience)
                    log.info("%s with %d members (machine %.0f%% idle before the run)", mode, members, idle * 100)
                    report = one_run(mode, members, args.seconds, manifest, args.seconds + 180, args.nice)
                    report["idle_before"] = round(idle, 3)
                    tries.append(report)
                    log.info("%s", row(report))
                # On a shared machine keep the run least disturbed by other processes, not the best-looking one.
                best = min(tries, key=lambda r: r.get("server_cpu_wait") or 0.0)
                best["runs"] = len(tries)
                reports.append(best)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    lines = [
        "| members | server | p50 ms | p99 ms | delivered | batches/s | server CPU | load-tool CPU | drops |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    sys.stdout.write("\n".join(lines + [row(r) for r in reports]) + "\n")


if __name__ == "__main__":
    main()
