"""`halls serve` and `halls nginx-config` as processes: build first, TLS, clean shutdown."""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from server.cli import add_nginx_arguments, nginx_command
from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[2]


def _serve(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_health(port: int, process: subprocess.Popen, context: ssl.SSLContext | None = None, timeout=120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stdout is not None  # _serve pipes it
            pytest.fail(f"server exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            if context is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            else:
                connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)
            connection.request("GET", "/api/health")
            return json.loads(connection.getresponse().read())
        except OSError:
            time.sleep(0.05)
    pytest.fail("server did not answer /api/health")


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    return output


def test_serve_builds_first_when_nothing_is_built_then_serves(project):
    port = free_port()
    process = _serve(["--root", str(project), "--port", str(port)], env={"HALLS_MESHOPT": "false"})
    try:
        health = _wait_health(port, process)
    finally:
        output = _stop(process)
    assert health["build"] and health["halls"] == 2
    assert f"no build at {project / 'build' / 'current'}; building first" in output
    assert "method=GET path=/api/health status=200" in output


def test_serve_speaks_https_with_configured_certificate(build_dir, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    config = tmp_path / "halls.toml"
    config.write_text(f'tls_cert = "{cert}"\ntls_key = "{key}"\n')
    port = free_port()
    process = _serve(["--root", str(tmp_path), "--port", str(port)], env={"HALLS_CONFIG": str(config)})
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    try:
        health = _wait_health(port, process, context)
    finally:
        _stop(process)
    assert health["build"] == "b1"


def test_json_logs_give_one_object_per_line_with_the_access_fields(build_dir, tmp_path):
    port = free_port()
    process = _serve(["--root", str(tmp_path), "--port", str(port)], env={"HALLS_LOG_FORMAT": "json"})
    try:
        _wait_health(port, process)
    finally:
        output = _stop(process)
    entries = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line is one JSON object
    access = [e for e in entries if e["logger"] == "server.access" and e["path"] == "/api/health"]
    assert access and access[0]["status"] == 200 and access[0]["method"] == "GET" and access[0]["ms"] >= 0
    assert all({"time", "level", "logger", "pid", "message"} <= set(e) for e in entries)
    assert any(e["message"].startswith("serving ") for e in entries)


def test_serve_refuses_bad_config_with_exit_code_2(tmp_path):
    process = _serve(["--root", str(tmp_path)], env={"HALLS_PORT": "eighty"})
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "environment: port: expected an integer, got 'eighty'" in output


def test_nginx_config_command_prints_objects_location_and_websocket_proxy(build_dir, tmp_path):
    parser = argparse.ArgumentParser()
    add_nginx_arguments(parser)
    args = parser.parse_args(["--root", str(tmp_path), "--listen", "8081", "--upstream", "127.0.0.1:9000"])
    out = io.StringIO()
    with redirect_stdout(out):
        assert nginx_command(args) == 0
    text = out.getvalue()
    assert f'root "{build_dir.resolve()}";' in text
    assert "listen 8081;" in text and "server 127.0.0.1:9000;" in text
    assert 'add_header Cache-Control "public, max-age=31536000, immutable";' in text
    assert "model/gltf-binary glb;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "http {" not in text  # the conf.d part unless --full


def test_serve_with_two_workers_shares_one_port_and_stops_both(build_dir, tmp_path):
    port = free_port()
    process = _serve(["--root", str(tmp_path), "--port", str(port), "--workers", "2"])
    try:
        pids = {_wait_health(port, process)["pid"]}
        deadline = time.monotonic() + 60  # the second worker may still be importing
        while len(pids) < 2 and time.monotonic() < deadline:
            pids.add(_wait_health(port, process)["pid"])
    finally:
        _stop(process)
    assert len(pids) == 2 and process.pid not in pids
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_set_flag_reaches_any_config_key_and_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HALLS_PORT", "9100")
    parser = argparse.ArgumentParser()
    add_nginx_arguments(parser)
    args = parser.parse_args(
        ["--root", str(tmp_path), "--set", "port=9001", "--set", "base_url=https://halls.tunlan.test"]
    )
    out = io.StringIO()
    with redirect_stdout(out):
        assert nginx_command(args) == 0
    assert "server 127.0.0.1:9001;" in out.getvalue() and "server_name halls.tunlan.test;" in out.getvalue()


def test_set_flag_with_a_misspelt_key_says_which_key_was_meant(tmp_path, caplog):
    parser = argparse.ArgumentParser()
    add_nginx_arguments(parser)
    args = parser.parse_args(["--root", str(tmp_path), "--set", "hub_tik_hz=3"])
    assert nginx_command(args) == 2
    assert "flags: unknown config key 'hub_tik_hz' (did you mean 'hub_tick_hz'?)" in caplog.text
