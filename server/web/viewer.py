"""Routes of the browser viewer.

    GET /halls/{hall_id}                    the viewer page (`viewer.html` of the web folder), with a CSP
    GET /vendor/three/build/{path}          files of `node_modules/three/build/`
    GET /vendor/three/examples/jsm/{path}   files of `node_modules/three/examples/jsm/`

The service worker `/sw.js` and the web app manifest `/manifest.webmanifest` are files of the web
folder too; `offline_headers` gives them the headers they need (the worker is checked on every load,
so an update reaches members at once; its scope is `/`, where it lives).

The catalog page `/` is the web folder's `index.html`, and the viewer's own
modules (`/js/...`, `/css/...`) are its other files; the app's static route
serves them.  three.js comes from npm (`package.json`), never from copies in
the repository: only the two folders above are reachable, one checked path
segment at a time, and a file must resolve inside them.  Library files are
gzipped once and kept in memory (three.js is ~2 MB, ~0.5 MB gzipped: it
matters on a headset's Wi-Fi), with a content ETag for revalidation.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from server.config import CONFIG, ServerConfig
from server.web.catalog import CURRENT_BUILD, HALL_ID

log = logging.getLogger(__name__)

THREE_FOLDERS = {"build": ("build",), "examples/jsm": ("examples", "jsm")}
"""URL part under `/vendor/three/` -> folder inside the `three` package."""
SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
"""One path segment: no leading dot (so no `.`, `..` or hidden files), no slashes or odd bytes."""
VENDOR_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".css": "text/css",
}
VENDOR_CACHE = "public, max-age=86400"
"""Library files change only when package.json moves; a day, revalidated by ETag after."""
PAGE_CACHE = "no-cache"

THREE_DIR = web.AppKey("three_dir", Path)
"""The `three` npm package folder the vendor routes read from."""
WEB_DIR = web.AppKey("viewer_web_dir", Path)


@dataclass(frozen=True)
class VendorFile:
    """A library file as sent: bytes, gzipped bytes, a strong ETag, and the stat it was read at."""

    stamp: tuple[int, int]
    body: bytes
    gzipped: bytes
    etag: str


VENDOR_FILES = web.AppKey("vendor_files", dict)
"""Path -> VendorFile, filled on first request (a few dozen files at most)."""


def add_web_routes(app: web.Application, config: ServerConfig) -> None:
    """Register the viewer page and the three.js vendor routes."""
    app[WEB_DIR] = config.web_path
    three = find_three(config.root)
    if three is None:
        log.warning("three.js is not installed (run `npm ci`); the browser viewer cannot start")
        three = Path(config.root) / "node_modules" / "three"
    app[THREE_DIR] = three
    app[VENDOR_FILES] = {}
    app.router.add_get("/halls/{hall_id}", viewer_page)
    app.on_response_prepare.append(offline_headers)
    for url_part in THREE_FOLDERS:
        app.router.add_get(f"/vendor/three/{url_part}/{{path:.+}}", _vendor_handler(url_part))


OFFLINE_FILES = {
    "/sw.js": {"Cache-Control": PAGE_CACHE, "Content-Type": "text/javascript; charset=utf-8"},
    "/manifest.webmanifest": {"Cache-Control": PAGE_CACHE, "Content-Type": "application/manifest+json"},
}
"""Headers of the offline files, whatever the static route would have sent."""


async def offline_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`Cache-Control: no-cache` and the right type for the service worker and the web app manifest."""
    headers = OFFLINE_FILES.get(request.path)
    if headers is not None and response.status in (200, 304):
        response.headers.update(headers)


def find_three(root: Path) -> Path | None:
    """`node_modules/three` of the project, else of this checkout."""
    for base in (Path(root), Path(__file__).resolve().parents[2]):
        candidate = base / "node_modules" / "three"
        if (candidate / "build" / "three.module.js").is_file():
            return candidate
    return None


