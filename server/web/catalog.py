"""The published build as the server sees it, and the JSON API over it.

`halls build` publishes `build/current` -> `releases/<id>/` (catalog,
manifests, and `private/` answer keys that are never served).  The server
loads one release into an immutable `BuildView`; a request reads the view
once, so a build switch never mixes two builds in one answer and never drops
a connection.  JSON bodies, their gzip forms and ETags are made once per
build, not per request.

    GET /api/halls                      catalog
    GET /api/halls/{id}[?variant=V]     manifest (V: meshopt | plain | bam)
    GET /api/halls/{id}/plan?from=ROOM  chunk fetch order from a room
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gzip
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from aiohttp import web

from halls_contract.catalog import Catalog, dump_catalog, parse_catalog
from halls_contract.manifest import VARIANTS, dump_manifest, parse_manifest
from server.config import CONFIG
from server.web.events import BUILD_EVENTS, BuildNotice
from server.web.plan import UnknownRoom, streaming_plan

log = logging.getLogger(__name__)

HALL_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
GZIP_MIN_BYTES = 1024
"""Below this a gzip body saves less than the header and CPU cost."""


@dataclass(frozen=True)
class JsonDocument:
    """A JSON body ready to send: bytes, a gzip copy when it pays, and a strong ETag."""

    value: Any
    body: bytes
    gzipped: bytes | None
    etag: str

    @classmethod
    def of(cls, value: Any) -> JsonDocument:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        if packed is not None and len(packed) > len(body) * 0.9:
            packed = None
        return cls(value, body, packed, hashlib.sha256(body).hexdigest()[:32])


@dataclass(frozen=True)
class BuildView:
    """One published build, loaded whole; replaced, never modified."""

    build_id: str | None
    source: str | None
    """What `build/current` pointed at when loaded (used to notice a new build)."""
    release: Path | None
    catalog: JsonDocument
    manifests: Mapping[str, Mapping[str | None, JsonDocument]] = field(default_factory=dict)
    """Hall id -> variant (None = as published) -> document."""
    loaded_at: float = 0.0

    def manifest(self, hall_id: str) -> Mapping | None:
        documents = self.manifests.get(hall_id)
        return None if documents is None else documents[None].value


class CurrentBuild:
    """Holds the view being served; `replace` swaps it in one assignment."""

    def __init__(self, view: BuildView) -> None:
        self._view = view

    @property
    def view(self) -> BuildView:
        return self._view

    def replace(self, view: BuildView) -> BuildView:
        old, self._view = self._view, view
        return old


CURRENT_BUILD: web.AppKey[CurrentBuild] = web.AppKey("current_build", CurrentBuild)
"""The build being served (read `app[CURRENT_BUILD].view` once per request)."""
BUILD_LOCK: web.AppKey[asyncio.Lock] = web.AppKey("build_lock", asyncio.Lock)


# --- loading ---------------------------------------------------------------


def empty_view() -> BuildView:
    """What is served before anything was built."""
    catalog = dump_catalog(Catalog(build=None, halls=()))
    return BuildView(None, None, None, JsonDocument.of(catalog), MappingProxyType({}), time.time())


def current_target(build_dir: Path) -> str | None:
    """Where `build/current` points (a cheap readlink), or None when nothing is published."""
    current = build_dir / "current"
    try:
        return os.readlink(current)
    except FileNotFoundError:
        return None
    except OSError:
        return str(current.resolve()) if current.is_dir() else None


def load_build(build_dir: Path, objects_url: str = "/objects/") -> BuildView:
    """Load the release `build/current` points at; the empty view when nothing is published.

    Catalog and manifests are read through `halls_contract` (`ValueError` when they do not follow it) and
    served as the contract dumps them, so nothing outside the models (answer keys) can reach a client.
    """
    target = current_target(build_dir)
    if target is None:
        return empty_view()
    release = (build_dir / target).resolve()
    catalog = dump_catalog(parse_catalog((release / "catalog.json").read_bytes()))
    manifests: dict[str, Mapping[str | None, JsonDocument]] = {}
    halls = []
    for entry in catalog.get("halls", []):
        hall_id = entry.get("id", "")
        if not HALL_ID.fullmatch(hall_id):
            log.warning("catalog of %s lists a bad hall id %r; skipped", release, hall_id)
            continue
        manifest = dump_manifest(parse_manifest((release / "halls" / hall_id / "manifest.json").read_bytes()))
        manifests[hall_id] = MappingProxyType(_variants(manifest, objects_url))
        halls.append(entry | {"url": f"/api/halls/{hall_id}"})
    build_id = catalog.get("build") or release.name
    served = catalog | {"build": build_id, "halls": halls}
    return BuildView(build_id, target, release, JsonDocument.of(served), MappingProxyType(manifests), time.time())


def _variants(manifest: dict, objects_url: str) -> dict[str | None, JsonDocument]:
    documents: dict[str | None, JsonDocument] = {None: JsonDocument.of(manifest)}
    for variant in VARIANTS:
        documents[variant] = JsonDocument.of(manifest_variant(manifest, variant, objects_url))
    return documents


def manifest_variant(manifest: Mapping, variant: str, objects_url: str = "/objects/") -> dict:
    """The manifest with one `model` per chunk for a kind of client, and URLs for every object."""
    result = copy.deepcopy(dict(manifest))
    result["variant"] = variant
    for chunk in result.get("chunks", []):
        chunk["model"] = chunk_model(chunk, variant, objects_url)
    for exhibit in result.get("exhibits", []):
        for asset in exhibit.get("assets", []):
            asset["url"] = objects_url + asset["name"]
    return result


def chunk_model(chunk: Mapping, variant: str, objects_url: str = "/objects/") -> dict | None:
    """The object a client of `variant` fetches for a chunk (meshopt falls back to plain glb)."""
    objects = chunk.get("objects", {})
    keys = {"meshopt": ("glb_meshopt", "glb"), "plain": ("glb",), "bam": ("bam",)}[variant]
    for key in keys:
        if key in objects:
            entry = dict(objects[key])
            return entry | {"kind": key, "url": objects_url + entry["name"]}
    return None


def changed_chunks(old: BuildView, new: BuildView) -> dict[str, list[str]]:
    """Halls whose manifest changed -> ids of chunks whose objects changed (added, removed or rebuilt)."""
    changes = {}
    for hall_id in sorted(set(old.manifests) | set(new.manifests)):
        before, after = old.manifests.get(hall_id), new.manifests.get(hall_id)
        if before is not None and after is not None and _canonical(before[None].value) == _canonical(after[None].value):
            continue
        old_chunks = _chunk_objects(before[None].value if before else {})
        new_chunks = _chunk_objects(after[None].value if after else {})
        order = list(new_chunks) + [c for c in old_chunks if c not in new_chunks]
        changes[hall_id] = [c for c in order if old_chunks.get(c) != new_chunks.get(c)]
    return changes


def _canonical(value: Any) -> str:
    """The same JSON whatever the key order (a manifest is unchanged if only its key order moved)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _chunk_objects(manifest: Mapping) -> dict[str, tuple]:
    return {
        chunk["id"]: tuple(sorted((k, v.get("sha256")) for k, v in chunk.get("objects", {}).items()))
        for chunk in manifest.get("chunks", [])
    }


