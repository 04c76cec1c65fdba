"""`halls nginx-config` with a real nginx in front of a real server: objects come through identically."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time

import pytest

from server.web.nginx import NginxOptions, nginx_config
from tests.server.conftest import fetch, store_object
from tests.serving import free_port

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian package 'nginx')")

DATA = os.urandom(300_000)
COMPARED = ("ETag", "Cache-Control", "Content-Type", "Content-Length", "Content-Range", "Accept-Ranges")


@pytest.fixture
def nginx(server, config, tmp_path):
    """nginx on a free port, objects from the fake build, the rest proxied to `server`."""
    port = free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    options = NginxOptions(
        listen=f"127.0.0.1:{port}",
        upstream=f"127.0.0.1:{server.port}",
        full=True,
        prefix=prefix,
        foreground=True,
        access_log=False,
    )
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(config, options))
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(prefix), "-e", "stderr"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"nginx did not start: {process.stderr.read().decode()}")
            time.sleep(0.02)
    yield port
    process.terminate()
    process.wait(5)


@pytest.fixture
def glb(build_dir):
    return store_object(build_dir, DATA, "glb")


def _both(server, nginx, path, method="GET", headers=None):
    direct = fetch(server.port, path, method, headers)
    proxied = fetch(nginx, path, method, headers)
    return direct, proxied


def assert_same(direct, proxied):
    assert proxied.status == direct.status
    if direct.status >= 400:  # error bodies differ (nginx writes an HTML page)
        assert proxied.headers.get("Content-Range") == direct.headers.get("Content-Range")
        return
    assert proxied.body == direct.body
    for name in COMPARED:
        assert proxied.headers.get(name) == direct.headers.get(name), name


def test_nginx_config_is_accepted_by_nginx(config, tmp_path):
    prefix = tmp_path / "check"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    options = NginxOptions(full=True, prefix=prefix, listen="127.0.0.1:1", upstream="127.0.0.1:8080")
    conf.write_text(nginx_config(config, options))
    run = subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-p", str(prefix), "-e", "stderr"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Range": "bytes=0-1023"},
        {"Range": "bytes=-100"},
        {"Range": "bytes=299000-"},
        {"Range": f"bytes={len(DATA)}-"},
    ],
)
def test_nginx_serves_object_like_the_server(server, nginx, glb, headers):
    direct, proxied = _both(server, nginx, f"/objects/{glb['name']}", headers=headers)
    assert_same(direct, proxied)


def test_nginx_answers_head_like_the_server(server, nginx, glb):
    direct, proxied = _both(server, nginx, f"/objects/{glb['name']}", method="HEAD")
    assert_same(direct, proxied)


@pytest.mark.parametrize("tag", ['"{h}"', 'W/"{h}"', '"other", "{h}"', "*"])
def test_nginx_answers_304_for_the_hash_etag_like_the_server(server, nginx, glb, tag):
    headers = {"If-None-Match": tag.format(h=glb["sha256"])}
    direct, proxied = _both(server, nginx, f"/objects/{glb['name']}", headers=headers)
    assert direct.status == proxied.status == 304
    for name in ("ETag", "Cache-Control"):
        assert proxied.headers.get(name) == direct.headers.get(name)


def test_nginx_sends_object_when_if_none_match_names_another_tag(server, nginx, glb):
    direct, proxied = _both(server, nginx, f"/objects/{glb['name']}", headers={"If-None-Match": '"other"'})
    assert_same(direct, proxied)


@pytest.mark.parametrize("if_range, status", [('"{h}"', 206), ('"' + "0" * 64 + '"', 200)])
def test_nginx_honours_if_range_like_the_server(server, nginx, glb, if_range, status):
    headers = {"Range": "bytes=10-19", "If-Range": if_range.format(h=glb["sha256"])}
    direct, proxied = _both(server, nginx, f"/objects/{glb['name']}", headers=headers)
    assert direct.status == status
    assert_same(direct, proxied)


@pytest.mark.parametrize(
    "path",
    [
        "/objects/%2e%2e/current/catalog.json",
        "/objects/..%2fcurrent%2fprivate%2fanswers%2falpha.json",
        "/objects/" + "a" * 64 + ".glb",
        "/objects/" + "A" * 64 + ".glb",
        "/private/answers/alpha.json",
        "/current/private/answers/alpha.json",
    ],
)
def test_nginx_answers_404_to_what_the_server_refuses(server, nginx, path):
    direct, proxied = _both(server, nginx, path)
    assert direct.status == proxied.status == 404
    assert b"ANSWER-KEY" not in proxied.body


def test_nginx_refuses_symlinked_object(server, nginx, build_dir):
    name = "b" * 64 + ".glb"
    (build_dir / "objects" / name).symlink_to(build_dir / "current" / "catalog.json")
    direct, proxied = _both(server, nginx, f"/objects/{name}")
    assert direct.status == 404 and proxied.status in (403, 404)
    assert b"tunlan-hall" not in proxied.body


def test_nginx_proxies_the_api_with_etags_and_304(server, nginx):
    direct, proxied = _both(server, nginx, "/api/halls/alpha", headers={"Accept-Encoding": "gzip"})
    assert proxied.status == 200 and proxied.body == direct.body
    assert proxied.headers["ETag"] == direct.headers["ETag"]
    assert proxied.headers["Content-Encoding"] == "gzip"
    again = fetch(nginx, "/api/halls/alpha", headers={"If-None-Match": direct.headers["ETag"]})
    assert again.status == 304
    assert fetch(nginx, "/api/halls/nope").json() == {"error": "unknown hall 'nope'"}


def test_nginx_passes_websocket_upgrade_to_the_hub(server, nginx):
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", nginx), timeout=5) as sock:
        sock.sendall(
            (
                f"GET /ws/halls/alpha HTTP/1.1\r\nHost: 127.0.0.1:{nginx}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = sock.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 101"), head
    assert "upgrade: websocket" in head.lower()


@pytest.mark.parametrize("ext", ["glb", "bam", "bam.pz", "png", "jpg", "ogg", "mp3", "wav", "mp4", "webm"])
def test_nginx_sends_the_same_content_type_as_the_server(server, nginx, build_dir, ext):
    entry = store_object(build_dir, b"object of kind " + ext.encode(), ext)
    direct, proxied = _both(server, nginx, f"/objects/{entry['name']}")
    assert_same(direct, proxied)