async def viewer_page(request: web.Request) -> web.StreamResponse:
    """The viewer for a hall of the current build; a small 404 page otherwise."""
    hall_id = request.match_info["hall_id"]
    view = request.app[CURRENT_BUILD].view
    page = request.app[WEB_DIR] / "viewer.html"
    if not HALL_ID.fullmatch(hall_id) or hall_id not in view.manifests:
        return _not_found(f"没有这个展厅 · No such hall: {hall_id}")
    if not page.is_file():
        return _not_found("浏览器展厅未安装 · The browser viewer is not installed")
    policy = content_security_policy(page, request.app[CONFIG].objects_url, request.host)
    return web.FileResponse(
        page,
        headers={
            "Cache-Control": PAGE_CACHE,
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": policy,
        },
    )


INLINE_SCRIPT = re.compile(r"<script(?:\s+type=\"importmap\")?>(.*?)</script>", re.S)


def content_security_policy(page: Path, objects_url: str, host: str) -> str:
    """Only this server's scripts (and the page's own inline ones, by hash) run; objects may come from a CDN.

    `wasm-unsafe-eval` lets the meshopt decoder compile its WebAssembly; `blob:` URLs are pictures decoded
    from fetched chunk bytes.  Hall text never reaches the page as markup anyway: this is the second line.
    """
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in INLINE_SCRIPT.findall(page.read_text(encoding="utf-8"))
    )
    parts = urlsplit(objects_url)
    objects = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'wasm-unsafe-eval' {hashes}".rstrip(),
            f"connect-src 'self' blob: ws://{host} wss://{host}{objects}",
            f"img-src 'self' blob: data:{objects}",
            f"media-src 'self' blob:{objects}",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
        ]
    )


def vendor_file(three: Path, url_part: str, path: str) -> Path | None:
    """The file under the `three` folder for `url_part` that `path` names, or None when it is not allowed."""
    parts = path.split("/")
    if not all(SEGMENT.fullmatch(part) for part in parts) or Path(parts[-1]).suffix not in VENDOR_TYPES:
        return None
    folder = three.joinpath(*THREE_FOLDERS[url_part])
    try:
        base = folder.resolve(strict=True)
        target = base.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def _vendor_handler(url_part: str):
    async def vendor(request: web.Request) -> web.StreamResponse:
        target = vendor_file(request.app[THREE_DIR], url_part, request.match_info["path"])
        if target is None:
            raise web.HTTPNotFound()
        return send_vendor_file(request, target)

    return vendor


def send_vendor_file(request: web.Request, target: Path) -> web.Response:
    """A library file from `node_modules` (one `VENDOR_TYPES` names): gzipped when asked, ETag, a day's cache."""
    entry = _vendor_entry(request.app[VENDOR_FILES], target)
    zipped = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    etag = f'"{entry.etag}-gz"' if zipped else f'"{entry.etag}"'
    headers = {"Cache-Control": VENDOR_CACHE, "ETag": etag, "Vary": "Accept-Encoding"}
    tags = {tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")}
    if etag in tags or f'"{entry.etag}"' in tags or f'"{entry.etag}-gz"' in tags:
        return web.Response(status=304, headers=headers)
    content_type = VENDOR_TYPES[target.suffix]
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    headers["Content-Type"] = content_type
    if zipped:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=entry.gzipped if zipped else entry.body, headers=headers)


def _vendor_entry(cache: dict, target: Path) -> VendorFile:
    info = target.stat()
    stamp = (info.st_mtime_ns, info.st_size)
    entry = cache.get(target)
    if entry is None or entry.stamp != stamp:
        body = target.read_bytes()
        entry = VendorFile(
            stamp, body, gzip.compress(body, compresslevel=6, mtime=0), hashlib.sha256(body).hexdigest()[:32]
        )
        cache[target] = entry
    return entry


def _not_found(message: str) -> web.Response:
    body = (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>404</title></head>'
        f'<body><p>{html.escape(message)}</p><p><a href="/">返回展厅目录 · Back to the halls</a></p></body></html>'
    )
    return web.Response(status=404, text=body, content_type="text/html", headers={"Cache-Control": "no-store"})