# --- switching builds -------------------------------------------------------


async def notify_reload(
    app: web.Application, hall_id: str | None, changed: list[str], error: str | None = None, *, share: bool = False
) -> None:
    """Announce on the app's build events that a hall changed or a build failed.

    `share`: also tell other workers.  Off for build switches, which every
    worker notices by itself; on for what only the watching worker knows.
    """
    events = app.get(BUILD_EVENTS)
    if events is not None:
        await events.send(BuildNotice(hall_id, tuple(changed), error, share))


async def switch_build(app: web.Application, view: BuildView) -> bool:
    """Serve `view` from now on and tell clients which chunks changed; False if it is already served."""
    holder = app[CURRENT_BUILD]
    if view.source == holder.view.source and view.build_id == holder.view.build_id:
        return False
    old = holder.replace(view)
    changes = changed_chunks(old, view)
    log.info("serving build %s (was %s); %d hall(s) changed", view.build_id, old.build_id, len(changes))
    for hall_id, chunks in changes.items():
        await notify_reload(app, hall_id, chunks)
    return True


async def reload_current(app: web.Application) -> bool:
    """Load whatever `build/current` points at now and switch to it if it is new."""
    config = app[CONFIG]
    async with app[BUILD_LOCK]:
        if current_target(config.build_path) == app[CURRENT_BUILD].view.source:
            return False
        loop = asyncio.get_running_loop()
        view = await loop.run_in_executor(None, load_build, config.build_path, config.objects_url)
        return await switch_build(app, view)


