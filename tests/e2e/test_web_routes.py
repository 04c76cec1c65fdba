"""The viewer's routes without a browser: pages, three.js from node_modules only, safe paths."""

from __future__ import annotations

import gzip
import http.client
import io
import json
import re

import pytest
from PIL import Image

from server.web import icons
from server.web.viewer import find_three, vendor_file
from tests.e2e.conftest import ROOT


def fetch(server, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def test_catalog_and_viewer_pages_are_served(halls_server):
    status, headers, body = fetch(halls_server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"/js/catalog.js" in body
    status, headers, body = fetch(halls_server, "/halls/red")
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval' 'sha256-" in policy and "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert b'"three": "/vendor/three/build/three.module.js"' in body and b"/js/viewer.js" in body
    status, _, body = fetch(halls_server, "/js/viewer.js")
    assert status == 200 and b"__hallsViewer" in body


@pytest.mark.parametrize("path", ["/halls/nowhere", "/halls/..%2Fcatalog", "/halls/RED", "/halls/%3Cscript%3E"])
def test_unknown_halls_answer_404_without_echoing_markup(halls_server, path):
    status, _, body = fetch(halls_server, path)
    assert status == 404 and b"<script>" not in body


def test_three_is_served_from_node_modules_gzipped_when_asked(halls_server):
    status, headers, body = fetch(halls_server, "/vendor/three/build/three.module.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert body == (ROOT / "node_modules/three/build/three.module.js").read_bytes()
    assert "Content-Encoding" not in headers and headers["Cache-Control"] == "public, max-age=86400"
    status, zipped_headers, zipped = fetch(
        halls_server, "/vendor/three/build/three.core.js", {"Accept-Encoding": "gzip, br"}
    )
    assert status == 200 and zipped_headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped) == (ROOT / "node_modules/three/build/three.core.js").read_bytes()
    status, _, _ = fetch(halls_server, "/vendor/three/build/three.core.js", {"If-None-Match": zipped_headers["ETag"]})
    assert status == 304
    status, _, _ = fetch(halls_server, "/vendor/three/examples/jsm/loaders/GLTFLoader.js")
    assert status == 200
    status, _, _ = fetch(halls_server, "/vendor/three/examples/jsm/libs/meshopt_decoder.module.js")
    assert status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/three/build/../package.json",
        "/vendor/three/build/%2e%2e/package.json",
        "/vendor/three/build/..%2fpackage.json",
        "/vendor/three/examples/jsm/../../package.json",
        "/vendor/three/build/.hidden.js",
        "/vendor/three/build/three.module.js%00.js",
        "/vendor/three/src/Three.js",
        "/vendor/three/build/three.cjs",
        "/vendor/three/examples/jsm/%2fetc%2fpasswd.js",
        "/vendor/three/build//etc/passwd",
        "/vendor/three/build/nothing.js",
        "/vendor/three/examples/jsm/loaders",
    ],
)
def test_vendor_paths_outside_the_two_folders_answer_404(halls_server, path):
    assert fetch(halls_server, path)[0] == 404


def test_vendor_file_refuses_symlinks_out_of_the_package(tmp_path):
    three = tmp_path / "three"
    (three / "build").mkdir(parents=True)
    (three / "build" / "three.module.js").write_text("export {};")
    (tmp_path / "secret.js").write_text("secret")
    (three / "build" / "escape.js").symlink_to(tmp_path / "secret.js")
    assert vendor_file(three, "build", "three.module.js") == (three / "build" / "three.module.js").resolve()
    assert vendor_file(three, "build", "escape.js") is None
    assert vendor_file(three, "build", "a/../three.module.js") is None


def test_three_is_found_in_the_project_or_this_checkout(tmp_path):
    assert find_three(tmp_path) == ROOT / "node_modules" / "three"
    assert find_three(ROOT) == ROOT / "node_modules" / "three"


def test_viewer_text_goes_in_as_text_only():
    """Content and member names reach the page only through textContent and text nodes."""
    for path in (ROOT / "server" / "web").rglob("*.js"):
        source = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{path.relative_to(ROOT)} uses {sink}"


# --- the installable, offline viewer -----------------------------------------------------------

STATIC = ROOT / "server" / "web" / "static"


def _js_list(source: str, name: str) -> list[str]:
    block = re.search(rf"export const {name} = Object\.freeze\(\[(.*?)\]\);", source, re.S)
    assert block, f"offline-caches.js: no {name}"
    return re.findall(r"'([^']+)'", block.group(1))


def test_service_worker_and_app_manifest_are_served_for_scope_root_and_revalidated(halls_server):
    status, headers, body = fetch(halls_server, "/sw.js")
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    assert headers["Content-Type"].startswith("text/javascript") and b"addEventListener('fetch'" in body
    assert "Service-Worker-Allowed" not in headers  # it lives at /, so its scope is / without asking
    status, headers, body = fetch(halls_server, "/manifest.webmanifest")
    assert status == 200 and headers["Content-Type"] == "application/manifest+json"
    app = json.loads(body)
    assert app["name"] == "屯兰VR智慧党建展馆" and app["start_url"] == "/" and app["display"] == "standalone"
    red = re.search(r"--red: (#[0-9a-f]{6});", (STATIC / "css" / "halls.css").read_text(encoding="utf-8"))
    assert red and app["theme_color"] == red.group(1)  # the catalog header's colour
    for icon in app["icons"]:
        status, headers, body = fetch(halls_server, icon["src"])
        assert status == 200 and headers["Content-Type"] == icon["type"]
        if icon["type"] == "image/png":
            assert Image.open(io.BytesIO(body)).size == tuple(int(n) for n in icon["sizes"].split("x"))
    for page in ("/", "/halls/red"):
        body = fetch(halls_server, page)[2]
        assert b'<link rel="manifest" href="/manifest.webmanifest">' in body and b'id="network"' in body


def test_the_worker_stores_every_viewer_file_and_three_as_the_viewer_imports_it(halls_server):
    source = (STATIC / "js" / "offline-caches.js").read_text(encoding="utf-8")
    shell = _js_list(source, "SHELL_FILES")
    mine = {f"/js/{p.name}" for p in (STATIC / "js").glob("*.js")}
    mine |= {f"/css/{p.name}" for p in (STATIC / "css").glob("*.css")}
    mine |= {f"/icons/{p.name}" for p in (STATIC / "icons").iterdir()} | {"/", "/manifest.webmanifest"}
    assert sorted(shell) == sorted(mine)
    vendor = _js_list(source, "VENDOR_FILES")
    page = (STATIC / "viewer.html").read_text(encoding="utf-8")
    assert sorted(vendor) == sorted(re.findall(r'<link rel="modulepreload" href="(/vendor/three/[^"]+)">', page))
    three = json.loads((ROOT / "node_modules" / "three" / "package.json").read_text(encoding="utf-8"))["version"]
    assert f"vendor: 'halls-vendor-three-{three}'" in source, "three.js moved: rename the vendor cache"
    for path in shell + vendor:
        assert fetch(halls_server, path)[0] == 200, path


def test_icons_are_the_drawn_shapes():
    assert (STATIC / "icons" / "icon.svg").read_text(encoding="utf-8") == icons.svg()
    for size in icons.SIZES:
        committed = Image.open(STATIC / "icons" / f"icon-{size}.png").convert("RGB")
        drawn = Image.open(io.BytesIO(icons.png(size))).convert("RGB")
        assert committed.tobytes() == drawn.tobytes(), f"icon-{size}.png: run python -m server.web.icons"
