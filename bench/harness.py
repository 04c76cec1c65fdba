"""What the benchmark scripts share: arguments, pinned processes, ports, wrk, and their BENCHMARKS.md sections."""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

log = logging.getLogger("bench")

# --- results ----------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A benchmark's part of BENCHMARKS.md: the text between two `<!-- {name}-results -->` markers."""

    name: str
    heading: str

    def publish(self, text: str, path: Path | None) -> None:
        """Print `text`; with a `path`, also put it into this section of that file."""
        print(text)
        if path:
            self.write(path, text)

    def write(self, path: Path, text: str) -> None:
        """Replace the text between the markers (adding the section at the end if it is missing)."""
        marker = f"<!-- {self.name}-results -->"
        document = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
        if marker in document:
            start = document.index(marker)
            end = document.index(marker, start + len(marker)) + len(marker)
            document = document[:start] + f"{marker}\n{text}\n{marker}" + document[end:]
        else:
            document = document.rstrip("\n") + f"\n\n## {self.heading}\n\n{marker}\n{text}\n{marker}\n"
        path.write_text(document, encoding="utf-8")
        log.info("wrote the %s section of %s", self.heading, path)


def parse_args(parser: argparse.ArgumentParser, section: Section) -> argparse.Namespace:
    """The command line, with `--write FILE` for `section` added; logging set up."""
    parser.add_argument(
        "--write", type=Path, metavar="FILE", help=f"put the results into FILE's {section.heading!r} section"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return args


# --- processes --------------------------------------------------------------------


def find_tool(name: str) -> str | None:
    """The path of a command-line tool: on PATH, or in /usr/sbin (nginx is there)."""
    return shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)


def tools_missing(*names: str) -> bool:
    """Whether any of these tools is not installed (each one missing is logged)."""
    missing = [name for name in names if not find_tool(name)]
    for name in missing:
        log.error("%s is not installed", name)
    return bool(missing)


def pinned(cpu: int, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `command` on CPU `cpu` (taskset) in the project folder, the project importable, output discarded."""
    return subprocess.Popen(
        ["taskset", "-c", str(cpu), *command],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)} | (env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def pin(pid: int, cpu: int) -> None:
    """Move a running process, all its threads, to CPU `cpu`."""
    subprocess.run(["taskset", "-a", "-cp", str(cpu), str(pid)], check=True, stdout=subprocess.DEVNULL)


def stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Terminate `process` and wait for it (killing it after `timeout` seconds)."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- ports ------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Return once loopback `port` accepts connections; fail at once if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}") from None
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


def wait_for_http(port: int, path: str, method: str = "GET", expect=(200,), timeout: float = 60.0) -> None:
    """Return once `method path` on loopback `port` answers with a status in `expect` (a POST sends `[]`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request(
                method,
                path,
                body=b"[]" if method == "POST" else None,
                headers={"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"},
            )
            if connection.getresponse().status in expect:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


# --- wrk --------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    """wrk's summary; latency percentiles (ms) only when it ran with `--latency`."""

    requests_s: float
    mb_s: float  # 10^6 bytes a second
    completed: int
    non2xx: int
    socket_errors: int
    p50_ms: float | None
    p99_ms: float | None


def wrk(url: str, seconds: float, connections: int, *options: str, script_args: tuple[str, ...] = ()) -> WrkResult:
    """Run `wrk -t1` on CPU 1 against `url` with extra `options` (and arguments for its Lua script)."""
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", *options, url]
    if script_args:
        command += ["--", *script_args]
    return parse_wrk(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def parse_wrk(output: str) -> WrkResult:
    """The figures of wrk's printed summary."""

    def latency(percent: str) -> float | None:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not match:
            return None
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    transfer = _search(r"Transfer/sec:\s+([\d.]+)(\w+)", output)
    scale = {"B": 1e-6, "KB": 1.024e-3, "MB": 1.048576, "GB": 1073.741824}[transfer.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests_s=float(_search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        mb_s=float(transfer.group(1)) * scale,
        completed=int(_search(r"(\d+) requests in", output).group(1)),
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(map(int, socket_errors.groups())) if socket_errors else 0,
        p50_ms=latency("50"),
        p99_ms=latency("99"),
    )


def _search(pattern: str, output: str) -> re.Match[str]:
    """A line wrk always prints; a ValueError naming it if the output lacks it."""
    match = re.search(pattern, output)
    if match is None:
        raise ValueError(f"wrk printed no line matching {pattern!r}")
    return match
