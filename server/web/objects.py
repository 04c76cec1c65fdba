"""Immutable content-addressed objects: `GET|HEAD /objects/{sha256}.{ext}`.

A name is the SHA-256 of the file's bytes, so the hash is a strong ETag and
the file may be cached forever.  Only names matching `OBJECT_NAME` are
looked at; the file is opened with O_NOFOLLOW inside `build/objects/` and
must be a regular file, so `..`, encoded slashes, NUL bytes, absolute paths
and symlinks all end in 404 without touching anything else.  Objects are
never compressed here (meshopt glb, `.bam.pz`, png and media are compressed already,
and Range offsets must address the stored bytes); nginx or a CDN in front
may do better for plain glb and bam.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path
from typing import Literal

from aiohttp import web

from server.config import CONFIG

OBJECT_NAME = re.compile(r"[0-9a-f]{64}\.(glb|bam|bam\.pz|png|jpg|jpeg|ogg|mp3|wav|mp4|webm)")
CONTENT_TYPES = {
    "glb": "model/gltf-binary",
    "bam": "application/octet-stream",
    "bam.pz": "application/octet-stream",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "mp4": "video/mp4",
    "webm": "video/webm",
}
CACHE_CONTROL = "public, max-age=31536000, immutable"
SMALL_BODY = 256 * 1024
"""Bodies up to this size are read and written in one go; larger ones go by sendfile."""
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
"""O_NONBLOCK: a FIFO planted under a valid name must not block the open."""


def add_object_routes(app: web.Application) -> None:
    app.router.add_route("GET", "/objects/{name}", object_handler)
    app.router.add_route("HEAD", "/objects/{name}", object_handler)


async def object_handler(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    match = OBJECT_NAME.fullmatch(name)
    if match is None:
        raise web.HTTPNotFound()
    # Looking a file up in the page cache takes microseconds: done inline, a
    # thread hop per request would cost more than it saves.
    objects_dir = request.app[CONFIG].objects_dir
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and "If-Match" not in request.headers and _etag_listed(if_none_match, name[:64], True):
        if not is_object(objects_dir, name):  # a revalidation needs no open file, only its existence
            raise web.HTTPNotFound()
        return web.Response(status=304, headers={"ETag": f'"{name[:64]}"', "Cache-Control": CACHE_CONTROL})
    opened = open_object(objects_dir, name)
    if opened is None:
        raise web.HTTPNotFound()
    fd, size = opened
    with os.fdopen(fd, "rb", buffering=0) as file:
        return await send_object(request, file, size, name[:64], CONTENT_TYPES[match.group(1)])


def is_object(objects_dir: Path | str, name: str) -> bool:
    """A regular file (not a symlink) named `name` is in `objects_dir`."""
    if "/" in name or "\0" in name:
        return False
    try:
        return stat.S_ISREG(os.lstat(os.path.join(objects_dir, name)).st_mode)
    except OSError:
        return False


def open_object(objects_dir: Path | str, name: str) -> tuple[int, int] | None:
    """(descriptor, size) of a regular file named `name` directly in `objects_dir`, or None."""
    if "/" in name or "\0" in name:
        return None
    try:
        fd = os.open(os.path.join(objects_dir, name), OPEN_FLAGS)
    except OSError:
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    return fd, info.st_size


async def send_object(request: web.Request, file, size: int, digest: str, content_type: str) -> web.StreamResponse:
    """Answer with conditional and range handling for an object whose strong ETag is its hash."""
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if_match = request.headers.get("If-Match")
    if if_match is not None and not _etag_listed(if_match, digest, weak=False):
        return web.Response(status=412, headers=headers)
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and _etag_listed(if_none_match, digest, weak=True):
        return web.Response(status=304, headers=headers)
    headers |= {"Content-Type": content_type, "Accept-Ranges": "bytes"}
    start, count, status = 0, size, 200
    range_header = request.headers.get("Range")
    if range_header is not None and _if_range_holds(request.headers.get("If-Range"), etag):
        byte_range = parse_range(range_header, size)
        if byte_range == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{size}"
            del headers["Content-Type"], headers["Accept-Ranges"]
            return web.Response(status=416, headers=headers)
        if byte_range is not None:
            start, end = byte_range
            count, status = end - start + 1, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            del headers["Accept-Ranges"]  # as nginx does: it advertises ranges on full answers only
    if count <= SMALL_BODY and request.method != "HEAD":
        # One write of headers and body beats sendfile's extra loop turns for small files.
        return web.Response(status=status, headers=headers, body=os.pread(file.fileno(), count, start))
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = count
    try:
        await response.prepare(request)
        if request.method != "HEAD" and count > 0:
            transport = request.transport
            if transport is None or transport.is_closing():
                return response
            await asyncio.get_running_loop().sendfile(transport, file, start, count)
        await response.write_eof()
    except ConnectionError:  # the client went away mid-answer: nothing to log but the access line
        pass
    return response


def parse_range(header: str, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """One `bytes=` range as inclusive (first, last); "unsatisfiable"; or None to send everything.

    Other units and multiple ranges are ignored (the whole object is sent),
    as RFC 9110 allows.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first or last) or not (_ASCII_DIGITS.fullmatch(first) and _ASCII_DIGITS.fullmatch(last)):
        return None
    if first == "":
        suffix = _position(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(size - suffix, 0), size - 1
    start = _position(first)
    end = size - 1 if last == "" else min(_position(last), size - 1)
    if start >= size or (last != "" and _position(last) < start):
        return "unsatisfiable"
    return start, end


_ASCII_DIGITS = re.compile(r"[0-9]*")
"""Byte positions are ASCII digits (str.isdigit also takes '²' and other scripts' digits, which int() refuses)."""
_FAR = 10**18
"""Any position past every object: a longer number means the same (and int() refuses over 4,300 digits)."""


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _FAR


def _etag_listed(header: str, digest: str, weak: bool) -> bool:
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            if not weak:
                continue
            tag = tag[2:]
        if tag == f'"{digest}"':
            return True
    return False


def _if_range_holds(header: str | None, etag: str) -> bool:
    """If-Range must name our strong ETag; a date cannot match (objects carry no Last-Modified)."""
    return header is None or header.strip() == etag
