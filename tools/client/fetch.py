"""Manifests and objects over HTTP, through a local cache keyed by content hash.

    cache = ObjectCache(cache_dir)
    store = ObjectStore(cache, HttpSource("http://host:8080"))
    manifest = load_manifest(store, "red")
    path = store.fetch(manifest.chunks[0].bam)     # verified bytes on disk

Every object is checked against the manifest's sha256 and size before it is
used or cached, whether it came from the network, the cache or a local build
folder; a mismatch raises `ObjectRejected` and nothing is kept.  The cache is
`<dir>/objects/<sha256 name>` (written atomically) plus the last manifest of
each hall (`<dir>/manifests/<host>/<hall>.json`), which lets the client open
a hall it has seen before when the server cannot be reached.  `FetchLog`
records where each object came from (tests and the benchmark read it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from tools.client.manifest import HallManifest, ManifestError, ObjectRef

log = logging.getLogger(__name__)

USER_AGENT = "tunlan-halls-client/1"
HALL_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class FetchError(Exception):
    """An object or manifest could not be fetched."""


class ServerUnreachable(FetchError):
    """The server did not answer (refused, reset, timed out): later requests will fail too."""


class ObjectRejected(FetchError):
    """The bytes do not match the manifest's hash or size; they were discarded."""


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/tunlan-halls` (or `~/.cache/tunlan-halls`)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tunlan-halls"


def verify(ref: ObjectRef, data: bytes) -> None:
    """Raise `ObjectRejected` unless `data` has the size and sha256 the manifest lists."""
    if len(data) != ref.size:
        raise ObjectRejected(
            f"object {ref.name}: {len(data)} bytes, the manifest says {ref.size} (truncated or corrupt); discarded"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != ref.sha256:
        raise ObjectRejected(
            f"object {ref.name}: sha256 {digest[:12]}... does not match the manifest's "
            f"{ref.sha256[:12]}... (corrupt); discarded"
        )


# --- cache ------------------------------------------------------------------------


class ObjectCache:
    """Verified objects and last-seen manifests under one folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"

    def get(self, ref: ObjectRef) -> Path | None:
        """The cached file for `ref` if present and intact; a damaged copy is deleted."""
        path = self.objects / ref.name
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            verify(ref, data)
        except ObjectRejected as exc:
            log.warning("cache: %s; fetching it again", exc)
            path.unlink(missing_ok=True)
            return None
        return path

    def put(self, ref: ObjectRef, data: bytes) -> Path:
        """Store verified bytes atomically; the path."""
        verify(ref, data)
        path = self.objects / ref.name
        _write_atomic(path, data)
        return path

    def manifest_path(self, server: str, hall_id: str) -> Path:
        host = re.sub(r"[^A-Za-z0-9._-]", "_", urlsplit(server).netloc or server) or "local"
        return self.root / "manifests" / host / f"{hall_id}.json"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- sources ----------------------------------------------------------------------


class Source(Protocol):
    """Where manifests and objects come from."""

    name: str

    def manifest_json(self, hall_id: str) -> dict: ...

    def object_bytes(self, ref: ObjectRef) -> bytes: ...

    @property
    def base_url(self) -> str: ...


class HttpSource:
    """A hall server: `GET /api/halls/{id}?variant=bam` and object URLs."""

    def __init__(self, base_url: str, timeout: float = 15.0, retries: int = 2, backoff: float = 0.5) -> None:
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._base = base_url.rstrip("/") + "/"
        self.name = self._base
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    @property
    def base_url(self) -> str:
        return self._base

    def manifest_json(self, hall_id: str) -> dict:
        data = self._get(f"{self._base}api/halls/{quote(hall_id)}?variant=bam", what=f"manifest of hall {hall_id!r}")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise FetchError(f"manifest of hall {hall_id!r}: not JSON ({exc})") from None

    def object_bytes(self, ref: ObjectRef) -> bytes:
        return self._get(ref.url, what=f"object {ref.name}", expected=ref.size)

    def _get(self, url: str, what: str, expected: int | None = None) -> bytes:
        """GET with a few retries on connection trouble; HTTP errors are final."""
        attempt = 0
        while True:
            try:
                return self._get_once(url, what, expected)
            except ServerUnreachable:
                if attempt >= self.retries:
                    raise
                attempt += 1
                time.sleep(self.backoff * attempt)

    def _get_once(self, url: str, what: str, expected: int | None) -> bytes:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as exc:
            detail = _error_text(exc)
            raise FetchError(f"{what}: the server answered {exc.code} {exc.reason}{detail}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerUnreachable(f"{what}: the server at {self._base} is not answering ({reason})") from None
        except Exception as exc:  # http.client.IncompleteRead and friends: the connection broke mid-body
            raise ServerUnreachable(f"{what}: the connection broke ({type(exc).__name__}: {exc})") from None
        if expected is not None and len(data) < expected:
            raise ObjectRejected(f"{what}: got {len(data)} of {expected} bytes (truncated); discarded")
        return data


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return f": {error}" if error else ""


class BuildFolderSource:
    """A local build folder (`current/halls/<id>/manifest.json`, `objects/`), or one manifest file."""

    def __init__(
        self,
        build_dir: Path | str | None,
        objects_dir: Path | str | None = None,
        manifest_file: Path | str | None = None,
    ) -> None:
        if build_dir is None and (objects_dir is None or manifest_file is None):
            raise ValueError("a local source needs a build folder, or a manifest file and an objects folder")
        self.build_dir = Path(build_dir) if build_dir is not None else None
        if objects_dir:
            self.objects_dir = Path(objects_dir)
        else:
            assert self.build_dir is not None, "without an objects folder a build folder is required (checked above)"
            self.objects_dir = self.build_dir / "objects"
        self.manifest_file = Path(manifest_file) if manifest_file else None
        self.name = str(self.manifest_file or self.build_dir)

    @property
    def base_url(self) -> str:
        return ""

    def manifest_json(self, hall_id: str) -> dict:
        if self.manifest_file is not None:
            path = self.manifest_file
        else:
            assert self.build_dir is not None, "without a manifest file a build folder is required (__init__)"
            path = self.build_dir / "current" / "halls" / hall_id / "manifest.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FetchError(f"no built hall {hall_id!r} at {path} (run 'halls build' first)") from None
        except ValueError as exc:
            raise FetchError(f"{path}: not JSON ({exc})") from None

    def object_bytes(self, ref: ObjectRef) -> bytes:
        try:
            return (self.objects_dir / ref.name).read_bytes()
        except OSError as exc:
            raise FetchError(f"object {ref.name}: {exc.strerror or exc}") from None


# --- the store --------------------------------------------------------------------


@dataclass(frozen=True)
class FetchRecord:
    """One object handed to the client."""

    name: str
    source: str
    """"network", "cache" or "local"."""
    bytes: int
    seconds: float


@dataclass
class FetchLog:
    """Thread-safe list of `FetchRecord`s."""

    records: list[FetchRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, record: FetchRecord) -> None:
        with self._lock:
            self.records.append(record)

    def snapshot(self) -> list[FetchRecord]:
        with self._lock:
            return list(self.records)

    def downloaded(self) -> list[str]:
        return [r.name for r in self.snapshot() if r.source == "network"]


class ObjectStore:
    """Objects for the client: from the cache when intact, else from the source (then cached)."""

    def __init__(self, cache: ObjectCache | None, source: Source, log_: FetchLog | None = None) -> None:
        self.cache = cache
        self.source = source
        self.log = log_ or FetchLog()

    def fetch(self, ref: ObjectRef) -> Path:
        """A verified local file with the object's bytes."""
        started = time.perf_counter()
        if self.cache is not None:
            hit = self.cache.get(ref)
            if hit is not None:
                self.log.add(FetchRecord(ref.name, "cache", ref.size, time.perf_counter() - started))
                return hit
        data = self.source.object_bytes(ref)
        verify(ref, data)
        if self.cache is not None:
            path = self.cache.put(ref, data)
            kind = "network" if isinstance(self.source, HttpSource) else "local"
        else:
            path = _local_path(self.source, ref)
            kind = "local"
        self.log.add(FetchRecord(ref.name, kind, len(data), time.perf_counter() - started))
        return path


def _local_path(source: Source, ref: ObjectRef) -> Path:
    if isinstance(source, BuildFolderSource):
        return source.objects_dir / ref.name
    raise FetchError("an HTTP source needs a cache folder to keep objects in")


def load_manifest(store: ObjectStore, hall_id: str) -> HallManifest:
    """The hall's manifest from the source; the cached copy when the server is unreachable.

    Raises `ManifestError` (unusable manifest) or `FetchError` (nothing to go on).
    """
    if not HALL_ID.fullmatch(hall_id):
        raise ManifestError(f"{hall_id!r} is not a hall id (lowercase letters, digits and '-')")
    cache = store.cache
    cached = cache.manifest_path(store.source.name, hall_id) if cache is not None else None
    try:
        data = store.source.manifest_json(hall_id)
    except ServerUnreachable as exc:
        if cached is None or not cached.is_file():
            raise
        log.warning("%s; opening the copy cached from the last visit", exc)
        data = json.loads(cached.read_text(encoding="utf-8"))
    manifest = HallManifest.parse(data, store.source.base_url)
    if cached is not None and isinstance(store.source, HttpSource):
        _write_atomic(cached, json.dumps(data, ensure_ascii=False).encode("utf-8"))
    return manifest