async def follow_builds(app: web.Application):
    """Cleanup context: load the current build, then follow `build/current` as other processes publish."""
    config = app[CONFIG]
    loop = asyncio.get_running_loop()
    failed = None
    try:
        app[CURRENT_BUILD].replace(await loop.run_in_executor(None, load_build, config.build_path, config.objects_url))
    except (OSError, ValueError, KeyError) as error:
        failed = current_target(config.build_path)
        log.error("cannot load build %s: %s; serving no halls until a good build is published", failed, error)
    view = app[CURRENT_BUILD].view
    log.info("build %s: %d hall(s) from %s", view.build_id, len(view.manifests), config.build_path)
    task = asyncio.create_task(_poll_current(app, failed), name="follow-builds")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _poll_current(app: web.Application, failed: str | None) -> None:
    config = app[CONFIG]
    while True:
        await asyncio.sleep(config.reload_interval)
        target = current_target(config.build_path)
        if target == app[CURRENT_BUILD].view.source or target == failed:
            continue
        try:
            await reload_current(app)
            failed = None
        except (OSError, ValueError, KeyError) as error:
            failed = target
            log.error("cannot load build %s: %s; still serving %s", target, error, app[CURRENT_BUILD].view.build_id)


# --- HTTP handlers ----------------------------------------------------------


def add_catalog_routes(app: web.Application) -> None:
    app.router.add_get("/api/halls", halls_handler)
    app.router.add_get("/api/halls/{hall_id}", manifest_handler)
    app.router.add_get("/api/halls/{hall_id}/plan", plan_handler)


def json_error(status: int, message: str) -> web.Response:
    """`{"error": message}` with a status; never cached."""
    return web.json_response({"error": message}, status=status, headers={"Cache-Control": "no-store"})


def send_json(request: web.Request, document: JsonDocument, vary: str = "Accept-Encoding") -> web.Response:
    """A JSON document with its ETag: 304 when the client has it, gzip when asked and it pays."""
    zipped = document.gzipped is not None and _accepts_gzip(request.headers.get("Accept-Encoding", ""))
    etag = f'"{document.etag}-gz"' if zipped else f'"{document.etag}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": vary}
    if _none_match(request.headers.get("If-None-Match"), document.etag):
        return web.Response(status=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
    body = document.gzipped if zipped else document.body
    return web.Response(body=body, headers=headers, content_type="application/json", charset="utf-8")


async def halls_handler(request: web.Request) -> web.Response:
    return send_json(request, request.app[CURRENT_BUILD].view.catalog)


async def manifest_handler(request: web.Request) -> web.Response:
    view = request.app[CURRENT_BUILD].view
    hall_id = request.match_info["hall_id"]
    documents = view.manifests.get(hall_id)
    if documents is None:
        return json_error(404, f"unknown hall {hall_id!r}")
    variant = requested_variant(request)
    if variant not in documents:
        return json_error(400, f"unknown variant {variant!r} (choose {', '.join(VARIANTS)})")
    return send_json(request, documents[variant], vary="Accept, Accept-Encoding")


async def plan_handler(request: web.Request) -> web.Response:
    view = request.app[CURRENT_BUILD].view
    hall_id = request.match_info["hall_id"]
    manifest = view.manifest(hall_id)
    if manifest is None:
        return json_error(404, f"unknown hall {hall_id!r}")
    start = request.query.get("from") or manifest["spawn"]["room"]
    variant = requested_variant(request) or "plain"
    if variant not in VARIANTS:
        return json_error(400, f"unknown variant {variant!r} (choose {', '.join(VARIANTS)})")
    try:
        steps = streaming_plan(manifest, start)
    except UnknownRoom:
        return json_error(404, f"unknown room {start!r} in hall {hall_id!r}")
    chunks = {chunk["id"]: chunk for chunk in manifest["chunks"]}
    objects_url = request.app[CONFIG].objects_url
    plan = {
        "hall": hall_id,
        "build": view.build_id,
        "from": start,
        "variant": variant,
        "chunks": [
            {
                "id": s.chunk,
                "room": s.room,
                "hops": s.hops,
                "distance": s.distance,
                "model": chunk_model(chunks[s.chunk], variant, objects_url),
            }
            for s in steps
        ],
    }
    return send_json(request, JsonDocument.of(plan), vary="Accept, Accept-Encoding")


def requested_variant(request: web.Request) -> str | None:
    """`?variant=` or an `Accept` media-type parameter (`application/json; variant=meshopt`)."""
    if "variant" in request.query:
        return request.query["variant"].strip().lower()
    for media_range in request.headers.get("Accept", "").split(","):
        for parameter in media_range.split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "variant":
                return value.strip().strip('"').lower()
    return None


def _accepts_gzip(header: str) -> bool:
    for coding in header.lower().split(","):
        name, _, params = coding.partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and _q_is_zero(q[2:]))
    return False


def _q_is_zero(value: str) -> bool:
    try:
        return float(value) == 0
    except ValueError:
        return False


def _none_match(header: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2) of If-None-Match with either encoding's tag."""
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        tag = tag[2:] if tag.startswith("W/") else tag
        if tag in (f'"{etag}"', f'"{etag}-gz"'):
            return True
    return False
